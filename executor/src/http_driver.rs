//! The v1 HTTP transport of the command executor
//! (`MESOS_HTTP_COMMAND_EXECUTOR=1`).
//!
//! Upstream counterparts: the v1 executor library `mesos::v1::executor::Mesos`
//! (`src/executor/executor.cpp`: connection, SUBSCRIBE, backoff, recovery
//! timeout, `ShutdownProcess`) and the subscription half of
//! `CommandExecutor` in `src/launcher/executor.cpp` (`doReliableRegistration`,
//! the unacknowledged updates and task, `received`). The task itself is run
//! by [`crate::command_executor`], the same code as on the v0 driver:
//!
//! ```text
//! executor -> POST /slave(1)/api/v1/executor SUBSCRIBE{unacknowledged updates, task}
//!             (every 1 s until SUBSCRIBED)
//! agent    -> SUBSCRIBED, LAUNCH, KILL, ACKNOWLEDGED, SHUTDOWN (RecordIO, protobuf)
//! executor -> POST UPDATE{status{uuid, source: SOURCE_EXECUTOR}} (202), in order
//! ```
//!
//! The executor exits once the agent acknowledges the terminal update (or,
//! with a failure, 60 s after sending it: upstream's fail-safe). When the event stream
//! breaks, a checkpointing executor reconnects with a random backoff up to
//! `MESOS_SUBSCRIPTION_BACKOFF_MAX` and re-subscribes with what the agent
//! has not acknowledged; after `MESOS_RECOVERY_TIMEOUT` without the agent,
//! or at once when not checkpointing, it shuts down (kills its task). After
//! a shutdown the process group is killed once
//! `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` has passed (not with
//! `MESOS_LOCAL`).
//!
//! The agent speaks `mesos.v1` types; the command executor works on the v0
//! ones. Both have the same wire format, so they are converted by
//! re-encoding, as upstream's `evolve`/`devolve` do.
//!
//! Deliberate differences from upstream:
//! - The unacknowledged updates and task are kept here, next to the
//!   connection, as the v0 driver keeps them, rather than in the command
//!   executor.
//! - Bad input (a LAUNCH before SUBSCRIBED, a malformed acknowledgement
//!   uuid) is logged and dropped instead of `CHECK`ed.
//! - No TLS and no `MESOS_DOMAIN_SOCKET` yet (as the default executor).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix::{ActorContext as _, AsyncContext as _, Context};
use libprocess::{Dispatch, Process, ProcessBase, Runtime, Timer, PID};
use mesos_proto::mesos::v1::executor::{call, event, Call, Event};
use mesos_proto::mesos::v1::{ExecutorId, FrameworkId, TaskInfo};
use mesos_proto::mesos::{self as v0, Status};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::command_executor::{CommandExecutor, Transport, HTTP_SELF_TERMINATE_DELAY};
use crate::default_executor::{DefaultExecutorConfig, HEARTBEAT_CALL_INTERVAL};
use crate::driver::DriverError;
use crate::http::{self, Connection, Url};
use crate::library::{self, Report};

/// How often SUBSCRIBE is sent until the agent answers
/// (`doReliableRegistration`).
pub const SUBSCRIBE_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// What the v1 transport needs to know, as the agent passes it in the
/// environment (wire facts §5.2).
#[derive(Debug, Clone)]
pub struct HttpDriverConfig {
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
    /// `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`: after a shutdown, when the
    /// process group is killed.
    pub shutdown_grace_period: Duration,
    /// `MESOS_LOCAL` is set: never kill the process group.
    pub local: bool,
}

impl HttpDriverConfig {
    /// Reads the configuration from this process's environment.
    pub fn from_env() -> Result<Self, DriverError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `var` (a variable's value, if set),
    /// as the default executor does.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, DriverError> {
        // The sandbox is not the transport's concern; any value will do.
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

/// The library's connection state (`MesosProcess::State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Disconnected,
    Connecting,
    Connected,
    Subscribing,
    Subscribed,
}

/// A handle to the started transport. Clones share it; every method may
/// be called from any thread.
#[derive(Clone)]
pub struct HttpDriver {
    shared: Arc<Shared>,
}

struct Shared {
    process: OnceLock<PID<HttpDriverProcess>>,
    /// `DriverRunning` until the executor stops or aborts.
    status: watch::Sender<Status>,
}

impl std::fmt::Debug for HttpDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpDriver")
            .field("status", &self.status())
            .finish()
    }
}

