//! The agent's `/slave(1)/state`, `/flags`, `/health` and `slave/*`
//! metrics over real HTTP, with our master and command tasks run by the
//! real `mesos-executor`, checked against docs/agent-endpoints-json.md.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::net::SocketAddrV4;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use libprocess::{ProcessBase, Runtime, PID, UPID};
use mesos_agent::flags::Flags;
use mesos_agent::slave::Slave;
use mesos_proto::mesos::internal::{
    FrameworkRegisteredMessage, ResourceOffersMessage, StatusUpdateMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{
    offer, CommandInfo, Filters, FrameworkId, FrameworkInfo, TaskId, TaskInfo, TaskState,
};
use mesos_proto::resources::Resources;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use support::*;

// ---------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------

/// Starts the agent as `mesos-agent` does, from parsed flags.
fn start_agent(runtime: &Runtime, master: &UPID, work_dir: &Path) -> PID<Slave> {
    let args = [
        "mesos-agent".to_string(),
        format!("--master={}", master.address()),
        format!("--work_dir={}", work_dir.display()),
        format!("--runtime_dir={}", work_dir.join("runtime").display()),
        format!("--port={}", runtime.address().port()),
        "--hostname=localhost".into(),
        "--resources=cpus:2;mem:1024;disk:1024;ports:[31000-32000]".into(),
        // The framework's user ("tester") does not exist here.
        "--switch_user=false".into(),
        "--attributes=rack:r1;level:2".into(),
        "--registration_backoff_factor=10ms".into(),
        "--executor_shutdown_grace_period=1secs".into(),
        format!(
            "--cgroups_root={}",
            test_containerizer(work_dir).cgroups_root
        ),
    ];
    let flags = Flags::parse_from_args(args).unwrap();
    let config = mesos_agent::slave::Config {
        master: flags.master_pid().unwrap(),
        info: mesos_agent::slave::slave_info(&flags, runtime.address()).unwrap(),
        work_dir: flags.work_dir.clone(),
        launcher_dir: bin_dir(),
        registration_backoff_factor: flags.registration_backoff_factor,
        authentication: None,
        executor_registration_timeout: flags.executor_registration_timeout,
        executor_shutdown_grace_period: flags.executor_shutdown_grace_period,
        recovery_timeout: flags.recovery_timeout,
        executor_reregistration_timeout: flags
            .executor_reregistration_timeout
            .min(Duration::from_secs(15)),
        executor_reregistration_retry_interval: flags.executor_reregistration_retry_interval,
        recover_cleanup: flags.recover == "cleanup",
        containerizer: flags.containerizer_options(),
        gc: flags.gc_options(),
        flags: Some(Arc::new(flags)),
    };
    mesos_agent::spawn(runtime, config).unwrap()
}

fn command_task(id: &str, command: &str, slave_id: &mesos_proto::mesos::SlaveId) -> TaskInfo {
    TaskInfo {
        name: format!("task {id}"),
        task_id: TaskId { value: id.into() },
        slave_id: slave_id.clone(),
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

/// A response as the client sees it.
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        assert_eq!(self.status, 200, "{}\r\n\r\n{}", self.head, self.body);
        assert!(
            self.head.contains("Content-Type: application/json\r\n"),
            "{}",
            self.head
        );
        serde_json::from_str(&self.body).unwrap()
    }
}

async fn request(addr: SocketAddrV4, method: &str, path: &str) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    Reply {
        status: head[9..12].parse().unwrap(),
        head: format!("{head}\r\n"),
        body: body.to_string(),
    }
}

