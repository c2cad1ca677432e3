//! Dynamic reservations and persistent volumes (upstream
//! `reservation_tests`, `persistent_volume_tests`,
//! `reservation_endpoints_tests`, `persistent_volume_endpoints_tests`
//! scenarios): RESERVE, UNRESERVE, CREATE and DESTROY inside ACCEPT from an
//! emulated v0 scheduler, the operator endpoints and v1 calls, what the
//! emulated agent is told to checkpoint, and what offers and `/master/*`
//! show afterwards.

use libprocess::MessageEvent;
use mesos_proto::mesos::internal::{
    CheckpointResourcesMessage, ResourceOffersMessage, RunTaskMessage, ShutdownMessage,
    SlaveRegisteredMessage,
};
use mesos_proto::mesos::resource::{disk_info, reservation_info, DiskInfo, ReservationInfo};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{
    offer, volume, CommandInfo, Filters, FrameworkId, FrameworkInfo, Offer, Resource, SlaveId,
    TaskId, TaskInfo, Volume,
};
use mesos_proto::resources::Resources;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::frameworks::{info, recv, spawn_scheduler, subscribe, Scheduler};
use crate::operator_api::api;
use crate::support::*;

fn reserved(text: &str, role: &str, principal: &str) -> Vec<Resource> {
    Resources::parse(text, "*")
        .unwrap()
        .push_reservation(&ReservationInfo {
            r#type: Some(reservation_info::Type::Dynamic as i32),
            role: Some(role.into()),
            principal: Some(principal.into()),
            ..Default::default()
        })
        .unwrap()
        .to_vec()
}

fn volume(id: &str, size: &str, role: &str) -> Resource {
    let mut disk = reserved(&format!("disk:{size}"), role, "ops").remove(0);
    disk.disk = Some(DiskInfo {
        persistence: Some(disk_info::Persistence {
            id: id.into(),
            principal: Some("ops".into()),
        }),
        volume: Some(Volume {
            container_path: "data".into(),
            mode: volume::Mode::Rw as i32,
            ..Default::default()
        }),
        source: None,
    });
    disk
}

fn operation(kind: offer::operation::Type, resources: Vec<Resource>) -> offer::Operation {
    let mut operation = offer::Operation {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    match kind {
        offer::operation::Type::Reserve => {
            operation.reserve = Some(offer::operation::Reserve {
                resources,
                source: vec![],
            })
        }
        offer::operation::Type::Unreserve => {
            operation.unreserve = Some(offer::operation::Unreserve { resources })
        }
        offer::operation::Type::Create => {
            operation.create = Some(offer::operation::Create { volumes: resources })
        }
        offer::operation::Type::Destroy => {
            operation.destroy = Some(offer::operation::Destroy { volumes: resources })
        }
        _ => unreachable!("not a checkpointed operation"),
    }
    operation
}

fn launch(tasks: Vec<TaskInfo>) -> offer::Operation {
    offer::Operation {
        r#type: Some(offer::operation::Type::Launch as i32),
        launch: Some(offer::operation::Launch { task_infos: tasks }),
        ..Default::default()
    }
}

fn accept(framework: &FrameworkId, offer: &Offer, operations: Vec<offer::Operation>) -> Call {
    Call {
        framework_id: Some(framework.clone()),
        r#type: Some(call::Type::Accept as i32),
        accept: Some(call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations,
            filters: Some(Filters {
                refuse_seconds: Some(0.0),
            }),
        }),
        ..Default::default()
    }
}

fn send(scheduler: &libprocess::PID<Scheduler>, master: &libprocess::UPID, call: Call) {
    let to = master.clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &call));
}

async fn next_offer(rx: &mut UnboundedReceiver<MessageEvent>) -> Offer {
    loop {
        let event = recv(rx).await;
        if event.name == "mesos.internal.ResourceOffersMessage" {
            return decode::<ResourceOffersMessage>(&event).offers.remove(0);
        }
    }
}

async fn next_named(rx: &mut UnboundedReceiver<MessageEvent>, name: &str) -> MessageEvent {
    loop {
        let event = next(rx).await;
        if event.name == name {
            return event;
        }
    }
}

