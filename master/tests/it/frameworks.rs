//! v0 frameworks over the libprocess scheduler driver protocol.

use std::time::Duration;

use libprocess::actix::{Actor, Context};
use libprocess::{MessageEvent, Process, ProcessBase, Runtime, PID, UPID};
use mesos_proto::mesos::internal::{
    FrameworkErrorMessage, FrameworkRegisteredMessage, FrameworkReregisteredMessage,
    RegisterFrameworkMessage, ShutdownFrameworkMessage, SlaveRegisteredMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{FrameworkId, FrameworkInfo};
use tokio::sync::mpsc;

use crate::support::*;

/// A stand-in for the libprocess scheduler driver.
pub struct Scheduler {
    pub base: ProcessBase<Self>,
    tx: mpsc::UnboundedSender<MessageEvent>,
}

impl Actor for Scheduler {
    type Context = Context<Self>;
}

impl Process for Scheduler {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        for name in [
            "mesos.internal.FrameworkRegisteredMessage",
            "mesos.internal.FrameworkReregisteredMessage",
            "mesos.internal.FrameworkErrorMessage",
            "mesos.internal.ResourceOffersMessage",
            "mesos.internal.RescindResourceOfferMessage",
            "mesos.internal.StatusUpdateMessage",
            "mesos.internal.LostSlaveMessage",
            "mesos.internal.ExitedExecutorMessage",
            "mesos.internal.InverseOffersMessage",
            "mesos.internal.RescindInverseOfferMessage",
        ] {
            self.base.install_raw(name, |this, _ctx, event| {
                let _ = this.tx.send(event);
            });
        }
    }
}
libprocess::process_handlers!(Scheduler);

pub fn spawn_scheduler(
    runtime: &Runtime,
) -> (PID<Scheduler>, mpsc::UnboundedReceiver<MessageEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let id = format!("scheduler-{}", uuid::Uuid::new_v4());
    (
        runtime
            .spawn(Scheduler {
                base: ProcessBase::new(id),
                tx,
            })
            .unwrap(),
        rx,
    )
}

pub fn info(id: Option<&str>, failover_timeout: f64) -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: "test-framework".into(),
        id: id.map(|id| FrameworkId { value: id.into() }),
        failover_timeout: Some(failover_timeout),
        ..Default::default()
    }
}

pub fn subscribe(scheduler: &PID<Scheduler>, master: &UPID, info: FrameworkInfo, force: bool) {
    let call = Call {
        framework_id: info.id.clone(),
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: info,
            force: Some(force),
            ..Default::default()
        }),
        ..Default::default()
    };
    let to = master.clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &call));
}

pub async fn recv(rx: &mut mpsc::UnboundedReceiver<MessageEvent>) -> MessageEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("timed out")
        .expect("gone")
}

#[actix_rt::test]
async fn subscribe_registers_and_a_retry_keeps_the_id() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let event = recv(&mut rx).await;
    assert_eq!(event.name, "mesos.internal.FrameworkRegisteredMessage");
    assert_eq!(event.from, *master.upid());
    let registered: FrameworkRegisteredMessage = decode(&event);
    let master_id = master.call(|m, _| m.info.id.clone()).await.unwrap();
    assert_eq!(registered.framework_id.value, format!("{master_id}-0000"));
    assert_eq!(
        registered.master_info.pid.as_deref(),
        Some(master.upid().to_string().as_str())
    );

    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let again: FrameworkRegisteredMessage = decode(&recv(&mut rx).await);
    assert_eq!(again.framework_id, registered.framework_id);

    // Re-subscribing with the id from the same pid is a re-registration.
    subscribe(
        &scheduler,
        master.upid(),
        info(Some(&registered.framework_id.value), 0.0),
        false,
    );
    let event = recv(&mut rx).await;
    assert_eq!(event.name, "mesos.internal.FrameworkReregisteredMessage");
    let _: FrameworkReregisteredMessage = decode(&event);
}

