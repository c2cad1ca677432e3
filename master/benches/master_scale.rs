//! Master scale: upstream's `MasterStateQuery`, `MasterActorResponsiveness`
//! and `MasterFailover` benchmarks (`src/tests/master_benchmarks.cpp`),
//! and the master's memory per agent and per task.
//!
//! The emulated agents live in a second OS process (this binary run as
//! `agents`), so every message crosses a real TCP connection and the
//! master's RSS is its own. Each agent re-registers as upstream's
//! `TestSlaveProcess` does: `cpus:20;mem:10240`, `F` frameworks with `T`
//! running tasks each (`cpus:0.1;mem:5`, ten labels), and `CF` completed
//! frameworks with `CT` finished tasks each, which the master (like
//! upstream's) does not keep because it does not know those frameworks.
//!
//! Run (release): `cargo bench -p mesos-master --bench master_scale -- MODE [AGENTS]`
//! - `state [40000]`: time of `GET /master/state` (and `GET_STATE` in
//!   JSON and protobuf) with 5 frameworks x 2 running tasks per agent
//!   (10 active) and 5 completed frameworks x 2 tasks (10 completed),
//!   once the master has written ahead (`STATE_COLD=1`: at once;
//!   `STATE_SETTLE=S`: S seconds after that);
//! - `getstate [40000]`: `GET_STATE` in JSON (`STATE_ROUNDS` times, 3 by
//!   default) and in protobuf at the same shape: time per request and the
//!   process's (the master's) peak RSS while answering;
//! - `health [40000]`: `/master/health` latency, idle and while 5
//!   clients fetch `/master/state` in a loop;
//! - `failover [20000]`: agents (1 framework x 5 tasks) registered with
//!   a master using the file registry; the master is replaced by a new
//!   one recovering that registry; time until every agent has
//!   re-registered with it;
//! - `memory [20000] [10]`: master RSS growth per agent (no tasks) and
//!   per running task (as many more agents with 10 running tasks each).

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libprocess::actix::{Actor, Context, System};
use libprocess::{Config, Process, ProcessBase, Runtime, PID, UPID};
use mesos_master::master::Master;
use mesos_master::registrar::{FileStore, InMemoryStore, Registrar, Store};
use mesos_proto::mesos::internal::{archive, PongSlaveMessage, ReregisterSlaveMessage};
use mesos_proto::mesos::{
    FrameworkId, FrameworkInfo, Label, Labels, SlaveId, SlaveInfo, Task, TaskId, TaskState,
};
use mesos_proto::resources::Resources;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------
// The agents' side (child process)
// ---------------------------------------------------------------------------

struct Agent {
    base: ProcessBase<Self>,
    master: UPID,
    message: ReregisterSlaveMessage,
    reregistered: Arc<AtomicUsize>,
    done: tokio::sync::mpsc::UnboundedSender<()>,
    target: usize,
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
    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        self.base
            .install_raw("mesos.internal.PingSlaveMessage", |this, _ctx, event| {
                this.base.send(&event.from, &PongSlaveMessage {});
            });
        self.base.install_raw(
            "mesos.internal.SlaveReregisteredMessage",
            |this, _ctx, _event| {
                if this.reregistered.fetch_add(1, Ordering::SeqCst) + 1 == this.target {
                    let _ = this.done.send(());
                }
            },
        );
    }
}
libprocess::process_handlers!(Agent);

impl Agent {
    fn reregister(&mut self) {
        let master = self.master.clone();
        self.base.send(&master, &self.message);
    }
}

fn labels() -> Labels {
    Labels {
        labels: (0..10)
            .map(|i| Label {
                key: format!("key{i}"),
                value: Some(format!("value{i}")),
            })
            .collect(),
    }
}

fn task(slave_id: &str, framework_id: &str, index: usize, state: TaskState) -> Task {
    Task {
        name: "dummy".into(),
        task_id: TaskId {
            value: format!("{slave_id}-{framework_id}-{index}"),
        },
        framework_id: FrameworkId {
            value: framework_id.into(),
        },
        slave_id: SlaveId {
            value: slave_id.into(),
        },
        state: state as i32,
        resources: Resources::parse("cpus:0.1;mem:5", "*")
            .expect("resources")
            .to_vec(),
        labels: Some(labels()),
        ..Default::default()
    }
}

