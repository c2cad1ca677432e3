//! The sandbox garbage collector (upstream `src/slave/gc.cpp` and the
//! disk check of `Slave::checkDiskUsage`).
//!
//! A terminated executor's run directory (and, for a checkpointing
//! framework, its meta directory) is scheduled for removal; it is removed
//! once it has waited `max allowed age`, which upstream derives from the
//! disk usage of the work directory's filesystem every
//! `--disk_watch_interval`: `--gc_delay × max(0, 1 − --gc_disk_headroom −
//! usage)`. A full disk therefore empties the schedule at once, an idle
//! one keeps sandboxes for `--gc_delay`. Removal runs off the agent
//! process.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The collector's settings (`--gc_delay`, `--disk_watch_interval`,
/// `--gc_disk_headroom`).
#[derive(Debug, Clone, Copy)]
pub struct GcOptions {
    /// How long a sandbox is kept at most.
    pub gc_delay: Duration,
    /// How often the disk usage is checked (and the schedule pruned).
    pub disk_watch_interval: Duration,
    /// The share of the disk kept free.
    pub gc_disk_headroom: f64,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            gc_delay: Duration::from_secs(7 * 24 * 3600),
            disk_watch_interval: Duration::from_secs(60),
            gc_disk_headroom: 0.1,
        }
    }
}

/// A path waiting for removal, and what to do once it is gone.
#[derive(Debug, Clone)]
pub struct Scheduled {
    /// The directory.
    pub path: PathBuf,
    /// When it was scheduled.
    pub since: Instant,
}

/// The schedule of directories to remove.
#[derive(Debug, Default)]
pub struct GarbageCollector {
    options: GcOptions,
    scheduled: Vec<Scheduled>,
}

impl GarbageCollector {
    /// A collector with `options`.
    pub fn new(options: GcOptions) -> Self {
        Self {
            options,
            scheduled: Vec::new(),
        }
    }

    /// The settings.
    pub fn options(&self) -> GcOptions {
        self.options
    }

    /// Schedules `path` (again: its clock restarts).
    pub fn schedule(&mut self, path: PathBuf, now: Instant) {
        self.unschedule(&path);
        self.scheduled.push(Scheduled { path, since: now });
    }

    /// Takes `path` off the schedule (upstream `unschedule`, when a
    /// framework comes back to a directory).
    pub fn unschedule(&mut self, path: &Path) -> bool {
        let before = self.scheduled.len();
        self.scheduled.retain(|s| s.path != path);
        self.scheduled.len() != before
    }

    /// The paths scheduled.
    pub fn scheduled(&self) -> impl Iterator<Item = &Path> {
        self.scheduled.iter().map(|s| s.path.as_path())
    }

    /// The longest a directory may wait at disk usage `usage` (0..1).
    pub fn max_allowed_age(&self, usage: f64) -> Duration {
        let factor = (1.0 - self.options.gc_disk_headroom - usage).max(0.0);
        self.options.gc_delay.mul_f64(factor.min(1.0))
    }

    /// Takes off the schedule, and returns, every path that has waited
    /// `max_age` or longer by `now`.
    pub fn due(&mut self, max_age: Duration, now: Instant) -> Vec<PathBuf> {
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.scheduled)
            .into_iter()
            .partition(|s| now.saturating_duration_since(s.since) >= max_age);
        self.scheduled = keep;
        due.into_iter().map(|s| s.path).collect()
    }
}

/// The used share (0..1) of the filesystem holding `path` (`statvfs`).
pub fn disk_usage(path: &Path) -> std::io::Result<f64> {
    use std::os::unix::ffi::OsStrExt as _;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: statvfs writes into the zeroed struct we own; the path is a
    // NUL-terminated string alive for the call.
    let stat = unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c_path.as_ptr(), &mut stat) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        stat
    };
    if stat.f_blocks == 0 {
        return Ok(0.0);
    }
    let free = stat.f_bavail as f64;
    let total = stat.f_blocks as f64;
    Ok((1.0 - free / total).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowed_age_shrinks_with_disk_usage() {
        let gc = GarbageCollector::new(GcOptions {
            gc_delay: Duration::from_secs(1000),
            disk_watch_interval: Duration::from_secs(60),
            gc_disk_headroom: 0.1,
        });
        assert_eq!(gc.max_allowed_age(0.0), Duration::from_secs(900));
        assert_eq!(gc.max_allowed_age(0.5), Duration::from_secs(400));
        assert_eq!(gc.max_allowed_age(0.95), Duration::ZERO);
    }

    #[test]
    fn due_paths_leave_the_schedule() {
        let mut gc = GarbageCollector::new(GcOptions::default());
        let start = Instant::now();
        gc.schedule("/a".into(), start);
        gc.schedule("/b".into(), start + Duration::from_secs(10));
        assert!(gc.unschedule(Path::new("/b")));
        gc.schedule("/b".into(), start + Duration::from_secs(10));
        let due = gc.due(Duration::from_secs(5), start + Duration::from_secs(12));
        assert_eq!(due, vec![PathBuf::from("/a")]);
        assert_eq!(gc.scheduled().collect::<Vec<_>>(), vec![Path::new("/b")]);
    }

    #[test]
    fn the_disk_usage_of_the_temp_dir_is_a_share() {
        let usage = disk_usage(&std::env::temp_dir()).expect("statvfs");
        assert!((0.0..=1.0).contains(&usage));
    }
}
