//! Cgroups v1: hierarchies mounted per controller.
//!
//! Upstream counterpart: `src/linux/cgroups.cpp` (`cgroups::create`,
//! `remove`, `destroy`, `assign`, `processes`, `read`, `write`, the
//! `freezer`, `cpu`, `cpuacct`, `memory`, `memory::oom`,
//! `memory::pressure`, `pids` and `blkio` namespaces) and the constants of
//! `slave/containerizer/mesos/isolators/cgroups/constants.hpp`.
//!
//! Every function takes the hierarchy's mount point (`/sys/fs/cgroup/cpu`,
//! found with [`Hierarchies`]) and a cgroup path relative to it
//! (`mesos/<container-id>`), so tests can point it at any tree. Everything
//! here blocks; an actor calls it from `spawn_blocking`.
//!
//! Deliberate differences: [`create`] is idempotent and [`destroy`] is
//! synchronous with an explicit timeout (upstream returns a future); the
//! OOM listener and pressure counters are plain blocking or non-blocking
//! eventfd readers instead of futures.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{control, mountinfo, Pid};

/// Errors of the cgroups v1 module; each carries the path that failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupsError {
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
    /// No hierarchy carries the controller.
    #[error("no cgroup v1 hierarchy is mounted for controller '{controller}'")]
    NotMounted {
        /// The controller (`memory`).
        controller: String,
    },
    /// A hierarchy could not be mounted.
    #[error("failed to mount cgroups hierarchy at '{}': {reason}", path.display())]
    Mount {
        /// The mount point.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The OOM notification could not be set up or awaited.
    #[error("failed to listen for oom events of cgroup '{}'", path.display())]
    Listen {
        /// The cgroup directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

impl CgroupsError {
    /// Whether the failure is a missing file or directory (a cgroup that is
    /// gone, or a control file this kernel does not have).
    pub fn is_not_found(&self) -> bool {
        match self {
            CgroupsError::Read { source, .. }
            | CgroupsError::Write { source, .. }
            | CgroupsError::Remove { source, .. }
            | CgroupsError::List { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

/// The module's result type.
pub type Result<T> = std::result::Result<T, CgroupsError>;

/// The mounted v1 hierarchies, by controller (upstream
/// `cgroups::hierarchies` and `cgroups::hierarchy(subsystem)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hierarchies {
    mounts: BTreeMap<String, PathBuf>,
}

impl Hierarchies {
    /// Reads `<proc_root>/self/mountinfo`.
    pub fn read(proc_root: &Path) -> Result<Self> {
        let path = proc_root.join("self/mountinfo");
        let text = control::read(&path).map_err(|source| CgroupsError::Read { path, source })?;
        Ok(Self::from_mountinfo(&text))
    }

    /// Builds the table from mountinfo text.
    pub fn from_mountinfo(text: &str) -> Self {
        Hierarchies {
            mounts: mountinfo::cgroup_v1_hierarchies(&mountinfo::parse(text)),
        }
    }

    /// The mount point of the hierarchy carrying `controller`.
    pub fn get(&self, controller: &str) -> Option<&Path> {
        self.mounts.get(controller).map(PathBuf::as_path)
    }

    /// Like [`Hierarchies::get`], as an error when it is not mounted.
    pub fn require(&self, controller: &str) -> Result<&Path> {
        self.get(controller)
            .ok_or_else(|| CgroupsError::NotMounted {
                controller: controller.to_owned(),
            })
    }

    /// The mounted controllers, sorted (named hierarchies as `name=...`).
    pub fn controllers(&self) -> impl Iterator<Item = &str> {
        self.mounts.keys().map(String::as_str)
    }

    /// Whether no v1 controller is mounted.
    pub fn is_empty(&self) -> bool {
        self.mounts.is_empty()
    }
}

/// One line of `/proc/cgroups` (upstream `cgroups::internal::SubsystemInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsystemInfo {
    /// The subsystem (`net_cls`).
    pub name: String,
    /// The id of the hierarchy it is attached to; 0 when it is attached to
    /// none (or to the v2 hierarchy).
    pub hierarchy: u32,
    /// Whether the kernel enables it.
    pub enabled: bool,
}

/// The subsystems the kernel knows, from `<proc_root>/cgroups` (upstream
/// `cgroups::subsystems()` reads the same file).
pub fn subsystems(proc_root: &Path) -> Result<Vec<SubsystemInfo>> {
    let file = proc_root.join("cgroups");
    let text = read_path(&file)?;
    parse_subsystems(&text).map_err(|reason| CgroupsError::Parse { path: file, reason })
}

fn parse_subsystems(text: &str) -> std::result::Result<Vec<SubsystemInfo>, String> {
    let mut infos = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, hierarchy, _cgroups, enabled] = fields.as_slice() else {
            return Err(format!("unexpected line '{line}'"));
        };
        let number = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| format!("expected a number, found '{s}' in line '{line}'"))
        };
        infos.push(SubsystemInfo {
            name: (*name).to_owned(),
            hierarchy: number(hierarchy)?,
            enabled: number(enabled)? != 0,
        });
    }
    Ok(infos)
}

/// Mounts a hierarchy for `subsystem` at `<base>/<subsystem>` (upstream
/// `cgroups::prepare` when no hierarchy carries the subsystem): an empty
/// directory already there is replaced; the subsystem must be one the
/// kernel has and enables. The mount stays after the agent exits, as
/// upstream's does. Returns the mount point.
///
/// Unlike upstream, a subsystem whose `/proc/cgroups` line names a
/// hierarchy (one mounted only in another mount namespace) is not refused
/// here: mounting it with the same single subsystem attaches that
/// hierarchy again, and the kernel refuses what it cannot attach.
pub fn mount_subsystem(proc_root: &Path, base: &Path, subsystem: &str) -> Result<PathBuf> {
    let target = base.join(subsystem);
    let fail = |reason: String| CgroupsError::Mount {
        path: target.clone(),
        reason,
    };
    let infos = subsystems(proc_root).map_err(|e| fail(e.to_string()))?;
    match infos.iter().find(|info| info.name == subsystem) {
        None => return Err(fail(format!("'{subsystem}' not found"))),
        Some(info) if !info.enabled => {
            return Err(fail(format!("'{subsystem}' is not enabled by the kernel")))
        }
        Some(_) => {}
    }
    if target.exists() {
        fs::remove_dir(&target)
            .map_err(|error| fail(format!("could not remove the existing directory: {error}")))?;
    }
    fs::create_dir_all(&target)
        .map_err(|error| fail(format!("failed to create the directory: {error}")))?;
    if let Err(error) = control::mount_cgroup(&target, subsystem) {
        // Best effort, as upstream.
        let _ = fs::remove_dir(&target);
        return Err(fail(error.to_string()));
    }
    Ok(target)
}

