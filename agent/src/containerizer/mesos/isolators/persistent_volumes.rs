//! Persistent volumes in containers: the part of upstream's
//! `filesystem/posix` and `filesystem/linux` isolators that makes each
//! persistent volume among a container's resources (`DiskInfo.persistence`
//! with `DiskInfo.volume`) available at the volume's `container_path`
//! inside the sandbox.
//!
//! Upstream counterparts: `PosixFilesystemIsolatorProcess::update` (a
//! symlink from the sandbox to the volume's host directory) and
//! `LinuxFilesystemIsolatorProcess::update` (a bind mount) in
//! `src/slave/containerizer/mesos/isolators/filesystem/`.
//!
//! [`PersistentVolumes`] decorates the filesystem isolator it is built
//! with and adds:
//! - `Link` (`filesystem/posix`): `prepare` and `update` link
//!   `<sandbox>/<container_path>` to the volume directory
//!   (`<work_dir>/volumes/roles/<role>/<persistence id>`), which the agent
//!   made when the master checkpointed the volume;
//! - `BindMount` (`filesystem/linux`): `prepare` adds a bind mount of the
//!   volume directory onto `<sandbox>/<container_path>` to the launch
//!   info, made by the launch helper in the container's own mount
//!   namespace; volumes that arrive with a later task (`update`) are bind
//!   mounted from the host onto the sandbox path, which reaches the
//!   running container where the host's mounts propagate to it (its
//!   namespace is a slave of the host's), and are unmounted on `cleanup`.
//!
//! As upstream, `update` also takes away the volumes no longer among the
//! container's resources (a task holding one ended): the link is removed,
//! or the mount point unmounted and removed.
//!
//! A volume whose directory does not exist, or whose `container_path`
//! leaves the sandbox, fails the launch (or the update) with a message.
//! As upstream, a volume that no other container uses is given the owner of
//! the sandbox (not recursively), so a task running as the sandbox's user
//! can write to a volume the agent created as root.
//! Nothing is removed at cleanup: the volume's data outlives the container.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use mesos_proto::mesos::slave::{
    ContainerConfig, ContainerLaunchInfo, ContainerLimitation, ContainerMountInfo, ContainerState,
};
use mesos_proto::mesos::{ContainerStatus, Resource, ResourceStatistics};

use crate::checkpointed_resources::volume_path;
use crate::containerizer::mesos::isolator::{
    ready, Isolator, IsolatorError, ResourceLimits, Result,
};

/// How volumes are made available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A symlink in the sandbox (`filesystem/posix`).
    Link,
    /// A bind mount (`filesystem/linux`).
    BindMount,
}

#[derive(Debug, Default)]
struct Container {
    sandbox: PathBuf,
    /// The volumes the container holds: sandbox path to host directory.
    volumes: HashMap<PathBuf, PathBuf>,
    /// Host-side mounts made by `update`, unmounted at cleanup.
    host_mounts: Vec<PathBuf>,
}

/// A filesystem isolator with persistent volume support.
pub struct PersistentVolumes {
    inner: Arc<dyn Isolator>,
    work_dir: PathBuf,
    mode: Mode,
    containers: Arc<Mutex<HashMap<String, Container>>>,
}

/// One volume to make available: its host directory and sandbox target.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Planned {
    source: PathBuf,
    target: PathBuf,
}

fn plan(work_dir: &Path, sandbox: &Path, resources: &[Resource]) -> Result<Vec<Planned>> {
    let mut planned = Vec::new();
    for resource in resources {
        let Some(disk) = &resource.disk else { continue };
        if disk.persistence.is_none() {
            continue;
        }
        let Some(volume) = &disk.volume else { continue };
        let relative = Path::new(&volume.container_path);
        if volume.container_path.is_empty()
            || relative.is_absolute()
            || relative
                .components()
                .any(|c| matches!(c, Component::ParentDir))
        {
            return Err(IsolatorError(format!(
                "the persistent volume's container path '{}' must be a relative path inside \
                 the sandbox",
                volume.container_path
            )));
        }
        let Some(source) = volume_path(work_dir, resource) else {
            continue;
        };
        if !source.is_dir() {
            return Err(IsolatorError(format!(
                "the persistent volume at '{}' does not exist",
                source.display()
            )));
        }
        planned.push(Planned {
            source,
            target: sandbox.join(relative),
        });
    }
    Ok(planned)
}