async fn get(addr: SocketAddrV4, path: &str) -> Reply {
    request(addr, "GET", path).await
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// Whether the number was written as a C++ double (`1.0`), not an integer.
fn is_double(value: &Value) -> bool {
    value.as_number().is_some_and(|n| n.is_f64())
}

fn approx(value: &Value, expected: f64) {
    let got = value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"));
    assert!((got - expected).abs() < 1e-9, "{got} != {expected}");
}

async fn metrics(addr: SocketAddrV4) -> Value {
    get(addr, "/metrics/snapshot").await.json()
}

/// Waits until the metrics satisfy `ready` (updates reach the agent
/// after the scheduler sees them, and the gauges are recounted behind
/// each change).
async fn metrics_until(addr: SocketAddrV4, ready: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..150 {
        let snapshot = metrics(addr).await;
        if ready(&snapshot) {
            return snapshot;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("metrics never got there: {}", metrics(addr).await);
}

const STATE_KEYS: &[&str] = &[
    "version",
    "build_date",
    "build_time",
    "build_user",
    "start_time",
    "id",
    "pid",
    "hostname",
    "capabilities",
    "resources",
    "reserved_resources",
    "unreserved_resources",
    "reserved_resources_full",
    "unreserved_resources_full",
    "reserved_resources_allocated",
    "unreserved_resources_allocated",
    "resource_providers",
    "attributes",
    "master_hostname",
    "flags",
    "frameworks",
    "completed_frameworks",
];

const FRAMEWORK_KEYS: &[&str] = &[
    "id",
    "name",
    "user",
    "failover_timeout",
    "checkpoint",
    "hostname",
    "role",
    "executors",
    "completed_executors",
];

const EXECUTOR_KEYS: &[&str] = &[
    "id",
    "name",
    "source",
    "container",
    "directory",
    "resources",
    "role",
    "tasks",
    "queued_tasks",
    "completed_tasks",
];

const TASK_KEYS: &[&str] = &[
    "id",
    "name",
    "framework_id",
    "executor_id",
    "slave_id",
    "state",
    "resources",
    "role",
    "statuses",
];

/// Upstream 1.11's `slave/*` and `containerizer/*` metric names, as the
/// master's test finds its own: the string literals of
/// `src/slave/metrics.cpp` and the containerizers compiled into libmesos
/// 1.11.0 (`strings _scheduler.so | grep -E '^(slave|containerizer)/'`,
/// see scripts/setup-python.sh), the resource gauges it builds from
/// `{cpus, gpus, mem, disk}`, less `slave/recovery_time_secs` (only once
/// recovered) and [`NOT_REGISTERED`].
fn upstream_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "containerizer/fetcher/cache_size_total_bytes",
        "containerizer/fetcher/cache_size_used_bytes",
        "containerizer/fetcher/task_fetches_failed",
        "containerizer/fetcher/task_fetches_succeeded",
        "containerizer/mesos/container_destroy_errors",
        "slave/container_launch_errors",
        "slave/executor_directory_max_allowed_age_secs",
        "slave/executors_preempted",
        "slave/executors_registering",
        "slave/executors_running",
        "slave/executors_terminated",
        "slave/executors_terminating",
        "slave/frameworks_active",
        "slave/invalid_framework_messages",
        "slave/invalid_status_updates",
        "slave/recovery_errors",
        "slave/registered",
        "slave/tasks_failed",
        "slave/tasks_finished",
        "slave/tasks_gone",
        "slave/tasks_killed",
        "slave/tasks_killing",
        "slave/tasks_lost",
        "slave/tasks_running",
        "slave/tasks_staging",
        "slave/tasks_starting",
        "slave/uptime_secs",
        "slave/valid_framework_messages",
        "slave/valid_status_updates",
    ]
    .map(String::from)
    .into();
    for resource in ["cpus", "gpus", "mem", "disk"] {
        for suffix in [
            "total",
            "used",
            "percent",
            "revocable_total",
            "revocable_used",
            "revocable_percent",
        ] {
            names.push(format!("slave/{resource}_{suffix}"));
        }
    }
    names.sort();
    names
}

/// Upstream metrics this agent does not register: the Docker
/// containerizer's (not built, see docs/compatibility.md), and the
/// `filesystem/linux` isolator's and the provisioner's, registered only
/// when they run (`--isolation=filesystem/linux`, `--image_providers`;
/// checked in `provisioner.rs`).
const NOT_REGISTERED: &[&str] = &[
    "containerizer/docker/image_pull",
    "containerizer/mesos/filesystem/containers_new_rootfs",
    "containerizer/mesos/provisioner/bind/remove_rootfs_errors",
    "containerizer/mesos/provisioner/docker_store/image_pull",
    "containerizer/mesos/provisioner/remove_container_errors",
];

/// The snapshot's `slave/*` and `containerizer/*` names, sorted.
fn agent_names(snapshot: &Value) -> Vec<String> {
    let mut names: Vec<String> = snapshot
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("slave/") || k.starts_with("containerizer/"))
        .cloned()
        .collect();
    names.sort();
    names
}

