//! Linux-only building blocks of the Mesos containerizer: cgroups v1 and
//! v2, and the mount table they are found in.
//!
//! Upstream counterpart: `src/linux/` (`cgroups.cpp`, `cgroups2.cpp`,
//! `fs.cpp`). Nothing here depends on actix or tokio, so it can become its
//! own crate later (as youki's `libcgroups`); every function blocks, and
//! an actor calls it from `spawn_blocking`. Roots such as `/sys/fs/cgroup`
//! and `/proc` are parameters, never constants in the logic, so tests run
//! against a tempdir laid out like the kernel's.
//!
//! - [`mountinfo`]: `/proc/<pid>/mountinfo` and `/proc/<pid>/cgroup`.
//! - [`cgroups`]: v1, one hierarchy per controller ([`cgroups::Hierarchies`]).
//! - [`cgroups2`]: v2, the unified hierarchy.
//! - [`perf`]: `perf stat` samples of cgroups (`cgroups/perf_event`).
//! - [`statistics`]: cgroup counters into `mesos.ResourceStatistics`, as
//!   upstream's cgroups isolators fill it.
//! - [`Hierarchy::detect`]: which of the two a host uses.

use std::path::{Path, PathBuf};

pub mod cgroups;
pub mod cgroups2;
mod control;
pub mod devices_bpf;
pub mod mountinfo;
pub mod perf;
pub mod statistics;

/// An OS process id.
pub type Pid = libc::pid_t;

/// What an OOM listener ([`cgroups::memory::oom::Listener`],
/// [`cgroups2::memory::OomWatcher`]) saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OomOutcome {
    /// The cgroup hit its memory limit (v2: a process was OOM-killed).
    Oom,
    /// The cgroup was removed; nothing more will be reported.
    Removed,
}

/// The controllers whose presence in the unified hierarchy makes a host a
/// cgroups v2 host.
const V2_RESOURCE_CONTROLLERS: &[&str] = &["cpu", "memory"];

/// Errors of [`Hierarchy::detect`].
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The mount table could not be read.
    #[error("failed to read '{}'", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Neither a v1 controller nor a v2 hierarchy with controllers is
    /// mounted.
    #[error("no cgroup hierarchy with controllers is mounted")]
    NotMounted,
}

/// The cgroup layout of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// Cgroups v1: a hierarchy per controller.
    V1(cgroups::Hierarchies),
    /// Cgroups v2: the unified hierarchy mounted here.
    V2(PathBuf),
}

impl Hierarchy {
    /// Reads `<proc_root>/self/mountinfo` and chooses:
    /// - v1 when a v1 hierarchy carries `cpu` or `memory` (a hybrid host
    ///   such as one with an empty `/sys/fs/cgroup/unified`);
    /// - else v2 when the unified hierarchy offers `cpu` or `memory` in its
    ///   `cgroup.controllers`;
    /// - else v1 when any v1 controller is mounted.
    pub fn detect(proc_root: &Path) -> Result<Hierarchy, DetectError> {
        Self::detect_under(proc_root, Path::new("/"))
    }

    /// Like [`Hierarchy::detect`], with only the hierarchies mounted at
    /// or below `base` (`--cgroups_hierarchy`, upstream's root of the
    /// per-subsystem mounts, `/sys/fs/cgroup` by default).
    pub fn detect_under(proc_root: &Path, base: &Path) -> Result<Hierarchy, DetectError> {
        let path = proc_root.join("self/mountinfo");
        let text =
            std::fs::read_to_string(&path).map_err(|source| DetectError::Read { path, source })?;
        Self::from_mountinfo_under(&text, base)
    }

    /// Like [`Hierarchy::detect_under`], from mountinfo text.
    pub fn from_mountinfo_under(text: &str, base: &Path) -> Result<Hierarchy, DetectError> {
        let under: String = text
            .lines()
            .filter(|line| {
                mountinfo::parse(line)
                    .first()
                    .is_some_and(|entry| entry.target.starts_with(base))
            })
            .map(|line| format!("{line}\n"))
            .collect();
        Self::from_mountinfo(&under)
    }

