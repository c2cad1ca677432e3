//! `disk/du` (upstream `isolators/posix/disk.cpp`; old name
//! `posix/disk`): the sandbox's disk usage, measured with `du -k -s` every
//! `--container_disk_watch_interval`, reported as `disk_used_bytes` beside
//! the `disk` resources as `disk_limit_bytes`; with
//! `--enforce_container_disk_quota`, a container past its quota is a
//! limitation (`REASON_CONTAINER_LIMITATION_DISK`, "Disk usage (..)
//! exceeds quota (..)"). Nested containers are not measured, as upstream.
//! Recovered containers are measured again after an agent restart.
//! A persistent volume's usage never counts against the sandbox's quota:
//! as upstream, `du` leaves the volumes' sandbox paths out (`--exclude`).
//! Most are out of its reach anyway (a symlink under `filesystem/posix`,
//! a mount in the container's own namespace under `filesystem/linux`),
//! but a volume a later task brings is bind mounted there on the host.
//! Each persistent volume is measured on its own, in its host directory
//! under the work_dir, against its own size, in the same loop: past it,
//! the container is limited as for the sandbox (upstream
//! `DiskQuotaTest.VolumeUsageExceedsQuota`), except on a MOUNT disk, whose
//! filesystem enforces its size. Usage reports the sandbox's figures, and
//! `disk_statistics` an entry per measured path, as upstream.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use mesos_proto::mesos::resource::disk_info::source::Type as SourceType;
use mesos_proto::mesos::slave::{
    ContainerConfig, ContainerLaunchInfo, ContainerLimitation, ContainerState,
};
use mesos_proto::mesos::{task_status, DiskStatistics, Resource, ResourceStatistics};
use mesos_proto::resources::Resources;
use tokio::sync::watch;

use crate::checkpointed_resources::volume_path;
use crate::containerizer::mesos::isolator::{
    bytes, ready, Isolator, IsolatorError, ResourceLimits, Result,
};

struct Info {
    /// The sandbox.
    directory: PathBuf,
    /// Where the container's writes into its image rootfs land (the
    /// overlay upper directory): measured with the sandbox, against its
    /// quota, as upstream's ephemeral volumes.
    ephemeral: Vec<PathBuf>,
    /// The sandbox's `disk` resources (no volume).
    quota: Vec<Resource>,
    /// The sandbox paths of the container's persistent volumes, left out
    /// of the sandbox's usage (a volume a later task brings is bind
    /// mounted there on the host, where `du` would count it).
    excludes: Vec<PathBuf>,
    /// The host directories of the container's persistent volumes, each
    /// with its own `disk` resource (its quota).
    volumes: Vec<(PathBuf, Resource)>,
    last_usage: Option<u64>,
    /// The last usage measured of each volume directory.
    volume_usage: HashMap<PathBuf, u64>,
    /// Ends the measuring loop when the container goes.
    stop: watch::Sender<bool>,
    limitation: Option<tokio::sync::oneshot::Receiver<ContainerLimitation>>,
}

/// The `disk/du` isolator.
pub struct PosixDiskIsolator {
    interval: Duration,
    enforce: bool,
    /// The agent's `--work_dir`, where persistent volumes live.
    work_dir: PathBuf,
    infos: Arc<Mutex<HashMap<String, Info>>>,
}

impl std::fmt::Debug for PosixDiskIsolator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PosixDiskIsolator")
            .field("interval", &self.interval)
            .field("enforce", &self.enforce)
            .finish_non_exhaustive()
    }
}

impl PosixDiskIsolator {
    /// Measures every `interval`; `enforce` turns excess into limitations;
    /// persistent volumes are found under `work_dir`.
    pub fn new(interval: Duration, enforce: bool, work_dir: PathBuf) -> Self {
        Self {
            interval,
            enforce,
            work_dir,
            infos: Arc::default(),
        }
    }

