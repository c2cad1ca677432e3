//! Launch validation as upstream's `master_validation_tests.cpp`: the
//! state, reason and message a v0 framework gets for invalid tasks,
//! executors and offers.

use libprocess::{MessageEvent, PID};
use mesos_proto::mesos::internal::{
    FrameworkRegisteredMessage, RunTaskGroupMessage, RunTaskMessage, SlaveRegisteredMessage,
    UnregisterSlaveMessage,
};
use mesos_proto::mesos::{
    container_info, executor_info, framework_info, offer, resource, task_status, volume,
    CommandInfo, ContainerInfo, ExecutorId, ExecutorInfo, FrameworkId, Offer, TaskGroupInfo,
    TaskInfo, TaskState, TaskStatus, Volume,
};
use mesos_proto::resources::Resources;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::frameworks::{info, recv, spawn_scheduler, subscribe, Scheduler};
use crate::offers::{accept, next_offers, next_update, send_call, task};
use crate::support::*;

struct Setup {
    runtime: libprocess::Runtime,
    master: PID<mesos_master::master::Master>,
    agent: PID<Agent>,
    agent_rx: UnboundedReceiver<MessageEvent>,
    scheduler: PID<Scheduler>,
    rx: UnboundedReceiver<MessageEvent>,
    framework_id: FrameworkId,
    offer: Offer,
}

fn agent_info(hostname: &str) -> mesos_proto::mesos::SlaveInfo {
    let mut slave = slave_info(hostname);
    slave.resources = Resources::parse("cpus:4;mem:1024;disk:1024;ports:[31000-32000]", "*")
        .unwrap()
        .to_vec();
    slave
}

/// A master, one agent and a framework holding the agent's offer.
async fn setup(partition_aware: bool) -> Setup {
    let runtime = runtime();
    setup_on(runtime, None, partition_aware).await
}

/// As `setup`, with the agent in `agent_runtime` if given (its own OS
/// process, so that shutting it down breaks the master's link).
async fn setup_on(
    runtime: libprocess::Runtime,
    agent_runtime: Option<&libprocess::Runtime>,
    partition_aware: bool,
) -> Setup {
    // Unused resources come back at the next (short) allocation cycle.
    let master = start_master(
        &runtime,
        flags(&["--allocation_interval=100ms"]),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    );
    recovered(&master).await;
    let (agent, mut agent_rx) = spawn_agent(agent_runtime.unwrap_or(&runtime), "slave(1)");
    register_with(&agent, master.upid(), "1.11.0", agent_info("a1.example"));
    decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await);
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    let mut framework = info(None, 0.0);
    if partition_aware {
        framework.capabilities = vec![framework_info::Capability {
            r#type: Some(framework_info::capability::Type::PartitionAware as i32),
        }];
    }
    subscribe(&scheduler, master.upid(), framework, false);
    let framework_id = decode::<FrameworkRegisteredMessage>(&recv(&mut rx).await).framework_id;
    let offer = next_offers(&mut rx).await.offers[0].clone();
    Setup {
        runtime,
        master,
        agent,
        agent_rx,
        scheduler,
        rx,
        framework_id,
        offer,
    }
}

impl Setup {
    /// Accepts `offers` with `tasks` and returns the first update.
    async fn launch(&mut self, offers: &[&Offer], tasks: Vec<TaskInfo>) -> TaskStatus {
        let call = accept(&self.framework_id, offers, tasks, 0.0);
        send_call(&self.scheduler, self.master.upid(), call);
        next_update(&mut self.rx).await.update.status
    }

    /// Accepts `offers` with one LAUNCH_GROUP and returns the updates of
    /// the group's tasks, one each.
    async fn launch_group(
        &mut self,
        offers: &[&Offer],
        executor: ExecutorInfo,
        tasks: Vec<TaskInfo>,
    ) -> Vec<TaskStatus> {
        let count = tasks.len();
        let mut call = accept(&self.framework_id, offers, vec![], 0.0);
        let accept = call.accept.as_mut().unwrap();
        accept.operations = vec![offer::Operation {
            r#type: Some(offer::operation::Type::LaunchGroup as i32),
            launch_group: Some(offer::operation::LaunchGroup {
                executor,
                task_group: TaskGroupInfo { tasks },
            }),
            ..Default::default()
        }];
        send_call(&self.scheduler, self.master.upid(), call);
        let mut updates = Vec::new();
        for _ in 0..count {
            updates.push(next_update(&mut self.rx).await.update.status);
        }
        updates
    }