impl HttpDriver {
    /// Spawns the `executor(N)` process on `runtime`, which subscribes
    /// with the agent and hands events to `executor`. Must be called
    /// inside an actix system.
    pub fn start(
        runtime: &Runtime,
        config: HttpDriverConfig,
        executor: CommandExecutor,
    ) -> Result<Self, DriverError> {
        let driver = Self {
            shared: Arc::new(Shared {
                process: OnceLock::new(),
                status: watch::Sender::new(Status::DriverRunning),
            }),
        };
        executor.attach(Arc::new(driver.clone()));
        let process = HttpDriverProcess::new(config, executor);
        let pid = runtime.spawn(process)?;
        let _ = driver.shared.process.set(pid);
        Ok(driver)
    }

    /// Returns the transport's status.
    pub fn status(&self) -> Status {
        *self.shared.status.borrow()
    }

    /// Waits until the executor stops or aborts; returns the status.
    pub async fn join(&self) -> Status {
        let mut status = self.shared.status.subscribe();
        // The sender lives in `self`, so the channel cannot close.
        let _ = status.wait_for(|s| *s != Status::DriverRunning).await;
        self.status()
    }

    fn dispatch(
        &self,
        f: impl FnOnce(&mut HttpDriverProcess, &mut Context<HttpDriverProcess>) + Send + 'static,
    ) {
        if let Some(pid) = self.shared.process.get() {
            pid.dispatch(f);
        }
    }

    fn finish(&self, status: Status) {
        let changed = self.shared.status.send_if_modified(|current| {
            if *current != Status::DriverRunning {
                return false;
            }
            *current = status;
            true
        });
        if changed {
            self.dispatch(|process, ctx| process.stop(ctx));
        }
    }
}

impl Transport for HttpDriver {
    fn send_status_update(&self, status: v0::TaskStatus) {
        if self.status() == Status::DriverRunning {
            self.dispatch(move |process, _| process.send_status_update(status));
        }
    }

    fn stop(&self) {
        self.finish(Status::DriverStopped);
    }

    fn abort(&self) {
        self.finish(Status::DriverAborted);
    }

    fn self_terminate_delay(&self) -> Duration {
        HTTP_SELF_TERMINATE_DELAY
    }

    fn self_terminate(&self) {
        // This should not happen, so the executor exits with a failure.
        tracing::error!("Did not receive ACK for the terminal status update from the agent");
        self.abort();
    }
}

/// The transport's process, `executor(N)`.
struct HttpDriverProcess {
    base: ProcessBase<Self>,
    config: HttpDriverConfig,
    executor: CommandExecutor,
    state: State,
    /// Identifies the current connection; reports of older ones are
    /// ignored.
    generation: u64,
    /// The connection SUBSCRIBE goes out on, once connected.
    pending_stream: Option<Connection>,
    stream_task: Option<JoinHandle<()>>,
    calls_task: Option<JoinHandle<()>>,
    calls: Option<mpsc::UnboundedSender<Call>>,
    /// SUBSCRIBED arrived on the current connection.
    subscribed: bool,
    recovery_timer: Option<Timer>,
    shutdown_timer: Option<Timer>,
    /// Updates the agent has not acknowledged, in the order sent.
    updates: Vec<(Uuid, call::Update)>,
    /// The task until the agent acknowledges one of its updates.
    task: Option<TaskInfo>,
}

impl HttpDriverProcess {
    fn new(config: HttpDriverConfig, executor: CommandExecutor) -> Self {
        Self {
            base: ProcessBase::new(libprocess::id::generate("executor")),
            config,
            executor,
            state: State::Disconnected,
            generation: 0,
            pending_stream: None,
            stream_task: None,
            calls_task: None,
            calls: None,
            subscribed: false,
            recovery_timer: None,
            shutdown_timer: None,
            updates: Vec::new(),
            task: None,
        }
    }

    fn headers(&self) -> Vec<(String, String)> {
        library::headers(self.config.authorization.as_deref())
    }

