//! Executors: the v0 executor driver and the command executor.
//!
//! Map of the crate:
//! - [`driver`]: the [`Executor`] trait and [`ExecutorDriver`], upstream's
//!   libprocess `MesosExecutorDriver` (`src/exec/exec.cpp`): registration
//!   with the agent from the environment it gives, status updates,
//!   acknowledgements, reconnection after an agent restart, shutdown.
//! - [`command_executor`]: upstream's command executor
//!   (`src/launcher/executor.cpp`), which runs one task's `CommandInfo`.
//! - [`flags`]: the `mesos-executor` binary's flags.
//!
//! The `mesos-executor` binary is the command executor on the v0 driver.
//! Not here yet: the v1 HTTP executor library (`MESOS_HTTP_COMMAND_EXECUTOR=1`
//! is refused), the default executor for task groups, and the Docker
//! executor.

#![warn(missing_docs)]

pub mod command_executor;
pub mod driver;
pub mod flags;

pub use command_executor::{CommandExecutor, CommandExecutorConfig};
pub use driver::{DriverConfig, DriverError, Executor, ExecutorDriver};

/// The Mesos version this executor speaks for.
pub const VERSION: &str = "1.11.0";
