//! The v1 executor library (`mesos_executor::v1::Mesos`) in-process
//! against a fake agent that serves `/slave(1)/api/v1/executor`:
//! SUBSCRIBE is answered with a RecordIO event stream the test writes to,
//! every other call with `202` (or the status the test sets). Upstream's
//! counterparts are the executor-library parts of
//! `src/tests/executor_http_api_tests.cpp` and `slave_recovery_tests.cpp`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesos_executor::http::Url;
use mesos_executor::v1::{Mesos, MesosConfig, Notice};
use mesos_proto::mesos::v1::executor::{call, event, Call, Event};
use mesos_proto::mesos::v1::task_status::Source;
use mesos_proto::mesos::v1::{ExecutorId, FrameworkId, TaskId, TaskState, TaskStatus};
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Default)]
struct Shared {
    /// The current subscription's event stream.
    stream: Option<mpsc::UnboundedSender<Vec<u8>>>,
    /// The answer to non-subscribe calls, if not `202 Accepted`.
    answer: Option<&'static str>,
}

struct FakeAgent {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    calls: mpsc::UnboundedReceiver<Call>,
    listener: JoinHandle<()>,
}

impl FakeAgent {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (tx, calls) = mpsc::unbounded_channel();
        let state = shared.clone();
        let listener = tokio::spawn(async move {
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
            listener,
        }
    }

    fn config(&self, checkpoint: bool) -> MesosConfig {
        MesosConfig {
            framework_id: FrameworkId { value: "fw".into() },
            executor_id: ExecutorId { value: "ex".into() },
            executor_url: Url {
                address: self.addr.to_string(),
                path: "/slave(1)/api/v1/executor".into(),
            },
            authorization: None,
            checkpoint,
            recovery_timeout: Duration::from_secs(15),
            subscription_backoff_max: Duration::from_millis(100),
            shutdown_grace_period: Duration::from_secs(5),
            // Never kill the test's process group.
            local: true,
        }
    }

    async fn call(&mut self) -> Call {
        let call = tokio::time::timeout(TIMEOUT, self.calls.recv())
            .await
            .expect("timed out waiting for a call")
            .unwrap();
        assert_eq!(call.framework_id.value, "fw");
        assert_eq!(call.executor_id.value, "ex");
        call
    }

    fn send(&self, event: &Event) {
        let record = mesos_proto::recordio::encode(&event.encode_to_vec());
        let shared = self.shared.lock().unwrap();
        let stream = shared.stream.as_ref().expect("no subscription");
        stream.send(record.to_vec()).unwrap();
    }

    fn subscribed(&self) {
        let mut event = Event {
            subscribed: Some(event::Subscribed::default()),
            ..Default::default()
        };
        event.set_type(event::Type::Subscribed);
        self.send(&event);
    }

    fn answer(&self, answer: &'static str) {
        self.shared.lock().unwrap().answer = Some(answer);
    }

    /// Closes the event stream, as an agent that restarts does.
    fn close_stream(&self) {
        self.shared.lock().unwrap().stream = None;
    }

    /// Stops accepting connections and closes the event stream: the agent
    /// is gone.
    fn stop(&self) {
        self.listener.abort();
        self.close_stream();
    }
}

