//! Maintenance (upstream `master_maintenance_tests` scenarios): the
//! schedule, unavailability in offers, machines going down (their agents
//! shut down and refused) and coming back up, over real HTTP.

use mesos_proto::mesos::internal::{
    ResourceOffersMessage, ShutdownMessage, SlaveRegisteredMessage,
};
use mesos_proto::resources::Resources;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::frameworks::{info, recv, spawn_scheduler, subscribe};
use crate::operator_api::api;
use crate::support::*;

async fn http(addr: std::net::SocketAddrV4, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head[9..12].parse().unwrap(), body.to_string())
}

async fn next_named(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<libprocess::MessageEvent>,
    name: &str,
) -> libprocess::MessageEvent {
    loop {
        let event = next(rx).await;
        if event.name == name {
            return event;
        }
    }
}

#[actix_rt::test]
async fn machines_drain_go_down_and_come_back_up() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let addr = runtime.address();
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    let mut slave = slave_info("agent.example");
    slave.resources = Resources::parse("cpus:2;mem:1024", "*").unwrap().to_vec();
    register_with(&agent, master.upid(), "1.11.0", slave.clone());
    let slave_id = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await).slave_id;

    let machine = json!({"hostname": "agent.example", "ip": "127.0.0.1"});
    let schedule = json!({"windows": [{
        "machine_ids": [machine],
        "unavailability": {"start": {"nanoseconds": 1_000_000_000_000_000_000i64}}
    }]});
    // Invalid schedules are refused.
    let duplicate = json!({"windows": [{
        "machine_ids": [machine, machine],
        "unavailability": {"start": {"nanoseconds": 1}}
    }]});
    let (status, body) = http(
        addr,
        "POST",
        "/master/maintenance/schedule",
        &duplicate.to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("appears more than once"), "{body}");
    let (status, body) = http(
        addr,
        "POST",
        "/master/maintenance/schedule",
        &schedule.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = http(addr, "GET", "/master/maintenance/schedule", "").await;
    let stored: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        stored["windows"][0]["machine_ids"][0]["hostname"],
        json!("agent.example")
    );
    let (_, body) = http(addr, "GET", "/master/maintenance/status", "").await;
    let status_json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status_json["draining_machines"][0]["id"]["ip"],
        json!("127.0.0.1"),
        "{body}"
    );

    // Offers of the draining agent carry the unavailability.
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    recv(&mut rx).await;
    let offer = loop {
        let event = recv(&mut rx).await;
        if event.name == "mesos.internal.ResourceOffersMessage" {
            break decode::<ResourceOffersMessage>(&event).offers.remove(0);
        }
    };
    assert_eq!(offer.slave_id, slave_id);
    assert_eq!(
        offer.unavailability.map(|u| u.start.nanoseconds),
        Some(1_000_000_000_000_000_000)
    );

    // Only DOWN machines come up; only draining ones go down.
    let ids = json!([machine]).to_string();
    let (status, body) = http(addr, "POST", "/master/machine/up", &ids).await;
    assert_eq!(status, 400);
    assert!(body.contains("is not in DOWN mode"), "{body}");
    let (status, body) = http(addr, "POST", "/master/machine/down", &ids).await;
    assert_eq!(status, 200, "{body}");
    let shutdown: ShutdownMessage =
        decode(&next_named(&mut agent_rx, "mesos.internal.ShutdownMessage").await);
    assert_eq!(shutdown.message(), "Operator initiated 'Machine DOWN'");
    let (status, body) = api(
        addr,
        r#"{"type":"GET_MAINTENANCE_STATUS"}"#,
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    let response: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        response["get_maintenance_status"]["status"]["down_machines"][0]["hostname"],
        json!("agent.example"),
        "{response}"
    );

    // The agent of a DOWN machine is refused.
    slave.id = Some(slave_id);
    let message = mesos_proto::mesos::internal::ReregisterSlaveMessage {
        slave,
        version: Some("1.11.0".into()),
        ..Default::default()
    };
    let to = master.upid().clone();
    agent.dispatch(move |this, _| this.base.send(&to, &message));
    let refused: ShutdownMessage =
        decode(&next_named(&mut agent_rx, "mesos.internal.ShutdownMessage").await);
    assert_eq!(refused.message(), "Machine is `DOWN`");

    // A DOWN machine cannot leave the schedule; `machine/up` ends it all.
    let (status, body) = http(
        addr,
        "POST",
        "/master/maintenance/schedule",
        &json!({"windows": []}).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("cannot be removed from the schedule"),
        "{body}"
    );
    let (status, body) = http(addr, "POST", "/master/machine/up", &ids).await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = http(addr, "GET", "/master/maintenance/status", "").await;
    assert_eq!(body, "{}");
    let (_, body) = http(addr, "GET", "/master/maintenance/schedule", "").await;
    assert_eq!(body, "{}");
}

