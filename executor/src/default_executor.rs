//! The default executor: runs each task of a task group in its own nested
//! container, which it asks the agent to launch, wait for and kill.
//!
//! Upstream counterparts: `src/launcher/default_executor.cpp` (the
//! executor) and the v1 executor library it is built on,
//! `src/executor/executor.cpp` (connection, subscription, recovery); docs
//! `docs/nested-container-and-task-group.md`. Both live in one
//! [`DefaultExecutor`] here: one tokio task owns all state and handles one
//! [`Msg`] at a time, as a libprocess process does; network work runs in
//! spawned tasks that report back with messages.
//!
//! ```text
//! executor -> POST /slave(1)/api/v1/executor  SUBSCRIBE (every 1 s until SUBSCRIBED)
//! agent    -> SUBSCRIBED{container_id}, LAUNCH_GROUP, KILL, ACKNOWLEDGED, SHUTDOWN ...
//! per task:   UPDATE TASK_STARTING
//!             POST /slave(1)/api/v1  LAUNCH_CONTAINER{container_id{uuid, parent}, command,
//!                                    container, resources, limits}      (one connection)
//!             UPDATE TASK_RUNNING (launch answered 200)
//!             POST /slave(1)/api/v1  WAIT_NESTED_CONTAINER{container_id}  (long poll)
//!             UPDATE TASK_FINISHED / TASK_FAILED / TASK_KILLED from the wait result
//! kill:       UPDATE TASK_KILLING (TASK_KILLING_STATE frameworks),
//!             KILL_NESTED_CONTAINER{signal: SIGTERM}, SIGKILL after the grace period
//! ```
//!
//! Both APIs speak protobuf (`application/x-protobuf`), as upstream's
//! executor does. When one task of a group fails or is killed, the others
//! are killed. The executor exits once no container is left and the agent
//! acknowledged every update (or 60 s after it would have, as a fail-safe).
//!
//! When the event stream breaks, a checkpointing executor reconnects with a
//! random backoff up to `MESOS_SUBSCRIPTION_BACKOFF_MAX`, re-subscribes with
//! its unacknowledged updates and tasks and waits on its containers again;
//! after `MESOS_RECOVERY_TIMEOUT` without the agent it shuts down. A
//! non-checkpointing executor shuts down at once. After a shutdown the
//! process group is killed once `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` has
//! passed (not with `MESOS_LOCAL`).
//!
//! Each task's check and health check ([`crate::checks`]) start once its
//! container is launched: COMMAND checks run in a nested container of the
//! task's (`LAUNCH_NESTED_CONTAINER_SESSION`, then
//! `WAIT_NESTED_CONTAINER`), HTTP and TCP checks from the executor, which
//! shares its tasks' network. A changed check result or a health report is
//! sent as a `TASK_RUNNING` copy of the task's last update with the new
//! `check_status` (`REASON_TASK_CHECK_STATUS_UPDATED`) or `healthy`
//! (`REASON_TASK_HEALTH_CHECK_STATUS_UPDATED`); every update of a checked
//! task carries a `check_status`, empty until the first result. A report
//! that asks for a kill kills the task as a KILL would (and so the rest of
//! its group); from then on every terminal update of this executor carries
//! `healthy: false` (upstream's executor-wide flag, MESOS-8543). Checking a
//! task stops when it is killed or ends, and pauses while the agent is
//! away.
//!
//! Deliberate differences from upstream:
//! - Bad input (a missing `container_id` in SUBSCRIBED, a malformed
//!   acknowledgement uuid or wait response, a LAUNCH_GROUP before
//!   SUBSCRIBED) is logged and dropped or treated as a failure, never a
//!   crash (upstream `CHECK`s); failing to create the `tasks/` symlink is a
//!   warning, not fatal.
//! - A wait that cannot connect to the agent is retried after a second
//!   (upstream shuts down when the first wait of a group cannot connect
//!   and retries later ones).
//! - `MESOS_CONTAINER_IP` is `LIBPROCESS_IP` when set, else the local
//!   address of the connection the executor launches the group on (upstream
//!   uses its libprocess address, which is the same address unless the
//!   host name resolves elsewhere).
//! - The agent is found through `MESOS_SLAVE_PID` as upstream, or through
//!   `MESOS_AGENT_ENDPOINT` when that is unset; no TLS and no
//!   `MESOS_DOMAIN_SOCKET` yet.
//! - The launch call is chosen by [`LaunchCall`]: upstream 1.11 sends
//!   `LAUNCH_CONTAINER` (the default), earlier releases
//!   `LAUNCH_NESTED_CONTAINER`.

// Upstream's executor still waits and kills with the `*_NESTED_CONTAINER`
// calls, deprecated since 1.5 but served by every agent.
#![allow(deprecated)]

use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use mesos_proto::api::PROTOBUF;
use mesos_proto::mesos::v1::agent;
use mesos_proto::mesos::v1::executor::{call, event, Call, Event};
use mesos_proto::mesos::v1::framework_info::capability::Type as Capability;
use mesos_proto::mesos::v1::task_status::{Reason, Source};
use mesos_proto::mesos::v1::{
    check_status_info, environment, volume, CheckStatusInfo, ContainerId, ContainerInfo,
    ContainerStatus, ExecutorId, FrameworkId, FrameworkInfo, KillPolicy, TaskGroupInfo, TaskId,
    TaskInfo, TaskResourceLimitation, TaskState, TaskStatus, Volume,
};
use prost::Message as _;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use uuid::Uuid;

use crate::checks::{self, Checker, HealthChecker, TaskHealthStatus};
use crate::command_executor::{signal_name, wstringify};
use crate::driver::{DriverError, DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD, RECOVERY_TIMEOUT};
use crate::http::{self, Connection, Url};
use crate::library::{self, Report};

/// Upstream's kill grace period when neither the kill nor the task has a
/// policy.
pub const DEFAULT_KILL_GRACE_PERIOD: Duration = Duration::from_secs(3);

/// How often SUBSCRIBE is sent until the agent answers
/// (`doReliableRegistration`).
pub const SUBSCRIBE_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// Upstream's `DEFAULT_HEARTBEAT_CALL_INTERVAL` of the executor library.
pub const HEARTBEAT_CALL_INTERVAL: Duration = Duration::from_secs(30 * 60);

/// How long the executor waits for acknowledgements before it exits anyway.
pub const TERMINATION_FAIL_SAFE: Duration = Duration::from_secs(60);

/// Delay before a wait or SIGKILL escalation is retried.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// Upstream's default of `MESOS_SUBSCRIPTION_BACKOFF_MAX`
/// (`--executor_reregistration_timeout`).
const DEFAULT_SUBSCRIPTION_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The environment variable with the task's container IP.
pub const MESOS_CONTAINER_IP: &str = "MESOS_CONTAINER_IP";

/// The environment variable with the task's allocation role.
pub const MESOS_ALLOCATION_ROLE: &str = "MESOS_ALLOCATION_ROLE";

/// Which operator call launches a task's nested container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LaunchCall {
    /// `LAUNCH_CONTAINER` with the task's resources and limits (upstream
    /// 1.11).
    #[default]
    LaunchContainer,
    /// `LAUNCH_NESTED_CONTAINER` (upstream before resource limits).
    LaunchNestedContainer,
}

/// What the default executor needs to know, as the agent passes it in the
/// environment (wire facts §5.2).
#[derive(Debug, Clone)]
pub struct DefaultExecutorConfig {
    /// `MESOS_FRAMEWORK_ID`.
    pub framework_id: FrameworkId,
    /// `MESOS_EXECUTOR_ID`.
    pub executor_id: ExecutorId,
    /// The executor API, `http://<agent>/slave(1)/api/v1/executor`.
    pub executor_url: Url,
    /// The operator API, `http://<agent>/slave(1)/api/v1`.
    pub operator_url: Url,
    /// `MESOS_SANDBOX`: the sandbox as the executor sees it; task sandboxes
    /// are `<sandbox>/containers/<container id>`.
    pub sandbox: PathBuf,
    /// Where the `tasks/<task id>` symlinks are made (upstream: the working
    /// directory, which is the sandbox).
    pub work_dir: PathBuf,
    /// `--launcher_dir` (upstream runs `mesos-tcp-connect` from it; our
    /// TCP checks connect in-process).
    pub launcher_dir: PathBuf,
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
    /// `LIBPROCESS_IP`, the value of `MESOS_CONTAINER_IP` for tasks.
    pub container_ip: Option<String>,
    /// Which call launches nested containers.
    pub launch_call: LaunchCall,
    /// How long to wait for acknowledgements before exiting anyway.
    pub termination_fail_safe: Duration,
}

