//! The Mesos containerizer (upstream `src/slave/containerizer/mesos/
//! containerizer.cpp`): a facade ([`MesosContainerizer`]) over an actor
//! ([`MesosContainerizerProcess`]) holding one launcher and the isolators
//! of `--isolation`.
//!
//! Launch: every isolator `prepare`s (their launch infos merged), the
//! launcher forks the `mesos-containerizer launch` helper, which blocks on
//! a pipe; every isolator `isolate`s the pid and starts `watch`ing; the
//! fetcher fills the sandbox with the command's URIs; one byte on the
//! pipe lets the helper go on to exec the command.
//! Destroy (asked for, on a limitation, or when the init process exits):
//! the launcher kills every process of the container, the exit is reaped,
//! the isolators `cleanup` in reverse order, and the waiters get the
//! `ContainerTermination` (with the limitation's reason and message when
//! one caused it).

pub mod io;
pub mod isolator;
pub mod isolators;
pub mod launch;
pub mod launcher;
pub mod procfs;
pub mod provisioner;

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, AsyncContext as _, Context, Handler, Message, ResponseFuture};
use base64::Engine as _;
use futures::future::{BoxFuture, Shared};
use futures::FutureExt as _;
use mesos_proto::mesos::slave::{
    ContainerConfig, ContainerLaunchInfo, ContainerLimitation, ContainerState, ContainerTermination,
};
use mesos_proto::mesos::task_status::Reason;
use mesos_proto::mesos::{environment, ContainerId, ContainerStatus, Resource, ResourceStatistics};
use prost::Message as _;
use tokio::sync::oneshot;

use self::isolator::Isolator;
use self::launcher::{ForkSpec, Launcher};
use super::fetcher::Fetcher;
use super::{Containerizer, ContainerizerError, Result};

/// The name of the launch helper, looked up in `--launcher_dir`.
pub const HELPER: &str = "mesos-containerizer";

/// The lifecycle of a container (upstream `Container::State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Isolators are preparing.
    Preparing,
    /// Forked; isolators are isolating the pid.
    Isolating,
    /// The command runs.
    Running,
    /// Being destroyed.
    Destroying,
}

type Exit = Shared<BoxFuture<'static, Option<i32>>>;

struct Container {
    state: State,
    pid: Option<u32>,
    resources: Vec<Resource>,
    exit: Option<Exit>,
    limitation: Option<ContainerLimitation>,
    /// Set when destroy is asked for while the launch is in flight.
    abort: Arc<AtomicBool>,
    waiters: Vec<oneshot::Sender<Option<ContainerTermination>>>,
    destroyed: Vec<oneshot::Sender<bool>>,
    /// The user it runs as (nested containers inherit it).
    user: Option<String>,
}

impl Container {
    fn new(state: State, resources: Vec<Resource>) -> Self {
        Self {
            state,
            pid: None,
            resources,
            exit: None,
            limitation: None,
            abort: Arc::default(),
            waiters: vec![],
            destroyed: vec![],
            user: None,
        }
    }
}

/// The actor behind [`MesosContainerizer`].
pub struct MesosContainerizerProcess {
    launcher: Arc<dyn Launcher>,
    isolators: Arc<Vec<Arc<dyn Isolator>>>,
    fetcher: Fetcher,
    provisioner: Option<provisioner::Provisioner>,
    sandbox_directory: String,
    helper: PathBuf,
    proc_root: PathBuf,
    containers: HashMap<String, Container>,
    /// The IO switchboard (also among `isolators`, first).
    io_switchboard: Option<Arc<io::switchboard::IOSwitchboard>>,
    /// Terminations of nested containers, kept for `wait` until the
    /// container is removed (upstream checkpoints them in the runtime
    /// directory).
    terminated: HashMap<String, ContainerTermination>,
}

impl Actor for MesosContainerizerProcess {
    type Context = Context<Self>;
}

/// The Mesos containerizer, as callers hold it.
#[derive(Clone)]
pub struct MesosContainerizer {
    addr: Addr<MesosContainerizerProcess>,
    fetcher: Fetcher,
}

impl MesosContainerizer {
    /// Starts the containerizer's actor on the current arbiter.
    /// `launcher_dir` holds the `mesos-containerizer` helper; without a
    /// provisioner, containers with an image fail to launch.
    pub fn start(
        launcher: Arc<dyn Launcher>,
        isolators: Vec<Arc<dyn Isolator>>,
        fetcher: Fetcher,
        provisioner: Option<provisioner::Provisioner>,
        sandbox_directory: String,
        launcher_dir: PathBuf,
        proc_root: PathBuf,
    ) -> Self {
        Self::start_with_switchboard(
            launcher,
            isolators,
            None,
            fetcher,
            provisioner,
            sandbox_directory,
            launcher_dir,
            proc_root,
        )
    }

