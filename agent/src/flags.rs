//! `mesos-agent` flags: upstream's names, defaults and meaning
//! (`src/slave/flags.cpp`, `docs/configuration/agent.md`).
//!
//! A flag upstream has and this agent does not is refused by the parser as
//! unknown; a value it cannot honour yet is refused by [`Flags::validate`]
//! with a message that says so.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};
use libprocess::flags::{format_duration, parse_bytes, parse_duration};

/// Flags that name paths: their `file://` values are not read.
pub const PATH_FLAGS: &[&str] = &[
    "work_dir",
    "log_dir",
    "launcher_dir",
    "runtime_dir",
    "credential",
    "fetcher_cache_dir",
    "frameworks_home",
    "docker_registry",
    "docker_store_dir",
    "sandbox_directory",
    "http_credentials",
];

/// The agent's command line.
#[derive(Debug, Clone, Parser)]
#[command(name = "mesos-agent", rename_all = "snake_case", version = crate::VERSION,
          about = "Apache Mesos agent, reimplemented in Rust")]
pub struct Flags {
    /// The master: `host:port` (or `master@host:port`), or `file:///path`
    /// holding one. `zk://` comes with the high-availability work.
    #[arg(long, env = "MESOS_MASTER")]
    pub master: String,

    /// Directory for sandboxes and checkpoints.
    #[arg(long, env = "MESOS_WORK_DIR")]
    pub work_dir: PathBuf,

    /// IP address to listen on.
    #[arg(long, env = "MESOS_IP")]
    pub ip: Option<Ipv4Addr>,

    /// Port to listen on.
    #[arg(long, env = "MESOS_PORT", default_value_t = 5051)]
    pub port: u16,

    /// IP address advertised to reach this agent.
    #[arg(long, env = "MESOS_ADVERTISE_IP")]
    pub advertise_ip: Option<Ipv4Addr>,

    /// Port advertised to reach this agent.
    #[arg(long, env = "MESOS_ADVERTISE_PORT")]
    pub advertise_port: Option<u16>,

    /// Host name reported to the master.
    #[arg(long, env = "MESOS_HOSTNAME")]
    pub hostname: Option<String>,

    /// Whether to look up the host name when `--hostname` is unset.
    #[arg(long, env = "MESOS_HOSTNAME_LOOKUP", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true", value_parser = libprocess::flags::parse_bool_flag)]
    pub hostname_lookup: bool,

    /// Total resources, e.g. `cpus:4;mem:1024;ports:[31000-32000]`, or a
    /// JSON array; unset ones are detected.
    #[arg(long, env = "MESOS_RESOURCES")]
    pub resources: Option<String>,

    /// Attributes, e.g. `rack:r1;zone:z2`.
    #[arg(long, env = "MESOS_ATTRIBUTES")]
    pub attributes: Option<String>,

    /// Role of resources given without one.
    #[arg(long, env = "MESOS_DEFAULT_ROLE", default_value = "*")]
    pub default_role: String,

    /// Where `mesos-executor` and other helpers live (default: the
    /// directory of this binary).
    #[arg(long, env = "MESOS_LAUNCHER_DIR")]
    pub launcher_dir: Option<PathBuf>,

