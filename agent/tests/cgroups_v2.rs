//! `agent::linux::cgroups2` against a real cgroup v2 hierarchy, and the
//! containerizer on it (with nested containers that have cgroups of their
//! own: `nested_containers_get_cgroups_of_their_own_on_v2`, our v2 form of
//! `NestedMesosContainerizerTest.ROOT_CGROUPS_LaunchNestedShareCgroups`).
//!
//! The hosts that build this project mount cgroup v1, so these tests are
//! `#[ignore]`d; `scripts/cgroups-v2-vm-test.sh` boots a VM whose root is a
//! v2 hierarchy and runs them there with `--ignored` (see
//! `docs/cgroups-v2-vm.md` in the shared docs). The hierarchy is
//! `$MESOS_TEST_CGROUPS2_ROOT`, or the one [`Hierarchy::detect`] finds;
//! run with `--ignored` and no v2 hierarchy they fail. Each test works below
//! a fresh `mesos_test_<uuid>` cgroup, removed at the end also on failure
//! ([`TestCgroup`]).

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mesos_agent::linux::cgroups2::{self, cpu, memory, pids};
use mesos_agent::linux::{statistics, Hierarchy, OomOutcome, Pid};

const CONTROLLERS: &[&str] = &["cpu", "memory", "pids"];
const TIMEOUT: Duration = Duration::from_secs(30);

fn root() -> PathBuf {
    if let Some(root) = std::env::var_os("MESOS_TEST_CGROUPS2_ROOT") {
        return PathBuf::from(root);
    }
    match Hierarchy::detect(Path::new("/proc")) {
        Ok(Hierarchy::V2(root)) => root,
        other => panic!(
            "no cgroup v2 hierarchy with controllers (set MESOS_TEST_CGROUPS2_ROOT): {other:?}"
        ),
    }
}

/// A `mesos_test_<uuid>` cgroup with cpu, memory and pids enabled for its
/// children, destroyed on drop.
struct TestCgroup {
    root: PathBuf,
    cgroup: String,
}

impl TestCgroup {
    fn new() -> TestCgroup {
        let root = root();
        let cgroup = format!("mesos_test_{}", uuid::Uuid::new_v4().simple());
        cgroups2::create(&root, &cgroup).expect("create test cgroup");
        let test = TestCgroup { root, cgroup };
        cgroups2::enable_controllers_along_path(&test.root, &test.cgroup, CONTROLLERS)
            .expect("enable in ancestors");
        cgroups2::enable_controllers(&test.root, &test.cgroup, CONTROLLERS)
            .expect("enable in test cgroup");
        test
    }

    /// A leaf below the test cgroup, where processes go.
    fn leaf(&self, name: &str) -> String {
        let leaf = format!("{}/{name}", self.cgroup);
        cgroups2::create(&self.root, &leaf).expect("create leaf");
        leaf
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Err(error) = cgroups2::destroy(&self.root, &self.cgroup, TIMEOUT) {
            eprintln!("failed to clean up test cgroup: {error:#}");
        }
    }
}

/// Runs `script` with `sh`, which first moves itself into `cgroup`.
fn spawn_in(root: &Path, cgroup: &str, script: &str) -> Child {
    let procs = cgroups2::path(root, cgroup).join("cgroup.procs");
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > '{}' || exit 97; {script}",
            procs.display()
        ))
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sh")
}

fn wait_for_processes(root: &Path, cgroup: &str, count: usize) -> Vec<Pid> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let pids = cgroups2::processes(root, cgroup).expect("processes");
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

fn is_gone(pid: Pid) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn killed_by_sigkill(child: &mut Child) -> bool {
    let status = child.wait().expect("wait");
    std::os::unix::process::ExitStatusExt::signal(&status) == Some(libc::SIGKILL)
}