/// A master, an agent with `cpus:2;mem:1024;disk:1024` and a framework
/// of role `web` holding the first offer.
struct Cluster {
    runtime: libprocess::Runtime,
    _master: libprocess::PID<mesos_master::master::Master>,
    master_upid: libprocess::UPID,
    agent_rx: UnboundedReceiver<MessageEvent>,
    slave_id: SlaveId,
    scheduler: libprocess::PID<Scheduler>,
    rx: UnboundedReceiver<MessageEvent>,
    framework_id: FrameworkId,
    offer: Offer,
}

fn web_framework(principal: Option<&str>) -> FrameworkInfo {
    let mut framework = info(None, 0.0);
    #[allow(deprecated)]
    {
        framework.role = Some("web".into());
    }
    framework.principal = principal.map(str::to_string);
    framework
}

async fn cluster(framework: FrameworkInfo) -> Cluster {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    let mut slave = slave_info("agent.example");
    slave.resources = Resources::parse("cpus:2;mem:1024;disk:1024", "*")
        .unwrap()
        .to_vec();
    register_with(&agent, master.upid(), "1.11.0", slave);
    let slave_id = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await).slave_id;
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), framework, false);
    let framework_id =
        decode::<mesos_proto::mesos::internal::FrameworkRegisteredMessage>(&recv(&mut rx).await)
            .framework_id;
    let offer = next_offer(&mut rx).await;
    let master_upid = master.upid().clone();
    Cluster {
        runtime,
        _master: master,
        master_upid,
        agent_rx,
        slave_id,
        scheduler,
        rx,
        framework_id,
        offer,
    }
}

/// `POST` a form to the master; returns the status and body.
async fn post_form(
    addr: std::net::SocketAddrV4,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head[9..12].parse().unwrap(), body.to_string())
}

async fn get_json(addr: std::net::SocketAddrV4, path: &str) -> Value {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body = &response[end..];
    // Chunked or not, the JSON document is between the outer braces.
    let text = String::from_utf8_lossy(body);
    let start = text.find('{').unwrap();
    let stop = text.rfind('}').unwrap();
    serde_json::from_str(&text[start..=stop]).unwrap()
}

fn json_array(resources: &[Resource]) -> String {
    Value::Array(resources.iter().map(mesos_proto::json::to_value).collect()).to_string()
}

