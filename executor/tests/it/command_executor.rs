//! The real `mesos-executor` binary against an emulated agent.

use std::time::{Duration, Instant};

use mesos_proto::mesos::framework_info::capability::Type as Capability;
use mesos_proto::mesos::internal::{
    ExecutorReregisteredMessage, KillTaskMessage, ReconnectExecutorMessage,
    RegisterExecutorMessage, ReregisterExecutorMessage, ShutdownExecutorMessage, StatusUpdate,
    StatusUpdateMessage,
};
use mesos_proto::mesos::task_status::Source;
use mesos_proto::mesos::{
    environment, resource, value, Environment, FrameworkId, FrameworkInfo, Resource, SlaveId,
    SlaveInfo, TaskId, TaskState,
};

use crate::support::*;

/// Waits for the executor to register and registers it; returns its UPID.
async fn register(
    agent: &libprocess::PID<Agent>,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<libprocess::MessageEvent>,
    executor_id: &str,
    framework: &FrameworkInfo,
) -> libprocess::UPID {
    let (executor, message) = expect::<RegisterExecutorMessage>(rx).await;
    assert_eq!(executor.id.as_ref(), "executor(1)");
    assert_eq!(message.framework_id.value, FRAMEWORK_ID);
    assert_eq!(message.executor_id.value, executor_id);
    send(agent, &executor, registered(executor_id, framework.clone()));
    executor
}

/// Returns the next status update, checking what the driver fills in.
async fn update(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<libprocess::MessageEvent>,
    executor: &libprocess::UPID,
    state: TaskState,
) -> StatusUpdate {
    let (from, message) = expect::<StatusUpdateMessage>(rx).await;
    let update = message.update;
    let status = &update.status;
    assert_eq!(status.state(), state, "{status:?}");
    assert_eq!(from, *executor);
    assert_eq!(message.pid.as_deref(), Some(executor.to_string().as_str()));
    assert_eq!(update.framework_id.value, FRAMEWORK_ID);
    assert_eq!(update.slave_id.as_ref().unwrap().value, SLAVE_ID);
    assert_eq!(status.slave_id.as_ref().unwrap().value, SLAVE_ID);
    assert_eq!(update.executor_id, status.executor_id);
    let uuid = update.uuid.as_ref().expect("update.uuid");
    assert_eq!(uuid.len(), 16);
    assert_eq!(
        status.uuid.as_ref(),
        Some(uuid),
        "status.uuid is update.uuid"
    );
    assert_eq!(status.timestamp, Some(update.timestamp));
    assert_eq!(status.source(), Source::Executor);
    update
}

#[actix_rt::test]
async fn a_shell_command_finishes_and_the_acknowledged_executor_exits() {
    let runtime = runtime();
    let (agent, mut rx) = spawn_agent(&runtime);
    let mut executor = ExecutorUnderTest::start(agent.upid(), "task-1", &[]);
    let framework = framework_info(&[]);
    let pid = register(&agent, &mut rx, "task-1", &framework).await;

    send(
        &agent,
        &pid,
        run_task(task("task-1", "echo hello"), framework),
    );
    for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
        let update = update(&mut rx, &pid, state).await;
        assert_eq!(update.executor_id.as_ref().unwrap().value, "task-1");
        assert_eq!(update.status.task_id.value, "task-1");
        send(&agent, &pid, ack(&update));
    }
    let finished = update(&mut rx, &pid, TaskState::TaskFinished).await;
    assert_eq!(
        finished.status.message.as_deref(),
        Some("Command exited with status 0")
    );
    send(&agent, &pid, ack(&finished));

    assert!(executor.exited().await.success(), "{}", executor.stderr());
    assert_eq!(
        executor.stdout(),
        "hello\n",
        "the task writes to the executor's stdout"
    );
}

#[actix_rt::test]
async fn a_failing_command_fails_with_its_exit_status_and_gets_its_environment() {
    let runtime = runtime();
    let (agent, mut rx) = spawn_agent(&runtime);
    let mut executor = ExecutorUnderTest::start(agent.upid(), "task-2", &[]);
    let framework = framework_info(&[]);
    let pid = register(&agent, &mut rx, "task-2", &framework).await;

    let mut task = task(
        "task-2",
        r#"echo "$GREETING $MESOS_ALLOCATION_ROLE $(pwd -P)"; exit 3"#,
    );
    let command = task.command.as_mut().unwrap();
    command.environment = Some(Environment {
        variables: vec![environment::Variable {
            name: "GREETING".into(),
            value: Some("hi".into()),
            ..Default::default()
        }],
    });
    task.resources = vec![Resource {
        name: "cpus".into(),
        r#type: value::Type::Scalar as i32,
        scalar: Some(value::Scalar { value: 0.1 }),
        allocation_info: Some(resource::AllocationInfo {
            role: Some("dev".into()),
        }),
        ..Default::default()
    }];
    send(&agent, &pid, run_task(task, framework));
    for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
        let update = update(&mut rx, &pid, state).await;
        send(&agent, &pid, ack(&update));
    }
    let failed = update(&mut rx, &pid, TaskState::TaskFailed).await;
    assert_eq!(
        failed.status.message.as_deref(),
        Some("Command exited with status 3")
    );
    send(&agent, &pid, ack(&failed));

    assert!(executor.exited().await.success(), "{}", executor.stderr());
    let sandbox = executor.sandbox().canonicalize().unwrap();
    assert_eq!(executor.stdout(), format!("hi dev {}\n", sandbox.display()));
}

