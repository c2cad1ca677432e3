//! Quota (upstream `master_quota_tests` scenarios): `/master/quota` and
//! the v1 quota calls over real HTTP, guarantees laid aside by the
//! allocator, and quota surviving a master failover.

use libprocess::MessageEvent;
use mesos_master::registrar::FileStore;
use mesos_proto::mesos::internal::{ResourceOffersMessage, SlaveRegisteredMessage};
use mesos_proto::mesos::FrameworkInfo;
use mesos_proto::resources::Resources;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;

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

fn with_role(role: &str) -> FrameworkInfo {
    let mut framework = info(None, 0.0);
    #[allow(deprecated)]
    {
        framework.role = Some(role.into());
    }
    framework
}

fn register_agent(
    runtime: &libprocess::Runtime,
    master: &libprocess::UPID,
    id: &str,
) -> (libprocess::PID<Agent>, UnboundedReceiver<MessageEvent>) {
    let (agent, rx) = spawn_agent(runtime, id);
    let mut slave = slave_info("agent.example");
    slave.resources = Resources::parse("cpus:2;mem:1024", "*").unwrap().to_vec();
    register_with(&agent, master, "1.11.0", slave);
    (agent, rx)
}

/// Offers received within `ms` milliseconds.
async fn offers_within(rx: &mut UnboundedReceiver<MessageEvent>, ms: u64) -> usize {
    let mut count = 0;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(ms);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if event.name == "mesos.internal.ResourceOffersMessage" {
            count += decode::<ResourceOffersMessage>(&event).offers.len();
        }
    }
    count
}

const WEB_CPUS_2: &str =
    r#"{"role":"web","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":2}}]}"#;

#[actix_rt::test]
async fn quota_endpoint_sets_lays_aside_and_removes_guarantees() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let addr = runtime.address();
    let (_a1, mut rx1) = register_agent(&runtime, master.upid(), "slave(1)");
    decode::<SlaveRegisteredMessage>(&next(&mut rx1).await);
    let (_a2, mut rx2) = register_agent(&runtime, master.upid(), "slave(2)");
    decode::<SlaveRegisteredMessage>(&next(&mut rx2).await);

    // Malformed and invalid requests.
    let (status, body) = http(addr, "POST", "/master/quota", "{nope").await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with("Failed to parse set quota request JSON"),
        "{body}"
    );
    let reserved = r#"{"role":"web","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"web"}]}"#;
    let (status, body) = http(addr, "POST", "/master/quota", reserved).await;
    assert_eq!(status, 400);
    assert!(body.contains("must not be reserved"), "{body}");
    let too_much =
        r#"{"role":"big","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":100}}]}"#;
    let (status, body) = http(addr, "POST", "/master/quota", too_much).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.starts_with("Heuristic capacity check for set quota request failed"),
        "{body}"
    );

    // Quota on a nested role is refused, as upstream (MESOS-7402).
    let nested =
        r#"{"role":"web/dev","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}"#;
    let (status, body) = http(addr, "POST", "/master/quota", nested).await;
    assert_eq!(
        (status, body.as_str()),
        (
            400,
            "Setting quota on nested role 'web/dev' is not supported yet"
        )
    );

    // Two cpus (one agent's worth) are laid aside for `web`.
    let (status, body) = http(addr, "POST", "/master/quota", WEB_CPUS_2).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(addr, "POST", "/master/quota", WEB_CPUS_2).await;
    assert_eq!(status, 400);
    assert!(body.contains("which already has quota"), "{body}");
    let (status, body) = http(addr, "GET", "/master/quota", "").await;
    assert_eq!(status, 200);
    let quota: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(quota["infos"][0]["role"], json!("web"));
    assert_eq!(quota["infos"][0]["guarantee"][0]["name"], json!("cpus"));
    assert_eq!(
        quota["configs"][0]["guarantees"]["cpus"]["value"],
        json!(2.0)
    );
    assert_eq!(quota["configs"][0]["limits"]["cpus"]["value"], json!(2.0));
    let (_, roles) = http(addr, "GET", "/master/roles", "").await;
    let roles: Value = serde_json::from_str(&roles).unwrap();
    let web = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == json!("web"))
        .cloned()
        .unwrap();
    assert_eq!(web["quota"]["guarantee"]["cpus"], json!(2.0), "{web}");

    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), with_role("batch"), false);
    recv(&mut rx).await;
    assert_eq!(
        offers_within(&mut rx, 1500).await,
        1,
        "one agent is laid aside"
    );

    // Without the quota, the other agent is offered too.
    let (status, body) = http(addr, "DELETE", "/master/quota/web", "").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(addr, "DELETE", "/master/quota/web", "").await;
    assert_eq!(
        (status, body.as_str()),
        (400, "Failed to remove quota: Role 'web' has no quota set")
    );
    assert_eq!(
        offers_within(&mut rx, 1500).await,
        2,
        "all offers are made again"
    );
}

