//! Agent draining and deactivation (upstream `master_draining_tests.cpp`,
//! the scenarios that need no real agent): `DRAIN_AGENT`,
//! `DEACTIVATE_AGENT` and `REACTIVATE_AGENT` against emulated agents and
//! an emulated v0 scheduler, with the agents as `GET_AGENTS`,
//! `/master/slaves` and `/master/state` show them.

use std::net::SocketAddrV4;
use std::time::Duration;

use libprocess::{MessageEvent, Runtime, PID, UPID};
use mesos_master::master::Master;
use mesos_master::registrar::{FileStore, InMemoryStore};
use mesos_proto::mesos::internal::{
    DrainSlaveMessage, FrameworkRegisteredMessage, RegisterSlaveMessage, ReregisterSlaveMessage,
    RescindResourceOfferMessage, ShutdownMessage, SlaveRegisteredMessage, StatusUpdate,
    StatusUpdateAcknowledgementMessage, StatusUpdateMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{
    slave_info, task_status, FrameworkId, Offer, SlaveId, SlaveInfo, TaskId, TaskState, TaskStatus,
};
use mesos_proto::resources::Resources;
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::frameworks::{info, recv, spawn_scheduler, subscribe, Scheduler};
use crate::offers::{accept, next_offers, next_update, send_call, task};
use crate::support::*;

/// An agent that can be drained: `AGENT_DRAINING` among its capabilities.
fn drainable(hostname: &str) -> (SlaveInfo, Vec<slave_info::Capability>) {
    let mut slave = slave_info(hostname);
    slave.resources = Resources::parse("cpus:2;mem:1024", "*").unwrap().to_vec();
    let capabilities = [
        slave_info::capability::Type::MultiRole,
        slave_info::capability::Type::AgentDraining,
    ]
    .into_iter()
    .map(|t| slave_info::Capability {
        r#type: Some(t as i32),
    })
    .collect();
    (slave, capabilities)
}

/// Registers a drainable agent on `hostname`; returns its id.
async fn register_drainable(
    agent: &PID<Agent>,
    master: &UPID,
    rx: &mut UnboundedReceiver<MessageEvent>,
    hostname: &str,
) -> String {
    let (slave, agent_capabilities) = drainable(hostname);
    let message = RegisterSlaveMessage {
        slave,
        version: Some("1.11.0".into()),
        agent_capabilities,
        ..Default::default()
    };
    let to = master.clone();
    agent.dispatch(move |this, _| this.base.send(&to, &message));
    decode::<SlaveRegisteredMessage>(&next(rx).await)
        .slave_id
        .value
}

/// Re-registers drainable agent `id` on `hostname`, reporting no task.
fn reregister_drainable(agent: &PID<Agent>, master: &UPID, id: &str, hostname: &str) {
    let (mut slave, agent_capabilities) = drainable(hostname);
    slave.id = Some(SlaveId { value: id.into() });
    let message = ReregisterSlaveMessage {
        slave,
        version: Some("1.11.0".into()),
        agent_capabilities,
        ..Default::default()
    };
    let to = master.clone();
    agent.dispatch(move |this, _| this.base.send(&to, &message));
}

/// The JSON body of `call` for agent `id`: `{"type": kind, field:
/// {"agent_id": ..}}` with `extra` fields beside `agent_id`.
fn agent_call(kind: &str, field: &str, id: &str, extra: Value) -> String {
    let mut body = json!({"agent_id": {"value": id}});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    json!({"type": kind, field: body}).to_string()
}

/// Posts the JSON `body` to `/api/v1`; returns the status and the body.
async fn post(addr: SocketAddrV4, body: &str) -> (u16, String) {
    let (status, body) = crate::operator_api::api(addr, body, "application/json").await;
    (status, String::from_utf8(body).unwrap())
}

async fn drain(addr: SocketAddrV4, id: &str, extra: Value) -> (u16, String) {
    post(addr, &agent_call("DRAIN_AGENT", "drain_agent", id, extra)).await
}

async fn deactivate(addr: SocketAddrV4, id: &str) -> (u16, String) {
    let body = agent_call("DEACTIVATE_AGENT", "deactivate_agent", id, json!({}));
    post(addr, &body).await
}

async fn reactivate(addr: SocketAddrV4, id: &str) -> (u16, String) {
    let body = agent_call("REACTIVATE_AGENT", "reactivate_agent", id, json!({}));
    post(addr, &body).await
}

/// `GET_AGENTS` as JSON: the `get_agents` object.
async fn get_agents(addr: SocketAddrV4) -> Value {
    let (status, body) = post(addr, r#"{"type":"GET_AGENTS"}"#).await;
    assert_eq!(status, 200, "{body}");
    let mut response: Value = serde_json::from_str(&body).unwrap();
    response["get_agents"].take()
}

/// Agent `id` in `GET_AGENTS`.
async fn v1_agent(addr: SocketAddrV4, id: &str) -> Value {
    let agents = get_agents(addr).await;
    agents["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["agent_info"]["id"]["value"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("agent {id} not in {agents}"))
}

/// Agent `id` in the agents of the state endpoint `path`.
async fn state_agent(addr: SocketAddrV4, path: &str, id: &str) -> Value {
    let json = crate::state::get(addr, path).await.json();
    json["slaves"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("agent {id} not in {path}: {json}"))
}

/// Waits until agent `id` shows drain state `state` in `GET_AGENTS` (the
/// master sends no message when it marks an agent drained).
async fn await_drain_state(addr: SocketAddrV4, id: &str, state: &str) -> Value {
    for _ in 0..500 {
        let agent = v1_agent(addr, id).await;
        if agent["drain_info"]["state"] == state {
            return agent;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("agent {id} never became {state}");
}

/// The next message the agent gets named `name` (others skipped).
async fn next_named(rx: &mut UnboundedReceiver<MessageEvent>, name: &str) -> MessageEvent {
    loop {
        let event = next(rx).await;
        if event.name == name {
            return event;
        }
    }
}

/// A master, one drainable agent and a subscribed v0 framework holding
/// the agent's offer.
struct Cluster {
    runtime: Runtime,
    master: PID<Master>,
    agent: PID<Agent>,
    agent_rx: UnboundedReceiver<MessageEvent>,
    id: String,
    scheduler: PID<Scheduler>,
    rx: UnboundedReceiver<MessageEvent>,
    framework_id: FrameworkId,
    offer: Offer,
}

impl Cluster {
    async fn start(extra_flags: &[&str]) -> Self {
        let runtime = runtime();
        let master = start_master(
            &runtime,
            flags(extra_flags),
            Box::<InMemoryStore>::default(),
        );
        recovered(&master).await;
        let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
        let id = register_drainable(&agent, master.upid(), &mut agent_rx, "a1.example").await;
        let (scheduler, mut rx) = spawn_scheduler(&runtime);
        subscribe(&scheduler, master.upid(), info(None, 0.0), false);
        let framework_id = decode::<FrameworkRegisteredMessage>(&recv(&mut rx).await).framework_id;
        let offer = next_offers(&mut rx).await.offers[0].clone();
        Self {
            runtime,
            master,
            agent,
            agent_rx,
            id,
            scheduler,
            rx,
            framework_id,
            offer,
        }
    }

    fn addr(&self) -> SocketAddrV4 {
        self.runtime.address()
    }

    fn slave_id(&self) -> SlaveId {
        SlaveId {
            value: self.id.clone(),
        }
    }

    /// Launches task `t1` on the offer; returns once the agent is told.
    async fn launch(&mut self) {
        let offer = self.offer.clone();
        send_call(
            &self.scheduler,
            self.master.upid(),
            accept(
                &self.framework_id,
                &[&offer],
                vec![task("t1", &offer, "cpus:1;mem:128")],
                0.0,
            ),
        );
        next_named(&mut self.agent_rx, "mesos.internal.RunTaskMessage").await;
    }

    /// The agent reports `state` for task `t1`; the framework gets it and
    /// acknowledges it, and the acknowledgement reaches the agent.
    async fn update_and_acknowledge(&mut self, state: TaskState) {
        let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
        let message = StatusUpdateMessage {
            update: StatusUpdate {
                framework_id: self.framework_id.clone(),
                executor_id: None,
                slave_id: Some(self.slave_id()),
                status: TaskStatus {
                    task_id: TaskId { value: "t1".into() },
                    state: state as i32,
                    source: Some(task_status::Source::Executor as i32),
                    uuid: Some(uuid.clone()),
                    ..Default::default()
                },
                timestamp: 1.0,
                uuid: Some(uuid.clone()),
                latest_state: None,
            },
            pid: Some(self.agent.upid().to_string()),
        };
        let to = self.master.upid().clone();
        self.agent
            .dispatch(move |this, _| this.base.send(&to, &message));
        assert_eq!(next_update(&mut self.rx).await.update.status.state(), state);
        send_call(
            &self.scheduler,
            self.master.upid(),
            Call {
                framework_id: Some(self.framework_id.clone()),
                r#type: Some(call::Type::Acknowledge as i32),
                acknowledge: Some(call::Acknowledge {
                    slave_id: self.slave_id(),
                    task_id: TaskId { value: "t1".into() },
                    uuid,
                }),
                ..Default::default()
            },
        );
        let ack: StatusUpdateAcknowledgementMessage = decode(
            &next_named(
                &mut self.agent_rx,
                "mesos.internal.StatusUpdateAcknowledgementMessage",
            )
            .await,
        );
        assert_eq!(ack.task_id.value, "t1");
    }

    /// Waits for an offer of the whole agent (offers made before its task
    /// ended, still queued, hold less).
    async fn await_offer_of_the_agent(&mut self) {
        loop {
            let offers = next_offers(&mut self.rx).await;
            let whole = offers.offers.iter().any(|o| {
                o.slave_id.value == self.id
                    && Resources::from(o.resources.clone()).cpus() == Some(2.0)
            });
            if whole {
                return;
            }
        }
    }
}

#[actix_rt::test]
async fn a_deactivated_agent_gets_no_offers_until_it_is_reactivated() {
    let mut cluster = Cluster::start(&["--allocation_interval=50ms"]).await;
    let addr = cluster.addr();
    let id = cluster.id.clone();

    assert_eq!(deactivate(addr, &id).await, (200, String::new()));
    // The outstanding offer is rescinded.
    loop {
        let event = recv(&mut cluster.rx).await;
        if event.name == "mesos.internal.RescindResourceOfferMessage" {
            let rescind: RescindResourceOfferMessage = decode(&event);
            assert_eq!(rescind.offer_id, cluster.offer.id);
            break;
        }
    }
    let agent = v1_agent(addr, &id).await;
    assert_eq!(agent["active"], false);
    assert_eq!(agent["deactivated"], true);
    assert!(agent.get("drain_info").is_none(), "{agent}");
    let slave = state_agent(addr, "/master/slaves", &id).await;
    assert_eq!(
        (&slave["active"], &slave["deactivated"]),
        (&json!(false), &json!(true))
    );
    assert!(slave.get("drain_info").is_none(), "{slave}");

    // No offer over several allocation intervals.
    let offers = tokio::time::timeout(Duration::from_millis(400), next_offers(&mut cluster.rx));
    assert!(offers.await.is_err(), "a deactivated agent was offered");

    assert_eq!(reactivate(addr, &id).await, (200, String::new()));
    cluster.await_offer_of_the_agent().await;
    let agent = v1_agent(addr, &id).await;
    assert_eq!(
        (&agent["active"], &agent["deactivated"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(
        reactivate(addr, &id).await,
        (400, "Agent is not deactivated".to_string())
    );
}

#[actix_rt::test]
async fn a_draining_agent_is_drained_once_its_last_task_is_acknowledged() {
    let mut cluster = Cluster::start(&[]).await;
    let addr = cluster.addr();
    let id = cluster.id.clone();
    cluster.launch().await;
    cluster.update_and_acknowledge(TaskState::TaskRunning).await;

    let grace = json!({"max_grace_period": {"seconds": 10}});
    assert_eq!(drain(addr, &id, grace).await, (200, String::new()));
    let message: DrainSlaveMessage =
        decode(&next_named(&mut cluster.agent_rx, "mesos.internal.DrainSlaveMessage").await);
    assert_eq!(
        message.config.max_grace_period.map(|d| d.nanoseconds),
        Some(10_000_000_000)
    );
    assert_eq!(message.config.mark_gone, Some(false));

    // DRAINING while the task runs, everywhere the agent is shown.
    let draining = json!({
        "state": "DRAINING",
        "config": {"max_grace_period": {"nanoseconds": 10_000_000_000_i64}, "mark_gone": false}
    });
    let agent = v1_agent(addr, &id).await;
    assert_eq!(agent["drain_info"], draining);
    assert_eq!(
        (&agent["active"], &agent["deactivated"]),
        (&json!(false), &json!(true))
    );
    let start = agent["estimated_drain_start_time"]["nanoseconds"]
        .as_i64()
        .unwrap();
    assert!(start > 0 && start % 1_000_000_000 == 0, "{start}");
    for path in ["/master/slaves", "/master/state", "/master/state-summary"] {
        let slave = state_agent(addr, path, &id).await;
        assert_eq!(slave["drain_info"], draining, "{path}");
        assert_eq!(slave["deactivated"], true, "{path}");
        let seconds = slave["estimated_drain_start_time_seconds"]
            .as_f64()
            .unwrap();
        assert_eq!(seconds.trunc() as i64, start / 1_000_000_000, "{path}");
    }
    // The hand-written JSON and protobuf are still the reflection path's.
    crate::operator_api::assert_large_responses_as_reflection(&cluster.master, addr).await;
    crate::state::assert_streamed_as_reference(
        &crate::state::streamed_and_reference(&cluster.master).await,
    );

    assert_eq!(
        reactivate(addr, &id).await,
        (400, "Agent is still in the DRAINING state".to_string())
    );

    // The agent kills the task; once the framework acknowledged the
    // terminal update, nothing is left and the agent is DRAINED.
    cluster.update_and_acknowledge(TaskState::TaskKilled).await;
    let agent = await_drain_state(addr, &id, "DRAINED").await;
    assert_eq!(agent["deactivated"], true);
    assert_eq!(
        state_agent(addr, "/master/slaves", &id).await["drain_info"]["state"],
        "DRAINED"
    );

    // Reactivated, it is offered again and drains no more.
    assert_eq!(reactivate(addr, &id).await, (200, String::new()));
    cluster.await_offer_of_the_agent().await;
    let agent = v1_agent(addr, &id).await;
    assert!(agent.get("drain_info").is_none(), "{agent}");
    assert!(agent.get("estimated_drain_start_time").is_none(), "{agent}");
    assert_eq!(
        (&agent["active"], &agent["deactivated"]),
        (&json!(true), &json!(false))
    );
}

#[actix_rt::test]
async fn an_agent_drained_with_mark_gone_is_marked_gone_once_its_task_is_done() {
    let mut cluster = Cluster::start(&[]).await;
    let addr = cluster.addr();
    let id = cluster.id.clone();
    cluster.launch().await;
    cluster.update_and_acknowledge(TaskState::TaskRunning).await;

    let mark_gone = json!({"mark_gone": true});
    assert_eq!(drain(addr, &id, mark_gone).await, (200, String::new()));
    let message: DrainSlaveMessage =
        decode(&next_named(&mut cluster.agent_rx, "mesos.internal.DrainSlaveMessage").await);
    assert_eq!(message.config.mark_gone, Some(true));
    assert_eq!(message.config.max_grace_period, None);

    cluster
        .update_and_acknowledge(TaskState::TaskGoneByOperator)
        .await;
    let shutdown: ShutdownMessage =
        decode(&next_named(&mut cluster.agent_rx, "mesos.internal.ShutdownMessage").await);
    assert_eq!(
        shutdown.message.as_deref(),
        Some("Agent has been marked gone")
    );
    assert!(get_agents(addr).await.get("agents").is_none());
}

#[actix_rt::test]
async fn an_idle_agent_drained_with_mark_gone_is_marked_gone_at_once() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let addr = runtime.address();
    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");
    let id = register_drainable(&agent, master.upid(), &mut rx, "a1.example").await;

    assert_eq!(
        drain(addr, &id, json!({"mark_gone": true})).await,
        (200, String::new())
    );
    assert_eq!(next(&mut rx).await.name, "mesos.internal.DrainSlaveMessage");
    let shutdown: ShutdownMessage = decode(&next(&mut rx).await);
    assert_eq!(
        shutdown.message.as_deref(),
        Some("Agent has been marked gone")
    );
    // Gone is final: draining it again finds no agent.
    assert_eq!(
        drain(addr, &id, json!({})).await,
        (400, "Unknown agent".to_string())
    );
}

#[actix_rt::test]
async fn calls_for_unknown_or_incapable_agents_are_refused() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let addr = runtime.address();

    assert_eq!(
        post(addr, r#"{"type":"DRAIN_AGENT"}"#).await,
        (400, "Expecting 'drain_agent' to be present".to_string())
    );
    assert_eq!(
        post(addr, r#"{"type":"DEACTIVATE_AGENT"}"#).await,
        (
            400,
            "Expecting 'deactivate_agent' to be present".to_string()
        )
    );
    let unknown = (400, "Unknown agent".to_string());
    assert_eq!(drain(addr, "nobody-S1", json!({})).await, unknown);
    assert_eq!(deactivate(addr, "nobody-S1").await, unknown);
    assert_eq!(
        reactivate(addr, "nobody-S1").await,
        (400, "Agent is not deactivated".to_string())
    );

    // An agent that does not say it can drain is not drained (it can
    // still be deactivated).
    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");
    register(&agent, master.upid(), "1.11.0");
    let id = decode::<SlaveRegisteredMessage>(&next(&mut rx).await)
        .slave_id
        .value;
    assert_eq!(
        drain(addr, &id, json!({})).await,
        (400, format!("Agent {id} is not capable of draining"))
    );
    assert_eq!(deactivate(addr, &id).await, (200, String::new()));

    // Nor is an agent of a machine in the maintenance schedule.
    let (agent, mut rx) = spawn_agent(&runtime, "slave(2)");
    let id = register_drainable(&agent, master.upid(), &mut rx, "a2.example").await;
    let machine = json!({"hostname": "a2.example", "ip": "127.0.0.1"});
    let schedule = json!({
        "type": "UPDATE_MAINTENANCE_SCHEDULE",
        "update_maintenance_schedule": {"schedule": {"windows": [{
            "machine_ids": [machine],
            "unavailability": {"start": {"nanoseconds": 1_000_000_000_000_000_000_i64}}
        }]}}
    });
    assert_eq!(post(addr, &schedule.to_string()).await.0, 200);
    assert_eq!(
        drain(addr, &id, json!({})).await,
        (
            400,
            format!("Agent {id} is part of a maintenance schedule under Machine {machine}")
        )
    );
}

#[actix_rt::test]
async fn a_disconnected_agent_is_told_to_drain_when_it_reregisters() {
    let master_runtime = runtime();
    let master = start_default_master(&master_runtime);
    recovered(&master).await;
    let addr = master_runtime.address();
    // The agent lives in its own runtime, as in its own OS process.
    let agent_runtime = runtime();
    let (agent, mut rx) = spawn_agent(&agent_runtime, "slave(1)");
    let id = register_drainable(&agent, master.upid(), &mut rx, "a1.example").await;
    agent_runtime.shutdown();
    drop((agent, rx, agent_runtime));
    let mut disconnected = false;
    for _ in 0..500 {
        let agent = v1_agent(addr, &id).await;
        if agent["active"] == false {
            assert_eq!(agent["deactivated"], false);
            disconnected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(disconnected, "the master noticed the broken link");

    assert_eq!(drain(addr, &id, json!({})).await, (200, String::new()));

    // Back, it hears it is re-registered, then that it drains; with
    // nothing running it is DRAINED at once, and stays inactive.
    let agent_runtime = runtime();
    let (agent, mut rx) = spawn_agent(&agent_runtime, "slave(1)");
    reregister_drainable(&agent, master.upid(), &id, "a1.example");
    assert_eq!(
        next(&mut rx).await.name,
        "mesos.internal.SlaveReregisteredMessage"
    );
    let message: DrainSlaveMessage = decode(&next(&mut rx).await);
    assert_eq!(message.config.mark_gone, Some(false));
    let agent = await_drain_state(addr, &id, "DRAINED").await;
    assert_eq!(
        (&agent["active"], &agent["deactivated"]),
        (&json!(false), &json!(true))
    );
}

#[actix_rt::test]
async fn an_unreachable_agent_is_told_to_drain_when_it_comes_back() {
    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&["--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=2"]),
        Box::<InMemoryStore>::default(),
    );
    recovered(&master).await;
    let addr = runtime.address();
    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");
    let id = register_drainable(&agent, master.upid(), &mut rx, "a1.example").await;

    // The agent stops answering pings until the master marks it
    // unreachable.
    agent.call(|a, _| a.answer_pings = false).await.unwrap();
    let mut unreachable = false;
    for _ in 0..1000 {
        let check = id.clone();
        if master
            .call(move |m, _| m.slaves.unreachable.contains_key(&check))
            .await
            .unwrap()
        {
            unreachable = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(unreachable, "the agent was not marked unreachable");

    let grace = json!({"max_grace_period": {"seconds": 3}});
    assert_eq!(drain(addr, &id, grace).await, (200, String::new()));

    // Readmitted, it is told to drain before it hears it is back, and with
    // nothing running it is DRAINED.
    agent.call(|a, _| a.answer_pings = true).await.unwrap();
    reregister_drainable(&agent, master.upid(), &id, "a1.example");
    let message: DrainSlaveMessage =
        decode(&next_named(&mut rx, "mesos.internal.DrainSlaveMessage").await);
    assert_eq!(
        message.config.max_grace_period.map(|d| d.nanoseconds),
        Some(3_000_000_000)
    );
    assert_eq!(
        next(&mut rx).await.name,
        "mesos.internal.SlaveReregisteredMessage"
    );
    let agent = await_drain_state(addr, &id, "DRAINED").await;
    assert_eq!(
        (&agent["active"], &agent["deactivated"]),
        (&json!(false), &json!(true))
    );
}

/// Terminates `master` and starts a new one over the same registry.
async fn restart(
    runtime: &Runtime,
    master: PID<Master>,
    work_dir: &std::path::Path,
) -> PID<Master> {
    let done = runtime.wait("master");
    master.terminate();
    done.await;
    let flags = flags(&[
        "--registry=replicated_log",
        &format!("--work_dir={}", work_dir.display()),
    ]);
    let master = start_master(runtime, flags, Box::new(FileStore::new(work_dir)));
    recovered(&master).await;
    master
}

#[actix_rt::test]
async fn deactivation_and_draining_survive_master_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let addr = runtime.address();
    let flags = flags(&[
        "--registry=replicated_log",
        &format!("--work_dir={}", dir.path().display()),
    ]);
    let master = start_master(&runtime, flags, Box::new(FileStore::new(dir.path())));
    recovered(&master).await;
    let mut agents = Vec::new();
    for n in 1..=4 {
        let (agent, mut rx) = spawn_agent(&runtime, &format!("slave({n})"));
        let hostname = format!("a{n}.example");
        let id = register_drainable(&agent, master.upid(), &mut rx, &hostname).await;
        agents.push((agent, rx, id, hostname));
    }
    let ids: Vec<String> = agents.iter().map(|a| a.2.clone()).collect();

    // Agent 1 is deactivated and agent 2 drained (nothing runs on it)
    // while registered.
    assert_eq!(deactivate(addr, &ids[0]).await, (200, String::new()));
    let grace = json!({"max_grace_period": {"seconds": 5}});
    assert_eq!(drain(addr, &ids[1], grace).await, (200, String::new()));
    assert_eq!(
        next(&mut agents[1].1).await.name,
        "mesos.internal.DrainSlaveMessage"
    );
    await_drain_state(addr, &ids[1], "DRAINED").await;

    // After a restart, agent 3 is drained while only recovered: it cannot
    // be drained before it comes back, so it stays DRAINING.
    let master = restart(&runtime, master, dir.path()).await;
    let grace = json!({"max_grace_period": {"seconds": 7}});
    assert_eq!(drain(addr, &ids[2], grace).await, (200, String::new()));

    // After another restart every agent comes back.
    let master = restart(&runtime, master, dir.path()).await;
    let mut drain_messages = Vec::new();
    for (agent, rx, id, hostname) in &mut agents {
        reregister_drainable(agent, master.upid(), id, hostname);
        // Told to drain (again) before it hears it is back, as upstream.
        let mut told = Vec::new();
        loop {
            let event = next(rx).await;
            if event.name == "mesos.internal.SlaveReregisteredMessage" {
                break;
            }
            assert_eq!(event.name, "mesos.internal.DrainSlaveMessage");
            let message: DrainSlaveMessage = decode(&event);
            told.push(message.config.max_grace_period.map(|d| d.nanoseconds));
        }
        drain_messages.push(told);
    }
    assert_eq!(
        drain_messages,
        [
            vec![],
            vec![Some(5_000_000_000)],
            vec![Some(7_000_000_000)],
            vec![]
        ],
        "drained and draining agents are told to drain again"
    );
    let agent = v1_agent(addr, &ids[0]).await;
    assert_eq!(
        (&agent["active"], &agent["deactivated"]),
        (&json!(false), &json!(true))
    );
    assert!(agent.get("drain_info").is_none(), "{agent}");
    for id in &ids[1..3] {
        let agent = await_drain_state(addr, id, "DRAINED").await;
        assert_eq!(
            (&agent["active"], &agent["deactivated"]),
            (&json!(false), &json!(true))
        );
    }
    let agent = v1_agent(addr, &ids[3]).await;
    assert_eq!(
        (&agent["active"], &agent["deactivated"]),
        (&json!(true), &json!(false))
    );

    // Only the agent left alone is offered.
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let _ = decode::<FrameworkRegisteredMessage>(&recv(&mut rx).await);
    let offered: Vec<String> = next_offers(&mut rx)
        .await
        .offers
        .iter()
        .map(|o| o.slave_id.value.clone())
        .collect();
    assert_eq!(offered, [ids[3].clone()]);
}
