//! The v1 operator API (`POST /api/v1`).

use mesos_proto::mesos::internal::{ShutdownMessage, SlaveRegisteredMessage};
use mesos_proto::mesos::v1::master::{response, Response};
use prost::Message as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

pub async fn api(addr: std::net::SocketAddrV4, body: &str, accept: &str) -> (u16, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /api/v1 HTTP/1.1\r\nContent-Type: application/json\r\nAccept: {accept}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw[head_end..].to_vec())
}

/// The large read-only calls, by the `type` of their JSON body.
pub(crate) const LARGE_CALLS: [&str; 5] = [
    "GET_STATE",
    "GET_TASKS",
    "GET_AGENTS",
    "GET_FRAMEWORKS",
    "GET_EXECUTORS",
];

/// Asserts that the master's JSON for each large read-only call, written
/// straight, is what the reflection path renders for it (as parsed
/// values, and byte for byte), that its protobuf is the encoding of the
/// `Response` message built for it, and that `POST /api/v1` serves them;
/// returns the `GET_STATE` JSON.
pub(crate) async fn assert_large_responses_as_reflection(
    master: &libprocess::PID<mesos_master::master::Master>,
    addr: std::net::SocketAddrV4,
) -> String {
    use mesos_proto::mesos::master::call;
    let mut state = String::new();
    for name in LARGE_CALLS {
        let kind = call::Type::from_str_name(name).unwrap();
        let both = master
            .call(move |m, _| mesos_master::operator_api::large_response_both_ways(m, kind))
            .await
            .unwrap()
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&both.json).unwrap();
        let reference: serde_json::Value = serde_json::from_str(&both.reference_json).unwrap();
        assert_eq!(parsed, reference, "{name}");
        assert_eq!(both.json, both.reference_json, "{name}");
        assert_eq!(
            Response::decode(both.protobuf.as_slice()).unwrap(),
            Response::decode(both.reference_protobuf.as_slice()).unwrap(),
            "{name}"
        );
        assert_eq!(both.protobuf, both.reference_protobuf, "{name}");
        let call = format!(r#"{{"type":"{name}"}}"#);
        let (status, body) = api(addr, &call, "application/json").await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(String::from_utf8(body).unwrap(), both.json, "{name}");
        let (status, body) = api(addr, &call, "application/x-protobuf").await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(body, both.protobuf, "{name}");
        if name == "GET_STATE" {
            state = both.json;
        }
    }
    for json in [true, false] {
        let (written, reference) = master
            .call(move |m, _| mesos_master::operator_api::subscribed_both_ways(m, json))
            .await
            .unwrap();
        assert_eq!(written, reference, "SUBSCRIBED (json: {json})");
    }
    state
}

#[actix_rt::test]
async fn large_calls_are_written_as_the_reflection_path_writes_them() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let addr = runtime.address();
    // An empty master: every list left out.
    let state = assert_large_responses_as_reflection(&master, addr).await;
    assert_eq!(
        state,
        concat!(
            r#"{"type":"GET_STATE","get_state":{"get_tasks":{},"get_executors":{},"#,
            r#""get_frameworks":{},"get_agents":{}}}"#
        )
    );
    // A call that is not one of them.
    assert!(master
        .call(|m, _| {
            mesos_master::operator_api::large_response_both_ways(
                m,
                mesos_proto::mesos::master::call::Type::GetHealth,
            )
        })
        .await
        .unwrap()
        .is_none());
}