fn link(planned: &Planned) -> Result<()> {
    match std::fs::read_link(&planned.target) {
        Ok(existing) if existing == planned.source => return Ok(()),
        Ok(existing) => {
            return Err(IsolatorError(format!(
                "'{}' already links to '{}'",
                planned.target.display(),
                existing.display()
            )))
        }
        Err(_) if planned.target.exists() => {
            return Err(IsolatorError(format!(
                "the persistent volume's target '{}' already exists in the sandbox",
                planned.target.display()
            )))
        }
        Err(_) => {}
    }
    if let Some(parent) = planned.target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| IsolatorError(format!("failed to create '{}': {e}", parent.display())))?;
    }
    std::os::unix::fs::symlink(&planned.source, &planned.target).map_err(|e| {
        IsolatorError(format!(
            "failed to link '{}' to the persistent volume '{}': {e}",
            planned.target.display(),
            planned.source.display()
        ))
    })
}

fn mount_info(planned: &Planned) -> ContainerMountInfo {
    ContainerMountInfo {
        target: planned.target.display().to_string(),
        source: Some(planned.source.display().to_string()),
        r#type: None,
        flags: Some((libc::MS_BIND | libc::MS_REC) as u32),
        options: None,
    }
}

/// Gives the volume's directory the owner of `sandbox` (upstream
/// `os::chown(uid, gid, source, false)` in the filesystem isolators'
/// `update`).
fn chown_to_sandbox(planned: &Planned, sandbox: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let owner = std::fs::metadata(sandbox).map_err(|e| {
        IsolatorError(format!(
            "failed to get the ownership of '{}': {e}",
            sandbox.display()
        ))
    })?;
    let (uid, gid) = (owner.uid(), owner.gid());
    tracing::info!(
        volume = %planned.source.display(), uid, gid,
        "Changing the ownership of the persistent volume"
    );
    std::os::unix::fs::chown(&planned.source, Some(uid), Some(gid)).map_err(|e| {
        IsolatorError(format!(
            "failed to change the ownership of the persistent volume at '{}' with uid {uid} \
             and gid {gid}: {e}",
            planned.source.display()
        ))
    })
}

#[cfg(target_os = "linux")]
fn host_bind_mount(planned: &Planned) -> Result<()> {
    use std::ffi::CString;
    std::fs::create_dir_all(&planned.target).map_err(|e| {
        IsolatorError(format!(
            "failed to create the mount point '{}': {e}",
            planned.target.display()
        ))
    })?;
    let cstring = |p: &Path| {
        CString::new(p.as_os_str().as_encoded_bytes())
            .map_err(|_| IsolatorError(format!("bad path '{}'", p.display())))
    };
    let (source, target) = (cstring(&planned.source)?, cstring(&planned.target)?);
    // SAFETY: both paths are NUL-terminated strings that outlive the call;
    // the file system type and data may be null for a bind mount.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(IsolatorError(format!(
            "failed to mount the persistent volume '{}' at '{}': {}",
            planned.source.display(),
            planned.target.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn host_bind_mount(_planned: &Planned) -> Result<()> {
    Err(IsolatorError("bind mounts need Linux".into()))
}

#[cfg(target_os = "linux")]
fn unmount(target: &Path) {
    let Ok(path) = std::ffi::CString::new(target.as_os_str().as_encoded_bytes()) else {
        return;
    };
    // SAFETY: a NUL-terminated path that outlives the call.
    let rc = unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
    if rc != 0 {
        let error = std::io::Error::last_os_error();
        tracing::warn!(target = %target.display(), %error, "Failed to unmount a persistent volume");
    }
}

#[cfg(not(target_os = "linux"))]
fn unmount(_target: &Path) {}

/// Takes away the volume at `target`: a link is unlinked; a mount point is
/// unmounted when the host holds the mount (`host_mount`), then removed
/// (non-recursively). A mount made in the container's own mount namespace
/// at launch goes with its mount point (Linux 3.18 detaches the mounts on a
/// removed directory in every namespace).
fn remove(mode: Mode, target: &Path, host_mount: bool) -> Result<()> {
    tracing::info!(target = %target.display(), "Removing a persistent volume from a container");
    let removed = match mode {
        Mode::Link => match std::fs::symlink_metadata(target) {
            Ok(meta) if meta.file_type().is_symlink() => std::fs::remove_file(target),
            _ => Ok(()),
        },
        Mode::BindMount => {
            if host_mount {
                unmount(target);
            }
            std::fs::remove_dir(target)
        }
    };
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(IsolatorError(format!(
            "failed to remove the persistent volume's target '{}': {e}",
            target.display()
        ))),
        _ => Ok(()),
    }
}

