//! Checkpointed agent state and its recovery (upstream `src/slave/state.cpp`).
//!
//! Writing: protobufs are single length-prefixed records, strings raw text,
//! symlinks made under a temporary name and renamed; all atomic. Reading:
//! [`recover`] walks `meta/` from the `slaves/latest` symlink and returns
//! the agent, its checkpointing frameworks, their executors' latest runs
//! and those runs' tasks with their replayed status update logs.

use std::path::Path;

use mesos_proto::mesos::{ExecutorInfo, FrameworkInfo, SlaveInfo, Task};
use prost::Message;

use crate::paths;
use crate::status_update_manager::{self, Replay};

/// Writes a single-record protobuf checkpoint (4-byte host-order length,
/// then the record) atomically (stout's `protobuf::write`).
pub fn checkpoint_record(path: &Path, message: &impl Message) -> std::io::Result<()> {
    libprocess::os::write_atomic(path, &record(message)?)
}

/// [`checkpoint_record`] without syncing, for the containerizer's runtime
/// directory (state of this boot only: see `libprocess::os::write_replace`).
pub fn runtime_record(path: &Path, message: &impl Message) -> std::io::Result<()> {
    libprocess::os::write_replace(path, &record(message)?)
}

/// `message` as a single-record checkpoint's bytes.
fn record(message: &impl Message) -> std::io::Result<Vec<u8>> {
    let bytes = message.encode_to_vec();
    let length = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
    let mut data = length.to_ne_bytes().to_vec();
    data.extend_from_slice(&bytes);
    Ok(data)
}

/// Writes a string checkpoint (raw, no newline) atomically.
pub fn checkpoint_text(path: &Path, text: &str) -> std::io::Result<()> {
    libprocess::os::write_atomic(path, text.as_bytes())
}

/// Points the symlink `link` at `target` atomically (a new link under a
/// temporary name renamed over the old one).
pub fn checkpoint_symlink(link: &Path, target: &str) -> std::io::Result<()> {
    let dir = link.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".latest.{}", uuid::Uuid::new_v4().simple()));
    std::os::unix::fs::symlink(target, &temp)?;
    if let Err(error) = std::fs::rename(&temp, link) {
        let _ = std::fs::remove_file(&temp);
        return Err(error);
    }
    Ok(())
}

/// Returns a mapper that puts `path` in front of an I/O error, keeping its
/// kind (callers still match `NotFound`).
fn at(path: &Path) -> impl FnOnce(std::io::Error) -> std::io::Error + '_ {
    move |error| std::io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// Reads a single-record protobuf checkpoint.
pub fn read_record<M: Message + Default>(path: &Path) -> std::io::Result<M> {
    let bytes = std::fs::read(path).map_err(at(path))?;
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let header = bytes
        .get(..4)
        .ok_or_else(|| invalid(format!("{}: truncated", path.display())))?;
    let mut length = [0u8; 4];
    length.copy_from_slice(header);
    let length = u32::from_ne_bytes(length) as usize;
    let body = bytes
        .get(4..4 + length)
        .ok_or_else(|| invalid(format!("{}: truncated", path.display())))?;
    M::decode(body).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

/// Returns this boot's id (`/proc/sys/kernel/random/boot_id`, trimmed).
pub fn boot_id() -> std::io::Result<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string())
}

/// A recovered agent.
#[derive(Debug, Clone)]
pub struct SlaveState {
    /// The agent id (`slaves/latest`).
    pub id: String,
    /// Its checkpointed info.
    pub info: SlaveInfo,
    /// Its checkpointing frameworks.
    pub frameworks: Vec<FrameworkState>,
    /// Checkpoints skipped because they could not be read (`--strict=false`).
    pub errors: u32,
}

/// A recovered framework.
#[derive(Debug, Clone)]
pub struct FrameworkState {
    /// The framework id.
    pub id: String,
    /// `framework.info`.
    pub info: FrameworkInfo,
    /// `framework.pid` (empty for HTTP frameworks).
    pub pid: String,
    /// Its executors.
    pub executors: Vec<ExecutorState>,
}

/// A recovered executor and its latest run.
#[derive(Debug, Clone)]
pub struct ExecutorState {
    /// The executor id.
    pub id: String,
    /// `executor.info`.
    pub info: ExecutorInfo,
    /// `executor_generated_for_command_task`.
    pub generated_for_command_task: bool,
    /// The latest run (`runs/latest`), if any.
    pub run: Option<RunState>,
}

/// A recovered executor run.
#[derive(Debug, Clone)]
pub struct RunState {
    /// The container id.
    pub container_id: String,
    /// `pids/forked.pid`.
    pub forked_pid: Option<u32>,
    /// `pids/libprocess.pid`.
    pub libprocess_pid: Option<String>,
    /// Its tasks.
    pub tasks: Vec<TaskState>,
}

