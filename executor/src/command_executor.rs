//! The command executor: runs one task's `CommandInfo` as a child process
//! and reports its life as status updates.
//!
//! Upstream counterpart: `CommandExecutor` in `src/launcher/executor.cpp`.
//! On the v0 driver (as upstream's `V0ToV1Adapter`), [`CommandExecutor`]
//! is the [`Executor`] the driver calls; over HTTP
//! (`MESOS_HTTP_COMMAND_EXECUTOR=1`), [`crate::http_driver::HttpDriver`]
//! calls its inherent methods. Either way it forwards to the
//! `command-executor(N)` process, which owns the task and sends updates
//! through a [`Transport`], so both APIs share every rule below.
//!
//! A task goes `TASK_STARTING`, `TASK_RUNNING`, then `TASK_FINISHED` (exit
//! status 0), `TASK_FAILED` (`Command exited with status N`, `Command
//! terminated with signal X`) or `TASK_KILLED`. A kill sends `TASK_KILLING`
//! when the framework can handle it, SIGTERM to the task's process group,
//! and SIGKILL once the grace period has passed: the kill's policy, else
//! the task's, else 3 seconds (upstream keeps 3s for backwards
//! compatibility). A shutdown kills with the executor's shutdown grace
//! period less 2 seconds, so the terminal update goes out before the agent
//! destroys the container. The executor exits when the agent acknowledges
//! the terminal update, or 1 second after sending it on the v0 driver
//! (upstream's MESOS-4111 delay, which gives the update time to leave), 60
//! seconds and with a failure over HTTP (upstream's fail-safe).
//!
//! The task runs `sh -c <value>` (shell) or `<value>` with `arguments` as
//! its argv, in the sandbox, in a new session (so its own process group),
//! with the executor's environment plus `--task_environment`, the command's
//! environment and `MESOS_ALLOCATION_ROLE`. Its stdin, stdout and stderr are
//! the executor's, which the agent points at the sandbox. With
//! `--tty_slave_path` (a task with `ContainerInfo.tty_info`) they are the
//! container's pseudo terminal, and the task stays in the executor's
//! session, whose controlling terminal that is, in its own process group
//! made the terminal's foreground group (upstream keeps it in the
//! executor's group).
//!
//! Checks and health checks ([`crate::checks`]) start once the task is
//! forked and run from the executor (it shares the task's network; COMMAND
//! checks run in the sandbox with the executor's environment plus their
//! own). A check result that changes is sent as a `TASK_RUNNING` copy of
//! the last update with the new `check_status` and reason
//! `REASON_TASK_CHECK_STATUS_UPDATED`; a health report likewise with
//! `healthy` and `REASON_TASK_HEALTH_CHECK_STATUS_UPDATED`. Every update of
//! a checked task carries a `check_status` (empty until the first result).
//! A health report that asks for the task to be killed kills it as a kill
//! from the scheduler would (`TASK_KILLING`, then `TASK_KILLED` with
//! `healthy: false`). Both stop at the first kill and when the task ends,
//! so no report follows a terminal update.
//!
//! Deliberate differences from upstream:
//! - The task is forked directly rather than through `mesos-containerizer
//!   launch`: the agent has made the container's mounts already, so with
//!   `--rootfs` the child only chroots into the rootfs and changes to the
//!   working directory (`--working_directory`, else `--sandbox_directory`)
//!   before exec; a user switch is still refused by the flags.
//! - Fork and wait happen on a thread, so the process never blocks; a kill
//!   that arrives before the fork has finished takes effect right after it.
//! - Invalid input (no command, a kill before any task) fails the task or
//!   aborts the driver instead of crashing the executor with `CHECK`.
//! - With a rootfs, COMMAND checks are chrooted into it (as the task
//!   is) instead of entering the task's mount namespace.
//! - Process trees are signalled by process group, not by walking the tree.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use actix::{ActorContext as _, AsyncContext as _, Context};
use libprocess::{Dispatch, Process, ProcessBase, Runtime, Timer, PID};
use mesos_proto::mesos::environment::variable::Type as VariableType;
use mesos_proto::mesos::framework_info::capability::Type as Capability;
use mesos_proto::mesos::task_status::{Reason, Source};
use mesos_proto::mesos::{
    CheckStatusInfo, CommandInfo, Environment, ExecutorId, ExecutorInfo, FrameworkInfo, KillPolicy,
    SlaveInfo, TaskId, TaskInfo, TaskState, TaskStatus,
};
use uuid::Uuid;

use crate::checks::{self, Checker, HealthChecker, TaskHealthStatus};
use crate::driver::{Executor, ExecutorDriver};

/// The kill grace period when neither the kill nor the task has a policy.
pub const DEFAULT_KILL_GRACE_PERIOD: Duration = Duration::from_secs(3);

/// Upstream's `MAX_REAP_INTERVAL()`: subtracted, with another second, from
/// the shutdown grace period so `TASK_KILLED` is sent in time.
const MAX_REAP_INTERVAL: Duration = Duration::from_secs(1);

