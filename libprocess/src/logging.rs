//! Verbose logging toggled at run time (upstream's `process::Logging`,
//! behind `/logging/toggle` and the operator API's `GET_LOGGING_LEVEL` /
//! `SET_LOGGING_LEVEL`).
//!
//! Upstream sets glog's `FLAGS_v` for a while, then puts the level it
//! started with back. We keep that level here; what a level means is up
//! to the binary, which installs an [`Applier`] (the master and the agent
//! map level 0 to `--logging_level`, 1 to `debug` and 2 or more to
//! `trace`: see [`directive`]). The level is process-wide, like glog's.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::http::{Request, Response};

/// Applies a verbosity level (called with the new level on each change).
pub type Applier = Box<dyn Fn(u32) + Send + Sync>;

struct State {
    original: u32,
    current: u32,
    /// When the current level goes back to the original one.
    revert_at: Option<Instant>,
}

static STATE: Mutex<State> = Mutex::new(State {
    original: 0,
    current: 0,
    revert_at: None,
});

static APPLIER: OnceLock<Applier> = OnceLock::new();

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Installs what a level change does (once, at start-up; later calls are
/// ignored).
pub fn set_applier(applier: Applier) {
    let _ = APPLIER.set(applier);
}

/// Installs the tracing subscriber of a master or an agent: at level 0
/// it logs what `RUST_LOG` asks for, when set and valid, else `base`
/// (from `--logging_level`); each level change swaps the filter.
pub fn init(base: &str, writer: tracing_subscriber::fmt::writer::BoxMakeWriter, ansi: bool) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{fmt, reload, EnvFilter};
    let base = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| EnvFilter::try_new(value).is_ok())
        .unwrap_or_else(|| base.to_string());
    let (filter, handle) = reload::Layer::new(EnvFilter::new(&base));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(writer).with_ansi(ansi))
        .init();
    set_applier(Box::new(move |level| {
        let _ = handle.reload(EnvFilter::new(directive(level, &base)));
    }));
}

/// The tracing filter directive for `level` on top of `base` (what the
/// binary logs at level 0): glog's verbose levels have no counterpart in
/// `tracing`, so 1 turns on `debug` and 2 or more `trace`.
pub fn directive(level: u32, base: &str) -> String {
    match level {
        0 => base.to_string(),
        1 => "debug".into(),
        _ => "trace".into(),
    }
}

/// The current verbosity level (`FLAGS_v`).
pub fn level() -> u32 {
    state().current
}

/// The level the process started with; `/logging/toggle` refuses lower
/// ones.
pub fn original_level() -> u32 {
    state().original
}

/// Sets the level; unless it is the original one, the original one comes
/// back after `duration` (a later call with a later deadline wins, as
/// upstream's single timeout).
pub fn set_level(level: u32, duration: Duration) {
    let revert_at = {
        let mut state = state();
        let changed = state.current != level;
        state.current = level;
        if changed {
            tracing::info!(level, "Setting verbose logging level");
            if let Some(apply) = APPLIER.get() {
                apply(level);
            }
        }
        if level == state.original {
            state.revert_at = None;
            return;
        }
        let at = Instant::now() + duration;
        state.revert_at = Some(at);
        at
    };
    let spawned = std::thread::Builder::new()
        .name("logging-revert".into())
        .spawn(move || {
            std::thread::sleep(revert_at.saturating_duration_since(Instant::now()));
            revert(revert_at);
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "Failed to start the verbose logging revert timer");
    }
}

/// Puts the original level back if `deadline` is still the one set.
fn revert(deadline: Instant) {
    let mut state = state();
    if state.revert_at != Some(deadline) {
        return;
    }
    state.revert_at = None;
    let original = state.original;
    if state.current != original {
        state.current = original;
        tracing::info!(level = original, "Reverting verbose logging level");
        if let Some(apply) = APPLIER.get() {
            apply(original);
        }
    }
}

/// `GET /logging/toggle[?level=N&duration=D]`, as upstream: without a
/// query it prints the level; with both it sets them; anything else is
/// a `400` with upstream's message.
pub fn toggle(request: &Request) -> Response {
    let level = request.query_param("level");
    let duration = request.query_param("duration");
    let (level, duration) = match (level, duration) {
        (None, None) => return Response::ok(format!("{}\n", self::level())),
        (Some(_), None) => return Response::bad_request("Expecting 'duration=value' in query.\n"),
        (None, Some(_)) => return Response::bad_request("Expecting 'level=value' in query.\n"),
        (Some(level), Some(duration)) => (level, duration),
    };
    let Ok(level) = level.trim().parse::<i64>() else {
        return Response::bad_request(format!("Failed to convert '{level}' to number.\n"));
    };
    if level < 0 {
        return Response::bad_request(format!("Invalid level '{level}'.\n"));
    }
    if level < i64::from(original_level()) {
        return Response::bad_request(format!("'{level}' < original level.\n"));
    }
    let Ok(level) = u32::try_from(level) else {
        return Response::bad_request(format!("Invalid level '{level}'.\n"));
    };
    let duration = match crate::flags::parse_duration(duration) {
        Ok(duration) => duration,
        Err(error) => return Response::bad_request(format!("{error}.\n")),
    };
    set_level(level, duration);
    Response::status(200)
}

/// The `/logging/toggle` handler for [`crate::Runtime::route_builtin`].
pub(crate) fn handler() -> crate::runtime::BuiltinHandler {
    Arc::new(|request: Request| {
        let response = toggle(&request);
        Box::pin(async move { response })
    })
}
