//! v0 authentication (CRAM-MD5) message by message: a raw-libprocess
//! authenticatee talks to the master's `crammd5-authenticator-session(N)`,
//! then a scheduler or agent stand-in registers (upstream
//! `authentication_tests.cpp`, `cram_md5_authentication_tests.cpp`).

use std::time::Duration;

use libprocess::actix::{Actor, Context};
use libprocess::{MessageEvent, Process, ProcessBase, Runtime, PID, UPID};
use mesos_authentication::cram_md5;
use mesos_proto::mesos::internal::{
    AuthenticateMessage, AuthenticationMechanismsMessage, AuthenticationStartMessage,
    AuthenticationStepMessage, FrameworkErrorMessage, FrameworkRegisteredMessage,
};
use mesos_proto::mesos::Credential;
use tokio::sync::mpsc;

use crate::frameworks::{info, recv, spawn_scheduler, subscribe};
use crate::support::*;

/// A raw authenticatee: records whatever the master's session sends.
pub struct Client {
    pub base: ProcessBase<Self>,
    tx: mpsc::UnboundedSender<MessageEvent>,
}

impl Actor for Client {
    type Context = Context<Self>;
}

impl Process for Client {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        for name in [
            "mesos.internal.AuthenticationMechanismsMessage",
            "mesos.internal.AuthenticationStepMessage",
            "mesos.internal.AuthenticationCompletedMessage",
            "mesos.internal.AuthenticationFailedMessage",
            "mesos.internal.AuthenticationErrorMessage",
        ] {
            self.base.install_raw(name, |this, _ctx, event| {
                let _ = this.tx.send(event);
            });
        }
    }
}
libprocess::process_handlers!(Client);

fn spawn_client(runtime: &Runtime) -> (PID<Client>, mpsc::UnboundedReceiver<MessageEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let id = libprocess::id::generate("crammd5-authenticatee");
    (
        runtime
            .spawn(Client {
                base: ProcessBase::new(id),
                tx,
            })
            .unwrap(),
        rx,
    )
}

fn send<M: mesos_proto::Message + Send + 'static>(client: &PID<Client>, to: &UPID, message: M) {
    let to = to.clone();
    client.dispatch(move |this, _| this.base.send(&to, &message));
}

/// A master requiring `flags` with the credential `test-principal` /
/// `test-secret`.
fn start(
    runtime: &Runtime,
    dir: &tempfile::TempDir,
    extra: &[&str],
) -> PID<mesos_master::master::Master> {
    let path = dir.path().join("credentials");
    std::fs::write(
        &path,
        r#"{"credentials":[{"principal":"test-principal","secret":"test-secret"}]}"#,
    )
    .unwrap();
    let credentials = format!("--credentials={}", path.display());
    let mut args = vec![credentials.as_str()];
    args.extend_from_slice(extra);
    start_master(
        runtime,
        flags(&args),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    )
}

/// Runs the exchange for client `pid` with `secret`; returns the last
/// message's name and the challenge.
async fn exchange(
    client: &PID<Client>,
    rx: &mut mpsc::UnboundedReceiver<MessageEvent>,
    master: &UPID,
    pid: &UPID,
    secret: &str,
) -> (String, String) {
    send(
        client,
        master,
        AuthenticateMessage {
            pid: pid.to_string(),
        },
    );
    let mechanisms = recv(rx).await;
    assert_eq!(
        mechanisms.name,
        "mesos.internal.AuthenticationMechanismsMessage"
    );
    assert!(
        mechanisms
            .from
            .id
            .starts_with("crammd5-authenticator-session("),
        "{}",
        mechanisms.from
    );
    let offered: AuthenticationMechanismsMessage = decode(&mechanisms);
    assert_eq!(offered.mechanisms, vec!["CRAM-MD5".to_string()]);
    let session = mechanisms.from.clone();
    send(
        client,
        &session,
        AuthenticationStartMessage {
            mechanism: "CRAM-MD5".into(),
            data: Some(Vec::new()),
        },
    );
    let step = recv(rx).await;
    assert_eq!(step.name, "mesos.internal.AuthenticationStepMessage");
    assert_eq!(step.from, session);
    let challenge = String::from_utf8(decode::<AuthenticationStepMessage>(&step).data).unwrap();
    let response = cram_md5::response("test-principal", secret.as_bytes(), challenge.as_bytes());
    send(
        client,
        &session,
        AuthenticationStepMessage { data: response },
    );
    let last = recv(rx).await;
    assert_eq!(last.from, session);
    (last.name, challenge)
}