fn framework(id: &str) -> FrameworkInfo {
    FrameworkInfo {
        user: "bench".into(),
        name: "bench".into(),
        id: Some(FrameworkId { value: id.into() }),
        ..Default::default()
    }
}

/// Upstream's `TestSlaveProcess` message.
fn message(slave_id: &str, shape: [usize; 4]) -> ReregisterSlaveMessage {
    let [frameworks, tasks, completed_frameworks, completed_tasks] = shape;
    let mut message = ReregisterSlaveMessage {
        slave: SlaveInfo {
            hostname: slave_id.into(),
            id: Some(SlaveId {
                value: slave_id.into(),
            }),
            resources: Resources::parse("cpus:20;mem:10240", "*")
                .expect("resources")
                .to_vec(),
            ..Default::default()
        },
        version: Some("1.11.0".into()),
        ..Default::default()
    };
    for f in 0..frameworks {
        let id = format!("framework{f}");
        message.frameworks.push(framework(&id));
        for t in 0..tasks {
            message
                .tasks
                .push(task(slave_id, &id, t, TaskState::TaskRunning));
        }
    }
    for f in frameworks..frameworks + completed_frameworks {
        let id = format!("framework{f}");
        message.completed_frameworks.push(archive::Framework {
            framework_info: framework(&id),
            tasks: (0..completed_tasks)
                .map(|t| task(slave_id, &id, t, TaskState::TaskFinished))
                .collect(),
            ..Default::default()
        });
    }
    message
}

/// `agents MASTER COUNT OFFSET F T CF CT`: runs the agents; each stdin
/// line `reregister` makes them all re-register, and `done <ms>` is
/// printed once every one got `SlaveReregisteredMessage`.
fn agents_main(args: &[String]) {
    let number = |i: usize| -> usize { args[i].parse().expect("number") };
    let master: UPID = args[0].parse().expect("master UPID");
    let count = number(1);
    let offset = number(2);
    let shape = [number(3), number(4), number(5), number(6)];
    let (commands_tx, mut commands) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if commands_tx.send(line).is_err() {
                break;
            }
        }
    });
    System::new().block_on(async move {
        let runtime = Runtime::new(Config {
            ip: Ipv4Addr::LOCALHOST,
            ..Config::default()
        })
        .expect("runtime");
        let reregistered = Arc::new(AtomicUsize::new(0));
        let (done_tx, mut done) = tokio::sync::mpsc::unbounded_channel();
        let mut agents: Vec<PID<Agent>> = Vec::with_capacity(count);
        for i in offset..offset + count {
            let id = format!("agent{i}");
            agents.push(
                runtime
                    .spawn(Agent {
                        base: ProcessBase::new(format!("slave-{i}")),
                        master: master.clone(),
                        message: message(&id, shape),
                        reregistered: reregistered.clone(),
                        done: done_tx.clone(),
                        target: count,
                    })
                    .expect("agent"),
            );
        }
        println!("ready");
        while let Some(command) = commands.recv().await {
            if command != "reregister" {
                continue;
            }
            reregistered.store(0, Ordering::SeqCst);
            let start = Instant::now();
            for agent in &agents {
                agent.dispatch(|this, _| this.reregister());
            }
            let _ = done.recv().await;
            println!("done {}", start.elapsed().as_millis());
        }
        System::current().stop();
    });
}

// ---------------------------------------------------------------------------
// The master's side
// ---------------------------------------------------------------------------

