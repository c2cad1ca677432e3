//! `filesystem/linux` (upstream `isolators/filesystem/linux.cpp`): every
//! container gets a private mount namespace; one with an image rootfs
//! gets the rootfs prepared for the launch helper's `pivot_root`:
//!
//! - the rootfs bind-mounted on itself (pivot_root needs a mount point);
//! - `/proc`, `/sys` (read-only), `/dev` (a tmpfs with `null`, `zero`,
//!   `full`, `tty`, `random`, `urandom` bound from the host), `/dev/pts`
//!   (a new devpts instance), `/dev/shm` (a tmpfs);
//! - the sandbox bound at `--sandbox_directory` (recursively, so volume
//!   mounts made into the sandbox before it come along).
//!
//! The legacy `Volume.host_path` volumes are mounted here too. The volume
//! isolators run before this one (their table order), so their mounts are
//! in the sandbox when it is bound into the rootfs.
//!
//! Its metric `containerizer/mesos/filesystem/containers_new_rootfs`
//! counts the top-level containers whose executor's `ContainerInfo` is a
//! MESOS container with an image (upstream's definition, which a command
//! task's executor meets: it carries the task's `ContainerInfo`).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use mesos_proto::mesos::slave::{
    ContainerConfig, ContainerLaunchInfo, ContainerMountInfo, ContainerState,
};
use mesos_proto::mesos::{container_info, ExecutorInfo};

use crate::containerizer::mesos::isolator::{ready, Isolator, IsolatorError, Result};
use crate::containerizer::mesos::isolators::volume::{VolumeIsolator, VolumeKind};

/// The device nodes a rootfs gets from the host.
pub const DEVICES: &[&str] = &["null", "zero", "full", "tty", "random", "urandom"];

/// `filesystem/linux`.
#[derive(Debug)]
pub struct LinuxFilesystemIsolator {
    /// `--sandbox_directory`.
    sandbox_directory: String,
    /// The top-level containers it knows, each with whether its executor
    /// runs in an image (for `containers_new_rootfs`).
    containers: Arc<Mutex<HashMap<String, bool>>>,
}

impl LinuxFilesystemIsolator {
    /// The isolator, with the container path of sandboxes in a rootfs.
    pub fn new(sandbox_directory: String) -> Self {
        Self {
            sandbox_directory,
            containers: Arc::default(),
        }
    }

    fn containers(&self) -> std::sync::MutexGuard<'_, HashMap<String, bool>> {
        self.containers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `executor` runs in a MESOS container with an image.
fn executor_has_image(executor: Option<&ExecutorInfo>) -> bool {
    executor
        .and_then(|e| e.container.as_ref())
        .is_some_and(|c| {
            c.r#type == container_info::Type::Mesos as i32
                && c.mesos.as_ref().is_some_and(|m| m.image.is_some())
        })
}

fn mount(
    source: &str,
    target: &Path,
    kind: Option<&str>,
    flags: libc::c_ulong,
    options: Option<&str>,
) -> ContainerMountInfo {
    ContainerMountInfo {
        source: Some(source.to_string()),
        target: target.display().to_string(),
        r#type: kind.map(str::to_string),
        flags: Some(flags as u32),
        options: options.map(str::to_string),
    }
}

/// The mounts that make `rootfs` a container's root, with the sandbox at
/// `sandbox_directory` inside it.
pub fn rootfs_mounts(
    rootfs: &Path,
    sandbox: &Path,
    sandbox_directory: &str,
) -> Vec<ContainerMountInfo> {
    let inside = |path: &str| rootfs.join(path.trim_start_matches('/'));
    let rootfs_str = rootfs.display().to_string();
    let hardened = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    let mut mounts = vec![
        mount(
            &rootfs_str,
            rootfs,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        ),
        mount("proc", &inside("/proc"), Some("proc"), hardened, None),
        mount(
            "sysfs",
            &inside("/sys"),
            Some("sysfs"),
            hardened | libc::MS_RDONLY,
            None,
        ),
        // Where the cgroups isolators mount the container's own cgroups.
        mount(
            "tmpfs",
            &inside("/sys/fs/cgroup"),
            Some("tmpfs"),
            hardened,
            Some("mode=755"),
        ),
        mount(
            "tmpfs",
            &inside("/dev"),
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_STRICTATIME,
            Some("mode=755"),
        ),
        mount(
            "devpts",
            &inside("/dev/pts"),
            Some("devpts"),
            libc::MS_NOSUID | libc::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620"),
        ),
        mount(
            "tmpfs",
            &inside("/dev/shm"),
            Some("tmpfs"),
            hardened,
            Some("mode=1777"),
        ),
    ];
    for device in DEVICES {
        let host = format!("/dev/{device}");
        mounts.push(mount(&host, &inside(&host), None, libc::MS_BIND, None));
    }
    mounts.push(mount(
        &sandbox.display().to_string(),
        &inside(sandbox_directory),
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    ));
    mounts
}

impl Isolator for LinuxFilesystemIsolator {
    fn name(&self) -> &'static str {
        "filesystem/linux"
    }

