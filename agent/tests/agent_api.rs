//! The agent's v1 operator API (`POST /api/v1`) over real HTTP with a
//! running command task: each served call in JSON and in protobuf (decoded
//! as `mesos.v1.agent.Response`), and upstream's refusals
//! (`src/slave/http.cpp`, `src/tests/api_tests.cpp` AgentAPITest).
//!
//! Upstream `cgroups_isolator_tests.cpp` over HTTP:
//!
//! - `CgroupsIsolatorTest.ROOT_CGROUPS_NET_CLS_ContainerStatus` (the class id in the task's
//!   status in `/state`; also `/containers` and `GET_CONTAINERS`), with the perf sample of
//!   `ROOT_CGROUPS_PERF_Sample` in `/monitor/statistics` →
//!   `net_cls_class_id_and_perf_samples_reach_state_and_statistics`

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::net::SocketAddrV4;

use mesos_proto::mesos::v1;
use mesos_proto::mesos::v1::agent::{call, response, Call, Response};
use prost::Message as _;
use serde_json::{json, Value};

use support::sandbox::{launch, request, require_executor, Reply, DATA};

const JSON: &str = "application/json";
const PROTOBUF: &str = "application/x-protobuf";

async fn post(addr: SocketAddrV4, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    request(addr, "POST", "/api/v1", headers, body).await
}

/// A call in JSON, answered in JSON.
async fn json_call(addr: SocketAddrV4, call: Value) -> Value {
    let body = call.to_string();
    let reply = post(
        addr,
        &[("Content-Type", JSON), ("Accept", JSON)],
        body.as_bytes(),
    )
    .await;
    reply.json()
}

