//! The server side: one `crammd5-authenticator-session(N)` process per
//! authentication, talking to the client's authenticatee.
//!
//! Upstream counterpart: `CRAMMD5Authenticator`,
//! `CRAMMD5AuthenticatorProcess` and `CRAMMD5AuthenticatorSessionProcess`
//! in `src/authentication/cram_md5/authenticator.cpp`. The facade here
//! holds the secrets (upstream loads them into SASL's in-memory auxiliary
//! property plugin) and spawns sessions; the caller (the master) keeps one
//! session per client pid, which upstream's intermediate
//! `crammd5-authenticator(N)` process does.
//!
//! A session links to the authenticatee, offers `CRAM-MD5`, and ends with
//! `AuthenticationCompletedMessage` (the principal), `AuthenticationFailed
//! Message` (`None`) or `AuthenticationErrorMessage` (an error). It stops
//! itself once it has an outcome; stopping it earlier (the master's
//! `--authentication_v0_timeout`) discards the authentication.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use actix::{ActorContext as _, Context};
use futures::channel::oneshot;
use libprocess::{Process, ProcessBase, Runtime, PID, UPID};
use mesos_proto::mesos::internal::{
    AuthenticationCompletedMessage, AuthenticationErrorMessage, AuthenticationFailedMessage,
    AuthenticationMechanismsMessage, AuthenticationStartMessage, AuthenticationStepMessage,
};
use mesos_proto::mesos::Credentials;

use super::{check_start, new_challenge, verify, MECHANISM};
use crate::AuthenticationError;

/// What an authentication ends with: the principal, or `None` when the
/// credentials were refused.
pub type Outcome = Result<Option<String>, AuthenticationError>;

/// The CRAM-MD5 authenticator (upstream `--authenticators=crammd5`).
#[derive(Clone, Default)]
pub struct CramMd5Authenticator {
    secrets: Arc<HashMap<String, String>>,
    host: Arc<str>,
}

impl CramMd5Authenticator {
    /// Returns an authenticator that knows `credentials`; without any,
    /// every authentication is refused, as upstream warns.
    pub fn new(credentials: Option<&Credentials>) -> Self {
        let secrets: HashMap<String, String> = match credentials {
            Some(credentials) => credentials
                .credentials
                .iter()
                .map(|c| (c.principal.clone(), c.secret.clone().unwrap_or_default()))
                .collect(),
            None => {
                tracing::warn!("No credentials provided, authentication requests will be refused");
                HashMap::new()
            }
        };
        let host = libprocess::os::hostname().unwrap_or_else(|_| "localhost".to_string());
        Self {
            secrets: Arc::new(secrets),
            host: Arc::from(host),
        }
    }

    /// Starts authenticating the client whose authenticatee is `from`:
    /// spawns its session on `runtime`.
    pub fn authenticate(
        &self,
        runtime: &Runtime,
        from: UPID,
    ) -> Result<Session, libprocess::SpawnError> {
        let (tx, rx) = oneshot::channel();
        let process = SessionProcess {
            base: ProcessBase::new(libprocess::id::generate("crammd5-authenticator-session")),
            pid: from,
            status: Status::Ready,
            challenge: Vec::new(),
            secrets: self.secrets.clone(),
            host: self.host.clone(),
            promise: Some(tx),
        };
        let pid = runtime.spawn(process)?;
        Ok(Session { pid, outcome: rx })
    }
}

/// A running authentication; resolves to its [`Outcome`]. Dropping it does
/// not stop the session: call [`Session::discard`] (or
/// [`SessionHandle::discard`]) for that.
pub struct Session {
    pid: PID<SessionProcess>,
    outcome: oneshot::Receiver<Outcome>,
}

impl Session {
    /// Returns a handle that can discard the session later.
    pub fn handle(&self) -> SessionHandle {
        SessionHandle {
            pid: self.pid.clone(),
        }
    }
}

impl Future for Session {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Outcome> {
        Pin::new(&mut self.outcome)
            .poll(cx)
            .map(|result| result.unwrap_or(Err(AuthenticationError::Discarded)))
    }
}

/// Stops a session from outside.
#[derive(Clone)]
pub struct SessionHandle {
    pid: PID<SessionProcess>,
}

impl SessionHandle {
    /// Stops the session; its outcome becomes
    /// [`AuthenticationError::Discarded`] if it had none yet.
    pub fn discard(&self) {
        self.pid.dispatch(|session, ctx| {
            session.finish(Err(AuthenticationError::Discarded));
            ctx.stop();
        });
    }