/// Returns whether `challenge` is `<digits.digits@host>`, SASL's form.
fn sasl_challenge(challenge: &str) -> bool {
    let Some(inner) = challenge
        .strip_prefix('<')
        .and_then(|c| c.strip_suffix('>'))
    else {
        return false;
    };
    let Some((stamp, host)) = inner.split_once('@') else {
        return false;
    };
    let Some((random, time)) = stamp.split_once('.') else {
        return false;
    };
    !host.is_empty()
        && [random, time]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[actix_rt::test]
async fn authenticated_framework_registers_with_its_principal() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let master = start(&runtime, &dir, &["--authenticate_frameworks"]);
    recovered(&master).await;

    let client_runtime = super::support::runtime();
    let (client, mut client_rx) = spawn_client(&client_runtime);
    let (scheduler, mut scheduler_rx) = spawn_scheduler(&client_runtime);
    let (last, challenge) = exchange(
        &client,
        &mut client_rx,
        master.upid(),
        scheduler.upid(),
        "test-secret",
    )
    .await;
    assert_eq!(last, "mesos.internal.AuthenticationCompletedMessage");
    assert!(sasl_challenge(&challenge), "{challenge}");

    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let event = recv(&mut scheduler_rx).await;
    assert_eq!(event.name, "mesos.internal.FrameworkRegisteredMessage");
    let id = decode::<FrameworkRegisteredMessage>(&event)
        .framework_id
        .value;
    // The framework did not set a principal: the authenticated one is used.
    let principal = master
        .call(move |m, _| m.frameworks.registered[&id].info.principal.clone())
        .await
        .unwrap();
    assert_eq!(principal.as_deref(), Some("test-principal"));
}

#[actix_rt::test]
async fn wrong_secret_fails_and_registration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let master = start(&runtime, &dir, &["--authenticate_frameworks"]);
    recovered(&master).await;

    let (client, mut client_rx) = spawn_client(&runtime);
    let (scheduler, mut scheduler_rx) = spawn_scheduler(&runtime);
    let (last, _) = exchange(
        &client,
        &mut client_rx,
        master.upid(),
        scheduler.upid(),
        "wrong-secret",
    )
    .await;
    assert_eq!(last, "mesos.internal.AuthenticationFailedMessage");

    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let error: FrameworkErrorMessage = decode(&recv(&mut scheduler_rx).await);
    assert_eq!(
        error.message,
        format!("Framework at {} is not authenticated", scheduler.upid())
    );
}

#[actix_rt::test]
async fn unauthenticated_framework_is_refused_and_a_mismatched_principal_too() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let master = start(&runtime, &dir, &["--authenticate_frameworks"]);
    recovered(&master).await;

    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let error: FrameworkErrorMessage = decode(&recv(&mut rx).await);
    assert_eq!(
        error.message,
        format!("Framework at {} is not authenticated", scheduler.upid())
    );

    // Authenticated as test-principal but claiming another principal.
    let (client, mut client_rx) = spawn_client(&runtime);
    let (last, _) = exchange(
        &client,
        &mut client_rx,
        master.upid(),
        scheduler.upid(),
        "test-secret",
    )
    .await;
    assert_eq!(last, "mesos.internal.AuthenticationCompletedMessage");
    let mut claimed = info(None, 0.0);
    claimed.principal = Some("other".into());
    subscribe(&scheduler, master.upid(), claimed, false);
    let error: FrameworkErrorMessage = decode(&recv(&mut rx).await);
    assert_eq!(
        error.message,
        "Framework principal 'other' does not match authenticated principal 'test-principal'"
    );
}

#[actix_rt::test]
async fn protocol_errors_get_an_error_message() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let master = start(&runtime, &dir, &[]);
    recovered(&master).await;

    let (client, mut rx) = spawn_client(&runtime);
    send(
        &client,
        master.upid(),
        AuthenticateMessage {
            pid: client.upid().to_string(),
        },
    );
    let session = recv(&mut rx).await.from;
    // A step before the start.
    send(
        &client,
        &session,
        AuthenticationStepMessage { data: vec![] },
    );
    let event = recv(&mut rx).await;
    assert_eq!(event.name, "mesos.internal.AuthenticationErrorMessage");
    let error: mesos_proto::mesos::internal::AuthenticationErrorMessage = decode(&event);
    assert_eq!(
        error.error.as_deref(),
        Some("Unexpected authentication 'step' received")
    );

    // An answer without a principal.
    send(
        &client,
        master.upid(),
        AuthenticateMessage {
            pid: client.upid().to_string(),
        },
    );
    let session = recv(&mut rx).await.from;
    send(
        &client,
        &session,
        AuthenticationStartMessage {
            mechanism: "CRAM-MD5".into(),
            data: Some(Vec::new()),
        },
    );
    let _challenge = recv(&mut rx).await;
    send(
        &client,
        &session,
        AuthenticationStepMessage {
            data: b"nospace".to_vec(),
        },
    );
    let error: mesos_proto::mesos::internal::AuthenticationErrorMessage =
        decode(&recv(&mut rx).await);
    assert_eq!(
        error.error.as_deref(),
        Some("SASL(-5): bad protocol / cancel: need authentication name")
    );
}