/// A recovered task.
#[derive(Debug, Clone)]
pub struct TaskState {
    /// The task id.
    pub id: String,
    /// `task.info`, if written.
    pub info: Option<Task>,
    /// The replayed `task.updates`.
    pub updates: Replay,
}

fn entries(dir: &Path) -> std::io::Result<Vec<String>> {
    match std::fs::read_dir(dir) {
        Ok(read) => {
            let mut names = Vec::new();
            for entry in read {
                let entry = entry.map_err(at(dir))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.file_type().map_err(at(&entry.path()))?.is_dir() && !name.starts_with('.')
                {
                    names.push(name);
                }
            }
            names.sort();
            Ok(names)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
        Err(error) => Err(at(dir)(error)),
    }
}

fn read_optional_text(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_string())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(at(path)(error)),
    }
}

/// Recovers the checkpointed state under `work_dir` (upstream
/// `state::recover`): `None` if there is no `slaves/latest`, or if the
/// host rebooted since it was written (then `latest` is removed and the
/// agent starts afresh, as upstream does). With `strict`, any checkpoint
/// that cannot be read fails recovery; without, an unreadable framework,
/// executor or task is skipped with a warning and counted in
/// [`SlaveState::errors`] (the agent's own `slave.info` stays fatal).
pub fn recover(work_dir: &Path, strict: bool) -> std::io::Result<Option<SlaveState>> {
    let errors = std::cell::Cell::new(0u32);
    // An error of one part: fatal when strict, else logged and counted.
    let tolerate = |what: &str, error: std::io::Error| -> std::io::Result<()> {
        if strict {
            return Err(error);
        }
        tracing::warn!(%error, "Skipping {what} that cannot be recovered");
        errors.set(errors.get() + 1);
        Ok(())
    };
    let latest = paths::latest_slave_path(work_dir);
    let id = match std::fs::read_link(&latest) {
        Ok(target) => target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(at(&latest)(error)),
    };
    let previous_boot = read_optional_text(&paths::boot_id_path(work_dir))?;
    if let (Some(previous), Ok(current)) = (previous_boot, boot_id()) {
        if previous != current {
            tracing::info!(slave_id = %id, "Agent host rebooted; starting as a new agent");
            std::fs::remove_file(&latest).map_err(at(&latest))?;
            return Ok(None);
        }
    }
    let meta = paths::slave_meta_dir(work_dir, &id);
    let info: SlaveInfo = read_record(&meta.join(paths::SLAVE_INFO_FILE))?;
    let mut frameworks = Vec::new();
    for framework_id in entries(&meta.join("frameworks"))? {
        let dir = paths::framework_meta_dir(work_dir, &id, &framework_id);
        let info_path = dir.join(paths::FRAMEWORK_INFO_FILE);
        if !info_path.exists() {
            tracing::warn!(%framework_id, "Skipping a framework without framework.info");
            continue;
        }
        let info: FrameworkInfo = match read_record(&info_path) {
            Ok(info) => info,
            Err(error) => {
                tolerate(&format!("framework {framework_id}"), error)?;
                continue;
            }
        };
        let pid = read_optional_text(&dir.join(paths::FRAMEWORK_PID_FILE))?.unwrap_or_default();
        let mut executors = Vec::new();
        for executor_id in entries(&dir.join("executors"))? {
            // An agent killed after making the executor's directory but
            // before writing its info (upstream skips it the same way).
            let info_path = paths::executor_meta_dir(work_dir, &id, &framework_id, &executor_id)
                .join(paths::EXECUTOR_INFO_FILE);
            if !info_path.exists() {
                tracing::warn!(%framework_id, %executor_id, "Skipping an executor without executor.info");
                continue;
            }
            match recover_executor(work_dir, &id, &framework_id, &executor_id, strict) {
                Ok((executor, skipped)) => {
                    errors.set(errors.get() + skipped);
                    executors.push(executor);
                }
                Err(error) => tolerate(&format!("executor {executor_id}"), error)?,
            }
        }
        frameworks.push(FrameworkState {
            id: framework_id,
            info,
            pid,
            executors,
        });
    }
    Ok(Some(SlaveState {
        id,
        info,
        frameworks,
        errors: errors.get(),
    }))
}

