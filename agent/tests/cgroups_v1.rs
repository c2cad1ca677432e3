//! `agent::linux::cgroups` against the host's real cgroup v1 hierarchies.
//!
//! Needs root and v1 hierarchies for cpu, cpuacct, cpuset, memory,
//! freezer and pids. Without them the test prints `SKIPPED: <reason>` and
//! passes, except under `CI=true`, where it fails. Each test works below
//! a fresh `mesos_test_<uuid>` cgroup, nested in the cgroup this process
//! already belongs to in each hierarchy (so it stays inside any limit the
//! host put on us), and removes it at the end, also on failure
//! ([`TestCgroups`]).

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mesos_agent::linux::cgroups::{self, cpu, cpuacct, freezer, memory, pids, Hierarchies};
use mesos_agent::linux::{mountinfo, statistics, Hierarchy, OomOutcome, Pid};

const PROC: &str = "/proc";
const CONTROLLERS: &[&str] = &["cpu", "cpuacct", "cpuset", "memory", "freezer", "pids"];
const TIMEOUT: Duration = Duration::from_secs(30);

/// The style guide's `require` guard: `Some` when the host can run the
/// test; otherwise fails under `CI=true` and skips elsewhere.
fn require() -> Option<Hierarchies> {
    let reason = match check() {
        Ok(hierarchies) => return Some(hierarchies),
        Err(reason) => reason,
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("cgroups v1 test cannot run under CI=true: {reason}");
    }
    println!("SKIPPED: {reason}");
    None
}

fn check() -> Result<Hierarchies, String> {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not running as root".to_owned());
    }
    let hierarchies = Hierarchies::read(Path::new(PROC)).map_err(|e| format!("{e:#}"))?;
    for controller in CONTROLLERS {
        if hierarchies.get(controller).is_none() {
            return Err(format!("no cgroup v1 hierarchy for '{controller}'"));
        }
    }
    Ok(hierarchies)
}

/// The test's cgroup in every hierarchy, destroyed on drop.
struct TestCgroups {
    hierarchies: Hierarchies,
    /// Controller → cgroup path (relative to that hierarchy).
    cgroups: Vec<(String, String)>,
}

impl TestCgroups {
    fn new(hierarchies: &Hierarchies) -> TestCgroups {
        let text = std::fs::read_to_string(Path::new(PROC).join("self/cgroup"))
            .expect("read /proc/self/cgroup");
        let own = mountinfo::parse_process_cgroups(&text);
        let name = format!("mesos_test_{}", uuid::Uuid::new_v4().simple());
        let mut cgroups = Vec::new();
        for controller in CONTROLLERS {
            let parent = own
                .iter()
                .find(|c| c.controllers.iter().any(|x| x == controller))
                .map(|c| c.path.trim_matches('/').to_owned())
                .unwrap_or_default();
            let cgroup = if parent.is_empty() {
                name.clone()
            } else {
                format!("{parent}/{name}")
            };
            let hierarchy = hierarchies.require(controller).expect("checked by require");
            cgroups::create(hierarchy, &cgroup).expect("create test cgroup");
            cgroups.push(((*controller).to_owned(), cgroup));
        }
        TestCgroups {
            hierarchies: hierarchies.clone(),
            cgroups,
        }
    }

    fn hierarchy(&self, controller: &str) -> &Path {
        self.hierarchies
            .require(controller)
            .expect("checked by require")
    }

    fn cgroup(&self, controller: &str) -> &str {
        &self
            .cgroups
            .iter()
            .find(|(c, _)| c == controller)
            .expect("test cgroup")
            .1
    }

    /// `(hierarchy, cgroup)` of `child` below the test cgroup of `controller`.
    fn child(&self, controller: &str, child: &str) -> (PathBuf, String) {
        let cgroup = format!("{}/{child}", self.cgroup(controller));
        cgroups::create(self.hierarchy(controller), &cgroup).expect("create child cgroup");
        (self.hierarchy(controller).to_path_buf(), cgroup)
    }
}

