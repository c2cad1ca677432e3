//! The v0 executor driver: an [`Executor`] speaks to its agent through an
//! `executor(N)` libprocess process.
//!
//! Upstream counterpart: `src/exec/exec.cpp` (`ExecutorProcess`,
//! `ShutdownProcess`, `MesosExecutorDriver`) and `include/mesos/executor.hpp`
//! (`Executor`, `ExecutorDriver`). The wire protocol is in the wire facts
//! §5.1:
//!
//! ```text
//! executor(1): link(agent); RegisterExecutorMessage -------------------> agent
//! agent: ExecutorRegisteredMessage, RunTaskMessage, KillTaskMessage,
//!        FrameworkToExecutorMessage, ShutdownExecutorMessage ----------> executor(1)
//! executor(1): StatusUpdateMessage{update, pid=self} ------------------> agent
//! agent: StatusUpdateAcknowledgementMessage (after checkpointing) -----> executor(1)
//! agent (recovered): ReconnectExecutorMessage; executor(1): relink and
//!        ReregisterExecutorMessage{unacknowledged tasks and updates}; agent:
//!        ExecutorReregisteredMessage
//! ```
//!
//! The agent describes the executor in its environment ([`DriverConfig::from_env`]).
//! If the link to the agent breaks, a checkpointing executor waits
//! `MESOS_RECOVERY_TIMEOUT` for the agent to reconnect; otherwise it shuts
//! down at once. After a shutdown the whole process group is killed once
//! `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` has passed, in case the executor
//! does not exit by itself.
//!
//! Callbacks run inside the driver's process, one at a time. The
//! [`ExecutorDriver`] handle they receive is cheap to clone and can be used
//! from any thread; its calls are queued to the process as upstream's
//! `dispatch`es are.
//!
//! Deliberate differences from upstream:
//! - Bad input from the wire is logged and dropped instead of crashing the
//!   executor: a duplicate `RunTaskMessage` (upstream `CHECK`s) and an
//!   acknowledgement whose uuid is not 16 bytes (upstream `CHECK_SOME`).
//! - [`Executor::kill_task`] receives `KillTaskMessage.kill_policy`, which
//!   upstream passes only to its Docker executor.
//! - [`Executor::acknowledged`] reports each acknowledged update (the v1
//!   API's `ACKNOWLEDGED` event), and [`Executor::disconnected`] is called
//!   when a checkpointing executor starts waiting for its agent; upstream's
//!   v0 driver has neither.
//! - The shutdown grace period is a libprocess clock timer, not an
//!   `exec-shutdown(N)` process (MESOS-4729 notes the process exists only
//!   because upstream's `delay` needs one).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use actix::{ActorContext as _, AsyncContext as _, Context};
use libprocess::{Process, ProcessBase, Runtime, Timer, PID, UPID};
use mesos_proto::mesos::internal::{
    ExecutorRegisteredMessage, ExecutorReregisteredMessage, ExecutorToFrameworkMessage,
    FrameworkToExecutorMessage, KillTaskMessage, ReconnectExecutorMessage, RegisterExecutorMessage,
    ReregisterExecutorMessage, RunTaskMessage, ShutdownExecutorMessage, StatusUpdate,
    StatusUpdateAcknowledgementMessage, StatusUpdateMessage,
};
use mesos_proto::mesos::{
    ExecutorId, ExecutorInfo, FrameworkId, FrameworkInfo, KillPolicy, SlaveId, SlaveInfo, Status,
    TaskId, TaskInfo, TaskState, TaskStatus,
};
use tokio::sync::watch;
use uuid::Uuid;

/// Upstream's `DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD`, used when
/// `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` is unset (agents before 0.28).
pub const DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD: Duration = Duration::from_secs(5);

