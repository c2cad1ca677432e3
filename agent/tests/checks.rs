//! Checks and health checks of command tasks through our master and
//! agent with the real `mesos-executor` (upstream `HealthCheckTest` and
//! `CommandExecutorCheckTest` in `src/tests/health_check_tests.cpp` and
//! `check_tests.cpp`): a passing COMMAND health check makes the task
//! healthy (and `/master/state` and the agent's `/state` say so), a
//! failing HTTP health check kills it after `consecutive_failures`, a TCP
//! health check and an HTTP check reach a server the task starts, and a
//! COMMAND check's exit code shows in `check_status`.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::net::SocketAddrV4;

use libprocess::Runtime;
use mesos_agent::containerizer::ContainerizerOptions;
use mesos_proto::mesos::framework_info::{capability, Capability};
use mesos_proto::mesos::internal::StatusUpdateMessage;
use mesos_proto::mesos::task_status::Reason;
use mesos_proto::mesos::{
    check_info, health_check, CheckInfo, CommandInfo, FrameworkInfo, HealthCheck, TaskId, TaskInfo,
    TaskState, TaskStatus,
};
use mesos_proto::resources::Resources;

use support::sandbox::{get, require_executor};
use support::*;

/// A master, an agent and a subscribed framework.
struct Cluster {
    master_runtime: Runtime,
    agent_runtime: Runtime,
    framework: TestFramework,
    master: libprocess::PID<mesos_master::master::Master>,
    agent: libprocess::PID<mesos_agent::slave::Slave>,
    _work_dir: tempfile::TempDir,
}

async fn cluster(name: &str, http_command_executor: bool) -> Cluster {
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let mut config = agent_config(&agent_runtime, master.upid(), work_dir.path(), bin_dir());
    config.containerizer = ContainerizerOptions {
        http_command_executor,
        ..test_containerizer(work_dir.path())
    };
    let agent = mesos_agent::spawn(&agent_runtime, config).unwrap();
    let info = FrameworkInfo {
        user: "root".into(),
        name: name.into(),
        capabilities: vec![Capability {
            r#type: Some(capability::Type::TaskKillingState as i32),
        }],
        ..Default::default()
    };
    let framework = TestFramework::subscribe(
        &master_runtime,
        master.upid(),
        &format!("scheduler-{name}"),
        info,
    )
    .await;
    Cluster {
        master_runtime,
        agent_runtime,
        framework,
        master,
        agent,
        _work_dir: work_dir,
    }
}

fn task(id: &str, command: &str) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: TaskId { value: id.into() },
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn command(value: &str) -> CommandInfo {
    CommandInfo {
        value: Some(value.into()),
        ..Default::default()
    }
}

/// A loopback port nothing listens on.
fn free_port() -> u32 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    u32::from(listener.local_addr().unwrap().port())
}

/// Updates until one matches `done` (that one last).
async fn updates_until(
    framework: &mut TestFramework,
    mut done: impl FnMut(&TaskStatus) -> bool,
) -> Vec<TaskStatus> {
    let mut statuses = Vec::new();
    loop {
        let status = framework.next_status().await;
        let stop = done(&status) || status.state().is_terminal();
        statuses.push(status);
        if stop {
            return statuses;
        }
    }
}

fn states(statuses: &[TaskStatus]) -> Vec<TaskState> {
    statuses.iter().map(|s| s.state()).collect()
}

async fn state_json(address: SocketAddrV4, path: &str) -> serde_json::Value {
    get(address, path).await.json()
}

/// The `statuses` of task `id` in a state document: in `frameworks[].tasks`
/// (master) or `frameworks[].executors[].tasks` (agent).
fn task_statuses(state: &serde_json::Value, id: &str) -> Vec<serde_json::Value> {
    let array = |value: &serde_json::Value| value.as_array().cloned().unwrap_or_default();
    let frameworks = array(&state["frameworks"]);
    let executors = frameworks.iter().flat_map(|f| array(&f["executors"]));
    frameworks
        .iter()
        .flat_map(|f| array(&f["tasks"]))
        .chain(executors.flat_map(|e| array(&e["tasks"])))
        .find(|t| t["id"] == id)
        .and_then(|t| t["statuses"].as_array().cloned())
        .unwrap_or_default()
}

