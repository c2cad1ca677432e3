//! The agent answers a ping (`PingSlaveMessage`) with a
//! `PongSlaveMessage` to the ping's sender, as upstream's `Slave::ping`
//! does: the master's `slave-observer(N)` is that sender, not the master.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::time::Duration;

use actix::{Actor, Context};
use libprocess::{MessageEvent, Process, ProcessBase};
use mesos_proto::mesos::internal::PingSlaveMessage;
use tokio::sync::mpsc;

use support::*;

/// A stand-in for the master's slave observer.
struct Observer {
    base: ProcessBase<Self>,
    tx: mpsc::UnboundedSender<MessageEvent>,
}

impl Actor for Observer {
    type Context = Context<Self>;
}

impl Process for Observer {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        self.base
            .install_raw("mesos.internal.PongSlaveMessage", |this, _ctx, event| {
                let _ = this.tx.send(event);
            });
    }
}
libprocess::process_handlers!(Observer);

#[actix_rt::test]
async fn the_agent_answers_a_ping_to_its_sender() {
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let work_dir = tempfile::tempdir().unwrap();
    let agent_runtime = runtime();
    let agent = start_agent(&agent_runtime, master.upid(), work_dir.path());
    for _ in 0..1000 {
        if agent.call(|a, _| a.registered).await.unwrap() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(agent.call(|a, _| a.registered).await.unwrap());

    let (tx, mut rx) = mpsc::unbounded_channel();
    let observer = master_runtime
        .spawn(Observer {
            base: ProcessBase::new("slave-observer(99)"),
            tx,
        })
        .unwrap();
    let to = agent.upid().clone();
    observer.dispatch(move |this, _| {
        this.base.send(&to, &PingSlaveMessage { connected: true });
    });
    let pong = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no pong within 10 s")
        .unwrap();
    assert_eq!(pong.name, "mesos.internal.PongSlaveMessage");
    assert_eq!(pong.from, agent.upid().clone());
    // The pong carries no fields.
    assert!(pong.body.is_empty());
}