/// Upstream's `RECOVERY_TIMEOUT`, used when a checkpointing executor has no
/// `MESOS_RECOVERY_TIMEOUT`.
pub const RECOVERY_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Why the driver could not start.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// A variable the agent always sets is missing.
    #[error("expecting '{0}' to be set in the environment")]
    MissingEnv(&'static str),
    /// A variable has a value that does not parse.
    #[error("failed to parse value '{value}' of '{name}': {error}")]
    InvalidEnv {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why it does not parse.
        error: String,
    },
    /// libprocess could not start.
    #[error("failed to initialize libprocess")]
    Init(#[from] libprocess::InitError),
    /// The `executor(N)` process could not be spawned.
    #[error("failed to spawn the executor process")]
    Spawn(#[from] libprocess::SpawnError),
}

/// What the driver needs to know about its executor, as the agent passes it
/// in the environment (wire facts §5.2).
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// `MESOS_SLAVE_PID`: the agent to register with.
    pub slave: UPID,
    /// `MESOS_SLAVE_ID`: stamped on every status update.
    pub slave_id: SlaveId,
    /// `MESOS_FRAMEWORK_ID`.
    pub framework_id: FrameworkId,
    /// `MESOS_EXECUTOR_ID`.
    pub executor_id: ExecutorId,
    /// `MESOS_DIRECTORY`: the sandbox on the host.
    pub directory: PathBuf,
    /// `MESOS_LOCAL` is set (in-process clusters): a shutdown terminates the
    /// driver's process instead of killing the process group.
    pub local: bool,
    /// `MESOS_CHECKPOINT=1`: the framework checkpoints, so the agent may
    /// come back and reconnect.
    pub checkpoint: bool,
    /// `MESOS_RECOVERY_TIMEOUT` (read only when checkpointing): how long to
    /// wait for a lost agent to reconnect.
    pub recovery_timeout: Duration,
    /// `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`: how long after a shutdown
    /// the process group is killed.
    pub shutdown_grace_period: Duration,
}

impl DriverConfig {
    /// Reads the configuration from this process's environment, as
    /// upstream's `MesosExecutorDriver::start` does.
    pub fn from_env() -> Result<Self, DriverError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `var` (a variable's value, if set).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, DriverError> {
        let required = |name: &'static str| var(name).ok_or(DriverError::MissingEnv(name));
        let duration = |name: &'static str, default: Duration| match var(name) {
            None => Ok(default),
            Some(value) => {
                libprocess::flags::parse_duration(&value).map_err(|error| DriverError::InvalidEnv {
                    name,
                    value,
                    error: error.to_string(),
                })
            }
        };

        let local = var("MESOS_LOCAL").is_some();
        let value = required("MESOS_SLAVE_PID")?;
        let slave = match value.parse::<UPID>() {
            Ok(slave) if slave.is_valid() => slave,
            Ok(_) => {
                return Err(DriverError::InvalidEnv {
                    name: "MESOS_SLAVE_PID",
                    value,
                    error: "not a valid UPID".into(),
                })
            }
            Err(error) => {
                return Err(DriverError::InvalidEnv {
                    name: "MESOS_SLAVE_PID",
                    value,
                    error: error.to_string(),
                })
            }
        };
        let slave_id = SlaveId {
            value: required("MESOS_SLAVE_ID")?,
        };
        let framework_id = FrameworkId {
            value: required("MESOS_FRAMEWORK_ID")?,
        };
        let executor_id = ExecutorId {
            value: required("MESOS_EXECUTOR_ID")?,
        };
        let directory = PathBuf::from(required("MESOS_DIRECTORY")?);
        let shutdown_grace_period = duration(
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
            DEFAULT_EXECUTOR_SHUTDOWN_GRACE_PERIOD,
        )?;
        let checkpoint = var("MESOS_CHECKPOINT").as_deref() == Some("1");
        let recovery_timeout = if checkpoint {
            duration("MESOS_RECOVERY_TIMEOUT", RECOVERY_TIMEOUT)?
        } else {
            RECOVERY_TIMEOUT
        };
        Ok(Self {
            slave,
            slave_id,
            framework_id,
            executor_id,
            directory,
            local,
            checkpoint,
            recovery_timeout,
            shutdown_grace_period,
        })
    }
}

