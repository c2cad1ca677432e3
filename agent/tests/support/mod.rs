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

pub mod sandbox;

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
        ..Default::default()
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
            "mesos.internal.StatusUpdateMessage",
            "mesos.internal.ExecutorToFrameworkMessage",
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
