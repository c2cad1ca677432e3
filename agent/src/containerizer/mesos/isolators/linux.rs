//! Linux process-attribute isolators (upstream `isolators/linux/`).
//!
//! `linux/nnp`: the container's processes run with the no-new-privileges
//! bit set (`prctl(PR_SET_NO_NEW_PRIVS)` in the launch helper), so setuid
//! binaries and file capabilities grant nothing.

use futures::future::BoxFuture;
use mesos_proto::mesos::slave::{ContainerConfig, ContainerLaunchInfo};

use crate::containerizer::mesos::isolator::{ready, Isolator, Result};

/// `linux/nnp`.
#[derive(Debug, Default)]
pub struct NoNewPrivilegesIsolator;

impl Isolator for NoNewPrivilegesIsolator {
    fn name(&self) -> &'static str {
        "linux/nnp"
    }

    fn supports_nesting(&self) -> bool {
        true
    }

    fn prepare(
        &self,
        _container_id: &str,
        _config: &ContainerConfig,
    ) -> BoxFuture<'static, Result<Option<ContainerLaunchInfo>>> {
        ready(Ok(Some(ContainerLaunchInfo {
            no_new_privileges: Some(true),
            ..Default::default()
        })))
    }
}
