//! An emulated agent, message builders, and a handle on a running
//! `mesos-executor`.

#![allow(dead_code)] // each test module uses part of it

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::Duration;

use libprocess::actix::{Actor, Context};
use libprocess::{Config, MessageEvent, Process, ProcessBase, Runtime, PID, UPID};
use mesos_proto::mesos::framework_info::capability::Type as Capability;
use mesos_proto::mesos::framework_info::Capability as FrameworkCapability;
use mesos_proto::mesos::internal::{
    ExecutorRegisteredMessage, RunTaskMessage, StatusUpdate, StatusUpdateAcknowledgementMessage,
};
use mesos_proto::mesos::{
    CommandInfo, ExecutorId, ExecutorInfo, FrameworkId, FrameworkInfo, KillPolicy, SlaveId,
    SlaveInfo, TaskId, TaskInfo,
};
use tokio::sync::mpsc;

pub const FRAMEWORK_ID: &str = "F0";
pub const SLAVE_ID: &str = "S0";

/// A process standing in for an agent: records every message it gets.
pub struct Agent {
    pub base: ProcessBase<Self>,
    tx: mpsc::UnboundedSender<MessageEvent>,
}

impl Actor for Agent {
    type Context = Context<Self>;
}

impl Process for Agent {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
    fn unhandled(&mut self, event: MessageEvent, _ctx: &mut Context<Self>) {
        let _ = self.tx.send(event);
    }
}
libprocess::process_handlers!(Agent);

pub fn runtime() -> Runtime {
    Runtime::new(Config {
        ip: Ipv4Addr::LOCALHOST,
        ..Config::default()
    })
    .expect("runtime")
}

pub fn spawn_agent(runtime: &Runtime) -> (PID<Agent>, mpsc::UnboundedReceiver<MessageEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let agent = Agent {
        base: ProcessBase::new("slave(1)"),
        tx,
    };
    (runtime.spawn(agent).expect("spawn agent"), rx)
}

/// Sends `message` from the agent to `to`.
pub fn send<M: mesos_proto::Message + Send + 'static>(agent: &PID<Agent>, to: &UPID, message: M) {
    let to = to.clone();
    agent.dispatch(move |this, _| this.base.send(&to, &message));
}

/// Returns the next message the agent got.
pub async fn next(rx: &mut mpsc::UnboundedReceiver<MessageEvent>) -> MessageEvent {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("timed out waiting for a message from the executor")
        .expect("agent gone")
}

/// Returns the next message, which must be an `M`, and its sender.
pub async fn expect<M: mesos_proto::Message>(
    rx: &mut mpsc::UnboundedReceiver<MessageEvent>,
) -> (UPID, M) {
    let event = next(rx).await;
    assert_eq!(event.name, M::full_name(), "unexpected message");
    let message = M::decode(event.body).expect("decode");
    (event.from, message)
}

pub fn framework_info(capabilities: &[Capability]) -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: "test-framework".into(),
        id: Some(FrameworkId {
            value: FRAMEWORK_ID.into(),
        }),
        capabilities: capabilities
            .iter()
            .map(|c| FrameworkCapability {
                r#type: Some(*c as i32),
            })
            .collect(),
        ..Default::default()
    }
}

