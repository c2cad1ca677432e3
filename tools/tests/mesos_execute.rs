//! `mesos-execute` refuses what it does not support yet with a clear
//! message: the real binary.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::process::Command;

#[test]
fn zookeeper_master_is_refused_with_a_clear_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
        .args([
            "--master=zk://127.0.0.1:2181/mesos",
            "--name=refused",
            "--command=true",
        ])
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--master=zk://... is not supported yet"),
        "{stderr}"
    );
    assert!(!stderr.contains("invalid port"), "{stderr}");
}