/// An executor: the callbacks upstream's `mesos::Executor` has, invoked by
/// the driver inside its process, one at a time.
pub trait Executor: 'static {
    /// The agent registered the executor (`ExecutorRegisteredMessage`).
    fn registered(
        &mut self,
        driver: &ExecutorDriver,
        executor_info: ExecutorInfo,
        framework_info: FrameworkInfo,
        slave_info: SlaveInfo,
    );

    /// A restarted agent re-registered the executor
    /// (`ExecutorReregisteredMessage`).
    fn reregistered(&mut self, driver: &ExecutorDriver, slave_info: SlaveInfo);

    /// The link to a checkpointing agent broke; the driver waits for it to
    /// reconnect. Not called by upstream's v0 driver.
    fn disconnected(&mut self, driver: &ExecutorDriver) {
        let _ = driver;
    }

    /// The agent asks to run `task` (`RunTaskMessage`).
    fn launch_task(&mut self, driver: &ExecutorDriver, task: TaskInfo);

    /// The agent asks to kill task `task_id` (`KillTaskMessage`), with the
    /// kill policy that overrides the task's, if the scheduler gave one.
    fn kill_task(
        &mut self,
        driver: &ExecutorDriver,
        task_id: TaskId,
        kill_policy: Option<KillPolicy>,
    );

    /// The agent acknowledged `status`, sent earlier through
    /// [`ExecutorDriver::send_status_update`] (the uuid is the driver's).
    fn acknowledged(&mut self, driver: &ExecutorDriver, status: &TaskStatus) {
        let _ = (driver, status);
    }

    /// A framework message arrived (`FrameworkToExecutorMessage`).
    fn framework_message(&mut self, driver: &ExecutorDriver, data: Vec<u8>);

    /// The executor must kill its tasks and exit: the agent asked
    /// (`ShutdownExecutorMessage`), the agent went away, or it did not come
    /// back within the recovery timeout. The process group is killed after
    /// the shutdown grace period.
    fn shutdown(&mut self, driver: &ExecutorDriver);

    /// A fatal error; the driver has been aborted before this is called.
    fn error(&mut self, driver: &ExecutorDriver, message: &str);
}

/// A handle to a started driver (upstream's `MesosExecutorDriver`). Clones
/// share the driver; every method may be called from any thread.
#[derive(Clone)]
pub struct ExecutorDriver {
    shared: Arc<Shared>,
}

struct Shared {
    status: Mutex<Status>,
    /// The process ignores messages from the agent (upstream's `aborted`):
    /// set by `abort` and once the executor was told to shut down.
    aborted: AtomicBool,
    process: OnceLock<PID<ExecutorProcess>>,
    /// Becomes `true` when `stop` or `abort` is called (upstream's latch).
    latch: watch::Sender<bool>,
}

impl std::fmt::Debug for ExecutorDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorDriver")
            .field("status", &self.status())
            .field("upid", &self.upid())
            .finish()
    }
}

impl ExecutorDriver {
    /// Spawns the driver's `executor(N)` process on `runtime`, which links
    /// to the agent and registers; callbacks go to `executor`. Must be
    /// called inside an actix system.
    pub fn start(
        runtime: &Runtime,
        config: DriverConfig,
        executor: impl Executor,
    ) -> Result<Self, DriverError> {
        let driver = Self {
            shared: Arc::new(Shared {
                status: Mutex::new(Status::DriverNotStarted),
                aborted: AtomicBool::new(false),
                process: OnceLock::new(),
                latch: watch::Sender::new(false),
            }),
        };
        let process = ExecutorProcess::new(config, Box::new(executor), driver.clone());
        // The process runs on this thread, so it cannot see the driver
        // before `start` returns.
        let pid = runtime.spawn(process)?;
        let _ = driver.shared.process.set(pid);
        *driver.lock_status() = Status::DriverRunning;
        Ok(driver)
    }

