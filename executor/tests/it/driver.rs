//! The executor driver in-process, with a recording executor, against an
//! emulated agent on another libprocess runtime.

use std::path::PathBuf;
use std::time::Duration;

use libprocess::{Runtime, UPID};
use mesos_executor::{DriverConfig, Executor, ExecutorDriver};
use mesos_proto::mesos::internal::{
    ExecutorReregisteredMessage, ExecutorToFrameworkMessage, FrameworkToExecutorMessage,
    KillTaskMessage, ReconnectExecutorMessage, RegisterExecutorMessage, ReregisterExecutorMessage,
    ShutdownExecutorMessage, StatusUpdateMessage,
};
use mesos_proto::mesos::{
    ExecutorId, ExecutorInfo, FrameworkId, FrameworkInfo, KillPolicy, SlaveId, SlaveInfo, Status,
    TaskId, TaskInfo, TaskState, TaskStatus,
};
use tokio::sync::mpsc;

use crate::support::*;

/// A callback the recording executor saw.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    Registered(String),
    Reregistered(String),
    Disconnected,
    Launch(String),
    Kill(String, Option<KillPolicy>),
    Acknowledged(String, TaskState),
    Message(Vec<u8>),
    Shutdown,
    Error(String),
}

struct Recorder(mpsc::UnboundedSender<Call>);

impl Executor for Recorder {
    fn registered(
        &mut self,
        _driver: &ExecutorDriver,
        executor_info: ExecutorInfo,
        _framework_info: FrameworkInfo,
        _slave_info: SlaveInfo,
    ) {
        let _ = self
            .0
            .send(Call::Registered(executor_info.executor_id.value));
    }
    fn reregistered(&mut self, _driver: &ExecutorDriver, slave_info: SlaveInfo) {
        let _ = self.0.send(Call::Reregistered(slave_info.hostname));
    }
    fn disconnected(&mut self, _driver: &ExecutorDriver) {
        let _ = self.0.send(Call::Disconnected);
    }
    fn launch_task(&mut self, _driver: &ExecutorDriver, task: TaskInfo) {
        let _ = self.0.send(Call::Launch(task.task_id.value));
    }
    fn kill_task(&mut self, _driver: &ExecutorDriver, task_id: TaskId, policy: Option<KillPolicy>) {
        let _ = self.0.send(Call::Kill(task_id.value, policy));
    }
    fn acknowledged(&mut self, _driver: &ExecutorDriver, status: &TaskStatus) {
        let _ = self.0.send(Call::Acknowledged(
            status.task_id.value.clone(),
            status.state(),
        ));
    }
    fn framework_message(&mut self, _driver: &ExecutorDriver, data: Vec<u8>) {
        let _ = self.0.send(Call::Message(data));
    }
    fn shutdown(&mut self, _driver: &ExecutorDriver) {
        let _ = self.0.send(Call::Shutdown);
    }
    fn error(&mut self, _driver: &ExecutorDriver, message: &str) {
        let _ = self.0.send(Call::Error(message.to_string()));
    }
}

async fn call(calls: &mut mpsc::UnboundedReceiver<Call>) -> Call {
    tokio::time::timeout(Duration::from_secs(10), calls.recv())
        .await
        .expect("timed out waiting for a callback")
        .expect("executor gone")
}

fn config(agent: &UPID, checkpoint: bool, recovery_timeout: Duration) -> DriverConfig {
    DriverConfig {
        slave: agent.clone(),
        slave_id: SlaveId {
            value: SLAVE_ID.into(),
        },
        framework_id: FrameworkId {
            value: FRAMEWORK_ID.into(),
        },
        executor_id: ExecutorId { value: "E0".into() },
        directory: PathBuf::from("/nonexistent/sandbox"),
        // In-process: a shutdown must not kill the test's process group.
        local: true,
        checkpoint,
        recovery_timeout,
        shutdown_grace_period: Duration::from_secs(5),
    }
}

struct Fixture {
    agent_runtime: Runtime,
    executor_runtime: Runtime,
    agent: libprocess::PID<Agent>,
    rx: mpsc::UnboundedReceiver<libprocess::MessageEvent>,
    driver: ExecutorDriver,
    calls: mpsc::UnboundedReceiver<Call>,
    executor: UPID,
}

/// Starts an agent and a driver, and registers the driver.
async fn registered_driver(checkpoint: bool, recovery_timeout: Duration) -> Fixture {
    let agent_runtime = runtime();
    let (agent, mut rx) = spawn_agent(&agent_runtime);
    let executor_runtime = runtime();
    let (tx, mut calls) = mpsc::unbounded_channel();
    let driver = ExecutorDriver::start(
        &executor_runtime,
        config(agent.upid(), checkpoint, recovery_timeout),
        Recorder(tx),
    )
    .unwrap();
    assert_eq!(driver.status(), Status::DriverRunning);
    let (executor, register) = expect::<RegisterExecutorMessage>(&mut rx).await;
    assert_eq!(Some(&executor), driver.upid().as_ref());
    assert!(executor.id.starts_with("executor("), "{executor}");
    assert_eq!(register.executor_id.value, "E0");
    send(&agent, &executor, registered("E0", framework_info(&[])));
    assert_eq!(call(&mut calls).await, Call::Registered("E0".into()));
    Fixture {
        agent_runtime,
        executor_runtime,
        agent,
        rx,
        driver,
        calls,
        executor,
    }
}