pub fn registered(executor_id: &str, framework: FrameworkInfo) -> ExecutorRegisteredMessage {
    ExecutorRegisteredMessage {
        executor_info: ExecutorInfo {
            executor_id: ExecutorId {
                value: executor_id.into(),
            },
            framework_id: Some(FrameworkId {
                value: FRAMEWORK_ID.into(),
            }),
            command: Some(CommandInfo {
                value: Some("mesos-executor".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        framework_id: FrameworkId {
            value: FRAMEWORK_ID.into(),
        },
        framework_info: framework,
        slave_id: SlaveId {
            value: SLAVE_ID.into(),
        },
        slave_info: SlaveInfo {
            hostname: "agent.example".into(),
            port: Some(5051),
            id: Some(SlaveId {
                value: SLAVE_ID.into(),
            }),
            ..Default::default()
        },
    }
}

pub fn task(task_id: &str, shell_command: &str) -> TaskInfo {
    TaskInfo {
        name: task_id.into(),
        task_id: TaskId {
            value: task_id.into(),
        },
        slave_id: SlaveId {
            value: SLAVE_ID.into(),
        },
        command: Some(CommandInfo {
            value: Some(shell_command.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn run_task(task: TaskInfo, framework: FrameworkInfo) -> RunTaskMessage {
    RunTaskMessage {
        framework,
        task,
        pid: Some("scheduler-1@127.0.0.1:1".into()),
        launch_executor: Some(true),
        ..Default::default()
    }
}

pub fn kill_policy(grace_period: Duration) -> KillPolicy {
    KillPolicy {
        grace_period: Some(mesos_proto::mesos::DurationInfo {
            nanoseconds: grace_period.as_nanos() as i64,
        }),
    }
}

/// The acknowledgement an agent sends once it has checkpointed `update`.
pub fn ack(update: &StatusUpdate) -> StatusUpdateAcknowledgementMessage {
    StatusUpdateAcknowledgementMessage {
        slave_id: SlaveId {
            value: SLAVE_ID.into(),
        },
        framework_id: update.framework_id.clone(),
        task_id: update.status.task_id.clone(),
        uuid: update.uuid.clone().unwrap_or_default(),
    }
}

/// A running `mesos-executor`, launched as an agent would: the executor
/// environment, the sandbox as working directory, stdout and stderr in the
/// sandbox files, and its own process group (the driver kills its group
/// after a shutdown, which must not reach the test).
pub struct ExecutorUnderTest {
    child: Child,
    sandbox: tempfile::TempDir,
}

impl ExecutorUnderTest {
    pub fn start(agent: &UPID, executor_id: &str, env: &[(&str, &str)]) -> Self {
        use std::os::unix::process::CommandExt as _;
        let sandbox = tempfile::tempdir().unwrap();
        let stdout = std::fs::File::create(sandbox.path().join("stdout")).unwrap();
        let stderr = std::fs::File::create(sandbox.path().join("stderr")).unwrap();
        let directory = sandbox.path().to_str().unwrap().to_string();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mesos-executor"));
        command
            .arg("--launcher_dir=/usr/libexec/mesos")
            .current_dir(sandbox.path())
            .env_remove("MESOS_LOCAL")
            .env("MESOS_SLAVE_PID", agent.to_string())
            .env("MESOS_SLAVE_ID", SLAVE_ID)
            .env("MESOS_FRAMEWORK_ID", FRAMEWORK_ID)
            .env("MESOS_EXECUTOR_ID", executor_id)
            .env("MESOS_DIRECTORY", &directory)
            .env("MESOS_SANDBOX", &directory)
            .env(
                "MESOS_AGENT_ENDPOINT",
                format!("{}:{}", agent.ip, agent.port),
            )
            .env("MESOS_CHECKPOINT", "0")
            .env("MESOS_HTTP_COMMAND_EXECUTOR", "0")
            .env("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5secs")
            .env("LIBPROCESS_IP", "127.0.0.1")
            .env("LIBPROCESS_PORT", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        let child = command.spawn().expect("start mesos-executor");
        Self { child, sandbox }
    }

    pub fn sandbox(&self) -> &Path {
        self.sandbox.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.sandbox.path().join(name)
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.file("stdout")).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.file("stderr")).unwrap_or_default()
    }

    /// Waits for the executor to exit.
    pub async fn exited(&mut self) -> ExitStatus {
        for _ in 0..1000 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "mesos-executor did not exit; its stderr:\n{}",
            self.stderr()
        );
    }

    /// Waits until the executor has logged `text` (for state that shows on
    /// no wire).
    pub async fn logged(&self, text: &str) {
        for _ in 0..1000 {
            if self.stderr().contains(text) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "mesos-executor never logged '{text}'; its stderr:\n{}",
            self.stderr()
        );
    }

    /// Waits until the sandbox holds file `name` (written by the task).
    pub async fn file_appears(&self, name: &str) {
        for _ in 0..1000 {
            if self.file(name).exists() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "the task never wrote '{name}'; executor stderr:\n{}",
            self.stderr()
        );
    }
}

impl Drop for ExecutorUnderTest {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: killpg has no memory-safety preconditions; the group
            // is the executor's own.
            unsafe { libc::killpg(self.child.id() as i32, libc::SIGKILL) };
            let _ = self.child.wait();
            eprintln!("mesos-executor stderr:\n{}", self.stderr());
        }
    }
}
