//! The v1 executor library: an executor's connection to its agent's
//! `/api/v1/executor`, for any executor written in Rust.
//!
//! Upstream counterpart: `mesos::v1::executor::Mesos`
//! (`include/mesos/v1/executor.hpp`, `src/executor/executor.cpp`:
//! `MesosProcess` and `ShutdownProcess`). [`Mesos::new`] reads nothing
//! itself: it takes a [`MesosConfig`], built from the environment the
//! agent gives every executor with [`MesosConfig::from_env`]. Upstream's
//! three callbacks are [`Notice`]s on a channel:
//!
//! ```text
//! Mesos::new ─ connects (two connections) ─> Notice::Connected
//! executor   ─ send(SUBSCRIBE) ─> 200, RecordIO stream ─> Notice::Received([SUBSCRIBED])
//! executor   ─ send(UPDATE | MESSAGE | HEARTBEAT) ─> 202, in order, on the other connection
//! agent gone ─> Notice::Disconnected; checkpointing: reconnect with a random
//!               backoff up to MESOS_SUBSCRIPTION_BACKOFF_MAX, and after
//!               MESOS_RECOVERY_TIMEOUT a SHUTDOWN event; otherwise SHUTDOWN at once
//! ```
//!
//! A minimal executor:
//!
//! ```no_run
//! use mesos_executor::v1::{Mesos, MesosConfig, Notice};
//! use mesos_proto::mesos::v1::executor::{call, event, Call};
//!
//! # async fn run() -> Result<(), mesos_executor::DriverError> {
//! let config = MesosConfig::from_env()?;
//! let (mesos, mut notices) = Mesos::new(config.clone());
//! while let Some(notice) = notices.recv().await {
//!     match notice {
//!         Notice::Connected => {
//!             let mut subscribe = Call {
//!                 framework_id: config.framework_id.clone(),
//!                 executor_id: config.executor_id.clone(),
//!                 subscribe: Some(call::Subscribe::default()),
//!                 ..Default::default()
//!             };
//!             subscribe.set_type(call::Type::Subscribe);
//!             mesos.send(subscribe);
//!         }
//!         Notice::Disconnected => {}
//!         Notice::Received(events) => {
//!             if events.iter().any(|e| e.r#type() == event::Type::Shutdown) {
//!                 break;
//!             }
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The library is a task on the caller's tokio runtime (I/O and time
//! enabled); dropping [`Mesos`] stops it, as upstream's destructor
//! terminates its process. The notices of one library come in order, so
//! the executor sees them one at a time as upstream's mutex ensures.
//!
//! Deliberate differences from upstream:
//! - A failed non-subscribe call is logged, and the call connection is
//!   opened again for the next one; losing the agent is noticed on the
//!   SUBSCRIBE stream (our HTTP client does not watch an idle
//!   connection).
//! - A `Notice::Received` holds the events of one read of the stream
//!   (upstream: those queued while the executor's callback ran).
//! - With `MESOS_LOCAL` the library keeps running after a SHUTDOWN event
//!   (upstream terminates it), so the executor's last updates still go out.
//! - A call that fails validation is dropped with a log line, as
//!   upstream, but only the checks that keep the agent from refusing it
//!   are made here (ids, the type's field, an update's uuid and source).
//! - No TLS and no `MESOS_DOMAIN_SOCKET` yet; protobuf only.

use std::path::PathBuf;
use std::time::Duration;

use mesos_proto::mesos::v1::executor::{call, event, Call, Event};
use mesos_proto::mesos::v1::task_status::Source;
use mesos_proto::mesos::v1::{ExecutorId, FrameworkId, TaskState};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use uuid::Uuid;

use crate::default_executor::{DefaultExecutorConfig, HEARTBEAT_CALL_INTERVAL};
use crate::driver::DriverError;
use crate::http::{self, Connection, Url};
use crate::library::{self, Report};

