//! Shared test fixtures: a recording probe process and raw-socket helpers.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use libprocess::actix::{Actor, Context};
use libprocess::http::Response;
use libprocess::{Config, MessageEvent, Process, ProcessBase, Runtime, UPID};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// What a probe saw.
#[derive(Debug)]
pub enum Seen {
    Message(MessageEvent),
    Exited(UPID),
}

/// A process that records every message and exit, answers `/ping` with
/// `pong`, and sends whatever the test dispatches.
pub struct Probe {
    pub base: ProcessBase<Self>,
    pub tx: mpsc::UnboundedSender<Seen>,
    pub names: Vec<String>,
}

impl Actor for Probe {
    type Context = Context<Self>;
}

impl Process for Probe {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        for name in self.names.clone() {
            self.base.install_raw(&name, |this, _ctx, event| {
                let _ = this.tx.send(Seen::Message(event));
            });
        }
        self.base
            .route_sync("/ping", |_, _, _| Response::ok("pong"));
        self.base
            .route_sync("/big", |_, _, _| Response::ok(vec![b'x'; 4096]));
        self.base.route_sync("/api/v1", |_, _, request| {
            Response::ok(format!("v1 {}", request.path))
        });
    }
    fn exited(&mut self, pid: &UPID, _ctx: &mut Context<Self>) {
        let _ = self.tx.send(Seen::Exited(pid.clone()));
    }
}

libprocess::process_handlers!(Probe);

/// Messages probes listen for.
pub const NAMES: &[&str] = &[
    "mesos.internal.PingSlaveMessage",
    "mesos.internal.PongSlaveMessage",
    "ping",
    "pong",
];

pub fn runtime() -> Runtime {
    Runtime::new(Config {
        ip: Ipv4Addr::LOCALHOST,
        ..Config::default()
    })
    .expect("runtime")
}

pub fn runtime_with(config: Config) -> Runtime {
    Runtime::new(Config {
        ip: Ipv4Addr::LOCALHOST,
        ..config
    })
    .expect("runtime")
}

pub fn spawn_probe(
    runtime: &Runtime,
    id: &str,
) -> (libprocess::PID<Probe>, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let probe = Probe {
        base: ProcessBase::new(id),
        tx,
        names: NAMES.iter().map(|s| s.to_string()).collect(),
    };
    (runtime.spawn(probe).expect("spawn"), rx)
}

pub async fn next(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("timed out waiting for the probe")
        .expect("probe gone")
}

pub async fn next_message(rx: &mut mpsc::UnboundedReceiver<Seen>) -> MessageEvent {
    match next(rx).await {
        Seen::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

pub async fn connect(addr: SocketAddrV4) -> TcpStream {
    TcpStream::connect(addr).await.expect("connect")
}

/// A client connection that reads responses one at a time, keeping bytes
/// of the next response for the next call.
pub struct Conn {
    pub stream: TcpStream,
    buffer: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: SocketAddrV4) -> Self {
        Self {
            stream: connect(addr).await,
            buffer: Vec::new(),
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
            .await
            .expect("timed out reading a response")
            .expect("read");
        assert!(
            n > 0,
            "connection closed before a response: {:?}",
            String::from_utf8_lossy(&self.buffer)
        );
        self.buffer.extend_from_slice(&chunk[..n]);
    }

    /// Reads one HTTP response: (status, headers, body).
    pub async fn response(&mut self) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let head_end = loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            self.fill().await;
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| {
                l.split_once(':')
                    .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().expect("length"))
            .unwrap_or(0);
        while self.buffer.len() < head_end + length {
            self.fill().await;
        }
        let body = self.buffer[head_end..head_end + length].to_vec();
        self.buffer.drain(..head_end + length);
        (status, headers, body)
    }
}

pub async fn request(addr: SocketAddrV4, raw: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut conn = Conn::open(addr).await;
    conn.write(raw.as_bytes()).await;
    conn.response().await
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
