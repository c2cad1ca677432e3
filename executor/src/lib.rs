//! Executors: the v0 executor driver, the v1 executor library, the
//! command executor and the default executor.
//!
//! Map of the crate:
//! - [`driver`]: the [`Executor`] trait and [`ExecutorDriver`], upstream's
//!   libprocess `MesosExecutorDriver` (`src/exec/exec.cpp`): registration
//!   with the agent from the environment it gives, status updates,
//!   acknowledgements, reconnection after an agent restart, shutdown.
//! - [`v1`]: the v1 executor library, upstream's
//!   `mesos::v1::executor::Mesos` (`src/executor/executor.cpp`), for any
//!   executor written in Rust: [`v1::Mesos`] connects to the agent's
//!   `/api/v1/executor` from the environment ([`v1::MesosConfig`]),
//!   reports [`v1::Notice`]s (connected, disconnected, received events)
//!   on a channel, and sends calls (SUBSCRIBE, UPDATE, MESSAGE,
//!   HEARTBEAT); reconnection, the recovery timeout and the shutdown of
//!   the process group are its own. `examples/v1_executor.rs` is a
//!   custom executor on it.
//! - [`command_executor`]: upstream's command executor
//!   (`src/launcher/executor.cpp`), which runs one task's `CommandInfo`;
//!   it reaches its agent through a [`command_executor::Transport`]: the v0
//!   driver, or [`http_driver`].
//! - [`http_driver`]: the command executor's v1 HTTP transport
//!   (`MESOS_HTTP_COMMAND_EXECUTOR=1`): upstream `CommandExecutor`'s
//!   subscription and updates, on [`v1::Mesos`].
//! - [`default_executor`]: upstream's default executor
//!   (`src/launcher/default_executor.cpp`), a v1 HTTP executor that runs
//!   each task of a task group in a nested container through the agent's
//!   operator API.
//! - [`checks`]: checks and health checks of tasks, shared by both
//!   executors (upstream `src/checks/`).
//! - [`http`]: the small HTTP/1.1 client the HTTP executors call their
//!   agent with; `library` (private) holds the SUBSCRIBE stream reader and
//!   in-order call sender of [`v1`] and the default executor.
//! - [`flags`]: the `mesos-executor` and `mesos-default-executor` binaries'
//!   flags.
//!
//! The `mesos-executor` binary is the command executor on the v0 driver,
//! or on the v1 API with `MESOS_HTTP_COMMAND_EXECUTOR=1`;
//! `mesos-default-executor` is the default executor. Not here yet: the
//! Docker executor, and the default executor on [`v1::Mesos`] (it drives
//! the `library` pieces from its own state machine).

#![warn(missing_docs)]

pub mod checks;
pub mod command_executor;
pub mod default_executor;
pub mod driver;
pub mod flags;
pub mod http;
pub mod http_driver;
pub(crate) mod library;
pub mod logging;
pub mod v1;

pub use command_executor::{CommandExecutor, CommandExecutorConfig};
pub use default_executor::{DefaultExecutor, DefaultExecutorConfig};
pub use driver::{DriverConfig, DriverError, Executor, ExecutorDriver};

/// The Mesos version this executor speaks for.
pub const VERSION: &str = "1.11.0";
