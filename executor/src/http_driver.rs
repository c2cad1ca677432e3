//! The v1 HTTP transport of the command executor
//! (`MESOS_HTTP_COMMAND_EXECUTOR=1`).
//!
//! Upstream counterpart: the subscription half of `CommandExecutor` in
//! `src/launcher/executor.cpp` (`connected`, `disconnected`,
//! `doReliableRegistration`, the unacknowledged updates and task,
//! `received`). The connection itself (SUBSCRIBE stream, in-order calls,
//! backoff, recovery timeout, `ShutdownProcess`) is the v1 executor
//! library, [`crate::v1::Mesos`], as upstream's command executor uses
//! `mesos::v1::executor::Mesos`. The task itself is run by
//! [`crate::command_executor`], the same code as on the v0 driver:
//!
//! ```text
//! executor -> POST /slave(1)/api/v1/executor SUBSCRIBE{unacknowledged updates, task}
//!             (every 1 s from `Connected` until SUBSCRIBED)
//! agent    -> SUBSCRIBED, LAUNCH, KILL, ACKNOWLEDGED, SHUTDOWN (RecordIO, protobuf)
//! executor -> POST UPDATE{status{uuid, source: SOURCE_EXECUTOR}} (202), in order
//! ```
//!
//! The executor exits once the agent acknowledges the terminal update (or,
//! with a failure, 60 s after sending it: upstream's fail-safe). After a
//! reconnection (a checkpointing executor) it re-subscribes with what the
//! agent has not acknowledged.
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

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix::{ActorContext as _, AsyncContext as _, Context};
use libprocess::{Dispatch, Process, ProcessBase, Runtime, PID};
use mesos_proto::mesos::v1::executor::{call, event, Call, Event};
use mesos_proto::mesos::v1::TaskInfo;
use mesos_proto::mesos::{self as v0, Status};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::command_executor::{CommandExecutor, Transport, HTTP_SELF_TERMINATE_DELAY};
use crate::driver::DriverError;
use crate::v1::{Mesos, Notice};

/// How often SUBSCRIBE is sent until the agent answers
/// (`doReliableRegistration`).
pub const SUBSCRIBE_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// What the v1 transport needs to know: the library's configuration.
pub use crate::v1::MesosConfig as HttpDriverConfig;

/// Where the transport stands (upstream `CommandExecutor`'s state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Disconnected,
    Connected,
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
    mesos: Option<Mesos>,
    notices_task: Option<JoinHandle<()>>,
    state: State,
    /// Counts connections, so that one registration loop runs at a time.
    generation: u64,
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
            mesos: None,
            notices_task: None,
            state: State::Disconnected,
            generation: 0,
            updates: Vec::new(),
            task: None,
        }
    }

    fn notice(&mut self, notice: Notice, ctx: &mut Context<Self>) {
        match notice {
            Notice::Connected => {
                self.state = State::Connected;
                self.generation += 1;
                self.do_reliable_registration(self.generation, ctx);
            }
            Notice::Disconnected => self.state = State::Disconnected,
            Notice::Received(events) => {
                for event in events {
                    self.received(event);
                }
            }
        }
    }

    /// Sends SUBSCRIBE every second until the agent answers.
    fn do_reliable_registration(&mut self, generation: u64, ctx: &mut Context<Self>) {
        if generation != self.generation || self.state != State::Connected {
            return;
        }
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
        self.send(call);
        libprocess::delay(
            SUBSCRIBE_RETRY_INTERVAL,
            &ctx.address(),
            move |this, ctx| this.do_reliable_registration(generation, ctx),
        );
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
                self.state = State::Subscribed;
                if let Some(framework_info) = devolve(&subscribed.framework_info) {
                    self.executor.subscribed(framework_info);
                }
            }
            event::Type::Launch => {
                let Some(launch) = event.launch else {
                    tracing::warn!("LAUNCH event without 'launch'");
                    return;
                };
                if self.state != State::Subscribed {
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
            // The library has scheduled the kill of the process group.
            event::Type::Shutdown => self.executor.shutdown(),
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

    /// Hands `call` to the library, which drops it unless connected (a
    /// SUBSCRIBE) or subscribed (the others); an update goes out again
    /// with the next SUBSCRIBE.
    fn send(&mut self, call: Call) {
        if let Some(mesos) = &self.mesos {
            mesos.send(call);
        }
    }

    fn stop(&mut self, ctx: &mut Context<Self>) {
        self.mesos = None;
        if let Some(task) = self.notices_task.take() {
            task.abort();
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
        let (mesos, mut notices) = Mesos::new(self.config.clone());
        self.mesos = Some(mesos);
        let addr = ctx.address();
        self.notices_task = Some(actix::spawn(async move {
            while let Some(notice) = notices.recv().await {
                addr.do_send(Dispatch(Box::new(move |this: &mut Self, ctx| {
                    this.notice(notice, ctx)
                })));
            }
        }));
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
}
