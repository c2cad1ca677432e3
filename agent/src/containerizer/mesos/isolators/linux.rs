//! Linux process-attribute isolators (upstream `isolators/linux/`).
//!
//! `linux/nnp`: the container's processes run with the no-new-privileges
//! bit set (`prctl(PR_SET_NO_NEW_PRIVS)` in the launch helper), so setuid
//! binaries and file capabilities grant nothing.
//!
//! `linux/capabilities`: the container's bounding and effective capability
//! sets, from `ContainerInfo.linux_info` (`bounding_capabilities`,
//! `effective_capabilities`, the deprecated `capability_info` as
//! effective) or else the agent's `--bounding_capabilities` /
//! `--effective_capabilities`. Effective capabilities outside the bounding
//! set, or a bounding set beyond the agent's, fail the launch. The launch
//! helper drops the rest of the bounding set and, for the effective set,
//! makes root an ordinary user for exec (`SECBIT_NOROOT`) and hands the
//! capabilities over as ambient ones, so they are exactly the task's.

use futures::future::BoxFuture;
use mesos_proto::mesos::capability_info::Capability;
use mesos_proto::mesos::slave::{ContainerConfig, ContainerLaunchInfo};
use mesos_proto::mesos::CapabilityInfo;

use crate::containerizer::mesos::isolator::{ready, Isolator, IsolatorError, Result};

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

/// `linux/capabilities`.
#[derive(Debug, Default)]
pub struct LinuxCapabilitiesIsolator {
    /// `--effective_capabilities`.
    pub effective: Option<CapabilityInfo>,
    /// `--bounding_capabilities`.
    pub bounding: Option<CapabilityInfo>,
}

fn names(info: &CapabilityInfo) -> Vec<&'static str> {
    info.capabilities
        .iter()
        .filter_map(|c| Capability::try_from(*c).ok())
        .map(|c| c.as_str_name())
        .collect()
}

fn subset(inner: &CapabilityInfo, outer: &CapabilityInfo) -> bool {
    inner
        .capabilities
        .iter()
        .all(|c| outer.capabilities.contains(c))
}

impl Isolator for LinuxCapabilitiesIsolator {
    fn name(&self) -> &'static str {
        "linux/capabilities"
    }

    fn supports_nesting(&self) -> bool {
        true
    }

    fn prepare(
        &self,
        _container_id: &str,
        config: &ContainerConfig,
    ) -> BoxFuture<'static, Result<Option<ContainerLaunchInfo>>> {
        let linux = config
            .container_info
            .as_ref()
            .and_then(|c| c.linux_info.as_ref());
        #[allow(deprecated)] // upstream still honours `capability_info`
        let requested_effective = linux.and_then(|l| {
            l.effective_capabilities
                .clone()
                .or_else(|| l.capability_info.clone())
        });
        let requested_bounding = linux.and_then(|l| l.bounding_capabilities.clone());
        if let (Some(requested), Some(allowed)) = (&requested_bounding, &self.bounding) {
            if !subset(requested, allowed) {
                return ready(Err(IsolatorError(format!(
                    "bounding capabilities {:?} are not allowed by the agent's {:?}",
                    names(requested),
                    names(allowed)
                ))));
            }
        }
        let effective = requested_effective.or_else(|| self.effective.clone());
        let bounding = requested_bounding
            .or_else(|| self.bounding.clone())
            .or_else(|| effective.clone());
        if let (Some(effective), Some(bounding)) = (&effective, &bounding) {
            if !subset(effective, bounding) {
                return ready(Err(IsolatorError(format!(
                    "effective capabilities {:?} are not in the bounding set {:?}",
                    names(effective),
                    names(bounding)
                ))));
            }
        }
        if effective.is_none() && bounding.is_none() {
            return ready(Ok(None));
        }
        ready(Ok(Some(ContainerLaunchInfo {
            effective_capabilities: effective,
            bounding_capabilities: bounding,
            ..Default::default()
        })))
    }
}

/// The kernel's number of a capability (`CHOWN` = 0, as the enum's
/// values are 1000 + that number).
pub fn capability_number(capability: i32) -> Option<u32> {
    u32::try_from(capability.checked_sub(1000)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_map_to_kernel_numbers() {
        assert_eq!(capability_number(Capability::Chown as i32), Some(0));
        assert_eq!(capability_number(Capability::Kill as i32), Some(5));
        assert_eq!(capability_number(Capability::NetRaw as i32), Some(13));
        assert_eq!(capability_number(0), None);
    }
}
