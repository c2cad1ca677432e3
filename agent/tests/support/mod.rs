//! What the agent's integration tests share: a loopback runtime, our
//! master with an in-memory registry, the agent as a test configures it,
//! and a stand-in for the libprocess scheduler driver that forwards the
//! messages it receives to the test.

#![allow(dead_code)] // each test crate uses part of it

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use libprocess::actix::{Actor, Context};
use libprocess::{Config, MessageEvent, Process, ProcessBase, Runtime, PID, UPID};
use mesos_agent::slave::Slave;
use mesos_master::master::Master;
use mesos_master::registrar::{InMemoryStore, Registrar};
use mesos_proto::mesos::SlaveInfo;
use mesos_proto::resources::Resources;
use tokio::sync::mpsc;

pub mod agent_binary;

/// A containerizer runtime directory of its own (`--runtime_dir`): an
/// agent or containerizer takes what it finds there for its own.
pub fn unique_runtime_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "mesos-test-runtime-{}",
        uuid::Uuid::new_v4().simple()
    ))
}
pub mod sandbox;

/// Whether the test can use real cgroups v1 hierarchies: root, and each
/// of `controllers` mounted. Under `CI=true` their absence fails the test;
/// elsewhere it prints `SKIPPED: <reason>` and the test returns.
pub fn require_cgroups_v1(test: &str, controllers: &[&str]) -> bool {
    // SAFETY: geteuid has no preconditions.
    let why = if unsafe { libc::geteuid() } != 0 {
        Some("needs root".to_string())
    } else {
        match mesos_agent::linux::Hierarchy::detect(Path::new("/proc")) {
            Ok(mesos_agent::linux::Hierarchy::V1(hierarchies)) => controllers
                .iter()
                .find(|c| hierarchies.get(c).is_none())
                .map(|c| format!("needs the '{c}' cgroup v1 controller mounted")),
            _ => Some("needs cgroups v1 hierarchies".to_string()),
        }
    };
    let Some(why) = why else {
        return true;
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test} {why} (CI=true)"
    );
    println!("SKIPPED: {test}: {why}");
    false
}

/// Whether `perf` (Debian's `linux-perf`, which `scripts/setup.sh`
/// installs) runs here, for the `cgroups/perf_event` tests. Under
/// `CI=true` its absence fails the test; elsewhere it prints `SKIPPED`.
pub fn require_perf(test: &str) -> bool {
    let runs = std::process::Command::new("perf")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if runs {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test} needs perf (linux-perf) (CI=true)"
    );
    println!("SKIPPED: {test}: needs perf (linux-perf)");
    false
}

pub fn runtime() -> Runtime {
    Runtime::new(Config {
        ip: Ipv4Addr::LOCALHOST,
        ..Config::default()
    })
    .unwrap()
}

pub fn start_master(runtime: &Runtime) -> PID<Master> {
    let flags = Arc::new(
        mesos_master::flags::Flags::parse_from_args(
            ["mesos-master", "--registry=in_memory"]
                .iter()
                .map(|s| s.to_string()),
        )
        .unwrap(),
    );
    let registrar = Arc::new(Registrar::new(Box::<InMemoryStore>::default()));
    mesos_master::master::spawn(runtime, flags, registrar).unwrap()
}

/// Where cargo put the workspace's binaries (next to this test's `deps`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .to_path_buf()
}

/// The containerizer the test agents use: upstream's default launcher
/// (`linux` as root), posix isolation, and a cgroups root of the agent's
/// own, named after its work directory: a restarted agent finds its
/// containers again, and never takes another test's for orphans.
pub fn test_containerizer(work_dir: &Path) -> mesos_agent::containerizer::ContainerizerOptions {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(remove_finished_test_cgroup_roots);
    let name = work_dir
        .file_name()
        .map(|n| n.to_string_lossy().replace('.', ""))
        .unwrap_or_default();
    mesos_agent::containerizer::ContainerizerOptions {
        launcher: if mesos_agent::flags::linux_launcher_available() {
            "linux".into()
        } else {
            "posix".into()
        },
        cgroups_root: format!("mesos_test_agent_{name}"),
        // The containerizer's checkpoints, apart from other agents': a
        // restarted agent destroys unknown containers it finds there.
        runtime_dir: work_dir.join("runtime"),
        ..Default::default()
    }
}

/// Kills, when dropped, what the test agent on `work_dir` leaves running
/// in its freezer cgroups root.
pub fn reaper(work_dir: &std::path::Path) -> KillCgroupTree {
    let root = test_containerizer(work_dir).cgroups_root;
    KillCgroupTree(std::path::Path::new("/sys/fs/cgroup/freezer").join(root))
}