    fn register_metrics(&self, registry: &libprocess::metrics::Metrics) {
        let containers = Arc::downgrade(&self.containers);
        registry.gauge(
            "containerizer/mesos/filesystem/containers_new_rootfs",
            move || {
                containers.upgrade().map_or(0.0, |containers| {
                    let containers = containers.lock().unwrap_or_else(|e| e.into_inner());
                    containers.values().filter(|image| **image).count() as f64
                })
            },
        );
    }

    fn supports_nesting(&self) -> bool {
        true
    }

    fn recover(
        &self,
        states: &[ContainerState],
        _orphans: &HashSet<String>,
    ) -> BoxFuture<'static, Result<()>> {
        let mut containers = self.containers();
        for state in states {
            if !state.container_id.value.contains('.') {
                containers.insert(
                    state.container_id.value.clone(),
                    executor_has_image(state.executor_info.as_ref()),
                );
            }
        }
        ready(Ok(()))
    }

    fn prepare(
        &self,
        container_id: &str,
        config: &ContainerConfig,
    ) -> BoxFuture<'static, Result<Option<ContainerLaunchInfo>>> {
        if !container_id.contains('.') {
            self.containers().insert(
                container_id.to_string(),
                executor_has_image(config.executor_info.as_ref()),
            );
        }
        let mut mounts = match VolumeIsolator::new(VolumeKind::FilesystemLinux).mounts(config) {
            Ok(mounts) => mounts,
            Err(error) => return ready(Err(error)),
        };
        if let Some(rootfs) = &config.rootfs {
            let rootfs = Path::new(rootfs);
            if !rootfs.is_dir() {
                return ready(Err(IsolatorError(format!(
                    "the rootfs '{}' is not a directory",
                    rootfs.display()
                ))));
            }
            mounts.extend(rootfs_mounts(
                rootfs,
                Path::new(&config.directory),
                &self.sandbox_directory,
            ));
        }
        ready(Ok(Some(ContainerLaunchInfo {
            clone_namespaces: vec![libc::CLONE_NEWNS],
            mounts,
            ..Default::default()
        })))
    }

    fn cleanup(&self, container_id: &str) -> BoxFuture<'static, Result<()>> {
        self.containers().remove(container_id);
        ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rootfs_gets_its_own_root_then_the_sandbox() {
        let mounts = rootfs_mounts(
            Path::new("/r"),
            Path::new("/work/sandbox"),
            "/mnt/mesos/sandbox",
        );
        assert_eq!(mounts[0].target, "/r");
        assert_eq!(mounts[0].source.as_deref(), Some("/r"));
        let targets: Vec<&str> = mounts.iter().map(|m| m.target.as_str()).collect();
        assert!(targets.contains(&"/r/proc"));
        assert!(targets.contains(&"/r/dev/null"));
        let last = mounts.last().expect("mounts");
        assert_eq!(last.target, "/r/mnt/mesos/sandbox");
        assert_eq!(last.source.as_deref(), Some("/work/sandbox"));
    }
}
