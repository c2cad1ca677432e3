//! The containerizer seam (upstream `src/slave/containerizer/`).
//!
//! The agent holds one [`Containerizer`]; so far the Mesos containerizer
//! ([`mesos::MesosContainerizer`]), built from a [`mesos::launcher::Launcher`]
//! and the isolators named by `--isolation`. A container is launched from
//! a `mesos.slave.ContainerConfig`, waited for (its
//! `mesos.slave.ContainerTermination`), destroyed, and asked for its
//! `ResourceStatistics`.

pub mod mesos;

use std::collections::HashSet;

use futures::future::BoxFuture;
use mesos_proto::mesos::slave::{ContainerConfig, ContainerState, ContainerTermination};
use mesos_proto::mesos::{ContainerStatus, Resource, ResourceStatistics};

/// What a containerizer call failed on.
#[derive(Debug, thiserror::Error)]
pub enum ContainerizerError {
    /// The container is not known (never launched, or gone).
    #[error("unknown container '{0}'")]
    UnknownContainer(String),
    /// A container with this id exists already.
    #[error("container '{0}' already exists")]
    AlreadyExists(String),
    /// An isolator refused or failed.
    #[error("failed to {phase} isolator '{isolator}': {message}")]
    Isolator {
        /// `prepare`, `isolate`, `recover`, ...
        phase: &'static str,
        /// The upstream isolator name.
        isolator: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The launcher failed.
    #[error("launcher failed: {0}")]
    Launcher(#[from] mesos::launcher::LauncherError),
    /// The containerizer's actor is gone.
    #[error("containerizer is gone: {0}")]
    Mailbox(#[from] actix::MailboxError),
    /// Anything else, with its context.
    #[error("{0}")]
    Other(String),
}

/// The module's result type.
pub type Result<T> = std::result::Result<T, ContainerizerError>;

/// The containerizer interface (upstream `Containerizer`).
pub trait Containerizer: Send + Sync {
    /// Recovers the containers of checkpointed executors still alive;
    /// containers found that are not among them are destroyed as orphans.
    fn recover(&self, states: Vec<ContainerState>) -> BoxFuture<'static, Result<()>>;

    /// Launches a container; resolves to the OS pid of its init process
    /// once it runs (isolated, past its exec).
    fn launch(
        &self,
        container_id: String,
        config: ContainerConfig,
    ) -> BoxFuture<'static, Result<u32>>;

    /// Resolves when the container has terminated and been cleaned up;
    /// `None` for a container the containerizer does not know.
    fn wait(&self, container_id: String) -> BoxFuture<'static, Option<ContainerTermination>>;

    /// Destroys the container (kills every process of it, cleans the
    /// isolators up); resolves to whether it existed.
    fn destroy(&self, container_id: String) -> BoxFuture<'static, bool>;

    /// The container's resource usage, limits included.
    fn usage(&self, container_id: String) -> BoxFuture<'static, Result<ResourceStatistics>>;

    /// The container's status (executor pid, isolator contributions).
    fn status(&self, container_id: String) -> BoxFuture<'static, Result<ContainerStatus>>;

    /// Updates the container's resources (isolators apply new limits).
    fn update(
        &self,
        container_id: String,
        resources: Vec<Resource>,
    ) -> BoxFuture<'static, Result<()>>;

    /// The ids of the containers it holds.
    fn containers(&self) -> BoxFuture<'static, HashSet<String>>;
}
