//! The agent process, `slave(1)` (upstream `src/slave/slave.cpp`).
//!
//! What is here so far:
//! - registration with the master from `--master` (random delay below
//!   `--registration_backoff_factor`, doubling to one minute on each retry),
//!   re-registration with its id after losing the master, pongs to the
//!   ping's sender, `ShutdownMessage`;
//! - with `--credential`, CRAM-MD5 authentication (a
//!   `crammd5-authenticatee(N)` per attempt, timeouts growing with
//!   `--authentication_backoff_factor`) before each (re-)registration; a
//!   refused credential stops the agent (upstream `Slave::authenticate`);
//! - `RunTaskMessage`: the framework's executor, or a synthesized command
//!   executor (`mesos-executor`) for a task with a command, is launched in
//!   its sandbox with upstream's environment; tasks wait until it registers
//!   (`--executor_registration_timeout`), then go to it;
//! - the v0 executor protocol: `RegisterExecutorMessage` →
//!   `ExecutorRegisteredMessage` and queued `RunTaskMessage`s;
//!   `StatusUpdateMessage` → checkpointed by the status update manager,
//!   acknowledged to the executor, forwarded to the master and retried
//!   until the master acknowledges it; kills, framework messages, shutdown;
//! - executor exit: its unfinished tasks fail (`REASON_EXECUTOR_TERMINATED`);
//!   executors of frameworks other than the command executor are reported
//!   with `ExitedExecutorMessage`.
//!
//! - checkpointing (frameworks with `checkpoint=true`) and recovery after
//!   an agent restart with `--recover=reconnect` ([`state`]): the agent
//!   keeps its id and re-registers, v0 executors are asked to reconnect
//!   and re-register, unacknowledged updates are replayed and resent;
//!   executors that do not come back within
//!   `--executor_reregistration_timeout` are killed.
//!
//! - v1 HTTP executors ([`crate::executor_http`]): an executor whose first
//!   contact is `SUBSCRIBE` gets an event stream instead of a UPID; every
//!   message for an executor goes through `Slave::send_to_executor`, which
//!   picks the v0 message or the v1 event. A recovered HTTP executor (its
//!   run has `http.marker`) is waited for like a v0 one and may
//!   re-subscribe with its unacknowledged tasks and updates.
//!
//! `--recover=cleanup` kills the recovered executors and exits
//! (`Slave::cleanup_recovered`).
//!
//! - task groups (`RunTaskGroupMessage`): sent to their executor as one
//!   `LAUNCH_GROUP`; a `DEFAULT` executor is `mesos-default-executor`,
//!   which runs each task in a nested container through the agent API
//!   ([`crate::nested`]).
//!
//! Executors run in containers of the containerizer
//! ([`crate::containerizer`]).
//!
//! `--strict=false` skips checkpoints recovery cannot read (counted in
//! `slave/recovery_errors`) instead of failing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix::{ActorFutureExt as _, AsyncContext as _, Context, WrapFuture as _};
use libprocess::{Process, ProcessBase, UPID};
use mesos_proto::mesos::internal::{
    archive, ExecutorRegisteredMessage, ExecutorReregisteredMessage, ExecutorToFrameworkMessage,
    ExitedExecutorMessage, FrameworkToExecutorMessage, KillTaskMessage, PingSlaveMessage,
    PongSlaveMessage, ReconcileTasksMessage, ReconnectExecutorMessage, RegisterExecutorMessage,
    RegisterSlaveMessage, ReregisterExecutorMessage, ReregisterSlaveMessage, RunTaskMessage,
    ShutdownExecutorMessage, ShutdownFrameworkMessage, ShutdownMessage, SlaveRegisteredMessage,
    SlaveReregisteredMessage, StatusUpdate, StatusUpdateAcknowledgementMessage,
    StatusUpdateMessage, UpdateFrameworkMessage,
};
use mesos_proto::mesos::{
    environment, network_info, slave_info, task_status, CommandInfo, Environment, ExecutorId,
    ExecutorInfo, FrameworkId, FrameworkInfo, NetworkInfo, Resource, SlaveId, SlaveInfo, Task,
    TaskId, TaskInfo, TaskState, TaskStatus,
};
use mesos_proto::resources::Resources;
use prost::Message as _;

use crate::checkpointed_resources;
use crate::containerizer::{Containerizer, ResourceLimits};
use crate::executor_http::{HttpConnection, ToExecutor};
use crate::flags::Flags;
use crate::paths;
use crate::state;
use crate::status_update_manager::{StatusUpdateManager, StreamId};
use mesos_proto::mesos::slave::{ContainerConfig, ContainerState, ContainerTermination};