    /// Upper bound of the random registration delay, doubled on each retry
    /// up to one minute.
    #[arg(long, env = "MESOS_REGISTRATION_BACKOFF_FACTOR", value_parser = parse_duration,
          default_value = "1secs")]
    pub registration_backoff_factor: Duration,

    /// How long an executor has to register before it is killed.
    #[arg(long, env = "MESOS_EXECUTOR_REGISTRATION_TIMEOUT", value_parser = parse_duration,
          default_value = "1mins")]
    pub executor_registration_timeout: Duration,

    /// Time an executor has to exit after being told to shut down.
    #[arg(long, env = "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", value_parser = parse_duration,
          default_value = "5secs")]
    pub executor_shutdown_grace_period: Duration,

    /// How long a restarted agent waits for recovered executors to
    /// re-register before killing them (upstream caps it at 15 secs).
    #[arg(long, env = "MESOS_EXECUTOR_REREGISTRATION_TIMEOUT", value_parser = parse_duration,
          default_value = "2secs")]
    pub executor_reregistration_timeout: Duration,

    /// How long a restarting agent waits before sending its reconnect
    /// message again to a v0 (PID-based) executor that has not
    /// re-registered; unset, it is sent once. For executors built on
    /// libraries that answer on a half-open connection (MESOS-7057).
    #[arg(long, env = "MESOS_EXECUTOR_REREGISTRATION_RETRY_INTERVAL",
          value_parser = parse_duration)]
    pub executor_reregistration_retry_interval: Option<Duration>,

    /// What a restarted agent does with the executors it recovers:
    /// `reconnect` to them, or `cleanup`: kill them, forget the
    /// checkpointed agent and exit without registering.
    #[arg(long, env = "MESOS_RECOVER", default_value = "reconnect")]
    pub recover: String,

    /// Whether recovery errors are fatal (only `true` is supported).
    #[arg(long, env = "MESOS_STRICT", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true", value_parser = libprocess::flags::parse_bool_flag)]
    pub strict: bool,

    /// How long a checkpointing executor waits for a restarted agent.
    #[arg(long, env = "MESOS_RECOVERY_TIMEOUT", value_parser = parse_duration,
          default_value = "15mins")]
    pub recovery_timeout: Duration,

    /// File with the principal and secret to authenticate with the master
    /// (JSON `{"principal": .., "secret": ..}` or one `principal secret`
    /// line; `/path` or `file:///path`). Without it the agent registers
    /// without authenticating.
    #[arg(long, env = "MESOS_CREDENTIAL")]
    pub credential: Option<String>,

    /// Require HTTP authentication (`Authorization: Basic`) on the
    /// read-only endpoints (`/state`, `/flags`, `/containers`,
    /// `/monitor/statistics`).
    #[arg(long, env = "MESOS_AUTHENTICATE_HTTP_READONLY", action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub authenticate_http_readonly: bool,

    /// Require HTTP authentication on the operator API (`/api/v1`).
    #[arg(long, env = "MESOS_AUTHENTICATE_HTTP_READWRITE", action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub authenticate_http_readwrite: bool,

    /// HTTP authenticators: only upstream's built-in `basic`.
    #[arg(long, env = "MESOS_HTTP_AUTHENTICATORS", default_value = "basic")]
    pub http_authenticators: String,

    /// Credentials of the `basic` HTTP authenticator (as the master's
    /// `--credentials`; `/path` or `file:///path`).
    #[arg(long, env = "MESOS_HTTP_CREDENTIALS")]
    pub http_credentials: Option<String>,

    /// Endpoints to disable, as upstream's `Firewall` JSON
    /// (`{"disabled_endpoints": {"paths": [..]}}`), inline, `file:///path`
    /// or `/path`: requests for them answer `403`.
    #[arg(long, env = "MESOS_FIREWALL_RULES")]
    pub firewall_rules: Option<String>,

    /// A command whose output is the IP address to listen on (instead of
    /// `--ip`; not both).
    #[arg(long, env = "MESOS_IP_DISCOVERY_COMMAND")]
    pub ip_discovery_command: Option<String>,

    /// How the agent authenticates; only `crammd5` (no modules).
    #[arg(long, env = "MESOS_AUTHENTICATEE", default_value = "crammd5")]
    pub authenticatee: String,

    /// Step by which the range of the authentication timeout grows after
    /// each failed attempt.
    #[arg(long, env = "MESOS_AUTHENTICATION_BACKOFF_FACTOR", value_parser = parse_duration,
          default_value = "1secs")]
    pub authentication_backoff_factor: Duration,

    /// Shortest time one authentication attempt may take.
    #[arg(long, env = "MESOS_AUTHENTICATION_TIMEOUT_MIN", value_parser = parse_duration,
          default_value = "5secs")]
    pub authentication_timeout_min: Duration,

    /// Longest time one authentication attempt may take.
    #[arg(long, env = "MESOS_AUTHENTICATION_TIMEOUT_MAX", value_parser = parse_duration,
          default_value = "1mins")]
    pub authentication_timeout_max: Duration,

    /// Containerizers by preference; only `mesos` so far.
    #[arg(long, env = "MESOS_CONTAINERIZERS", default_value = "mesos")]
    pub containerizers: String,

    /// Isolators, comma-separated (upstream names).
    #[arg(long, env = "MESOS_ISOLATION", default_value = "posix/cpu,posix/mem")]
    pub isolation: String,

    /// Launcher: `linux` (a cgroup per container; needs root) or
    /// `posix`. Unset: `linux` when running as root where cgroups are
    /// mounted, else `posix`, as upstream.
    #[arg(long, env = "MESOS_LAUNCHER")]
    pub launcher: Option<String>,

    /// Where the cgroup hierarchies are mounted (v1: one per controller
    /// below it; v2: the unified hierarchy at or below it). Hierarchies
    /// mounted elsewhere are not used.
    #[arg(
        long,
        env = "MESOS_CGROUPS_HIERARCHY",
        default_value = "/sys/fs/cgroup"
    )]
    pub cgroups_hierarchy: PathBuf,

    /// The cgroup, in each hierarchy, under which containers get theirs.
    #[arg(long, env = "MESOS_CGROUPS_ROOT", default_value = "mesos")]
    pub cgroups_root: String,

    /// Cap each container's CPU time at its cpus with CFS bandwidth
    /// control (`cgroups/cpu`), instead of shares alone.
    #[arg(long, env = "MESOS_CGROUPS_ENABLE_CFS", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub cgroups_enable_cfs: bool,

    /// Give revocable cpus a low CPU priority (`cgroups/cpu`): a container
    /// with revocable cpus gets 10 shares per cpu instead of 1024.
    #[arg(long, env = "MESOS_REVOCABLE_CPU_LOW_PRIORITY", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true", value_parser = libprocess::flags::parse_bool_flag)]
    pub revocable_cpu_low_priority: bool,

    /// Colon-separated directories under which `volume/host_path` creates
    /// a volume's missing host path (as a directory).
    #[arg(long, env = "MESOS_HOST_PATH_VOLUME_FORCE_CREATION")]
    pub host_path_volume_force_creation: Option<String>,

    /// Whether `cgroups/cpu` counts a container's processes and threads
    /// in its usage.
    #[arg(long, env = "MESOS_CGROUPS_CPU_ENABLE_PIDS_AND_TIDS_COUNT", action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub cgroups_cpu_enable_pids_and_tids_count: bool,

    /// How long removing a container's cgroups (the cgroups isolators'
    /// cleanup, the linux launcher's destroy) may take before it fails.
    #[arg(long, env = "MESOS_CGROUPS_DESTROY_TIMEOUT", value_parser = parse_duration,
          default_value = "1mins")]
    pub cgroups_destroy_timeout: Duration,

    /// How often `disk/du` measures each sandbox.
    #[arg(long, env = "MESOS_CONTAINER_DISK_WATCH_INTERVAL", value_parser = parse_duration,
          default_value = "15secs")]
    pub container_disk_watch_interval: Duration,

    /// Whether `disk/du` destroys containers past their disk.
    #[arg(long, env = "MESOS_ENFORCE_CONTAINER_DISK_QUOTA", action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub enforce_container_disk_quota: bool,

    /// Whether the command executor uses the v1 HTTP executor API instead
    /// of the v0 driver (upstream marks it experimental). Takes `1`/`0` too,
    /// as stout does: an agent started from an executor's environment
    /// finds `MESOS_HTTP_COMMAND_EXECUTOR=0` there.
    #[arg(long, env = "MESOS_HTTP_COMMAND_EXECUTOR", action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub http_command_executor: bool,

    /// The environment of executors (and so of their tasks), a JSON object
    /// of strings; unset, executors inherit the agent's environment.
    #[arg(long, env = "MESOS_EXECUTOR_ENVIRONMENT_VARIABLES")]
    pub executor_environment_variables: Option<String>,

    /// The longest a terminated executor's sandbox is kept.
    #[arg(long, env = "MESOS_GC_DELAY", value_parser = parse_duration, default_value = "1weeks")]
    pub gc_delay: Duration,

    /// How often the disk usage is checked and sandboxes collected.
    #[arg(long, env = "MESOS_DISK_WATCH_INTERVAL", value_parser = parse_duration,
          default_value = "1mins")]
    pub disk_watch_interval: Duration,

    /// The share of the disk kept free by collecting sandboxes sooner.
    #[arg(long, env = "MESOS_GC_DISK_HEADROOM", default_value = "0.1")]
    pub gc_disk_headroom: f64,

    /// Devices containers may use beyond the default whitelist
    /// (`cgroups/devices`): an upstream `DeviceWhitelist` in JSON.
    #[arg(long, env = "MESOS_ALLOWED_DEVICES")]
    pub allowed_devices: Option<String>,

    /// The capabilities tasks get by default (`linux/capabilities`), an
    /// upstream `CapabilityInfo` in JSON.
    #[arg(
        long,
        env = "MESOS_EFFECTIVE_CAPABILITIES",
        alias = "allowed_capabilities"
    )]
    pub effective_capabilities: Option<String>,

    /// The most capabilities tasks may ask for (`linux/capabilities`).
    #[arg(long, env = "MESOS_BOUNDING_CAPABILITIES")]
    pub bounding_capabilities: Option<String>,

    /// Run each executor (and its tasks) as its user: the command's user,
    /// else the framework's; the sandbox is made that user's.
    #[arg(long, env = "MESOS_SWITCH_USER", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true", value_parser = libprocess::flags::parse_bool_flag)]
    pub switch_user: bool,

    /// Where containers' runtime state lives (IO switchboard checkpoints);
    /// unset: `/var/run/mesos` as root, else `<tmp>/mesos/runtime`.
    #[arg(long, env = "MESOS_RUNTIME_DIR")]
    pub runtime_dir: Option<PathBuf>,

    /// Size of a container's private `/dev/shm` when its `LinuxInfo`
    /// gives none (`namespaces/ipc`); unset: the kernel's default.
    #[arg(long, env = "MESOS_DEFAULT_CONTAINER_SHM_SIZE", value_parser = parse_bytes)]
    pub default_container_shm_size: Option<u64>,

    /// Refuse top-level containers that ask to share the agent's IPC
    /// namespace and `/dev/shm` (`namespaces/ipc`).
    #[arg(long, env = "MESOS_DISALLOW_SHARING_AGENT_IPC_NAMESPACE", action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub disallow_sharing_agent_ipc_namespace: bool,

    /// Refuse top-level containers that ask to share the agent's pid
    /// namespace (`namespaces/pid`).
    #[arg(long, env = "MESOS_DISALLOW_SHARING_AGENT_PID_NAMESPACE", action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub disallow_sharing_agent_pid_namespace: bool,

    /// Start IO switchboard servers for containers that need one (a TTY,
    /// DEBUG containers); `false` makes those containers fail to launch
    /// (upstream 1.2 to 1.4).
    #[arg(long, env = "MESOS_IO_SWITCHBOARD_ENABLE_SERVER", action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "true", value_parser = libprocess::flags::parse_bool_flag)]
    pub io_switchboard_enable_server: bool,

    /// How often attach and session streams carry a heartbeat.
    #[arg(long, env = "MESOS_HTTP_HEARTBEAT_INTERVAL", default_value = "30secs",
          value_parser = parse_duration)]
    pub http_heartbeat_interval: Duration,

    /// A 16-bit handle (`0xAAAA`, non-zero) used as the primary handle of
    /// every container's net_cls class id (`cgroups/net_cls`); unset, no
    /// class ids are assigned.
    #[arg(long, env = "MESOS_CGROUPS_NET_CLS_PRIMARY_HANDLE")]
    pub cgroups_net_cls_primary_handle: Option<String>,

    /// The range `0xAAAA,0xBBBB` of secondary handles that go with the
    /// primary handle (`cgroups/net_cls`); only used with
    /// `--cgroups_net_cls_primary_handle`.
    #[arg(long, env = "MESOS_CGROUPS_NET_CLS_SECONDARY_HANDLES")]
    pub cgroups_net_cls_secondary_handles: Option<String>,

    /// Comma-separated `perf` events (see `perf list`) the
    /// `cgroups/perf_event` isolator samples in each container; unset, none.
    /// Each is reported in `PerfStatistics` under its name in lower case with
    /// `-` turned into `_` (`cpu-cycles` as `cpu_cycles`).
    #[arg(long, env = "MESOS_PERF_EVENTS")]
    pub perf_events: Option<String>,

    /// How often a `perf stat` sample starts; usage reports the latest
    /// sample, whatever the monitoring interval.
    #[arg(long, env = "MESOS_PERF_INTERVAL", value_parser = parse_duration,
          default_value = "60secs")]
    pub perf_interval: Duration,

    /// How long each `perf stat` sample lasts; no longer than
    /// `--perf_interval`.
    #[arg(long, env = "MESOS_PERF_DURATION", value_parser = parse_duration,
          default_value = "10secs")]
    pub perf_duration: Duration,

    /// Limit swap as well as memory (`cgroups/mem`).
    #[arg(long, env = "MESOS_CGROUPS_LIMIT_SWAP", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub cgroups_limit_swap: bool,

    /// Where the fetcher caches downloads (under `slaves/<agent id>`).
    #[arg(
        long,
        env = "MESOS_FETCHER_CACHE_DIR",
        default_value = "/tmp/mesos/fetch"
    )]
    pub fetcher_cache_dir: PathBuf,

    /// How much the fetcher cache may hold; least recently used files
    /// are evicted to make room.
    #[arg(long, env = "MESOS_FETCHER_CACHE_SIZE", value_parser = parse_bytes,
          default_value = "2GB")]
    pub fetcher_cache_size: u64,

    /// How long a download may receive nothing before it is abandoned.
    #[arg(long, env = "MESOS_FETCHER_STALL_TIMEOUT", value_parser = parse_duration,
          default_value = "1mins")]
    pub fetcher_stall_timeout: Duration,

    /// Directory that relative URI paths are resolved against.
    #[arg(long, env = "MESOS_FRAMEWORKS_HOME")]
    pub frameworks_home: Option<String>,

    /// Image kinds containers may name (`docker`; `appc` is not supported
    /// yet). Needs the linux launcher and `filesystem/linux`.
    #[arg(long, env = "MESOS_IMAGE_PROVIDERS")]
    pub image_providers: Option<String>,

    /// How image layers become a root filesystem: `copy`, `bind`,
    /// `overlay` or `aufs`. Unset: `overlay` where the kernel has it, else
    /// `aufs`, else `copy` (`bind` only when named).
    #[arg(long, env = "MESOS_IMAGE_PROVISIONER_BACKEND")]
    pub image_provisioner_backend: Option<String>,

    /// Where Docker images come from: a registry URL, or a directory of
    /// `docker save` tarballs named `<repository>:<tag>.tar`.
    #[arg(
        long,
        env = "MESOS_DOCKER_REGISTRY",
        default_value = "https://registry-1.docker.io"
    )]
    pub docker_registry: String,

    /// Where pulled Docker layers and images are kept.
    #[arg(
        long,
        env = "MESOS_DOCKER_STORE_DIR",
        default_value = "/tmp/mesos/store/docker"
    )]
    pub docker_store_dir: PathBuf,

    /// Registry credentials: a Docker `config.json` (its path, or the JSON
    /// itself), `auths` with base64 `user:password` per registry.
    #[arg(long, env = "MESOS_DOCKER_CONFIG")]
    pub docker_config: Option<String>,

    /// Where a container with an image root filesystem finds its sandbox.
    #[arg(
        long,
        env = "MESOS_SANDBOX_DIRECTORY",
        default_value = "/mnt/mesos/sandbox"
    )]
    pub sandbox_directory: String,

    /// Lowest level logged: `INFO`, `WARNING` or `ERROR`.
    #[arg(long, env = "MESOS_LOGGING_LEVEL", default_value = "INFO")]
    pub logging_level: String,

    /// Log nothing to stderr.
    #[arg(long, env = "MESOS_QUIET", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub quiet: bool,
}