/// How long after the terminal update the executor exits if the agent has
/// not acknowledged it (MESOS-4111), on the v0 driver.
pub const SELF_TERMINATE_DELAY: Duration = Duration::from_secs(1);

/// The same over HTTP, where the agent acknowledges every update: only a
/// fail-safe in case the acknowledgement never comes.
pub const HTTP_SELF_TERMINATE_DELAY: Duration = Duration::from_secs(60);

/// How the command executor reaches its agent: the v0 [`ExecutorDriver`]
/// or the v1 [`crate::http_driver::HttpDriver`] (upstream hides the same
/// choice behind `MesosBase`, with `V0ToV1Adapter` or the v1 `Mesos`).
pub trait Transport: Send + Sync + 'static {
    /// Sends `status` (with its uuid, timestamp and source set) to the
    /// agent; the transport keeps it until the agent acknowledges it.
    fn send_status_update(&self, status: TaskStatus);
    /// The executor is done: the transport stops and the binary exits.
    fn stop(&self);
    /// The executor gives up (e.g. a kill before any task).
    fn abort(&self);
    /// How long after the terminal update the executor exits unless the
    /// agent acknowledges it first.
    fn self_terminate_delay(&self) -> Duration {
        SELF_TERMINATE_DELAY
    }
    /// Called when that delay has passed, before the executor stops.
    fn self_terminate(&self) {}
}

impl Transport for ExecutorDriver {
    fn send_status_update(&self, status: TaskStatus) {
        ExecutorDriver::send_status_update(self, status);
    }

    fn stop(&self) {
        ExecutorDriver::stop(self);
    }

    fn abort(&self) {
        ExecutorDriver::abort(self);
    }
}

/// What the command executor is told at start.
#[derive(Debug, Clone)]
pub struct CommandExecutorConfig {
    /// `MESOS_EXECUTOR_ID`, put in every status.
    pub executor_id: ExecutorId,
    /// `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`.
    pub shutdown_grace_period: Duration,
    /// The directory the task runs in (`MESOS_DIRECTORY`).
    pub sandbox: PathBuf,
    /// `--task_command`: run this instead of the task's command.
    pub task_command: Option<CommandInfo>,
    /// `--task_environment`: variables added before the command's own.
    pub task_environment: Option<Environment>,
    /// `--rootfs`: the task runs chrooted into this image rootfs (the
    /// agent has bound the sandbox into it at `sandbox_directory`).
    pub rootfs: Option<PathBuf>,
    /// `--sandbox_directory`: the sandbox's path inside the rootfs.
    pub sandbox_directory: Option<PathBuf>,
    /// `--working_directory`: the task's directory inside the rootfs
    /// (else the sandbox).
    pub working_directory: Option<PathBuf>,
    /// `--user` when the task switches to it (a root executor with a
    /// rootfs): the user is looked up in the image's `/etc/passwd` and
    /// `/etc/group`.
    pub user: Option<String>,
    /// `--tty_slave_path`: the container has a pseudo terminal (the
    /// executor's stdio and controlling terminal), which the task shares.
    pub tty_slave_path: Option<PathBuf>,
}

/// The [`Executor`] the driver calls; forwards to the `command-executor(N)`
/// process.
pub struct CommandExecutor {
    process: PID<CommandExecutorProcess>,
}

impl CommandExecutor {
    /// Spawns the `command-executor(N)` process on `runtime`. Must be called
    /// inside an actix system.
    pub fn spawn(
        runtime: &Runtime,
        config: CommandExecutorConfig,
    ) -> Result<Self, libprocess::SpawnError> {
        let process = runtime.spawn(CommandExecutorProcess::new(config))?;
        Ok(Self { process })
    }

    fn forward(
        &self,
        driver: &ExecutorDriver,
        f: impl FnOnce(&mut CommandExecutorProcess, &mut Context<CommandExecutorProcess>)
            + Send
            + 'static,
    ) {
        let driver = driver.clone();
        self.process.dispatch(move |process, ctx| {
            process
                .driver
                .get_or_insert_with(|| Arc::new(driver) as Arc<dyn Transport>);
            f(process, ctx)
        });
    }

    /// Sets the transport updates go out on (the v1 path; the v0 driver
    /// passes itself with each callback).
    pub fn attach(&self, transport: Arc<dyn Transport>) {
        self.process
            .dispatch(move |process, _| process.driver = Some(transport));
    }

    /// The agent accepted the subscription (`SUBSCRIBED`).
    pub fn subscribed(&self, framework_info: FrameworkInfo) {
        self.process
            .dispatch(move |process, _| process.framework_info = Some(framework_info));
    }

    /// Runs `task` (`LAUNCH`).
    pub fn launch(&self, task: TaskInfo) {
        self.process
            .dispatch(move |process, ctx| process.launch(task, ctx));
    }

