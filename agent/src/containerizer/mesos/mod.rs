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
pub mod paths;
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
    ContainerClass, ContainerConfig, ContainerLaunchInfo, ContainerLimitation, ContainerState,
    ContainerTermination,
};
use mesos_proto::mesos::task_status::Reason;
use mesos_proto::mesos::{environment, ContainerStatus, Resource, ResourceStatistics};
use prost::Message as _;
use tokio::sync::oneshot;

use self::isolator::{Isolator, ResourceLimits};
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
    /// Its resource limits (upstream `resourceLimits`): from its config at
    /// launch and from each update; unknown after recovery until the
    /// agent's first update, as upstream.
    limits: ResourceLimits,
    exit: Option<Exit>,
    limitation: Option<ContainerLimitation>,
    /// Set when destroy is asked for while the launch is in flight.
    abort: Arc<AtomicBool>,
    waiters: Vec<oneshot::Sender<Option<ContainerTermination>>>,
    destroyed: Vec<oneshot::Sender<bool>>,
    /// The user it runs as (nested containers inherit it).
    user: Option<String>,
    /// What it was launched with (recovered from the runtime directory).
    config: Option<ContainerConfig>,
    /// What the launch helper got: a DEBUG container inherits its
    /// environment and working directory.
    launch_info: Option<ContainerLaunchInfo>,
}

