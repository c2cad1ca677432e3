//! Offers, launches, status updates, acknowledgements, kills and
//! reconciliation between an emulated v0 scheduler and an emulated agent.

use libprocess::UPID;
use mesos_proto::mesos::internal::{
    KillTaskMessage, ResourceOffersMessage, RunTaskMessage, SlaveRegisteredMessage, StatusUpdate,
    StatusUpdateAcknowledgementMessage, StatusUpdateMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{
    domain_info, framework_info, offer, task_status, CommandInfo, DomainInfo, Filters, FrameworkId,
    Offer, SlaveId, TaskId, TaskInfo, TaskState, TaskStatus,
};
use mesos_proto::resources::Resources;

use crate::frameworks::{info, recv, spawn_scheduler, subscribe, Scheduler};
use crate::support::*;

pub(crate) fn send_call(scheduler: &libprocess::PID<Scheduler>, master: &UPID, call: Call) {
    let to = master.clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &call));
}

pub(crate) fn task(id: &str, offer: &Offer, resources: &str) -> TaskInfo {
    TaskInfo {
        name: format!("task {id}"),
        task_id: TaskId { value: id.into() },
        slave_id: offer.slave_id.clone(),
        resources: Resources::parse(resources, "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some("sleep 1000".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(crate) fn accept(
    framework: &FrameworkId,
    offers: &[&Offer],
    tasks: Vec<TaskInfo>,
    refuse: f64,
) -> Call {
    Call {
        framework_id: Some(framework.clone()),
        r#type: Some(call::Type::Accept as i32),
        accept: Some(call::Accept {
            offer_ids: offers.iter().map(|o| o.id.clone()).collect(),
            operations: vec![offer::Operation {
                r#type: Some(offer::operation::Type::Launch as i32),
                launch: Some(offer::operation::Launch { task_infos: tasks }),
                ..Default::default()
            }],
            filters: Some(Filters {
                refuse_seconds: Some(refuse),
            }),
        }),
        ..Default::default()
    }
}

pub(crate) async fn next_update(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<libprocess::MessageEvent>,
) -> StatusUpdateMessage {
    loop {
        let event = recv(rx).await;
        if event.name == "mesos.internal.StatusUpdateMessage" {
            return decode(&event);
        }
    }
}

pub(crate) async fn next_offers(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<libprocess::MessageEvent>,
) -> ResourceOffersMessage {
    loop {
        let event = recv(rx).await;
        if event.name == "mesos.internal.ResourceOffersMessage" {
            return decode(&event);
        }
    }
}

#[actix_rt::test]
async fn offer_launch_update_acknowledge_kill() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    let mut slave = slave_info("agent.example");
    slave.resources = Resources::parse("cpus:2;mem:1024;ports:[31000-32000]", "*")
        .unwrap()
        .to_vec();
    register_with(&agent, master.upid(), "1.11.0", slave);
    let slave_id = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await).slave_id;

    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let framework_id =
        decode::<mesos_proto::mesos::internal::FrameworkRegisteredMessage>(&recv(&mut rx).await)
            .framework_id;

    // One offer for the whole agent, with the agent's pid beside it.
    let offers = next_offers(&mut rx).await;
    assert_eq!(offers.offers.len(), 1);
    assert_eq!(offers.pids, vec![agent.upid().to_string()]);
    let offer = offers.offers[0].clone();
    assert_eq!(offer.slave_id, slave_id);
    assert_eq!(offer.framework_id, framework_id);
    assert_eq!(offer.hostname, "agent.example");
    assert_eq!(
        offer.allocation_info.as_ref().unwrap().role.as_deref(),
        Some("*")
    );
    assert_eq!(
        offer.url.as_ref().unwrap().path.as_deref(),
        Some("/slave(1)")
    );
    let offered = Resources::from(offer.resources.clone());
    assert_eq!(offered.cpus(), Some(2.0));
    assert!(offer.id.value.contains("-O"));

    // Launch one task; the rest comes back at once (refuse_seconds 0).
    send_call(
        &scheduler,
        master.upid(),
        accept(
            &framework_id,
            &[&offer],
            vec![task("t1", &offer, "cpus:1;mem:128")],
            0.0,
        ),
    );
    let run: RunTaskMessage = loop {
        let event = next(&mut agent_rx).await;
        if event.name == "mesos.internal.RunTaskMessage" {
            break decode(&event);
        }
    };
    assert_eq!(run.task.task_id.value, "t1");
    assert_eq!(run.framework.id.as_ref(), Some(&framework_id));
    assert_eq!(
        run.pid.as_deref(),
        Some(scheduler.upid().to_string().as_str())
    );
    assert_eq!(run.launch_executor, Some(true));
    let reoffer = next_offers(&mut rx).await;
    let left = Resources::from(reoffer.offers[0].resources.clone());
    assert_eq!(
        left.cpus(),
        Some(1.0),
        "the unused cpu is offered again: {left}"
    );

    // The agent reports TASK_RUNNING; the framework gets it with the agent's pid.
    let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
    let update = StatusUpdate {
        framework_id: framework_id.clone(),
        executor_id: None,
        slave_id: Some(slave_id.clone()),
        status: TaskStatus {
            task_id: TaskId { value: "t1".into() },
            state: TaskState::TaskRunning as i32,
            source: Some(task_status::Source::Executor as i32),
            uuid: Some(uuid.clone()),
            ..Default::default()
        },
        timestamp: 1.0,
        uuid: Some(uuid.clone()),
        latest_state: None,
    };
    let to = master.upid().clone();
    let message = StatusUpdateMessage {
        update,
        pid: Some(agent.upid().to_string()),
    };
    agent.dispatch(move |this, _| this.base.send(&to, &message));
    let forwarded = next_update(&mut rx).await;
    assert_eq!(
        forwarded.pid.as_deref(),
        Some(agent.upid().to_string().as_str())
    );
    assert_eq!(forwarded.update.status.state(), TaskState::TaskRunning);

    // The acknowledgement goes back to the agent.
    send_call(
        &scheduler,
        master.upid(),
        Call {
            framework_id: Some(framework_id.clone()),
            r#type: Some(call::Type::Acknowledge as i32),
            acknowledge: Some(call::Acknowledge {
                slave_id: slave_id.clone(),
                task_id: TaskId { value: "t1".into() },
                uuid: uuid.clone(),
            }),
            ..Default::default()
        },
    );
    let ack: StatusUpdateAcknowledgementMessage = loop {
        let event = next(&mut agent_rx).await;
        if event.name == "mesos.internal.StatusUpdateAcknowledgementMessage" {
            break decode(&event);
        }
    };
    assert_eq!(ack.uuid, uuid);
    assert_eq!(ack.framework_id, framework_id);

    // KILL reaches the agent.
    send_call(
        &scheduler,
        master.upid(),
        Call {
            framework_id: Some(framework_id.clone()),
            r#type: Some(call::Type::Kill as i32),
            kill: Some(call::Kill {
                task_id: TaskId { value: "t1".into() },
                slave_id: None,
                kill_policy: None,
            }),
            ..Default::default()
        },
    );
    let kill: KillTaskMessage = loop {
        let event = next(&mut agent_rx).await;
        if event.name == "mesos.internal.KillTaskMessage" {
            break decode(&event);
        }
    };
    assert_eq!(kill.task_id.value, "t1");

    let state = master
        .call(move |m, _| m.frameworks.registered[&framework_id.value].tasks()["t1"].state)
        .await
        .unwrap();
    assert_eq!(state, TaskState::TaskRunning as i32);
}

