//! Cross-process throughput over loopback: upstream libprocess's
//! `Process_BENCHMARK_ClientServer` (8 clients × 10,000 requests, 250 in
//! flight each, 3-byte messages), but with the server in a second OS
//! process, so every message crosses a real TCP connection through the
//! encoder, the request decoder and the 202 answers. Reports throughput
//! and the round-trip latency distribution (p50, p99) seen by clients.
//!
//! Run: `cargo bench -p libprocess --bench client_server`
//! (re-executes itself with `BENCH_ROLE=server` for the server side).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use libprocess::actix::{Actor, Context, System};
use libprocess::{Config, Process, ProcessBase, Runtime, UPID};
use tokio::sync::mpsc;

const CLIENTS: usize = 8;
const REQUESTS: usize = 10_000;
const CONCURRENCY: usize = 250;
const MESSAGE: &[u8] = b"111";

struct Server {
    base: ProcessBase<Self>,
    linked: std::collections::HashSet<UPID>,
}

impl Actor for Server {
    type Context = Context<Self>;
}

impl Process for Server {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        self.base.install_raw("ping", |this, _ctx, event| {
            if this.linked.insert(event.from.clone()) {
                this.base.link(&event.from);
            }
            let _ = this.base.send_raw(&event.from, "pong", event.body);
        });
    }
}
libprocess::process_handlers!(Server);

struct Client {
    base: ProcessBase<Self>,
    server: UPID,
    requests: usize,
    responses: usize,
    in_flight: VecDeque<Instant>,
    latencies: Vec<Duration>,
    done: mpsc::UnboundedSender<Vec<Duration>>,
}

impl Client {
    fn ping(&mut self) {
        self.in_flight.push_back(Instant::now());
        let _ = self
            .base
            .send_raw(&self.server, "ping", Bytes::from_static(MESSAGE));
        self.requests += 1;
    }
}

impl Actor for Client {
    type Context = Context<Self>;
}

impl Process for Client {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        self.base.install_raw("pong", |this, _ctx, _event| {
            // One connection each way and in-order delivery: pongs come
            // back in the order the pings left.
            if let Some(sent) = this.in_flight.pop_front() {
                this.latencies.push(sent.elapsed());
            }
            this.responses += 1;
            if this.responses == REQUESTS {
                let _ = this.done.send(std::mem::take(&mut this.latencies));
            } else if this.requests < REQUESTS {
                this.ping();
            }
        });
    }
}
libprocess::process_handlers!(Client);

fn server() {
    let system = System::new();
    system.block_on(async {
        let runtime = Runtime::new(Config {
            ip: Ipv4Addr::LOCALHOST,
            ..Config::default()
        })
        .expect("runtime");
        let server = runtime
            .spawn(Server {
                base: ProcessBase::new("server"),
                linked: Default::default(),
            })
            .expect("spawn server");
        println!("{}", server.upid());
        // Serve until the parent closes our stdin.
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await;
    });
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    if std::env::var("BENCH_ROLE").as_deref() == Ok("server") {
        return server();
    }
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .env("BENCH_ROLE", "server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("server UPID");
    let server: UPID = line.trim().parse().expect("server UPID");

    let system = System::new();
    system.block_on(async move {
        let runtime = Runtime::new(Config { ip: Ipv4Addr::LOCALHOST, ..Config::default() })
            .expect("runtime");
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let mut clients = Vec::new();
        for i in 0..CLIENTS {
            let client = Client {
                base: ProcessBase::new(format!("client({i})")),
                server: server.clone(),
                requests: 0,
                responses: 0,
                in_flight: VecDeque::with_capacity(CONCURRENCY),
                latencies: Vec::with_capacity(REQUESTS),
                done: done_tx.clone(),
            };
            clients.push(runtime.spawn(client).expect("spawn client"));
        }
        // Warm the connections up.
        for client in &clients {
            client.call(|_, _| ()).await.expect("client running");
        }
        let start = Instant::now();
        for client in &clients {
            client.dispatch(|this, _| {
                while this.requests < CONCURRENCY.min(REQUESTS) {
                    this.ping();
                }
            });
        }
        let mut latencies = Vec::with_capacity(CLIENTS * REQUESTS);
        for _ in 0..CLIENTS {
            latencies.extend(done_rx.recv().await.expect("client done"));
        }
        let elapsed = start.elapsed().as_secs_f64();
        latencies.sort();
        let total = CLIENTS * REQUESTS;
        println!(
            "clients: {CLIENTS}, requests each: {REQUESTS}, in flight each: {CONCURRENCY}, elapsed: {elapsed:.3}s"
        );
        println!("Estimated Total: {:.0} rpcs/s (round trips; 2 messages each)", total as f64 / elapsed);
        println!("messages: {:.0} messages/s", 2.0 * total as f64 / elapsed);
        println!(
            "round trip: p50 {:.2}ms, p99 {:.2}ms, max {:.2}ms",
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
        );
        System::current().stop();
    });
    drop(child.stdin.take());
    let _ = child.wait();
}