    fn lock_status(&self) -> MutexGuard<'_, Status> {
        self.shared
            .status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn dispatch(
        &self,
        f: impl FnOnce(&mut ExecutorProcess, &mut Context<ExecutorProcess>) + Send + 'static,
    ) {
        if let Some(pid) = self.shared.process.get() {
            pid.dispatch(f);
        }
    }

    /// Returns the driver's status.
    pub fn status(&self) -> Status {
        *self.lock_status()
    }

    /// Returns the UPID of the driver's process (`executor(1)@ip:port`).
    pub fn upid(&self) -> Option<UPID> {
        self.shared.process.get().map(|pid| pid.upid().clone())
    }

    /// Sends `status` to the agent as upstream does: the driver fills in
    /// a fresh uuid, the agent's id, the timestamp, and the framework and
    /// executor ids, and keeps the update until the agent acknowledges it.
    /// A `TASK_STAGING` update aborts the driver and reports an error, as
    /// upstream's driver does. Returns the driver's status; nothing is sent
    /// unless it is running.
    pub fn send_status_update(&self, status: TaskStatus) -> Status {
        let current = self.status();
        if current == Status::DriverRunning {
            self.dispatch(move |process, _| process.send_status_update(status));
        }
        current
    }

    /// Sends `data` to the executor's scheduler (`ExecutorToFrameworkMessage`
    /// through the agent). Returns the driver's status; nothing is sent
    /// unless it is running.
    pub fn send_framework_message(&self, data: Vec<u8>) -> Status {
        let current = self.status();
        if current == Status::DriverRunning {
            self.dispatch(move |process, _| process.send_framework_message(data));
        }
        current
    }

    /// Stops the driver: its process terminates and [`Self::join`]
    /// returns. Returns `DriverAborted` if it had been aborted, else the
    /// new status.
    pub fn stop(&self) -> Status {
        let aborted = {
            let mut status = self.lock_status();
            if *status != Status::DriverRunning && *status != Status::DriverAborted {
                return *status;
            }
            let aborted = *status == Status::DriverAborted;
            *status = Status::DriverStopped;
            aborted
        };
        self.dispatch(|_, ctx| ctx.stop());
        self.shared.latch.send_replace(true);
        if aborted {
            Status::DriverAborted
        } else {
            Status::DriverStopped
        }
    }

    /// Aborts the driver: it ignores the agent from now on (updates the
    /// executor sends still go out), and [`Self::join`] returns.
    pub fn abort(&self) -> Status {
        {
            let mut status = self.lock_status();
            if *status != Status::DriverRunning {
                return *status;
            }
            self.shared.aborted.store(true, Ordering::Release);
            *status = Status::DriverAborted;
        }
        tracing::info!("Deactivating the executor libprocess");
        self.shared.latch.send_replace(true);
        Status::DriverAborted
    }

    /// Waits until the driver is stopped or aborted; returns its status.
    pub async fn join(&self) -> Status {
        if self.status() != Status::DriverRunning {
            return self.status();
        }
        let mut latch = self.shared.latch.subscribe();
        // The sender lives in `self`, so the channel cannot close.
        let _ = latch.wait_for(|stopped| *stopped).await;
        self.status()
    }

    fn aborted(&self) -> bool {
        self.shared.aborted.load(Ordering::Acquire)
    }
}

/// Runs `executor` the way upstream's `MesosExecutorDriver::run` does:
/// reads the environment, initializes libprocess
/// (`libprocess::initialize(Config::from_env())`), starts the driver in a
/// new actix system and blocks until it is stopped or aborted. Returns the
/// final status (`DriverStopped` is a clean exit).
pub fn run(executor: impl Executor) -> Result<Status, DriverError> {
    let config = DriverConfig::from_env()?;
    let runtime = libprocess::initialize(libprocess::Config::from_env()?)?;
    actix::System::new().block_on(async move {
        let driver = ExecutorDriver::start(&runtime, config, executor)?;
        Ok(driver.join().await)
    })
}

