//! The agent's use of the `files` process ([`mesos_files`]): executor
//! sandboxes attached where upstream attaches them.

use std::path::Path;

pub use mesos_files::*;

use crate::paths;

/// Attaches an executor run's sandbox where upstream does (in
/// `Framework::addExecutor` and `recoverExecutor`): at the real run
/// directory, at the real `runs/latest` path and at the virtual
/// `/frameworks/<fid>/executors/<eid>/runs/latest`. Runs in the
/// background; a failure is logged, as upstream's `fileAttached`.
pub fn attach_executor(
    files: &Files,
    work_dir: &Path,
    slave_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
) {
    let directory =
        paths::executor_run_dir(work_dir, slave_id, framework_id, executor_id, container_id);
    let names = executor_virtual_paths(work_dir, slave_id, framework_id, executor_id)
        .into_iter()
        .chain([directory.display().to_string()]);
    for name in names {
        let files = files.clone();
        let directory = directory.clone();
        actix::spawn(async move {
            match files.attach(directory.clone(), &name).await {
                Ok(()) => tracing::debug!(virtual_path = %name, "Attached sandbox"),
                Err(error) => tracing::warn!(
                    %error,
                    path = %directory.display(),
                    virtual_path = %name,
                    "Failed to attach sandbox"
                ),
            }
        });
    }
}

/// Detaches what [`attach_executor`] attached for the run, as
/// upstream does once the sandbox is garbage collected: the run's own
/// path, and the two `latest` paths.
pub fn detach_executor(
    files: &Files,
    work_dir: &Path,
    slave_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
) {
    let directory =
        paths::executor_run_dir(work_dir, slave_id, framework_id, executor_id, container_id);
    files.detach(&directory.display().to_string());
    for name in executor_virtual_paths(work_dir, slave_id, framework_id, executor_id) {
        files.detach(&name);
    }
}

/// The two `latest` names of an executor's sandbox: the real
/// `<work_dir>/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/latest`
/// and the virtual one (upstream `paths::getExecutorVirtualPath`).
fn executor_virtual_paths(
    work_dir: &Path,
    slave_id: &str,
    framework_id: &str,
    executor_id: &str,
) -> [String; 2] {
    let latest = paths::executor_run_dir(
        work_dir,
        slave_id,
        framework_id,
        executor_id,
        paths::LATEST_SYMLINK,
    );
    [
        latest.display().to_string(),
        format!(
            "/frameworks/{framework_id}/executors/{executor_id}/runs/{}",
            paths::LATEST_SYMLINK
        ),
    ]
}