/// Waits until the master counted `n` `RegisterSlaveMessage`s.
async fn register_count(addr: std::net::SocketAddrV4, n: u64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for _ in 0..500 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = "GET /metrics/snapshot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        if response.contains(&format!(r#""master\/messages_register_slave":{n}.0"#)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the master did not count {n} registrations");
}

#[actix_rt::test]
async fn agents_register_only_once_authenticated_and_are_queued_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let master = start(&runtime, &dir, &["--authenticate_agents"]);
    recovered(&master).await;
    let addr = runtime.address();

    let agent_runtime = super::support::runtime();
    let (agent, mut agent_rx) = spawn_agent(&agent_runtime, "slave(1)");
    // Not authenticated: ignored.
    register(&agent, master.upid(), "1.11.0");
    register_count(addr, 1).await;
    assert!(master
        .call(|m, _| m.slaves.registered.is_empty())
        .await
        .unwrap());

    // Registration while authenticating is queued, then admitted.
    let (client, mut client_rx) = spawn_client(&agent_runtime);
    send(
        &client,
        master.upid(),
        AuthenticateMessage {
            pid: agent.upid().to_string(),
        },
    );
    let session = recv(&mut client_rx).await.from;
    register(&agent, master.upid(), "1.11.0");
    register_count(addr, 2).await;
    send(
        &client,
        &session,
        AuthenticationStartMessage {
            mechanism: "CRAM-MD5".into(),
            data: Some(Vec::new()),
        },
    );
    let challenge = decode::<AuthenticationStepMessage>(&recv(&mut client_rx).await).data;
    send(
        &client,
        &session,
        AuthenticationStepMessage {
            data: cram_md5::response("test-principal", b"test-secret", &challenge),
        },
    );
    assert_eq!(
        recv(&mut client_rx).await.name,
        "mesos.internal.AuthenticationCompletedMessage"
    );
    assert_eq!(
        next(&mut agent_rx).await.name,
        "mesos.internal.SlaveRegisteredMessage"
    );
    // The queued message ran again once the authentication ended.
    register_count(addr, 3).await;
}

#[actix_rt::test]
async fn the_authenticatee_library_completes_and_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let master = start(&runtime, &dir, &["--authenticate_frameworks"]);
    recovered(&master).await;
    let client_runtime = super::support::runtime();
    let (scheduler, mut rx) = spawn_scheduler(&client_runtime);

    let credential = |secret: &str| Credential {
        principal: "test-principal".into(),
        secret: Some(secret.into()),
    };
    let refused = cram_md5::authenticatee::authenticate(
        &client_runtime,
        master.upid().clone(),
        scheduler.upid().clone(),
        credential("nope"),
    )
    .unwrap()
    .await;
    assert_eq!(refused, Ok(false));
    let accepted = cram_md5::authenticatee::authenticate(
        &client_runtime,
        master.upid().clone(),
        scheduler.upid().clone(),
        credential("test-secret"),
    )
    .unwrap()
    .await;
    assert_eq!(accepted, Ok(true));
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    assert_eq!(
        recv(&mut rx).await.name,
        "mesos.internal.FrameworkRegisteredMessage"
    );
}

#[actix_rt::test]
async fn an_unanswered_authentication_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let master = start(
        &runtime,
        &dir,
        &[
            "--authenticate_frameworks",
            "--authentication_v0_timeout=100ms",
        ],
    );
    recovered(&master).await;
    let (client, mut client_rx) = spawn_client(&runtime);
    let (scheduler, mut rx) = spawn_scheduler(&runtime);
    send(
        &client,
        master.upid(),
        AuthenticateMessage {
            pid: scheduler.upid().to_string(),
        },
    );
    let _mechanisms = recv(&mut client_rx).await;
    let pid = scheduler.upid().clone();
    for _ in 0..500 {
        let key = pid.clone();
        if !master
            .call(move |m, _| m.auth.in_progress(&key))
            .await
            .unwrap()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    subscribe(&scheduler, master.upid(), info(None, 0.0), false);
    let error: FrameworkErrorMessage = decode(&recv(&mut rx).await);
    assert_eq!(
        error.message,
        format!("Framework at {} is not authenticated", scheduler.upid())
    );
}