impl Drop for TestCgroups {
    fn drop(&mut self) {
        // The freezer first: it kills reliably; the others are then empty.
        self.cgroups
            .sort_by_key(|(controller, _)| controller != "freezer");
        for (controller, cgroup) in &self.cgroups {
            let hierarchy = self
                .hierarchies
                .require(controller)
                .expect("checked by require");
            if let Err(error) = cgroups::destroy(hierarchy, cgroup, TIMEOUT) {
                eprintln!("failed to clean up test cgroup: {error:#}");
            }
        }
    }
}

/// Runs `script` with `sh`, moved first into each `(hierarchy, cgroup)` by
/// the shell itself, so everything it runs starts inside.
fn spawn_in(cgroups_to_join: &[(&Path, &str)], script: &str) -> Child {
    let mut prefix = String::new();
    for (hierarchy, cgroup) in cgroups_to_join {
        let procs = cgroups::path(hierarchy, cgroup).join("cgroup.procs");
        prefix.push_str(&format!("echo $$ > '{}' || exit 97; ", procs.display()));
    }
    Command::new("sh")
        .arg("-c")
        .arg(format!("{prefix}{script}"))
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sh")
}

fn wait_for_processes(hierarchy: &Path, cgroup: &str, count: usize) -> Vec<Pid> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let pids = cgroups::processes(hierarchy, cgroup).expect("processes");
        if pids.len() >= count {
            return pids;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} processes in {cgroup}, found {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Gone, or a zombie nobody reaped yet.
fn is_gone(pid: Pid) -> bool {
    match std::fs::read_to_string(format!("{PROC}/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn detection_and_mount_table() {
    let Some(hierarchies) = require() else { return };
    assert!(hierarchies.controllers().count() >= CONTROLLERS.len());
    match Hierarchy::detect(Path::new(PROC)).expect("detect") {
        Hierarchy::V1(detected) => assert_eq!(detected, hierarchies),
        other => panic!("expected v1 on a host with v1 controllers, got {other:?}"),
    }
}

#[test]
fn cpu_and_memory_controls_are_set_and_read_back() {
    let Some(hierarchies) = require() else { return };
    let test = TestCgroups::new(&hierarchies);
    let (cpu_h, cpu_cg) = (test.hierarchy("cpu"), test.cgroup("cpu"));
    let (acct_h, acct_cg) = (test.hierarchy("cpuacct"), test.cgroup("cpuacct"));
    let (mem_h, mem_cg) = (test.hierarchy("memory"), test.cgroup("memory"));
    let (pids_h, pids_cg) = (test.hierarchy("pids"), test.cgroup("pids"));
    // A new cpuset level takes no task until cpus and mems are set:
    // `create` copies them from the parent.
    let (set_h, set_cg) = test.child("cpuset", "nested");
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let value = cgroups::read(&set_h, &set_cg, file).expect("cpuset");
        assert!(
            !value.trim().is_empty(),
            "{file} of a new cpuset cgroup is empty"
        );
    }

    cpu::set_shares(cpu_h, cpu_cg, cpu::shares_for_cpus(0.5)).expect("cpu.shares");
    assert_eq!(cpu::shares(cpu_h, cpu_cg).expect("cpu.shares"), 512);
    cpu::set_cfs_period(cpu_h, cpu_cg, cpu::CPU_CFS_PERIOD).expect("period");
    cpu::set_cfs_quota(cpu_h, cpu_cg, Some(cpu::cfs_quota_for_cpus(0.5))).expect("quota");
    assert_eq!(
        cpu::cfs_period(cpu_h, cpu_cg).expect("period"),
        Duration::from_millis(100)
    );
    assert_eq!(
        cpu::cfs_quota(cpu_h, cpu_cg).expect("quota"),
        Some(Duration::from_millis(50))
    );

    memory::set_limit_in_bytes(mem_h, mem_cg, Some(64 << 20)).expect("limit");
    assert_eq!(
        memory::limit_in_bytes(mem_h, mem_cg).expect("limit"),
        64 << 20
    );
    memory::set_soft_limit_in_bytes(mem_h, mem_cg, Some(memory::MIN_MEMORY)).expect("soft limit");
    assert_eq!(
        memory::soft_limit_in_bytes(mem_h, mem_cg).expect("soft limit"),
        32 << 20
    );
    if memory::set_memsw_limit_in_bytes(mem_h, mem_cg, Some(64 << 20)).expect("memsw") {
        assert_eq!(
            memory::memsw_limit_in_bytes(mem_h, mem_cg).expect("memsw"),
            Some(64 << 20)
        );
    }
    pids::set_max(pids_h, pids_cg, Some(16)).expect("pids.max");
    assert_eq!(pids::max(pids_h, pids_cg).expect("pids.max"), Some(16));

    // A real child, busy for a moment, then asleep.
    let mut child = spawn_in(
        &[
            (cpu_h, cpu_cg),
            (acct_h, acct_cg),
            (&set_h, &set_cg),
            (mem_h, mem_cg),
            (pids_h, pids_cg),
        ],
        "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 1000",
    );
    let pid = Pid::try_from(child.id()).expect("pid");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let in_all = [(cpu_h, cpu_cg), (mem_h, mem_cg), (pids_h, pids_cg)]
            .iter()
            .all(|(h, c)| cgroups::processes(h, c).expect("procs").contains(&pid));
        if in_all {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "child {pid} never joined the test cgroups"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(pids::current(pids_h, pids_cg).expect("pids.current") >= 1);
    assert!(memory::usage_in_bytes(mem_h, mem_cg).expect("usage") > 0);

    // Usage statistics, as the isolators report them.
    std::thread::sleep(Duration::from_millis(300));
    let mut stats = mesos_proto::mesos::ResourceStatistics::default();
    statistics::apply_cpuacct(
        &mut stats,
        &cpuacct::stat(acct_h, acct_cg).expect("cpuacct.stat"),
    );
    statistics::apply_cfs(&mut stats, &cpu::stat(cpu_h, cpu_cg).expect("cpu.stat"));
    let usage = memory::usage_in_bytes(mem_h, mem_cg).expect("usage");
    statistics::apply_memory_v1(
        &mut stats,
        usage,
        &memory::stat(mem_h, mem_cg).expect("memory.stat"),
    );
    assert!(stats.cpus_user_time_secs.is_some());
    assert!(cpuacct::usage(acct_h, acct_cg).expect("cpuacct.usage") > Duration::ZERO);
    assert!(stats.cpus_nr_periods.is_some());
    assert!(stats.mem_total_bytes.unwrap_or(0) > 0);
    assert!(stats.mem_rss_bytes.is_some());
    println!("statistics of a shell loop: {stats:?}");

    // `destroy` of a non-freezer cgroup with a live process kills it.
    let (nested_h, nested_cg) = test.child("cpu", "nested");
    cgroups::assign(&nested_h, &nested_cg, pid).expect("assign");
    assert_eq!(
        cgroups::processes(&nested_h, &nested_cg).expect("procs"),
        vec![pid]
    );
    cgroups::destroy(cpu_h, cpu_cg, TIMEOUT).expect("destroy");
    assert!(!cgroups::exists(cpu_h, cpu_cg));
    let status = child.wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
}

#[test]
fn process_over_the_memory_limit_is_oom_killed_and_reported() {
    let Some(hierarchies) = require() else { return };
    let test = TestCgroups::new(&hierarchies);
    let (mem_h, mem_cg) = test.child("memory", "oom");
    memory::oom::enable_killer(&mem_h, &mem_cg).expect("enable oom killer");
    assert!(memory::oom::killer_enabled(&mem_h, &mem_cg).expect("oom_control"));
    memory::set_limit_in_bytes(&mem_h, &mem_cg, Some(memory::MIN_MEMORY)).expect("limit");
    memory::set_memsw_limit_in_bytes(&mem_h, &mem_cg, Some(memory::MIN_MEMORY)).expect("memsw");

    let mut counters: Vec<_> = memory::pressure::Level::ALL
        .iter()
        .map(|level| {
            memory::pressure::Counter::new(&mem_h, &mem_cg, *level).expect("pressure counter")
        })
        .collect();
    let listener = memory::oom::Listener::new(&mem_h, &mem_cg).expect("listen");
    let waiter = std::thread::spawn(move || listener.wait_timeout(TIMEOUT));
    // `tail` keeps the newline-free stream in memory until it is killed.
    let mut child = spawn_in(&[(&mem_h, &mem_cg)], "exec tail /dev/zero");
    let outcome = waiter.join().expect("waiter thread").expect("wait");
    assert_eq!(outcome, Some(OomOutcome::Oom));
    let status = child.wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    assert!(memory::max_usage_in_bytes(&mem_h, &mem_cg).expect("max usage") >= 30 << 20);
    let oom_control = cgroups::stat(&mem_h, &mem_cg, "memory.oom_control").expect("oom_control");
    if let Some(kills) = oom_control.get("oom_kill") {
        assert!(*kills >= 1, "{oom_control:?}");
    }

    // Reclaim at the limit shows as memory pressure.
    let pressure: Vec<(memory::pressure::Level, u64)> = counters
        .iter_mut()
        .map(|counter| (counter.level(), counter.value().expect("pressure value")))
        .collect();
    println!("memory pressure events up to the OOM kill: {pressure:?}");
    assert!(pressure[0].1 > 0, "no low pressure event: {pressure:?}");

    // The process's cgroup is found through /proc.
    let mut sleeper = spawn_in(&[(&mem_h, &mem_cg)], "exec sleep 1000");
    let sleeper_pid = wait_for_processes(&mem_h, &mem_cg, 1)[0];
    assert_eq!(
        cgroups::process_cgroup(Path::new(PROC), sleeper_pid, "memory").expect("process cgroup"),
        Some(mem_cg.clone())
    );
    cgroups::kill_all(&mem_h, &mem_cg, TIMEOUT).expect("kill all");
    sleeper.wait().expect("wait");

    // Removing the cgroup ends a pending wait.
    let listener = memory::oom::Listener::new(&mem_h, &mem_cg).expect("listen");
    let waiter = std::thread::spawn(move || listener.wait_timeout(TIMEOUT));
    std::thread::sleep(Duration::from_millis(50));
    cgroups::destroy(&mem_h, &mem_cg, TIMEOUT).expect("destroy");
    assert_eq!(
        waiter.join().expect("waiter thread").expect("wait"),
        Some(OomOutcome::Removed)
    );
}

#[test]
fn kill_all_reaches_a_double_forked_child() {
    let Some(hierarchies) = require() else { return };
    let test = TestCgroups::new(&hierarchies);
    let (fr_h, fr_cg) = (test.hierarchy("freezer"), test.cgroup("freezer"));

    // The subshell forks `sleep` and exits: that sleep is orphaned, no
    // longer our descendant, and only the cgroup still knows it.
    let mut child = spawn_in(&[(fr_h, fr_cg)], "(sleep 1000 &); exec sleep 1000");
    let pids = wait_for_processes(fr_h, fr_cg, 2);
    let orphan = *pids
        .iter()
        .find(|p| **p != Pid::try_from(child.id()).expect("pid"))
        .expect("orphan");

    freezer::freeze(fr_h, fr_cg, TIMEOUT).expect("freeze");
    assert_eq!(
        freezer::state(fr_h, fr_cg).expect("state"),
        freezer::State::Frozen
    );
    freezer::thaw(fr_h, fr_cg, TIMEOUT).expect("thaw");
    assert_eq!(
        freezer::state(fr_h, fr_cg).expect("state"),
        freezer::State::Thawed
    );

    cgroups::kill_all(fr_h, fr_cg, TIMEOUT).expect("kill all");
    assert!(cgroups::processes(fr_h, fr_cg).expect("procs").is_empty());
    let status = child.wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    let deadline = Instant::now() + TIMEOUT;
    while !is_gone(orphan) {
        assert!(
            Instant::now() < deadline,
            "orphan {orphan} survived kill_all"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        freezer::state(fr_h, fr_cg).expect("state"),
        freezer::State::Thawed
    );

    drop(test);
}