#[actix_rt::test]
async fn v1_quota_calls_and_quota_surviving_a_master_failover() {
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
    let addr = runtime.address();
    let (_agent, mut agent_rx) = register_agent(&runtime, master.upid(), "slave(1)");
    decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await);

    let update = json!({
        "type": "UPDATE_QUOTA",
        "update_quota": {
            "quota_configs": [{
                "role": "web",
                "guarantees": {"cpus": {"value": 1}},
                "limits": {"cpus": {"value": 1.5}, "mem": {"value": 512}}
            }]
        }
    });
    let (status, body) = api(addr, &update.to_string(), "application/json").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // A guarantee above its limit is refused.
    let bad = json!({
        "type": "UPDATE_QUOTA",
        "update_quota": {"quota_configs": [{
            "role": "db",
            "guarantees": {"cpus": {"value": 2}},
            "limits": {"cpus": {"value": 1}}
        }]}
    });
    let (status, body) = api(addr, &bad.to_string(), "application/json").await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("greater than its limit"));

    // Quota on a nested role is refused, as upstream (MESOS-7402).
    let nested = json!({
        "type": "UPDATE_QUOTA",
        "update_quota": {"quota_configs": [{
            "role": "web/dev",
            "limits": {"cpus": {"value": 1}}
        }]}
    });
    let (status, body) = api(addr, &nested.to_string(), "application/json").await;
    assert_eq!(status, 400);
    assert_eq!(
        String::from_utf8_lossy(&body),
        "Updating quota on nested role 'web/dev' is not supported yet"
    );

    // A framework of `web` is held to its limit.
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), with_role("web"), false);
    recv(&mut rx).await;
    let offer = loop {
        let event = recv(&mut rx).await;
        if event.name == "mesos.internal.ResourceOffersMessage" {
            break decode::<ResourceOffersMessage>(&event).offers.remove(0);
        }
    };
    let offered = Resources::from(offer.resources.clone());
    assert_eq!(offered.cpus(), Some(1.5));
    assert_eq!(offered.mem(), Some(512 << 20));

    // A new master recovers the quota from the registry.
    let done = runtime.wait("master");
    master.terminate();
    done.await;
    let master = start_master(&runtime, flags, Box::new(FileStore::new(dir.path())));
    recovered(&master).await;
    let (status, body) = api(addr, r#"{"type":"GET_QUOTA"}"#, "application/json").await;
    assert_eq!(status, 200);
    let response: Value = serde_json::from_slice(&body).unwrap();
    let configs = &response["get_quota"]["status"]["configs"];
    assert_eq!(configs[0]["role"], json!("web"), "{response}");
    assert_eq!(configs[0]["limits"]["cpus"]["value"], json!(1.5));

    let remove = json!({"type": "REMOVE_QUOTA", "remove_quota": {"role": "web"}});
    let (status, _) = api(addr, &remove.to_string(), "application/json").await;
    assert_eq!(status, 200);
    let (_, body) = api(addr, r#"{"type":"GET_QUOTA"}"#, "application/json").await;
    let response: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        response["get_quota"]["status"].get("configs").is_none(),
        "{response}"
    );
}

#[actix_rt::test]
async fn with_quota_offers_wait_after_a_failover_until_agents_are_back() {
    use mesos_proto::mesos::internal::{ReregisterSlaveMessage, SlaveReregisteredMessage};

    let dir = tempfile::tempdir().unwrap();
    let work_dir = dir.path().to_str().unwrap().to_string();
    let runtime = runtime();
    let flags = flags(&[
        "--registry=replicated_log",
        &format!("--work_dir={work_dir}"),
        "--allocator_agent_recovery_factor=1.0",
    ]);
    let master = start_master(
        &runtime,
        flags.clone(),
        Box::new(FileStore::new(dir.path())),
    );
    recovered(&master).await;
    let mut agents = Vec::new();
    for id in ["slave(1)", "slave(2)"] {
        let (agent, mut agent_rx) = register_agent(&runtime, master.upid(), id);
        let slave_id = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await).slave_id;
        agents.push((agent, agent_rx, slave_id));
    }
    let (status, _) = http(runtime.address(), "POST", "/master/quota", WEB_CPUS_2).await;
    assert_eq!(status, 200);

    let done = runtime.wait("master");
    master.terminate();
    done.await;
    let master = start_master(&runtime, flags, Box::new(FileStore::new(dir.path())));
    recovered(&master).await;
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), with_role("web"), false);
    recv(&mut rx).await;
    let reregister = |index: usize, agents: &mut Vec<_>| {
        let (agent, _, slave_id): &mut (
            libprocess::PID<Agent>,
            UnboundedReceiver<MessageEvent>,
            mesos_proto::mesos::SlaveId,
        ) = &mut agents[index];
        let mut slave = slave_info("agent.example");
        slave.id = Some(slave_id.clone());
        slave.resources = Resources::parse("cpus:2;mem:1024", "*").unwrap().to_vec();
        let message = ReregisterSlaveMessage {
            slave,
            version: Some("1.11.0".into()),
            ..Default::default()
        };
        let to = master.upid().clone();
        agent.dispatch(move |this, _| this.base.send(&to, &message));
    };
    // One agent of two back: the allocator waits for the other.
    reregister(0, &mut agents);
    decode::<SlaveReregisteredMessage>(&next(&mut agents[0].1).await);
    assert_eq!(offers_within(&mut rx, 600).await, 0);
    // Both back: offers resume.
    reregister(1, &mut agents);
    decode::<SlaveReregisteredMessage>(&next(&mut agents[1].1).await);
    assert!(offers_within(&mut rx, 2000).await > 0);
    let _ = scheduler;
}
