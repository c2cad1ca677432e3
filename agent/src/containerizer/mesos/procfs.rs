//! Reading processes from `/proc` (upstream `stout/os/linux.hpp`
//! `os::processes`, `os::pstree`): the process tree of a container, its
//! CPU times and resident memory. The root is passed in so tests can use
//! a fixture.

use std::collections::{HashMap, HashSet};
use std::path::Path;

/// What `/proc/<pid>/stat` says about one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessStat {
    /// The process id.
    pub pid: i32,
    /// Its state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// The parent's pid.
    pub ppid: i32,
    /// Its process group.
    pub pgrp: i32,
    /// Its session.
    pub session: i32,
    /// User-mode CPU time, in clock ticks.
    pub utime: u64,
    /// Kernel-mode CPU time, in clock ticks.
    pub stime: u64,
    /// Resident set size, in pages.
    pub rss_pages: u64,
}

/// Parses one `/proc/<pid>/stat` line (the command name may hold spaces
/// and parentheses: the fields start after the last `)`).
pub fn parse_stat(line: &str) -> Option<ProcessStat> {
    let (head, rest) = line.rsplit_once(')')?;
    let pid = head.split_once('(')?.0.trim().parse().ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) pgrp(5) session(6) ... utime(14)
    // stime(15) ... rss(24); index = field number - 3.
    let field = |n: usize| fields.get(n - 3).copied();
    Some(ProcessStat {
        pid,
        state: field(3)?.chars().next()?,
        ppid: field(4)?.parse().ok()?,
        pgrp: field(5)?.parse().ok()?,
        session: field(6)?.parse().ok()?,
        utime: field(14)?.parse().ok()?,
        stime: field(15)?.parse().ok()?,
        rss_pages: field(24)?.parse().ok()?,
    })
}

/// Every process under `proc_root` (processes that vanish while being
/// read are skipped).
pub fn processes(proc_root: &Path) -> Vec<ProcessStat> {
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return vec![];
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|line| parse_stat(&line))
        .collect()
}

/// The processes of the container whose init process is `pid`: its
/// descendants, and every process of its process group or session (which
/// catches children re-parented to init after their parent exited, as
/// long as they stayed in the session).
pub fn container_processes(all: &[ProcessStat], pid: i32) -> Vec<ProcessStat> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in all {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut members: HashSet<i32> = all
        .iter()
        .filter(|p| p.pid == pid || p.pgrp == pid || p.session == pid)
        .map(|p| p.pid)
        .collect();
    let mut stack: Vec<i32> = members.iter().copied().collect();
    while let Some(next) = stack.pop() {
        for child in children.get(&next).into_iter().flatten() {
            if members.insert(*child) {
                stack.push(*child);
            }
        }
    }
    all.iter()
        .filter(|p| members.contains(&p.pid))
        .copied()
        .collect()
}

/// The process whose namespaces and root a DEBUG container of the
/// container with init process `pid` enters (upstream
/// `getMountNamespaceTarget`): the first descendant with a root of its
/// own (a command task in its image's rootfs), else the first in other
/// pid or mount namespaces (the init process of a new pid namespace,
/// forked by the launch helper), else `pid` itself.
pub fn namespace_target(proc_root: &Path, pid: u32) -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    let id = |pid: i32, link: &str| {
        std::fs::metadata(proc_root.join(pid.to_string()).join(link))
            .ok()
            .map(|m| (m.dev(), m.ino()))
    };
    let Ok(init) = i32::try_from(pid) else {
        return pid;
    };
    let all = processes(proc_root);
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in &all {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut descendants = Vec::new();
    let mut queue = std::collections::VecDeque::from([init]);
    while let Some(next) = queue.pop_front() {
        for child in children.get(&next).into_iter().flatten() {
            descendants.push(*child);
            queue.push_back(*child);
        }
    }
    let root = id(init, "root");
    let namespaces = (id(init, "ns/pid"), id(init, "ns/mnt"));
    descendants
        .iter()
        .find(|d| id(**d, "root").is_some_and(|r| Some(r) != root))
        .or_else(|| {
            descendants.iter().find(|d| {
                // Both must be readable: a process that is exiting (a
                // short-lived command of the task) loses its mount
                // namespace first, and looked like one in another.
                let theirs = (id(**d, "ns/pid"), id(**d, "ns/mnt"));
                theirs.0.is_some() && theirs.1.is_some() && theirs != namespaces
            })
        })
        .and_then(|d| u32::try_from(*d).ok())
        .unwrap_or(pid)
}

