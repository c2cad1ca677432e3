//! `mesos-master` flags: upstream's names, defaults and meaning
//! (`src/master/flags.cpp`, `docs/configuration/master.md`).
//!
//! Every flag also reads `MESOS_<NAME>` (upper case, or as spelt after
//! [`libprocess::flags::prefilter`]). A flag upstream has and we do not is
//! refused by the parser as unknown; a value we cannot honour yet is refused
//! by [`Flags::validate`] with a message that says so. Nothing is ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};
use libprocess::flags::{format_duration, parse_duration};

/// The log file the master writes in `--log_dir`.
pub const LOG_FILE: &str = "mesos-master.log";

/// Flags that name paths: their `file://` values are not read.
pub const PATH_FLAGS: &[&str] = &[
    "work_dir",
    "log_dir",
    "external_log_file",
    "whitelist",
    "webui_dir",
    "credentials",
    "http_credentials",
];

/// The master's command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "mesos-master",
    rename_all = "snake_case",
    version = crate::VERSION,
    about = "Apache Mesos master, reimplemented in Rust"
)]
pub struct Flags {
    /// IP address to listen on (`LIBPROCESS_IP`).
    #[arg(long, env = "MESOS_IP")]
    pub ip: Option<Ipv4Addr>,

    /// Port to listen on.
    #[arg(long, env = "MESOS_PORT", default_value_t = 5050)]
    pub port: u16,

    /// IP address advertised to reach this master (NAT, containers).
    #[arg(long, env = "MESOS_ADVERTISE_IP")]
    pub advertise_ip: Option<Ipv4Addr>,

    /// Port advertised to reach this master.
    #[arg(long, env = "MESOS_ADVERTISE_PORT")]
    pub advertise_port: Option<u16>,

    /// Host name advertised in `MasterInfo`; defaults to this host's name
    /// (or its IP with `--no-hostname_lookup`).
    #[arg(long, env = "MESOS_HOSTNAME")]
    pub hostname: Option<String>,

    /// Whether to look up the host name when `--hostname` is unset.
    #[arg(long, env = "MESOS_HOSTNAME_LOOKUP", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true", value_parser = libprocess::flags::parse_bool_flag)]
    pub hostname_lookup: bool,

    /// Directory for the durable registry (required unless
    /// `--registry=in_memory`).
    #[arg(long, env = "MESOS_WORK_DIR")]
    pub work_dir: Option<PathBuf>,

    /// Where the registry lives: `replicated_log` (durable, under
    /// `--work_dir`) or `in_memory` (lost on restart).
    #[arg(long, env = "MESOS_REGISTRY", default_value = "replicated_log")]
    pub registry: String,

    /// Replicas needed for a registry write; only 1 (a single master)
    /// is supported until the HA issue.
    #[arg(long, env = "MESOS_QUORUM")]
    pub quorum: Option<u32>,

    /// ZooKeeper URL for leader election; not supported yet.
    #[arg(long, env = "MESOS_ZK")]
    pub zk: Option<String>,

    /// Human-readable cluster name, shown in the state endpoints.
    #[arg(long, env = "MESOS_CLUSTER")]
    pub cluster: Option<String>,