/// A call in protobuf, answered in protobuf.
async fn proto_call(addr: SocketAddrV4, call: &Call) -> Response {
    let reply = post(
        addr,
        &[("Content-Type", PROTOBUF), ("Accept", PROTOBUF)],
        &call.encode_to_vec(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}\r\n\r\n{}", reply.head, reply.text());
    assert_eq!(reply.header("Content-Type").as_deref(), Some(PROTOBUF));
    Response::decode(reply.body.as_slice()).unwrap()
}

fn typed(kind: call::Type) -> Call {
    Call {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

#[actix_rt::test]
async fn operator_api_answers_in_json_and_protobuf() {
    if !require_executor() {
        return;
    }
    let cluster = launch("api-task").await;
    let addr = cluster.addr;
    let task_id = cluster.task_id.as_str();
    let framework_id = cluster.framework_id.as_str();

    // --- GET_HEALTH, GET_VERSION, GET_FLAGS, GET_LOGGING_LEVEL -------------
    assert_eq!(
        json_call(addr, json!({"type": "GET_HEALTH"})).await,
        json!({"type": "GET_HEALTH", "get_health": {"healthy": true}})
    );
    let health = proto_call(addr, &typed(call::Type::GetHealth)).await;
    assert_eq!(health.r#type(), response::Type::GetHealth);
    assert!(health.get_health.unwrap().healthy);

    let version = json_call(addr, json!({"type": "GET_VERSION"})).await;
    assert_eq!(version["get_version"]["version_info"]["version"], "1.11.0");
    let version = proto_call(addr, &typed(call::Type::GetVersion)).await;
    assert_eq!(version.get_version.unwrap().version_info.version, "1.11.0");

    let flags = json_call(addr, json!({"type": "GET_FLAGS"})).await;
    let flags = flags["get_flags"]["flags"].as_array().unwrap();
    let work_dir = flags.iter().find(|f| f["name"] == "work_dir").unwrap();
    assert_eq!(
        work_dir["value"],
        cluster.work_dir.path().display().to_string()
    );
    let flags = proto_call(addr, &typed(call::Type::GetFlags)).await;
    assert!(flags
        .get_flags
        .unwrap()
        .flags
        .iter()
        .any(|f| f.name == "hostname" && f.value.as_deref() == Some("localhost")));

    assert_eq!(
        json_call(addr, json!({"type": "GET_LOGGING_LEVEL"})).await,
        json!({"type": "GET_LOGGING_LEVEL", "get_logging_level": {"level": 0}})
    );
    let level = proto_call(addr, &typed(call::Type::GetLoggingLevel)).await;
    assert_eq!(level.get_logging_level.unwrap().level, 0);
    // SET_LOGGING_LEVEL: the level holds for its duration, then reverts.
    let set = json!({"type": "SET_LOGGING_LEVEL",
                     "set_logging_level": {"level": 1, "duration": {"nanoseconds": 300_000_000}}});
    let reply = post(
        addr,
        &[("Content-Type", JSON), ("Accept", JSON)],
        set.to_string().as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let level = proto_call(addr, &typed(call::Type::GetLoggingLevel)).await;
    assert_eq!(level.get_logging_level.unwrap().level, 1);
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let level = proto_call(addr, &typed(call::Type::GetLoggingLevel)).await;
    assert_eq!(level.get_logging_level.unwrap().level, 0);

    // --- GET_METRICS ---------------------------------------------------------
    let metrics = json_call(
        addr,
        json!({"type": "GET_METRICS", "get_metrics": {"timeout": {"nanoseconds": 5_000_000_000u64}}}),
    )
    .await;
    assert_eq!(keys(&metrics), ["type", "get_metrics"]);
    let list = metrics["get_metrics"]["metrics"].as_array().unwrap();
    let registered = list
        .iter()
        .find(|m| m["name"] == "slave/registered")
        .unwrap();
    assert_eq!(registered["value"], 1.0);
    let call = Call {
        r#type: Some(call::Type::GetMetrics as i32),
        get_metrics: Some(call::GetMetrics { timeout: None }),
        ..Default::default()
    };
    let metrics = proto_call(addr, &call).await;
    assert!(metrics
        .get_metrics
        .unwrap()
        .metrics
        .iter()
        .any(|m| m.name == "slave/uptime_secs" && m.value.unwrap() > 0.0));

    // --- GET_STATE and its parts ---------------------------------------------
    let state = json_call(addr, json!({"type": "GET_STATE"})).await;
    assert_eq!(keys(&state), ["type", "get_state"]);
    let state = &state["get_state"];
    assert_eq!(
        keys(state),
        ["get_tasks", "get_executors", "get_frameworks"]
    );
    assert_eq!(
        keys(&state["get_tasks"]),
        [
            "pending_tasks",
            "queued_tasks",
            "launched_tasks",
            "terminated_tasks",
            "completed_tasks"
        ]
    );
    let launched = state["get_tasks"]["launched_tasks"].as_array().unwrap();
    assert_eq!(launched.len(), 1, "{state}");
    assert_eq!(launched[0]["task_id"]["value"], task_id);
    assert_eq!(launched[0]["state"], "TASK_RUNNING");
    assert_eq!(launched[0]["agent_id"]["value"], cluster.slave_id.as_str());
    assert_eq!(launched[0]["framework_id"]["value"], framework_id);
    assert_eq!(
        keys(&state["get_executors"]),
        ["executors", "completed_executors"]
    );
    assert_eq!(
        state["get_executors"]["executors"][0]["executor_info"]["executor_id"]["value"],
        task_id
    );
    assert_eq!(
        keys(&state["get_frameworks"]),
        ["frameworks", "completed_frameworks"]
    );
    let framework = &state["get_frameworks"]["frameworks"][0]["framework_info"];
    assert_eq!(framework["id"]["value"], framework_id);
    assert_eq!(framework["name"], "sandbox-test");

    let state = proto_call(addr, &typed(call::Type::GetState)).await;
    assert_eq!(state.r#type(), response::Type::GetState);
    let state = state.get_state.unwrap();
    let tasks = state.get_tasks.unwrap();
    assert_eq!(tasks.launched_tasks.len(), 1);
    assert_eq!(tasks.launched_tasks[0].task_id.value, task_id);
    assert_eq!(tasks.launched_tasks[0].state(), v1::TaskState::TaskRunning);
    assert!(tasks.queued_tasks.is_empty() && tasks.terminated_tasks.is_empty());
    let executors = state.get_executors.unwrap().executors;
    assert_eq!(executors.len(), 1);
    assert_eq!(executors[0].executor_info.executor_id.value, task_id);
    let frameworks = state.get_frameworks.unwrap().frameworks;
    assert_eq!(
        frameworks[0].framework_info.id.as_ref().unwrap().value,
        framework_id
    );

    let tasks = json_call(addr, json!({"type": "GET_TASKS"})).await;
    assert_eq!(keys(&tasks), ["type", "get_tasks"]);
    assert_eq!(tasks["get_tasks"]["pending_tasks"], json!([]));
    let tasks = proto_call(addr, &typed(call::Type::GetTasks)).await;
    assert_eq!(tasks.get_tasks.unwrap().launched_tasks.len(), 1);

    let executors = json_call(addr, json!({"type": "GET_EXECUTORS"})).await;
    assert_eq!(executors["get_executors"]["completed_executors"], json!([]));
    let executors = proto_call(addr, &typed(call::Type::GetExecutors)).await;
    let executor = &executors.get_executors.unwrap().executors[0].executor_info;
    assert_eq!(executor.framework_id.as_ref().unwrap().value, framework_id);

    let frameworks = json_call(addr, json!({"type": "GET_FRAMEWORKS"})).await;
    assert_eq!(
        frameworks["get_frameworks"]["frameworks"][0]["framework_info"]["user"],
        "tester"
    );
    let frameworks = proto_call(addr, &typed(call::Type::GetFrameworks)).await;
    assert_eq!(frameworks.get_frameworks.unwrap().frameworks.len(), 1);

    // --- GET_AGENT -----------------------------------------------------------
    let agent = json_call(addr, json!({"type": "GET_AGENT"})).await;
    let info = &agent["get_agent"]["agent_info"];
    assert_eq!(info["hostname"], "localhost");
    assert_eq!(info["id"]["value"], cluster.slave_id.as_str());
    let agent = proto_call(addr, &typed(call::Type::GetAgent)).await;
    let info = agent.get_agent.unwrap().agent_info.unwrap();
    assert_eq!(info.id.unwrap().value, cluster.slave_id);
    assert!(info.resources.iter().any(|r| r.name == "cpus"));

    // --- GET_CONTAINERS ------------------------------------------------------
    let containers = json_call(addr, json!({"type": "GET_CONTAINERS"})).await;
    let container = &containers["get_containers"]["containers"][0];
    assert_eq!(
        keys(container),
        [
            "framework_id",
            "executor_id",
            "executor_name",
            "container_id",
            "container_status",
            "resource_statistics"
        ]
    );
    assert_eq!(container["framework_id"]["value"], framework_id);
    assert_eq!(container["executor_id"]["value"], task_id);
    // The command executor's 32 MB and the task's 64.
    assert_eq!(
        container["resource_statistics"]["mem_limit_bytes"],
        96 * 1024 * 1024
    );
    let call = Call {
        r#type: Some(call::Type::GetContainers as i32),
        get_containers: Some(call::GetContainers {
            show_nested: Some(true),
            show_standalone: Some(false),
        }),
        ..Default::default()
    };
    let containers = proto_call(addr, &call).await;
    let containers = containers.get_containers.unwrap().containers;
    assert_eq!(containers.len(), 1);
    assert_eq!(
        containers[0].container_id.value,
        container["container_id"]["value"].as_str().unwrap()
    );
    assert!(
        containers[0]
            .resource_statistics
            .as_ref()
            .unwrap()
            .timestamp
            > 0.0
    );
    assert!(containers[0].container_status.is_some());

    // --- LIST_FILES and READ_FILE --------------------------------------------
    let sandbox = cluster.sandbox();
    let listing = json_call(
        addr,
        json!({"type": "LIST_FILES", "list_files": {"path": sandbox}}),
    )
    .await;
    let infos = listing["list_files"]["file_infos"].as_array().unwrap();
    let data = infos
        .iter()
        .find(|f| f["path"] == format!("{sandbox}/data.txt"))
        .unwrap();
    assert_eq!(data["size"], DATA.len());
    assert_eq!(data["nlink"], 1);
    assert!(data["mode"].is_u64(), "the proto's numeric mode: {data}");
    assert!(data["mtime"]["nanoseconds"].as_i64().unwrap() > 0);
    let call = Call {
        r#type: Some(call::Type::ListFiles as i32),
        list_files: Some(call::ListFiles {
            path: sandbox.clone(),
        }),
        ..Default::default()
    };
    let listing = proto_call(addr, &call).await;
    let infos = listing.list_files.unwrap().file_infos;
    assert!(infos.iter().any(|f| f.path.ends_with("/stdout")));

    let read = json_call(
        addr,
        json!({"type": "READ_FILE", "read_file": {"path": format!("{sandbox}/data.txt"), "offset": 2, "length": 3}}),
    )
    .await;
    // `bytes` as base64: "234".
    assert_eq!(
        read,
        json!({"type": "READ_FILE", "read_file": {"size": 10, "data": "MjM0"}})
    );
    let call = Call {
        r#type: Some(call::Type::ReadFile as i32),
        read_file: Some(call::ReadFile {
            path: format!("{sandbox}/data.txt"),
            offset: 7,
            length: None,
        }),
        ..Default::default()
    };
    let read = proto_call(addr, &call).await.read_file.unwrap();
    assert_eq!((read.size, read.data.as_slice()), (10, &b"789"[..]));

    // Files errors carry the files process's status codes.
    for (call, status) in [
        (
            json!({"type": "READ_FILE", "read_file": {"path": format!("{sandbox}/nope"), "offset": 0}}),
            404,
        ),
        (
            json!({"type": "READ_FILE", "read_file": {"path": sandbox, "offset": 0}}),
            400,
        ),
        (
            json!({"type": "LIST_FILES", "list_files": {"path": format!("{sandbox}/..")}}),
            400,
        ),
        (
            json!({"type": "LIST_FILES", "list_files": {"path": "/nowhere"}}),
            404,
        ),
    ] {
        let reply = post(addr, &[("Content-Type", JSON)], call.to_string().as_bytes()).await;
        assert_eq!(reply.status, status, "{call}: {}", reply.text());
    }

    // --- The process's own path ----------------------------------------------
    // `slave(N)`: other tests in this binary may have spawned agents first.
    let own_path = format!("/{}/api/v1", cluster.agent.upid().id);
    let reply = request(
        addr,
        "POST",
        &own_path,
        &[("Content-Type", JSON)],
        br#"{"type":"GET_HEALTH"}"#,
    )
    .await;
    assert_eq!(reply.json()["get_health"]["healthy"], true);
}

/// A request (method, headers, body) and the status and body expected.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);

#[actix_rt::test]
async fn bad_operator_calls_get_upstreams_errors() {
    if !require_executor() {
        return;
    }
    let cluster = launch("api-errors").await;
    let addr = cluster.addr;
    let health = br#"{"type":"GET_HEALTH"}"#;
    let cases: Vec<Case<'_>> = vec![
        (
            "GET",
            vec![("Content-Type", JSON)],
            health.to_vec(),
            405,
            "Expecting one of { 'POST' }, but received 'GET'",
        ),
        (
            "POST",
            vec![],
            health.to_vec(),
            400,
            "Expecting 'Content-Type' to be present",
        ),
        (
            "POST",
            vec![("Content-Type", "text/plain")],
            health.to_vec(),
            415,
            "Expecting 'Content-Type' of application/json or application/x-protobuf \
             or application/recordio",
        ),
        (
            "POST",
            vec![("Content-Type", JSON), ("Accept", "text/html")],
            health.to_vec(),
            406,
            "Expecting 'Accept' to allow application/json or application/x-protobuf \
             or application/recordio",
        ),
        (
            "POST",
            vec![("Content-Type", JSON), ("Message-Accept", JSON)],
            health.to_vec(),
            406,
            "Expecting 'Message-Accept' to be not set for non-streaming responses",
        ),
        (
            "POST",
            vec![("Content-Type", JSON), ("Message-Content-Type", JSON)],
            health.to_vec(),
            415,
            "Expecting 'Message-Content-Type' to be not set for non-streaming requests",
        ),
        (
            "POST",
            vec![("Content-Type", "application/recordio")],
            health.to_vec(),
            400,
            "Expecting 'Message-Content-Type' to be set for streaming requests",
        ),
        (
            "POST",
            vec![("Content-Type", PROTOBUF)],
            b"\xff\xff\xff".to_vec(),
            400,
            "Failed to parse body into a protobuf object",
        ),
        (
            "POST",
            vec![("Content-Type", JSON)],
            br#"{"type":"GET_METRICS"}"#.to_vec(),
            400,
            "Failed to validate agent::Call: Expecting 'get_metrics' to be present",
        ),
        (
            "POST",
            vec![("Content-Type", JSON)],
            br#"{"type":"READ_FILE"}"#.to_vec(),
            400,
            "Failed to validate agent::Call: Expecting 'read_file' to be present",
        ),
        (
            "POST",
            vec![("Content-Type", JSON)],
            b"{}".to_vec(),
            400,
            "Failed to validate agent::Call: Expecting 'type' to be present",
        ),
        (
            "POST",
            vec![("Content-Type", JSON)],
            br#"{"type":"PRUNE_IMAGES"}"#.to_vec(),
            501,
            "Call PRUNE_IMAGES is not supported by this agent yet",
        ),
        (
            "POST",
            vec![("Content-Type", JSON), ("Accept", "application/recordio")],
            health.to_vec(),
            406,
            "Streaming response is not supported for GET_HEALTH call",
        ),
        // Upstream `AgentAPITest.HeaderValidation`: the record media types
        // of streaming calls.
        (
            "POST",
            vec![
                ("Content-Type", "application/recordio"),
                ("Message-Content-Type", "text/plain"),
            ],
            format!("{}\n{}", health.len(), String::from_utf8_lossy(health)).into_bytes(),
            415,
            "Expecting 'Message-Content-Type' of application/json or application/x-protobuf",
        ),
        (
            "POST",
            vec![
                ("Content-Type", JSON),
                ("Accept", "application/recordio"),
                ("Message-Accept", "text/plain"),
            ],
            br#"{"type":"ATTACH_CONTAINER_OUTPUT","attach_container_output":{"container_id":{"value":"x"}}}"#.to_vec(),
            406,
            "Expecting 'Message-Accept' to allow application/json or application/x-protobuf",
        ),
        (
            "POST",
            vec![
                ("Content-Type", "application/recordio"),
                ("Message-Content-Type", JSON),
            ],
            format!("{}\n{}", health.len(), String::from_utf8_lossy(health)).into_bytes(),
            415,
            "Streaming 'Content-Type' application/recordio is not supported for GET_HEALTH call",
        ),
        (
            "POST",
            vec![("Content-Type", JSON)],
            br#"{"type":"UNKNOWN"}"#.to_vec(),
            501,
            "",
        ),
    ];
    for (method, headers, body, status, message) in cases {
        let reply = request(addr, method, "/api/v1", &headers, &body).await;
        assert_eq!(
            (reply.status, reply.text().as_str()),
            (status, message),
            "{method} {headers:?} {}",
            String::from_utf8_lossy(&body)
        );
    }
    // A body that is not JSON.
    let reply = post(addr, &[("Content-Type", JSON)], b"{").await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.text().starts_with("Failed to parse body into JSON: "),
        "{}",
        reply.text()
    );
    // Protobuf is the answer when only protobuf is acceptable, JSON when
    // both are.
    let reply = post(
        addr,
        &[("Content-Type", JSON), ("Accept", "application/*")],
        health,
    )
    .await;
    assert_eq!(reply.header("Content-Type").as_deref(), Some(JSON));
}

/// `--authenticate_http_readonly` and `--authenticate_http_readwrite`
/// with `--http_credentials`: upstream's realms, Basic credentials, `401`
/// with `WWW-Authenticate` otherwise; `/health` stays open.
#[actix_rt::test]
async fn basic_http_authentication_guards_the_agents_endpoints() {
    if !require_executor() {
        return;
    }
    let credentials = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(credentials.path(), "ops s3cret\n").unwrap();
    let cluster = support::sandbox::launch_with_flags(
        "http-auth",
        &[
            "--authenticate_http_readonly".into(),
            "--authenticate_http_readwrite".into(),
            format!("--http_credentials={}", credentials.path().display()),
        ],
    )
    .await;
    let addr = cluster.addr;
    // base64("ops:s3cret"), base64("ops:wrong").
    let good = ("Authorization", "Basic b3BzOnMzY3JldA==");
    let bad = ("Authorization", "Basic b3BzOndyb25n");
    assert_eq!(request(addr, "GET", "/health", &[], b"").await.status, 200);
    for path in [
        "/state",
        "/flags",
        "/containers",
        "/monitor/statistics",
        "/metrics/snapshot",
        "/files/debug",
    ] {
        let reply = request(addr, "GET", path, &[], b"").await;
        assert_eq!(reply.status, 401, "{path}");
        assert!(
            reply
                .head
                .contains("WWW-Authenticate: Basic realm=\"mesos-agent-readonly\""),
            "{}",
            reply.head
        );
        assert_eq!(request(addr, "GET", path, &[bad], b"").await.status, 401);
        assert_eq!(
            request(addr, "GET", path, &[good], b"").await.status,
            200,
            "{path}"
        );
    }
    let call = br#"{"type":"GET_HEALTH"}"#;
    let headers = [("Content-Type", JSON), ("Accept", JSON)];
    let reply = post(addr, &headers, call).await;
    assert_eq!(reply.status, 401);
    assert!(reply
        .head
        .contains("WWW-Authenticate: Basic realm=\"mesos-agent-readwrite\""));
    let reply = post(addr, &[headers[0], headers[1], good], call).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// Upstream `CgroupsIsolatorTest` usage scenarios over HTTP: with
/// `cgroups/cpu` (CFS on) and `cgroups/mem` on the linux launcher, the
/// running container's cgroup figures reach `/monitor/statistics` and
/// `GET_CONTAINERS`: its limits, the CFS period counters, the memory
/// cgroup's usage and pressure counters, the `cgroups/pids` process and
/// thread counts and the `cgroups/blkio` statistics.
#[actix_rt::test]
async fn cgroups_figures_reach_monitor_statistics_and_get_containers() {
    let test = "cgroups_figures_reach_monitor_statistics_and_get_containers";
    let controllers = ["cpu", "cpuacct", "memory", "freezer", "pids", "blkio"];
    if !support::require_cgroups_v1(test, &controllers) || !require_executor() {
        return;
    }
    let flags = [
        "--launcher=linux",
        "--isolation=cgroups/cpu,cgroups/mem,cgroups/pids,cgroups/blkio",
        "--cgroups_enable_cfs",
    ]
    .map(String::from);
    let cluster = support::sandbox::launch_with_flags("cgroups-figures", &flags).await;
    let addr = cluster.addr;
    // The command executor's cpus:0.1;mem:32 and its task's cpus:0.5;mem:64.
    let check = |statistics: &Value| {
        let cpus_limit = statistics["cpus_limit"].as_f64().unwrap();
        assert!((cpus_limit - 0.6).abs() < 1e-9, "{statistics}");
        assert_eq!(statistics["mem_limit_bytes"], 96 * 1024 * 1024);
        // `cpu.stat` (only read with --cgroups_enable_cfs).
        for field in ["cpus_nr_periods", "cpus_nr_throttled"] {
            assert!(statistics[field].is_u64(), "{field}: {statistics}");
        }
        assert!(
            statistics["cpus_throttled_time_secs"].is_f64(),
            "{statistics}"
        );
        // `cpuacct.stat`.
        assert!(statistics["cpus_user_time_secs"].is_f64(), "{statistics}");
        // `memory.usage_in_bytes` and `memory.stat`.
        assert!(
            statistics["mem_total_bytes"].as_u64().unwrap() > 0,
            "{statistics}"
        );
        assert!(
            statistics["mem_rss_bytes"].as_u64().unwrap() > 0,
            "{statistics}"
        );
        assert!(statistics["mem_cache_bytes"].is_u64(), "{statistics}");
        // `memory.pressure_level` events, none yet.
        for field in [
            "mem_low_pressure_counter",
            "mem_medium_pressure_counter",
            "mem_critical_pressure_counter",
        ] {
            assert_eq!(statistics[field], 0, "{field}: {statistics}");
        }
        // `cgroups/pids`: the executor, its task's shell and sleep at least.
        let processes = statistics["processes"].as_u64().unwrap();
        assert!(processes >= 2, "{statistics}");
        let threads = statistics["threads"].as_u64().unwrap();
        assert!(threads >= processes, "{statistics}");
        // `cgroups/blkio`: the throttling counters, per device and total.
        let blkio = &statistics["blkio_statistics"];
        assert!(blkio["throttling"].is_array(), "{statistics}");
    };

    let reply = support::sandbox::get(addr, "/monitor/statistics").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let entries = reply.json();
    let entry = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["executor_id"] == "cgroups-figures")
        .unwrap_or_else(|| panic!("{entries}"));
    check(&entry["statistics"]);

    let containers = json_call(addr, json!({"type": "GET_CONTAINERS"})).await;
    let container = containers["get_containers"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["executor_id"]["value"] == "cgroups-figures")
        .unwrap_or_else(|| panic!("{containers}"));
    check(&container["resource_statistics"]);

    // The same limits are in the container's cgroups.
    let root = support::test_containerizer(cluster.work_dir.path()).cgroups_root;
    let cgroup = std::path::Path::new("/sys/fs/cgroup/cpu")
        .join(&root)
        .join(container["container_id"]["value"].as_str().unwrap());
    let quota = std::fs::read_to_string(cgroup.join("cpu.cfs_quota_us")).unwrap();
    assert_eq!(quota.trim(), "60000");
}

/// Upstream `CgroupsIsolatorTest.ROOT_CGROUPS_NET_CLS_ContainerStatus`
/// (and the perf side of `ROOT_CGROUPS_PERF_Sample`) through the agent and
/// its flags: the container's class id (`--cgroups_net_cls_primary_handle`
/// 0x12, first secondary handle 0x11) is in the task's status in `/state`,
/// in `/containers` and in `GET_CONTAINERS`; with `--perf_events` the
/// container's `perf` sample reaches `/monitor/statistics`.
#[actix_rt::test]
async fn net_cls_class_id_and_perf_samples_reach_state_and_statistics() {
    let test = "net_cls_class_id_and_perf_samples_reach_state_and_statistics";
    if !support::require_cgroups_v1(test, &["freezer"])
        || !support::require_perf(test)
        || !require_executor()
    {
        return;
    }
    let flags = [
        "--launcher=linux",
        "--isolation=cgroups/net_cls,cgroups/perf_event",
        "--cgroups_net_cls_primary_handle=0x0012",
        "--cgroups_net_cls_secondary_handles=0x0011,0x0012",
        "--perf_events=task-clock,context-switches",
        "--perf_interval=500ms",
        "--perf_duration=250ms",
    ]
    .map(String::from);
    let cluster = support::sandbox::launch_with_flags("net-cls-perf", &flags).await;
    let addr = cluster.addr;
    let classid = 0x0012_0011u64;

    let state = support::sandbox::get(addr, "/state").await.json();
    let statuses = &state["frameworks"][0]["executors"][0]["tasks"][0]["statuses"];
    assert!(!statuses.as_array().unwrap().is_empty(), "{state}");
    for status in statuses.as_array().unwrap() {
        assert_eq!(
            status["container_status"]["cgroup_info"]["net_cls"]["classid"], classid,
            "{state}"
        );
    }

    let containers = support::sandbox::get(addr, "/containers").await.json();
    let container = &containers[0];
    assert_eq!(
        container["status"]["cgroup_info"]["net_cls"]["classid"], classid,
        "{containers}"
    );
    let reply = json_call(addr, json!({"type": "GET_CONTAINERS"})).await;
    let container = &reply["get_containers"]["containers"][0];
    assert_eq!(
        container["container_status"]["cgroup_info"]["net_cls"]["classid"], classid,
        "{reply}"
    );

    // The first sample is empty (no duration); a real one follows.
    let mut perf = Value::Null;
    for _ in 0..40 {
        let entries = support::sandbox::get(addr, "/monitor/statistics")
            .await
            .json();
        perf = entries[0]["statistics"]["perf"].clone();
        assert!(perf["timestamp"].is_f64(), "{entries}");
        if perf["duration"] == 0.25 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(perf["duration"], 0.25, "{perf}");
    assert!(perf["task_clock"].is_f64(), "{perf}");
    assert!(perf["context_switches"].is_u64(), "{perf}");
}
