//! Executors: the v0 executor driver and the command executor.
//!
//! Map of the crate:
//! - [`driver`]: the [`Executor`] trait and [`ExecutorDriver`], upstream's
//!   libprocess `MesosExecutorDriver` (`src/exec/exec.cpp`): registration
//!   with the agent from the environment it gives, status updates,
//!   acknowledgements, reconnection after an agent restart, shutdown.
//! - [`command_executor`]: upstream's command executor
//!   (`src/launcher/executor.cpp`), which runs one task's `CommandInfo`.
//! - [`default_executor`]: upstream's default executor
//!   (`src/launcher/default_executor.cpp`), a v1 HTTP executor that runs
//!   each task of a task group in a nested container through the agent's
//!   operator API.
//! - [`http`]: the small HTTP/1.1 client the default executor calls its
//!   agent with.
//! - [`flags`]: the `mesos-executor` and `mesos-default-executor` binaries'
//!   flags.
//!
//! The `mesos-executor` binary is the command executor on the v0 driver;
//! `mesos-default-executor` is the default executor. Not here yet: a
//! general v1 HTTP executor library (`MESOS_HTTP_COMMAND_EXECUTOR=1` is
//! refused) and the Docker executor.

#![warn(missing_docs)]

pub mod command_executor;
pub mod default_executor;
pub mod driver;
pub mod flags;
pub mod http;
pub mod http_driver;
pub(crate) mod library;

pub use command_executor::{CommandExecutor, CommandExecutorConfig};
pub use default_executor::{DefaultExecutor, DefaultExecutorConfig};
pub use driver::{DriverConfig, DriverError, Executor, ExecutorDriver};

/// The Mesos version this executor speaks for.
pub const VERSION: &str = "1.11.0";