/// The cgroup (relative to its hierarchy's root, without a leading `/`) of
/// process `pid` in the v1 hierarchy carrying `controller`, from
/// `<proc_root>/<pid>/cgroup`; `None` when no such hierarchy is listed.
pub fn process_cgroup(proc_root: &Path, pid: Pid, controller: &str) -> Result<Option<String>> {
    let file = proc_root.join(pid.to_string()).join("cgroup");
    let text = read_path(&file)?;
    Ok(mountinfo::parse_process_cgroups(&text)
        .into_iter()
        .find(|entry| entry.hierarchy_id != 0 && entry.controllers.iter().any(|c| c == controller))
        .map(|entry| entry.path.trim_start_matches('/').to_owned()))
}

/// The directory of `cgroup` in `hierarchy`.
pub fn path(hierarchy: &Path, cgroup: &str) -> PathBuf {
    hierarchy.join(cgroup.trim_start_matches('/'))
}

/// Whether `cgroup` exists in `hierarchy`.
pub fn exists(hierarchy: &Path, cgroup: &str) -> bool {
    path(hierarchy, cgroup).is_dir()
}

/// Creates `cgroup` and any missing parents. In a `cpuset` hierarchy each
/// new level gets its parent's `cpuset.cpus` and `cpuset.mems` (a v1 cpuset
/// cgroup takes no task until both are set). An existing cgroup is fine.
pub fn create(hierarchy: &Path, cgroup: &str) -> Result<()> {
    let mut current = hierarchy.to_path_buf();
    for component in Path::new(cgroup.trim_start_matches('/')).components() {
        let parent = current.clone();
        current.push(component);
        if current.is_dir() {
            continue;
        }
        match fs::create_dir(&current) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => {
                return Err(CgroupsError::Create {
                    path: current,
                    source,
                })
            }
        }
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let target = current.join(file);
            if !target.exists() {
                continue;
            }
            let mine = read_path(&target)?;
            if mine.trim().is_empty() {
                let inherited = read_path(&parent.join(file))?;
                write_path(&target, inherited.trim())?;
            }
        }
    }
    Ok(())
}

/// The cgroups nested in `cgroup` (not `cgroup` itself), deepest first, as
/// cgroup paths relative to `hierarchy` (upstream `cgroups::get`).
pub fn nested(hierarchy: &Path, cgroup: &str) -> Result<Vec<String>> {
    let dir = path(hierarchy, cgroup);
    let list = control::descendants(hierarchy, &dir)
        .map_err(|source| CgroupsError::List { path: dir, source })?;
    Ok(list
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect())
}

/// Removes `cgroup` and its nested cgroups, deepest first, retrying on
/// `EBUSY` for up to `timeout` each. Processes are not killed: see
/// [`destroy`]. A cgroup that is already gone is fine.
pub fn remove(hierarchy: &Path, cgroup: &str, timeout: Duration) -> Result<()> {
    if !exists(hierarchy, cgroup) {
        return Ok(());
    }
    let mut all = nested(hierarchy, cgroup)?;
    all.push(cgroup.trim_start_matches('/').to_owned());
    for each in all {
        let dir = path(hierarchy, &each);
        control::remove_dir_retrying(&dir, timeout)
            .map_err(|source| CgroupsError::Remove { path: dir, source })?;
    }
    Ok(())
}

/// Kills every process in `cgroup` and its nested cgroups (see
/// [`kill_all`]), then removes them all (upstream `cgroups::destroy`).
/// Idempotent: a missing cgroup is fine.
pub fn destroy(hierarchy: &Path, cgroup: &str, timeout: Duration) -> Result<()> {
    if !exists(hierarchy, cgroup) {
        return Ok(());
    }
    let mut all = nested(hierarchy, cgroup)?;
    all.push(cgroup.trim_start_matches('/').to_owned());
    for each in &all {
        kill_all(hierarchy, each, timeout)?;
    }
    remove(hierarchy, cgroup, timeout)
}

/// Moves process `pid` (all its threads) into `cgroup`.
pub fn assign(hierarchy: &Path, cgroup: &str, pid: Pid) -> Result<()> {
    write(hierarchy, cgroup, "cgroup.procs", &pid.to_string())
}

/// The processes (thread group ids) in `cgroup`, sorted.
pub fn processes(hierarchy: &Path, cgroup: &str) -> Result<Vec<Pid>> {
    read_pids(&path(hierarchy, cgroup).join("cgroup.procs"))
}

/// The threads in `cgroup`, sorted.
pub fn threads(hierarchy: &Path, cgroup: &str) -> Result<Vec<Pid>> {
    read_pids(&path(hierarchy, cgroup).join("tasks"))
}

/// Reads control file `control` of `cgroup`.
pub fn read(hierarchy: &Path, cgroup: &str, control: &str) -> Result<String> {
    read_path(&path(hierarchy, cgroup).join(control))
}

/// Writes `value` to control file `control` of `cgroup`.
pub fn write(hierarchy: &Path, cgroup: &str, control: &str, value: &str) -> Result<()> {
    write_path(&path(hierarchy, cgroup).join(control), value)
}

/// Whether `cgroup` has control file `control`.
pub fn has_control(hierarchy: &Path, cgroup: &str, control: &str) -> bool {
    path(hierarchy, cgroup).join(control).exists()
}