/// The driver's libprocess process, `executor(N)` (upstream's
/// `ExecutorProcess`).
struct ExecutorProcess {
    base: ProcessBase<Self>,
    slave: UPID,
    driver: ExecutorDriver,
    executor: Box<dyn Executor>,
    slave_id: SlaveId,
    framework_id: FrameworkId,
    executor_id: ExecutorId,
    /// Registered with the agent.
    connected: bool,
    /// Identifies the current registration, so a stale recovery timeout
    /// does nothing.
    connection: Uuid,
    local: bool,
    checkpoint: bool,
    recovery_timeout: Duration,
    shutdown_grace_period: Duration,
    /// Updates the agent has not acknowledged, in the order sent.
    updates: Vec<(Uuid, StatusUpdate)>,
    /// Tasks for which the agent has acknowledged no update, so that a
    /// recovered agent relaunches only tasks that never reached us.
    tasks: Vec<TaskInfo>,
    /// Kills the process group once the shutdown grace period has passed.
    shutdown_timer: Option<Timer>,
}

impl ExecutorProcess {
    fn new(config: DriverConfig, executor: Box<dyn Executor>, driver: ExecutorDriver) -> Self {
        Self {
            base: ProcessBase::new(libprocess::id::generate("executor")),
            slave: config.slave,
            driver,
            executor,
            slave_id: config.slave_id,
            framework_id: config.framework_id,
            executor_id: config.executor_id,
            connected: false,
            connection: Uuid::new_v4(),
            local: config.local,
            checkpoint: config.checkpoint,
            recovery_timeout: config.recovery_timeout,
            shutdown_grace_period: config.shutdown_grace_period,
            updates: Vec::new(),
            tasks: Vec::new(),
            shutdown_timer: None,
        }
    }

    fn aborted(&self) -> bool {
        self.driver.aborted()
    }

    fn registered(&mut self, message: ExecutorRegisteredMessage) {
        if self.aborted() {
            tracing::debug!(slave_id = %message.slave_id.value,
                "Ignoring registered message because the driver is aborted");
            return;
        }
        tracing::info!(slave_id = %message.slave_id.value, "Executor registered on agent");
        self.connected = true;
        self.connection = Uuid::new_v4();
        self.executor.registered(
            &self.driver,
            message.executor_info,
            message.framework_info,
            message.slave_info,
        );
    }

    fn reregistered(&mut self, message: ExecutorReregisteredMessage) {
        if self.aborted() {
            tracing::debug!(slave_id = %message.slave_id.value,
                "Ignoring reregistered message because the driver is aborted");
            return;
        }
        tracing::info!(slave_id = %message.slave_id.value, "Executor reregistered on agent");
        self.connected = true;
        self.connection = Uuid::new_v4();
        self.executor.reregistered(&self.driver, message.slave_info);
    }

    fn reconnect(&mut self, from: UPID, message: ReconnectExecutorMessage) {
        if self.aborted() {
            tracing::debug!(slave_id = %message.slave_id.value,
                "Ignoring reconnect message because the driver is aborted");
            return;
        }
        tracing::info!(slave_id = %message.slave_id.value, %from,
            "Received reconnect request from agent");
        self.slave = from;
        // A new connection, so nothing is sent on a stale half-open socket
        // (MESOS-5332).
        self.base.relink(&self.slave);
        let reregister = ReregisterExecutorMessage {
            executor_id: self.executor_id.clone(),
            framework_id: self.framework_id.clone(),
            tasks: self.tasks.clone(),
            updates: self.updates.iter().map(|(_, u)| u.clone()).collect(),
        };
        self.base.send(&self.slave, &reregister);
    }

