//! The isolator interface (upstream `include/mesos/slave/isolator.hpp`).
//!
//! The containerizer calls `prepare` and `isolate` in `--isolation` order,
//! and `cleanup` in the reverse order. Every method has a no-op default;
//! `cleanup` accepts unknown containers and may be called again.

use std::collections::{HashMap, HashSet};

use futures::future::BoxFuture;
use mesos_proto::mesos::slave::{
    ContainerConfig, ContainerLaunchInfo, ContainerLimitation, ContainerState,
};
use mesos_proto::mesos::{value, ContainerStatus, Resource, ResourceStatistics};

/// What an isolator failed on: a message that reads as the tail of a
/// chain (`failed to prepare isolator 'x': <message>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IsolatorError(pub String);

impl IsolatorError {
    /// An error from anything displayable.
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self(message.to_string())
    }
}

/// The isolators' result type.
pub type Result<T> = std::result::Result<T, IsolatorError>;

/// A resolved future, for the defaults.
pub fn ready<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(value))
}

/// stout's `Bytes` printing: the largest unit that divides exactly.
pub fn bytes(value: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (1 << 40, "TB"),
        (1 << 30, "GB"),
        (1 << 20, "MB"),
        (1 << 10, "KB"),
    ];
    if value == 0 {
        return "0B".into();
    }
    for (size, unit) in UNITS {
        if value % size == 0 {
            return format!("{}{unit}", value / size);
        }
    }
    format!("{value}B")
}

/// A container's resource limits by resource name (upstream
/// `ContainerConfig.limits`, `TaskInfo.limits`).
pub type ResourceLimits = HashMap<String, value::Scalar>;

/// One isolator.
pub trait Isolator: Send + Sync {
    /// The upstream name (`posix/cpu`, `cgroups/mem`, ...).
    fn name(&self) -> &'static str;

    /// Registers its metrics (upstream's, under upstream's names), if it
    /// has any, with the agent's registry.
    fn register_metrics(&self, _registry: &libprocess::metrics::Metrics) {}

    /// Whether it can isolate nested containers.
    fn supports_nesting(&self) -> bool {
        false
    }

    /// Whether it can isolate standalone containers.
    fn supports_standalone(&self) -> bool {
        false
    }

    /// Recovers the containers of a previous agent run; `orphans` are
    /// known to the launcher but not to the agent (they will be
    /// destroyed, and cleaned up through this isolator).
    fn recover(
        &self,
        _states: &[ContainerState],
        _orphans: &HashSet<String>,
    ) -> BoxFuture<'static, Result<()>> {
        ready(Ok(()))
    }

    /// Prepares for a container about to be launched; may ask the launch
    /// helper for namespaces, mounts, rlimits, environment.
    fn prepare(
        &self,
        _container_id: &str,
        _config: &ContainerConfig,
    ) -> BoxFuture<'static, Result<Option<ContainerLaunchInfo>>> {
        ready(Ok(None))
    }

    /// Isolates the forked (not yet exec'd) init process `pid`.
    fn isolate(&self, _container_id: &str, _pid: u32) -> BoxFuture<'static, Result<()>> {
        ready(Ok(()))
    }

    /// Resolves when the container hits a limit (may never resolve).
    fn watch(&self, _container_id: &str) -> BoxFuture<'static, ContainerLimitation> {
        Box::pin(std::future::pending())
    }

    /// A limitation the container hit that `watch` may not have reported
    /// yet: asked when destruction starts (before the launcher kills and
    /// `cleanup`), so a limit that killed the init process (an OOM kill
    /// seen by polling) still becomes the termination's reason.
    fn last_limitation(
        &self,
        _container_id: &str,
    ) -> BoxFuture<'static, Option<ContainerLimitation>> {
        ready(None)
    }

    /// Applies new resources to a running container: `requests` and
    /// `limits` (upstream `ContainerConfig.limits`: `cpus` and `mem`, a
    /// value may be infinite; empty when the container has none).
    fn update(
        &self,
        _container_id: &str,
        _requests: &[Resource],
        _limits: &ResourceLimits,
    ) -> BoxFuture<'static, Result<()>> {
        ready(Ok(()))
    }

    /// The container's usage as far as this isolator measures it.
    fn usage(&self, _container_id: &str) -> BoxFuture<'static, Result<ResourceStatistics>> {
        ready(Ok(ResourceStatistics::default()))
    }

    /// What this isolator contributes to the container's status.
    fn status(&self, _container_id: &str) -> BoxFuture<'static, Result<ContainerStatus>> {
        ready(Ok(ContainerStatus::default()))
    }

    /// Releases what it holds for the container.
    fn cleanup(&self, _container_id: &str) -> BoxFuture<'static, Result<()>> {
        ready(Ok(()))
    }
}