/// Set once a master refused the agent's credential; the binary then
/// exits with a failure, as upstream's `EXIT(EXIT_FAILURE)`.
static AUTHENTICATION_REFUSED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Returns whether a master refused this agent's credential.
pub fn authentication_refused() -> bool {
    AUTHENTICATION_REFUSED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Set once recovery failed; the binary then exits with a failure, as
/// upstream's `EXIT(EXIT_FAILURE) << "Failed to perform recovery"`.
static RECOVERY_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Returns whether the agent stopped because its recovery failed.
pub fn recovery_failed() -> bool {
    RECOVERY_FAILED.load(std::sync::atomic::Ordering::Relaxed)
}

/// How the agent authenticates with the master (`--credential` and the
/// `--authentication_*` flags).
#[derive(Debug, Clone)]
pub struct AuthenticationConfig {
    /// The principal and secret.
    pub credential: mesos_proto::mesos::Credential,
    /// `--authentication_backoff_factor`.
    pub backoff_factor: Duration,
    /// `--authentication_timeout_min`.
    pub timeout_min: Duration,
    /// `--authentication_timeout_max`.
    pub timeout_max: Duration,
}

/// Upstream's `MAX_REGISTRATION_BACKOFF_FACTOR` cap on retries.
const REGISTRATION_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// How long an executor's update waits for its container's status before
/// it goes on without one.
const CONTAINER_STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// What the agent runs with (built from [`Flags`]).
#[derive(Debug, Clone)]
pub struct Config {
    /// The master's UPID.
    pub master: UPID,
    /// The agent's info (no id yet).
    pub info: SlaveInfo,
    /// The work directory.
    pub work_dir: PathBuf,
    /// Where `mesos-executor` lives.
    pub launcher_dir: PathBuf,
    /// `--registration_backoff_factor`.
    pub registration_backoff_factor: Duration,
    /// Authenticate before (re-)registering, when set (`--credential`).
    pub authentication: Option<AuthenticationConfig>,
    /// `--executor_registration_timeout`.
    pub executor_registration_timeout: Duration,
    /// `--executor_shutdown_grace_period`.
    pub executor_shutdown_grace_period: Duration,
    /// `--recovery_timeout`.
    pub recovery_timeout: Duration,
    /// `--executor_reregistration_timeout`.
    pub executor_reregistration_timeout: Duration,
    /// `--executor_reregistration_retry_interval`: how often a recovering
    /// agent sends `ReconnectExecutorMessage` again to v0 executors that
    /// have not re-registered (none: sent once).
    pub executor_reregistration_retry_interval: Option<Duration>,
    /// `--recover=cleanup`: kill recovered executors and exit instead of
    /// reconnecting.
    pub recover_cleanup: bool,
    /// The containerizer's launcher, isolators and cgroups settings.
    pub containerizer: crate::containerizer::ContainerizerOptions,
    /// `--gc_delay`, `--disk_watch_interval`, `--gc_disk_headroom`.
    pub gc: crate::gc::GcOptions,
    /// The flags, for `/flags`.
    pub flags: Option<Arc<Flags>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExecutorState {
    Registering,
    Running,
    Terminating,
}

pub(crate) struct Executor {
    pub(crate) info: ExecutorInfo,
    pub(crate) container_id: String,
    /// The sandbox.
    pub(crate) directory: PathBuf,
    /// A v0 executor's UPID, once registered.
    pid: Option<UPID>,
    /// A v1 HTTP executor's event stream, once subscribed.
    pub(crate) http: Option<HttpConnection>,
    os_pid: u32,
    pub(crate) state: ExecutorState,
    /// Its process is gone; it stays until its tasks' updates are
    /// acknowledged (upstream's `TERMINATED`, which `Terminating` plus this
    /// stands for).
    pub(crate) exited: bool,
    command_executor: bool,
    pub(crate) queued: Vec<TaskInfo>,
    /// Which queued tasks form task groups (their ids), each to go out as
    /// one `LAUNCH_GROUP`.
    pub(crate) queued_groups: Vec<Vec<String>>,
    pub(crate) tasks: HashMap<String, Task>,
    /// Recovered after an agent restart: not a child of this agent, so
    /// watched by polling its OS pid.
    recovered: bool,
    /// Why the agent is destroying it, for its tasks' updates.
    pending_termination: Option<(TaskState, task_status::Reason, String)>,
    /// Terminal tasks whose updates were all acknowledged, oldest first
    /// (upstream `completedTasks`, at most
    /// [`MAX_COMPLETED_TASKS_PER_EXECUTOR`]).
    pub(crate) completed_tasks: std::collections::VecDeque<Task>,
}

/// Upstream `--max_completed_tasks_per_executor` default.
pub const MAX_COMPLETED_TASKS_PER_EXECUTOR: usize = 200;
/// Upstream `--max_completed_executors_per_framework` default.
pub const MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK: usize = 150;
/// Upstream `MAX_COMPLETED_FRAMEWORKS`.
pub const MAX_COMPLETED_FRAMEWORKS: usize = 50;

pub(crate) struct Framework {
    pub(crate) info: FrameworkInfo,
    pid: Option<UPID>,
    pub(crate) executors: HashMap<String, Executor>,
    /// Terminated executors whose tasks are all done, oldest first.
    pub(crate) completed_executors: std::collections::VecDeque<Executor>,
}

/// The agent process.
pub struct Slave {
    base: ProcessBase<Self>,
    config: Config,
    /// The agent's info; its id once registered.
    pub info: SlaveInfo,
    /// Whether the master has (re-)registered the agent.
    pub registered: bool,
    master: UPID,
    frameworks: HashMap<String, Framework>,
    /// Frameworks with nothing left on the agent, oldest first (at most
    /// [`MAX_COMPLETED_FRAMEWORKS`]).
    completed_frameworks: std::collections::VecDeque<Framework>,
    updates: StatusUpdateManager,
    /// Started in `initialize` (it needs the running arbiter).
    containerizer: Option<Arc<dyn Containerizer>>,
    /// Terminated sandboxes waiting for removal.
    gc: crate::gc::GarbageCollector,
    /// The last max allowed age of a sandbox (from the disk usage).
    executor_directory_max_age: Duration,
    backoff: Duration,
    /// Recovered executors are still being waited for: no registration
    /// with the master yet.
    recovering: bool,
    /// The `files` process, where sandboxes are attached.
    files: Option<crate::files::Files>,
    /// Whether the master accepted our credential since we last lost it.
    authenticated: bool,
    /// The authentication under way: its attempt number and task.
    authenticating: Option<(u64, actix::SpawnHandle)>,
    authentication_attempts: u64,
    /// Dynamic reservations and persistent volumes the master asked us to
    /// keep (`meta/resources/resources.info`), post-1.4 format.
    checkpointed_resources: Vec<Resource>,
    /// The `slave/*` metrics.
    pub(crate) metrics: crate::metrics::Metrics,
    /// This process, for the gauges' recount queued behind a change.
    self_addr: Option<actix::WeakAddr<Self>>,
}

impl Slave {
    /// Returns the agent process for `config`.
    pub fn new(config: Config) -> Self {
        Self {
            base: ProcessBase::new(libprocess::id::generate("slave")),
            info: config.info.clone(),
            master: config.master.clone(),
            registered: false,
            frameworks: HashMap::new(),
            completed_frameworks: Default::default(),
            updates: StatusUpdateManager::default(),
            containerizer: None,
            gc: crate::gc::GarbageCollector::new(config.gc),
            executor_directory_max_age: config.gc.gc_delay,
            backoff: config.registration_backoff_factor,
            recovering: false,
            files: None,
            authenticated: false,
            authenticating: None,
            authentication_attempts: 0,
            checkpointed_resources: Vec::new(),
            metrics: Default::default(),
            self_addr: None,
            config,
        }
    }

    /// Returns the agent that attaches sandboxes to `files` (upstream's
    /// `Files*` constructor argument).
    pub fn with_files(mut self, files: crate::files::Files) -> Self {
        self.files = Some(files);
        self
    }

    /// Returns the `files` process, when the agent was given one.
    pub(crate) fn files(&self) -> Option<&crate::files::Files> {
        self.files.as_ref()
    }

    /// Returns the flags, for `/flags`.
    pub fn flags(&self) -> Option<&Flags> {
        self.config.flags.as_deref()
    }

    /// Returns the agent's id once registered.
    pub fn slave_id(&self) -> Option<&str> {
        self.info.id.as_ref().map(|id| id.value.as_str())
    }

    /// Returns the number of tasks the agent knows, by state.
    pub fn task_states(&self) -> Vec<(String, TaskState)> {
        self.frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .flat_map(|e| e.tasks.values())
            .map(|t| {
                (
                    t.task_id.value.clone(),
                    TaskState::try_from(t.state).unwrap_or(TaskState::TaskStaging),
                )
            })
            .collect()
    }

    // --- Read-only views for the endpoints (http.rs, state_json.rs) ---------

    /// Returns the frameworks the agent holds, by id.
    pub(crate) fn frameworks(&self) -> &HashMap<String, Framework> {
        &self.frameworks
    }

    /// Frameworks with nothing left on the agent, oldest first.
    pub(crate) fn completed_frameworks(&self) -> &std::collections::VecDeque<Framework> {
        &self.completed_frameworks
    }

    /// Moves a terminated executor whose tasks are all done to its
    /// framework's completed executors, and a framework left without
    /// executors to the completed frameworks (upstream `removeExecutor`,
    /// `removeFramework`).
    fn retire_executor_if_done(&mut self, framework_id: &str, executor_id: &str) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let done = framework.executors.get(executor_id).is_some_and(|e| {
            e.state == ExecutorState::Terminating && e.tasks.is_empty() && e.queued.is_empty()
        });
        if !done {
            return;
        }
        self.refresh_gauges();
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        if let Some(executor) = framework.executors.remove(executor_id) {
            // Only now, with every update of its tasks acknowledged (their
            // log is in the run's meta directory), is the run collected.
            let (container_id, sandbox) =
                (executor.container_id.clone(), executor.directory.clone());
            framework.completed_executors.push_back(executor);
            while framework.completed_executors.len() > MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK {
                framework.completed_executors.pop_front();
            }
            self.schedule_gc(framework_id, executor_id, &container_id, sandbox);
        }
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        if framework.executors.is_empty() {
            if let Some(framework) = self.frameworks.remove(framework_id) {
                tracing::info!(%framework_id, "Framework has nothing left on the agent");
                self.completed_frameworks.push_back(framework);
                while self.completed_frameworks.len() > MAX_COMPLETED_FRAMEWORKS {
                    self.completed_frameworks.pop_front();
                }
            }
        }
    }

    /// Queues a recount of the state gauges behind the message being
    /// handled, once however many changes it makes (the master's
    /// `refresh_gauges`). O(executors + tasks).
    pub(crate) fn refresh_gauges(&mut self) {
        if self.metrics.refresh_pending {
            return;
        }
        let Some(addr) = self.self_addr.as_ref().and_then(|a| a.upgrade()) else {
            self.metrics.recount(self);
            return;
        };
        self.metrics.refresh_pending = true;
        addr.do_send(libprocess::Dispatch(Box::new(|slave: &mut Slave, _| {
            slave.metrics.refresh_pending = false;
            slave.metrics.recount(slave);
        })));
    }

    /// Registers the `slave/*` metrics; called from `initialize` (through
    /// `http::install`), the agent having started at `start_time`.
    pub(crate) fn install_metrics(&mut self, start_time: f64) {
        let Some(runtime) = self.base.runtime().cloned() else {
            return;
        };
        let total = Resources::from(self.info.resources.clone());
        self.metrics.install(&runtime, start_time, &total);
        self.metrics.recount(self);
    }

    /// Returns the agent's total resources: its static ones with the
    /// checkpointed reservations and volumes applied (upstream
    /// `Slave::totalResources`); the static ones if they do not fit.
    pub(crate) fn total_resources(&self) -> Resources {
        let total = Resources::from(self.info.resources.clone());
        mesos_proto::conversions::apply_checkpointed_resources(&total, &self.checkpointed_resources)
            .unwrap_or(total)
    }

    /// Returns the master the agent registers with.
    pub(crate) fn master(&self) -> &UPID {
        &self.master
    }

    // -------------------------------------------------------------------------

    fn random_delay(limit: Duration) -> Duration {
        let random = uuid::Uuid::new_v4().as_u128() as u64;
        let millis = limit.as_millis().max(1) as u64;
        Duration::from_millis(random % millis)
    }

    fn schedule_registration(&mut self, ctx: &mut Context<Self>) {
        let delay = Self::random_delay(self.backoff);
        self.backoff = (self.backoff * 2).min(REGISTRATION_BACKOFF_MAX);
        libprocess::delay(delay, &ctx.address(), |this, ctx| this.do_register(ctx));
    }

    fn do_register(&mut self, ctx: &mut Context<Self>) {
        if self.registered || self.recovering {
            return;
        }
        if let Some(auth) = &self.config.authentication {
            if !self.authenticated {
                // Upstream authenticates after detecting the master and
                // registers once that succeeded.
                if self.authenticating.is_none() {
                    let (min, max) = (auth.timeout_min, auth.timeout_max);
                    let first_max = (min + auth.backoff_factor * 2).min(max);
                    self.authenticate(min, first_max, ctx);
                }
                return;
            }
        }
        let capabilities = [
            slave_info::capability::Type::MultiRole,
            slave_info::capability::Type::HierarchicalRole,
            slave_info::capability::Type::ReservationRefinement,
            // `TaskInfo.limits` reach the command task's container.
            slave_info::capability::Type::TaskResourceLimits,
        ]
        .into_iter()
        .map(|t| slave_info::Capability {
            r#type: Some(t as i32),
        })
        .collect::<Vec<_>>();
        let master = self.master.clone();
        self.base.link(&master);
        match self.info.id.clone() {
            None => {
                tracing::info!(%master, "Registering with the master");
                self.base.send(
                    &master,
                    &RegisterSlaveMessage {
                        slave: self.info.clone(),
                        checkpointed_resources: self.checkpointed_resources.clone(),
                        version: Some(crate::VERSION.to_string()),
                        agent_capabilities: capabilities,
                        resource_version_uuid: None,
                    },
                );
            }
            Some(_) => {
                tracing::info!(%master, "Re-registering with the master");
                let (tasks, executor_infos, frameworks) = self.reregistration_state();
                self.base.send(
                    &master,
                    &ReregisterSlaveMessage {
                        slave: self.info.clone(),
                        checkpointed_resources: self.checkpointed_resources.clone(),
                        executor_infos,
                        tasks,
                        frameworks,
                        completed_frameworks: self.completed_frameworks_archive(),
                        version: Some(crate::VERSION.to_string()),
                        agent_capabilities: capabilities,
                        resource_version_uuid: None,
                    },
                );
            }
        }
        self.schedule_registration(ctx);
    }

    /// Upstream's `Slave::authenticate`: one attempt with a timeout drawn
    /// from `[min, max]`.
    fn authenticate(&mut self, min: Duration, max: Duration, ctx: &mut Context<Self>) {
        self.authenticated = false;
        let Some(auth) = self.config.authentication.clone() else {
            return;
        };
        if let Some((_, handle)) = self.authenticating.take() {
            // Dropping the task stops its authenticatee.
            ctx.cancel_future(handle);
        }
        let Some(runtime) = self.base.runtime().cloned() else {
            return;
        };
        let master = self.master.clone();
        tracing::info!(%master, "Authenticating with master");
        self.base.link(&master);
        let client = self.base.self_pid().clone();
        let attempt = match mesos_authentication::cram_md5::authenticatee::authenticate(
            &runtime,
            master,
            client,
            auth.credential,
        ) {
            Ok(attempt) => attempt,
            Err(error) => {
                tracing::error!(%error, "Failed to start the authenticatee");
                return;
            }
        };
        self.authentication_attempts += 1;
        let number = self.authentication_attempts;
        let handle = ctx.spawn(attempt.into_actor(self).map(move |result, this, ctx| {
            this.authentication_finished(number, min, max, result, ctx)
        }));
        self.authenticating = Some((number, handle));
        let spread = max.saturating_sub(min);
        let timeout = min + Self::random_delay(spread);
        libprocess::delay(timeout, &ctx.address(), move |this, ctx| {
            if this
                .authenticating
                .as_ref()
                .is_some_and(|(n, _)| *n == number)
            {
                tracing::warn!("Authentication timed out");
                if let Some((_, handle)) = this.authenticating.take() {
                    ctx.cancel_future(handle);
                }
                this.authentication_result(
                    min,
                    max,
                    Err(mesos_authentication::AuthenticationError::Discarded),
                    ctx,
                );
            }
        });
    }

    /// Upstream's `Slave::_authenticate`.
    fn authentication_finished(
        &mut self,
        number: u64,
        min: Duration,
        max: Duration,
        result: Result<bool, mesos_authentication::AuthenticationError>,
        ctx: &mut Context<Self>,
    ) {
        if self.authenticating.as_ref().map(|(n, _)| *n) != Some(number) {
            return;
        }
        self.authenticating = None;
        self.authentication_result(min, max, result, ctx);
    }

    fn authentication_result(
        &mut self,
        min: Duration,
        max: Duration,
        result: Result<bool, mesos_authentication::AuthenticationError>,
        ctx: &mut Context<Self>,
    ) {
        let master = self.master.clone();
        match result {
            Ok(true) => {
                tracing::info!(%master, "Successfully authenticated with master");
                self.authenticated = true;
                self.backoff = self.config.registration_backoff_factor;
                self.do_register(ctx);
            }
            Ok(false) => {
                // As upstream, exit rather than shut down, so that
                // executors keep running.
                tracing::error!(%master, "Master refused authentication");
                AUTHENTICATION_REFUSED.store(true, std::sync::atomic::Ordering::Relaxed);
                actix::ActorContext::stop(ctx);
            }
            Err(error) => {
                tracing::warn!(%master, %error, "Failed to authenticate with master");
                // Grow the timeout range: [min, min + factor * 2^n], capped.
                let limit = self
                    .config
                    .authentication
                    .as_ref()
                    .map_or(max, |a| a.timeout_max);
                let next = (min + max.saturating_sub(min) * 2).min(limit);
                self.authenticate(min, next, ctx);
            }
        }
    }

    fn reregistration_state(&self) -> (Vec<Task>, Vec<ExecutorInfo>, Vec<FrameworkInfo>) {
        let mut tasks = Vec::new();
        let mut executors = Vec::new();
        let mut frameworks = Vec::new();
        for framework in self.frameworks.values() {
            frameworks.push(framework.info.clone());
            for executor in framework.executors.values() {
                if !executor.command_executor {
                    executors.push(executor.info.clone());
                }
                tasks.extend(executor.tasks.values().cloned());
                for queued in &executor.queued {
                    tasks.push(self.task_from_info(
                        &framework.info,
                        queued,
                        &executor.info,
                        TaskState::TaskStaging,
                    ));
                }
            }
        }
        (tasks, executors, frameworks)
    }

    /// The completed frameworks as the agent reports them when it
    /// re-registers (upstream `doReliableRegistration`): each one's info,
    /// its scheduler's pid, and the tasks of its completed executors,
    /// terminated ones (updates not all acknowledged) before completed
    /// ones. The master uses them to rebuild what it lost in a failover.
    pub(crate) fn completed_frameworks_archive(&self) -> Vec<archive::Framework> {
        self.completed_frameworks
            .iter()
            .map(|framework| archive::Framework {
                framework_info: framework.info.clone(),
                pid: framework.pid.as_ref().map(ToString::to_string),
                tasks: framework
                    .completed_executors
                    .iter()
                    .flat_map(|e| e.tasks.values().chain(&e.completed_tasks))
                    .cloned()
                    .collect(),
            })
            .collect()
    }

    pub(crate) fn task_from_info(
        &self,
        framework: &FrameworkInfo,
        task: &TaskInfo,
        executor: &ExecutorInfo,
        state: TaskState,
    ) -> Task {
        Task {
            name: task.name.clone(),
            task_id: task.task_id.clone(),
            framework_id: framework.id.clone().unwrap_or_default(),
            executor_id: task.executor.as_ref().map(|_| executor.executor_id.clone()),
            slave_id: self.info.id.clone().unwrap_or_default(),
            state: state as i32,
            resources: task.resources.clone(),
            labels: task.labels.clone(),
            discovery: task.discovery.clone(),
            container: task.container.clone(),
            health_check: task.health_check.clone(),
            kill_policy: task.kill_policy,
            user: task.command.as_ref().and_then(|c| c.user.clone()),
            ..Default::default()
        }
    }

    fn registered(&mut self, from: UPID, slave_id: SlaveId, ctx: &mut Context<Self>) {
        if from != self.master {
            tracing::warn!(%from, "Ignoring registration reply from a process that is not the master");
            return;
        }
        let first = self.info.id.is_none();
        self.info.id = Some(slave_id.clone());
        if !self.registered {
            tracing::info!(slave_id = %slave_id.value, "Registered with the master");
        }
        self.registered = true;
        self.backoff = self.config.registration_backoff_factor;
        if first {
            let work_dir = &self.config.work_dir;
            let dir = paths::slave_meta_dir(work_dir, &slave_id.value);
            let result = state::checkpoint_record(&dir.join(paths::SLAVE_INFO_FILE), &self.info)
                .and_then(|()| {
                    state::checkpoint_symlink(&paths::latest_slave_path(work_dir), &slave_id.value)
                });
            if let Err(error) = result {
                tracing::warn!(%error, "Failed to checkpoint the agent info");
            }
        }
        // Updates waiting for an acknowledgement are sent again.
        for stream in self.updates.streams() {
            self.forward_in_flight(&stream, ctx);
        }
    }

    /// The master's reconciliation in `SlaveReregisteredMessage` (upstream
    /// `Slave::reregistered`): for each task it knows on this agent that
    /// the agent did not report, a task unknown here gets `TASK_LOST`
    /// (`TASK_DROPPED` for partition-aware frameworks) with
    /// `REASON_RECONCILIATION`, through the status update manager so that
    /// it reaches the master reliably; a known task needs nothing, its
    /// updates flow as usual.
    fn reconcile(&mut self, reconciliations: Vec<ReconcileTasksMessage>, ctx: &mut Context<Self>) {
        for reconcile in reconciliations {
            let framework_id = reconcile.framework_id.value.clone();
            let partition_aware = reconcile.framework.as_ref().is_some_and(|f| {
                f.capabilities.iter().any(|c| {
                    c.r#type
                        == Some(
                            mesos_proto::mesos::framework_info::capability::Type::PartitionAware
                                as i32,
                        )
                })
            });
            let state = if partition_aware {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            for status in reconcile.statuses {
                if self.knows_task(&framework_id, &status.task_id.value) {
                    continue;
                }
                tracing::warn!(%framework_id, task_id = %status.task_id.value, ?state, "Reconciling a task unknown to the agent");
                let update = self.agent_update(
                    &framework_id,
                    &status.task_id,
                    None,
                    state,
                    task_status::Reason::Reconciliation,
                    "Reconciliation: task unknown to the agent",
                );
                self.handle_update(update, None, ctx);
            }
        }
    }

    /// Whether a task of the framework is launched or queued here.
    fn knows_task(&self, framework_id: &str, task_id: &str) -> bool {
        self.frameworks.get(framework_id).is_some_and(|f| {
            f.executors.values().any(|e| {
                e.tasks.contains_key(task_id) || e.queued.iter().any(|t| t.task_id.value == task_id)
            })
        })
    }

    fn forward_in_flight(&mut self, stream: &StreamId, ctx: &mut Context<Self>) {
        let Some((update, generation, interval)) = self.updates.in_flight(stream) else {
            return;
        };
        self.send_to_master(update);
        let stream = stream.clone();
        libprocess::delay(interval, &ctx.address(), move |this, ctx| {
            this.retry_update(stream, generation, ctx)
        });
    }

    fn retry_update(&mut self, stream: StreamId, generation: u64, ctx: &mut Context<Self>) {
        if !self.registered {
            return;
        }
        if let Some((update, generation, interval)) = self.updates.retry(&stream, generation) {
            tracing::debug!(task_id = %stream.1, "Resending a status update");
            self.send_to_master(update);
            libprocess::delay(interval, &ctx.address(), move |this, ctx| {
                this.retry_update(stream, generation, ctx)
            });
        }
    }

    fn send_to_master(&self, update: StatusUpdate) {
        let message = StatusUpdateMessage {
            update,
            pid: Some(self.base.self_pid().to_string()),
        };
        self.base.send(&self.master, &message);
    }

    /// The environment upstream gives every executor
    /// (`executorEnvironment()` in `src/slave/slave.cpp`).
    fn executor_environment(
        &self,
        framework: &FrameworkInfo,
        executor: &ExecutorInfo,
        directory: &std::path::Path,
    ) -> Vec<(String, String)> {
        let pid = self.base.self_pid();
        let checkpoint = framework.checkpoint.unwrap_or(false);
        // `--executor_environment_variables`, or else the agent's own
        // environment, as upstream; what follows overrides it.
        let mut env: Vec<(String, String)> =
            match &self.config.containerizer.executor_environment_variables {
                Some(variables) => variables.clone(),
                None => std::env::vars().collect(),
            };
        env.extend::<Vec<(String, String)>>(vec![
            (
                "MESOS_FRAMEWORK_ID".into(),
                framework.id.clone().unwrap_or_default().value,
            ),
            (
                "MESOS_EXECUTOR_ID".into(),
                executor.executor_id.value.clone(),
            ),
            (
                "MESOS_SLAVE_ID".into(),
                self.slave_id().unwrap_or_default().to_string(),
            ),
            ("MESOS_SLAVE_PID".into(), pid.to_string()),
            (
                "MESOS_AGENT_ENDPOINT".into(),
                format!("{}:{}", pid.ip, pid.port),
            ),
            ("MESOS_DIRECTORY".into(), directory.display().to_string()),
            ("MESOS_SANDBOX".into(), directory.display().to_string()),
            (
                "MESOS_CHECKPOINT".into(),
                if checkpoint { "1" } else { "0" }.into(),
            ),
            (
                "MESOS_HTTP_COMMAND_EXECUTOR".into(),
                if self.config.containerizer.http_command_executor {
                    "1"
                } else {
                    "0"
                }
                .into(),
            ),
            (
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD".into(),
                libprocess::flags::format_duration(executor_shutdown_grace_period(
                    executor,
                    self.config.executor_shutdown_grace_period,
                )),
            ),
            ("LIBPROCESS_PORT".into(), "0".into()),
        ]);
        if checkpoint {
            env.push((
                "MESOS_RECOVERY_TIMEOUT".into(),
                libprocess::flags::format_duration(self.config.recovery_timeout),
            ));
            env.push(("MESOS_SUBSCRIPTION_BACKOFF_MAX".into(), "2secs".into()));
        }
        if let Ok(ip) = std::env::var("LIBPROCESS_IP") {
            env.push(("LIBPROCESS_IP".into(), ip));
        }
        if let Some(variables) = executor
            .command
            .as_ref()
            .and_then(|c| c.environment.as_ref())
        {
            for variable in &variables.variables {
                env.push((
                    variable.name.clone(),
                    variable.value.clone().unwrap_or_default(),
                ));
            }
        }
        env
    }

    /// The command executor upstream synthesizes for a task with a command.
    #[allow(deprecated)] // upstream still fills `source` for the command executor
    fn command_executor(&self, framework: &FrameworkInfo, task: &TaskInfo) -> ExecutorInfo {
        let command = task.command.clone().unwrap_or_default();
        let shown = command.value.clone().unwrap_or_default();
        let shown: String = shown.chars().take(12).collect();
        let launcher_dir = self.config.launcher_dir.display().to_string();
        ExecutorInfo {
            executor_id: ExecutorId {
                value: task.task_id.value.clone(),
            },
            framework_id: framework.id.clone(),
            command: Some(CommandInfo {
                shell: Some(false),
                value: Some(format!("{launcher_dir}/mesos-executor")),
                arguments: vec![
                    "mesos-executor".into(),
                    format!("--launcher_dir={launcher_dir}"),
                ],
                environment: Some(Environment {
                    variables: vec![environment::Variable {
                        name: "MESOS_TASK_ID".into(),
                        value: Some(task.task_id.value.clone()),
                        ..Default::default()
                    }],
                }),
                // The task's URIs are fetched into the executor's sandbox,
                // as upstream's `getExecutorInfo`.
                uris: command.uris.clone(),
                // The task's user runs its executor, as upstream.
                user: command.user.clone(),
            }),
            name: Some(format!(
                "Command Executor (Task: {}) (Command: sh -c '{shown}...')",
                task.task_id.value
            )),
            source: Some(task.task_id.value.clone()),
            resources: Self::command_executor_overhead(task),
            // The task's Mesos container settings (rlimits, tty, ...) are
            // the command executor's container's, as upstream.
            container: task
                .container
                .clone()
                .filter(|c| c.r#type == mesos_proto::mesos::container_info::Type::Mesos as i32),
            ..Default::default()
        }
    }

    /// The command executor's own allowance, allocated to the task's role
    /// as upstream does, so both count against the same role.
    fn command_executor_overhead(task: &TaskInfo) -> Vec<Resource> {
        let Ok(mut overhead) = Resources::parse("cpus:0.1;mem:32", "*") else {
            return vec![];
        };
        let role = task
            .resources
            .first()
            .and_then(|r| r.allocation_info.as_ref())
            .and_then(|a| a.role.clone());
        if let Some(role) = role {
            overhead.allocate(&role);
        }
        overhead.to_vec()
    }

    fn run_task(&mut self, from: UPID, message: RunTaskMessage, ctx: &mut Context<Self>) {
        if from != self.master {
            tracing::warn!(%from, "Ignoring RunTaskMessage from a process that is not the master");
            return;
        }
        let framework_info = message.framework;
        let task = message.task;
        let pid = message
            .pid
            .map(|p| UPID::parse_lenient(&p))
            .filter(|p| !p.is_empty());
        let (executor_info, command_executor) = match &task.executor {
            Some(executor) => (executor.clone(), false),
            None => (self.command_executor(&framework_info, &task), true),
        };
        self.run(
            framework_info,
            pid,
            executor_info,
            command_executor,
            vec![task],
            false,
            ctx,
        );
    }

    /// `RunTaskGroupMessage`: the group goes to its executor as one
    /// `LAUNCH_GROUP`; an executor of type `DEFAULT` is upstream's
    /// `mesos-default-executor` from `--launcher_dir`.
    fn run_task_group(
        &mut self,
        from: UPID,
        message: mesos_proto::mesos::internal::RunTaskGroupMessage,
        ctx: &mut Context<Self>,
    ) {
        if from != self.master {
            tracing::warn!(%from, "Ignoring RunTaskGroupMessage from a process that is not the master");
            return;
        }
        let mut executor_info = message.executor;
        let default =
            executor_info.r#type == Some(mesos_proto::mesos::executor_info::Type::Default as i32);
        if default && executor_info.command.is_none() {
            let launcher_dir = self.config.launcher_dir.display().to_string();
            executor_info.command = Some(CommandInfo {
                shell: Some(false),
                value: Some(format!("{launcher_dir}/mesos-default-executor")),
                arguments: vec![
                    "mesos-default-executor".into(),
                    format!("--launcher_dir={launcher_dir}"),
                ],
                ..Default::default()
            });
        }
        self.run(
            message.framework,
            None,
            executor_info,
            false,
            message.task_group.tasks,
            true,
            ctx,
        );
    }

    /// Runs `tasks` (one task, or a task group) on their executor,
    /// launching it first if it does not run yet.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        framework_info: FrameworkInfo,
        pid: Option<UPID>,
        executor_info: ExecutorInfo,
        command_executor: bool,
        tasks: Vec<TaskInfo>,
        group: bool,
        ctx: &mut Context<Self>,
    ) {
        let framework_id = framework_info.id.clone().unwrap_or_default().value;
        let executor_id = executor_info.executor_id.value.clone();
        let framework = self
            .frameworks
            .entry(framework_id.clone())
            .or_insert_with(|| Framework {
                info: framework_info.clone(),
                pid: pid.clone(),
                executors: HashMap::new(),
                completed_executors: Default::default(),
            });
        if pid.is_some() {
            framework.pid = pid;
        }
        self.checkpoint_framework(&framework_id);
        let Some(framework) = self.frameworks.get_mut(&framework_id) else {
            return;
        };
        if let Some(executor) = framework.executors.get_mut(&executor_id) {
            match executor.state {
                ExecutorState::Running => {
                    let container_id = executor.container_id.clone();
                    let mut records = Vec::with_capacity(tasks.len());
                    for task in &tasks {
                        let record = task_record(
                            &framework.info,
                            task,
                            &executor.info,
                            self.info.id.clone(),
                        );
                        executor
                            .tasks
                            .insert(task.task_id.value.clone(), record.clone());
                        records.push(record);
                    }
                    // The container grows by the task's resources.
                    let (allocated, limits) = container_resources(executor);
                    let update =
                        self.containerizer()
                            .update(container_id.clone(), allocated, limits);
                    actix::spawn(async move {
                        if let Err(error) = update.await {
                            tracing::warn!(%error, "Failed to update the container's resources");
                        }
                    });
                    for record in &records {
                        self.checkpoint_task(&framework_id, &executor_id, &container_id, record);
                    }
                    let groups = if group {
                        vec![tasks.iter().map(|t| t.task_id.value.clone()).collect()]
                    } else {
                        vec![]
                    };
                    self.deliver(&framework_id, &executor_id, tasks, groups);
                }
                ExecutorState::Registering => {
                    if group {
                        executor
                            .queued_groups
                            .push(tasks.iter().map(|t| t.task_id.value.clone()).collect());
                    }
                    executor.queued.extend(tasks);
                }
                _ => {
                    for task in &tasks {
                        let update = self.agent_update(
                            &framework_id,
                            &task.task_id,
                            Some(&executor_id),
                            TaskState::TaskLost,
                            task_status::Reason::ExecutorTerminated,
                            "Executor is terminating",
                        );
                        self.handle_update(update, None, ctx);
                    }
                }
            }
            self.refresh_gauges();
            return;
        }
        self.launch_executor(
            &framework_id,
            executor_info,
            command_executor,
            tasks,
            group,
            ctx,
        );
        self.refresh_gauges();
    }

    /// Checkpoints a checkpointing framework's info and pid (upstream
    /// `Framework::checkpointFramework`).
    fn checkpoint_framework(&self, framework_id: &str) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        if !framework.info.checkpoint.unwrap_or(false) {
            return;
        }
        let framework_pid = framework.pid.clone().unwrap_or_default().to_string();
        let dir = paths::framework_meta_dir(
            &self.config.work_dir,
            self.slave_id().unwrap_or_default(),
            framework_id,
        );
        let result =
            state::checkpoint_record(&dir.join(paths::FRAMEWORK_INFO_FILE), &framework.info)
                .and_then(|()| {
                    state::checkpoint_text(&dir.join(paths::FRAMEWORK_PID_FILE), &framework_pid)
                });
        if let Err(error) = result {
            tracing::warn!(%framework_id, %error, "Failed to checkpoint the framework info");
        }
    }

    /// The master's news of a framework that failed over or changed its
    /// info (upstream `Slave::updateFramework`): its new pid (none for an
    /// HTTP framework), where executor messages go from now on, and its
    /// info, both checkpointed. A framework the agent does not hold is
    /// ignored.
    fn update_framework(&mut self, from: &UPID, message: UpdateFrameworkMessage) {
        if *from != self.master {
            tracing::warn!(%from, "Ignoring a framework update not from the master");
            return;
        }
        let framework_id = message.framework_id.value;
        let Some(framework) = self.frameworks.get_mut(&framework_id) else {
            tracing::warn!(%framework_id, "Ignoring an update of an unknown framework");
            return;
        };
        let pid = message
            .pid
            .map(|p| UPID::parse_lenient(&p))
            .filter(|p| !p.is_empty());
        tracing::info!(%framework_id, pid = ?pid.as_ref().map(ToString::to_string), "Updating framework");
        if let Some(info) = message.framework_info {
            framework.info = info;
        }
        framework.pid = pid;
        self.checkpoint_framework(&framework_id);
    }

    /// Sends tasks to a running executor: each group (task ids) as one
    /// `LAUNCH_GROUP`, the others one by one.
    fn deliver(
        &self,
        framework_id: &str,
        executor_id: &str,
        tasks: Vec<TaskInfo>,
        groups: Vec<Vec<String>>,
    ) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let framework_info = framework.info.clone();
        let framework_pid = framework.pid.clone().unwrap_or_default().to_string();
        let executor_info = framework
            .executors
            .get(executor_id)
            .map(|e| e.info.clone())
            .unwrap_or_default();
        let mut tasks: Vec<Option<TaskInfo>> = tasks.into_iter().map(Some).collect();
        for group in groups {
            let members: Vec<TaskInfo> = tasks
                .iter_mut()
                .filter(|t| t.as_ref().is_some_and(|t| group.contains(&t.task_id.value)))
                .filter_map(Option::take)
                .collect();
            if members.is_empty() {
                continue;
            }
            let message = mesos_proto::mesos::internal::RunTaskGroupMessage {
                framework: framework_info.clone(),
                executor: executor_info.clone(),
                task_group: mesos_proto::mesos::TaskGroupInfo { tasks: members },
                ..Default::default()
            };
            self.send_to_executor(
                framework_id,
                executor_id,
                ToExecutor::RunTaskGroup(Box::new(message)),
            );
        }
        for task in tasks.into_iter().flatten() {
            let message = RunTaskMessage {
                framework: framework_info.clone(),
                task,
                pid: Some(framework_pid.clone()),
                ..Default::default()
            };
            self.send_to_executor(
                framework_id,
                executor_id,
                ToExecutor::RunTask(Box::new(message)),
            );
        }
    }

    fn launch_executor(
        &mut self,
        framework_id: &str,
        info: ExecutorInfo,
        command_executor: bool,
        tasks: Vec<TaskInfo>,
        group: bool,
        ctx: &mut Context<Self>,
    ) {
        let container_id = uuid::Uuid::new_v4().to_string();
        let slave_id = self.slave_id().unwrap_or_default().to_string();
        let directory = paths::executor_run_dir(
            &self.config.work_dir,
            &slave_id,
            framework_id,
            &info.executor_id.value,
            &container_id,
        );
        let Some(framework_info) = self.frameworks.get(framework_id).map(|f| f.info.clone()) else {
            return;
        };
        // A new run of an executor whose directories wait for gc keeps
        // them (upstream `Slave::run` unschedules them).
        if let Some(dir) = directory.parent().and_then(Path::parent) {
            self.gc.unschedule(dir);
        }
        self.gc.unschedule(&paths::executor_meta_dir(
            &self.config.work_dir,
            &slave_id,
            framework_id,
            &info.executor_id.value,
        ));
        let environment = self.executor_environment(&framework_info, &info, &directory);
        let mut command = info.command.clone().unwrap_or_default();
        command.environment = Some(Environment {
            variables: environment
                .into_iter()
                .map(|(name, value)| environment::Variable {
                    name,
                    value: Some(value),
                    ..Default::default()
                })
                .collect(),
        });
        let config = ContainerConfig {
            executor_info: Some(info.clone()),
            task_info: tasks.first().filter(|_| command_executor).cloned(),
            command_info: command,
            container_info: info.container.clone(),
            // The executor's allocation: its own and its first tasks'.
            resources: info
                .resources
                .iter()
                .chain(tasks.iter().flat_map(|t| &t.resources))
                .cloned()
                .collect(),
            limits: executor_limits(
                &info.resources,
                tasks.iter().map(|t| (&t.resources[..], &t.limits)),
            ),
            directory: directory.display().to_string(),
            // `--switch_user`: the executor's command user, else the
            // framework's (upstream `Slave::launchExecutor`).
            user: self
                .config
                .containerizer
                .switch_user
                .then(|| {
                    info.command
                        .as_ref()
                        .and_then(|c| c.user.clone())
                        .or_else(|| Some(framework_info.user.clone()))
                        .filter(|u| !u.is_empty())
                })
                .flatten(),
            ..Default::default()
        };
        if let Err(error) = std::fs::create_dir_all(&directory) {
            tracing::warn!(%framework_id, directory = %directory.display(), %error, "Failed to create the sandbox");
        }
        let executor_id = info.executor_id.value.clone();
        tracing::info!(%framework_id, %executor_id, %container_id, directory = %directory.display(), "Launching executor");
        if let Some(files) = &self.files {
            crate::files::attach_executor(
                files,
                &self.config.work_dir,
                &slave_id,
                framework_id,
                &executor_id,
                &container_id,
            );
        }
        let framework = self
            .frameworks
            .get_mut(framework_id)
            .expect("framework added by run_task");
        framework.executors.insert(
            executor_id.clone(),
            Executor {
                info: info.clone(),
                container_id: container_id.clone(),
                directory,
                pid: None,
                http: None,
                os_pid: 0,
                state: ExecutorState::Registering,
                exited: false,
                command_executor,
                queued_groups: if group {
                    vec![tasks.iter().map(|t| t.task_id.value.clone()).collect()]
                } else {
                    vec![]
                },
                queued: tasks,
                tasks: HashMap::new(),
                recovered: false,
                pending_termination: None,
                completed_tasks: Default::default(),
            },
        );
        // As upstream's `Executor::checkpointExecutor` (called when the
        // executor is added): the info and the run's `latest` link exist
        // before the executor does, so an agent killed while it starts up
        // still recovers it.
        let pid_checkpoint = framework_info.checkpoint.unwrap_or(false).then(|| {
            self.checkpoint_executor(framework_id, &info, command_executor, &container_id);
            paths::forked_pid_path(&paths::run_meta_dir(
                &self.config.work_dir,
                &slave_id,
                framework_id,
                &info.executor_id.value,
                &container_id,
            ))
        });
        let containerizer = self.containerizer();
        let launch =
            containerizer.launch_checkpointed(container_id.clone(), config, pid_checkpoint);
        self.watch_container(framework_id, &executor_id, &container_id, ctx);
        let addr = ctx.address();
        let (f, e, c) = (framework_id.to_string(), executor_id, container_id);
        actix::spawn(async move {
            let launched = launch.await;
            addr.do_send(libprocess::Dispatch(Box::new(
                move |this: &mut Slave, ctx| this.executor_launched(&f, &e, &c, launched, ctx),
            )));
        });
    }

    /// The containerizer launched (or failed to launch) an executor.
    fn executor_launched(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        launched: crate::containerizer::Result<u32>,
        ctx: &mut Context<Self>,
    ) {
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
            .filter(|e| e.container_id == container_id)
        else {
            return;
        };
        match launched {
            Ok(os_pid) => {
                // The containerizer checkpointed the pid already.
                executor.os_pid = os_pid;
                let (f, e, c) = (
                    framework_id.to_string(),
                    executor_id.to_string(),
                    container_id.to_string(),
                );
                libprocess::delay(
                    self.config.executor_registration_timeout,
                    &ctx.address(),
                    move |this, _| this.registration_timeout(&f, &e, &c),
                );
            }
            Err(error) => {
                // The containerizer's termination carries the reason
                // (`REASON_CONTAINER_LAUNCH_FAILED`) and this message.
                tracing::warn!(%framework_id, %executor_id, %error, "Failed to launch the executor");
                executor.state = ExecutorState::Terminating;
                self.metrics.container_launch_errors.inc();
                self.refresh_gauges();
            }
        }
    }

    /// Schedules a retired executor run's sandbox (and its meta directory)
    /// for garbage collection, and the executor's own work and meta
    /// directories with them, as upstream `removeExecutor` does once every
    /// update of the executor's tasks is acknowledged; a new run of the
    /// executor takes those off the schedule again.
    fn schedule_gc(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        sandbox: PathBuf,
    ) {
        let now = std::time::Instant::now();
        // `.../executors/<id>/runs/<container>` → `.../executors/<id>`.
        let executor_dir = sandbox
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf);
        self.gc.schedule(sandbox, now);
        if let Some(dir) = executor_dir {
            self.gc.schedule(dir, now);
        }
        if let Some(slave_id) = self.slave_id().map(str::to_string) {
            let meta = paths::run_meta_dir(
                &self.config.work_dir,
                &slave_id,
                framework_id,
                executor_id,
                container_id,
            );
            if meta.exists() {
                self.gc.schedule(meta, now);
            }
            let meta = paths::executor_meta_dir(
                &self.config.work_dir,
                &slave_id,
                framework_id,
                executor_id,
            );
            if meta.exists() {
                self.gc.schedule(meta, now);
            }
        }
    }

    /// `--disk_watch_interval` passed: removes the sandboxes that waited
    /// longer than the disk usage allows (upstream `checkDiskUsage`).
    fn check_disk_usage(&mut self, ctx: &mut Context<Self>) {
        let usage = crate::gc::disk_usage(&self.config.work_dir).unwrap_or_else(|error| {
            tracing::warn!(%error, "Failed to check the disk usage");
            0.0
        });
        let max_age = self.gc.max_allowed_age(usage);
        self.executor_directory_max_age = max_age;
        self.refresh_gauges();
        let due = self.gc.due(max_age, std::time::Instant::now());
        if !due.is_empty() {
            let work_dir = self.config.work_dir.clone();
            if let (Some(files), Some(slave_id)) = (self.files.clone(), self.slave_id()) {
                for path in &due {
                    // A run directory: `.../frameworks/F/executors/E/runs/C`.
                    let parts: Vec<String> = path
                        .iter()
                        .map(|p| p.to_string_lossy().into_owned())
                        .collect();
                    if let [.., frameworks, f, executors, e, runs, c] = parts.as_slice() {
                        if frameworks == "frameworks" && executors == "executors" && runs == "runs"
                        {
                            crate::files::detach_executor(&files, &work_dir, slave_id, f, e, c);
                        }
                    }
                }
            }
            tracing::info!(count = due.len(), max_age = ?max_age, "Garbage collecting sandboxes");
            tokio::task::spawn_blocking(move || {
                for path in due {
                    if let Err(error) = std::fs::remove_dir_all(&path) {
                        if error.kind() != std::io::ErrorKind::NotFound {
                            tracing::warn!(path = %path.display(), %error, "Failed to garbage collect");
                        }
                    }
                }
            });
        }
        let interval = self.gc.options().disk_watch_interval;
        libprocess::delay(interval, &ctx.address(), |this, ctx| {
            this.check_disk_usage(ctx)
        });
    }

    /// `slave/executor_directory_max_allowed_age_secs`.
    pub(crate) fn executor_directory_max_age(&self) -> Duration {
        self.executor_directory_max_age
    }

    /// The running executors' containers (for the monitor).
    pub(crate) fn running_containers(&self) -> Vec<crate::monitor::Running> {
        self.frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .filter(|e| e.state != ExecutorState::Terminating && e.os_pid > 0)
            .map(|e| crate::monitor::Running {
                info: e.info.clone(),
                container_id: e.container_id.clone(),
            })
            .collect()
    }

    /// `--switch_user`.
    pub(crate) fn switch_user(&self) -> bool {
        self.config.containerizer.switch_user
    }

    /// The sandbox of the executor whose container is `container_id`.
    pub(crate) fn container_sandbox(&self, container_id: &str) -> Option<PathBuf> {
        self.frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .find(|e| e.container_id == container_id && e.state != ExecutorState::Terminating)
            .map(|e| e.directory.clone())
    }

    /// The containerizer, once started.
    pub(crate) fn containerizer_handle(&self) -> Option<Arc<dyn Containerizer>> {
        self.containerizer.clone()
    }

    /// Returns the containerizer (started in `initialize`, before any
    /// message is handled).
    fn containerizer(&self) -> Arc<dyn Containerizer> {
        self.containerizer
            .clone()
            .expect("the containerizer is started in initialize")
    }

    /// Waits for the executor's container to terminate (the wait is queued
    /// behind any launch or recovery already asked for).
    fn watch_container(
        &self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        ctx: &mut Context<Self>,
    ) {
        let wait = self.containerizer().wait(container_id.to_string());
        let addr = ctx.address();
        let (f, e, c) = (
            framework_id.to_string(),
            executor_id.to_string(),
            container_id.to_string(),
        );
        actix::spawn(async move {
            let termination = wait.await.unwrap_or_default();
            addr.do_send(libprocess::Dispatch(Box::new(
                move |this: &mut Slave, ctx| this.executor_terminated(&f, &e, &c, termination, ctx),
            )));
        });
    }

    /// Asks the containerizer to destroy a container (its termination
    /// arrives through `watch_container`).
    fn destroy_container(&self, container_id: &str) {
        let destroy = self.containerizer().destroy(container_id.to_string());
        actix::spawn(async move {
            destroy.await;
        });
    }

    /// `--executor_registration_timeout` passed since the executor was
    /// launched: one still registering is destroyed (upstream
    /// `Slave::registerExecutorTimeout`).
    fn registration_timeout(&mut self, framework_id: &str, executor_id: &str, container_id: &str) {
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            return;
        };
        if executor.container_id == container_id && executor.state == ExecutorState::Registering {
            let timeout =
                libprocess::flags::format_duration(self.config.executor_registration_timeout);
            tracing::info!(
                %framework_id,
                %executor_id,
                %timeout,
                "Terminating the executor because it did not register in time"
            );
            executor.state = ExecutorState::Terminating;
            // Its tasks fail with this reason and message (upstream
            // `Slave::registerExecutorTimeout`).
            executor.pending_termination = Some((
                TaskState::TaskFailed,
                task_status::Reason::ExecutorRegistrationTimeout,
                format!("Executor did not register within {timeout}"),
            ));
            let container_id = executor.container_id.clone();
            self.refresh_gauges();
            self.destroy_container(&container_id);
        }
    }

    fn register_executor(&mut self, from: UPID, message: RegisterExecutorMessage) {
        let framework_id = message.framework_id.value.clone();
        let executor_id = message.executor_id.value.clone();
        let slave_id = self.info.id.clone().unwrap_or_default();
        let slave_info = self.info.clone();
        self.refresh_gauges();
        // Queued: the recount sees the change below.
        let Some(framework) = self.frameworks.get_mut(&framework_id) else {
            self.base.send(&from, &ShutdownExecutorMessage::default());
            return;
        };
        let framework_info = framework.info.clone();
        let Some(executor) = framework.executors.get_mut(&executor_id) else {
            self.base.send(&from, &ShutdownExecutorMessage::default());
            return;
        };
        if executor.state != ExecutorState::Registering {
            tracing::warn!(%framework_id, %executor_id, "Refusing an unexpected executor registration");
            self.base.send(&from, &ShutdownExecutorMessage::default());
            return;
        }
        tracing::info!(%framework_id, %executor_id, %from, "Executor registered");
        executor.state = ExecutorState::Running;
        executor.pid = Some(from.clone());
        executor.http = None;
        let container_id = executor.container_id.clone();
        let executor_info = executor.info.clone();
        let (queued, _groups, records) = take_queued(executor, &framework_info, &slave_id);
        if framework_info.checkpoint.unwrap_or(false) {
            let run_dir = paths::run_meta_dir(
                &self.config.work_dir,
                &slave_id.value,
                &framework_id,
                &executor_id,
                &container_id,
            );
            if let Err(error) =
                state::checkpoint_text(&paths::libprocess_pid_path(&run_dir), &from.to_string())
            {
                tracing::warn!(%error, "Failed to checkpoint the executor's pid");
            }
            for record in &records {
                self.checkpoint_task(&framework_id, &executor_id, &container_id, record);
            }
        }
        self.base.link(&from);
        self.base.send(
            &from,
            &ExecutorRegisteredMessage {
                executor_info,
                framework_id: message.framework_id,
                framework_info: framework_info.clone(),
                slave_id,
                slave_info,
            },
        );
        // A v0 executor knows no task groups: each task on its own.
        self.deliver(&framework_id, &executor_id, queued, vec![]);
    }

    /// An update generated by the agent itself (`SOURCE_SLAVE`).
    fn agent_update(
        &self,
        framework_id: &str,
        task_id: &TaskId,
        executor_id: Option<&str>,
        state: TaskState,
        reason: task_status::Reason,
        message: &str,
    ) -> StatusUpdate {
        let now = libprocess::clock::now_secs();
        let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
        StatusUpdate {
            framework_id: FrameworkId {
                value: framework_id.to_string(),
            },
            executor_id: executor_id.map(|e| ExecutorId {
                value: e.to_string(),
            }),
            slave_id: self.info.id.clone(),
            status: TaskStatus {
                task_id: task_id.clone(),
                state: state as i32,
                message: Some(message.to_string()),
                source: Some(task_status::Source::Slave as i32),
                reason: Some(reason as i32),
                slave_id: self.info.id.clone(),
                executor_id: executor_id.map(|e| ExecutorId {
                    value: e.to_string(),
                }),
                timestamp: Some(now),
                uuid: Some(uuid.clone()),
                ..Default::default()
            },
            timestamp: now,
            uuid: Some(uuid),
            latest_state: None,
        }
    }

    /// Records an update (checkpoint first), acknowledges it to the
    /// executor that sent it, and forwards it to the master.
    fn handle_update(
        &mut self,
        mut update: StatusUpdate,
        sender: Option<UpdateSender>,
        ctx: &mut Context<Self>,
    ) {
        let framework_id = update.framework_id.value.clone();
        let task_id = update.status.task_id.value.clone();
        // As upstream: the status carries the update's uuid and our id.
        if update.status.uuid.is_none() {
            update.status.uuid = update.uuid.clone();
        }
        if update.uuid.is_none() {
            update.uuid = update.status.uuid.clone();
        }
        if sender.is_some() {
            update.status.source = Some(task_status::Source::Executor as i32);
        }
        update.slave_id = self.info.id.clone();
        update.status.slave_id = self.info.id.clone();
        let state = update.status.state();
        let mut log = None;
        // Upstream `Slave::statusUpdate` counts an update for a task of a
        // known executor as valid, whether the executor or the agent sent
        // it, and the others as invalid.
        let mut valid = false;
        let mut shrink_container = None;
        if let Some(framework) = self.frameworks.get_mut(&framework_id) {
            let checkpoint = framework.info.checkpoint.unwrap_or(false);
            for executor in framework.executors.values_mut() {
                let mut shrink = false;
                if let Some(task) = executor.tasks.get_mut(&task_id) {
                    valid = true;
                    let was_terminal =
                        TaskState::try_from(task.state).is_ok_and(TaskState::is_terminal);
                    if state.is_terminal() && !was_terminal {
                        self.metrics.count_terminal(state);
                    }
                    task.state = state as i32;
                    shrink = state.is_terminal()
                        && !was_terminal
                        && executor.state == ExecutorState::Running;
                    let mut status = update.status.clone();
                    status.data = None;
                    // A status in the same state replaces the last one
                    // (upstream's `Executor::updateTaskState`), so check
                    // and health updates do not pile up.
                    if task
                        .statuses
                        .last()
                        .is_some_and(|l| l.state == status.state)
                    {
                        task.statuses.pop();
                    }
                    task.statuses.push(status);
                    if checkpoint {
                        log = Some(paths::task_updates_path(
                            &self.config.work_dir,
                            update
                                .slave_id
                                .as_ref()
                                .map(|s| s.value.as_str())
                                .unwrap_or_default(),
                            &framework_id,
                            &executor.info.executor_id.value,
                            &executor.container_id,
                            &task_id,
                        ));
                    }
                }
                if shrink {
                    // The terminal task no longer counts (see
                    // `container_resources`).
                    let (allocated, limits) = container_resources(executor);
                    shrink_container = Some((executor.container_id.clone(), allocated, limits));
                }
            }
        }
        if valid {
            self.metrics.valid_status_updates.inc();
            self.refresh_gauges();
        } else {
            self.metrics.invalid_status_updates.inc();
        }
        // As upstream's `Slave::_statusUpdate`: a task of a running executor
        // ended, so its container shrinks to the executor's resources and its
        // remaining tasks' (the isolators release the task's volumes, CPU
        // shares, ..). Upstream forwards the update once that is done; here
        // it goes on at once (the containerizer takes updates in the order
        // sent, so a later launch's growth comes after): waiting held the
        // executor's terminal update back until after a container
        // limitation had destroyed the container, whose reason
        // (`REASON_CONTAINER_LIMITATION_MEMORY`) then went nowhere.
        if let Some((container_id, allocated, limits)) = shrink_container {
            let resize = self
                .containerizer()
                .update(container_id.clone(), allocated, limits);
            actix::spawn(async move {
                if let Err(error) = resize.await {
                    tracing::warn!(%container_id, %error, "Failed to update the container's resources");
                }
            });
        }
        self.record_update(update, log, sender, ctx);
    }

    /// Checkpoints `update` (to `log`), acknowledges it to the executor
    /// that sent it, and forwards it to the master (upstream
    /// `Slave::__statusUpdate`).
    fn record_update(
        &mut self,
        update: StatusUpdate,
        log: Option<PathBuf>,
        sender: Option<UpdateSender>,
        ctx: &mut Context<Self>,
    ) {
        let framework_id = update.framework_id.value.clone();
        let task_id = update.status.task_id.value.clone();
        let uuid = update.uuid.clone().unwrap_or_default();
        let first = match self.updates.update(update, log) {
            Ok(first) => first,
            Err(error) => {
                // Not acknowledging makes the executor send it again.
                tracing::error!(%framework_id, %task_id, %error, "Failed to checkpoint a status update");
                return;
            }
        };
        if let Some(sender) = sender {
            let ack = StatusUpdateAcknowledgementMessage {
                slave_id: self.info.id.clone().unwrap_or_default(),
                framework_id: FrameworkId {
                    value: framework_id.clone(),
                },
                task_id: TaskId {
                    value: task_id.clone(),
                },
                uuid,
            };
            match sender {
                UpdateSender::Pid(pid) => self.base.send(&pid, &ack),
                UpdateSender::HttpExecutor(executor_id) => self.send_to_executor(
                    &framework_id,
                    &executor_id,
                    ToExecutor::Acknowledgement(ack),
                ),
            }
        }
        if first && self.registered {
            self.forward_in_flight(&(framework_id, task_id), ctx);
        }
    }

    fn status_update_from_executor(
        &mut self,
        from: UPID,
        message: StatusUpdateMessage,
        ctx: &mut Context<Self>,
    ) {
        let update = message.update;
        if update.status.state() == TaskState::TaskStaging {
            tracing::warn!(%from, "Ignoring a TASK_STAGING update from an executor");
            return;
        }
        self.executor_status_update(update, UpdateSender::Pid(from), ctx);
    }

    /// An update from an executor: first gets its container's status
    /// (upstream `Slave::statusUpdate` then `_statusUpdate`), so the
    /// update carries `container_status` (the container id, the
    /// executor's pid, what isolators report, and the agent's IP when no
    /// isolator reports a network) — which `mesos task exec` reads from
    /// the master's `/tasks`. The agent handles no other message until
    /// the status has arrived, so updates keep their order.
    fn executor_status_update(
        &mut self,
        update: StatusUpdate,
        sender: UpdateSender,
        ctx: &mut Context<Self>,
    ) {
        let executor_container = self
            .frameworks
            .get(&update.framework_id.value)
            .and_then(|f| {
                f.executors
                    .values()
                    .find(|e| e.tasks.contains_key(&update.status.task_id.value))
            })
            .map(|e| e.container_id.clone());
        let (Some(executor_container), Some(containerizer)) =
            (executor_container, self.containerizer_handle())
        else {
            self.handle_update(update, Some(sender), ctx);
            return;
        };
        // A container the executor names (the default executor's task
        // containers, nested in its own) is the task's, as upstream.
        let container_id = update
            .status
            .container_status
            .as_ref()
            .and_then(|s| s.container_id.as_ref())
            .map(crate::containerizer::container_id_string)
            .unwrap_or(executor_container);
        let structured = crate::containerizer::container_id(&container_id);
        let ip = self.base.self_pid().ip.to_string();
        let status = containerizer.status(container_id);
        ctx.wait(
            async move {
                tokio::time::timeout(CONTAINER_STATUS_TIMEOUT, status)
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            .into_actor(self)
            .map(move |status, this, ctx| {
                let mut update = update;
                if let Some(status) = status {
                    // Merged into what the executor sent, as upstream.
                    let mut merged = update.status.container_status.take().unwrap_or_default();
                    let _ = merged.merge(status.encode_to_vec().as_slice());
                    let status = &mut merged;
                    status.container_id = Some(structured);
                    if status.network_infos.is_empty() {
                        status.network_infos.push(NetworkInfo {
                            ip_addresses: vec![network_info::IpAddress {
                                ip_address: Some(ip),
                                ..Default::default()
                            }],
                            ..Default::default()
                        });
                    }
                    update.status.container_status = Some(merged);
                }
                this.handle_update(update, Some(sender), ctx);
            }),
        );
    }

    fn acknowledgement(
        &mut self,
        from: UPID,
        message: StatusUpdateAcknowledgementMessage,
        ctx: &mut Context<Self>,
    ) {
        if from != self.master {
            return;
        }
        let stream = (
            message.framework_id.value.clone(),
            message.task_id.value.clone(),
        );
        match self.updates.acknowledge(&stream, &message.uuid) {
            Ok(true) => {
                if self.updates.has_pending(&stream) {
                    self.forward_in_flight(&stream, ctx);
                }
                self.cleanup_task(&stream);
            }
            Ok(false) => tracing::debug!(task_id = %stream.1, "Ignoring a stale acknowledgement"),
            Err(error) => tracing::error!(%error, "Failed to checkpoint an acknowledgement"),
        }
    }

    /// Forgets a terminal task once all its updates are acknowledged, and
    /// its executor once it has neither tasks nor a process.
    fn cleanup_task(&mut self, stream: &StreamId) {
        if self.updates.has_pending(stream) {
            return;
        }
        let Some(framework) = self.frameworks.get_mut(&stream.0) else {
            return;
        };
        let mut retire = None;
        for (executor_id, executor) in framework.executors.iter_mut() {
            let terminal = executor
                .tasks
                .get(&stream.1)
                .is_some_and(|t| TaskState::try_from(t.state).is_ok_and(TaskState::is_terminal));
            if terminal {
                if let Some(task) = executor.tasks.remove(&stream.1) {
                    executor.completed_tasks.push_back(task);
                    while executor.completed_tasks.len() > MAX_COMPLETED_TASKS_PER_EXECUTOR {
                        executor.completed_tasks.pop_front();
                    }
                }
                retire = Some(executor_id.clone());
            }
        }
        if let Some(executor_id) = retire {
            let framework_id = stream.0.clone();
            self.retire_executor_if_done(&framework_id, &executor_id);
        }
    }

    fn kill_task(&mut self, from: UPID, message: KillTaskMessage, ctx: &mut Context<Self>) {
        if from != self.master {
            return;
        }
        let framework_id = message.framework_id.value.clone();
        let task_id = message.task_id.value.clone();
        let Some(framework) = self.frameworks.get_mut(&framework_id) else {
            return;
        };
        let mut killed_queued = None;
        for executor in framework.executors.values_mut() {
            if let Some(position) = executor
                .queued
                .iter()
                .position(|t| t.task_id.value == task_id)
            {
                let task = executor.queued.remove(position);
                killed_queued = Some((task, executor.info.executor_id.value.clone()));
                break;
            }
            if executor.tasks.contains_key(&task_id) {
                let executor_id = executor.info.executor_id.value.clone();
                self.send_to_executor(&framework_id, &executor_id, ToExecutor::KillTask(message));
                return;
            }
        }
        if let Some((task, executor_id)) = killed_queued {
            let update = self.agent_update(
                &framework_id,
                &task.task_id,
                Some(&executor_id),
                TaskState::TaskKilled,
                task_status::Reason::TaskKilledDuringLaunch,
                "Killed before delivery to the executor",
            );
            self.handle_update(update, None, ctx);
        }
    }

    fn executor_terminated(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        termination: ContainerTermination,
        ctx: &mut Context<Self>,
    ) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let current = framework
            .executors
            .get(executor_id)
            .is_some_and(|e| e.container_id == container_id);
        if !current {
            return;
        }
        let Some(executor) = framework.executors.remove(executor_id) else {
            return;
        };
        tracing::info!(%framework_id, %executor_id, status = ?termination.status, "Executor terminated");
        self.metrics.executors_terminated.inc();
        self.refresh_gauges();
        let mut unfinished: Vec<TaskId> = executor
            .tasks
            .values()
            .filter(|t| !TaskState::try_from(t.state).is_ok_and(TaskState::is_terminal))
            .map(|t| t.task_id.clone())
            .collect();
        unfinished.extend(executor.queued.iter().map(|t| t.task_id.clone()));
        let command_executor = executor.command_executor;
        // A limitation (the containerizer's termination state) comes
        // first, then why the agent was destroying it, as upstream.
        let limited = termination
            .state
            .and_then(|s| TaskState::try_from(s).ok())
            .zip(
                termination
                    .reason
                    .and_then(|r| task_status::Reason::try_from(r).ok()),
            );
        let (state, reason) = match (limited, &executor.pending_termination) {
            (Some(limited), _) => limited,
            (None, Some((state, reason, _))) => (*state, *reason),
            (None, None) => (
                TaskState::TaskFailed,
                task_status::Reason::ExecutorTerminated,
            ),
        };
        let message = match termination.status {
            _ if limited.is_some() => termination.message.clone().unwrap_or_default(),
            _ if executor.pending_termination.is_some() => executor
                .pending_termination
                .as_ref()
                .map(|(_, _, m)| m.clone())
                .unwrap_or_default(),
            Some(status) if libc::WIFEXITED(status) => format!(
                "Executor terminated with exit status {}",
                libc::WEXITSTATUS(status)
            ),
            Some(status) if libc::WIFSIGNALED(status) => {
                format!("Executor terminated by signal {}", libc::WTERMSIG(status))
            }
            _ => "Executor terminated".to_string(),
        };
        // Keep the terminated executor's task records for the updates.
        let framework = self
            .frameworks
            .get_mut(framework_id)
            .expect("present above");
        let mut executor = executor;
        executor.state = ExecutorState::Terminating;
        executor.exited = true;
        executor.recovered = false;
        executor.queued.clear();
        // Ends an HTTP executor's event stream.
        executor.http = None;
        framework
            .executors
            .insert(executor_id.to_string(), executor);
        for task_id in unfinished {
            let update = self.agent_update(
                framework_id,
                &task_id,
                Some(executor_id),
                state,
                reason,
                &message,
            );
            self.handle_update(update, None, ctx);
        }
        // Nothing left to report: it is done now.
        self.retire_executor_if_done(framework_id, executor_id);
        if !command_executor {
            self.base.send(
                &self.master,
                &ExitedExecutorMessage {
                    slave_id: self.info.id.clone().unwrap_or_default(),
                    framework_id: FrameworkId {
                        value: framework_id.to_string(),
                    },
                    executor_id: ExecutorId {
                        value: executor_id.to_string(),
                    },
                    status: termination.status.unwrap_or(-1),
                },
            );
        }
    }

    /// Checkpoints a new executor of a checkpointing framework: its info,
    /// whether it was generated for a command task, and the `latest` link
    /// to its run.
    fn checkpoint_executor(
        &self,
        framework_id: &str,
        info: &ExecutorInfo,
        command_executor: bool,
        container_id: &str,
    ) {
        let work_dir = &self.config.work_dir;
        let slave_id = self.slave_id().unwrap_or_default();
        let executor_id = &info.executor_id.value;
        let dir = paths::executor_meta_dir(work_dir, slave_id, framework_id, executor_id);
        let result = state::checkpoint_record(&dir.join(paths::EXECUTOR_INFO_FILE), info)
            .and_then(|()| {
                state::checkpoint_text(
                    &dir.join(paths::EXECUTOR_GENERATED_FOR_COMMAND_TASK_FILE),
                    if command_executor { "1" } else { "0" },
                )
            })
            .and_then(|()| {
                state::checkpoint_symlink(
                    &paths::executor_latest_run_path(work_dir, slave_id, framework_id, executor_id),
                    container_id,
                )
            });
        if let Err(error) = result {
            tracing::warn!(%framework_id, %executor_id, %error, "Failed to checkpoint the executor");
        }
    }

    /// Checkpoints `task.info` (the `Task`) of a checkpointing framework.
    fn checkpoint_task(
        &self,
        framework_id: &str,
        executor_id: &str,
        container_id: &str,
        task: &Task,
    ) {
        let checkpoint = self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.info.checkpoint.unwrap_or(false));
        if !checkpoint {
            return;
        }
        let path = paths::task_meta_dir(
            &self.config.work_dir,
            self.slave_id().unwrap_or_default(),
            framework_id,
            executor_id,
            container_id,
            &task.task_id.value,
        )
        .join(paths::TASK_INFO_FILE);
        if let Err(error) = state::checkpoint_record(&path, task) {
            tracing::warn!(%framework_id, task_id = %task.task_id.value, %error, "Failed to checkpoint the task");
        }
    }

    /// `CheckpointResourcesMessage` from the master: the whole new set of
    /// checkpointed resources (upstream `Slave::checkpointResources`).
    /// Volume directories are made or removed first, then the set is
    /// written; a failure is fatal upstream, here it is logged and the old
    /// set kept (the master re-sends its view when the agent re-registers).
    fn checkpoint_resources(&mut self, from: UPID, resources: Vec<Resource>) {
        if from != self.master {
            tracing::warn!(%from, "Ignoring checkpointed resources from a process that is not the master");
            return;
        }
        let mut resources = resources;
        mesos_proto::resources::upgrade_resources(&mut resources);
        if Resources::from(resources.clone())
            == Resources::from(self.checkpointed_resources.clone())
        {
            return;
        }
        let work_dir = self.config.work_dir.clone();
        let result = checkpointed_resources::sync_volumes(
            &work_dir,
            &self.checkpointed_resources,
            &resources,
        )
        .and_then(|()| checkpointed_resources::checkpoint(&work_dir, &resources));
        match result {
            Ok(()) => {
                tracing::info!(resources = %Resources::from(resources.clone()), "Checkpointed resources");
                self.checkpointed_resources = resources;
            }
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "Failed to checkpoint resources");
            }
        }
    }

    /// Hands the recovered containers to the containerizer, which
    /// destroys the ones it finds beyond them.
    fn recover_containers(&self, states: Vec<ContainerState>) {
        let recovered = self.containerizer().recover(states);
        actix::spawn(async move {
            if let Err(error) = recovered.await {
                tracing::error!(%error, "Failed to recover the containers");
            }
        });
    }

    /// Recovers the checkpointed state (upstream `Slave::recover` and
    /// `_recover` with `--recover=reconnect`): the agent id, frameworks,
    /// executors, tasks and their status update streams; then asks every
    /// recovered executor with a UPID to reconnect. Registration with the
    /// master waits until they re-registered or
    /// `--executor_reregistration_timeout` passed.
    fn recover(&mut self, ctx: &mut Context<Self>) -> std::io::Result<()> {
        let work_dir = self.config.work_dir.clone();
        // Checkpointed resources outlive agent ids (upstream recovers them
        // before the agent's own state).
        self.checkpointed_resources =
            checkpointed_resources::recover(&work_dir).map_err(std::io::Error::other)?;
        if !self.checkpointed_resources.is_empty() {
            tracing::info!(
                resources = %Resources::from(self.checkpointed_resources.clone()),
                "Recovered checkpointed resources"
            );
        }
        let strict = self.config.flags.as_ref().is_none_or(|f| f.strict);
        let recovered = state::recover(&work_dir, strict)?;
        if let Some(slave) = &recovered {
            self.metrics.recovery_errors.add(u64::from(slave.errors));
            if slave.errors > 0 {
                tracing::warn!(
                    errors = slave.errors,
                    "Recovery skipped checkpoints it could not read (--strict=false)"
                );
            }
        }
        match state::boot_id() {
            Ok(boot_id) => {
                let path = paths::boot_id_path(&work_dir);
                state::checkpoint_text(&path, &boot_id).map_err(|error| {
                    std::io::Error::new(
                        error.kind(),
                        format!("failed to checkpoint {}: {error}", path.display()),
                    )
                })?
            }
            Err(error) => tracing::warn!(%error, "Failed to read the boot id"),
        }
        let Some(slave) = recovered else {
            // No agent to recover (a first start, a wiped meta directory,
            // a reboot): the containerizer still recovers, as upstream's
            // `_recover` always asks it to, and every container it finds
            // in its runtime directory or its launcher's cgroups is an
            // orphan, destroyed with its volumes and rootfs.
            self.recover_containers(Vec::new());
            return Ok(());
        };
        tracing::info!(slave_id = %slave.id, "Recovering the agent");
        self.info.id = Some(SlaveId {
            value: slave.id.clone(),
        });
        let mut reconnect = Vec::new();
        let mut watch = Vec::new();
        for framework in slave.frameworks {
            let framework_id = framework.id.clone();
            let mut executors = HashMap::new();
            for executor in framework.executors {
                let Some(run) = executor.run else {
                    continue;
                };
                let executor_id = executor.id.clone();
                let container_id = run.container_id.clone();
                let mut tasks = HashMap::new();
                for task in run.tasks {
                    let log = paths::task_updates_path(
                        &work_dir,
                        &slave.id,
                        &framework_id,
                        &executor_id,
                        &container_id,
                        &task.id,
                    );
                    self.updates.recover(
                        (framework_id.clone(), task.id.clone()),
                        &task.updates,
                        log,
                    );
                    let Some(mut record) = task.info else {
                        continue;
                    };
                    if let Some(latest) = task.updates.updates.last() {
                        record.state = latest.status.state;
                    }
                    record.statuses = task
                        .updates
                        .updates
                        .iter()
                        .map(|u| TaskStatus {
                            data: None,
                            ..u.status.clone()
                        })
                        .collect();
                    let terminal =
                        TaskState::try_from(record.state).is_ok_and(TaskState::is_terminal);
                    if terminal && task.updates.pending.is_empty() {
                        continue;
                    }
                    tasks.insert(task.id, record);
                }
                let upid = run
                    .libprocess_pid
                    .as_deref()
                    .map(UPID::parse_lenient)
                    .filter(|p| !p.is_empty());
                let os_pid = run.forked_pid.unwrap_or_default();
                tracing::info!(%framework_id, %executor_id, %container_id, os_pid, upid = ?upid, tasks = tasks.len(), "Recovered executor");
                if let Some(upid) = upid {
                    if process_alive(os_pid) {
                        reconnect.push((framework_id.clone(), executor_id.clone(), upid));
                    }
                }
                watch.push((
                    framework_id.clone(),
                    executor_id.clone(),
                    container_id.clone(),
                ));
                let directory = paths::executor_run_dir(
                    &work_dir,
                    &slave.id,
                    &framework_id,
                    &executor_id,
                    &container_id,
                );
                if let Some(files) = &self.files {
                    crate::files::attach_executor(
                        files,
                        &work_dir,
                        &slave.id,
                        &framework_id,
                        &executor_id,
                        &container_id,
                    );
                }
                executors.insert(
                    executor_id,
                    Executor {
                        info: executor.info,
                        container_id,
                        directory,
                        pid: None,
                        http: None,
                        os_pid,
                        state: ExecutorState::Registering,
                        exited: false,
                        command_executor: executor.generated_for_command_task,
                        queued: vec![],
                        queued_groups: vec![],
                        tasks,
                        recovered: true,
                        pending_termination: None,
                        completed_tasks: Default::default(),
                    },
                );
            }
            let pid = Some(UPID::parse_lenient(&framework.pid)).filter(|p| !p.is_empty());
            self.frameworks.insert(
                framework_id,
                Framework {
                    info: framework.info,
                    pid,
                    executors,
                    completed_executors: Default::default(),
                },
            );
        }
        // The containerizer takes the recovered containers over; a dead one
        // terminates at once.
        let states: Vec<ContainerState> = self
            .frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .filter(|e| e.recovered)
            .map(|e| ContainerState {
                executor_info: Some(e.info.clone()),
                container_id: mesos_proto::mesos::ContainerId {
                    value: e.container_id.clone(),
                    parent: None,
                },
                pid: u64::from(e.os_pid),
                directory: e.directory.display().to_string(),
                ..Default::default()
            })
            .collect();
        self.recover_containers(states);
        if self.config.recover_cleanup {
            return Ok(());
        }
        if watch.is_empty() {
            return Ok(());
        }
        self.recovering = true;
        let message = ReconnectExecutorMessage {
            slave_id: SlaveId { value: slave.id },
        };
        for (_, _, upid) in &reconnect {
            tracing::info!(executor = %upid, "Sending reconnect request to executor");
            self.base.send(upid, &message);
        }
        if let Some(interval) = self.config.executor_reregistration_retry_interval {
            self.schedule_reconnect_retry(interval, reconnect, message, ctx);
        }
        for (f, e, c) in watch {
            self.watch_container(&f, &e, &c, ctx);
        }
        libprocess::delay(
            self.config.executor_reregistration_timeout,
            &ctx.address(),
            |this, ctx| this.reregistration_timeout(ctx),
        );
        Ok(())
    }

    /// `--recover=cleanup` (upstream's agent in `TERMINATING` after
    /// recovery): every recovered executor's process group is killed; once
    /// none is alive the `latest` link to the checkpointed agent is removed,
    /// so the next start is a new agent, and the agent exits without
    /// having registered. The master later reports its tasks lost.
    fn cleanup_recovered(&mut self, ctx: &mut Context<Self>) {
        let alive: Vec<String> = self
            .frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .filter(|e| e.recovered && e.os_pid > 0 && process_alive(e.os_pid))
            .map(|e| e.container_id.clone())
            .collect();
        if !alive.is_empty() {
            for container_id in alive {
                self.destroy_container(&container_id);
            }
            libprocess::delay(Duration::from_millis(100), &ctx.address(), |this, ctx| {
                this.cleanup_recovered(ctx)
            });
            return;
        }
        self.forget_checkpointed_agent();
        tracing::info!("Cleaned up the recovered executors (--recover=cleanup); exiting");
        actix::ActorContext::stop(ctx);
    }

    /// Removes the `latest` link to the checkpointed agent, so that the
    /// next start registers a new agent (upstream `Slave::finalize` when
    /// `TERMINATING`).
    fn forget_checkpointed_agent(&self) {
        let latest = paths::latest_slave_path(&self.config.work_dir);
        if let Err(error) = std::fs::remove_file(&latest) {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::error!(path = %latest.display(), %error, "Failed to remove the latest agent link");
            }
        }
    }

    /// `--executor_reregistration_retry_interval`: the reconnect message
    /// goes again, every `interval` while the agent recovers, to each v0
    /// executor that has not re-registered yet. An executor built on a
    /// library older than 1.1.2 may have answered the first one on a
    /// half-open connection to the old agent (MESOS-7057).
    fn schedule_reconnect_retry(
        &mut self,
        interval: Duration,
        executors: Vec<(String, String, UPID)>,
        message: ReconnectExecutorMessage,
        ctx: &mut Context<Self>,
    ) {
        libprocess::delay(interval, &ctx.address(), move |this, ctx| {
            if !this.recovering {
                return;
            }
            let waiting: Vec<(String, String, UPID)> = executors
                .into_iter()
                .filter(|(framework_id, executor_id, _)| {
                    this.frameworks
                        .get(framework_id)
                        .and_then(|f| f.executors.get(executor_id))
                        .is_some_and(|e| e.recovered && e.state == ExecutorState::Registering)
                })
                .collect();
            if waiting.is_empty() {
                return;
            }
            for (framework_id, executor_id, upid) in &waiting {
                tracing::info!(%framework_id, %executor_id, executor = %upid,
                    "Re-sending reconnect request to executor");
                this.base.send(upid, &message);
            }
            this.schedule_reconnect_retry(interval, waiting, message, ctx);
        });
    }

    /// `ReregisterExecutorMessage` from a recovered executor.
    fn reregister_executor(
        &mut self,
        from: UPID,
        message: ReregisterExecutorMessage,
        ctx: &mut Context<Self>,
    ) {
        let framework_id = message.framework_id.value.clone();
        let executor_id = message.executor_id.value.clone();
        let slave_id = self.info.id.clone().unwrap_or_default();
        self.refresh_gauges();
        // Queued: the recount sees the change below.
        let Some(framework) = self.frameworks.get_mut(&framework_id) else {
            tracing::warn!(%framework_id, %executor_id, %from, "Shutting down an executor of an unknown framework");
            self.base.send(&from, &ShutdownExecutorMessage::default());
            return;
        };
        let framework_info = framework.info.clone();
        let Some(executor) = framework.executors.get_mut(&executor_id) else {
            self.base.send(&from, &ShutdownExecutorMessage::default());
            return;
        };
        if self.config.executor_reregistration_retry_interval.is_some()
            && executor.recovered
            && executor.state == ExecutorState::Running
            && executor.pid.as_ref() == Some(&from)
        {
            // An answer to a reconnect message sent again: already handled.
            tracing::warn!(%framework_id, %executor_id, %from, "Ignoring a duplicate re-registration of executor");
            return;
        }
        if !executor.recovered || executor.state != ExecutorState::Registering {
            tracing::warn!(%framework_id, %executor_id, %from, state = ?executor.state, "Shutting down an executor re-registering unexpectedly");
            self.base.send(&from, &ShutdownExecutorMessage::default());
            return;
        }
        tracing::info!(%framework_id, %executor_id, %from, "Executor re-registered");
        executor.state = ExecutorState::Running;
        executor.pid = Some(from.clone());
        executor.http = None;
        // Tasks the executor holds but the agent did not checkpoint.
        for task in &message.tasks {
            if !executor.tasks.contains_key(&task.task_id.value) {
                let record = task_record(
                    &framework_info,
                    task,
                    &executor.info,
                    Some(slave_id.clone()),
                );
                executor.tasks.insert(task.task_id.value.clone(), record);
            }
        }
        // The container was recovered with the executor's own resources:
        // it grows by its tasks' again, as upstream's
        // `Slave::reregisterExecutor` tells the containerizer.
        let (allocated, limits) = container_resources(executor);
        let container_id = executor.container_id.clone();
        let update = self.containerizer().update(container_id, allocated, limits);
        actix::spawn(async move {
            if let Err(error) = update.await {
                tracing::warn!(%error, "Failed to update the recovered container's resources");
            }
        });
        self.base.link(&from);
        self.base.send(
            &from,
            &ExecutorReregisteredMessage {
                slave_id,
                slave_info: self.info.clone(),
            },
        );
        // The executor's unacknowledged updates; the ones already
        // checkpointed before the restart are duplicates.
        for update in message.updates {
            let stream = (
                update.framework_id.value.clone(),
                update.status.task_id.value.clone(),
            );
            let uuid = update.uuid.clone().or_else(|| update.status.uuid.clone());
            if uuid.is_some_and(|u| self.updates.is_duplicate(&stream, &u)) {
                tracing::debug!(task_id = %stream.1, "Skipping a duplicate status update");
                continue;
            }
            self.handle_update(update, None, ctx);
        }
        let waiting = self
            .frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .any(|e| e.recovered && e.state == ExecutorState::Registering);
        if !waiting {
            self.finish_recovery(ctx);
        }
    }

    /// `--executor_reregistration_timeout` passed: recovered executors
    /// that did not re-register are destroyed (upstream
    /// `reregisterExecutorTimeout`).
    fn reregistration_timeout(&mut self, ctx: &mut Context<Self>) {
        let timeout =
            libprocess::flags::format_duration(self.config.executor_reregistration_timeout);
        let mut destroy = Vec::new();
        for (framework_id, framework) in &mut self.frameworks {
            // Upstream's tests (`SlaveRecoveryTest.RecoverUnregisteredExecutor`)
            // expect TASK_LOST; partition-aware frameworks get TASK_GONE.
            let partition_aware = framework.info.capabilities.iter().any(|c| {
                c.r#type
                    == Some(
                        mesos_proto::mesos::framework_info::capability::Type::PartitionAware as i32,
                    )
            });
            let state = if partition_aware {
                TaskState::TaskGone
            } else {
                TaskState::TaskLost
            };
            for (executor_id, executor) in &mut framework.executors {
                if executor.recovered && executor.state == ExecutorState::Registering {
                    tracing::info!(%framework_id, %executor_id, "Killing un-reregistered executor");
                    executor.state = ExecutorState::Terminating;
                    executor.pending_termination = Some((
                        state,
                        task_status::Reason::ExecutorReregistrationTimeout,
                        format!("Executor did not reregister within {timeout}"),
                    ));
                    destroy.push(executor.container_id.clone());
                }
            }
        }
        self.refresh_gauges();
        for container_id in destroy {
            self.destroy_container(&container_id);
        }
        self.finish_recovery(ctx);
    }

    /// Recovery is complete: register with the master.
    fn finish_recovery(&mut self, ctx: &mut Context<Self>) {
        if !self.recovering {
            return;
        }
        tracing::info!("Finished recovery");
        self.recovering = false;
        self.metrics.set_recovery_time();
        self.backoff = self.config.registration_backoff_factor;
        self.schedule_registration(ctx);
    }

    fn shutdown_framework(
        &mut self,
        from: UPID,
        message: ShutdownFrameworkMessage,
        ctx: &mut Context<Self>,
    ) {
        if from != self.master {
            return;
        }
        let framework_id = message.framework_id.value;
        tracing::info!(%framework_id, "Shutting down framework");
        let executors: Vec<String> = self
            .frameworks
            .get(&framework_id)
            .map(|f| f.executors.keys().cloned().collect())
            .unwrap_or_default();
        for executor_id in executors {
            self.shutdown_executor(&framework_id, &executor_id, ctx);
        }
        self.updates.remove_framework(&framework_id);
    }

    fn shutdown_executor(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        ctx: &mut Context<Self>,
    ) {
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            return;
        };
        let grace = executor_shutdown_grace_period(
            &executor.info,
            self.config.executor_shutdown_grace_period,
        );
        executor.state = ExecutorState::Terminating;
        let container_id = executor.container_id.clone();
        self.refresh_gauges();
        self.send_to_executor(
            framework_id,
            executor_id,
            ToExecutor::Shutdown(ShutdownExecutorMessage {
                executor_id: Some(ExecutorId {
                    value: executor_id.to_string(),
                }),
                framework_id: Some(FrameworkId {
                    value: framework_id.to_string(),
                }),
            }),
        );
        let (f, e) = (framework_id.to_string(), executor_id.to_string());
        libprocess::delay(grace, &ctx.address(), move |this, _| {
            let alive = this
                .frameworks
                .get(&f)
                .and_then(|fw| fw.executors.get(&e))
                .is_some_and(|ex| ex.container_id == container_id);
            if alive {
                this.destroy_container(&container_id);
            }
        });
    }
}

