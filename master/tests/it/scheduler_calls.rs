//! The v0 scheduler calls that route to agents or the allocator (upstream
//! `Master::suppress`, `message`, `frameworkToExecutorMessage`, `shutdown`
//! and `request`): SUPPRESS, MESSAGE, SHUTDOWN, REQUEST, and the
//! `FrameworkToExecutorMessage` and `ResourceRequestMessage` older drivers
//! send to the master.

use std::collections::BTreeMap;
use std::time::Duration;

use mesos_proto::mesos::internal::{
    FrameworkToExecutorMessage, ResourceRequestMessage, ShutdownExecutorMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{ExecutorId, Request, SlaveId};
use mesos_proto::resources::Resources;

use crate::frameworks::spawn_scheduler;
use crate::offers::{next_offers, send_call};
use crate::state::{cluster, get, Cluster};
use crate::support::*;

/// The master's counters, once the scheduler sent and the master handled
/// what is queued.
async fn snapshot(cluster: &Cluster) -> BTreeMap<String, f64> {
    cluster.scheduler.call(|_, _| ()).await.unwrap();
    cluster.master.call(|_, _| ()).await.unwrap();
    let reply = get(cluster.addr(), "/metrics/snapshot").await;
    assert_eq!(reply.status, 200);
    serde_json::from_str(&reply.body).unwrap()
}

fn call(cluster: &Cluster, kind: call::Type) -> Call {
    Call {
        framework_id: Some(cluster.framework_id.clone()),
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

/// The next message the agent got with this name, skipping others.
async fn agent_got<M: prost::Message + Default>(cluster: &mut Cluster, name: &str) -> M {
    loop {
        let event = next(&mut cluster.agent_rx).await;
        if event.name == name {
            return decode(&event);
        }
    }
}

#[actix_rt::test]
async fn message_is_forwarded_to_the_agent_as_framework_to_executor_message() {
    let mut cluster = cluster(&[]).await;
    let mut message = call(&cluster, call::Type::Message);
    message.message = Some(call::Message {
        slave_id: cluster.slave_id.clone(),
        executor_id: ExecutorId {
            value: "exec".into(),
        },
        data: b"hello".to_vec(),
    });
    send_call(&cluster.scheduler, cluster.master.upid(), message.clone());
    let forwarded: FrameworkToExecutorMessage =
        agent_got(&mut cluster, "mesos.internal.FrameworkToExecutorMessage").await;
    assert_eq!(forwarded.slave_id, cluster.slave_id);
    assert_eq!(forwarded.framework_id, cluster.framework_id);
    assert_eq!(forwarded.executor_id.value, "exec");
    assert_eq!(forwarded.data, b"hello");

    // For an unknown agent: dropped and counted as invalid.
    message.message.as_mut().unwrap().slave_id = SlaveId {
        value: "nowhere".into(),
    };
    send_call(&cluster.scheduler, cluster.master.upid(), message);
    let metrics = snapshot(&cluster).await;
    assert_eq!(metrics["master/messages_framework_to_executor"], 2.0);
    assert_eq!(metrics["master/valid_framework_to_executor_messages"], 1.0);
    assert_eq!(
        metrics["master/invalid_framework_to_executor_messages"],
        1.0
    );
}

#[actix_rt::test]
async fn message_for_a_disconnected_agent_is_dropped() {
    let cluster = cluster(&[]).await;
    // The master lost the agent's link (what `exited` records).
    let id = cluster.slave_id.value.clone();
    cluster
        .master
        .call(move |m, _| m.slaves.registered.get_mut(&id).unwrap().connected = false)
        .await
        .unwrap();
    let mut message = call(&cluster, call::Type::Message);
    message.message = Some(call::Message {
        slave_id: cluster.slave_id.clone(),
        executor_id: ExecutorId {
            value: "exec".into(),
        },
        data: b"hello".to_vec(),
    });
    send_call(&cluster.scheduler, cluster.master.upid(), message);
    let metrics = snapshot(&cluster).await;
    assert_eq!(metrics["master/valid_framework_to_executor_messages"], 0.0);
    assert_eq!(
        metrics["master/invalid_framework_to_executor_messages"],
        1.0
    );
}

#[actix_rt::test]
async fn framework_to_executor_message_sent_to_the_master_is_forwarded() {
    let mut cluster = cluster(&[]).await;
    let message = FrameworkToExecutorMessage {
        slave_id: cluster.slave_id.clone(),
        framework_id: cluster.framework_id.clone(),
        executor_id: ExecutorId {
            value: "exec".into(),
        },
        data: b"old driver".to_vec(),
    };
    let to = cluster.master.upid().clone();
    let sent = message.clone();
    cluster
        .scheduler
        .dispatch(move |this, _| this.base.send(&to, &sent));
    let forwarded: FrameworkToExecutorMessage =
        agent_got(&mut cluster, "mesos.internal.FrameworkToExecutorMessage").await;
    assert_eq!(forwarded, message);

    // From a process that is not the framework's scheduler: dropped.
    let (stranger, _stranger_rx) = spawn_scheduler(&cluster.runtime);
    let to = cluster.master.upid().clone();
    let sent = message.clone();
    stranger.dispatch(move |this, _| this.base.send(&to, &sent));
    // For an unknown framework: dropped.
    let mut unknown = message;
    unknown.framework_id.value = "unknown".into();
    let to = cluster.master.upid().clone();
    cluster
        .scheduler
        .dispatch(move |this, _| this.base.send(&to, &unknown));
    // They come from two processes: wait until both were counted.
    let mut metrics = snapshot(&cluster).await;
    for _ in 0..100 {
        if metrics["master/invalid_framework_to_executor_messages"] == 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        metrics = snapshot(&cluster).await;
    }
    assert_eq!(metrics["master/messages_framework_to_executor"], 1.0);
    assert_eq!(metrics["master/valid_framework_to_executor_messages"], 1.0);
    assert_eq!(
        metrics["master/invalid_framework_to_executor_messages"],
        2.0
    );
}

#[actix_rt::test]
async fn shutdown_sends_shutdown_executor_message_to_the_agent() {
    let mut cluster = cluster(&[]).await;
    let mut shutdown = call(&cluster, call::Type::Shutdown);
    shutdown.shutdown = Some(call::Shutdown {
        executor_id: ExecutorId {
            value: "exec".into(),
        },
        slave_id: cluster.slave_id.clone(),
    });
    send_call(&cluster.scheduler, cluster.master.upid(), shutdown);
    let message: ShutdownExecutorMessage =
        agent_got(&mut cluster, "mesos.internal.ShutdownExecutorMessage").await;
    assert_eq!(message.executor_id.unwrap().value, "exec");
    assert_eq!(message.framework_id.as_ref(), Some(&cluster.framework_id));
}

#[actix_rt::test]
async fn request_is_counted_and_changes_nothing() {
    let mut cluster = cluster(&[]).await;
    let mut request = call(&cluster, call::Type::Request);
    request.request = Some(call::Request {
        requests: vec![Request {
            slave_id: None,
            resources: Resources::parse("cpus:1", "*").unwrap().to_vec(),
        }],
    });
    send_call(&cluster.scheduler, cluster.master.upid(), request);
    // The same as the `ResourceRequestMessage` of older drivers.
    let message = ResourceRequestMessage {
        framework_id: cluster.framework_id.clone(),
        requests: vec![],
    };
    let to = cluster.master.upid().clone();
    cluster
        .scheduler
        .dispatch(move |this, _| this.base.send(&to, &message));
    let metrics = snapshot(&cluster).await;
    assert_eq!(metrics["master/messages_resource_request"], 2.0);
    // The framework is still subscribed and holds its offer.
    assert_eq!(metrics["master/frameworks_active"], 1.0);
    assert_eq!(metrics["master/outstanding_offers"], 1.0);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), cluster.rx.recv())
            .await
            .is_err()
    );
}