    /// Time between pings to an agent.
    #[arg(long, env = "MESOS_AGENT_PING_TIMEOUT", alias = "slave_ping_timeout",
          value_parser = parse_duration, default_value = "15secs")]
    pub agent_ping_timeout: Duration,

    /// Unanswered pings after which an agent is unreachable.
    #[arg(
        long,
        env = "MESOS_MAX_AGENT_PING_TIMEOUTS",
        alias = "max_slave_ping_timeouts",
        default_value_t = 5
    )]
    pub max_agent_ping_timeouts: u32,

    /// Time a recovered agent has to re-register after a master restart
    /// before it is marked unreachable (at least 10 minutes).
    #[arg(long, env = "MESOS_AGENT_REREGISTER_TIMEOUT", alias = "slave_reregister_timeout",
          value_parser = parse_duration, default_value = "10mins")]
    pub agent_reregister_timeout: Duration,

    /// Time between allocation cycles (offers are also made right after
    /// changes that free or add resources).
    #[arg(long, env = "MESOS_ALLOCATION_INTERVAL", value_parser = parse_duration,
          default_value = "1secs")]
    pub allocation_interval: Duration,

    /// Rescind offers a framework holds longer than this (never when
    /// unset).
    #[arg(long, env = "MESOS_OFFER_TIMEOUT", value_parser = parse_duration)]
    pub offer_timeout: Option<Duration>,

    /// Completed frameworks kept in memory for the state endpoints.
    #[arg(long, env = "MESOS_MAX_COMPLETED_FRAMEWORKS", default_value_t = 50)]
    pub max_completed_frameworks: u32,

    /// Completed tasks kept per framework.
    #[arg(
        long,
        env = "MESOS_MAX_COMPLETED_TASKS_PER_FRAMEWORK",
        default_value_t = 1000
    )]
    pub max_completed_tasks_per_framework: u32,

    /// Unreachable tasks kept per framework.
    #[arg(
        long,
        env = "MESOS_MAX_UNREACHABLE_TASKS_PER_FRAMEWORK",
        default_value_t = 1000
    )]
    pub max_unreachable_tasks_per_framework: u32,

    /// Operator API event streams (`SUBSCRIBE`) kept open at once; a new
    /// one beyond this closes the oldest.
    #[arg(
        long,
        env = "MESOS_MAX_OPERATOR_EVENT_STREAM_SUBSCRIBERS",
        default_value_t = 1000
    )]
    pub max_operator_event_stream_subscribers: u32,

    /// Whether agents with GPUs are offered only to frameworks with the
    /// `GPU_RESOURCES` capability.
    #[arg(long, env = "MESOS_FILTER_GPU_RESOURCES", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true", value_parser = libprocess::flags::parse_bool_flag)]
    pub filter_gpu_resources: bool,

    /// Whether each framework's metrics are published under
    /// `master/frameworks/<name>/<id>/`.
    #[arg(long, env = "MESOS_PUBLISH_PER_FRAMEWORK_METRICS", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true", value_parser = libprocess::flags::parse_bool_flag)]
    pub publish_per_framework_metrics: bool,

    /// The master's domain, a `DomainInfo` as JSON (or `file:///path`
    /// to one) with a `fault_domain`: agents in other regions are offered
    /// only to `REGION_AWARE` frameworks.
    #[arg(long, env = "MESOS_DOMAIN")]
    pub domain: Option<String>,

    /// Whether only agents with a domain may register.
    #[arg(long, env = "MESOS_REQUIRE_AGENT_DOMAIN", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub require_agent_domain: bool,

    /// Deprecated: the only roles frameworks may use, comma-separated
    /// (`*` is always allowed). Unset: any valid role.
    #[arg(long, env = "MESOS_ROLES")]
    pub roles: Option<String>,

    /// How fast agents that fail health checks (or do not re-register
    /// after a failover) are marked unreachable: `N/duration`, e.g.
    /// `1/20mins`; unset: at once.
    #[arg(
        long,
        env = "MESOS_AGENT_REMOVAL_RATE_LIMIT",
        alias = "slave_removal_rate_limit"
    )]
    pub agent_removal_rate_limit: Option<String>,

    /// How often unreachable and gone agents are pruned from the
    /// registry.
    #[arg(long, env = "MESOS_REGISTRY_GC_INTERVAL", value_parser = parse_duration,
          default_value = "15mins")]
    pub registry_gc_interval: Duration,

    /// The largest share of the agents in the registry that may not come
    /// back after a failover before the master gives up instead of
    /// marking them unreachable (a percentage, `0%` to `100%`).
    #[arg(
        long,
        env = "MESOS_RECOVERY_AGENT_REMOVAL_LIMIT",
        alias = "recovery_slave_removal_limit",
        default_value = "100%"
    )]
    pub recovery_agent_removal_limit: String,

    /// After a failover with quota, the share of the registry's agents
    /// that must be back before offers resume.
    #[arg(
        long,
        env = "MESOS_ALLOCATOR_AGENT_RECOVERY_FACTOR",
        default_value_t = 0.8
    )]
    pub allocator_agent_recovery_factor: f64,

    /// After a failover with quota, the longest offers wait for agents to
    /// come back.
    #[arg(long, env = "MESOS_ALLOCATOR_RECOVERY_TIMEOUT", value_parser = parse_duration,
          default_value = "10mins")]
    pub allocator_recovery_timeout: Duration,

    /// The web UI's files (`index.html`, `app/`, `assets/`), served at
    /// `/`, `/app/*` and `/assets/*`.
    #[arg(
        long,
        env = "MESOS_WEBUI_DIR",
        default_value = "/usr/local/share/mesos/webui"
    )]
    pub webui_dir: PathBuf,

    /// The allocator: only upstream's built-in `HierarchicalDRF` (no
    /// modules).
    #[arg(long, env = "MESOS_ALLOCATOR", default_value = "HierarchicalDRF")]
    pub allocator: String,

    /// How roles are ordered: only `drf` (upstream's default).
    #[arg(
        long,
        env = "MESOS_ROLE_SORTER",
        alias = "user_sorter",
        default_value = "drf"
    )]
    pub role_sorter: String,

    /// How a role's frameworks are ordered: only `drf` (upstream's
    /// default).
    #[arg(long, env = "MESOS_FRAMEWORK_SORTER", default_value = "drf")]
    pub framework_sorter: String,

    /// The authorizer: only upstream's `local`, without ACLs (so, as
    /// upstream without `--acls`, everything is allowed).
    #[arg(long, env = "MESOS_AUTHORIZERS", default_value = "local")]
    pub authorizers: String,

    /// Authorization rules; not supported yet (refused).
    #[arg(long, env = "MESOS_ACLS")]
    pub acls: Option<String>,

    /// Module manifests; refused (modules cannot be loaded).
    #[arg(long, env = "MESOS_MODULES")]
    pub modules: Option<String>,

    /// A directory of module manifests; refused (modules cannot be
    /// loaded).
    #[arg(long, env = "MESOS_MODULES_DIR")]
    pub modules_dir: Option<String>,

    /// Hook modules; refused (modules cannot be loaded).
    #[arg(long, env = "MESOS_HOOKS")]
    pub hooks: Option<String>,

    /// Per-principal rate limits of framework messages; not supported yet
    /// (refused).
    #[arg(long, env = "MESOS_RATE_LIMITS")]
    pub rate_limits: Option<String>,

    /// A file of the host names (one per line) of the agents whose
    /// resources are offered (`/path` or `file:///path`); re-read every
    /// 5 seconds. Without it (or with `*`) every agent is.
    #[arg(long, env = "MESOS_WHITELIST")]
    pub whitelist: Option<String>,

    /// Resources left out of the dominant shares frameworks and roles are
    /// sorted by, comma-separated (e.g. `gpus`).
    #[arg(long, env = "MESOS_FAIR_SHARING_EXCLUDED_RESOURCE_NAMES")]
    pub fair_sharing_excluded_resource_names: Option<String>,

    /// Whether frameworks may run as `root`.
    #[arg(long, env = "MESOS_ROOT_SUBMISSIONS", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true", value_parser = libprocess::flags::parse_bool_flag)]
    pub root_submissions: bool,

    /// Upstream's experimental strict registry; only `false` (its
    /// default) is supported, as upstream.
    #[arg(long, env = "MESOS_REGISTRY_STRICT", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub registry_strict: bool,

    /// How long reading the registry at recovery may take before the
    /// master gives up and exits.
    #[arg(long, env = "MESOS_REGISTRY_FETCH_TIMEOUT", value_parser = parse_duration,
          default_value = "1mins")]
    pub registry_fetch_timeout: Duration,

    /// How long a registry write may take before the master gives up and
    /// exits.
    #[arg(long, env = "MESOS_REGISTRY_STORE_TIMEOUT", value_parser = parse_duration,
          default_value = "20secs")]
    pub registry_store_timeout: Duration,

    /// Unreachable and gone agents older than this are pruned.
    #[arg(long, env = "MESOS_REGISTRY_MAX_AGENT_AGE", alias = "registry_max_slave_age",
          value_parser = parse_duration, default_value = "2weeks")]
    pub registry_max_agent_age: Duration,

    /// At most this many unreachable (and as many gone) agents are kept;
    /// the oldest go first.
    #[arg(
        long,
        env = "MESOS_REGISTRY_MAX_AGENT_COUNT",
        alias = "registry_max_slave_count",
        default_value_t = 102_400
    )]
    pub registry_max_agent_count: usize,

    /// The smallest resources worth offering: sets of quantities split by
    /// `|` (any set suffices), each `name:value` pairs split by `;` (all
    /// needed); a range's or set's quantity is how many values it holds.
    #[arg(
        long,
        env = "MESOS_MIN_ALLOCATABLE_RESOURCES",
        default_value = "cpus:0.01|mem:32"
    )]
    pub min_allocatable_resources: String,

    /// Deprecated: role weights for fair sharing, `role1=2.5,role2=3`.
    /// Used only while the registry holds no weights (they are then
    /// stored there); `UPDATE_WEIGHTS` changes them later.
    #[arg(long, env = "MESOS_WEIGHTS")]
    pub weights: Option<String>,

    /// Require v0 (libprocess) frameworks to authenticate before they
    /// register.
    #[arg(long, env = "MESOS_AUTHENTICATE_FRAMEWORKS", alias = "authenticate",
          action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub authenticate_frameworks: bool,

    /// Require agents to authenticate before they register.
    #[arg(long, env = "MESOS_AUTHENTICATE_AGENTS", alias = "authenticate_slaves",
          action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub authenticate_agents: bool,

    /// Authenticator for frameworks and agents; only `crammd5` (no
    /// authenticator modules).
    #[arg(long, env = "MESOS_AUTHENTICATORS", default_value = "crammd5")]
    pub authenticators: String,

    /// How long a v0 authentication may take before it is discarded.
    #[arg(long, env = "MESOS_AUTHENTICATION_V0_TIMEOUT", value_parser = parse_duration,
          default_value = "15secs")]
    pub authentication_v0_timeout: Duration,

    /// Require HTTP authentication (`Authorization: Basic`) on the
    /// read-only endpoints (`/state`, `/frameworks`, `/flags`, ...).
    #[arg(long, env = "MESOS_AUTHENTICATE_HTTP_READONLY", action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub authenticate_http_readonly: bool,

    /// Require HTTP authentication on the endpoints that change state
    /// (`/api/v1`, `/teardown`, `/reserve`, `/quota`, ...).
    #[arg(long, env = "MESOS_AUTHENTICATE_HTTP_READWRITE", alias = "authenticate_http",
          action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false",
          value_parser = libprocess::flags::parse_bool_flag)]
    pub authenticate_http_readwrite: bool,

    /// Require HTTP authentication of frameworks on the v1 scheduler API
    /// (needs `--http_framework_authenticators`).
    #[arg(long, env = "MESOS_AUTHENTICATE_HTTP_FRAMEWORKS", action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub authenticate_http_frameworks: bool,

    /// HTTP authenticators of frameworks: only `basic`.
    #[arg(long, env = "MESOS_HTTP_FRAMEWORK_AUTHENTICATORS")]
    pub http_framework_authenticators: Option<String>,

    /// HTTP authenticators: only upstream's built-in `basic`.
    #[arg(long, env = "MESOS_HTTP_AUTHENTICATORS", default_value = "basic")]
    pub http_authenticators: String,

    /// Credentials of the `basic` HTTP authenticator, as `--credentials`.
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

    /// File with the principals and secrets clients authenticate with:
    /// JSON `{"credentials": [{"principal": .., "secret": ..}]}` or one
    /// `principal secret` per line; `/path` or `file:///path`.
    #[arg(long, env = "MESOS_CREDENTIALS")]
    pub credentials: Option<String>,

    /// Lowest level logged: `INFO`, `WARNING` or `ERROR`.
    #[arg(long, env = "MESOS_LOGGING_LEVEL", default_value = "INFO")]
    pub logging_level: String,

    /// Directory for log files (logs go to stderr when unset).
    #[arg(long, env = "MESOS_LOG_DIR")]
    pub log_dir: Option<PathBuf>,

    /// A log written by something else (e.g. the init system) to serve
    /// as `/master/log` instead of the one in `--log_dir`.
    #[arg(long, env = "MESOS_EXTERNAL_LOG_FILE")]
    pub external_log_file: Option<PathBuf>,

    /// Log nothing to stderr.
    #[arg(long, env = "MESOS_QUIET", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    pub quiet: bool,
}