    /// Kills the task (`KILL`), with the kill's policy if any.
    pub fn kill(&self, task_id: TaskId, kill_policy: Option<KillPolicy>) {
        self.process
            .dispatch(move |process, ctx| process.kill_task(&task_id, kill_policy, ctx));
    }

    /// The agent acknowledged the update of `task_id` in `state`.
    pub fn acknowledge(&self, task_id: TaskId, state: TaskState) {
        self.process
            .dispatch(move |process, ctx| process.acknowledged(&task_id, state, ctx));
    }

    /// Kills the task, if any, with the shutdown grace period (`SHUTDOWN`).
    pub fn shutdown(&self) {
        self.process.dispatch(|process, ctx| process.shutdown(ctx));
    }
}

impl Executor for CommandExecutor {
    fn registered(
        &mut self,
        driver: &ExecutorDriver,
        _executor_info: ExecutorInfo,
        framework_info: FrameworkInfo,
        slave_info: SlaveInfo,
    ) {
        tracing::info!(hostname = %slave_info.hostname, "Subscribed executor");
        self.forward(driver, move |process, _| {
            process.framework_info = Some(framework_info)
        });
    }

    fn reregistered(&mut self, _driver: &ExecutorDriver, slave_info: SlaveInfo) {
        tracing::info!(hostname = %slave_info.hostname, "Resubscribed executor");
    }

    fn launch_task(&mut self, driver: &ExecutorDriver, task: TaskInfo) {
        self.forward(driver, move |process, ctx| process.launch(task, ctx));
    }

    fn kill_task(
        &mut self,
        driver: &ExecutorDriver,
        task_id: TaskId,
        kill_policy: Option<KillPolicy>,
    ) {
        self.forward(driver, move |process, ctx| {
            process.kill_task(&task_id, kill_policy, ctx)
        });
    }

    fn acknowledged(&mut self, driver: &ExecutorDriver, status: &TaskStatus) {
        let (task_id, state) = (status.task_id.clone(), status.state());
        self.forward(driver, move |process, ctx| {
            process.acknowledged(&task_id, state, ctx)
        });
    }

    fn framework_message(&mut self, _driver: &ExecutorDriver, _data: Vec<u8>) {
        // Upstream ignores framework messages (the MESSAGE event).
    }

    fn shutdown(&mut self, driver: &ExecutorDriver) {
        self.forward(driver, |process, ctx| process.shutdown(ctx));
    }

    fn error(&mut self, _driver: &ExecutorDriver, message: &str) {
        tracing::error!(error = %message, "Executor driver failed");
    }
}

/// The `command-executor(N)` process (upstream's `CommandExecutor`).
struct CommandExecutorProcess {
    base: ProcessBase<Self>,
    config: CommandExecutorConfig,
    driver: Option<Arc<dyn Transport>>,
    framework_info: Option<FrameworkInfo>,
    /// The task, once received.
    task: Option<TaskInfo>,
    launched: bool,
    killed: bool,
    killed_by_max_completion_time: bool,
    terminated: bool,
    /// The task's pid, which is also its process group (it runs in its own
    /// session); unset until the fork has finished.
    pid: Option<i32>,
    /// The grace period of a kill that arrived before the fork finished.
    pending_kill: Option<Duration>,
    kill_policy: Option<KillPolicy>,
    /// When the first kill started and when SIGKILL is due, on the
    /// libprocess clock.
    kill_grace_period: Option<(Duration, Duration)>,
    kill_grace_period_timer: Option<Timer>,
    task_completion_timer: Option<Timer>,
    /// The task's check and health check, once it is forked.
    checker: Option<Checker>,
    health_checker: Option<HealthChecker>,
    /// The kill came from a failing health check.
    killed_by_health_check: bool,
    /// The last update sent, which check and health updates copy.
    last_task_status: Option<TaskStatus>,
}

impl CommandExecutorProcess {
    fn new(config: CommandExecutorConfig) -> Self {
        Self {
            base: ProcessBase::new(libprocess::id::generate("command-executor")),
            config,
            driver: None,
            framework_info: None,
            task: None,
            launched: false,
            killed: false,
            killed_by_max_completion_time: false,
            terminated: false,
            pid: None,
            pending_kill: None,
            kill_policy: None,
            kill_grace_period: None,
            kill_grace_period_timer: None,
            task_completion_timer: None,
            checker: None,
            health_checker: None,
            killed_by_health_check: false,
            last_task_status: None,
        }
    }