fn states(task: &Value) -> Vec<&str> {
    task["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

#[actix_rt::test]
async fn agent_endpoints_and_metrics_follow_upstream() {
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&agent_runtime, master.upid(), work_dir.path());
    let addr = agent_runtime.address();

    let mut registered = false;
    for _ in 0..500 {
        if agent.call(|a, _| a.registered).await.unwrap() {
            registered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(registered, "the agent registered with the master");
    let slave_id = agent
        .call(|a, _| a.slave_id().unwrap().to_string())
        .await
        .unwrap();

    // --- /state of an idle agent -------------------------------------------
    let reply = get(addr, "/state").await;
    let state = reply.json();
    let top: Vec<&str> = keys(&state)
        .into_iter()
        .filter(|k| !k.starts_with("git_"))
        .collect();
    assert_eq!(top, STATE_KEYS);
    assert_eq!(state["version"], "1.11.0");
    assert!(is_double(&state["build_time"]), "{}", reply.body);
    assert!(is_double(&state["start_time"]), "{}", reply.body);
    assert!(state["start_time"].as_f64().unwrap() <= libprocess::clock::now_secs());
    assert_eq!(state["id"], slave_id.as_str());
    assert_eq!(state["pid"], agent.upid().to_string());
    assert_eq!(state["hostname"], "localhost");
    assert!(state["master_hostname"].is_string());
    assert!(
        reply.body.contains(
            r#""resources":{"disk":1024.0,"mem":1024.0,"gpus":0.0,"cpus":2.0,"ports":"[31000-32000]"},"reserved_resources":{},"unreserved_resources":{"disk":1024.0,"mem":1024.0,"gpus":0.0,"cpus":2.0,"ports":"[31000-32000]"},"reserved_resources_full":{},"unreserved_resources_full":[{"name":"cpus","type":"SCALAR","scalar":{"value":2.0},"role":"*"},"#
        ),
        "{}",
        reply.body
    );
    assert!(
        reply.body.contains(
            r#""reserved_resources_allocated":{},"unreserved_resources_allocated":{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0},"resource_providers":[],"attributes":{"rack":"r1","level":2.0},"master_hostname":"#
        ),
        "{}",
        reply.body
    );
    assert_eq!(state["frameworks"], Value::Array(vec![]));
    assert_eq!(state["completed_frameworks"], Value::Array(vec![]));

    // The capabilities are those the master recorded for the agent.
    let slaves = get(master_runtime.address(), "/master/slaves").await.json();
    assert_eq!(state["capabilities"], slaves["slaves"][0]["capabilities"]);

    // The same document on the process's own path; `jsonp` wraps it.
    let own = get(addr, "/slave(1)/state").await.json();
    assert_eq!(keys(&own), keys(&state));
    // `/state.json` (removed upstream in 1.8) is an alias, on both paths.
    for path in ["/slave(1)/state.json", "/state.json"] {
        let alias = get(addr, path).await;
        assert_eq!(alias.status, 200, "{path}");
        assert_eq!(keys(&alias.json()), keys(&state), "{path}");
    }
    let wrapped = get(addr, "/state.json?jsonp=cb").await;
    assert!(
        wrapped.body.starts_with("cb({\"version\":"),
        "{}",
        wrapped.body
    );
    let wrapped = get(addr, "/slave(1)/state?jsonp=show").await;
    assert_eq!(wrapped.status, 200);
    assert!(wrapped.head.contains("Content-Type: text/javascript\r\n"));
    assert!(
        wrapped.body.starts_with("show({\"version\":") && wrapped.body.ends_with("});"),
        "{}",
        wrapped.body
    );

    // --- /flags --------------------------------------------------------------
    let flags = get(addr, "/slave(1)/flags").await.json();
    assert_eq!(keys(&flags), ["flags"]);
    let names = keys(&flags["flags"]);
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert_eq!(flags["flags"]["help"], "false");
    assert_eq!(flags["flags"]["version"], "false");
    assert_eq!(flags["flags"]["hostname"], "localhost");
    assert_eq!(
        flags["flags"]["work_dir"],
        work_dir.path().display().to_string()
    );
    assert_eq!(flags["flags"], state["flags"]);
    let wrapped = get(addr, "/flags?jsonp=f").await;
    assert!(
        wrapped.body.starts_with("f({\"flags\":{"),
        "{}",
        wrapped.body
    );

    // --- /health -------------------------------------------------------------
    for method in ["GET", "POST"] {
        let health = request(addr, method, "/slave(1)/health").await;
        assert_eq!(health.status, 200, "{method}");
        assert!(
            health.head.contains("Content-Length: 0\r\n"),
            "{}",
            health.head
        );
        assert!(health.body.is_empty());
    }

    // --- metrics of an idle agent -------------------------------------------
    let reply = get(addr, "/metrics/snapshot").await;
    assert!(!reply.body.contains(":-0.0"), "{}", reply.body);
    let snapshot = reply.json();
    assert_eq!(snapshot["slave/registered"], 1.0);
    assert!(snapshot["slave/uptime_secs"].as_f64().unwrap() > 0.0);
    for (name, value) in [
        ("slave/cpus_total", 2.0),
        ("slave/mem_total", 1024.0),
        ("slave/disk_total", 1024.0),
        ("slave/gpus_total", 0.0),
        ("slave/cpus_revocable_total", 0.0),
        ("slave/tasks_running", 0.0),
        ("slave/executors_running", 0.0),
        ("slave/recovery_errors", 0.0),
    ] {
        assert_eq!(snapshot[name], value, "{name}");
    }
    // Upstream's names, and nothing else; `recovery_time_secs` since the
    // agent, with nothing to recover, is done recovering.
    let mut expected = upstream_names();
    expected.push("slave/recovery_time_secs".into());
    expected.sort();
    assert_eq!(agent_names(&snapshot), expected);
    for name in NOT_REGISTERED {
        assert!(snapshot.get(*name).is_none(), "{name} is registered");
    }
    let recovery = snapshot["slave/recovery_time_secs"].as_f64().unwrap();
    assert!((0.0..10.0).contains(&recovery), "{recovery}");
    for (name, value) in [
        ("slave/frameworks_active", 0.0),
        ("slave/cpus_used", 0.0),
        ("slave/cpus_percent", 0.0),
        ("slave/gpus_percent", 0.0),
        ("slave/cpus_revocable_used", 0.0),
        ("slave/cpus_revocable_percent", 0.0),
        ("slave/tasks_finished", 0.0),
        ("slave/valid_status_updates", 0.0),
        ("slave/executors_terminated", 0.0),
        ("containerizer/mesos/container_destroy_errors", 0.0),
    ] {
        assert_eq!(snapshot[name], value, "{name}");
    }
    // `--gc_delay` (one week) until the first disk check shortens it.
    let age = snapshot["slave/executor_directory_max_allowed_age_secs"]
        .as_f64()
        .unwrap();
    assert!(age > 0.0 && age <= 7.0 * 24.0 * 3600.0, "{age}");

    // --- a framework with a running and a finished command task -------------
    let executor = bin_dir().join("mesos-executor");
    if !executor.exists() {
        let why = format!(
            "{} is not built (cargo build -p mesos-executor)",
            executor.display()
        );
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{why}");
        }
        println!("SKIPPED: {why}");
        return;
    }

    let (tx, mut rx) = mpsc::unbounded_channel();
    let scheduler = master_runtime
        .spawn(Scheduler {
            base: ProcessBase::new("scheduler-state"),
            tx,
        })
        .unwrap();
    let subscribe = Call {
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: FrameworkInfo {
                user: "tester".into(),
                name: "agent-state-test".into(),
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let to = master.upid().clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &subscribe));
    let framework_id: FrameworkId = decode::<FrameworkRegisteredMessage>(
        &recv(&mut rx, "mesos.internal.FrameworkRegisteredMessage").await,
    )
    .framework_id;
    let offers: ResourceOffersMessage =
        decode(&recv(&mut rx, "mesos.internal.ResourceOffersMessage").await);
    let offer = offers.offers[0].clone();

    let accept = Call {
        framework_id: Some(framework_id.clone()),
        r#type: Some(call::Type::Accept as i32),
        accept: Some(call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![offer::Operation {
                r#type: Some(offer::operation::Type::Launch as i32),
                launch: Some(offer::operation::Launch {
                    task_infos: vec![
                        command_task("long", "sleep 60", &offer.slave_id),
                        command_task("short", "true", &offer.slave_id),
                    ],
                }),
                ..Default::default()
            }],
            filters: Some(Filters {
                refuse_seconds: Some(60.0),
            }),
        }),
        ..Default::default()
    };
    let to = master.upid().clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &accept));

    // Acknowledge every update but the short task's terminal one, so the
    // agent still holds that task (upstream: a "terminated" task, written
    // among the executor's completed tasks).
    let (mut long_running, mut short_done) = (false, false);
    while !(long_running && short_done) {
        let update: StatusUpdateMessage =
            decode(&recv(&mut rx, "mesos.internal.StatusUpdateMessage").await);
        let status = &update.update.status;
        let state = status.state();
        match status.task_id.value.as_str() {
            "long" => {
                assert!(!state.is_terminal(), "the long task ended: {state:?}");
                long_running |= state == TaskState::TaskRunning;
            }
            _ => {
                assert_ne!(state, TaskState::TaskFailed, "{update:?}");
                if state.is_terminal() {
                    short_done = true;
                    continue;
                }
            }
        }
        let ack = Call {
            framework_id: Some(framework_id.clone()),
            r#type: Some(call::Type::Acknowledge as i32),
            acknowledge: Some(call::Acknowledge {
                slave_id: update.update.slave_id.clone().unwrap(),
                task_id: status.task_id.clone(),
                uuid: update.update.uuid.clone().unwrap(),
            }),
            ..Default::default()
        };
        let to = master.upid().clone();
        scheduler.dispatch(move |this, _| this.base.send(&to, &ack));
    }

    // --- /monitor/statistics and /containers: the running executor -------
    let reply = get(addr, "/monitor/statistics").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let usage = reply.json();
    let entry = usage
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["executor_id"] == "long")
        .unwrap_or_else(|| panic!("{}", reply.body));
    assert_eq!(
        keys(entry),
        [
            "executor_id",
            "executor_name",
            "framework_id",
            "source",
            "statistics"
        ]
    );
    assert_eq!(entry["framework_id"], framework_id.value.as_str());
    assert_eq!(entry["source"], "long");
    let statistics = &entry["statistics"];
    assert!(is_double(&statistics["timestamp"]), "{statistics}");
    // The command executor's cpus:0.1;mem:32 and its task's.
    approx(&statistics["cpus_limit"], 0.6);
    assert_eq!(statistics["mem_limit_bytes"], 96 * 1024 * 1024);
    assert!(statistics["mem_rss_bytes"].as_u64().unwrap() > 0);
    assert!(is_double(&statistics["cpus_user_time_secs"]));
    let mut names = keys(statistics);
    names.sort_unstable();
    assert_eq!(keys(statistics), names, "stout's JSON::Object order");
    assert_eq!(get(addr, "/monitor/statistics.json").await.status, 200);
    let ids = |entries: &Value| {
        let mut ids: Vec<String> = entries
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["executor_id"].to_string())
            .collect();
        ids.sort();
        ids
    };
    // Both paths serve the same document (the short task's executor may
    // exit between two reads, so read them back to back until they agree).
    let mut same = false;
    for _ in 0..20 {
        let own = get(addr, "/slave(1)/monitor/statistics").await.json();
        let again = get(addr, "/monitor/statistics").await.json();
        if ids(&own) == ids(&again) {
            same = true;
            break;
        }
    }
    assert!(
        same,
        "/slave(1)/monitor/statistics serves /monitor/statistics"
    );

    let reply = get(addr, "/slave(1)/containers").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let containers = reply.json();
    let entry = containers
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["executor_id"] == "long")
        .unwrap_or_else(|| panic!("{}", reply.body));
    assert_eq!(
        keys(entry),
        [
            "container_id",
            "executor_id",
            "executor_name",
            "framework_id",
            "source",
            "statistics",
            "status"
        ]
    );
    assert!(entry["status"]["executor_pid"].as_u64().unwrap() > 1);
    assert_eq!(
        entry["status"]["container_id"]["value"],
        entry["container_id"]
    );

    let reply = get(addr, "/state").await;
    let state = reply.json();
    let frameworks = state["frameworks"].as_array().unwrap();
    assert_eq!(frameworks.len(), 1, "{}", reply.body);
    let framework = &frameworks[0];
    assert_eq!(keys(framework), FRAMEWORK_KEYS);
    assert_eq!(framework["id"], framework_id.value.as_str());
    assert_eq!(framework["name"], "agent-state-test");
    assert_eq!(framework["user"], "tester");
    assert!(is_double(&framework["failover_timeout"]));
    assert_eq!(framework["checkpoint"], false);
    assert_eq!(framework["hostname"], "");
    assert_eq!(framework["role"], "*");
    assert_eq!(framework["completed_executors"], Value::Array(vec![]));
    let executors = framework["executors"].as_array().unwrap();
    let ids: Vec<&str> = executors
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["long", "short"]);

    // The running task's executor.
    let long = &executors[0];
    assert_eq!(keys(long), EXECUTOR_KEYS);
    // The command executor's allowance is allocated to its task's role.
    assert_eq!(long["role"], "*");
    assert!(
        long["name"]
            .as_str()
            .unwrap()
            .starts_with("Command Executor (Task: long) (Command: sh -c 'sleep 60"),
        "{long}"
    );
    assert_eq!(long["source"], "long");
    let container = long["container"].as_str().unwrap();
    assert!(!container.is_empty());
    let directory = long["directory"].as_str().unwrap();
    assert!(
        directory.starts_with(&work_dir.path().display().to_string())
            && directory.ends_with(container),
        "{directory}"
    );
    // The executor's own cpus:0.1;mem:32 plus its task's.
    approx(&long["resources"]["cpus"], 0.6);
    approx(&long["resources"]["mem"], 96.0);
    assert_eq!(long["queued_tasks"], Value::Array(vec![]));
    assert_eq!(long["completed_tasks"], Value::Array(vec![]));
    let tasks = long["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert_eq!(keys(task), TASK_KEYS);
    assert_eq!(task["id"], "long");
    assert_eq!(task["name"], "task long");
    assert_eq!(task["framework_id"], framework_id.value.as_str());
    assert_eq!(task["executor_id"], "", "a command task has no executor id");
    assert_eq!(task["slave_id"], slave_id.as_str());
    assert_eq!(task["state"], "TASK_RUNNING");
    approx(&task["resources"]["cpus"], 0.5);
    // The master put `allocation_info` on the task's resources.
    assert_eq!(task["role"], "*");
    assert_eq!(states(task).last(), Some(&"TASK_RUNNING"));
    // The executor's updates carry its container's status, as upstream's
    // (`Slave::_statusUpdate`).
    for status in task["statuses"].as_array().unwrap() {
        assert_eq!(keys(status), ["state", "timestamp", "container_status"]);
        assert!(is_double(&status["timestamp"]));
        let container_status = &status["container_status"];
        assert_eq!(
            container_status["container_id"]["value"], long["container"],
            "{container_status}"
        );
        assert_eq!(
            container_status["network_infos"][0]["ip_addresses"][0]["ip_address"], "127.0.0.1",
            "{container_status}"
        );
    }

    // The finished task, its update not yet acknowledged.
    let short = &executors[1];
    assert_eq!(keys(short), EXECUTOR_KEYS);
    assert_eq!(short["tasks"], Value::Array(vec![]));
    approx(&short["resources"]["cpus"], 0.1);
    approx(&short["resources"]["mem"], 32.0);
    let completed = short["completed_tasks"].as_array().unwrap();
    assert_eq!(completed.len(), 1, "{short}");
    assert_eq!(keys(&completed[0]), TASK_KEYS);
    assert_eq!(completed[0]["state"], "TASK_FINISHED");
    assert_eq!(states(&completed[0]).last(), Some(&"TASK_FINISHED"));

    // What the executors and launched tasks hold, unreserved.
    approx(&state["unreserved_resources_allocated"]["cpus"], 0.7);
    approx(&state["unreserved_resources_allocated"]["mem"], 128.0);
    assert_eq!(
        state["reserved_resources_allocated"],
        Value::Object(Default::default())
    );

    // One running task; the short task's executor has exited (its exit
    // may come after its task's update), so one running executor.
    let snapshot = metrics_until(addr, |m| {
        m["slave/tasks_running"] == 1.0
            && m["slave/executors_running"] == 1.0
            && m["slave/executors_terminated"] == 1.0
    })
    .await;
    assert_eq!(snapshot["slave/tasks_staging"], 0.0);
    assert_eq!(snapshot["slave/tasks_starting"], 0.0);
    assert_eq!(snapshot["slave/tasks_killing"], 0.0);
    assert_eq!(snapshot["slave/executors_registering"], 0.0);
    assert_eq!(snapshot["slave/executors_terminating"], 0.0);
    assert_eq!(snapshot["slave/frameworks_active"], 1.0);
    assert_eq!(snapshot["slave/tasks_finished"], 1.0);
    assert_eq!(snapshot["slave/tasks_failed"], 0.0);
    assert_eq!(snapshot["slave/container_launch_errors"], 0.0);
    // Every update came from a known task's executor: `TASK_STARTING`
    // (maybe), `TASK_RUNNING` for both, `TASK_FINISHED`.
    let valid = snapshot["slave/valid_status_updates"].as_f64().unwrap();
    assert!(valid >= 3.0, "{snapshot}");
    assert_eq!(snapshot["slave/invalid_status_updates"], 0.0);
    // The long executor (cpus:0.1;mem:32) and its task (cpus:0.5;mem:64);
    // the exited executor counts no more, as upstream removes it.
    approx(&snapshot["slave/cpus_used"], 0.6);
    approx(&snapshot["slave/mem_used"], 96.0);
    approx(&snapshot["slave/cpus_percent"], 0.3);
    approx(&snapshot["slave/mem_percent"], 96.0 / 1024.0);
    assert_eq!(snapshot["slave/disk_used"], 0.0);
    assert_eq!(snapshot["slave/cpus_revocable_used"], 0.0);

    // Tear the framework down so the long task's process goes.
    let teardown = Call {
        framework_id: Some(framework_id.clone()),
        r#type: Some(call::Type::Teardown as i32),
        ..Default::default()
    };
    let to = master.upid().clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &teardown));
    // The long task is killed and its executor ends.
    let snapshot = metrics_until(addr, |m| {
        m["slave/executors_running"] == 0.0 && m["slave/executors_terminated"] == 2.0
    })
    .await;
    assert_eq!(snapshot["slave/tasks_killed"], 1.0, "{snapshot}");
    assert_eq!(snapshot["slave/tasks_finished"], 1.0);
    assert_eq!(snapshot["slave/tasks_running"], 0.0);
    assert_eq!(snapshot["slave/cpus_used"], 0.0);
}