/// Reads a flat keyed control file (`memory.stat`, `cpu.stat`) into a map
/// (upstream `cgroups::stat`).
pub fn stat(hierarchy: &Path, cgroup: &str, control: &str) -> Result<BTreeMap<String, u64>> {
    let file = path(hierarchy, cgroup).join(control);
    let text = read_path(&file)?;
    control::parse_flat_keyed(&text).map_err(|reason| CgroupsError::Parse { path: file, reason })
}

/// Sends `signal` to every process in `cgroup` (not nested ones).
pub fn kill(hierarchy: &Path, cgroup: &str, signal: libc::c_int) -> Result<()> {
    let dir = path(hierarchy, cgroup);
    for pid in processes(hierarchy, cgroup)? {
        control::kill(pid, signal).map_err(|source| CgroupsError::Kill {
            path: dir.clone(),
            pid,
            source,
        })?;
    }
    Ok(())
}

/// Kills every process in `cgroup` (not nested ones) and waits until it is
/// empty. In a freezer hierarchy (`freezer.state` present) each round
/// freezes the cgroup, sends SIGKILL to all, and thaws it, so nothing can
/// fork while being killed (upstream `TasksKiller`); elsewhere it sends
/// SIGKILL until no process is left. Rounds repeat until the cgroup is
/// empty or `timeout` passes.
pub fn kill_all(hierarchy: &Path, cgroup: &str, timeout: Duration) -> Result<()> {
    let dir = path(hierarchy, cgroup);
    let deadline = Instant::now() + timeout;
    let use_freezer = has_control(hierarchy, cgroup, freezer::STATE);
    loop {
        if processes(hierarchy, cgroup)?.is_empty() {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(CgroupsError::Timeout {
                path: dir,
                what: "become empty",
                timeout,
            });
        }
        if use_freezer {
            let frozen = freezer::freeze(hierarchy, cgroup, left.min(Duration::from_secs(5)));
            let killed = kill(hierarchy, cgroup, libc::SIGKILL);
            // Thaw even when freezing or killing failed: a cgroup must not
            // be left frozen.
            freezer::thaw(hierarchy, cgroup, left.min(Duration::from_secs(5)))?;
            killed?;
            if let Err(error) = frozen {
                if !matches!(error, CgroupsError::Timeout { .. }) {
                    return Err(error);
                }
            }
        } else {
            kill(hierarchy, cgroup, libc::SIGKILL)?;
        }
        let round = left.min(Duration::from_millis(500));
        control::poll_until(round, Duration::from_millis(5), || {
            processes(hierarchy, cgroup).map(|pids| pids.is_empty())
        })?;
    }
}

fn read_path(file: &Path) -> Result<String> {
    control::read(file).map_err(|source| CgroupsError::Read {
        path: file.to_path_buf(),
        source,
    })
}

fn write_path(file: &Path, value: &str) -> Result<()> {
    control::write(file, value).map_err(|source| CgroupsError::Write {
        path: file.to_path_buf(),
        value: value.to_owned(),
        source,
    })
}

fn read_pids(file: &Path) -> Result<Vec<Pid>> {
    let text = read_path(file)?;
    control::parse_pids(&text).map_err(|reason| CgroupsError::Parse {
        path: file.to_path_buf(),
        reason,
    })
}

fn read_u64(hierarchy: &Path, cgroup: &str, control: &str) -> Result<u64> {
    let file = path(hierarchy, cgroup).join(control);
    let text = read_path(&file)?;
    control::parse_u64(&text).map_err(|reason| CgroupsError::Parse { path: file, reason })
}

fn read_i64(hierarchy: &Path, cgroup: &str, control: &str) -> Result<i64> {
    let file = path(hierarchy, cgroup).join(control);
    let text = read_path(&file)?;
    control::parse_i64(&text).map_err(|reason| CgroupsError::Parse { path: file, reason })
}

/// The `freezer` controller (upstream `cgroups::freezer`).
pub mod freezer {
    use super::*;

    /// The freezer's state file.
    pub const STATE: &str = "freezer.state";

    /// A value of `freezer.state`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum State {
        /// Running.
        Thawed,
        /// Being frozen.
        Freezing,
        /// Frozen.
        Frozen,
    }

    /// Reads `freezer.state`.
    pub fn state(hierarchy: &Path, cgroup: &str) -> Result<State> {
        let file = path(hierarchy, cgroup).join(STATE);
        let text = read_path(&file)?;
        match text.trim() {
            "THAWED" => Ok(State::Thawed),
            "FREEZING" => Ok(State::Freezing),
            "FROZEN" => Ok(State::Frozen),
            other => Err(CgroupsError::Parse {
                path: file,
                reason: format!("unknown freezer state '{other}'"),
            }),
        }
    }

    /// Freezes `cgroup`, writing `FROZEN` again while it stays `FREEZING`
    /// (a task in an uninterruptible sleep can delay it), until `timeout`.
    pub fn freeze(hierarchy: &Path, cgroup: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            write(hierarchy, cgroup, STATE, "FROZEN")?;
            let left = deadline.saturating_duration_since(Instant::now());
            let frozen = control::poll_until(
                left.min(Duration::from_millis(100)),
                Duration::from_millis(2),
                || state(hierarchy, cgroup).map(|s| s == State::Frozen),
            )?;
            if frozen {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(CgroupsError::Timeout {
                    path: path(hierarchy, cgroup),
                    what: "freeze",
                    timeout,
                });
            }
        }
    }

    /// Thaws `cgroup` and waits until it reports `THAWED`.
    pub fn thaw(hierarchy: &Path, cgroup: &str, timeout: Duration) -> Result<()> {
        write(hierarchy, cgroup, STATE, "THAWED")?;
        let thawed = control::poll_until(timeout, Duration::from_millis(2), || {
            state(hierarchy, cgroup).map(|s| s == State::Thawed)
        })?;
        if thawed {
            Ok(())
        } else {
            Err(CgroupsError::Timeout {
                path: path(hierarchy, cgroup),
                what: "thaw",
                timeout,
            })
        }
    }
}

