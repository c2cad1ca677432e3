//! The default executor against a fake agent: one listener that serves the
//! executor API (`/slave(1)/api/v1/executor`: SUBSCRIBE answered with a
//! RecordIO event stream the test writes to, UPDATE and HEARTBEAT answered
//! `202`) and the operator API (`/slave(1)/api/v1`: launch answered `200`,
//! WAIT_NESTED_CONTAINER held until the test or a kill ends the
//! container, KILL_NESTED_CONTAINER answered `200`). Every call is decoded
//! as `mesos.v1.executor.Call` or `mesos.v1.agent.Call` and checked field
//! by field. The real agent side is tested in the agent crate.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design
#![allow(deprecated)] // the executor waits and kills with the `*_NESTED_CONTAINER` calls

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesos_executor::default_executor::{DefaultExecutor, DefaultExecutorConfig, LaunchCall};
use mesos_executor::http::Url;
use mesos_proto::mesos::v1::agent;
use mesos_proto::mesos::v1::executor::{call, event, Call, Event};
use mesos_proto::mesos::v1::{
    task_status, ContainerId, ExecutorId, FrameworkId, FrameworkInfo, TaskGroupInfo, TaskId,
    TaskInfo, TaskState, TaskStatus,
};
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Shared {
    /// The current subscription's event stream.
    stream: Option<mpsc::UnboundedSender<Vec<u8>>>,
    /// Pending waits by container id.
    waits: HashMap<String, oneshot::Sender<agent::response::WaitNestedContainer>>,
    /// Results of containers that ended before anyone waited.
    ended: HashMap<String, agent::response::WaitNestedContainer>,
    /// Whether SIGTERM ends a container (SIGKILL always does).
    obey_sigterm: bool,
    /// Status and body of launch answers.
    launch_answer: (u16, String),
    /// The wait status of nested check containers.
    check_exit_status: i32,
}

impl Shared {
    fn end(&mut self, container_id: &str, result: agent::response::WaitNestedContainer) {
        match self.waits.remove(container_id) {
            Some(waiter) => {
                let _ = waiter.send(result);
            }
            None => {
                self.ended.insert(container_id.to_string(), result);
            }
        }
    }
}

struct FakeAgent {
    addr: SocketAddr,
    listener: tokio::task::JoinHandle<()>,
    shared: Arc<Mutex<Shared>>,
    executor_calls: mpsc::UnboundedReceiver<Call>,
    operator_calls: mpsc::UnboundedReceiver<agent::Call>,
}