impl DefaultExecutorConfig {
    /// Reads the configuration from this process's environment.
    pub fn from_env(launcher_dir: PathBuf) -> Result<Self, DriverError> {
        Self::from_vars(launcher_dir, |name| std::env::var(name).ok())
    }

    /// Reads the configuration through `var` (a variable's value, if set),
    /// as upstream's `main` and executor library do.
    pub fn from_vars(
        launcher_dir: PathBuf,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, DriverError> {
        let required = |name: &'static str| var(name).ok_or(DriverError::MissingEnv(name));
        let invalid = |name: &'static str, value: String, error: String| DriverError::InvalidEnv {
            name,
            value,
            error,
        };
        let duration = |name: &'static str, default: Duration| match var(name) {
            None => Ok(default),
            Some(value) => libprocess::flags::parse_duration(&value)
                .map_err(|error| invalid(name, value, error.to_string())),
        };
        let framework_id = FrameworkId {
            value: required("MESOS_FRAMEWORK_ID")?,
        };
        let executor_id = ExecutorId {
            value: required("MESOS_EXECUTOR_ID")?,
        };
        let (address, prefix) = match var("MESOS_SLAVE_PID") {
            Some(value) => match value.parse::<libprocess::UPID>() {
                Ok(pid) if pid.is_valid() => {
                    (format!("{}:{}", pid.ip, pid.port), format!("/{}", pid.id))
                }
                Ok(_) => return Err(invalid("MESOS_SLAVE_PID", value, "not a valid UPID".into())),
                Err(error) => return Err(invalid("MESOS_SLAVE_PID", value, error.to_string())),
            },
            None => (required("MESOS_AGENT_ENDPOINT")?, String::new()),
        };
        let sandbox = PathBuf::from(required("MESOS_SANDBOX")?);
        let checkpoint = var("MESOS_CHECKPOINT").as_deref() == Some("1");
        let (recovery_timeout, subscription_backoff_max) = if checkpoint {
            (
                duration("MESOS_RECOVERY_TIMEOUT", RECOVERY_TIMEOUT)?,
                duration(
                    "MESOS_SUBSCRIPTION_BACKOFF_MAX",
                    DEFAULT_SUBSCRIPTION_BACKOFF_MAX,
                )?,
            )
        } else {
            (RECOVERY_TIMEOUT, DEFAULT_SUBSCRIPTION_BACKOFF_MAX)
        };
        Ok(Self {
            framework_id,
            executor_id,
            executor_url: Url {
                address: address.clone(),
                path: format!("{prefix}/api/v1/executor"),
            },
            operator_url: Url {
                address,
                path: format!("{prefix}/api/v1"),
            },
            sandbox,
            work_dir: PathBuf::from("."),
            launcher_dir,
            authorization: var("MESOS_EXECUTOR_AUTHENTICATION_TOKEN")
                .map(|token| format!("Bearer {token}")),
            checkpoint,
            recovery_timeout,
            subscription_backoff_max,
            shutdown_grace_period: duration(
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
                DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD,
            )?,
            local: var("MESOS_LOCAL").is_some(),
            container_ip: var("LIBPROCESS_IP").filter(|ip| !ip.is_empty()),
            launch_call: LaunchCall::default(),
            termination_fail_safe: TERMINATION_FAIL_SAFE,
        })
    }
}

/// The executor library's connection state (`MesosProcess::State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LibState {
    Disconnected,
    Connecting,
    Connected,
    Subscribing,
    Subscribed,
}

/// The executor's own view (`DefaultExecutor::State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connected,
    Disconnected,
    Subscribed,
}

/// Why a kill was sent, which decides what its failure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillPurpose {
    Task,
    Shutdown,
    Escalation,
}

/// How a wait call ended.
#[derive(Debug)]
enum WaitOutcome {
    /// No connection could be made.
    ConnectFailed(String),
    /// The connection broke before a response.
    Failed(String),
    /// The agent answered.
    Answered(http::Response),
}

/// What the executor's task handles, one at a time.
#[derive(Debug)]
enum Msg {
    Connected {
        generation: u64,
        result: Result<Connection, String>,
    },
    Disconnected {
        generation: u64,
        reason: String,
    },
    SubscribeRefused {
        generation: u64,
        response: http::Response,
    },
    StreamStarted {
        generation: u64,
    },
    Event {
        generation: u64,
        event: Box<Event>,
    },
    ReliableRegistration,
    Backoff,
    RecoveryTimeout,
    Heartbeat,
    LaunchConnected {
        group: TaskGroupInfo,
        result: Result<Connection, String>,
    },
    Launched {
        group: TaskGroupInfo,
        container_ids: Vec<ContainerId>,
        result: Result<Vec<http::Response>, String>,
    },
    Waited {
        connection_id: u64,
        task_id: TaskId,
        outcome: WaitOutcome,
    },
    RetryWait {
        connection_id: u64,
        task_id: TaskId,
    },
    Killed {
        purpose: KillPurpose,
        container_id: ContainerId,
        task_id: TaskId,
        grace_period: Duration,
        error: Option<String>,
    },
    Escalate {
        container_id: ContainerId,
        task_id: TaskId,
        grace_period: Duration,
    },
    MaxCompletion {
        task_id: TaskId,
        duration: Duration,
    },
    Terminate,
    KillProcessGroup,
    CheckUpdated {
        task_id: TaskId,
        check_status: mesos_proto::mesos::CheckStatusInfo,
    },
    HealthUpdated(TaskHealthStatus),
}

/// A task's nested container (upstream `DefaultExecutor::Container`).
#[derive(Debug)]
struct Container {
    container_id: ContainerId,
    task: TaskInfo,
    group: TaskGroupInfo,
    last_status: Option<TaskStatus>,
    /// The pending `WAIT_NESTED_CONTAINER` call.
    waiting: Option<AbortHandle>,
    launch_error: Option<String>,
    launched: bool,
    acknowledged: bool,
    killing: bool,
    killing_task_group: bool,
    killed_by_completion_timeout: bool,
    max_completion_timer: Option<AbortHandle>,
    /// The task's check and health check, while it runs.
    checker: Option<Checker>,
    health_checker: Option<HealthChecker>,
}

/// The default executor; see the module documentation.
pub struct DefaultExecutor {
    config: DefaultExecutorConfig,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    tasks: JoinSet<()>,
    calls: mpsc::UnboundedSender<Call>,
    calls_rx: Option<mpsc::UnboundedReceiver<Call>>,

    // The executor library.
    lib_state: LibState,
    generation: u64,
    lib_connection: Option<u64>,
    pending_stream: Option<Connection>,
    stream_task: Option<AbortHandle>,
    recovery_timer: Option<AbortHandle>,
    lib_shutdown_scheduled: bool,

    // The executor.
    state: State,
    connection_id: Option<u64>,
    shutting_down: bool,
    shutdown_kill_failed: bool,
    framework_info: Option<FrameworkInfo>,
    executor_container_id: Option<ContainerId>,
    unacknowledged_updates: Vec<(Uuid, call::Update)>,
    containers: Vec<Container>,
    terminated: bool,
    /// A health check asked for a kill: terminal updates say unhealthy.
    unhealthy: bool,
}