struct Agents {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Agents {
    fn start(master: &UPID, count: usize, offset: usize, shape: [usize; 4]) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .arg("agents")
            .arg(master.to_string())
            .args([count, offset, shape[0], shape[1], shape[2], shape[3]].map(|n| n.to_string()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("agents process");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let agents = Self { child, lines };
        agents.expect("ready");
        agents
    }

    fn expect(&self, prefix: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(600))
                .expect("agents process answered");
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Makes every agent re-register; returns how long until all were
    /// acknowledged.
    async fn reregister(&mut self) -> Duration {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "reregister").expect("command");
        stdin.flush().expect("flush");
        // Wait off the actix thread so that the master keeps running.
        let lines = &self.lines;
        let line = loop {
            match lines.try_recv() {
                Ok(line) if line.starts_with("done") => break line,
                Ok(_) => {}
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    tokio::time::sleep(Duration::from_millis(5)).await
                }
                Err(error) => panic!("agents process: {error}"),
            }
        };
        let ms: u64 = line[5..].trim().parse().expect("elapsed");
        Duration::from_millis(ms)
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_master(runtime: &Runtime, store: Box<dyn Store>, extra: &[&str]) -> PID<Master> {
    let args = ["mesos-master", "--hostname=localhost"]
        .iter()
        .chain(extra)
        .map(|s| s.to_string());
    let flags = Arc::new(mesos_master::flags::Flags::parse_from_args(args).expect("flags"));
    mesos_master::master::spawn(runtime, flags, Arc::new(Registrar::new(store))).expect("master")
}

async fn recovered(master: &PID<Master>) {
    while !master.call(|m, _| m.recovered()).await.expect("master") {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One HTTP exchange; returns the status and the body length.
/// The clients' own runtime: the master's actor runs on this process's
/// main thread (actix's), and a client is another program, so the
/// clients must not take turns with the master on that thread.
fn clients() -> &'static tokio::runtime::Runtime {
    static CLIENTS: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    CLIENTS.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("client")
            .enable_all()
            .build()
            .expect("the clients' runtime")
    })
}

/// `request` on the clients' runtime.
async fn request(addr: SocketAddrV4, head: &str, body: &str) -> (u16, usize) {
    request_with(addr, head, "", body).await
}

/// `request` with more header lines (each ending in CRLF).
async fn request_with(addr: SocketAddrV4, head: &str, headers: &str, body: &str) -> (u16, usize) {
    let (head, headers, body) = (head.to_string(), headers.to_string(), body.to_string());
    clients()
        .spawn(async move { client_request(addr, &head, &headers, &body).await })
        .await
        .expect("client")
}

async fn client_request(addr: SocketAddrV4, head: &str, headers: &str, body: &str) -> (u16, usize) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{head} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n{headers}{}\r\n{body}",
        body.len(),
        if body.is_empty() {
            String::new()
        } else {
            "Content-Type: application/json\r\n".to_string()
        }
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    // Read as `curl -o /dev/null` would: into one buffer, counting bytes
    // (collecting a document of hundreds of MB would time this client's
    // page faults rather than the master).
    let mut buffer = vec![0u8; 1 << 20];
    let mut head = Vec::new();
    let mut total = 0;
    loop {
        let n = stream.read(&mut buffer).await.expect("read");
        if n == 0 {
            break;
        }
        if head.len() < 12 {
            head.extend_from_slice(&buffer[..n.min(12 - head.len())]);
        }
        total += n;
    }
    let status = head
        .get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, total)
}

fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// A `/proc/self/status` size field (`VmRSS:`, `VmHWM:`) in MB.
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Starts an in-memory master and `count` re-registered agents.
async fn populated(runtime: &Runtime, count: usize, shape: [usize; 4]) -> (PID<Master>, Agents) {
    let master = start_master(
        runtime,
        Box::<InMemoryStore>::default(),
        &["--registry=in_memory"],
    );
    recovered(&master).await;
    let mut agents = Agents::start(master.upid(), count, 0, shape);
    let took = agents.reregister().await;
    let tasks = master
        .call(|m, _| {
            m.frameworks
                .registered
                .values()
                .map(|f| f.tasks().len())
                .sum::<usize>()
        })
        .await
        .expect("master");
    println!(
        "setup: {count} agents re-registered in {took:?}; the master holds {tasks} running tasks \
         ({} completed tasks reported by the agents, of frameworks it does not know); RSS {:.0} MB",
        count * shape[2] * shape[3],
        rss_mb()
    );
    (master, agents)
}