#[actix_rt::test]
async fn a_new_scheduler_pid_fails_the_framework_over() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (old, mut old_rx) = spawn_scheduler(&runtime);
    subscribe(&old, master.upid(), info(None, 3600.0), false);
    let id = decode::<FrameworkRegisteredMessage>(&recv(&mut old_rx).await)
        .framework_id
        .value;

    let (new, mut new_rx) = spawn_scheduler(&runtime);
    subscribe(&new, master.upid(), info(Some(&id), 3600.0), true);
    let event = recv(&mut new_rx).await;
    assert_eq!(event.name, "mesos.internal.FrameworkRegisteredMessage");
    let error: FrameworkErrorMessage = decode(&recv(&mut old_rx).await);
    assert_eq!(error.message, "Framework failed over");
    let pid = master
        .call(move |m, _| m.frameworks.registered[&id].pid.clone())
        .await
        .unwrap();
    assert_eq!(pid.as_ref(), Some(new.upid()));
}

#[actix_rt::test]
async fn invalid_framework_info_gets_an_error() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    let mut bad = info(None, 0.0);
    #[allow(deprecated)]
    {
        bad.role = Some("a//b".into());
    }
    subscribe(&scheduler, master.upid(), bad, false);
    let error: FrameworkErrorMessage = decode(&recv(&mut rx).await);
    assert!(
        error.message.contains("two adjacent slashes"),
        "{}",
        error.message
    );
}

#[actix_rt::test]
async fn disconnection_then_failover_timeout_removes_the_framework() {
    let master_runtime = runtime();
    let master = start_default_master(&master_runtime);
    recovered(&master).await;

    // One framework that may fail over for an hour, one that may not.
    let scheduler_runtime = runtime();
    let (patient, mut patient_rx) = spawn_scheduler(&scheduler_runtime);
    subscribe(&patient, master.upid(), info(None, 3600.0), false);
    let patient_id = decode::<FrameworkRegisteredMessage>(&recv(&mut patient_rx).await)
        .framework_id
        .value;
    let (hasty, mut hasty_rx) = spawn_scheduler(&scheduler_runtime);
    subscribe(&hasty, master.upid(), info(None, 0.0), false);
    let hasty_id = decode::<FrameworkRegisteredMessage>(&recv(&mut hasty_rx).await)
        .framework_id
        .value;

    // The schedulers' OS process dies.
    scheduler_runtime.shutdown();
    let (p, h) = (patient_id.clone(), hasty_id.clone());
    for _ in 0..500 {
        let (p, h) = (p.clone(), h.clone());
        let done = master
            .call(move |m, _| {
                m.frameworks
                    .registered
                    .get(&p)
                    .is_some_and(|f| !f.connected)
                    && !m.frameworks.registered.contains_key(&h)
                    && m.frameworks.completed.iter().any(|f| f.id() == h)
            })
            .await
            .unwrap();
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (patient_disconnected, hasty_completed) = master
        .call(move |m, _| {
            (
                m.frameworks
                    .registered
                    .get(&p)
                    .is_some_and(|f| !f.connected && !f.active),
                m.frameworks.completed.iter().any(|f| f.id() == h),
            )
        })
        .await
        .unwrap();
    assert!(
        patient_disconnected,
        "the patient framework waits, disconnected"
    );
    assert!(
        hasty_completed,
        "a zero failover timeout removes the framework"
    );

    // The patient framework comes back from a new process.
    let back_runtime = runtime();
    let (back, mut back_rx) = spawn_scheduler(&back_runtime);
    subscribe(&back, master.upid(), info(Some(&patient_id), 3600.0), true);
    assert_eq!(
        recv(&mut back_rx).await.name,
        "mesos.internal.FrameworkRegisteredMessage"
    );
    let connected = master
        .call(move |m, _| m.frameworks.registered[&patient_id].connected)
        .await
        .unwrap();
    assert!(connected);

    // A removed framework cannot come back.
    subscribe(&back, master.upid(), info(Some(&hasty_id), 0.0), true);
    let error: FrameworkErrorMessage = decode(&recv(&mut back_rx).await);
    assert_eq!(error.message, "Framework has been removed");
}

#[actix_rt::test]
async fn teardown_shuts_the_framework_down_on_agents() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    register(&agent, master.upid(), "1.11.0");
    let _: SlaveRegisteredMessage = decode(&next(&mut agent_rx).await);

    // The legacy registration message still works.
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    let to = master.upid().clone();
    scheduler.dispatch(move |this, _| {
        this.base.send(
            &to,
            &RegisterFrameworkMessage {
                framework: info(None, 0.0),
            },
        )
    });
    let id = decode::<FrameworkRegisteredMessage>(&recv(&mut rx).await).framework_id;

    let call = Call {
        framework_id: Some(id.clone()),
        r#type: Some(call::Type::Teardown as i32),
        ..Default::default()
    };
    let to = master.upid().clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &call));
    let event = next(&mut agent_rx).await;
    assert_eq!(event.name, "mesos.internal.ShutdownFrameworkMessage");
    assert_eq!(decode::<ShutdownFrameworkMessage>(&event).framework_id, id);
    let completed = master
        .call(|m, _| m.frameworks.completed.len())
        .await
        .unwrap();
    assert_eq!(completed, 1);
}

