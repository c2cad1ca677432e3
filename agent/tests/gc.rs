//! Sandbox garbage collection (upstream `gc_tests.cpp`
//! `GarbageCollectorIntegrationTest.DiskUsage`-like): a terminated
//! executor's sandbox is removed once the disk check finds it older than
//! the allowed age, and detached from `/files`.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::time::Duration;

use mesos_agent::gc::GcOptions;
use mesos_proto::mesos::{CommandInfo, FrameworkInfo, TaskId, TaskInfo};
use mesos_proto::resources::Resources;

use support::*;

#[actix_rt::test]
async fn a_finished_executors_sandbox_is_garbage_collected() {
    if !bin_dir().join("mesos-executor").exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "build the executor"
        );
        return;
    }
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let mut config = agent_config(&agent_runtime, master.upid(), work_dir.path(), bin_dir());
    // Collect at once: no delay, checks every 100 ms.
    config.gc = GcOptions {
        gc_delay: Duration::ZERO,
        disk_watch_interval: Duration::from_millis(100),
        gc_disk_headroom: 0.1,
    };
    let _agent = mesos_agent::spawn(&agent_runtime, config).unwrap();

    let info = FrameworkInfo {
        user: "root".into(),
        name: "gc-test".into(),
        ..Default::default()
    };
    let mut framework =
        TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-gc", info).await;
    framework.launch(vec![TaskInfo {
        name: "short".into(),
        task_id: TaskId {
            value: "short-1".into(),
        },
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some("echo bye".into()),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    framework.updates_until_terminal().await;
    // The run directory goes once the executor has terminated.
    let runs = |dir: &std::path::Path| -> usize {
        walk(dir)
            .iter()
            .filter(|p| p.parent().is_some_and(|parent| parent.ends_with("runs")))
            .filter(|p| !p.ends_with("latest"))
            .count()
    };
    let mut left = usize::MAX;
    for _ in 0..100 {
        left = runs(&work_dir.path().join("slaves"));
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "the sandbox was collected");
    let debug = reqwest_free_get(agent_runtime.address(), "/files/debug").await;
    assert!(!debug.contains("runs/"), "detached from /files: {debug}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        found.push(path.clone());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(walk(&path));
        }
    }
    found
}

/// A plain HTTP GET, the body as text.
async fn reqwest_free_get(addr: std::net::SocketAddrV4, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(text)
}
