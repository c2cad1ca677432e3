//! Logging set-up shared by the executor binaries: `--logging_level`,
//! `--log_dir` and `--quiet`, with `RUST_LOG` overriding the level.

use std::path::Path;

use anyhow::Context as _;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Sends log lines to `<log_dir>/<file_name>` when `log_dir` is set, to
/// nowhere when `quiet`, else to stderr (which the agent points at the
/// sandbox; stdout is left to the task). `logging_level` is `INFO`,
/// `WARNING` or `ERROR`.
///
/// `RUST_LOG` takes `target=level` directives and plain levels
/// (`debug`, `mesos_executor=debug,libprocess=trace`); a value that does
/// not parse is ignored. Span and field directives (`target[span]=level`)
/// are not taken: tracing-subscriber's `EnvFilter` would, but it brings a
/// regex engine, about 0.5 MB of code, into every executor for them.
pub fn init(
    logging_level: &str,
    log_dir: Option<&Path>,
    quiet: bool,
    file_name: &str,
) -> anyhow::Result<()> {
    let level = match logging_level {
        "WARNING" => tracing::Level::WARN,
        "ERROR" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .and_then(|value| value.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(level));
    let layer = tracing_subscriber::fmt::layer().with_ansi(false);
    let registry = tracing_subscriber::registry().with(filter);
    if let Some(dir) = log_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create --log_dir {}", dir.display()))?;
        let path = dir.join(file_name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("failed to open {}", path.display()))?;
        registry
            .with(layer.with_writer(std::sync::Mutex::new(file)))
            .init();
    } else if quiet {
        registry.with(layer.with_writer(std::io::sink)).init();
    } else {
        registry.with(layer.with_writer(std::io::stderr)).init();
    }
    Ok(())
}
