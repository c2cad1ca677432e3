//! The real `mesos-executor` binary with `MESOS_HTTP_COMMAND_EXECUTOR=1`
//! against a fake agent that serves `/slave(1)/api/v1/executor`:
//! SUBSCRIBE is answered with a RecordIO event stream the test writes to,
//! every other call with `202`. Every call is decoded as
//! `mesos.v1.executor.Call` and checked field by field. The scenarios are
//! upstream's `src/tests/command_executor_tests.cpp` (run there for both
//! APIs); the v0 ones are in `tests/it/command_executor.rs`.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mesos_proto::mesos::v1::executor::{call, event, Call, Event};
use mesos_proto::mesos::v1::framework_info::capability::Type as Capability;
use mesos_proto::mesos::v1::framework_info::Capability as FrameworkCapability;
use mesos_proto::mesos::v1::task_status::Source;
use mesos_proto::mesos::v1::{
    CommandInfo, DurationInfo, FrameworkInfo, KillPolicy, TaskId, TaskInfo, TaskState, TaskStatus,
};
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Default)]
struct Shared {
    /// The current subscription's event stream.
    stream: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

struct FakeAgent {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    calls: mpsc::UnboundedReceiver<Call>,
}

impl FakeAgent {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (tx, calls) = mpsc::unbounded_channel();
        let state = shared.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(stream, state.clone(), tx.clone()));
            }
        });
        Self {
            addr,
            shared,
            calls,
        }
    }

    async fn call(&mut self) -> Call {
        let call = tokio::time::timeout(TIMEOUT, self.calls.recv())
            .await
            .expect("timed out waiting for a call")
            .unwrap();
        assert_eq!(call.framework_id.value, "fw");
        assert_eq!(call.executor_id.value, "task-1");
        call
    }

    /// Returns the next UPDATE's status, checking what the executor must
    /// fill in (the agent's validation).
    async fn update(&mut self, state: TaskState) -> TaskStatus {
        let call = self.call().await;
        assert_eq!(call.r#type(), call::Type::Update, "{call:?}");
        let status = call.update.unwrap().status;
        assert_eq!(status.state(), state, "{status:?}");
        assert_eq!(status.task_id.value, "task-1");
        assert_eq!(status.executor_id.as_ref().unwrap().value, "task-1");
        assert_eq!(status.source(), Source::Executor);
        assert_eq!(status.uuid.as_ref().unwrap().len(), 16);
        assert!(status.timestamp.is_some());
        status
    }

    /// Expects SUBSCRIBE and returns it.
    async fn subscribe_call(&mut self) -> call::Subscribe {
        let call = self.call().await;
        assert_eq!(call.r#type(), call::Type::Subscribe, "{call:?}");
        call.subscribe.unwrap()
    }

    fn send(&self, event: &Event) {
        let record = mesos_proto::recordio::encode(&event.encode_to_vec());
        let shared = self.shared.lock().unwrap();
        shared
            .stream
            .as_ref()
            .expect("no subscription")
            .send(record.to_vec())
            .unwrap();
    }

    fn subscribed(&self, framework: FrameworkInfo) {
        let mut event = Event {
            subscribed: Some(event::Subscribed {
                framework_info: framework,
                ..Default::default()
            }),
            ..Default::default()
        };
        event.subscribed.as_mut().unwrap().agent_info.hostname = "agent".into();
        event.set_type(event::Type::Subscribed);
        self.send(&event);
    }

    fn launch(&self, task: TaskInfo) {
        let mut event = Event {
            launch: Some(event::Launch { task }),
            ..Default::default()
        };
        event.set_type(event::Type::Launch);
        self.send(&event);
    }

    fn kill(&self, kill_policy: Option<KillPolicy>) {
        let mut event = Event {
            kill: Some(event::Kill {
                task_id: task_id(),
                kill_policy,
            }),
            ..Default::default()
        };
        event.set_type(event::Type::Kill);
        self.send(&event);
    }

    fn shutdown(&self) {
        let mut event = Event::default();
        event.set_type(event::Type::Shutdown);
        self.send(&event);
    }

    fn acknowledge(&self, status: &TaskStatus) {
        let mut event = Event {
            acknowledged: Some(event::Acknowledged {
                task_id: status.task_id.clone(),
                uuid: status.uuid.clone().unwrap(),
            }),
            ..Default::default()
        };
        event.set_type(event::Type::Acknowledged);
        self.send(&event);
    }

    /// Closes the event stream, as an agent that restarts does.
    fn close_stream(&self) {
        self.shared.lock().unwrap().stream = None;
    }
}

async fn serve(mut stream: TcpStream, shared: Arc<Mutex<Shared>>, tx: mpsc::UnboundedSender<Call>) {
    let mut buffer = Vec::new();
    loop {
        let Some((path, headers, body)) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        assert_eq!(path, "/slave(1)/api/v1/executor");
        assert_eq!(
            headers.get("content-type").map(String::as_str),
            Some("application/x-protobuf")
        );
        assert_eq!(
            headers.get("accept").map(String::as_str),
            Some("application/x-protobuf")
        );
        let call = Call::decode(body.as_slice()).unwrap();
        let kind = call.r#type();
        if kind != call::Type::Heartbeat {
            tx.send(call).unwrap();
        }
        if kind != call::Type::Subscribe {
            let response = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
            let _ = stream.write_all(response.as_bytes()).await;
            continue;
        }
        let (events, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        shared.lock().unwrap().stream = Some(events);
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n\
                    Transfer-Encoding: chunked\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        while let Some(record) = rx.recv().await {
            let mut chunk = format!("{:x}\r\n", record.len()).into_bytes();
            chunk.extend_from_slice(&record);
            chunk.extend_from_slice(b"\r\n");
            if stream.write_all(&chunk).await.is_err() {
                return;
            }
        }
        // The stream was closed: so is the connection.
        return;
    }
}

/// Reads one request with a `Content-Length` body.
async fn read_request(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> Option<(String, HashMap<String, String>, Vec<u8>)> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(buffer[..end].to_vec()).unwrap();
            let mut lines = head.split("\r\n");
            let mut parts = lines.next().unwrap().split(' ');
            assert_eq!(parts.next(), Some("POST"));
            let path = parts.next().unwrap().to_string();
            let headers: HashMap<String, String> = lines
                .filter_map(|line| line.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let length: usize = headers["content-length"].parse().unwrap();
            while buffer.len() < end + 4 + length {
                let mut chunk = [0u8; 4096];
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            let body = buffer[end + 4..end + 4 + length].to_vec();
            buffer.drain(..end + 4 + length);
            return Some((path, headers, body));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// The `mesos-executor` binary in its own process group and sandbox.
struct Executor {
    child: Child,
    sandbox: tempfile::TempDir,
}

impl Executor {
    fn start(agent: &FakeAgent, args: &[&str], env: &[(&str, &str)]) -> Self {
        use std::os::unix::process::CommandExt as _;
        let sandbox = tempfile::tempdir().unwrap();
        let stdout = std::fs::File::create(sandbox.path().join("stdout")).unwrap();
        let stderr = std::fs::File::create(sandbox.path().join("stderr")).unwrap();
        let directory = sandbox.path().to_str().unwrap().to_string();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_mesos-executor"))
            .arg("--launcher_dir=/usr/libexec/mesos")
            .args(args)
            .current_dir(sandbox.path())
            .env_remove("MESOS_LOCAL")
            .env("MESOS_HTTP_COMMAND_EXECUTOR", "1")
            .env("MESOS_SLAVE_PID", format!("slave(1)@{}", agent.addr))
            .env("MESOS_AGENT_ENDPOINT", agent.addr.to_string())
            .env("MESOS_SLAVE_ID", "agent")
            .env("MESOS_FRAMEWORK_ID", "fw")
            .env("MESOS_EXECUTOR_ID", "task-1")
            .env("MESOS_DIRECTORY", &directory)
            .env("MESOS_SANDBOX", &directory)
            .env("MESOS_CHECKPOINT", "0")
            .env("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5secs")
            .env("LIBPROCESS_IP", "127.0.0.1")
            .env("LIBPROCESS_PORT", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .expect("start mesos-executor");
        Self { child, sandbox }
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.sandbox.path().join(name)).unwrap_or_default()
    }

    fn sandbox(&self) -> &Path {
        self.sandbox.path()
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits up to `within` for the executor to exit.
    async fn exited(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("mesos-executor did not exit:\n{}", self.file("stderr"));
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: killpg has no memory-safety preconditions; the group
            // is the executor's own.
            unsafe { libc::killpg(self.child.id() as i32, libc::SIGKILL) };
            let _ = self.child.wait();
            eprintln!("mesos-executor stderr:\n{}", self.file("stderr"));
        }
    }
}

fn task_id() -> TaskId {
    TaskId {
        value: "task-1".into(),
    }
}

fn task(command: &str) -> TaskInfo {
    let mut task: TaskInfo = mesos_proto::json::from_str(
        r#"{"name":"task-1","task_id":{"value":"task-1"},"agent_id":{"value":"agent"},
            "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1},
                          "allocation_info":{"role":"web"}}]}"#,
    )
    .unwrap();
    task.command = Some(CommandInfo {
        value: Some(command.into()),
        ..Default::default()
    });
    task
}

fn framework(capabilities: &[Capability]) -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: "test".into(),
        capabilities: capabilities
            .iter()
            .map(|c| FrameworkCapability {
                r#type: Some(*c as i32),
            })
            .collect(),
        ..Default::default()
    }
}

