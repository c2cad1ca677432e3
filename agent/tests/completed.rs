//! Upstream's bounded "completed" lists on the agent: a task once its
//! terminal update is acknowledged, its executor once it has exited, the
//! framework once nothing of it is left, as `/state` shows them. (Its own
//! test binary: each agent in a process is `slave(N)`.)

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::time::Duration;

use mesos_proto::mesos::{CommandInfo, FrameworkInfo, TaskId, TaskInfo, TaskState};
use mesos_proto::resources::Resources;
use serde_json::Value;

use support::sandbox::{get, request};
use support::*;

#[actix_rt::test]
async fn finished_tasks_executors_and_frameworks_move_to_the_completed_lists() {
    if !bin_dir().join("mesos-executor").exists() {
        let why = "mesos-executor is not built (cargo build --workspace --bins)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        println!("SKIPPED: {why}");
        return;
    }
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let _agent = start_agent(&agent_runtime, master.upid(), work_dir.path());
    let addr = agent_runtime.address();
    let info = FrameworkInfo {
        user: "tester".into(),
        name: "completed-test".into(),
        ..Default::default()
    };
    let mut framework =
        TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-completed", info).await;
    framework.launch(vec![TaskInfo {
        name: "done".into(),
        task_id: TaskId {
            value: "done-1".into(),
        },
        resources: Resources::parse("cpus:0.1;mem:32", "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    let statuses = framework.updates_until_terminal().await;
    assert_eq!(
        statuses.last().map(|s| s.state()),
        Some(TaskState::TaskFinished)
    );
    // Once the executor has exited and the update is acknowledged, the
    // framework has nothing left on the agent.
    let mut state = Value::Null;
    for _ in 0..100 {
        state = get(addr, "/state").await.json();
        if state["frameworks"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state["frameworks"], serde_json::json!([]), "{state}");
    let completed = &state["completed_frameworks"][0];
    assert_eq!(completed["name"], "completed-test", "{state}");
    assert_eq!(completed["executors"], serde_json::json!([]));
    let executor = &completed["completed_executors"][0];
    assert_eq!(executor["id"], "done-1", "{state}");
    assert_eq!(executor["tasks"], serde_json::json!([]));
    assert_eq!(executor["completed_tasks"][0]["id"], "done-1");
    assert_eq!(executor["completed_tasks"][0]["state"], "TASK_FINISHED");

    // The v1 operator API shows the same lists.
    let call = |kind: &str| {
        let body = serde_json::json!({ "type": kind }).to_string();
        async move {
            request(
                addr,
                "POST",
                "/api/v1",
                &[
                    ("Content-Type", "application/json"),
                    ("Accept", "application/json"),
                ],
                body.as_bytes(),
            )
            .await
            .json()
        }
    };
    let frameworks = call("GET_FRAMEWORKS").await;
    let frameworks = &frameworks["get_frameworks"];
    assert!(
        frameworks["frameworks"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{frameworks}"
    );
    assert_eq!(
        frameworks["completed_frameworks"][0]["framework_info"]["name"],
        "completed-test"
    );
    let executors = call("GET_EXECUTORS").await;
    assert_eq!(
        executors["get_executors"]["completed_executors"][0]["executor_info"]["executor_id"]
            ["value"],
        "done-1"
    );
    let tasks = call("GET_TASKS").await;
    assert_eq!(
        tasks["get_tasks"]["completed_tasks"][0]["task_id"]["value"],
        "done-1"
    );
}