#[actix_rt::test]
async fn suppress_stops_offers_until_revive() {
    let mut cluster = cluster(&["--allocation_interval=50ms"]).await;
    send_call(
        &cluster.scheduler,
        cluster.master.upid(),
        call(&cluster, call::Type::Suppress),
    );
    let mut decline = call(&cluster, call::Type::Decline);
    decline.decline = Some(call::Decline {
        offer_ids: vec![cluster.offer.id.clone()],
        filters: Some(mesos_proto::mesos::Filters {
            refuse_seconds: Some(0.0),
        }),
    });
    send_call(&cluster.scheduler, cluster.master.upid(), decline);
    let metrics = snapshot(&cluster).await;
    assert_eq!(metrics["master/messages_suppress_offers"], 1.0);
    // A second agent comes; nothing is offered over several allocation cycles.
    let (agent, mut agent_rx) = spawn_agent(&cluster.runtime, "slave(2)");
    let mut slave = slave_info("agent2.example");
    slave.resources = Resources::parse("cpus:1;mem:256", "*").unwrap().to_vec();
    register_with(&agent, cluster.master.upid(), "1.11.0", slave);
    next(&mut agent_rx).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(500), next_offers(&mut cluster.rx))
            .await
            .is_err(),
        "a suppressed framework got offers"
    );
    send_call(
        &cluster.scheduler,
        cluster.master.upid(),
        call(&cluster, call::Type::Revive),
    );
    let offers = next_offers(&mut cluster.rx).await;
    assert!(!offers.offers.is_empty());
}