#[actix_rt::test]
async fn frameworks_reported_by_reregistering_agents_are_listed_and_can_be_torn_down() {
    use mesos_proto::mesos::internal::ReregisterSlaveMessage;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    let mut slave = slave_info("agent.example");
    slave.id = Some(mesos_proto::mesos::SlaveId {
        value: "old-S0".into(),
    });
    let message = ReregisterSlaveMessage {
        slave,
        version: Some("1.11.0".into()),
        frameworks: vec![info(Some("old-0001"), 3600.0)],
        ..Default::default()
    };
    let to = master.upid().clone();
    agent.dispatch(move |this, _| this.base.send(&to, &message));
    assert_eq!(
        next(&mut agent_rx).await.name,
        "mesos.internal.SlaveReregisteredMessage"
    );
    let recovered = master
        .call(|m, _| {
            m.frameworks
                .registered
                .get("old-0001")
                .map(|f| (f.recovered, f.connected))
        })
        .await
        .unwrap();
    assert_eq!(
        recovered,
        Some((true, false)),
        "listed as a recovered, disconnected framework"
    );

    // An operator tears it down: its tasks are shut down on the agent.
    let mut stream = tokio::net::TcpStream::connect(runtime.address())
        .await
        .unwrap();
    let body = "frameworkId=old-0001";
    let request = format!(
        "POST /master/teardown HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    let event = next(&mut agent_rx).await;
    assert_eq!(event.name, "mesos.internal.ShutdownFrameworkMessage");
    assert_eq!(
        decode::<ShutdownFrameworkMessage>(&event)
            .framework_id
            .value,
        "old-0001"
    );

    // Unknown ids and missing parameters are 400s.
    let mut stream = tokio::net::TcpStream::connect(runtime.address())
        .await
        .unwrap();
    let request = "POST /master/teardown HTTP/1.1\r\nContent-Length: 16\r\nConnection: close\r\n\r\nframeworkId=nope";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(
        response.contains("No framework found with specified ID"),
        "{response}"
    );
}

#[actix_rt::test]
async fn root_frameworks_are_refused_without_root_submissions() {
    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&["--no-root_submissions"]),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    );
    recovered(&master).await;
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let event = recv(&mut rx).await;
    assert_eq!(event.name, "mesos.internal.FrameworkErrorMessage");
    let error = decode::<mesos_proto::mesos::internal::FrameworkErrorMessage>(&event);
    assert_eq!(
        error.message,
        "User 'root' is not allowed to run frameworks without --root_submissions set"
    );
    // Another user is welcome.
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    let mut other = info(None, 0.0);
    other.user = "nobody".into();
    subscribe(&scheduler, master.upid(), other, false);
    assert_eq!(
        recv(&mut rx).await.name,
        "mesos.internal.FrameworkRegisteredMessage"
    );
}