/// The `cpu` controller: shares and CFS bandwidth (upstream
/// `cgroups::cpu` and the cgroups/cpu isolator's constants).
pub mod cpu {
    use super::*;

    /// Shares given per cpu (upstream `CPU_SHARES_PER_CPU`).
    pub const CPU_SHARES_PER_CPU: u64 = 1024;
    /// Shares per revocable cpu with `--revocable_cpu_low_priority`
    /// (upstream `CPU_SHARES_PER_CPU_REVOCABLE`).
    pub const CPU_SHARES_PER_CPU_REVOCABLE: u64 = 10;
    /// The kernel's minimum `cpu.shares` (upstream `MIN_CPU_SHARES`).
    pub const MIN_CPU_SHARES: u64 = 2;
    /// The CFS period set with a quota (upstream `CPU_CFS_PERIOD`).
    pub const CPU_CFS_PERIOD: Duration = Duration::from_millis(100);
    /// The smallest CFS quota set (upstream `MIN_CPU_CFS_QUOTA`).
    pub const MIN_CPU_CFS_QUOTA: Duration = Duration::from_millis(1);

    /// `cpu.shares` for `cpus`: `max(1024 × cpus, 2)`, truncated as
    /// upstream does.
    pub fn shares_for_cpus(cpus: f64) -> u64 {
        ((CPU_SHARES_PER_CPU as f64 * cpus) as u64).max(MIN_CPU_SHARES)
    }

    /// `cpu.shares` for `cpus` of a container with revocable cpus under
    /// `--revocable_cpu_low_priority`: `max(10 × cpus, 2)`, truncated.
    pub fn revocable_shares_for_cpus(cpus: f64) -> u64 {
        ((CPU_SHARES_PER_CPU_REVOCABLE as f64 * cpus) as u64).max(MIN_CPU_SHARES)
    }

    /// CFS quota for `cpus` over [`CPU_CFS_PERIOD`]: `max(100 ms × cpus,
    /// 1 ms)`.
    pub fn cfs_quota_for_cpus(cpus: f64) -> Duration {
        let micros = (CPU_CFS_PERIOD.as_micros() as f64 * cpus) as u64;
        Duration::from_micros(micros).max(MIN_CPU_CFS_QUOTA)
    }

    /// Writes `cpu.shares`.
    pub fn set_shares(hierarchy: &Path, cgroup: &str, shares: u64) -> Result<()> {
        write(hierarchy, cgroup, "cpu.shares", &shares.to_string())
    }

    /// Reads `cpu.shares`.
    pub fn shares(hierarchy: &Path, cgroup: &str) -> Result<u64> {
        read_u64(hierarchy, cgroup, "cpu.shares")
    }

    /// Writes `cpu.cfs_period_us`.
    pub fn set_cfs_period(hierarchy: &Path, cgroup: &str, period: Duration) -> Result<()> {
        write(
            hierarchy,
            cgroup,
            "cpu.cfs_period_us",
            &period.as_micros().to_string(),
        )
    }

    /// Reads `cpu.cfs_period_us`.
    pub fn cfs_period(hierarchy: &Path, cgroup: &str) -> Result<Duration> {
        read_u64(hierarchy, cgroup, "cpu.cfs_period_us").map(Duration::from_micros)
    }

    /// Writes `cpu.cfs_quota_us`; `None` removes the limit (`-1`).
    pub fn set_cfs_quota(hierarchy: &Path, cgroup: &str, quota: Option<Duration>) -> Result<()> {
        let value = quota.map_or_else(|| "-1".to_owned(), |q| q.as_micros().to_string());
        write(hierarchy, cgroup, "cpu.cfs_quota_us", &value)
    }

    /// Reads `cpu.cfs_quota_us`; `None` when unlimited.
    pub fn cfs_quota(hierarchy: &Path, cgroup: &str) -> Result<Option<Duration>> {
        let quota = read_i64(hierarchy, cgroup, "cpu.cfs_quota_us")?;
        Ok(u64::try_from(quota).ok().map(Duration::from_micros))
    }

    /// The CFS throttling counters of `cpu.stat`.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct Stat {
        /// Enforcement periods that have elapsed (`nr_periods`).
        pub nr_periods: u64,
        /// Periods in which the cgroup was throttled (`nr_throttled`).
        pub nr_throttled: u64,
        /// Total time throttled (`throttled_time`, ns).
        pub throttled_time: Duration,
    }

    /// Reads `cpu.stat`.
    pub fn stat(hierarchy: &Path, cgroup: &str) -> Result<Stat> {
        let map = super::stat(hierarchy, cgroup, "cpu.stat")?;
        let get = |key: &str| map.get(key).copied().unwrap_or(0);
        Ok(Stat {
            nr_periods: get("nr_periods"),
            nr_throttled: get("nr_throttled"),
            throttled_time: Duration::from_nanos(get("throttled_time")),
        })
    }
}

/// The `cpuacct` controller (upstream `cgroups::cpuacct`).
pub mod cpuacct {
    use super::*;

    /// User and system time of `cpuacct.stat`.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct Stat {
        /// Time spent in user mode.
        pub user: Duration,
        /// Time spent in kernel mode.
        pub system: Duration,
    }

    /// Reads `cpuacct.stat` (counted in `USER_HZ` ticks).
    pub fn stat(hierarchy: &Path, cgroup: &str) -> Result<Stat> {
        let map = super::stat(hierarchy, cgroup, "cpuacct.stat")?;
        let ticks = control::clock_ticks_per_second();
        let to_duration = |key: &str| {
            let value = map.get(key).copied().unwrap_or(0);
            Duration::from_secs(value / ticks)
                + Duration::from_nanos((value % ticks) * 1_000_000_000 / ticks)
        };
        Ok(Stat {
            user: to_duration("user"),
            system: to_duration("system"),
        })
    }

    /// Reads `cpuacct.usage`, the total cpu time used.
    pub fn usage(hierarchy: &Path, cgroup: &str) -> Result<Duration> {
        read_u64(hierarchy, cgroup, "cpuacct.usage").map(Duration::from_nanos)
    }
}

