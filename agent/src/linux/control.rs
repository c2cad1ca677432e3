//! File I/O and text formats shared by the v1 and v2 cgroup code.
//!
//! Upstream counterpart: the `read`/`write`/`stat` helpers near the top of
//! `src/linux/cgroups.cpp` and `src/linux/cgroups2.cpp`. Errors stay
//! `io::Error` or a reason string here; each module wraps them with the
//! path that failed.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use super::Pid;

/// Reads a control file whole.
pub(crate) fn read(path: &Path) -> io::Result<String> {
    fs::read_to_string(path)
}

/// Writes `value` to an existing control file in one `write(2)`. The file
/// is never created (a missing control file is an error, as on the kernel's
/// cgroupfs); it is truncated so a fixture tree reads back what was written.
pub(crate) fn write(path: &Path, value: &str) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).truncate(true).open(path)?;
    file.write_all(value.as_bytes())
}

/// Parses a file holding one unsigned number.
pub(crate) fn parse_u64(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    trimmed
        .parse()
        .map_err(|_| format!("expected a number, found '{trimmed}'"))
}

/// Parses a file holding one signed number (`-1` for v1 "no limit").
pub(crate) fn parse_i64(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    trimmed
        .parse()
        .map_err(|_| format!("expected a number, found '{trimmed}'"))
}

/// Parses a flat keyed file (`key value` per line: `memory.stat`,
/// `cpu.stat`, `memory.events`, `cpuacct.stat`).
pub(crate) fn parse_flat_keyed(text: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut map = BTreeMap::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        let (Some(key), Some(value), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(format!("expected 'key value', found '{line}'"));
        };
        let value = value
            .parse()
            .map_err(|_| format!("expected a number for '{key}', found '{value}'"))?;
        map.insert(key.to_owned(), value);
    }
    Ok(map)
}

/// Parses `cgroup.procs` or `tasks`: one pid a line, returned sorted and
/// without duplicates.
pub(crate) fn parse_pids(text: &str) -> Result<Vec<Pid>, String> {
    let mut pids = text
        .split_whitespace()
        .map(|pid| {
            pid.parse::<Pid>()
                .map_err(|_| format!("expected a pid, found '{pid}'"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

/// Sends `signal` to `pid`; a process that is already gone is not an error.
pub(crate) fn kill(pid: Pid, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(error)
    }
}

/// Mounts a v1 cgroup hierarchy with `subsystem` attached at `target`
/// (`mount -t cgroup -o <subsystem> <subsystem> <target>`).
pub(crate) fn mount_cgroup(target: &Path, subsystem: &str) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt as _;
    let invalid = |_| io::Error::from(io::ErrorKind::InvalidInput);
    let source = CString::new(subsystem).map_err(invalid)?;
    let path = CString::new(target.as_os_str().as_bytes()).map_err(invalid)?;
    let fstype = CString::new("cgroup").map_err(invalid)?;
    // SAFETY: every pointer is a NUL-terminated string that outlives the
    // call; the data argument is the subsystem name, as cgroupfs expects.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            path.as_ptr(),
            fstype.as_ptr(),
            0,
            source.as_ptr().cast(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `USER_HZ`, the unit of `cpuacct.stat`.
pub(crate) fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf(3) reads a configuration value and has no memory
    // safety preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// Removes an (empty) cgroup directory, retrying while the kernel answers
/// `EBUSY` (tasks that were just killed may take a moment to leave). A
/// directory that is already gone is not an error.
pub(crate) fn remove_dir_retrying(path: &Path, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut backoff = Duration::from_millis(5);
    loop {
        match fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error)
                if error.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
            {
                thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_millis(200));
            }
            Err(error) => return Err(error),
        }
    }
}

/// Calls `done` every `interval` until it answers `true` (returns `true`) or
/// `timeout` passes (returns `false`).
pub(crate) fn poll_until<E>(
    timeout: Duration,
    interval: Duration,
    mut done: impl FnMut() -> Result<bool, E>,
) -> Result<bool, E> {
    let deadline = Instant::now() + timeout;
    loop {
        if done()? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        thread::sleep(interval);
    }
}

/// Lists the cgroups below `dir` (not `dir` itself), deepest first, as
/// paths relative to `base` — the order in which they can be removed.
pub(crate) fn descendants(base: &Path, dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    collect_descendants(base, dir, &mut out)?;
    Ok(out)
}

fn collect_descendants(
    base: &Path,
    dir: &Path,
    out: &mut Vec<std::path::PathBuf>,
) -> io::Result<()> {
    let mut children = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            children.push(entry.path());
        }
    }
    children.sort();
    for child in children {
        collect_descendants(base, &child, out)?;
        if let Ok(relative) = child.strip_prefix(base) {
            out.push(relative.to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_files_are_parsed() {
        let map = parse_flat_keyed("user 10\nsystem 20\n\n").expect("valid");
        assert_eq!(map.get("user"), Some(&10));
        assert_eq!(map.get("system"), Some(&20));
        assert!(parse_flat_keyed("user ten\n").is_err());
        assert!(parse_flat_keyed("user 1 2\n").is_err());
    }

    #[test]
    fn pids_are_sorted_and_deduplicated() {
        assert_eq!(parse_pids("30\n10\n30\n").expect("valid"), vec![10, 30]);
        assert_eq!(parse_pids("").expect("valid"), Vec::<Pid>::new());
        assert!(parse_pids("x\n").is_err());
    }

    #[test]
    fn write_does_not_create_and_truncates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cpu.max");
        assert!(write(&path, "1").is_err());
        fs::write(&path, "100000 100000\n").expect("fixture");
        write(&path, "max 100000").expect("write");
        assert_eq!(read(&path).expect("read"), "max 100000");
    }
}