    /// Returns the session's UPID.
    pub fn upid(&self) -> &UPID {
        self.pid.upid()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ready,
    Starting,
    Stepping,
    Done,
}

/// `crammd5-authenticator-session(N)`.
pub struct SessionProcess {
    base: ProcessBase<Self>,
    /// The authenticatee.
    pid: UPID,
    status: Status,
    challenge: Vec<u8>,
    secrets: Arc<HashMap<String, String>>,
    host: Arc<str>,
    promise: Option<oneshot::Sender<Outcome>>,
}

impl SessionProcess {
    fn finish(&mut self, outcome: Outcome) {
        self.status = Status::Done;
        if let Some(promise) = self.promise.take() {
            let _ = promise.send(outcome);
        }
    }

    fn error(&mut self, ctx: &mut Context<Self>, error: String) {
        self.base.send(
            &self.pid,
            &AuthenticationErrorMessage {
                error: Some(error.clone()),
            },
        );
        self.finish(Err(AuthenticationError::Error(error)));
        ctx.stop();
    }

    fn start(&mut self, ctx: &mut Context<Self>, message: AuthenticationStartMessage) {
        if self.status != Status::Starting {
            self.error(ctx, "Unexpected authentication 'start' received".into());
            return;
        }
        tracing::info!("Received SASL authentication start");
        let data = message.data.unwrap_or_default();
        if let Err(error) = check_start(&message.mechanism, &data) {
            tracing::error!(error = %error.errdetail(), "Authentication error");
            self.error(ctx, error.errdetail());
            return;
        }
        self.challenge = new_challenge(&self.host).into_bytes();
        tracing::info!("Authentication requires more steps");
        self.base.send(
            &self.pid,
            &AuthenticationStepMessage {
                data: self.challenge.clone(),
            },
        );
        self.status = Status::Stepping;
    }

    fn step(&mut self, ctx: &mut Context<Self>, message: AuthenticationStepMessage) {
        if self.status != Status::Stepping {
            self.error(ctx, "Unexpected authentication 'step' received".into());
            return;
        }
        tracing::info!("Received SASL authentication step");
        let secrets = self.secrets.clone();
        match verify(&self.challenge, &message.data, |principal| {
            secrets.get(principal).map(String::as_str)
        }) {
            Ok(principal) => {
                tracing::info!("Authentication success");
                self.base
                    .send(&self.pid, &AuthenticationCompletedMessage {});
                self.finish(Ok(Some(principal)));
                ctx.stop();
            }
            Err(error) if error.is_refusal() => {
                tracing::warn!(error = %error.code.errstring(), "Authentication failure");
                self.base.send(&self.pid, &AuthenticationFailedMessage {});
                self.finish(Ok(None));
                ctx.stop();
            }
            Err(error) => {
                tracing::error!(error = %error.errdetail(), "Authentication error");
                self.error(ctx, error.errdetail());
            }
        }
    }
}

impl actix::Actor for SessionProcess {
    type Context = Context<Self>;
}

impl Process for SessionProcess {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }

    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }

    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        // Don't bother waiting for a lost authenticatee.
        self.base.link(&self.pid);
        self.base
            .install::<AuthenticationStartMessage>(|this, ctx, _from, message| {
                this.start(ctx, message)
            });
        self.base
            .install::<AuthenticationStepMessage>(|this, ctx, _from, message| {
                this.step(ctx, message)
            });
        tracing::info!(authenticatee = %self.pid, "Creating new server SASL connection");
        self.base.send(
            &self.pid,
            &AuthenticationMechanismsMessage {
                mechanisms: vec![MECHANISM.to_string()],
            },
        );
        self.status = Status::Starting;
    }

    fn exited(&mut self, pid: &UPID, ctx: &mut Context<Self>) {
        if *pid == self.pid && self.status != Status::Done {
            self.finish(Err(AuthenticationError::Error(
                "Failed to communicate with authenticatee".into(),
            )));
            ctx.stop();
        }
    }
}

libprocess::process_handlers!(SessionProcess);

impl Drop for SessionProcess {
    fn drop(&mut self) {
        // Upstream's `finalize`: a session stopped without an outcome is
        // discarded.
        self.finish(Err(AuthenticationError::Discarded));
    }
}