    fn launch(&mut self, task: TaskInfo, ctx: &mut Context<Self>) {
        if self.launched {
            let status = self.create_task_status(
                &task.task_id,
                TaskState::TaskFailed,
                None,
                Some("Attempted to run multiple tasks using a \"command\" executor".into()),
            );
            self.forward(status);
            return;
        }
        let task_id = task.task_id.clone();
        self.launched = true;
        self.kill_policy = task.kill_policy;
        self.task = Some(task.clone());
        let starting = self.create_task_status(&task_id, TaskState::TaskStarting, None, None);
        self.forward(starting);

        let command = match self.config.task_command.clone().or(task.command.clone()) {
            Some(command) => command,
            None => {
                let message = format!("Expecting task '{}' to have a command", task_id.value);
                return self.launch_failed(message, ctx);
            }
        };
        if command.value.is_none() {
            let message = if command.shell() {
                format!("Shell command of task '{}' is not specified", task_id.value)
            } else {
                format!("Executable of task '{}' is not specified", task_id.value)
            };
            return self.launch_failed(message, ctx);
        }
        if let Some(duration) = &task.max_completion_time {
            if duration.nanoseconds > 0 {
                let duration = nanos(duration.nanoseconds);
                tracing::info!(task_id = %task_id.value,
                    max_completion_time = %libprocess::flags::format_duration(duration),
                    "Task has a maximum completion time");
                self.task_completion_timer = Some(libprocess::delay(
                    duration,
                    &ctx.address(),
                    move |this, ctx| this.task_completion_timeout(duration, ctx),
                ));
            }
        }

        let identity = match (&self.config.user, &self.config.rootfs) {
            (Some(user), Some(rootfs)) => match image_user(rootfs, user) {
                Ok(identity) => Some(identity),
                Err(error) => {
                    let message = format!("Failed to switch the task to user '{user}': {error}");
                    return self.launch_failed(message, ctx);
                }
            },
            _ => None,
        };
        tracing::info!(task_id = %task_id.value, "Starting task");
        let mut child = self.command(&task, &command, identity);
        let addr = ctx.address();
        let spawned = std::thread::Builder::new()
            .name("command-executor-wait".into())
            .spawn(move || match child.spawn() {
                Ok(mut child) => {
                    let pid = child.id() as i32;
                    addr.do_send(Dispatch(Box::new(move |this: &mut Self, ctx| {
                        this.forked(pid, ctx)
                    })));
                    let status = child.wait();
                    addr.do_send(Dispatch(Box::new(move |this: &mut Self, ctx| {
                        this.reaped(pid, status, ctx)
                    })));
                }
                Err(error) => {
                    let message = format!("Failed to launch task subprocess: {error}");
                    addr.do_send(Dispatch(Box::new(move |this: &mut Self, ctx| {
                        this.launch_failed(message, ctx)
                    })));
                }
            });
        if let Err(error) = spawned {
            let message = format!("Failed to launch task subprocess: {error}");
            self.launch_failed(message, ctx);
        }
    }

