//! The containerizer's runtime directory (upstream
//! `src/slave/containerizer/mesos/paths.hpp`): what the containerizer
//! checkpoints for its own recovery, apart from the agent's `meta/`.
//!
//! ```text
//! <--runtime_dir>/containers/<id>/
//!     pid                        the init process (text)
//!     config                     the ContainerConfig it was launched with
//!     launch_info                the ContainerLaunchInfo the helper got
//!     force_destroy_on_recovery  marks a DEBUG container: destroyed at recovery
//!     termination                a nested container that ended
//!     io_switchboard/{pid,socket}
//!     containers/<child>/...     nested containers, laid out the same
//! ```
//!
//! Protobufs are single length-prefixed records as the agent's own
//! checkpoints ([`crate::state`]), written atomically but not synced: this
//! is state of one boot (upstream's default `/var/run/mesos` is a tmpfs),
//! needed across an agent restart, where the page cache keeps it, and
//! meaningless after a reboot, which ends every container. Syncing it cost
//! a disk flush per file per container launch. A top-level container's
//! directory goes when it is destroyed; a nested one's stays (with its
//! `termination`, for `WAIT_NESTED_CONTAINER`) until it is removed or its
//! parent goes.

use std::path::{Path, PathBuf};

use mesos_proto::mesos::slave::{ContainerConfig, ContainerLaunchInfo, ContainerTermination};

use crate::state::{read_record, runtime_record};

/// The init process's pid.
pub const PID_FILE: &str = "pid";
/// The launch's `ContainerConfig`.
pub const CONFIG_FILE: &str = "config";
/// The helper's `ContainerLaunchInfo`.
pub const LAUNCH_INFO_FILE: &str = "launch_info";
/// Present for DEBUG containers, which do not survive an agent restart.
pub const FORCE_DESTROY_ON_RECOVERY_FILE: &str = "force_destroy_on_recovery";
/// A nested container's `ContainerTermination`.
pub const TERMINATION_FILE: &str = "termination";
/// The directory of the containers under one.
pub const CONTAINER_DIRECTORY: &str = "containers";

/// `<runtime_dir>/containers/<id>[/containers/<child>...]`.
pub fn runtime_path(runtime_dir: &Path, container_id: &str) -> PathBuf {
    container_id
        .split('.')
        .fold(runtime_dir.to_path_buf(), |dir, part| {
            dir.join(CONTAINER_DIRECTORY).join(part)
        })
}

/// Every container with a runtime directory, parents before their
/// children (upstream `getContainerIds`).
pub fn container_ids(runtime_dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: Option<&str>, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir.join(CONTAINER_DIRECTORY)) else {
            return;
        };
        let mut names: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        names.sort();
        for (name, path) in names {
            let id = match prefix {
                Some(prefix) => format!("{prefix}.{name}"),
                None => name,
            };
            out.push(id.clone());
            walk(&path, Some(&id), out);
        }
    }
    let mut out = Vec::new();
    walk(runtime_dir, None, &mut out);
    out
}

/// What a container left in its runtime directory.
#[derive(Debug, Default)]
pub struct Checkpointed {
    /// Its init process, if it got that far.
    pub pid: Option<u32>,
    /// Its launch config.
    pub config: Option<ContainerConfig>,
    /// Its launch info.
    pub launch_info: Option<ContainerLaunchInfo>,
    /// A DEBUG container: destroyed at recovery.
    pub force_destroy_on_recovery: bool,
    /// How it ended, if it did.
    pub termination: Option<ContainerTermination>,
}