/// An executor and the number of its tasks skipped (not `strict`).
fn recover_executor(
    work_dir: &Path,
    slave_id: &str,
    framework_id: &str,
    executor_id: &str,
    strict: bool,
) -> std::io::Result<(ExecutorState, u32)> {
    let mut skipped = 0;
    let dir = paths::executor_meta_dir(work_dir, slave_id, framework_id, executor_id);
    let info: ExecutorInfo = read_record(&dir.join(paths::EXECUTOR_INFO_FILE))?;
    let generated_for_command_task =
        read_optional_text(&dir.join(paths::EXECUTOR_GENERATED_FOR_COMMAND_TASK_FILE))?
            .is_some_and(|t| t == "1");
    let latest = paths::executor_latest_run_path(work_dir, slave_id, framework_id, executor_id);
    let run = match std::fs::read_link(&latest) {
        Ok(target) => {
            let container_id = target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let run_dir =
                paths::run_meta_dir(work_dir, slave_id, framework_id, executor_id, &container_id);
            let forked_pid =
                read_optional_text(&paths::forked_pid_path(&run_dir))?.and_then(|t| t.parse().ok());
            let libprocess_pid = read_optional_text(&paths::libprocess_pid_path(&run_dir))?
                .filter(|t| !t.is_empty());
            let mut tasks = Vec::new();
            for task_id in entries(&run_dir.join("tasks"))? {
                let task_dir = run_dir.join("tasks").join(&task_id);
                let info_path = task_dir.join(paths::TASK_INFO_FILE);
                let read = || -> std::io::Result<(Option<Task>, Replay)> {
                    let info = if info_path.exists() {
                        Some(read_record::<Task>(&info_path)?)
                    } else {
                        None
                    };
                    let updates_path = task_dir.join(paths::TASK_UPDATES_FILE);
                    let updates = if updates_path.exists() {
                        status_update_manager::replay(&updates_path).map_err(at(&updates_path))?
                    } else {
                        Replay::default()
                    };
                    Ok((info, updates))
                };
                let (info, updates) = match read() {
                    Ok(read) => read,
                    Err(error) if !strict => {
                        tracing::warn!(%error, %task_id, "Skipping a task that cannot be recovered");
                        skipped += 1;
                        continue;
                    }
                    Err(error) => return Err(error),
                };
                tasks.push(TaskState {
                    id: task_id,
                    info,
                    updates,
                });
            }
            Some(RunState {
                container_id,
                forked_pid,
                libprocess_pid,
                tasks,
            })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(at(&latest)(error)),
    };
    Ok((
        ExecutorState {
            id: executor_id.to_string(),
            info,
            generated_for_command_task,
            run,
        },
        skipped,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// An agent checkpoint with one good framework and one whose
    /// `framework.info` is garbage.
    fn work_dir_with_a_corrupt_framework() -> tempfile::TempDir {
        let work_dir = tempfile::tempdir().unwrap();
        let id = "S1";
        let meta = paths::slave_meta_dir(work_dir.path(), id);
        std::fs::create_dir_all(&meta).unwrap();
        checkpoint_record(&meta.join(paths::SLAVE_INFO_FILE), &SlaveInfo::default()).unwrap();
        checkpoint_symlink(&paths::latest_slave_path(work_dir.path()), id).unwrap();
        let good = paths::framework_meta_dir(work_dir.path(), id, "F-good");
        std::fs::create_dir_all(&good).unwrap();
        checkpoint_record(
            &good.join(paths::FRAMEWORK_INFO_FILE),
            &FrameworkInfo::default(),
        )
        .unwrap();
        let bad = paths::framework_meta_dir(work_dir.path(), id, "F-bad");
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(
            bad.join(paths::FRAMEWORK_INFO_FILE),
            b"\xff\xff\xff\x7fjunk",
        )
        .unwrap();
        work_dir
    }

    #[test]
    fn an_executor_without_its_info_is_skipped_even_when_strict() {
        let work_dir = work_dir_with_a_corrupt_framework();
        let executor = paths::executor_meta_dir(work_dir.path(), "S1", "F-good", "E1");
        // Only a task checkpoint: the agent died before writing executor.info.
        let task = executor.join("runs").join("C1").join("tasks").join("T1");
        std::fs::create_dir_all(&task).unwrap();
        std::fs::remove_file(
            paths::framework_meta_dir(work_dir.path(), "S1", "F-bad")
                .join(paths::FRAMEWORK_INFO_FILE),
        )
        .unwrap();
        let state = recover(work_dir.path(), true).unwrap().unwrap();
        assert_eq!(state.frameworks.len(), 1);
        assert!(state.frameworks[0].executors.is_empty());
        assert_eq!(state.errors, 0);
    }

    #[test]
    fn strict_recovery_fails_on_a_corrupt_checkpoint() {
        let work_dir = work_dir_with_a_corrupt_framework();
        assert!(recover(work_dir.path(), true).is_err());
    }

    #[test]
    fn lenient_recovery_skips_and_counts_what_it_cannot_read() {
        let work_dir = work_dir_with_a_corrupt_framework();
        let state = recover(work_dir.path(), false).unwrap().unwrap();
        let ids: Vec<&str> = state.frameworks.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, vec!["F-good"]);
        assert_eq!(state.errors, 1);
    }
}