/// A flag value the agent cannot honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FlagError(pub String);

impl Flags {
    /// Parses `args` (the program name first) after stout-style
    /// prefiltering, then validates.
    pub fn parse_from_args(args: impl IntoIterator<Item = String>) -> Result<Self, anyhow::Error> {
        let args = libprocess::flags::prefilter(args, "MESOS_", PATH_FLAGS)?;
        let flags = Self::try_parse_from(args)?;
        flags.validate()?;
        Ok(flags)
    }

    /// Reads `--http_credentials` (none when unset or empty).
    pub fn load_http_credentials(
        &self,
    ) -> Result<Option<mesos_proto::mesos::Credentials>, FlagError> {
        let Some(value) = &self.http_credentials else {
            return Ok(None);
        };
        let path = mesos_authentication::credentials::flag_path(value);
        mesos_authentication::credentials::read(&path)
            .map_err(|error| FlagError(format!("{error} (see --http_credentials flag)")))
    }

    /// The endpoints `--firewall_rules` disables (none without it).
    pub fn disabled_endpoints(&self) -> Result<std::collections::HashSet<String>, FlagError> {
        libprocess::firewall::flag(self.firewall_rules.as_deref()).map_err(FlagError)
    }

    /// Refuses values this agent does not support yet.
    pub fn validate(&self) -> Result<(), FlagError> {
        self.disabled_endpoints()?;
        if self.ip.is_some() && self.ip_discovery_command.is_some() {
            return Err(FlagError(
                "Only one of `--ip` or `--ip_discovery_command` should be specified".into(),
            ));
        }
        if self.http_authenticators != "basic" {
            return Err(FlagError(format!(
                "--http_authenticators: '{}' is not supported: only 'basic' (no modules)",
                self.http_authenticators
            )));
        }
        if (self.authenticate_http_readonly || self.authenticate_http_readwrite)
            && self.load_http_credentials()?.is_none()
        {
            return Err(FlagError(
                "No credentials provided for the default 'basic' HTTP authenticator \
                 (see --http_credentials)"
                    .into(),
            ));
        }
        if self.authenticatee != mesos_authentication::CRAM_MD5 {
            return Err(FlagError(format!(
                "Authenticatee '{}' is not supported: only 'crammd5' (no modules)",
                self.authenticatee
            )));
        }
        if self.authentication_timeout_min > self.authentication_timeout_max {
            return Err(FlagError(
                "--authentication_timeout_min must not exceed --authentication_timeout_max".into(),
            ));
        }
        if self.master.starts_with("zk://") {
            return Err(FlagError(
                "--master=zk://... is not supported yet (ZooKeeper detection comes with the \
                 high-availability work); give the master as host:port"
                    .into(),
            ));
        }
        for containerizer in self.containerizers.split(',').map(str::trim) {
            if containerizer != "mesos" {
                return Err(FlagError(format!(
                    "--containerizers: '{containerizer}' is not supported yet; use 'mesos'"
                )));
            }
        }
        // Upstream's deprecated whole values (`process`, `cgroups`) stand
        // for their replacements (the containerizer warns about them).
        let isolation =
            crate::containerizer::mesos::isolators::deprecated_replacement(&self.isolation)
                .unwrap_or(&self.isolation);
        let supported = crate::containerizer::mesos::isolators::supported();
        for isolator in isolation
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            if !supported.contains(&isolator) {
                return Err(FlagError(format!(
                    "--isolation: isolator '{isolator}' is not supported yet (supported: {})",
                    supported.join(", ")
                )));
            }
        }
        if self.recover != "reconnect" && self.recover != "cleanup" {
            return Err(FlagError(format!(
                "Unknown option for 'recover' flag {}. Please run the agent with '--help' \
                 to see the valid options",
                self.recover
            )));
        }
        if !(0.0..=1.0).contains(&self.gc_disk_headroom) {
            return Err(FlagError(format!(
                "Invalid value '{}' for --gc_disk_headroom. Must be between 0.0 and 1.0",
                self.gc_disk_headroom
            )));
        }
        if let Some(json) = &self.executor_environment_variables {
            parse_environment(json)?;
        }
        for (flag, json) in [
            ("effective_capabilities", &self.effective_capabilities),
            ("bounding_capabilities", &self.bounding_capabilities),
        ] {
            if let Some(json) = json {
                mesos_proto::json::from_str::<mesos_proto::mesos::CapabilityInfo>(json)
                    .map_err(|e| FlagError(format!("Failed to parse '{flag}': {e}")))?;
            }
        }
        #[cfg(target_os = "linux")]
        if let Some(json) = &self.allowed_devices {
            crate::containerizer::mesos::isolators::cgroups::device_entries(json)
                .map_err(FlagError)?;
        }
        let launcher = self.launcher();
        if let Some(providers) = &self.image_providers {
            for provider in providers
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                match provider.to_ascii_lowercase().as_str() {
                    "docker" => {}
                    "appc" => {
                        return Err(FlagError(
                            "--image_providers: 'appc' is not supported yet; use 'docker'".into(),
                        ))
                    }
                    other => {
                        return Err(FlagError(format!(
                            "--image_providers: unknown image provider '{other}'"
                        )))
                    }
                }
            }
            if launcher != "linux" {
                return Err(FlagError(
                    "--image_providers needs the linux launcher (--launcher=linux, as root)".into(),
                ));
            }
            if !self
                .isolation
                .split(',')
                .any(|i| i.trim() == "filesystem/linux")
            {
                return Err(FlagError(
                    "--image_providers needs the 'filesystem/linux' isolator in --isolation".into(),
                ));
            }
            if let Some(config) = &self.docker_config {
                crate::containerizer::mesos::provisioner::store::docker::config::Credentials::parse_flag(config)
                    .map_err(|e| FlagError(format!("--docker_config: {e}")))?;
            }
        }
        if let Some(backend) = &self.image_provisioner_backend {
            if !crate::containerizer::mesos::provisioner::backend::NAMES.contains(&backend.as_str())
            {
                return Err(FlagError(format!(
                    "--image_provisioner_backend: unknown backend '{backend}' (known: {})",
                    crate::containerizer::mesos::provisioner::backend::NAMES.join(", ")
                )));
            }
        }
        if !self.sandbox_directory.starts_with('/') {
            return Err(FlagError(format!(
                "--sandbox_directory: '{}' is not an absolute path",
                self.sandbox_directory
            )));
        }
        if launcher != "posix" && launcher != "linux" {
            return Err(FlagError(format!(
                "Unknown or unsupported launcher: {launcher}; use 'linux' or 'posix'"
            )));
        }
        if launcher == "posix" {
            if let Some(isolator) =
                crate::containerizer::mesos::isolators::need_linux_launcher(isolation)
            {
                return Err(FlagError(format!(
                    "--isolation: the '{isolator}' isolator requires the linux launcher \
                     (--launcher=linux, as root)"
                )));
            }
        }
        if (launcher == "linux" || isolation.contains("cgroups/"))
            && !self.cgroups_hierarchy.is_dir()
        {
            return Err(FlagError(format!(
                "--cgroups_hierarchy: '{}' is not a directory",
                self.cgroups_hierarchy.display()
            )));
        }
        Ok(())
    }

    /// The launcher: `--launcher`, or upstream's default (`linux` when
    /// running as root on a machine with a freezer or a v2 hierarchy).
    pub fn launcher(&self) -> String {
        if let Some(launcher) = &self.launcher {
            return launcher.clone();
        }
        if linux_launcher_available() {
            "linux".into()
        } else {
            "posix".into()
        }
    }

    /// The garbage collector's options from these flags.
    pub fn gc_options(&self) -> crate::gc::GcOptions {
        crate::gc::GcOptions {
            gc_delay: self.gc_delay,
            disk_watch_interval: self.disk_watch_interval,
            gc_disk_headroom: self.gc_disk_headroom,
        }
    }

    /// `--runtime_dir`, or upstream's default.
    pub fn runtime_dir(&self) -> PathBuf {
        self.runtime_dir.clone().unwrap_or_else(|| {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } == 0 {
                PathBuf::from("/var/run/mesos")
            } else {
                std::env::temp_dir().join("mesos").join("runtime")
            }
        })
    }

    /// The containerizer's options from these flags.
    pub fn containerizer_options(&self) -> crate::containerizer::ContainerizerOptions {
        crate::containerizer::ContainerizerOptions {
            launcher: self.launcher(),
            isolation: self.isolation.clone(),
            cgroups_hierarchy: self.cgroups_hierarchy.clone(),
            cgroups_root: self.cgroups_root.clone(),
            cgroups_enable_cfs: self.cgroups_enable_cfs,
            cgroups_limit_swap: self.cgroups_limit_swap,
            revocable_cpu_low_priority: self.revocable_cpu_low_priority,
            effective_capabilities: self
                .effective_capabilities
                .as_deref()
                .and_then(|json| mesos_proto::json::from_str(json).ok()),
            bounding_capabilities: self
                .bounding_capabilities
                .as_deref()
                .and_then(|json| mesos_proto::json::from_str(json).ok()),
            allowed_devices: self
                .allowed_devices
                .as_deref()
                .and_then(|json| {
                    crate::containerizer::mesos::isolators::cgroups::device_entries(json).ok()
                })
                .unwrap_or_default(),
            #[cfg(target_os = "linux")]
            cgroups_net_cls:
                crate::containerizer::mesos::isolators::cgroups::net_cls::NetClsFlags {
                    primary_handle: self.cgroups_net_cls_primary_handle.clone(),
                    secondary_handles: self.cgroups_net_cls_secondary_handles.clone(),
                },
            #[cfg(target_os = "linux")]
            perf: crate::containerizer::mesos::isolators::cgroups::perf_event::PerfFlags {
                events: self.perf_events.clone(),
                interval: self.perf_interval,
                duration: self.perf_duration,
            },
            proc_root: PathBuf::from("/proc"),
            host_path_volume_force_creation: self.host_path_volume_force_creation.clone(),
            cgroups_destroy_timeout: self.cgroups_destroy_timeout,
            cgroups_cpu_enable_pids_and_tids_count: self.cgroups_cpu_enable_pids_and_tids_count,
            disk_watch_interval: self.container_disk_watch_interval,
            enforce_disk_quota: self.enforce_container_disk_quota,
            executor_environment_variables: self
                .executor_environment_variables
                .as_deref()
                .and_then(|json| parse_environment(json).ok()),
            fetcher_cache_dir: self.fetcher_cache_dir.clone(),
            fetcher_cache_size: self.fetcher_cache_size,
            fetcher_stall_timeout: self.fetcher_stall_timeout,
            frameworks_home: self.frameworks_home.clone(),
            http_command_executor: self.http_command_executor,
            switch_user: self.switch_user,
            sandbox_directory: self.sandbox_directory.clone(),
            provisioner: self.image_providers.as_ref().map(|_| {
                crate::containerizer::mesos::provisioner::ProvisionerOptions {
                    work_dir: self.work_dir.clone(),
                    backend: self.image_provisioner_backend.clone(),
                    docker_registry: self.docker_registry.clone(),
                    docker_store_dir: self.docker_store_dir.clone(),
                    docker_config: self.docker_config.clone(),
                    proc_root: PathBuf::from("/proc"),
                }
            }),
            work_dir: self.work_dir.clone(),
            runtime_dir: self.runtime_dir(),
            http_heartbeat_interval: Some(self.http_heartbeat_interval),
            io_switchboard_enable_server: self.io_switchboard_enable_server,
            namespaces: crate::containerizer::mesos::isolators::namespaces::NamespaceOptions {
                default_shm_size: self.default_container_shm_size,
                disallow_sharing_agent_ipc_namespace: self.disallow_sharing_agent_ipc_namespace,
                disallow_sharing_agent_pid_namespace: self.disallow_sharing_agent_pid_namespace,
            },
        }
    }

    /// Returns the master's UPID from `--master`.
    pub fn master_pid(&self) -> Result<libprocess::UPID, FlagError> {
        let text = match self.master.strip_prefix("file://") {
            Some(path) => std::fs::read_to_string(path)
                .map(|s| s.trim().to_string())
                .map_err(|e| FlagError(format!("failed to read --master file '{path}': {e}")))?,
            None => self.master.clone(),
        };
        let text = text.trim_start_matches("http://");
        let with_id = if text.contains('@') {
            text.to_string()
        } else {
            format!("master@{text}")
        };
        with_id
            .parse()
            .map_err(|e| FlagError(format!("invalid --master '{}': {e}", self.master)))
    }

    /// Returns every flag with its value, for `/flags`.
    pub fn to_map(&self) -> Vec<(&'static str, String)> {
        let mut entries = vec![
            ("attributes", self.attributes.clone()),
            ("containerizers", Some(self.containerizers.clone())),
            ("default_role", Some(self.default_role.clone())),
            (
                "executor_registration_timeout",
                Some(format_duration(self.executor_registration_timeout)),
            ),
            (
                "executor_reregistration_timeout",
                Some(format_duration(self.executor_reregistration_timeout)),
            ),
            (
                "executor_reregistration_retry_interval",
                self.executor_reregistration_retry_interval
                    .map(format_duration),
            ),
            (
                "executor_shutdown_grace_period",
                Some(format_duration(self.executor_shutdown_grace_period)),
            ),
            (
                "fetcher_cache_dir",
                Some(self.fetcher_cache_dir.display().to_string()),
            ),
            (
                "fetcher_cache_size",
                Some(format_bytes(self.fetcher_cache_size)),
            ),
            (
                "fetcher_stall_timeout",
                Some(format_duration(self.fetcher_stall_timeout)),
            ),
            ("frameworks_home", self.frameworks_home.clone()),
            ("image_providers", self.image_providers.clone()),
            (
                "image_provisioner_backend",
                self.image_provisioner_backend.clone(),
            ),
            ("docker_registry", Some(self.docker_registry.clone())),
            (
                "docker_store_dir",
                Some(self.docker_store_dir.display().to_string()),
            ),
            // Credentials are not shown.
            (
                "docker_config",
                self.docker_config.as_ref().map(|_| "<set>".to_string()),
            ),
            ("sandbox_directory", Some(self.sandbox_directory.clone())),
            ("hostname", self.hostname.clone()),
            ("hostname_lookup", Some(self.hostname_lookup.to_string())),
            ("ip", self.ip.map(|ip| ip.to_string())),
            ("isolation", Some(self.isolation.clone())),
            ("launcher", Some(self.launcher())),
            (
                "cgroups_hierarchy",
                Some(self.cgroups_hierarchy.display().to_string()),
            ),
            ("cgroups_root", Some(self.cgroups_root.clone())),
            ("allowed_devices", self.allowed_devices.clone()),
            ("switch_user", Some(self.switch_user.to_string())),
            (
                "runtime_dir",
                Some(self.runtime_dir().display().to_string()),
            ),
            (
                "http_heartbeat_interval",
                Some(format_duration(self.http_heartbeat_interval)),
            ),
            (
                "io_switchboard_enable_server",
                Some(self.io_switchboard_enable_server.to_string()),
            ),
            (
                "default_container_shm_size",
                self.default_container_shm_size.map(format_bytes),
            ),
            (
                "disallow_sharing_agent_ipc_namespace",
                Some(self.disallow_sharing_agent_ipc_namespace.to_string()),
            ),
            (
                "disallow_sharing_agent_pid_namespace",
                Some(self.disallow_sharing_agent_pid_namespace.to_string()),
            ),
            (
                "effective_capabilities",
                self.effective_capabilities.clone(),
            ),
            ("bounding_capabilities", self.bounding_capabilities.clone()),
            (
                "cgroups_destroy_timeout",
                Some(format_duration(self.cgroups_destroy_timeout)),
            ),
            (
                "host_path_volume_force_creation",
                self.host_path_volume_force_creation.clone(),
            ),
            (
                "cgroups_cpu_enable_pids_and_tids_count",
                Some(self.cgroups_cpu_enable_pids_and_tids_count.to_string()),
            ),
            (
                "container_disk_watch_interval",
                Some(format_duration(self.container_disk_watch_interval)),
            ),
            ("gc_delay", Some(format_duration(self.gc_delay))),
            (
                "disk_watch_interval",
                Some(format_duration(self.disk_watch_interval)),
            ),
            ("gc_disk_headroom", Some(self.gc_disk_headroom.to_string())),
            (
                "executor_environment_variables",
                self.executor_environment_variables.clone(),
            ),
            (
                "enforce_container_disk_quota",
                Some(self.enforce_container_disk_quota.to_string()),
            ),
            (
                "http_command_executor",
                Some(self.http_command_executor.to_string()),
            ),
            (
                "cgroups_enable_cfs",
                Some(self.cgroups_enable_cfs.to_string()),
            ),
            (
                "cgroups_limit_swap",
                Some(self.cgroups_limit_swap.to_string()),
            ),
            (
                "revocable_cpu_low_priority",
                Some(self.revocable_cpu_low_priority.to_string()),
            ),
            (
                "cgroups_net_cls_primary_handle",
                self.cgroups_net_cls_primary_handle.clone(),
            ),
            (
                "cgroups_net_cls_secondary_handles",
                self.cgroups_net_cls_secondary_handles.clone(),
            ),
            ("perf_events", self.perf_events.clone()),
            ("perf_interval", Some(format_duration(self.perf_interval))),
            ("perf_duration", Some(format_duration(self.perf_duration))),
            (
                "launcher_dir",
                self.launcher_dir.as_ref().map(|p| p.display().to_string()),
            ),
            ("logging_level", Some(self.logging_level.clone())),
            ("master", Some(self.master.clone())),
            ("port", Some(self.port.to_string())),
            ("quiet", Some(self.quiet.to_string())),
            ("recover", Some(self.recover.clone())),
            (
                "recovery_timeout",
                Some(format_duration(self.recovery_timeout)),
            ),
            ("authenticatee", Some(self.authenticatee.clone())),
            (
                "authenticate_http_readonly",
                Some(self.authenticate_http_readonly.to_string()),
            ),
            (
                "authenticate_http_readwrite",
                Some(self.authenticate_http_readwrite.to_string()),
            ),
            (
                "http_authenticators",
                Some(self.http_authenticators.clone()),
            ),
            ("http_credentials", self.http_credentials.clone()),
            ("firewall_rules", self.firewall_rules.clone()),
            ("ip_discovery_command", self.ip_discovery_command.clone()),
            (
                "authentication_backoff_factor",
                Some(format_duration(self.authentication_backoff_factor)),
            ),
            (
                "authentication_timeout_max",
                Some(format_duration(self.authentication_timeout_max)),
            ),
            (
                "authentication_timeout_min",
                Some(format_duration(self.authentication_timeout_min)),
            ),
            ("credential", self.credential.clone()),
            (
                "registration_backoff_factor",
                Some(format_duration(self.registration_backoff_factor)),
            ),
            ("resources", self.resources.clone()),
            ("strict", Some(self.strict.to_string())),
            ("work_dir", Some(self.work_dir.display().to_string())),
        ];
        entries.sort_by_key(|(k, _)| *k);
        entries
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect()
    }
}