/// What the library needs to know, as the agent passes it in every
/// executor's environment (wire facts §5.2).
#[derive(Debug, Clone)]
pub struct MesosConfig {
    /// `MESOS_FRAMEWORK_ID`.
    pub framework_id: FrameworkId,
    /// `MESOS_EXECUTOR_ID`.
    pub executor_id: ExecutorId,
    /// `http://<agent>/slave(1)/api/v1/executor`, from `MESOS_SLAVE_PID`
    /// (or `MESOS_AGENT_ENDPOINT`).
    pub executor_url: Url,
    /// `Authorization` header value, `Bearer <MESOS_EXECUTOR_AUTHENTICATION_TOKEN>`.
    pub authorization: Option<String>,
    /// `MESOS_CHECKPOINT=1`: reconnect after losing the agent.
    pub checkpoint: bool,
    /// `MESOS_RECOVERY_TIMEOUT`: how long to wait for a lost agent.
    pub recovery_timeout: Duration,
    /// `MESOS_SUBSCRIPTION_BACKOFF_MAX`: the longest pause between
    /// reconnection attempts.
    pub subscription_backoff_max: Duration,
    /// `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`: after a SHUTDOWN event, when
    /// the process group is killed.
    pub shutdown_grace_period: Duration,
    /// `MESOS_LOCAL` is set: never kill the process group.
    pub local: bool,
}

impl MesosConfig {
    /// Reads the configuration from this process's environment.
    pub fn from_env() -> Result<Self, DriverError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `var` (a variable's value, if set),
    /// as upstream's constructor that takes an environment.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, DriverError> {
        // The sandbox is not the library's concern; any value will do.
        let config = DefaultExecutorConfig::from_vars(PathBuf::new(), |name| {
            var(name).or_else(|| (name == "MESOS_SANDBOX").then(String::new))
        })?;
        Ok(Self {
            framework_id: config.framework_id,
            executor_id: config.executor_id,
            executor_url: config.executor_url,
            authorization: config.authorization,
            checkpoint: config.checkpoint,
            recovery_timeout: config.recovery_timeout,
            subscription_backoff_max: config.subscription_backoff_max,
            shutdown_grace_period: config.shutdown_grace_period,
            local: config.local,
        })
    }
}

/// What the library tells its executor: upstream's `connected`,
/// `disconnected` and `received` callbacks.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Both connections to the agent are open: the executor may send
    /// SUBSCRIBE.
    Connected,
    /// The agent was lost; sent once per connection.
    Disconnected,
    /// Events from the agent, in order, or injected by the library (a
    /// SHUTDOWN when the agent is lost for good, an ERROR for an
    /// unexpected response).
    Received(Vec<Event>),
}

/// The library's connection state (`MesosProcess::State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A connection broke, or none was made yet.
    Disconnected,
    /// Opening the two connections.
    Connecting,
    /// Both connections open: SUBSCRIBE may be sent.
    Connected,
    /// SUBSCRIBE sent, no answer yet.
    Subscribing,
    /// SUBSCRIBE answered `200 OK`: events are streaming.
    Subscribed,
}

/// A started library. Dropping it stops the library (the shutdown timer
/// of a SHUTDOWN event, if any, keeps running).
#[derive(Debug)]
pub struct Mesos {
    tx: mpsc::UnboundedSender<Msg>,
    task: AbortHandle,
}

impl Mesos {
    /// Starts connecting to the agent of `config` and returns the library
    /// with the channel its [`Notice`]s come on. Must be called inside a
    /// tokio runtime with I/O and time enabled.
    pub fn new(config: MesosConfig) -> (Self, mpsc::UnboundedReceiver<Notice>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (notices, notices_rx) = mpsc::unbounded_channel();
        let process = MesosProcess::new(config, tx.clone(), notices);
        let task = tokio::spawn(process.run(rx)).abort_handle();
        (Self { tx, task }, notices_rx)
    }

    /// Sends `call` to the agent: SUBSCRIBE once connected, the others
    /// once subscribed; otherwise the call is dropped with a log line, as
    /// upstream. Calls other than SUBSCRIBE reach the agent in the order
    /// they are sent.
    pub fn send(&self, call: Call) {
        let _ = self.tx.send(Msg::Send(Box::new(call)));
    }
}

