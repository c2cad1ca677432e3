//! Task reconciliation (upstream `reconciliation_tests`): implicit
//! reconciliation answers every known task; explicit reconciliation of a
//! task the master does not know answers from what it knows of the agent
//! (`TASK_GONE`, `TASK_UNREACHABLE`, `TASK_GONE_BY_OPERATOR`,
//! `TASK_UNKNOWN`, or `TASK_LOST` for frameworks that are not
//! partition-aware), and not at all while the agent may still re-register.

use libprocess::MessageEvent;
use mesos_master::registrar::{FileStore, Operation, Registrar};
use mesos_proto::mesos::internal::{
    FrameworkRegisteredMessage, ReregisterSlaveMessage, SlaveReregisteredMessage, StatusUpdate,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{framework_info, task_status, SlaveId, TaskState};
use mesos_proto::resources::Resources;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::frameworks::{info, recv, spawn_scheduler, subscribe};
use crate::offers::{next_update, send_call};
use crate::partition::{Cluster, Framework};
use crate::support::*;

/// Returns the next update, checking it is a reconciliation answer.
async fn answer(rx: &mut UnboundedReceiver<MessageEvent>) -> StatusUpdate {
    let update = next_update(rx).await.update;
    assert_eq!(update.status.reason(), task_status::Reason::Reconciliation);
    assert_eq!(update.status.source(), task_status::Source::Master);
    assert_eq!(update.uuid, None, "not to be acknowledged");
    update
}

// Upstream ReconciliationTest.ImplicitNonTerminalTask,
// UnacknowledgedTerminalTask (MESOS-1389) and ImplicitTerminalTask.
#[actix_rt::test]
async fn implicit_reconciliation_answers_the_latest_state_of_every_known_task() {
    let mut cluster = Cluster::start(&[]).await;
    let mut framework = cluster.launch(true, &["a", "b"]).await;
    // `b` finishes; its update is not acknowledged, so the master keeps it.
    cluster.send_update(
        &framework.id,
        &framework.tasks[1].task_id,
        TaskState::TaskFinished,
        None,
    );
    let finished = next_update(&mut framework.rx).await.update;
    assert_eq!(finished.status.state(), TaskState::TaskFinished);
    framework.reconcile(&cluster.master, &[]);
    let mut answers = Vec::new();
    for _ in 0..2 {
        let update = answer(&mut framework.rx).await;
        assert_eq!(
            update.status.message.as_deref(),
            Some("Reconciliation: Latest task state")
        );
        assert_eq!(update.status.slave_id.as_ref(), cluster.slave.id.as_ref());
        answers.push((update.status.task_id.value.clone(), update.status.state()));
    }
    answers.sort();
    assert_eq!(
        answers,
        [
            ("a".to_string(), TaskState::TaskRunning),
            ("b".to_string(), TaskState::TaskFinished)
        ]
    );

    // Once `b`'s terminal update is acknowledged, only `a` is answered:
    // the explicit answer that follows comes second.
    let acknowledge = Call {
        framework_id: Some(framework.id.clone()),
        r#type: Some(call::Type::Acknowledge as i32),
        acknowledge: Some(call::Acknowledge {
            slave_id: cluster.slave.id.clone().unwrap(),
            task_id: finished.status.task_id.clone(),
            uuid: finished.uuid.clone().unwrap(),
        }),
        ..Default::default()
    };
    send_call(&framework.scheduler, cluster.master.upid(), acknowledge);
    framework.reconcile(&cluster.master, &[]);
    framework.reconcile(&cluster.master, &[("ghost", Some("nowhere"))]);
    let update = answer(&mut framework.rx).await;
    assert_eq!(update.status.task_id.value, "a");
    let update = answer(&mut framework.rx).await;
    assert_eq!(update.status.task_id.value, "ghost");
}

// Upstream ReconciliationTest.ReconcileStatusUpdateTaskState: the answer
// is the state of the update the framework is to acknowledge next, not
// the task's latest state (upstream gets there through a master failover;
// here the agent retries the older update).
#[actix_rt::test]
async fn a_known_task_is_answered_with_the_state_of_its_unacknowledged_update() {
    let mut cluster = Cluster::start(&[]).await;
    let mut framework = cluster.launch(false, &["a"]).await;
    // The agent retries the unacknowledged TASK_RUNNING after the task
    // finished.
    cluster.send_update(
        &framework.id,
        &framework.tasks[0].task_id,
        TaskState::TaskRunning,
        Some(TaskState::TaskFinished),
    );
    next_update(&mut framework.rx).await;
    framework.reconcile(&cluster.master, &[("a", None)]);
    let update = answer(&mut framework.rx).await;
    assert_eq!(update.status.state(), TaskState::TaskRunning);
    framework.reconcile(&cluster.master, &[]);
    assert_eq!(
        answer(&mut framework.rx).await.status.state(),
        TaskState::TaskRunning
    );
}

// Upstream ReconciliationTest.UnknownTask and UnknownSlave, with the
// partition-aware answers (cases 3, 4 and 6 of `Master::reconcile`).
#[actix_rt::test]
async fn tasks_the_master_does_not_know_are_answered_from_what_it_knows_of_their_agent() {
    let mut cluster = Cluster::start(&[]).await;
    let mut aware = cluster.launch(true, &["aware"]).await;
    let mut unaware = cluster.launch(false, &["unaware"]).await;
    let id = cluster.slave_id();

    for (framework, on_agent, unknown) in [
        (&mut aware, TaskState::TaskGone, TaskState::TaskUnknown),
        (&mut unaware, TaskState::TaskLost, TaskState::TaskLost),
    ] {
        framework.reconcile(
            &cluster.master,
            &[
                ("ghost", Some(&id)),
                ("ghost", Some("nowhere")),
                ("ghost", None),
            ],
        );
        let update = answer(&mut framework.rx).await;
        assert_eq!(update.status.state(), on_agent);
        assert_eq!(
            update.status.message.as_deref(),
            Some("Reconciliation: Task is unknown to the agent")
        );
        assert_eq!(update.status.slave_id.as_ref(), cluster.slave.id.as_ref());
        for slave_id in [Some("nowhere"), None] {
            let update = answer(&mut framework.rx).await;
            assert_eq!(update.status.state(), unknown);
            assert_eq!(
                update.status.message.as_deref(),
                Some("Reconciliation: Task is unknown")
            );
            assert_eq!(
                update.status.slave_id.as_ref().map(|s| s.value.as_str()),
                slave_id
            );
        }
    }

    cluster.partition().await;
    let marked = {
        let id = id.clone();
        cluster
            .master
            .call(move |m, _| m.slaves.unreachable[&id])
            .await
            .unwrap()
    };
    for (framework, state) in [
        (&mut aware, TaskState::TaskUnreachable),
        (&mut unaware, TaskState::TaskLost),
    ] {
        next_update(&mut framework.rx).await;
        let task = framework.tasks[0].task_id.value.clone();
        // Implicit reconciliation leaves out the unreachable task: the
        // explicit answer that follows is the first.
        framework.reconcile(&cluster.master, &[]);
        framework.reconcile(&cluster.master, &[(&task, Some(&id)), (&task, None)]);
        let update = answer(&mut framework.rx).await;
        assert_eq!(update.status.task_id.value, task);
        assert_eq!(update.status.state(), state);
        assert_eq!(
            update.status.message.as_deref(),
            Some("Reconciliation: Task is unreachable")
        );
        assert_eq!(update.status.unreachable_time, Some(marked));
        // Without its agent id the task is unknown, as upstream.
        let update = answer(&mut framework.rx).await;
        assert_eq!(update.status.task_id.value, task);
        assert_eq!(
            update.status.message.as_deref(),
            Some("Reconciliation: Task is unknown")
        );
        assert_eq!(update.status.unreachable_time, None);
    }
}

// Upstream ReconciliationTest.SlaveInTransition (case 2 of
// `Master::reconcile`): no answer while an agent recovered from the
// registry has not re-registered; without an agent id, while any has not.
#[actix_rt::test]
async fn tasks_of_agents_that_have_not_reregistered_after_failover_get_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let registrar = Registrar::new(Box::new(FileStore::new(dir.path())));
    registrar.recover(Default::default()).await.unwrap();
    let mut slave = slave_info("agent.example");
    slave.id = Some(SlaveId {
        value: "old-S1".into(),
    });
    slave.resources = Resources::parse("cpus:4;mem:1024", "*").unwrap().to_vec();
    registrar
        .apply(Operation::AdmitSlave(slave.clone()))
        .await
        .unwrap();
    drop(registrar);
    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&[
            "--registry=replicated_log",
            &format!("--work_dir={}", dir.path().display()),
        ]),
        Box::new(FileStore::new(dir.path())),
    );
    recovered(&master).await;

    let mut info = info(None, 0.0);
    info.capabilities.push(framework_info::Capability {
        r#type: Some(framework_info::capability::Type::PartitionAware as i32),
    });
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info.clone(), false);
    let id = decode::<FrameworkRegisteredMessage>(&recv(&mut rx).await).framework_id;
    info.id = Some(id.clone());
    let mut framework = Framework {
        scheduler,
        rx,
        id,
        info,
        tasks: Vec::new(),
    };
    framework.reconcile(
        &master,
        &[
            ("t1", Some("old-S1")),
            ("t2", None),
            ("t3", Some("nowhere")),
        ],
    );
    let update = answer(&mut framework.rx).await;
    assert_eq!(
        update.status.task_id.value, "t3",
        "t1 and t2 are not answered"
    );
    assert_eq!(update.status.state(), TaskState::TaskUnknown);

    // Once the agent is back (without the tasks), both are answered.
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    let message = ReregisterSlaveMessage {
        slave: slave.clone(),
        version: Some("1.11.0".into()),
        ..Default::default()
    };
    let to = master.upid().clone();
    agent.dispatch(move |this, _| this.base.send(&to, &message));
    loop {
        let event = next(&mut agent_rx).await;
        if event.name == "mesos.internal.SlaveReregisteredMessage" {
            let _: SlaveReregisteredMessage = decode(&event);
            break;
        }
    }
    framework.reconcile(&master, &[("t1", Some("old-S1")), ("t2", None)]);
    let update = answer(&mut framework.rx).await;
    assert_eq!(update.status.task_id.value, "t1");
    assert_eq!(update.status.state(), TaskState::TaskGone);
    let update = answer(&mut framework.rx).await;
    assert_eq!(update.status.task_id.value, "t2");
    assert_eq!(update.status.state(), TaskState::TaskUnknown);
}
