//! Namespace isolators (upstream `isolators/namespaces/`,
//! `docs/isolators/namespaces-pid.md`, `namespaces-ipc.md`).
//!
//! `namespaces/pid`: the container's init process is pid 1 of a new pid
//! namespace, in a new mount namespace with `/proc` remounted, so `ps`
//! inside sees only the container. Killing pid 1 kills the namespace.
//! Upstream has it lean on `filesystem/linux` for the mount namespace;
//! here it asks for one itself, so it also works beside `filesystem/posix`.
//! `LinuxInfo.share_pid_namespace`: a top-level container keeps the
//! agent's (refused under `--disallow_sharing_agent_pid_namespace`), a
//! nested one enters its parent's (with `/proc` remounted for it).
//!
//! `namespaces/ipc`: an IPC namespace (System V IPC, POSIX message
//! queues) and a `/dev/shm` per container, by `LinuxInfo.ipc_mode`:
//! - `PRIVATE`: its own namespace and `/dev/shm`;
//! - `SHARE_PARENT`: its parent's namespace and `/dev/shm` (the agent's
//!   for a top-level container, refused under
//!   `--disallow_sharing_agent_ipc_namespace`);
//! - unset (upstream's backward compatibility): a top-level container
//!   gets its own namespace, a nested one its parent's; either gets its
//!   own `/dev/shm` only when it has an image rootfs, else the agent's.
//!
//! A private `/dev/shm` is a tmpfs of `shm_size` MB (else
//! `--default_container_shm_size`, else the kernel's default), mounted on
//! the host at `<runtime_dir>/isolators/namespaces/ipc/<container>/shm`
//! and bound into the container, so a nested container can share its
//! parent's; it is unmounted at cleanup.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use futures::future::BoxFuture;
use mesos_proto::mesos::linux_info::IpcMode;
use mesos_proto::mesos::slave::{
    ContainerConfig, ContainerLaunchInfo, ContainerMountInfo, ContainerState,
};
use mesos_proto::mesos::LinuxInfo;

use crate::containerizer::mesos::isolator::{ready, Isolator, IsolatorError, Result};

/// Which namespace an isolator gives each container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// `namespaces/pid`.
    Pid,
    /// `namespaces/ipc`.
    Ipc,
}

/// The agent flags the namespace isolators follow.
#[derive(Debug, Clone, Default)]
pub struct NamespaceOptions {
    /// `--default_container_shm_size`, in bytes.
    pub default_shm_size: Option<u64>,
    /// `--disallow_sharing_agent_ipc_namespace`.
    pub disallow_sharing_agent_ipc_namespace: bool,
    /// `--disallow_sharing_agent_pid_namespace`.
    pub disallow_sharing_agent_pid_namespace: bool,
}

/// `namespaces/pid` or `namespaces/ipc`.
#[derive(Debug)]
pub struct NamespacesIsolator {
    namespace: Namespace,
    options: NamespaceOptions,
    /// `<runtime_dir>/isolators/namespaces/ipc`.
    shm_root: PathBuf,
}

impl NamespacesIsolator {
    /// The isolator of `namespace`; private `/dev/shm`s under
    /// `runtime_dir`.
    pub fn new(namespace: Namespace, options: NamespaceOptions, runtime_dir: &Path) -> Self {
        Self {
            namespace,
            options,
            shm_root: runtime_dir.join("isolators/namespaces/ipc"),
        }
    }

    /// The host directory of a container's private `/dev/shm`.
    fn shm_path(&self, container_id: &str) -> PathBuf {
        self.shm_root.join(container_id).join("shm")
    }

