//! `mesos-default-executor`: the default executor for task groups. Parses
//! flags, sets up logging, reads the environment the agent gave it and
//! runs [`DefaultExecutor`] on a single-threaded tokio runtime; exits with
//! 0 once the executor terminates, as upstream's `main` does.

use std::process::ExitCode;

use anyhow::Context as _;
use mesos_executor::flags::DefaultExecutorFlags;
use mesos_executor::{DefaultExecutor, DefaultExecutorConfig};

fn logging(flags: &DefaultExecutorFlags) -> anyhow::Result<()> {
    let level = match flags.logging_level.as_str() {
        "WARNING" => "warn",
        "ERROR" => "error",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    if let Some(dir) = &flags.log_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create --log_dir {}", dir.display()))?;
        let path = dir.join("mesos-default-executor.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("failed to open {}", path.display()))?;
        builder.with_writer(std::sync::Mutex::new(file)).init();
    } else if flags.quiet {
        builder.with_writer(std::io::sink).init();
    } else {
        builder.with_writer(std::io::stderr).init();
    }
    Ok(())
}

fn run(flags: DefaultExecutorFlags) -> anyhow::Result<()> {
    logging(&flags)?;
    let config = DefaultExecutorConfig::from_env(flags.launcher_dir.clone())?;
    // Upstream hides the token from other processes in the container.
    std::env::remove_var("MESOS_EXECUTOR_AUTHENTICATION_TOKEN");
    tracing::info!(
        agent = %config.executor_url,
        version = mesos_executor::VERSION,
        "Default executor started"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .context("failed to start the runtime")?;
    runtime.block_on(DefaultExecutor::new(config).run());
    Ok(())
}

fn main() -> ExitCode {
    let flags = match DefaultExecutorFlags::parse_from_args(std::env::args()) {
        Ok(flags) => flags,
        Err(error) => {
            if let Some(clap) = error.downcast_ref::<clap::Error>() {
                clap.exit();
            }
            eprintln!("mesos-default-executor: {error:#}");
            return ExitCode::from(1);
        }
    };
    match run(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mesos-default-executor: {error:#}");
            ExitCode::from(1)
        }
    }
}
