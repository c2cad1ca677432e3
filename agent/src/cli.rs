//! The `mesos-agent` / `mesos-slave` command line: flags, logging,
//! libprocess, then the agent until it stops.

use std::process::ExitCode;
use std::sync::Arc;

use crate::flags::Flags;
use anyhow::Context as _;

fn run(flags: Flags) -> anyhow::Result<()> {
    let level = match flags.logging_level.as_str() {
        "WARNING" => "warn",
        "ERROR" => "error",
        _ => "info",
    };
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    if flags.quiet {
        libprocess::logging::init(level, BoxMakeWriter::new(std::io::sink), false);
    } else {
        libprocess::logging::init(level, BoxMakeWriter::new(std::io::stderr), true);
    }
    match crate::containerizer::mesos::launcher::raise_open_files_limit() {
        Ok((old, new)) if old != new => {
            tracing::info!(old, new, "Raised the open files limit");
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "Failed to raise the open files limit"),
    }
    let master = flags.master_pid()?;
    if let Some(ip) = flags.ip {
        // As upstream: executors inherit LIBPROCESS_IP, so they listen on
        // the agent's address. Nothing else runs yet, so nothing reads the
        // environment concurrently.
        // SAFETY: single-threaded at this point (see above).
        unsafe { std::env::set_var("LIBPROCESS_IP", ip.to_string()) };
    }
    let from_env = libprocess::Config::from_env()?;
    let ip =
        libprocess::flags::listen_ip(flags.ip, flags.ip_discovery_command.as_deref(), from_env.ip)
            .map_err(anyhow::Error::msg)?;
    let config = libprocess::Config {
        ip,
        port: flags.port,
        advertise_ip: flags.advertise_ip,
        advertise_port: flags.advertise_port,
        ..from_env
    };
    let runtime = libprocess::initialize(config).context("failed to initialize libprocess")?;
    let info = crate::slave::slave_info(&flags, runtime.address())?;
    let launcher_dir = match &flags.launcher_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|p| p.to_path_buf()))
            .context("failed to determine --launcher_dir")?,
    };
    std::fs::create_dir_all(&flags.work_dir)
        .with_context(|| format!("failed to create --work_dir {}", flags.work_dir.display()))?;
    let authentication = match &flags.credential {
        None => None,
        Some(value) => {
            let path = mesos_authentication::credentials::flag_path(value);
            let credential = mesos_authentication::credentials::read_credential(&path)
                .context("failed to read --credential")?
                .context("empty credential file (see --credential flag)")?;
            tracing::info!(principal = %credential.principal, "Agent using credential");
            Some(crate::slave::AuthenticationConfig {
                credential,
                backoff_factor: flags.authentication_backoff_factor,
                timeout_min: flags.authentication_timeout_min,
                timeout_max: flags.authentication_timeout_max,
            })
        }
    };
    let flags = Arc::new(flags);
    let config = crate::slave::Config {
        master,
        info,
        work_dir: flags.work_dir.clone(),
        launcher_dir,
        registration_backoff_factor: flags.registration_backoff_factor,
        authentication,
        executor_registration_timeout: flags.executor_registration_timeout,
        executor_shutdown_grace_period: flags.executor_shutdown_grace_period,
        recovery_timeout: flags.recovery_timeout,
        executor_reregistration_timeout: flags
            .executor_reregistration_timeout
            .min(std::time::Duration::from_secs(15)),
        executor_reregistration_retry_interval: flags.executor_reregistration_retry_interval,
        recover_cleanup: flags.recover == "cleanup",
        containerizer: flags.containerizer_options(),
        gc: flags.gc_options(),
        flags: Some(flags.clone()),
    };
    actix::System::new().block_on(async move {
        let slave = crate::spawn(&runtime, config).context("failed to start the agent process")?;
        tracing::info!(pid = %slave.upid(), "Agent started");
        runtime.wait(&slave.upid().id).await;
        if crate::slave::recovery_failed() {
            anyhow::bail!(
                "failed to perform recovery (see the log); the work_dir may need cleaning"
            );
        }
        if crate::slave::authentication_refused() {
            anyhow::bail!("the master refused authentication");
        }
        Ok(())
    })
}

/// Runs the agent binary (either name); returns its exit code.
pub fn main() -> ExitCode {
    let flags = match Flags::parse_from_args(std::env::args()) {
        Ok(flags) => flags,
        Err(error) => {
            if let Some(clap) = error.downcast_ref::<clap::Error>() {
                clap.exit();
            }
            eprintln!("mesos-agent: {error:#}");
            return ExitCode::from(1);
        }
    };
    match run(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mesos-agent: {error:#}");
            ExitCode::from(1)
        }
    }
}