/// How long an executor has to shut down before its container is
/// destroyed: its `ExecutorInfo.shutdown_grace_period`, or else
/// `--executor_shutdown_grace_period` (upstream `_shutdownExecutor` and
/// `executorEnvironment`).
fn executor_shutdown_grace_period(info: &ExecutorInfo, default: Duration) -> Duration {
    info.shutdown_grace_period.as_ref().map_or(default, |d| {
        // A negative period is no period at all.
        Duration::from_nanos(u64::try_from(d.nanoseconds).unwrap_or(0))
    })
}

impl Slave {
    /// Sends `message` to an executor, whichever API it speaks: the v0
    /// message to its UPID, or the v1 event on its HTTP stream (upstream
    /// `Executor::send`). Dropped if the executor is not connected.
    pub(crate) fn send_to_executor(
        &self,
        framework_id: &str,
        executor_id: &str,
        message: ToExecutor,
    ) {
        let Some(executor) = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
        else {
            return;
        };
        if let Some(http) = &executor.http {
            http.send(&message.event());
        } else if let Some(pid) = &executor.pid {
            message.send_v0(&self.base, pid);
        } else {
            tracing::warn!(%framework_id, %executor_id, "Dropping a message for an executor that is not connected");
        }
    }

    /// A framework's message for one of its executors (upstream
    /// `Slave::schedulerMessage`): delivered to a running executor, else
    /// dropped; counted either way.
    fn scheduler_message(&self, message: FrameworkToExecutorMessage) {
        let (framework_id, executor_id) = (&message.framework_id.value, &message.executor_id.value);
        let running = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
            .is_some_and(|e| e.state == ExecutorState::Running);
        if !running {
            tracing::warn!(%framework_id, %executor_id, "Dropping a framework message for an executor that is not running");
            self.metrics.invalid_framework_messages.inc();
            return;
        }
        let (f, e) = (framework_id.clone(), executor_id.clone());
        self.send_to_executor(&f, &e, ToExecutor::FrameworkMessage(message));
        self.metrics.valid_framework_messages.inc();
    }