    /// Like [`MesosContainerizer::start`], with an IO switchboard (which
    /// runs as the first isolator).
    #[allow(clippy::too_many_arguments)]
    pub fn start_with_switchboard(
        launcher: Arc<dyn Launcher>,
        mut isolators: Vec<Arc<dyn Isolator>>,
        io_switchboard: Option<Arc<io::switchboard::IOSwitchboard>>,
        fetcher: Fetcher,
        provisioner: Option<provisioner::Provisioner>,
        sandbox_directory: String,
        launcher_dir: PathBuf,
        proc_root: PathBuf,
    ) -> Self {
        if let Some(switchboard) = &io_switchboard {
            isolators.insert(0, switchboard.clone());
        }
        let addr = MesosContainerizerProcess::create(|ctx| {
            // Unbounded, as libprocess queues are: a full mailbox would
            // defer a send and break the call order the facade promises.
            ctx.set_mailbox_capacity(1 << 20);
            MesosContainerizerProcess {
                launcher,
                isolators: Arc::new(isolators),
                fetcher: fetcher.clone(),
                provisioner,
                sandbox_directory,
                helper: launcher_dir.join(HELPER),
                proc_root,
                containers: HashMap::new(),
                io_switchboard,
                terminated: HashMap::new(),
            }
        });
        Self { addr, fetcher }
    }

    /// Its fetcher.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }
}

// --- Messages -----------------------------------------------------------

#[derive(Message)]
#[rtype(result = "Result<()>")]
pub(crate) struct Recover(Vec<ContainerState>);

#[derive(Message)]
#[rtype(result = "Result<u32>")]
pub(crate) struct Launch(String, ContainerConfig, Option<PathBuf>);

#[derive(Message)]
#[rtype(result = "Option<ContainerTermination>")]
pub(crate) struct Wait(String);

#[derive(Message)]
#[rtype(result = "bool")]
pub(crate) struct Destroy(String);

#[derive(Message)]
#[rtype(result = "Result<bool>")]
pub(crate) struct Kill(String, i32);

#[derive(Message)]
#[rtype(result = "Result<()>")]
pub(crate) struct Remove(String);

#[derive(Message)]
#[rtype(result = "Result<ResourceStatistics>")]
pub(crate) struct Usage(String);

#[derive(Message)]
#[rtype(result = "Result<ContainerStatus>")]
pub(crate) struct Status(String);

#[derive(Message)]
#[rtype(result = "Result<()>")]
pub(crate) struct Update(String, Vec<Resource>);

#[derive(Message)]
#[rtype(result = "HashSet<String>")]
pub(crate) struct Containers;

#[derive(Message)]
#[rtype(result = "Result<Option<PathBuf>>")]
pub(crate) struct Attach(String);

/// A container the launcher found but the agent did not checkpoint:
/// destroyed through the launcher and cleaned up by the isolators.
#[derive(Message)]
#[rtype(result = "bool")]
struct Orphan(String);

/// The launch reached the fork: the pid and its exit.
#[derive(Message)]
#[rtype(result = "()")]
struct Forked(String, u32, Exit);

/// The launch finished: the command runs.
#[derive(Message)]
#[rtype(result = "()")]
struct Running(String);

/// An isolator saw the container hit a limit.
#[derive(Message)]
#[rtype(result = "()")]
struct Limited(String, ContainerLimitation);

/// The container's init process exited.
#[derive(Message)]
#[rtype(result = "()")]
struct Exited(String);

/// Destruction finished, with the init process's wait status and a
/// limitation found only at the end.
#[derive(Message)]
#[rtype(result = "()")]
struct Destroyed(String, Option<i32>, Option<ContainerLimitation>);

// --- Handlers -----------------------------------------------------------

impl Handler<Recover> for MesosContainerizerProcess {
    type Result = ResponseFuture<Result<()>>;