    /// Runs `f` in this process once `future` is done.
    fn spawn<T: Send + 'static>(
        ctx: &Context<Self>,
        future: impl std::future::Future<Output = T> + 'static,
        f: impl FnOnce(&mut Self, T, &mut Context<Self>) + Send + 'static,
    ) -> JoinHandle<()> {
        let addr = ctx.address();
        actix::spawn(async move {
            let value = future.await;
            addr.do_send(Dispatch(Box::new(move |this: &mut Self, ctx| {
                f(this, value, ctx)
            })));
        })
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        self.generation += 1;
        let generation = self.generation;
        self.state = State::Connecting;
        let url = self.config.executor_url.clone();
        Self::spawn(
            ctx,
            async move {
                Connection::connect(&url)
                    .await
                    .map_err(|error| format!("failed to connect to {url}: {error}"))
            },
            move |this, result, ctx| this.connected(generation, result, ctx),
        );
    }

    fn connected(
        &mut self,
        generation: u64,
        result: Result<Connection, String>,
        ctx: &mut Context<Self>,
    ) {
        if generation != self.generation || self.state != State::Connecting {
            tracing::debug!("Ignoring connection attempt from stale connection");
            return;
        }
        let connection = match result {
            Ok(connection) => connection,
            Err(error) => return self.disconnected(generation, &error, ctx),
        };
        tracing::debug!("Connected with the agent");
        self.state = State::Connected;
        self.pending_stream = Some(connection);
        if let Some(timer) = self.recovery_timer.take() {
            timer.cancel();
        }
        self.do_reliable_registration(generation, ctx);
    }

    fn disconnected(&mut self, generation: u64, reason: &str, ctx: &mut Context<Self>) {
        if generation != self.generation || self.state == State::Disconnected {
            tracing::debug!("Ignoring disconnection from stale connection");
            return;
        }
        tracing::info!(reason, "Disconnected from agent");
        let was_connected = matches!(
            self.state,
            State::Connected | State::Subscribing | State::Subscribed
        );
        if let Some(task) = self.stream_task.take() {
            task.abort();
        }
        self.pending_stream = None;
        self.state = State::Disconnected;
        self.subscribed = false;
        if self.recovery_timer.is_some() {
            // Already waiting for the agent to come back.
            return;
        }
        if self.config.checkpoint && was_connected {
            self.recovery_timer = Some(libprocess::delay(
                self.config.recovery_timeout,
                &ctx.address(),
                |this, _| this.recovery_timeout(),
            ));
            self.backoff(ctx);
        } else {
            self.inject_shutdown();
        }
    }

    fn backoff(&mut self, ctx: &mut Context<Self>) {
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
        self.connect(ctx);
        libprocess::delay(backoff, &ctx.address(), |this, ctx| this.backoff(ctx));
    }

    fn recovery_timeout(&mut self) {
        if self.recovery_timer.take().is_none() {
            return;
        }
        if !matches!(self.state, State::Disconnected | State::Connecting) {
            return;
        }
        tracing::info!(
            recovery_timeout = %libprocess::flags::format_duration(self.config.recovery_timeout),
            "Recovery timeout exceeded; shutting down"
        );
        self.inject_shutdown();
    }

    fn inject_shutdown(&mut self) {
        let mut event = Event::default();
        event.set_type(event::Type::Shutdown);
        self.received(event);
    }

    /// Sends SUBSCRIBE every second until the agent answers.
    fn do_reliable_registration(&mut self, generation: u64, ctx: &mut Context<Self>) {
        if generation != self.generation || self.subscribed || self.state == State::Disconnected {
            return;
        }
        if self.state == State::Connected {
            let mut call = Call {
                executor_id: self.config.executor_id.clone(),
                framework_id: self.config.framework_id.clone(),
                subscribe: Some(call::Subscribe {
                    unacknowledged_updates: self.updates.iter().map(|(_, u)| u.clone()).collect(),
                    unacknowledged_tasks: self.task.iter().cloned().collect(),
                }),
                ..Default::default()
            };
            call.set_type(call::Type::Subscribe);
            self.subscribe(generation, call, ctx);
        }
        libprocess::delay(
            SUBSCRIBE_RETRY_INTERVAL,
            &ctx.address(),
            move |this, ctx| this.do_reliable_registration(generation, ctx),
        );
    }

    fn subscribe(&mut self, generation: u64, call: Call, ctx: &mut Context<Self>) {
        self.state = State::Subscribing;
        let stream = self.pending_stream.take();
        let addr = ctx.address();
        let task = actix::spawn(library::subscribe(
            self.config.executor_url.clone(),
            self.headers(),
            stream,
            call,
            move |report| {
                addr.do_send(Dispatch(Box::new(move |this: &mut Self, ctx| {
                    this.report(generation, report, ctx)
                })));
            },
        ));
        if let Some(old) = self.stream_task.replace(task) {
            old.abort();
        }
    }

    fn report(&mut self, generation: u64, report: Report, ctx: &mut Context<Self>) {
        match report {
            Report::Disconnected(reason) => self.disconnected(generation, &reason, ctx),
            _ if generation != self.generation => {}
            Report::Refused(response) => self.refused(&response),
            Report::Started => {
                if self.state == State::Subscribing {
                    self.state = State::Subscribed;
                }
            }
            Report::Event(event) => {
                if self.state != State::Subscribed {
                    tracing::warn!("Ignoring an event because we're no longer subscribed");
                    return;
                }
                self.received(*event);
            }
        }
    }

    fn refused(&mut self, response: &http::Response) {
        if self.state != State::Subscribing {
            return;
        }
        // Retried by the reliable registration, on a new connection.
        self.state = State::Connected;
        let (code, body) = (response.head.code, response.body_text());
        if code == 503 || code == 404 {
            tracing::warn!(status = %response.head.status, body, "SUBSCRIBE refused");
        } else {
            tracing::error!(status = %response.head.status, body,
                "Received unexpected response for SUBSCRIBE");
        }
    }

    fn received(&mut self, event: Event) {
        let kind = event.r#type();
        tracing::info!(event = kind.as_str_name(), "Received event");
        match kind {
            event::Type::Subscribed => {
                let Some(subscribed) = event.subscribed else {
                    tracing::warn!("SUBSCRIBED event without 'subscribed'");
                    return;
                };
                tracing::info!(hostname = %subscribed.agent_info.hostname, "Subscribed executor");
                self.subscribed = true;
                if let Some(framework_info) = devolve(&subscribed.framework_info) {
                    self.executor.subscribed(framework_info);
                }
            }
            event::Type::Launch => {
                let Some(launch) = event.launch else {
                    tracing::warn!("LAUNCH event without 'launch'");
                    return;
                };
                if !self.subscribed {
                    tracing::warn!(task_id = %launch.task.task_id.value,
                        "Ignoring LAUNCH received before SUBSCRIBED");
                    return;
                }
                if let Some(task) = devolve(&launch.task) {
                    self.task.get_or_insert(launch.task);
                    self.executor.launch(task);
                }
            }
            event::Type::Kill => {
                let Some(kill) = event.kill else {
                    tracing::warn!("KILL event without 'kill'");
                    return;
                };
                let policy = kill.kill_policy.as_ref().and_then(devolve);
                if let Some(task_id) = devolve(&kill.task_id) {
                    self.executor.kill(task_id, policy);
                }
            }
            event::Type::Acknowledged => {
                let Some(acknowledged) = event.acknowledged else {
                    tracing::warn!("ACKNOWLEDGED event without 'acknowledged'");
                    return;
                };
                self.acknowledged(&acknowledged);
            }
            event::Type::Shutdown => {
                self.start_shutdown_timer();
                self.executor.shutdown();
            }
            event::Type::LaunchGroup => {
                // Task groups only go to the default executor.
                tracing::error!("LAUNCH_GROUP event is not supported");
                self.executor.shutdown();
            }
            event::Type::Message | event::Type::Heartbeat => {}
            event::Type::Error => {
                let message = event.error.map(|e| e.message).unwrap_or_default();
                tracing::error!(message, "Error event");
            }
            event::Type::Unknown => tracing::warn!("Received an UNKNOWN event and ignored"),
        }
    }

    fn acknowledged(&mut self, acknowledged: &event::Acknowledged) {
        let Ok(uuid) = Uuid::from_slice(&acknowledged.uuid) else {
            tracing::warn!(
                length = acknowledged.uuid.len(),
                "Ignoring acknowledgement with a malformed uuid"
            );
            return;
        };
        let Some(index) = self.updates.iter().position(|(u, _)| *u == uuid) else {
            tracing::warn!(%uuid, "Received acknowledgement for unknown status update");
            return;
        };
        let (_, update) = self.updates.remove(index);
        // The agent knows the task now.
        self.task = None;
        if let Some(task_id) = devolve(&update.status.task_id) {
            self.executor
                .acknowledge(task_id, to_v0_state(update.status.state));
        }
    }

    fn send_status_update(&mut self, status: v0::TaskStatus) {
        let Some(mut status) = evolve::<_, mesos_proto::mesos::v1::TaskStatus>(&status) else {
            return;
        };
        let uuid = match status.uuid.as_deref().map(Uuid::from_slice) {
            Some(Ok(uuid)) => uuid,
            _ => {
                let uuid = Uuid::new_v4();
                status.uuid = Some(uuid.as_bytes().to_vec());
                uuid
            }
        };
        let update = call::Update { status };
        tracing::debug!(task_id = %update.status.task_id.value,
            state = ?update.status.state(), %uuid, "Sending status update");
        self.updates.push((uuid, update.clone()));
        let mut call = Call {
            executor_id: self.config.executor_id.clone(),
            framework_id: self.config.framework_id.clone(),
            update: Some(update),
            ..Default::default()
        };
        call.set_type(call::Type::Update);
        self.send(call);
    }

    /// Sends a non-SUBSCRIBE call if subscribed; otherwise drops it, as
    /// upstream's library does (an update goes out again with the next
    /// SUBSCRIBE).
    fn send(&mut self, call: Call) {
        if self.state != State::Subscribed {
            tracing::warn!(call = call.r#type().as_str_name(), state = ?self.state,
                "Dropping a call because the executor is not subscribed");
            return;
        }
        if let Some(calls) = &self.calls {
            let _ = calls.send(call);
        }
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        if self.state == State::Subscribed {
            let mut call = Call {
                executor_id: self.config.executor_id.clone(),
                framework_id: self.config.framework_id.clone(),
                ..Default::default()
            };
            call.set_type(call::Type::Heartbeat);
            self.send(call);
        }
        libprocess::delay(HEARTBEAT_CALL_INTERVAL, &ctx.address(), |this, ctx| {
            this.heartbeat(ctx)
        });
    }

    /// Upstream's `ShutdownProcess`: kill the process group (ourselves
    /// included) once the grace period has passed, in case the executor
    /// does not exit by itself.
    fn start_shutdown_timer(&mut self) {
        if self.config.local || self.shutdown_timer.is_some() {
            return;
        }
        let grace_period = self.config.shutdown_grace_period;
        tracing::info!(grace_period = %libprocess::flags::format_duration(grace_period),
            "Scheduling shutdown of the executor");
        self.shutdown_timer = Some(libprocess::clock::timer(grace_period, kill_process_group));
    }

    fn stop(&mut self, ctx: &mut Context<Self>) {
        for task in [self.stream_task.take(), self.calls_task.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
        if let Some(timer) = self.recovery_timer.take() {
            timer.cancel();
        }
        ctx.stop();
    }
}

