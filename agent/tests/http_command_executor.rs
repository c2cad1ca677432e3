//! `--http_command_executor` through our master and agent: the real
//! `mesos-executor` gets `MESOS_HTTP_COMMAND_EXECUTOR=1`, subscribes on
//! the agent's `/api/v1/executor` and runs a command task to
//! `TASK_FINISHED` (upstream `CommandExecutorTest`, with
//! `flags.http_command_executor = true`); after an agent restart it
//! subscribes again and can still be killed (upstream
//! `SlaveRecoveryTest` with the HTTP command executor).

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use mesos_agent::containerizer::ContainerizerOptions;
use mesos_proto::mesos::{CommandInfo, FrameworkInfo, TaskId, TaskInfo, TaskState};
use mesos_proto::resources::Resources;

use support::agent_binary::AgentBinary;
use support::*;

#[actix_rt::test]
async fn the_http_command_executor_subscribes_and_finishes_a_task() {
    if !bin_dir().join("mesos-executor").exists() {
        let why = "build the executor first (`cargo build --workspace --bins`)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        println!("SKIPPED: {why}");
        return;
    }
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let mut config = agent_config(&agent_runtime, master.upid(), work_dir.path(), bin_dir());
    config.containerizer = ContainerizerOptions {
        http_command_executor: true,
        runtime_dir: support::unique_runtime_dir(),
        ..Default::default()
    };
    let _agent = mesos_agent::spawn(&agent_runtime, config).unwrap();

    let info = FrameworkInfo {
        user: "root".into(),
        name: "http-command-executor-test".into(),
        ..Default::default()
    };
    let mut framework = TestFramework::subscribe(
        &master_runtime,
        master.upid(),
        "scheduler-http-command-executor",
        info,
    )
    .await;
    // The task checks what the agent told its executor.
    framework.launch(vec![TaskInfo {
        name: "http".into(),
        task_id: TaskId {
            value: "http-1".into(),
        },
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some(r#"test "$MESOS_HTTP_COMMAND_EXECUTOR" = 1 && echo http task"#.into()),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    let statuses = framework.updates_until_terminal().await;
    let states: Vec<TaskState> = statuses.iter().map(|s| s.state()).collect();
    assert_eq!(
        states,
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ],
        "{statuses:?}"
    );
    let last = statuses.last().unwrap();
    assert_eq!(
        last.message.as_deref(),
        Some("Command exited with status 0")
    );

    // The executor spoke HTTP: its log says so.
    let stderr = std::fs::read_to_string(find_file(work_dir.path(), "stderr").unwrap()).unwrap();
    assert!(
        stderr.contains("HTTP command executor started") && stderr.contains("Subscribed executor"),
        "{stderr}"
    );
    let stdout = std::fs::read_to_string(find_file(work_dir.path(), "stdout").unwrap()).unwrap();
    assert!(stdout.contains("http task"), "{stdout}");
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
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

/// Whether the executor and agent binaries are built; fails under
/// `CI=true` when they are not.
fn binaries_built() -> bool {
    for binary in ["mesos-executor", "mesos-agent"] {
        if !bin_dir().join(binary).exists() {
            let why = format!("build {binary} first (`cargo build --workspace --bins`)");
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            println!("SKIPPED: {why}");
            return false;
        }
    }
    true
}

/// A master, a `mesos-agent` binary with `--http_command_executor`, and a
/// checkpointing framework whose `sleep 60` task runs.
struct RunningSleeper {
    _master_runtime: libprocess::Runtime,
    master: libprocess::PID<mesos_master::master::Master>,
    port: u16,
    work_dir: tempfile::TempDir,
    agent: AgentBinary,
    framework: TestFramework,
    task_id: TaskId,
    /// Kills the executor the test leaves behind (after the last agent is
    /// gone it would wait for one to come back).
    _leftovers: support::KillCgroupTree,
}

impl RunningSleeper {
    async fn start(name: &str) -> Self {
        let master_runtime = runtime();
        let master = start_master(&master_runtime);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let work_dir = tempfile::tempdir().unwrap();
        let leftovers = support::reaper(work_dir.path());
        let agent = AgentBinary::start(
            master.upid(),
            port,
            work_dir.path(),
            &["--http_command_executor"],
        );
        let info = FrameworkInfo {
            user: "root".into(),
            name: name.into(),
            checkpoint: Some(true),
            ..Default::default()
        };
        let mut framework = TestFramework::subscribe(
            &master_runtime,
            master.upid(),
            &format!("scheduler-{name}"),
            info,
        )
        .await;
        let task_id = TaskId {
            value: "sleeper".into(),
        };
        framework.launch(vec![TaskInfo {
            name: "sleeper".into(),
            task_id: task_id.clone(),
            resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
            command: Some(CommandInfo {
                value: Some("sleep 60".into()),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        loop {
            let state = framework.next_status().await.state();
            if state == TaskState::TaskRunning {
                break;
            }
            assert_eq!(state, TaskState::TaskStarting);
        }
        Self {
            _master_runtime: master_runtime,
            master,
            port,
            work_dir,
            agent,
            framework,
            task_id,
            _leftovers: leftovers,
        }
    }

    /// Starts the agent binary again on the same address and work dir.
    fn restart_agent(&self) -> AgentBinary {
        AgentBinary::start(
            self.master.upid(),
            self.port,
            self.work_dir.path(),
            &["--http_command_executor"],
        )
    }
}

#[actix_rt::test]
async fn the_http_command_executor_resubscribes_to_a_restarted_agent() {
    if !binaries_built() {
        return;
    }
    let mut running = RunningSleeper::start("http-recovery-test").await;
    // The agent restarts on the same address; the executor keeps running
    // and subscribes again.
    running.agent.crash();
    let _agent = running.restart_agent();
    let work_dir = running.work_dir.path();
    let stderr = || std::fs::read_to_string(find_file(work_dir, "stderr").unwrap()).unwrap();
    let mut resubscribed = false;
    for _ in 0..600 {
        if stderr().matches("Subscribed executor").count() >= 2 {
            resubscribed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let agent_log = std::fs::read_to_string(work_dir.join("agent.log")).unwrap();
    assert!(resubscribed, "{}\n{agent_log}", stderr());
    assert!(stderr().contains("Disconnected from agent"), "{}", stderr());
    running.framework.kill(running.task_id.clone());
    let statuses = running.framework.updates_until_terminal().await;
    let killed = statuses.last().unwrap();
    assert_eq!(killed.state(), TaskState::TaskKilled, "{killed:?}");
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
}

/// Upstream `SlaveRecoveryTest.RecoverTerminatedHTTPExecutor`: the HTTP
/// command executor exits while the agent is down; the restarted agent,
/// finding it gone, fails its task (`TASK_FAILED` from `SOURCE_SLAVE`
/// with `REASON_EXECUTOR_TERMINATED`, as the v0 variant in `recovery.rs`).
#[actix_rt::test]
async fn an_http_executor_that_exited_while_the_agent_was_down_has_its_task_failed() {
    if !binaries_built() {
        return;
    }
    let mut running = RunningSleeper::start("http-terminated-test").await;

    running.agent.crash();
    let forked: i32 =
        std::fs::read_to_string(find_file(running.work_dir.path(), "forked.pid").unwrap())
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    // SAFETY: kills the process group made for this test's executor.
    unsafe { libc::kill(-forked, libc::SIGKILL) };
    for _ in 0..100 {
        let stat = std::fs::read_to_string(format!("/proc/{forked}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let _agent = running.restart_agent();
    let statuses = running.framework.updates_until_terminal().await;
    let status = statuses.last().unwrap();
    assert_eq!(status.task_id, running.task_id);
    assert_eq!(status.state(), TaskState::TaskFailed, "{statuses:?}");
    assert_eq!(
        status.source(),
        mesos_proto::mesos::task_status::Source::Slave
    );
    assert_eq!(
        status.reason(),
        mesos_proto::mesos::task_status::Reason::ExecutorTerminated,
        "{status:?}"
    );
}
