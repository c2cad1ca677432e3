//! The agent with `--credential` against a master requiring agent
//! authentication (upstream `authentication_tests.cpp`: `AuthenticatedSlave`,
//! `UnauthenticatedSlave`, `InvalidCredentialSlave`), each side in its own
//! libprocess runtime.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::sync::Arc;
use std::time::Duration;

use libprocess::{Runtime, PID};
use mesos_agent::slave::{AuthenticationConfig, Slave};
use mesos_master::master::Master;
use mesos_master::registrar::{InMemoryStore, Registrar};
use mesos_proto::mesos::Credential;

use support::*;

fn start_authenticating_master(runtime: &Runtime, dir: &tempfile::TempDir) -> PID<Master> {
    let path = dir.path().join("credentials");
    std::fs::write(&path, "agent-principal agent-secret\n").unwrap();
    let args = [
        "mesos-master".to_string(),
        "--registry=in_memory".to_string(),
        "--authenticate_agents".to_string(),
        format!("--credentials=file://{}", path.display()),
    ];
    let flags = Arc::new(mesos_master::flags::Flags::parse_from_args(args).unwrap());
    let registrar = Arc::new(Registrar::new(Box::<InMemoryStore>::default()));
    mesos_master::master::spawn(runtime, flags, registrar).unwrap()
}

fn start_agent_with(
    runtime: &Runtime,
    master: &PID<Master>,
    work_dir: &std::path::Path,
    secret: Option<&str>,
) -> PID<Slave> {
    let mut config = agent_config(runtime, master.upid(), work_dir, bin_dir());
    config.authentication = secret.map(|secret| AuthenticationConfig {
        credential: Credential {
            principal: "agent-principal".into(),
            secret: Some(secret.into()),
        },
        backoff_factor: Duration::from_millis(100),
        timeout_min: Duration::from_secs(5),
        timeout_max: Duration::from_secs(10),
    });
    mesos_agent::spawn(runtime, config).unwrap()
}

#[actix_rt::test]
async fn an_agent_with_a_credential_authenticates_then_registers() {
    let dir = tempfile::tempdir().unwrap();
    let master_runtime = runtime();
    let master = start_authenticating_master(&master_runtime, &dir);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let agent = start_agent_with(
        &agent_runtime,
        &master,
        work_dir.path(),
        Some("agent-secret"),
    );

    let mut registered = false;
    for _ in 0..1000 {
        if agent.call(|a, _| a.registered).await.unwrap() {
            registered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(registered, "the authenticated agent registered");
    let upid = agent.upid().clone();
    let principal = master
        .call(move |m, _| m.auth.authenticated.get(&upid).cloned())
        .await
        .unwrap();
    assert_eq!(principal.as_deref(), Some("agent-principal"));
}

#[actix_rt::test]
async fn a_refused_credential_stops_the_agent_and_none_is_not_admitted() {
    let dir = tempfile::tempdir().unwrap();
    let master_runtime = runtime();
    let master = start_authenticating_master(&master_runtime, &dir);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();

    // A wrong secret: the master refuses it and the agent gives up.
    let refused = start_agent_with(&agent_runtime, &master, work_dir.path(), Some("wrong"));
    let mut stopped = false;
    for _ in 0..1000 {
        if refused.call(|a, _| a.registered).await.is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stopped, "the agent stopped after the refusal");
    assert!(mesos_agent::slave::authentication_refused());

    // No credential at all: its registrations are ignored.
    let other_dir = tempfile::tempdir().unwrap();
    let silent = start_agent_with(&agent_runtime, &master, other_dir.path(), None);
    // Wait until the master has seen (and ignored) a registration.
    let addr = master_runtime.address();
    let mut seen = false;
    for _ in 0..1000 {
        if registrations(addr).await >= 1.0 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen, "the master received the registration");
    assert!(!silent.call(|a, _| a.registered).await.unwrap());
    assert!(master
        .call(|m, _| m.slaves.registered.is_empty())
        .await
        .unwrap());
}

/// Returns `master/messages_register_slave` from `/metrics/snapshot`.
async fn registrations(addr: std::net::SocketAddrV4) -> f64 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = "GET /metrics/snapshot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let body = &response[response.find("\r\n\r\n").unwrap() + 4..];
    let start = body.find('{').unwrap();
    let end = body.rfind('}').unwrap();
    let json: serde_json::Value = serde_json::from_str(&body[start..=end]).unwrap();
    json["master/messages_register_slave"]
        .as_f64()
        .unwrap_or(0.0)
}

/// A master that never answers authentication: records what it gets.
struct SilentMaster {
    base: libprocess::ProcessBase<Self>,
    tx: tokio::sync::mpsc::UnboundedSender<libprocess::MessageEvent>,
}

impl libprocess::actix::Actor for SilentMaster {
    type Context = libprocess::actix::Context<Self>;
}

impl libprocess::Process for SilentMaster {
    fn base(&self) -> &libprocess::ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut libprocess::ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut libprocess::actix::Context<Self>) {
        for name in [
            "mesos.internal.AuthenticateMessage",
            "mesos.internal.RegisterSlaveMessage",
        ] {
            self.base.install_raw(name, |this, _ctx, event| {
                let _ = this.tx.send(event);
            });
        }
    }
}
libprocess::process_handlers!(SilentMaster);

#[actix_rt::test]
async fn an_unanswered_authentication_is_retried_and_registration_waits() {
    let master_runtime = runtime();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let master = master_runtime
        .spawn(SilentMaster {
            base: libprocess::ProcessBase::new("master"),
            tx,
        })
        .unwrap();
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let mut config = agent_config(&agent_runtime, master.upid(), work_dir.path(), bin_dir());
    config.authentication = Some(AuthenticationConfig {
        credential: Credential {
            principal: "agent-principal".into(),
            secret: Some("agent-secret".into()),
        },
        backoff_factor: Duration::from_millis(10),
        timeout_min: Duration::from_millis(50),
        timeout_max: Duration::from_millis(200),
    });
    let agent = mesos_agent::spawn(&agent_runtime, config).unwrap();

    // Each attempt comes from a fresh authenticatee, for the agent's pid;
    // no registration is sent meanwhile.
    let mut authenticatees = Vec::new();
    while authenticatees.len() < 3 {
        let event = recv(&mut rx, "mesos.internal.AuthenticateMessage").await;
        let message: mesos_proto::mesos::internal::AuthenticateMessage = decode(&event);
        assert_eq!(message.pid, agent.upid().to_string());
        assert!(
            event.from.id.starts_with("crammd5-authenticatee("),
            "{}",
            event.from
        );
        assert!(!authenticatees.contains(&event.from));
        authenticatees.push(event.from);
    }
    while let Ok(event) = rx.try_recv() {
        assert_ne!(event.name, "mesos.internal.RegisterSlaveMessage");
    }
    assert!(!agent.call(|a, _| a.registered).await.unwrap());
}
