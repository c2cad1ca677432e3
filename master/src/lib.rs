//! The Mesos master.
//!
//! Upstream counterpart: `src/master/`. Built so far (issue #3, agents
//! part): flags ([`flags`]), the registrar with in-memory and durable
//! single-file stores ([`registrar`]), agent registration,
//! re-registration, health checks and removal ([`master`], [`observer`]),
//! and the health, flags and redirect endpoints ([`http`]), with the
//! read-only state endpoints and `/version` written by [`state_json`].
//! The v1 operator API is [`operator_api`], its event stream
//! [`subscribers`]. v0 (CRAM-MD5) authentication of frameworks and agents
//! is [`authentication`].

#![warn(missing_docs)]

pub mod allocator;
pub mod authentication;
pub mod draining;
pub mod flags;
pub mod framework_metrics;
pub mod frameworks;
pub mod http;
pub mod http_auth;
pub mod inverse_offers;
pub mod json_writer;
pub mod kept;
pub mod maintenance;
pub mod master;
pub mod metrics;
pub mod observer;
pub mod offer_constraints;
pub mod operation_feedback;
pub mod operations;
pub mod operator_api;
pub mod quota;
pub mod registrar;
pub mod scheduler_http;
pub mod state_json;
pub mod subscribers;
pub mod tasks;
pub mod weights;

/// The upstream Mesos release whose protocol this master speaks; agents and
/// frameworks compare against it.
pub const VERSION: &str = "1.11.0";

/// The `/version` document: `build_date`, `build_time`, `build_user`, the
/// `git_*` keys when the build knew them, and `version`, sorted as
/// upstream's `JSON::Object` prints them (see [`state_json::version`]).
pub fn version_json() -> serde_json::Value {
    state_json::version()
}