#[actix_rt::test]
async fn a_passing_command_health_check_makes_the_task_healthy() {
    if !require_executor() {
        return;
    }
    let mut cluster = cluster("health-command", false).await;
    let mut task = task("healthy", "sleep 1000");
    task.health_check = Some(HealthCheck {
        r#type: Some(health_check::Type::Command as i32),
        command: Some(command("true")),
        delay_seconds: Some(0.0),
        interval_seconds: Some(1.0),
        grace_period_seconds: Some(0.0),
        ..Default::default()
    });
    cluster.framework.launch(vec![task]);
    let statuses = updates_until(&mut cluster.framework, |s| s.healthy.is_some()).await;
    assert_eq!(
        states(&statuses),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskRunning
        ],
        "{statuses:?}"
    );
    let healthy = statuses.last().unwrap();
    assert_eq!(healthy.healthy, Some(true));
    assert_eq!(healthy.reason(), Reason::TaskHealthCheckStatusUpdated);
    assert!(statuses[..2].iter().all(|s| s.healthy.is_none()));

    // Both state endpoints show the health (upstream's `json(TaskStatus)`
    // writes `healthy`).
    let path = format!("/{}/state", cluster.master.upid().id);
    let master = state_json(cluster.master_runtime.address(), &path).await;
    let statuses = task_statuses(&master, "healthy");
    assert_eq!(statuses.last().unwrap()["healthy"], true, "{statuses:?}");
    let path = format!("/{}/state", cluster.agent.upid().id);
    let agent = state_json(cluster.agent_runtime.address(), &path).await;
    let statuses = task_statuses(&agent, "healthy");
    assert_eq!(statuses.last().unwrap()["healthy"], true, "{statuses:?}");

    // Reconciliation answers with the latest health (upstream's
    // `getTaskHealth`).
    cluster.framework.reconcile();
    let event = recv(
        &mut cluster.framework.rx,
        "mesos.internal.StatusUpdateMessage",
    )
    .await;
    let reconciled = decode::<StatusUpdateMessage>(&event).update.status;
    assert_eq!(
        reconciled.reason(),
        Reason::Reconciliation,
        "{reconciled:?}"
    );
    assert_eq!(reconciled.state(), TaskState::TaskRunning);
    assert_eq!(reconciled.healthy, Some(true), "{reconciled:?}");

    cluster.framework.kill(TaskId {
        value: "healthy".into(),
    });
    let statuses = cluster.framework.updates_until_terminal().await;
    let last = statuses.last().unwrap();
    assert_eq!(last.state(), TaskState::TaskKilled, "{statuses:?}");
    // Killed by the scheduler, not by the health check.
    assert_eq!(last.healthy, None);
}

/// On the v1 HTTP command executor: nothing listens on the checked port,
/// so after `consecutive_failures` failures the executor kills the task.
#[actix_rt::test]
async fn a_failing_http_health_check_kills_the_task() {
    if !require_executor() {
        return;
    }
    let mut cluster = cluster("health-http", true).await;
    let mut task = task("unhealthy", "sleep 1000");
    task.health_check = Some(HealthCheck {
        r#type: Some(health_check::Type::Http as i32),
        http: Some(health_check::HttpCheckInfo {
            port: free_port(),
            path: Some("/health".into()),
            ..Default::default()
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.5),
        timeout_seconds: Some(5.0),
        grace_period_seconds: Some(0.0),
        consecutive_failures: Some(2),
        ..Default::default()
    });
    cluster.framework.launch(vec![task]);
    let statuses = cluster.framework.updates_until_terminal().await;
    assert_eq!(
        states(&statuses),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskRunning,
            TaskState::TaskRunning,
            TaskState::TaskKilling,
            TaskState::TaskKilled,
        ],
        "{statuses:?}"
    );
    for unhealthy in &statuses[2..4] {
        assert_eq!(unhealthy.healthy, Some(false));
        assert_eq!(unhealthy.reason(), Reason::TaskHealthCheckStatusUpdated);
    }
    let killed = statuses.last().unwrap();
    assert_eq!(killed.healthy, Some(false));
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
}