#[test]
#[ignore = "needs a cgroup v2 host; run by scripts/cgroups-v2-vm-test.sh"]
fn controls_are_set_and_read_back_and_reported() {
    let test = TestCgroup::new();
    let (root, leaf) = (&test.root, test.leaf("controls"));

    cpu::set_weight(root, &leaf, cpu::weight_for_cpus(0.5)).expect("cpu.weight");
    assert_eq!(cpu::weight(root, &leaf).expect("cpu.weight"), 50);
    cpu::set_max(root, &leaf, cpu::BandwidthLimit::for_cpus(0.5)).expect("cpu.max");
    assert_eq!(
        cpu::max(root, &leaf).expect("cpu.max"),
        cpu::BandwidthLimit::for_cpus(0.5)
    );
    memory::set_max(root, &leaf, Some(64 << 20)).expect("memory.max");
    assert_eq!(
        memory::max(root, &leaf).expect("memory.max"),
        Some(64 << 20)
    );
    memory::set_high(root, &leaf, Some(48 << 20)).expect("memory.high");
    assert_eq!(
        memory::high(root, &leaf).expect("memory.high"),
        Some(48 << 20)
    );
    memory::set_low(root, &leaf, memory::MIN_MEMORY).expect("memory.low");
    assert_eq!(memory::low(root, &leaf).expect("memory.low"), 32 << 20);
    if memory::set_swap_max(root, &leaf, Some(0)).expect("memory.swap.max") {
        assert_eq!(
            memory::swap_max(root, &leaf).expect("memory.swap.max"),
            Some(0)
        );
    }
    pids::set_max(root, &leaf, Some(16)).expect("pids.max");
    assert_eq!(pids::max(root, &leaf).expect("pids.max"), Some(16));

    let mut child = spawn_in(
        root,
        &leaf,
        "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 1000",
    );
    let pid = Pid::try_from(child.id()).expect("pid");
    assert!(wait_for_processes(root, &leaf, 1).contains(&pid));
    std::thread::sleep(Duration::from_millis(300));
    assert!(pids::current(root, &leaf).expect("pids.current") >= 1);

    let mut stats = mesos_proto::mesos::ResourceStatistics::default();
    let cpu_stat = cpu::stat(root, &leaf).expect("cpu.stat");
    assert!(cpu_stat.nr_periods.is_some(), "{cpu_stat:?}");
    statistics::apply_cpu_v2(&mut stats, &cpu_stat);
    statistics::apply_memory_v2(
        &mut stats,
        memory::current(root, &leaf).expect("memory.current"),
        memory::swap_current(root, &leaf).expect("memory.swap.current"),
        &memory::stat(root, &leaf).expect("memory.stat"),
    );
    assert!(stats.cpus_user_time_secs.is_some());
    assert!(stats.cpus_nr_periods.is_some());
    assert!(stats.mem_total_bytes.unwrap_or(0) > 0);
    assert!(stats.mem_anon_bytes.is_some());
    println!("statistics of a shell loop: {stats:?}");

    cgroups2::destroy(root, &leaf, TIMEOUT).expect("destroy");
    assert!(!cgroups2::exists(root, &leaf));
    assert!(killed_by_sigkill(&mut child));
}

#[test]
#[ignore = "needs a cgroup v2 host; run by scripts/cgroups-v2-vm-test.sh"]
fn process_over_the_memory_limit_is_oom_killed_and_reported() {
    let test = TestCgroup::new();
    let (root, leaf) = (&test.root, test.leaf("oom"));
    memory::set_max(root, &leaf, Some(memory::MIN_MEMORY)).expect("memory.max");
    memory::set_swap_max(root, &leaf, Some(0)).expect("memory.swap.max");

    let mut watcher = memory::OomWatcher::new(root, &leaf)
        .expect("watch")
        .with_interval(Duration::from_millis(20));
    let mut child = spawn_in(root, &leaf, "exec tail /dev/zero");
    assert_eq!(
        watcher.wait_timeout(TIMEOUT).expect("wait"),
        Some(OomOutcome::Oom)
    );
    assert!(killed_by_sigkill(&mut child));
    let events = memory::events(root, &leaf).expect("memory.events");
    assert!(events.oom_kill >= 1, "{events:?}");
    println!("memory.events after the OOM kill: {events:?}");

    cgroups2::destroy(root, &leaf, TIMEOUT).expect("destroy");
    assert_eq!(
        watcher.wait_timeout(TIMEOUT).expect("wait"),
        Some(OomOutcome::Removed)
    );
}

