//! `mesos-executor`: the command executor. Parses flags, sets up logging
//! and libprocess, runs the command executor on the v0 driver, or on the
//! v1 HTTP API when `MESOS_HTTP_COMMAND_EXECUTOR=1` (as upstream's one
//! binary does), and exits with 0 once it stops cleanly.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use mesos_executor::flags::{CommandLine, Flags};
use mesos_executor::http_driver::{HttpDriver, HttpDriverConfig};
use mesos_executor::{CommandExecutor, CommandExecutorConfig, DriverConfig, ExecutorDriver};
use mesos_proto::mesos::{ExecutorId, Status};

/// Starts libprocess with its network I/O on one thread: the executor
/// talks to its agent alone, and one thread with tokio's current-thread
/// scheduler needs less memory than a pool of workers, which every task
/// pays for. `LIBPROCESS_NUM_WORKER_THREADS`, inherited from the agent, is
/// not read here.
fn start_libprocess() -> anyhow::Result<libprocess::Runtime> {
    let config = libprocess::Config::from_env().context("failed to configure libprocess")?;
    libprocess::initialize_single_threaded(config).context("failed to initialize libprocess")
}

fn run(flags: Flags) -> anyhow::Result<Status> {
    mesos_executor::logging::init(
        &flags.logging_level,
        flags.log_dir.as_deref(),
        flags.quiet,
        "mesos-executor.log",
    )?;
    if std::env::var("MESOS_HTTP_COMMAND_EXECUTOR").as_deref() == Ok("1") {
        return run_http(flags);
    }
    let config = DriverConfig::from_env()?;
    let command = CommandExecutorConfig {
        executor_id: config.executor_id.clone(),
        shutdown_grace_period: config.shutdown_grace_period,
        sandbox: config.directory.clone(),
        task_command: flags.task_command.clone(),
        task_environment: flags.task_environment.clone(),
        rootfs: flags.rootfs.clone(),
        sandbox_directory: flags.sandbox_directory.clone(),
        working_directory: flags.working_directory.clone(),
        tty_slave_path: flags.tty_slave_path.clone(),
        user: flags.task_user(),
    };
    let runtime = start_libprocess()?;
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

/// The v1 HTTP command executor (`MESOS_HTTP_COMMAND_EXECUTOR=1`): the
/// same task logic, subscribed to the agent's `/api/v1/executor`.
fn run_http(flags: Flags) -> anyhow::Result<Status> {
    let config = HttpDriverConfig::from_env()?;
    let sandbox = match std::env::var_os("MESOS_DIRECTORY") {
        Some(directory) => PathBuf::from(directory),
        None => std::env::current_dir().context("failed to get the working directory")?,
    };
    let command = CommandExecutorConfig {
        executor_id: ExecutorId {
            value: config.executor_id.value.clone(),
        },
        shutdown_grace_period: config.shutdown_grace_period,
        sandbox,
        task_command: flags.task_command.clone(),
        task_environment: flags.task_environment.clone(),
        rootfs: flags.rootfs.clone(),
        sandbox_directory: flags.sandbox_directory.clone(),
        working_directory: flags.working_directory.clone(),
        tty_slave_path: flags.tty_slave_path.clone(),
        user: flags.task_user(),
    };
    // Upstream hides the token from the task.
    std::env::remove_var("MESOS_EXECUTOR_AUTHENTICATION_TOKEN");
    let runtime = start_libprocess()?;
    actix::System::new().block_on(async move {
        let executor = CommandExecutor::spawn(&runtime, command)
            .context("failed to start the command executor process")?;
        tracing::info!(
            agent = %config.executor_url,
            version = mesos_executor::VERSION,
            "HTTP command executor started"
        );
        let driver = HttpDriver::start(&runtime, config, executor)
            .context("failed to start the executor library")?;
        Ok(driver.join().await)
    })
}

/// C's `pow`, defined here so that the dynamic loader does not load libm
/// for it: about 0.3 MB of every executor's memory (the pages of libm that
/// its relocations touch at every start) for a function this process
/// never calls. Its one caller is tokio's multi-threaded scheduler (it
/// weighs its average poll time with `powf`), linked in because tokio's
/// runtime builder can build either scheduler once any package of the
/// build enables that one, as the master and the agent do; the executor
/// only builds current-thread runtimes. `pow` is the only libm function
/// this binary refers to. The implementation is FreeBSD's `e_pow.c`,
/// through the `libm` crate (part of Rust's compiler-builtins); it does not
/// set `errno`, which nothing here reads.
// SAFETY: this binary links no other definition of `pow` (it links no
// libm), and this one has C's signature and meaning.
#[unsafe(no_mangle)]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

fn main() -> ExitCode {
    let flags = match Flags::parse_from_args(std::env::args()) {
        Ok(flags) => flags,
        Err(error) => {
            if let Some(command_line) = error.downcast_ref::<CommandLine>() {
                command_line.exit();
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
