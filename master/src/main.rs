//! `mesos-master`: parses flags, sets up logging and libprocess, recovers
//! the registry and serves until killed.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use mesos_master::flags::Flags;
use mesos_master::registrar::{FileStore, InMemoryStore, Registrar, Store};

fn logging(flags: &Flags) -> anyhow::Result<()> {
    let level = match flags.logging_level.as_str() {
        "WARNING" => "warn",
        "ERROR" => "error",
        _ => "info",
    };
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    if let Some(dir) = &flags.log_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create --log_dir {}", dir.display()))?;
        let path = dir.join(mesos_master::flags::LOG_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("failed to open {}", path.display()))?;
        libprocess::logging::init(
            level,
            BoxMakeWriter::new(std::sync::Mutex::new(file)),
            false,
        );
    } else if flags.quiet {
        libprocess::logging::init(level, BoxMakeWriter::new(std::io::sink), false);
    } else {
        libprocess::logging::init(level, BoxMakeWriter::new(std::io::stderr), true);
    }
    Ok(())
}

fn run(flags: Flags) -> anyhow::Result<()> {
    logging(&flags)?;
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
    let store: Box<dyn Store> = match (flags.registry.as_str(), &flags.work_dir) {
        ("replicated_log", Some(work_dir)) => Box::new(FileStore::new(work_dir)),
        _ => Box::<InMemoryStore>::default(),
    };
    let registrar = Arc::new(
        Registrar::new(store)
            .with_timeouts(flags.registry_fetch_timeout, flags.registry_store_timeout),
    );
    let flags = Arc::new(flags);
    actix::System::new().block_on(async move {
        let master = mesos_master::master::spawn(&runtime, flags, registrar)
            .context("failed to start the master process")?;
        tracing::info!(pid = %master.upid(), version = mesos_master::VERSION, "Master started");
        runtime.wait("master").await;
        Ok(())
    })
}

fn main() -> ExitCode {
    let flags = match Flags::parse_from_args(std::env::args()) {
        Ok(flags) => flags,
        Err(error) => {
            if let Some(clap) = error.downcast_ref::<clap::Error>() {
                clap.exit();
            }
            eprintln!("mesos-master: {error:#}");
            return ExitCode::from(1);
        }
    };
    match run(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mesos-master: {error:#}");
            ExitCode::from(1)
        }
    }
}
