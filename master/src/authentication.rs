//! v0 authentication of frameworks and agents: `AuthenticateMessage`, one
//! CRAM-MD5 session per client, and the gate registrations pass through.
//!
//! Upstream counterpart: `Master::authenticate`, `_authenticate`,
//! `authenticationTimeout` and `validateFrameworkAuthentication` in
//! `src/master/master.cpp`, and the authentication checks at the top of
//! `registerSlave`, `reregisterSlave` and `subscribe`.
//!
//! A client's authenticatee sends `AuthenticateMessage{pid: client}`; the
//! master starts a `crammd5-authenticator-session(N)` with the
//! authenticatee (see [`mesos_authentication::cram_md5::authenticator`])
//! and binds the resulting principal to the client pid. Registrations from
//! a pid whose authentication is in progress are queued and replayed once
//! it ends (dropped if it was discarded or failed in error); with
//! `--authenticate_frameworks` / `--authenticate_agents` they are refused
//! unless the pid authenticated. An authentication that does not finish
//! within `--authentication_v0_timeout` is discarded. The binding goes when
//! the framework disconnects or the agent is removed, so a client always
//! authenticates again before re-registering.

use std::collections::HashMap;

use actix::{ActorFutureExt as _, AsyncContext as _, Context, WrapFuture as _};
use libprocess::UPID;
use mesos_authentication::cram_md5::authenticator::{CramMd5Authenticator, Outcome, SessionHandle};
use mesos_authentication::AuthenticationError;
use mesos_proto::mesos::FrameworkInfo;

use crate::flags::Flags;
use crate::master::Master;

/// A registration waiting for its sender's authentication to end.
pub(crate) type Queued = Box<dyn FnOnce(&mut Master, &mut Context<Master>)>;

pub(crate) struct Authenticating {
    attempt: u64,
    session: SessionHandle,
    queued: Vec<Queued>,
}

/// The master's authentication state.
#[derive(Default)]
pub struct Authentications {
    authenticator: Option<CramMd5Authenticator>,
    authenticating: HashMap<UPID, Authenticating>,
    /// Principals by the client pid they authenticated.
    pub authenticated: HashMap<UPID, String>,
    next_attempt: u64,
}

impl Authentications {
    /// Returns the state for `flags`: the `crammd5` authenticator with the
    /// `--credentials` (already checked by `Flags::validate`).
    pub fn new(flags: &Flags) -> Self {
        let credentials = match flags.load_credentials() {
            Ok(credentials) => credentials,
            Err(error) => {
                tracing::error!(%error, "Failed to load --credentials");
                None
            }
        };
        Self {
            authenticator: Some(CramMd5Authenticator::new(credentials.as_ref())),
            ..Default::default()
        }
    }

    /// Returns whether `pid` is authenticating.
    pub fn in_progress(&self, pid: &UPID) -> bool {
        self.authenticating.contains_key(pid)
    }
}

impl Master {
    /// `AuthenticateMessage` from the authenticatee `from` for client `pid`.
    pub(crate) fn authenticate(&mut self, from: UPID, pid: String, ctx: &mut Context<Self>) {
        self.count_authenticate();
        if !self.recovered() {
            tracing::warn!(%from, "Ignoring authenticate message: registry not recovered yet");
            self.metrics.dropped_messages.inc();
            return;
        }
        let pid = UPID::parse_lenient(&pid);
        let erased = self.auth.authenticated.remove(&pid).is_some();
        let runtime = libprocess::Process::base(self).runtime().cloned();
        let (Some(authenticator), Some(runtime)) = (self.auth.authenticator.clone(), runtime)
        else {
            tracing::error!(%pid, "Received authentication request but authenticator is not loaded");
            self.base_send(
                &from,
                &mesos_proto::mesos::internal::AuthenticationErrorMessage {
                    error: Some("No authenticator loaded".into()),
                },
            );
            return;
        };
        if let Some(old) = self.auth.authenticating.remove(&pid) {
            old.session.discard();
            tracing::info!(%pid, "Re-authenticating; discarding outstanding authentication");
        } else if erased {
            tracing::info!(%pid, "Authenticating; clearing previous authentication");
        } else {
            tracing::info!(%pid, "Authenticating");
        }
        let session = match authenticator.authenticate(&runtime, from) {
            Ok(session) => session,
            Err(error) => {
                tracing::error!(%pid, %error, "Failed to start an authentication session");
                return;
            }
        };
        self.auth.next_attempt += 1;
        let attempt = self.auth.next_attempt;
        self.auth.authenticating.insert(
            pid.clone(),
            Authenticating {
                attempt,
                session: session.handle(),
                queued: Vec::new(),
            },
        );
        let key = pid.clone();
        ctx.spawn(
            session
                .into_actor(self)
                .map(move |outcome, this, ctx| this.authenticated(key, attempt, outcome, ctx)),
        );
        self.base.delay(
            self.flags.authentication_v0_timeout,
            &ctx.address(),
            move |this, _ctx| {
                if let Some(a) = this.auth.authenticating.get(&pid) {
                    if a.attempt == attempt {
                        tracing::warn!(%pid, "Authentication timed out");
                        a.session.discard();
                    }
                }
            },
        );
    }

