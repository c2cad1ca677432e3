//! The Mesos agent.
//!
//! Upstream counterpart: `src/slave/`. Built so far (issue #4, first
//! part): flags ([`flags`]), the work_dir layout ([`paths`]), registration
//! with the master, command and custom v0 executors launched by the posix
//! launcher ([`containerizer`]), custom v1 HTTP executors
//! ([`executor_http`]), the status update manager with checkpointing and
//! retries ([`status_update_manager`]), health and flags endpoints
//! ([`http`]), the `files` process ([`files`]) and the v1 operator API
//! ([`api`]).

#![warn(missing_docs)]

pub mod api;
pub mod attach;
pub mod checkpointed_resources;
pub mod cli;
pub mod containerizer;
pub mod executor_http;
pub mod files;
pub mod flags;
pub mod gc;
pub mod http;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod metrics;
pub mod monitor;
pub mod nested;
pub mod paths;
pub mod resources;
pub mod slave;
pub mod state;
pub mod state_json;
pub mod status_update_manager;

/// The upstream release whose protocol the agent speaks (masters refuse
/// agents older than 1.0.0).
pub const VERSION: &str = "1.11.0";

/// Spawns the agent on `runtime` with its `files` and `monitor`
/// processes, made the delegate (`/state` reaches it).
pub fn spawn(
    runtime: &libprocess::Runtime,
    config: slave::Config,
) -> Result<libprocess::PID<slave::Slave>, libprocess::SpawnError> {
    // With `--authenticate_http_readonly`, libprocess's
    // `/metrics/snapshot` and the `files` endpoints are in the read-only
    // realm too; with `--authenticate_http_readwrite`, `/logging/toggle`
    // is in the read-write one.
    let basic = |flags: &flags::Flags| {
        mesos_authentication::basic::BasicAuthenticator::new(
            &flags
                .load_http_credentials()
                .ok()
                .flatten()
                .unwrap_or_default(),
        )
    };
    let readonly_guard: Option<libprocess::runtime::BuiltinGuard> = config
        .flags
        .as_ref()
        .filter(|f| f.authenticate_http_readonly)
        .map(|flags| basic(flags).guard("mesos-agent-readonly"));
    if let Some(guard) = &readonly_guard {
        runtime.guard_builtin("metrics", "/snapshot", guard.clone());
    }
    if let Some(flags) = config
        .flags
        .as_ref()
        .filter(|f| f.authenticate_http_readwrite)
    {
        runtime.guard_builtin(
            "logging",
            "/toggle",
            basic(flags).guard("mesos-agent-readwrite"),
        );
    }
    if let Some(flags) = &config.flags {
        runtime.set_disabled_endpoints(flags.disabled_endpoints().unwrap_or_default());
    }
    let mut slave = slave::Slave::new(config);
    if runtime.has_process("files") {
        // A second agent in one runtime: the first one's `files` serves.
        tracing::warn!("A files process runs already; this agent attaches no sandboxes");
    } else {
        slave = slave.with_files(files::Files::spawn_guarded(runtime, readonly_guard)?);
    }
    let slave = runtime.spawn(slave)?;
    runtime.set_delegate(Some(&slave.upid().id));
    runtime.set_version(serde_json::json!({ "version": VERSION }));
    Ok(slave)
}