/// The processes of a freezer cgroup tree (a test agent's cgroups root),
/// killed when the test ends, also when it fails and leaves its executor
/// running; the empty cgroups go with the next run's sweep.
pub struct KillCgroupTree(pub PathBuf);

impl Drop for KillCgroupTree {
    fn drop(&mut self) {
        fn kill(dir: &std::path::Path) {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                // SAFETY: kills a process in this test's own cgroups root.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if entry.path().is_dir() {
                    kill(&entry.path());
                }
            }
        }
        // Twice: a process may fork while the tree is walked.
        kill(&self.0);
        kill(&self.0);
    }
}

/// Removes the cgroup roots of test agents whose work directory is gone
/// (their test ended), in every v1 hierarchy and in the v2 one: only empty
/// cgroups, deepest first, so a container still running keeps its own.
/// A live test's work directory exists, so its root is left alone.
fn remove_finished_test_cgroup_roots() {
    fn remove_empty(dir: &Path) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    remove_empty(&entry.path());
                }
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    let mounts = std::fs::read_dir("/sys/fs/cgroup")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .chain([PathBuf::from("/sys/fs/cgroup")])
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for hierarchy in mounts {
        let Ok(entries) = std::fs::read_dir(&hierarchy) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(name) = file_name
                .to_str()
                .and_then(|n| n.strip_prefix("mesos_test_agent_"))
                .filter(|n| n.starts_with("tmp"))
            else {
                continue;
            };
            // `tempfile` names its directories `.tmpXXXX`; the root drops
            // the dot.
            let work_dir = std::env::temp_dir().join(format!(".{name}"));
            if !work_dir.exists() {
                remove_empty(&entry.path());
            }
        }
    }
}

/// The agent's configuration for the tests: `localhost`, 2 cpus, 1 GiB,
/// short backoff and grace periods, executors from `launcher_dir`.
pub fn agent_config(
    runtime: &Runtime,
    master: &UPID,
    work_dir: &Path,
    launcher_dir: PathBuf,
) -> mesos_agent::slave::Config {
    mesos_agent::slave::Config {
        master: master.clone(),
        info: SlaveInfo {
            hostname: "localhost".into(),
            port: Some(i32::from(runtime.address().port())),
            resources: Resources::parse("cpus:2;mem:1024;disk:1024;ports:[31000-32000]", "*")
                .unwrap()
                .to_vec(),
            ..Default::default()
        },
        work_dir: work_dir.to_path_buf(),
        launcher_dir,
        registration_backoff_factor: Duration::from_millis(10),
        authentication: None,
        executor_registration_timeout: Duration::from_secs(30),
        executor_shutdown_grace_period: Duration::from_secs(1),
        recovery_timeout: Duration::from_secs(60),
        executor_reregistration_timeout: Duration::from_secs(2),
        executor_reregistration_retry_interval: None,
        recover_cleanup: false,
        containerizer: test_containerizer(work_dir),
        gc: Default::default(),
        flags: None,
    }
}

/// Starts the agent with the workspace's `mesos-executor`.
pub fn start_agent(runtime: &Runtime, master: &UPID, work_dir: &Path) -> PID<Slave> {
    mesos_agent::spawn(runtime, agent_config(runtime, master, work_dir, bin_dir())).unwrap()
}

/// A stand-in for the scheduler driver: what the master and agent send it
/// goes to the test.
pub struct Scheduler {
    pub base: ProcessBase<Self>,
    pub tx: mpsc::UnboundedSender<MessageEvent>,
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
            "mesos.internal.RescindResourceOfferMessage",
            "mesos.internal.StatusUpdateMessage",
            "mesos.internal.ExecutorToFrameworkMessage",
            "mesos.internal.ExitedExecutorMessage",
        ] {
            self.base.install_raw(name, |this, _ctx, event| {
                let _ = this.tx.send(event);
            });
        }
    }
}
libprocess::process_handlers!(Scheduler);

/// The next message named `name` (others are skipped); panics after 30 s.
pub async fn recv(rx: &mut mpsc::UnboundedReceiver<MessageEvent>, name: &str) -> MessageEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("timed out")
            .unwrap();
        if event.name == name {
            return event;
        }
    }
}

pub fn decode<M: prost::Message + Default>(event: &MessageEvent) -> M {
    M::decode(event.body.clone()).unwrap()
}