    /// Accepts the offer with `tasks`, expecting the agent to run the first.
    async fn run(&mut self, tasks: Vec<TaskInfo>) {
        let offer = self.offer.clone();
        let call = accept(&self.framework_id, &[&offer], tasks, 0.0);
        send_call(&self.scheduler, self.master.upid(), call);
        loop {
            let event = next(&mut self.agent_rx).await;
            if event.name == "mesos.internal.RunTaskMessage" {
                decode::<RunTaskMessage>(&event);
                break;
            }
        }
        self.offer = next_offers(&mut self.rx).await.offers[0].clone();
    }
}

fn assert_status(status: &TaskStatus, state: TaskState, reason: task_status::Reason, text: &str) {
    assert_eq!(status.state(), state, "{status:?}");
    assert_eq!(status.reason(), reason, "{status:?}");
    assert_eq!(status.source(), task_status::Source::Master);
    assert!(status.message().contains(text), "{:?}", status.message);
}

fn executor(id: &str, command: Option<&str>) -> ExecutorInfo {
    ExecutorInfo {
        executor_id: ExecutorId { value: id.into() },
        command: command.map(|value| CommandInfo {
            value: Some(value.into()),
            ..Default::default()
        }),
        resources: Resources::parse("cpus:0.1;mem:32", "*").unwrap().to_vec(),
        ..Default::default()
    }
}

fn executor_task(id: &str, offer: &Offer, executor: ExecutorInfo) -> TaskInfo {
    let mut task = task(id, offer, "cpus:1;mem:64");
    task.command = None;
    task.executor = Some(executor);
    task
}

#[actix_rt::test]
async fn a_task_id_in_use_is_refused_with_task_error() {
    let mut s = setup(false).await;
    s.run(vec![task("t1", &s.offer.clone(), "cpus:1;mem:64")])
        .await;
    let offer = s.offer.clone();
    let status = s
        .launch(&[&offer], vec![task("t1", &offer, "cpus:1;mem:64")])
        .await;
    assert_status(
        &status,
        TaskState::TaskError,
        task_status::Reason::TaskInvalid,
        "Task has duplicate ID: t1",
    );
    assert_eq!(status.task_id.value, "t1");

    // Twice in one ACCEPT: the first runs, the second is refused.
    let offer = next_offers(&mut s.rx).await.offers[0].clone();
    let tasks = vec![
        task("t2", &offer, "cpus:1;mem:64"),
        task("t2", &offer, "cpus:1;mem:64"),
    ];
    let status = s.launch(&[&offer], tasks).await;
    assert_status(
        &status,
        TaskState::TaskError,
        task_status::Reason::TaskInvalid,
        "Task has duplicate ID: t2",
    );
}

#[actix_rt::test]
async fn invalid_task_fields_are_refused_with_upstream_messages() {
    let mut s = setup(false).await;
    let cases: Vec<(TaskInfo, &str)> = {
        let offer = &s.offer;
        let mut other_agent = task("a", offer, "cpus:1");
        other_agent.slave_id.value = "elsewhere".into();
        let mut no_resources = task("b", offer, "cpus:1");
        no_resources.resources.clear();
        let mut both = task("c", offer, "cpus:1");
        both.executor = Some(executor("e", Some("run")));
        let mut neither = task("d", offer, "cpus:1");
        neither.command = None;
        vec![
            (task("", offer, "cpus:1"), "ID must not be empty"),
            (
                task("a/b", offer, "cpus:1"),
                "'a/b' contains invalid characters",
            ),
            (other_agent, "Task uses invalid agent elsewhere while agent"),
            (no_resources, "Task uses no resources"),
            (
                both,
                "Task should have at least one (but not both) of CommandInfo or ExecutorInfo",
            ),
            (
                neither,
                "Task should have at least one (but not both) of CommandInfo or ExecutorInfo",
            ),
            (
                task("big", offer, "cpus:5;mem:64"),
                "required by task and its executor is more than available",
            ),
        ]
    };
    for (task, message) in cases {
        let offer = s.offer.clone();
        let status = s.launch(&[&offer], vec![task]).await;
        assert_status(
            &status,
            TaskState::TaskError,
            task_status::Reason::TaskInvalid,
            message,
        );
        s.offer = next_offers(&mut s.rx).await.offers[0].clone();
    }
}