    /// An executor's message for its framework (upstream
    /// `Slave::executorMessage`): straight to a v0 framework; through the
    /// master otherwise. Dropped for a framework the agent does not hold.
    fn executor_message(&self, message: ExecutorToFrameworkMessage) {
        let Some(framework) = self.frameworks.get(&message.framework_id.value) else {
            tracing::warn!(framework_id = %message.framework_id.value, "Dropping an executor message for an unknown framework");
            self.metrics.invalid_framework_messages.inc();
            return;
        };
        let to = framework.pid.clone().unwrap_or_else(|| self.master.clone());
        self.base.send(&to, &message);
        self.metrics.valid_framework_messages.inc();
    }

    // --- The v1 executor API (executor_http.rs) ------------------------------

    /// Whether recovered executors are still being waited for.
    pub(crate) fn is_recovering(&self) -> bool {
        self.recovering
    }

    /// Returns a subscribed HTTP executor's stream.
    pub(crate) fn http_connection(
        &self,
        framework_id: &str,
        executor_id: &str,
    ) -> Option<&HttpConnection> {
        self.frameworks
            .get(framework_id)
            .and_then(|f| f.executors.get(executor_id))
            .and_then(|e| e.http.as_ref())
    }

    /// Checks that a call other than `SUBSCRIBE` comes from an executor the
    /// agent knows and that has subscribed (400 and 403 otherwise).
    pub(crate) fn http_executor_subscribed(
        &self,
        framework_id: &FrameworkId,
        executor_id: &ExecutorId,
    ) -> Result<(), libprocess::http::Response> {
        use libprocess::http::Response;
        let Some(framework) = self.frameworks.get(&framework_id.value) else {
            return Err(Response::bad_request(format!(
                "Framework '{}' cannot be found",
                framework_id.value
            )));
        };
        let Some(executor) = framework.executors.get(&executor_id.value) else {
            return Err(Response::bad_request(format!(
                "Executor '{}' of framework '{}' cannot be found",
                executor_id.value, framework_id.value
            )));
        };
        if executor.state == ExecutorState::Registering {
            return Err(Response::status(403).with_body("text/plain", "Executor is not subscribed"));
        }
        Ok(())
    }