    fn prepare_pid(
        &self,
        container_id: &str,
        linux: Option<&LinuxInfo>,
    ) -> Result<Option<ContainerLaunchInfo>> {
        let nested = crate::containerizer::parent(container_id).is_some();
        let proc_mount = ContainerMountInfo {
            target: "/proc".into(),
            source: Some("proc".into()),
            r#type: Some("proc".into()),
            flags: Some((libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as u32),
            options: None,
        };
        if linux.and_then(|l| l.share_pid_namespace) != Some(true) {
            return Ok(Some(ContainerLaunchInfo {
                clone_namespaces: vec![libc::CLONE_NEWPID, libc::CLONE_NEWNS],
                mounts: vec![proc_mount],
                ..Default::default()
            }));
        }
        if !nested {
            if self.options.disallow_sharing_agent_pid_namespace {
                return Err(IsolatorError(
                    "Sharing agent pid namespace with top-level container is not allowed".into(),
                ));
            }
            return Ok(None);
        }
        // The parent's pid namespace, with a /proc of it.
        Ok(Some(ContainerLaunchInfo {
            enter_namespaces: vec![libc::CLONE_NEWPID],
            clone_namespaces: vec![libc::CLONE_NEWNS],
            mounts: vec![proc_mount],
            ..Default::default()
        }))
    }

    fn prepare_ipc(
        &self,
        container_id: &str,
        config: &ContainerConfig,
        linux: Option<&LinuxInfo>,
    ) -> Result<Option<ContainerLaunchInfo>> {
        let parent = crate::containerizer::parent(container_id);
        let mode = linux
            .and_then(|l| l.ipc_mode)
            .and_then(|m| IpcMode::try_from(m).ok());
        let target = match &config.rootfs {
            Some(rootfs) => format!("{}/dev/shm", rootfs.trim_end_matches('/')),
            None => "/dev/shm".into(),
        };
        let bind = |source: &Path| ContainerMountInfo {
            target: target.clone(),
            source: Some(source.display().to_string()),
            r#type: None,
            flags: Some(libc::MS_BIND as u32),
            options: None,
        };
        let (namespace, own_shm) = match (parent, mode) {
            (None, Some(IpcMode::ShareParent)) => {
                if self.options.disallow_sharing_agent_ipc_namespace {
                    return Err(IsolatorError(
                        "Sharing agent IPC namespace with top-level container is not allowed"
                            .into(),
                    ));
                }
                return Ok(None);
            }
            (_, Some(IpcMode::Private)) => (Some(libc::CLONE_NEWIPC), true),
            (None, _) => (Some(libc::CLONE_NEWIPC), config.rootfs.is_some()),
            (Some(_), Some(IpcMode::ShareParent)) => (None, false),
            (Some(_), _) => (None, config.rootfs.is_some()),
        };
        let mut info = ContainerLaunchInfo {
            clone_namespaces: vec![libc::CLONE_NEWNS],
            ..Default::default()
        };
        match namespace {
            Some(clone) => info.clone_namespaces.push(clone),
            None => info.enter_namespaces.push(libc::CLONE_NEWIPC),
        }
        if own_shm {
            let path = self.shm_path(container_id);
            let size = linux
                .and_then(|l| l.shm_size)
                .map(|mb| u64::from(mb) << 20)
                .or(self.options.default_shm_size);
            make_shm(&path, size).map_err(IsolatorError)?;
            info.mounts.push(bind(&path));
        } else if mode == Some(IpcMode::ShareParent) {
            // The parent's private /dev/shm, if it has one (else it uses
            // the agent's, and so does this container).
            if let Some(parent) = parent {
                let path = self.shm_path(parent);
                if path.is_dir() {
                    info.mounts.push(bind(&path));
                }
            }
        }
        Ok(Some(info))
    }
}

/// Mounts a tmpfs of `size` bytes (the kernel's default without one) at
/// `path` on the host.
fn make_shm(path: &Path, size: Option<u64>) -> std::result::Result<(), String> {
    std::fs::create_dir_all(path)
        .map_err(|e| format!("failed to create '{}': {e}", path.display()))?;
    let options = match size {
        Some(size) => format!("mode=1777,size={size}"),
        None => "mode=1777".into(),
    };
    crate::containerizer::mesos::provisioner::backend::mount(
        "tmpfs",
        path,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        Some(&options),
    )
}

impl Isolator for NamespacesIsolator {
    fn name(&self) -> &'static str {
        match self.namespace {
            Namespace::Pid => "namespaces/pid",
            Namespace::Ipc => "namespaces/ipc",
        }
    }

    fn supports_nesting(&self) -> bool {
        true
    }

    fn recover(
        &self,
        _states: &[ContainerState],
        orphans: &HashSet<String>,
    ) -> BoxFuture<'static, Result<()>> {
        if self.namespace == Namespace::Ipc {
            for orphan in orphans {
                drop(self.cleanup(orphan));
            }
        }
        ready(Ok(()))
    }

    fn prepare(
        &self,
        container_id: &str,
        config: &ContainerConfig,
    ) -> BoxFuture<'static, Result<Option<ContainerLaunchInfo>>> {
        let linux = config
            .container_info
            .as_ref()
            .and_then(|c| c.linux_info.as_ref());
        ready(match self.namespace {
            Namespace::Pid => self.prepare_pid(container_id, linux),
            Namespace::Ipc => self.prepare_ipc(container_id, config, linux),
        })
    }

    fn cleanup(&self, container_id: &str) -> BoxFuture<'static, Result<()>> {
        if self.namespace != Namespace::Ipc {
            return ready(Ok(()));
        }
        let directory = self.shm_root.join(container_id);
        let shm = directory.join("shm");
        let result = crate::containerizer::mesos::provisioner::backend::unmount_and_remove(&shm)
            .map(|_| {
                let _ = std::fs::remove_dir(&directory);
            })
            .map_err(IsolatorError);
        ready(result)
    }
}