    fn handle(&mut self, Recover(states): Recover, ctx: &mut Context<Self>) -> Self::Result {
        let launcher = self.launcher.clone();
        let isolators = self.isolators.clone();
        let addr = ctx.address();
        for state in &states {
            let id = state.container_id.value.clone();
            let mut container = Container::new(State::Running, vec![]);
            container.pid = u32::try_from(state.pid).ok();
            if let Some(config) = &state.executor_info {
                container.resources = config.resources.clone();
            }
            let exit = poll_exit(self.proc_root.clone(), container.pid.unwrap_or_default());
            container.exit = Some(exit.clone());
            self.containers.insert(id.clone(), container);
            self.reap(id, exit, ctx);
        }
        let provisioner = self.provisioner.clone();
        Box::pin(async move {
            let orphans = launcher.recover(&states).await?;
            if let Some(provisioner) = provisioner {
                let known = states
                    .iter()
                    .map(|s| super::container_id_string(&s.container_id))
                    .filter(|id| !orphans.contains(id))
                    .collect();
                provisioner.recover(known).await.map_err(|e| {
                    ContainerizerError::Other(format!("failed to recover the provisioner: {e}"))
                })?;
            }
            for isolator in isolators.iter() {
                isolator.recover(&states, &orphans).await.map_err(|e| {
                    ContainerizerError::Isolator {
                        phase: "recover",
                        isolator: isolator.name(),
                        message: e.0,
                    }
                })?;
            }
            // The recovered containers are watched again (an OOM after the
            // restart is still a limitation).
            for state in &states {
                let id = super::container_id_string(&state.container_id);
                for isolator in isolators.iter() {
                    let watch = isolator.watch(&id);
                    let (addr, id) = (addr.clone(), id.clone());
                    actix::spawn(async move {
                        let limitation = watch.await;
                        addr.do_send(Limited(id, limitation));
                    });
                }
            }
            for orphan in orphans {
                tracing::info!(container_id = %orphan, "Destroying orphan container");
                let _ = addr.send(Orphan(orphan)).await;
            }
            Ok(())
        })
    }
}

impl Handler<Orphan> for MesosContainerizerProcess {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, Orphan(id): Orphan, ctx: &mut Context<Self>) -> Self::Result {
        self.containers
            .entry(id.clone())
            .or_insert_with(|| Container::new(State::Running, vec![]));
        self.handle(Destroy(id), ctx)
    }
}

impl Handler<Launch> for MesosContainerizerProcess {
    type Result = ResponseFuture<Result<u32>>;

    fn handle(
        &mut self,
        Launch(id, mut config, pid_checkpoint): Launch,
        ctx: &mut Context<Self>,
    ) -> Self::Result {
        if self.containers.contains_key(&id) {
            return Box::pin(std::future::ready(Err(ContainerizerError::AlreadyExists(
                id,
            ))));
        }
        let nested = super::parent(&id).is_some();
        if let Some(parent) = super::parent(&id) {
            let running = self
                .containers
                .get(parent)
                .is_some_and(|p| p.state != State::Destroying);
            if !running {
                return Box::pin(std::future::ready(Err(ContainerizerError::Other(format!(
                    "Parent container {parent} does not exist"
                )))));
            }
            self.terminated.remove(&id);
        }
        // A nested container without a user of its own runs as its
        // parent, as upstream.
        if config.user.is_none() {
            if let Some(parent) = super::parent(&id) {
                config.user = self.containers.get(parent).and_then(|p| p.user.clone());
            }
        }
        let mut container = Container::new(State::Preparing, config.resources.clone());
        container.user = config.user.clone();
        let abort = container.abort.clone();
        self.containers.insert(id.clone(), container);
        let launcher = self.launcher.clone();
        // Nested containers get only the isolators that support nesting.
        let isolators: Arc<Vec<Arc<dyn Isolator>>> = if nested {
            Arc::new(
                self.isolators
                    .iter()
                    .filter(|i| i.supports_nesting())
                    .cloned()
                    .collect(),
            )
        } else {
            self.isolators.clone()
        };
        let helper = self.helper.clone();
        let fetcher = self.fetcher.clone();
        let provisioner = self.provisioner.clone();
        let sandbox_directory = self.sandbox_directory.clone();
        let addr = ctx.address();
        let switchboard = self.io_switchboard.clone();
        Box::pin(async move {
            let parts = LaunchParts {
                launcher: &launcher,
                isolators: &isolators,
                fetcher: &fetcher,
                provisioner: provisioner.as_ref(),
                helper,
                sandbox_directory,
                switchboard: switchboard.as_deref(),
                pid_checkpoint,
            };
            let launched = launch(&id, config, parts, &addr, &abort).await;
            match launched {
                Ok(pid) => {
                    addr.do_send(Running(id));
                    Ok(pid)
                }
                Err(error) => {
                    tracing::warn!(container_id = %id, %error, "Failed to launch container");
                    addr.do_send(Limited(
                        id.clone(),
                        ContainerLimitation {
                            reason: Some(Reason::ContainerLaunchFailed as i32),
                            message: Some(format!("Failed to launch container: {error}")),
                            ..Default::default()
                        },
                    ));
                    let _ = addr.send(Destroy(id)).await;
                    Err(error)
                }
            }
        })
    }
}

/// What a launch works with.
struct LaunchParts<'a> {
    launcher: &'a Arc<dyn Launcher>,
    isolators: &'a [Arc<dyn Isolator>],
    fetcher: &'a Fetcher,
    provisioner: Option<&'a provisioner::Provisioner>,
    helper: PathBuf,
    sandbox_directory: String,
    switchboard: Option<&'a io::switchboard::IOSwitchboard>,
    /// Where to checkpoint the forked pid (upstream's `pidCheckpointPath`).
    pid_checkpoint: Option<PathBuf>,
}

