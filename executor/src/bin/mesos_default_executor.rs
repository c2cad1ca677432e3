//! `mesos-default-executor`: the default executor for task groups. Parses
//! flags, sets up logging, reads the environment the agent gave it and
//! runs [`DefaultExecutor`] on a single-threaded tokio runtime; exits with
//! 0 once the executor terminates, as upstream's `main` does.

use std::process::ExitCode;

use anyhow::Context as _;
use mesos_executor::flags::{CommandLine, DefaultExecutorFlags};
use mesos_executor::{DefaultExecutor, DefaultExecutorConfig};

fn run(flags: DefaultExecutorFlags) -> anyhow::Result<()> {
    mesos_executor::logging::init(
        &flags.logging_level,
        flags.log_dir.as_deref(),
        flags.quiet,
        "mesos-default-executor.log",
    )?;
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
            if let Some(command_line) = error.downcast_ref::<CommandLine>() {
                command_line.exit();
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
