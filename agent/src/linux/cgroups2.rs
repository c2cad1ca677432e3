//! Cgroups v2: the unified hierarchy.
//!
//! Upstream counterpart: `src/linux/cgroups2.cpp` (`cgroups2::create`,
//! `destroy`, `assign`, `processes`, `read`, `write`, `controllers`,
//! `kill`, `freezer`, `cpu`, `memory`, `pids`, `io`) and the constants of
//! `slave/containerizer/mesos/isolators/cgroups2/constants.hpp`.
//!
//! Every function takes the mount point of the unified hierarchy
//! (`/sys/fs/cgroup`) and a cgroup path relative to it, so tests can point
//! it at a tempdir laid out like the kernel's. Everything here blocks; an
//! actor calls it from `spawn_blocking`.
//!
//! Deliberate differences: OOM is detected by watching the `oom_kill`
//! counter of `memory.events` ([`memory::OomWatcher`], polling) rather than
//! upstream's inotify loop; [`create`] is idempotent; [`destroy`] is
//! synchronous with an explicit timeout.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{control, OomOutcome, Pid};

/// Errors of the cgroups v2 module; each carries the path that failed.
#[derive(Debug, thiserror::Error)]
pub enum Cgroups2Error {
    /// A control file could not be read.
    #[error("failed to read '{}'", path.display())]
    Read {
        /// The control file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A control file could not be written.
    #[error("failed to write '{value}' to '{}'", path.display())]
    Write {
        /// The control file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// The I/O error.
        source: io::Error,
    },
    /// A cgroup directory could not be created.
    #[error("failed to create cgroup '{}'", path.display())]
    Create {
        /// The cgroup directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A cgroup directory could not be removed.
    #[error("failed to remove cgroup '{}'", path.display())]
    Remove {
        /// The cgroup directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The nested cgroups of a cgroup could not be listed.
    #[error("failed to list the cgroups below '{}'", path.display())]
    List {
        /// The cgroup directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A control file held something unexpected.
    #[error("failed to parse '{}': {reason}", path.display())]
    Parse {
        /// The control file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A process of the cgroup could not be signalled.
    #[error("failed to kill process {pid} of cgroup '{}'", path.display())]
    Kill {
        /// The cgroup directory.
        path: PathBuf,
        /// The process.
        pid: Pid,
        /// The I/O error.
        source: io::Error,
    },
    /// The cgroup did not reach a state in time.
    #[error("timed out after {timeout:?} waiting for cgroup '{}' to {what}", path.display())]
    Timeout {
        /// The cgroup directory.
        path: PathBuf,
        /// What was awaited (`freeze`, `become empty`).
        what: &'static str,
        /// How long was waited.
        timeout: Duration,
    },
    /// A controller is not offered to the cgroup by its parent.
    #[error("controller '{controller}' is not available in '{}'", path.display())]
    ControllerUnavailable {
        /// The cgroup directory.
        path: PathBuf,
        /// The controller.
        controller: String,
    },
}

impl Cgroups2Error {
    /// Whether the failure is a missing file or directory (a cgroup that is
    /// gone, or a controller whose files are not there).
    pub fn is_not_found(&self) -> bool {
        match self {
            Cgroups2Error::Read { source, .. }
            | Cgroups2Error::Write { source, .. }
            | Cgroups2Error::Remove { source, .. }
            | Cgroups2Error::List { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

/// The module's result type.
pub type Result<T> = std::result::Result<T, Cgroups2Error>;

/// The v2 cgroup (relative to the unified hierarchy's root, without a
/// leading `/`) of process `pid`, from the `0::` line of
/// `<proc_root>/<pid>/cgroup`; `None` when there is none.
pub fn process_cgroup(proc_root: &Path, pid: Pid) -> Result<Option<String>> {
    let file = proc_root.join(pid.to_string()).join("cgroup");
    let text = read_path(&file)?;
    Ok(super::mountinfo::parse_process_cgroups(&text)
        .into_iter()
        .find(|entry| entry.hierarchy_id == 0 && entry.controllers.is_empty())
        .map(|entry| entry.path.trim_start_matches('/').to_owned()))
}

/// The directory of `cgroup` below the unified hierarchy's `root`.
pub fn path(root: &Path, cgroup: &str) -> PathBuf {
    root.join(cgroup.trim_start_matches('/'))
}

/// The cgroup below a top-level container's where the container's
/// processes live (upstream's cgroups v2 layout, `<container>/leaf`): the
/// container's own cgroup holds none, so that controllers can be enabled
/// below it for nested containers with cgroups of their own (the unified
/// hierarchy's no-internal-process rule).
pub const LEAF: &str = "leaf";

/// Whether `cgroup` exists.
pub fn exists(root: &Path, cgroup: &str) -> bool {
    path(root, cgroup).is_dir()
}

/// Creates `cgroup` and any missing parents. An existing cgroup is fine.
pub fn create(root: &Path, cgroup: &str) -> Result<()> {
    let dir = path(root, cgroup);
    fs::create_dir_all(&dir).map_err(|source| Cgroups2Error::Create { path: dir, source })
}

/// The cgroups nested in `cgroup` (not `cgroup` itself), deepest first, as
/// cgroup paths relative to `root`.
pub fn nested(root: &Path, cgroup: &str) -> Result<Vec<String>> {
    let dir = path(root, cgroup);
    let list = control::descendants(root, &dir)
        .map_err(|source| Cgroups2Error::List { path: dir, source })?;
    Ok(list
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect())
}

/// Removes `cgroup` and its nested cgroups, deepest first, retrying on
/// `EBUSY` for up to `timeout` each. Processes are not killed: see
/// [`destroy`]. A cgroup that is already gone is fine.
pub fn remove(root: &Path, cgroup: &str, timeout: Duration) -> Result<()> {
    if !exists(root, cgroup) {
        return Ok(());
    }
    let mut all = nested(root, cgroup)?;
    all.push(cgroup.trim_start_matches('/').to_owned());
    for each in all {
        let dir = path(root, &each);
        control::remove_dir_retrying(&dir, timeout)
            .map_err(|source| Cgroups2Error::Remove { path: dir, source })?;
    }
    Ok(())
}

/// Kills every process in `cgroup`'s subtree ([`kill_all`]) and removes
/// the subtree (upstream `cgroups2::destroy`). A missing cgroup is fine.
pub fn destroy(root: &Path, cgroup: &str, timeout: Duration) -> Result<()> {
    if !exists(root, cgroup) {
        return Ok(());
    }
    kill_all(root, cgroup, timeout)?;
    remove(root, cgroup, timeout)
}

/// Moves process `pid` into `cgroup` (which, below the root, must not
/// have controllers enabled in its `cgroup.subtree_control`).
pub fn assign(root: &Path, cgroup: &str, pid: Pid) -> Result<()> {
    write(root, cgroup, "cgroup.procs", &pid.to_string())
}

/// The processes in `cgroup` itself (not nested cgroups), sorted.
pub fn processes(root: &Path, cgroup: &str) -> Result<Vec<Pid>> {
    read_pids(&path(root, cgroup).join("cgroup.procs"))
}

/// The processes in `cgroup` and all nested cgroups, sorted.
pub fn processes_recursive(root: &Path, cgroup: &str) -> Result<Vec<Pid>> {
    let mut all = processes(root, cgroup)?;
    for each in nested(root, cgroup)? {
        all.extend(processes(root, &each)?);
    }
    all.sort_unstable();
    all.dedup();
    Ok(all)
}

/// The threads in `cgroup`, sorted.
pub fn threads(root: &Path, cgroup: &str) -> Result<Vec<Pid>> {
    read_pids(&path(root, cgroup).join("cgroup.threads"))
}

/// Reads control file `control` of `cgroup`.
pub fn read(root: &Path, cgroup: &str, control: &str) -> Result<String> {
    read_path(&path(root, cgroup).join(control))
}

/// Writes `value` to control file `control` of `cgroup`.
pub fn write(root: &Path, cgroup: &str, control: &str, value: &str) -> Result<()> {
    write_path(&path(root, cgroup).join(control), value)
}

/// Whether `cgroup` has control file `control`.
pub fn has_control(root: &Path, cgroup: &str, control: &str) -> bool {
    path(root, cgroup).join(control).exists()
}

/// Reads a flat keyed control file (`memory.stat`, `cpu.stat`,
/// `memory.events`) into a map.
pub fn stat(root: &Path, cgroup: &str, control: &str) -> Result<BTreeMap<String, u64>> {
    let file = path(root, cgroup).join(control);
    let text = read_path(&file)?;
    control::parse_flat_keyed(&text).map_err(|reason| Cgroups2Error::Parse { path: file, reason })
}

/// The controllers `cgroup` may use (`cgroup.controllers`).
pub fn available_controllers(root: &Path, cgroup: &str) -> Result<Vec<String>> {
    Ok(read(root, cgroup, "cgroup.controllers")?
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}

/// The controllers enabled for `cgroup`'s children (`cgroup.subtree_control`).
pub fn enabled_controllers(root: &Path, cgroup: &str) -> Result<Vec<String>> {
    Ok(read(root, cgroup, "cgroup.subtree_control")?
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}

/// Enables `controllers` for `cgroup`'s children by writing `+name` to its
/// `cgroup.subtree_control` (upstream `cgroups2::controllers::enable`).
/// Each must be in its `cgroup.controllers`.
pub fn enable_controllers(root: &Path, cgroup: &str, controllers: &[&str]) -> Result<()> {
    let available = available_controllers(root, cgroup)?;
    let enabled = enabled_controllers(root, cgroup)?;
    for controller in controllers {
        if enabled.iter().any(|c| c == controller) {
            continue;
        }
        if !available.iter().any(|c| c == controller) {
            return Err(Cgroups2Error::ControllerUnavailable {
                path: path(root, cgroup),
                controller: (*controller).to_owned(),
            });
        }
        write(
            root,
            cgroup,
            "cgroup.subtree_control",
            &format!("+{controller}"),
        )?;
    }
    Ok(())
}

/// Makes `controllers` usable in `cgroup` by enabling them in the
/// `cgroup.subtree_control` of the root and of every ancestor of `cgroup`.
pub fn enable_controllers_along_path(
    root: &Path,
    cgroup: &str,
    controllers: &[&str],
) -> Result<()> {
    let mut ancestor = String::new();
    enable_controllers(root, &ancestor, controllers)?;
    let components: Vec<&str> = cgroup
        .trim_matches('/')
        .split('/')
        .filter(|c| !c.is_empty())
        .collect();
    for component in components.iter().take(components.len().saturating_sub(1)) {
        if !ancestor.is_empty() {
            ancestor.push('/');
        }
        ancestor.push_str(component);
        enable_controllers(root, &ancestor, controllers)?;
    }
    Ok(())
}

/// The `populated` and `frozen` flags of `cgroup.events`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    /// Whether a live process is in the cgroup or below.
    pub populated: bool,
    /// Whether the cgroup is frozen.
    pub frozen: bool,
}

/// Reads `cgroup.events`.
pub fn events(root: &Path, cgroup: &str) -> Result<Events> {
    let map = stat(root, cgroup, "cgroup.events")?;
    Ok(Events {
        populated: map.get("populated").copied().unwrap_or(0) != 0,
        frozen: map.get("frozen").copied().unwrap_or(0) != 0,
    })
}

/// Freezes `cgroup`'s subtree (`cgroup.freeze`) and waits for `frozen 1`.
pub fn freeze(root: &Path, cgroup: &str, timeout: Duration) -> Result<()> {
    write(root, cgroup, "cgroup.freeze", "1")?;
    wait_for(root, cgroup, timeout, "freeze", |e| e.frozen)
}

/// Thaws `cgroup`'s subtree and waits for `frozen 0`.
pub fn thaw(root: &Path, cgroup: &str, timeout: Duration) -> Result<()> {
    write(root, cgroup, "cgroup.freeze", "0")?;
    wait_for(root, cgroup, timeout, "thaw", |e| !e.frozen)
}

fn wait_for(
    root: &Path,
    cgroup: &str,
    timeout: Duration,
    what: &'static str,
    done: impl Fn(&Events) -> bool,
) -> Result<()> {
    let reached = control::poll_until(timeout, Duration::from_millis(2), || {
        events(root, cgroup).map(|e| done(&e))
    })?;
    if reached {
        Ok(())
    } else {
        Err(Cgroups2Error::Timeout {
            path: path(root, cgroup),
            what,
            timeout,
        })
    }
}

/// Kills every process in `cgroup`'s subtree and waits until none is
/// left. With `cgroup.kill` (Linux 5.14+) the kernel kills the subtree
/// atomically; without it each round freezes the subtree, sends SIGKILL to
/// all, and thaws it. Rounds repeat until empty or `timeout` passes.
pub fn kill_all(root: &Path, cgroup: &str, timeout: Duration) -> Result<()> {
    let method = if has_control(root, cgroup, "cgroup.kill") {
        KillMethod::CgroupKill
    } else {
        KillMethod::Freezer
    };
    kill_all_with(root, cgroup, timeout, method)
}

/// How [`kill_all_with`] kills a subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillMethod {
    /// Write `1` to `cgroup.kill` (Linux 5.14+).
    CgroupKill,
    /// Freeze, SIGKILL every process, thaw (Linux 5.2+).
    Freezer,
}

/// [`kill_all`] with a chosen method.
pub fn kill_all_with(
    root: &Path,
    cgroup: &str,
    timeout: Duration,
    method: KillMethod,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if processes_recursive(root, cgroup)?.is_empty() {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Cgroups2Error::Timeout {
                path: path(root, cgroup),
                what: "become empty",
                timeout,
            });
        }
        if method == KillMethod::CgroupKill {
            write(root, cgroup, "cgroup.kill", "1")?;
        } else {
            let frozen = freeze(root, cgroup, left.min(Duration::from_secs(5)));
            let killed = signal_all(root, cgroup, libc::SIGKILL);
            // Thaw even when freezing or killing failed.
            thaw(root, cgroup, left.min(Duration::from_secs(5)))?;
            killed?;
            if let Err(error) = frozen {
                if !matches!(error, Cgroups2Error::Timeout { .. }) {
                    return Err(error);
                }
            }
        }
        control::poll_until(
            left.min(Duration::from_millis(500)),
            Duration::from_millis(5),
            || processes_recursive(root, cgroup).map(|pids| pids.is_empty()),
        )?;
    }
}

/// Sends `signal` to every process in `cgroup`'s subtree.
pub fn signal_all(root: &Path, cgroup: &str, signal: libc::c_int) -> Result<()> {
    for pid in processes_recursive(root, cgroup)? {
        control::kill(pid, signal).map_err(|source| Cgroups2Error::Kill {
            path: path(root, cgroup),
            pid,
            source,
        })?;
    }
    Ok(())
}

fn read_path(file: &Path) -> Result<String> {
    control::read(file).map_err(|source| Cgroups2Error::Read {
        path: file.to_path_buf(),
        source,
    })
}

fn write_path(file: &Path, value: &str) -> Result<()> {
    control::write(file, value).map_err(|source| Cgroups2Error::Write {
        path: file.to_path_buf(),
        value: value.to_owned(),
        source,
    })
}

fn read_pids(file: &Path) -> Result<Vec<Pid>> {
    let text = read_path(file)?;
    control::parse_pids(&text).map_err(|reason| Cgroups2Error::Parse {
        path: file.to_path_buf(),
        reason,
    })
}

fn read_u64(root: &Path, cgroup: &str, control: &str) -> Result<u64> {
    let file = path(root, cgroup).join(control);
    let text = read_path(&file)?;
    control::parse_u64(&text).map_err(|reason| Cgroups2Error::Parse { path: file, reason })
}

/// Reads a file holding a number or `max`; `None` is `max`.
fn read_max(root: &Path, cgroup: &str, control: &str) -> Result<Option<u64>> {
    let file = path(root, cgroup).join(control);
    let text = read_path(&file)?;
    if text.trim() == "max" {
        return Ok(None);
    }
    control::parse_u64(&text)
        .map(Some)
        .map_err(|reason| Cgroups2Error::Parse { path: file, reason })
}

fn max_value(value: Option<u64>) -> String {
    value.map_or_else(|| "max".to_owned(), |v| v.to_string())
}

/// The `cpu` controller: weight and bandwidth (upstream `cgroups2::cpu`).
pub mod cpu {
    use super::*;

    /// Weight given per cpu (upstream `CGROUPS2_CPU_WEIGHT_PER_CPU`).
    pub const CPU_WEIGHT_PER_CPU: u64 = 100;
    /// Weight per revocable cpu with `--revocable_cpu_low_priority`
    /// (upstream `CGROUPS2_CPU_WEIGHT_PER_CPU_REVOCABLE`).
    pub const CPU_WEIGHT_PER_CPU_REVOCABLE: u64 = 1;
    /// The kernel's smallest `cpu.weight`.
    pub const MIN_CPU_WEIGHT: u64 = 1;
    /// The kernel's largest `cpu.weight`.
    pub const MAX_CPU_WEIGHT: u64 = 10_000;
    /// The bandwidth period set with a quota (upstream
    /// `CGROUPS2_CPU_CFS_PERIOD`).
    pub const CPU_CFS_PERIOD: Duration = Duration::from_millis(100);
    /// The smallest quota set (upstream `CGROUPS2_MIN_CPU_CFS_QUOTA`).
    pub const MIN_CPU_CFS_QUOTA: Duration = Duration::from_millis(1);

    /// `cpu.weight` for `cpus` as upstream's cgroups2 cpu controller
    /// computes it: `max(100 × cpus, 1)`, truncated, at most 10000.
    pub fn weight_for_cpus(cpus: f64) -> u64 {
        ((CPU_WEIGHT_PER_CPU as f64 * cpus) as u64).clamp(MIN_CPU_WEIGHT, MAX_CPU_WEIGHT)
    }

    /// `cpu.weight` for `cpus` of a container with revocable cpus under
    /// `--revocable_cpu_low_priority`: `max(1 × cpus, 1)`, truncated.
    pub fn revocable_weight_for_cpus(cpus: f64) -> u64 {
        ((CPU_WEIGHT_PER_CPU_REVOCABLE as f64 * cpus) as u64).clamp(MIN_CPU_WEIGHT, MAX_CPU_WEIGHT)
    }

    /// Converts a v1 `cpu.shares` value to a v2 `cpu.weight` with the
    /// kernel's own mapping (`kernel/sched/core.c`: a weight `w` is the
    /// scheduler weight `w × 1024 / 100`, so the inverse is
    /// `round(shares × 100 / 1024)`, clamped to 1..=10000). systemd uses
    /// the same ratio (`CPUShares=1024` is `CPUWeight=100`). runc instead
    /// maps 2..=262144 linearly onto 1..=10000 (`1 + (shares - 2) × 9999 /
    /// 262142`, so 1024 becomes 39), which breaks the ratio between
    /// containers; keeping the ratio is what Mesos's `cpus` means, and it
    /// agrees with [`weight_for_cpus`] (1024 shares per cpu, 100 weight per
    /// cpu) up to rounding.
    pub fn shares_to_weight(shares: u64) -> u64 {
        (shares.saturating_mul(100).saturating_add(512) / 1024)
            .clamp(MIN_CPU_WEIGHT, MAX_CPU_WEIGHT)
    }

    /// CFS quota for `cpus` over [`CPU_CFS_PERIOD`]: `max(100 ms × cpus,
    /// 1 ms)`.
    pub fn quota_for_cpus(cpus: f64) -> Duration {
        let micros = (CPU_CFS_PERIOD.as_micros() as f64 * cpus) as u64;
        Duration::from_micros(micros).max(MIN_CPU_CFS_QUOTA)
    }

    /// Writes `cpu.weight`.
    pub fn set_weight(root: &Path, cgroup: &str, weight: u64) -> Result<()> {
        write(root, cgroup, "cpu.weight", &weight.to_string())
    }

    /// Reads `cpu.weight`.
    pub fn weight(root: &Path, cgroup: &str) -> Result<u64> {
        read_u64(root, cgroup, "cpu.weight")
    }

    /// A value of `cpu.max`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct BandwidthLimit {
        /// Run time allowed per period; `None` is `max` (unlimited).
        pub quota: Option<Duration>,
        /// The period.
        pub period: Duration,
    }

    impl BandwidthLimit {
        /// No limit, with the default period.
        pub fn unlimited() -> Self {
            BandwidthLimit {
                quota: None,
                period: CPU_CFS_PERIOD,
            }
        }

        /// `cpus` worth of run time per [`CPU_CFS_PERIOD`].
        pub fn for_cpus(cpus: f64) -> Self {
            BandwidthLimit {
                quota: Some(quota_for_cpus(cpus)),
                period: CPU_CFS_PERIOD,
            }
        }
    }

    /// Writes `cpu.max` as `"$QUOTA $PERIOD"` (quota `max` when unlimited).
    pub fn set_max(root: &Path, cgroup: &str, limit: BandwidthLimit) -> Result<()> {
        let quota = limit
            .quota
            .map_or_else(|| "max".to_owned(), |q| q.as_micros().to_string());
        write(
            root,
            cgroup,
            "cpu.max",
            &format!("{quota} {}", limit.period.as_micros()),
        )
    }

    /// Reads `cpu.max`.
    pub fn max(root: &Path, cgroup: &str) -> Result<BandwidthLimit> {
        let file = path(root, cgroup).join("cpu.max");
        let text = read_path(&file)?;
        let parse_error = |reason: String| Cgroups2Error::Parse {
            path: file.clone(),
            reason,
        };
        let mut fields = text.split_whitespace();
        let quota = match fields.next() {
            Some("max") => None,
            Some(quota) => Some(Duration::from_micros(
                control::parse_u64(quota).map_err(parse_error)?,
            )),
            None => return Err(parse_error("empty file".to_owned())),
        };
        let period = match fields.next() {
            Some(period) => Duration::from_micros(control::parse_u64(period).map_err(parse_error)?),
            None => CPU_CFS_PERIOD,
        };
        Ok(BandwidthLimit { quota, period })
    }

    /// The counters of `cpu.stat`. The throttling ones are only there when
    /// the `cpu` controller is enabled for the cgroup.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct Stat {
        /// Total cpu time (`usage_usec`).
        pub usage: Duration,
        /// User time (`user_usec`).
        pub user: Duration,
        /// System time (`system_usec`).
        pub system: Duration,
        /// Elapsed enforcement periods (`nr_periods`).
        pub nr_periods: Option<u64>,
        /// Periods in which the cgroup was throttled (`nr_throttled`).
        pub nr_throttled: Option<u64>,
        /// Total time throttled (`throttled_usec`).
        pub throttled: Option<Duration>,
    }

    /// Reads `cpu.stat`.
    pub fn stat(root: &Path, cgroup: &str) -> Result<Stat> {
        let map = super::stat(root, cgroup, "cpu.stat")?;
        let micros = |key: &str| Duration::from_micros(map.get(key).copied().unwrap_or(0));
        Ok(Stat {
            usage: micros("usage_usec"),
            user: micros("user_usec"),
            system: micros("system_usec"),
            nr_periods: map.get("nr_periods").copied(),
            nr_throttled: map.get("nr_throttled").copied(),
            throttled: map
                .get("throttled_usec")
                .copied()
                .map(Duration::from_micros),
        })
    }
}

/// The `memory` controller (upstream `cgroups2::memory`).
pub mod memory {
    use super::*;

    /// The smallest limit the memory controller sets (upstream
    /// `CGROUPS2_MIN_MEMORY`).
    pub const MIN_MEMORY: u64 = 32 * 1024 * 1024;

    /// Writes `memory.max` (hard limit); `None` is `max`.
    pub fn set_max(root: &Path, cgroup: &str, limit: Option<u64>) -> Result<()> {
        write(root, cgroup, "memory.max", &max_value(limit))
    }

    /// Reads `memory.max`; `None` when unlimited.
    pub fn max(root: &Path, cgroup: &str) -> Result<Option<u64>> {
        read_max(root, cgroup, "memory.max")
    }

    /// Writes `memory.high` (throttling limit); `None` is `max`.
    pub fn set_high(root: &Path, cgroup: &str, limit: Option<u64>) -> Result<()> {
        write(root, cgroup, "memory.high", &max_value(limit))
    }

    /// Reads `memory.high`; `None` when unlimited.
    pub fn high(root: &Path, cgroup: &str) -> Result<Option<u64>> {
        read_max(root, cgroup, "memory.high")
    }

    /// Writes `memory.low` (protection; upstream's soft limit).
    pub fn set_low(root: &Path, cgroup: &str, bytes: u64) -> Result<()> {
        write(root, cgroup, "memory.low", &bytes.to_string())
    }

    /// Reads `memory.low`.
    pub fn low(root: &Path, cgroup: &str) -> Result<u64> {
        read_u64(root, cgroup, "memory.low")
    }

    /// Writes `memory.swap.max`; `None` is `max`. Answers `false` when the
    /// kernel has no swap accounting (no such file).
    pub fn set_swap_max(root: &Path, cgroup: &str, limit: Option<u64>) -> Result<bool> {
        if !has_control(root, cgroup, "memory.swap.max") {
            return Ok(false);
        }
        write(root, cgroup, "memory.swap.max", &max_value(limit))?;
        Ok(true)
    }

    /// Reads `memory.swap.max`; `None` when unlimited.
    pub fn swap_max(root: &Path, cgroup: &str) -> Result<Option<u64>> {
        read_max(root, cgroup, "memory.swap.max")
    }

    /// Reads `memory.current` (usage including page cache).
    pub fn current(root: &Path, cgroup: &str) -> Result<u64> {
        read_u64(root, cgroup, "memory.current")
    }

    /// Reads `memory.peak` (Linux 5.19+); `None` when absent.
    pub fn peak(root: &Path, cgroup: &str) -> Result<Option<u64>> {
        optional_u64(root, cgroup, "memory.peak")
    }

    /// Reads `memory.swap.current`; `None` without swap accounting.
    pub fn swap_current(root: &Path, cgroup: &str) -> Result<Option<u64>> {
        optional_u64(root, cgroup, "memory.swap.current")
    }

    /// Reads `memory.stat` (`anon`, `file`, `file_mapped`, `unevictable`,
    /// `kernel`, `sock`, ...).
    pub fn stat(root: &Path, cgroup: &str) -> Result<BTreeMap<String, u64>> {
        super::stat(root, cgroup, "memory.stat")
    }

    fn optional_u64(root: &Path, cgroup: &str, control: &str) -> Result<Option<u64>> {
        if !has_control(root, cgroup, control) {
            return Ok(None);
        }
        read_u64(root, cgroup, control).map(Some)
    }

    /// The counters of `memory.events`.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct Events {
        /// Reclaims below `memory.low`.
        pub low: u64,
        /// Times usage went over `memory.high`.
        pub high: u64,
        /// Times usage was about to go over `memory.max`.
        pub max: u64,
        /// Times the cgroup hit its limit and the OOM killer was invoked.
        pub oom: u64,
        /// Processes killed by the OOM killer.
        pub oom_kill: u64,
        /// Whole-group OOM kills (`memory.oom.group`).
        pub oom_group_kill: u64,
    }

    /// Reads `memory.events`.
    pub fn events(root: &Path, cgroup: &str) -> Result<Events> {
        read_events(root, cgroup, "memory.events")
    }

    /// Reads `memory.events.local` (kernel 5.2 and later): the events of
    /// `cgroup` itself, where `memory.events` adds its descendants'. Its
    /// `oom` counts the OOMs of this cgroup's own limit.
    pub fn events_local(root: &Path, cgroup: &str) -> Result<Events> {
        read_events(root, cgroup, "memory.events.local")
    }

    fn read_events(root: &Path, cgroup: &str, control: &str) -> Result<Events> {
        let map = super::stat(root, cgroup, control)?;
        let get = |key: &str| map.get(key).copied().unwrap_or(0);
        Ok(Events {
            low: get("low"),
            high: get("high"),
            max: get("max"),
            oom: get("oom"),
            oom_kill: get("oom_kill"),
            oom_group_kill: get("oom_group_kill"),
        })
    }

    /// Watches the `oom_kill` counter of `memory.events`: an OOM kill is a
    /// rise over the value seen at creation. Create it before the workload
    /// runs; [`OomWatcher::wait`] blocks (polling every `interval`), so an
    /// actor runs it under `spawn_blocking`. Removing the cgroup ends the
    /// wait with [`OomOutcome::Removed`].
    #[derive(Debug, Clone)]
    pub struct OomWatcher {
        root: PathBuf,
        cgroup: String,
        baseline: u64,
        interval: Duration,
        local: bool,
    }

    impl OomWatcher {
        /// The default polling interval.
        pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);

        /// Starts watching `cgroup`.
        pub fn new(root: &Path, cgroup: &str) -> Result<OomWatcher> {
            let baseline = events(root, cgroup)?.oom_kill;
            Ok(OomWatcher {
                root: root.to_path_buf(),
                cgroup: cgroup.to_owned(),
                baseline,
                interval: Self::DEFAULT_INTERVAL,
                local: false,
            })
        }

        /// Starts watching the OOMs of `cgroup`'s own limit: the `oom`
        /// counter of `memory.events.local`, so that a nested cgroup over
        /// its own, smaller limit is not taken for this one (OOM kills
        /// count where their victim lives, and `memory.events` adds the
        /// descendants'). Without `memory.events.local` (kernels before
        /// 5.2), the `oom_kill` counter of `memory.events`, as [`Self::new`].
        pub fn local(root: &Path, cgroup: &str) -> Result<OomWatcher> {
            if !has_control(root, cgroup, "memory.events.local") {
                return Self::new(root, cgroup);
            }
            let baseline = events_local(root, cgroup)?.oom;
            Ok(OomWatcher {
                root: root.to_path_buf(),
                cgroup: cgroup.to_owned(),
                baseline,
                interval: Self::DEFAULT_INTERVAL,
                local: true,
            })
        }

        fn counter(&self) -> Result<u64> {
            if self.local {
                events_local(&self.root, &self.cgroup).map(|e| e.oom)
            } else {
                events(&self.root, &self.cgroup).map(|e| e.oom_kill)
            }
        }

        /// Sets the polling interval.
        pub fn with_interval(mut self, interval: Duration) -> OomWatcher {
            self.interval = interval;
            self
        }

        /// Looks once: `Some` when an OOM kill happened since creation (the
        /// baseline moves on, so the next OOM is reported again) or the
        /// cgroup is gone.
        pub fn check(&mut self) -> Result<Option<OomOutcome>> {
            if !exists(&self.root, &self.cgroup) {
                return Ok(Some(OomOutcome::Removed));
            }
            match self.counter() {
                Ok(count) if count > self.baseline => {
                    self.baseline = count;
                    Ok(Some(OomOutcome::Oom))
                }
                Ok(_) => Ok(None),
                Err(error) if error.is_not_found() && !exists(&self.root, &self.cgroup) => {
                    Ok(Some(OomOutcome::Removed))
                }
                Err(error) => Err(error),
            }
        }

        /// Blocks until an OOM kill or the cgroup's removal.
        pub fn wait(&mut self) -> Result<OomOutcome> {
            loop {
                if let Some(outcome) = self.check()? {
                    return Ok(outcome);
                }
                std::thread::sleep(self.interval);
            }
        }

        /// Like [`OomWatcher::wait`], giving up after `timeout` (`None`).
        pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<OomOutcome>> {
            let deadline = Instant::now() + timeout;
            loop {
                if let Some(outcome) = self.check()? {
                    return Ok(Some(outcome));
                }
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                std::thread::sleep(
                    self.interval
                        .min(deadline.saturating_duration_since(Instant::now())),
                );
            }
        }
    }
}

/// The `pids` controller.
pub mod pids {
    use super::*;

    /// Writes `pids.max`; `None` is `max`.
    pub fn set_max(root: &Path, cgroup: &str, max: Option<u64>) -> Result<()> {
        write(root, cgroup, "pids.max", &max_value(max))
    }

    /// Reads `pids.max`; `None` when unlimited.
    pub fn max(root: &Path, cgroup: &str) -> Result<Option<u64>> {
        read_max(root, cgroup, "pids.max")
    }

    /// Reads `pids.current`.
    pub fn current(root: &Path, cgroup: &str) -> Result<u64> {
        read_u64(root, cgroup, "pids.current")
    }
}

/// The `io` controller's statistics.
pub mod io_stat {
    use super::*;

    /// Reads `io.stat`: per device (`major:minor`), its counters (`rbytes`,
    /// `wbytes`, `rios`, `wios`, `dbytes`, `dios`).
    pub fn stat(root: &Path, cgroup: &str) -> Result<BTreeMap<String, BTreeMap<String, u64>>> {
        let file = path(root, cgroup).join("io.stat");
        let text = read_path(&file)?;
        parse(&text).map_err(|reason| Cgroups2Error::Parse { path: file, reason })
    }

    pub(crate) fn parse(
        text: &str,
    ) -> std::result::Result<BTreeMap<String, BTreeMap<String, u64>>, String> {
        let mut devices = BTreeMap::new();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let mut fields = line.split_whitespace();
            let Some(device) = fields.next() else {
                continue;
            };
            let mut counters = BTreeMap::new();
            for field in fields {
                let (key, value) = field
                    .split_once('=')
                    .ok_or_else(|| format!("expected 'key=value', found '{field}'"))?;
                let value = value
                    .parse()
                    .map_err(|_| format!("expected a number for '{key}', found '{value}'"))?;
                counters.insert(key.to_owned(), value);
            }
            devices.insert(device.to_owned(), counters);
        }
        Ok(devices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lays out `cgroup` below `root` with the files the kernel creates for
    /// a cgroup with the cpu, memory, pids and io controllers enabled
    /// (youki's `set_fixture`).
    fn set_fixture(root: &Path, cgroup: &str) -> PathBuf {
        let dir = path(root, cgroup);
        fs::create_dir_all(&dir).expect("fixture dir");
        let files = [
            ("cgroup.controllers", "cpu io memory pids\n"),
            ("cgroup.subtree_control", "\n"),
            ("cgroup.procs", ""),
            ("cgroup.threads", ""),
            ("cgroup.events", "populated 0\nfrozen 0\n"),
            ("cgroup.freeze", "0\n"),
            ("cgroup.kill", ""),
            ("cpu.weight", "100\n"),
            ("cpu.max", "max 100000\n"),
            (
                "cpu.stat",
                "usage_usec 3500000\nuser_usec 2500000\nsystem_usec 1000000\nnr_periods 40\nnr_throttled 4\nthrottled_usec 120000\n",
            ),
            ("memory.max", "max\n"),
            ("memory.high", "max\n"),
            ("memory.low", "0\n"),
            ("memory.swap.max", "max\n"),
            ("memory.current", "1048576\n"),
            ("memory.stat", "anon 4096\nfile 8192\nfile_mapped 1024\nunevictable 0\n"),
            ("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"),
            ("pids.max", "max\n"),
            ("pids.current", "3\n"),
            ("io.stat", "8:0 rbytes=4096 wbytes=512 rios=2 wios=1 dbytes=0 dios=0\n"),
        ];
        for (file, content) in files {
            fs::write(dir.join(file), content).expect("fixture file");
        }
        dir
    }

    #[test]
    fn process_cgroup_is_read_from_the_given_proc_root() {
        let proc_root = tempfile::tempdir().expect("tempdir");
        fs::create_dir(proc_root.path().join("7")).expect("fixture");
        fs::write(proc_root.path().join("7/cgroup"), "0::/mesos/c1\n").expect("fixture");
        assert_eq!(
            process_cgroup(proc_root.path(), 7).expect("read"),
            Some("mesos/c1".to_owned())
        );
    }

    #[test]
    fn cpu_weight_conversions() {
        assert_eq!(cpu::shares_to_weight(1024), 100);
        assert_eq!(cpu::shares_to_weight(512), 50);
        assert_eq!(cpu::shares_to_weight(102), 10);
        assert_eq!(cpu::shares_to_weight(2), 1);
        assert_eq!(cpu::shares_to_weight(262_144), 10_000);
        assert_eq!(cpu::shares_to_weight(u64::MAX), 10_000);
        assert_eq!(cpu::weight_for_cpus(1.0), 100);
        assert_eq!(cpu::weight_for_cpus(0.5), 50);
        assert_eq!(cpu::weight_for_cpus(0.001), 1);
        assert_eq!(cpu::weight_for_cpus(1000.0), 10_000);
        assert_eq!(cpu::quota_for_cpus(0.25), Duration::from_millis(25));
        assert_eq!(cpu::quota_for_cpus(0.0001), cpu::MIN_CPU_CFS_QUOTA);
    }

    #[test]
    fn cpu_files_are_written_and_read() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = set_fixture(root.path(), "mesos/c1");
        cpu::set_weight(root.path(), "mesos/c1", cpu::weight_for_cpus(2.5)).expect("write");
        assert_eq!(
            fs::read_to_string(dir.join("cpu.weight")).expect("read"),
            "250"
        );
        assert_eq!(cpu::weight(root.path(), "mesos/c1").expect("read"), 250);
        assert_eq!(
            cpu::max(root.path(), "mesos/c1").expect("read"),
            cpu::BandwidthLimit::unlimited()
        );
        cpu::set_max(root.path(), "mesos/c1", cpu::BandwidthLimit::for_cpus(1.5)).expect("write");
        assert_eq!(
            fs::read_to_string(dir.join("cpu.max")).expect("read"),
            "150000 100000"
        );
        assert_eq!(
            cpu::max(root.path(), "mesos/c1").expect("read").quota,
            Some(Duration::from_millis(150))
        );
        cpu::set_max(root.path(), "mesos/c1", cpu::BandwidthLimit::unlimited()).expect("write");
        assert_eq!(
            fs::read_to_string(dir.join("cpu.max")).expect("read"),
            "max 100000"
        );
    }

    #[test]
    fn cpu_stat_is_parsed_with_and_without_throttling() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = set_fixture(root.path(), "c");
        let stat = cpu::stat(root.path(), "c").expect("stat");
        assert_eq!(stat.user, Duration::from_millis(2500));
        assert_eq!(stat.system, Duration::from_secs(1));
        assert_eq!(stat.nr_periods, Some(40));
        assert_eq!(stat.nr_throttled, Some(4));
        assert_eq!(stat.throttled, Some(Duration::from_millis(120)));
        fs::write(
            dir.join("cpu.stat"),
            "usage_usec 10\nuser_usec 6\nsystem_usec 4\n",
        )
        .expect("fixture");
        let stat = cpu::stat(root.path(), "c").expect("stat");
        assert_eq!(stat.nr_periods, None);
        assert_eq!(stat.throttled, None);
        fs::write(dir.join("cpu.stat"), "usage_usec ten\n").expect("fixture");
        let error = cpu::stat(root.path(), "c").expect_err("bad number");
        assert!(
            error.to_string().starts_with("failed to parse '"),
            "{error}"
        );
        assert!(error.to_string().contains("cpu.stat"), "{error}");
    }

    #[test]
    fn memory_files_are_written_and_read() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = set_fixture(root.path(), "c");
        assert_eq!(memory::max(root.path(), "c").expect("read"), None);
        memory::set_max(root.path(), "c", Some(64 << 20)).expect("write");
        assert_eq!(
            fs::read_to_string(dir.join("memory.max")).expect("read"),
            "67108864"
        );
        assert_eq!(memory::max(root.path(), "c").expect("read"), Some(64 << 20));
        memory::set_max(root.path(), "c", None).expect("write");
        assert_eq!(
            fs::read_to_string(dir.join("memory.max")).expect("read"),
            "max"
        );
        memory::set_high(root.path(), "c", Some(48 << 20)).expect("write");
        assert_eq!(
            memory::high(root.path(), "c").expect("read"),
            Some(48 << 20)
        );
        memory::set_low(root.path(), "c", memory::MIN_MEMORY).expect("write");
        assert_eq!(memory::low(root.path(), "c").expect("read"), 32 << 20);
        assert!(memory::set_swap_max(root.path(), "c", Some(0)).expect("write"));
        assert_eq!(memory::swap_max(root.path(), "c").expect("read"), Some(0));
        assert_eq!(memory::current(root.path(), "c").expect("read"), 1 << 20);
        assert_eq!(memory::peak(root.path(), "c").expect("optional"), None);
        assert_eq!(
            memory::swap_current(root.path(), "c").expect("optional"),
            None
        );
        let stat = memory::stat(root.path(), "c").expect("stat");
        assert_eq!(stat.get("anon"), Some(&4096));
        assert_eq!(stat.get("file_mapped"), Some(&1024));
        fs::remove_file(dir.join("memory.swap.max")).expect("fixture");
        assert!(!memory::set_swap_max(root.path(), "c", Some(0)).expect("no swap accounting"));
    }

    #[test]
    fn oom_is_detected_from_memory_events() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = set_fixture(root.path(), "c");
        fs::write(
            dir.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n",
        )
        .expect("fixture");
        let mut watcher = memory::OomWatcher::new(root.path(), "c")
            .expect("watch")
            .with_interval(Duration::from_millis(5));
        // An OOM before the watcher started is not reported.
        assert_eq!(watcher.check().expect("check"), None);
        assert_eq!(
            watcher
                .wait_timeout(Duration::from_millis(20))
                .expect("wait"),
            None
        );

        let events = dir.join("memory.events");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            fs::write(
                events,
                "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\noom_group_kill 0\n",
            )
            .expect("rewrite");
        });
        assert_eq!(watcher.wait().expect("wait"), OomOutcome::Oom);
        writer.join().expect("writer");
        assert_eq!(memory::events(root.path(), "c").expect("events").max, 9);
        // Reported once per kill.
        assert_eq!(watcher.check().expect("check"), None);

        fs::remove_dir_all(&dir).expect("remove");
        assert_eq!(watcher.wait().expect("wait"), OomOutcome::Removed);
    }

    #[test]
    fn a_local_oom_watcher_sees_only_the_cgroups_own_limit() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = set_fixture(root.path(), "e");
        let write = |file: &str, oom: u64, oom_kill: u64| {
            fs::write(
                dir.join(file),
                format!("low 0\nhigh 0\nmax 0\noom {oom}\noom_kill {oom_kill}\n"),
            )
            .expect("fixture");
        };
        write("memory.events", 0, 0);
        write("memory.events.local", 0, 0);
        let mut watcher = memory::OomWatcher::local(root.path(), "e").expect("watch");
        // A nested cgroup's OOM: counted in `memory.events` only.
        write("memory.events", 1, 1);
        assert_eq!(watcher.check().expect("check"), None);
        // The cgroup's own limit.
        write("memory.events.local", 1, 0);
        assert_eq!(watcher.check().expect("check"), Some(OomOutcome::Oom));
        assert_eq!(watcher.check().expect("check"), None);
        // Without `memory.events.local`: `oom_kill` of `memory.events`.
        fs::remove_file(dir.join("memory.events.local")).expect("remove");
        let mut watcher = memory::OomWatcher::local(root.path(), "e").expect("watch");
        write("memory.events", 2, 2);
        assert_eq!(watcher.check().expect("check"), Some(OomOutcome::Oom));
    }

    #[test]
    fn controllers_are_enabled_in_subtree_control() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = set_fixture(root.path(), "mesos");
        enable_controllers(root.path(), "mesos", &["memory"]).expect("enable");
        assert_eq!(
            fs::read_to_string(dir.join("cgroup.subtree_control")).expect("read"),
            "+memory"
        );
        let error = enable_controllers(root.path(), "mesos", &["rdma"]).expect_err("unavailable");
        assert!(matches!(error, Cgroups2Error::ControllerUnavailable { .. }));
        assert!(
            error.to_string().contains("'rdma' is not available"),
            "{error}"
        );
        fs::write(dir.join("cgroup.subtree_control"), "cpu memory\n").expect("fixture");
        assert_eq!(
            enabled_controllers(root.path(), "mesos").expect("read"),
            vec!["cpu", "memory"]
        );
    }

    #[test]
    fn processes_pids_and_io_are_read() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = set_fixture(root.path(), "c");
        fs::write(dir.join("cgroup.procs"), "42\n7\n").expect("fixture");
        let nested = set_fixture(root.path(), "c/n");
        fs::write(nested.join("cgroup.procs"), "9\n").expect("fixture");
        assert_eq!(processes(root.path(), "c").expect("procs"), vec![7, 42]);
        assert_eq!(
            processes_recursive(root.path(), "c").expect("procs"),
            vec![7, 9, 42]
        );
        assign(root.path(), "c/n", 1234).expect("assign");
        assert_eq!(
            fs::read_to_string(nested.join("cgroup.procs")).expect("read"),
            "1234"
        );
        pids::set_max(root.path(), "c", Some(10)).expect("write");
        assert_eq!(pids::max(root.path(), "c").expect("read"), Some(10));
        assert_eq!(pids::current(root.path(), "c").expect("read"), 3);
        let io = io_stat::stat(root.path(), "c").expect("io.stat");
        assert_eq!(io["8:0"]["rbytes"], 4096);
        assert_eq!(io["8:0"]["wios"], 1);
        assert!(io_stat::parse("8:0 rbytes\n").is_err());
    }

    #[test]
    fn freeze_times_out_naming_the_cgroup() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = set_fixture(root.path(), "c");
        // The fixture never reports `frozen 1`.
        let error = freeze(root.path(), "c", Duration::from_millis(20)).expect_err("timeout");
        assert_eq!(
            fs::read_to_string(dir.join("cgroup.freeze")).expect("read"),
            "1"
        );
        assert!(error.to_string().starts_with("timed out after"), "{error}");
        assert!(error.to_string().ends_with("to freeze"), "{error}");
        fs::write(dir.join("cgroup.events"), "populated 0\nfrozen 1\n").expect("fixture");
        freeze(root.path(), "c", Duration::from_millis(20)).expect("frozen");
    }

    #[test]
    fn create_remove_and_destroy_of_an_empty_tree() {
        let root = tempfile::tempdir().expect("tempdir");
        create(root.path(), "mesos/a/b").expect("create");
        create(root.path(), "mesos/a/b").expect("create again");
        assert_eq!(
            nested(root.path(), "mesos").expect("nested"),
            vec!["mesos/a/b", "mesos/a"]
        );
        remove(root.path(), "mesos/a", Duration::from_secs(1)).expect("remove");
        assert!(!exists(root.path(), "mesos/a"));
        assert!(exists(root.path(), "mesos"));
        destroy(root.path(), "mesos/a", Duration::from_secs(1))
            .expect("destroy of a missing cgroup");
    }
}