impl DefaultExecutor {
    /// Returns an executor for `config`; [`DefaultExecutor::run`] starts it.
    pub fn new(config: DefaultExecutorConfig) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (calls, calls_rx) = mpsc::unbounded_channel();
        Self {
            config,
            tx,
            rx,
            tasks: JoinSet::new(),
            calls,
            calls_rx: Some(calls_rx),
            lib_state: LibState::Disconnected,
            generation: 0,
            lib_connection: None,
            pending_stream: None,
            stream_task: None,
            recovery_timer: None,
            lib_shutdown_scheduled: false,
            state: State::Disconnected,
            connection_id: None,
            shutting_down: false,
            shutdown_kill_failed: false,
            framework_info: None,
            executor_container_id: None,
            unacknowledged_updates: Vec::new(),
            containers: Vec::new(),
            terminated: false,
            unhealthy: false,
        }
    }

    /// Runs the executor until it terminates: all its tasks are done and
    /// acknowledged, or it was shut down. Must run inside a tokio runtime
    /// with I/O and time enabled.
    pub async fn run(mut self) {
        if let Some(calls) = self.calls_rx.take() {
            self.tasks.spawn(library::send_calls(
                self.config.executor_url.clone(),
                headers(&self.config),
                None,
                calls,
                library::log_outcome,
            ));
        }
        self.schedule(HEARTBEAT_CALL_INTERVAL, Msg::Heartbeat);
        self.connect();
        while !self.terminated {
            tokio::select! {
                message = self.rx.recv() => match message {
                    Some(message) => self.handle(message),
                    None => break,
                },
                // Reap finished helper tasks.
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
            }
        }
        tracing::info!("Default executor terminating");
        self.tasks.abort_all();
    }

    fn schedule(&mut self, after: Duration, message: Msg) -> AbortHandle {
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            tokio::time::sleep(after).await;
            let _ = tx.send(message);
        })
    }

    fn handle(&mut self, message: Msg) {
        match message {
            Msg::Connected { generation, result } => self.lib_connected(generation, result),
            Msg::Disconnected { generation, reason } => self.lib_disconnected(generation, &reason),
            Msg::SubscribeRefused {
                generation,
                response,
            } => self.subscribe_refused(generation, &response),
            Msg::StreamStarted { generation } => {
                if self.lib_connection == Some(generation)
                    && self.lib_state == LibState::Subscribing
                {
                    self.lib_state = LibState::Subscribed;
                }
            }
            Msg::Event { generation, event } => {
                if self.lib_connection != Some(generation) || self.lib_state != LibState::Subscribed
                {
                    tracing::warn!("Ignoring an event because we're no longer subscribed");
                    return;
                }
                self.lib_receive(*event);
            }
            Msg::ReliableRegistration => self.do_reliable_registration(),
            Msg::Backoff => self.backoff(),
            Msg::RecoveryTimeout => self.recovery_timeout(),
            Msg::Heartbeat => {
                if self.lib_state == LibState::Subscribed {
                    let mut call = Call {
                        executor_id: ExecutorId {
                            value: "unused".into(),
                        },
                        framework_id: FrameworkId {
                            value: "unused".into(),
                        },
                        ..Default::default()
                    };
                    call.set_type(call::Type::Heartbeat);
                    let _ = self.calls.send(call);
                }
                self.schedule(HEARTBEAT_CALL_INTERVAL, Msg::Heartbeat);
            }
            Msg::LaunchConnected { group, result } => self.launch_connected(group, result),
            Msg::Launched {
                group,
                container_ids,
                result,
            } => self.launched(&group, &container_ids, result),
            Msg::Waited {
                connection_id,
                task_id,
                outcome,
            } => self.waited(connection_id, &task_id, outcome),
            Msg::RetryWait {
                connection_id,
                task_id,
            } => self.retry_wait(connection_id, &task_id, None),
            Msg::Killed {
                purpose,
                container_id,
                task_id,
                grace_period,
                error,
            } => self.killed(purpose, container_id, task_id, grace_period, error),
            Msg::Escalate {
                container_id,
                task_id,
                grace_period,
            } => self.escalated(container_id, task_id, grace_period),
            Msg::MaxCompletion { task_id, duration } => self.max_completion(&task_id, duration),
            Msg::Terminate => self.terminated = true,
            Msg::KillProcessGroup => kill_process_group(),
            Msg::CheckUpdated {
                task_id,
                check_status,
            } => self.task_check_updated(&task_id, check_status),
            Msg::HealthUpdated(health) => self.task_health_updated(health),
        }
    }

    // ------------------------------------------------------------------
    // The executor library (`src/executor/executor.cpp`).

    fn connect(&mut self) {
        self.generation += 1;
        let generation = self.generation;
        self.lib_connection = Some(generation);
        self.lib_state = LibState::Connecting;
        let url = self.config.executor_url.clone();
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            let result = Connection::connect(&url)
                .await
                .map_err(|error| format!("failed to connect to {url}: {error}"));
            let _ = tx.send(Msg::Connected { generation, result });
        });
    }

    fn lib_connected(&mut self, generation: u64, result: Result<Connection, String>) {
        if self.lib_connection != Some(generation) {
            tracing::debug!("Ignoring connection attempt from stale connection");
            return;
        }
        let connection = match result {
            Ok(connection) => connection,
            Err(error) => return self.lib_disconnected(generation, &error),
        };
        tracing::debug!("Connected with the agent");
        self.lib_state = LibState::Connected;
        self.pending_stream = Some(connection);
        if let Some(timer) = self.recovery_timer.take() {
            timer.abort();
        }
        self.connected();
    }

    fn lib_disconnected(&mut self, generation: u64, reason: &str) {
        if self.lib_connection != Some(generation) {
            tracing::debug!("Ignoring disconnection from stale connection");
            return;
        }
        tracing::info!(reason, "Disconnected from agent");
        let was_connected = matches!(
            self.lib_state,
            LibState::Connected | LibState::Subscribing | LibState::Subscribed
        );
        if was_connected {
            self.disconnected();
        }
        self.disconnect();
        if self.recovery_timer.is_some() {
            // Already waiting for the agent to come back.
            return;
        }
        if self.config.checkpoint && was_connected {
            let timer = self.schedule(self.config.recovery_timeout, Msg::RecoveryTimeout);
            self.recovery_timer = Some(timer);
            self.backoff();
        } else {
            self.lib_inject_shutdown();
        }
    }

    fn disconnect(&mut self) {
        if let Some(task) = self.stream_task.take() {
            task.abort();
        }
        self.pending_stream = None;
        self.lib_state = LibState::Disconnected;
        self.lib_connection = None;
    }

    fn backoff(&mut self) {
        if matches!(
            self.lib_state,
            LibState::Connected | LibState::Subscribing | LibState::Subscribed
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

    fn recovery_timeout(&mut self) {
        if self.recovery_timer.take().is_none() {
            return;
        }
        if !matches!(
            self.lib_state,
            LibState::Disconnected | LibState::Connecting
        ) {
            return;
        }
        tracing::info!(
            timeout = ?self.config.recovery_timeout,
            "Recovery timeout exceeded; Shutting down"
        );
        self.lib_inject_shutdown();
    }

    fn lib_inject_shutdown(&mut self) {
        let mut event = Event::default();
        event.set_type(event::Type::Shutdown);
        self.lib_receive(event);
    }

    fn lib_inject_error(&mut self, message: String) {
        let mut event = Event::default();
        event.set_type(event::Type::Error);
        event.error = Some(event::Error { message });
        self.lib_receive(event);
    }

    fn lib_receive(&mut self, event: Event) {
        let shutdown = event.r#type() == event::Type::Shutdown;
        self.received(event);
        if shutdown && !self.lib_shutdown_scheduled && !self.config.local {
            // Upstream's `ShutdownProcess`: kill the process group in case
            // the executor does not exit by itself.
            self.lib_shutdown_scheduled = true;
            self.schedule(self.config.shutdown_grace_period, Msg::KillProcessGroup);
        }
    }

    /// Sends a call as the library does: SUBSCRIBE only when connected,
    /// everything else only when subscribed.
    fn lib_send(&mut self, call: Call) {
        let kind = call.r#type();
        if kind == call::Type::Subscribe {
            if self.lib_state != LibState::Connected {
                tracing::debug!(state = ?self.lib_state, "Dropping SUBSCRIBE");
                return;
            }
            let Some(generation) = self.lib_connection else {
                return;
            };
            self.lib_state = LibState::Subscribing;
            let stream = self.pending_stream.take();
            let tx = self.tx.clone();
            let handle = self.tasks.spawn(library::subscribe(
                self.config.executor_url.clone(),
                headers(&self.config),
                stream,
                call,
                move |report| {
                    let _ = tx.send(match report {
                        Report::Disconnected(reason) => Msg::Disconnected { generation, reason },
                        Report::Refused(response) => Msg::SubscribeRefused {
                            generation,
                            response,
                        },
                        Report::Started => Msg::StreamStarted { generation },
                        Report::Event(event) => Msg::Event { generation, event },
                    });
                },
            ));
            if let Some(old) = self.stream_task.replace(handle) {
                old.abort();
            }
            return;
        }
        if self.lib_state != LibState::Subscribed {
            tracing::warn!(
                call = kind.as_str_name(),
                state = ?self.lib_state,
                "Dropping a call because the executor is not subscribed"
            );
            return;
        }
        let _ = self.calls.send(call);
    }

    fn subscribe_refused(&mut self, generation: u64, response: &http::Response) {
        if self.lib_connection != Some(generation) || self.lib_state != LibState::Subscribing {
            return;
        }
        // Retried by the reliable registration.
        self.lib_state = LibState::Connected;
        let (code, body) = (response.head.code, response.body_text());
        if code == 503 || code == 404 {
            tracing::warn!(status = %response.head.status, body, "SUBSCRIBE refused");
            return;
        }
        self.lib_inject_error(format!(
            "Received unexpected '{}' ({body}) for SUBSCRIBE",
            response.head.status
        ));
    }

    // ------------------------------------------------------------------
    // The executor (`src/launcher/default_executor.cpp`).

    fn connected(&mut self) {
        self.state = State::Connected;
        self.generation += 1;
        self.connection_id = Some(self.generation);
        self.do_reliable_registration();
    }

    fn disconnected(&mut self) {
        self.state = State::Disconnected;
        self.connection_id = None;
        for container in &mut self.containers {
            if let Some(waiting) = container.waiting.take() {
                waiting.abort();
            }
            // Nested checks need the agent.
            if let Some(checker) = &container.checker {
                checker.pause();
            }
            if let Some(checker) = &container.health_checker {
                checker.pause();
            }
        }
    }

    fn received(&mut self, event: Event) {
        let kind = event.r#type();
        tracing::info!(event = kind.as_str_name(), "Received event");
        match kind {
            event::Type::Subscribed => {
                let Some(subscribed) = event.subscribed else {
                    tracing::error!("SUBSCRIBED event without 'subscribed'");
                    return;
                };
                tracing::info!(
                    hostname = subscribed.agent_info.hostname,
                    "Subscribed executor"
                );
                self.framework_info = Some(subscribed.framework_info);
                self.state = State::Subscribed;
                let Some(container_id) = subscribed.container_id else {
                    tracing::error!("SUBSCRIBED event without 'container_id'; shutting down");
                    self.shutdown();
                    return;
                };
                self.executor_container_id = Some(container_id);
                for container in &self.containers {
                    if let Some(checker) = &container.checker {
                        checker.resume();
                    }
                    if let Some(checker) = &container.health_checker {
                        checker.resume();
                    }
                }
                // After an agent failover, wait on the containers again.
                let task_ids: Vec<TaskId> = self
                    .containers
                    .iter()
                    .filter(|c| c.waiting.is_none())
                    .map(|c| c.task.task_id.clone())
                    .collect();
                if !task_ids.is_empty() {
                    self.wait(&task_ids);
                }
            }
            event::Type::Launch => {
                tracing::error!("LAUNCH event is not supported");
                self.shutdown();
            }
            event::Type::LaunchGroup => match event.launch_group {
                Some(launch) => self.launch_group(launch.task_group),
                None => tracing::warn!("LAUNCH_GROUP event without 'launch_group'"),
            },
            event::Type::Kill => match event.kill {
                Some(kill) => self.kill_task(&kill.task_id, kill.kill_policy.as_ref()),
                None => tracing::warn!("KILL event without 'kill'"),
            },
            event::Type::Acknowledged => {
                let Some(acknowledged) = event.acknowledged else {
                    tracing::warn!("ACKNOWLEDGED event without 'acknowledged'");
                    return;
                };
                self.acknowledged(acknowledged);
            }
            event::Type::Shutdown => self.shutdown(),
            event::Type::Message | event::Type::Heartbeat => {}
            event::Type::Error => {
                let message = event.error.map(|e| e.message).unwrap_or_default();
                tracing::error!(message, "Error event");
            }
            event::Type::Unknown => tracing::warn!("Received an UNKNOWN event and ignored"),
        }
    }

    fn acknowledged(&mut self, acknowledged: event::Acknowledged) {
        let Ok(uuid) = Uuid::from_slice(&acknowledged.uuid) else {
            tracing::warn!(
                length = acknowledged.uuid.len(),
                "Ignoring acknowledgement with a malformed uuid"
            );
            return;
        };
        let Some(index) = self
            .unacknowledged_updates
            .iter()
            .position(|(u, _)| *u == uuid)
        else {
            tracing::warn!(%uuid, "Received acknowledgement for unknown status update");
            return;
        };
        self.unacknowledged_updates.remove(index);
        if let Some(container) = self.container_mut(&acknowledged.task_id) {
            container.acknowledged = true;
        }
        if self.containers.is_empty() && self.unacknowledged_updates.is_empty() {
            self.terminated = true;
        }
    }

    fn do_reliable_registration(&mut self) {
        if matches!(self.state, State::Subscribed | State::Disconnected) {
            return;
        }
        let mut call = Call {
            executor_id: self.config.executor_id.clone(),
            framework_id: self.config.framework_id.clone(),
            subscribe: Some(call::Subscribe {
                unacknowledged_updates: self
                    .unacknowledged_updates
                    .iter()
                    .map(|(_, update)| update.clone())
                    .collect(),
                // Tasks whose container was not launched are unknown to the
                // agent until it launches them; terminated ones are known.
                unacknowledged_tasks: self
                    .containers
                    .iter()
                    .filter(|c| c.launched && !c.acknowledged)
                    .map(|c| c.task.clone())
                    .collect(),
            }),
            ..Default::default()
        };
        call.set_type(call::Type::Subscribe);
        self.lib_send(call);
        self.schedule(SUBSCRIBE_RETRY_INTERVAL, Msg::ReliableRegistration);
    }

    fn launch_group(&mut self, group: TaskGroupInfo) {
        if self.state != State::Subscribed {
            tracing::warn!("Ignoring LAUNCH_GROUP received before SUBSCRIBED");
            return;
        }
        let url = self.config.operator_url.clone();
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            let result = Connection::connect(&url)
                .await
                .map_err(|error| format!("failed to connect to {url}: {error}"));
            let _ = tx.send(Msg::LaunchConnected { group, result });
        });
    }

    fn launch_connected(&mut self, group: TaskGroupInfo, result: Result<Connection, String>) {
        if self.shutting_down {
            tracing::warn!("Ignoring the launch group operation as the executor is shutting down");
            return;
        }
        let connection = match result {
            Ok(connection) if self.state == State::Subscribed => connection,
            Ok(_) => {
                tracing::warn!(
                    state = ?self.state,
                    "Unable to complete the launch group operation in this state"
                );
                return self.drop_task_group(&group);
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    "Unable to establish connection with the agent to complete the launch \
                     group operation"
                );
                return self.drop_task_group(&group);
            }
        };
        let Some(parent) = self.executor_container_id.clone() else {
            return self.drop_task_group(&group);
        };
        let container_ip = self.config.container_ip.clone().or_else(|| {
            connection
                .local_addr()
                .ok()
                .map(|address| address.ip().to_string())
        });
        tracing::info!(ip = ?container_ip, "Setting 'MESOS_CONTAINER_IP'");

        let mut container_ids = Vec::new();
        let mut requests = Vec::new();
        for task in &group.tasks {
            let container_id = ContainerId {
                value: Uuid::new_v4().to_string(),
                parent: Some(Box::new(parent.clone())),
            };
            container_ids.push(container_id.clone());
            self.containers.retain(|c| c.task.task_id != task.task_id);
            self.containers.push(Container {
                container_id: container_id.clone(),
                task: task.clone(),
                group: group.clone(),
                last_status: None,
                waiting: None,
                launch_error: None,
                launched: false,
                acknowledged: false,
                killing: false,
                killing_task_group: false,
                killed_by_completion_timeout: false,
                max_completion_timer: None,
                checker: None,
                health_checker: None,
            });
            let status = self.create_task_status(&task.task_id, TaskState::TaskStarting);
            self.forward(status);
            let call = launch_call(
                self.config.launch_call,
                container_id,
                task,
                container_ip.as_deref(),
            );
            requests.push(self.operator_request(&call));
        }

        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            let mut connection = connection;
            let mut responses = Vec::new();
            let mut result = Ok(());
            for request in &requests {
                match connection.send(request).await {
                    Ok(response) => responses.push(response),
                    Err(error) => {
                        result = Err(error.to_string());
                        break;
                    }
                }
            }
            let _ = tx.send(Msg::Launched {
                group,
                container_ids,
                result: result.map(|()| responses),
            });
        });
    }

    fn launched(
        &mut self,
        group: &TaskGroupInfo,
        container_ids: &[ContainerId],
        result: Result<Vec<http::Response>, String>,
    ) {
        if self.shutting_down {
            tracing::warn!("Ignoring the launch group operation as the executor is shutting down");
            return;
        }
        let responses = match result {
            Ok(responses) => responses,
            Err(error) => {
                tracing::error!(
                    %error,
                    "Unable to receive a response from the agent for the launch call"
                );
                return self.terminate_when_acknowledged();
            }
        };
        for ((task, container_id), response) in
            group.tasks.iter().zip(container_ids).zip(&responses)
        {
            let task_id = &task.task_id;
            let Some(container) = self.container_mut(task_id) else {
                continue;
            };
            if response.head.code != 200 {
                let body = response.body_text();
                tracing::error!(
                    status = %response.head.status,
                    body,
                    container_id = %container_id.value,
                    task_id = task_id.value,
                    "Failed to launch child container"
                );
                container.launch_error = Some(body);
                continue;
            }
            container.launched = true;
            if let Err(error) = self.start_checks(task, container_id) {
                tracing::error!(%error, task_id = task_id.value, "Failed to create checker");
                return self.terminate_when_acknowledged();
            }
            if let Some(duration) = task.max_completion_time.as_ref() {
                if duration.nanoseconds > 0 {
                    let duration = Duration::from_nanos(duration.nanoseconds.unsigned_abs());
                    let timer = self.schedule(
                        duration,
                        Msg::MaxCompletion {
                            task_id: task_id.clone(),
                            duration,
                        },
                    );
                    if let Some(container) = self.container_mut(task_id) {
                        container.max_completion_timer = Some(timer);
                    }
                }
            }
            self.link_task_sandbox(task_id, container_id);
            let status = self.create_task_status(task_id, TaskState::TaskRunning);
            self.forward(status);
        }
        let task_ids: Vec<TaskId> = group.tasks.iter().map(|t| t.task_id.clone()).collect();
        tracing::info!(
            tasks = ?task_ids.iter().map(|t| t.value.as_str()).collect::<Vec<_>>(),
            "Finished launching tasks in child containers"
        );
        if self.state == State::Subscribed {
            self.wait(&task_ids);
        } else {
            tracing::info!("Skipped waiting on child containers until reconnected to the agent");
        }
    }

    /// Upstream links `tasks/<task id>` to the task's sandbox so that the
    /// web UI finds it.
    fn link_task_sandbox(&self, task_id: &TaskId, container_id: &ContainerId) {
        let tasks = self.config.work_dir.join("tasks");
        if let Err(error) = std::fs::create_dir_all(&tasks) {
            tracing::warn!(%error, path = %tasks.display(), "Unable to create task directory");
            return;
        }
        let target = self
            .config
            .sandbox
            .join("containers")
            .join(&container_id.value);
        let link = tasks.join(&task_id.value);
        if let Err(error) = std::os::unix::fs::symlink(&target, &link) {
            tracing::warn!(
                %error,
                link = %link.display(),
                "Unable to create symbolic link for the task's container"
            );
        }
    }

    fn wait(&mut self, task_ids: &[TaskId]) {
        let Some(connection_id) = self.connection_id else {
            return;
        };
        for task_id in task_ids {
            self.wait_one(connection_id, task_id, None);
        }
    }

    /// Sends WAIT_NESTED_CONTAINER for `task_id`, after `delay` on a retry.
    fn wait_one(&mut self, connection_id: u64, task_id: &TaskId, delay: Option<Duration>) {
        let Some(container) = self.container(task_id) else {
            return;
        };
        tracing::info!(
            container_id = %container.container_id.value,
            task_id = task_id.value,
            "Waiting for child container"
        );
        let mut call = agent::Call {
            wait_nested_container: Some(agent::call::WaitNestedContainer {
                container_id: container.container_id.clone(),
            }),
            ..Default::default()
        };
        call.set_type(agent::call::Type::WaitNestedContainer);
        let request = self.operator_request(&call);
        let tx = self.tx.clone();
        let task_id = task_id.clone();
        let id = task_id.clone();
        let handle = self.tasks.spawn(async move {
            let outcome = match Connection::connect(&request.url).await {
                Err(error) => WaitOutcome::ConnectFailed(error.to_string()),
                Ok(mut connection) => {
                    if let Some(delay) = delay {
                        tokio::time::sleep(delay).await;
                    }
                    match connection.send(&request).await {
                        Ok(response) => WaitOutcome::Answered(response),
                        Err(error) => WaitOutcome::Failed(error.to_string()),
                    }
                }
            };
            let _ = tx.send(Msg::Waited {
                connection_id,
                task_id,
                outcome,
            });
        });
        if let Some(container) = self.container_mut(&id) {
            if let Some(old) = container.waiting.replace(handle) {
                old.abort();
            }
        }
    }

    /// Waits again; upstream reconnects at once and delays the call by a
    /// second after an interrupted wait (`delay`).
    fn retry_wait(&mut self, connection_id: u64, task_id: &TaskId, delay: Option<Duration>) {
        if self.connection_id != Some(connection_id) || self.state != State::Subscribed {
            tracing::debug!("Ignoring retry attempt from a stale connection");
            return;
        }
        self.wait_one(connection_id, task_id, delay);
    }

    fn waited(&mut self, connection_id: u64, task_id: &TaskId, outcome: WaitOutcome) {
        if self.connection_id != Some(connection_id) || self.state != State::Subscribed {
            tracing::debug!("Ignoring the waited callback from a stale connection");
            return;
        }
        let Some(container) = self.container_mut(task_id) else {
            return;
        };
        container.waiting = None;
        let container_id = container.container_id.value.clone();
        let response = match outcome {
            WaitOutcome::ConnectFailed(error) => {
                // Upstream shuts down when the first wait cannot connect
                // and retries later ones; both end in a retry loop or exit,
                // so retry after a pause.
                tracing::error!(
                    %error,
                    container_id,
                    "Unable to establish connection with the agent for waiting on child \
                     container; retrying"
                );
                self.schedule(
                    RETRY_INTERVAL,
                    Msg::RetryWait {
                        connection_id,
                        task_id: task_id.clone(),
                    },
                );
                return;
            }
            WaitOutcome::Failed(error) => {
                tracing::error!(
                    %error,
                    container_id,
                    "Connection for waiting on child container interrupted"
                );
                return self.retry_wait(connection_id, task_id, Some(RETRY_INTERVAL));
            }
            WaitOutcome::Answered(response) => response,
        };
        if response.head.code == 503 {
            tracing::warn!(
                status = %response.head.status,
                body = response.body_text(),
                container_id,
                "Agent unavailable while waiting on child container"
            );
            return self.retry_wait(connection_id, task_id, Some(RETRY_INTERVAL));
        }
        if response.head.code != 404 && response.head.code != 200 {
            tracing::error!(
                status = %response.head.status,
                body = response.body_text(),
                container_id,
                "Error waiting on child container"
            );
            return self.terminate_when_acknowledged();
        }

        let Some(container) = self.container_mut(task_id) else {
            return;
        };
        // No check or health update after the terminal one.
        container.checker = None;
        container.health_checker = None;
        let container = &*container;
        let mut state;
        let mut message: Option<String> = None;
        let mut reason: Option<Reason> = None;
        let mut limitation: Option<TaskResourceLimitation> = None;
        if response.head.code == 404 {
            if container.killing {
                state = TaskState::TaskKilled;
            } else if let Some(error) = &container.launch_error {
                state = TaskState::TaskFailed;
                message = Some(error.clone());
            } else {
                state = TaskState::TaskFailed;
                message = Some("Unable to retrieve command's termination information".into());
            }
        } else {
            let wait = match mesos_proto::api::decode_call::<agent::Response>(
                Some(response.head.header("Content-Type").unwrap_or(PROTOBUF)),
                &response.body,
            ) {
                Ok(decoded) => decoded.wait_nested_container.unwrap_or_default(),
                Err(error) => {
                    tracing::error!(?error, container_id, "Malformed wait response");
                    agent::response::WaitNestedContainer::default()
                }
            };
            match wait.exit_status {
                None => {
                    state = TaskState::TaskFailed;
                    message = Some(
                        container
                            .launch_error
                            .clone()
                            .unwrap_or_else(|| "Command terminated with unknown status".into()),
                    );
                }
                Some(raw) => {
                    let status = ExitStatus::from_raw(raw);
                    state = if container.killed_by_completion_timeout {
                        reason = Some(Reason::MaxCompletionTimeReached);
                        TaskState::TaskFailed
                    } else if container.killing {
                        TaskState::TaskKilled
                    } else if status.success() {
                        TaskState::TaskFinished
                    } else {
                        TaskState::TaskFailed
                    };
                    message = Some(format!("Command {}", wstringify(status)));
                }
            }
            // The agent knows better why the container ended (a resource
            // limitation, say).
            if let Some(agent_state) = wait.state.and_then(|s| TaskState::try_from(s).ok()) {
                state = agent_state;
            }
            if let Some(agent_reason) = wait.reason.and_then(|r| Reason::try_from(r).ok()) {
                reason = Some(agent_reason);
            }
            if let Some(agent_message) = wait.message {
                message = Some(match message {
                    Some(ours) => format!("{ours}: {agent_message}"),
                    None => agent_message,
                });
            }
            limitation = wait.limitation;
        }

        let mut status = self.create_task_status(task_id, state);
        if let Some(reason) = reason {
            status.set_reason(reason);
        }
        status.message = message.clone();
        status.limitation = limitation;
        if self.unhealthy {
            status.healthy = Some(false);
        }
        self.forward(status);
        tracing::info!(
            container_id,
            task_id = task_id.value,
            state = state.as_str_name(),
            message = message.as_deref().unwrap_or_default(),
            "Child container completed"
        );

        // The default restart policy of a task group: when one task fails
        // or is killed, kill the others.
        let Some(index) = self
            .containers
            .iter()
            .position(|c| c.task.task_id == *task_id)
        else {
            return;
        };
        if !self.shutting_down
            && !self.containers[index].killing_task_group
            && matches!(state, TaskState::TaskFailed | TaskState::TaskKilled)
        {
            self.containers[index].killing_task_group = true;
            let group: Vec<TaskId> = self.containers[index]
                .group
                .tasks
                .iter()
                .map(|t| t.task_id.clone())
                .collect();
            tracing::info!(
                tasks = ?group.iter().map(|t| t.value.as_str()).collect::<Vec<_>>(),
                "Killing task group"
            );
            for other in group.iter().filter(|t| *t != task_id) {
                let Some(container) = self.container_mut(other) else {
                    continue;
                };
                container.killing_task_group = true;
                // Already being killed: MESOS-8051.
                if container.killing {
                    continue;
                }
                self.kill(other, None, KillPurpose::Task);
            }
        }
        if let Some(index) = self
            .containers
            .iter()
            .position(|c| c.task.task_id == *task_id)
        {
            let container = self.containers.remove(index);
            if let Some(timer) = container.max_completion_timer {
                timer.abort();
            }
        }
        if self.containers.is_empty() {
            self.terminate_when_acknowledged();
        }
    }

    fn shutdown(&mut self) {
        if self.shutting_down {
            tracing::warn!("Ignoring shutdown since it is in progress");
            return;
        }
        tracing::info!("Shutting down");
        self.shutting_down = true;
        if self.containers.is_empty() || self.state != State::Subscribed {
            return self.terminate_when_acknowledged();
        }
        let task_ids: Vec<TaskId> = self
            .containers
            .iter()
            .filter(|c| !c.killing)
            .map(|c| c.task.task_id.clone())
            .collect();
        for task_id in &task_ids {
            self.kill(task_id, None, KillPurpose::Shutdown);
        }
    }

    /// Upstream's `_shutdown`: terminate now if every update was
    /// acknowledged, else after the fail-safe delay.
    fn terminate_when_acknowledged(&mut self) {
        if self.unacknowledged_updates.is_empty() {
            self.terminated = true;
        } else {
            tracing::info!(after = ?self.config.termination_fail_safe, "Terminating");
            self.schedule(self.config.termination_fail_safe, Msg::Terminate);
        }
    }

    /// Kills a task's container: TASK_KILLING if the framework can handle
    /// it, SIGTERM now and SIGKILL after the grace period.
    fn kill(&mut self, task_id: &TaskId, grace_period: Option<Duration>, purpose: KillPurpose) {
        let Some(container) = self.container_mut(task_id) else {
            return;
        };
        if !container.launched {
            // A group whose containers failed to launch.
            return;
        }
        if let Some(timer) = container.max_completion_timer.take() {
            timer.abort();
        }
        container.killing = true;
        // Checking stops with the kill.
        container.checker = None;
        container.health_checker = None;
        let container_id = container.container_id.clone();
        let killed_by_completion_timeout = container.killed_by_completion_timeout;
        let grace_period = grace_period.unwrap_or(DEFAULT_KILL_GRACE_PERIOD);
        tracing::info!(
            task_id = task_id.value,
            container_id = %container_id.value,
            ?grace_period,
            "Killing task with SIGTERM; escalating to SIGKILL after the grace period"
        );
        self.schedule(
            grace_period,
            Msg::Escalate {
                container_id: container_id.clone(),
                task_id: task_id.clone(),
                grace_period,
            },
        );
        let killing_capable = self.framework_info.as_ref().is_some_and(|info| {
            info.capabilities
                .iter()
                .any(|c| c.r#type == Some(Capability::TaskKillingState as i32))
        });
        if !killed_by_completion_timeout && killing_capable {
            let status = self.create_task_status(task_id, TaskState::TaskKilling);
            self.forward(status);
        }
        self.send_kill(
            container_id,
            task_id.clone(),
            libc::SIGTERM,
            purpose,
            grace_period,
        );
    }

    fn send_kill(
        &mut self,
        container_id: ContainerId,
        task_id: TaskId,
        signal: i32,
        purpose: KillPurpose,
        grace_period: Duration,
    ) {
        let mut call = agent::Call {
            kill_nested_container: Some(agent::call::KillNestedContainer {
                container_id: container_id.clone(),
                signal: Some(signal),
            }),
            ..Default::default()
        };
        call.set_type(agent::call::Type::KillNestedContainer);
        let request = self.operator_request(&call);
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            let error = match http::post(&request).await {
                Ok(response) if response.head.code == 200 => None,
                Ok(response) => Some(format!(
                    "The agent failed to send signal {} ({signal}) to the container {}: {}",
                    signal_name(signal),
                    container_id.value,
                    response.body_text()
                )),
                Err(error) => Some(error.to_string()),
            };
            let _ = tx.send(Msg::Killed {
                purpose,
                container_id,
                task_id,
                grace_period,
                error,
            });
        });
    }

    fn killed(
        &mut self,
        purpose: KillPurpose,
        container_id: ContainerId,
        task_id: TaskId,
        grace_period: Duration,
        error: Option<String>,
    ) {
        let Some(error) = error else {
            return;
        };
        match purpose {
            KillPurpose::Task => tracing::warn!(
                %error,
                task_id = task_id.value,
                container_id = %container_id.value,
                "Failed to kill the task"
            ),
            KillPurpose::Shutdown => {
                tracing::error!(%error, "Unable to complete the operation of killing child containers");
                if !self.shutdown_kill_failed {
                    self.shutdown_kill_failed = true;
                    self.terminate_when_acknowledged();
                }
            }
            KillPurpose::Escalation => {
                tracing::warn!(
                    %error,
                    task_id = task_id.value,
                    container_id = %container_id.value,
                    "Escalation to SIGKILL failed; retrying"
                );
                self.schedule(
                    RETRY_INTERVAL,
                    Msg::Escalate {
                        container_id,
                        task_id,
                        grace_period,
                    },
                );
            }
        }
    }

    fn escalated(&mut self, container_id: ContainerId, task_id: TaskId, grace_period: Duration) {
        if self.container(&task_id).is_none() {
            tracing::debug!(
                task_id = task_id.value,
                "Ignoring escalation to SIGKILL since the task has already terminated"
            );
            return;
        }
        tracing::info!(
            task_id = task_id.value,
            container_id = %container_id.value,
            ?grace_period,
            "Task did not terminate after the grace period, sending SIGKILL"
        );
        self.send_kill(
            container_id,
            task_id,
            libc::SIGKILL,
            KillPurpose::Escalation,
            grace_period,
        );
    }

    fn kill_task(&mut self, task_id: &TaskId, kill_policy: Option<&KillPolicy>) {
        if self.shutting_down {
            tracing::warn!(
                task_id = task_id.value,
                "Ignoring kill since the executor is shutting down"
            );
            return;
        }
        tracing::info!(task_id = task_id.value, "Received kill for task");
        let Some(container) = self.container(task_id) else {
            tracing::warn!(
                task_id = task_id.value,
                "Ignoring kill for a task that is no longer active"
            );
            return;
        };
        if container.killing {
            tracing::warn!(
                task_id = task_id.value,
                "Ignoring kill for a task that is being killed"
            );
            return;
        }
        // The kill's policy wins over the task's.
        let grace_period = kill_policy
            .and_then(|p| p.grace_period.as_ref())
            .or_else(|| {
                container
                    .task
                    .kill_policy
                    .as_ref()
                    .and_then(|p| p.grace_period.as_ref())
            })
            .map(|d| Duration::from_nanos(d.nanoseconds.max(0).unsigned_abs()));
        self.kill(task_id, grace_period, KillPurpose::Task);
    }

    fn max_completion(&mut self, task_id: &TaskId, duration: Duration) {
        let Some(container) = self.container_mut(task_id) else {
            return;
        };
        tracing::info!(
            task_id = task_id.value,
            ?duration,
            "Killing task which exceeded its maximum completion time"
        );
        container.max_completion_timer = None;
        container.killed_by_completion_timeout = true;
        if container.killing {
            return;
        }
        self.kill(task_id, Some(Duration::ZERO), KillPurpose::Task);
    }

    fn drop_task_group(&mut self, group: &TaskGroupInfo) {
        let partition_aware = self.framework_info.as_ref().is_some_and(|info| {
            info.capabilities
                .iter()
                .any(|c| c.r#type == Some(Capability::PartitionAware as i32))
        });
        let state = if partition_aware {
            TaskState::TaskDropped
        } else {
            TaskState::TaskLost
        };
        for task in &group.tasks {
            // The task has no container, so the status has no container id.
            let status = self.create_task_status(&task.task_id, state);
            self.forward_status(status, None);
        }
        if self.containers.is_empty() {
            self.terminate_when_acknowledged();
        }
    }

    /// Starts the check and health check of `task`, which runs in
    /// `container_id`.
    fn start_checks(
        &mut self,
        task: &TaskInfo,
        container_id: &ContainerId,
    ) -> Result<(), mesos_proto::validation::ValidationError> {
        let runtime = checks::Runtime::Nested(checks::Nested {
            task_container_id: container_id.clone(),
            agent_url: self.config.operator_url.clone(),
            authorization: self.config.authorization.clone(),
        });
        let task_id = checks::convert::<_, mesos_proto::mesos::TaskId>(&task.task_id);
        let checker = match &task.check {
            Some(check) => {
                let tx = self.tx.clone();
                let v1_task_id = task.task_id.clone();
                Some(Checker::create(
                    &checks::convert(check),
                    runtime.clone(),
                    task_id.clone(),
                    move |check_status| {
                        let _ = tx.send(Msg::CheckUpdated {
                            task_id: v1_task_id.clone(),
                            check_status,
                        });
                    },
                )?)
            }
            None => None,
        };
        let health_checker = match &task.health_check {
            Some(health_check) => {
                let tx = self.tx.clone();
                Some(HealthChecker::create(
                    &checks::convert(health_check),
                    runtime,
                    task_id,
                    move |health| {
                        let _ = tx.send(Msg::HealthUpdated(health));
                    },
                )?)
            }
            None => None,
        };
        if let Some(container) = self.container_mut(&task.task_id) {
            container.checker = checker;
            container.health_checker = health_checker;
        }
        Ok(())
    }

    /// A check result changed: `TASK_RUNNING` with the new check status.
    fn task_check_updated(
        &mut self,
        task_id: &TaskId,
        check_status: mesos_proto::mesos::CheckStatusInfo,
    ) {
        let Some(container) = self.container(task_id) else {
            tracing::debug!(
                task_id = task_id.value,
                "Ignoring check update of an ended task"
            );
            return;
        };
        if container.checker.is_none() {
            tracing::debug!(
                task_id = task_id.value,
                "Ignoring check update of a killed task"
            );
            return;
        }
        tracing::info!(
            task_id = task_id.value,
            ?check_status,
            "Received check update"
        );
        let Some(mut status) = container.last_status.clone() else {
            return;
        };
        refresh(&mut status);
        status.set_reason(Reason::TaskCheckStatusUpdated);
        status.check_status = Some(checks::convert(&check_status));
        self.forward(status);
    }

    /// A health report: `TASK_RUNNING` with `healthy`, and a kill when the
    /// health check says so.
    fn task_health_updated(&mut self, health: TaskHealthStatus) {
        if self.state == State::Disconnected {
            tracing::debug!("Ignoring task health update while disconnected from the agent");
            return;
        }
        let task_id: TaskId = checks::convert(&health.task_id);
        let Some(container) = self.container(&task_id) else {
            tracing::debug!(
                task_id = task_id.value,
                "Ignoring health update of an ended task"
            );
            return;
        };
        if container.health_checker.is_none() {
            tracing::debug!(
                task_id = task_id.value,
                "Ignoring health update of a killed task"
            );
            return;
        }
        tracing::info!(
            task_id = task_id.value,
            healthy = health.healthy,
            "Received task health update"
        );
        let Some(mut status) = container.last_status.clone() else {
            return;
        };
        refresh(&mut status);
        status.set_reason(Reason::TaskHealthCheckStatusUpdated);
        status.healthy = Some(health.healthy);
        self.forward(status);
        if health.kill_task {
            self.unhealthy = true;
            self.kill_task(&task_id, None);
        }
    }

    /// Upstream's `createTaskStatus`: a fresh status from this executor.
    fn create_task_status(&self, task_id: &TaskId, state: TaskState) -> TaskStatus {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let mut status = TaskStatus {
            task_id: task_id.clone(),
            uuid: Some(Uuid::new_v4().as_bytes().to_vec()),
            timestamp: Some(timestamp),
            executor_id: Some(self.config.executor_id.clone()),
            ..Default::default()
        };
        status.set_state(state);
        status.set_source(Source::Executor);
        if let Some(container) = self.container(task_id) {
            // A checked task's updates always carry a check status.
            if let Some(check) = &container.task.check {
                let mut check_status = CheckStatusInfo {
                    r#type: check.r#type,
                    ..Default::default()
                };
                use mesos_proto::mesos::v1::check_info::Type as CheckType;
                match check.r#type() {
                    CheckType::Command => {
                        check_status.command = Some(check_status_info::Command::default());
                    }
                    CheckType::Http => {
                        check_status.http = Some(check_status_info::Http::default());
                    }
                    CheckType::Tcp => {
                        check_status.tcp = Some(check_status_info::Tcp::default());
                    }
                    CheckType::Unknown => {}
                }
                status.check_status = Some(check_status);
            }
            status.container_status = Some(ContainerStatus {
                container_id: Some(container.container_id.clone()),
                ..Default::default()
            });
        }
        status
    }

    fn forward(&mut self, status: TaskStatus) {
        let task_id = status.task_id.clone();
        self.forward_status(status, Some(&task_id));
    }

    /// Sends an UPDATE and keeps it until acknowledged.
    fn forward_status(&mut self, status: TaskStatus, task_id: Option<&TaskId>) {
        let uuid = status
            .uuid
            .as_deref()
            .and_then(|bytes| Uuid::from_slice(bytes).ok())
            .unwrap_or_else(Uuid::new_v4);
        let update = call::Update { status };
        self.unacknowledged_updates.push((uuid, update.clone()));
        if let Some(task_id) = task_id {
            if let Some(container) = self.container_mut(task_id) {
                container.last_status = Some(update.status.clone());
            }
        }
        let mut call = Call {
            executor_id: self.config.executor_id.clone(),
            framework_id: self.config.framework_id.clone(),
            update: Some(update),
            ..Default::default()
        };
        call.set_type(call::Type::Update);
        self.lib_send(call);
    }

    fn operator_request(&self, call: &agent::Call) -> http::Request {
        http::Request {
            url: self.config.operator_url.clone(),
            headers: headers(&self.config),
            body: call.encode_to_vec(),
        }
    }

    fn container(&self, task_id: &TaskId) -> Option<&Container> {
        self.containers.iter().find(|c| c.task.task_id == *task_id)
    }

    fn container_mut(&mut self, task_id: &TaskId) -> Option<&mut Container> {
        self.containers
            .iter_mut()
            .find(|c| c.task.task_id == *task_id)
    }
}