    fn run_task(&mut self, message: RunTaskMessage) {
        let task = message.task;
        if self.aborted() {
            tracing::debug!(task_id = %task.task_id.value,
                "Ignoring run task message because the driver is aborted");
            return;
        }
        if !self.connected {
            tracing::warn!(task_id = %task.task_id.value,
                "Ignoring run task message because the driver is disconnected");
            return;
        }
        if self.tasks.iter().any(|t| t.task_id == task.task_id) {
            tracing::warn!(task_id = %task.task_id.value,
                "Ignoring run task message for a task already running");
            return;
        }
        tracing::debug!(task_id = %task.task_id.value, "Executor asked to run task");
        self.tasks.push(task.clone());
        self.executor.launch_task(&self.driver, task);
    }

    fn kill_task(&mut self, message: KillTaskMessage) {
        if self.aborted() {
            tracing::debug!(task_id = %message.task_id.value,
                "Ignoring kill task message because the driver is aborted");
            return;
        }
        // Not dropped: the executor may still want to react, e.g. by
        // exiting, and the agent may reconnect later.
        if !self.connected {
            tracing::warn!(task_id = %message.task_id.value,
                "Executor received kill task message while disconnected from the agent");
        }
        tracing::debug!(task_id = %message.task_id.value, "Executor asked to kill task");
        self.executor
            .kill_task(&self.driver, message.task_id, message.kill_policy);
    }

    fn acknowledgement(&mut self, message: StatusUpdateAcknowledgementMessage) {
        let task_id = &message.task_id.value;
        let uuid = match Uuid::from_slice(&message.uuid) {
            Ok(uuid) => uuid,
            Err(error) => {
                tracing::warn!(%task_id, %error,
                    "Dropping status update acknowledgement with an invalid uuid");
                return;
            }
        };
        if self.aborted() {
            tracing::debug!(%task_id, %uuid,
                "Ignoring status update acknowledgement because the driver is aborted");
            return;
        }
        if !self.connected {
            tracing::warn!(%task_id, %uuid,
                "Ignoring status update acknowledgement because the driver is disconnected");
            return;
        }
        let Some(index) = self.updates.iter().position(|(u, _)| *u == uuid) else {
            tracing::warn!(%task_id, %uuid, "Ignoring unknown status update acknowledgement");
            return;
        };
        tracing::debug!(%task_id, %uuid, "Executor received status update acknowledgement");
        let (_, update) = self.updates.remove(index);
        self.tasks.retain(|t| t.task_id != message.task_id);
        self.executor.acknowledged(&self.driver, &update.status);
    }

    fn framework_message(&mut self, message: FrameworkToExecutorMessage) {
        if self.aborted() {
            tracing::debug!("Ignoring framework message because the driver is aborted");
            return;
        }
        if !self.connected {
            tracing::warn!("Ignoring framework message because the driver is disconnected");
            return;
        }
        self.executor.framework_message(&self.driver, message.data);
    }

    fn shutdown_message(&mut self, ctx: &mut Context<Self>) {
        if self.aborted() {
            tracing::debug!("Ignoring shutdown message because the driver is aborted");
            return;
        }
        tracing::info!("Executor asked to shutdown");
        self.shutdown(ctx);
    }

    /// Tells the executor to shut down and stops listening to the agent.
    fn shutdown(&mut self, ctx: &mut Context<Self>) {
        self.start_shutdown_timer();
        self.executor.shutdown(&self.driver);
        // Accept no more messages from the agent.
        self.driver.shared.aborted.store(true, Ordering::Release);
        if self.local {
            ctx.stop();
        }
    }

    fn recovery_timeout(&mut self, connection: Uuid, ctx: &mut Context<Self>) {
        if self.aborted() || self.connected || self.connection != connection {
            return;
        }
        let timeout = libprocess::flags::format_duration(self.recovery_timeout);
        tracing::info!(recovery_timeout = %timeout, "Recovery timeout exceeded; shutting down");
        self.shutdown(ctx);
    }