/// A subscribed framework as the tests drive it: a [`Scheduler`] stand-in
/// on the master's runtime, its id and the first offer it got.
pub struct TestFramework {
    pub scheduler: PID<Scheduler>,
    pub rx: mpsc::UnboundedReceiver<MessageEvent>,
    pub master: UPID,
    pub framework_id: mesos_proto::mesos::FrameworkId,
    pub offer: mesos_proto::mesos::Offer,
}

impl TestFramework {
    /// Subscribes `info` through the libprocess driver protocol and waits
    /// for its registration and first offer.
    pub async fn subscribe(
        runtime: &Runtime,
        master: &UPID,
        process: &str,
        info: mesos_proto::mesos::FrameworkInfo,
    ) -> Self {
        use mesos_proto::mesos::internal::{FrameworkRegisteredMessage, ResourceOffersMessage};
        use mesos_proto::mesos::scheduler::{call, Call};
        let (tx, mut rx) = mpsc::unbounded_channel();
        let scheduler = runtime
            .spawn(Scheduler {
                base: ProcessBase::new(process),
                tx,
            })
            .unwrap();
        let subscribe = Call {
            r#type: Some(call::Type::Subscribe as i32),
            subscribe: Some(call::Subscribe {
                framework_info: info,
                ..Default::default()
            }),
            ..Default::default()
        };
        let to = master.clone();
        scheduler.dispatch(move |this, _| this.base.send(&to, &subscribe));
        let framework_id = decode::<FrameworkRegisteredMessage>(
            &recv(&mut rx, "mesos.internal.FrameworkRegisteredMessage").await,
        )
        .framework_id;
        let offers: ResourceOffersMessage =
            decode(&recv(&mut rx, "mesos.internal.ResourceOffersMessage").await);
        Self {
            scheduler,
            rx,
            master: master.clone(),
            framework_id,
            offer: offers.offers[0].clone(),
        }
    }

    fn send(&self, call: mesos_proto::mesos::scheduler::Call) {
        let to = self.master.clone();
        self.scheduler
            .dispatch(move |this, _| this.base.send(&to, &call));
    }

    /// Launches `tasks` on the first offer (their agent id filled in).
    pub fn launch(&self, tasks: Vec<mesos_proto::mesos::TaskInfo>) {
        self.accept(vec![], tasks);
    }

    /// Accepts the first offer with `operations` (CREATE, RESERVE, ..)
    /// followed by a LAUNCH of `tasks` (their agent id filled in).
    pub fn accept(
        &self,
        mut operations: Vec<mesos_proto::mesos::offer::Operation>,
        mut tasks: Vec<mesos_proto::mesos::TaskInfo>,
    ) {
        use mesos_proto::mesos::scheduler::{call, Call};
        use mesos_proto::mesos::{offer, Filters};
        for task in &mut tasks {
            task.slave_id = self.offer.slave_id.clone();
        }
        operations.push(offer::Operation {
            r#type: Some(offer::operation::Type::Launch as i32),
            launch: Some(offer::operation::Launch { task_infos: tasks }),
            ..Default::default()
        });
        self.send(Call {
            framework_id: Some(self.framework_id.clone()),
            r#type: Some(call::Type::Accept as i32),
            accept: Some(call::Accept {
                offer_ids: vec![self.offer.id.clone()],
                operations,
                filters: Some(Filters {
                    refuse_seconds: Some(60.0),
                }),
            }),
            ..Default::default()
        });
    }

    /// The next status update, acknowledged as the driver does; 60 s at
    /// most.
    pub async fn next_status(&mut self) -> mesos_proto::mesos::TaskStatus {
        use mesos_proto::mesos::internal::StatusUpdateMessage;
        use mesos_proto::mesos::scheduler::{call, Call};
        let event = tokio::time::timeout(
            Duration::from_secs(60),
            recv(&mut self.rx, "mesos.internal.StatusUpdateMessage"),
        )
        .await
        .expect("a status update in time");
        let update: StatusUpdateMessage = decode(&event);
        // An update the master generated (TASK_ERROR of an invalid task)
        // has no uuid and is not acknowledged, as the driver does.
        if let (Some(slave_id), Some(uuid)) = (&update.update.slave_id, &update.update.uuid) {
            self.send(Call {
                framework_id: Some(self.framework_id.clone()),
                r#type: Some(call::Type::Acknowledge as i32),
                acknowledge: Some(call::Acknowledge {
                    slave_id: slave_id.clone(),
                    task_id: update.update.status.task_id.clone(),
                    uuid: uuid.clone(),
                }),
                ..Default::default()
            });
        }
        update.update.status
    }