#[actix_rt::test]
async fn executor_rules_are_enforced_as_upstream() {
    let mut s = setup(false).await;
    let cases: Vec<(ExecutorInfo, &str)> = {
        let mut default = executor("e1", None);
        default.r#type = Some(executor_info::Type::Default as i32);
        let mut custom = executor("e2", None);
        custom.r#type = Some(executor_info::Type::Custom as i32);
        let mut foreign = executor("e3", Some("run"));
        foreign.framework_id = Some(FrameworkId {
            value: "other".into(),
        });
        vec![
            (executor("e0", None), "'ExecutorInfo.command' must be set"),
            (default, "'ExecutorInfo.type' must be 'CUSTOM'"),
            (
                custom,
                "'ExecutorInfo.command' must be set for 'CUSTOM' executor",
            ),
            (
                foreign,
                "ExecutorInfo has an invalid FrameworkID (Actual: other vs Expected: ",
            ),
            (
                executor("a/b", Some("run")),
                "'a/b' contains invalid characters",
            ),
        ]
    };
    for (executor, message) in cases {
        let offer = s.offer.clone();
        let status = s
            .launch(&[&offer], vec![executor_task("t", &offer, executor)])
            .await;
        assert_status(
            &status,
            TaskState::TaskError,
            task_status::Reason::TaskInvalid,
            message,
        );
        s.offer = next_offers(&mut s.rx).await.offers[0].clone();
    }

    // An executor id in use on the agent with another ExecutorInfo.
    let offer = s.offer.clone();
    s.run(vec![executor_task(
        "t1",
        &offer,
        executor("e", Some("run")),
    )])
    .await;
    let offer = s.offer.clone();
    let status = s
        .launch(
            &[&offer],
            vec![executor_task(
                "t2",
                &offer,
                executor("e", Some("run other")),
            )],
        )
        .await;
    assert_status(
        &status,
        TaskState::TaskError,
        task_status::Reason::TaskInvalid,
        "ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID",
    );
    // The same ExecutorInfo again is fine: the task runs on that executor.
    let offer = next_offers(&mut s.rx).await.offers[0].clone();
    s.offer = offer.clone();
    s.run(vec![executor_task(
        "t3",
        &offer,
        executor("e", Some("run")),
    )])
    .await;
}

#[actix_rt::test]
async fn a_task_and_its_executor_may_not_share_resources() {
    let mut s = setup(false).await;
    let volume = {
        let mut volume = Resources::parse("disk(role1):10", "*")
            .unwrap()
            .to_vec()
            .remove(0);
        volume.disk = Some(resource::DiskInfo {
            persistence: Some(resource::disk_info::Persistence {
                id: "v1".into(),
                principal: None,
            }),
            volume: Some(Volume {
                container_path: "data".into(),
                mode: volume::Mode::Rw as i32,
                ..Default::default()
            }),
            ..Default::default()
        });
        volume
    };
    let cases: Vec<(TaskInfo, &str)> = {
        let offer = &s.offer;
        let mut ports = executor("e", Some("run"));
        ports.resources = Resources::parse("cpus:0.1;mem:32;ports:[31000-31005]", "*")
            .unwrap()
            .to_vec();
        let ports_task = executor_task("t", offer, ports);
        let mut ports_task = ports_task;
        ports_task.resources = Resources::parse("cpus:1;mem:64;ports:[31005-31010]", "*")
            .unwrap()
            .to_vec();
        let mut volume_executor = executor("e", Some("run"));
        volume_executor.resources.push(volume.clone());
        let mut volume_task = executor_task("t", offer, volume_executor);
        volume_task.resources.push(volume);
        vec![
            (
                ports_task,
                "There are overlapping resources in the task resources",
            ),
            (
                volume_task,
                "Task and its executor use duplicate persistence ID: Persistence ID 'v1' is \
                 not unique",
            ),
        ]
    };
    for (task, message) in cases {
        let offer = s.offer.clone();
        let status = s.launch(&[&offer], vec![task]).await;
        assert_status(
            &status,
            TaskState::TaskError,
            task_status::Reason::TaskInvalid,
            message,
        );
        s.offer = next_offers(&mut s.rx).await.offers[0].clone();
    }

    // Disjoint ports are fine: the task reaches the agent.
    let offer = s.offer.clone();
    let mut disjoint = executor("e", Some("run"));
    disjoint.resources = Resources::parse("cpus:0.1;mem:32;ports:[31000-31004]", "*")
        .unwrap()
        .to_vec();
    let mut task = executor_task("t", &offer, disjoint);
    task.resources = Resources::parse("cpus:1;mem:64;ports:[31005-31010]", "*")
        .unwrap()
        .to_vec();
    s.run(vec![task]).await;
}

