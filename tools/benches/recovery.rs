//! Agent recovery with many running executors (issue #4): a master and an
//! agent (release binaries, posix launcher, loopback) run N long-running
//! command tasks (`sleep 1000`, one `mesos-executor` per task) of a
//! checkpointing framework; then, several times over, the agent is killed
//! with SIGKILL and started again on the same work_dir.
//!
//! Each round reports the time from starting the new agent process until
//!
//! - its HTTP endpoint answers (process start, libprocess up);
//! - the master has it active again: the agent re-registers only after
//!   every recovered executor re-registered (or
//!   `--executor_reregistration_timeout` passed, which the bench rules
//!   out: no task may be reported lost and the agent's
//!   `slave/executors_running` must reach N).
//!
//! After the rounds every task must still be RUNNING (master and agent
//! `/state`); then all are killed and must end TASK_KILLED.
//!
//! Run: `cargo build --release -p mesos-agent -p mesos-master -p mesos-executor && cargo bench -p mesos-tools --bench recovery [-- TASKS ROUNDS]`
//! (default 500 tasks, 5 rounds).

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use libprocess::actix::{Actor, Context, System};
use libprocess::{Config, MessageEvent, Process, ProcessBase, Runtime, UPID};
use mesos_proto::mesos::internal::{
    FrameworkRegisteredMessage, ResourceOffersMessage, StatusUpdateMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{
    offer, CommandInfo, Filters, FrameworkId, FrameworkInfo, Offer, TaskId, TaskInfo, TaskState,
};
use mesos_proto::resources::Resources;
use mesos_tools::cli::http;
use serde_json::Value;
use tokio::sync::mpsc;

struct Scheduler {
    base: ProcessBase<Self>,
    tx: mpsc::UnboundedSender<MessageEvent>,
}

impl Actor for Scheduler {
    type Context = Context<Self>;
}

impl Process for Scheduler {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        for name in [
            "mesos.internal.FrameworkRegisteredMessage",
            "mesos.internal.ResourceOffersMessage",
            "mesos.internal.StatusUpdateMessage",
        ] {
            self.base.install_raw(name, |this, _ctx, event| {
                let _ = this.tx.send(event);
            });
        }
    }
}
libprocess::process_handlers!(Scheduler);

fn decode<M: prost::Message + Default>(event: &MessageEvent) -> M {
    M::decode(event.body.clone()).expect("decode")
}

/// A child process killed (SIGKILL) and reaped when dropped.
struct Daemon(Child);

