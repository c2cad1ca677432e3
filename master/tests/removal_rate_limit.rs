//! `--agent_removal_rate_limit` with a paused clock: agents that fail
//! their health checks together are marked unreachable one permit apart,
//! and one that answers a ping while it waits is not marked at all
//! (upstream `SlaveObserver::_markSlaveUnreachable`). Its own test binary
//! because the libprocess clock is process-wide.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

#[path = "it/support.rs"]
mod support;

use std::time::Duration;

use libprocess::clock;
use mesos_master::registrar::InMemoryStore;
use mesos_proto::mesos::internal::SlaveRegisteredMessage;

use support::*;

async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[actix_rt::test]
async fn removals_wait_for_permits_and_a_recovered_agent_is_spared() {
    clock::pause();
    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&["--agent_removal_rate_limit=1/1mins"]),
        Box::<InMemoryStore>::default(),
    );
    recovered(&master).await;
    let mut agents = Vec::new();
    for (process, host) in [
        ("slave(1)", "a.example"),
        ("slave(2)", "b.example"),
        ("slave(3)", "c.example"),
    ] {
        let (agent, mut rx) = spawn_agent(&runtime, process);
        register_with(&agent, master.upid(), "1.11.0", slave_info(host));
        let id = decode::<SlaveRegisteredMessage>(&next(&mut rx).await)
            .slave_id
            .value;
        agents.push((agent, rx, id));
    }
    for (_, rx, _) in &mut agents {
        next_ping(rx).await;
    }
    for (agent, _, _) in &agents {
        agent.call(|a, _| a.answer_pings = false).await.unwrap();
    }
    // Five unanswered pings each: all three fail their health checks on
    // the same tick.
    for _ in 0..6 {
        clock::advance(Duration::from_secs(15));
        for (_, rx, _) in &mut agents {
            next_ping(rx).await;
        }
    }
    settle().await;
    let unreachable = || async {
        master
            .call(|m, _| {
                let mut ids: Vec<String> = m.slaves.unreachable.keys().cloned().collect();
                ids.sort();
                ids
            })
            .await
            .unwrap()
    };
    // One permit now: one agent is marked, the others wait.
    assert_eq!(unreachable().await.len(), 1);
    let first = unreachable().await[0].clone();
    let waiting: Vec<usize> = (0..3).filter(|i| agents[*i].2 != first).collect();
    // One of the waiting agents comes back and answers the next ping.
    let spared = waiting[0];
    agents[spared]
        .0
        .call(|a, _| a.answer_pings = true)
        .await
        .unwrap();
    clock::advance(Duration::from_secs(15));
    next_ping(&mut agents[spared].1).await;
    settle().await;
    // The second permit (a minute after the first) goes to whichever was
    // scheduled first: the spared agent is canceled, the other marked.
    clock::advance(Duration::from_secs(50));
    settle().await;
    clock::advance(Duration::from_secs(60));
    settle().await;
    let marked = unreachable().await;
    assert_eq!(marked.len(), 2, "{marked:?}");
    assert!(!marked.contains(&agents[spared].2), "{marked:?}");
    let spared_id = agents[spared].2.clone();
    assert!(master
        .call(move |m, _| m.slaves.registered.contains_key(&spared_id))
        .await
        .unwrap());
    let metrics = runtime.metrics().snapshot();
    assert_eq!(
        metrics.get("master/slave_unreachable_scheduled"),
        Some(&3.0),
        "{metrics:?}"
    );
    assert_eq!(
        metrics.get("master/slave_unreachable_canceled"),
        Some(&1.0),
        "{metrics:?}"
    );
    assert_eq!(
        metrics.get("master/slave_unreachable_completed"),
        Some(&2.0),
        "{metrics:?}"
    );
    clock::resume();
}
