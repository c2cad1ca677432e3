//! In-process message throughput: upstream libprocess's Akka-style
//! ping-pong (`Process_BENCHMARK_ThroughputPerformance` in
//! `3rdparty/libprocess/src/tests/benchmarks.cpp`).
//!
//! One client/destination pair per worker thread; each client keeps 1000
//! pings in flight and sends the next on every pong until its share of
//! `REPEAT` round trips is done. Messages go through the full libprocess
//! send path (name lookup, mailbox, handler table), skipping only the
//! network, as upstream's local sends do.
//!
//! Run: `cargo bench -p libprocess --bench throughput [-- <round trips>]`

use std::net::Ipv4Addr;
use std::time::Instant;

use libprocess::actix::{Actor, Arbiter, Context, System};
use libprocess::{Config, Process, ProcessBase, Runtime, UPID};
use tokio::sync::mpsc;

struct Destination {
    base: ProcessBase<Self>,
}

impl Actor for Destination {
    type Context = Context<Self>;
}

impl Process for Destination {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        self.base.install_raw("ping", |this, _ctx, event| {
            let _ = this.base.send_raw(&event.from, "pong", bytes::Bytes::new());
        });
    }
}
libprocess::process_handlers!(Destination);

struct Client {
    base: ProcessBase<Self>,
    destination: UPID,
    repeat: u64,
    sent: u64,
    received: u64,
    done: mpsc::UnboundedSender<()>,
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
            this.received += 1;
            if this.sent < this.repeat {
                let _ = this
                    .base
                    .send_raw(&this.destination, "ping", bytes::Bytes::new());
                this.sent += 1;
            } else if this.received >= this.repeat {
                let _ = this.done.send(());
            }
        });
        self.base.install_raw("run", |this, _ctx, _event| {
            for _ in 0..this.repeat.min(1000) {
                let _ = this
                    .base
                    .send_raw(&this.destination, "ping", bytes::Bytes::new());
                this.sent += 1;
            }
        });
    }
}
libprocess::process_handlers!(Client);

fn main() {
    let repeat: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(30_000 * 500);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());

    let system = System::new();
    system.block_on(async move {
        let runtime = Runtime::new(Config {
            ip: Ipv4Addr::LOCALHOST,
            ..Config::default()
        })
        .expect("runtime");
        let arbiters: Vec<Arbiter> = (0..workers).map(|_| Arbiter::new()).collect();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let per_client = repeat / workers as u64;
        let mut clients = Vec::new();
        for (i, arbiter) in arbiters.iter().enumerate() {
            let id = format!("destination({i})");
            let destination = runtime
                .spawn_in(&arbiter.handle(), &id, {
                    let id = id.clone();
                    move || Destination {
                        base: ProcessBase::new(id),
                    }
                })
                .expect("spawn destination");
            let id = format!("client({i})");
            let done = done_tx.clone();
            let to = destination.upid().clone();
            let client = runtime
                .spawn_in(&arbiter.handle(), &id, {
                    let id = id.clone();
                    move || Client {
                        base: ProcessBase::new(id),
                        destination: to,
                        repeat: per_client,
                        sent: 0,
                        received: 0,
                        done,
                    }
                })
                .expect("spawn client");
            clients.push(client);
        }
        // Let every actor start before the clock starts.
        for client in &clients {
            client.call(|_, _| ()).await.expect("client running");
        }
        let start = Instant::now();
        for client in &clients {
            client.dispatch(|this, _| {
                for _ in 0..this.repeat.min(1000) {
                    let _ = this
                        .base
                        .send_raw(&this.destination, "ping", bytes::Bytes::new());
                    this.sent += 1;
                }
            });
        }
        for _ in 0..workers {
            done_rx.recv().await.expect("client done");
        }
        let elapsed = start.elapsed().as_secs_f64();
        let total = per_client * workers as u64;
        println!("clients: {workers}, round trips: {total}, elapsed: {elapsed:.3}s");
        println!(
            "Estimated Total: {:.0} round trips/s (upstream's figure)",
            total as f64 / elapsed
        );
        println!(
            "messages (ping + pong): {:.0} messages/s",
            2.0 * total as f64 / elapsed
        );
        System::current().stop();
    });
}
