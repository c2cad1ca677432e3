//! An emulated agent and master fixtures.

#![allow(dead_code)] // each test binary uses part of it

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use libprocess::actix::{Actor, Context};
use libprocess::{Config, MessageEvent, Process, ProcessBase, Runtime, PID, UPID};
use mesos_master::flags::Flags;
use mesos_master::master::Master;
use mesos_master::registrar::{InMemoryStore, Registrar, Store};
use mesos_proto::mesos::internal::{RegisterSlaveMessage, ReregisterSlaveMessage};
use mesos_proto::mesos::{SlaveId, SlaveInfo};
use tokio::sync::mpsc;

/// A process standing in for an agent: records what the master sends,
/// answers pings unless told not to, and sends what the test asks.
pub struct Agent {
    pub base: ProcessBase<Self>,
    tx: mpsc::UnboundedSender<MessageEvent>,
    pub answer_pings: bool,
}

impl Actor for Agent {
    type Context = Context<Self>;
}

const NAMES: &[&str] = &[
    "mesos.internal.RunTaskMessage",
    "mesos.internal.RunTaskGroupMessage",
    "mesos.internal.KillTaskMessage",
    "mesos.internal.StatusUpdateAcknowledgementMessage",
    "mesos.internal.FrameworkToExecutorMessage",
    "mesos.internal.ShutdownExecutorMessage",
    "mesos.internal.ShutdownFrameworkMessage",
    "mesos.internal.SlaveRegisteredMessage",
    "mesos.internal.SlaveReregisteredMessage",
    "mesos.internal.ShutdownMessage",
    "mesos.internal.CheckpointResourcesMessage",
    "mesos.internal.ApplyOperationMessage",
    "mesos.internal.AcknowledgeOperationStatusMessage",
    "mesos.internal.ReconcileOperationsMessage",
    "mesos.internal.DrainSlaveMessage",
];

impl Process for Agent {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        for name in NAMES {
            self.base.install_raw(name, |this, _ctx, event| {
                let _ = this.tx.send(event);
            });
        }
        self.base
            .install_raw("mesos.internal.PingSlaveMessage", |this, _ctx, event| {
                if this.answer_pings {
                    this.base.send(
                        &event.from,
                        &mesos_proto::mesos::internal::PongSlaveMessage {},
                    );
                }
                let _ = this.tx.send(event);
            });
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

pub fn flags(extra: &[&str]) -> Arc<Flags> {
    let registry: &[&str] = if extra.iter().any(|a| a.starts_with("--registry")) {
        &[]
    } else {
        &["--registry=in_memory"]
    };
    let args = ["mesos-master"]
        .iter()
        .chain(registry)
        .chain(extra)
        .map(|s| s.to_string());
    Arc::new(Flags::parse_from_args(args).expect("flags"))
}

pub fn start_master(runtime: &Runtime, flags: Arc<Flags>, store: Box<dyn Store>) -> PID<Master> {
    let registrar = Arc::new(Registrar::new(store));
    mesos_master::master::spawn(runtime, flags, registrar).expect("spawn master")
}

pub fn start_default_master(runtime: &Runtime) -> PID<Master> {
    start_master(runtime, flags(&[]), Box::<InMemoryStore>::default())
}

/// Waits until the master has recovered its registry.
pub async fn recovered(master: &PID<Master>) {
    for _ in 0..500 {
        if master
            .call(|m, _| m.recovered())
            .await
            .expect("master running")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("master did not recover");
}

pub fn spawn_agent(
    runtime: &Runtime,
    id: &str,
) -> (PID<Agent>, mpsc::UnboundedReceiver<MessageEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let agent = Agent {
        base: ProcessBase::new(id),
        tx,
        answer_pings: true,
    };
    (runtime.spawn(agent).expect("spawn agent"), rx)
}

pub fn slave_info(hostname: &str) -> SlaveInfo {
    SlaveInfo {
        hostname: hostname.into(),
        port: Some(5051),
        ..Default::default()
    }
}

pub fn register(agent: &PID<Agent>, master: &UPID, version: &str) {
    register_with(agent, master, version, slave_info("agent.example"));
}

pub fn register_with(agent: &PID<Agent>, master: &UPID, version: &str, slave: SlaveInfo) {
    let message = RegisterSlaveMessage {
        slave,
        version: Some(version.to_string()),
        ..Default::default()
    };
    let to = master.clone();
    agent.dispatch(move |this, _| this.base.send(&to, &message));
}

pub fn reregister(agent: &PID<Agent>, master: &UPID, id: &str) {
    let mut info = slave_info("agent.example");
    info.id = Some(SlaveId { value: id.into() });
    let message = ReregisterSlaveMessage {
        slave: info,
        version: Some("1.11.0".into()),
        ..Default::default()
    };
    let to = master.clone();
    agent.dispatch(move |this, _| this.base.send(&to, &message));
}

/// Returns the next message the agent got, skipping pings.
pub async fn next(rx: &mut mpsc::UnboundedReceiver<MessageEvent>) -> MessageEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("timed out waiting for a message from the master")
            .expect("agent gone");
        if event.name != "mesos.internal.PingSlaveMessage" {
            return event;
        }
    }
}