/// Whether `pid` runs: exists under `proc_root` and is neither a zombie
/// nor dead.
pub fn alive(proc_root: &Path, pid: u32) -> bool {
    if pid <= 1 {
        return false;
    }
    std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat"))
        .ok()
        .and_then(|line| parse_stat(&line))
        .is_some_and(|stat| stat.state != 'Z' && stat.state != 'X')
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// The page size in bytes.
pub fn page_size() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let line = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    7 3 0 0 20 0 1 0 12345 1000000 250 18446744073709551615";
        let stat = parse_stat(line).expect("parses");
        assert_eq!(stat.pid, 4242);
        assert_eq!(stat.state, 'S');
        assert_eq!((stat.ppid, stat.pgrp, stat.session), (1, 4242, 4242));
        assert_eq!((stat.utime, stat.stime, stat.rss_pages), (7, 3, 250));
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn container_processes_follow_children_groups_and_sessions() {
        let p = |pid, ppid, pgrp, session| ProcessStat {
            pid,
            state: 'S',
            ppid,
            pgrp,
            session,
            utime: 0,
            stime: 0,
            rss_pages: 0,
        };
        let all = vec![
            p(1, 0, 1, 1),
            p(100, 1, 100, 100),   // container init
            p(101, 100, 100, 100), // child
            p(102, 101, 102, 102), // grandchild in its own session
            p(103, 1, 100, 100),   // re-parented, same session
            p(200, 1, 200, 200),   // unrelated
        ];
        let mut pids: Vec<i32> = container_processes(&all, 100)
            .iter()
            .map(|p| p.pid)
            .collect();
        pids.sort_unstable();
        assert_eq!(pids, vec![100, 101, 102, 103]);
    }

    /// A fixture process's `/proc` links: (link, identity).
    type Links<'a> = &'a [(&'a str, &'a str)];

    /// A `/proc` laid out in a tempdir: `(pid, ppid, links)`, each link
    /// (`root`, `ns/pid`, `ns/mnt`) a symlink to a file named after its identity, so
    /// equal names are equal namespaces.
    fn proc_fixture(processes: &[(i32, i32, Links<'_>)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let identities = root.path().join("identities");
        std::fs::create_dir_all(&identities).unwrap();
        for (pid, ppid, links) in processes {
            let dir = root.path().join(pid.to_string());
            std::fs::create_dir_all(dir.join("ns")).unwrap();
            let stat =
                format!("{pid} (p) S {ppid} {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 1 1 1");
            std::fs::write(dir.join("stat"), stat).unwrap();
            for (link, identity) in *links {
                let target = identities.join(identity);
                if !target.exists() {
                    std::fs::write(&target, identity).unwrap();
                }
                std::os::unix::fs::symlink(&target, dir.join(link)).unwrap();
            }
        }
        root
    }

    #[test]
    fn the_namespace_target_is_a_descendant_in_other_namespaces_never_an_exiting_one() {
        let host: &[(&str, &str)] = &[("root", "/"), ("ns/pid", "pid0"), ("ns/mnt", "mnt0")];
        // 101 is exiting: its mount namespace is gone already.
        let exiting: &[(&str, &str)] = &[("root", "/"), ("ns/pid", "pid0")];
        let inner: &[(&str, &str)] = &[("root", "/"), ("ns/pid", "pid1"), ("ns/mnt", "mnt1")];
        let proc = proc_fixture(&[(100, 1, host), (101, 100, exiting), (102, 100, host)]);
        assert_eq!(namespace_target(proc.path(), 100), 100);
        let proc = proc_fixture(&[(100, 1, host), (101, 100, exiting), (102, 100, inner)]);
        assert_eq!(namespace_target(proc.path(), 100), 102);
        let image: &[(&str, &str)] = &[("root", "rootfs"), ("ns/pid", "pid0"), ("ns/mnt", "mnt0")];
        let proc = proc_fixture(&[(100, 1, host), (101, 100, inner), (103, 101, image)]);
        assert_eq!(namespace_target(proc.path(), 100), 103);
    }

    #[test]
    fn this_process_is_alive_and_a_bogus_one_is_not() {
        let proc_root = Path::new("/proc");
        assert!(alive(proc_root, std::process::id()));
        assert!(!alive(proc_root, 0));
        assert!(!alive(proc_root, 1));
        assert!(!alive(proc_root, u32::MAX));
    }
}