    /// Returns the child to fork for `command`.
    fn command(
        &self,
        task: &TaskInfo,
        command: &CommandInfo,
        identity: Option<Identity>,
    ) -> std::process::Command {
        let value = command.value.clone().unwrap_or_default();
        let mut child = if command.shell() {
            let mut child = std::process::Command::new("/bin/sh");
            child.arg0("sh").arg("-c").arg(value);
            child
        } else {
            let mut child = std::process::Command::new(&value);
            if let Some((arg0, rest)) = command.arguments.split_first() {
                child.arg0(arg0).args(rest);
            }
            child
        };
        child
            .envs(self.environment(task, command))
            .current_dir(&self.config.sandbox);
        // With a rootfs: chroot into it and go to the working directory
        // there (upstream runs the task through `mesos-containerizer
        // launch` for this; the agent has made the mounts already).
        let chroot = self.config.rootfs.as_ref().and_then(|rootfs| {
            use std::os::unix::ffi::OsStrExt as _;
            let sandbox = self
                .config
                .sandbox_directory
                .clone()
                .unwrap_or_else(|| PathBuf::from("/mnt/mesos/sandbox"));
            let directory = self.config.working_directory.clone().unwrap_or(sandbox);
            let rootfs = std::ffi::CString::new(rootfs.as_os_str().as_bytes()).ok()?;
            let directory = std::ffi::CString::new(directory.as_os_str().as_bytes()).ok()?;
            Some((rootfs, directory))
        });
        let tty = self.config.tty_slave_path.is_some();
        // SAFETY: the hook runs in the forked child before exec and only
        // calls async-signal-safe functions (setsid(2), setpgid(2),
        // sigprocmask(2), tcsetpgrp(3), chroot(2), chdir(2)) on values made
        // before the fork.
        unsafe {
            child.pre_exec(move || {
                if tty {
                    foreground_process_group()?;
                } else if libc::setsid() == -1 {
                    return Err(io::Error::last_os_error());
                }
                if let Some((rootfs, directory)) = &chroot {
                    if libc::chroot(rootfs.as_ptr()) != 0 || libc::chdir(directory.as_ptr()) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                // The image's user, groups first (setgroups(2),
                // setgid(2), setuid(2)).
                if let Some(identity) = &identity {
                    if libc::setgroups(identity.groups.len(), identity.groups.as_ptr()) != 0
                        || libc::setgid(identity.gid) != 0
                        || libc::setuid(identity.uid) != 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        child
    }

    /// Returns the variables added to the executor's environment: the
    /// `--task_environment` ones, then the command's (both without
    /// unresolved secrets), then `MESOS_ALLOCATION_ROLE`.
    fn environment(&self, task: &TaskInfo, command: &CommandInfo) -> BTreeMap<String, String> {
        let mut environment = BTreeMap::new();
        let sources = [
            self.config.task_environment.as_ref(),
            command.environment.as_ref(),
        ];
        for variable in sources.into_iter().flatten().flat_map(|e| &e.variables) {
            if variable.r#type() == VariableType::Secret {
                continue;
            }
            let value = variable.value.clone().unwrap_or_default();
            environment.insert(variable.name.clone(), value);
        }
        // Tasks may not mix resources of several roles (MESOS-6636).
        if let Some(resource) = task.resources.first() {
            let role = resource
                .allocation_info
                .as_ref()
                .and_then(|a| a.role.clone())
                .unwrap_or_default();
            environment.insert("MESOS_ALLOCATION_ROLE".into(), role);
        }
        if self.config.rootfs.is_some() {
            let sandbox = self.config.sandbox_directory.as_ref().map_or_else(
                || "/mnt/mesos/sandbox".to_string(),
                |s| s.display().to_string(),
            );
            environment.insert("MESOS_SANDBOX".into(), sandbox);
        }
        environment
    }

    fn forked(&mut self, pid: i32, ctx: &mut Context<Self>) {
        tracing::info!(pid, "Forked command");
        self.pid = Some(pid);
        self.start_checks(ctx);
        if let Some(task_id) = self.task_id() {
            let running = self.create_task_status(&task_id, TaskState::TaskRunning, None, None);
            self.forward(running);
            if let Some(grace_period) = self.pending_kill.take() {
                self.kill(&task_id, grace_period, ctx);
            }
        }
    }

    /// The task could not be started: it fails, and the executor exits as
    /// after any terminal update.
    fn launch_failed(&mut self, message: String, ctx: &mut Context<Self>) {
        tracing::error!(error = %message, "Failed to launch the task");
        self.terminated = true;
        self.cancel_timers();
        if let Some(task_id) = self.task_id() {
            let status =
                self.create_task_status(&task_id, TaskState::TaskFailed, None, Some(message));
            self.forward(status);
        }
        self.schedule_self_terminate(ctx);
    }

    fn kill_task(
        &mut self,
        task_id: &TaskId,
        kill_policy: Option<KillPolicy>,
        ctx: &mut Context<Self>,
    ) {
        if let Some(timer) = self.task_completion_timer.take() {
            timer.cancel();
        }
        // The kill's policy takes precedence over the task's.
        let grace_period = kill_policy
            .and_then(|p| p.grace_period)
            .or_else(|| self.kill_policy.as_ref().and_then(|p| p.grace_period))
            .map_or(DEFAULT_KILL_GRACE_PERIOD, |d| nanos(d.nanoseconds));
        tracing::info!(task_id = %task_id.value,
            grace_period = %libprocess::flags::format_duration(grace_period),
            "Received kill for task");
        self.kill(task_id, grace_period, ctx);
    }

    fn shutdown(&mut self, ctx: &mut Context<Self>) {
        tracing::info!("Shutting down");
        // Leave time for the forced kill and the TASK_KILLED update before
        // the agent destroys the container.
        let grace_period = self
            .config
            .shutdown_grace_period
            .saturating_sub(MAX_REAP_INTERVAL + Duration::from_secs(1));
        match self.task_id() {
            Some(task_id) if self.launched => self.kill(&task_id, grace_period, ctx),
            _ => self.terminate(ctx),
        }
    }

    fn kill(&mut self, task_id: &TaskId, grace_period: Duration, ctx: &mut Context<Self>) {
        if self.terminated {
            return;
        }
        if !self.launched {
            // MESOS-8297: e.g. the RunTaskMessage was never delivered.
            tracing::error!(task_id = %task_id.value,
                "Terminating because a kill task message arrived before the task was launched");
            if let Some(driver) = &self.driver {
                driver.abort();
            }
            ctx.stop();
            return;
        }
        if self.task_id().as_ref() != Some(task_id) {
            tracing::warn!(task_id = %task_id.value, "Ignoring kill for an unknown task");
            return;
        }
        let Some(pid) = self.pid else {
            let pending = self
                .pending_kill
                .map_or(grace_period, |p| p.min(grace_period));
            self.pending_kill = Some(pending);
            return;
        };

        if self.killed {
            // A retried or overriding kill may only shorten the grace
            // period, never restart or lengthen it.
            let Some((start, deadline)) = self.kill_grace_period else {
                return;
            };
            if start + grace_period >= deadline {
                return;
            }
            let remaining = (start + grace_period).saturating_sub(libprocess::clock::elapsed());
            tracing::info!(remaining = %libprocess::flags::format_duration(remaining),
                "Rescheduling escalation to SIGKILL");
            if let Some(timer) = self.kill_grace_period_timer.take() {
                timer.cancel();
            }
            self.kill_grace_period = Some((start, start + grace_period));
            self.kill_grace_period_timer = Some(libprocess::delay(
                remaining,
                &ctx.address(),
                move |this, _| this.escalated(grace_period),
            ));
            return;
        }

        if !self.killed_by_max_completion_time && self.framework_can_kill() {
            let killing = self.create_task_status(task_id, TaskState::TaskKilling, None, None);
            self.forward(killing);
        }
        self.pause_checks();
        tracing::info!(pid, "Sending SIGTERM to the task's process group");
        signal_group(pid, libc::SIGTERM);
        tracing::info!(grace_period = %libprocess::flags::format_duration(grace_period),
            "Scheduling escalation to SIGKILL");
        let start = libprocess::clock::elapsed();
        self.kill_grace_period = Some((start, start + grace_period));
        self.kill_grace_period_timer = Some(libprocess::delay(
            grace_period,
            &ctx.address(),
            move |this, _| this.escalated(grace_period),
        ));
        self.killed = true;
    }

    fn escalated(&mut self, grace_period: Duration) {
        if self.terminated {
            return;
        }
        let Some(pid) = self.pid else {
            return;
        };
        tracing::info!(pid, grace_period = %libprocess::flags::format_duration(grace_period),
            "Task did not terminate within the grace period; sending SIGKILL to its process group");
        signal_group(pid, libc::SIGKILL);
    }

    fn task_completion_timeout(&mut self, duration: Duration, ctx: &mut Context<Self>) {
        self.task_completion_timer = None;
        if self.terminated || self.killed {
            return;
        }
        let Some(task_id) = self.task_id() else {
            return;
        };
        tracing::info!(task_id = %task_id.value,
            max_completion_time = %libprocess::flags::format_duration(duration),
            "Killing task which exceeded its maximum completion time");
        self.killed_by_max_completion_time = true;
        self.kill(&task_id, Duration::ZERO, ctx);
    }

    fn reaped(&mut self, pid: i32, status: io::Result<ExitStatus>, ctx: &mut Context<Self>) {
        self.terminated = true;
        self.pause_checks();
        self.cancel_timers();
        let (state, reason, message) = match status {
            Err(error) => (
                TaskState::TaskFailed,
                None,
                format!("Failed to get exit status for Command: {error}"),
            ),
            Ok(status) => {
                let (state, reason) = if self.killed_by_max_completion_time {
                    (
                        TaskState::TaskFailed,
                        Some(Reason::MaxCompletionTimeReached),
                    )
                } else if self.killed {
                    (TaskState::TaskKilled, None)
                } else if status.success() {
                    (TaskState::TaskFinished, None)
                } else {
                    (TaskState::TaskFailed, None)
                };
                (state, reason, format!("Command {}", wstringify(status)))
            }
        };
        tracing::info!(pid, "{message}");
        if let Some(task_id) = self.task_id() {
            let mut status = self.create_task_status(&task_id, state, reason, Some(message));
            // Upstream marks a task killed for failing its health check.
            if self.killed && self.killed_by_health_check {
                status.healthy = Some(false);
            }
            self.forward(status);
        }
        self.schedule_self_terminate(ctx);
    }

    /// Starts the task's check and health check, if it has them.
    fn start_checks(&mut self, ctx: &mut Context<Self>) {
        let Some(task) = self.task.clone() else {
            return;
        };
        let task_id = task.task_id.clone();
        let runtime = checks::Runtime::Plain(checks::Plain {
            working_directory: Some(self.config.sandbox.clone()),
            rootfs: self.config.rootfs.clone(),
            rootfs_working_directory: self.config.rootfs.as_ref().map(|_| {
                self.config
                    .working_directory
                    .clone()
                    .or_else(|| self.config.sandbox_directory.clone())
                    .unwrap_or_else(|| PathBuf::from("/mnt/mesos/sandbox"))
            }),
        });
        if let Some(check) = &task.check {
            let addr = ctx.address();
            let created = Checker::create(check, runtime.clone(), task_id.clone(), move |status| {
                addr.do_send(Dispatch(Box::new(move |this: &mut Self, _| {
                    this.task_check_updated(status)
                })));
            });
            match created {
                Ok(checker) => self.checker = Some(checker),
                Err(error) => tracing::error!(%error, "Failed to create checker"),
            }
        }
        if let Some(health_check) = &task.health_check {
            let addr = ctx.address();
            let created = HealthChecker::create(health_check, runtime, task_id, move |health| {
                addr.do_send(Dispatch(Box::new(move |this: &mut Self, ctx| {
                    this.task_health_updated(health, ctx)
                })));
            });
            match created {
                Ok(checker) => self.health_checker = Some(checker),
                Err(error) => tracing::error!(%error, "Failed to create health checker"),
            }
        }
    }

    /// Stops checking the task (at the first kill, and when it ends).
    fn pause_checks(&mut self) {
        if let Some(checker) = &self.checker {
            checker.pause();
        }
        if let Some(checker) = &self.health_checker {
            checker.pause();
        }
    }

    /// A check result changed: `TASK_RUNNING` with the new check status.
    fn task_check_updated(&mut self, check_status: CheckStatusInfo) {
        // No update after a kill or the terminal one.
        if self.killed || self.terminated {
            return;
        }
        tracing::info!(?check_status, "Received check update");
        let Some(mut status) = self.last_task_status.clone() else {
            return;
        };
        refresh(&mut status);
        status.set_reason(Reason::TaskCheckStatusUpdated);
        status.check_status = Some(check_status);
        self.forward(status);
    }

    /// A health report: `TASK_RUNNING` with `healthy`, and a kill when the
    /// health check says so.
    fn task_health_updated(&mut self, health: TaskHealthStatus, ctx: &mut Context<Self>) {
        if self.killed || self.terminated {
            return;
        }
        tracing::info!(healthy = health.healthy, "Received task health update");
        let Some(mut status) = self.last_task_status.clone() else {
            return;
        };
        refresh(&mut status);
        status.set_reason(Reason::TaskHealthCheckStatusUpdated);
        status.healthy = Some(health.healthy);
        self.forward(status);
        if health.kill_task {
            self.killed_by_health_check = true;
            self.kill_task(&health.task_id, None, ctx);
        }
    }

    fn acknowledged(&mut self, task_id: &TaskId, state: TaskState, ctx: &mut Context<Self>) {
        // Not for another task, e.g. the TASK_FAILED of a second task this
        // executor refused.
        if self.task_id().as_ref() == Some(task_id) && state.is_terminal() {
            self.terminate(ctx);
        }
    }

    fn schedule_self_terminate(&mut self, ctx: &mut Context<Self>) {
        let delay = self
            .driver
            .as_ref()
            .map_or(SELF_TERMINATE_DELAY, |d| d.self_terminate_delay());
        libprocess::delay(delay, &ctx.address(), |this, ctx| {
            if let Some(driver) = &this.driver {
                driver.self_terminate();
            }
            this.terminate(ctx)
        });
    }

    /// Stops the driver (so the executor exits) and this process.
    fn terminate(&mut self, ctx: &mut Context<Self>) {
        self.cancel_timers();
        if let Some(driver) = &self.driver {
            driver.stop();
        }
        ctx.stop();
    }

    fn cancel_timers(&mut self) {
        for timer in [
            self.kill_grace_period_timer.take(),
            self.task_completion_timer.take(),
        ]
        .into_iter()
        .flatten()
        {
            timer.cancel();
        }
    }

    fn task_id(&self) -> Option<TaskId> {
        self.task.as_ref().map(|t| t.task_id.clone())
    }

    fn framework_can_kill(&self) -> bool {
        self.framework_info.as_ref().is_some_and(|framework| {
            framework
                .capabilities
                .iter()
                .any(|c| c.r#type() == Capability::TaskKillingState)
        })
    }

    /// Returns a fresh status for the task (upstream's `createTaskStatus`).
    fn create_task_status(
        &self,
        task_id: &TaskId,
        state: TaskState,
        reason: Option<Reason>,
        message: Option<String>,
    ) -> TaskStatus {
        let mut status = TaskStatus {
            task_id: task_id.clone(),
            uuid: Some(Uuid::new_v4().as_bytes().to_vec()),
            timestamp: Some(libprocess::clock::now_secs()),
            executor_id: Some(self.config.executor_id.clone()),
            message,
            ..Default::default()
        };
        status.set_state(state);
        status.set_source(Source::Executor);
        if let Some(reason) = reason {
            status.set_reason(reason);
        }
        // A checked task's updates always carry a check status.
        if let Some(check) = self.task.as_ref().and_then(|t| t.check.as_ref()) {
            status.check_status = Some(checks::checker::empty_check_status(check.r#type()));
        }
        status
    }

    fn forward(&mut self, status: TaskStatus) {
        // Not the refusal of a second task: updates copy the task's own.
        if self.task_id().as_ref() == Some(&status.task_id) {
            self.last_task_status = Some(status.clone());
        }
        match &self.driver {
            Some(driver) => {
                driver.send_status_update(status);
            }
            None => tracing::error!(task_id = %status.task_id.value,
                "Dropping status update sent before the executor registered"),
        }
    }
}

impl actix::Actor for CommandExecutorProcess {
    type Context = Context<Self>;
}

impl Process for CommandExecutorProcess {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }

    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
}

libprocess::process_handlers!(CommandExecutorProcess);

/// Gives a copy of an update a fresh uuid and timestamp (upstream's
/// `createTaskStatus` from a previous status).
fn refresh(status: &mut TaskStatus) {
    status.uuid = Some(Uuid::new_v4().as_bytes().to_vec());
    status.timestamp = Some(libprocess::clock::now_secs());
}

/// Converts a protobuf duration, clamping negative ones to zero.
fn nanos(nanoseconds: i64) -> Duration {
    Duration::from_nanos(u64::try_from(nanoseconds).unwrap_or(0))
}

/// In the forked task, with a terminal: its own process group, made the
/// terminal's foreground group, inside the executor's session (whose
/// controlling terminal the terminal is). Upstream leaves the task in the
/// executor's process group; its own group lets a kill signal the task's
/// group without the executor, and lets `^C` typed at the terminal reach
/// the task only.
///
/// # Safety
///
/// Only for a `pre_exec` hook: calls async-signal-safe functions only.
unsafe fn foreground_process_group() -> io::Result<()> {
    // SAFETY: the callers run this between fork and exec; every call is
    // async-signal-safe and the sigsets live on this stack.
    unsafe {
        if libc::setpgid(0, 0) == -1 {
            return Err(io::Error::last_os_error());
        }
        // A background group's tcsetpgrp(3) raises SIGTTOU: blocked for
        // the call, then the mask the task inherits is restored.
        let mut block = std::mem::zeroed::<libc::sigset_t>();
        let mut previous = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGTTOU);
        libc::sigprocmask(libc::SIG_BLOCK, &block, &mut previous);
        let result = libc::tcsetpgrp(0, libc::getpid());
        let error = io::Error::last_os_error();
        libc::sigprocmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
        // Not a terminal after all (stdin redirected): still its own group.
        if result == -1 && error.raw_os_error() != Some(libc::ENOTTY) {
            return Err(error);
        }
    }
    Ok(())
}

/// Sends `signal` to process group `pgid`, or to the process alone if that
/// fails.
fn signal_group(pgid: i32, signal: i32) {
    // SAFETY: killpg and kill have no memory-safety preconditions.
    if unsafe { libc::killpg(pgid, signal) } == -1 {
        let error = io::Error::last_os_error();
        tracing::warn!(pid = pgid, %error, "Failed to signal the task's process group");
        // SAFETY: as above.
        unsafe { libc::kill(pgid, signal) };
    }
}

/// Describes a wait status as stout's `WSTRINGIFY` does: `exited with
/// status 1`, `terminated with signal Killed`.
pub fn wstringify(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        format!("exited with status {code}")
    } else if let Some(signal) = status.signal() {
        let mut message = format!("terminated with signal {}", signal_name(signal));
        if status.core_dumped() {
            message.push_str(" (core dumped)");
        }
        message
    } else if let Some(signal) = status.stopped_signal() {
        format!("stopped on signal {}", signal_name(signal))
    } else {
        format!("wait status {}", status.into_raw())
    }
}

/// Returns `strsignal(signal)`, e.g. `Terminated` for SIGTERM.
pub(crate) fn signal_name(signal: i32) -> String {
    // SAFETY: strsignal returns a NUL-terminated string (static, or in a
    // thread-local buffer for unknown signals) that is copied at once.
    unsafe {
        let name = libc::strsignal(signal);
        if name.is_null() {
            return format!("Unknown signal {signal}");
        }
        std::ffi::CStr::from_ptr(name)
            .to_string_lossy()
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_read_as_upstream() {
        assert_eq!(wstringify(ExitStatus::from_raw(0)), "exited with status 0");
        assert_eq!(
            wstringify(ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
        assert_eq!(
            wstringify(ExitStatus::from_raw(libc::SIGTERM)),
            "terminated with signal Terminated"
        );
        assert_eq!(
            wstringify(ExitStatus::from_raw(libc::SIGKILL)),
            "terminated with signal Killed"
        );
        assert_eq!(
            wstringify(ExitStatus::from_raw(libc::SIGSEGV | 0x80)),
            "terminated with signal Segmentation fault (core dumped)"
        );
    }

    #[test]
    fn negative_durations_are_zero() {
        assert_eq!(nanos(-5), Duration::ZERO);
        assert_eq!(nanos(1_500_000_000), Duration::from_millis(1500));
    }
}

/// A user of an image: what the task switches to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    uid: libc::uid_t,
    gid: libc::gid_t,
    /// Its supplementary groups (with its primary one).
    groups: Vec<libc::gid_t>,
}

/// Looks `user` up in `rootfs`'s `/etc/passwd` and `/etc/group` (upstream
/// switches users after entering the rootfs, so the image's accounts
/// count, not the host's).
pub fn image_user(rootfs: &std::path::Path, user: &str) -> Result<Identity, String> {
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd"))
        .map_err(|e| format!("cannot read the image's /etc/passwd: {e}"))?;
    let (uid, gid) = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&user))
        .and_then(|fields| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
        .ok_or_else(|| "no such user in the image's /etc/passwd".to_string())?;
    let mut groups = vec![gid];
    if let Ok(group) = std::fs::read_to_string(rootfs.join("etc/group")) {
        for fields in group
            .lines()
            .map(|line| line.split(':').collect::<Vec<_>>())
        {
            let members = fields.get(3).copied().unwrap_or_default();
            if members.split(',').any(|m| m == user) {
                if let Some(id) = fields.get(2).and_then(|g| g.parse().ok()) {
                    if !groups.contains(&id) {
                        groups.push(id);
                    }
                }
            }
        }
    }
    Ok(Identity { uid, gid, groups })
}