impl Container {
    fn new(state: State, resources: Vec<Resource>) -> Self {
        Self {
            state,
            pid: None,
            resources,
            limits: ResourceLimits::new(),
            exit: None,
            limitation: None,
            abort: Arc::default(),
            waiters: vec![],
            destroyed: vec![],
            user: None,
            config: None,
            launch_info: None,
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
    /// container is removed (and checkpointed in the runtime directory).
    terminated: HashMap<String, ContainerTermination>,
    /// `--runtime_dir` (see [`paths`]).
    runtime_dir: PathBuf,
    /// `containerizer/mesos/container_destroy_errors`.
    destroy_errors: libprocess::metrics::Counter,
    /// `true` once the last `recover` has run its isolators' `recover`:
    /// an `update` waits for it, as upstream's agent only updates a
    /// recovered container after the containerizer recovered it.
    recovered: tokio::sync::watch::Receiver<bool>,
}

impl Actor for MesosContainerizerProcess {
    type Context = Context<Self>;
}

/// The Mesos containerizer, as callers hold it.
#[derive(Clone)]
pub struct MesosContainerizer {
    addr: Addr<MesosContainerizerProcess>,
    fetcher: Fetcher,
    destroy_errors: libprocess::metrics::Counter,
    /// The isolators and the provisioner, for their metrics.
    isolators: Arc<Vec<Arc<dyn Isolator>>>,
    provisioner_metrics: Option<provisioner::ProvisionerMetrics>,
}

/// What [`MesosContainerizer::start`] puts together.
pub struct Parts {
    /// The launcher.
    pub launcher: Arc<dyn Launcher>,
    /// The isolators of `--isolation`, in order.
    pub isolators: Vec<Arc<dyn Isolator>>,
    /// The IO switchboard, which runs as the first isolator.
    pub io_switchboard: Option<Arc<io::switchboard::IOSwitchboard>>,
    /// The fetcher.
    pub fetcher: Fetcher,
    /// Without a provisioner, containers with an image fail to launch.
    pub provisioner: Option<provisioner::Provisioner>,
    /// `--sandbox_directory`.
    pub sandbox_directory: String,
    /// Holds the `mesos-containerizer` helper.
    pub launcher_dir: PathBuf,
    /// `/proc`.
    pub proc_root: PathBuf,
    /// `--runtime_dir`: the containerizer's own checkpoints.
    pub runtime_dir: PathBuf,
}

impl MesosContainerizer {
    /// Starts the containerizer's actor on the current arbiter.
    pub fn start(parts: Parts) -> Self {
        let Parts {
            launcher,
            mut isolators,
            io_switchboard,
            fetcher,
            provisioner,
            sandbox_directory,
            launcher_dir,
            proc_root,
            runtime_dir,
        } = parts;
        if let Some(switchboard) = &io_switchboard {
            isolators.insert(0, switchboard.clone());
        }
        let destroy_errors = libprocess::metrics::Counter::default();
        let process_destroy_errors = destroy_errors.clone();
        let isolators = Arc::new(isolators);
        let process_isolators = isolators.clone();
        let provisioner_metrics = provisioner.as_ref().map(|p| p.metrics().clone());
        let addr = MesosContainerizerProcess::create(|ctx| {
            // Unbounded, as libprocess queues are: a full mailbox would
            // defer a send and break the call order the facade promises.
            ctx.set_mailbox_capacity(1 << 20);
            MesosContainerizerProcess {
                launcher,
                isolators: process_isolators,
                fetcher: fetcher.clone(),
                provisioner,
                sandbox_directory,
                helper: launcher_dir.join(HELPER),
                proc_root,
                containers: HashMap::new(),
                io_switchboard,
                terminated: HashMap::new(),
                runtime_dir,
                destroy_errors: process_destroy_errors,
                recovered: tokio::sync::watch::channel(true).1,
            }
        });
        Self {
            addr,
            fetcher,
            destroy_errors,
            isolators,
            provisioner_metrics,
        }
    }

    /// Its fetcher.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// Registers the containerizer's own metrics (upstream
    /// `MesosContainerizerProcess::Metrics`), its isolators' and its
    /// provisioner's with `registry`; the fetcher's are registered through
    /// [`Fetcher::metrics`].
    pub fn register_metrics(&self, registry: &libprocess::metrics::Metrics) {
        registry.add_counter(
            "containerizer/mesos/container_destroy_errors",
            &self.destroy_errors,
        );
        for isolator in self.isolators.iter() {
            isolator.register_metrics(registry);
        }
        if let Some(metrics) = &self.provisioner_metrics {
            metrics.register(registry);
        }
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
pub(crate) struct Update(String, Vec<Resource>, ResourceLimits);

#[derive(Message)]
#[rtype(result = "HashSet<String>")]
pub(crate) struct Containers;

#[derive(Message)]
#[rtype(result = "Result<Option<PathBuf>>")]
pub(crate) struct Attach(String);

/// Containers found at recovery that are not to run on: destroyed
/// through the launcher and cleaned up by the isolators.
#[derive(Message)]
#[rtype(result = "()")]
struct Orphans(HashSet<String>);

/// The launch reached the fork: the pid and its exit.
#[derive(Message)]
#[rtype(result = "()")]
struct Forked(String, u32, Exit, ContainerLaunchInfo);

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

/// Stops the actor; the containers run on (see [`Containerizer::stop`]).
#[derive(Message)]
#[rtype(result = "()")]
struct Stop;

// --- Handlers -----------------------------------------------------------

impl Handler<Recover> for MesosContainerizerProcess {
    type Result = ResponseFuture<Result<()>>;

    /// Upstream's `MesosContainerizerProcess::recover`: the executors'
    /// containers the agent checkpointed, then what the runtime directory
    /// holds: nested containers still running under a recovered parent
    /// are recovered; ended ones keep their termination for `wait`; DEBUG
    /// ones (marked `force_destroy_on_recovery`), ones without a pid and
    /// ones whose parent is gone are orphans, destroyed with whatever the
    /// launcher finds that nobody knows.
    fn handle(&mut self, Recover(states): Recover, ctx: &mut Context<Self>) -> Self::Result {
        let launcher = self.launcher.clone();
        let isolators = self.isolators.clone();
        let addr = ctx.address();
        let mut recoverable = Vec::new();
        let mut directories: HashMap<String, String> = HashMap::new();
        for mut state in states {
            let id = super::container_id_string(&state.container_id);
            if let Some(provisioner) = &self.provisioner {
                state.ephemeral_volumes = provisioner
                    .ephemeral_volumes(&id)
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
            }
            let checkpointed = paths::read(&self.runtime_dir, &id);
            let mut container = Container::new(State::Running, vec![]);
            container.pid = u32::try_from(state.pid).ok();
            if let Some(config) = &state.executor_info {
                container.resources = config.resources.clone();
            }
            container.user = checkpointed.config.as_ref().and_then(|c| c.user.clone());
            container.config = checkpointed.config;
            container.launch_info = checkpointed.launch_info;
            directories.insert(id.clone(), state.directory.clone());
            self.containers.insert(id, container);
            recoverable.push(state);
        }
        // The orphans' ids; those with a pid the launcher may use are
        // also given to it (their parent runs, so the pid is theirs).
        let mut orphans: Vec<String> = Vec::new();
        let mut orphan_states = Vec::new();
        for id in paths::container_ids(&self.runtime_dir) {
            if self.containers.contains_key(&id) {
                continue;
            }
            let checkpointed = paths::read(&self.runtime_dir, &id);
            let Some(parent) = super::parent(&id) else {
                // A top-level container the agent did not checkpoint
                // (its framework does not checkpoint, or it ended while
                // the agent was down): an orphan; its pid may be stale.
                self.containers
                    .insert(id.clone(), Container::new(State::Running, vec![]));
                orphans.push(id);
                continue;
            };
            let root = id.split('.').next().unwrap_or_default();
            let directory = directories
                .get(root)
                .map(|d| crate::nested::sandbox(PathBuf::from(d), &id));
            if let Some(termination) = checkpointed.termination {
                self.terminated.insert(id, termination);
                continue;
            }
            let parent_recovered =
                self.containers.contains_key(parent) && !orphans.iter().any(|o| o == parent);
            let mut container = Container::new(State::Running, vec![]);
            container.pid = checkpointed.pid;
            container.user = checkpointed.config.as_ref().and_then(|c| c.user.clone());
            // A nested container with cgroups of its own launched with
            // resources and limits (none otherwise).
            if let Some(config) = &checkpointed.config {
                container.resources = config.resources.clone();
                container.limits = config.limits.clone();
            }
            let state = ContainerState {
                container_id: super::container_id(&id),
                pid: u64::from(checkpointed.pid.unwrap_or_default()),
                directory: directory
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
                container_info: checkpointed
                    .config
                    .as_ref()
                    .and_then(|c| c.container_info.clone()),
                ..Default::default()
            };
            container.config = checkpointed.config;
            container.launch_info = checkpointed.launch_info;
            let recover = parent_recovered
                && checkpointed.pid.is_some()
                && !checkpointed.force_destroy_on_recovery;
            if recover {
                tracing::info!(container_id = %id, pid = ?container.pid, "Recovering nested container");
                self.containers.insert(id, container);
                recoverable.push(state);
            } else {
                if parent_recovered && checkpointed.pid.is_some() {
                    orphan_states.push(state);
                }
                self.containers.insert(id.clone(), container);
                orphans.push(id);
            }
        }
        for state in &recoverable {
            let id = super::container_id_string(&state.container_id);
            let status = paths::runtime_path(&self.runtime_dir, &id).join(launch::STATUS_FILE);
            let exit = poll_exit(
                self.proc_root.clone(),
                u32::try_from(state.pid).unwrap_or_default(),
                Some(status),
            );
            if let Some(container) = self.containers.get_mut(&id) {
                container.exit = Some(exit.clone());
            }
            self.reap(id, exit, ctx);
        }
        let provisioner = self.provisioner.clone();
        let (recovered_tx, recovered_rx) = tokio::sync::watch::channel(false);
        self.recovered = recovered_rx;
        Box::pin(async move {
            // Dropped when the recovery ends, whatever its outcome.
            let _recovered = recovered_tx;
            let mut launcher_states = recoverable.clone();
            launcher_states.extend(orphan_states);
            let found = launcher.recover(&launcher_states).await?;
            let recovered: HashSet<String> = recoverable
                .iter()
                .map(|s| super::container_id_string(&s.container_id))
                .collect();
            let mut orphans: HashSet<String> = orphans.into_iter().collect();
            orphans.extend(found.into_iter().filter(|id| !recovered.contains(id)));
            if let Some(provisioner) = provisioner {
                provisioner.recover(recovered.clone()).await.map_err(|e| {
                    ContainerizerError::Other(format!("failed to recover the provisioner: {e}"))
                })?;
            }
            for isolator in isolators.iter() {
                // Nested containers go only to isolators that nest.
                let nests = |id: &str| isolator.supports_nesting() || super::parent(id).is_none();
                let states: Vec<ContainerState> = recoverable
                    .iter()
                    .filter(|s| nests(&super::container_id_string(&s.container_id)))
                    .cloned()
                    .collect();
                let orphans: HashSet<String> =
                    orphans.iter().filter(|id| nests(id)).cloned().collect();
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
            for id in &recovered {
                for isolator in isolators.iter() {
                    if super::parent(id).is_some() && !isolator.supports_nesting() {
                        continue;
                    }
                    let watch = isolator.watch(id);
                    let (addr, id) = (addr.clone(), id.clone());
                    actix::spawn(async move {
                        let limitation = watch.await;
                        addr.do_send(Limited(id, limitation));
                    });
                }
            }
            if !orphans.is_empty() {
                let _ = addr.send(Orphans(orphans)).await;
            }
            Ok(())
        })
    }
}

impl Handler<Orphans> for MesosContainerizerProcess {
    type Result = ResponseFuture<()>;

    /// Destroys the orphans, each under its topmost orphaned ancestor
    /// (a destroy takes the nested containers along).
    fn handle(&mut self, Orphans(orphans): Orphans, ctx: &mut Context<Self>) -> Self::Result {
        for id in &orphans {
            self.containers
                .entry(id.clone())
                .or_insert_with(|| Container::new(State::Running, vec![]));
        }
        let mut destroys = Vec::new();
        for id in &orphans {
            let ancestor_orphaned = std::iter::successors(super::parent(id), |p| super::parent(p))
                .any(|ancestor| orphans.contains(ancestor));
            if ancestor_orphaned {
                continue;
            }
            tracing::info!(container_id = %id, "Cleaning up orphan container");
            destroys.push(self.handle(Destroy(id.clone()), ctx));
        }
        Box::pin(async move {
            futures::future::join_all(destroys).await;
        })
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
        let debug = config.container_class == Some(ContainerClass::Debug as i32);
        let debug_parent = if debug {
            super::parent(&id)
                .and_then(|parent| self.containers.get(parent))
                .map(|parent| self.debug_parent(parent))
        } else {
            None
        };
        let mut container = Container::new(State::Preparing, config.resources.clone());
        container.limits = config.limits.clone();
        container.user = config.user.clone();
        container.config = Some(config.clone());
        let abort = container.abort.clone();
        self.containers.insert(id.clone(), container);
        let launcher = self.launcher.clone();
        // Nested containers get only the isolators that support nesting;
        // a DEBUG container only its IO switchboard: it joins its
        // parent's namespaces and cgroups as they are.
        let isolators: Arc<Vec<Arc<dyn Isolator>>> = if debug {
            Arc::new(
                self.io_switchboard
                    .iter()
                    .map(|s| s.clone() as Arc<dyn Isolator>)
                    .collect(),
            )
        } else if nested {
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
        let runtime_dir = self.runtime_dir.clone();
        let proc_root = self.proc_root.clone();
        let parent_pid = super::parent(&id)
            .and_then(|parent| self.containers.get(parent))
            .and_then(|parent| parent.pid);
        let mut recovered = self.recovered.clone();
        Box::pin(async move {
            // Not while the recovery looks for orphans: the launcher and
            // the cgroups isolators would take this container's fresh
            // cgroups for an orphan's (upstream's agent takes no task
            // before its containerizer recovered).
            let _ = recovered.wait_for(|done| *done).await;
            let parts = LaunchParts {
                launcher: &launcher,
                isolators: &isolators,
                fetcher: &fetcher,
                provisioner: provisioner.as_ref(),
                helper,
                sandbox_directory,
                switchboard: switchboard.as_deref(),
                runtime_dir,
                debug_parent,
                parent_pid,
                proc_root,
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
    runtime_dir: PathBuf,
    /// For a DEBUG container, what it takes from its parent.
    debug_parent: Option<DebugParent>,
    /// A nested container's parent's init process.
    parent_pid: Option<u32>,
    /// `/proc`.
    proc_root: PathBuf,
    /// Where to checkpoint the forked pid (upstream's `pidCheckpointPath`).
    pid_checkpoint: Option<PathBuf>,
}

/// What a DEBUG container takes from its parent (upstream's
/// `MesosContainerizerProcess::_launch`): the environment, the working
/// directory, and the process whose namespaces and root it enters (the
/// task, when the parent is a command executor).
#[derive(Debug, Clone, Default)]
struct DebugParent {
    environment: Option<mesos_proto::mesos::Environment>,
    working_directory: Option<String>,
    namespace_target: Option<u32>,
}

impl MesosContainerizerProcess {
    fn debug_parent(&self, parent: &Container) -> DebugParent {
        let launch_info = parent.launch_info.as_ref();
        let config = parent.config.as_ref();
        let command_task = config.is_some_and(|c| c.task_info.is_some());
        let working_directory = if command_task && config.is_some_and(|c| c.rootfs.is_some()) {
            // The task's own working directory, inside its rootfs.
            launch_info
                .and_then(|l| l.command.as_ref())
                .and_then(|c| {
                    c.arguments
                        .iter()
                        .find_map(|a| a.strip_prefix("--working_directory="))
                })
                .map(str::to_string)
                .or_else(|| Some(self.sandbox_directory.clone()))
        } else {
            launch_info.and_then(|l| l.working_directory.clone())
        };
        let namespace_target = parent
            .pid
            .map(|pid| procfs::namespace_target(&self.proc_root, pid));
        DebugParent {
            environment: launch_info.and_then(|l| l.environment.clone()),
            working_directory,
            namespace_target,
        }
    }
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
        runtime_dir,
        debug_parent,
        parent_pid,
        proc_root,
        pid_checkpoint,
    } = parts;
    // The runtime directory first: recovery finds the container by it.
    {
        let (runtime_dir, id, config) = (runtime_dir.clone(), id.to_string(), config.clone());
        let debug = debug_parent.is_some();
        tokio::task::spawn_blocking(move || {
            paths::checkpoint_launch(&runtime_dir, &id, &config, debug)
        })
        .await
        .map_err(|e| ContainerizerError::Other(e.to_string()))?
        .map_err(|e| {
            ContainerizerError::Other(format!("failed to checkpoint the container's config: {e}"))
        })?;
    }
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
        config.ephemeral_volumes = info
            .ephemeral_volumes
            .iter()
            .map(|p| p.display().to_string())
            .collect();
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
    // Several isolators may ask for one mount (each cgroups isolator for
    // the launcher's freezer cgroup in a rootfs): the first of a target
    // stays.
    let mut targets = HashSet::new();
    merged
        .mounts
        .retain(|mount| mount.r#type.is_some() || targets.insert(mount.target.clone()));
    if abort.load(Ordering::SeqCst) {
        return Err(ContainerizerError::Other(
            "destroyed while preparing".into(),
        ));
    }
    let path = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    let mut command = config.command_info.clone();
    let mut environment = command.environment.take().unwrap_or_default();
    if let Some(inherited) = debug_parent.as_ref().and_then(|p| p.environment.clone()) {
        // The parent's environment, under the command's own.
        let mut variables: Vec<_> = inherited
            .variables
            .into_iter()
            .filter(|v| !environment.variables.iter().any(|own| own.name == v.name))
            .collect();
        variables.append(&mut environment.variables);
        environment.variables = variables;
    }
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
    // A command task's executor hands its terminal to the task (upstream's
    // switchboard adds this flag for containers with a `task_info`).
    if let (Some(_), Some(path)) = (&config.task_info, &merged.tty_slave_path) {
        command.arguments.push(format!("--tty_slave_path={path}"));
    }
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
            // The executor stays root to enter the rootfs (upstream sets
            // the launch user to root here); the task switches to the
            // user in the image.
            if let Some(user) = config.user.as_ref().filter(|u| !u.is_empty()) {
                command.arguments.push(format!("--user={user}"));
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
        if !(config.task_info.is_some() && config.rootfs.is_some()) {
            merged.user = Some(user);
        }
    }
    if let Some(parent) = &debug_parent {
        merged.working_directory = parent.working_directory.clone();
    } else if config.rootfs.is_none() {
        merged.working_directory = Some(config.directory.clone());
    }
    {
        let (runtime_dir, id, info) = (runtime_dir.clone(), id.to_string(), merged.clone());
        tokio::task::spawn_blocking(move || {
            paths::checkpoint_launch_info(&runtime_dir, &id, &info)
        })
        .await
        .map_err(|e| ContainerizerError::Other(e.to_string()))?
        .map_err(|e| {
            ContainerizerError::Other(format!("failed to checkpoint the launch info: {e}"))
        })?;
    }
    let (read_end, write_end) = pipe()?;
    // The switchboard's stdio for the container, when it started a server.
    let container_io = switchboard.and_then(|s| s.extract_container_io(id));
    let mut arguments = vec![
        "launch".into(),
        format!(
            "--launch_info_protobuf={}",
            base64::engine::general_purpose::STANDARD.encode(merged.encode_to_vec())
        ),
        format!("--pipe_read={}", read_end.as_raw_fd()),
    ];
    if let Some(limit) = launcher::original_open_files_limit() {
        arguments.push(format!("--open_files_limit={limit}"));
    }
    if let Some(target) = debug_parent.as_ref().and_then(|p| p.namespace_target) {
        arguments.push(format!("--namespace_mnt_target={target}"));
    } else if super::parent(id).is_some() {
        // Namespaces shared with the parent (`enter_namespaces` of the
        // isolators) are entered from its init process's.
        if !merged.enter_namespaces.is_empty() {
            let target = parent_pid
                .map(|pid| procfs::namespace_target(&proc_root, pid))
                .ok_or_else(|| {
                    ContainerizerError::Other(
                        "the parent container has no process to share namespaces with".into(),
                    )
                })?;
            arguments.push(format!("--enter_namespaces_of={target}"));
        }
        // A nested container's exit status outlives an agent restart:
        // the helper stays its parent and checkpoints it (upstream does
        // so only for containers whose helper forks).
        arguments.push(format!(
            "--runtime_directory={}",
            paths::runtime_path(&runtime_dir, id).display()
        ));
    }
    let spec = ForkSpec {
        program: helper,
        arguments,
        environment: vec![("PATH".into(), path)],
        working_directory: PathBuf::from(&config.directory),
        stdout: PathBuf::from(&config.directory).join("stdout"),
        stderr: PathBuf::from(&config.directory).join("stderr"),
        keep_fd: Some(read_end.as_raw_fd()),
        stdio: container_io.as_ref().map(|io| {
            [
                io.stdin.as_raw_fd(),
                io.stdout.as_raw_fd(),
                io.stderr.as_raw_fd(),
            ]
        }),
    };
    let forked = launcher.fork(id, spec)?;
    drop((read_end, container_io));
    let pid = forked.pid;
    let exit: Exit = forked.exit.shared();
    addr.send(Forked(id.to_string(), pid, exit, merged)).await?;
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
    {
        let (runtime_dir, id) = (runtime_dir.clone(), id.to_string());
        tokio::task::spawn_blocking(move || paths::checkpoint_pid(&runtime_dir, &id, pid))
            .await
            .map_err(|e| ContainerizerError::Other(e.to_string()))?
            .map_err(|e| {
                ContainerizerError::Other(format!("failed to checkpoint the container's pid: {e}"))
            })?;
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

/// The exit of a process that is not our child (recovered): polled; its
/// wait status is what its launch helper checkpointed, if it did.
fn poll_exit(proc_root: PathBuf, pid: u32, status: Option<PathBuf>) -> Exit {
    let exit: BoxFuture<'static, Option<i32>> = Box::pin(async move {
        while procfs::alive(&proc_root, pid) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let path = status?;
        tokio::task::spawn_blocking(move || std::fs::read_to_string(path))
            .await
            .ok()?
            .ok()?
            .trim()
            .parse()
            .ok()
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
        let destroy_errors = self.destroy_errors.clone();
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
            // Upstream counts a failed launcher destroy or isolator cleanup
            // once per destroy (and keeps the container; here it goes).
            let mut failed = false;
            if let Err(error) = launcher.destroy(&id).await {
                tracing::warn!(container_id = %id, %error, "Failed to destroy container");
                failed = true;
            }
            let status = match exit {
                Some(exit) => exit.await,
                None => None,
            };
            for isolator in isolators.iter().rev() {
                if let Err(error) = isolator.cleanup(&id).await {
                    tracing::warn!(container_id = %id, isolator = isolator.name(), %error, "Failed to clean up isolator");
                    failed = true;
                }
            }
            if failed {
                destroy_errors.inc();
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

    fn handle(&mut self, Forked(id, pid, exit, launch_info): Forked, ctx: &mut Context<Self>) {
        if let Some(container) = self.containers.get_mut(&id) {
            container.pid = Some(pid);
            container.launch_info = Some(launch_info);
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
            // Kept (and checkpointed) for `wait` until removed, or until
            // the parent goes.
            if let Err(error) = paths::checkpoint_termination(&self.runtime_dir, &id, &termination)
            {
                tracing::warn!(container_id = %id, %error, "Failed to checkpoint the termination");
            }
            self.terminated.insert(id.clone(), termination.clone());
        } else {
            paths::remove(&self.runtime_dir, &id);
            let prefix = format!("{id}.");
            self.terminated
                .retain(|nested, _| !nested.starts_with(&prefix));
        }
        for waiter in container.waiters {
            let _ = waiter.send(Some(termination.clone()));
        }
        for waiter in container.destroyed {
            let _ = waiter.send(true);
        }
    }
}

impl Handler<Stop> for MesosContainerizerProcess {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        tracing::info!(
            containers = self.containers.len(),
            "Stopping the containerizer"
        );
        actix::ActorContext::stop(ctx);
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
        if super::parent(&id).is_some() {
            paths::remove(&self.runtime_dir, &id);
        }
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
        let limits = container.limits.clone();
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
            apply_allocation(&mut statistics, &resources, &limits);
            statistics.timestamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default();
            Ok(statistics)
        })
    }
}

/// Upstream's `_usage`: the container's requests as its soft limits
/// (`cpus_soft_limit`, `mem_soft_limit_bytes`) and its limits as the hard
/// ones, an infinite limit as the machine's cpus or memory. Without a
/// limit the hard one is the request (upstream sets `cpus_limit` so only
/// with `--cgroups_enable_cfs`; here it always is, as before limits).
fn apply_allocation(
    statistics: &mut ResourceStatistics,
    requests: &mesos_proto::resources::Resources,
    limits: &ResourceLimits,
) {
    let cpus = requests.cpus();
    let mem = requests.mem();
    let cpus_limit = match limits.get("cpus").map(|l| l.value) {
        Some(limit) if limit.is_infinite() => {
            let online = std::thread::available_parallelism().map_or(1, |n| n.get());
            Some(online as f64)
        }
        Some(limit) => Some(limit),
        None => cpus,
    };
    let mem_limit = match limits.get("mem").map(|l| l.value) {
        Some(limit) if limit.is_infinite() => crate::resources::memory_total().or(mem),
        Some(limit) => Some((limit as u64) << 20),
        None => mem,
    };
    // What an isolator reported stays where the container has no request.
    let set = |field: &mut Option<f64>, value: Option<f64>| {
        if value.is_some() {
            *field = value;
        }
    };
    set(&mut statistics.cpus_soft_limit, cpus);
    set(&mut statistics.cpus_limit, cpus_limit);
    if mem.is_some() {
        statistics.mem_soft_limit_bytes = mem;
    }
    if mem_limit.is_some() {
        statistics.mem_limit_bytes = mem_limit;
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
                container_id: Some(super::container_id(&id)),
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

    fn handle(
        &mut self,
        Update(id, resources, limits): Update,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let Some(container) = self.containers.get_mut(&id) else {
            return Box::pin(std::future::ready(Err(
                ContainerizerError::UnknownContainer(id),
            )));
        };
        container.resources = resources.clone();
        container.limits = limits.clone();
        let isolators = self.isolators.clone();
        let mut recovered = self.recovered.clone();
        Box::pin(async move {
            // An update of a recovered container reaches its isolators
            // after their `recover` (the sender goes when it ends).
            let _ = recovered.wait_for(|done| *done).await;
            for isolator in isolators.iter() {
                isolator
                    .update(&id, &resources, &limits)
                    .await
                    .map_err(|e| ContainerizerError::Isolator {
                        phase: "update",
                        isolator: isolator.name(),
                        message: e.0,
                    })?;
            }
            Ok(())
        })
    }
}

impl Handler<Attach> for MesosContainerizerProcess {
    type Result = ResponseFuture<Result<Option<PathBuf>>>;

    fn handle(&mut self, Attach(id): Attach, _: &mut Context<Self>) -> Self::Result {
        if !self.containers.contains_key(&id) {
            return Box::pin(std::future::ready(Err(
                ContainerizerError::UnknownContainer(id),
            )));
        }
        let io_switchboard = self.io_switchboard.clone();
        let mut recovered = self.recovered.clone();
        Box::pin(async move {
            // A recovered container's switchboard is known once the
            // isolators' `recover` ran (an attach may come before).
            let _ = recovered.wait_for(|done| *done).await;
            match io_switchboard {
                Some(switchboard) => Ok(switchboard.listening_socket(&id).await),
                None => Ok(None),
            }
        })
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
        limits: ResourceLimits,
    ) -> BoxFuture<'static, Result<()>> {
        let request = self.addr.send(Update(container_id, resources, limits));
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

    fn stop(&self) {
        self.addr.do_send(Stop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::value;
    use mesos_proto::resources::Resources;

    #[test]
    fn usage_reports_requests_as_soft_limits_and_limits_as_hard_ones() {
        let requests = Resources::parse("cpus:0.3;mem:64", "*").expect("resources");
        let limit = |value: f64| value::Scalar { value };
        let mut statistics = ResourceStatistics::default();
        apply_allocation(&mut statistics, &requests, &ResourceLimits::new());
        assert_eq!(statistics.cpus_soft_limit, Some(0.3));
        assert_eq!(statistics.cpus_limit, Some(0.3));
        assert_eq!(statistics.mem_soft_limit_bytes, Some(64 << 20));
        assert_eq!(statistics.mem_limit_bytes, Some(64 << 20));
        let limits: ResourceLimits = [
            ("cpus".to_string(), limit(0.6)),
            ("mem".to_string(), limit(128.0)),
        ]
        .into();
        apply_allocation(&mut statistics, &requests, &limits);
        assert_eq!(statistics.cpus_soft_limit, Some(0.3));
        assert_eq!(statistics.cpus_limit, Some(0.6));
        assert_eq!(statistics.mem_soft_limit_bytes, Some(64 << 20));
        assert_eq!(statistics.mem_limit_bytes, Some(128 << 20));
        // Infinite: the machine's cpus and memory.
        let limits: ResourceLimits = [
            ("cpus".to_string(), limit(f64::INFINITY)),
            ("mem".to_string(), limit(f64::INFINITY)),
        ]
        .into();
        apply_allocation(&mut statistics, &requests, &limits);
        let online = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(statistics.cpus_limit, Some(online as f64));
        assert_eq!(statistics.mem_limit_bytes, crate::resources::memory_total());
    }
}