    /// Every status update until a terminal one (that one last), each
    /// acknowledged.
    pub async fn updates_until_terminal(&mut self) -> Vec<mesos_proto::mesos::TaskStatus> {
        let mut statuses = Vec::new();
        loop {
            let status = self.next_status().await;
            let terminal = status.state().is_terminal();
            statuses.push(status);
            if terminal {
                return statuses;
            }
        }
    }

    /// Launches `group` with the default executor `executor_id` on the
    /// first offer (LAUNCH_GROUP).
    pub fn launch_group(
        &self,
        executor_id: &str,
        executor_resources: &str,
        group: mesos_proto::mesos::TaskGroupInfo,
    ) {
        self.accept_group(vec![], executor_id, executor_resources, group);
    }

    /// Accepts the first offer with `operations` (RESERVE, CREATE, ..)
    /// followed by a LAUNCH_GROUP of `group` with the default executor
    /// `executor_id`.
    pub fn accept_group(
        &self,
        mut operations: Vec<mesos_proto::mesos::offer::Operation>,
        executor_id: &str,
        executor_resources: &str,
        mut group: mesos_proto::mesos::TaskGroupInfo,
    ) {
        use mesos_proto::mesos::scheduler::{call, Call};
        use mesos_proto::mesos::{executor_info, offer, ExecutorId, ExecutorInfo, Filters};
        for task in &mut group.tasks {
            task.slave_id = self.offer.slave_id.clone();
        }
        let executor = ExecutorInfo {
            r#type: Some(executor_info::Type::Default as i32),
            executor_id: ExecutorId {
                value: executor_id.into(),
            },
            framework_id: Some(self.framework_id.clone()),
            resources: Resources::parse(executor_resources, "*").unwrap().to_vec(),
            ..Default::default()
        };
        operations.push(offer::Operation {
            r#type: Some(offer::operation::Type::LaunchGroup as i32),
            launch_group: Some(offer::operation::LaunchGroup {
                executor,
                task_group: group,
            }),
            ..Default::default()
        });
        self.send(Call {
            framework_id: Some(self.framework_id.clone()),
            r#type: Some(call::Type::Accept as i32),
            accept: Some(call::Accept {
                offer_ids: vec![self.offer.id.clone()],
                operations,
                filters: Some(Filters {
                    refuse_seconds: Some(60.0),
                }),
            }),
            ..Default::default()
        });
    }

    /// Revives the framework's offers (its filters go) and takes the next
    /// offer as the one [`Self::launch`] and [`Self::launch_group`] use;
    /// other messages before it are skipped.
    pub async fn revive_and_take_next_offer(&mut self) {
        use mesos_proto::mesos::internal::ResourceOffersMessage;
        use mesos_proto::mesos::scheduler::{call, Call};
        self.send(Call {
            framework_id: Some(self.framework_id.clone()),
            r#type: Some(call::Type::Revive as i32),
            ..Default::default()
        });
        let offers: ResourceOffersMessage =
            decode(&recv(&mut self.rx, "mesos.internal.ResourceOffersMessage").await);
        self.offer = offers.offers[0].clone();
    }

    /// Asks the master for the latest state of every task (implicit
    /// reconciliation).
    pub fn reconcile(&self) {
        use mesos_proto::mesos::scheduler::{call, Call};
        self.send(Call {
            framework_id: Some(self.framework_id.clone()),
            r#type: Some(call::Type::Reconcile as i32),
            reconcile: Some(call::Reconcile { tasks: Vec::new() }),
            ..Default::default()
        });
    }

    /// Tears the framework down (TEARDOWN): the agent shuts down its
    /// executors.
    pub fn teardown(&self) {
        use mesos_proto::mesos::scheduler::{call, Call};
        self.send(Call {
            framework_id: Some(self.framework_id.clone()),
            r#type: Some(call::Type::Teardown as i32),
            ..Default::default()
        });
    }

    /// Asks the master to kill `task_id`.
    pub fn kill(&self, task_id: mesos_proto::mesos::TaskId) {
        self.kill_with_policy(task_id, None);
    }

    /// Asks the master to kill `task_id` with `kill_policy`, which
    /// overrides the task's own.
    pub fn kill_with_policy(
        &self,
        task_id: mesos_proto::mesos::TaskId,
        kill_policy: Option<mesos_proto::mesos::KillPolicy>,
    ) {
        use mesos_proto::mesos::scheduler::{call, Call};
        self.send(Call {
            framework_id: Some(self.framework_id.clone()),
            r#type: Some(call::Type::Kill as i32),
            kill: Some(call::Kill {
                task_id,
                slave_id: Some(self.offer.slave_id.clone()),
                kill_policy,
            }),
            ..Default::default()
        });
    }
}