/// A flag value the master cannot honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FlagError(pub String);

impl Flags {
    /// Parses `args` (the program name first) after stout-style
    /// prefiltering.
    pub fn parse_from_args(args: impl IntoIterator<Item = String>) -> Result<Self, anyhow::Error> {
        let args = libprocess::flags::prefilter(args, "MESOS_", PATH_FLAGS)?;
        let flags = Self::try_parse_from(args)?;
        flags.validate()?;
        Ok(flags)
    }

    /// The log file served as `/master/log`: `--external_log_file`, else
    /// the one the master writes in `--log_dir` (upstream attaches the
    /// same two).
    pub fn log_file(&self) -> Option<PathBuf> {
        self.external_log_file
            .clone()
            .or_else(|| self.log_dir.as_ref().map(|dir| dir.join(LOG_FILE)))
    }

    /// The endpoints `--firewall_rules` disables (none without it).
    pub fn disabled_endpoints(&self) -> Result<std::collections::HashSet<String>, FlagError> {
        libprocess::firewall::flag(self.firewall_rules.as_deref()).map_err(FlagError)
    }

    /// The file `--whitelist` names, if it names one (`*` means no
    /// whitelist, as upstream still accepts).
    pub fn whitelist_path(&self) -> Option<PathBuf> {
        let value = self.whitelist.as_deref()?;
        if value == "*" {
            return None;
        }
        Some(PathBuf::from(
            value.strip_prefix("file://").unwrap_or(value),
        ))
    }

