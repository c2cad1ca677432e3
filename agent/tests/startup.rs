//! `mesos-agent` refuses at start-up what it does not support yet, with a
//! clear error and exit code 1 (upstream's `EXIT(EXIT_FAILURE)` for bad
//! flags), instead of running without it: the real binary with each flag.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::process::Command;

/// Runs `mesos-agent` with `args` (and a work_dir of its own), and returns
/// its exit code and stderr.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let work_dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mesos-agent"))
        .arg(format!("--work_dir={}", work_dir.path().display()))
        .args(args)
        // The flags come from the command line only.
        .env_clear()
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_refused(args: &[&str], expected: &str) {
    let (code, stderr) = run(args);
    assert_eq!(code, Some(1), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
}

#[test]
fn zookeeper_master_is_refused() {
    assert_refused(
        &["--master=zk://127.0.0.1:2181/mesos"],
        "--master=zk://... is not supported yet",
    );
}

#[test]
fn docker_containerizer_is_refused() {
    assert_refused(
        &["--master=127.0.0.1:5050", "--containerizers=docker"],
        "--containerizers: 'docker' is not supported yet",
    );
    assert_refused(
        &["--master=127.0.0.1:5050", "--containerizers=mesos,docker"],
        "'docker' is not supported yet",
    );
}

#[test]
fn windows_launcher_is_refused() {
    assert_refused(
        &["--master=127.0.0.1:5050", "--launcher=windows"],
        "Unknown or unsupported launcher: windows",
    );
}

#[test]
fn an_unbuilt_isolator_is_refused_by_name() {
    assert_refused(
        &[
            "--master=127.0.0.1:5050",
            "--isolation=posix/cpu,network/cni",
        ],
        "--isolation: isolator 'network/cni' is not supported yet",
    );
}
