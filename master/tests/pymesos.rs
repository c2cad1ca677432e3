//! pymesos 0.3.15, a v1 HTTP scheduler nobody here wrote, against the real
//! `mesos-master` binary: it subscribes over `/api/v1/scheduler` (JSON,
//! RecordIO, `Mesos-Stream-Id`), receives SUBSCRIBED and tears the
//! framework down.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The venv's python, or `None` (printing SKIPPED) outside CI; under
/// `CI=true` a missing venv fails the test.
fn python() -> Option<PathBuf> {
    let python = repo().join(".venv/bin/python");
    if python.exists() {
        return Some(python);
    }
    let why = format!(
        "{} is missing; run scripts/setup-python.sh",
        python.display()
    );
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{why}");
    }
    println!("SKIPPED: {why}");
    None
}

struct Master(Child);

impl Drop for Master {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_master() -> (Master, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_mesos-master"))
        .args([
            "--registry=in_memory",
            "--ip=127.0.0.1",
            &format!("--port={port}"),
            "--quiet",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the master did not start listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (Master(child), port)
}

#[test]
fn pymesos_subscribes_and_tears_down() {
    let Some(python) = python() else {
        return;
    };
    let (_master, port) = start_master();
    let output = Command::new(python)
        .arg(repo().join("tests/interop/pymesos_subscribe.py"))
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pymesos failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("REGISTERED "))
        .expect("registered");
    let fields: Vec<&str> = line.split(' ').collect();
    assert!(fields[1].ends_with("-0000"), "framework id: {line}");
    assert_eq!(
        fields[2], "1.11.0",
        "master version from SUBSCRIBED.master_info"
    );
}
