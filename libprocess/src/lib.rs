//! An actor runtime wire-compatible with Apache Mesos' libprocess.
//!
//! Every Mesos component is a *process*: an actor with a [`UPID`]
//! (`id@ip:port`) that exchanges protobuf messages by type name and serves
//! HTTP endpoints, all over one HTTP/1.1 socket per OS process. Upstream
//! peers (masters, agents, scheduler and executor drivers, mesos-go's
//! messenger) talk to processes here unchanged.
//!
//! Map of the crate:
//! - [`pid`]: [`UPID`] parsing, printing, equality; [`id::generate`].
//! - [`process`]: the [`Process`] trait, [`ProcessBase`] (install, route,
//!   send, link), [`PID`] handles, [`delay`].
//! - [`runtime`]: [`Runtime`]: spawning, local delivery, links and exited,
//!   HTTP routing with the delegate, built-in endpoints.
//! - [`transport`]: the socket: request decoder, byte-exact message encoder,
//!   inbound server, outbound connections.
//! - [`http`]: requests, responses, gzip, percent-decoding.
//! - [`clock`]: timers with a clock tests can pause and advance.
//! - [`metrics`]: the registry behind `/metrics/snapshot`.
//! - [`flags`]: stout-style flag loading shared by every binary.
//! - [`os`]: atomic checkpoint writes and other small OS helpers.
//!
//! Built on actix: processes are actix actors on any arbiter; network I/O
//! runs on a small dedicated tokio runtime. Upstream's libprocess has no
//! dependency on Mesos, and neither has this crate beyond `mesos-proto`'s
//! `Message` trait and JSON writer.

#![warn(missing_docs)]

pub mod clock;
pub mod firewall;
pub mod flags;
pub mod http;
pub mod id;
pub mod logging;
pub mod metrics;
pub mod os;
pub mod pid;
pub mod process;
pub mod runtime;
pub mod transport;

use std::sync::OnceLock;

pub use actix;
pub use clock::Timer;
pub use pid::UPID;
pub use process::{
    delay, Dispatch, Event, EventQueue, HttpEvent, HttpFuture, MessageEvent, Process, ProcessBase,
    Terminated, PID,
};
pub use runtime::{Config, Filter, InitError, Runtime, SpawnError};

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The sending process has not been spawned.
    #[error("process is not spawned")]
    NotSpawned,
}

static GLOBAL: OnceLock<Runtime> = OnceLock::new();

/// Starts this OS process's runtime from `config` (see
/// [`Config::from_env`]); later calls fail.
pub fn initialize(config: Config) -> Result<Runtime, InitError> {
    install(Runtime::new(config)?)
}

/// As [`initialize`], with the network I/O on one dedicated thread
/// ([`Runtime::new_single_threaded`]).
pub fn initialize_single_threaded(config: Config) -> Result<Runtime, InitError> {
    install(Runtime::new_single_threaded(config)?)
}

fn install(runtime: Runtime) -> Result<Runtime, InitError> {
    GLOBAL
        .set(runtime.clone())
        .map_err(|_| InitError::AlreadyInitialized)?;
    Ok(runtime)
}

/// Returns this OS process's runtime, once initialized.
pub fn runtime() -> Option<&'static Runtime> {
    GLOBAL.get()
}
