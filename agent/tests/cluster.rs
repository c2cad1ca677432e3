//! The agent against our master, each in its own libprocess runtime (as
//! in its own OS process): registration, offers of the agent's resources,
//! and a command task run by the real `mesos-executor` binary.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::path::PathBuf;
use std::time::Duration;

use libprocess::ProcessBase;
use mesos_proto::mesos::internal::{
    FrameworkRegisteredMessage, ResourceOffersMessage, StatusUpdateMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{
    framework_info, offer, task_status, CommandInfo, DurationInfo, ExecutorId, ExecutorInfo,
    Filters, FrameworkInfo, KillPolicy, TaskId, TaskInfo, TaskState,
};
use mesos_proto::resources::Resources;
use tokio::sync::mpsc;

use support::*;

#[actix_rt::test]
async fn an_agent_registers_and_runs_a_command_task() {
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&agent_runtime, master.upid(), work_dir.path());

    // The agent registers.
    let mut registered = false;
    for _ in 0..500 {
        if agent.call(|a, _| a.registered).await.unwrap() {
            registered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(registered, "the agent registered with the master");
    let slave_id = agent
        .call(|a, _| a.slave_id().unwrap().to_string())
        .await
        .unwrap();
    let known = master
        .call(move |m, _| m.slaves.registered.contains_key(&slave_id))
        .await
        .unwrap();
    assert!(known);

    // A framework is offered the agent's resources.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let scheduler = master_runtime
        .spawn(Scheduler {
            base: ProcessBase::new("scheduler-test"),
            tx,
        })
        .unwrap();
    let subscribe = Call {
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: FrameworkInfo {
                user: "root".into(),
                name: "agent-test".into(),
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let to = master.upid().clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &subscribe));
    let framework_id = decode::<FrameworkRegisteredMessage>(
        &recv(&mut rx, "mesos.internal.FrameworkRegisteredMessage").await,
    )
    .framework_id;
    let offers: ResourceOffersMessage =
        decode(&recv(&mut rx, "mesos.internal.ResourceOffersMessage").await);
    let offer = offers.offers[0].clone();
    assert_eq!(offers.pids[0], agent.upid().to_string());
    assert_eq!(Resources::from(offer.resources.clone()).cpus(), Some(2.0));

    let executor = bin_dir().join("mesos-executor");
    if !executor.exists() {
        let why = format!(
            "{} is not built (cargo test --workspace builds it)",
            executor.display()
        );
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{why}");
        }
        println!("SKIPPED: {why}");
        return;
    }

    // A command task runs through the command executor to TASK_FINISHED.
    let task = TaskInfo {
        name: "hello".into(),
        task_id: TaskId {
            value: "hello-1".into(),
        },
        slave_id: offer.slave_id.clone(),
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some("echo hello from the task".into()),
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
    let mut states = Vec::new();
    loop {
        let update: StatusUpdateMessage =
            decode(&recv(&mut rx, "mesos.internal.StatusUpdateMessage").await);
        let state = update.update.status.state();
        states.push(state);
        // Acknowledge, as the driver does.
        let ack = Call {
            framework_id: Some(framework_id.clone()),
            r#type: Some(call::Type::Acknowledge as i32),
            acknowledge: Some(call::Acknowledge {
                slave_id: update.update.slave_id.clone().unwrap(),
                task_id: update.update.status.task_id.clone(),
                uuid: update.update.uuid.clone().unwrap(),
            }),
            ..Default::default()
        };
        let to = master.upid().clone();
        scheduler.dispatch(move |this, _| this.base.send(&to, &ack));
        if state.is_terminal() {
            break;
        }
    }
    assert_eq!(states.last(), Some(&TaskState::TaskFinished), "{states:?}");
    assert!(states.contains(&TaskState::TaskRunning), "{states:?}");

    // The task's output is in its sandbox.
    let stdout = find_file(work_dir.path(), "stdout").expect("a sandbox stdout");
    let output = std::fs::read_to_string(stdout).unwrap();
    assert!(output.contains("hello from the task"), "{output}");
}

fn find_file(dir: &std::path::Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

/// Upstream `Slave::registerExecutorTimeout`: an executor that does not
/// register within `--executor_registration_timeout` is destroyed, and its
/// task fails with `REASON_EXECUTOR_REGISTRATION_TIMEOUT`.
#[actix_rt::test]
async fn an_executor_that_does_not_register_in_time_fails_its_task() {
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let mut config = agent_config(&agent_runtime, master.upid(), work_dir.path(), bin_dir());
    config.executor_registration_timeout = Duration::from_secs(1);
    let _agent = mesos_agent::spawn(&agent_runtime, config).unwrap();
    let info = FrameworkInfo {
        user: "root".into(),
        name: "registration-timeout-test".into(),
        ..Default::default()
    };
    let mut framework =
        TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-timeout", info).await;
    // A custom executor that never registers.
    let executor = ExecutorInfo {
        executor_id: ExecutorId {
            value: "silent".into(),
        },
        framework_id: Some(framework.framework_id.clone()),
        command: Some(CommandInfo {
            value: Some("sleep 1000".into()),
            ..Default::default()
        }),
        resources: Resources::parse("cpus:0.1;mem:32", "*").unwrap().to_vec(),
        ..Default::default()
    };
    framework.launch(vec![TaskInfo {
        name: "waits".into(),
        task_id: TaskId {
            value: "waits-1".into(),
        },
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        executor: Some(executor),
        ..Default::default()
    }]);
    let statuses = framework.updates_until_terminal().await;
    let last = statuses.last().unwrap();
    assert_eq!(last.state(), TaskState::TaskFailed, "{statuses:?}");
    assert_eq!(
        last.reason(),
        task_status::Reason::ExecutorRegistrationTimeout,
        "{last:?}"
    );
    assert_eq!(last.source(), task_status::Source::Slave, "{last:?}");
    assert_eq!(
        last.message(),
        "Executor did not register within 1secs",
        "{last:?}"
    );
}

/// Upstream `SlaveTest.RemoveUnregisteredTerminatedExecutor`: a custom
/// executor that exits before registering fails its task (TASK_FAILED
/// from the agent, `REASON_EXECUTOR_TERMINATED`), and the master hears of
/// it (`ExitedExecutorMessage`, with the executor's wait status) and
/// tells the framework (the driver's `executorLost`).
#[actix_rt::test]
async fn an_executor_that_exits_before_registering_fails_its_task_and_is_reported_lost() {
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let _agent = start_agent(&agent_runtime, master.upid(), work_dir.path());
    let info = FrameworkInfo {
        user: "root".into(),
        name: "exited-executor-test".into(),
        ..Default::default()
    };
    let mut framework =
        TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-exited", info).await;
    let executor = ExecutorInfo {
        executor_id: ExecutorId {
            value: "quitter".into(),
        },
        framework_id: Some(framework.framework_id.clone()),
        command: Some(CommandInfo {
            value: Some("exit 3".into()),
            ..Default::default()
        }),
        resources: Resources::parse("cpus:0.1;mem:32", "*").unwrap().to_vec(),
        ..Default::default()
    };
    framework.launch(vec![TaskInfo {
        name: "orphaned".into(),
        task_id: TaskId {
            value: "orphaned-1".into(),
        },
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        executor: Some(executor),
        ..Default::default()
    }]);
    let statuses = framework.updates_until_terminal().await;
    let last = statuses.last().unwrap();
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(last.state(), TaskState::TaskFailed, "{last:?}");
    assert_eq!(last.source(), task_status::Source::Slave, "{last:?}");
    assert_eq!(
        last.reason(),
        task_status::Reason::ExecutorTerminated,
        "{last:?}"
    );
    assert_eq!(
        last.executor_id.as_ref().map(|e| e.value.as_str()),
        Some("quitter")
    );

    let exited: mesos_proto::mesos::internal::ExitedExecutorMessage =
        decode(&recv(&mut framework.rx, "mesos.internal.ExitedExecutorMessage").await);
    assert_eq!(exited.executor_id.value, "quitter");
    assert_eq!(exited.framework_id, framework.framework_id);
    assert_eq!(exited.slave_id, framework.offer.slave_id);
    // A wait status, as upstream's: exited with code 3.
    assert!(libc::WIFEXITED(exited.status), "{}", exited.status);
    assert_eq!(libc::WEXITSTATUS(exited.status), 3, "{}", exited.status);
}

/// Upstream `SchedulerTest.ShutdownExecutor` on the agent's side: the
/// framework's SHUTDOWN call reaches the agent as `ShutdownExecutorMessage`;
/// the command executor kills its task (TASK_KILLED) and exits, and the
/// agent forgets it.
#[actix_rt::test]
async fn a_shutdown_call_shuts_the_executor_down_and_kills_its_task() {
    if !require_executor() {
        return;
    }
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let _agent = start_agent(&agent_runtime, master.upid(), work_dir.path());
    let info = FrameworkInfo {
        user: "root".into(),
        name: "shutdown-executor-test".into(),
        ..Default::default()
    };
    let mut framework =
        TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-shutdown", info).await;
    framework.launch(vec![command_task("napper", "sleep 1071", None)]);
    loop {
        let status = framework.next_status().await;
        assert!(!status.state().is_terminal(), "{status:?}");
        if status.state() == TaskState::TaskRunning {
            break;
        }
    }

    // The command executor's id is its task's.
    let shutdown = Call {
        framework_id: Some(framework.framework_id.clone()),
        r#type: Some(call::Type::Shutdown as i32),
        shutdown: Some(call::Shutdown {
            executor_id: ExecutorId {
                value: "napper".into(),
            },
            slave_id: framework.offer.slave_id.clone(),
        }),
        ..Default::default()
    };
    let to = framework.master.clone();
    framework
        .scheduler
        .dispatch(move |this, _| this.base.send(&to, &shutdown));
    let statuses = framework.updates_until_terminal().await;
    let last = statuses.last().unwrap();
    assert_eq!(last.state(), TaskState::TaskKilled, "{statuses:?}");
    assert!(!sleeping("1071"), "the task's process is gone");

    // The executor is gone from the agent.
    let mut executors = serde_json::Value::Null;
    for _ in 0..100 {
        let state = support::sandbox::get(agent_runtime.address(), "/state")
            .await
            .json();
        executors = state["frameworks"][0]["executors"].clone();
        if executors.as_array().is_none_or(|e| e.is_empty()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the executor is still on the agent: {executors}");
}

/// The command executor dies (SIGKILL) while its task runs: the agent
/// fails the task (TASK_FAILED, `SOURCE_SLAVE`,
/// `REASON_EXECUTOR_TERMINATED`, upstream `executorTerminated` and
/// `sendExecutorTerminatedStatusUpdate`), destroys the rest of the
/// container (the task's process), and, the executor being generated for
/// a command task, sends the master no `ExitedExecutorMessage`.
#[actix_rt::test]
async fn a_command_executor_that_dies_fails_its_running_task() {
    if !require_executor() {
        return;
    }
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let _agent = start_agent(&agent_runtime, master.upid(), work_dir.path());
    let info = FrameworkInfo {
        user: "root".into(),
        name: "dying-executor-test".into(),
        ..Default::default()
    };
    let mut framework =
        TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-dying", info).await;
    framework.launch(vec![command_task("victim", "sleep 1073", None)]);
    let running = loop {
        let status = framework.next_status().await;
        assert!(!status.state().is_terminal(), "{status:?}");
        if status.state() == TaskState::TaskRunning {
            break status;
        }
    };
    // The agent reports the executor's pid in the task's container status.
    let executor_pid = running
        .container_status
        .as_ref()
        .and_then(|c| c.executor_pid)
        .expect("the executor's pid") as i32;
    for _ in 0..100 {
        if sleeping("1073") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sleeping("1073"), "the task runs");
    // SAFETY: kills the command executor this test launched.
    assert_eq!(unsafe { libc::kill(executor_pid, libc::SIGKILL) }, 0);

    let statuses = framework.updates_until_terminal().await;
    let last = statuses.last().unwrap();
    assert_eq!(last.state(), TaskState::TaskFailed, "{statuses:?}");
    assert_eq!(last.source(), task_status::Source::Slave, "{last:?}");
    assert_eq!(
        last.reason(),
        task_status::Reason::ExecutorTerminated,
        "{last:?}"
    );
    for _ in 0..100 {
        if !sleeping("1073") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!sleeping("1073"), "the container was destroyed");
    // No ExitedExecutorMessage for a command executor.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(event) = framework.rx.try_recv() {
        assert_ne!(event.name, "mesos.internal.ExitedExecutorMessage");
    }
}

/// Fails under `CI=true`, otherwise prints SKIPPED, when the workspace's
/// `mesos-executor` is not built.
fn require_executor() -> bool {
    let executor = bin_dir().join("mesos-executor");
    if executor.exists() {
        return true;
    }
    let why = format!(
        "{} is not built (cargo build --workspace --bins)",
        executor.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    println!("SKIPPED: {why}");
    false
}

/// Waits until the sandbox's `stdout` (under `work_dir`) contains `text`.
async fn wait_for_stdout(work_dir: &std::path::Path, text: &str) -> String {
    let mut output = String::new();
    for _ in 0..200 {
        if let Some(stdout) = find_file(work_dir, "stdout") {
            output = std::fs::read_to_string(stdout).unwrap_or_default();
            if output.contains(text) {
                return output;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{text:?} never appeared in the sandbox's stdout: {output}");
}

fn grace_period(secs: i64) -> KillPolicy {
    KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: secs * 1_000_000_000,
        }),
    }
}

/// A command task for the tests of kills.
fn command_task(id: &str, command: &str, kill_policy: Option<KillPolicy>) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: TaskId { value: id.into() },
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        kill_policy,
        ..Default::default()
    }
}

/// Upstream `CommandExecutorTest.NoTransitionFromKillingToFinished`-like,
/// through master and agent: a task that traps SIGTERM is killed with its
/// `KillPolicy` grace period; a framework with `TASK_KILLING_STATE` sees
/// `TASK_KILLING`, then `TASK_KILLED` once the trap has run (no SIGKILL
/// before the grace period ends).
#[actix_rt::test]
async fn a_killed_task_gets_its_grace_period_to_run_its_sigterm_trap() {
    if !require_executor() {
        return;
    }
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let _agent = start_agent(&agent_runtime, master.upid(), work_dir.path());
    let info = FrameworkInfo {
        user: "root".into(),
        name: "kill-grace-test".into(),
        capabilities: vec![framework_info::Capability {
            r#type: Some(framework_info::capability::Type::TaskKillingState as i32),
        }],
        ..Default::default()
    };
    let mut framework =
        TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-kill", info).await;
    framework.launch(vec![command_task(
        "trapper",
        "trap 'echo term; sleep 1; exit 0' TERM; echo started; \
         while true; do sleep 0.1; done",
        Some(grace_period(10)),
    )]);
    loop {
        let status = framework.next_status().await;
        assert!(!status.state().is_terminal(), "{status:?}");
        if status.state() == TaskState::TaskRunning {
            break;
        }
    }
    // The trap is set once the shell has echoed.
    wait_for_stdout(work_dir.path(), "started").await;
    let killed_at = std::time::Instant::now();
    framework.kill(TaskId {
        value: "trapper".into(),
    });
    let statuses = framework.updates_until_terminal().await;
    let states: Vec<TaskState> = statuses.iter().map(|s| s.state()).collect();
    assert_eq!(
        states,
        [TaskState::TaskKilling, TaskState::TaskKilled],
        "{statuses:?}"
    );
    let elapsed = killed_at.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(10),
        "the trap ran to its end, and no SIGKILL came: {elapsed:?}"
    );
    let killed = statuses.last().unwrap();
    assert_eq!(
        killed.message(),
        "Command exited with status 0",
        "{killed:?}"
    );
    let output = wait_for_stdout(work_dir.path(), "term").await;
    assert!(output.contains("started\nterm\n"), "{output}");
}

/// A task that ignores SIGTERM is SIGKILLed once the grace period of the
/// kill's own `KillPolicy` (overriding the task's) has passed; a framework
/// without `TASK_KILLING_STATE` sees only `TASK_KILLED`.
#[actix_rt::test]
async fn a_killed_task_that_ignores_sigterm_is_sigkilled_after_the_grace_period() {
    if !require_executor() {
        return;
    }
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let _agent = start_agent(&agent_runtime, master.upid(), work_dir.path());
    let info = FrameworkInfo {
        user: "root".into(),
        name: "kill-sigkill-test".into(),
        ..Default::default()
    };
    let mut framework =
        TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-sigkill", info).await;
    framework.launch(vec![command_task(
        "stubborn",
        "trap '' TERM; echo started; while true; do sleep 0.1; done",
        Some(grace_period(30)),
    )]);
    loop {
        let status = framework.next_status().await;
        assert!(!status.state().is_terminal(), "{status:?}");
        if status.state() == TaskState::TaskRunning {
            break;
        }
    }
    wait_for_stdout(work_dir.path(), "started").await;
    let killed_at = std::time::Instant::now();
    framework.kill_with_policy(
        TaskId {
            value: "stubborn".into(),
        },
        Some(grace_period(2)),
    );
    let statuses = framework.updates_until_terminal().await;
    let states: Vec<TaskState> = statuses.iter().map(|s| s.state()).collect();
    assert_eq!(states, [TaskState::TaskKilled], "{statuses:?}");
    let elapsed = killed_at.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(20),
        "SIGKILL came after the kill's grace period: {elapsed:?}"
    );
    let killed = statuses.last().unwrap();
    assert_eq!(
        killed.message(),
        "Command terminated with signal Killed",
        "{killed:?}"
    );
}

/// Whether a process runs `sleep <arg>` (seen from the host's `/proc`,
/// whatever pid namespace it is in).
fn sleeping(arg: &str) -> bool {
    let needle = format!("sleep\0{arg}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .any(|cmdline| String::from_utf8_lossy(&cmdline).ends_with(&needle))
}

/// Upstream `executorEnvironment` and `_shutdownExecutor`:
/// `ExecutorInfo.shutdown_grace_period` overrides the agent's
/// `--executor_shutdown_grace_period`, both in the executor's
/// `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` and in how long the agent waits
/// before destroying an executor it asked to shut down.
#[actix_rt::test]
async fn an_executors_shutdown_grace_period_overrides_the_agents() {
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let mut config = agent_config(&agent_runtime, master.upid(), work_dir.path(), bin_dir());
    config.executor_shutdown_grace_period = Duration::from_secs(60);
    let _agent = mesos_agent::spawn(&agent_runtime, config).unwrap();
    let info = FrameworkInfo {
        user: "root".into(),
        name: "shutdown-grace-test".into(),
        ..Default::default()
    };
    let framework =
        TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-grace", info).await;
    // An executor that never registers, so it ignores the agent's
    // shutdown request: only the agent's destroy ends it.
    let sleep_arg = format!("1000.{}", std::process::id());
    let executor = ExecutorInfo {
        executor_id: ExecutorId {
            value: "graceful".into(),
        },
        framework_id: Some(framework.framework_id.clone()),
        command: Some(CommandInfo {
            value: Some(format!(
                "echo grace=$MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD; exec sleep {sleep_arg}"
            )),
            ..Default::default()
        }),
        resources: Resources::parse("cpus:0.1;mem:32", "*").unwrap().to_vec(),
        shutdown_grace_period: Some(DurationInfo {
            nanoseconds: 1_500_000_000,
        }),
        ..Default::default()
    };
    framework.launch(vec![TaskInfo {
        name: "waits".into(),
        task_id: TaskId {
            value: "waits-1".into(),
        },
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        executor: Some(executor),
        ..Default::default()
    }]);
    let output = wait_for_stdout(work_dir.path(), "grace=").await;
    assert!(output.contains("grace=1.5secs\n"), "{output}");
    for _ in 0..200 {
        if sleeping(&sleep_arg) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sleeping(&sleep_arg), "the executor runs");

    let shut_down_at = std::time::Instant::now();
    framework.teardown();
    while sleeping(&sleep_arg) {
        assert!(
            shut_down_at.elapsed() < Duration::from_secs(30),
            "the executor was destroyed after its own grace period, not the agent's"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        shut_down_at.elapsed() >= Duration::from_millis(1500),
        "destroyed only once its grace period passed: {:?}",
        shut_down_at.elapsed()
    );
}