#[actix_rt::test]
async fn tasks_with_invalid_checks_or_health_checks_are_refused_with_task_error() {
    use mesos_proto::mesos::{check_info, health_check, CheckInfo, HealthCheck};
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
    let framework_id =
        decode::<mesos_proto::mesos::internal::FrameworkRegisteredMessage>(&recv(&mut rx).await)
            .framework_id;
    let offer = next_offers(&mut rx).await.offers[0].clone();

    // An HTTP health check without its `http` field, and a check with a
    // negative interval (upstream `validateHealthCheck`, `validateCheckInfo`).
    let mut unhealthy = task("no-http", &offer, "cpus:0.5;mem:64");
    unhealthy.health_check = Some(HealthCheck {
        r#type: Some(health_check::Type::Http as i32),
        ..Default::default()
    });
    let mut unchecked = task("negative-interval", &offer, "cpus:0.5;mem:64");
    unchecked.check = Some(CheckInfo {
        r#type: Some(check_info::Type::Tcp as i32),
        tcp: Some(check_info::Tcp { port: 80 }),
        interval_seconds: Some(-1.0),
        ..Default::default()
    });
    send_call(
        &scheduler,
        master.upid(),
        accept(&framework_id, &[&offer], vec![unhealthy, unchecked], 0.0),
    );
    let mut messages = std::collections::BTreeMap::new();
    for _ in 0..2 {
        let status = next_update(&mut rx).await.update.status;
        assert_eq!(status.state(), TaskState::TaskError);
        assert_eq!(status.reason(), task_status::Reason::TaskInvalid);
        assert_eq!(status.source(), task_status::Source::Master);
        messages.insert(status.task_id.value.clone(), status.message().to_string());
    }
    assert_eq!(
        messages["no-http"],
        "Task uses invalid health check: Expecting 'http' to be set for HTTP health check"
    );
    assert_eq!(
        messages["negative-interval"],
        "Task uses invalid check: Expecting 'interval_seconds' to be non-negative"
    );
}