impl actix::Actor for HttpDriverProcess {
    type Context = Context<Self>;
}

impl Process for HttpDriverProcess {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }

    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }

    fn initialize(&mut self, ctx: &mut Context<Self>) {
        let (calls, rx) = mpsc::unbounded_channel();
        self.calls = Some(calls);
        self.calls_task = Some(actix::spawn(library::send_calls(
            self.config.executor_url.clone(),
            self.headers(),
            rx,
        )));
        libprocess::delay(HEARTBEAT_CALL_INTERVAL, &ctx.address(), |this, ctx| {
            this.heartbeat(ctx)
        });
        tracing::info!(agent = %self.config.executor_url, "Connecting to the agent");
        self.connect(ctx);
    }
}

libprocess::process_handlers!(HttpDriverProcess);

/// Converts between the `mesos.v1` and `mesos` twins of a message, which
/// share their wire format.
fn evolve<F: prost::Message, T: prost::Message + Default>(from: &F) -> Option<T> {
    match T::decode(from.encode_to_vec().as_slice()) {
        Ok(to) => Some(to),
        Err(error) => {
            tracing::warn!(%error, "Dropping a message that does not convert");
            None
        }
    }
}

/// [`evolve`] from `mesos.v1` to `mesos`, named as upstream.
fn devolve<F: prost::Message, T: prost::Message + Default>(from: &F) -> Option<T> {
    evolve(from)
}

