//! Agent health checks with a paused clock: missed pongs make an agent
//! unreachable; a recovered agent that never re-registers becomes
//! unreachable after `--agent_reregister_timeout`. Its own test binary
//! because the libprocess clock is process-wide.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

#[path = "it/support.rs"]
mod support;

use std::time::Duration;

use libprocess::clock;
use mesos_master::registrar::{FileStore, Operation, Registrar};
use mesos_proto::mesos::internal::SlaveRegisteredMessage;

use support::*;

async fn eventually(
    master: &libprocess::PID<mesos_master::master::Master>,
    check: fn(&mesos_master::master::Master) -> bool,
) {
    for _ in 0..500 {
        if master.call(move |m, _| check(m)).await.unwrap() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached");
}

#[actix_rt::test]
async fn health_checks_and_reregistration_timeouts() {
    clock::pause();

    // An agent that stops answering pings is unreachable after
    // max_agent_ping_timeouts pings, and a pong-answering one stays.
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");
    register(&agent, master.upid(), "1.11.0");
    let id = decode::<SlaveRegisteredMessage>(&next(&mut rx).await)
        .slave_id
        .value;
    next_ping(&mut rx).await;
    agent.call(|a, _| a.answer_pings = false).await.unwrap();
    // The first ping was answered; the next five are not. Their timeouts
    // fall on the 2nd to 6th tick.
    for _ in 0..5 {
        clock::advance(Duration::from_secs(15));
        next_ping(&mut rx).await;
    }
    let still = id.clone();
    assert!(master
        .call(move |m, _| m.slaves.registered.contains_key(&still))
        .await
        .unwrap());
    clock::advance(Duration::from_secs(15));
    eventually(&master, |m| {
        m.slaves.registered.is_empty() && m.slaves.unreachable.len() == 1
    })
    .await;

    // A recovered agent that never comes back.
    let dir = tempfile::tempdir().unwrap();
    let registrar = Registrar::new(Box::new(FileStore::new(dir.path())));
    registrar.recover(Default::default()).await.unwrap();
    let mut info = slave_info("old.example");
    info.id = Some(mesos_proto::mesos::SlaveId {
        value: "old-S1".into(),
    });
    registrar.apply(Operation::AdmitSlave(info)).await.unwrap();
    let other = runtime_with_master(&dir);
    recovered(&other).await;
    eventually(&other, |m| m.slaves.recovered.len() == 1).await;
    clock::advance(Duration::from_secs(9 * 60));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(other
        .call(|m, _| m.slaves.unreachable.is_empty())
        .await
        .unwrap());
    clock::advance(Duration::from_secs(61));
    eventually(&other, |m| {
        m.slaves.recovered.is_empty() && m.slaves.unreachable.contains_key("old-S1")
    })
    .await;

    clock::resume();
}

fn runtime_with_master(dir: &tempfile::TempDir) -> libprocess::PID<mesos_master::master::Master> {
    let runtime = runtime();
    start_master(
        &runtime,
        flags(&[
            "--registry=replicated_log",
            &format!("--work_dir={}", dir.path().display()),
        ]),
        Box::new(FileStore::new(dir.path())),
    )
}