async fn bench_state(runtime: &Runtime, count: usize) {
    let (master, _agents) = populated(runtime, count, [5, 2, 5, 2]).await;
    let addr = runtime.address();
    if std::env::var_os("STATE_COLD").is_none() {
        // The master writes ahead the JSON of what changed while it is
        // idle; wait for it (`STATE_COLD=1`: the first request writes it).
        let start = Instant::now();
        while !master.call(|m, _| written_ahead(m)).await.expect("master") {
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "not written ahead after 300 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(secs) = std::env::var("STATE_SETTLE")
            .ok()
            .and_then(|s| s.parse().ok())
        {
            tokio::time::sleep(Duration::from_secs(secs)).await;
        }
        println!(
            "written ahead {:?} after the setup; RSS {:.0} MB",
            start.elapsed(),
            rss_mb()
        );
    }
    let rounds: usize = std::env::var("STATE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    for round in 0..rounds {
        let start = Instant::now();
        // A query of its own, so that the master writes the document
        // rather than answering with the one it wrote for the request
        // before (upstream's batching of read-only requests).
        let path = format!("GET /master/state?round={round}");
        let (status, bytes) = request(addr, &path, "").await;
        assert_eq!(status, 200);
        println!(
            "GET /master/state: {:?} ({:.1} MB)",
            start.elapsed(),
            bytes as f64 / 1e6
        );
    }
    println!("RSS after the documents: {:.0} MB", rss_mb());
    for accept in ["application/x-protobuf", "application/json"] {
        let start = Instant::now();
        let bytes = get_state(addr, accept).await;
        println!(
            "GET_STATE ({accept}): {:?} ({:.1} MB)",
            start.elapsed(),
            bytes as f64 / 1e6
        );
    }
}

/// Whether the master holds the state JSON of every active task, task
/// list and agent.
fn written_ahead(master: &Master) -> bool {
    master.is_written_ahead()
        && master
            .frameworks
            .registered
            .values()
            .all(|f| f.tasks_json_written() && f.tasks().values().all(|t| t.is_written()))
        && master.slaves.registered.values().all(|s| s.is_written())
}

/// `POST /api/v1` `GET_STATE` answered in `accept`; returns the response's
/// size.
async fn get_state(addr: SocketAddrV4, accept: &str) -> usize {
    let accept = format!("Accept: {accept}\r\n");
    let body = r#"{"type":"GET_STATE"}"#;
    let (status, bytes) = request_with(addr, "POST /api/v1", &accept, body).await;
    assert_eq!(status, 200);
    bytes
}

/// Resets the process's peak RSS (`VmHWM`) to its current RSS.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak RSS (`VmHWM`) in MB.
fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// `GET_STATE` in JSON (and once in protobuf) at `count` agents of
/// `state`'s shape: time per request, and the master's peak RSS while
/// answering (the master runs in this process).
async fn bench_get_state(runtime: &Runtime, count: usize) {
    let (_master, _agents) = populated(runtime, count, [5, 2, 5, 2]).await;
    let addr = runtime.address();
    let rounds: usize = std::env::var("STATE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    for accept in ["application/json", "application/x-protobuf"] {
        let rounds = if accept == "application/json" {
            rounds
        } else {
            1
        };
        for _ in 0..rounds {
            let before = rss_mb();
            reset_peak_rss();
            let start = Instant::now();
            let bytes = get_state(addr, accept).await;
            println!(
                "GET_STATE ({accept}): {:?} ({:.1} MB); RSS {before:.0} MB before, \
                 peak {:.0} MB while answering",
                start.elapsed(),
                bytes as f64 / 1e6,
                peak_rss_mb()
            );
        }
    }
}

/// Probes `/master/health` from a thread of its own (a health checker is
/// a program of its own, not one more task among the readers').
async fn probe_health(addr: SocketAddrV4, probes: usize) -> Vec<Duration> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the probe's runtime");
        let times = runtime.block_on(async move {
            let mut times = Vec::with_capacity(probes);
            for _ in 0..probes {
                let start = Instant::now();
                let (status, _) = client_request(addr, "GET /master/health", "", "").await;
                assert_eq!(status, 200);
                times.push(start.elapsed());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            times.sort();
            times
        });
        let _ = tx.send(times);
    });
    rx.await.expect("probe")
}