    /// `SUBSCRIBE` from an HTTP executor (upstream `Slave::subscribe`): the
    /// stream gets `SUBSCRIBED` and the queued tasks; the executor's
    /// unacknowledged updates are handled again.
    pub(crate) fn subscribe_http_executor(
        &mut self,
        call: mesos_proto::mesos::executor::Call,
        connection: HttpConnection,
        ctx: &mut Context<Self>,
    ) -> Result<(), libprocess::http::Response> {
        use libprocess::http::Response;
        use mesos_proto::mesos::executor::{event, Event};
        let framework_id = call.framework_id.value.clone();
        let executor_id = call.executor_id.value.clone();
        let subscribe = call.subscribe.unwrap_or_default();
        let slave_id = self.info.id.clone().unwrap_or_default();
        let slave_info = self.info.clone();
        let work_dir = self.config.work_dir.clone();
        self.refresh_gauges();
        // Queued: the recount sees the change below.
        let Some(framework) = self.frameworks.get_mut(&framework_id) else {
            return Err(Response::bad_request(format!(
                "Framework '{framework_id}' cannot be found"
            )));
        };
        let framework_info = framework.info.clone();
        let Some(executor) = framework.executors.get_mut(&executor_id) else {
            return Err(Response::bad_request(format!(
                "Executor '{executor_id}' of framework '{framework_id}' cannot be found"
            )));
        };
        if executor.state == ExecutorState::Terminating {
            tracing::warn!(%framework_id, %executor_id, "Shutting down an executor subscribing while terminating");
            connection.send(&ToExecutor::Shutdown(ShutdownExecutorMessage::default()).event());
            // Dropping the connection ends the stream after the event.
            return Ok(());
        }
        tracing::info!(%framework_id, %executor_id, "HTTP executor subscribed");
        executor.state = ExecutorState::Running;
        // A new subscription replaces (and so closes) an earlier one.
        executor.http = Some(connection);
        executor.pid = None;
        let container_id = executor.container_id.clone();
        let executor_info = executor.info.clone();
        // Tasks the executor holds but the agent did not record.
        for task in &subscribe.unacknowledged_tasks {
            if !executor.tasks.contains_key(&task.task_id.value)
                && !executor.queued.iter().any(|q| q.task_id == task.task_id)
            {
                let record = task_record(
                    &framework_info,
                    task,
                    &executor_info,
                    Some(slave_id.clone()),
                );
                executor.tasks.insert(task.task_id.value.clone(), record);
            }
        }
        let (queued, groups, records) = take_queued(executor, &framework_info, &slave_id);
        if framework_info.checkpoint.unwrap_or(false) {
            let run_dir = paths::run_meta_dir(
                &work_dir,
                &slave_id.value,
                &framework_id,
                &executor_id,
                &container_id,
            );
            if let Err(error) = state::checkpoint_text(&paths::http_marker_path(&run_dir), "") {
                tracing::warn!(%error, "Failed to checkpoint the executor's HTTP marker");
            }
            for record in &records {
                self.checkpoint_task(&framework_id, &executor_id, &container_id, record);
            }
        }
        if let Some(http) = self.http_connection(&framework_id, &executor_id) {
            http.send(&Event {
                r#type: Some(event::Type::Subscribed as i32),
                subscribed: Some(event::Subscribed {
                    executor_info,
                    framework_info: framework_info.clone(),
                    slave_info,
                    container_id: Some(mesos_proto::mesos::ContainerId {
                        value: container_id,
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            });
        }
        self.deliver(&framework_id, &executor_id, queued, groups);
        for update in subscribe.unacknowledged_updates {
            let update = self.executor_update(&call.framework_id, &call.executor_id, update.status);
            let stream = (framework_id.clone(), update.status.task_id.value.clone());
            let uuid = update.uuid.clone().unwrap_or_default();
            if self.updates.is_duplicate(&stream, &uuid) {
                // Checkpointed before a restart; the executor only missed
                // the acknowledgement.
                let ack = StatusUpdateAcknowledgementMessage {
                    slave_id: slave_id.clone(),
                    framework_id: call.framework_id.clone(),
                    task_id: update.status.task_id.clone(),
                    uuid,
                };
                self.send_to_executor(
                    &framework_id,
                    &executor_id,
                    ToExecutor::Acknowledgement(ack),
                );
                continue;
            }
            self.handle_update(
                update,
                Some(UpdateSender::HttpExecutor(executor_id.clone())),
                ctx,
            );
        }
        let waiting = self
            .frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .any(|e| e.recovered && e.state == ExecutorState::Registering);
        if !waiting {
            self.finish_recovery(ctx);
        }
        Ok(())
    }

    /// An HTTP executor's `StatusUpdate` for `status` (upstream
    /// `protobuf::createStatusUpdate`).
    fn executor_update(
        &self,
        framework_id: &FrameworkId,
        executor_id: &ExecutorId,
        status: TaskStatus,
    ) -> StatusUpdate {
        let now = libprocess::clock::now_secs();
        StatusUpdate {
            framework_id: framework_id.clone(),
            executor_id: Some(executor_id.clone()),
            slave_id: self.info.id.clone(),
            uuid: status.uuid.clone(),
            timestamp: now,
            status,
            latest_state: None,
        }
    }

    /// `UPDATE` from a subscribed HTTP executor: as a v0
    /// `StatusUpdateMessage`, acknowledged with an `ACKNOWLEDGED` event.
    pub(crate) fn http_status_update(
        &mut self,
        framework_id: FrameworkId,
        executor_id: ExecutorId,
        status: TaskStatus,
        ctx: &mut Context<Self>,
    ) {
        let update = self.executor_update(&framework_id, &executor_id, status);
        self.executor_status_update(update, UpdateSender::HttpExecutor(executor_id.value), ctx);
    }

    /// `MESSAGE` from a subscribed HTTP executor.
    pub(crate) fn http_executor_message(
        &self,
        framework_id: FrameworkId,
        executor_id: ExecutorId,
        data: Vec<u8>,
    ) {
        self.executor_message(ExecutorToFrameworkMessage {
            slave_id: self.info.id.clone().unwrap_or_default(),
            framework_id,
            executor_id,
            data,
        });
    }

    /// An HTTP executor's stream ended. The executor stays (it may
    /// subscribe again); events for it are dropped until then.
    pub(crate) fn http_executor_disconnected(
        &mut self,
        framework_id: &str,
        executor_id: &str,
        connection_id: u64,
    ) {
        let Some(executor) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|f| f.executors.get_mut(executor_id))
        else {
            return;
        };
        if executor
            .http
            .as_ref()
            .is_some_and(|h| h.id == connection_id)
        {
            tracing::info!(%framework_id, %executor_id, "HTTP executor disconnected");
            executor.http = None;
        }
    }
}

/// Who sent a status update, and so gets its acknowledgement.
enum UpdateSender {
    /// A v0 executor.
    Pid(UPID),
    /// A v1 HTTP executor, by id.
    HttpExecutor(String),
}

/// Moves an executor's queued tasks to its launched ones (they are about
/// to be sent to it); returns them and their records.
fn take_queued(
    executor: &mut Executor,
    framework_info: &FrameworkInfo,
    slave_id: &SlaveId,
) -> (Vec<TaskInfo>, Vec<Vec<String>>, Vec<Task>) {
    let queued = std::mem::take(&mut executor.queued);
    let groups = std::mem::take(&mut executor.queued_groups);
    let records: Vec<Task> = queued
        .iter()
        .map(|task| task_record(framework_info, task, &executor.info, Some(slave_id.clone())))
        .collect();
    for record in &records {
        executor
            .tasks
            .insert(record.task_id.value.clone(), record.clone());
    }
    (queued, groups, records)
}

fn task_record(
    framework: &FrameworkInfo,
    task: &TaskInfo,
    executor: &ExecutorInfo,
    slave_id: Option<SlaveId>,
) -> Task {
    Task {
        name: task.name.clone(),
        task_id: task.task_id.clone(),
        framework_id: framework.id.clone().unwrap_or_default(),
        executor_id: task.executor.as_ref().map(|_| executor.executor_id.clone()),
        slave_id: slave_id.unwrap_or_default(),
        state: TaskState::TaskStaging as i32,
        resources: task.resources.clone(),
        labels: task.labels.clone(),
        discovery: task.discovery.clone(),
        container: task.container.clone(),
        health_check: task.health_check.clone(),
        kill_policy: task.kill_policy,
        user: task.command.as_ref().and_then(|c| c.user.clone()),
        limits: task.limits.clone(),
        ..Default::default()
    }
}

/// The tasks of `executor` that have not ended: `tasks` keeps a terminal
/// task until its updates are acknowledged (upstream moves it to
/// `terminatedTasks` at once, out of `allocatedResources()`).
fn live_tasks(executor: &Executor) -> impl Iterator<Item = &Task> {
    executor
        .tasks
        .values()
        .filter(|t| !TaskState::try_from(t.state).is_ok_and(TaskState::is_terminal))
}

/// What an executor's container holds: its own resources and its live
/// tasks' (requests), and their limits.
fn container_resources(executor: &Executor) -> (Vec<Resource>, ResourceLimits) {
    let allocated = executor
        .info
        .resources
        .iter()
        .chain(live_tasks(executor).flat_map(|t| &t.resources))
        .cloned()
        .collect();
    let limits = executor_limits(
        &executor.info.resources,
        live_tasks(executor).map(|t| (&t.resources[..], &t.limits)),
    );
    (allocated, limits)
}

/// Upstream's `Slave::computeExecutorLimits`: the limits of an executor's
/// container from its `tasks` (resources and limits). For `cpus` and `mem`
/// that some task limits, the limit is the sum of the tasks' limits, the
/// requests of the tasks without one, and the executor's own resources
/// (infinite when a task's is). A resource no task limits has no limit.
fn executor_limits<'a>(
    executor: &[Resource],
    tasks: impl IntoIterator<Item = (&'a [Resource], &'a ResourceLimits)>,
) -> ResourceLimits {
    const MB: f64 = (1u64 << 20) as f64;
    let requests = |resources: &[Resource]| {
        let resources = Resources::from(resources.to_vec());
        let mem = resources.mem().map(|bytes| bytes as f64 / MB);
        [resources.cpus(), mem]
    };
    const NAMES: [&str; 2] = ["cpus", "mem"];
    let mut limited: [Option<f64>; 2] = [None, None];
    let mut requested = [0.0; 2];
    for (resources, limits) in tasks {
        let task_requests = requests(resources);
        for (i, name) in NAMES.iter().enumerate() {
            match limits.get(*name) {
                Some(limit) => *limited[i].get_or_insert(0.0) += limit.value,
                None => requested[i] += task_requests[i].unwrap_or(0.0),
            }
        }
    }
    let own = requests(executor);
    NAMES
        .iter()
        .enumerate()
        .filter_map(|(i, name)| {
            let value = limited[i]? + requested[i] + own[i].unwrap_or(0.0);
            Some((
                name.to_string(),
                mesos_proto::mesos::value::Scalar { value },
            ))
        })
        .collect()
}

/// Returns whether OS process `pid` still runs (exists and is no zombie).
fn process_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 1 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(raw, 0) } != 0 {
        return false;
    }
    // A zombie still "exists"; its state in /proc/<pid>/stat is `Z`.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
        })
        .is_none_or(|state| state != 'Z' && state != 'X')
}