/// A default executor for a task group, with `resources`.
fn group_executor(id: &str, resources: &str) -> ExecutorInfo {
    ExecutorInfo {
        r#type: Some(executor_info::Type::Default as i32),
        executor_id: ExecutorId { value: id.into() },
        resources: Resources::parse(resources, "*").unwrap().to_vec(),
        ..Default::default()
    }
}

#[actix_rt::test]
async fn task_group_rules_are_enforced_as_upstream() {
    let mut s = setup(false).await;
    let enough = "cpus:0.1;mem:32;disk:32";
    let docker = Some(ContainerInfo {
        r#type: container_info::Type::Docker as i32,
        ..Default::default()
    });
    let cases: Vec<(ExecutorInfo, Vec<TaskInfo>, &str)> = {
        let offer = &s.offer;
        let mut untyped = group_executor("e", enough);
        untyped.r#type = None;
        let mut unknown = group_executor("e", enough);
        unknown.r#type = Some(executor_info::Type::Unknown as i32);
        let mut docker_executor = group_executor("e", enough);
        docker_executor.container = docker.clone();
        let mut docker_task = task("t", offer, "cpus:1;mem:64");
        docker_task.container = docker;
        let mut own_executor = task("t", offer, "cpus:1;mem:64");
        own_executor.executor = Some(group_executor("other", enough));
        vec![
            (untyped, vec![], "'ExecutorInfo.type' must be set"),
            (unknown, vec![], "Unknown executor type"),
            (
                docker_executor,
                vec![],
                "Docker ContainerInfo is not supported on the executor",
            ),
            (
                group_executor("e", enough),
                vec![docker_task],
                "Task 't' is invalid: Docker ContainerInfo is not supported on the task",
            ),
            (
                group_executor("e", enough),
                vec![own_executor],
                "The `ExecutorInfo` of task 't' is different from executor 'e'",
            ),
            (
                group_executor("e", "cpus:0.001;mem:32;disk:32"),
                vec![],
                "Executor 'e' uses less CPUs (0.001) than the minimum required (0.01)",
            ),
            (
                group_executor("e", "cpus:0.1;mem:16;disk:32"),
                vec![],
                "Executor 'e' uses less memory (16MB) than the minimum required (32MB)",
            ),
            (
                group_executor("e", "cpus:0.1;disk:32"),
                vec![],
                "Executor 'e' uses less memory (None) than the minimum required (32MB)",
            ),
            (
                group_executor("e", "cpus:0.1;mem:32"),
                vec![],
                "Executor 'e' uses no disk",
            ),
            (
                group_executor("e", "cpus:0.1;mem:32;disk:32;ports:[31000-31000]"),
                vec![],
                "There are overlapping resources in the task group's task resources",
            ),
            (
                group_executor("e", "cpus:0.1;mem:32;disk:32"),
                vec![task("t", offer, "cpus:8;mem:64")],
                "required by task group and its executor are more than available",
            ),
        ]
    };
    for (executor, mut tasks, message) in cases {
        let offer = s.offer.clone();
        if tasks.is_empty() {
            tasks = vec![
                task("t1", &offer, "cpus:1;mem:64;ports:[31000-31000]"),
                task("t2", &offer, "cpus:1;mem:64"),
            ];
        }
        let count = tasks.len();
        let updates = s.launch_group(&[&offer], executor, tasks).await;
        assert_eq!(updates.len(), count);
        for status in &updates {
            assert_status(
                status,
                TaskState::TaskError,
                task_status::Reason::TaskGroupInvalid,
                message,
            );
        }
        s.offer = next_offers(&mut s.rx).await.offers[0].clone();
    }

    // A valid group reaches the agent, each task carrying the executor.
    let offer = s.offer.clone();
    let mut call = accept(&s.framework_id, &[&offer], vec![], 0.0);
    call.accept.as_mut().unwrap().operations = vec![offer::Operation {
        r#type: Some(offer::operation::Type::LaunchGroup as i32),
        launch_group: Some(offer::operation::LaunchGroup {
            executor: group_executor("e", enough),
            task_group: TaskGroupInfo {
                tasks: vec![task("t", &offer, "cpus:1;mem:64")],
            },
        }),
        ..Default::default()
    }];
    send_call(&s.scheduler, s.master.upid(), call);
    let message = loop {
        let event = next(&mut s.agent_rx).await;
        if event.name == "mesos.internal.RunTaskGroupMessage" {
            break decode::<RunTaskGroupMessage>(&event);
        }
    };
    let executor = &message.task_group.tasks[0].executor;
    assert_eq!(executor.as_ref(), Some(&message.executor));
}