/// Converts a `mesos.v1.TaskState` value (the same numbers as `mesos`).
fn to_v0_state(state: i32) -> v0::TaskState {
    v0::TaskState::try_from(state).unwrap_or(v0::TaskState::TaskUnknown)
}

/// Kills this process's group, then exits if the signal was not delivered
/// within a few seconds.
fn kill_process_group() {
    tracing::info!("Committing suicide by killing the process group");
    // SAFETY: killpg has no memory-safety preconditions; group 0 is ours.
    unsafe { libc::killpg(0, libc::SIGKILL) };
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(5));
        std::process::exit(1);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v0_messages_convert_both_ways() {
        let mut status = v0::TaskStatus {
            task_id: v0::TaskId { value: "t".into() },
            uuid: Some(Uuid::new_v4().as_bytes().to_vec()),
            message: Some("Command exited with status 3".into()),
            ..Default::default()
        };
        status.set_state(v0::TaskState::TaskFailed);
        let v1: mesos_proto::mesos::v1::TaskStatus = evolve(&status).unwrap();
        assert_eq!(v1.state(), mesos_proto::mesos::v1::TaskState::TaskFailed);
        assert_eq!(v1.message, status.message);
        let back: v0::TaskStatus = devolve(&v1).unwrap();
        assert_eq!(back, status);
        assert_eq!(to_v0_state(v1.state), v0::TaskState::TaskFailed);
    }

    #[test]
    fn config_needs_no_sandbox() {
        let config = HttpDriverConfig::from_vars(|name| match name {
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