impl actix::Actor for Slave {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Self::Context) {
        if let Some(containerizer) = self.containerizer.take() {
            containerizer.stop();
        }
    }
}

impl Process for Slave {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }

    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }

    fn initialize(&mut self, ctx: &mut Context<Self>) {
        let mut options = self.config.containerizer.clone();
        options.work_dir = self.config.work_dir.clone();
        match crate::containerizer::create(&options, self.config.launcher_dir.clone()) {
            Ok(containerizer) => {
                if let Some(runtime) = self.base.runtime() {
                    containerizer
                        .fetcher()
                        .metrics()
                        .register(runtime.metrics());
                    containerizer.register_metrics(runtime.metrics());
                }
                self.containerizer = Some(Arc::new(containerizer));
            }
            Err(error) => {
                tracing::error!(%error, "Failed to create the containerizer");
                actix::ActorContext::stop(ctx);
                return;
            }
        }
        let base = &mut self.base;
        base.install::<SlaveRegisteredMessage>(|this, ctx, from, m| {
            this.registered(from, m.slave_id, ctx)
        });
        base.install::<SlaveReregisteredMessage>(|this, ctx, from, m| {
            let reconcile = from == this.master;
            this.registered(from, m.slave_id, ctx);
            if reconcile {
                this.reconcile(m.reconciliations, ctx);
            }
        });
        base.install::<PingSlaveMessage>(|this, ctx, from, ping| {
            this.base.send(&from, &PongSlaveMessage {});
            if !ping.connected && this.registered {
                // One-way partition: the master lost us; re-register.
                this.registered = false;
                this.authenticated = false;
                this.schedule_registration(ctx);
            }
        });
        base.install::<ShutdownMessage>(|this, ctx, from, message| {
            if from == this.master {
                tracing::warn!(message = ?message.message, "Master asked the agent to shut down");
                let containerizer = this.containerizer();
                let destroys: Vec<_> = this
                    .frameworks
                    .values()
                    .flat_map(|f| f.executors.values())
                    .map(|e| containerizer.destroy(e.container_id.clone()))
                    .collect();
                // The binary exits once the agent process has stopped,
                // after every container is gone; as upstream's agent
                // finalizing in `TERMINATING`, it forgets its checkpointed
                // self, so a restart registers a new agent rather than
                // recovering the one the master shut down.
                let addr = ctx.address();
                actix::spawn(async move {
                    futures::future::join_all(destroys).await;
                    addr.do_send(libprocess::Dispatch(Box::new(|this: &mut Slave, ctx| {
                        this.forget_checkpointed_agent();
                        actix::ActorContext::stop(ctx)
                    })));
                });
            }
        });
        base.install::<mesos_proto::mesos::internal::CheckpointResourcesMessage>(
            |this, _ctx, from, m| this.checkpoint_resources(from, m.resources),
        );
        base.install::<RunTaskMessage>(|this, ctx, from, m| this.run_task(from, m, ctx));
        base.install::<KillTaskMessage>(|this, ctx, from, m| this.kill_task(from, m, ctx));
        base.install::<mesos_proto::mesos::internal::RunTaskGroupMessage>(|this, ctx, from, m| {
            this.run_task_group(from, m, ctx)
        });
        base.install::<RegisterExecutorMessage>(|this, _ctx, from, m| {
            this.register_executor(from, m)
        });
        base.install::<StatusUpdateMessage>(|this, ctx, from, m| {
            this.status_update_from_executor(from, m, ctx)
        });
        base.install::<StatusUpdateAcknowledgementMessage>(|this, ctx, from, m| {
            this.acknowledgement(from, m, ctx)
        });
        base.install::<ShutdownFrameworkMessage>(|this, ctx, from, m| {
            this.shutdown_framework(from, m, ctx)
        });
        base.install::<ShutdownExecutorMessage>(|this, ctx, from, m| {
            if from == this.master {
                if let (Some(f), Some(e)) = (m.framework_id, m.executor_id) {
                    this.shutdown_executor(&f.value, &e.value, ctx);
                }
            }
        });
        base.install::<FrameworkToExecutorMessage>(|this, _ctx, _from, m| {
            this.scheduler_message(m)
        });
        base.install::<UpdateFrameworkMessage>(|this, _ctx, from, m| {
            this.update_framework(&from, m)
        });
        base.install::<ExecutorToFrameworkMessage>(|this, _ctx, _from, m| this.executor_message(m));
        base.install::<ReregisterExecutorMessage>(|this, ctx, from, m| {
            this.reregister_executor(from, m, ctx)
        });
        self.self_addr = Some(ctx.address().downgrade());
        crate::http::install(self);
        let interval = self.gc.options().disk_watch_interval;
        libprocess::delay(interval, &ctx.address(), |this, ctx| {
            this.check_disk_usage(ctx)
        });
        if let Err(error) = self.recover(ctx) {
            // Upstream's `--strict` default: recovery errors are fatal.
            tracing::error!(%error, "Agent recovery failed");
            RECOVERY_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
            actix::ActorContext::stop(ctx);
            return;
        }
        if self.config.recover_cleanup {
            self.recovering = true;
            self.cleanup_recovered(ctx);
            return;
        }
        self.refresh_gauges();
        if !self.recovering {
            self.metrics.set_recovery_time();
            let delay = Self::random_delay(self.config.registration_backoff_factor);
            libprocess::delay(delay, &ctx.address(), |this, ctx| this.do_register(ctx));
        }
    }

    fn exited(&mut self, pid: &UPID, ctx: &mut Context<Self>) {
        if *pid == self.master && self.registered {
            tracing::warn!(master = %pid, "Lost the master; re-registering");
            self.registered = false;
            self.authenticated = false;
            self.backoff = self.config.registration_backoff_factor;
            self.schedule_registration(ctx);
        }
    }
}