/// The container's image, if it has one.
fn image_of(config: &ContainerConfig) -> Option<mesos_proto::mesos::Image> {
    config
        .container_info
        .as_ref()
        .and_then(|c| c.mesos.as_ref())
        .and_then(|m| m.image.clone())
}

/// The launch steps, outside the actor (they await isolators).
async fn launch(
    id: &str,
    mut config: ContainerConfig,
    parts: LaunchParts<'_>,
    addr: &Addr<MesosContainerizerProcess>,
    abort: &AtomicBool,
) -> Result<u32> {
    let LaunchParts {
        launcher,
        isolators,
        fetcher,
        provisioner,
        helper,
        sandbox_directory,
        switchboard,
        pid_checkpoint,
    } = parts;
    // The image becomes the container's rootfs before the isolators
    // prepare (filesystem/linux mounts into it), as upstream's
    // `MesosContainerizerProcess::provision`.
    if let Some(image) = image_of(&config) {
        let provisioner = provisioner.ok_or_else(|| {
            ContainerizerError::Other(
                "the container has an image, but the agent runs without --image_providers".into(),
            )
        })?;
        let info = provisioner
            .provision(id, image)
            .await
            .map_err(|e| ContainerizerError::Other(e.to_string()))?;
        config.rootfs = Some(info.rootfs.display().to_string());
        config.docker = Some(mesos_proto::mesos::slave::container_config::Docker {
            manifest: info.docker_manifest,
        });
    }
    if abort.load(Ordering::SeqCst) {
        // The destroy may have run before the rootfs existed.
        if let (Some(provisioner), Some(_)) = (provisioner, &config.rootfs) {
            let _ = provisioner.destroy(id).await;
        }
        return Err(ContainerizerError::Other(
            "destroyed while provisioning".into(),
        ));
    }
    let mut merged = ContainerLaunchInfo::default();
    for isolator in isolators {
        let prepared =
            isolator
                .prepare(id, &config)
                .await
                .map_err(|e| ContainerizerError::Isolator {
                    phase: "prepare",
                    isolator: isolator.name(),
                    message: e.0,
                })?;
        if let Some(info) = prepared {
            merged
                .merge(info.encode_to_vec().as_slice())
                .map_err(|e| ContainerizerError::Other(format!("bad launch info: {e}")))?;
        }
    }
    if abort.load(Ordering::SeqCst) {
        return Err(ContainerizerError::Other(
            "destroyed while preparing".into(),
        ));
    }
    let path = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    let mut command = config.command_info.clone();
    let mut environment = command.environment.take().unwrap_or_default();
    if !environment.variables.iter().any(|v| v.name == "PATH") {
        environment.variables.insert(
            0,
            environment::Variable {
                name: "PATH".into(),
                value: Some(path.clone()),
                ..Default::default()
            },
        );
    }
    // Upstream's precedence: the command's own environment (with the
    // agent's for executors) over the isolators' (an image's `Env`).
    if let Some(extra) = merged.environment.take() {
        let mut variables = extra.variables;
        let has_path = variables.iter().any(|v| v.name == "PATH");
        variables.extend(
            environment
                .variables
                .into_iter()
                .filter(|v| !(has_path && v.name == "PATH" && v.value.as_deref() == Some(&path))),
        );
        environment.variables = variables;
    }
    merged.environment = Some(environment);
    // An isolator (docker/runtime) may have settled the command from the
    // image; for a command task that is the task's, not the executor's.
    let image_command = merged.command.take();
    if let Some(rootfs) = config.rootfs.clone() {
        if config.task_info.is_some() {
            // The command executor stays on the host's root and runs the
            // task in the rootfs, as upstream's `--rootfs` executor flag.
            command.arguments.push(format!("--rootfs={rootfs}"));
            command
                .arguments
                .push(format!("--sandbox_directory={}", sandbox_directory));
            if let Some(task_command) = &image_command {
                command.arguments.push(format!(
                    "--task_command={}",
                    mesos_proto::json::to_string(task_command)
                ));
            }
            if let Some(task_environment) = merged.task_environment.take() {
                command.arguments.push(format!(
                    "--task_environment={}",
                    mesos_proto::json::to_string(&task_environment)
                ));
            }
            if let Some(directory) = merged.working_directory.take() {
                command
                    .arguments
                    .push(format!("--working_directory={directory}"));
            }
            merged.command = Some(command);
        } else {
            merged.rootfs = Some(rootfs);
            if merged.working_directory.is_none() {
                merged.working_directory = Some(sandbox_directory.clone());
            }
            // Inside the rootfs the sandbox is at --sandbox_directory.
            if let Some(environment) = merged.environment.as_mut() {
                environment.variables.retain(|v| v.name != "MESOS_SANDBOX");
                environment.variables.push(environment::Variable {
                    name: "MESOS_SANDBOX".into(),
                    value: Some(sandbox_directory.clone()),
                    ..Default::default()
                });
            }
            merged.command = Some(image_command.unwrap_or(command));
        }
    } else {
        merged.command = Some(image_command.unwrap_or(command));
    }
    if let Some(user) = config.user.clone().filter(|u| !u.is_empty()) {
        // The sandbox becomes the user's (upstream chowns it when it
        // creates it); the launch helper switches to the user.
        let directory = PathBuf::from(&config.directory);
        let owner = user.clone();
        tokio::task::spawn_blocking(move || {
            // The sandbox's output files too (the launcher appends).
            for name in ["stdout", "stderr"] {
                let _ = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(directory.join(name));
            }
            launch::chown_recursive(&directory, &owner)
        })
        .await
        .map_err(|e| ContainerizerError::Other(e.to_string()))?
        .map_err(ContainerizerError::Other)?;
        merged.user = Some(user);
    }
    if config.rootfs.is_none() {
        merged.working_directory = Some(config.directory.clone());
    }
    let clone_namespaces = merged
        .clone_namespaces
        .iter()
        .fold(0, |all, flag| all | flag);

    let (read_end, write_end) = pipe()?;
    // The switchboard's stdio for the container, when it started a server.
    let container_io = switchboard.and_then(|s| s.extract_container_io(id));
    let spec = ForkSpec {
        program: helper,
        arguments: vec![
            "launch".into(),
            format!(
                "--launch_info_protobuf={}",
                base64::engine::general_purpose::STANDARD.encode(merged.encode_to_vec())
            ),
            format!("--pipe_read={}", read_end.as_raw_fd()),
        ],
        environment: vec![("PATH".into(), path)],
        working_directory: PathBuf::from(&config.directory),
        stdout: PathBuf::from(&config.directory).join("stdout"),
        stderr: PathBuf::from(&config.directory).join("stderr"),
        clone_namespaces,
        keep_fd: Some(read_end.as_raw_fd()),
        stdio: container_io.as_ref().map(|io| {
            [
                io.stdin.as_raw_fd(),
                io.stdout.as_raw_fd(),
                io.stderr.as_raw_fd(),
            ]
        }),
        controlling_tty: container_io.as_ref().is_some_and(|io| io.tty),
    };
    let forked = launcher.fork(id, spec)?;
    drop((read_end, container_io));
    let pid = forked.pid;
    let exit: Exit = forked.exit.shared();
    addr.send(Forked(id.to_string(), pid, exit)).await?;
    // Checkpointed before the helper may exec the executor, so an agent
    // killed any time after the executor runs finds its pid (upstream
    // checkpoints it right after the fork too).
    if let Some(path) = pid_checkpoint {
        let written = tokio::task::spawn_blocking({
            let path = path.clone();
            move || libprocess::os::write_atomic(&path, pid.to_string().as_bytes())
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|written| written);
        if let Err(error) = written {
            return Err(ContainerizerError::Other(format!(
                "failed to checkpoint the forked pid to '{}': {error}",
                path.display()
            )));
        }
    }
    for isolator in isolators {
        isolator
            .isolate(id, pid)
            .await
            .map_err(|e| ContainerizerError::Isolator {
                phase: "isolate",
                isolator: isolator.name(),
                message: e.0,
            })?;
        let watch = isolator.watch(id);
        let (addr, id) = (addr.clone(), id.to_string());
        actix::spawn(async move {
            let limitation = watch.await;
            addr.do_send(Limited(id, limitation));
        });
    }
    if abort.load(Ordering::SeqCst) {
        return Err(ContainerizerError::Other(
            "destroyed while isolating".into(),
        ));
    }
    // The URIs land in the sandbox after isolation and before the command
    // runs, as upstream's `MesosContainerizerProcess::fetch`.
    let sandbox = std::path::Path::new(&config.directory);
    fetcher
        .fetch(id, &config.command_info, sandbox, config.user.clone())
        .await?;
    if abort.load(Ordering::SeqCst) {
        return Err(ContainerizerError::Other("destroyed while fetching".into()));
    }
    let mut write_end = std::fs::File::from(write_end);
    std::io::Write::write_all(&mut write_end, &[1]).map_err(|e| {
        ContainerizerError::Other(format!("failed to signal the launch helper: {e}"))
    })?;
    Ok(pid)
}

/// A pipe, both ends close-on-exec (the launcher keeps the read end open
/// in the helper only).
fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(ContainerizerError::Other(format!(
            "failed to create a pipe: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: both fds were just created and are owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The exit of a process that is not our child (recovered): polled.
fn poll_exit(proc_root: PathBuf, pid: u32) -> Exit {
    let exit: BoxFuture<'static, Option<i32>> = Box::pin(async move {
        while procfs::alive(&proc_root, pid) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    });
    exit.shared()
}

impl MesosContainerizerProcess {
    fn reap(&self, id: String, exit: Exit, ctx: &mut Context<Self>) {
        let addr = ctx.address();
        actix::spawn(async move {
            exit.await;
            addr.do_send(Exited(id));
        });
    }

    fn start_destroy(&mut self, id: &str, ctx: &mut Context<Self>) {
        let Some(container) = self.containers.get_mut(id) else {
            return;
        };
        // A launch in flight stops at its next step; a running fetch is
        // killed.
        container.abort.store(true, Ordering::SeqCst);
        self.fetcher.kill(id);
        if container.state == State::Destroying {
            return;
        }
        container.state = State::Destroying;
        let exit = container.exit.clone();
        let launcher = self.launcher.clone();
        let nested = super::parent(id).is_some();
        let isolators: Vec<Arc<dyn Isolator>> = self
            .isolators
            .iter()
            .filter(|i| !nested || i.supports_nesting())
            .cloned()
            .collect();
        let prefix = format!("{id}.");
        let children: Vec<String> = self
            .containers
            .keys()
            .filter(|c| c.starts_with(&prefix) && super::parent(c) == Some(id))
            .cloned()
            .collect();
        let addr = ctx.address();
        let id = id.to_string();
        let provisioner = self.provisioner.clone();
        tracing::info!(container_id = %id, "Destroying container");
        actix::spawn(async move {
            // Nested containers go first, as upstream.
            let children: Vec<_> = children
                .into_iter()
                .map(|child| addr.send(Destroy(child)))
                .collect();
            futures::future::join_all(children).await;
            // Asked before the launcher kills (on v2 it removes the cgroup
            // the isolators read): a limit that already killed the init
            // process is final by now.
            let mut late = None;
            for isolator in &isolators {
                if let Some(limitation) = isolator.last_limitation(&id).await {
                    late = Some(limitation);
                    break;
                }
            }
            if let Err(error) = launcher.destroy(&id).await {
                tracing::warn!(container_id = %id, %error, "Failed to destroy container");
            }
            let status = match exit {
                Some(exit) => exit.await,
                None => None,
            };
            for isolator in isolators.iter().rev() {
                if let Err(error) = isolator.cleanup(&id).await {
                    tracing::warn!(container_id = %id, isolator = isolator.name(), %error, "Failed to clean up isolator");
                }
            }
            if let Some(provisioner) = provisioner {
                if let Err(error) = provisioner.destroy(&id).await {
                    tracing::warn!(container_id = %id, %error, "Failed to destroy the container's rootfs");
                }
            }
            addr.do_send(Destroyed(id, status, late));
        });
    }
}

impl Handler<Forked> for MesosContainerizerProcess {
    type Result = ();

    fn handle(&mut self, Forked(id, pid, exit): Forked, ctx: &mut Context<Self>) {
        if let Some(container) = self.containers.get_mut(&id) {
            container.pid = Some(pid);
            container.exit = Some(exit.clone());
            if container.state == State::Preparing {
                container.state = State::Isolating;
            }
            self.reap(id, exit, ctx);
        }
    }
}

impl Handler<Running> for MesosContainerizerProcess {
    type Result = ();

    fn handle(&mut self, Running(id): Running, _: &mut Context<Self>) {
        if let Some(container) = self.containers.get_mut(&id) {
            if container.state == State::Isolating {
                container.state = State::Running;
            }
        }
    }
}

impl Handler<Limited> for MesosContainerizerProcess {
    type Result = ();

    fn handle(&mut self, Limited(id, limitation): Limited, ctx: &mut Context<Self>) {
        let Some(container) = self.containers.get_mut(&id) else {
            return;
        };
        if container.state == State::Destroying {
            return;
        }
        tracing::info!(container_id = %id, message = ?limitation.message, "Container reached a limit");
        container.limitation = Some(limitation);
        self.start_destroy(&id, ctx);
    }
}

impl Handler<Exited> for MesosContainerizerProcess {
    type Result = ();

    fn handle(&mut self, Exited(id): Exited, ctx: &mut Context<Self>) {
        // Whatever the init process left behind is killed and cleaned up.
        self.start_destroy(&id, ctx);
    }
}

impl Handler<Destroyed> for MesosContainerizerProcess {
    type Result = ();

    fn handle(&mut self, Destroyed(id, status, late): Destroyed, _: &mut Context<Self>) {
        let Some(mut container) = self.containers.remove(&id) else {
            return;
        };
        if container.limitation.is_none() {
            container.limitation = late;
        }
        let mut termination = ContainerTermination {
            status,
            ..Default::default()
        };
        if let Some(limitation) = container.limitation {
            termination.state = Some(mesos_proto::mesos::TaskState::TaskFailed as i32);
            termination.reason = limitation.reason;
            termination.message = limitation.message;
            termination.limited_resources = limitation.resources;
        }
        tracing::info!(container_id = %id, status = ?status, "Container destroyed");
        if super::parent(&id).is_some() {
            self.terminated.insert(id.clone(), termination.clone());
        }
        for waiter in container.waiters {
            let _ = waiter.send(Some(termination.clone()));
        }
        for waiter in container.destroyed {
            let _ = waiter.send(true);
        }
    }
}

impl Handler<Wait> for MesosContainerizerProcess {
    type Result = ResponseFuture<Option<ContainerTermination>>;

    fn handle(&mut self, Wait(id): Wait, _: &mut Context<Self>) -> Self::Result {
        let Some(container) = self.containers.get_mut(&id) else {
            return Box::pin(std::future::ready(self.terminated.get(&id).cloned()));
        };
        let (tx, rx) = oneshot::channel();
        container.waiters.push(tx);
        Box::pin(async move { rx.await.ok().flatten() })
    }
}

impl Handler<Destroy> for MesosContainerizerProcess {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, Destroy(id): Destroy, ctx: &mut Context<Self>) -> Self::Result {
        let Some(container) = self.containers.get_mut(&id) else {
            return Box::pin(std::future::ready(false));
        };
        let (tx, rx) = oneshot::channel();
        container.destroyed.push(tx);
        self.start_destroy(&id, ctx);
        Box::pin(async move { rx.await.unwrap_or(false) })
    }
}

impl Handler<Kill> for MesosContainerizerProcess {
    type Result = ResponseFuture<Result<bool>>;

    fn handle(&mut self, Kill(id, signal): Kill, ctx: &mut Context<Self>) -> Self::Result {
        let Some(container) = self.containers.get(&id) else {
            return Box::pin(std::future::ready(Ok(false)));
        };
        // SIGKILL destroys (every process, then cleanup), as upstream;
        // other signals go to the init process.
        if signal == libc::SIGKILL {
            let destroyed = self.handle(Destroy(id), ctx);
            return Box::pin(async move { Ok(destroyed.await) });
        }
        let Some(pid) = container.pid.and_then(|p| i32::try_from(p).ok()) else {
            return Box::pin(std::future::ready(Err(ContainerizerError::Other(format!(
                "container {id} has no process yet"
            )))));
        };
        // SAFETY: signals the container's init process and nothing else.
        let sent = unsafe { libc::kill(pid, signal) } == 0;
        Box::pin(std::future::ready(if sent {
            Ok(true)
        } else {
            Err(ContainerizerError::Other(format!(
                "failed to send signal {signal} to container {id}: {}",
                std::io::Error::last_os_error()
            )))
        }))
    }
}

impl Handler<Remove> for MesosContainerizerProcess {
    type Result = Result<()>;

    fn handle(&mut self, Remove(id): Remove, _: &mut Context<Self>) -> Result<()> {
        if self.containers.contains_key(&id) {
            return Err(ContainerizerError::Other(format!(
                "container {id} is still running"
            )));
        }
        self.terminated.remove(&id);
        Ok(())
    }
}

impl Handler<Usage> for MesosContainerizerProcess {
    type Result = ResponseFuture<Result<ResourceStatistics>>;

    fn handle(&mut self, Usage(id): Usage, _: &mut Context<Self>) -> Self::Result {
        let Some(container) = self.containers.get(&id) else {
            return Box::pin(std::future::ready(Err(
                ContainerizerError::UnknownContainer(id),
            )));
        };
        let resources = mesos_proto::resources::Resources::from(container.resources.clone());
        let isolators = self.isolators.clone();
        Box::pin(async move {
            let mut statistics = ResourceStatistics::default();
            for isolator in isolators.iter() {
                match isolator.usage(&id).await {
                    Ok(usage) => {
                        let _ = statistics.merge(usage.encode_to_vec().as_slice());
                    }
                    Err(error) => {
                        tracing::debug!(container_id = %id, isolator = isolator.name(), %error, "No usage from isolator");
                    }
                }
            }
            if let Some(cpus) = resources.cpus() {
                statistics.cpus_limit = Some(cpus);
            }
            if let Some(mem) = resources.mem() {
                statistics.mem_limit_bytes = Some(mem);
            }
            statistics.timestamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default();
            Ok(statistics)
        })
    }
}

impl Handler<Status> for MesosContainerizerProcess {
    type Result = ResponseFuture<Result<ContainerStatus>>;

    fn handle(&mut self, Status(id): Status, _: &mut Context<Self>) -> Self::Result {
        let Some(container) = self.containers.get(&id) else {
            return Box::pin(std::future::ready(Err(
                ContainerizerError::UnknownContainer(id),
            )));
        };
        let pid = container.pid;
        let isolators = self.isolators.clone();
        Box::pin(async move {
            let mut status = ContainerStatus {
                container_id: Some(ContainerId {
                    value: id.clone(),
                    parent: None,
                }),
                executor_pid: pid,
                ..Default::default()
            };
            for isolator in isolators.iter() {
                if let Ok(more) = isolator.status(&id).await {
                    let _ = status.merge(more.encode_to_vec().as_slice());
                }
            }
            Ok(status)
        })
    }
}

impl Handler<Update> for MesosContainerizerProcess {
    type Result = ResponseFuture<Result<()>>;

    fn handle(&mut self, Update(id, resources): Update, _: &mut Context<Self>) -> Self::Result {
        let Some(container) = self.containers.get_mut(&id) else {
            return Box::pin(std::future::ready(Err(
                ContainerizerError::UnknownContainer(id),
            )));
        };
        container.resources = resources.clone();
        let isolators = self.isolators.clone();
        Box::pin(async move {
            for isolator in isolators.iter() {
                isolator.update(&id, &resources).await.map_err(|e| {
                    ContainerizerError::Isolator {
                        phase: "update",
                        isolator: isolator.name(),
                        message: e.0,
                    }
                })?;
            }
            Ok(())
        })
    }
}

impl Handler<Attach> for MesosContainerizerProcess {
    type Result = Result<Option<PathBuf>>;

    fn handle(&mut self, Attach(id): Attach, _: &mut Context<Self>) -> Self::Result {
        if !self.containers.contains_key(&id) {
            return Err(ContainerizerError::UnknownContainer(id));
        }
        Ok(self.io_switchboard.as_ref().and_then(|s| s.socket(&id)))
    }
}

impl Handler<Containers> for MesosContainerizerProcess {
    type Result = actix::MessageResult<Containers>;

    fn handle(&mut self, _: Containers, _: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(self.containers.keys().cloned().collect())
    }
}

// --- The facade ---------------------------------------------------------
//
// Each call enqueues its message before returning the future, so calls
// made one after the other are handled in that order (a `wait` asked for
// right after a `launch` finds the container).

impl Containerizer for MesosContainerizer {
    fn recover(&self, states: Vec<ContainerState>) -> BoxFuture<'static, Result<()>> {
        let request = self.addr.send(Recover(states));
        Box::pin(async move { request.await? })
    }

    fn launch(
        &self,
        container_id: String,
        config: ContainerConfig,
    ) -> BoxFuture<'static, Result<u32>> {
        self.launch_checkpointed(container_id, config, None)
    }

    fn launch_checkpointed(
        &self,
        container_id: String,
        config: ContainerConfig,
        pid_checkpoint: Option<PathBuf>,
    ) -> BoxFuture<'static, Result<u32>> {
        let request = self.addr.send(Launch(container_id, config, pid_checkpoint));
        Box::pin(async move { request.await? })
    }

    fn wait(&self, container_id: String) -> BoxFuture<'static, Option<ContainerTermination>> {
        let request = self.addr.send(Wait(container_id));
        Box::pin(async move { request.await.ok().flatten() })
    }

    fn destroy(&self, container_id: String) -> BoxFuture<'static, bool> {
        let request = self.addr.send(Destroy(container_id));
        Box::pin(async move { request.await.unwrap_or(false) })
    }

    fn usage(&self, container_id: String) -> BoxFuture<'static, Result<ResourceStatistics>> {
        let request = self.addr.send(Usage(container_id));
        Box::pin(async move { request.await? })
    }

    fn status(&self, container_id: String) -> BoxFuture<'static, Result<ContainerStatus>> {
        let request = self.addr.send(Status(container_id));
        Box::pin(async move { request.await? })
    }

    fn update(
        &self,
        container_id: String,
        resources: Vec<Resource>,
    ) -> BoxFuture<'static, Result<()>> {
        let request = self.addr.send(Update(container_id, resources));
        Box::pin(async move { request.await? })
    }

    fn kill(&self, container_id: String, signal: i32) -> BoxFuture<'static, Result<bool>> {
        let request = self.addr.send(Kill(container_id, signal));
        Box::pin(async move { request.await? })
    }

    fn remove(&self, container_id: String) -> BoxFuture<'static, Result<()>> {
        let request = self.addr.send(Remove(container_id));
        Box::pin(async move { request.await? })
    }

    fn containers(&self) -> BoxFuture<'static, HashSet<String>> {
        let request = self.addr.send(Containers);
        Box::pin(async move { request.await.unwrap_or_default() })
    }

    fn attach(&self, container_id: String) -> BoxFuture<'static, Result<Option<PathBuf>>> {
        let request = self.addr.send(Attach(container_id));
        Box::pin(async move { request.await? })
    }
}