async fn next_of(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<libprocess::MessageEvent>,
    name: &str,
) -> libprocess::MessageEvent {
    loop {
        let event = recv(rx).await;
        if event.name == name {
            return event;
        }
    }
}

/// Upstream's `MasterMaintenanceTest.InverseOffers`-like scenario: a
/// framework holding an offer of a draining agent gets inverse offers; its
/// answers (accept, then decline) are the machine's statuses; a schedule
/// change rescinds the outstanding one and forgets the statuses.
#[actix_rt::test]
async fn frameworks_using_a_draining_agent_get_inverse_offers() {
    use mesos_proto::mesos::internal::{InverseOffersMessage, RescindInverseOfferMessage};
    use mesos_proto::mesos::scheduler::{call, Call};
    use mesos_proto::mesos::Filters;
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let addr = runtime.address();
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    let mut slave = slave_info("drain.example");
    slave.resources = Resources::parse("cpus:2;mem:1024", "*").unwrap().to_vec();
    register_with(&agent, master.upid(), "1.11.0", slave);
    let slave_id = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await).slave_id;
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let registered: mesos_proto::mesos::internal::FrameworkRegisteredMessage =
        decode(&next_of(&mut rx, "mesos.internal.FrameworkRegisteredMessage").await);
    let framework_id = registered.framework_id;
    next_of(&mut rx, "mesos.internal.ResourceOffersMessage").await;

    let machine = json!({"hostname": "drain.example", "ip": "127.0.0.1"});
    let schedule = json!({"windows": [{
        "machine_ids": [machine],
        "unavailability": {"start": {"nanoseconds": 2_000_000_000_000_000_000i64}}
    }]});
    let (status, body) = http(
        addr,
        "POST",
        "/master/maintenance/schedule",
        &schedule.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer = |ids: Vec<mesos_proto::mesos::OfferId>, accept: bool| {
        let filters = Some(Filters {
            refuse_seconds: Some(0.1),
        });
        let call = if accept {
            Call {
                framework_id: Some(framework_id.clone()),
                r#type: Some(call::Type::AcceptInverseOffers as i32),
                accept_inverse_offers: Some(call::AcceptInverseOffers {
                    inverse_offer_ids: ids,
                    filters,
                }),
                ..Default::default()
            }
        } else {
            Call {
                framework_id: Some(framework_id.clone()),
                r#type: Some(call::Type::DeclineInverseOffers as i32),
                decline_inverse_offers: Some(call::DeclineInverseOffers {
                    inverse_offer_ids: ids,
                    filters,
                }),
                ..Default::default()
            }
        };
        let to = master.upid().clone();
        scheduler.dispatch(move |this, _| this.base.send(&to, &call));
    };
    let statuses = || async {
        let (_, body) = http(addr, "GET", "/master/maintenance/status", "").await;
        let status: Value = serde_json::from_str(&body).unwrap();
        status["draining_machines"][0]["statuses"].clone()
    };

    for (accept, expected) in [(true, "ACCEPT"), (false, "DECLINE")] {
        let inverse: InverseOffersMessage =
            decode(&next_of(&mut rx, "mesos.internal.InverseOffersMessage").await);
        assert_eq!(inverse.inverse_offers.len(), 1, "{inverse:?}");
        let offer = &inverse.inverse_offers[0];
        assert_eq!(offer.slave_id.as_ref(), Some(&slave_id));
        assert_eq!(offer.framework_id, framework_id);
        assert_eq!(
            offer.unavailability.start.nanoseconds,
            2_000_000_000_000_000_000
        );
        assert!(offer.resources.is_empty(), "the whole agent");
        assert_eq!(inverse.pids.len(), 1);
        answer(vec![offer.id.clone()], accept);
        let mut seen = Value::Null;
        for _ in 0..100 {
            seen = statuses().await;
            if seen[0]["status"] == expected {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(seen[0]["status"], expected, "{seen}");
        assert_eq!(seen[0]["framework_id"]["value"], json!(framework_id.value));
    }
    // Once the filter expires it is asked again; a schedule change
    // rescinds that inverse offer and the machine's statuses go.
    let inverse: InverseOffersMessage =
        decode(&next_of(&mut rx, "mesos.internal.InverseOffersMessage").await);
    let (status, _) = http(
        addr,
        "POST",
        "/master/maintenance/schedule",
        &json!({"windows": []}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    let rescinded: RescindInverseOfferMessage =
        decode(&next_of(&mut rx, "mesos.internal.RescindInverseOfferMessage").await);
    assert_eq!(rescinded.inverse_offer_id, inverse.inverse_offers[0].id);
    let (_, body) = http(addr, "GET", "/master/maintenance/status", "").await;
    assert_eq!(body, "{}", "no machine is draining any more");
}