/// `--executor_environment_variables`: a JSON object of strings.
fn parse_environment(json: &str) -> Result<Vec<(String, String)>, FlagError> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        FlagError(format!(
            "Failed to parse 'executor_environment_variables': {e}"
        ))
    })?;
    let serde_json::Value::Object(object) = value else {
        return Err(FlagError(
            "`executor_environment_variables` must be a JSON object".into(),
        ));
    };
    object
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(value) => Ok((key, value)),
            _ => Err(FlagError(
                "`executor_environment_variables` must only contain string values".into(),
            )),
        })
        .collect()
}

/// Formats a size as stout prints `Bytes` (`2GB`, `512MB`, `100B`).
fn format_bytes(bytes: u64) -> String {
    for (unit, size) in [
        ("TB", 1u64 << 40),
        ("GB", 1 << 30),
        ("MB", 1 << 20),
        ("KB", 1 << 10),
    ] {
        if bytes >= size && bytes % size == 0 {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
}

/// Whether the Linux launcher can run here (upstream
/// `LinuxLauncher::available`): root, and a freezer or v2 hierarchy.
pub fn linux_launcher_available() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return false;
        }
        match crate::linux::Hierarchy::detect(std::path::Path::new("/proc")) {
            Ok(crate::linux::Hierarchy::V1(hierarchies)) => hierarchies.get("freezer").is_some(),
            Ok(crate::linux::Hierarchy::V2(_)) => true,
            Err(_) => false,
        }
    }
    #[cfg(not(target_os = "linux"))]
    false
}