impl Drop for Mesos {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the library's task handles, from its handle, its timers and its
/// connections.
enum Msg {
    Send(Box<Call>),
    Connected {
        generation: u64,
        result: Result<(Connection, Connection), String>,
    },
    Report {
        generation: u64,
        report: Report,
    },
    Response {
        generation: u64,
        kind: call::Type,
        result: Result<http::Response, String>,
    },
    Backoff,
    RecoveryTimeout {
        id: u64,
    },
    Heartbeat,
}

/// The recovery timer of a checkpointing executor that lost its agent.
struct RecoveryTimer {
    id: u64,
    handle: AbortHandle,
    /// It fired; kept until a connection is made so that a failed
    /// reconnection does not start it again.
    expired: bool,
}

/// The library's task (upstream's `MesosProcess`).
struct MesosProcess {
    config: MesosConfig,
    state: State,
    /// Identifies the current connection; reports of older ones are
    /// ignored (upstream's `connectionId`).
    generation: u64,
    tx: mpsc::UnboundedSender<Msg>,
    notices: mpsc::UnboundedSender<Notice>,
    tasks: JoinSet<()>,
    /// The connection SUBSCRIBE goes out on, until it is sent.
    subscribe_connection: Option<Connection>,
    /// The in-order sender of the current connection's other calls.
    calls: Option<mpsc::UnboundedSender<Call>>,
    /// The SUBSCRIBE stream and the call sender of the current connection.
    connection_tasks: Vec<AbortHandle>,
    recovery_timer: Option<RecoveryTimer>,
    timers: u64,
    shutdown_scheduled: bool,
}

impl MesosProcess {
    fn new(
        config: MesosConfig,
        tx: mpsc::UnboundedSender<Msg>,
        notices: mpsc::UnboundedSender<Notice>,
    ) -> Self {
        Self {
            config,
            state: State::Disconnected,
            generation: 0,
            tx,
            notices,
            tasks: JoinSet::new(),
            subscribe_connection: None,
            calls: None,
            connection_tasks: Vec::new(),
            recovery_timer: None,
            timers: 0,
            shutdown_scheduled: false,
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        tracing::info!(agent = %self.config.executor_url, "Connecting to the agent");
        self.connect();
        self.schedule(HEARTBEAT_CALL_INTERVAL, Msg::Heartbeat);
        loop {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(message) => self.handle(message),
                    // `self.tx` keeps the channel open.
                    None => return,
                },
                Some(_) = self.tasks.join_next() => {}
            }
        }
    }

    fn handle(&mut self, message: Msg) {
        match message {
            Msg::Send(call) => self.send(*call),
            Msg::Connected { generation, result } => self.connected(generation, result),
            Msg::Report { generation, report } => self.report(generation, report),
            Msg::Response {
                generation,
                kind,
                result,
            } => self.response(generation, kind, result),
            Msg::Backoff => self.backoff(),
            Msg::RecoveryTimeout { id } => self.recovery_timeout(id),
            Msg::Heartbeat => self.heartbeat(),
        }
    }

