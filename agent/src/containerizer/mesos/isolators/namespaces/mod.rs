//! Namespace isolators (upstream `isolators/namespaces/`).
//!
//! `namespaces/pid`: the container's init process is pid 1 of a new pid
//! namespace, in a new mount namespace with `/proc` remounted, so `ps`
//! inside sees only the container. Killing pid 1 kills the namespace.
//! Upstream has it lean on `filesystem/linux` for the mount namespace;
//! here it asks for one itself, so it also works beside `filesystem/posix`.
//!
//! `namespaces/ipc`: a new IPC namespace (System V IPC, POSIX message
//! queues) per container, and a private `/dev/shm` (a tmpfs; `shm_size`
//! MB of `LinuxInfo` when given) in its mount namespace, as upstream
//! 1.9+. `LinuxInfo.ipc_mode = SHARE_PARENT` keeps the parent's (the
//! agent's for a top-level container).

use futures::future::BoxFuture;
use mesos_proto::mesos::slave::{ContainerConfig, ContainerLaunchInfo, ContainerMountInfo};

use crate::containerizer::mesos::isolator::{ready, Isolator, Result};

/// Which namespace an isolator gives each container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// `namespaces/pid`.
    Pid,
    /// `namespaces/ipc`.
    Ipc,
}

/// `namespaces/pid` or `namespaces/ipc`.
#[derive(Debug)]
pub struct NamespacesIsolator(pub Namespace);

impl Isolator for NamespacesIsolator {
    fn name(&self) -> &'static str {
        match self.0 {
            Namespace::Pid => "namespaces/pid",
            Namespace::Ipc => "namespaces/ipc",
        }
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
        let info = match self.0 {
            Namespace::Pid => ContainerLaunchInfo {
                clone_namespaces: vec![libc::CLONE_NEWPID, libc::CLONE_NEWNS],
                mounts: vec![ContainerMountInfo {
                    target: "/proc".into(),
                    source: Some("proc".into()),
                    r#type: Some("proc".into()),
                    flags: Some((libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as u32),
                    options: None,
                }],
                ..Default::default()
            },
            Namespace::Ipc => {
                use mesos_proto::mesos::linux_info::IpcMode;
                if linux.and_then(|l| l.ipc_mode) == Some(IpcMode::ShareParent as i32) {
                    return ready(Ok(None));
                }
                let size = linux
                    .and_then(|l| l.shm_size)
                    .map(|mb| format!(",size={mb}m"))
                    .unwrap_or_default();
                // Inside an image rootfs, over the one filesystem/linux
                // made there.
                let target = match &config.rootfs {
                    Some(rootfs) => format!("{}/dev/shm", rootfs.trim_end_matches('/')),
                    None => "/dev/shm".into(),
                };
                ContainerLaunchInfo {
                    clone_namespaces: vec![libc::CLONE_NEWIPC, libc::CLONE_NEWNS],
                    mounts: vec![ContainerMountInfo {
                        target,
                        source: Some("tmpfs".into()),
                        r#type: Some("tmpfs".into()),
                        flags: Some((libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as u32),
                        options: Some(format!("mode=1777{size}")),
                    }],
                    ..Default::default()
                }
            }
        };
        ready(Ok(Some(info)))
    }
}