    /// The names `--fair_sharing_excluded_resource_names` lists.
    pub fn fair_sharing_excluded(&self) -> Vec<String> {
        self.fair_sharing_excluded_resource_names
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// `--recovery_agent_removal_limit` as a fraction (1.0 for `100%`).
    pub fn recovery_removal_limit(&self) -> Result<f64, FlagError> {
        let value = &self.recovery_agent_removal_limit;
        let invalid = || {
            FlagError(format!(
                "Invalid value '{value}' for --recovery_agent_removal_limit: Must be within \
                 [0%-100%]"
            ))
        };
        // The `%` is optional, as upstream removes it when present.
        let number = value
            .strip_suffix('%')
            .unwrap_or(value)
            .parse::<f64>()
            .map_err(|_| invalid())?;
        if !(0.0..=100.0).contains(&number) {
            return Err(invalid());
        }
        Ok(number / 100.0)
    }

    /// Checks rules that span flags and refuses what is not supported yet.
    pub fn validate(&self) -> Result<(), FlagError> {
        self.disabled_endpoints()?;
        if self.ip.is_some() && self.ip_discovery_command.is_some() {
            return Err(FlagError(
                "Only one of `--ip` or `--ip_discovery_command` should be specified".into(),
            ));
        }
        self.recovery_removal_limit()?;
        if self.allocator != "HierarchicalDRF" {
            return Err(FlagError(format!(
                "--allocator={}: only the built-in 'HierarchicalDRF' allocator is supported \
                 (allocator modules cannot be loaded)",
                self.allocator
            )));
        }
        for (flag, value) in [
            ("role_sorter", &self.role_sorter),
            ("framework_sorter", &self.framework_sorter),
        ] {
            if value != "drf" {
                return Err(FlagError(format!(
                    "--{flag}={value}: only 'drf' is supported yet"
                )));
            }
        }
        if self.authorizers != "local" {
            return Err(FlagError(format!(
                "--authorizers={}: only the built-in 'local' authorizer is supported \
                 (authorizer modules cannot be loaded)",
                self.authorizers
            )));
        }
        let refused = [
            (
                "acls",
                self.acls.is_some(),
                "authorization (ACLs) is not supported yet",
            ),
            (
                "modules",
                self.modules.is_some(),
                "modules cannot be loaded",
            ),
            (
                "modules_dir",
                self.modules_dir.is_some(),
                "modules cannot be loaded",
            ),
            (
                "hooks",
                self.hooks.is_some(),
                "hook modules cannot be loaded",
            ),
            (
                "rate_limits",
                self.rate_limits.is_some(),
                "rate limiting of framework messages is not supported yet",
            ),
        ];
        if let Some((flag, _, why)) = refused.iter().find(|(_, set, _)| *set) {
            return Err(FlagError(format!(
                "--{flag} is not supported by this master: {why}"
            )));
        }
        if self.registry_strict {
            return Err(FlagError(
                "Cannot run with --registry_strict; currently not supported".into(),
            ));
        }
        match self.registry.as_str() {
            "in_memory" => {}
            "replicated_log" => {
                if self.work_dir.is_none() {
                    return Err(FlagError(
                        "--work_dir is needed for --registry=replicated_log \
                         (or use --registry=in_memory)"
                            .into(),
                    ));
                }
            }
            other => {
                return Err(FlagError(format!(
                    "'{other}' is not a valid registry: use 'replicated_log' or 'in_memory'"
                )))
            }
        }
        if self.zk.is_some() {
            return Err(FlagError(
                "--zk is not supported yet: run a single master without it (ZooKeeper \
                 leader election comes with the high-availability work)"
                    .into(),
            ));
        }
        if self.quorum.is_some_and(|q| q != 1) {
            return Err(FlagError(
                "--quorum other than 1 is not supported yet: the registry has one replica".into(),
            ));
        }
        let authenticators: Vec<&str> = self.authenticators.split(',').collect();
        match authenticators.as_slice() {
            [] | [""] => return Err(FlagError("No authenticator specified".into())),
            [name] if *name == mesos_authentication::CRAM_MD5 => {}
            [name] => {
                return Err(FlagError(format!(
                    "Authenticator '{name}' not found. Check the spelling (compare to \
                     'crammd5') or verify that the authenticator was loaded successfully \
                     (see --modules); authenticator modules are not supported"
                )))
            }
            _ => return Err(FlagError("Multiple authenticators not supported".into())),
        }
        if self.credentials.is_some() && self.load_credentials()?.is_none() {
            return Err(FlagError(
                "Credentials file must contain at least one credential (see --credentials flag)"
                    .into(),
            ));
        }
        if self.agent_reregister_timeout < Duration::from_secs(600) {
            return Err(FlagError(
                "--agent_reregister_timeout must be at least 10mins, as upstream requires".into(),
            ));
        }
        if self.allocation_interval.is_zero() {
            return Err(FlagError("--allocation_interval must be positive".into()));
        }
        if self.http_authenticators != "basic" {
            return Err(FlagError(format!(
                "--http_authenticators: '{}' is not supported: only 'basic' (no modules)",
                self.http_authenticators
            )));
        }
        if self.authenticate_http_frameworks && self.http_framework_authenticators.is_none() {
            return Err(FlagError(
                "Missing `--http_framework_authenticators` flag. This must be specified in \
                 conjunction with `--authenticate_http_frameworks`"
                    .into(),
            ));
        }
        if let Some(authenticators) = &self.http_framework_authenticators {
            if authenticators != "basic" {
                return Err(FlagError(format!(
                    "--http_framework_authenticators: '{authenticators}' is not supported: \
                     only 'basic' (no modules)"
                )));
            }
        }
        if (self.authenticate_http_readonly
            || self.authenticate_http_readwrite
            || self.authenticate_http_frameworks)
            && self.load_http_credentials()?.is_none()
        {
            return Err(FlagError(
                "No credentials provided for the default 'basic' HTTP authenticator \
                 (see --http_credentials)"
                    .into(),
            ));
        }
        if let Some(limit) = &self.agent_removal_rate_limit {
            crate::observer::RemovalLimiter::parse(limit)
                .map_err(|e| FlagError(format!("Invalid --agent_removal_rate_limit: {e}")))?;
        }
        if self.registry_gc_interval.is_zero() {
            return Err(FlagError("--registry_gc_interval must be positive".into()));
        }
        crate::allocator::MinAllocatable::parse(&self.min_allocatable_resources)
            .map_err(|e| FlagError(format!("Invalid --min_allocatable_resources: {e}")))?;
        if self.max_agent_ping_timeouts < 1 {
            return Err(FlagError(
                "--max_agent_ping_timeouts must be at least 1".into(),
            ));
        }
        let whitelist = self.role_whitelist()?;
        self.parsed_weights(whitelist.as_ref())?;
        self.parsed_domain()?;
        if !["INFO", "WARNING", "ERROR"].contains(&self.logging_level.as_str()) {
            return Err(FlagError(format!(
                "'{}' is not a valid --logging_level: use INFO, WARNING or ERROR",
                self.logging_level
            )));
        }
        Ok(())
    }

    /// Returns the `--domain` (none when unset), which must have a
    /// `fault_domain` as upstream requires.
    pub fn parsed_domain(&self) -> Result<Option<mesos_proto::mesos::DomainInfo>, FlagError> {
        let Some(text) = &self.domain else {
            return Ok(None);
        };
        let domain: mesos_proto::mesos::DomainInfo = mesos_proto::json::from_str(text)
            .map_err(|e| FlagError(format!("Failed to load flag 'domain': {e}")))?;
        if domain.fault_domain.is_none() {
            return Err(FlagError(
                "Failed to load flag 'domain': `domain` must define `fault_domain`".into(),
            ));
        }
        Ok(Some(domain))
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

    /// Reads `--credentials` (none when unset or empty).
    pub fn load_credentials(&self) -> Result<Option<mesos_proto::mesos::Credentials>, FlagError> {
        let Some(value) = &self.credentials else {
            return Ok(None);
        };
        let path = mesos_authentication::credentials::flag_path(value);
        mesos_authentication::credentials::read(&path)
            .map_err(|error| FlagError(format!("{error} (see --credentials flag)")))
    }

    /// Returns the roles `--roles` allows (with `*`), or `None` when any
    /// role is allowed; an invalid role is an error, as upstream's
    /// `roles::parse`.
    pub fn role_whitelist(&self) -> Result<Option<BTreeSet<String>>, FlagError> {
        let Some(text) = &self.roles else {
            return Ok(None);
        };
        let mut roles = BTreeSet::new();
        for role in text.split(',').filter(|r| !r.is_empty()) {
            crate::frameworks::validate_role(role)
                .map_err(|error| FlagError(format!("Failed to parse roles: {error}")))?;
            roles.insert(role.to_string());
        }
        roles.insert("*".to_string());
        Ok(Some(roles))
    }

    /// Returns the weights `--weights` sets, checked as upstream checks
    /// them: `role=weight` pairs, roles allowed by `whitelist`, positive
    /// weights.
    pub fn parsed_weights(
        &self,
        whitelist: Option<&BTreeSet<String>>,
    ) -> Result<BTreeMap<String, f64>, FlagError> {
        let mut weights = BTreeMap::new();
        let Some(text) = &self.weights else {
            return Ok(weights);
        };
        for token in text.split(',').filter(|t| !t.is_empty()) {
            let pair: Vec<&str> = token.split('=').filter(|p| !p.is_empty()).collect();
            let [role, weight] = pair.as_slice() else {
                return Err(FlagError(format!(
                    "Invalid weight: '{token}'. --weights should be of the form \
                     'role=weight,role=weight'"
                )));
            };
            if whitelist.is_some_and(|w| !w.contains(*role)) {
                return Err(FlagError(format!(
                    "Invalid weight: '{token}'. {role} is not a valid role"
                )));
            }
            // Like C's `atof`, an unparsable weight reads as 0.
            let weight: f64 = weight.trim().parse().unwrap_or(0.0);
            if weight.is_nan() || weight <= 0.0 {
                return Err(FlagError(format!(
                    "Invalid weight: '{token}'. Weights must be positive"
                )));
            }
            weights.insert(role.to_string(), weight);
        }
        Ok(weights)
    }

    /// Returns every flag with its value as upstream's `/flags` shows them.
    pub fn to_map(&self) -> Vec<(&'static str, String)> {
        fn opt<T: ToString>(v: &Option<T>) -> Option<String> {
            v.as_ref().map(ToString::to_string)
        }
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let entries: Vec<(&'static str, Option<String>)> = vec![
            ("advertise_ip", opt(&self.advertise_ip)),
            ("advertise_port", opt(&self.advertise_port)),
            (
                "allocation_interval",
                Some(format_duration(self.allocation_interval)),
            ),
            (
                "agent_removal_rate_limit",
                self.agent_removal_rate_limit.clone(),
            ),
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
            (
                "authenticate_http_frameworks",
                Some(self.authenticate_http_frameworks.to_string()),
            ),
            (
                "http_framework_authenticators",
                self.http_framework_authenticators.clone(),
            ),
            ("http_credentials", self.http_credentials.clone()),
            ("firewall_rules", self.firewall_rules.clone()),
            ("ip_discovery_command", self.ip_discovery_command.clone()),
            (
                "registry_gc_interval",
                Some(format_duration(self.registry_gc_interval)),
            ),
            (
                "recovery_agent_removal_limit",
                Some(self.recovery_agent_removal_limit.clone()),
            ),
            ("registry_strict", Some(self.registry_strict.to_string())),
            ("root_submissions", Some(self.root_submissions.to_string())),
            ("whitelist", self.whitelist.clone()),
            ("allocator", Some(self.allocator.clone())),
            ("webui_dir", Some(self.webui_dir.display().to_string())),
            ("role_sorter", Some(self.role_sorter.clone())),
            ("framework_sorter", Some(self.framework_sorter.clone())),
            ("authorizers", Some(self.authorizers.clone())),
            (
                "allocator_agent_recovery_factor",
                Some(self.allocator_agent_recovery_factor.to_string()),
            ),
            (
                "allocator_recovery_timeout",
                Some(format_duration(self.allocator_recovery_timeout)),
            ),
            (
                "fair_sharing_excluded_resource_names",
                self.fair_sharing_excluded_resource_names.clone(),
            ),
            (
                "registry_fetch_timeout",
                Some(format_duration(self.registry_fetch_timeout)),
            ),
            (
                "registry_store_timeout",
                Some(format_duration(self.registry_store_timeout)),
            ),
            (
                "registry_max_agent_age",
                Some(format_duration(self.registry_max_agent_age)),
            ),
            (
                "registry_max_agent_count",
                Some(self.registry_max_agent_count.to_string()),
            ),
            (
                "min_allocatable_resources",
                Some(self.min_allocatable_resources.clone()),
            ),
            (
                "agent_ping_timeout",
                Some(format_duration(self.agent_ping_timeout)),
            ),
            (
                "agent_reregister_timeout",
                Some(format_duration(self.agent_reregister_timeout)),
            ),
            (
                "authenticate_agents",
                Some(self.authenticate_agents.to_string()),
            ),
            (
                "authenticate_frameworks",
                Some(self.authenticate_frameworks.to_string()),
            ),
            (
                "authentication_v0_timeout",
                Some(format_duration(self.authentication_v0_timeout)),
            ),
            ("authenticators", Some(self.authenticators.clone())),
            ("cluster", self.cluster.clone()),
            ("credentials", self.credentials.clone()),
            ("domain", self.domain.clone()),
            (
                "filter_gpu_resources",
                Some(self.filter_gpu_resources.to_string()),
            ),
            ("hostname", self.hostname.clone()),
            ("hostname_lookup", Some(self.hostname_lookup.to_string())),
            ("ip", opt(&self.ip)),
            ("log_dir", path(&self.log_dir)),
            ("external_log_file", path(&self.external_log_file)),
            ("logging_level", Some(self.logging_level.clone())),
            (
                "max_agent_ping_timeouts",
                Some(self.max_agent_ping_timeouts.to_string()),
            ),
            (
                "max_completed_frameworks",
                Some(self.max_completed_frameworks.to_string()),
            ),
            (
                "max_completed_tasks_per_framework",
                Some(self.max_completed_tasks_per_framework.to_string()),
            ),
            (
                "max_unreachable_tasks_per_framework",
                Some(self.max_unreachable_tasks_per_framework.to_string()),
            ),
            (
                "max_operator_event_stream_subscribers",
                Some(self.max_operator_event_stream_subscribers.to_string()),
            ),
            ("offer_timeout", self.offer_timeout.map(format_duration)),
            ("port", Some(self.port.to_string())),
            (
                "publish_per_framework_metrics",
                Some(self.publish_per_framework_metrics.to_string()),
            ),
            ("quiet", Some(self.quiet.to_string())),
            ("quorum", opt(&self.quorum)),
            ("registry", Some(self.registry.clone())),
            (
                "require_agent_domain",
                Some(self.require_agent_domain.to_string()),
            ),
            ("roles", self.roles.clone()),
            ("weights", self.weights.clone()),
            ("work_dir", path(&self.work_dir)),
            ("zk", self.zk.clone()),
        ];
        entries
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags, anyhow::Error> {
        Flags::parse_from_args(
            std::iter::once("mesos-master")
                .chain(args.iter().copied())
                .map(String::from),
        )
    }

    #[test]
    fn defaults_are_upstreams() {
        let flags = parse(&["--registry=in_memory"]).unwrap();
        assert_eq!(flags.port, 5050);
        assert_eq!(flags.agent_ping_timeout, Duration::from_secs(15));
        assert_eq!(flags.max_agent_ping_timeouts, 5);
        assert_eq!(flags.agent_reregister_timeout, Duration::from_secs(600));
        assert!(flags.hostname_lookup);
        assert_eq!(flags.min_allocatable_resources, "cpus:0.01|mem:32");
        let error = parse(&["--registry=in_memory", "--min_allocatable_resources=cpus"])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("Invalid --min_allocatable_resources"),
            "{error}"
        );
    }

    #[test]
    fn deprecated_names_still_work() {
        let flags = parse(&["--registry=in_memory", "--slave_ping_timeout=3secs"]).unwrap();
        assert_eq!(flags.agent_ping_timeout, Duration::from_secs(3));
    }

    #[test]
    fn module_and_authorization_flags_are_recognised_and_refused_clearly() {
        let parse = |extra: &[&str]| {
            Flags::parse_from_args(
                ["mesos-master", "--registry=in_memory"]
                    .iter()
                    .chain(extra)
                    .map(|s| s.to_string()),
            )
            .map_err(|e| e.to_string())
        };
        assert!(parse(&[
            "--allocator=HierarchicalDRF",
            "--user_sorter=drf",
            "--framework_sorter=drf",
            "--authorizers=local"
        ])
        .is_ok());
        for (flag, expected) in [
            ("--allocator=Custom", "only the built-in 'HierarchicalDRF'"),
            ("--role_sorter=random", "--role_sorter=random: only 'drf'"),
            ("--framework_sorter=random", "only 'drf'"),
            ("--authorizers=x", "only the built-in 'local'"),
            ("--acls={}", "--acls is not supported by this master"),
            ("--modules={}", "modules cannot be loaded"),
            ("--hooks=h", "hook modules cannot be loaded"),
            ("--rate_limits={}", "--rate_limits is not supported"),
        ] {
            let error = parse(&[flag]).unwrap_err();
            assert!(error.contains(expected), "{flag}: {error}");
        }
    }

    #[test]
    fn recovery_limit_root_submissions_and_strict_registry() {
        let parse = |extra: &[&str]| {
            Flags::parse_from_args(
                ["mesos-master", "--registry=in_memory"]
                    .iter()
                    .chain(extra)
                    .map(|s| s.to_string()),
            )
        };
        let flags = parse(&[]).unwrap();
        assert_eq!(flags.recovery_removal_limit().unwrap(), 1.0);
        assert!(flags.root_submissions);
        let flags = parse(&["--recovery_slave_removal_limit=25%"]).unwrap();
        assert_eq!(flags.recovery_removal_limit().unwrap(), 0.25);
        assert_eq!(
            parse(&["--recovery_agent_removal_limit=50"])
                .unwrap()
                .recovery_removal_limit()
                .unwrap(),
            0.5
        );
        let error = parse(&["--recovery_agent_removal_limit=150%"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("Must be within [0%-100%]"), "{error}");
        let error = parse(&["--registry_strict"]).unwrap_err().to_string();
        assert!(
            error.contains("--registry_strict; currently not supported"),
            "{error}"
        );
        assert!(!parse(&["--no-root_submissions"]).unwrap().root_submissions);
    }

    #[test]
    fn unsupported_values_are_refused_with_a_reason() {
        let error = parse(&["--registry=in_memory", "--zk=zk://127.0.0.1:2181/mesos"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--zk is not supported yet"), "{error}");
        let error = parse(&[]).unwrap_err().to_string();
        assert!(error.contains("--work_dir is needed"), "{error}");
        let error = parse(&["--registry=in_memory", "--authenticators=sasl_custom"])
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("Authenticator 'sasl_custom' not found"),
            "{error}"
        );
        let error = parse(&["--registry=in_memory", "--authenticators=crammd5,x"])
            .unwrap_err()
            .to_string();
        assert_eq!(error, "Multiple authenticators not supported");
        let error = parse(&["--registry=in_memory", "--agent_reregister_timeout=1mins"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("at least 10mins"), "{error}");
        assert!(parse(&["--registry=in_memory", "--no_such_flag=1"]).is_err());
    }

    #[test]
    fn gpu_filtering_and_the_domain() {
        let flags = parse(&["--registry=in_memory"]).unwrap();
        assert!(flags.filter_gpu_resources);
        assert_eq!(flags.parsed_domain().unwrap(), None);
        let flags = parse(&["--registry=in_memory", "--no-filter_gpu_resources"]).unwrap();
        assert!(!flags.filter_gpu_resources);

        let json = r#"{"fault_domain":{"region":{"name":"east"},"zone":{"name":"a"}}}"#;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("domain.json");
        std::fs::write(&file, json).unwrap();
        for value in [json.to_string(), format!("file://{}", file.display())] {
            let flags = parse(&["--registry=in_memory", &format!("--domain={value}")]).unwrap();
            let domain = flags.parsed_domain().unwrap().unwrap();
            assert_eq!(domain.fault_domain.unwrap().region.name, "east");
        }
        for bad in ["{}", "not json"] {
            let error = parse(&["--registry=in_memory", &format!("--domain={bad}")])
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("Failed to load flag 'domain'"), "{error}");
        }
    }

    #[test]
    fn roles_and_weights_are_checked_as_upstream() {
        let flags = parse(&[
            "--registry=in_memory",
            "--roles=a,b/c",
            "--weights=a=2.5,*=3",
        ])
        .unwrap();
        let whitelist = flags.role_whitelist().unwrap().unwrap();
        assert_eq!(
            whitelist.into_iter().collect::<Vec<_>>(),
            vec!["*", "a", "b/c"]
        );
        let weights = flags.parsed_weights(None).unwrap();
        assert_eq!(weights.get("a"), Some(&2.5));
        assert_eq!(weights.get("*"), Some(&3.0));
        let error = |args: &[&str]| {
            let mut all = vec!["--registry=in_memory"];
            all.extend_from_slice(args);
            parse(&all).unwrap_err().to_string()
        };
        assert_eq!(
            error(&["--roles=a", "--weights=b=2"]),
            "Invalid weight: 'b=2'. b is not a valid role"
        );
        assert_eq!(
            error(&["--weights=a=0"]),
            "Invalid weight: 'a=0'. Weights must be positive"
        );
        assert_eq!(
            error(&["--weights=a"]),
            "Invalid weight: 'a'. --weights should be of the form 'role=weight,role=weight'"
        );
        assert!(error(&["--roles=a,-b"]).starts_with("Failed to parse roles: "));
    }

    #[test]
    fn authentication_flags_and_credentials() {
        let flags = parse(&["--registry=in_memory"]).unwrap();
        assert_eq!(flags.authenticators, "crammd5");
        assert_eq!(flags.authentication_v0_timeout, Duration::from_secs(15));
        assert!(!flags.authenticate_frameworks && !flags.authenticate_agents);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        std::fs::write(&path, "p1 s1\np2 s2\n").unwrap();
        let url = format!("--credentials=file://{}", path.display());
        let flags = parse(&[
            "--registry=in_memory",
            "--authenticate",
            "--authenticate_slaves",
            &url,
        ])
        .unwrap();
        assert!(flags.authenticate_frameworks && flags.authenticate_agents);
        let credentials = flags.load_credentials().unwrap().unwrap();
        assert_eq!(credentials.credentials.len(), 2);
        std::fs::write(&path, "").unwrap();
        let error = parse(&["--registry=in_memory", &url])
            .unwrap_err()
            .to_string();
        assert!(error.contains("at least one credential"), "{error}");
        let missing = format!("--credentials={}/none", dir.path().display());
        let error = parse(&["--registry=in_memory", &missing])
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("Failed to read credentials file"),
            "{error}"
        );
    }
}