async fn bench_health(runtime: &Runtime, count: usize) {
    let (_master, _agents) = populated(runtime, count, [5, 2, 5, 2]).await;
    let addr = runtime.address();
    let idle = probe_health(addr, 50).await;
    println!(
        "/master/health idle: p50 {:?}, p99 {:?}",
        percentile(&idle, 0.5),
        percentile(&idle, 0.99)
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fetched = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..5 {
        let (stop, fetched) = (stop.clone(), fetched.clone());
        clients.push(self::clients().spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let (status, _) = client_request(addr, "GET /master/state", "", "").await;
                assert_eq!(status, 200);
                fetched.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = Instant::now();
    let loaded = probe_health(addr, 50).await;
    let elapsed = start.elapsed();
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        let _ = client.await;
    }
    println!(
        "/master/health with 5 clients fetching /master/state: p50 {:?}, p99 {:?} \
         ({} state responses during {elapsed:?})",
        percentile(&loaded, 0.5),
        percentile(&loaded, 0.99),
        fetched.load(Ordering::SeqCst)
    );
}

async fn bench_failover(runtime: &Runtime, count: usize) {
    let dir = std::env::temp_dir().join(format!("master-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("work dir");
    let work_dir = format!("--work_dir={}", dir.display());
    let flags = ["--registry=replicated_log", work_dir.as_str()];
    let master = start_master(runtime, Box::new(FileStore::new(&dir)), &flags);
    recovered(&master).await;
    let mut agents = Agents::start(master.upid(), count, 0, [1, 5, 0, 0]);
    let first = agents.reregister().await;
    println!("{count} agents (1 framework x 5 tasks each) registered in {first:?}");

    // The master fails over: a new one recovers the registry.
    let done = runtime.wait("master");
    master.terminate();
    done.await;
    let start = Instant::now();
    let master = start_master(runtime, Box::new(FileStore::new(&dir)), &flags);
    recovered(&master).await;
    let recovery = start.elapsed();
    let took = agents.reregister().await;
    let registered = master
        .call(|m, _| m.slaves.registered.len())
        .await
        .expect("master");
    println!(
        "failover: registry of {count} agents recovered in {recovery:?}; all {registered} \
         re-registered in {took:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

async fn bench_memory(runtime: &Runtime, count: usize, tasks_per_agent: usize) {
    let master = start_master(
        runtime,
        Box::<InMemoryStore>::default(),
        &["--registry=in_memory"],
    );
    recovered(&master).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let base = rss_mb();
    let mut bare = Agents::start(master.upid(), count, 0, [0, 0, 0, 0]);
    bare.reregister().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with_agents = rss_mb();
    // Frameworks of two tasks each.
    let frameworks = tasks_per_agent.div_ceil(2);
    let tasks_per_agent = frameworks * 2;
    let mut busy = Agents::start(master.upid(), count, count, [frameworks, 2, 0, 0]);
    busy.reregister().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with_tasks = rss_mb();
    let per_agent = (with_agents - base) * 1024.0 / count as f64;
    let per_task = ((with_tasks - with_agents) * 1024.0 - per_agent * count as f64)
        / (count * tasks_per_agent) as f64;
    println!(
        "master RSS: {base:.0} MB idle, {with_agents:.0} MB with {count} agents, \
         {with_tasks:.0} MB with {count} more agents running {tasks_per_agent} tasks each \
         (ten labels per task): {per_agent:.1} KB per agent, {per_task:.2} KB per task"
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("agents") {
        agents_main(&args[1..]);
        return;
    }
    let mode = args.first().cloned().unwrap_or_else(|| "state".into());
    let count: Option<usize> = args.get(1).and_then(|a| a.parse().ok());
    System::new().block_on(async move {
        let runtime = Runtime::new(Config {
            ip: Ipv4Addr::LOCALHOST,
            ..Config::default()
        })
        .expect("runtime");
        match mode.as_str() {
            "state" => bench_state(&runtime, count.unwrap_or(40_000)).await,
            "getstate" => bench_get_state(&runtime, count.unwrap_or(40_000)).await,
            "health" => bench_health(&runtime, count.unwrap_or(40_000)).await,
            "failover" => bench_failover(&runtime, count.unwrap_or(20_000)).await,
            "memory" => {
                let tasks = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
                bench_memory(&runtime, count.unwrap_or(20_000), tasks).await
            }
            other => {
                eprintln!("unknown mode '{other}': state, getstate, health, failover or memory")
            }
        }
        System::current().stop();
    });
}