/// Gives a copy of an update a fresh uuid and timestamp (upstream's
/// `createTaskStatus` from a previous status).
fn refresh(status: &mut TaskStatus) {
    status.uuid = Some(Uuid::new_v4().as_bytes().to_vec());
    status.timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs_f64());
}

/// The headers of every call: protobuf both ways, and the executor's token.
fn headers(config: &DefaultExecutorConfig) -> Vec<(String, String)> {
    library::headers(config.authorization.as_deref())
}

/// Builds the launch call of one task's container.
fn launch_call(
    kind: LaunchCall,
    container_id: ContainerId,
    task: &TaskInfo,
    container_ip: Option<&str>,
) -> agent::Call {
    let mut container: Option<ContainerInfo> = task.container.clone();
    // Disk resources are mounted in the executor's container; give the
    // task the same volumes from its parent's sandbox.
    for resource in &task.resources {
        let Some(volume) = resource.disk.as_ref().and_then(|d| d.volume.as_ref()) else {
            continue;
        };
        let info = container.get_or_insert_with(|| {
            let mut info = ContainerInfo::default();
            info.set_type(mesos_proto::mesos::v1::container_info::Type::Mesos);
            info
        });
        let mut source = volume::Source {
            sandbox_path: Some(volume::source::SandboxPath {
                r#type: Some(volume::source::sandbox_path::Type::Parent as i32),
                path: volume.container_path.clone(),
            }),
            ..Default::default()
        };
        source.set_type(volume::source::Type::SandboxPath);
        info.volumes.push(Volume {
            mode: volume.mode,
            container_path: volume.container_path.clone(),
            source: Some(source),
            ..Default::default()
        });
    }

    let mut command = task.command.clone().unwrap_or_default();
    let environment = command.environment.get_or_insert_with(Default::default);
    environment.variables.push(environment::Variable {
        name: MESOS_CONTAINER_IP.into(),
        value: Some(container_ip.unwrap_or_default().to_string()),
        ..Default::default()
    });
    // Tasks cannot mix roles (MESOS-6636), so the first resource's is the
    // task's.
    if let Some(resource) = task.resources.first() {
        environment.variables.push(environment::Variable {
            name: MESOS_ALLOCATION_ROLE.into(),
            value: Some(
                resource
                    .allocation_info
                    .as_ref()
                    .and_then(|a| a.role.clone())
                    .unwrap_or_default(),
            ),
            ..Default::default()
        });
    }

    let mut call = agent::Call::default();
    match kind {
        LaunchCall::LaunchContainer => {
            call.set_type(agent::call::Type::LaunchContainer);
            call.launch_container = Some(agent::call::LaunchContainer {
                container_id,
                command: Some(command),
                resources: task.resources.clone(),
                container,
                limits: task.limits.clone(),
            });
        }
        LaunchCall::LaunchNestedContainer => {
            call.set_type(agent::call::Type::LaunchNestedContainer);
            call.launch_nested_container = Some(agent::call::LaunchNestedContainer {
                container_id,
                command: Some(command),
                container,
            });
        }
    }
    call
}