fn kill_policy(grace_period: Duration) -> KillPolicy {
    KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: grace_period.as_nanos() as i64,
        }),
    }
}

/// Starts the executor, subscribes it and launches `command`; returns
/// after TASK_STARTING and TASK_RUNNING (not acknowledged).
async fn launched(
    agent: &mut FakeAgent,
    args: &[&str],
    env: &[(&str, &str)],
    framework_info: FrameworkInfo,
    command: &str,
) -> (Executor, TaskStatus, TaskStatus) {
    let executor = Executor::start(agent, args, env);
    let subscribe = agent.subscribe_call().await;
    assert!(subscribe.unacknowledged_updates.is_empty());
    assert!(subscribe.unacknowledged_tasks.is_empty());
    agent.subscribed(framework_info);
    agent.launch(task(command));
    let starting = agent.update(TaskState::TaskStarting).await;
    let running = agent.update(TaskState::TaskRunning).await;
    (executor, starting, running)
}

#[tokio::test]
async fn a_task_finishes_and_the_executor_exits_once_the_terminal_update_is_acknowledged() {
    let mut agent = FakeAgent::start().await;
    let (mut executor, starting, running) = launched(
        &mut agent,
        &[],
        &[],
        framework(&[]),
        "echo \"hello $MESOS_ALLOCATION_ROLE\"",
    )
    .await;
    agent.acknowledge(&starting);
    agent.acknowledge(&running);
    let finished = agent.update(TaskState::TaskFinished).await;
    assert_eq!(
        finished.message.as_deref(),
        Some("Command exited with status 0")
    );
    assert!(finished.reason.is_none());
    // Only the acknowledgement ends the executor (upstream's fail-safe is
    // 60 s).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(executor.running(), "exited before the acknowledgement");
    agent.acknowledge(&finished);
    let status = executor.exited(Duration::from_secs(5)).await;
    assert!(status.success(), "{status:?}");
    assert_eq!(executor.file("stdout"), "hello web\n");
    assert!(executor.file("stderr").contains("Subscribed executor"));
}