    fn schedule(&mut self, after: Duration, message: Msg) -> AbortHandle {
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            tokio::time::sleep(after).await;
            let _ = tx.send(message);
        })
    }

    fn headers(&self) -> Vec<(String, String)> {
        library::headers(self.config.authorization.as_deref())
    }

    fn notify(&self, notice: Notice) {
        // The executor may have stopped listening; nothing to do then.
        let _ = self.notices.send(notice);
    }

    /// Opens the subscribe and the non-subscribe connections.
    fn connect(&mut self) {
        self.generation += 1;
        let generation = self.generation;
        self.state = State::Connecting;
        let url = self.config.executor_url.clone();
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            let connect = || async {
                Connection::connect(&url)
                    .await
                    .map_err(|error| format!("failed to connect to {url}: {error}"))
            };
            let result = match connect().await {
                Ok(subscribe) => connect().await.map(|other| (subscribe, other)),
                Err(error) => Err(error),
            };
            let _ = tx.send(Msg::Connected { generation, result });
        });
    }

    fn connected(&mut self, generation: u64, result: Result<(Connection, Connection), String>) {
        if generation != self.generation || self.state != State::Connecting {
            tracing::debug!("Ignoring connection attempt from stale connection");
            return;
        }
        let (subscribe, other) = match result {
            Ok(connections) => connections,
            Err(error) => return self.disconnected(generation, &error),
        };
        tracing::debug!("Connected with the agent");
        self.state = State::Connected;
        self.subscribe_connection = Some(subscribe);
        let (calls, rx) = mpsc::unbounded_channel();
        self.calls = Some(calls);
        let tx = self.tx.clone();
        let sender = self.tasks.spawn(library::send_calls(
            self.config.executor_url.clone(),
            self.headers(),
            Some(other),
            rx,
            move |kind, result| {
                let result = result.map_err(|error| error.to_string());
                let _ = tx.send(Msg::Response {
                    generation,
                    kind,
                    result,
                });
            },
        ));
        self.connection_tasks.push(sender);
        if let Some(timer) = self.recovery_timer.take() {
            timer.handle.abort();
        }
        self.notify(Notice::Connected);
    }

    fn disconnected(&mut self, generation: u64, reason: &str) {
        if generation != self.generation || self.state == State::Disconnected {
            tracing::debug!("Ignoring disconnection attempt from stale connection");
            return;
        }
        tracing::info!(reason, "Disconnected from agent");
        let was_connected = matches!(
            self.state,
            State::Connected | State::Subscribing | State::Subscribed
        );
        if was_connected {
            self.notify(Notice::Disconnected);
        }
        self.disconnect();
        if self.recovery_timer.is_some() {
            // Already waiting for the agent to come back.
            return;
        }
        if self.config.checkpoint && was_connected {
            self.timers += 1;
            let id = self.timers;
            let handle = self.schedule(self.config.recovery_timeout, Msg::RecoveryTimeout { id });
            self.recovery_timer = Some(RecoveryTimer {
                id,
                handle,
                expired: false,
            });
            self.backoff();
        } else {
            self.shutdown();
        }
    }

    /// Closes the current connections; what they report later is stale.
    fn disconnect(&mut self) {
        for task in self.connection_tasks.drain(..) {
            task.abort();
        }
        self.subscribe_connection = None;
        self.calls = None;
        self.state = State::Disconnected;
        self.generation += 1;
    }

    /// Tries to connect, then again after a random pause up to
    /// `MESOS_SUBSCRIPTION_BACKOFF_MAX`, until connected.
    fn backoff(&mut self) {
        if matches!(
            self.state,
            State::Connected | State::Subscribing | State::Subscribed
        ) {
            return;
        }
        let max = self.config.subscription_backoff_max;
        let fraction = f64::from(Uuid::new_v4().as_u128() as u32) / f64::from(u32::MAX);
        let backoff = max.mul_f64(fraction);
        tracing::debug!(?backoff, "Will retry connecting with the agent");
        self.connect();
        self.schedule(backoff, Msg::Backoff);
    }

    fn recovery_timeout(&mut self, id: u64) {
        match &mut self.recovery_timer {
            Some(timer) if timer.id == id && !timer.expired => timer.expired = true,
            _ => return,
        }
        if !matches!(self.state, State::Disconnected | State::Connecting) {
            return;
        }
        tracing::info!(
            recovery_timeout = %libprocess::flags::format_duration(self.config.recovery_timeout),
            "Recovery timeout exceeded; shutting down"
        );
        self.shutdown();
    }

    /// Injects a SHUTDOWN event.
    fn shutdown(&mut self) {
        let mut event = Event::default();
        event.set_type(event::Type::Shutdown);
        self.receive(event, true);
    }

    /// Injects an ERROR event.
    fn error(&mut self, message: String) {
        let mut event = Event::default();
        event.set_type(event::Type::Error);
        event.error = Some(event::Error { message });
        self.receive(event, true);
    }

    fn receive(&mut self, event: Event, injected: bool) {
        let kind = event.r#type();
        if !injected && self.state != State::Subscribed {
            tracing::warn!(
                event = kind.as_str_name(),
                "Ignoring event because we're no longer subscribed"
            );
            return;
        }
        tracing::debug!(event = kind.as_str_name(), injected, "Enqueuing event");
        self.notify(Notice::Received(vec![event]));
        if kind == event::Type::Shutdown {
            self.start_shutdown_timer();
        }
    }

    fn send(&mut self, call: Call) {
        let kind = call.r#type();
        if let Err(error) = validate(&call) {
            return drop_call(kind, &error);
        }
        if kind == call::Type::Subscribe && self.state != State::Connected {
            // Maybe a retry with a SUBSCRIBE in flight, or subscribed.
            return drop_call(kind, &format!("executor is in state {:?}", self.state));
        }
        if kind != call::Type::Subscribe && self.state != State::Subscribed {
            return drop_call(kind, &format!("executor is in state {:?}", self.state));
        }
        tracing::debug!(call = kind.as_str_name(), "Sending call");
        if kind != call::Type::Subscribe {
            if let Some(calls) = &self.calls {
                let _ = calls.send(call);
            }
            return;
        }
        self.state = State::Subscribing;
        let generation = self.generation;
        let tx = self.tx.clone();
        // After a refused SUBSCRIBE the next one opens a new connection.
        let stream = self.subscribe_connection.take();
        let task = self.tasks.spawn(library::subscribe(
            self.config.executor_url.clone(),
            self.headers(),
            stream,
            call,
            move |report| {
                let _ = tx.send(Msg::Report { generation, report });
            },
        ));
        self.connection_tasks.push(task);
    }

    fn report(&mut self, generation: u64, report: Report) {
        if generation != self.generation {
            tracing::debug!("Ignoring event from old stale connection");
            return;
        }
        match report {
            Report::Disconnected(reason) => {
                if self.state == State::Subscribed {
                    tracing::error!(reason, "Lost the event stream");
                }
                self.disconnected(generation, &reason);
            }
            Report::Refused(response) => {
                if self.state != State::Subscribing {
                    return;
                }
                // The executor may retry.
                self.state = State::Connected;
                self.refused(call::Type::Subscribe, &response);
            }
            Report::Started => {
                if self.state == State::Subscribing {
                    self.state = State::Subscribed;
                }
            }
            Report::Event(event) => self.receive(*event, false),
        }
    }

    fn response(
        &mut self,
        generation: u64,
        kind: call::Type,
        result: Result<http::Response, String>,
    ) {
        if generation != self.generation {
            return;
        }
        match result {
            Ok(response) if response.head.code == 202 => {}
            Ok(response) => self.refused(kind, &response),
            // Losing the agent shows on the event stream.
            Err(error) => {
                tracing::error!(call = kind.as_str_name(), %error, "Request failed");
            }
        }
    }

    /// Handles an answer other than the expected one: `503` and `404` (an
    /// agent still recovering, or without routes yet) are logged, anything
    /// else becomes an ERROR event.
    fn refused(&mut self, kind: call::Type, response: &http::Response) {
        let (status, body) = (&response.head.status, response.body_text());
        if response.head.code == 503 || response.head.code == 404 {
            tracing::warn!(call = kind.as_str_name(), %status, body, "Call refused");
            return;
        }
        self.error(format!(
            "Received unexpected '{status}' ({body}) for {}",
            kind.as_str_name()
        ));
    }

    fn heartbeat(&mut self) {
        if matches!(
            self.state,
            State::Connected | State::Subscribing | State::Subscribed
        ) {
            let mut call = Call {
                executor_id: self.config.executor_id.clone(),
                framework_id: self.config.framework_id.clone(),
                ..Default::default()
            };
            call.set_type(call::Type::Heartbeat);
            self.send(call);
        }
        self.schedule(HEARTBEAT_CALL_INTERVAL, Msg::Heartbeat);
    }

    /// Upstream's `ShutdownProcess`: kill the process group (ourselves
    /// included) once the grace period has passed, in case the executor
    /// does not exit by itself. A thread of its own, so that it fires
    /// even if the executor's runtime is stuck or gone.
    fn start_shutdown_timer(&mut self) {
        if self.config.local || self.shutdown_scheduled {
            return;
        }
        self.shutdown_scheduled = true;
        let grace_period = self.config.shutdown_grace_period;
        tracing::info!(grace_period = %libprocess::flags::format_duration(grace_period),
            "Scheduling shutdown of the executor");
        let spawned = std::thread::Builder::new()
            .name("shutdown-executor".into())
            .spawn(move || {
                std::thread::sleep(grace_period);
                kill_process_group();
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "Failed to schedule the shutdown of the executor");
        }
    }
}