impl Daemon {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

fn get_json(address: &str, path: &str) -> Option<Value> {
    let mut response = http::request(address, "GET", path, &[], b"").ok()?;
    if response.status != 200 {
        return None;
    }
    serde_json::from_slice(&response.body().ok()?).ok()
}

/// Runs a blocking HTTP poll off the actix thread, so the scheduler keeps
/// receiving (and acknowledging) updates meanwhile.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

/// The agent's `active` flag in the master's `/master/slaves`.
fn agent_active(master: &str) -> Option<bool> {
    let slaves = get_json(master, "/master/slaves")?;
    slaves["slaves"]
        .as_array()?
        .first()
        .and_then(|s| s["active"].as_bool())
}

fn metric(agent: &str, key: &str) -> Option<f64> {
    get_json(agent, "/metrics/snapshot")?[key].as_f64()
}

/// `(task id, state)` of every task in the agent's `/state`.
fn agent_tasks(agent: &str) -> Vec<(String, String)> {
    let state = get_json(agent, "/state").expect("agent /state");
    let mut tasks = Vec::new();
    for framework in state["frameworks"].as_array().into_iter().flatten() {
        for executor in framework["executors"].as_array().into_iter().flatten() {
            for task in executor["tasks"].as_array().into_iter().flatten() {
                tasks.push((
                    task["id"].as_str().unwrap_or_default().to_string(),
                    task["state"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    tasks
}

fn master_task_states(master: &str) -> Vec<String> {
    let tasks = get_json(master, "/master/tasks?limit=100000").expect("master /tasks");
    tasks["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t["state"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Whether our child `pid` runs (it is a zombie once it exited).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// The `mesos-executor` processes whose sandbox is under `work_dir`.
fn executor_pids(bin: &Path, work_dir: &Path) -> Vec<i32> {
    let target = bin.join("mesos-executor");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path().join("exe")).is_ok_and(|exe| exe == target)
                && std::fs::read_link(e.path().join("cwd"))
                    .is_ok_and(|cwd| cwd.starts_with(work_dir))
        })
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Kills the executors a failed run leaves behind (they would wait for
/// their agent for the whole recovery timeout).
struct Executors {
    bin: PathBuf,
    work_dir: PathBuf,
}

impl Drop for Executors {
    fn drop(&mut self) {
        for pid in executor_pids(&self.bin, &self.work_dir) {
            // SAFETY: kill(2) with a pid we just found; no memory is involved.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

struct Bench {
    scheduler: libprocess::PID<Scheduler>,
    master: UPID,
    framework: FrameworkId,
    rx: mpsc::UnboundedReceiver<MessageEvent>,
}

impl Bench {
    fn send(&self, call: Call) {
        let to = self.master.clone();
        self.scheduler
            .dispatch(move |this, _| this.base.send(&to, &call));
    }

    async fn offers(&mut self) -> Vec<Offer> {
        loop {
            let event = self.rx.recv().await.expect("scheduler");
            if event.name == "mesos.internal.ResourceOffersMessage" {
                return decode::<ResourceOffersMessage>(&event).offers;
            }
        }
    }

    fn launch(&self, offers: &[Offer], tasks: Vec<TaskInfo>) {
        self.send(Call {
            framework_id: Some(self.framework.clone()),
            r#type: Some(call::Type::Accept as i32),
            accept: Some(call::Accept {
                offer_ids: offers.iter().map(|o| o.id.clone()).collect(),
                operations: vec![offer::Operation {
                    r#type: Some(offer::operation::Type::Launch as i32),
                    launch: Some(offer::operation::Launch { task_infos: tasks }),
                    ..Default::default()
                }],
                filters: Some(Filters {
                    refuse_seconds: Some(3600.0),
                }),
            }),
            ..Default::default()
        });
    }

    /// Handles the next update: acknowledges it and returns its task and
    /// state. Offers are declined for an hour.
    async fn update(&mut self) -> (String, TaskState, Option<String>) {
        loop {
            let event = self.rx.recv().await.expect("scheduler");
            if event.name == "mesos.internal.ResourceOffersMessage" {
                let offers = decode::<ResourceOffersMessage>(&event).offers;
                self.launch(&offers, vec![]);
                continue;
            }
            if event.name != "mesos.internal.StatusUpdateMessage" {
                continue;
            }
            let update = decode::<StatusUpdateMessage>(&event).update;
            if let (Some(uuid), Some(slave_id)) = (update.uuid.clone(), update.slave_id.clone()) {
                self.send(Call {
                    framework_id: Some(self.framework.clone()),
                    r#type: Some(call::Type::Acknowledge as i32),
                    acknowledge: Some(call::Acknowledge {
                        slave_id,
                        task_id: update.status.task_id.clone(),
                        uuid,
                    }),
                    ..Default::default()
                });
            }
            return (
                update.status.task_id.value.clone(),
                update.status.state(),
                update.status.message.clone(),
            );
        }
    }

    /// Waits until every task in `tasks` reached `state`; any other
    /// terminal state fails the bench.
    async fn wait_all(&mut self, tasks: &[String], state: TaskState, timeout: Duration) {
        let mut waiting: HashSet<&str> = tasks.iter().map(String::as_str).collect();
        let deadline = tokio::time::Instant::now() + timeout;
        while !waiting.is_empty() {
            let Ok((task, got, message)) = tokio::time::timeout_at(deadline, self.update()).await
            else {
                panic!("{} tasks never reached {state:?}", waiting.len());
            };
            if got == state {
                waiting.remove(task.as_str());
            } else if got.is_terminal() {
                panic!("task {task} ended {got:?}: {message:?}");
            }
        }
    }

    /// Drains updates for `wait`; a task state change here means recovery
    /// lost a task. A TASK_RUNNING again is an update whose
    /// acknowledgement the killed agent never saw, sent again as it should.
    async fn no_changes(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok((task, state, message)) =
            tokio::time::timeout_at(deadline, self.update()).await
        {
            assert_eq!(
                state,
                TaskState::TaskRunning,
                "unexpected update for {task} ({message:?})"
            );
        }
    }
}

fn start_agent(bin: &Path, master: &str, port: u16, work_dir: &Path, log: &Path) -> Daemon {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("agent log");
    Daemon(
        Command::new(bin.join("mesos-agent"))
            .args([
                format!("--master={master}"),
                "--ip=127.0.0.1".into(),
                format!("--port={port}"),
                format!("--work_dir={}", work_dir.display()),
                "--resources=cpus:128;mem:65536;disk:65536".into(),
                // Upstream's default (1 sec) adds a random wait of up to
                // that much before each registration attempt.
                "--registration_backoff_factor=10ms".into(),
                "--logging_level=INFO".into(),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mesos-agent"),
    )
}

fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let count = numbers.first().copied().unwrap_or(500);
    let rounds = numbers.get(1).copied().unwrap_or(5);
    let exe = std::env::current_exe().expect("own path");
    let bin: PathBuf = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .to_path_buf();
    for needed in [
        "mesos-master",
        "mesos-agent",
        "mesos-executor",
        "mesos-containerizer",
    ] {
        assert!(
            bin.join(needed).exists(),
            "{needed} is not built: cargo build --release -p mesos-agent -p mesos-master -p mesos-executor"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let agent_log =
        std::env::temp_dir().join(format!("recovery-bench-agent-{}.log", std::process::id()));
    let master_port = free_port();
    let agent_port = free_port();
    let master = format!("127.0.0.1:{master_port}");
    let agent = format!("127.0.0.1:{agent_port}");
    let _master_daemon = Daemon(
        Command::new(bin.join("mesos-master"))
            .args([
                "--ip=127.0.0.1".into(),
                format!("--port={master_port}"),
                "--registry=in_memory".into(),
                "--allocation_interval=100ms".into(),
                "--logging_level=WARNING".into(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mesos-master"),
    );
    let work_dir = dir.path().join("agent");
    let _executors = Executors {
        bin: bin.clone(),
        work_dir: work_dir.clone(),
    };
    let mut agent_daemon = start_agent(&bin, &master, agent_port, &work_dir, &agent_log);
    println!(
        "{count} tasks, {rounds} rounds; agent log {}",
        agent_log.display()
    );

    let agent_daemon = System::new().block_on(async move {
        let runtime = Runtime::new(Config {
            ip: Ipv4Addr::LOCALHOST,
            ..Config::default()
        })
        .expect("runtime");
        let (tx, rx) = mpsc::unbounded_channel();
        let scheduler = runtime
            .spawn(Scheduler {
                base: ProcessBase::new("recovery-bench"),
                tx,
            })
            .expect("scheduler");
        let master_upid: UPID = format!("master@{master}").parse().expect("master upid");
        let m = master.clone();
        blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            while agent_active(&m) != Some(true) {
                assert!(Instant::now() < deadline, "the agent never registered");
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await;
        let subscribe = Call {
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                framework_info: FrameworkInfo {
                    user: "root".into(),
                    name: "recovery-bench".into(),
                    checkpoint: Some(true),
                    failover_timeout: Some(3600.0),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        };
        let to = master_upid.clone();
        scheduler.dispatch(move |this, _| this.base.send(&to, &subscribe));
        let mut rx = rx;
        let framework = loop {
            let event = rx.recv().await.expect("scheduler");
            if event.name == "mesos.internal.FrameworkRegisteredMessage" {
                break decode::<FrameworkRegisteredMessage>(&event).framework_id;
            }
        };
        let mut bench = Bench {
            scheduler,
            master: master_upid,
            framework,
            rx,
        };

        // Launch every task on the agent's one offer.
        let offers = bench.offers().await;
        let slave_id = offers[0].slave_id.clone();
        let tasks: Vec<TaskInfo> = (0..count)
            .map(|i| TaskInfo {
                name: format!("sleep-{i}"),
                task_id: TaskId {
                    value: format!("sleep-{i}"),
                },
                slave_id: slave_id.clone(),
                resources: Resources::parse("cpus:0.01;mem:8", "*")
                    .expect("resources")
                    .to_vec(),
                command: Some(CommandInfo {
                    value: Some("sleep 1000".into()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        let ids: Vec<String> = tasks.iter().map(|t| t.task_id.value.clone()).collect();
        let start = Instant::now();
        bench.launch(&offers, tasks);
        bench
            .wait_all(&ids, TaskState::TaskRunning, Duration::from_secs(300))
            .await;
        println!(
            "launched: {count} tasks RUNNING after {:.1} s",
            start.elapsed().as_secs_f64()
        );

        let mut to_http = Vec::new();
        let mut to_active = Vec::new();
        for round in 0..rounds {
            agent_daemon.kill();
            // The master sees the agent's connection close; wait for it, so
            // `active` below is the re-registration.
            let m = master.clone();
            blocking(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                while agent_active(&m) != Some(false) {
                    assert!(Instant::now() < deadline, "the master never saw the agent go");
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
            .await;
            let executors = executor_pids(&bin, &work_dir).len();
            assert_eq!(executors, count, "executors alive after the agent was killed");

            let start = Instant::now();
            agent_daemon = start_agent(&bin, &master, agent_port, &work_dir, &agent_log);
            let (m, a) = (master.clone(), agent.clone());
            let pid = agent_daemon.0.id();
            let log = agent_log.clone();
            let (http_up, active) = blocking(move || {
                let deadline = Instant::now() + Duration::from_secs(120);
                while !http::request(&a, "GET", "/health", &[], b"")
                    .is_ok_and(|r| r.status == 200)
                {
                    assert!(running(pid), "the agent exited: see {}", log.display());
                    assert!(Instant::now() < deadline, "the agent never answered");
                    std::thread::sleep(Duration::from_millis(2));
                }
                let http_up = start.elapsed();
                while agent_active(&m) != Some(true) {
                    assert!(Instant::now() < deadline, "the agent never re-registered");
                    std::thread::sleep(Duration::from_millis(5));
                }
                (http_up, start.elapsed())
            })
            .await;
            // The agent re-registers after every executor re-registered,
            // or after the re-registration timeout: rule the latter out.
            let a = agent.clone();
            let expected = count as f64;
            blocking(move || {
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    let running = metric(&a, "slave/executors_running");
                    let registering = metric(&a, "slave/executors_registering");
                    if running == Some(expected) && registering == Some(0.0) {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "executors running {running:?}, registering {registering:?}"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
            .await;
            bench.no_changes(Duration::from_millis(500)).await;
            println!(
                "round {}: agent answering HTTP after {:.0} ms, re-registered with all {count} executors after {:.0} ms",
                round + 1,
                http_up.as_secs_f64() * 1e3,
                active.as_secs_f64() * 1e3
            );
            to_http.push(http_up);
            to_active.push(active);
        }
        to_http.sort();
        to_active.sort();
        println!(
            "recovery of {count} executors over {rounds} rounds: re-registered p50 {:.0} ms (min {:.0}, max {:.0}); HTTP up p50 {:.0} ms",
            median(&to_active).as_secs_f64() * 1e3,
            to_active[0].as_secs_f64() * 1e3,
            to_active[to_active.len() - 1].as_secs_f64() * 1e3,
            median(&to_http).as_secs_f64() * 1e3,
        );

        // Every task is still RUNNING, on both sides.
        let (m, a) = (master.clone(), agent.clone());
        let (master_states, agent_states) =
            blocking(move || (master_task_states(&m), agent_tasks(&a))).await;
        assert_eq!(master_states.len(), count, "tasks in the master");
        assert!(master_states.iter().all(|s| s == "TASK_RUNNING"), "{master_states:?}");
        assert_eq!(agent_states.len(), count, "tasks in the agent");
        assert!(agent_states.iter().all(|(_, s)| s == "TASK_RUNNING"));
        println!("after recovery: {count} tasks RUNNING in the master and the agent");

        // Then they can all be killed.
        let start = Instant::now();
        for id in &ids {
            bench.send(Call {
                framework_id: Some(bench.framework.clone()),
                r#type: Some(call::Type::Kill as i32),
                kill: Some(call::Kill {
                    task_id: TaskId { value: id.clone() },
                    slave_id: Some(slave_id.clone()),
                    kill_policy: None,
                }),
                ..Default::default()
            });
        }
        bench
            .wait_all(&ids, TaskState::TaskKilled, Duration::from_secs(300))
            .await;
        println!(
            "killed: {count} tasks KILLED after {:.1} s",
            start.elapsed().as_secs_f64()
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while !executor_pids(&bin, &work_dir).is_empty() {
            assert!(Instant::now() < deadline, "executors left after the kill");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bench.send(Call {
            framework_id: Some(bench.framework.clone()),
            r#type: Some(call::Type::Teardown as i32),
            ..Default::default()
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        agent_daemon
    });
    drop(agent_daemon);
}