#[actix_rt::test]
async fn a_killed_task_goes_killing_then_killed_and_a_second_task_fails() {
    let runtime = runtime();
    let (agent, mut rx) = spawn_agent(&runtime);
    let mut executor = ExecutorUnderTest::start(agent.upid(), "task-3", &[]);
    let framework = framework_info(&[Capability::TaskKillingState]);
    let pid = register(&agent, &mut rx, "task-3", &framework).await;

    send(
        &agent,
        &pid,
        run_task(task("task-3", "sleep 100"), framework.clone()),
    );
    for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
        let update = update(&mut rx, &pid, state).await;
        send(&agent, &pid, ack(&update));
    }

    // Only one task per command executor.
    send(&agent, &pid, run_task(task("task-4", "true"), framework));
    let refused = update(&mut rx, &pid, TaskState::TaskFailed).await;
    assert_eq!(refused.status.task_id.value, "task-4");
    assert_eq!(
        refused.status.message.as_deref(),
        Some("Attempted to run multiple tasks using a \"command\" executor")
    );
    send(&agent, &pid, ack(&refused));

    let kill = KillTaskMessage {
        framework_id: FrameworkId {
            value: FRAMEWORK_ID.into(),
        },
        task_id: TaskId {
            value: "task-3".into(),
        },
        kill_policy: None,
    };
    let killed_at = Instant::now();
    send(&agent, &pid, kill);
    let killing = update(&mut rx, &pid, TaskState::TaskKilling).await;
    send(&agent, &pid, ack(&killing));
    let killed = update(&mut rx, &pid, TaskState::TaskKilled).await;
    assert_eq!(killed.status.task_id.value, "task-3");
    assert_eq!(
        killed.status.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
    assert!(
        killed_at.elapsed() < Duration::from_secs(3),
        "SIGTERM ends the task before the default 3s grace period"
    );
    send(&agent, &pid, ack(&killed));
    assert!(executor.exited().await.success(), "{}", executor.stderr());
}

#[actix_rt::test]
async fn a_task_ignoring_sigterm_is_killed_when_the_kill_grace_period_ends() {
    let runtime = runtime();
    let (agent, mut rx) = spawn_agent(&runtime);
    let mut executor = ExecutorUnderTest::start(agent.upid(), "task-5", &[]);
    // No TASK_KILLING_STATE: no TASK_KILLING update.
    let framework = framework_info(&[]);
    let pid = register(&agent, &mut rx, "task-5", &framework).await;

    let mut task = task("task-5", "trap '' TERM; touch ready; sleep 100");
    task.kill_policy = Some(kill_policy(Duration::from_secs(60)));
    send(&agent, &pid, run_task(task, framework));
    for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
        let update = update(&mut rx, &pid, state).await;
        send(&agent, &pid, ack(&update));
    }
    executor.file_appears("ready").await;

    // The kill's policy overrides the task's 60 seconds.
    let kill = KillTaskMessage {
        framework_id: FrameworkId {
            value: FRAMEWORK_ID.into(),
        },
        task_id: TaskId {
            value: "task-5".into(),
        },
        kill_policy: Some(kill_policy(Duration::from_millis(300))),
    };
    send(&agent, &pid, kill);
    let killed = update(&mut rx, &pid, TaskState::TaskKilled).await;
    assert_eq!(
        killed.status.message.as_deref(),
        Some("Command terminated with signal Killed")
    );
    send(&agent, &pid, ack(&killed));
    assert!(executor.exited().await.success(), "{}", executor.stderr());
}

#[actix_rt::test]
async fn a_shutdown_kills_the_task_and_the_executor_exits() {
    let runtime = runtime();
    let (agent, mut rx) = spawn_agent(&runtime);
    let mut executor = ExecutorUnderTest::start(agent.upid(), "task-6", &[]);
    let framework = framework_info(&[]);
    let pid = register(&agent, &mut rx, "task-6", &framework).await;

    send(
        &agent,
        &pid,
        run_task(task("task-6", "sleep 100"), framework),
    );
    for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
        let update = update(&mut rx, &pid, state).await;
        send(&agent, &pid, ack(&update));
    }
    send(&agent, &pid, ShutdownExecutorMessage::default());
    let killed = update(&mut rx, &pid, TaskState::TaskKilled).await;
    assert_eq!(
        killed.status.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
    // After a shutdown the driver ignores the agent, acknowledgements
    // included; the executor leaves a second after its last update.
    assert!(executor.exited().await.success(), "{}", executor.stderr());
}