/// The `memory` controller (upstream `cgroups::memory`).
pub mod memory {
    use super::*;

    /// The smallest limit the memory isolator sets (upstream `MIN_MEMORY`).
    pub const MIN_MEMORY: u64 = 32 * 1024 * 1024;

    fn limit_value(limit: Option<u64>) -> String {
        limit.map_or_else(|| "-1".to_owned(), |bytes| bytes.to_string())
    }

    /// Writes `memory.limit_in_bytes`; `None` removes the limit.
    pub fn set_limit_in_bytes(hierarchy: &Path, cgroup: &str, limit: Option<u64>) -> Result<()> {
        write(
            hierarchy,
            cgroup,
            "memory.limit_in_bytes",
            &limit_value(limit),
        )
    }

    /// Reads `memory.limit_in_bytes` (a huge number when unlimited).
    pub fn limit_in_bytes(hierarchy: &Path, cgroup: &str) -> Result<u64> {
        read_u64(hierarchy, cgroup, "memory.limit_in_bytes")
    }

    /// Writes `memory.soft_limit_in_bytes`; `None` removes the limit.
    pub fn set_soft_limit_in_bytes(
        hierarchy: &Path,
        cgroup: &str,
        limit: Option<u64>,
    ) -> Result<()> {
        write(
            hierarchy,
            cgroup,
            "memory.soft_limit_in_bytes",
            &limit_value(limit),
        )
    }

    /// Reads `memory.soft_limit_in_bytes`.
    pub fn soft_limit_in_bytes(hierarchy: &Path, cgroup: &str) -> Result<u64> {
        read_u64(hierarchy, cgroup, "memory.soft_limit_in_bytes")
    }

    /// Writes `memory.memsw.limit_in_bytes` (memory plus swap); answers
    /// `false` when the kernel has no swap accounting. It must not be set
    /// below `memory.limit_in_bytes` (the kernel answers `EINVAL`), so
    /// raise it first and lower it last.
    pub fn set_memsw_limit_in_bytes(
        hierarchy: &Path,
        cgroup: &str,
        limit: Option<u64>,
    ) -> Result<bool> {
        if !has_control(hierarchy, cgroup, "memory.memsw.limit_in_bytes") {
            return Ok(false);
        }
        write(
            hierarchy,
            cgroup,
            "memory.memsw.limit_in_bytes",
            &limit_value(limit),
        )?;
        Ok(true)
    }

    /// Reads `memory.memsw.limit_in_bytes`; `None` without swap accounting.
    pub fn memsw_limit_in_bytes(hierarchy: &Path, cgroup: &str) -> Result<Option<u64>> {
        optional_u64(hierarchy, cgroup, "memory.memsw.limit_in_bytes")
    }

    /// Reads `memory.usage_in_bytes`.
    pub fn usage_in_bytes(hierarchy: &Path, cgroup: &str) -> Result<u64> {
        read_u64(hierarchy, cgroup, "memory.usage_in_bytes")
    }

    /// Reads `memory.max_usage_in_bytes`.
    pub fn max_usage_in_bytes(hierarchy: &Path, cgroup: &str) -> Result<u64> {
        read_u64(hierarchy, cgroup, "memory.max_usage_in_bytes")
    }

    /// Reads `memory.memsw.usage_in_bytes`; `None` without swap accounting.
    pub fn memsw_usage_in_bytes(hierarchy: &Path, cgroup: &str) -> Result<Option<u64>> {
        optional_u64(hierarchy, cgroup, "memory.memsw.usage_in_bytes")
    }

    /// Reads `memory.kmem.usage_in_bytes`; `None` when absent.
    pub fn kmem_usage_in_bytes(hierarchy: &Path, cgroup: &str) -> Result<Option<u64>> {
        optional_u64(hierarchy, cgroup, "memory.kmem.usage_in_bytes")
    }

    /// Reads `memory.kmem.tcp.usage_in_bytes`; `None` when absent.
    pub fn kmem_tcp_usage_in_bytes(hierarchy: &Path, cgroup: &str) -> Result<Option<u64>> {
        optional_u64(hierarchy, cgroup, "memory.kmem.tcp.usage_in_bytes")
    }

    /// Reads `memory.stat` (`cache`, `rss`, `total_cache`, `total_rss`,
    /// `total_mapped_file`, `total_swap`, ...).
    pub fn stat(hierarchy: &Path, cgroup: &str) -> Result<BTreeMap<String, u64>> {
        super::stat(hierarchy, cgroup, "memory.stat")
    }

    fn optional_u64(hierarchy: &Path, cgroup: &str, control: &str) -> Result<Option<u64>> {
        if !has_control(hierarchy, cgroup, control) {
            return Ok(None);
        }
        read_u64(hierarchy, cgroup, control).map(Some)
    }

    /// OOM control and notification (upstream `cgroups::memory::oom`).
    pub mod oom {
        use std::fs::File;
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

        use super::*;
        use crate::linux::OomOutcome;

        /// Lets the kernel OOM killer act in `cgroup` (`oom_kill_disable 0`).
        pub fn enable_killer(hierarchy: &Path, cgroup: &str) -> Result<()> {
            write(hierarchy, cgroup, "memory.oom_control", "0")
        }

        /// Stops the kernel OOM killer in `cgroup`: tasks hang at the limit.
        pub fn disable_killer(hierarchy: &Path, cgroup: &str) -> Result<()> {
            write(hierarchy, cgroup, "memory.oom_control", "1")
        }

        /// Whether the kernel OOM killer acts in `cgroup`.
        pub fn killer_enabled(hierarchy: &Path, cgroup: &str) -> Result<bool> {
            let map = super::super::stat(hierarchy, cgroup, "memory.oom_control")?;
            Ok(map.get("oom_kill_disable").copied().unwrap_or(0) == 0)
        }