    /// Upstream's `_authenticate`.
    fn authenticated(
        &mut self,
        pid: UPID,
        attempt: u64,
        outcome: Outcome,
        ctx: &mut Context<Self>,
    ) {
        if self.auth.authenticating.get(&pid).map(|a| a.attempt) != Some(attempt) {
            tracing::info!(%pid, "Ignoring stale authentication result");
            return;
        }
        let Some(entry) = self.auth.authenticating.remove(&pid) else {
            return;
        };
        match &outcome {
            Ok(Some(principal)) => {
                tracing::info!(%pid, %principal, "Successfully authenticated principal");
                self.auth.authenticated.insert(pid, principal.clone());
            }
            Ok(None) => {
                tracing::info!(%pid, "Authentication was unsuccessful: Invalid credentials");
            }
            Err(AuthenticationError::Discarded) => {
                tracing::info!(%pid, "Authentication was discarded");
            }
            Err(error) => {
                tracing::warn!(%pid, %error, "An error occurred while attempting to authenticate");
            }
        }
        // As upstream's `onReady`: queued registrations run again once the
        // authentication finished, whatever the verdict.
        if outcome.is_ok() {
            for queued in entry.queued {
                queued(self, ctx);
            }
        }
    }

    /// Queues `then` if `from` is authenticating; returns whether it did.
    pub(crate) fn queue_while_authenticating(&mut self, from: &UPID, then: Queued) -> bool {
        match self.auth.authenticating.get_mut(from) {
            Some(entry) => {
                entry.queued.push(then);
                true
            }
            None => false,
        }
    }

    /// Returns whether an agent at `from` may (re-)register: it must have
    /// authenticated when `--authenticate_agents` is set.
    pub(crate) fn agent_authenticated(&self, from: &UPID) -> bool {
        !self.flags.authenticate_agents || self.auth.authenticated.contains_key(from)
    }

    /// Upstream's `validateFrameworkAuthentication`.
    pub(crate) fn validate_framework_authentication(
        &self,
        info: &FrameworkInfo,
        from: &UPID,
    ) -> Result<(), String> {
        if self.auth.in_progress(from) {
            return Err("Re-authentication in progress".into());
        }
        let authenticated = self.auth.authenticated.get(from);
        if self.flags.authenticate_frameworks && authenticated.is_none() {
            return Err(format!("Framework at {from} is not authenticated"));
        }
        if let (Some(principal), Some(authenticated)) = (&info.principal, authenticated) {
            if principal != authenticated {
                return Err(format!(
                    "Framework principal '{principal}' does not match authenticated \
                     principal '{authenticated}'"
                ));
            }
        }
        Ok(())
    }

    /// Forgets the principal bound to `pid` (a framework disconnected, an
    /// agent was removed): it authenticates again before re-registering.
    pub(crate) fn forget_authentication(&mut self, pid: &UPID) {
        self.auth.authenticated.remove(pid);
    }

    fn base_send<M: mesos_proto::Message>(&self, to: &UPID, message: &M) {
        libprocess::Process::base(self).send(to, message);
    }
}