/// Returns the next ping the agent got.
pub async fn next_ping(rx: &mut mpsc::UnboundedReceiver<MessageEvent>) -> MessageEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("timed out waiting for a ping")
            .expect("agent gone");
        if event.name == "mesos.internal.PingSlaveMessage" {
            return event;
        }
    }
}

pub fn decode<M: prost::Message + Default>(event: &MessageEvent) -> M {
    M::decode(event.body.clone()).expect("decode")
}

/// A client of the operator event stream (`SUBSCRIBE` on `/api/v1`):
/// reads the chunked HTTP body and splits it into RecordIO records.
pub struct EventStream {
    stream: tokio::net::TcpStream,
    /// The response head, status line included.
    pub head: String,
    raw: Vec<u8>,
    decoder: mesos_proto::recordio::Decoder,
    records: std::collections::VecDeque<bytes::Bytes>,
    json: bool,
}

impl EventStream {
    /// Subscribes to the operator API at `addr`, asking for JSON or
    /// protobuf events.
    pub async fn open(addr: std::net::SocketAddrV4, json: bool) -> Self {
        Self::open_at(addr, "/api/v1", r#"{"type":"SUBSCRIBE"}"#, json).await
    }

    /// POSTs the JSON call `body` (a SUBSCRIBE) to `path` at `addr`.
    pub async fn open_at(addr: std::net::SocketAddrV4, path: &str, body: &str, json: bool) -> Self {
        use tokio::io::AsyncWriteExt as _;
        let accept = if json {
            "application/json"
        } else {
            "application/x-protobuf"
        };
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Accept: {accept}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut this = Self {
            stream,
            head: String::new(),
            raw: Vec::new(),
            decoder: mesos_proto::recordio::Decoder::new(1 << 26),
            records: Default::default(),
            json,
        };
        while !this.raw.windows(4).any(|w| w == b"\r\n\r\n") {
            this.read().await;
        }
        let end = this.raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        this.head = String::from_utf8_lossy(&this.raw[..end]).into_owned();
        this.raw.drain(..end);
        this
    }

    async fn read(&mut self) {
        use tokio::io::AsyncReadExt as _;
        let mut chunk = vec![0u8; 16384];
        let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
            .await
            .expect("timed out waiting for an operator event")
            .unwrap();
        assert!(n > 0, "the master closed the event stream");
        self.raw.extend_from_slice(&chunk[..n]);
    }

    /// Moves complete chunks of the body into the RecordIO decoder.
    fn dechunk(&mut self) {
        loop {
            let Some(line) = self.raw.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&self.raw[..line]).unwrap().trim(), 16)
                    .unwrap();
            if size == 0 || self.raw.len() < line + 2 + size + 2 {
                return;
            }
            let data = self.raw[line + 2..line + 2 + size].to_vec();
            self.raw.drain(..line + 2 + size + 2);
            self.records.extend(self.decoder.decode(&data).unwrap());
        }
    }

    /// Waits until the master ends the stream: the last (empty) chunk of
    /// the body, or the connection closing (panics after 10 s).
    pub async fn closed(&mut self) {
        use tokio::io::AsyncReadExt as _;
        let mut chunk = vec![0u8; 16384];
        loop {
            self.dechunk();
            if self.raw.starts_with(b"0\r\n\r\n") {
                return;
            }
            let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
                .await
                .expect("the event stream stayed open")
                .unwrap_or(0);
            if n == 0 {
                return;
            }
            self.raw.extend_from_slice(&chunk[..n]);
        }
    }

    /// Returns the next operator event.
    pub async fn next(&mut self) -> mesos_proto::mesos::v1::master::Event {
        self.next_of().await
    }

    /// Returns the next event, decoded as `E`.
    pub async fn next_of<E>(&mut self) -> E
    where
        E: prost::Message + prost::Name + Default,
    {
        loop {
            self.dechunk();
            if let Some(record) = self.records.pop_front() {
                return if self.json {
                    mesos_proto::json::from_str(std::str::from_utf8(&record).unwrap()).unwrap()
                } else {
                    prost::Message::decode(record).unwrap()
                };
            }
            self.read().await;
        }
    }
}