#[cfg(test)]
mod tests {

    #[test]
    fn firewall_rules_name_the_disabled_endpoints() {
        let flags =
            parse(&[r#"--firewall_rules={"disabled_endpoints":{"paths":["/files/browse"]}}"#])
                .unwrap();
        let disabled = flags.disabled_endpoints().unwrap();
        assert_eq!(
            disabled.into_iter().collect::<Vec<_>>(),
            vec!["/files/browse"]
        );
        let error = parse(&["--firewall_rules=[1]"]).unwrap_err();
        assert!(error.contains("--firewall_rules"), "{error}");
    }

    #[test]
    fn boolean_flags_take_stouts_values() {
        assert!(
            parse(&["--cgroups_enable_cfs=1"])
                .unwrap()
                .cgroups_enable_cfs
        );
        assert!(!parse(&["--switch_user=0"]).unwrap().switch_user);
        assert!(parse(&["--quiet"]).unwrap().quiet);
        assert!(parse(&["--enforce_container_disk_quota=yes"]).is_err());
        assert!(parse(&[]).unwrap().revocable_cpu_low_priority);
        assert!(
            !parse(&["--no-revocable_cpu_low_priority"])
                .unwrap()
                .revocable_cpu_low_priority
        );
    }

    #[test]
    fn executor_environment_variables_are_a_json_object_of_strings() {
        assert_eq!(
            parse_environment(r#"{"PATH":"/bin","A":"b"}"#).expect("valid"),
            vec![
                ("PATH".to_string(), "/bin".to_string()),
                ("A".into(), "b".into())
            ]
        );
        let error = parse_environment(r#"{"A":1}"#).expect_err("number");
        assert!(
            error.0.contains("must only contain string values"),
            "{error}"
        );
        assert!(parse_environment("[]").is_err());
        assert!(parse_environment("{").is_err());
    }

    use super::*;

    fn parse(extra: &[&str]) -> Result<Flags, String> {
        let args = [
            "mesos-agent",
            "--master=127.0.0.1:5050",
            "--work_dir=/tmp/w",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string());
        Flags::parse_from_args(args).map_err(|e| e.to_string())
    }

    #[test]
    fn deprecated_isolation_values_are_accepted_for_their_replacements() {
        let flags = parse(&["--isolation=process"]).unwrap();
        assert_eq!(flags.isolation, "process", "kept as given, as upstream");
        let error = parse(&["--isolation=cgroups", "--launcher=posix"]).unwrap_err();
        assert!(
            error.contains("'cgroups/cpu' isolator requires the linux launcher"),
            "{error}"
        );
        let error = parse(&["--isolation=cgroups,posix/mem"]).unwrap_err();
        assert!(
            error.contains("isolator 'cgroups' is not supported yet"),
            "{error}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn net_cls_and_perf_flags_reach_the_containerizer_with_upstreams_defaults() {
        let flags = parse(&[]).unwrap();
        let options = flags.containerizer_options();
        assert_eq!(options.cgroups_net_cls, Default::default());
        assert_eq!(options.perf.events, None);
        assert_eq!(options.perf.interval, Duration::from_secs(60));
        assert_eq!(options.perf.duration, Duration::from_secs(10));
        let map = flags.to_map();
        assert!(
            map.contains(&("perf_interval", "1mins".to_string())),
            "{map:?}"
        );
        assert!(
            map.contains(&("perf_duration", "10secs".to_string())),
            "{map:?}"
        );
        assert!(!map.iter().any(|(k, _)| *k == "perf_events"), "{map:?}");
        let flags = parse(&[
            "--cgroups_net_cls_primary_handle=0x0012",
            "--cgroups_net_cls_secondary_handles=0x0011,0x0012",
            "--perf_events=cycles,task-clock",
            "--perf_interval=500ms",
            "--perf_duration=250ms",
        ])
        .unwrap();
        let options = flags.containerizer_options();
        assert_eq!(
            options.cgroups_net_cls.primary_handle.as_deref(),
            Some("0x0012")
        );
        assert_eq!(
            options.cgroups_net_cls.secondary_handles.as_deref(),
            Some("0x0011,0x0012")
        );
        assert_eq!(options.perf.events.as_deref(), Some("cycles,task-clock"));
        assert_eq!(options.perf.interval, Duration::from_millis(500));
        assert_eq!(options.perf.duration, Duration::from_millis(250));
        let map = flags.to_map();
        for (key, value) in [
            ("cgroups_net_cls_primary_handle", "0x0012"),
            ("cgroups_net_cls_secondary_handles", "0x0011,0x0012"),
            ("perf_events", "cycles,task-clock"),
            ("perf_interval", "500ms"),
            ("perf_duration", "250ms"),
        ] {
            assert!(map.contains(&(key, value.to_string())), "{key}: {map:?}");
        }
        assert!(parse(&["--perf_interval=soon"]).is_err());
    }

    #[test]
    fn the_cgroups_destroy_timeout_reaches_the_containerizer() {
        let flags = parse(&[]).unwrap();
        assert_eq!(
            flags.containerizer_options().cgroups_destroy_timeout,
            Duration::from_secs(60)
        );
        assert!(flags
            .to_map()
            .contains(&("cgroups_destroy_timeout", "1mins".to_string())));
        let flags = parse(&["--cgroups_destroy_timeout=5secs"]).unwrap();
        assert_eq!(
            flags.containerizer_options().cgroups_destroy_timeout,
            Duration::from_secs(5)
        );
        assert!(parse(&["--cgroups_destroy_timeout=never"]).is_err());
    }

    #[test]
    fn authentication_flags_have_upstreams_defaults() {
        let flags = parse(&[]).unwrap();
        assert_eq!(flags.credential, None);
        assert_eq!(flags.authenticatee, "crammd5");
        assert_eq!(flags.authentication_backoff_factor, Duration::from_secs(1));
        assert_eq!(flags.authentication_timeout_min, Duration::from_secs(5));
        assert_eq!(flags.authentication_timeout_max, Duration::from_secs(60));
        // A path flag: the file is not read into the value.
        let flags = parse(&["--credential=file:///etc/mesos/credential"]).unwrap();
        assert_eq!(
            flags.credential.as_deref(),
            Some("file:///etc/mesos/credential")
        );
        let error = parse(&["--authenticatee=kerberos"]).unwrap_err();
        assert!(error.contains("only 'crammd5'"), "{error}");
    }

    #[test]
    fn http_command_executor_is_off_by_default_and_takes_stout_booleans() {
        assert!(!parse(&[]).unwrap().http_command_executor);
        assert!(
            parse(&["--http_command_executor"])
                .unwrap()
                .http_command_executor
        );
        assert!(
            parse(&["--http_command_executor=1"])
                .unwrap()
                .http_command_executor
        );
        assert!(
            !parse(&["--http_command_executor=0"])
                .unwrap()
                .http_command_executor
        );
        assert!(
            !parse(&["--no-http_command_executor"])
                .unwrap()
                .http_command_executor
        );
        assert!(parse(&["--http_command_executor=yes"]).is_err());
    }

    #[test]
    fn recover_takes_reconnect_or_cleanup() {
        assert_eq!(parse(&[]).unwrap().recover, "reconnect");
        assert_eq!(parse(&["--recover=cleanup"]).unwrap().recover, "cleanup");
        let error = parse(&["--recover=kill"]).unwrap_err();
        assert!(
            error.contains("Unknown option for 'recover' flag kill"),
            "{error}"
        );
    }

    #[test]
    fn fetcher_flags_have_upstream_defaults() {
        let flags = parse(&[]).unwrap();
        assert_eq!(flags.fetcher_cache_dir, PathBuf::from("/tmp/mesos/fetch"));
        assert_eq!(flags.fetcher_cache_size, 2 << 30);
        assert_eq!(flags.fetcher_stall_timeout, Duration::from_secs(60));
        let map = flags.to_map();
        assert!(
            map.contains(&("fetcher_cache_size", "2GB".to_string())),
            "{map:?}"
        );
        assert!(
            map.contains(&("fetcher_stall_timeout", "1mins".to_string())),
            "{map:?}"
        );
        let flags = parse(&["--fetcher_cache_size=100MB", "--frameworks_home=/opt/fw"]).unwrap();
        assert_eq!(flags.fetcher_cache_size, 100 << 20);
        assert_eq!(
            flags.containerizer_options().frameworks_home.as_deref(),
            Some("/opt/fw")
        );
    }

    #[test]
    fn strict_recovery_is_the_default_and_can_be_turned_off() {
        assert!(parse(&[]).unwrap().strict);
        assert!(parse(&["--strict=true"]).unwrap().strict);
        assert!(!parse(&["--strict=false"]).unwrap().strict);
    }
}
