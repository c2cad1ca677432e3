//! The v1 executor API, `POST /api/v1/executor`, against our master and
//! agent: the test plays a v1 HTTP executor for a custom `ExecutorInfo`
//! (whose own process, `sleep`, never registers), subscribes, receives its
//! task, sends updates and sees them acknowledged and forwarded.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use libprocess::{MessageEvent, ProcessBase, Runtime, PID, UPID};
use mesos_agent::slave::Slave;
use mesos_proto::mesos::internal::{
    FrameworkRegisteredMessage, ResourceOffersMessage, StatusUpdateMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::v1::executor::{event, Event};
use mesos_proto::mesos::{
    offer, CommandInfo, ExecutorId, ExecutorInfo, Filters, FrameworkId, FrameworkInfo, TaskId,
    TaskInfo, TaskState,
};
use mesos_proto::resources::Resources;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use support::*;

fn post(path: &str, body: &str, headers: &[(&str, &str)]) -> String {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    request
}

/// Sends one request and returns the status line, headers and (short) body.
async fn one_shot(addr: SocketAddrV4, raw: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut buffer = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
            .await
            .expect("timed out")
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&buffer));
        buffer.extend_from_slice(&chunk[..n]);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut chunk = [0u8; 4096];
    if let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(100), stream.read(&mut chunk)).await
    {
        buffer.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buffer).into_owned()
}

/// A subscribed executor's event stream: chunked HTTP carrying RecordIO.
struct EventStream {
    stream: TcpStream,
    buffer: Vec<u8>,
    decoder: mesos_proto::recordio::Decoder,
    events: std::collections::VecDeque<Event>,
    head: String,
    json: bool,
}

impl EventStream {
    async fn open(addr: SocketAddrV4, path: &str, body: &str) -> Self {
        Self::open_as(addr, path, body, "application/json").await
    }

    async fn open_as(addr: SocketAddrV4, path: &str, body: &str, accept: &str) -> Self {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = post(
            path,
            body,
            &[("Content-Type", "application/json"), ("Accept", accept)],
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut this = Self {
            stream,
            buffer: Vec::new(),
            decoder: mesos_proto::recordio::Decoder::new(1 << 20),
            events: Default::default(),
            head: String::new(),
            json: accept == "application/json",
        };
        while !this.buffer.windows(4).any(|w| w == b"\r\n\r\n") {
            this.read_more().await;
        }
        let end = this
            .buffer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap()
            + 4;
        this.head = String::from_utf8_lossy(&this.buffer[..end]).into_owned();
        this.buffer.drain(..end);
        this
    }

    async fn read_more(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(30), self.stream.read(&mut chunk))
            .await
            .expect("timed out")
            .unwrap();
        assert!(n > 0, "stream closed");
        self.buffer.extend_from_slice(&chunk[..n]);
    }

    /// Moves complete chunks into the RecordIO decoder.
    fn drain_chunks(&mut self) {
        loop {
            let Some(line_end) = self.buffer.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            let size = usize::from_str_radix(
                std::str::from_utf8(&self.buffer[..line_end])
                    .unwrap()
                    .trim(),
                16,
            )
            .unwrap();
            if self.buffer.len() < line_end + 2 + size + 2 {
                return;
            }
            let data: Vec<u8> = self.buffer[line_end + 2..line_end + 2 + size].to_vec();
            self.buffer.drain(..line_end + 2 + size + 2);
            for record in self.decoder.decode(&data).unwrap() {
                let event = if self.json {
                    mesos_proto::json::from_str(std::str::from_utf8(&record).unwrap()).unwrap()
                } else {
                    <Event as prost::Message>::decode(record).unwrap()
                };
                self.events.push_back(event);
            }
        }
    }

    async fn next(&mut self) -> Event {
        loop {
            self.drain_chunks();
            if let Some(event) = self.events.pop_front() {
                return event;
            }
            self.read_more().await;
        }
    }
}

struct Cluster {
    _master_runtime: Runtime,
    _agent_runtime: Runtime,
    agent: PID<Slave>,
    agent_address: SocketAddrV4,
    work_dir: tempfile::TempDir,
    framework_id: FrameworkId,
    rx: mpsc::UnboundedReceiver<MessageEvent>,
    scheduler: PID<Scheduler>,
    master: UPID,
}

