//! The work_dir layout, as upstream's `src/slave/paths.hpp` lays it out:
//!
//! ```text
//! <work_dir>/
//!   slaves/<slave_id>/frameworks/<framework_id>/executors/<executor_id>/
//!       runs/<container_id>/            the sandbox (stdout, stderr, files)
//!   meta/
//!     boot_id                                   text: the boot id at start
//!     slaves/latest -> <slave_id>
//!     slaves/<slave_id>/slave.info
//!     slaves/<slave_id>/frameworks/<framework_id>/framework.info
//!     slaves/<slave_id>/frameworks/<framework_id>/framework.pid
//!     slaves/<slave_id>/frameworks/<framework_id>/executors/<executor_id>/
//!         executor.info
//!         executor_generated_for_command_task   text: "0" or "1"
//!         runs/latest -> <container_id>
//!         runs/<container_id>/pids/forked.pid    text: OS pid
//!         runs/<container_id>/pids/libprocess.pid  text: executor UPID
//!         runs/<container_id>/http.marker       empty: a v1 HTTP executor
//!         runs/<container_id>/tasks/<task_id>/task.info     Task
//!         runs/<container_id>/tasks/<task_id>/task.updates
//!     resources/resources.info                  checkpointed resources
//!   volumes/roles/<role>/<persistence_id>/      persistent volumes ('/' in a
//!                                               role becomes ' ')
//! ```

use std::path::{Path, PathBuf};

/// Name of the checkpointed resources file (one `Resource` per record).
pub const RESOURCES_INFO_FILE: &str = "resources.info";

/// Returns `meta/resources/resources.info`.
pub fn resources_info_path(work_dir: &Path) -> PathBuf {
    meta_dir(work_dir)
        .join("resources")
        .join(RESOURCES_INFO_FILE)
}

/// Returns where a persistent volume of `role` lives under `root` (the
/// work_dir for the agent's root disk): `volumes/roles/<role>/<id>`, a
/// hierarchical role's `/` written as a space, as upstream's
/// `getPersistentVolumePath` does.
pub fn persistent_volume_path(root: &Path, role: &str, persistence_id: &str) -> PathBuf {
    root.join("volumes")
        .join("roles")
        .join(role.replace('/', " "))
        .join(persistence_id)
}

/// Name of a task's status update log.
pub const TASK_UPDATES_FILE: &str = "task.updates";
/// Name of the agent info checkpoint.
pub const SLAVE_INFO_FILE: &str = "slave.info";
/// Name of a framework info checkpoint.
pub const FRAMEWORK_INFO_FILE: &str = "framework.info";
/// Name of a framework's scheduler UPID checkpoint.
pub const FRAMEWORK_PID_FILE: &str = "framework.pid";
/// Name of an executor info checkpoint.
pub const EXECUTOR_INFO_FILE: &str = "executor.info";
/// Name of the marker saying the agent generated the executor.
pub const EXECUTOR_GENERATED_FOR_COMMAND_TASK_FILE: &str = "executor_generated_for_command_task";
/// Name of the symlink to the newest agent id or executor run.
pub const LATEST_SYMLINK: &str = "latest";
/// Name of the boot id checkpoint.
pub const BOOT_ID_FILE: &str = "boot_id";
/// Name of an executor run's OS pid checkpoint.
pub const FORKED_PID_FILE: &str = "forked.pid";
/// Name of an executor run's UPID checkpoint.
pub const LIBPROCESS_PID_FILE: &str = "libprocess.pid";
/// Name of the (empty) marker of a v1 HTTP executor run.
pub const HTTP_MARKER_FILE: &str = "http.marker";
/// Name of a task checkpoint (a `Task`, not a `TaskInfo`).
pub const TASK_INFO_FILE: &str = "task.info";

/// Returns an executor run's sandbox.
pub fn executor_run_dir(
    work_dir: &Path,
    slave_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
) -> PathBuf {
    work_dir
        .join("slaves")
        .join(slave_id)
        .join("frameworks")
        .join(framework_id)
        .join("executors")
        .join(executor_id)
        .join("runs")
        .join(container_id)
}

/// Returns the meta directory.
pub fn meta_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("meta")
}

/// Returns the boot id checkpoint.
pub fn boot_id_path(work_dir: &Path) -> PathBuf {
    meta_dir(work_dir).join(BOOT_ID_FILE)
}

/// Returns the `meta/slaves/latest` symlink.
pub fn latest_slave_path(work_dir: &Path) -> PathBuf {
    meta_dir(work_dir).join("slaves").join(LATEST_SYMLINK)
}

/// Returns the meta directory of agent `slave_id`.
pub fn slave_meta_dir(work_dir: &Path, slave_id: &str) -> PathBuf {
    meta_dir(work_dir).join("slaves").join(slave_id)
}

/// Returns the meta directory of a framework.
pub fn framework_meta_dir(work_dir: &Path, slave_id: &str, framework_id: &str) -> PathBuf {
    slave_meta_dir(work_dir, slave_id)
        .join("frameworks")
        .join(framework_id)
}

/// Returns the meta directory of an executor.
pub fn executor_meta_dir(
    work_dir: &Path,
    slave_id: &str,
    framework_id: &str,
    executor_id: &str,
) -> PathBuf {
    framework_meta_dir(work_dir, slave_id, framework_id)
        .join("executors")
        .join(executor_id)
}

/// Returns the `runs/latest` symlink of an executor.
pub fn executor_latest_run_path(
    work_dir: &Path,
    slave_id: &str,
    framework_id: &str,
    executor_id: &str,
) -> PathBuf {
    executor_meta_dir(work_dir, slave_id, framework_id, executor_id)
        .join("runs")
        .join(LATEST_SYMLINK)
}

/// Returns the meta directory of an executor run.
pub fn run_meta_dir(
    work_dir: &Path,
    slave_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
) -> PathBuf {
    executor_meta_dir(work_dir, slave_id, framework_id, executor_id)
        .join("runs")
        .join(container_id)
}

/// Returns an executor run's OS pid checkpoint.
pub fn forked_pid_path(run_meta_dir: &Path) -> PathBuf {
    run_meta_dir.join("pids").join(FORKED_PID_FILE)
}

/// Returns an executor run's UPID checkpoint.
pub fn libprocess_pid_path(run_meta_dir: &Path) -> PathBuf {
    run_meta_dir.join("pids").join(LIBPROCESS_PID_FILE)
}

/// Returns an executor run's HTTP marker (upstream `getExecutorHttpMarkerPath`).
pub fn http_marker_path(run_meta_dir: &Path) -> PathBuf {
    run_meta_dir.join(HTTP_MARKER_FILE)
}

/// Returns the meta directory of a task.
pub fn task_meta_dir(
    work_dir: &Path,
    slave_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
    task_id: &str,
) -> PathBuf {
    run_meta_dir(work_dir, slave_id, framework_id, executor_id, container_id)
        .join("tasks")
        .join(task_id)
}

/// Returns a task's status update log.
pub fn task_updates_path(
    work_dir: &Path,
    slave_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
    task_id: &str,
) -> PathBuf {
    task_meta_dir(
        work_dir,
        slave_id,
        framework_id,
        executor_id,
        container_id,
        task_id,
    )
    .join(TASK_UPDATES_FILE)
}