fn drop_call(kind: call::Type, reason: &str) {
    tracing::warn!(call = kind.as_str_name(), reason, "Dropping call");
}

/// The checks of upstream's `validateExecutorCall` that the agent would
/// otherwise refuse the call for.
fn validate(call: &Call) -> Result<(), String> {
    if call.executor_id.value.is_empty() {
        return Err("expecting 'executor_id' to be present".into());
    }
    if call.framework_id.value.is_empty() {
        return Err("expecting 'framework_id' to be present".into());
    }
    match call.r#type() {
        call::Type::Unknown => Err("expecting 'type' to be present".into()),
        call::Type::Subscribe if call.subscribe.is_none() => {
            Err("expecting 'subscribe' to be present".into())
        }
        call::Type::Message if call.message.is_none() => {
            Err("expecting 'message' to be present".into())
        }
        call::Type::Update => {
            let Some(update) = &call.update else {
                return Err("expecting 'update' to be present".into());
            };
            let status = &update.status;
            if status
                .uuid
                .as_ref()
                .is_none_or(|uuid| Uuid::from_slice(uuid).is_err())
            {
                return Err("'uuid' must be a valid UUID".into());
            }
            if status.source() != Source::Executor {
                return Err("received Call from executor with invalid source".into());
            }
            if status.state() == TaskState::TaskStaging {
                return Err("received TASK_STAGING from executor".into());
            }
            if status
                .executor_id
                .as_ref()
                .is_some_and(|id| *id != call.executor_id)
            {
                return Err("executor ID of the status does not match the call's".into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Kills this process's group, then exits if the signal was not delivered
/// within a few seconds.
fn kill_process_group() {
    tracing::info!("Committing suicide by killing the process group");
    // SAFETY: killpg has no memory-safety preconditions; group 0 is ours.
    unsafe { libc::killpg(0, libc::SIGKILL) };
    std::thread::sleep(Duration::from_secs(5));
    std::process::exit(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(state: TaskState, source: Source) -> Call {
        let mut status = mesos_proto::mesos::v1::TaskStatus {
            uuid: Some(Uuid::new_v4().as_bytes().to_vec()),
            ..Default::default()
        };
        status.set_state(state);
        status.set_source(source);
        let mut call = Call {
            executor_id: ExecutorId { value: "e".into() },
            framework_id: FrameworkId { value: "f".into() },
            update: Some(call::Update { status }),
            ..Default::default()
        };
        call.set_type(call::Type::Update);
        call
    }

    #[test]
    fn validation_drops_what_the_agent_would_refuse() {
        assert_eq!(
            validate(&update(TaskState::TaskRunning, Source::Executor)),
            Ok(())
        );
        assert!(validate(&update(TaskState::TaskRunning, Source::Master)).is_err());
        assert!(validate(&update(TaskState::TaskStaging, Source::Executor)).is_err());
        let mut no_uuid = update(TaskState::TaskRunning, Source::Executor);
        no_uuid.update.as_mut().unwrap().status.uuid = None;
        assert!(validate(&no_uuid).is_err());
        let mut no_ids = update(TaskState::TaskRunning, Source::Executor);
        no_ids.executor_id.value.clear();
        assert!(validate(&no_ids).is_err());
        let mut subscribe = update(TaskState::TaskRunning, Source::Executor);
        subscribe.set_type(call::Type::Subscribe);
        assert!(validate(&subscribe).is_err());
    }

    #[test]
    fn config_needs_no_sandbox() {
        let config = MesosConfig::from_vars(|name| match name {
            "MESOS_FRAMEWORK_ID" => Some("f".into()),
            "MESOS_EXECUTOR_ID" => Some("e".into()),
            "MESOS_SLAVE_PID" => Some("slave(1)@127.0.0.1:5051".into()),
            "MESOS_CHECKPOINT" => Some("1".into()),
            "MESOS_RECOVERY_TIMEOUT" => Some("3secs".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            config.executor_url.to_string(),
            "http://127.0.0.1:5051/slave(1)/api/v1/executor"
        );
        assert!(config.checkpoint);
        assert_eq!(config.recovery_timeout, Duration::from_secs(3));
    }
}