        /// A registration of an eventfd on `memory.oom_control` through
        /// `cgroup.event_control`. Create it before the workload runs;
        /// [`Listener::wait`] blocks, so an actor runs it under
        /// `spawn_blocking`. Removing the cgroup ends the wait.
        #[derive(Debug)]
        pub struct Listener {
            eventfd: OwnedFd,
            // Held open for as long as the registration is used.
            _oom_control: File,
            cgroup_dir: PathBuf,
        }

        impl Listener {
            /// Registers for OOM notifications of `cgroup`.
            pub fn new(hierarchy: &Path, cgroup: &str) -> Result<Listener> {
                let cgroup_dir = path(hierarchy, cgroup);
                let listen_error = |source| CgroupsError::Listen {
                    path: cgroup_dir.clone(),
                    source,
                };
                // SAFETY: eventfd(2) takes plain integers; the result is
                // checked before use.
                let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
                if fd < 0 {
                    return Err(listen_error(io::Error::last_os_error()));
                }
                // SAFETY: `fd` was just returned by eventfd(2) and is owned
                // by nobody else.
                let eventfd = unsafe { OwnedFd::from_raw_fd(fd) };
                let oom_control_path = cgroup_dir.join("memory.oom_control");
                let oom_control =
                    File::open(&oom_control_path).map_err(|source| CgroupsError::Read {
                        path: oom_control_path,
                        source,
                    })?;
                let registration = format!("{} {}", eventfd.as_raw_fd(), oom_control.as_raw_fd());
                write_path(&cgroup_dir.join("cgroup.event_control"), &registration)?;
                Ok(Listener {
                    eventfd,
                    _oom_control: oom_control,
                    cgroup_dir,
                })
            }

            /// Blocks until the cgroup runs out of memory or is removed.
            pub fn wait(&self) -> Result<OomOutcome> {
                loop {
                    if let Some(outcome) = self.wait_timeout(Duration::from_secs(3600))? {
                        return Ok(outcome);
                    }
                }
            }

            /// Like [`Listener::wait`], giving up after `timeout` (`None`).
            pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<OomOutcome>> {
                let deadline = Instant::now() + timeout;
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let millis =
                        libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
                    let mut pollfd = libc::pollfd {
                        fd: self.eventfd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: `pollfd` is a valid, initialised array of one
                    // element that outlives the call.
                    let ready = unsafe { libc::poll(&mut pollfd, 1, millis) };
                    if ready < 0 {
                        let error = io::Error::last_os_error();
                        if error.kind() == io::ErrorKind::Interrupted {
                            continue;
                        }
                        return Err(self.error(error));
                    }
                    if ready == 0 {
                        return Ok(None);
                    }
                    let mut counter = [0u8; 8];
                    // SAFETY: `counter` is 8 writable bytes, the size an
                    // eventfd read needs, and outlives the call.
                    let read = unsafe {
                        libc::read(
                            self.eventfd.as_raw_fd(),
                            counter.as_mut_ptr().cast(),
                            counter.len(),
                        )
                    };
                    if read < 0 {
                        let error = io::Error::last_os_error();
                        if error.kind() == io::ErrorKind::Interrupted {
                            continue;
                        }
                        return Err(self.error(error));
                    }
                    return Ok(Some(if self.cgroup_dir.is_dir() {
                        OomOutcome::Oom
                    } else {
                        OomOutcome::Removed
                    }));
                }
            }

            fn error(&self, source: io::Error) -> CgroupsError {
                CgroupsError::Listen {
                    path: self.cgroup_dir.clone(),
                    source,
                }
            }
        }
    }

    /// Memory pressure counters (upstream `cgroups::memory::pressure`).
    pub mod pressure {
        use std::fs::File;
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

        use super::*;

        /// A level of `memory.pressure_level` notifications.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Level {
            /// Reclaiming memory for new allocations.
            Low,
            /// Swapping or evicting active file caches.
            Medium,
            /// About to OOM.
            Critical,
        }

        impl Level {
            /// All levels, as upstream's memory subsystem listens to them.
            pub const ALL: [Level; 3] = [Level::Low, Level::Medium, Level::Critical];

            /// The kernel's name of the level.
            pub fn as_str(self) -> &'static str {
                match self {
                    Level::Low => "low",
                    Level::Medium => "medium",
                    Level::Critical => "critical",
                }
            }
        }

        /// Counts the pressure events of one level in a cgroup: an eventfd
        /// registered on `memory.pressure_level` through
        /// `cgroup.event_control`. The kernel adds each event to the
        /// eventfd's counter, so no thread is needed: [`Counter::value`]
        /// drains it without blocking.
        #[derive(Debug)]
        pub struct Counter {
            eventfd: OwnedFd,
            _pressure_level: File,
            cgroup_dir: PathBuf,
            level: Level,
            total: u64,
        }

        impl Counter {
            /// Registers for `level` events of `cgroup`.
            pub fn new(hierarchy: &Path, cgroup: &str, level: Level) -> Result<Counter> {
                let cgroup_dir = path(hierarchy, cgroup);
                // SAFETY: eventfd(2) takes plain integers; the result is
                // checked before use.
                let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
                if fd < 0 {
                    return Err(CgroupsError::Listen {
                        path: cgroup_dir,
                        source: io::Error::last_os_error(),
                    });
                }
                // SAFETY: `fd` was just returned by eventfd(2) and is owned
                // by nobody else.
                let eventfd = unsafe { OwnedFd::from_raw_fd(fd) };
                let level_path = cgroup_dir.join("memory.pressure_level");
                let pressure_level =
                    File::open(&level_path).map_err(|source| CgroupsError::Read {
                        path: level_path,
                        source,
                    })?;
                let registration = format!(
                    "{} {} {}",
                    eventfd.as_raw_fd(),
                    pressure_level.as_raw_fd(),
                    level.as_str()
                );
                write_path(&cgroup_dir.join("cgroup.event_control"), &registration)?;
                Ok(Counter {
                    eventfd,
                    _pressure_level: pressure_level,
                    cgroup_dir,
                    level,
                    total: 0,
                })
            }

            /// The level counted.
            pub fn level(&self) -> Level {
                self.level
            }

            /// The number of events since the counter was created.
            pub fn value(&mut self) -> Result<u64> {
                let mut counter = [0u8; 8];
                // SAFETY: `counter` is 8 writable bytes, the size an
                // eventfd read needs, and outlives the call.
                let read = unsafe {
                    libc::read(
                        self.eventfd.as_raw_fd(),
                        counter.as_mut_ptr().cast(),
                        counter.len(),
                    )
                };
                if read < 0 {
                    let error = io::Error::last_os_error();
                    if error.kind() != io::ErrorKind::WouldBlock {
                        return Err(CgroupsError::Listen {
                            path: self.cgroup_dir.clone(),
                            source: error,
                        });
                    }
                } else {
                    self.total = self.total.saturating_add(u64::from_ne_bytes(counter));
                }
                Ok(self.total)
            }
        }
    }
}

