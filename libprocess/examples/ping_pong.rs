//! Two OS processes exchanging libprocess messages: the master's
//! `slave-observer` health check in miniature. The `pong` side answers each
//! `mesos.internal.PingSlaveMessage` with a `mesos.internal.PongSlaveMessage`
//! to the ping's sender, as an agent does; the `ping` side links to it and
//! counts round trips.
//!
//! `cargo run -p libprocess --example ping_pong` starts the pong side as a
//! child process and pings it. Or run the halves yourself:
//!
//! ```text
//! LIBPROCESS_IP=127.0.0.1 LIBPROCESS_PORT=5051 cargo run -p libprocess --example ping_pong -- pong
//! LIBPROCESS_IP=127.0.0.1 cargo run -p libprocess --example ping_pong -- ping pong@127.0.0.1:5051 5
//! curl http://127.0.0.1:5051/metrics/snapshot
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use libprocess::actix::{Actor, Context, System};
use libprocess::{Config, Process, ProcessBase, UPID};
use mesos_proto::mesos::internal::{PingSlaveMessage, PongSlaveMessage};
use tokio::sync::mpsc;

struct Pong {
    base: ProcessBase<Self>,
    pongs: libprocess::metrics::Counter,
}

impl Actor for Pong {
    type Context = Context<Self>;
}

impl Process for Pong {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        self.base
            .install::<PingSlaveMessage>(|this, _ctx, from, _ping| {
                this.pongs.inc();
                this.base.send(&from, &PongSlaveMessage {});
            });
    }
}
libprocess::process_handlers!(Pong);

struct Ping {
    base: ProcessBase<Self>,
    tx: mpsc::UnboundedSender<Result<UPID, UPID>>,
}

impl Actor for Ping {
    type Context = Context<Self>;
}

impl Process for Ping {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        self.base
            .install::<PongSlaveMessage>(|this, _ctx, from, _pong| {
                let _ = this.tx.send(Ok(from));
            });
    }
    fn exited(&mut self, pid: &UPID, _ctx: &mut Context<Self>) {
        let _ = self.tx.send(Err(pid.clone()));
    }
}
libprocess::process_handlers!(Ping);

fn pong() -> anyhow::Result<()> {
    let runtime = libprocess::initialize(Config::from_env()?)?;
    System::new().block_on(async move {
        let pongs = runtime.metrics().counter("pong/pongs_sent");
        let pong = runtime.spawn(Pong {
            base: ProcessBase::new("pong"),
            pongs,
        })?;
        println!("{}", pong.upid());
        // Serve until stdin closes (the parent exits) or forever by hand.
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin()
                .read_line(&mut line)
                .map(|n| n > 0)
                .unwrap_or(false)
            {}
        })
        .await;
        Ok(())
    })
}

fn ping(target: UPID, count: usize) -> anyhow::Result<()> {
    let runtime = libprocess::initialize(Config::from_env()?)?;
    System::new().block_on(async move {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let ping = runtime.spawn(Ping {
            base: ProcessBase::new("ping"),
            tx,
        })?;
        println!("ping process {} linking to {target}", ping.upid());
        let linked = target.clone();
        ping.dispatch(move |this, _| this.base.link(&linked));
        for i in 1..=count {
            let start = Instant::now();
            let to = target.clone();
            ping.dispatch(move |this, _| {
                this.base.send(&to, &PingSlaveMessage { connected: true })
            });
            match rx.recv().await {
                Some(Ok(from)) => {
                    println!(
                        "ping {i}: PongSlaveMessage from {from} in {:?}",
                        start.elapsed()
                    );
                }
                Some(Err(pid)) => anyhow::bail!("{pid} exited"),
                None => anyhow::bail!("ping process stopped"),
            }
        }
        println!("{count} round trips between two OS processes");
        Ok(())
    })
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("pong") => pong(),
        Some("ping") => {
            let target: UPID = args
                .get(1)
                .map(String::as_str)
                .unwrap_or_default()
                .parse()?;
            let count = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(5);
            ping(target, count)
        }
        _ => {
            let mut child = Command::new(std::env::current_exe()?)
                .arg("pong")
                .env("LIBPROCESS_IP", "127.0.0.1")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()?;
            let mut line = String::new();
            BufReader::new(
                child
                    .stdout
                    .take()
                    .ok_or_else(|| anyhow::anyhow!("no stdout"))?,
            )
            .read_line(&mut line)?;
            let target: UPID = line.trim().parse()?;
            println!("started pong process {target} (OS pid {})", child.id());
            // SAFETY: single-threaded at this point; nothing reads the
            // environment concurrently.
            unsafe { std::env::set_var("LIBPROCESS_IP", "127.0.0.1") };
            let result = ping(target, 5);
            drop(child.stdin.take());
            let _ = child.wait();
            result
        }
    }
}
