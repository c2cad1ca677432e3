//! Checks and health checks of the tasks an executor runs.
//!
//! Upstream counterparts: `src/checks/` (`checker.cpp`,
//! `checker_process.cpp`, `health_checker.cpp`, `checks_runtime.hpp`) and
//! `docs/health-checks.md`. The split is upstream's:
//! - [`checker_process`]: runs one check after another (COMMAND, HTTP or
//!   TCP), `delay_seconds` after start and then every `interval_seconds`,
//!   each bounded by `timeout_seconds`; it can be paused and resumed.
//! - [`Checker`]: a generic check (`TaskInfo.check`); reports a
//!   `CheckStatusInfo` whenever the result changes.
//! - [`HealthChecker`]: a health check (`TaskInfo.health_check`); reports
//!   the first success, every failure after the grace period and the
//!   first success after failures, and asks for the task to be killed
//!   after `consecutive_failures` failures in a row.
//!
//! Both are validated on creation (`mesos_proto::validation`) and run as
//! tokio tasks that report through a callback, so the command executor
//! (an actix process) and the default executor (one tokio task) share
//! them. Dropping one stops it.
//!
//! Where a check runs is its [`Runtime`]: [`Plain`] runs COMMAND checks as
//! children of the executor (the command executor); [`Nested`] runs them
//! in a nested container next to the task's through the agent's operator
//! API (the default executor). HTTP and TCP checks are made by the
//! executor itself in either case; it shares the task's network.
//!
//! Deliberate differences from upstream:
//! - HTTP checks with the `http` scheme are made by a small in-process
//!   client (a GET with `Connection: close`, following redirects like
//!   `curl -L`); only `https` runs `curl` as upstream does. TCP checks
//!   connect in-process instead of running `mesos-tcp-connect`.
//! - With a rootfs, a plain COMMAND check is chrooted into the task's
//!   rootfs (the command executor chroots its task the same way) instead
//!   of entering the task's mount namespace.
//! - No Docker runtime (there is no Docker executor yet).
//! - Checks are timed by tokio's clock, not the libprocess `Clock`, so a
//!   paused libprocess clock does not hold them back.

pub mod checker;
pub mod checker_process;
pub mod health_checker;

use std::path::PathBuf;

use crate::http::Url;

pub use checker::Checker;
pub use health_checker::{HealthChecker, TaskHealthStatus};

/// Where COMMAND checks run (upstream's `runtime::Plain` and
/// `runtime::Nested`).
#[derive(Debug, Clone)]
pub enum Runtime {
    /// As children of the executor.
    Plain(Plain),
    /// In nested containers through the agent.
    Nested(Nested),
}

/// A COMMAND check run by the executor itself.
#[derive(Debug, Clone, Default)]
pub struct Plain {
    /// The directory the command runs in (the sandbox).
    pub working_directory: Option<PathBuf>,
    /// The task's rootfs: the command is chrooted into it and runs in
    /// `rootfs_working_directory` there.
    pub rootfs: Option<PathBuf>,
    /// The command's directory inside the rootfs.
    pub rootfs_working_directory: Option<PathBuf>,
}

/// A COMMAND check run in a nested container of the task's container.
#[derive(Debug, Clone)]
pub struct Nested {
    /// The task's container, the parent of every check container.
    pub task_container_id: mesos_proto::mesos::v1::ContainerId,
    /// The agent's operator API.
    pub agent_url: Url,
    /// `Authorization` header value for the agent, if any.
    pub authorization: Option<String>,
}

/// Converts between wire-compatible messages, e.g. a `mesos.v1` message
/// and its `mesos` twin (upstream's `evolve`/`devolve`).
pub fn convert<F: prost::Message, T: prost::Message + Default>(from: &F) -> T {
    T::decode(from.encode_to_vec().as_slice()).unwrap_or_default()
}