    /// Like [`Hierarchy::detect`], from mountinfo text. The unified
    /// hierarchy's `cgroup.controllers` is read at its mount point.
    pub fn from_mountinfo(text: &str) -> Result<Hierarchy, DetectError> {
        let entries = mountinfo::parse(text);
        let v1 = cgroups::Hierarchies::from_mountinfo(text);
        let has_v1 = |controllers: &[&str]| controllers.iter().any(|c| v1.get(c).is_some());
        if has_v1(V2_RESOURCE_CONTROLLERS) {
            return Ok(Hierarchy::V1(v1));
        }
        if let Some(root) = mountinfo::cgroup2_mount(&entries) {
            let controllers = cgroups2::available_controllers(&root, "").unwrap_or_default();
            if controllers
                .iter()
                .any(|c| V2_RESOURCE_CONTROLLERS.contains(&c.as_str()))
            {
                return Ok(Hierarchy::V2(root));
            }
        }
        if v1.controllers().any(|c| !c.starts_with("name=")) {
            return Ok(Hierarchy::V1(v1));
        }
        Err(DetectError::NotMounted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mountinfo_with(v1: &[&str], unified: &Path) -> String {
        let mut text = String::new();
        for (i, controller) in v1.iter().enumerate() {
            text.push_str(&format!(
                "{} 31 0:{} / /sys/fs/cgroup/{controller} rw - cgroup cgroup rw,{controller}\n",
                40 + i,
                40 + i
            ));
        }
        text.push_str(&format!(
            "60 31 0:60 / {} rw - cgroup2 cgroup2 rw\n",
            unified.display()
        ));
        text
    }

    #[test]
    fn hybrid_host_with_v1_controllers_is_v1() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("cgroup.controllers"), "hugetlb\n").expect("fixture");
        let detected = Hierarchy::from_mountinfo(&mountinfo_with(&["cpu", "memory"], dir.path()))
            .expect("detect");
        let Hierarchy::V1(hierarchies) = detected else {
            panic!("expected v1, got {detected:?}");
        };
        assert_eq!(
            hierarchies.get("memory"),
            Some(Path::new("/sys/fs/cgroup/memory"))
        );
    }

    #[test]
    fn unified_host_with_controllers_is_v2() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .expect("fixture");
        let detected = Hierarchy::from_mountinfo(&mountinfo_with(&[], dir.path())).expect("detect");
        assert_eq!(detected, Hierarchy::V2(dir.path().to_path_buf()));
    }

    #[test]
    fn host_without_controllers_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("cgroup.controllers"), "\n").expect("fixture");
        let error = Hierarchy::from_mountinfo(&mountinfo_with(&[], dir.path()))
            .expect_err("nothing mounted");
        assert!(matches!(error, DetectError::NotMounted));
    }

    #[test]
    fn only_hierarchies_under_the_base_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("cgroup.controllers"), "\n").expect("fixture");
        let text = format!(
            "{}{}",
            mountinfo_with(&["cpu"], dir.path()),
            "70 31 0:70 / /srv/cgroups/memory rw - cgroup cgroup rw,memory\n"
        );
        let Hierarchy::V1(default) =
            Hierarchy::from_mountinfo_under(&text, Path::new("/sys/fs/cgroup")).expect("cpu")
        else {
            panic!("expected v1");
        };
        assert_eq!(default.controllers().collect::<Vec<_>>(), ["cpu"]);
        let Hierarchy::V1(elsewhere) =
            Hierarchy::from_mountinfo_under(&text, Path::new("/srv/cgroups")).expect("memory")
        else {
            panic!("expected v1");
        };
        assert_eq!(
            elsewhere.get("memory"),
            Some(Path::new("/srv/cgroups/memory"))
        );
        assert_eq!(elsewhere.get("cpu"), None);
        assert!(matches!(
            Hierarchy::from_mountinfo_under(&text, Path::new("/nowhere")),
            Err(DetectError::NotMounted)
        ));
    }

    #[test]
    fn detect_reads_the_given_proc_root() {
        let proc_root = tempfile::tempdir().expect("tempdir");
        let unified = tempfile::tempdir().expect("tempdir");
        std::fs::write(unified.path().join("cgroup.controllers"), "memory\n").expect("fixture");
        std::fs::create_dir(proc_root.path().join("self")).expect("fixture");
        std::fs::write(
            proc_root.path().join("self/mountinfo"),
            mountinfo_with(&[], unified.path()),
        )
        .expect("fixture");
        assert_eq!(
            Hierarchy::detect(proc_root.path()).expect("detect"),
            Hierarchy::V2(unified.path().to_path_buf())
        );
    }
}
