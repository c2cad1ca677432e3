//! The work_dir layout, as upstream's `src/slave/paths.hpp` lays it out:
//!
//! ```text
//! <work_dir>/
//!   slaves/<slave_id>/frameworks/<framework_id>/executors/<executor_id>/
//!       runs/<container_id>/            the sandbox (stdout, stderr, files)
//!   meta/
//!     slaves/<slave_id>/slave.info
//!     slaves/<slave_id>/frameworks/<framework_id>/framework.info
//!     slaves/<slave_id>/frameworks/<framework_id>/executors/<executor_id>/
//!         runs/<container_id>/tasks/<task_id>/task.updates
//! ```

use std::path::{Path, PathBuf};

/// Name of a task's status update log.
pub const TASK_UPDATES_FILE: &str = "task.updates";
/// Name of the agent info checkpoint.
pub const SLAVE_INFO_FILE: &str = "slave.info";
/// Name of a framework info checkpoint.
pub const FRAMEWORK_INFO_FILE: &str = "framework.info";

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

/// Returns the meta directory of agent `slave_id`.
pub fn slave_meta_dir(work_dir: &Path, slave_id: &str) -> PathBuf {
    work_dir.join("meta").join("slaves").join(slave_id)
}

/// Returns the meta directory of a framework.
pub fn framework_meta_dir(work_dir: &Path, slave_id: &str, framework_id: &str) -> PathBuf {
    slave_meta_dir(work_dir, slave_id)
        .join("frameworks")
        .join(framework_id)
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
    framework_meta_dir(work_dir, slave_id, framework_id)
        .join("executors")
        .join(executor_id)
        .join("runs")
        .join(container_id)
        .join("tasks")
        .join(task_id)
        .join(TASK_UPDATES_FILE)
}
