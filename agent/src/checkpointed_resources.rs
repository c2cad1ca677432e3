//! The resources the master asks the agent to keep across restarts:
//! dynamic reservations and persistent volumes (`CheckpointResourcesMessage`).
//!
//! Upstream counterparts: `Slave::checkpointResources` and
//! `syncCheckpointedResources` (`src/slave/slave.cpp`),
//! `paths::getResourcesInfoPath` and `getPersistentVolumePath`
//! (`src/slave/paths.cpp`), `state::recoverResources`
//! (`src/slave/state.cpp`).
//!
//! `meta/resources/resources.info` holds one length-prefixed `Resource`
//! record per resource, in the pre-1.4 ("downgraded") format as upstream
//! writes it, replaced atomically (write, fsync, rename). Each persistent
//! volume is a directory, `volumes/roles/<role>/<persistence id>` under
//! the work_dir for the root disk, made when the volume is first
//! checkpointed and removed when it is destroyed; its data outlives the
//! tasks that use it.
//!
//! Deliberate differences: upstream 1.8+ agents with resource providers
//! write `resources_and_operations.state` instead; ours only has the
//! `resources.info` form (it does not advertise `RESOURCE_PROVIDER`), which
//! every upstream agent still reads. Volumes on `PATH` disks live under the
//! disk's root, `MOUNT` disks are the volume themselves, as upstream.

// The pre-1.4 `Resource.role` is what the checkpoint format uses.
#![allow(deprecated)]

use std::path::{Path, PathBuf};

use mesos_proto::mesos::resource::disk_info::source::Type as SourceType;
use mesos_proto::mesos::Resource;
use mesos_proto::resources::{self, ResourceFormat, Resources};
use prost::Message as _;

use crate::paths;

/// What failed while checkpointing or recovering resources.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing the checkpoint or a volume directory failed.
    #[error("failed to {what} '{}': {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The checkpoint holds a record that does not parse.
    #[error("failed to parse '{}': {reason}", path.display())]
    Corrupt {
        /// The checkpoint.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A resource cannot be written in the checkpoint format.
    #[error("failed to downgrade resource {resource}: {reason}")]
    Format {
        /// The resource.
        resource: String,
        /// Why.
        reason: String,
    },
}

/// This module's result type.
pub type Result<T> = std::result::Result<T, CheckpointError>;

/// Returns the host directory of a persistent volume (upstream
/// `paths::getPersistentVolumePath(workDir, volume)`), or `None` if the
/// resource is not a persistent volume.
pub fn volume_path(work_dir: &Path, volume: &Resource) -> Option<PathBuf> {
    let mut volume = volume.clone();
    resources::upgrade_resource(&mut volume);
    let disk = volume.disk.as_ref()?;
    let id = &disk.persistence.as_ref()?.id;
    let role = Resources::reservation_role(&volume).unwrap_or("*");
    match disk.source.as_ref() {
        Some(source) if source.r#type() == SourceType::Mount => source
            .mount
            .as_ref()
            .and_then(|m| m.root.clone())
            .map(PathBuf::from),
        Some(source) if source.r#type() == SourceType::Path => {
            let root = source.path.as_ref().and_then(|p| p.root.clone())?;
            Some(paths::persistent_volume_path(Path::new(&root), role, id))
        }
        _ => Some(paths::persistent_volume_path(work_dir, role, id)),
    }
}