impl PersistentVolumes {
    /// Wraps the filesystem isolator `inner`; volumes live under
    /// `work_dir`.
    pub fn new(inner: Arc<dyn Isolator>, work_dir: PathBuf, mode: Mode) -> Self {
        Self {
            inner,
            work_dir,
            mode,
            containers: Arc::default(),
        }
    }

    fn containers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Container>> {
        self.containers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether a container other than `container_id` uses the volume at
/// `source`: its tasks would lose access if the owner changed.
fn in_use(containers: &HashMap<String, Container>, container_id: &str, source: &Path) -> bool {
    containers
        .iter()
        .any(|(id, c)| id != container_id && c.volumes.values().any(|s| s == source))
}

impl Isolator for PersistentVolumes {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn register_metrics(&self, registry: &libprocess::metrics::Metrics) {
        self.inner.register_metrics(registry);
    }

    fn supports_nesting(&self) -> bool {
        self.inner.supports_nesting()
    }

    fn supports_standalone(&self) -> bool {
        self.inner.supports_standalone()
    }

    fn recover(
        &self,
        states: &[ContainerState],
        orphans: &HashSet<String>,
    ) -> BoxFuture<'static, Result<()>> {
        {
            let mut containers = self.containers();
            for state in states {
                let id = state.container_id.value.clone();
                let sandbox = PathBuf::from(&state.directory);
                let resources = state
                    .executor_info
                    .as_ref()
                    .map(|e| e.resources.as_slice())
                    .unwrap_or_default();
                let planned = plan(&self.work_dir, &sandbox, resources).unwrap_or_default();
                containers.insert(
                    id,
                    Container {
                        sandbox,
                        volumes: planned.into_iter().map(|p| (p.target, p.source)).collect(),
                        host_mounts: Vec::new(),
                    },
                );
            }
        }
        self.inner.recover(states, orphans)
    }

    fn prepare(
        &self,
        container_id: &str,
        config: &ContainerConfig,
    ) -> BoxFuture<'static, Result<Option<ContainerLaunchInfo>>> {
        let inner = self.inner.prepare(container_id, config);
        let sandbox = PathBuf::from(&config.directory);
        let planned = match plan(&self.work_dir, &sandbox, &config.resources) {
            Ok(planned) => planned,
            Err(error) => return ready(Err(error)),
        };
        let mut containers = self.containers();
        let mut mounts = Vec::new();
        for volume in &planned {
            if !in_use(&containers, container_id, &volume.source) {
                if let Err(error) = chown_to_sandbox(volume, &sandbox) {
                    return ready(Err(error));
                }
            }
            match self.mode {
                Mode::Link => {
                    if let Err(error) = link(volume) {
                        return ready(Err(error));
                    }
                }
                Mode::BindMount => mounts.push(mount_info(volume)),
            }
        }
        containers.insert(
            container_id.to_string(),
            Container {
                sandbox,
                volumes: planned.into_iter().map(|p| (p.target, p.source)).collect(),
                host_mounts: Vec::new(),
            },
        );
        drop(containers);
        Box::pin(async move {
            let info = inner.await?;
            if mounts.is_empty() {
                return Ok(info);
            }
            let mut info = info.unwrap_or_else(|| ContainerLaunchInfo {
                clone_namespaces: vec![libc::CLONE_NEWNS],
                ..Default::default()
            });
            // Before the inner isolator's: with an image, filesystem/linux
            // binds the sandbox (volumes included) into the rootfs.
            let mut mounts = mounts;
            mounts.append(&mut info.mounts);
            info.mounts = mounts;
            Ok(Some(info))
        })
    }