fn running(task_id: &str) -> TaskStatus {
    let mut status = TaskStatus {
        task_id: TaskId {
            value: task_id.into(),
        },
        ..Default::default()
    };
    status.set_state(TaskState::TaskRunning);
    status
}

#[actix_rt::test]
async fn updates_and_framework_messages_are_sent_as_upstreams_driver_does() {
    let mut f = registered_driver(false, Duration::from_secs(60)).await;
    send(
        &f.agent,
        &f.executor,
        run_task(task("t1", "true"), framework_info(&[])),
    );
    assert_eq!(call(&mut f.calls).await, Call::Launch("t1".into()));

    f.driver.send_status_update(running("t1"));
    let (from, message) = expect::<StatusUpdateMessage>(&mut f.rx).await;
    assert_eq!(from, f.executor);
    assert_eq!(message.pid, Some(f.executor.to_string()));
    let update = message.update;
    assert_eq!(update.framework_id.value, FRAMEWORK_ID);
    assert_eq!(update.executor_id.as_ref().unwrap().value, "E0");
    assert_eq!(update.slave_id.as_ref().unwrap().value, SLAVE_ID);
    assert_eq!(update.status.slave_id.as_ref().unwrap().value, SLAVE_ID);
    assert_eq!(update.uuid.as_ref().unwrap().len(), 16);
    assert_eq!(update.status.uuid, update.uuid);
    assert_eq!(update.status.timestamp, Some(update.timestamp));
    assert!(update.timestamp > 1.5e9, "seconds since the epoch");
    assert_eq!(update.status.source, None, "the agent sets the source");

    send(&f.agent, &f.executor, ack(&update));
    assert_eq!(
        call(&mut f.calls).await,
        Call::Acknowledged("t1".into(), TaskState::TaskRunning)
    );

    f.driver
        .send_framework_message(b"to the scheduler".to_vec());
    let (_, message) = expect::<ExecutorToFrameworkMessage>(&mut f.rx).await;
    assert_eq!(message.data, b"to the scheduler");
    assert_eq!(message.executor_id.value, "E0");
    assert_eq!(message.slave_id.value, SLAVE_ID);
    let message = FrameworkToExecutorMessage {
        slave_id: message.slave_id,
        framework_id: message.framework_id,
        executor_id: message.executor_id,
        data: b"to the executor".to_vec(),
    };
    send(&f.agent, &f.executor, message);
    assert_eq!(
        call(&mut f.calls).await,
        Call::Message(b"to the executor".to_vec())
    );

    let kill = KillTaskMessage {
        framework_id: FrameworkId {
            value: FRAMEWORK_ID.into(),
        },
        task_id: TaskId { value: "t1".into() },
        kill_policy: Some(kill_policy(Duration::from_secs(1))),
    };
    send(&f.agent, &f.executor, kill);
    assert_eq!(
        call(&mut f.calls).await,
        Call::Kill("t1".into(), Some(kill_policy(Duration::from_secs(1))))
    );

    assert_eq!(f.driver.stop(), Status::DriverStopped);
    assert_eq!(f.driver.join().await, Status::DriverStopped);
    assert_eq!(
        f.driver.send_status_update(running("t1")),
        Status::DriverStopped
    );
}

#[actix_rt::test]
async fn duplicate_tasks_and_malformed_acknowledgements_are_dropped() {
    let mut f = registered_driver(false, Duration::from_secs(60)).await;
    send(
        &f.agent,
        &f.executor,
        run_task(task("t1", "true"), framework_info(&[])),
    );
    send(
        &f.agent,
        &f.executor,
        run_task(task("t1", "true"), framework_info(&[])),
    );
    f.driver.send_status_update(running("t1"));
    let (_, message) = expect::<StatusUpdateMessage>(&mut f.rx).await;
    let mut bad = ack(&message.update);
    bad.uuid = vec![1, 2, 3];
    send(&f.agent, &f.executor, bad);
    send(&f.agent, &f.executor, ack(&message.update));
    // Messages from one sender arrive in order: the duplicate and the
    // malformed acknowledgement were dropped, and the driver still works.
    assert_eq!(call(&mut f.calls).await, Call::Launch("t1".into()));
    assert_eq!(
        call(&mut f.calls).await,
        Call::Acknowledged("t1".into(), TaskState::TaskRunning)
    );
    assert_eq!(f.driver.status(), Status::DriverRunning);
}