    /// Upstream's `ShutdownProcess`: kill the process group (ourselves
    /// included) once the grace period has passed, in case the executor
    /// does not exit by itself.
    fn start_shutdown_timer(&mut self) {
        if self.local || self.shutdown_timer.is_some() {
            return;
        }
        let grace_period = self.shutdown_grace_period;
        tracing::info!(grace_period = %libprocess::flags::format_duration(grace_period),
            "Scheduling shutdown of the executor");
        self.shutdown_timer = Some(libprocess::clock::timer(grace_period, kill_process_group));
    }

    fn send_status_update(&mut self, mut status: TaskStatus) {
        if status.state() == TaskState::TaskStaging {
            tracing::error!(task_id = %status.task_id.value,
                "Executor is not allowed to send TASK_STAGING status updates; aborting");
            self.driver.abort();
            self.executor
                .error(&self.driver, "Attempted to send TASK_STAGING status update");
            return;
        }
        let uuid = Uuid::new_v4();
        let timestamp = libprocess::clock::now_secs();
        status.timestamp = Some(timestamp);
        status.uuid = Some(uuid.as_bytes().to_vec());
        status.slave_id = Some(self.slave_id.clone());
        let update = StatusUpdate {
            framework_id: self.framework_id.clone(),
            executor_id: Some(self.executor_id.clone()),
            slave_id: Some(self.slave_id.clone()),
            status,
            timestamp,
            uuid: Some(uuid.as_bytes().to_vec()),
            latest_state: None,
        };
        tracing::debug!(task_id = %update.status.task_id.value, state = ?update.status.state(),
            %uuid, "Executor sending status update");
        self.updates.push((uuid, update.clone()));
        let message = StatusUpdateMessage {
            update,
            pid: Some(self.base.self_pid().to_string()),
        };
        self.base.send(&self.slave, &message);
    }

    fn send_framework_message(&mut self, data: Vec<u8>) {
        let message = ExecutorToFrameworkMessage {
            slave_id: self.slave_id.clone(),
            framework_id: self.framework_id.clone(),
            executor_id: self.executor_id.clone(),
            data,
        };
        self.base.send(&self.slave, &message);
    }
}

/// Kills this process's group, then exits if the signal was not delivered
/// within a few seconds.
fn kill_process_group() {
    tracing::info!("Committing suicide by killing the process group");
    // SAFETY: killpg has no memory-safety preconditions; group 0 is ours.
    unsafe { libc::killpg(0, libc::SIGKILL) };
    // Off the clock thread: the signal may take a moment to arrive.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(5));
        std::process::exit(1);
    });
}

impl actix::Actor for ExecutorProcess {
    type Context = Context<Self>;
}

impl Process for ExecutorProcess {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }

    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }

    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        self.base
            .install::<ExecutorRegisteredMessage>(|this, _, _, m| this.registered(m));
        self.base
            .install::<ExecutorReregisteredMessage>(|this, _, _, m| this.reregistered(m));
        self.base
            .install::<ReconnectExecutorMessage>(|this, _, from, m| this.reconnect(from, m));
        self.base
            .install::<RunTaskMessage>(|this, _, _, m| this.run_task(m));
        self.base
            .install::<KillTaskMessage>(|this, _, _, m| this.kill_task(m));
        self.base
            .install::<StatusUpdateAcknowledgementMessage>(|this, _, _, m| this.acknowledgement(m));
        self.base
            .install::<FrameworkToExecutorMessage>(|this, _, _, m| this.framework_message(m));
        self.base
            .install::<ShutdownExecutorMessage>(|this, ctx, _, _| this.shutdown_message(ctx));

        tracing::info!(pid = %self.base.self_pid(), os_pid = std::process::id(),
            "Executor started");
        self.base.link(&self.slave);
        let register = RegisterExecutorMessage {
            framework_id: self.framework_id.clone(),
            executor_id: self.executor_id.clone(),
        };
        self.base.send(&self.slave, &register);
    }

    fn exited(&mut self, pid: &UPID, ctx: &mut Context<Self>) {
        if self.aborted() {
            tracing::debug!(%pid, "Ignoring exited event because the driver is aborted");
            return;
        }
        // A checkpointing framework's agent reconnects to this executor
        // when it comes back up and recovers.
        if self.checkpoint && self.connected {
            self.connected = false;
            tracing::info!(slave_id = %self.slave_id.value,
                recovery_timeout = %libprocess::flags::format_duration(self.recovery_timeout),
                "Agent exited, but framework has checkpointing enabled; waiting to reconnect");
            self.executor.disconnected(&self.driver);
            let connection = self.connection;
            libprocess::delay(self.recovery_timeout, &ctx.address(), move |this, ctx| {
                this.recovery_timeout(connection, ctx)
            });
            return;
        }
        tracing::info!(%pid, "Agent exited; shutting down");
        self.connected = false;
        self.shutdown(ctx);
    }
}