#[actix_rt::test]
async fn get_calls_answer_in_json_and_protobuf() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let addr = runtime.address();

    let (status, body) = api(addr, r#"{"type":"GET_HEALTH"}"#, "application/json").await;
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"type":"GET_HEALTH","get_health":{"healthy":true}}"#
    );

    let (status, body) = api(addr, r#"{"type":"GET_VERSION"}"#, "application/x-protobuf").await;
    assert_eq!(status, 200);
    let response = Response::decode(body.as_slice()).unwrap();
    let version = response.get_version.unwrap().version_info;
    assert_eq!(version.version, "1.11.0");
    // The build fields `/version` shows, as upstream's `MesosVersionInfo`.
    let shown = crate::state::get(addr, "/version").await;
    let shown: serde_json::Value = serde_json::from_str(&shown.body).unwrap();
    assert_eq!(version.build_date.as_deref(), shown["build_date"].as_str());
    assert_eq!(version.build_user.as_deref(), shown["build_user"].as_str());
    assert_eq!(version.build_time, shown["build_time"].as_f64());
    assert_eq!(version.git_sha.as_deref(), shown["git_sha"].as_str());

    let (_, body) = api(addr, r#"{"type":"GET_MASTER"}"#, "application/json").await;
    let response: Response =
        mesos_proto::json::from_str(std::str::from_utf8(&body).unwrap()).unwrap();
    let master_info = response.get_master.unwrap().master_info.unwrap();
    assert_eq!(
        master_info.pid.as_deref(),
        Some(master.upid().to_string().as_str())
    );

    let (_, body) = api(addr, r#"{"type":"GET_FLAGS"}"#, "application/json").await;
    let response: Response =
        mesos_proto::json::from_str(std::str::from_utf8(&body).unwrap()).unwrap();
    assert!(response
        .get_flags
        .unwrap()
        .flags
        .iter()
        .any(|f| f.name == "registry" && f.value.as_deref() == Some("in_memory")));

    let (_, body) = api(addr, r#"{"type":"GET_METRICS"}"#, "application/json").await;
    let response: Response =
        mesos_proto::json::from_str(std::str::from_utf8(&body).unwrap()).unwrap();
    assert!(response
        .get_metrics
        .unwrap()
        .metrics
        .iter()
        .any(|m| m.name == "master/elected" && m.value == Some(1.0)));

    let (status, _) = api(addr, r#"{"type":"GET_HEALTH"}"#, "text/html").await;
    assert_eq!(status, 406);
    let (status, _) = api(addr, "{", "application/json").await;
    assert_eq!(status, 400);
}

#[actix_rt::test]
async fn agents_are_listed_and_can_be_marked_gone() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");
    register(&agent, master.upid(), "1.11.0");
    let id = decode::<SlaveRegisteredMessage>(&next(&mut rx).await)
        .slave_id
        .value;

    let (_, body) = api(
        runtime.address(),
        r#"{"type":"GET_AGENTS"}"#,
        "application/json",
    )
    .await;
    let response: Response =
        mesos_proto::json::from_str(std::str::from_utf8(&body).unwrap()).unwrap();
    assert_eq!(response.r#type(), response::Type::GetAgents);
    let agents = response.get_agents.unwrap().agents;
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].agent_info.id.as_ref().unwrap().value, id);
    assert_eq!(
        agents[0].pid.as_deref(),
        Some(agent.upid().to_string().as_str())
    );
    assert!(agents[0].active);

    let call = format!(
        r#"{{"type":"MARK_AGENT_GONE","mark_agent_gone":{{"agent_id":{{"value":"{id}"}}}}}}"#
    );
    let (status, _) = api(runtime.address(), &call, "application/json").await;
    assert_eq!(status, 200);
    let event = next(&mut rx).await;
    assert_eq!(
        decode::<ShutdownMessage>(&event).message.as_deref(),
        Some("Agent has been marked gone")
    );
    let gone = master
        .call(move |m, _| m.slaves.gone.contains_key(&id) && m.slaves.registered.is_empty())
        .await
        .unwrap();
    assert!(gone);

    let (status, _) = api(
        runtime.address(),
        r#"{"type":"MARK_AGENT_GONE","mark_agent_gone":{"agent_id":{"value":"nope"}}}"#,
        "application/json",
    )
    .await;
    assert_eq!(status, 404);
}

#[actix_rt::test]
async fn get_tasks_and_get_state_list_a_launched_task() {
    use mesos_proto::mesos::internal::{FrameworkRegisteredMessage, ResourceOffersMessage};
    use mesos_proto::mesos::scheduler::{call, Call};
    use mesos_proto::mesos::{offer, CommandInfo, Filters, TaskId, TaskInfo};
    use mesos_proto::resources::Resources;

    use crate::frameworks::{info, recv, spawn_scheduler, subscribe};

    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    let mut slave = slave_info("agent.example");
    slave.resources = Resources::parse("cpus:2;mem:1024", "*").unwrap().to_vec();
    register_with(&agent, master.upid(), "1.11.0", slave);
    let _ = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await);
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let framework_id = decode::<FrameworkRegisteredMessage>(&recv(&mut rx).await).framework_id;
    let offer = loop {
        let event = recv(&mut rx).await;
        if event.name == "mesos.internal.ResourceOffersMessage" {
            break decode::<ResourceOffersMessage>(&event).offers.remove(0);
        }
    };
    let task = TaskInfo {
        name: "listed".into(),
        task_id: TaskId {
            value: "listed-1".into(),
        },
        slave_id: offer.slave_id.clone(),
        resources: Resources::parse("cpus:1;mem:64", "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some("sleep 10".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let accept = Call {
        framework_id: Some(framework_id.clone()),
        r#type: Some(call::Type::Accept as i32),
        accept: Some(call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![offer::Operation {
                r#type: Some(offer::operation::Type::Launch as i32),
                launch: Some(offer::operation::Launch {
                    task_infos: vec![task],
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
    // The agent receives the task, so the master has recorded it.
    loop {
        if next(&mut agent_rx).await.name == "mesos.internal.RunTaskMessage" {
            break;
        }
    }

    let (status, body) = api(
        runtime.address(),
        r#"{"type":"GET_TASKS"}"#,
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    let response: Response =
        mesos_proto::json::from_str(std::str::from_utf8(&body).unwrap()).unwrap();
    let tasks = response.get_tasks.unwrap().tasks;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].task_id.value, "listed-1");
    assert_eq!(
        tasks[0].state(),
        mesos_proto::mesos::v1::TaskState::TaskStaging
    );

    let (status, body) = api(
        runtime.address(),
        r#"{"type":"GET_STATE"}"#,
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    let response: Response =
        mesos_proto::json::from_str(std::str::from_utf8(&body).unwrap()).unwrap();
    let state = response.get_state.unwrap();
    assert_eq!(state.get_agents.unwrap().agents.len(), 1);
    assert_eq!(state.get_frameworks.unwrap().frameworks.len(), 1);
    assert_eq!(state.get_tasks.unwrap().tasks.len(), 1);
}

#[actix_rt::test]
async fn calls_for_state_nothing_can_set_yet_answer_empty() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    for (call, expected) in [
        ("GET_WEIGHTS", r#""get_weights":{}"#),
        ("GET_QUOTA", r#""get_quota":{"status":{}}"#),
        (
            "GET_MAINTENANCE_STATUS",
            r#""get_maintenance_status":{"status":{}}"#,
        ),
        (
            "GET_MAINTENANCE_SCHEDULE",
            r#""get_maintenance_schedule":{"schedule":{}}"#,
        ),
        ("GET_OPERATIONS", r#""get_operations":{}"#),
    ] {
        let (status, body) = api(
            runtime.address(),
            &format!(r#"{{"type":"{call}"}}"#),
            "application/json",
        )
        .await;
        assert_eq!(status, 200, "{call}");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            format!(r#"{{"type":"{call}",{expected}}}"#)
        );
        // The protobuf form decodes as upstream's v1 response.
        let (status, body) = api(
            runtime.address(),
            &format!(r#"{{"type":"{call}"}}"#),
            "application/x-protobuf",
        )
        .await;
        assert_eq!(status, 200, "{call}");
        let response = Response::decode(body.as_slice()).unwrap();
        assert_eq!(
            response.r#type().as_str_name(),
            call,
            "{call}: {response:?}"
        );
    }
}

/// The level as `GET_LOGGING_LEVEL` gives it.
async fn logging_level(addr: std::net::SocketAddrV4) -> u32 {
    let (status, body) = api(addr, r#"{"type":"GET_LOGGING_LEVEL"}"#, "application/json").await;
    assert_eq!(status, 200);
    let response: Response =
        mesos_proto::json::from_str(std::str::from_utf8(&body).unwrap()).unwrap();
    assert_eq!(
        response.r#type,
        Some(response::Type::GetLoggingLevel as i32)
    );
    response.get_logging_level.unwrap().level
}

/// `GET /logging/toggle...`: (status, body).
async fn toggle(addr: std::net::SocketAddrV4, query: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /logging/toggle{query} HTTP/1.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// The only test of this binary that changes the (process-wide) level.
#[actix_rt::test]
async fn logging_level_is_set_for_a_while_through_the_api_and_logging_toggle() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let addr = runtime.address();
    assert_eq!(logging_level(addr).await, 0);
    assert_eq!(toggle(addr, "").await, (200, "0\n".into()));

    let (status, _) = api(
        addr,
        r#"{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":2,"duration":{"nanoseconds":400000000}}}"#,
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(logging_level(addr).await, 2);
    assert_eq!(toggle(addr, "").await, (200, "2\n".into()));
    let (status, body) = api(addr, r#"{"type":"SET_LOGGING_LEVEL"}"#, "application/json").await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    // Back to the original level once the duration is over.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(logging_level(addr).await, 0);

    // Upstream's answers to bad toggles.
    assert_eq!(
        toggle(addr, "?level=1").await,
        (400, "Expecting 'duration=value' in query.\n".into())
    );
    assert_eq!(
        toggle(addr, "?duration=1secs").await,
        (400, "Expecting 'level=value' in query.\n".into())
    );
    assert_eq!(
        toggle(addr, "?level=-1&duration=1secs").await,
        (400, "Invalid level '-1'.\n".into())
    );
    assert_eq!(toggle(addr, "?level=x&duration=1secs").await.0, 400);
    assert_eq!(toggle(addr, "?level=1&duration=1parsec").await.0, 400);
    // A toggle for longer than an earlier one keeps its level that long.
    assert_eq!(toggle(addr, "?level=1&duration=200ms").await.0, 200);
    assert_eq!(toggle(addr, "?level=3&duration=1secs").await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(logging_level(addr).await, 3);
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    assert_eq!(logging_level(addr).await, 0);
}

/// Scalar totals by name of `resources`.
fn scalars(resources: &[mesos_proto::mesos::v1::Resource]) -> Vec<(String, f64)> {
    let mut totals = std::collections::BTreeMap::<String, f64>::new();
    for resource in resources {
        if let Some(scalar) = &resource.scalar {
            *totals.entry(resource.name.clone()).or_default() += scalar.value;
        }
    }
    totals.into_iter().collect()
}

async fn agents(addr: std::net::SocketAddrV4) -> Vec<response::get_agents::Agent> {
    let (status, body) = api(addr, r#"{"type":"GET_AGENTS"}"#, "application/json").await;
    assert_eq!(status, 200);
    let response: Response =
        mesos_proto::json::from_str(std::str::from_utf8(&body).unwrap()).unwrap();
    response.get_agents.unwrap().agents
}

#[actix_rt::test]
async fn get_agents_shows_allocated_and_offered_resources() {
    let mut cluster = crate::state::cluster(&[]).await;
    let pair = |name: &str, value: f64| (name.to_string(), value);

    // The framework holds the whole agent as an offer.
    let agent = agents(cluster.addr()).await.remove(0);
    assert!(agent.allocated_resources.is_empty());
    assert_eq!(
        scalars(&agent.offered_resources),
        vec![pair("cpus", 2.0), pair("disk", 512.0), pair("mem", 1024.0)]
    );
    let ports = agent.offered_resources.iter().find(|r| r.name == "ports");
    assert!(ports.is_some(), "ranges are offered too");
    assert!(agent.offered_resources.iter().all(|r| r
        .allocation_info
        .as_ref()
        .and_then(|a| a.role.as_deref())
        == Some("*")));

    // A task takes part of it; the rest is declined for an hour.
    let offer = cluster.offer.clone();
    crate::state::launch(
        &mut cluster,
        vec![crate::state::task("t1", &offer, "cpus:1;mem:64")],
    )
    .await;
    let agent = agents(cluster.addr()).await.remove(0);
    assert_eq!(
        scalars(&agent.allocated_resources),
        vec![pair("cpus", 1.0), pair("mem", 64.0)]
    );
    assert!(agent.offered_resources.is_empty());
    assert_eq!(
        scalars(&agent.total_resources),
        vec![pair("cpus", 2.0), pair("disk", 512.0), pair("mem", 1024.0)]
    );
}
