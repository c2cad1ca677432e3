//! `mesos-local`: a master and `--num_slaves` agents in one OS process,
//! sharing one libprocess socket, on an embedded default (in-memory
//! registry, a work directory per agent, posix isolation) — upstream's
//! `src/local/main.cpp`. Point `mesos-execute` at the address it prints.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use mesos_master::registrar::{InMemoryStore, Registrar};

/// `mesos-local`'s flags.
#[derive(Debug, Parser)]
#[command(
    name = "mesos-local",
    rename_all = "snake_case",
    about = "A Mesos master and agents in one process"
)]
struct Flags {
    /// Number of agents.
    #[arg(long, default_value_t = 1)]
    num_slaves: u32,
    /// IP address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    ip: std::net::Ipv4Addr,
    /// Port to listen on.
    #[arg(long, default_value_t = 5050)]
    port: u16,
    /// Directory holding each agent's work_dir (`<work_dir>/<n>`, from 0).
    #[arg(long, default_value = "/tmp/mesos/local")]
    work_dir: std::path::PathBuf,
    /// Resources of each agent (detected when unset).
    #[arg(long)]
    resources: Option<String>,
    /// Where `mesos-executor` lives (default: next to this binary).
    #[arg(long)]
    launcher_dir: Option<std::path::PathBuf>,
}

fn run(flags: Flags) -> anyhow::Result<()> {
    libprocess::logging::init(
        "info",
        tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
        true,
    );
    // Executors inherit LIBPROCESS_IP, as upstream's mesos-local sets it.
    // SAFETY: single-threaded here; nothing reads the environment yet.
    unsafe { std::env::set_var("LIBPROCESS_IP", flags.ip.to_string()) };
    let runtime = libprocess::initialize(libprocess::Config {
        ip: flags.ip,
        port: flags.port,
        ..libprocess::Config::from_env()?
    })?;
    let launcher_dir = match &flags.launcher_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no binary directory")?
            .to_path_buf(),
    };
    let master_flags = Arc::new(mesos_master::flags::Flags::parse_from_args(
        ["mesos-master", "--registry=in_memory"]
            .iter()
            .map(|s| s.to_string()),
    )?);
    actix::System::new().block_on(async move {
        let registrar = Arc::new(Registrar::new(Box::<InMemoryStore>::default()));
        let master = mesos_master::master::spawn(&runtime, master_flags, registrar)?;
        // One `files` process for the master and every agent, as
        // upstream's `local`: the master's.
        let files = match master.call(|m, _| m.files.clone()).await.ok().flatten() {
            Some(files) => files,
            None => mesos_agent::files::Files::spawn(&runtime)?,
        };
        for n in 0..flags.num_slaves {
            // `<work_dir>/0`, `<work_dir>/1`, ..: upstream `local.cpp`.
            let work_dir = flags.work_dir.join(n.to_string());
            std::fs::create_dir_all(&work_dir)?;
            let resources = mesos_agent::resources::agent_resources(
                flags.resources.as_deref(),
                "*",
                &work_dir,
            )?;
            let runtime_dir = work_dir.join("runtime");
            let config = mesos_agent::slave::Config {
                master: master.upid().clone(),
                info: mesos_proto::mesos::SlaveInfo {
                    hostname: flags.ip.to_string(),
                    port: Some(i32::from(runtime.address().port())),
                    resources: resources.to_vec(),
                    ..Default::default()
                },
                work_dir,
                launcher_dir: launcher_dir.clone(),
                registration_backoff_factor: std::time::Duration::from_millis(100),
                authentication: None,
                executor_registration_timeout: std::time::Duration::from_secs(60),
                executor_reregistration_timeout: std::time::Duration::from_secs(2),
                executor_reregistration_retry_interval: None,
                recover_cleanup: false,
                // Each agent's runtime directory apart, as its work_dir:
                // an agent takes the containers it finds there for its own.
                containerizer: mesos_agent::containerizer::ContainerizerOptions {
                    runtime_dir,
                    ..Default::default()
                },
                gc: Default::default(),
                executor_shutdown_grace_period: std::time::Duration::from_secs(5),
                recovery_timeout: std::time::Duration::from_secs(900),
                flags: None,
            };
            runtime.spawn(mesos_agent::slave::Slave::new(config).with_files(files.clone()))?;
        }
        // The master serves the paths that name no process.
        runtime.set_delegate(Some("master"));
        println!(
            "mesos-local: master at {} with {} agent(s); try",
            master.upid(),
            flags.num_slaves
        );
        println!(
            "  mesos-execute --master={} --name=hello --command='echo hello'",
            runtime.address()
        );
        println!("  curl http://{}/metrics/snapshot", runtime.address());
        runtime.wait("master").await;
        Ok(())
    })
}

fn main() -> ExitCode {
    match run(Flags::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mesos-local: {error:#}");
            ExitCode::from(1)
        }
    }
}