#[actix_rt::test]
async fn a_framework_reserves_creates_a_volume_and_launches_on_it() {
    let mut c = cluster(web_framework(None)).await;
    let cpus = reserved("cpus:1;mem:128", "web", "ops");
    let disk = reserved("disk:512", "web", "ops");
    let v1 = volume("v1", "512", "web");
    let task = TaskInfo {
        name: "writer".into(),
        task_id: TaskId { value: "w".into() },
        slave_id: c.offer.slave_id.clone(),
        resources: cpus.iter().cloned().chain([v1.clone()]).collect(),
        command: Some(CommandInfo {
            value: Some("echo hi > data/f".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    send(
        &c.scheduler,
        &c.master_upid,
        accept(
            &c.framework_id,
            &c.offer,
            vec![
                operation(
                    offer::operation::Type::Reserve,
                    cpus.iter().chain(&disk).cloned().collect(),
                ),
                operation(offer::operation::Type::Create, vec![v1.clone()]),
                launch(vec![task]),
            ],
        ),
    );

    // The agent is told to checkpoint after each operation; the last set
    // holds the reservation and the volume.
    let first: CheckpointResourcesMessage =
        decode(&next_named(&mut c.agent_rx, "mesos.internal.CheckpointResourcesMessage").await);
    assert_eq!(
        Resources::from(first.resources),
        Resources::from(cpus.iter().chain(&disk).cloned().collect::<Vec<_>>())
    );
    let second: CheckpointResourcesMessage =
        decode(&next_named(&mut c.agent_rx, "mesos.internal.CheckpointResourcesMessage").await);
    let checkpointed = Resources::from(second.resources);
    assert_eq!(
        checkpointed.persistent_volumes(),
        Resources::from(v1.clone())
    );
    assert_eq!(
        checkpointed,
        Resources::from(cpus.iter().cloned().chain([v1.clone()]).collect::<Vec<_>>())
    );
    // No allocation info in what the agent checkpoints.
    assert!(checkpointed.iter().all(|r| r.allocation_info.is_none()));

    // The task runs on the reserved resources and the volume.
    let run: RunTaskMessage =
        decode(&next_named(&mut c.agent_rx, "mesos.internal.RunTaskMessage").await);
    let used = Resources::from(run.task.resources.clone());
    assert_eq!(used.persistent_volumes().len(), 1);
    assert_eq!(used.reserved(Some("web")).cpus(), Some(1.0));

    // What is left comes back reserved where it was reserved.
    let offer = next_offer(&mut c.rx).await;
    let offered = Resources::from(offer.resources.clone());
    assert_eq!(offered.unreserved().cpus(), Some(1.0));
    assert_eq!(offered.unreserved().disk(), Some(512 << 20));
    assert!(
        offered.persistent_volumes().is_empty(),
        "the volume is in use"
    );

    // The endpoints show the reservation and the volume.
    let addr = c.runtime.address();
    let slaves = get_json(addr, "/master/slaves").await;
    let agent = &slaves["slaves"][0];
    assert_eq!(agent["reserved_resources"]["web"]["cpus"], json!(1.0));
    assert_eq!(agent["reserved_resources"]["web"]["disk"], json!(512.0));
    assert_eq!(agent["unreserved_resources"]["cpus"], json!(1.0));
    let full = agent["reserved_resources_full"]["web"].as_array().unwrap();
    assert!(
        full.iter()
            .any(|r| r["disk"]["persistence"]["id"] == json!("v1")
                && r["reservations"][0]["role"] == json!("web")
                && r["reservations"][0]["type"] == json!("DYNAMIC")),
        "{full:?}"
    );
    let roles = get_json(addr, "/master/roles").await;
    let web = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == json!("web"))
        .cloned()
        .unwrap();
    assert_eq!(web["reserved"]["cpus"], json!(1.0), "{web}");
}

#[actix_rt::test]
async fn reserved_resources_are_offered_to_their_role_with_the_reservation() {
    let mut c = cluster(web_framework(Some("ops"))).await;
    let cpus = reserved("cpus:1", "web", "ops");
    send(
        &c.scheduler,
        &c.master_upid,
        accept(
            &c.framework_id,
            &c.offer,
            vec![operation(offer::operation::Type::Reserve, cpus.clone())],
        ),
    );
    next_named(&mut c.agent_rx, "mesos.internal.CheckpointResourcesMessage").await;
    let offer = next_offer(&mut c.rx).await;
    let offered = Resources::from(offer.resources.clone());
    let mut expected = Resources::from(cpus.clone());
    expected.allocate("web");
    assert!(offered.contains(&expected), "{offered}");
    assert_eq!(offered.reserved(Some("web")).cpus(), Some(1.0));

    // Unreserving gives them back unreserved.
    send(
        &c.scheduler,
        &c.master_upid,
        accept(
            &c.framework_id,
            &offer,
            vec![operation(offer::operation::Type::Unreserve, cpus)],
        ),
    );
    let message: CheckpointResourcesMessage =
        decode(&next_named(&mut c.agent_rx, "mesos.internal.CheckpointResourcesMessage").await);
    assert!(message.resources.is_empty());
    let offer = next_offer(&mut c.rx).await;
    let offered = Resources::from(offer.resources.clone());
    assert!(offered.reserved(None).is_empty(), "{offered}");
    assert_eq!(offered.cpus(), Some(2.0));
}

#[actix_rt::test]
async fn invalid_operations_are_dropped_and_the_rest_of_the_accept_applies() {
    let mut c = cluster(web_framework(Some("ops"))).await;
    let offer = c.offer.clone();
    send(
        &c.scheduler,
        &c.master_upid,
        accept(
            &c.framework_id,
            &offer,
            vec![
                // A principal other than the framework's: dropped.
                operation(
                    offer::operation::Type::Reserve,
                    reserved("cpus:1", "web", "someone-else"),
                ),
                // A role the framework does not have: dropped.
                operation(
                    offer::operation::Type::Reserve,
                    reserved("cpus:1", "db", "ops"),
                ),
                // Unreserving unreserved resources: dropped.
                operation(
                    offer::operation::Type::Unreserve,
                    Resources::parse("cpus:1", "*").unwrap().to_vec(),
                ),
                // Destroying a volume that does not exist: dropped.
                operation(
                    offer::operation::Type::Destroy,
                    vec![volume("nope", "16", "web")],
                ),
                // More than offered: dropped.
                operation(
                    offer::operation::Type::Reserve,
                    reserved("cpus:8", "web", "ops"),
                ),
                // Valid: applied.
                operation(
                    offer::operation::Type::Reserve,
                    reserved("mem:64", "web", "ops"),
                ),
            ],
        ),
    );
    let message: CheckpointResourcesMessage =
        decode(&next_named(&mut c.agent_rx, "mesos.internal.CheckpointResourcesMessage").await);
    assert_eq!(
        Resources::from(message.resources),
        Resources::from(reserved("mem:64", "web", "ops"))
    );
    let offer = next_offer(&mut c.rx).await;
    let offered = Resources::from(offer.resources.clone());
    assert_eq!(offered.reserved(Some("web")).mem(), Some(64 << 20));
    assert_eq!(offered.reserved(Some("web")).cpus(), None);
}

#[actix_rt::test]
async fn operator_endpoints_reserve_create_destroy_and_unreserve() {
    let mut c = cluster(web_framework(None)).await;
    let addr = c.runtime.address();
    let slave_id = c.slave_id.value.clone();
    let cpus = reserved("cpus:1;disk:256", "web", "ops");

    // Malformed requests are 400s with upstream's messages.
    let (status, body) = post_form(addr, "/master/reserve", &[("resources", "[]")]).await;
    assert_eq!(
        (status, body.as_str()),
        (400, "Missing 'slaveId' query parameter in the request body")
    );
    let (status, body) = post_form(addr, "/master/reserve", &[("slaveId", &slave_id)]).await;
    assert_eq!(
        (status, body.as_str()),
        (
            400,
            "Missing 'resources' query parameter in the request body"
        )
    );
    let (status, body) = post_form(
        addr,
        "/master/reserve",
        &[("slaveId", &slave_id), ("resources", "{nope")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with("Error in parsing 'resources' query parameter"),
        "{body}"
    );
    let (status, body) = post_form(
        addr,
        "/master/reserve",
        &[("slaveId", "unknown"), ("resources", &json_array(&cpus))],
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (400, "No agent found with specified ID")
    );
    let unreserved = Resources::parse("cpus:1", "*").unwrap().to_vec();
    let (status, body) = post_form(
        addr,
        "/master/reserve",
        &[
            ("slaveId", &slave_id),
            ("resources", &json_array(&unreserved)),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with("Invalid RESERVE operation: Resource cpus:1 is not dynamically reserved"),
        "{body}"
    );
    let (status, _) = post_form(addr, "/master/reserve", &[("slaveId", &slave_id)]).await;
    assert_eq!(status, 400);

    // The framework holds the whole agent: the master rescinds its offer
    // to make the reservation.
    let (status, body) = post_form(
        addr,
        "/master/reserve",
        &[("slaveId", &slave_id), ("resources", &json_array(&cpus))],
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let rescinded = loop {
        let event = recv(&mut c.rx).await;
        if event.name == "mesos.internal.RescindResourceOfferMessage" {
            break event;
        }
    };
    assert_eq!(
        decode::<mesos_proto::mesos::internal::RescindResourceOfferMessage>(&rescinded).offer_id,
        c.offer.id
    );
    let message: CheckpointResourcesMessage =
        decode(&next_named(&mut c.agent_rx, "mesos.internal.CheckpointResourcesMessage").await);
    assert_eq!(
        Resources::from(message.resources),
        Resources::from(cpus.clone())
    );

    // More than the agent has is a conflict.
    let (status, _) = post_form(
        addr,
        "/master/reserve",
        &[
            ("slaveId", &slave_id),
            ("resources", &json_array(&reserved("cpus:5", "web", "ops"))),
        ],
    )
    .await;
    assert_eq!(status, 409);

    // A volume on the reserved disk, then its destruction.
    let v1 = volume("v1", "256", "web");
    let (status, body) = post_form(
        addr,
        "/master/create-volumes",
        &[
            ("slaveId", &slave_id),
            ("volumes", &json_array(std::slice::from_ref(&v1))),
        ],
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let message: CheckpointResourcesMessage =
        decode(&next_named(&mut c.agent_rx, "mesos.internal.CheckpointResourcesMessage").await);
    assert_eq!(
        Resources::from(message.resources).persistent_volumes(),
        Resources::from(v1.clone())
    );
    // The same persistence id again is refused.
    let (status, body) = post_form(
        addr,
        "/master/create-volumes",
        &[
            ("slaveId", &slave_id),
            ("volumes", &json_array(std::slice::from_ref(&v1))),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("Persistence ID 'v1' is not unique"), "{body}");

    let (status, body) = post_form(
        addr,
        "/master/destroy-volumes",
        &[
            ("slaveId", &slave_id),
            ("volumes", &json_array(std::slice::from_ref(&v1))),
        ],
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let message: CheckpointResourcesMessage =
        decode(&next_named(&mut c.agent_rx, "mesos.internal.CheckpointResourcesMessage").await);
    assert_eq!(
        Resources::from(message.resources),
        Resources::from(cpus.clone())
    );

    // The v1 operator API does the same.
    let call = json!({
        "type": "UNRESERVE_RESOURCES",
        "unreserve_resources": {
            "agent_id": {"value": slave_id},
            "resources": cpus.iter().map(mesos_proto::json::to_value).collect::<Vec<_>>(),
        }
    });
    let (status, body) = api(addr, &call.to_string(), "application/json").await;
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    let message: CheckpointResourcesMessage =
        decode(&next_named(&mut c.agent_rx, "mesos.internal.CheckpointResourcesMessage").await);
    assert!(message.resources.is_empty());
    // The master keeps the agent's JSON between documents: the
    // reservation below must show in the next one all the same.
    let state = get_json(addr, "/master/state?before=reserve").await;
    assert_eq!(state["slaves"][0]["reserved_resources"], json!({}));
    let call = json!({
        "type": "RESERVE_RESOURCES",
        "reserve_resources": {
            "agent_id": {"value": slave_id},
            "resources": reserved("mem:32", "web", "ops").iter().map(mesos_proto::json::to_value).collect::<Vec<_>>(),
        }
    });
    let (status, body) = api(addr, &call.to_string(), "application/json").await;
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    let state = get_json(addr, "/master/state").await;
    assert_eq!(
        state["slaves"][0]["reserved_resources"]["web"]["mem"],
        json!(32.0)
    );
}

#[actix_rt::test]
async fn agents_bring_their_checkpointed_resources_when_they_register() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    let mut slave = slave_info("agent.example");
    slave.resources = Resources::parse("cpus:2;mem:1024;disk:1024", "*")
        .unwrap()
        .to_vec();
    // In the pre-1.4 format, as an old agent checkpoints them.
    let mut checkpointed: Vec<Resource> = reserved("cpus:1", "web", "ops")
        .into_iter()
        .chain([volume("v1", "100", "web")])
        .collect();
    for resource in &mut checkpointed {
        mesos_proto::resources::convert_resource_format(
            resource,
            mesos_proto::resources::ResourceFormat::PreReservationRefinement,
        )
        .unwrap();
    }
    let message = mesos_proto::mesos::internal::RegisterSlaveMessage {
        slave: slave.clone(),
        checkpointed_resources: checkpointed.clone(),
        version: Some("1.11.0".into()),
        ..Default::default()
    };
    let to = master.upid().clone();
    agent.dispatch(move |this, _| this.base.send(&to, &message));
    decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await);
    let state = get_json(runtime.address(), "/master/state").await;
    let agent_json = &state["slaves"][0];
    assert_eq!(agent_json["reserved_resources"]["web"]["cpus"], json!(1.0));
    assert_eq!(
        agent_json["reserved_resources"]["web"]["disk"],
        json!(100.0)
    );
    assert_eq!(agent_json["unreserved_resources"]["disk"], json!(924.0));
    assert_eq!(agent_json["resources"]["cpus"], json!(2.0));

    // A framework of the role is offered the volume.
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), web_framework(None), false);
    recv(&mut rx).await;
    let offer = next_offer(&mut rx).await;
    let offered = Resources::from(offer.resources.clone());
    assert_eq!(offered.persistent_volumes().len(), 1, "{offered}");

    // An agent whose checkpointed resources do not fit is refused.
    let (other, mut other_rx) = spawn_agent(&runtime, "slave(2)");
    let message = mesos_proto::mesos::internal::RegisterSlaveMessage {
        slave: SlaveInfo {
            resources: Resources::parse("cpus:1", "*").unwrap().to_vec(),
            ..slave
        },
        checkpointed_resources: checkpointed,
        version: Some("1.11.0".into()),
        ..Default::default()
    };
    let to = master.upid().clone();
    other.dispatch(move |this, _| this.base.send(&to, &message));
    let event = next_named(&mut other_rx, "mesos.internal.ShutdownMessage").await;
    let shutdown: ShutdownMessage = decode(&event);
    assert!(
        shutdown.message().contains("incompatible"),
        "{:?}",
        shutdown.message
    );
}

use mesos_proto::mesos::SlaveInfo;

#[actix_rt::test]
async fn reservations_survive_a_master_failover_through_reregistering_agents() {
    let dir = tempfile::tempdir().unwrap();
    let work_dir = dir.path().to_str().unwrap().to_string();
    let runtime = runtime();
    let flags = flags(&[
        "--registry=replicated_log",
        &format!("--work_dir={work_dir}"),
    ]);
    let store = || Box::new(mesos_master::registrar::FileStore::new(dir.path()));
    let master = start_master(&runtime, flags.clone(), store());
    recovered(&master).await;
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    let mut slave = slave_info("agent.example");
    slave.resources = Resources::parse("cpus:2;mem:1024;disk:1024", "*")
        .unwrap()
        .to_vec();
    register_with(&agent, master.upid(), "1.11.0", slave.clone());
    let slave_id = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await).slave_id;

    // An operator reserves and creates a volume; the agent is told.
    let checkpointed: Vec<Resource> = reserved("cpus:1", "web", "ops")
        .into_iter()
        .chain(reserved("disk:100", "web", "ops"))
        .collect();
    let (status, body) = post_form(
        runtime.address(),
        "/master/reserve",
        &[
            ("slaveId", &slave_id.value),
            ("resources", &json_array(&checkpointed)),
        ],
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let v1 = volume("v1", "100", "web");
    let (status, body) = post_form(
        runtime.address(),
        "/master/create-volumes",
        &[
            ("slaveId", &slave_id.value),
            ("volumes", &json_array(std::slice::from_ref(&v1))),
        ],
    )
    .await;
    assert_eq!(status, 202, "{body}");
    next_named(&mut agent_rx, "mesos.internal.CheckpointResourcesMessage").await;
    let told: CheckpointResourcesMessage =
        decode(&next_named(&mut agent_rx, "mesos.internal.CheckpointResourcesMessage").await);

    // A new master knows the agent from the registry, but not its
    // resources: the agent brings them when it re-registers.
    let done = runtime.wait("master");
    master.terminate();
    done.await;
    let master = start_master(&runtime, flags, store());
    recovered(&master).await;
    slave.id = Some(slave_id.clone());
    let message = mesos_proto::mesos::internal::ReregisterSlaveMessage {
        slave,
        checkpointed_resources: told.resources,
        version: Some("1.11.0".into()),
        ..Default::default()
    };
    let to = master.upid().clone();
    agent.dispatch(move |this, _| this.base.send(&to, &message));
    next_named(&mut agent_rx, "mesos.internal.SlaveReregisteredMessage").await;
    let state = get_json(runtime.address(), "/master/state").await;
    let agent_json = &state["slaves"][0];
    assert_eq!(agent_json["reserved_resources"]["web"]["cpus"], json!(1.0));
    assert_eq!(
        agent_json["reserved_resources"]["web"]["disk"],
        json!(100.0)
    );
    let slaves = get_json(runtime.address(), "/master/slaves").await;
    let full = slaves["slaves"][0]["reserved_resources_full"]["web"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        full.iter()
            .any(|r| r["disk"]["persistence"]["id"] == json!("v1")),
        "{full:?}"
    );
}

#[actix_rt::test]
async fn a_v0_framework_cannot_ask_for_operation_feedback() {
    let mut c = cluster(web_framework(Some("ops"))).await;
    let mut reserve = operation(
        offer::operation::Type::Reserve,
        reserved("cpus:1", "web", "ops"),
    );
    reserve.id = Some(mesos_proto::mesos::OperationId { value: "op".into() });
    send(
        &c.scheduler,
        &c.master_upid,
        accept(&c.framework_id, &c.offer, vec![reserve]),
    );
    let error = loop {
        let event = recv(&mut c.rx).await;
        if event.name == "mesos.internal.FrameworkErrorMessage" {
            break decode::<mesos_proto::mesos::internal::FrameworkErrorMessage>(&event);
        }
    };
    assert_eq!(
        error.message,
        "The 'id' field was set in an offer operation, but operation feedback is not \
         supported for the SchedulerDriver API; please use the HTTP scheduler API for this \
         feature"
    );
    // Nothing was reserved.
    while let Ok(event) = c.agent_rx.try_recv() {
        assert_ne!(event.name, "mesos.internal.CheckpointResourcesMessage");
    }
}
