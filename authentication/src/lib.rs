//! v0 authentication: how agents and libprocess schedulers prove who they
//! are to the master before registering.
//!
//! Upstream counterpart: `src/authentication/` (the `crammd5`
//! authenticator and authenticatee over Cyrus SASL) and
//! `src/credentials/credentials.hpp`. A separate crate so that the master,
//! the agent and `mesos-execute` share it without depending on each other.
//!
//! Map:
//! - [`cram_md5`]: the mechanism (challenge, response, verification, as
//!   SASL's plugin does them), [`cram_md5::authenticator`] (the master's
//!   `crammd5-authenticator-session(N)` processes) and
//!   [`cram_md5::authenticatee`] (the client's `crammd5-authenticatee(N)`);
//! - [`credentials`]: `--credentials` / `--credential` files;
//! - [`md5`]: MD5 and HMAC-MD5, written here (no crate dependency).

#![warn(missing_docs)]

pub mod basic;
pub mod cram_md5;
pub mod credentials;
pub mod md5;

/// The name of the default (and only) authenticator and authenticatee,
/// upstream's `DEFAULT_AUTHENTICATOR` / `DEFAULT_AUTHENTICATEE`.
pub const CRAM_MD5: &str = "crammd5";

/// Why an authentication did not reach an outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthenticationError {
    /// It was stopped before it finished (timeout, new attempt, shutdown).
    #[error("Authentication discarded")]
    Discarded,
    /// A protocol error on either side.
    #[error("{0}")]
    Error(String),
}