/// The task starts an HTTP server: a TCP health check connects to it and
/// an HTTP check gets its status code.
#[actix_rt::test]
async fn tcp_health_checks_and_http_checks_reach_the_tasks_server() {
    if !require_executor() {
        return;
    }
    let has_python = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_python {
        let why = "python3 is not installed";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        println!("SKIPPED: {why}");
        return;
    }
    let mut cluster = cluster("health-tcp", false).await;
    let port = free_port();
    let mut task = task(
        "server",
        &format!("exec python3 -m http.server {port} --bind 127.0.0.1"),
    );
    task.health_check = Some(HealthCheck {
        r#type: Some(health_check::Type::Tcp as i32),
        tcp: Some(health_check::TcpCheckInfo {
            port,
            ..Default::default()
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.5),
        // Failures while python starts are ignored.
        grace_period_seconds: Some(60.0),
        ..Default::default()
    });
    task.check = Some(CheckInfo {
        r#type: Some(check_info::Type::Http as i32),
        http: Some(check_info::Http {
            port,
            path: Some("/".into()),
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.5),
        ..Default::default()
    });
    cluster.framework.launch(vec![task]);
    let mut healthy = false;
    let mut status_code = None;
    let statuses = updates_until(&mut cluster.framework, |s| {
        healthy |= s.healthy == Some(true);
        if let Some(code) = s
            .check_status
            .as_ref()
            .and_then(|c| c.http.as_ref())
            .and_then(|h| h.status_code)
        {
            status_code = Some(code);
        }
        healthy && status_code.is_some()
    })
    .await;
    assert!(healthy, "{statuses:?}");
    assert_eq!(status_code, Some(200), "{statuses:?}");
    assert!(statuses
        .iter()
        .all(|s| s.state() == TaskState::TaskStarting || s.state() == TaskState::TaskRunning));
    // Every update of a checked task carries a check status of its type.
    assert!(statuses.iter().all(|s| s
        .check_status
        .as_ref()
        .is_some_and(|c| { c.r#type() == check_info::Type::Http && c.http.is_some() })));
    cluster.framework.kill(TaskId {
        value: "server".into(),
    });
    let statuses = cluster.framework.updates_until_terminal().await;
    assert_eq!(statuses.last().unwrap().state(), TaskState::TaskKilled);
}

#[actix_rt::test]
async fn a_command_checks_exit_code_shows_in_the_check_status() {
    if !require_executor() {
        return;
    }
    let mut cluster = cluster("check-command", false).await;
    let mut task = task("checked", "sleep 1000");
    task.check = Some(CheckInfo {
        r#type: Some(check_info::Type::Command as i32),
        command: Some(check_info::Command {
            command: command("exit 3"),
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.5),
        ..Default::default()
    });
    cluster.framework.launch(vec![task]);
    let statuses = updates_until(&mut cluster.framework, |s| {
        s.reason() == Reason::TaskCheckStatusUpdated
    })
    .await;
    assert_eq!(
        states(&statuses),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskRunning
        ],
        "{statuses:?}"
    );
    // Before the first result: the empty status of the check's type.
    for early in &statuses[..2] {
        let check_status = early.check_status.unwrap();
        assert_eq!(check_status.r#type(), check_info::Type::Command);
        assert_eq!(check_status.command.unwrap().exit_code, None);
    }
    let checked = statuses.last().unwrap().check_status.unwrap();
    assert_eq!(checked.command.unwrap().exit_code, Some(3));
    cluster.framework.kill(TaskId {
        value: "checked".into(),
    });
    let statuses = cluster.framework.updates_until_terminal().await;
    let last = statuses.last().unwrap();
    assert_eq!(last.state(), TaskState::TaskKilled, "{statuses:?}");
    // The terminal update carries the empty check status again.
    assert_eq!(
        last.check_status.as_ref().map(|c| c.r#type()),
        Some(check_info::Type::Command)
    );
}
