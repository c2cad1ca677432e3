//! Agent registration, re-registration, health checks and removal.

use std::time::Duration;

use mesos_master::registrar::{FileStore, Operation, Registrar};
use mesos_proto::mesos::internal::{
    PingSlaveMessage, ShutdownMessage, SlaveRegisteredMessage, SlaveReregisteredMessage,
    UnregisterSlaveMessage,
};
use mesos_proto::mesos::{SlaveId, TimeInfo};

use crate::support::*;

#[actix_rt::test]
async fn an_agent_registers_and_is_pinged_by_its_observer() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");
    register(&agent, master.upid(), "1.11.0");

    let event = next(&mut rx).await;
    assert_eq!(event.name, "mesos.internal.SlaveRegisteredMessage");
    assert_eq!(event.from, *master.upid(), "replies come from master@");
    let registered: SlaveRegisteredMessage = decode(&event);
    let master_id = master.call(|m, _| m.info.id.clone()).await.unwrap();
    assert_eq!(registered.slave_id.value, format!("{master_id}-S0"));
    assert_eq!(
        registered.connection.unwrap().total_ping_timeout_seconds,
        Some(75.0)
    );

    let ping = next_ping(&mut rx).await;
    assert!(ping.from.id.starts_with("slave-observer("), "{}", ping.from);
    assert!(decode::<PingSlaveMessage>(&ping).connected);

    let (connected, hostname) = master
        .call(move |m, _| {
            let slave = &m.slaves.registered[&registered.slave_id.value];
            (slave.connected, slave.info.hostname.clone())
        })
        .await
        .unwrap();
    assert!(connected);
    assert_eq!(hostname, "agent.example");
}

#[actix_rt::test]
async fn a_retried_registration_gets_the_same_id_and_old_versions_are_ignored() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");

    // Older than 1.0.0: ignored without a reply.
    register(&agent, master.upid(), "0.28.2");
    register(&agent, master.upid(), "1.2.0");
    let first: SlaveRegisteredMessage = decode(&next(&mut rx).await);
    register(&agent, master.upid(), "1.2.0");
    let second: SlaveRegisteredMessage = decode(&next(&mut rx).await);
    assert_eq!(first.slave_id, second.slave_id);
    let count = master.call(|m, _| m.slaves.registered.len()).await.unwrap();
    assert_eq!(count, 1);
}

#[actix_rt::test]
async fn agents_reregister_after_a_master_restart_with_a_durable_registry() {
    let dir = tempfile::tempdir().unwrap();
    let work_dir = dir.path().to_str().unwrap().to_string();
    let runtime = runtime();
    let flags = flags(&[
        "--registry=replicated_log",
        &format!("--work_dir={work_dir}"),
    ]);
    let master = start_master(
        &runtime,
        flags.clone(),
        Box::new(FileStore::new(dir.path())),
    );
    recovered(&master).await;
    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");
    register(&agent, master.upid(), "1.11.0");
    let id = decode::<SlaveRegisteredMessage>(&next(&mut rx).await)
        .slave_id
        .value;

    // The master goes away; a new one recovers the registry.
    let done = runtime.wait("master");
    master.terminate();
    done.await;
    let master = start_master(&runtime, flags, Box::new(FileStore::new(dir.path())));
    recovered(&master).await;
    let recovered_ids: Vec<String> = master
        .call(|m, _| m.slaves.recovered.keys().cloned().collect())
        .await
        .unwrap();
    assert_eq!(recovered_ids, vec![id.clone()]);

    reregister(&agent, master.upid(), &id);
    let event = next(&mut rx).await;
    assert_eq!(event.name, "mesos.internal.SlaveReregisteredMessage");
    assert_eq!(
        decode::<SlaveReregisteredMessage>(&event).slave_id.value,
        id
    );
    let (registered, recovered_left) = master
        .call(move |m, _| {
            (
                m.slaves.registered.contains_key(&id),
                m.slaves.recovered.len(),
            )
        })
        .await
        .unwrap();
    assert!(registered);
    assert_eq!(recovered_left, 0);
}

#[actix_rt::test]
async fn a_gone_agent_is_told_to_shut_down() {
    let dir = tempfile::tempdir().unwrap();
    let registrar = Registrar::new(Box::new(FileStore::new(dir.path())));
    registrar.recover(Default::default()).await.unwrap();
    let gone = SlaveId {
        value: "gone-S7".into(),
    };
    registrar
        .apply(Operation::MarkSlaveGone(gone, TimeInfo { nanoseconds: 1 }))
        .await
        .unwrap();

    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&[
            "--registry=replicated_log",
            &format!("--work_dir={}", dir.path().display()),
        ]),
        Box::new(FileStore::new(dir.path())),
    );
    recovered(&master).await;
    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");
    reregister(&agent, master.upid(), "gone-S7");
    let event = next(&mut rx).await;
    assert_eq!(event.name, "mesos.internal.ShutdownMessage");
    assert_eq!(
        decode::<ShutdownMessage>(&event).message.as_deref(),
        Some("Agent has been marked gone")
    );
}