async fn serve(mut stream: TcpStream, shared: Arc<Mutex<Shared>>, tx: mpsc::UnboundedSender<Call>) {
    let mut buffer = Vec::new();
    loop {
        let Some(body) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        let call = Call::decode(body.as_slice()).unwrap();
        let kind = call.r#type();
        let _ = tx.send(call);
        if kind != call::Type::Subscribe {
            let answer = shared.lock().unwrap().answer;
            let response = match answer {
                None => "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".to_string(),
                Some(status) => format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{status}",
                    status.len()
                ),
            };
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

/// Reads one request with a `Content-Length` body and returns the body.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(buffer[..end].to_vec()).unwrap();
            assert!(
                head.starts_with("POST /slave(1)/api/v1/executor "),
                "{head}"
            );
            let length: usize = head
                .split("\r\n")
                .filter_map(|line| line.split_once(':'))
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.trim().parse().unwrap())
                .unwrap();
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
            return Some(body);
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

async fn notice(notices: &mut mpsc::UnboundedReceiver<Notice>) -> Notice {
    tokio::time::timeout(TIMEOUT, notices.recv())
        .await
        .expect("timed out waiting for a notice")
        .expect("the library stopped")
}

/// Returns the one event of the next notice, which must be `Received`.
async fn event(notices: &mut mpsc::UnboundedReceiver<Notice>) -> Event {
    match notice(notices).await {
        Notice::Received(mut events) => {
            assert_eq!(events.len(), 1, "{events:?}");
            events.remove(0)
        }
        other => panic!("expected an event, got {other:?}"),
    }
}

fn call(kind: call::Type) -> Call {
    let mut call = Call {
        framework_id: FrameworkId { value: "fw".into() },
        executor_id: ExecutorId { value: "ex".into() },
        ..Default::default()
    };
    call.set_type(kind);
    call
}

fn subscribe() -> Call {
    Call {
        subscribe: Some(call::Subscribe::default()),
        ..call(call::Type::Subscribe)
    }
}

fn message(data: &str) -> Call {
    Call {
        message: Some(call::Message {
            data: data.as_bytes().to_vec(),
        }),
        ..call(call::Type::Message)
    }
}

fn update(state: TaskState) -> Call {
    let mut status = TaskStatus {
        task_id: TaskId { value: "t".into() },
        uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
        ..Default::default()
    };
    status.set_state(state);
    status.set_source(Source::Executor);
    Call {
        update: Some(call::Update { status }),
        ..call(call::Type::Update)
    }
}

/// Connects, subscribes and waits for the SUBSCRIBED event.
async fn subscribed(
    agent: &mut FakeAgent,
    checkpoint: bool,
) -> (Mesos, mpsc::UnboundedReceiver<Notice>) {
    let (mesos, mut notices) = Mesos::new(agent.config(checkpoint));
    assert_eq!(notice(&mut notices).await, Notice::Connected);
    mesos.send(subscribe());
    assert_eq!(agent.call().await.r#type(), call::Type::Subscribe);
    agent.subscribed();
    assert_eq!(event(&mut notices).await.r#type(), event::Type::Subscribed);
    (mesos, notices)
}

#[tokio::test]
async fn connected_then_subscribe_brings_the_subscribed_event() {
    let mut agent = FakeAgent::start().await;
    let (_mesos, mut notices) = subscribed(&mut agent, false).await;
    assert!(notices.try_recv().is_err());
}

#[tokio::test]
async fn updates_and_messages_reach_the_agent_in_order() {
    let mut agent = FakeAgent::start().await;
    let (mesos, _notices) = subscribed(&mut agent, false).await;
    mesos.send(update(TaskState::TaskRunning));
    mesos.send(message("hi"));
    mesos.send(update(TaskState::TaskFinished));
    let running = agent.call().await;
    assert_eq!(running.r#type(), call::Type::Update);
    assert_eq!(
        running.update.unwrap().status.state(),
        TaskState::TaskRunning
    );
    let hi = agent.call().await;
    assert_eq!(hi.message.unwrap().data, b"hi");
    let finished = agent.call().await;
    assert_eq!(
        finished.update.unwrap().status.state(),
        TaskState::TaskFinished
    );
}

#[tokio::test]
async fn calls_before_subscription_and_invalid_calls_are_dropped() {
    let mut agent = FakeAgent::start().await;
    let (mesos, mut notices) = Mesos::new(agent.config(false));
    assert_eq!(notice(&mut notices).await, Notice::Connected);
    mesos.send(message("too early"));
    mesos.send(subscribe());
    assert_eq!(agent.call().await.r#type(), call::Type::Subscribe);
    // A second SUBSCRIBE while one is in flight is dropped too.
    mesos.send(subscribe());
    agent.subscribed();
    assert_eq!(event(&mut notices).await.r#type(), event::Type::Subscribed);
    let mut no_uuid = update(TaskState::TaskRunning);
    no_uuid.update.as_mut().unwrap().status.uuid = None;
    mesos.send(no_uuid);
    mesos.send(message("in time"));
    assert_eq!(agent.call().await.message.unwrap().data, b"in time");
}

#[tokio::test]
async fn an_unexpected_response_becomes_an_error_event() {
    let mut agent = FakeAgent::start().await;
    let (mesos, mut notices) = subscribed(&mut agent, false).await;
    agent.answer("503 Service Unavailable");
    mesos.send(message("refused"));
    agent.call().await;
    agent.answer("400 Bad Request");
    mesos.send(message("bad"));
    agent.call().await;
    // Only the 400 is reported.
    let error = event(&mut notices).await;
    assert_eq!(error.r#type(), event::Type::Error);
    let message = error.error.unwrap().message;
    assert!(message.contains("400 Bad Request"), "{message}");
    assert!(message.contains("MESSAGE"), "{message}");
}

#[tokio::test]
async fn losing_the_agent_without_checkpointing_injects_shutdown() {
    let mut agent = FakeAgent::start().await;
    let (mesos, mut notices) = subscribed(&mut agent, false).await;
    agent.close_stream();
    assert_eq!(notice(&mut notices).await, Notice::Disconnected);
    assert_eq!(event(&mut notices).await.r#type(), event::Type::Shutdown);
    // Calls are dropped from now on.
    mesos.send(message("after"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(agent.calls.try_recv().is_err());
}

#[tokio::test]
async fn a_checkpointing_executor_reconnects_and_subscribes_again() {
    let mut agent = FakeAgent::start().await;
    let (mesos, mut notices) = subscribed(&mut agent, true).await;
    agent.close_stream();
    assert_eq!(notice(&mut notices).await, Notice::Disconnected);
    assert_eq!(notice(&mut notices).await, Notice::Connected);
    mesos.send(subscribe());
    assert_eq!(agent.call().await.r#type(), call::Type::Subscribe);
    agent.subscribed();
    assert_eq!(event(&mut notices).await.r#type(), event::Type::Subscribed);
    mesos.send(message("again"));
    assert_eq!(agent.call().await.message.unwrap().data, b"again");
}

#[tokio::test]
async fn a_checkpointing_executor_shuts_down_after_the_recovery_timeout() {
    let mut agent = FakeAgent::start().await;
    let mut config = agent.config(true);
    config.recovery_timeout = Duration::from_millis(500);
    let (mesos, mut notices) = Mesos::new(config);
    assert_eq!(notice(&mut notices).await, Notice::Connected);
    mesos.send(subscribe());
    agent.call().await;
    agent.subscribed();
    assert_eq!(event(&mut notices).await.r#type(), event::Type::Subscribed);
    agent.stop();
    assert_eq!(notice(&mut notices).await, Notice::Disconnected);
    assert_eq!(event(&mut notices).await.r#type(), event::Type::Shutdown);
    // Only one SHUTDOWN, however often reconnecting fails.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(notices.try_recv().is_err());
}
