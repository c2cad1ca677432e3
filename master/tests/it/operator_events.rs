//! The operator event stream (`SUBSCRIBE` on `/api/v1`) over real HTTP:
//! the events an agent, a v0 framework and a task cause, in order.

use mesos_proto::mesos::internal::{
    FrameworkRegisteredMessage, ResourceOffersMessage, SlaveRegisteredMessage, StatusUpdate,
    StatusUpdateMessage, UnregisterSlaveMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::v1::master::event::Type;
use mesos_proto::mesos::{
    offer, task_status, CommandInfo, Filters, SlaveId, TaskId, TaskInfo, TaskState, TaskStatus,
};
use mesos_proto::resources::Resources;

use crate::frameworks::{info, recv, spawn_scheduler, subscribe};
use crate::support::*;

fn agent_with_resources() -> mesos_proto::mesos::SlaveInfo {
    let mut slave = slave_info("agent.example");
    slave.resources = Resources::parse("cpus:2;mem:1024", "*").unwrap().to_vec();
    slave
}

async fn metric(addr: std::net::SocketAddrV4, name: &str) -> f64 {
    let (status, body) =
        crate::operator_api::api(addr, r#"{"type":"GET_METRICS"}"#, "application/json").await;
    assert_eq!(status, 200);
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    value["get_metrics"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name}"))["value"]
        .as_f64()
        .unwrap()
}

#[actix_rt::test]
async fn agent_framework_and_task_lifecycle_is_streamed_in_order() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let addr = runtime.address();

    let mut events = EventStream::open(addr, true).await;
    assert!(
        events.head.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        events.head
    );
    assert!(
        events.head.contains("Content-Type: application/json\r\n"),
        "{}",
        events.head
    );
    assert!(!events.head.contains("Mesos-Stream-Id"), "{}", events.head);
    let subscribed = events.next().await;
    assert_eq!(subscribed.r#type(), Type::Subscribed);
    let subscribed = subscribed.subscribed.unwrap();
    assert_eq!(subscribed.heartbeat_interval_seconds, Some(15.0));
    let state = subscribed.get_state.unwrap();
    assert!(state.get_agents.unwrap().agents.is_empty());
    assert!(state.get_frameworks.unwrap().frameworks.is_empty());
    assert_eq!(
        metric(addr, "master/operator_event_stream_subscribers").await,
        1.0
    );

    // An agent registers.
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    register_with(&agent, master.upid(), "1.11.0", agent_with_resources());
    let slave_id = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await).slave_id;
    let added = events.next().await;
    assert_eq!(added.r#type(), Type::AgentAdded);
    let agent_added = added.agent_added.unwrap().agent;
    assert_eq!(agent_added.agent_info.id.unwrap().value, slave_id.value);
    assert_eq!(agent_added.agent_info.hostname, "agent.example");
    assert!(agent_added.active);
    assert_eq!(agent_added.version, "1.11.0");

    // A framework subscribes and gets the agent's offer.
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let framework_id = decode::<FrameworkRegisteredMessage>(&recv(&mut rx).await).framework_id;
    let added = events.next().await;
    assert_eq!(added.r#type(), Type::FrameworkAdded);
    let framework = added.framework_added.unwrap().framework;
    assert_eq!(
        framework.framework_info.id.unwrap().value,
        framework_id.value
    );
    assert!(framework.active && framework.connected && !framework.recovered);
    let offer = loop {
        let event = recv(&mut rx).await;
        if event.name == "mesos.internal.ResourceOffersMessage" {
            break decode::<ResourceOffersMessage>(&event).offers[0].clone();
        }
    };

    // It launches a task.
    let task = TaskInfo {
        name: "t".into(),
        task_id: TaskId { value: "t1".into() },
        slave_id: offer.slave_id.clone(),
        resources: Resources::parse("cpus:1;mem:128", "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some("true".into()),
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
                refuse_seconds: Some(3600.0),
            }),
        }),
        ..Default::default()
    };
    let to = master.upid().clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &accept));
    let added = events.next().await;
    assert_eq!(added.r#type(), Type::TaskAdded);
    let task = added.task_added.unwrap().task;
    assert_eq!(task.task_id.value, "t1");
    assert_eq!(task.framework_id.value, framework_id.value);
    assert_eq!(task.agent_id.value, slave_id.value);
    assert_eq!(task.state, TaskState::TaskStaging as i32);

    // The agent reports it running, again running (no new event), then
    // finished.
    let report = |state: TaskState| {
        let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
        StatusUpdateMessage {
            update: StatusUpdate {
                framework_id: framework_id.clone(),
                executor_id: None,
                slave_id: Some(slave_id.clone()),
                status: TaskStatus {
                    task_id: TaskId { value: "t1".into() },
                    state: state as i32,
                    source: Some(task_status::Source::Executor as i32),
                    timestamp: Some(1.0),
                    uuid: Some(uuid.clone()),
                    ..Default::default()
                },
                timestamp: 1.0,
                uuid: Some(uuid),
                latest_state: None,
            },
            pid: Some(agent.upid().to_string()),
        }
    };
    for state in [
        TaskState::TaskRunning,
        TaskState::TaskRunning,
        TaskState::TaskFinished,
    ] {
        let message = report(state);
        let to = master.upid().clone();
        agent.dispatch(move |this, _| this.base.send(&to, &message));
    }
    for expected in [TaskState::TaskRunning, TaskState::TaskFinished] {
        let updated = events.next().await;
        assert_eq!(updated.r#type(), Type::TaskUpdated);
        let updated = updated.task_updated.unwrap();
        assert_eq!(updated.framework_id.value, framework_id.value);
        assert_eq!(updated.status.task_id.value, "t1");
        assert_eq!(updated.status.state, expected as i32);
        assert_eq!(updated.state, expected as i32);
    }

    // The agent unregisters: it is removed. The finished task, whose
    // update the framework has not acknowledged, is still on it and gets
    // the master's TASK_LOST (its state stays TASK_FINISHED), as upstream.
    let message = UnregisterSlaveMessage {
        slave_id: SlaveId {
            value: slave_id.value.clone(),
        },
    };
    let to = master.upid().clone();
    agent.dispatch(move |this, _| this.base.send(&to, &message));
    let updated = events.next().await;
    assert_eq!(updated.r#type(), Type::TaskUpdated);
    let updated = updated.task_updated.unwrap();
    assert_eq!(updated.status.state, TaskState::TaskLost as i32);
    assert_eq!(
        updated.status.reason,
        Some(task_status::Reason::SlaveRemoved as i32)
    );
    assert_eq!(updated.state, TaskState::TaskFinished as i32);
    let removed = events.next().await;
    assert_eq!(removed.r#type(), Type::AgentRemoved);
    assert_eq!(
        removed.agent_removed.unwrap().agent_id.value,
        slave_id.value
    );

    // The framework re-subscribes (updated), then tears itself down.
    let mut again = info(Some(&framework_id.value), 0.0);
    again.name = "renamed".into();
    subscribe(&scheduler, master.upid(), again, false);
    let updated = events.next().await;
    assert_eq!(updated.r#type(), Type::FrameworkUpdated);
    let framework = updated.framework_updated.unwrap().framework;
    assert_eq!(framework.framework_info.name, "renamed");
    let teardown = Call {
        framework_id: Some(framework_id.clone()),
        r#type: Some(call::Type::Teardown as i32),
        ..Default::default()
    };
    let to = master.upid().clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &teardown));
    let removed = events.next().await;
    assert_eq!(removed.r#type(), Type::FrameworkRemoved);
    assert_eq!(
        removed
            .framework_removed
            .unwrap()
            .framework_info
            .id
            .unwrap()
            .value,
        framework_id.value
    );

    // A subscriber that closes its connection is dropped.
    drop(events);
    for _ in 0..500 {
        if metric(addr, "master/operator_event_stream_subscribers").await == 0.0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the closed subscriber was not dropped");
}

#[actix_rt::test]
async fn removing_a_framework_kills_its_tasks_in_protobuf_streams_too() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    register_with(&agent, master.upid(), "1.11.0", agent_with_resources());
    let slave_id = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await).slave_id;
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let framework_id = decode::<FrameworkRegisteredMessage>(&recv(&mut rx).await).framework_id;

    // The snapshot already holds the agent and the framework.
    let mut events = EventStream::open(runtime.address(), false).await;
    assert!(
        events
            .head
            .contains("Content-Type: application/x-protobuf\r\n"),
        "{}",
        events.head
    );
    let subscribed = events.next().await.subscribed.unwrap();
    let state = subscribed.get_state.unwrap();
    assert_eq!(
        state.get_agents.unwrap().agents[0]
            .agent_info
            .id
            .as_ref()
            .unwrap()
            .value,
        slave_id.value
    );
    assert_eq!(
        state.get_frameworks.unwrap().frameworks[0]
            .framework_info
            .id
            .as_ref()
            .unwrap()
            .value,
        framework_id.value
    );

    let offer = loop {
        let event = recv(&mut rx).await;
        if event.name == "mesos.internal.ResourceOffersMessage" {
            break decode::<ResourceOffersMessage>(&event).offers[0].clone();
        }
    };
    let accept = Call {
        framework_id: Some(framework_id.clone()),
        r#type: Some(call::Type::Accept as i32),
        accept: Some(call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![offer::Operation {
                r#type: Some(offer::operation::Type::Launch as i32),
                launch: Some(offer::operation::Launch {
                    task_infos: vec![TaskInfo {
                        name: "t".into(),
                        task_id: TaskId { value: "t1".into() },
                        slave_id: offer.slave_id.clone(),
                        resources: Resources::parse("cpus:1", "*").unwrap().to_vec(),
                        command: Some(CommandInfo {
                            value: Some("sleep 100".into()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                }),
                ..Default::default()
            }],
            filters: None,
        }),
        ..Default::default()
    };
    let to = master.upid().clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &accept));
    assert_eq!(events.next().await.r#type(), Type::TaskAdded);

    let (status, _) = crate::operator_api::api(
        runtime.address(),
        &format!(
            r#"{{"type":"TEARDOWN","teardown":{{"framework_id":{{"value":"{}"}}}}}}"#,
            framework_id.value
        ),
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    let updated = events.next().await;
    assert_eq!(updated.r#type(), Type::TaskUpdated);
    let updated = updated.task_updated.unwrap();
    assert_eq!(updated.state, TaskState::TaskKilled as i32);
    assert_eq!(
        updated.status.reason,
        Some(task_status::Reason::FrameworkRemoved as i32)
    );
    assert_eq!(
        updated.status.message.as_deref(),
        Some(format!("Framework {} removed", framework_id.value).as_str())
    );
    assert_eq!(events.next().await.r#type(), Type::FrameworkRemoved);
}

#[actix_rt::test]
async fn a_subscriber_beyond_the_maximum_closes_the_oldest() {
    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&["--max_operator_event_stream_subscribers=1"]),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    );
    recovered(&master).await;
    let mut first = EventStream::open(runtime.address(), true).await;
    assert_eq!(first.next().await.r#type(), Type::Subscribed);
    let mut second = EventStream::open(runtime.address(), true).await;
    assert_eq!(second.next().await.r#type(), Type::Subscribed);
    first.closed().await;
    assert_eq!(
        metric(
            runtime.address(),
            "master/operator_event_stream_subscribers"
        )
        .await,
        1.0
    );
}

#[actix_rt::test]
async fn update_framework_and_agent_disconnection_are_streamed() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let mut events = EventStream::open(runtime.address(), true).await;
    assert_eq!(events.next().await.r#type(), Type::Subscribed);
    // The agent lives in its own runtime, as in its own OS process.
    let agent_runtime = crate::support::runtime();
    let (agent, mut agent_rx) = spawn_agent(&agent_runtime, "slave(1)");
    register_with(&agent, master.upid(), "1.11.0", agent_with_resources());
    decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await);
    assert_eq!(events.next().await.r#type(), Type::AgentAdded);
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    let framework = info(None, 0.0);
    subscribe(&scheduler, master.upid(), framework.clone(), false);
    let framework_id = decode::<FrameworkRegisteredMessage>(&recv(&mut rx).await).framework_id;
    assert_eq!(events.next().await.r#type(), Type::FrameworkAdded);

    // UPDATE_FRAMEWORK with a new name: FRAMEWORK_UPDATED; with the same
    // info again: nothing (upstream only notifies changes).
    let mut renamed = framework;
    renamed.id = Some(framework_id.clone());
    renamed.name = "renamed".into();
    for _ in 0..2 {
        let update = Call {
            framework_id: Some(framework_id.clone()),
            r#type: Some(call::Type::UpdateFramework as i32),
            update_framework: Some(call::UpdateFramework {
                framework_info: renamed.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let to = master.upid().clone();
        scheduler.dispatch(move |this, _| this.base.send(&to, &update));
    }
    let updated = events.next().await;
    assert_eq!(updated.r#type(), Type::FrameworkUpdated);
    assert_eq!(
        updated
            .framework_updated
            .unwrap()
            .framework
            .framework_info
            .name,
        "renamed"
    );

    // A task, then the agent's connection breaks: the task of this
    // non-checkpointing framework is lost at once.
    let offer = loop {
        let event = recv(&mut rx).await;
        if event.name == "mesos.internal.ResourceOffersMessage" {
            break decode::<ResourceOffersMessage>(&event).offers[0].clone();
        }
    };
    let accept = Call {
        framework_id: Some(framework_id.clone()),
        r#type: Some(call::Type::Accept as i32),
        accept: Some(call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![offer::Operation {
                r#type: Some(offer::operation::Type::Launch as i32),
                launch: Some(offer::operation::Launch {
                    task_infos: vec![TaskInfo {
                        name: "t".into(),
                        task_id: TaskId { value: "t1".into() },
                        slave_id: offer.slave_id.clone(),
                        resources: Resources::parse("cpus:1", "*").unwrap().to_vec(),
                        command: Some(CommandInfo {
                            value: Some("sleep 100".into()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                }),
                ..Default::default()
            }],
            filters: None,
        }),
        ..Default::default()
    };
    let to = master.upid().clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &accept));
    // The second UPDATE_FRAMEWORK sent nothing: the next event is the task.
    assert_eq!(events.next().await.r#type(), Type::TaskAdded);
    // The agent's process dies: its socket closes and the master's link
    // breaks.
    agent_runtime.shutdown();
    drop(agent);
    drop(agent_rx);
    drop(agent_runtime);
    let updated = events.next().await;
    assert_eq!(updated.r#type(), Type::TaskUpdated);
    let updated = updated.task_updated.unwrap();
    assert_eq!(updated.state, TaskState::TaskLost as i32);
    assert_eq!(
        updated.status.reason,
        Some(task_status::Reason::SlaveDisconnected as i32)
    );
}

/// As upstream's `createAgentAdded`: an agent that comes back from
/// unreachable with a running task is added with the task's resources
/// allocated, as `GET_AGENTS` shows them.
#[actix_rt::test]
async fn agent_added_carries_the_agents_allocated_resources() {
    let mut cluster = crate::partition::Cluster::start(&[]).await;
    let framework = cluster.launch(true, &["t1"]).await;
    cluster.partition().await;
    let mut events = EventStream::open(cluster.runtime.address(), true).await;
    assert_eq!(events.next().await.r#type(), Type::Subscribed);
    let tasks = framework.tasks.clone();
    cluster.reregister(&[&framework], tasks).await;
    let agent = loop {
        let event = events.next().await;
        if event.r#type() == Type::AgentAdded {
            break event.agent_added.unwrap().agent;
        }
    };
    assert_eq!(
        agent.agent_info.id.map(|id| id.value),
        Some(cluster.slave_id())
    );
    let allocated = &agent.allocated_resources;
    let sum = |name: &str| -> f64 {
        allocated
            .iter()
            .filter(|r| r.name == name)
            .filter_map(|r| r.scalar.as_ref().map(|s| s.value))
            .sum()
    };
    assert_eq!((sum("cpus"), sum("mem")), (1.0, 128.0), "{allocated:?}");
    assert!(agent.offered_resources.is_empty());
}