#[actix_rt::test]
async fn invalid_offers_are_answered_with_lost_or_dropped() {
    for partition_aware in [false, true] {
        let mut s = setup(partition_aware).await;
        let state = if partition_aware {
            TaskState::TaskDropped
        } else {
            TaskState::TaskLost
        };

        // One offer twice in the same ACCEPT.
        let offer = s.offer.clone();
        let status = s
            .launch(&[&offer, &offer], vec![task("t1", &offer, "cpus:1")])
            .await;
        assert_status(
            &status,
            state,
            task_status::Reason::InvalidOffers,
            &format!(
                "Task launched with invalid offers: Duplicate offer {} in offer list",
                offer.id.value
            ),
        );
        assert_eq!(status.slave_id.as_ref(), Some(&offer.slave_id));

        // Offers of two agents in one ACCEPT.
        let first = next_offers(&mut s.rx).await.offers[0].clone();
        let (agent2, mut agent2_rx) = spawn_agent(&s.runtime, "slave(2)");
        register_with(&agent2, s.master.upid(), "1.11.0", agent_info("a2.example"));
        decode::<SlaveRegisteredMessage>(&next(&mut agent2_rx).await);
        let second = next_offers(&mut s.rx).await.offers[0].clone();
        assert_ne!(first.slave_id, second.slave_id);
        let status = s
            .launch(&[&first, &second], vec![task("t2", &first, "cpus:1")])
            .await;
        assert_status(
            &status,
            state,
            task_status::Reason::InvalidOffers,
            "Aggregated offers must belong to one single agent",
        );

        // The offers of a removed agent are gone.
        let mut offers = vec![];
        while offers.len() < 2 {
            offers.extend(next_offers(&mut s.rx).await.offers);
        }
        let on_first = offers
            .into_iter()
            .find(|o| o.slave_id == first.slave_id)
            .unwrap();
        let to = s.master.upid().clone();
        let slave_id = first.slave_id.clone();
        s.agent
            .dispatch(move |this, _| this.base.send(&to, &UnregisterSlaveMessage { slave_id }));
        while recv(&mut s.rx).await.name != "mesos.internal.RescindResourceOfferMessage" {}
        let status = s
            .launch(&[&on_first], vec![task("t3", &on_first, "cpus:1")])
            .await;
        assert_status(
            &status,
            state,
            task_status::Reason::InvalidOffers,
            &format!("Offer {} is no longer valid", on_first.id.value),
        );
    }
}

#[actix_rt::test]
async fn a_launch_on_a_disconnected_agent_is_dropped_for_partition_aware_frameworks() {
    for partition_aware in [false, true] {
        let agent_runtime = runtime();
        let mut s = setup_on(runtime(), Some(&agent_runtime), partition_aware).await;
        // The agent's OS process dies: the master's link breaks, the agent
        // is disconnected (not removed) and its offers are rescinded.
        agent_runtime.shutdown();
        while recv(&mut s.rx).await.name != "mesos.internal.RescindResourceOfferMessage" {}
        let offer = s.offer.clone();
        let status = s
            .launch(&[&offer], vec![task("t1", &offer, "cpus:1")])
            .await;
        let state = if partition_aware {
            TaskState::TaskDropped
        } else {
            TaskState::TaskLost
        };
        assert_status(
            &status,
            state,
            task_status::Reason::InvalidOffers,
            &format!(
                "Task launched with invalid offers: Offer {} is no longer valid",
                offer.id.value
            ),
        );
        let id = offer.slave_id.value.clone();
        let (registered, connected) = s
            .master
            .call(move |m, _| {
                let slave = m.slaves.registered.get(&id);
                (slave.is_some(), slave.is_some_and(|s| s.connected))
            })
            .await
            .unwrap();
        assert!(registered && !connected, "the agent is only disconnected");
    }
}