libprocess::process_handlers!(ExecutorProcess);

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("MESOS_SLAVE_PID", "slave(1)@127.0.0.1:5051"),
        ("MESOS_SLAVE_ID", "S0"),
        ("MESOS_FRAMEWORK_ID", "F0"),
        ("MESOS_EXECUTOR_ID", "E0"),
        ("MESOS_DIRECTORY", "/tmp/sandbox"),
    ];

    #[test]
    fn config_has_upstream_defaults() {
        let config = DriverConfig::from_vars(vars(BASE)).unwrap();
        assert_eq!(config.slave.to_string(), "slave(1)@127.0.0.1:5051");
        assert_eq!(config.slave_id.value, "S0");
        assert!(!config.checkpoint);
        assert!(!config.local);
        assert_eq!(config.shutdown_grace_period, Duration::from_secs(5));
        assert_eq!(config.recovery_timeout, Duration::from_secs(900));
    }

    #[test]
    fn recovery_timeout_is_read_only_when_checkpointing() {
        let mut pairs = BASE.to_vec();
        pairs.push(("MESOS_RECOVERY_TIMEOUT", "2mins"));
        pairs.push(("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "1.5secs"));
        let config = DriverConfig::from_vars(vars(&pairs)).unwrap();
        assert_eq!(config.recovery_timeout, Duration::from_secs(900));
        assert_eq!(config.shutdown_grace_period, Duration::from_millis(1500));
        pairs.push(("MESOS_CHECKPOINT", "1"));
        let config = DriverConfig::from_vars(vars(&pairs)).unwrap();
        assert!(config.checkpoint);
        assert_eq!(config.recovery_timeout, Duration::from_secs(120));
    }

    #[test]
    fn missing_or_invalid_variables_are_errors() {
        for missing in BASE.iter().map(|(k, _)| *k) {
            let pairs: Vec<_> = BASE
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let error = DriverConfig::from_vars(vars(&pairs)).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("expecting '{missing}' to be set in the environment")
            );
        }
        let mut pairs = BASE.to_vec();
        pairs[0] = ("MESOS_SLAVE_PID", "nonsense");
        let error = DriverConfig::from_vars(vars(&pairs)).unwrap_err();
        assert!(error.to_string().contains("MESOS_SLAVE_PID"), "{error}");
        let mut pairs = BASE.to_vec();
        pairs.push(("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5"));
        let error = DriverConfig::from_vars(vars(&pairs)).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("failed to parse value '5' of 'MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD'"),
            "{error}"
        );
    }

    #[test]
    fn terminal_states_are_upstreams() {
        assert!(TaskState::TaskFinished.is_terminal());
        assert!(TaskState::TaskGoneByOperator.is_terminal());
        assert!(!TaskState::TaskKilling.is_terminal());
        assert!(!TaskState::TaskUnreachable.is_terminal());
        assert!(!TaskState::TaskUnknown.is_terminal());
    }
}
