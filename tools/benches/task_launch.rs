//! Task launch: no-op command tasks (`true`) from ACCEPT to TASK_FINISHED
//! through the master, the agent (Mesos containerizer: the
//! `mesos-containerizer launch` helper, posix launcher by default) and the
//! command executor (`mesos-executor`, one OS process per task, as
//! upstream). `MESOS_LAUNCHER` and `MESOS_ISOLATION` pick another launcher
//! and isolators (e.g. `linux` and `cgroups/cpu,cgroups/mem,namespaces/pid`,
//! as root).
//!
//! Reports the round-trip latency of tasks launched one at a time
//! (p50/p99), then the sustained rate of a batch launched together.
//!
//! Run: `cargo build --release -p mesos-executor -p mesos-agent && cargo bench -p mesos-tools --bench task_launch [-- SEQUENTIAL BATCH]`
//! (default 50 sequential, 400 in the batch).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libprocess::actix::{Actor, Context, System};
use libprocess::{Config, MessageEvent, Process, ProcessBase, Runtime, UPID};
use mesos_master::registrar::{InMemoryStore, Registrar};
use mesos_proto::mesos::internal::{
    FrameworkRegisteredMessage, ResourceOffersMessage, StatusUpdateMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{
    offer, CommandInfo, Filters, FrameworkId, FrameworkInfo, Offer, SlaveInfo, TaskId, TaskInfo,
    TaskState,
};
use mesos_proto::resources::Resources;
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Bench {
    scheduler: libprocess::PID<Scheduler>,
    master: UPID,
    framework: FrameworkId,
    rx: mpsc::UnboundedReceiver<MessageEvent>,
    next_task: usize,
    /// Offers that arrived while waiting for updates.
    pending: std::collections::VecDeque<Offer>,
}

impl Bench {
    fn send(&self, call: Call) {
        let to = self.master.clone();
        self.scheduler
            .dispatch(move |this, _| this.base.send(&to, &call));
    }

    async fn offer(&mut self) -> Offer {
        if let Some(offer) = self.pending.pop_front() {
            return offer;
        }
        loop {
            let event = self.rx.recv().await.expect("scheduler");
            if event.name == "mesos.internal.ResourceOffersMessage" {
                return decode::<ResourceOffersMessage>(&event).offers.remove(0);
            }
        }
    }

    /// Collects offers for `wait`, to launch a batch on all of them.
    async fn offers(&mut self, wait: Duration) -> Vec<Offer> {
        let mut offers = vec![self.offer().await];
        offers.extend(self.pending.drain(..));
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            if event.name == "mesos.internal.ResourceOffersMessage" {
                offers.extend(decode::<ResourceOffersMessage>(&event).offers);
            }
        }
        offers
    }

    fn launch(&mut self, offer: &Offer, count: usize) -> Vec<String> {
        self.launch_on(std::slice::from_ref(offer), count)
    }

    fn launch_on(&mut self, offers: &[Offer], count: usize) -> Vec<String> {
        let offer = &offers[0];
        let tasks: Vec<TaskInfo> = (0..count)
            .map(|_| {
                self.next_task += 1;
                TaskInfo {
                    name: "noop".into(),
                    task_id: TaskId {
                        value: format!("noop-{}", self.next_task),
                    },
                    slave_id: offer.slave_id.clone(),
                    resources: Resources::parse("cpus:0.1;mem:16", "*")
                        .expect("resources")
                        .to_vec(),
                    command: Some(CommandInfo {
                        value: Some("true".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            })
            .collect();
        let ids = tasks.iter().map(|t| t.task_id.value.clone()).collect();
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
                    refuse_seconds: Some(0.0),
                }),
            }),
            ..Default::default()
        });
        ids
    }

    /// Waits for TASK_FINISHED of `tasks`, acknowledging every update;
    /// returns when each finished.
    async fn finished(&mut self, tasks: &[String]) -> HashMap<String, Instant> {
        let mut done = HashMap::new();
        while done.len() < tasks.len() {
            let event = self.rx.recv().await.expect("scheduler");
            if event.name == "mesos.internal.ResourceOffersMessage" {
                self.pending
                    .extend(decode::<ResourceOffersMessage>(&event).offers);
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
            let state = update.status.state();
            if state.is_terminal() {
                assert_eq!(
                    state,
                    TaskState::TaskFinished,
                    "{:?}",
                    update.status.message
                );
                done.insert(update.status.task_id.value.clone(), Instant::now());
            }
        }
        done
    }
}

fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sequential = numbers.first().copied().unwrap_or(50);
    let batch = numbers.get(1).copied().unwrap_or(400);
    let exe = std::env::current_exe().expect("own path");
    let bin_dir: PathBuf = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .to_path_buf();
    for helper in ["mesos-executor", "mesos-containerizer"] {
        assert!(
            bin_dir.join(helper).exists(),
            "build it first: cargo build --release -p mesos-executor -p mesos-agent"
        );
    }
    let defaults = mesos_agent::containerizer::ContainerizerOptions::default();
    let containerizer = mesos_agent::containerizer::ContainerizerOptions {
        launcher: std::env::var("MESOS_LAUNCHER").unwrap_or(defaults.launcher.clone()),
        isolation: std::env::var("MESOS_ISOLATION").unwrap_or(defaults.isolation.clone()),
        // The runtime directory is meant for a tmpfs (upstream's
        // `/var/run/mesos`; `/run` is one on a usual Linux host, though not
        // on every VM): `MESOS_RUNTIME_DIR` puts it elsewhere.
        runtime_dir: std::env::var("MESOS_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| defaults.runtime_dir.clone()),
        ..defaults
    };
    println!(
        "launcher {}, isolation {}",
        containerizer.launcher, containerizer.isolation
    );
    let work_dir = std::env::temp_dir().join(format!("task-launch-bench-{}", std::process::id()));

    let agent_work_dir = work_dir.clone();
    System::new().block_on(async move {
        let master_runtime = Runtime::new(Config { ip: Ipv4Addr::LOCALHOST, ..Config::default() }).expect("runtime");
        let flags = Arc::new(
            mesos_master::flags::Flags::parse_from_args(
                ["mesos-master", "--registry=in_memory", "--allocation_interval=50ms"].iter().map(|s| s.to_string()),
            )
            .expect("flags"),
        );
        let master = mesos_master::master::spawn(
            &master_runtime,
            flags,
            Arc::new(Registrar::new(Box::<InMemoryStore>::default())),
        )
        .expect("master");
        let agent_runtime = Runtime::new(Config { ip: Ipv4Addr::LOCALHOST, ..Config::default() }).expect("runtime");
        let config = mesos_agent::slave::Config {
            master: master.upid().clone(),
            info: SlaveInfo {
                hostname: "localhost".into(),
                port: Some(i32::from(agent_runtime.address().port())),
                resources: Resources::parse("cpus:64;mem:65536;disk:65536", "*").expect("resources").to_vec(),
                ..Default::default()
            },
            work_dir: agent_work_dir,
            launcher_dir: bin_dir,
            registration_backoff_factor: Duration::from_millis(10),
            authentication: None,
            executor_registration_timeout: Duration::from_secs(60),
            executor_reregistration_timeout: std::time::Duration::from_secs(2),
            executor_reregistration_retry_interval: None,
            recover_cleanup: false,
            containerizer,
            gc: Default::default(),
            executor_shutdown_grace_period: Duration::from_secs(5),
            recovery_timeout: Duration::from_secs(60),
            flags: None,
        };
        mesos_agent::spawn(&agent_runtime, config).expect("agent");

        let (tx, rx) = mpsc::unbounded_channel();
        let scheduler = master_runtime.spawn(Scheduler { base: ProcessBase::new("bench-scheduler"), tx }).expect("scheduler");
        let subscribe = Call {
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                framework_info: FrameworkInfo { user: "root".into(), name: "task-launch-bench".into(), ..Default::default() },
                ..Default::default()
            }),
            ..Default::default()
        };
        let to = master.upid().clone();
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
            master: master.upid().clone(),
            framework,
            rx,
            next_task: 0,
            pending: Default::default(),
        };

        // One at a time.
        let mut latencies = Vec::new();
        for _ in 0..sequential {
            let offer = bench.offer().await;
            let start = Instant::now();
            let ids = bench.launch(&offer, 1);
            bench.finished(&ids).await;
            latencies.push(start.elapsed());
        }
        latencies.sort();
        println!(
            "sequential: {sequential} tasks, ACCEPT to TASK_FINISHED p50 {:.1} ms, p99 {:.1} ms",
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3
        );

        // A batch launched together.
        let offers = bench.offers(Duration::from_millis(500)).await;
        let start = Instant::now();
        let ids = bench.launch_on(&offers, batch);
        let done = bench.finished(&ids).await;
        let elapsed = start.elapsed();
        let mut per_task: Vec<Duration> = done.values().map(|t| t.duration_since(start)).collect();
        per_task.sort();
        println!(
            "batch: {batch} tasks in {:.2} s = {:.0} tasks/s; completion p50 {:.0} ms, p99 {:.0} ms",
            elapsed.as_secs_f64(),
            batch as f64 / elapsed.as_secs_f64(),
            percentile(&per_task, 0.5).as_secs_f64() * 1e3,
            percentile(&per_task, 0.99).as_secs_f64() * 1e3
        );
        System::current().stop();
    });
    let _ = std::fs::remove_dir_all(&work_dir);
}