/// The `pids` controller.
pub mod pids {
    use super::*;

    /// Writes `pids.max`; `None` is `max`.
    pub fn set_max(hierarchy: &Path, cgroup: &str, max: Option<u64>) -> Result<()> {
        let value = max.map_or_else(|| "max".to_owned(), |n| n.to_string());
        write(hierarchy, cgroup, "pids.max", &value)
    }

    /// Reads `pids.max`; `None` when unlimited.
    pub fn max(hierarchy: &Path, cgroup: &str) -> Result<Option<u64>> {
        let file = path(hierarchy, cgroup).join("pids.max");
        let text = read_path(&file)?;
        if text.trim() == "max" {
            return Ok(None);
        }
        control::parse_u64(&text)
            .map(Some)
            .map_err(|reason| CgroupsError::Parse { path: file, reason })
    }

    /// Reads `pids.current`.
    pub fn current(hierarchy: &Path, cgroup: &str) -> Result<u64> {
        read_u64(hierarchy, cgroup, "pids.current")
    }
}

/// The `blkio` controller's statistics (upstream `cgroups::blkio`).
pub mod blkio {
    use super::*;

    /// One line of a blkio statistics file.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Value {
        /// `major:minor` of the device; `None` on the `Total` line.
        pub device: Option<String>,
        /// `Read`, `Write`, `Sync`, `Async`, `Discard` or `Total`; `None`
        /// for files without operations.
        pub operation: Option<String>,
        /// The value.
        pub value: u64,
    }

    /// Parses a blkio statistics file such as
    /// `blkio.throttle.io_service_bytes`.
    pub fn values(hierarchy: &Path, cgroup: &str, control: &str) -> Result<Vec<Value>> {
        let file = path(hierarchy, cgroup).join(control);
        let text = read_path(&file)?;
        parse(&text).map_err(|reason| CgroupsError::Parse { path: file, reason })
    }

    pub(crate) fn parse(text: &str) -> std::result::Result<Vec<Value>, String> {
        let mut values = Vec::new();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let number = |s: &str| {
                s.parse::<u64>()
                    .map_err(|_| format!("expected a number, found '{s}'"))
            };
            let value = match fields.as_slice() {
                ["Total", value] => Value {
                    device: None,
                    operation: Some("Total".to_owned()),
                    value: number(value)?,
                },
                [device, value] => Value {
                    device: Some((*device).to_owned()),
                    operation: None,
                    value: number(value)?,
                },
                [device, operation, value] => Value {
                    device: Some((*device).to_owned()),
                    operation: Some((*operation).to_owned()),
                    value: number(value)?,
                },
                _ => return Err(format!("unexpected line '{line}'")),
            };
            values.push(value);
        }
        Ok(values)
    }
}

/// The `net_cls` controller (upstream `cgroups::net_cls`).
pub mod net_cls {
    use super::*;

    /// Reads `net_cls.classid` (0: none assigned).
    pub fn classid(hierarchy: &Path, cgroup: &str) -> Result<u32> {
        let file = path(hierarchy, cgroup).join("net_cls.classid");
        let text = read_path(&file)?;
        text.trim().parse::<u32>().map_err(|_| CgroupsError::Parse {
            path: file,
            reason: format!("expected a class id, found '{}'", text.trim()),
        })
    }