#[actix_rt::test]
async fn an_unknown_agent_that_reregisters_is_readmitted() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");
    reregister(&agent, master.upid(), "other-master-S3");
    let event = next(&mut rx).await;
    assert_eq!(event.name, "mesos.internal.SlaveReregisteredMessage");
    let known = master
        .call(|m, _| m.slaves.registered.contains_key("other-master-S3"))
        .await
        .unwrap();
    assert!(known);
}

#[actix_rt::test]
async fn a_lost_connection_disconnects_and_reregistration_reconnects() {
    let master_runtime = runtime();
    let master = start_default_master(&master_runtime);
    recovered(&master).await;
    // The agent lives in its own runtime, as in its own OS process.
    let agent_runtime = runtime();
    let (agent, mut rx) = spawn_agent(&agent_runtime, "slave(1)");
    register(&agent, master.upid(), "1.11.0");
    let id = decode::<SlaveRegisteredMessage>(&next(&mut rx).await)
        .slave_id
        .value;

    // The agent's OS process dies: its listening socket closes, so the
    // master's link breaks.
    agent_runtime.shutdown();
    drop(agent);
    drop(rx);
    drop(agent_runtime);
    let check = id.clone();
    let mut disconnected = false;
    for _ in 0..500 {
        let check = check.clone();
        let connected = master
            .call(move |m, _| m.slaves.registered[&check].connected)
            .await
            .unwrap();
        if !connected {
            disconnected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(disconnected, "the master noticed the broken link");

    // The agent restarts (new address) and re-registers with its id.
    let agent_runtime = runtime();
    let (agent, mut rx) = spawn_agent(&agent_runtime, "slave(1)");
    reregister(&agent, master.upid(), &id);
    assert_eq!(
        next(&mut rx).await.name,
        "mesos.internal.SlaveReregisteredMessage"
    );
    let (connected, pid) = master
        .call(move |m, _| {
            let slave = &m.slaves.registered[&id];
            (slave.connected, slave.pid.clone())
        })
        .await
        .unwrap();
    assert!(connected);
    assert_eq!(pid, *agent.upid());
}

#[actix_rt::test]
async fn an_agent_that_unregisters_is_removed() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");
    register(&agent, master.upid(), "1.11.0");
    let id = decode::<SlaveRegisteredMessage>(&next(&mut rx).await).slave_id;
    let to = master.upid().clone();
    agent.dispatch(move |this, _| {
        this.base
            .send(&to, &UnregisterSlaveMessage { slave_id: id })
    });
    for _ in 0..500 {
        if master
            .call(|m, _| m.slaves.registered.is_empty())
            .await
            .unwrap()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the agent was not removed");
}

#[actix_rt::test]
async fn frameworks_are_told_when_an_agent_is_removed() {
    use mesos_proto::mesos::internal::{FrameworkRegisteredMessage, LostSlaveMessage};

    use crate::frameworks::{info, recv, spawn_scheduler, subscribe};

    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (scheduler, mut events) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let _ = decode::<FrameworkRegisteredMessage>(&recv(&mut events).await);
    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");
    register(&agent, master.upid(), "1.11.0");
    let id = decode::<SlaveRegisteredMessage>(&next(&mut rx).await).slave_id;
    let to = master.upid().clone();
    let removed = id.clone();
    agent.dispatch(move |this, _| {
        this.base
            .send(&to, &UnregisterSlaveMessage { slave_id: removed })
    });
    loop {
        let event = recv(&mut events).await;
        if event.name == "mesos.internal.LostSlaveMessage" {
            assert_eq!(decode::<LostSlaveMessage>(&event).slave_id, id);
            break;
        }
    }
}

#[actix_rt::test]
async fn the_registrar_serves_the_registry() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");
    register(&agent, master.upid(), "1.11.0");
    let id = decode::<SlaveRegisteredMessage>(&next(&mut rx).await).slave_id;

    let reply = crate::state::get(runtime.address(), "/registrar(1)/registry").await;
    assert_eq!(reply.status, 200);
    let registry: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        registry["master"]["info"]["pid"],
        master.upid().to_string().as_str()
    );
    let slaves = registry["slaves"]["slaves"].as_array().unwrap();
    assert_eq!(slaves.len(), 1, "{registry}");
    assert_eq!(slaves[0]["info"]["id"]["value"], id.value.as_str());
    assert_eq!(slaves[0]["info"]["hostname"], "agent.example");

    let wrapped = crate::state::get(runtime.address(), "/registrar(1)/registry?jsonp=cb").await;
    assert!(wrapped.body.starts_with("cb("), "{}", wrapped.body);
}