/// Writes `resources` to `meta/resources/resources.info` atomically, in
/// the pre-1.4 format (upstream `downgradeResources` before writing).
pub fn checkpoint(work_dir: &Path, checkpointed: &[Resource]) -> Result<()> {
    let path = paths::resources_info_path(work_dir);
    let mut data = Vec::new();
    for resource in checkpointed {
        let mut resource = resource.clone();
        // Refined reservations have no pre-1.4 form: they stay as they are.
        if resources::convert_resource_format(
            &mut resource,
            ResourceFormat::PreReservationRefinement,
        )
        .is_err()
        {
            resource = resource.clone();
            resources::convert_resource_format(&mut resource, ResourceFormat::Endpoint).map_err(
                |e| CheckpointError::Format {
                    resource: resource.to_string(),
                    reason: e.to_string(),
                },
            )?;
        }
        let bytes = resource.encode_to_vec();
        let length = u32::try_from(bytes.len()).map_err(|e| CheckpointError::Io {
            what: "write",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        data.extend_from_slice(&length.to_ne_bytes());
        data.extend_from_slice(&bytes);
    }
    libprocess::os::write_atomic(&path, &data).map_err(|source| CheckpointError::Io {
        what: "checkpoint resources to",
        path,
        source,
    })
}

/// Reads the checkpointed resources, upgraded to the post-1.4 format; none
/// when the agent never checkpointed any. A truncated trailing record (a
/// crash mid-write of a non-atomic writer) is ignored, as stout does.
pub fn recover(work_dir: &Path) -> Result<Vec<Resource>> {
    let path = paths::resources_info_path(work_dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(source) => {
            return Err(CheckpointError::Io {
                what: "read",
                path,
                source,
            })
        }
    };
    let mut recovered = Vec::new();
    let mut rest = bytes.as_slice();
    while rest.len() >= 4 {
        let mut length = [0u8; 4];
        length.copy_from_slice(&rest[..4]);
        let length = u32::from_ne_bytes(length) as usize;
        let Some(record) = rest.get(4..4 + length) else {
            tracing::warn!(path = %path.display(), "Ignoring a truncated record at the end of the checkpointed resources");
            break;
        };
        let mut resource = Resource::decode(record).map_err(|e| CheckpointError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        resources::upgrade_resource(&mut resource);
        recovered.push(resource);
        rest = &rest[4 + length..];
    }
    Ok(recovered)
}

/// Brings the volume directories in line with a new set of checkpointed
/// resources (upstream `syncCheckpointedResources`): a directory is made
/// for each new persistent volume and removed, with its data, for each
/// volume no longer there.
pub fn sync_volumes(work_dir: &Path, old: &[Resource], new: &[Resource]) -> Result<()> {
    let old = Resources::from(old.to_vec()).persistent_volumes();
    let new = Resources::from(new.to_vec()).persistent_volumes();
    for volume in new.iter() {
        if old.contains_resource(volume) {
            continue;
        }
        let Some(path) = volume_path(work_dir, volume) else {
            continue;
        };
        std::fs::create_dir_all(&path).map_err(|source| CheckpointError::Io {
            what: "create persistent volume",
            path: path.clone(),
            source,
        })?;
        tracing::info!(path = %path.display(), "Created persistent volume");
    }
    for volume in old.iter() {
        if new.contains_resource(volume) {
            continue;
        }
        let Some(path) = volume_path(work_dir, volume) else {
            continue;
        };
        let mount = volume
            .disk
            .as_ref()
            .and_then(|d| d.source.as_ref())
            .is_some_and(|s| s.r#type() == SourceType::Mount);
        let result = if mount {
            // A MOUNT disk is kept; only what the volume held goes.
            std::fs::read_dir(&path).and_then(|entries| {
                for entry in entries {
                    let entry = entry?;
                    if entry.file_type()?.is_dir() {
                        std::fs::remove_dir_all(entry.path())?;
                    } else {
                        std::fs::remove_file(entry.path())?;
                    }
                }
                Ok(())
            })
        } else {
            std::fs::remove_dir_all(&path)
        };
        match result {
            Ok(()) => tracing::info!(path = %path.display(), "Removed persistent volume"),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(CheckpointError::Io {
                    what: "remove persistent volume",
                    path,
                    source,
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::resource::{disk_info, reservation_info, DiskInfo, ReservationInfo};

    fn volume(id: &str, role: &str) -> Resource {
        let mut disk = Resources::parse("disk:16", "*")
            .expect("valid")
            .push_reservation(&ReservationInfo {
                r#type: Some(reservation_info::Type::Dynamic as i32),
                role: Some(role.into()),
                principal: Some("ops".into()),
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
                container_path: "data".into(),
                mode: mesos_proto::mesos::volume::Mode::Rw as i32,
                ..Default::default()
            }),
            source: None,
        });
        disk
    }

    #[test]
    fn checkpoint_round_trips_in_the_old_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let resources = vec![volume("v1", "web")];
        checkpoint(dir.path(), &resources).expect("written");
        // On disk: the pre-1.4 role/reservation form.
        let bytes = std::fs::read(paths::resources_info_path(dir.path())).expect("read");
        let record = Resource::decode(&bytes[4..]).expect("one record");
        assert_eq!(record.role.as_deref(), Some("web"));
        assert!(record.reservations.is_empty());
        assert_eq!(recover(dir.path()).expect("recovered"), resources);
    }

    #[test]
    fn nothing_checkpointed_recovers_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(recover(dir.path()).expect("recovered").is_empty());
    }

    #[test]
    fn volume_directories_follow_the_checkpoint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let v1 = volume("v1", "web/a");
        let path = volume_path(dir.path(), &v1).expect("a volume");
        assert_eq!(path, dir.path().join("volumes/roles/web a/v1"));
        sync_volumes(dir.path(), &[], std::slice::from_ref(&v1)).expect("created");
        std::fs::write(path.join("data"), "kept").expect("write");
        // Unchanged: data stays.
        sync_volumes(
            dir.path(),
            std::slice::from_ref(&v1),
            std::slice::from_ref(&v1),
        )
        .expect("synced");
        assert!(path.join("data").exists());
        sync_volumes(dir.path(), &[v1], &[]).expect("removed");
        assert!(!path.exists());
    }
}