#[actix_rt::test]
async fn a_reconnecting_agent_gets_the_unacknowledged_tasks_and_updates() {
    let mut f = registered_driver(true, Duration::from_secs(60)).await;
    for id in ["t1", "t2"] {
        send(
            &f.agent,
            &f.executor,
            run_task(task(id, "true"), framework_info(&[])),
        );
        assert_eq!(call(&mut f.calls).await, Call::Launch(id.into()));
    }
    f.driver.send_status_update(running("t1"));
    f.driver.send_status_update(running("t2"));
    let (_, first) = expect::<StatusUpdateMessage>(&mut f.rx).await;
    let (_, second) = expect::<StatusUpdateMessage>(&mut f.rx).await;
    send(&f.agent, &f.executor, ack(&first.update));
    assert_eq!(
        call(&mut f.calls).await,
        Call::Acknowledged("t1".into(), TaskState::TaskRunning)
    );

    // The agent restarts: the link breaks, and the checkpointing driver
    // waits instead of shutting down.
    f.agent_runtime.shutdown();
    assert_eq!(call(&mut f.calls).await, Call::Disconnected);
    let recovered = runtime();
    let (agent, mut rx) = spawn_agent(&recovered);
    send(
        &agent,
        &f.executor,
        ReconnectExecutorMessage {
            slave_id: SlaveId {
                value: SLAVE_ID.into(),
            },
        },
    );
    let (_, reregister) = expect::<ReregisterExecutorMessage>(&mut rx).await;
    assert_eq!(reregister.executor_id.value, "E0");
    assert_eq!(reregister.framework_id.value, FRAMEWORK_ID);
    assert_eq!(reregister.tasks, vec![task("t2", "true")]);
    assert_eq!(reregister.updates, vec![second.update.clone()]);

    send(
        &agent,
        &f.executor,
        ExecutorReregisteredMessage {
            slave_id: SlaveId {
                value: SLAVE_ID.into(),
            },
            slave_info: SlaveInfo {
                hostname: "recovered.example".into(),
                ..Default::default()
            },
        },
    );
    assert_eq!(
        call(&mut f.calls).await,
        Call::Reregistered("recovered.example".into())
    );
    // Updates now go to the recovered agent.
    f.driver.send_status_update(running("t2"));
    let (_, message) = expect::<StatusUpdateMessage>(&mut rx).await;
    assert_eq!(message.update.status.task_id.value, "t2");
}

#[actix_rt::test]
async fn a_checkpointing_driver_shuts_down_after_the_recovery_timeout() {
    let mut f = registered_driver(true, Duration::from_millis(200)).await;
    f.agent_runtime.shutdown();
    assert_eq!(call(&mut f.calls).await, Call::Disconnected);
    assert_eq!(call(&mut f.calls).await, Call::Shutdown);
}

#[actix_rt::test]
async fn without_checkpointing_a_lost_agent_means_shutdown() {
    let mut f = registered_driver(false, Duration::from_secs(60)).await;
    f.agent_runtime.shutdown();
    assert_eq!(call(&mut f.calls).await, Call::Shutdown);
}

#[actix_rt::test]
async fn a_shutdown_message_calls_shutdown_once_and_ends_a_local_driver() {
    let mut f = registered_driver(false, Duration::from_secs(60)).await;
    send(&f.agent, &f.executor, ShutdownExecutorMessage::default());
    send(&f.agent, &f.executor, ShutdownExecutorMessage::default());
    assert_eq!(call(&mut f.calls).await, Call::Shutdown);
    // In local mode (in-process clusters) the driver's process ends at
    // once; otherwise it keeps sending updates (see the command executor's
    // shutdown test) and kills its process group after the grace period.
    tokio::time::timeout(
        Duration::from_secs(10),
        f.executor_runtime.wait(&f.executor.id),
    )
    .await
    .expect("the driver's process ends");
    assert_eq!(f.driver.stop(), Status::DriverStopped);
    assert_eq!(f.driver.join().await, Status::DriverStopped);
    assert!(f.calls.try_recv().is_err(), "no second shutdown");
}

#[actix_rt::test]
async fn task_staging_updates_abort_the_driver() {
    let mut f = registered_driver(false, Duration::from_secs(60)).await;
    let mut staging = running("t1");
    staging.set_state(TaskState::TaskStaging);
    assert_eq!(f.driver.send_status_update(staging), Status::DriverRunning);
    assert_eq!(
        call(&mut f.calls).await,
        Call::Error("Attempted to send TASK_STAGING status update".into())
    );
    assert_eq!(f.driver.join().await, Status::DriverAborted);
    assert_eq!(
        f.driver.send_status_update(running("t1")),
        Status::DriverAborted
    );
    assert_eq!(f.driver.stop(), Status::DriverAborted);
    assert_eq!(f.driver.status(), Status::DriverStopped);
}