/// Upstream's `ShutdownProcess::kill`: the executor did not exit within
/// its shutdown grace period.
fn kill_process_group() {
    tracing::info!("Committing suicide by killing the process group");
    // SAFETY: killpg has no memory-safety preconditions.
    unsafe {
        libc::killpg(0, libc::SIGKILL);
    }
    std::thread::sleep(Duration::from_secs(5));
    std::process::exit(255);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn config_follows_the_agent_pid() {
        let config = DefaultExecutorConfig::from_vars(
            PathBuf::from("/usr/libexec/mesos"),
            vars(&[
                ("MESOS_FRAMEWORK_ID", "f"),
                ("MESOS_EXECUTOR_ID", "e"),
                ("MESOS_SLAVE_PID", "slave(1)@10.0.0.2:5051"),
                ("MESOS_SANDBOX", "/sandbox"),
                ("MESOS_CHECKPOINT", "1"),
                ("MESOS_RECOVERY_TIMEOUT", "10secs"),
                ("MESOS_SUBSCRIPTION_BACKOFF_MAX", "500ms"),
                ("MESOS_EXECUTOR_AUTHENTICATION_TOKEN", "t0k"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.executor_url.to_string(),
            "http://10.0.0.2:5051/slave(1)/api/v1/executor"
        );
        assert_eq!(
            config.operator_url.to_string(),
            "http://10.0.0.2:5051/slave(1)/api/v1"
        );
        assert!(config.checkpoint);
        assert_eq!(config.recovery_timeout, Duration::from_secs(10));
        assert_eq!(config.subscription_backoff_max, Duration::from_millis(500));
        assert_eq!(config.authorization.as_deref(), Some("Bearer t0k"));
        assert_eq!(
            config.shutdown_grace_period,
            DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD
        );
    }

    #[test]
    fn config_falls_back_to_the_agent_endpoint_and_names_missing_variables() {
        let config = DefaultExecutorConfig::from_vars(
            PathBuf::new(),
            vars(&[
                ("MESOS_FRAMEWORK_ID", "f"),
                ("MESOS_EXECUTOR_ID", "e"),
                ("MESOS_AGENT_ENDPOINT", "127.0.0.1:5051"),
                ("MESOS_SANDBOX", "/sandbox"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.executor_url.to_string(),
            "http://127.0.0.1:5051/api/v1/executor"
        );
        let error = DefaultExecutorConfig::from_vars(PathBuf::new(), vars(&[])).unwrap_err();
        assert!(error.to_string().contains("MESOS_FRAMEWORK_ID"), "{error}");
    }

    #[test]
    fn signals_are_named_as_strsignal() {
        assert_eq!(signal_name(libc::SIGTERM), "Terminated");
        assert_eq!(signal_name(libc::SIGKILL), "Killed");
    }

    #[test]
    fn launch_calls_carry_the_task_and_its_environment() {
        let task: TaskInfo = mesos_proto::json::from_str(
            r#"{"name":"t","task_id":{"value":"t1"},"agent_id":{"value":"a"},
                "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1},
                              "allocation_info":{"role":"web"}}],
                "command":{"value":"sleep 1"}}"#,
        )
        .unwrap();
        let id = ContainerId {
            value: "c".into(),
            parent: Some(Box::new(ContainerId {
                value: "p".into(),
                parent: None,
            })),
        };
        let call = launch_call(
            LaunchCall::LaunchContainer,
            id.clone(),
            &task,
            Some("10.1.1.1"),
        );
        assert_eq!(call.r#type(), agent::call::Type::LaunchContainer);
        let launch = call.launch_container.unwrap();
        assert_eq!(launch.container_id, id);
        assert_eq!(launch.resources, task.resources);
        let command = launch.command.unwrap();
        assert_eq!(command.value.as_deref(), Some("sleep 1"));
        let variables = command.environment.unwrap().variables;
        assert_eq!(variables[0].name, "MESOS_CONTAINER_IP");
        assert_eq!(variables[0].value.as_deref(), Some("10.1.1.1"));
        assert_eq!(variables[1].name, "MESOS_ALLOCATION_ROLE");
        assert_eq!(variables[1].value.as_deref(), Some("web"));
        let nested = launch_call(LaunchCall::LaunchNestedContainer, id, &task, None);
        assert_eq!(nested.r#type(), agent::call::Type::LaunchNestedContainer);
        assert!(nested.launch_nested_container.is_some());
    }

    /// Upstream's default executor passes each task's `ContainerInfo`
    /// (its `linux_info.share_cgroups`), resources and limits in
    /// `LAUNCH_CONTAINER`: the agent gives a task with `share_cgroups`
    /// false cgroups of its own with them.
    #[test]
    fn launch_calls_carry_share_cgroups_and_limits() {
        let task: TaskInfo = mesos_proto::json::from_str(
            r#"{"name":"t","task_id":{"value":"t1"},"agent_id":{"value":"a"},
                "resources":[{"name":"mem","type":"SCALAR","scalar":{"value":32}}],
                "limits":{"mem":{"value":64},"cpus":{"value":"Infinity"}},
                "container":{"type":"MESOS","linux_info":{"share_cgroups":false}},
                "command":{"value":"sleep 1"}}"#,
        )
        .unwrap();
        let id = ContainerId {
            value: "c".into(),
            parent: Some(Box::new(ContainerId {
                value: "p".into(),
                parent: None,
            })),
        };
        let call = launch_call(LaunchCall::LaunchContainer, id, &task, None);
        let launch = call.launch_container.unwrap();
        assert_eq!(launch.resources, task.resources);
        assert_eq!(launch.limits, task.limits);
        assert_eq!(launch.limits["mem"].value, 64.0);
        assert!(launch.limits["cpus"].value.is_infinite());
        let share_cgroups = launch
            .container
            .and_then(|c| c.linux_info)
            .and_then(|l| l.share_cgroups);
        assert_eq!(share_cgroups, Some(false));
    }
}