    fn infos(&self) -> std::sync::MutexGuard<'_, HashMap<String, Info>> {
        self.infos.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts measuring `directory`, the sandbox of `container_id`,
    /// against the `disk` of `resources`.
    fn start(
        &self,
        container_id: &str,
        directory: PathBuf,
        ephemeral: &[String],
        resources: &[Resource],
    ) {
        let (stop, mut stopped) = watch::channel(false);
        let (limit_tx, limit_rx) = tokio::sync::oneshot::channel();
        self.infos().insert(
            container_id.to_string(),
            Info {
                directory: directory.clone(),
                ephemeral: ephemeral.iter().map(PathBuf::from).collect(),
                quota: sandbox_quota(resources),
                excludes: volume_paths(&directory, resources),
                volumes: volumes(&self.work_dir, resources),
                last_usage: None,
                volume_usage: HashMap::new(),
                stop,
                limitation: Some(limit_rx),
            },
        );
        // The measuring loop: one `du` at a time, `interval` apart; it
        // ends with the container, or with the isolator.
        let (infos, id, interval, enforce) = (
            Arc::downgrade(&self.infos),
            container_id.to_string(),
            self.interval,
            self.enforce,
        );
        tokio::spawn(async move {
            let mut limit_tx = Some(limit_tx);
            loop {
                // The sandbox (without its volumes, with its ephemeral
                // volumes), then each volume, each against its own quota.
                let targets = {
                    let Some(infos) = infos.upgrade() else {
                        return;
                    };
                    let infos = infos.lock().unwrap_or_else(|e| e.into_inner());
                    let Some(info) = infos.get(&id) else {
                        return;
                    };
                    let mut sandbox = vec![directory.clone()];
                    sandbox.extend(info.ephemeral.iter().cloned());
                    let mut targets = vec![(sandbox, info.excludes.clone(), None)];
                    for (path, volume) in &info.volumes {
                        targets.push((vec![path.clone()], Vec::new(), Some(volume.clone())));
                    }
                    targets
                };
                for (paths, excludes, volume) in targets {
                    let path = paths[0].clone();
                    let used = match du(&paths, &excludes).await {
                        Ok(used) => used,
                        Err(error) => {
                            tracing::warn!(
                                container_id = %id,
                                path = %path.display(),
                                %error,
                                "Checking disk usage failed"
                            );
                            continue;
                        }
                    };
                    let quota = {
                        let Some(infos) = infos.upgrade() else {
                            return;
                        };
                        let mut infos = infos.lock().unwrap_or_else(|e| e.into_inner());
                        let Some(info) = infos.get_mut(&id) else {
                            return;
                        };
                        match volume {
                            Some(volume) => {
                                info.volume_usage.insert(path.clone(), used);
                                vec![volume]
                            }
                            None => {
                                info.last_usage = Some(used);
                                info.quota.clone()
                            }
                        }
                    };
                    // A MOUNT disk's own filesystem enforces its size, as
                    // upstream leaves it.
                    let mount = quota.iter().any(|r| {
                        r.disk
                            .as_ref()
                            .and_then(|d| d.source.as_ref())
                            .is_some_and(|s| s.r#type() == SourceType::Mount)
                    });
                    let limit = Resources::from(quota.clone()).disk();
                    if let (true, false, Some(limit)) = (enforce, mount, limit) {
                        if used > limit {
                            if let Some(tx) = limit_tx.take() {
                                let _ = tx.send(ContainerLimitation {
                                    resources: quota,
                                    message: Some(format!(
                                        "Disk usage ({}) exceeds quota ({})",
                                        bytes(used),
                                        bytes(limit)
                                    )),
                                    reason: Some(
                                        task_status::Reason::ContainerLimitationDisk as i32,
                                    ),
                                });
                            }
                        }
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
    }
}

/// The `disk` resources that size the sandbox (no persistent volume).
fn sandbox_quota(resources: &[Resource]) -> Vec<Resource> {
    resources
        .iter()
        .filter(|r| r.name == "disk" && r.disk.as_ref().is_none_or(|d| d.volume.is_none()))
        .cloned()
        .collect()
}

/// The host directories of the persistent volumes among `resources`, each
/// with its resource.
fn volumes(work_dir: &std::path::Path, resources: &[Resource]) -> Vec<(PathBuf, Resource)> {
    resources
        .iter()
        .filter(|r| r.name == "disk")
        .filter(|r| r.disk.as_ref().is_some_and(|d| d.persistence.is_some()))
        .filter_map(|r| Some((volume_path(work_dir, r)?, r.clone())))
        .collect()
}

/// The sandbox paths of the persistent volumes among `resources` (those
/// with a relative `container_path`: an absolute one exists only inside an
/// image's rootfs, not in the sandbox).
fn volume_paths(sandbox: &std::path::Path, resources: &[Resource]) -> Vec<PathBuf> {
    resources
        .iter()
        .filter(|r| r.name == "disk")
        .filter_map(|r| r.disk.as_ref()?.volume.as_ref())
        .map(|volume| std::path::Path::new(&volume.container_path))
        .filter(|path| path.is_relative())
        .map(|path| sandbox.join(path))
        .collect()
}

/// `du -k -s <paths>` without `excludes` (as upstream, GNU `du`'s
/// `--exclude`), summed, in bytes.
async fn du(paths: &[PathBuf], excludes: &[PathBuf]) -> std::result::Result<u64, String> {
    let mut command = tokio::process::Command::new("du");
    command.arg("-k").arg("-s");
    for exclude in excludes {
        command.arg("--exclude").arg(exclude);
    }
    let output = command
        .args(paths)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("Failed to exec 'du': {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "Failed to perform 'du': {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    if text.trim().is_empty() {
        return Err("Unexpected empty output from 'du'".into());
    }
    let mut total = 0;
    for line in text.lines() {
        let kb = line
            .split_whitespace()
            .next()
            .and_then(|kb| kb.parse::<u64>().ok())
            .ok_or_else(|| format!("Unexpected output from 'du': {text}"))?;
        total += kb * 1024;
    }
    Ok(total)
}

impl Isolator for PosixDiskIsolator {
    fn name(&self) -> &'static str {
        "disk/du"
    }

    fn supports_nesting(&self) -> bool {
        true
    }

    /// Upstream `PosixDiskIsolatorProcess::recover`: the sandbox of each
    /// recovered top-level container is measured again, against its
    /// executor's resources until the agent updates it with its tasks'
    /// (on the executor's re-registration).
    fn recover(
        &self,
        states: &[ContainerState],
        _orphans: &HashSet<String>,
    ) -> BoxFuture<'static, Result<()>> {
        for state in states {
            let id = &state.container_id.value;
            if id.contains('.') || state.directory.is_empty() || self.infos().contains_key(id) {
                continue;
            }
            let resources = state
                .executor_info
                .as_ref()
                .map(|e| e.resources.clone())
                .unwrap_or_default();
            self.start(
                id,
                PathBuf::from(&state.directory),
                &state.ephemeral_volumes,
                &resources,
            );
        }
        ready(Ok(()))
    }

    fn prepare(
        &self,
        container_id: &str,
        config: &ContainerConfig,
    ) -> BoxFuture<'static, Result<Option<ContainerLaunchInfo>>> {
        if container_id.contains('.') {
            return ready(Ok(None));
        }
        self.start(
            container_id,
            PathBuf::from(&config.directory),
            &config.ephemeral_volumes,
            &config.resources,
        );
        ready(Ok(None))
    }

    fn watch(&self, container_id: &str) -> BoxFuture<'static, ContainerLimitation> {
        let receiver = self
            .infos()
            .get_mut(container_id)
            .and_then(|info| info.limitation.take());
        Box::pin(async move {
            match receiver {
                Some(receiver) => match receiver.await {
                    Ok(limitation) => limitation,
                    Err(_) => std::future::pending().await,
                },
                None => std::future::pending().await,
            }
        })
    }

    fn update(
        &self,
        container_id: &str,
        resources: &[Resource],
        _limits: &ResourceLimits,
    ) -> BoxFuture<'static, Result<()>> {
        if let Some(info) = self.infos().get_mut(container_id) {
            info.quota = sandbox_quota(resources);
            info.excludes = volume_paths(&info.directory, resources);
            info.volumes = volumes(&self.work_dir, resources);
            let kept: HashSet<PathBuf> = info.volumes.iter().map(|(p, _)| p.clone()).collect();
            info.volume_usage.retain(|path, _| kept.contains(path));
        }
        ready(Ok(()))
    }

    fn usage(&self, container_id: &str) -> BoxFuture<'static, Result<ResourceStatistics>> {
        let infos = self.infos();
        let Some(info) = infos.get(container_id) else {
            return ready(Err(IsolatorError(format!(
                "unknown container '{container_id}'"
            ))));
        };
        // As upstream, an entry per measured path in `disk_statistics`:
        // the sandbox's, then each volume's with its persistence and source.
        // (The sandbox has one only with `disk` of its own.)
        let limit = Resources::from(info.quota.clone()).disk();
        let mut disk_statistics = Vec::new();
        if limit.is_some() {
            disk_statistics.push(DiskStatistics {
                limit_bytes: limit,
                used_bytes: info.last_usage,
                ..Default::default()
            });
        }
        for (path, volume) in &info.volumes {
            let disk = volume.disk.as_ref();
            disk_statistics.push(DiskStatistics {
                source: disk.and_then(|d| d.source.clone()),
                persistence: disk.and_then(|d| d.persistence.clone()),
                limit_bytes: Resources::from(vec![volume.clone()]).disk(),
                used_bytes: info.volume_usage.get(path).copied(),
            });
        }
        ready(Ok(ResourceStatistics {
            disk_limit_bytes: limit,
            disk_used_bytes: info.last_usage,
            disk_statistics,
            ..Default::default()
        }))
    }

    fn cleanup(&self, container_id: &str) -> BoxFuture<'static, Result<()>> {
        if let Some(info) = self.infos().remove(container_id) {
            let _ = info.stop.send(true);
        }
        ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sandbox_usage_leaves_its_volumes_out() {
        let sandbox = tempfile::tempdir().expect("tempdir");
        let volume = sandbox.path().join("data");
        std::fs::create_dir(&volume).expect("fixture");
        std::fs::write(volume.join("file"), vec![1u8; 2 << 20]).expect("fixture");
        let all = du(&[sandbox.path().to_path_buf()], &[]).await.expect("du");
        assert!(all >= 2 << 20, "{all}");
        let resources = mesos_proto::resources::Resources::parse("disk:1", "*")
            .expect("resources")
            .to_vec()
            .into_iter()
            .map(|mut disk| {
                disk.disk = Some(mesos_proto::mesos::resource::DiskInfo {
                    volume: Some(mesos_proto::mesos::Volume {
                        container_path: "data".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                disk
            })
            .collect::<Vec<_>>();
        let excludes = volume_paths(sandbox.path(), &resources);
        assert_eq!(excludes, vec![volume.clone()]);
        let sandbox_only = du(&[sandbox.path().to_path_buf()], &excludes)
            .await
            .expect("du");
        assert!(sandbox_only < 1 << 20, "{sandbox_only}");
    }

    #[tokio::test]
    async fn the_sandbox_usage_adds_its_ephemeral_volumes() {
        let (sandbox, upper) = (
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
        );
        std::fs::write(sandbox.path().join("file"), vec![1u8; 1 << 20]).expect("fixture");
        std::fs::write(upper.path().join("file"), vec![1u8; 2 << 20]).expect("fixture");
        let paths = [sandbox.path().to_path_buf(), upper.path().to_path_buf()];
        let both = du(&paths, &[]).await.expect("du");
        assert!(both >= 3 << 20, "{both}");
        assert!(both < 4 << 20, "{both}");
    }
}