    /// Writes `net_cls.classid` (the kernel takes it in decimal).
    pub fn set_classid(hierarchy: &Path, cgroup: &str, classid: u32) -> Result<()> {
        write(hierarchy, cgroup, "net_cls.classid", &classid.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_conversions_follow_upstream() {
        assert_eq!(cpu::shares_for_cpus(1.0), 1024);
        assert_eq!(cpu::shares_for_cpus(0.5), 512);
        assert_eq!(cpu::shares_for_cpus(0.001), cpu::MIN_CPU_SHARES);
        assert_eq!(cpu::cfs_quota_for_cpus(1.5), Duration::from_millis(150));
        assert_eq!(cpu::cfs_quota_for_cpus(0.001), cpu::MIN_CPU_CFS_QUOTA);
    }

    const PROC_CGROUPS: &str = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n\
                                cpu\t1\t1\t1\n\
                                net_cls\t0\t1\t1\n\
                                net_prio\t0\t1\t0\n";

    #[test]
    fn proc_cgroups_is_parsed() {
        let infos = parse_subsystems(PROC_CGROUPS).expect("valid");
        assert_eq!(infos.len(), 3);
        assert_eq!(
            infos[1],
            SubsystemInfo {
                name: "net_cls".into(),
                hierarchy: 0,
                enabled: true
            }
        );
        assert!(!infos[2].enabled);
        assert!(parse_subsystems("cpu x 1 1\n").is_err());
        assert!(parse_subsystems("cpu 1 1\n").is_err());
    }

    /// Upstream `cgroups::prepare`'s refusals: a subsystem the kernel does
    /// not have, or does not enable, is not mounted.
    #[test]
    fn subsystems_the_kernel_lacks_or_disables_are_not_mounted() {
        let proc_root = tempfile::tempdir().expect("tempdir");
        fs::write(proc_root.path().join("cgroups"), PROC_CGROUPS).expect("fixture");
        let base = tempfile::tempdir().expect("tempdir");
        let error = mount_subsystem(proc_root.path(), base.path(), "perf_event")
            .expect_err("not in /proc/cgroups");
        assert_eq!(
            error.to_string(),
            format!(
                "failed to mount cgroups hierarchy at '{}': 'perf_event' not found",
                base.path().join("perf_event").display()
            )
        );
        let error =
            mount_subsystem(proc_root.path(), base.path(), "net_prio").expect_err("disabled");
        assert!(
            error
                .to_string()
                .ends_with("'net_prio' is not enabled by the kernel"),
            "{error}"
        );
        assert!(!base.path().join("net_prio").exists());
    }

    #[test]
    fn blkio_values_are_parsed() {
        let values = blkio::parse("8:0 Read 4096\n8:0 Write 0\nTotal 4096\n").expect("valid");
        assert_eq!(values.len(), 3);
        assert_eq!(values[0].device.as_deref(), Some("8:0"));
        assert_eq!(values[0].operation.as_deref(), Some("Read"));
        assert_eq!(values[2].device, None);
        assert_eq!(values[2].value, 4096);
        assert!(blkio::parse("8:0 Read x\n").is_err());
    }

    #[test]
    fn controls_are_read_and_written_in_a_fixture() {
        let root = tempfile::tempdir().expect("tempdir");
        let hierarchy = root.path();
        create(hierarchy, "mesos/c1").expect("create");
        let dir = path(hierarchy, "/mesos/c1");
        for file in ["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"] {
            fs::write(dir.join(file), "0\n").expect("fixture");
        }
        fs::write(
            dir.join("cpu.stat"),
            "nr_periods 10\nnr_throttled 3\nthrottled_time 2500000000\n",
        )
        .expect("fixture");
        cpu::set_shares(hierarchy, "mesos/c1", cpu::shares_for_cpus(2.0)).expect("write");
        assert_eq!(cpu::shares(hierarchy, "mesos/c1").expect("read"), 2048);
        cpu::set_cfs_quota(hierarchy, "mesos/c1", None).expect("write");
        assert_eq!(cpu::cfs_quota(hierarchy, "mesos/c1").expect("read"), None);
        cpu::set_cfs_quota(hierarchy, "mesos/c1", Some(Duration::from_millis(50))).expect("write");
        assert_eq!(
            read(hierarchy, "mesos/c1", "cpu.cfs_quota_us").expect("read"),
            "50000"
        );
        let stat = cpu::stat(hierarchy, "mesos/c1").expect("stat");
        assert_eq!(stat.nr_throttled, 3);
        assert_eq!(stat.throttled_time, Duration::from_millis(2500));
        // A missing control is an error that says which file.
        let error = memory::usage_in_bytes(hierarchy, "mesos/c1").expect_err("missing");
        assert!(error.is_not_found());
        assert!(
            error.to_string().contains("memory.usage_in_bytes"),
            "{error}"
        );
        assert_eq!(
            memory::memsw_limit_in_bytes(hierarchy, "mesos/c1").expect("optional"),
            None
        );
        assert!(
            !memory::set_memsw_limit_in_bytes(hierarchy, "mesos/c1", Some(1)).expect("optional")
        );
        assert_eq!(
            nested(hierarchy, "mesos").expect("nested"),
            vec!["mesos/c1".to_owned()]
        );
    }

    #[test]
    fn create_and_remove_are_idempotent() {
        let root = tempfile::tempdir().expect("tempdir");
        let hierarchy = root.path();
        create(hierarchy, "a/b").expect("create");
        create(hierarchy, "/a/b").expect("create again");
        assert!(exists(hierarchy, "a/b"));
        assert_eq!(
            nested(hierarchy, "a").expect("nested"),
            vec!["a/b".to_owned()]
        );
        remove(hierarchy, "a", Duration::from_secs(1)).expect("remove");
        assert!(!exists(hierarchy, "a"));
        remove(hierarchy, "a", Duration::from_secs(1)).expect("remove twice");
        destroy(hierarchy, "a", Duration::from_secs(1)).expect("destroy a missing cgroup");
    }

    #[test]
    fn process_cgroup_is_read_from_the_given_proc_root() {
        let proc_root = tempfile::tempdir().expect("tempdir");
        fs::create_dir(proc_root.path().join("42")).expect("fixture");
        fs::write(
            proc_root.path().join("42/cgroup"),
            "4:memory:/mesos/c1\n1:cpu,cpuacct:/\n0::/x\n",
        )
        .expect("fixture");
        assert_eq!(
            process_cgroup(proc_root.path(), 42, "memory").expect("read"),
            Some("mesos/c1".to_owned())
        );
        assert_eq!(
            process_cgroup(proc_root.path(), 42, "cpuacct").expect("read"),
            Some(String::new())
        );
        assert_eq!(
            process_cgroup(proc_root.path(), 42, "freezer").expect("read"),
            None
        );
        assert!(process_cgroup(proc_root.path(), 43, "memory")
            .expect_err("no such pid")
            .is_not_found());
    }

    #[test]
    fn hierarchies_come_from_the_given_proc_root() {
        let proc_root = tempfile::tempdir().expect("tempdir");
        fs::create_dir(proc_root.path().join("self")).expect("fixture");
        fs::write(
            proc_root.path().join("self/mountinfo"),
            "35 31 0:32 / /x/memory rw - cgroup cgroup rw,memory\n",
        )
        .expect("fixture");
        let hierarchies = Hierarchies::read(proc_root.path()).expect("read");
        assert_eq!(
            hierarchies.require("memory").expect("mounted"),
            Path::new("/x/memory")
        );
        let error = hierarchies.require("cpu").expect_err("not mounted");
        assert_eq!(
            error.to_string(),
            "no cgroup v1 hierarchy is mounted for controller 'cpu'"
        );
    }
}