#[actix_rt::test]
async fn invalid_launches_are_answered_with_lost_or_error() {
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
    let framework_id =
        decode::<mesos_proto::mesos::internal::FrameworkRegisteredMessage>(&recv(&mut rx).await)
            .framework_id;
    let offer = next_offers(&mut rx).await.offers[0].clone();

    // More than offered: TASK_ERROR, REASON_TASK_INVALID.
    send_call(
        &scheduler,
        master.upid(),
        accept(
            &framework_id,
            &[&offer],
            vec![task("big", &offer, "cpus:3;mem:128")],
            0.0,
        ),
    );
    let update = next_update(&mut rx).await.update;
    assert_eq!(update.status.state(), TaskState::TaskError);
    assert_eq!(update.status.reason(), task_status::Reason::TaskInvalid);
    assert!(
        update.status.message().contains("more than available"),
        "{:?}",
        update.status.message
    );
    assert_eq!(update.status.source(), task_status::Source::Master);
    assert!(
        update.uuid.is_none(),
        "master-generated updates are not acknowledged"
    );

    // The same offer again: it is gone, so TASK_LOST, REASON_INVALID_OFFERS.
    send_call(
        &scheduler,
        master.upid(),
        accept(
            &framework_id,
            &[&offer],
            vec![task("late", &offer, "cpus:1;mem:128")],
            0.0,
        ),
    );
    let update = next_update(&mut rx).await.update;
    assert_eq!(update.status.state(), TaskState::TaskLost);
    assert_eq!(update.status.reason(), task_status::Reason::InvalidOffers);

    // Reconciling an unknown task.
    send_call(
        &scheduler,
        master.upid(),
        Call {
            framework_id: Some(framework_id.clone()),
            r#type: Some(call::Type::Reconcile as i32),
            reconcile: Some(call::Reconcile {
                tasks: vec![call::reconcile::Task {
                    task_id: TaskId {
                        value: "ghost".into(),
                    },
                    slave_id: Some(SlaveId {
                        value: "nowhere".into(),
                    }),
                }],
            }),
            ..Default::default()
        },
    );
    let update = next_update(&mut rx).await.update;
    assert_eq!(update.status.task_id.value, "ghost");
    assert_eq!(update.status.state(), TaskState::TaskLost);
    assert_eq!(update.status.reason(), task_status::Reason::Reconciliation);
}

#[actix_rt::test]
async fn declined_resources_are_filtered_then_revived() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    let mut slave = slave_info("agent.example");
    slave.resources = Resources::parse("cpus:1;mem:512", "*").unwrap().to_vec();
    register_with(&agent, master.upid(), "1.11.0", slave);
    let _ = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await);
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let framework_id =
        decode::<mesos_proto::mesos::internal::FrameworkRegisteredMessage>(&recv(&mut rx).await)
            .framework_id;
    let offer = next_offers(&mut rx).await.offers[0].clone();

    // Declined for an hour: not offered again…
    send_call(
        &scheduler,
        master.upid(),
        Call {
            framework_id: Some(framework_id.clone()),
            r#type: Some(call::Type::Decline as i32),
            decline: Some(call::Decline {
                offer_ids: vec![offer.id.clone()],
                filters: Some(Filters {
                    refuse_seconds: Some(3600.0),
                }),
            }),
            ..Default::default()
        },
    );
    let quiet =
        tokio::time::timeout(std::time::Duration::from_millis(1500), next_offers(&mut rx)).await;
    assert!(quiet.is_err(), "a filtered agent is not offered");
    // …until REVIVE.
    send_call(
        &scheduler,
        master.upid(),
        Call {
            framework_id: Some(framework_id),
            r#type: Some(call::Type::Revive as i32),
            ..Default::default()
        },
    );
    let again = next_offers(&mut rx).await;
    assert_eq!(again.offers.len(), 1);
}

