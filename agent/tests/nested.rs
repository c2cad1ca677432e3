//! Nested containers through the agent API (upstream `api_tests.cpp`
//! `AgentAPITest.NestedContainerLaunch*`, `NestedContainerKill*`): a
//! container nested in a running command task's, launched, waited for,
//! signalled, killed and removed over real HTTP.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::sandbox::{get, launch, request, require_executor, Reply};

const JSON: &str = "application/json";

async fn call(addr: std::net::SocketAddrV4, call: Value) -> Reply {
    let body = call.to_string();
    request(
        addr,
        "POST",
        "/api/v1",
        &[("Content-Type", JSON), ("Accept", JSON)],
        body.as_bytes(),
    )
    .await
}

fn nested(parent: &str, id: &str) -> Value {
    json!({"value": id, "parent": {"value": parent}})
}

#[actix_rt::test]
async fn nested_containers_launch_wait_kill_and_remove() {
    if !require_executor() {
        return;
    }
    let cluster = launch("nested-parent").await;
    let addr = cluster.addr;
    let containers = get(addr, "/containers").await.json();
    let parent = containers[0]["container_id"].as_str().unwrap().to_string();
    let sandbox = std::path::PathBuf::from(
        get(addr, "/files/debug").await.json()[&cluster.sandbox()]
            .as_str()
            .unwrap(),
    );

    // A nested container that finishes: its exit status comes back.
    let reply = call(
        addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER",
            "launch_nested_container": {
                "container_id": nested(&parent, "child-1"),
                "command": {"value": "echo nested $MESOS_SANDBOX; exit 3"}
            }
        }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = call(
        addr,
        json!({
            "type": "WAIT_NESTED_CONTAINER",
            "wait_nested_container": {"container_id": nested(&parent, "child-1")}
        }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let wait = reply.json();
    assert_eq!(wait["type"], "WAIT_NESTED_CONTAINER");
    assert_eq!(wait["wait_nested_container"]["exit_status"], 3 << 8);
    let child_sandbox = sandbox.join("containers").join("child-1");
    let stdout = std::fs::read_to_string(child_sandbox.join("stdout")).unwrap();
    assert_eq!(stdout, format!("nested {}\n", child_sandbox.display()));
    // Waiting again still answers, until the container is removed.
    let again = call(
        addr,
        json!({
            "type": "WAIT_NESTED_CONTAINER",
            "wait_nested_container": {"container_id": nested(&parent, "child-1")}
        }),
    )
    .await;
    assert_eq!(again.json()["wait_nested_container"]["exit_status"], 3 << 8);
    let removed = call(
        addr,
        json!({
            "type": "REMOVE_NESTED_CONTAINER",
            "remove_nested_container": {"container_id": nested(&parent, "child-1")}
        }),
    )
    .await;
    assert_eq!(removed.status, 200, "{}", removed.text());
    assert!(!child_sandbox.exists(), "the sandbox is removed");
    let gone = call(
        addr,
        json!({
            "type": "WAIT_NESTED_CONTAINER",
            "wait_nested_container": {"container_id": nested(&parent, "child-1")}
        }),
    )
    .await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.text(),
        format!("Container {parent}.child-1 cannot be found")
    );

    // A long-running one: SIGTERM reaches it, the wait reports the signal.
    let reply = call(
        addr,
        json!({
            "type": "LAUNCH_CONTAINER",
            "launch_container": {
                "container_id": nested(&parent, "child-2"),
                "command": {"value": "exec sleep 1004"}
            }
        }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let killed = call(
        addr,
        json!({
            "type": "KILL_NESTED_CONTAINER",
            "kill_nested_container": {"container_id": nested(&parent, "child-2"), "signal": 15}
        }),
    )
    .await;
    assert_eq!(killed.status, 200, "{}", killed.text());
    let wait = call(
        addr,
        json!({
            "type": "WAIT_CONTAINER",
            "wait_container": {"container_id": nested(&parent, "child-2")}
        }),
    )
    .await
    .json();
    assert_eq!(wait["type"], "WAIT_CONTAINER");
    assert_eq!(wait["wait_container"]["exit_status"], 15, "{wait}");

    // Unknown containers and parents.
    let unknown = call(
        addr,
        json!({
            "type": "KILL_NESTED_CONTAINER",
            "kill_nested_container": {"container_id": nested(&parent, "nope")}
        }),
    )
    .await;
    assert_eq!(unknown.status, 404);
    let orphan = call(
        addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER",
            "launch_nested_container": {
                "container_id": nested("no-such-parent", "child"),
                "command": {"value": "true"}
            }
        }),
    )
    .await;
    assert_eq!(orphan.status, 400, "{}", orphan.text());
    let top = call(
        addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER",
            "launch_nested_container": {"container_id": {"value": "top"}, "command": {"value": "true"}}
        }),
    )
    .await;
    assert_eq!(top.status, 400);
    assert!(
        top.text()
            .contains("Expecting 'launch_nested_container.container_id.parent'"),
        "{}",
        top.text()
    );
    let standalone = call(
        addr,
        json!({
            "type": "LAUNCH_CONTAINER",
            "launch_container": {"container_id": {"value": "top"}, "command": {"value": "true"}}
        }),
    )
    .await;
    assert_eq!(standalone.status, 501, "{}", standalone.text());

    // Killing the parent's executor takes its nested containers along.
    let reply = call(
        addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER",
            "launch_nested_container": {
                "container_id": nested(&parent, "child-3"),
                "command": {"value": "exec sleep 1005"}
            }
        }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let count = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("cmdline")).ok())
            .filter(|c| c == "sleep\x001005\x00")
            .count()
    };
    for _ in 0..100 {
        if count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count(), 1);
    // The executor dies: its container is destroyed, nested ones first.
    let pid = containers[0]["status"]["executor_pid"].as_i64().unwrap();
    // SAFETY: kills the test's own executor process.
    unsafe {
        libc::kill(i32::try_from(pid).unwrap(), libc::SIGKILL);
    }
    for _ in 0..250 {
        if count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count(), 0, "the nested container died with its parent");
    drop(cluster);
}
