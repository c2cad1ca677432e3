//! The containerizer seam (upstream `src/slave/containerizer/`).
//!
//! The agent holds one [`Containerizer`]; so far the Mesos containerizer
//! ([`mesos::MesosContainerizer`]), built from a [`mesos::launcher::Launcher`]
//! and the isolators named by `--isolation`. A container is launched from
//! a `mesos.slave.ContainerConfig`, waited for (its
//! `mesos.slave.ContainerTermination`), destroyed, and asked for its
//! `ResourceStatistics`.

pub mod fetcher;
pub mod mesos;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
pub use mesos::isolator::ResourceLimits;
use mesos_proto::mesos::slave::{ContainerConfig, ContainerState, ContainerTermination};
use mesos_proto::mesos::{ContainerStatus, Resource, ResourceStatistics};

/// What a containerizer call failed on.
#[derive(Debug, thiserror::Error)]
pub enum ContainerizerError {
    /// The container is not known (never launched, or gone).
    #[error("unknown container '{0}'")]
    UnknownContainer(String),
    /// A container with this id exists already.
    #[error("container '{0}' already exists")]
    AlreadyExists(String),
    /// An isolator refused or failed.
    #[error("failed to {phase} isolator '{isolator}': {message}")]
    Isolator {
        /// `prepare`, `isolate`, `recover`, ...
        phase: &'static str,
        /// The upstream isolator name.
        isolator: &'static str,
        /// What went wrong.
        message: String,
    },
    /// Fetching the container's URIs failed.
    #[error("{0}")]
    Fetcher(#[from] fetcher::FetcherError),
    /// The launcher failed.
    #[error("launcher failed: {0}")]
    Launcher(#[from] mesos::launcher::LauncherError),
    /// The containerizer's actor is gone.
    #[error("containerizer is gone: {0}")]
    Mailbox(#[from] actix::MailboxError),
    /// Anything else, with its context.
    #[error("{0}")]
    Other(String),
}

/// The module's result type.
pub type Result<T> = std::result::Result<T, ContainerizerError>;

/// The containerizer interface (upstream `Containerizer`).
pub trait Containerizer: Send + Sync {
    /// Recovers the containers of checkpointed executors still alive;
    /// containers found that are not among them are destroyed as orphans.
    fn recover(&self, states: Vec<ContainerState>) -> BoxFuture<'static, Result<()>>;

    /// Launches a container; resolves to the OS pid of its init process
    /// once it runs (isolated, past its exec).
    fn launch(
        &self,
        container_id: String,
        config: ContainerConfig,
    ) -> BoxFuture<'static, Result<u32>>;

    /// Launches like [`Containerizer::launch`], and writes the init
    /// process's pid to `pid_checkpoint` once it is forked, before it
    /// runs anything (upstream's `pidCheckpointPath`): a checkpointing
    /// framework's executor can then be recovered whenever the agent dies.
    /// Containerizers that cannot checkpoint launch without it.
    fn launch_checkpointed(
        &self,
        container_id: String,
        config: ContainerConfig,
        pid_checkpoint: Option<std::path::PathBuf>,
    ) -> BoxFuture<'static, Result<u32>> {
        let _ = pid_checkpoint;
        self.launch(container_id, config)
    }

    /// Resolves when the container has terminated and been cleaned up;
    /// `None` for a container the containerizer does not know.
    fn wait(&self, container_id: String) -> BoxFuture<'static, Option<ContainerTermination>>;

    /// Destroys the container (kills every process of it, cleans the
    /// isolators up); resolves to whether it existed.
    fn destroy(&self, container_id: String) -> BoxFuture<'static, bool>;

    /// The container's resource usage, limits included.
    fn usage(&self, container_id: String) -> BoxFuture<'static, Result<ResourceStatistics>>;

    /// The container's status (executor pid, isolator contributions).
    fn status(&self, container_id: String) -> BoxFuture<'static, Result<ContainerStatus>>;

    /// Updates the container's resources (isolators apply new limits):
    /// its requests and its `limits` (upstream's `update(containerId,
    /// resourceRequests, resourceLimits)`).
    fn update(
        &self,
        container_id: String,
        resources: Vec<Resource>,
        limits: ResourceLimits,
    ) -> BoxFuture<'static, Result<()>>;

    /// Sends `signal` to the container's init process; `SIGKILL`
    /// destroys it. Resolves to whether the container existed.
    fn kill(&self, container_id: String, signal: i32) -> BoxFuture<'static, Result<bool>>;

    /// Forgets a terminated nested container's termination.
    fn remove(&self, container_id: String) -> BoxFuture<'static, Result<()>>;

    /// The ids of the containers it holds.
    fn containers(&self) -> BoxFuture<'static, HashSet<String>>;

    /// Stops the containerizer's actor and leaves its containers running,
    /// as deleting upstream's containerizer terminates its process: the
    /// agent stops it when it stops itself, so an agent restarted in the
    /// same OS process (tests, `mesos-local`) is the only one watching and
    /// destroying the containers it recovers.
    fn stop(&self) {}

    /// The unix socket of the container's IO switchboard server (upstream
    /// `Containerizer::attach`): `None` when it has none (neither a TTY
    /// nor a DEBUG container); an error for an unknown container.
    fn attach(&self, container_id: String) -> BoxFuture<'static, Result<Option<PathBuf>>> {
        let _ = container_id;
        Box::pin(std::future::ready(Ok(None)))
    }
}

/// The string form of a container id, as upstream prints it: the parent
/// chain joined with `.` (`parent.child` for a nested container).
pub fn container_id_string(id: &mesos_proto::mesos::ContainerId) -> String {
    match &id.parent {
        Some(parent) => format!("{}.{}", container_id_string(parent), id.value),
        None => id.value.clone(),
    }
}

/// The `ContainerID` of a string form (inverse of
/// [`container_id_string`]).
pub fn container_id(id: &str) -> mesos_proto::mesos::ContainerId {
    match id.rsplit_once('.') {
        Some((parent, value)) => mesos_proto::mesos::ContainerId {
            value: value.to_string(),
            parent: Some(Box::new(container_id(parent))),
        },
        None => mesos_proto::mesos::ContainerId {
            value: id.to_string(),
            parent: None,
        },
    }
}

/// The parent of a nested container's string id.
pub fn parent(id: &str) -> Option<&str> {
    id.rsplit_once('.').map(|(parent, _)| parent)
}

/// How the agent's containerizer is put together (from the flags).
#[derive(Debug, Clone)]
pub struct ContainerizerOptions {
    /// `--launcher`: `posix` or `linux`.
    pub launcher: String,
    /// `--isolation`.
    pub isolation: String,
    /// `--cgroups_hierarchy`: only cgroup hierarchies mounted at or below
    /// it are used.
    pub cgroups_hierarchy: PathBuf,
    /// `--cgroups_root`.
    pub cgroups_root: String,
    /// `--cgroups_enable_cfs`.
    pub cgroups_enable_cfs: bool,
    /// `--cgroups_limit_swap`.
    pub cgroups_limit_swap: bool,
    /// `--revocable_cpu_low_priority`.
    pub revocable_cpu_low_priority: bool,
    /// `--allowed_devices` as devices-cgroup entries (`cgroups/devices`).
    pub allowed_devices: Vec<String>,
    /// `--cgroups_net_cls_primary_handle`, `--cgroups_net_cls_secondary_handles`
    /// (`cgroups/net_cls`).
    #[cfg(target_os = "linux")]
    pub cgroups_net_cls: mesos::isolators::cgroups::net_cls::NetClsFlags,
    /// `--perf_events`, `--perf_interval`, `--perf_duration`
    /// (`cgroups/perf_event`).
    #[cfg(target_os = "linux")]
    pub perf: mesos::isolators::cgroups::perf_event::PerfFlags,
    /// `--effective_capabilities`.
    pub effective_capabilities: Option<mesos_proto::mesos::CapabilityInfo>,
    /// `--bounding_capabilities`.
    pub bounding_capabilities: Option<mesos_proto::mesos::CapabilityInfo>,
    /// `/proc` (a fixture in tests).
    pub proc_root: PathBuf,
    /// `--host_path_volume_force_creation`.
    pub host_path_volume_force_creation: Option<String>,
    /// `--cgroups_destroy_timeout`.
    pub cgroups_destroy_timeout: std::time::Duration,
    /// `--cgroups_cpu_enable_pids_and_tids_count`.
    pub cgroups_cpu_enable_pids_and_tids_count: bool,
    /// `--container_disk_watch_interval`.
    pub disk_watch_interval: std::time::Duration,
    /// `--enforce_container_disk_quota`.
    pub enforce_disk_quota: bool,
    /// `--executor_environment_variables`; `None`: executors inherit the
    /// agent's environment.
    pub executor_environment_variables: Option<Vec<(String, String)>>,
    /// `--fetcher_cache_dir`.
    pub fetcher_cache_dir: PathBuf,
    /// `--fetcher_cache_size`, in bytes.
    pub fetcher_cache_size: u64,
    /// `--fetcher_stall_timeout`.
    pub fetcher_stall_timeout: Duration,
    /// `--frameworks_home`.
    pub frameworks_home: Option<String>,
    /// `--http_command_executor`: the command executor speaks the v1
    /// executor API (`MESOS_HTTP_COMMAND_EXECUTOR=1`).
    pub http_command_executor: bool,
    /// `--switch_user`: containers run as their user (the executor's
    /// command user, else the framework's), their sandboxes owned by it.
    pub switch_user: bool,
    /// `--sandbox_directory`: the sandbox's path inside an image rootfs.
    pub sandbox_directory: String,
    /// The provisioner's settings, when `--image_providers` is set.
    pub provisioner: Option<mesos::provisioner::ProvisionerOptions>,
    /// `--work_dir`: where persistent volumes live (set by the agent).
    pub work_dir: PathBuf,
    /// `--runtime_dir`: where the IO switchboard checkpoints its servers.
    pub runtime_dir: PathBuf,
    /// `--http_heartbeat_interval`: heartbeats on attach streams.
    pub http_heartbeat_interval: Option<Duration>,
    /// `--io_switchboard_enable_server`.
    pub io_switchboard_enable_server: bool,
    /// `--default_container_shm_size`, `--disallow_sharing_agent_*_namespace`.
    pub namespaces: mesos::isolators::namespaces::NamespaceOptions,
}

impl Default for ContainerizerOptions {
    fn default() -> Self {
        Self {
            launcher: "posix".into(),
            isolation: "posix/cpu,posix/mem".into(),
            cgroups_hierarchy: PathBuf::from("/sys/fs/cgroup"),
            cgroups_root: "mesos".into(),
            cgroups_enable_cfs: false,
            cgroups_limit_swap: false,
            revocable_cpu_low_priority: true,
            allowed_devices: vec![],
            #[cfg(target_os = "linux")]
            cgroups_net_cls: Default::default(),
            #[cfg(target_os = "linux")]
            perf: Default::default(),
            effective_capabilities: None,
            bounding_capabilities: None,
            proc_root: PathBuf::from("/proc"),
            host_path_volume_force_creation: None,
            cgroups_destroy_timeout: std::time::Duration::from_secs(60),
            cgroups_cpu_enable_pids_and_tids_count: false,
            disk_watch_interval: std::time::Duration::from_secs(15),
            enforce_disk_quota: false,
            executor_environment_variables: None,
            fetcher_cache_dir: fetcher::FetcherOptions::default().cache_dir,
            fetcher_cache_size: fetcher::FetcherOptions::default().cache_size,
            fetcher_stall_timeout: fetcher::FetcherOptions::default().stall_timeout,
            frameworks_home: None,
            http_command_executor: false,
            switch_user: false,
            sandbox_directory: "/mnt/mesos/sandbox".into(),
            provisioner: None,
            work_dir: PathBuf::from("/tmp/mesos"),
            runtime_dir: std::env::temp_dir().join("mesos").join("runtime"),
            http_heartbeat_interval: None,
            io_switchboard_enable_server: true,
            namespaces: Default::default(),
        }
    }
}

/// Builds the Mesos containerizer of `options`, its helper in
/// `launcher_dir`. Must run on an actix arbiter.
pub fn create(
    options: &ContainerizerOptions,
    launcher_dir: PathBuf,
) -> std::result::Result<mesos::MesosContainerizer, String> {
    use mesos::isolators::{self, IsolatorContext};
    use mesos::launcher::Launcher;
    // Upstream's deprecated whole values, replaced as
    // `MesosContainerizer::create` does.
    let isolation = match isolators::deprecated_replacement(&options.isolation) {
        Some(replacement) => {
            tracing::warn!(
                "The '{}' isolation flag is deprecated, please update your flags to \
                 '--isolation={replacement}'",
                options.isolation.trim()
            );
            replacement
        }
        None => options.isolation.as_str(),
    };
    #[cfg(target_os = "linux")]
    let cgroups = if options.launcher == "linux" || isolation.contains("cgroups/") {
        let hierarchy =
            crate::linux::Hierarchy::detect_under(&options.proc_root, &options.cgroups_hierarchy)
                .map_err(|e| {
                format!(
                    "failed to detect the cgroup hierarchy under --cgroups_hierarchy '{}': {e}",
                    options.cgroups_hierarchy.display()
                )
            })?;
        // Upstream's `cgroups::prepare`: enabled v1 subsystems the isolators
        // need are mounted when nothing carries them.
        let hierarchy = isolators::cgroups::prepare(
            isolation,
            hierarchy,
            &options.proc_root,
            &options.cgroups_hierarchy,
        )?;
        Some(Arc::new(isolators::cgroups::CgroupsConfig {
            hierarchy,
            mount_root: options.cgroups_hierarchy.clone(),
            root: options.cgroups_root.clone(),
            enable_cfs: options.cgroups_enable_cfs,
            limit_swap: options.cgroups_limit_swap,
            revocable_cpu_low_priority: options.revocable_cpu_low_priority,
            allowed_devices: options.allowed_devices.clone(),
            linux_launcher: options.launcher == "linux",
            destroy_timeout: options.cgroups_destroy_timeout,
            cpu_pids_and_tids_count: options.cgroups_cpu_enable_pids_and_tids_count,
            net_cls: options.cgroups_net_cls.clone(),
            perf: options.perf.clone(),
        }))
    } else {
        None
    };
    let context = IsolatorContext {
        proc_root: options.proc_root.clone(),
        disk_watch_interval: options.disk_watch_interval,
        enforce_disk_quota: options.enforce_disk_quota,
        effective_capabilities: options.effective_capabilities.clone(),
        bounding_capabilities: options.bounding_capabilities.clone(),
        sandbox_directory: options.sandbox_directory.clone(),
        #[cfg(target_os = "linux")]
        cgroups: cgroups.clone(),
        work_dir: options.work_dir.clone(),
        runtime_dir: options.runtime_dir.clone(),
        namespaces: options.namespaces.clone(),
        host_path_volume_force_creation: options.host_path_volume_force_creation.clone(),
    };
    let isolators = isolators::create(isolation, &context)?;
    let launcher: Arc<dyn Launcher> = match options.launcher.as_str() {
        #[cfg(target_os = "linux")]
        "linux" => {
            let config = cgroups.ok_or("the linux launcher needs cgroups")?;
            Arc::new(
                mesos::launcher::linux::LinuxLauncher::new(&config.hierarchy, &config.root)?
                    .with_destroy_timeout(config.destroy_timeout),
            )
        }
        "posix" => Arc::new(mesos::launcher::posix::PosixLauncher::new(
            options.proc_root.clone(),
        )),
        other => return Err(format!("unknown launcher '{other}'")),
    };
    let fetcher = fetcher::Fetcher::start(
        fetcher::FetcherOptions {
            cache_dir: options.fetcher_cache_dir.clone(),
            cache_size: options.fetcher_cache_size,
            stall_timeout: options.fetcher_stall_timeout,
            frameworks_home: options.frameworks_home.clone(),
        },
        &launcher_dir,
    );
    let provisioner = options
        .provisioner
        .as_ref()
        .map(mesos::provisioner::Provisioner::create)
        .transpose()?;
    let switchboard = Arc::new(mesos::io::switchboard::IOSwitchboard::new(
        mesos::io::switchboard::SwitchboardOptions {
            launcher_dir: launcher_dir.clone(),
            runtime_dir: options.runtime_dir.clone(),
            heartbeat_interval: options.http_heartbeat_interval,
            enable_server: options.io_switchboard_enable_server,
            proc_root: options.proc_root.clone(),
        },
    ));
    Ok(mesos::MesosContainerizer::start(mesos::Parts {
        launcher,
        isolators,
        io_switchboard: Some(switchboard),
        fetcher,
        provisioner,
        sandbox_directory: options.sandbox_directory.clone(),
        launcher_dir,
        proc_root: options.proc_root.clone(),
        runtime_dir: options.runtime_dir.clone(),
    }))
}