#[actix_rt::test]
async fn suppressed_roles_at_subscription_and_update_framework() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    let mut slave = slave_info("agent.example");
    slave.resources = Resources::parse("cpus:1;mem:512", "*").unwrap().to_vec();
    register_with(&agent, master.upid(), "1.11.0", slave);
    let _ = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await);

    // Subscribed with "*" suppressed (as Marathon does when idle): no offers.
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    let framework = info(None, 0.0);
    send_call(
        &scheduler,
        master.upid(),
        Call {
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                framework_info: framework.clone(),
                suppressed_roles: vec!["*".into()],
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let framework_id =
        decode::<mesos_proto::mesos::internal::FrameworkRegisteredMessage>(&recv(&mut rx).await)
            .framework_id;
    let quiet =
        tokio::time::timeout(std::time::Duration::from_millis(1500), next_offers(&mut rx)).await;
    assert!(quiet.is_err(), "a suppressed role gets no offers");

    // UPDATE_FRAMEWORK unsuppresses it (and renames the framework).
    let mut updated = framework.clone();
    updated.id = Some(framework_id.clone());
    updated.name = "renamed".into();
    send_call(
        &scheduler,
        master.upid(),
        Call {
            framework_id: Some(framework_id.clone()),
            r#type: Some(call::Type::UpdateFramework as i32),
            update_framework: Some(call::UpdateFramework {
                framework_info: updated,
                suppressed_roles: vec![],
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let offers = next_offers(&mut rx).await;
    assert_eq!(offers.offers.len(), 1);
    let name = master
        .call(move |m, _| {
            m.frameworks.registered[&framework_id.value]
                .info
                .name
                .clone()
        })
        .await
        .unwrap();
    assert_eq!(name, "renamed");
}

#[actix_rt::test]
async fn offers_held_past_offer_timeout_are_rescinded() {
    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&["--offer_timeout=200ms"]),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    );
    recovered(&master).await;
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    let mut slave = slave_info("agent.example");
    slave.resources = Resources::parse("cpus:1;mem:512", "*").unwrap().to_vec();
    register_with(&agent, master.upid(), "1.11.0", slave);
    let _ = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await);
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let offer = next_offers(&mut rx).await.offers[0].clone();
    let rescinded = loop {
        let event = recv(&mut rx).await;
        if event.name == "mesos.internal.RescindResourceOfferMessage" {
            break decode::<mesos_proto::mesos::internal::RescindResourceOfferMessage>(&event);
        }
    };
    assert_eq!(rescinded.offer_id, offer.id);
    let _ = scheduler;
}

#[actix_rt::test]
async fn an_operation_that_cannot_apply_is_dropped_and_the_rest_of_the_accept_goes_on() {
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
    let framework_id =
        decode::<mesos_proto::mesos::internal::FrameworkRegisteredMessage>(&recv(&mut rx).await)
            .framework_id;
    let offer = next_offers(&mut rx).await.offers[0].clone();

    // As upstream's `_accept`: an invalid operation (a GROW_VOLUME without
    // its volume; a CREATE_DISK of resources no provider manages) is
    // dropped, and the launch after it still happens.
    let mut call = accept(
        &framework_id,
        &[&offer],
        vec![task("t1", &offer, "cpus:1;mem:128")],
        0.0,
    );
    if let Some(accept) = call.accept.as_mut() {
        accept.operations.insert(
            0,
            offer::Operation {
                r#type: Some(offer::operation::Type::GrowVolume as i32),
                ..Default::default()
            },
        );
        accept.operations.insert(
            0,
            offer::Operation {
                r#type: Some(offer::operation::Type::CreateDisk as i32),
                create_disk: Some(offer::operation::CreateDisk {
                    source: Resources::parse("disk:10", "*").unwrap().to_vec().remove(0),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
    }
    send_call(&scheduler, master.upid(), call);
    loop {
        let event = next(&mut agent_rx).await;
        if event.name == "mesos.internal.RunTaskMessage" {
            let run = decode::<mesos_proto::mesos::internal::RunTaskMessage>(&event);
            assert_eq!(run.task.task_id.value, "t1");
            break;
        }
    }
}

/// The agents (host names) of the offers a scheduler gets within a
/// second, sorted, with their GPUs.
async fn offered_hosts(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<libprocess::MessageEvent>,
) -> Vec<(String, f64)> {
    let mut hosts = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    while let Ok(message) = tokio::time::timeout_at(deadline, next_offers(rx)).await {
        for offer in message.offers {
            let gpus: f64 = offer
                .resources
                .iter()
                .filter(|r| r.name == "gpus")
                .filter_map(|r| r.scalar.as_ref().map(|s| s.value))
                .sum();
            hosts.push((offer.hostname, gpus));
        }
    }
    hosts.sort_by(|a, b| a.0.cmp(&b.0));
    hosts
}

fn with_capability(
    mut framework: mesos_proto::mesos::FrameworkInfo,
    capability: framework_info::capability::Type,
) -> mesos_proto::mesos::FrameworkInfo {
    framework.capabilities.push(framework_info::Capability {
        r#type: Some(capability as i32),
    });
    framework
}

/// Registers agents (host name, resources, region) and waits until the
/// master admitted them.
async fn register_agents(
    runtime: &libprocess::Runtime,
    master: &UPID,
    agents: &[(&str, &str, Option<&str>)],
) -> Vec<libprocess::PID<Agent>> {
    let mut pids = Vec::new();
    for (n, (host, resources, region)) in agents.iter().enumerate() {
        let (agent, mut agent_rx) = spawn_agent(runtime, &format!("slave({})", n + 1));
        let mut slave = slave_info(host);
        slave.resources = Resources::parse(resources, "*").unwrap().to_vec();
        slave.domain = region.map(domain);
        register_with(&agent, master, "1.11.0", slave);
        let _ = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await);
        pids.push(agent);
    }
    pids
}

fn domain(region: &str) -> DomainInfo {
    DomainInfo {
        fault_domain: Some(domain_info::FaultDomain {
            region: domain_info::fault_domain::RegionInfo {
                name: region.into(),
            },
            zone: domain_info::fault_domain::ZoneInfo {
                name: format!("{region}-a"),
            },
        }),
    }
}

#[actix_rt::test]
async fn agents_with_gpus_are_offered_to_gpu_frameworks_under_filter_gpu_resources() {
    use framework_info::capability::Type;
    for filter in [true, false] {
        let runtime = runtime();
        let flag = format!("--filter_gpu_resources={filter}");
        let master = start_master(
            &runtime,
            flags(&[&flag]),
            Box::<mesos_master::registrar::InMemoryStore>::default(),
        );
        recovered(&master).await;
        let _agents = register_agents(
            &runtime,
            master.upid(),
            &[
                ("gpu.example", "cpus:1;mem:512;gpus:1", None),
                ("plain.example", "cpus:1;mem:512", None),
            ],
        )
        .await;

        // Without GPU_RESOURCES, the whole GPU agent is withheld (upstream
        // MESOS-5634), unless the filter is off.
        let (plain, mut plain_rx) = spawn_scheduler(&runtime);
        subscribe(&plain, master.upid(), info(None, 0.0), false);
        let expected = if filter {
            vec![("plain.example".to_string(), 0.0)]
        } else {
            vec![
                ("gpu.example".to_string(), 1.0),
                ("plain.example".to_string(), 0.0),
            ]
        };
        assert_eq!(offered_hosts(&mut plain_rx).await, expected, "{flag}");

        if filter {
            let (gpu, mut gpu_rx) = spawn_scheduler(&runtime);
            subscribe(
                &gpu,
                master.upid(),
                with_capability(info(None, 0.0), Type::GpuResources),
                false,
            );
            assert_eq!(
                offered_hosts(&mut gpu_rx).await,
                [("gpu.example".to_string(), 1.0)]
            );
        }
    }
}

#[actix_rt::test]
async fn agents_in_other_regions_are_offered_only_to_region_aware_frameworks() {
    use framework_info::capability::Type;
    let runtime = runtime();
    let json = r#"{"fault_domain":{"region":{"name":"east"},"zone":{"name":"east-a"}}}"#;
    let master = start_master(
        &runtime,
        flags(&[&format!("--domain={json}")]),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    );
    recovered(&master).await;
    let own = master.call(|m, _| m.info.domain.clone()).await.unwrap();
    assert_eq!(own, Some(domain("east")));
    let _agents = register_agents(
        &runtime,
        master.upid(),
        &[
            ("local.example", "cpus:1;mem:512", Some("east")),
            ("remote.example", "cpus:1;mem:512", Some("west")),
            ("nodomain.example", "cpus:1;mem:512", None),
        ],
    )
    .await;

    let (plain, mut plain_rx) = spawn_scheduler(&runtime);
    subscribe(&plain, master.upid(), info(None, 0.0), false);
    let hosts: Vec<String> = offered_hosts(&mut plain_rx)
        .await
        .into_iter()
        .map(|h| h.0)
        .collect();
    assert_eq!(hosts, ["local.example", "nodomain.example"]);

    let (aware, mut aware_rx) = spawn_scheduler(&runtime);
    subscribe(
        &aware,
        master.upid(),
        with_capability(info(None, 0.0), Type::RegionAware),
        false,
    );
    let offer = next_offers(&mut aware_rx).await.offers[0].clone();
    assert_eq!(offer.hostname, "remote.example");
    assert_eq!(offer.domain, Some(domain("west")));
}

#[actix_rt::test]
async fn agents_whose_domain_the_master_cannot_place_are_ignored() {
    // (master flags, agent region, admitted)
    let json = r#"--domain={"fault_domain":{"region":{"name":"east"},"zone":{"name":"east-a"}}}"#;
    let cases: [(&[&str], Option<&str>, bool); 4] = [
        (&[], Some("east"), false),
        (&[], None, true),
        (&[json, "--require_agent_domain"], None, false),
        (&[json, "--require_agent_domain"], Some("west"), true),
    ];
    for (extra, region, admitted) in cases {
        let runtime = runtime();
        let master = start_master(
            &runtime,
            flags(extra),
            Box::<mesos_master::registrar::InMemoryStore>::default(),
        );
        recovered(&master).await;
        let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
        let mut slave = slave_info("agent.example");
        slave.resources = Resources::parse("cpus:1;mem:512", "*").unwrap().to_vec();
        slave.domain = region.map(domain);
        register_with(&agent, master.upid(), "1.11.0", slave);
        let answer =
            tokio::time::timeout(std::time::Duration::from_millis(500), next(&mut agent_rx)).await;
        match answer {
            Ok(event) => {
                assert!(admitted, "{extra:?} {region:?}: {}", event.name);
                let _ = decode::<SlaveRegisteredMessage>(&event);
            }
            // Ignored, not shut down, as upstream.
            Err(_) => assert!(!admitted, "{extra:?} {region:?}"),
        }
    }
}

#[actix_rt::test]
async fn offer_constraints_limit_the_agents_a_framework_is_offered() {
    use mesos_proto::mesos::scheduler::attribute_constraint::{predicate, selector, Predicate};
    use mesos_proto::mesos::scheduler::offer_constraints::{role_constraints, RoleConstraints};
    use mesos_proto::mesos::scheduler::{
        attribute_constraint, AttributeConstraint, OfferConstraints,
    };

    let hostname_matches = |regex: &str| OfferConstraints {
        role_constraints: [(
            "*".to_string(),
            RoleConstraints {
                groups: vec![role_constraints::Group {
                    attribute_constraints: vec![AttributeConstraint {
                        selector: attribute_constraint::Selector {
                            selector: Some(selector::Selector::PseudoattributeType(
                                selector::PseudoattributeType::Hostname as i32,
                            )),
                        },
                        predicate: Predicate {
                            predicate: Some(predicate::Predicate::TextMatches(
                                predicate::TextMatches {
                                    regex: regex.into(),
                                },
                            )),
                        },
                    }],
                }],
            },
        )]
        .into_iter()
        .collect(),
    };

    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let mut agents = Vec::new();
    for host in ["web-1", "db-1"] {
        let (agent, mut agent_rx) = spawn_agent(&runtime, &format!("slave({host})"));
        let mut slave = slave_info(host);
        slave.resources = Resources::parse("cpus:1;mem:512", "*").unwrap().to_vec();
        register_with(&agent, master.upid(), "1.11.0", slave);
        let _ = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await);
        agents.push((agent, agent_rx));
    }

    // A role the framework does not have is refused, with upstream's message.
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    let mut bad = hostname_matches("web-.*");
    bad.role_constraints = [("other".to_string(), bad.role_constraints["*"].clone())]
        .into_iter()
        .collect();
    send_call(
        &scheduler,
        master.upid(),
        Call {
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                framework_info: info(None, 0.0),
                offer_constraints: Some(bad),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let error = loop {
        let event = recv(&mut rx).await;
        if event.name == "mesos.internal.FrameworkErrorMessage" {
            break decode::<mesos_proto::mesos::internal::FrameworkErrorMessage>(&event);
        }
    };
    assert!(
        error
            .message
            .contains("Offer constraints specify `role_constraints` for a role 'other'"),
        "{}",
        error.message
    );

    // Only web agents for this one.
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    send_call(
        &scheduler,
        master.upid(),
        Call {
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                framework_info: info(None, 0.0),
                offer_constraints: Some(hostname_matches("web-.*")),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let registered =
        decode::<mesos_proto::mesos::internal::FrameworkRegisteredMessage>(&recv(&mut rx).await);
    let offers = next_offers(&mut rx).await.offers;
    let hosts: Vec<&str> = offers.iter().map(|o| o.hostname.as_str()).collect();
    assert_eq!(hosts, vec!["web-1"]);
    let state = crate::state::get(runtime.address(), "/master/state").await;
    let state: serde_json::Value = serde_json::from_str(&state.body).unwrap();
    let constraints = &state["frameworks"][0]["offer_constraints"];
    assert_eq!(
        constraints["role_constraints"]["*"]["groups"][0]["attribute_constraints"][0]["predicate"]
            ["text_matches"]["regex"],
        "web-.*",
        "{constraints}"
    );

    // UPDATE_FRAMEWORK to db agents: the web offer is rescinded and the db
    // agent offered.
    let mut framework = info(None, 0.0);
    framework.id = Some(registered.framework_id.clone());
    send_call(
        &scheduler,
        master.upid(),
        Call {
            framework_id: Some(registered.framework_id.clone()),
            r#type: Some(call::Type::UpdateFramework as i32),
            update_framework: Some(call::UpdateFramework {
                framework_info: framework,
                offer_constraints: Some(hostname_matches("db-.*")),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let mut rescinded = false;
    let offered = loop {
        let event = recv(&mut rx).await;
        match event.name.as_str() {
            "mesos.internal.RescindResourceOfferMessage" => rescinded = true,
            "mesos.internal.ResourceOffersMessage" => {
                break decode::<ResourceOffersMessage>(&event).offers;
            }
            _ => {}
        }
    };
    assert!(rescinded, "the web agent's offer is rescinded");
    let hosts: Vec<&str> = offered.iter().map(|o| o.hostname.as_str()).collect();
    assert_eq!(hosts, vec!["db-1"]);
    let _ = agents;
}

#[actix_rt::test]
async fn only_whitelisted_agents_are_offered() {
    let dir = tempfile::tempdir().unwrap();
    let whitelist = dir.path().join("whitelist");
    std::fs::write(&whitelist, "web-1\n").unwrap();
    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&[&format!("--whitelist=file://{}", whitelist.display())]),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    );
    recovered(&master).await;
    let mut agents = Vec::new();
    for host in ["web-1", "db-1"] {
        let (agent, mut agent_rx) = spawn_agent(&runtime, &format!("slave({host})"));
        let mut slave = slave_info(host);
        slave.resources = Resources::parse("cpus:1;mem:512", "*").unwrap().to_vec();
        register_with(&agent, master.upid(), "1.11.0", slave);
        let _ = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await);
        agents.push((agent, agent_rx));
    }
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let offers = next_offers(&mut rx).await.offers;
    let hosts: Vec<&str> = offers.iter().map(|o| o.hostname.as_str()).collect();
    assert_eq!(hosts, vec!["web-1"]);
    // The file is read again within 5 seconds.
    std::fs::write(&whitelist, "web-1\ndb-1\n").unwrap();
    let offers = next_offers(&mut rx).await.offers;
    let hosts: Vec<&str> = offers.iter().map(|o| o.hostname.as_str()).collect();
    assert_eq!(hosts, vec!["db-1"]);
    let _ = (agents, scheduler);
}