libprocess::process_handlers!(Slave);

/// Returns the agent's `SlaveInfo` from flags: host name, port, resources
/// (given, else detected) and attributes.
pub fn slave_info(flags: &Flags, address: std::net::SocketAddrV4) -> anyhow::Result<SlaveInfo> {
    let hostname = flags.hostname.clone().unwrap_or_else(|| {
        if flags.hostname_lookup {
            libprocess::os::hostname().unwrap_or_else(|_| address.ip().to_string())
        } else {
            address.ip().to_string()
        }
    });
    let resources = crate::resources::agent_resources(
        flags.resources.as_deref(),
        &flags.default_role,
        &flags.work_dir,
    )?;
    let attributes = match &flags.attributes {
        Some(text) => crate::resources::parse_attributes(text)?,
        None => vec![],
    };
    Ok(SlaveInfo {
        hostname,
        port: Some(u32::from(address.port()) as i32),
        resources: resources.to_vec(),
        attributes,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn executor_limits_add_requests_and_the_executors_own_resources() {
        let resources = |text: &str| Resources::parse(text, "*").unwrap().to_vec();
        let limits = |values: &[(&str, f64)]| -> ResourceLimits {
            values
                .iter()
                .map(|(n, v)| {
                    (
                        n.to_string(),
                        mesos_proto::mesos::value::Scalar { value: *v },
                    )
                })
                .collect()
        };
        let executor = resources("cpus:0.1;mem:32");
        // upstream `ROOT_CGROUPS_CFS_CommandTaskLimits`: the command
        // executor's 0.1 cpus and 32 MB on top of the task's limits.
        let task = (
            resources("cpus:0.2;mem:100"),
            limits(&[("cpus", 0.5), ("mem", 200.0)]),
        );
        let computed = executor_limits(&executor, [(&task.0[..], &task.1)]);
        assert!((computed["cpus"].value - 0.6).abs() < 1e-9, "{computed:?}");
        assert_eq!(computed["mem"].value, 232.0);
        // A task without limits: no limit; one limited and one not: the
        // other's request counts; infinity stays infinite.
        let plain = (resources("cpus:1;mem:64"), ResourceLimits::new());
        assert!(executor_limits(&executor, [(&plain.0[..], &plain.1)]).is_empty());
        let cpu_only = (
            resources("cpus:1;mem:64"),
            limits(&[("cpus", f64::INFINITY)]),
        );
        let computed = executor_limits(
            &executor,
            [(&plain.0[..], &plain.1), (&cpu_only.0[..], &cpu_only.1)],
        );
        assert_eq!(computed.len(), 1, "{computed:?}");
        assert!(computed["cpus"].value.is_infinite());
    }

    fn slave() -> Slave {
        Slave::new(Config {
            master: UPID::parse_lenient("master@127.0.0.1:5050"),
            info: SlaveInfo::default(),
            work_dir: PathBuf::from("/nonexistent"),
            launcher_dir: PathBuf::from("/nonexistent"),
            registration_backoff_factor: Duration::from_secs(1),
            authentication: None,
            executor_registration_timeout: Duration::from_secs(60),
            executor_shutdown_grace_period: Duration::from_secs(5),
            executor_reregistration_timeout: Duration::from_secs(2),
            executor_reregistration_retry_interval: None,
            recovery_timeout: Duration::from_secs(900),
            recover_cleanup: false,
            containerizer: Default::default(),
            gc: Default::default(),
            flags: None,
        })
    }

    fn task(id: &str, state: TaskState) -> Task {
        Task {
            task_id: TaskId { value: id.into() },
            state: state as i32,
            ..Default::default()
        }
    }

    fn completed_executor(id: &str, terminated: Vec<Task>, completed: Vec<Task>) -> Executor {
        Executor {
            info: ExecutorInfo {
                executor_id: ExecutorId { value: id.into() },
                ..Default::default()
            },
            container_id: format!("{id}-container"),
            directory: PathBuf::new(),
            pid: None,
            http: None,
            os_pid: 0,
            state: ExecutorState::Terminating,
            exited: true,
            command_executor: true,
            queued: vec![],
            queued_groups: vec![],
            tasks: terminated
                .into_iter()
                .map(|t| (t.task_id.value.clone(), t))
                .collect(),
            recovered: false,
            pending_termination: None,
            completed_tasks: completed.into(),
        }
    }

    #[test]
    fn reregistration_reports_completed_frameworks_with_their_tasks() {
        let mut slave = slave();
        assert!(slave.completed_frameworks_archive().is_empty());
        let info = FrameworkInfo {
            id: Some(FrameworkId { value: "F1".into() }),
            name: "done".into(),
            ..Default::default()
        };
        slave.completed_frameworks.push_back(Framework {
            info: info.clone(),
            pid: Some(UPID::parse_lenient("scheduler-1@127.0.0.1:4242")),
            executors: HashMap::new(),
            completed_executors: vec![
                completed_executor("E1", vec![], vec![task("T1", TaskState::TaskFinished)]),
                completed_executor(
                    "E2",
                    vec![task("T3", TaskState::TaskFailed)],
                    vec![task("T2", TaskState::TaskKilled)],
                ),
            ]
            .into(),
        });
        // An HTTP framework has no pid.
        slave.completed_frameworks.push_back(Framework {
            info: FrameworkInfo {
                id: Some(FrameworkId { value: "F2".into() }),
                ..Default::default()
            },
            pid: None,
            executors: HashMap::new(),
            completed_executors: Default::default(),
        });

        let archive = slave.completed_frameworks_archive();
        assert_eq!(archive.len(), 2);
        assert_eq!(archive[0].framework_info, info);
        assert_eq!(
            archive[0].pid.as_deref(),
            Some("scheduler-1@127.0.0.1:4242")
        );
        let tasks: Vec<(&str, TaskState)> = archive[0]
            .tasks
            .iter()
            .map(|t| (t.task_id.value.as_str(), t.state()))
            .collect();
        assert_eq!(
            tasks,
            vec![
                ("T1", TaskState::TaskFinished),
                ("T3", TaskState::TaskFailed),
                ("T2", TaskState::TaskKilled),
            ]
        );
        assert_eq!(archive[1].pid, None);
        assert!(archive[1].tasks.is_empty());
    }

    #[test]
    fn update_framework_from_the_master_sets_the_new_pid_and_info() {
        let mut slave = slave();
        let old = UPID::parse_lenient("scheduler-1@127.0.0.1:4242");
        slave.frameworks.insert(
            "F1".into(),
            Framework {
                info: FrameworkInfo {
                    id: Some(FrameworkId { value: "F1".into() }),
                    name: "old".into(),
                    ..Default::default()
                },
                pid: Some(old.clone()),
                executors: HashMap::new(),
                completed_executors: Default::default(),
            },
        );
        let update = |pid: &str, name: &str| UpdateFrameworkMessage {
            framework_id: FrameworkId { value: "F1".into() },
            pid: Some(pid.into()),
            framework_info: Some(FrameworkInfo {
                id: Some(FrameworkId { value: "F1".into() }),
                name: name.into(),
                ..Default::default()
            }),
        };
        // Not from the master: ignored.
        let stranger = UPID::parse_lenient("scheduler-9@127.0.0.1:9999");
        slave.update_framework(&stranger, update("scheduler-2@127.0.0.1:4343", "new"));
        assert_eq!(slave.frameworks["F1"].pid, Some(old));
        assert_eq!(slave.frameworks["F1"].info.name, "old");

        let master = slave.master.clone();
        slave.update_framework(&master, update("scheduler-2@127.0.0.1:4343", "new"));
        let new = UPID::parse_lenient("scheduler-2@127.0.0.1:4343");
        assert_eq!(slave.frameworks["F1"].pid, Some(new));
        assert_eq!(slave.frameworks["F1"].info.name, "new");

        // An HTTP framework has no pid: executor messages go through the
        // master.
        slave.update_framework(&master, update("", "http"));
        assert_eq!(slave.frameworks["F1"].pid, None);

        // An unknown framework is ignored.
        let mut unknown = update("scheduler-3@127.0.0.1:4444", "x");
        unknown.framework_id.value = "F2".into();
        slave.update_framework(&master, unknown);
        assert!(!slave.frameworks.contains_key("F2"));
    }
}