impl FakeAgent {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared {
            obey_sigterm: true,
            launch_answer: (200, String::new()),
            ..Default::default()
        }));
        let (executor_tx, executor_calls) = mpsc::unbounded_channel();
        let (operator_tx, operator_calls) = mpsc::unbounded_channel();
        let state = shared.clone();
        let listener = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(
                    stream,
                    state.clone(),
                    executor_tx.clone(),
                    operator_tx.clone(),
                ));
            }
        });
        Self {
            addr,
            listener,
            shared,
            executor_calls,
            operator_calls,
        }
    }

    fn config(&self, work_dir: PathBuf) -> DefaultExecutorConfig {
        let address = self.addr.to_string();
        DefaultExecutorConfig {
            framework_id: FrameworkId { value: "fw".into() },
            executor_id: ExecutorId {
                value: "default".into(),
            },
            executor_url: Url {
                address: address.clone(),
                path: "/slave(1)/api/v1/executor".into(),
            },
            operator_url: Url {
                address,
                path: "/slave(1)/api/v1".into(),
            },
            sandbox: PathBuf::from("/mnt/mesos/sandbox"),
            work_dir,
            launcher_dir: PathBuf::from("/usr/libexec/mesos"),
            authorization: Some("Bearer token".into()),
            checkpoint: false,
            recovery_timeout: Duration::from_secs(60),
            subscription_backoff_max: Duration::from_millis(50),
            shutdown_grace_period: Duration::from_secs(5),
            local: true,
            container_ip: None,
            launch_call: LaunchCall::LaunchContainer,
            termination_fail_safe: Duration::from_secs(60),
        }
    }

    async fn executor_call(&mut self) -> Call {
        tokio::time::timeout(TIMEOUT, self.executor_calls.recv())
            .await
            .expect("timed out waiting for an executor call")
            .unwrap()
    }

    /// The next executor call that is not a HEARTBEAT.
    async fn update(&mut self) -> TaskStatus {
        let call = self.executor_call().await;
        assert_eq!(call.r#type(), call::Type::Update, "{call:?}");
        assert_eq!(call.executor_id.value, "default");
        assert_eq!(call.framework_id.value, "fw");
        call.update.unwrap().status
    }

    async fn operator_call(&mut self) -> agent::Call {
        tokio::time::timeout(TIMEOUT, self.operator_calls.recv())
            .await
            .expect("timed out waiting for an operator call")
            .unwrap()
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

    fn end(&self, container_id: &ContainerId, result: agent::response::WaitNestedContainer) {
        self.shared.lock().unwrap().end(&container_id.value, result);
    }

    /// Closes the event stream, as an agent that went away does.
    fn close_stream(&self) {
        self.shared.lock().unwrap().stream = None;
    }

    /// Stops listening: connections are refused from now on.
    fn go_away(&self) {
        self.listener.abort();
        self.close_stream();
    }

    async fn subscribed(&mut self, framework: FrameworkInfo) {
        let call = self.executor_call().await;
        assert_eq!(call.r#type(), call::Type::Subscribe);
        assert_eq!(call.executor_id.value, "default");
        assert_eq!(call.framework_id.value, "fw");
        let mut event = Event {
            subscribed: Some(event::Subscribed {
                framework_info: framework,
                container_id: Some(executor_container()),
                ..Default::default()
            }),
            ..Default::default()
        };
        event.subscribed.as_mut().unwrap().agent_info.hostname = "agent".into();
        event.set_type(event::Type::Subscribed);
        self.send(&event);
    }

    fn launch_group(&self, task_ids: &[&str]) {
        self.launch_tasks(group(task_ids).tasks);
    }

    fn launch_tasks(&self, tasks: Vec<TaskInfo>) {
        let mut event = Event {
            launch_group: Some(event::LaunchGroup {
                task_group: TaskGroupInfo { tasks },
            }),
            ..Default::default()
        };
        event.set_type(event::Type::LaunchGroup);
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

    /// Expects TASK_STARTING and a launch for each task, then TASK_RUNNING
    /// for each, then a wait for each; returns the container ids.
    async fn launched(&mut self, task_ids: &[&str]) -> (Vec<ContainerId>, Vec<TaskStatus>) {
        let mut updates = Vec::new();
        for task_id in task_ids {
            let status = self.update().await;
            assert_eq!(status.task_id.value, *task_id);
            assert_eq!(status.state(), TaskState::TaskStarting);
            updates.push(status);
        }
        let mut containers = Vec::new();
        for task_id in task_ids {
            let call = self.operator_call().await;
            assert_eq!(call.r#type(), agent::call::Type::LaunchContainer);
            let launch = call.launch_container.unwrap();
            assert_eq!(
                launch.container_id.parent.as_deref(),
                Some(&executor_container())
            );
            assert_eq!(launch.resources, task(task_id).resources);
            let command = launch.command.unwrap();
            assert_eq!(command.value.as_deref(), Some("sleep 1000"));
            let variables = command.environment.unwrap().variables;
            assert_eq!(variables.len(), 2, "{variables:?}");
            assert_eq!(variables[0].name, "MESOS_CONTAINER_IP");
            assert_eq!(variables[0].value.as_deref(), Some("127.0.0.1"));
            assert_eq!(variables[1].name, "MESOS_ALLOCATION_ROLE");
            assert_eq!(variables[1].value.as_deref(), Some("web"));
            containers.push(launch.container_id);
        }
        for (task_id, container_id) in task_ids.iter().zip(&containers) {
            let status = self.update().await;
            assert_eq!(status.task_id.value, *task_id);
            assert_eq!(status.state(), TaskState::TaskRunning);
            assert_eq!(
                status
                    .container_status
                    .as_ref()
                    .unwrap()
                    .container_id
                    .as_ref(),
                Some(container_id)
            );
            updates.push(status);
        }
        self.waits(&containers).await;
        (containers, updates)
    }

    /// Expects one WAIT_NESTED_CONTAINER for each container, in any order.
    async fn waits(&mut self, containers: &[ContainerId]) {
        let mut waited = Vec::new();
        for _ in containers {
            let call = self.operator_call().await;
            assert_eq!(call.r#type(), agent::call::Type::WaitNestedContainer);
            waited.push(call.wait_nested_container.unwrap().container_id);
        }
        waited.sort_by(|a, b| a.value.cmp(&b.value));
        let mut expected = containers.to_vec();
        expected.sort_by(|a, b| a.value.cmp(&b.value));
        assert_eq!(waited, expected);
    }

    async fn kill_call(&mut self) -> (ContainerId, i32) {
        let call = self.operator_call().await;
        assert_eq!(call.r#type(), agent::call::Type::KillNestedContainer);
        let kill = call.kill_nested_container.unwrap();
        (kill.container_id, kill.signal.unwrap())
    }
}

async fn serve(
    mut stream: TcpStream,
    shared: Arc<Mutex<Shared>>,
    executor_tx: mpsc::UnboundedSender<Call>,
    operator_tx: mpsc::UnboundedSender<agent::Call>,
) {
    let mut buffer = Vec::new();
    loop {
        let Some((path, headers, body)) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        assert_eq!(
            headers.get("content-type").map(String::as_str),
            Some("application/x-protobuf")
        );
        // Check sessions stream RecordIO.
        let accept = headers.get("accept").map(String::as_str);
        assert!(
            matches!(
                accept,
                Some("application/x-protobuf" | "application/recordio")
            ),
            "{accept:?}"
        );
        if path == "/slave(1)/api/v1/executor" {
            let call = Call::decode(body.as_slice()).unwrap();
            let kind = call.r#type();
            if kind != call::Type::Heartbeat {
                executor_tx.send(call).unwrap();
            }
            if kind != call::Type::Subscribe {
                respond(&mut stream, "202 Accepted", &[]).await;
                continue;
            }
            let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
            shared.lock().unwrap().stream = Some(tx);
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
            // The agent "went away": the connection closes.
            return;
        }
        assert_eq!(path, "/slave(1)/api/v1");
        assert_eq!(
            headers.get("authorization").map(String::as_str),
            Some("Bearer token")
        );
        let call = agent::Call::decode(body.as_slice()).unwrap();
        operator_tx.send(call.clone()).unwrap();
        match call.r#type() {
            agent::call::Type::LaunchContainer | agent::call::Type::LaunchNestedContainer => {
                let (code, body) = shared.lock().unwrap().launch_answer.clone();
                let status = if code == 200 {
                    "200 OK"
                } else {
                    "400 Bad Request"
                };
                respond(&mut stream, status, body.as_bytes()).await;
            }
            agent::call::Type::WaitNestedContainer => {
                let id = call.wait_nested_container.unwrap().container_id.value;
                let (tx, rx) = oneshot::channel();
                {
                    let mut shared = shared.lock().unwrap();
                    match shared.ended.remove(&id) {
                        Some(result) => {
                            let _ = tx.send(result);
                        }
                        None => {
                            shared.waits.insert(id, tx);
                        }
                    }
                }
                let Ok(result) = rx.await else {
                    return;
                };
                if result.exit_status == Some(-404) {
                    respond(&mut stream, "404 Not Found", &[]).await;
                    continue;
                }
                let mut response = agent::Response {
                    wait_nested_container: Some(result),
                    ..Default::default()
                };
                response.set_type(agent::response::Type::WaitNestedContainer);
                respond(&mut stream, "200 OK", &response.encode_to_vec()).await;
            }
            agent::call::Type::KillNestedContainer => {
                let kill = call.kill_nested_container.unwrap();
                let signal = kill.signal.unwrap();
                {
                    let mut shared = shared.lock().unwrap();
                    if signal == libc::SIGKILL || shared.obey_sigterm {
                        shared.end(&kill.container_id.value, exited(signal));
                    }
                }
                respond(&mut stream, "200 OK", &[]).await;
            }
            agent::call::Type::LaunchNestedContainerSession => {
                let launch = call.launch_nested_container_session.unwrap();
                {
                    let mut shared = shared.lock().unwrap();
                    let status = shared.check_exit_status;
                    shared.end(&launch.container_id.value, exited(status));
                }
                respond(&mut stream, "200 OK", &[]).await;
            }
            agent::call::Type::RemoveNestedContainer => {
                respond(&mut stream, "200 OK", &[]).await;
            }
            other => panic!("unexpected operator call {other:?}"),
        }
    }
}

async fn respond(stream: &mut TcpStream, status: &str, body: &[u8]) {
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    let _ = stream.write_all(&response).await;
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
            let request_line = lines.next().unwrap();
            let mut parts = request_line.split(' ');
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

fn executor_container() -> ContainerId {
    ContainerId {
        value: "executor-container".into(),
        parent: None,
    }
}

fn task(task_id: &str) -> TaskInfo {
    mesos_proto::json::from_str(&format!(
        r#"{{"name":"{task_id}","task_id":{{"value":"{task_id}"}},"agent_id":{{"value":"a"}},
            "resources":[{{"name":"cpus","type":"SCALAR","scalar":{{"value":0.1}},
                           "allocation_info":{{"role":"web"}}}}],
            "command":{{"value":"sleep 1000"}}}}"#
    ))
    .unwrap()
}

fn group(task_ids: &[&str]) -> TaskGroupInfo {
    TaskGroupInfo {
        tasks: task_ids.iter().map(|id| task(id)).collect(),
    }
}

/// A wait result for a raw wait status.
fn exited(status: i32) -> agent::response::WaitNestedContainer {
    agent::response::WaitNestedContainer {
        exit_status: Some(status),
        ..Default::default()
    }
}

fn framework(killing: bool) -> FrameworkInfo {
    let mut info: FrameworkInfo =
        mesos_proto::json::from_str(r#"{"user":"u","name":"fw","id":{"value":"fw"}}"#).unwrap();
    if killing {
        info.capabilities
            .push(mesos_proto::mesos::v1::framework_info::Capability {
                r#type: Some(
                    mesos_proto::mesos::v1::framework_info::capability::Type::TaskKillingState
                        as i32,
                ),
            });
    }
    info
}

fn assert_update(status: &TaskStatus, task_id: &str, state: TaskState, message: Option<&str>) {
    assert_eq!(status.task_id.value, task_id, "{status:?}");
    assert_eq!(status.state(), state, "{status:?}");
    assert_eq!(status.message.as_deref(), message, "{status:?}");
    assert_eq!(status.source(), task_status::Source::Executor);
    assert_eq!(status.executor_id.as_ref().unwrap().value, "default");
    assert_eq!(status.uuid.as_ref().unwrap().len(), 16);
    assert!(status.timestamp.unwrap() > 0.0);
}

async fn finished(executor: &mut tokio::task::JoinHandle<()>) {
    tokio::time::timeout(TIMEOUT, executor)
        .await
        .expect("the executor did not terminate")
        .unwrap();
}

async fn still_running(executor: &tokio::task::JoinHandle<()>) {
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!executor.is_finished(), "the executor terminated early");
}

#[tokio::test]
async fn task_group_runs_to_completion_and_exits_once_acknowledged() {
    let mut agent = FakeAgent::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut executor = tokio::spawn(DefaultExecutor::new(agent.config(dir.path().into())).run());

    let call = agent.executor_call().await;
    assert_eq!(call.r#type(), call::Type::Subscribe);
    let subscribe = call.subscribe.unwrap();
    assert!(subscribe.unacknowledged_tasks.is_empty());
    assert!(subscribe.unacknowledged_updates.is_empty());
    let mut event = Event {
        subscribed: Some(event::Subscribed {
            framework_info: framework(false),
            container_id: Some(executor_container()),
            ..Default::default()
        }),
        ..Default::default()
    };
    event.set_type(event::Type::Subscribed);
    agent.send(&event);

    agent.launch_group(&["t1", "t2"]);
    let (containers, mut updates) = agent.launched(&["t1", "t2"]).await;
    for status in &updates {
        assert_eq!(status.message, None);
        assert_update(status, &status.task_id.value, status.state(), None);
    }
    assert_ne!(containers[0], containers[1]);
    // The web UI finds task sandboxes through `tasks/<task id>`.
    let link = std::fs::read_link(dir.path().join("tasks/t1")).unwrap();
    assert_eq!(
        link,
        PathBuf::from("/mnt/mesos/sandbox/containers").join(&containers[0].value)
    );

    agent.end(&containers[0], exited(0));
    let status = agent.update().await;
    assert_update(
        &status,
        "t1",
        TaskState::TaskFinished,
        Some("Command exited with status 0"),
    );
    assert_eq!(
        status.container_status.as_ref().unwrap().container_id,
        Some(containers[0].clone())
    );
    assert_eq!(status.reason, None);
    updates.push(status);
    agent.end(&containers[1], exited(0));
    let status = agent.update().await;
    assert_update(
        &status,
        "t2",
        TaskState::TaskFinished,
        Some("Command exited with status 0"),
    );
    updates.push(status);

    // The executor waits for every acknowledgement before it exits.
    let (last, rest) = updates.split_last().unwrap();
    for status in rest {
        agent.acknowledge(status);
    }
    still_running(&executor).await;
    agent.acknowledge(last);
    finished(&mut executor).await;
}

#[tokio::test]
async fn a_failing_task_kills_its_sibling() {
    let mut agent = FakeAgent::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut executor = tokio::spawn(DefaultExecutor::new(agent.config(dir.path().into())).run());
    agent.subscribed(framework(false)).await;
    agent.launch_group(&["t1", "t2"]);
    let (containers, mut updates) = agent.launched(&["t1", "t2"]).await;

    agent.end(&containers[0], exited(1 << 8));
    let status = agent.update().await;
    assert_update(
        &status,
        "t1",
        TaskState::TaskFailed,
        Some("Command exited with status 1"),
    );
    updates.push(status);

    // Without TASK_KILLING_STATE there is no TASK_KILLING.
    let (container_id, signal) = agent.kill_call().await;
    assert_eq!(container_id, containers[1]);
    assert_eq!(signal, libc::SIGTERM);
    let status = agent.update().await;
    assert_update(
        &status,
        "t2",
        TaskState::TaskKilled,
        Some("Command terminated with signal Terminated"),
    );
    updates.push(status);

    for status in &updates {
        agent.acknowledge(status);
    }
    finished(&mut executor).await;
}

#[tokio::test]
async fn kill_kills_the_group_and_escalates_after_the_grace_period() {
    let mut agent = FakeAgent::start().await;
    agent.shared.lock().unwrap().obey_sigterm = false;
    let dir = tempfile::tempdir().unwrap();
    let _executor = tokio::spawn(DefaultExecutor::new(agent.config(dir.path().into())).run());
    agent.subscribed(framework(true)).await;
    agent.launch_group(&["t1", "t2"]);
    let (containers, _) = agent.launched(&["t1", "t2"]).await;

    let mut event = Event {
        kill: Some(event::Kill {
            task_id: TaskId { value: "t1".into() },
            kill_policy: Some(mesos_proto::mesos::v1::KillPolicy {
                grace_period: Some(mesos_proto::mesos::v1::DurationInfo {
                    nanoseconds: 200_000_000,
                }),
            }),
        }),
        ..Default::default()
    };
    event.set_type(event::Type::Kill);
    agent.send(&event);

    let status = agent.update().await;
    assert_update(&status, "t1", TaskState::TaskKilling, None);
    assert_eq!(
        agent.kill_call().await,
        (containers[0].clone(), libc::SIGTERM)
    );
    // The task ignores SIGTERM; SIGKILL follows after the kill's grace
    // period.
    let started = std::time::Instant::now();
    assert_eq!(
        agent.kill_call().await,
        (containers[0].clone(), libc::SIGKILL)
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    let status = agent.update().await;
    assert_update(
        &status,
        "t1",
        TaskState::TaskKilled,
        Some("Command terminated with signal Killed"),
    );

    // Then the rest of the group, with the default grace period.
    let status = agent.update().await;
    assert_update(&status, "t2", TaskState::TaskKilling, None);
    assert_eq!(
        agent.kill_call().await,
        (containers[1].clone(), libc::SIGTERM)
    );
    agent.end(&containers[1], exited(libc::SIGTERM));
    let status = agent.update().await;
    assert_update(
        &status,
        "t2",
        TaskState::TaskKilled,
        Some("Command terminated with signal Terminated"),
    );
}

#[tokio::test]
async fn shutdown_kills_every_task_and_exits() {
    let mut agent = FakeAgent::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut executor = tokio::spawn(DefaultExecutor::new(agent.config(dir.path().into())).run());
    agent.subscribed(framework(false)).await;
    agent.launch_group(&["t1", "t2"]);
    let (containers, mut updates) = agent.launched(&["t1", "t2"]).await;

    let mut event = Event::default();
    event.set_type(event::Type::Shutdown);
    agent.send(&event);
    let mut killed = vec![agent.kill_call().await, agent.kill_call().await];
    killed.sort_by(|a, b| a.0.value.cmp(&b.0.value));
    let mut expected: Vec<_> = containers
        .iter()
        .map(|c| (c.clone(), libc::SIGTERM))
        .collect();
    expected.sort_by(|a, b| a.0.value.cmp(&b.0.value));
    assert_eq!(killed, expected);
    for _ in 0..2 {
        let status = agent.update().await;
        assert_eq!(status.state(), TaskState::TaskKilled);
        assert_eq!(
            status.message.as_deref(),
            Some("Command terminated with signal Terminated")
        );
        updates.push(status);
    }
    // A shutdown does not kill the group twice.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(agent.operator_calls.try_recv().is_err());
    for status in &updates {
        agent.acknowledge(status);
    }
    finished(&mut executor).await;
}

#[tokio::test]
async fn the_agents_reason_message_and_limitation_are_passed_through() {
    let mut agent = FakeAgent::start().await;
    let dir = tempfile::tempdir().unwrap();
    let _executor = tokio::spawn(DefaultExecutor::new(agent.config(dir.path().into())).run());
    agent.subscribed(framework(false)).await;
    agent.launch_group(&["t1"]);
    let (containers, _) = agent.launched(&["t1"]).await;

    let limitation: mesos_proto::mesos::v1::TaskResourceLimitation = mesos_proto::json::from_str(
        r#"{"resources":[{"name":"mem","type":"SCALAR","scalar":{"value":64}}]}"#,
    )
    .unwrap();
    let mut result = exited(libc::SIGKILL);
    result.set_state(mesos_proto::mesos::v1::TaskState::TaskFailed);
    result.set_reason(task_status::Reason::ContainerLimitationMemory);
    result.message = Some("Memory limit exceeded".into());
    result.limitation = Some(limitation.clone());
    agent.end(&containers[0], result);

    let status = agent.update().await;
    assert_update(
        &status,
        "t1",
        TaskState::TaskFailed,
        Some("Command terminated with signal Killed: Memory limit exceeded"),
    );
    assert_eq!(
        status.reason(),
        task_status::Reason::ContainerLimitationMemory
    );
    assert_eq!(status.limitation, Some(limitation));
}

#[tokio::test]
async fn a_failed_launch_fails_the_task_with_the_agents_answer() {
    let mut agent = FakeAgent::start().await;
    agent.shared.lock().unwrap().launch_answer = (400, "no such image".into());
    let dir = tempfile::tempdir().unwrap();
    let _executor = tokio::spawn(DefaultExecutor::new(agent.config(dir.path().into())).run());
    agent.subscribed(framework(false)).await;
    agent.launch_group(&["t1"]);
    let status = agent.update().await;
    assert_update(&status, "t1", TaskState::TaskStarting, None);
    let call = agent.operator_call().await;
    let container_id = call.launch_container.unwrap().container_id;
    // No TASK_RUNNING: the executor waits, and the agent knows no such
    // container.
    let call = agent.operator_call().await;
    assert_eq!(call.r#type(), agent::call::Type::WaitNestedContainer);
    agent.end(&container_id, exited(-404));
    let status = agent.update().await;
    assert_update(&status, "t1", TaskState::TaskFailed, Some("no such image"));
}

#[tokio::test]
async fn a_checkpointing_executor_resubscribes_with_what_was_not_acknowledged() {
    let mut agent = FakeAgent::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = agent.config(dir.path().into());
    config.checkpoint = true;
    let _executor = tokio::spawn(DefaultExecutor::new(config).run());
    agent.subscribed(framework(false)).await;
    agent.launch_group(&["t1"]);
    let (containers, updates) = agent.launched(&["t1"]).await;

    // The agent restarts before acknowledging anything: the stream ends
    // and the executor comes back with the updates and the task.
    agent.close_stream();
    let call = agent.executor_call().await;
    assert_eq!(call.r#type(), call::Type::Subscribe);
    let subscribe = call.subscribe.unwrap();
    let resent: Vec<TaskStatus> = subscribe
        .unacknowledged_updates
        .into_iter()
        .map(|u| u.status)
        .collect();
    assert_eq!(resent, updates);
    assert_eq!(subscribe.unacknowledged_tasks, vec![task("t1")]);

    let mut event = Event {
        subscribed: Some(event::Subscribed {
            framework_info: framework(false),
            container_id: Some(executor_container()),
            ..Default::default()
        }),
        ..Default::default()
    };
    event.set_type(event::Type::Subscribed);
    agent.send(&event);
    // It waits on its container again.
    agent.waits(&containers).await;
    agent.end(&containers[0], exited(0));
    let status = agent.update().await;
    assert_update(
        &status,
        "t1",
        TaskState::TaskFinished,
        Some("Command exited with status 0"),
    );

    // Once a task has an acknowledged update, it is no longer resent.
    agent.acknowledge(&updates[0]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    agent.close_stream();
    let call = agent.executor_call().await;
    let subscribe = call.subscribe.unwrap();
    assert_eq!(subscribe.unacknowledged_updates.len(), 2);
    assert_eq!(subscribe.unacknowledged_updates[0].status, updates[1]);
    assert_eq!(subscribe.unacknowledged_updates[1].status, status);
    assert!(subscribe.unacknowledged_tasks.is_empty());
}

#[tokio::test]
async fn a_non_checkpointing_executor_exits_when_the_agent_goes_away() {
    let mut agent = FakeAgent::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut executor = tokio::spawn(DefaultExecutor::new(agent.config(dir.path().into())).run());
    agent.subscribed(framework(false)).await;
    agent.close_stream();
    finished(&mut executor).await;
}

#[tokio::test]
async fn the_binary_reads_the_agents_environment() {
    let mut agent = FakeAgent::start().await;
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::process::CommandExt as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mesos-default-executor"))
        .arg("--launcher_dir=/usr/libexec/mesos")
        .env_clear()
        .env("MESOS_FRAMEWORK_ID", "fw")
        .env("MESOS_EXECUTOR_ID", "default")
        .env("MESOS_SLAVE_ID", "agent")
        .env("MESOS_SLAVE_PID", format!("slave(1)@{}", agent.addr))
        .env("MESOS_AGENT_ENDPOINT", agent.addr.to_string())
        .env("MESOS_SANDBOX", "/mnt/mesos/sandbox")
        .env("MESOS_DIRECTORY", dir.path())
        .env("MESOS_CHECKPOINT", "0")
        .env("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5secs")
        .env("MESOS_EXECUTOR_AUTHENTICATION_TOKEN", "token")
        .env("MESOS_LOCAL", "1")
        .current_dir(dir.path())
        // Upstream's shutdown kills the process group; keep the test out.
        .process_group(0)
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .unwrap();
    agent.subscribed(framework(false)).await;
    agent.launch_group(&["t1"]);
    let (containers, mut updates) = agent.launched(&["t1"]).await;
    agent.end(&containers[0], exited(0));
    updates.push(agent.update().await);
    assert!(std::fs::symlink_metadata(dir.path().join("tasks/t1")).is_ok());
    for status in &updates {
        agent.acknowledge(status);
    }
    let deadline = std::time::Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
            panic!("the executor did not exit:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let log = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
    assert!(status.success(), "{status}:\n{log}");
    assert!(log.contains("Default executor started"), "{log}");
}

#[tokio::test]
async fn a_task_past_its_max_completion_time_fails() {
    let mut agent = FakeAgent::start().await;
    agent.shared.lock().unwrap().obey_sigterm = false;
    let dir = tempfile::tempdir().unwrap();
    let _executor = tokio::spawn(DefaultExecutor::new(agent.config(dir.path().into())).run());
    agent.subscribed(framework(true)).await;
    let mut task_group = group(&["t1"]);
    task_group.tasks[0].max_completion_time = Some(mesos_proto::mesos::v1::DurationInfo {
        nanoseconds: 100_000_000,
    });
    let mut event = Event {
        launch_group: Some(event::LaunchGroup { task_group }),
        ..Default::default()
    };
    event.set_type(event::Type::LaunchGroup);
    agent.send(&event);
    let (containers, _) = agent.launched(&["t1"]).await;

    // No TASK_KILLING, and no grace period.
    assert_eq!(
        agent.kill_call().await,
        (containers[0].clone(), libc::SIGTERM)
    );
    assert_eq!(
        agent.kill_call().await,
        (containers[0].clone(), libc::SIGKILL)
    );
    let status = agent.update().await;
    assert_update(
        &status,
        "t1",
        TaskState::TaskFailed,
        Some("Command terminated with signal Killed"),
    );
    assert_eq!(
        status.reason(),
        task_status::Reason::MaxCompletionTimeReached
    );
}

#[tokio::test]
async fn a_launch_event_shuts_the_executor_down() {
    let mut agent = FakeAgent::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut executor = tokio::spawn(DefaultExecutor::new(agent.config(dir.path().into())).run());
    agent.subscribed(framework(false)).await;
    let mut event = Event {
        launch: Some(event::Launch { task: task("t1") }),
        ..Default::default()
    };
    event.set_type(event::Type::Launch);
    agent.send(&event);
    finished(&mut executor).await;
    assert!(agent.operator_calls.try_recv().is_err());
}

#[tokio::test]
async fn a_checkpointing_executor_gives_up_after_the_recovery_timeout() {
    let mut agent = FakeAgent::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = agent.config(dir.path().into());
    config.checkpoint = true;
    config.recovery_timeout = Duration::from_millis(300);
    config.termination_fail_safe = Duration::from_millis(100);
    let mut executor = tokio::spawn(DefaultExecutor::new(config).run());
    agent.subscribed(framework(false)).await;
    agent.launch_group(&["t1"]);
    agent.launched(&["t1"]).await;

    let started = std::time::Instant::now();
    agent.go_away();
    finished(&mut executor).await;
    // The recovery timeout, then the fail-safe for the unacknowledged
    // updates.
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_task_failing_its_health_check_is_killed_with_its_group() {
    use mesos_proto::mesos::v1::{health_check, HealthCheck};
    let mut agent = FakeAgent::start().await;
    let dir = tempfile::tempdir().unwrap();
    let _executor = tokio::spawn(DefaultExecutor::new(agent.config(dir.path().into())).run());
    agent.subscribed(framework(true)).await;
    // Nothing listens on the checked port.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        u32::from(listener.local_addr().unwrap().port())
    };
    let mut checked = task("t1");
    checked.health_check = Some(HealthCheck {
        r#type: Some(health_check::Type::Tcp as i32),
        tcp: Some(health_check::TcpCheckInfo {
            port,
            ..Default::default()
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.1),
        grace_period_seconds: Some(0.0),
        consecutive_failures: Some(2),
        ..Default::default()
    });
    agent.launch_tasks(vec![checked, task("t2")]);
    let (containers, _) = agent.launched(&["t1", "t2"]).await;

    for _ in 0..2 {
        let status = agent.update().await;
        assert_update(&status, "t1", TaskState::TaskRunning, None);
        assert_eq!(status.healthy, Some(false));
        assert_eq!(
            status.reason(),
            task_status::Reason::TaskHealthCheckStatusUpdated
        );
        // A copy of the last update: the container status stays.
        assert_eq!(
            status.container_status.unwrap().container_id.as_ref(),
            Some(&containers[0])
        );
    }
    // The second failure reached `consecutive_failures`: the task is killed.
    let status = agent.update().await;
    assert_update(&status, "t1", TaskState::TaskKilling, None);
    assert_eq!(
        agent.kill_call().await,
        (containers[0].clone(), libc::SIGTERM)
    );
    let status = agent.update().await;
    assert_update(
        &status,
        "t1",
        TaskState::TaskKilled,
        Some("Command terminated with signal Terminated"),
    );
    assert_eq!(status.healthy, Some(false));
    // Then the rest of the group; its terminal update says unhealthy too
    // (upstream's executor-wide flag).
    let status = agent.update().await;
    assert_update(&status, "t2", TaskState::TaskKilling, None);
    assert_eq!(
        agent.kill_call().await,
        (containers[1].clone(), libc::SIGTERM)
    );
    let status = agent.update().await;
    assert_update(
        &status,
        "t2",
        TaskState::TaskKilled,
        Some("Command terminated with signal Terminated"),
    );
    assert_eq!(status.healthy, Some(false));
}

#[tokio::test]
async fn a_command_check_runs_in_a_nested_container_and_reports_its_exit_code() {
    use mesos_proto::mesos::v1::{check_info, CheckInfo, CommandInfo};
    let mut agent = FakeAgent::start().await;
    agent.shared.lock().unwrap().check_exit_status = 3 << 8;
    let dir = tempfile::tempdir().unwrap();
    let _executor = tokio::spawn(DefaultExecutor::new(agent.config(dir.path().into())).run());
    agent.subscribed(framework(false)).await;
    let mut checked = task("t1");
    checked.check = Some(CheckInfo {
        r#type: Some(check_info::Type::Command as i32),
        command: Some(check_info::Command {
            command: CommandInfo {
                value: Some("exit 3".into()),
                ..Default::default()
            },
        }),
        // After the task's wait call; one check only.
        delay_seconds: Some(0.3),
        interval_seconds: Some(60.0),
        ..Default::default()
    });
    agent.launch_tasks(vec![checked]);
    let (containers, updates) = agent.launched(&["t1"]).await;
    // Before the first result, updates carry the empty COMMAND status.
    for status in &updates {
        let check_status = status.check_status.unwrap();
        assert_eq!(check_status.r#type(), check_info::Type::Command);
        assert_eq!(check_status.command.unwrap().exit_code, None);
    }

    // The check's container is nested in the task's.
    let call = agent.operator_call().await;
    assert_eq!(
        call.r#type(),
        agent::call::Type::LaunchNestedContainerSession
    );
    let session = call.launch_nested_container_session.unwrap();
    assert!(session.container_id.value.starts_with("check-"));
    assert_eq!(session.container_id.parent.as_deref(), Some(&containers[0]));
    assert_eq!(session.command.unwrap().value.as_deref(), Some("exit 3"));
    let call = agent.operator_call().await;
    assert_eq!(call.r#type(), agent::call::Type::WaitNestedContainer);
    assert_eq!(
        call.wait_nested_container.unwrap().container_id,
        session.container_id
    );

    let status = agent.update().await;
    assert_update(&status, "t1", TaskState::TaskRunning, None);
    assert_eq!(status.reason(), task_status::Reason::TaskCheckStatusUpdated);
    assert_eq!(
        status.check_status.unwrap().command.unwrap().exit_code,
        Some(3)
    );
}
