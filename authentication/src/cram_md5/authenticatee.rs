//! The client side: a `crammd5-authenticatee(N)` process that
//! authenticates a client (an agent's or a scheduler's UPID) with the
//! master.
//!
//! Upstream counterpart: `CRAMMD5Authenticatee` and
//! `CRAMMD5AuthenticateeProcess` in
//! `src/authentication/cram_md5/authenticatee.cpp`. The process sends
//! `AuthenticateMessage{pid: client}` to the master and answers whichever
//! session process replies. It resolves to `true` (completed), `false`
//! (refused) or an error, and stops itself then. Dropping the
//! [`Authentication`] future stops it too (upstream's discard), which is how
//! callers time it out.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use actix::{ActorContext as _, Context};
use futures::channel::oneshot;
use libprocess::{Process, ProcessBase, Runtime, PID, UPID};
use mesos_proto::mesos::internal::{
    AuthenticateMessage, AuthenticationCompletedMessage, AuthenticationErrorMessage,
    AuthenticationFailedMessage, AuthenticationMechanismsMessage, AuthenticationStartMessage,
    AuthenticationStepMessage,
};
use mesos_proto::mesos::Credential;

use super::{check_length, response, MECHANISM};
use crate::AuthenticationError;

/// Starts authenticating `client` with the master at `master` using
/// `credential`, in a new `crammd5-authenticatee(N)` process on `runtime`.
///
/// A credential without a secret is refused at once, as upstream.
pub fn authenticate(
    runtime: &Runtime,
    master: UPID,
    client: UPID,
    credential: Credential,
) -> Result<Authentication, libprocess::SpawnError> {
    let (tx, rx) = oneshot::channel();
    let Some(secret) = credential.secret.clone() else {
        tracing::warn!("Authentication failed; secret needed by CRAM-MD5 authenticatee");
        let _ = tx.send(Ok(false));
        return Ok(Authentication {
            pid: None,
            outcome: rx,
        });
    };
    let process = AuthenticateeProcess {
        base: ProcessBase::new(libprocess::id::generate("crammd5-authenticatee")),
        principal: credential.principal,
        secret,
        client,
        master,
        status: Status::Ready,
        promise: Some(tx),
    };
    let pid = runtime.spawn(process)?;
    Ok(Authentication {
        pid: Some(pid),
        outcome: rx,
    })
}

/// A running authentication: `true` once the master completed it, `false`
/// if it refused the credential. Dropping it stops the authenticatee.
pub struct Authentication {
    pid: Option<PID<AuthenticateeProcess>>,
    outcome: oneshot::Receiver<Result<bool, AuthenticationError>>,
}

impl Authentication {
    /// Returns the authenticatee's UPID (none when it never started).
    pub fn upid(&self) -> Option<&UPID> {
        self.pid.as_ref().map(PID::upid)
    }
}

impl Future for Authentication {
    type Output = Result<bool, AuthenticationError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.outcome)
            .poll(cx)
            .map(|result| result.unwrap_or(Err(AuthenticationError::Discarded)))
    }
}

impl Drop for Authentication {
    fn drop(&mut self) {
        if let Some(pid) = &self.pid {
            pid.terminate();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ready,
    Starting,
    Stepping,
    Done,
}

/// `crammd5-authenticatee(N)`.
pub struct AuthenticateeProcess {
    base: ProcessBase<Self>,
    principal: String,
    secret: String,
    client: UPID,
    master: UPID,
    status: Status,
    promise: Option<oneshot::Sender<Result<bool, AuthenticationError>>>,
}

impl AuthenticateeProcess {
    fn finish(&mut self, ctx: &mut Context<Self>, outcome: Result<bool, AuthenticationError>) {
        self.status = Status::Done;
        if let Some(promise) = self.promise.take() {
            let _ = promise.send(outcome);
        }
        ctx.stop();
    }

    fn unexpected(&mut self, ctx: &mut Context<Self>, what: &str) {
        self.finish(
            ctx,
            Err(AuthenticationError::Error(format!(
                "Unexpected authentication '{what}' received"
            ))),
        );
    }

    fn mechanisms(&mut self, ctx: &mut Context<Self>, from: UPID, mechanisms: Vec<String>) {
        if self.status != Status::Starting {
            self.unexpected(ctx, "mechanisms");
            return;
        }
        tracing::info!(
            mechanisms = %mechanisms.join(","),
            "Received SASL authentication mechanisms"
        );
        if !mechanisms.iter().any(|m| m == MECHANISM) {
            let error = "Failed to start the SASL client: SASL(-4): no mechanism available: \
                         No worthy mechs found"
                .to_string();
            self.finish(ctx, Err(AuthenticationError::Error(error)));
            return;
        }
        tracing::info!("Attempting to authenticate with mechanism '{MECHANISM}'");
        // CRAM-MD5 has no initial response; the field is set, and empty.
        self.base.send(
            &from,
            &AuthenticationStartMessage {
                mechanism: MECHANISM.to_string(),
                data: Some(Vec::new()),
            },
        );
        self.status = Status::Stepping;
    }

    fn step(&mut self, ctx: &mut Context<Self>, from: UPID, data: Vec<u8>) {
        if self.status != Status::Stepping {
            self.unexpected(ctx, "step");
            return;
        }
        tracing::info!("Received SASL authentication step");
        if let Err(error) = check_length(&data) {
            let error = format!(
                "Failed to perform authentication step: {}",
                error.errdetail()
            );
            self.finish(ctx, Err(AuthenticationError::Error(error)));
            return;
        }
        self.base.send(
            &from,
            &AuthenticationStepMessage {
                data: response(&self.principal, self.secret.as_bytes(), &data),
            },
        );
    }
}

impl actix::Actor for AuthenticateeProcess {
    type Context = Context<Self>;
}

impl Process for AuthenticateeProcess {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }

    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }

    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        let base = &mut self.base;
        base.install::<AuthenticationMechanismsMessage>(|this, ctx, from, message| {
            this.mechanisms(ctx, from, message.mechanisms)
        });
        base.install::<AuthenticationStepMessage>(|this, ctx, from, message| {
            this.step(ctx, from, message.data)
        });
        base.install::<AuthenticationCompletedMessage>(|this, ctx, _from, _message| {
            if this.status != Status::Stepping {
                this.unexpected(ctx, "completed");
                return;
            }
            tracing::info!("Authentication success");
            this.finish(ctx, Ok(true));
        });
        base.install::<AuthenticationFailedMessage>(|this, ctx, _from, _message| {
            this.finish(ctx, Ok(false));
        });
        base.install::<AuthenticationErrorMessage>(|this, ctx, _from, message| {
            let error = format!(
                "Authentication error: {}",
                message.error.unwrap_or_default()
            );
            this.finish(ctx, Err(AuthenticationError::Error(error)));
        });
        tracing::info!(master = %self.master, "Creating new client SASL connection");
        self.base.send(
            &self.master,
            &AuthenticateMessage {
                pid: self.client.to_string(),
            },
        );
        self.status = Status::Starting;
    }
}

libprocess::process_handlers!(AuthenticateeProcess);

impl Drop for AuthenticateeProcess {
    fn drop(&mut self) {
        if let Some(promise) = self.promise.take() {
            let _ = promise.send(Err(AuthenticationError::Discarded));
        }
    }
}