#[tokio::test]
async fn a_non_zero_exit_fails_the_task_with_the_exit_status() {
    let mut agent = FakeAgent::start().await;
    let (mut executor, _, _) = launched(&mut agent, &[], &[], framework(&[]), "exit 3").await;
    let failed = agent.update(TaskState::TaskFailed).await;
    assert_eq!(
        failed.message.as_deref(),
        Some("Command exited with status 3")
    );
    agent.acknowledge(&failed);
    assert!(executor.exited(Duration::from_secs(5)).await.success());
}

#[tokio::test]
async fn a_kill_sends_task_killing_and_escalates_after_the_grace_period() {
    let mut agent = FakeAgent::start().await;
    // The task ignores SIGTERM (and so does its `sleep`).
    let (mut executor, _, _) = launched(
        &mut agent,
        &[],
        &[],
        framework(&[Capability::TaskKillingState]),
        "trap '' TERM; touch ready; sleep 1000",
    )
    .await;
    // Kill only once the trap is in place.
    let deadline = Instant::now() + TIMEOUT;
    while !executor.sandbox().join("ready").exists() {
        assert!(Instant::now() < deadline, "the task never got ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    agent.kill(Some(kill_policy(Duration::from_secs(1))));
    agent.update(TaskState::TaskKilling).await;
    let killed = agent.update(TaskState::TaskKilled).await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Killed")
    );
    agent.acknowledge(&killed);
    assert!(executor.exited(Duration::from_secs(5)).await.success());
}

#[tokio::test]
async fn a_kill_without_task_killing_capability_sends_only_task_killed() {
    let mut agent = FakeAgent::start().await;
    let (mut executor, _, _) = launched(&mut agent, &[], &[], framework(&[]), "sleep 1000").await;
    agent.kill(None);
    let killed = agent.update(TaskState::TaskKilled).await;
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
    agent.acknowledge(&killed);
    assert!(executor.exited(Duration::from_secs(5)).await.success());
}

#[tokio::test]
async fn shutdown_kills_the_task() {
    let mut agent = FakeAgent::start().await;
    let (mut executor, _, _) = launched(
        &mut agent,
        &[],
        &[],
        framework(&[Capability::TaskKillingState]),
        "sleep 1000",
    )
    .await;
    agent.shutdown();
    agent.update(TaskState::TaskKilling).await;
    let killed = agent.update(TaskState::TaskKilled).await;
    agent.acknowledge(&killed);
    assert!(executor.exited(Duration::from_secs(5)).await.success());
}

#[tokio::test]
async fn task_command_and_task_environment_flags_override_the_task() {
    let mut agent = FakeAgent::start().await;
    let (mut executor, _, _) = launched(
        &mut agent,
        &[
            r#"--task_command={"shell":true,"value":"echo \"$GREETING\" > out"}"#,
            r#"--task_environment={"variables":[{"name":"GREETING","value":"hi"}]}"#,
        ],
        &[],
        framework(&[]),
        "exit 1",
    )
    .await;
    let finished = agent.update(TaskState::TaskFinished).await;
    agent.acknowledge(&finished);
    assert!(executor.exited(Duration::from_secs(5)).await.success());
    let out = std::fs::read_to_string(executor.sandbox().join("out")).unwrap();
    assert_eq!(out, "hi\n");
}

#[tokio::test]
async fn a_second_task_fails() {
    let mut agent = FakeAgent::start().await;
    let (mut executor, _, _) = launched(&mut agent, &[], &[], framework(&[]), "sleep 1000").await;
    let mut second = task("sleep 1");
    second.task_id.value = "task-2".into();
    agent.launch(second);
    let call = agent.call().await;
    let status = call.update.unwrap().status;
    assert_eq!(status.task_id.value, "task-2");
    assert_eq!(status.state(), TaskState::TaskFailed);
    assert_eq!(
        status.message.as_deref(),
        Some("Attempted to run multiple tasks using a \"command\" executor")
    );
    agent.kill(None);
    let killed = agent.update(TaskState::TaskKilled).await;
    agent.acknowledge(&killed);
    assert!(executor.exited(Duration::from_secs(5)).await.success());
}

#[tokio::test]
async fn a_checkpointing_executor_resubscribes_with_what_was_not_acknowledged() {
    let mut agent = FakeAgent::start().await;
    let env = [
        ("MESOS_CHECKPOINT", "1"),
        ("MESOS_RECOVERY_TIMEOUT", "10secs"),
        ("MESOS_SUBSCRIPTION_BACKOFF_MAX", "100ms"),
    ];
    let (mut executor, starting, running) =
        launched(&mut agent, &[], &env, framework(&[]), "sleep 1000").await;
    agent.acknowledge(&starting);
    // The agent restarts (the acknowledgement is read before the end of
    // the stream).
    agent.close_stream();
    let subscribe = agent.subscribe_call().await;
    assert_eq!(subscribe.unacknowledged_updates.len(), 1);
    assert_eq!(
        subscribe.unacknowledged_updates[0].status.uuid,
        running.uuid
    );
    // The agent knows the task: one of its updates was acknowledged.
    assert!(subscribe.unacknowledged_tasks.is_empty());
    agent.subscribed(framework(&[]));
    agent.acknowledge(&running);
    agent.kill(None);
    let killed = agent.update(TaskState::TaskKilled).await;
    agent.acknowledge(&killed);
    assert!(executor.exited(Duration::from_secs(5)).await.success());
}

#[tokio::test]
async fn an_unacknowledged_task_is_sent_again_on_resubscription() {
    let mut agent = FakeAgent::start().await;
    let env = [
        ("MESOS_CHECKPOINT", "1"),
        ("MESOS_RECOVERY_TIMEOUT", "10secs"),
        ("MESOS_SUBSCRIPTION_BACKOFF_MAX", "100ms"),
    ];
    let (mut executor, starting, running) =
        launched(&mut agent, &[], &env, framework(&[]), "sleep 1000").await;
    agent.close_stream();
    let subscribe = agent.subscribe_call().await;
    let uuids: Vec<_> = subscribe
        .unacknowledged_updates
        .iter()
        .map(|u| u.status.uuid.clone())
        .collect();
    assert_eq!(uuids, [starting.uuid.clone(), running.uuid.clone()]);
    assert_eq!(subscribe.unacknowledged_tasks.len(), 1);
    assert_eq!(subscribe.unacknowledged_tasks[0].task_id, task_id());
    agent.subscribed(framework(&[]));
    agent.shutdown();
    let killed = agent.update(TaskState::TaskKilled).await;
    agent.acknowledge(&killed);
    assert!(executor.exited(Duration::from_secs(5)).await.success());
}

#[tokio::test]
async fn a_non_checkpointing_executor_shuts_down_when_the_agent_goes_away() {
    let mut agent = FakeAgent::start().await;
    let (mut executor, _, _) = launched(&mut agent, &[], &[], framework(&[]), "sleep 1000").await;
    agent.close_stream();
    // The task is killed; the update cannot reach the agent, so the
    // process group is killed after the shutdown grace period (5 s).
    let status = executor.exited(Duration::from_secs(10)).await;
    assert!(!status.success(), "{status:?}");
    let stderr = executor.file("stderr");
    assert!(stderr.contains("Shutting down"), "{stderr}");
}
