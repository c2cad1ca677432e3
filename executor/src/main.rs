//! `mesos-executor`: the command executor. Parses flags, sets up logging
//! and libprocess, runs the command executor on the v0 driver and exits
//! with 0 once the driver stops cleanly.

use std::process::ExitCode;

use anyhow::Context as _;
use mesos_executor::flags::Flags;
use mesos_executor::{CommandExecutor, CommandExecutorConfig, DriverConfig, ExecutorDriver};
use mesos_proto::mesos::Status;

fn logging(flags: &Flags) -> anyhow::Result<()> {
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
        let path = dir.join("mesos-executor.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("failed to open {}", path.display()))?;
        builder.with_writer(std::sync::Mutex::new(file)).init();
    } else if flags.quiet {
        builder.with_writer(std::io::sink).init();
    } else {
        // The agent points the executor's stderr at the sandbox; stdout is
        // left to the task.
        builder.with_writer(std::io::stderr).init();
    }
    Ok(())
}

fn run(flags: Flags) -> anyhow::Result<Status> {
    logging(&flags)?;
    if std::env::var("MESOS_HTTP_COMMAND_EXECUTOR").as_deref() == Ok("1") {
        anyhow::bail!(
            "MESOS_HTTP_COMMAND_EXECUTOR=1 asks for the v1 HTTP command executor, which is not \
             supported yet: start the agent without --http_command_executor"
        );
    }
    let config = DriverConfig::from_env()?;
    let command = CommandExecutorConfig {
        executor_id: config.executor_id.clone(),
        shutdown_grace_period: config.shutdown_grace_period,
        sandbox: config.directory.clone(),
        task_command: flags.task_command.clone(),
        task_environment: flags.task_environment.clone(),
    };
    let libprocess = libprocess::Config::from_env().context("failed to configure libprocess")?;
    let runtime = libprocess::initialize(libprocess).context("failed to initialize libprocess")?;
    actix::System::new().block_on(async move {
        let executor = CommandExecutor::spawn(&runtime, command)
            .context("failed to start the command executor process")?;
        let driver = ExecutorDriver::start(&runtime, config, executor)
            .context("failed to start the executor driver")?;
        if let Some(pid) = driver.upid() {
            tracing::info!(%pid, version = mesos_executor::VERSION, "Command executor started");
        }
        Ok(driver.join().await)
    })
}

fn main() -> ExitCode {
    let flags = match Flags::parse_from_args(std::env::args()) {
        Ok(flags) => flags,
        Err(error) => {
            if let Some(clap) = error.downcast_ref::<clap::Error>() {
                clap.exit();
            }
            eprintln!("mesos-executor: {error:#}");
            return ExitCode::from(1);
        }
    };
    match run(flags) {
        Ok(Status::DriverStopped) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("mesos-executor: driver ended as {}", status.as_str_name());
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("mesos-executor: {error:#}");
            ExitCode::from(1)
        }
    }
}