/// Reads a container's runtime directory; unreadable pieces count as
/// missing, as a crash can leave them half-made (the writes are atomic,
/// so only a missing file is expected).
pub fn read(runtime_dir: &Path, container_id: &str) -> Checkpointed {
    let dir = runtime_path(runtime_dir, container_id);
    let record = |name: &str| dir.join(name);
    Checkpointed {
        pid: std::fs::read_to_string(dir.join(PID_FILE))
            .ok()
            .and_then(|p| p.trim().parse().ok()),
        config: read_record(&record(CONFIG_FILE)).ok(),
        launch_info: read_record(&record(LAUNCH_INFO_FILE)).ok(),
        force_destroy_on_recovery: dir.join(FORCE_DESTROY_ON_RECOVERY_FILE).exists(),
        termination: read_record(&record(TERMINATION_FILE)).ok(),
    }
}

/// Creates the runtime directory of a container being launched and
/// checkpoints its config (and the DEBUG mark).
pub fn checkpoint_launch(
    runtime_dir: &Path,
    container_id: &str,
    config: &ContainerConfig,
    debug: bool,
) -> std::io::Result<()> {
    let dir = runtime_path(runtime_dir, container_id);
    std::fs::create_dir_all(&dir)?;
    if debug {
        libprocess::os::write_replace(&dir.join(FORCE_DESTROY_ON_RECOVERY_FILE), b"")?;
    }
    runtime_record(&dir.join(CONFIG_FILE), config)
}

/// Checkpoints the launch info the helper runs with.
pub fn checkpoint_launch_info(
    runtime_dir: &Path,
    container_id: &str,
    info: &ContainerLaunchInfo,
) -> std::io::Result<()> {
    let dir = runtime_path(runtime_dir, container_id);
    std::fs::create_dir_all(&dir)?;
    runtime_record(&dir.join(LAUNCH_INFO_FILE), info)
}

/// Checkpoints the init process's pid.
pub fn checkpoint_pid(runtime_dir: &Path, container_id: &str, pid: u32) -> std::io::Result<()> {
    let dir = runtime_path(runtime_dir, container_id);
    std::fs::create_dir_all(&dir)?;
    libprocess::os::write_replace(&dir.join(PID_FILE), pid.to_string().as_bytes())
}

/// Checkpoints how a nested container ended.
pub fn checkpoint_termination(
    runtime_dir: &Path,
    container_id: &str,
    termination: &ContainerTermination,
) -> std::io::Result<()> {
    let dir = runtime_path(runtime_dir, container_id);
    std::fs::create_dir_all(&dir)?;
    runtime_record(&dir.join(TERMINATION_FILE), termination)
}

/// Removes a container's runtime directory (and its nested ones').
pub fn remove(runtime_dir: &Path, container_id: &str) {
    let dir = runtime_path(runtime_dir, container_id);
    if let Err(error) = std::fs::remove_dir_all(&dir) {
        if error.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(container_id, %error, path = %dir.display(), "Failed to remove the runtime directory");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_runtime_directories_are_found_parents_first() {
        let dir = tempfile::tempdir().unwrap();
        let config = ContainerConfig {
            directory: "/sandbox".into(),
            ..Default::default()
        };
        checkpoint_launch(dir.path(), "a.b.c", &config, true).unwrap();
        checkpoint_launch(dir.path(), "a", &config, false).unwrap();
        checkpoint_pid(dir.path(), "a.b.c", 42).unwrap();
        assert_eq!(container_ids(dir.path()), ["a", "a.b", "a.b.c"]);
        assert_eq!(
            runtime_path(dir.path(), "a.b"),
            dir.path().join("containers/a/containers/b")
        );
        let c = read(dir.path(), "a.b.c");
        assert_eq!(c.pid, Some(42));
        assert!(c.force_destroy_on_recovery);
        assert_eq!(c.config.unwrap().directory, "/sandbox");
        assert!(c.termination.is_none());
        let a = read(dir.path(), "a");
        assert!(!a.force_destroy_on_recovery && a.pid.is_none());
        checkpoint_termination(
            dir.path(),
            "a.b.c",
            &ContainerTermination {
                status: Some(9),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            read(dir.path(), "a.b.c").termination.unwrap().status,
            Some(9)
        );
        remove(dir.path(), "a");
        assert!(container_ids(dir.path()).is_empty());
    }
}