    fn isolate(&self, container_id: &str, pid: u32) -> BoxFuture<'static, Result<()>> {
        self.inner.isolate(container_id, pid)
    }

    fn watch(&self, container_id: &str) -> BoxFuture<'static, ContainerLimitation> {
        self.inner.watch(container_id)
    }

    fn last_limitation(
        &self,
        container_id: &str,
    ) -> BoxFuture<'static, Option<ContainerLimitation>> {
        self.inner.last_limitation(container_id)
    }

    fn update(
        &self,
        container_id: &str,
        resources: &[Resource],
        limits: &ResourceLimits,
    ) -> BoxFuture<'static, Result<()>> {
        let inner = self.inner.update(container_id, resources, limits);
        let result = (|| {
            let mut containers = self.containers();
            let Some(sandbox) = containers.get(container_id).map(|c| c.sandbox.clone()) else {
                return Ok(());
            };
            let planned = plan(&self.work_dir, &sandbox, resources)?;
            // As upstream's `update`, volumes that left the container's
            // resources (their task ended) go first: unmounted, then the
            // mount point or link removed, non-recursively.
            if let Some(container) = containers.get_mut(container_id) {
                let gone: Vec<PathBuf> = container
                    .volumes
                    .keys()
                    .filter(|target| !planned.iter().any(|p| &p.target == *target))
                    .cloned()
                    .collect();
                for target in gone {
                    remove(self.mode, &target, container.host_mounts.contains(&target))?;
                    container.host_mounts.retain(|t| t != &target);
                    container.volumes.remove(&target);
                }
            }
            for volume in planned {
                if containers
                    .get(container_id)
                    .is_some_and(|c| c.volumes.contains_key(&volume.target))
                {
                    continue;
                }
                if !in_use(&containers, container_id, &volume.source) {
                    chown_to_sandbox(&volume, &sandbox)?;
                }
                let Some(container) = containers.get_mut(container_id) else {
                    return Ok(());
                };
                match self.mode {
                    Mode::Link => link(&volume)?,
                    Mode::BindMount => {
                        host_bind_mount(&volume)?;
                        container.host_mounts.push(volume.target.clone());
                    }
                }
                container.volumes.insert(volume.target, volume.source);
            }
            Ok(())
        })();
        Box::pin(async move {
            result?;
            inner.await
        })
    }

    fn usage(&self, container_id: &str) -> BoxFuture<'static, Result<ResourceStatistics>> {
        self.inner.usage(container_id)
    }

    fn status(&self, container_id: &str) -> BoxFuture<'static, Result<ContainerStatus>> {
        self.inner.status(container_id)
    }

    fn cleanup(&self, container_id: &str) -> BoxFuture<'static, Result<()>> {
        if let Some(container) = self.containers().remove(container_id) {
            for target in container.host_mounts.iter().rev() {
                unmount(target);
            }
        }
        self.inner.cleanup(container_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::resource::{disk_info, reservation_info, DiskInfo, ReservationInfo};
    use mesos_proto::resources::Resources;

    fn volume(id: &str, container_path: &str) -> Resource {
        let mut disk = Resources::parse("disk:8", "*")
            .expect("valid")
            .push_reservation(&ReservationInfo {
                r#type: Some(reservation_info::Type::Dynamic as i32),
                role: Some("web".into()),
                ..Default::default()
            })
            .expect("valid")
            .to_vec()
            .remove(0);
        disk.disk = Some(DiskInfo {
            persistence: Some(disk_info::Persistence {
                id: id.into(),
                principal: None,
            }),
            volume: Some(mesos_proto::mesos::Volume {
                container_path: container_path.into(),
                mode: mesos_proto::mesos::volume::Mode::Rw as i32,
                ..Default::default()
            }),
            source: None,
        });
        disk
    }

    struct Noop;
    impl Isolator for Noop {
        fn name(&self) -> &'static str {
            "filesystem/posix"
        }
    }

    #[tokio::test]
    async fn posix_links_volumes_at_prepare_and_update_and_unlinks_those_that_leave() {
        let work = tempfile::tempdir().expect("tempdir");
        let sandbox = work.path().join("sandbox");
        std::fs::create_dir_all(&sandbox).expect("sandbox");
        let isolator = PersistentVolumes::new(Arc::new(Noop), work.path().into(), Mode::Link);
        let config = ContainerConfig {
            directory: sandbox.display().to_string(),
            resources: vec![volume("v1", "data")],
            ..Default::default()
        };
        // The volume must exist.
        let error = isolator.prepare("c", &config).await.unwrap_err();
        assert!(error.0.contains("does not exist"), "{error}");
        let v1 = work.path().join("volumes/roles/web/v1");
        std::fs::create_dir_all(&v1).expect("volume");
        let info = isolator.prepare("c", &config).await.expect("ok");
        assert_eq!(info, None);
        assert_eq!(std::fs::read_link(sandbox.join("data")).expect("link"), v1);
        // A later task brings another volume.
        let v2 = work.path().join("volumes/roles/web/v2");
        std::fs::create_dir_all(&v2).expect("volume");
        isolator
            .update(
                "c",
                &[volume("v1", "data"), volume("v2", "more/v2")],
                &ResourceLimits::new(),
            )
            .await
            .expect("updated");
        assert_eq!(
            std::fs::read_link(sandbox.join("more/v2")).expect("link"),
            v2
        );
        // The task holding v1 ends: its link goes, v2's and the data stay.
        isolator
            .update("c", &[volume("v2", "more/v2")], &ResourceLimits::new())
            .await
            .expect("updated");
        assert!(!sandbox.join("data").is_symlink());
        assert!(sandbox.join("more/v2").is_symlink());
        // Back again with a later task.
        isolator
            .update(
                "c",
                &[volume("v1", "data"), volume("v2", "more/v2")],
                &ResourceLimits::new(),
            )
            .await
            .expect("updated");
        assert_eq!(std::fs::read_link(sandbox.join("data")).expect("link"), v1);
        isolator.cleanup("c").await.expect("cleaned up");
        assert!(v1.exists() && v2.exists(), "volumes outlive the container");
    }

    #[tokio::test]
    async fn linux_adds_bind_mounts_to_the_launch_info() {
        let work = tempfile::tempdir().expect("tempdir");
        let v1 = work.path().join("volumes/roles/web/v1");
        std::fs::create_dir_all(&v1).expect("volume");
        let isolator = PersistentVolumes::new(Arc::new(Noop), work.path().into(), Mode::BindMount);
        let sandbox = work.path().join("sandbox");
        std::fs::create_dir_all(&sandbox).expect("sandbox");
        let config = ContainerConfig {
            directory: sandbox.display().to_string(),
            resources: vec![volume("v1", "data")],
            ..Default::default()
        };
        let info = isolator
            .prepare("c", &config)
            .await
            .expect("ok")
            .expect("a launch info");
        assert_eq!(info.mounts.len(), 1);
        assert_eq!(
            info.mounts[0].target,
            sandbox.join("data").display().to_string()
        );
        assert_eq!(
            info.mounts[0].source.as_deref(),
            Some(v1.to_str().expect("utf-8"))
        );
        let escaping = ContainerConfig {
            directory: "/sandbox".into(),
            resources: vec![volume("v1", "../x")],
            ..Default::default()
        };
        assert!(isolator.prepare("d", &escaping).await.is_err());
    }
}