#[test]
#[ignore = "needs a cgroup v2 host; run by scripts/cgroups-v2-vm-test.sh"]
fn kill_all_reaches_a_double_forked_child() {
    let test = TestCgroup::new();
    let (root, leaf) = (&test.root, test.leaf("kill"));
    let mut child = spawn_in(root, &leaf, "(sleep 1000 &); exec sleep 1000");
    let pids = wait_for_processes(root, &leaf, 2);
    let orphan = *pids
        .iter()
        .find(|p| **p != Pid::try_from(child.id()).expect("pid"))
        .expect("orphan");

    cgroups2::freeze(root, &leaf, TIMEOUT).expect("freeze");
    assert!(cgroups2::events(root, &leaf).expect("events").frozen);
    cgroups2::thaw(root, &leaf, TIMEOUT).expect("thaw");
    assert!(!cgroups2::events(root, &leaf).expect("events").frozen);

    // Through the parent: kill_all covers the whole subtree.
    cgroups2::kill_all(root, &test.cgroup, TIMEOUT).expect("kill all");
    assert!(cgroups2::processes_recursive(root, &test.cgroup)
        .expect("procs")
        .is_empty());
    assert!(killed_by_sigkill(&mut child));
    let deadline = Instant::now() + TIMEOUT;
    while !is_gone(orphan) {
        assert!(
            Instant::now() < deadline,
            "orphan {orphan} survived kill_all"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!cgroups2::events(root, &leaf).expect("events").populated);
}

#[test]
#[ignore = "needs a cgroup v2 host; run by scripts/cgroups-v2-vm-test.sh"]
fn kill_all_reaches_a_double_forked_child_through_the_freezer() {
    let test = TestCgroup::new();
    let (root, leaf) = (&test.root, test.leaf("kill"));
    let mut child = spawn_in(root, &leaf, "(sleep 1000 &); exec sleep 1000");
    let pids = wait_for_processes(root, &leaf, 2);
    let orphan = *pids
        .iter()
        .find(|p| **p != Pid::try_from(child.id()).expect("pid"))
        .expect("orphan");

    // Without cgroup.kill (kernels before 5.14): freeze, SIGKILL, thaw.
    cgroups2::kill_all_with(root, &test.cgroup, TIMEOUT, cgroups2::KillMethod::Freezer)
        .expect("kill all");
    assert!(cgroups2::processes_recursive(root, &test.cgroup)
        .expect("procs")
        .is_empty());
    assert!(killed_by_sigkill(&mut child));
    let deadline = Instant::now() + TIMEOUT;
    while !is_gone(orphan) {
        assert!(
            Instant::now() < deadline,
            "orphan {orphan} survived kill_all"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!cgroups2::events(root, &leaf).expect("events").populated);
}

#[test]
#[ignore = "needs a cgroup v2 host; run by scripts/cgroups-v2-vm-test.sh"]
fn pids_max_stops_forks() {
    let test = TestCgroup::new();
    let (root, leaf) = (&test.root, test.leaf("pids"));
    pids::set_max(root, &leaf, Some(4)).expect("pids.max");
    // dash gives up at the first fork that fails; the sleeps it started stay.
    let mut child = spawn_in(
        root,
        &leaf,
        "for i in 1 2 3 4 5 6 7 8; do sleep 1000 & done; exec sleep 1000",
    );
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let events = cgroups2::stat(root, &leaf, "pids.events").expect("pids.events");
        if events.get("max").copied().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pids.max never refused a fork: {events:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(pids::current(root, &leaf).expect("pids.current") <= 4);
    cgroups2::destroy(root, &leaf, TIMEOUT).expect("destroy");
    child.wait().expect("wait");
}

// ---------------------------------------------------------------------------
// The Mesos containerizer on a v2 hierarchy: the linux launcher and the
// cgroups isolators, end to end (the `mesos-containerizer` helper comes
// from `$MESOS_TEST_LAUNCHER_DIR`, else from beside the test binary).
// ---------------------------------------------------------------------------

mod containerizer {
    use std::path::PathBuf;
    use std::time::Duration;

    use mesos_agent::containerizer::{Containerizer, ContainerizerOptions};
    use mesos_agent::linux::cgroups2;
    use mesos_proto::mesos::slave::ContainerConfig;
    use mesos_proto::mesos::{task_status, CommandInfo};
    use mesos_proto::resources::Resources;

    fn launcher_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("MESOS_TEST_LAUNCHER_DIR") {
            return PathBuf::from(dir);
        }
        let exe = std::env::current_exe().expect("own path");
        exe.parent()
            .and_then(|deps| deps.parent())
            .expect("target dir")
            .to_path_buf()
    }

    fn options(root: &str, isolation: &str) -> ContainerizerOptions {
        ContainerizerOptions {
            launcher: "linux".into(),
            isolation: isolation.into(),
            cgroups_root: root.into(),
            cgroups_enable_cfs: true,
            ..Default::default()
        }
    }

    fn config(sandbox: &std::path::Path, command: &str, resources: &str) -> ContainerConfig {
        ContainerConfig {
            command_info: CommandInfo {
                value: Some(command.into()),
                ..Default::default()
            },
            resources: Resources::parse(resources, "*")
                .expect("resources")
                .to_vec(),
            directory: sandbox.display().to_string(),
            ..Default::default()
        }
    }

    /// Removes the test's cgroups root, also on failure.
    struct Root(String);

    impl Drop for Root {
        fn drop(&mut self) {
            let _ = cgroups2::destroy(&super::root(), &self.0, Duration::from_secs(10));
        }
    }

    #[actix_rt::test]
    #[ignore = "needs a cgroup v2 host; run by scripts/cgroups-v2-vm-test.sh"]
    async fn a_container_is_limited_reported_and_destroyed_on_v2() {
        let root = Root(format!("mesos_test_{}", uuid::Uuid::new_v4().simple()));
        let sandbox = tempfile::tempdir().expect("sandbox");
        let containerizer = mesos_agent::containerizer::create(
            &options(
                &root.0,
                "cgroups/cpu,cgroups/mem,cgroups/pids,cgroups/blkio",
            ),
            launcher_dir(),
        )
        .expect("containerizer");
        // The grandchild leaves the session: only the cgroup still has it.
        let launch = containerizer.launch(
            "c1".into(),
            config(
                sandbox.path(),
                "(setsid sleep 1000 &); exec sleep 1000",
                "cpus:0.5;mem:64",
            ),
        );
        let wait = containerizer.wait("c1".into());
        launch.await.expect("launched");
        let cgroup = format!("{}/c1", root.0);
        let v2 = super::root();
        let read = |file: &str| {
            cgroups2::read(&v2, &cgroup, file)
                .expect("control file")
                .trim()
                .to_string()
        };
        assert_eq!(read("cpu.weight"), "50");
        assert_eq!(read("cpu.max"), "50000 100000");
        assert_eq!(read("memory.max"), (64 * 1024 * 1024).to_string());
        // The processes are in its leaf (upstream's v2 layout).
        let leaf = format!("{cgroup}/{}", cgroups2::LEAF);
        for _ in 0..100 {
            if cgroups2::processes(&v2, &leaf)
                .map(|p| p.len())
                .unwrap_or(0)
                == 2
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let usage = containerizer.usage("c1".into()).await.expect("usage");
        assert_eq!(usage.processes, Some(2), "{usage:?}");
        assert!(usage.mem_total_bytes.is_some(), "{usage:?}");
        assert!(usage.cpus_user_time_secs.is_some(), "{usage:?}");
        // `io.stat` (cgroups/blkio on v2): present, perhaps without devices.
        assert!(usage.blkio_statistics.is_some(), "{usage:?}");
        assert!(containerizer.destroy("c1".into()).await);
        wait.await.expect("terminated");
        assert!(!cgroups2::exists(&v2, &cgroup), "the cgroup is removed");
    }

    #[actix_rt::test]
    #[ignore = "needs a cgroup v2 host; run by scripts/cgroups-v2-vm-test.sh"]
    async fn a_container_over_its_memory_is_killed_with_the_upstream_reason_on_v2() {
        let root = Root(format!("mesos_test_{}", uuid::Uuid::new_v4().simple()));
        let sandbox = tempfile::tempdir().expect("sandbox");
        let containerizer =
            mesos_agent::containerizer::create(&options(&root.0, "cgroups/mem"), launcher_dir())
                .expect("containerizer");
        let launch = containerizer.launch(
            "oom".into(),
            config(sandbox.path(), "exec tail /dev/zero", "cpus:0.5;mem:32"),
        );
        let wait = containerizer.wait("oom".into());
        launch.await.expect("launched");
        let termination = tokio::time::timeout(Duration::from_secs(120), wait)
            .await
            .expect("killed in time")
            .expect("terminated");
        assert_eq!(
            termination.reason,
            Some(task_status::Reason::ContainerLimitationMemory as i32),
            "{termination:?}"
        );
        let message = termination.message.unwrap_or_default();
        assert!(
            message.starts_with("Memory limit exceeded: Requested: 32MB Maximum Used: "),
            "{message}"
        );
    }

    #[actix_rt::test]
    #[ignore = "needs a cgroup v2 host; run by scripts/cgroups-v2-vm-test.sh"]
    async fn cgroups_devices_allows_only_the_whitelist_on_v2() {
        let root = Root(format!("mesos_test_{}", uuid::Uuid::new_v4().simple()));
        let sandbox = tempfile::tempdir().expect("sandbox");
        let containerizer = mesos_agent::containerizer::create(
            &options(&root.0, "cgroups/devices"),
            launcher_dir(),
        )
        .expect("containerizer");
        // /dev/zero is on the default whitelist, /dev/kmsg (1:11) is not.
        let launch = containerizer.launch(
            "devices".into(),
            config(
                sandbox.path(),
                "head -c1 /dev/zero > /dev/null && echo zero-read; \
                 head -c1 /dev/kmsg > /dev/null 2>&1 && echo kmsg-read; echo done",
                "cpus:0.5;mem:32",
            ),
        );
        let wait = containerizer.wait("devices".into());
        launch.await.expect("launched");
        let termination = tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .expect("ended in time")
            .expect("terminated");
        assert_eq!(termination.status, Some(0), "{termination:?}");
        let stdout = std::fs::read_to_string(sandbox.path().join("stdout")).expect("stdout");
        assert_eq!(stdout, "zero-read\ndone\n");
        // The host, outside the cgroup, still reads /dev/kmsg.
        assert!(std::fs::File::open("/dev/kmsg").is_ok());
    }

    /// Upstream 1.11's nested cgroups on v2 (ours: upstream's v2 isolator
    /// has no nesting): a nested container with `share_cgroups: false` gets
    /// a cgroup of its own below its parent's, with the controllers
    /// enabled above it (the parent's processes are in its leaf), its own
    /// `cpu.max` and `memory.max`, and its own OOM, which kills it alone;
    /// a sharing one runs in its parent's subtree without controllers.
    #[actix_rt::test]
    #[ignore = "needs a cgroup v2 host; run by scripts/cgroups-v2-vm-test.sh"]
    async fn nested_containers_get_cgroups_of_their_own_on_v2() {
        use mesos_proto::mesos::{value::Scalar, ContainerInfo, LinuxInfo};
        let root = Root(format!("mesos_test_{}", uuid::Uuid::new_v4().simple()));
        let sandbox = tempfile::tempdir().expect("sandbox");
        let containerizer = mesos_agent::containerizer::create(
            &options(&root.0, "cgroups/cpu,cgroups/mem"),
            launcher_dir(),
        )
        .expect("containerizer");
        let mut parent = config(sandbox.path(), "exec sleep 1000", "cpus:0.3;mem:160");
        parent.limits = [("cpus", 0.8), ("mem", 192.0)]
            .map(|(name, value)| (name.to_string(), Scalar { value }))
            .into();
        containerizer
            .launch("e".into(), parent)
            .await
            .expect("launched");
        let nested = |name: &str, command: &str, resources: &str, share_cgroups: bool| {
            let dir = sandbox.path().join("containers").join(name);
            std::fs::create_dir_all(&dir).expect("sandbox");
            let mut config = config(&dir, command, resources);
            config.container_info = Some(ContainerInfo {
                linux_info: Some(LinuxInfo {
                    share_cgroups: Some(share_cgroups),
                    ..Default::default()
                }),
                ..Default::default()
            });
            if share_cgroups {
                config.resources.clear();
            }
            config
        };
        let mut own = nested("own", "exec sleep 1001", "cpus:0.1;mem:32", false);
        own.limits = [("cpus", 0.5), ("mem", 64.0)]
            .map(|(name, value)| (name.to_string(), Scalar { value }))
            .into();
        containerizer
            .launch("e.own".into(), own)
            .await
            .expect("launched");
        containerizer
            .launch(
                "e.shared".into(),
                nested("shared", "exec sleep 1002", "", true),
            )
            .await
            .expect("launched");
        let v2 = super::root();
        let read = |cgroup: &str, file: &str| {
            cgroups2::read(&v2, &format!("{}/{cgroup}", root.0), file)
                .unwrap_or_else(|e| panic!("{cgroup}/{file}: {e}"))
                .trim()
                .to_string()
        };
        assert_eq!(read("e/mesos/own", "cpu.max"), "50000 100000");
        assert_eq!(read("e/mesos/own", "memory.max"), (64u64 << 20).to_string());
        assert_eq!(read("e/mesos/own", "memory.low"), (32u64 << 20).to_string());
        assert_eq!(read("e", "memory.max"), (192u64 << 20).to_string());
        assert!(!read("e/leaf", "cgroup.procs").is_empty());
        assert!(read("e", "cgroup.procs").is_empty());
        assert!(!read("e/mesos/own", "cgroup.procs").is_empty());
        assert!(!read("e/mesos/shared", "cgroup.procs").is_empty());
        assert_eq!(read("e/mesos/shared", "cgroup.subtree_control"), "");
        let usage = containerizer.usage("e.own".into()).await.expect("usage");
        assert!(usage.mem_total_bytes.is_some(), "{usage:?}");
        assert_eq!(usage.mem_limit_bytes, Some(64 << 20), "{usage:?}");

        // Its own OOM kills it alone.
        let launch = containerizer.launch(
            "e.hog".into(),
            nested("hog", "exec tail /dev/zero", "cpus:0.1;mem:32", false),
        );
        let wait = containerizer.wait("e.hog".into());
        launch.await.expect("launched");
        let termination = tokio::time::timeout(Duration::from_secs(120), wait)
            .await
            .expect("killed in time")
            .expect("terminated");
        assert_eq!(
            termination.reason,
            Some(task_status::Reason::ContainerLimitationMemory as i32),
            "{termination:?}"
        );
        // Nothing reaches the parent's watch (an absence: a bounded wait).
        tokio::time::sleep(Duration::from_millis(500)).await;
        let running = containerizer.containers().await;
        for id in ["e", "e.own", "e.shared"] {
            assert!(running.contains(id), "{id}: {running:?}");
        }
        assert!(containerizer.destroy("e.own".into()).await);
        assert!(!cgroups2::exists(&v2, &format!("{}/e/mesos/own", root.0)));
        assert!(containerizer.destroy("e".into()).await);
        assert!(!cgroups2::exists(&v2, &format!("{}/e", root.0)));
    }
}