#[actix_rt::test]
async fn a_shutdown_before_any_task_exits_at_once() {
    let runtime = runtime();
    let (agent, mut rx) = spawn_agent(&runtime);
    let mut executor = ExecutorUnderTest::start(agent.upid(), "task-7", &[]);
    let framework = framework_info(&[]);
    let pid = register(&agent, &mut rx, "task-7", &framework).await;
    send(&agent, &pid, ShutdownExecutorMessage::default());
    assert!(executor.exited().await.success(), "{}", executor.stderr());
}

#[actix_rt::test]
async fn without_checkpointing_the_executor_kills_its_task_when_the_agent_goes() {
    let runtime = runtime();
    let (agent, mut rx) = spawn_agent(&runtime);
    let mut executor = ExecutorUnderTest::start(agent.upid(), "task-8", &[]);
    let framework = framework_info(&[]);
    let pid = register(&agent, &mut rx, "task-8", &framework).await;

    send(
        &agent,
        &pid,
        run_task(
            task("task-8", "echo $$ > task.pid; exec sleep 100"),
            framework,
        ),
    );
    for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
        update(&mut rx, &pid, state).await;
    }
    executor.file_appears("task.pid").await;
    runtime.shutdown();

    assert!(executor.exited().await.success(), "{}", executor.stderr());
    let task_pid: i32 = std::fs::read_to_string(executor.file("task.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(task_pid, 0) } == 0;
    assert!(!alive, "the task was killed");
}

#[actix_rt::test]
async fn with_checkpointing_the_executor_reregisters_with_a_recovered_agent() {
    let runtime = runtime();
    let (agent, mut rx) = spawn_agent(&runtime);
    let mut executor = ExecutorUnderTest::start(
        agent.upid(),
        "task-9",
        &[
            ("MESOS_CHECKPOINT", "1"),
            ("MESOS_RECOVERY_TIMEOUT", "1mins"),
        ],
    );
    let mut framework = framework_info(&[]);
    framework.checkpoint = Some(true);
    let pid = register(&agent, &mut rx, "task-9", &framework).await;
    let task = task("task-9", "sleep 100");
    send(&agent, &pid, run_task(task.clone(), framework.clone()));
    // Neither update is acknowledged before the agent goes away.
    let starting = update(&mut rx, &pid, TaskState::TaskStarting).await;
    let running = update(&mut rx, &pid, TaskState::TaskRunning).await;
    runtime.shutdown();
    executor
        .logged("Agent exited, but framework has checkpointing enabled")
        .await;

    // The agent restarts at a new address and reconnects.
    let recovered = crate::support::runtime();
    let (agent, mut rx) = spawn_agent(&recovered);
    send(
        &agent,
        &pid,
        ReconnectExecutorMessage {
            slave_id: SlaveId {
                value: SLAVE_ID.into(),
            },
        },
    );
    let (from, reregister) = expect::<ReregisterExecutorMessage>(&mut rx).await;
    assert_eq!(from, pid);
    assert_eq!(reregister.executor_id.value, "task-9");
    assert_eq!(reregister.framework_id.value, FRAMEWORK_ID);
    assert_eq!(reregister.tasks, vec![task]);
    assert_eq!(reregister.updates, vec![starting.clone(), running.clone()]);

    send(
        &agent,
        &pid,
        ExecutorReregisteredMessage {
            slave_id: SlaveId {
                value: SLAVE_ID.into(),
            },
            slave_info: SlaveInfo {
                hostname: "agent.example".into(),
                ..Default::default()
            },
        },
    );
    send(&agent, &pid, ack(&starting));
    send(&agent, &pid, ack(&running));
    let kill = KillTaskMessage {
        framework_id: FrameworkId {
            value: FRAMEWORK_ID.into(),
        },
        task_id: TaskId {
            value: "task-9".into(),
        },
        kill_policy: None,
    };
    send(&agent, &pid, kill);
    let killed = update(&mut rx, &pid, TaskState::TaskKilled).await;
    send(&agent, &pid, ack(&killed));
    assert!(executor.exited().await.success(), "{}", executor.stderr());
}

#[actix_rt::test]
async fn with_checkpointing_the_executor_shuts_down_after_the_recovery_timeout() {
    let runtime = runtime();
    let (agent, mut rx) = spawn_agent(&runtime);
    let mut executor = ExecutorUnderTest::start(
        agent.upid(),
        "task-10",
        &[
            ("MESOS_CHECKPOINT", "1"),
            ("MESOS_RECOVERY_TIMEOUT", "500ms"),
        ],
    );
    let mut framework = framework_info(&[]);
    framework.checkpoint = Some(true);
    let pid = register(&agent, &mut rx, "task-10", &framework).await;
    send(
        &agent,
        &pid,
        run_task(task("task-10", "sleep 100"), framework),
    );
    for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
        update(&mut rx, &pid, state).await;
    }
    runtime.shutdown();
    assert!(executor.exited().await.success(), "{}", executor.stderr());
    let stderr = executor.stderr();
    assert!(stderr.contains("Recovery timeout exceeded"), "{stderr}");
}
