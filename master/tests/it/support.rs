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