/// Starts a master and an agent, and launches one task with a custom
/// executor (`sleep 30`, which never registers) from a checkpointing
/// framework.
async fn launch() -> Cluster {
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&agent_runtime, master.upid(), work_dir.path());

    let (tx, mut rx) = mpsc::unbounded_channel();
    let scheduler = master_runtime
        .spawn(Scheduler {
            base: ProcessBase::new("scheduler-executor-api"),
            tx,
        })
        .unwrap();
    let subscribe = Call {
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: FrameworkInfo {
                user: "root".into(),
                name: "executor-api-test".into(),
                checkpoint: Some(true),
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

    let task = TaskInfo {
        name: "v1".into(),
        task_id: TaskId {
            value: "task-1".into(),
        },
        slave_id: offer.slave_id.clone(),
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        executor: Some(ExecutorInfo {
            executor_id: ExecutorId {
                value: "v1-executor".into(),
            },
            framework_id: Some(framework_id.clone()),
            command: Some(CommandInfo {
                value: Some("sleep 30".into()),
                ..Default::default()
            }),
            resources: Resources::parse("cpus:0.1;mem:32", "*").unwrap().to_vec(),
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

    // Wait until the agent has launched (and checkpointed) the executor.
    let mut launched = false;
    for _ in 0..1000 {
        if find_file(work_dir.path(), "forked.pid").is_some() {
            launched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(launched, "the agent got the task");
    let agent_address = agent_runtime.address();
    Cluster {
        _master_runtime: master_runtime,
        _agent_runtime: agent_runtime,
        agent,
        agent_address,
        work_dir,
        framework_id,
        rx,
        scheduler,
        master: master.upid().clone(),
    }
}

fn call_json(framework_id: &str, kind: &str, extra: &str) -> String {
    format!(
        r#"{{"executor_id":{{"value":"v1-executor"}},"framework_id":{{"value":"{framework_id}"}},"type":"{kind}"{extra}}}"#
    )
}

fn update_json(framework_id: &str, state: &str, uuid: &[u8; 16]) -> String {
    let uuid = base64::engine::general_purpose::STANDARD.encode(uuid);
    call_json(
        framework_id,
        "UPDATE",
        &format!(
            r#","update":{{"status":{{"task_id":{{"value":"task-1"}},"state":"{state}","source":"SOURCE_EXECUTOR","uuid":"{uuid}"}}}}"#
        ),
    )
}

#[actix_rt::test]
async fn a_v1_executor_subscribes_runs_its_task_and_is_acknowledged() {
    let mut cluster = launch().await;
    let framework_id = cluster.framework_id.value.clone();
    let path = format!("/{}/api/v1/executor", cluster.agent.upid().id);

    // Before subscribing, other calls are forbidden.
    let response = one_shot(
        cluster.agent_address,
        &post(
            &path,
            &update_json(&framework_id, "TASK_RUNNING", &[1; 16]),
            &[("Content-Type", "application/json")],
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");

    // SUBSCRIBE (through the delegate): SUBSCRIBED, then the task.
    let mut events = EventStream::open(
        cluster.agent_address,
        "/api/v1/executor",
        &call_json(&framework_id, "SUBSCRIBE", r#","subscribe":{}"#),
    )
    .await;
    assert!(
        events.head.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        events.head
    );
    assert!(
        events.head.contains("Content-Type: application/json\r\n"),
        "{}",
        events.head
    );
    let subscribed = events.next().await;
    assert_eq!(subscribed.r#type(), event::Type::Subscribed);
    let subscribed = subscribed.subscribed.unwrap();
    assert_eq!(subscribed.executor_info.executor_id.value, "v1-executor");
    assert_eq!(subscribed.framework_info.id.unwrap().value, framework_id);
    assert!(subscribed.agent_info.id.is_some());
    let container_id = subscribed.container_id.unwrap().value;
    let launch = events.next().await;
    assert_eq!(launch.r#type(), event::Type::Launch);
    assert_eq!(launch.launch.unwrap().task.task_id.value, "task-1");

    // A checkpointing framework's HTTP executor has an http.marker.
    let marker = find_file(cluster.work_dir.path(), "http.marker").expect("http.marker");
    let marker = std::fs::canonicalize(marker).unwrap();
    assert!(
        marker.to_string_lossy().contains(&container_id),
        "{}",
        marker.display()
    );
    assert_eq!(std::fs::read(&marker).unwrap(), b"");
    assert!(find_file(cluster.work_dir.path(), "libprocess.pid").is_none());

    // Updates are acknowledged on the stream and reach the framework.
    let mut states = Vec::new();
    let mut slave_id = None;
    for (state, uuid) in [("TASK_RUNNING", [1u8; 16]), ("TASK_FINISHED", [2u8; 16])] {
        let response = one_shot(
            cluster.agent_address,
            &post(
                &path,
                &update_json(&framework_id, state, &uuid),
                &[("Content-Type", "application/json")],
            ),
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 202"), "{response}");
        let acknowledged = events.next().await;
        assert_eq!(acknowledged.r#type(), event::Type::Acknowledged);
        let acknowledged = acknowledged.acknowledged.unwrap();
        assert_eq!(acknowledged.task_id.value, "task-1");
        assert_eq!(acknowledged.uuid, uuid.to_vec());

        let update: StatusUpdateMessage =
            decode(&recv(&mut cluster.rx, "mesos.internal.StatusUpdateMessage").await);
        assert_eq!(update.update.uuid.as_deref(), Some(&uuid[..]));
        states.push(update.update.status.state());
        slave_id = update.update.slave_id.clone();
        let ack = Call {
            framework_id: Some(cluster.framework_id.clone()),
            r#type: Some(call::Type::Acknowledge as i32),
            acknowledge: Some(call::Acknowledge {
                slave_id: update.update.slave_id.clone().unwrap(),
                task_id: update.update.status.task_id.clone(),
                uuid: update.update.uuid.clone().unwrap(),
            }),
            ..Default::default()
        };
        let to = cluster.master.clone();
        cluster
            .scheduler
            .dispatch(move |this, _| this.base.send(&to, &ack));
    }
    assert_eq!(
        states,
        vec![TaskState::TaskRunning, TaskState::TaskFinished]
    );

    // MESSAGE goes to the framework; HEARTBEAT is accepted.
    let response = one_shot(
        cluster.agent_address,
        &post(
            &path,
            &call_json(&framework_id, "MESSAGE", r#","message":{"data":"aGk="}"#),
            &[("Content-Type", "application/json")],
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 202"), "{response}");
    let message: mesos_proto::mesos::internal::ExecutorToFrameworkMessage =
        decode(&recv(&mut cluster.rx, "mesos.internal.ExecutorToFrameworkMessage").await);
    assert_eq!(message.data, b"hi");
    let response = one_shot(
        cluster.agent_address,
        &post(
            &path,
            &call_json(&framework_id, "HEARTBEAT", ""),
            &[("Content-Type", "application/json")],
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 202"), "{response}");

    // The framework's message arrives as MESSAGE; its teardown as SHUTDOWN.
    let message = Call {
        framework_id: Some(cluster.framework_id.clone()),
        r#type: Some(call::Type::Message as i32),
        message: Some(call::Message {
            slave_id: slave_id.unwrap(),
            executor_id: ExecutorId {
                value: "v1-executor".into(),
            },
            data: b"hello executor".to_vec(),
        }),
        ..Default::default()
    };
    let to = cluster.master.clone();
    cluster
        .scheduler
        .dispatch(move |this, _| this.base.send(&to, &message));
    let event = events.next().await;
    assert_eq!(event.r#type(), event::Type::Message);
    assert_eq!(event.message.unwrap().data, b"hello executor");
    let teardown = Call {
        framework_id: Some(cluster.framework_id.clone()),
        r#type: Some(call::Type::Teardown as i32),
        ..Default::default()
    };
    let to = cluster.master.clone();
    cluster
        .scheduler
        .dispatch(move |this, _| this.base.send(&to, &teardown));
    let event = events.next().await;
    assert_eq!(event.r#type(), event::Type::Shutdown);
}

#[actix_rt::test]
async fn bad_executor_calls_get_upstreams_errors() {
    let cluster = launch().await;
    let framework_id = cluster.framework_id.value.clone();
    let addr = cluster.agent_address;
    let path = "/api/v1/executor";
    let json = [("Content-Type", "application/json")];

    let response = one_shot(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")).await;
    assert!(response.starts_with("HTTP/1.1 405"), "{response}");

    let response = one_shot(
        addr,
        &post(
            path,
            &call_json(&framework_id, "HEARTBEAT", ""),
            &[("Content-Type", "text/plain")],
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 415"), "{response}");

    let response = one_shot(addr, &post(path, "{not json", &json)).await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");

    let response = one_shot(
        addr,
        &post(
            path,
            &call_json(&framework_id, "SUBSCRIBE", r#","subscribe":{}"#),
            &[
                ("Content-Type", "application/json"),
                ("Accept", "text/html"),
            ],
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 406"), "{response}");

    // Unknown framework or executor.
    let response = one_shot(
        addr,
        &post(
            path,
            &call_json("nope", "SUBSCRIBE", r#","subscribe":{}"#),
            &json,
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    let response = one_shot(
        addr,
        &post(
            path,
            &call_json(&framework_id, "MESSAGE", r#","message":{"data":"aGk="}"#)
                .replace("v1-executor", "other"),
            &json,
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");

    // TASK_STAGING from an executor is invalid.
    let response = one_shot(
        addr,
        &post(
            path,
            &update_json(&framework_id, "TASK_STAGING", &[3; 16]),
            &json,
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("TASK_STAGING"), "{response}");

    // A protobuf stream, when the executor asks for one.
    let mut events = EventStream::open_as(
        addr,
        path,
        &call_json(&framework_id, "SUBSCRIBE", r#","subscribe":{}"#),
        "application/x-protobuf",
    )
    .await;
    assert!(
        events
            .head
            .contains("Content-Type: application/x-protobuf\r\n"),
        "{}",
        events.head
    );
    assert_eq!(events.next().await.r#type(), event::Type::Subscribed);
    assert_eq!(events.next().await.r#type(), event::Type::Launch);
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
