//! Isolation through the whole agent, as root: command tasks from a
//! framework on the linux launcher with cgroups and namespaces isolators
//! (upstream `cgroups_isolator_tests`, `memory_isolator_tests`,
//! `posix_rlimits_isolator_tests`, `ns_tests` scenarios), their updates
//! as the scheduler sees them.
//!
//! Upstream test → ours:
//!
//! - `MemoryIsolatorTest` / `CgroupsIsolatorTest` OOM of a command task →
//!   `a_task_over_its_memory_fails_with_the_upstream_reason`
//! - `PosixRLimitsIsolatorTest.TaskExceedingLimit` →
//!   `a_task_past_its_cpu_rlimit_is_killed_and_fails`
//! - `PosixRLimitsIsolatorTest.InvalidLimits`, `BothSoftAndHardLimitSet` →
//!   `invalid_rlimits_fail_the_task_before_it_runs`
//! - `PosixRLimitsIsolatorTest.UnsetLimits` with `namespaces/pid` →
//!   `a_task_sees_its_rlimits_and_its_own_pid_namespace`
//! - `TaskValidationTest` of resource limits (through an agent that
//!   advertises `TASK_RESOURCE_LIMITS`) →
//!   `invalid_limits_are_refused_by_the_master_with_task_error`
//! - `CgroupsIsolatorTest.ROOT_CGROUPS_CFS_CommandTaskNoLimits` →
//!   `without_limits_a_command_task_is_capped_at_its_request_with_cfs`
//! - `CgroupsIsolatorTest.ROOT_CGROUPS_CFS_CommandTaskLimits` →
//!   `a_command_tasks_limits_set_its_quota_hard_limit_and_oom_score`
//! - `CgroupsIsolatorTest.ROOT_CGROUPS_CFS_CommandTaskInfiniteLimits` →
//!   `infinite_limits_leave_a_command_task_unlimited`
//! - `CgroupsIsolatorTest.ROOT_CGROUPS_CFS_TaskGroupLimits` (tasks with `share_cgroups: false`,
//!   the executor's sums, its growth and shrink) →
//!   `task_groups_tasks_get_cgroups_of_their_own_with_their_limits` (also each task's usage
//!   in `GET_CONTAINERS` with `show_nested`)
//! - a task with cgroups of its own over its memory (upstream's memory limitation of a nested
//!   container) → `a_task_over_its_own_memory_limit_is_killed_alone`. Through a master both
//!   tasks have `share_cgroups: false` (upstream's master wants one value per executor); a
//!   sharing task beside one with cgroups of its own is in `containerizer.rs`.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use mesos_agent::containerizer::ContainerizerOptions;
use mesos_proto::mesos::r_limit_info::{r_limit::Type, RLimit};
use mesos_proto::mesos::{
    container_info, task_status, CommandInfo, ContainerInfo, FrameworkInfo, RLimitInfo, TaskId,
    TaskInfo, TaskState, TaskStatus,
};
use mesos_proto::resources::Resources;

use support::*;

/// Root and the executor binaries: under `CI=true` their absence fails
/// the test; elsewhere the test says why and passes without running.
fn require(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let built = bin_dir().join("mesos-executor").exists();
    if root && built {
        return true;
    }
    let why = format!("{test} needs root and `cargo build --workspace --bins`");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    println!("SKIPPED: {why}");
    false
}

/// Runs `task` on an agent with `isolation` (linux launcher) and returns
/// every status update of it, the terminal one last.
async fn run(isolation: &str, task: TaskInfo) -> Vec<TaskStatus> {
    let options = ContainerizerOptions {
        launcher: "linux".into(),
        isolation: isolation.into(),
        runtime_dir: support::unique_runtime_dir(),
        ..Default::default()
    };
    run_with(options, task).await
}

/// Runs `task` on an agent whose containerizer is `options`.
async fn run_with(options: ContainerizerOptions, task: TaskInfo) -> Vec<TaskStatus> {
    run_as(options, "root", task).await
}

/// Runs `task` for a framework of `user`.
async fn run_as(options: ContainerizerOptions, user: &str, task: TaskInfo) -> Vec<TaskStatus> {
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let mut config = agent_config(&agent_runtime, master.upid(), work_dir.path(), bin_dir());
    // A cgroups root of the agent's own: at its start it destroys the
    // containers it finds under its root, which another test's agent
    // running beside it would otherwise share.
    config.containerizer = ContainerizerOptions {
        cgroups_root: config.containerizer.cgroups_root.clone(),
        ..options
    };
    let _agent = mesos_agent::spawn(&agent_runtime, config).unwrap();
    let info = FrameworkInfo {
        user: user.into(),
        name: "isolation-test".into(),
        ..Default::default()
    };
    let mut framework =
        TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-isolation", info).await;
    framework.launch(vec![task]);
    framework.updates_until_terminal().await
}

fn task(command: &str, resources: &str, container: Option<ContainerInfo>) -> TaskInfo {
    TaskInfo {
        name: "isolated".into(),
        task_id: TaskId {
            value: "isolated-1".into(),
        },
        resources: Resources::parse(resources, "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        container,
        ..Default::default()
    }
}

#[actix_rt::test]
async fn a_task_over_its_memory_fails_with_the_upstream_reason() {
    if !require("a_task_over_its_memory_fails_with_the_upstream_reason") {
        return;
    }
    let statuses = run(
        "cgroups/cpu,cgroups/mem",
        task("exec tail /dev/zero", "cpus:0.5;mem:32", None),
    )
    .await;
    let last = statuses.last().unwrap();
    assert_eq!(last.state(), TaskState::TaskFailed, "{statuses:?}");
    assert_eq!(
        last.reason,
        Some(task_status::Reason::ContainerLimitationMemory as i32),
        "{statuses:?}"
    );
    // The command executor's 32 MB and the task's.
    let message = last.message.clone().unwrap();
    assert!(
        message.starts_with("Memory limit exceeded: Requested: 64MB Maximum Used: "),
        "{message}"
    );
}

#[actix_rt::test]
async fn a_task_sees_its_rlimits_and_its_own_pid_namespace() {
    if !require("a_task_sees_its_rlimits_and_its_own_pid_namespace") {
        return;
    }
    let container = ContainerInfo {
        r#type: container_info::Type::Mesos as i32,
        rlimit_info: Some(RLimitInfo {
            rlimits: vec![RLimit {
                r#type: Some(Type::RlmtNofile as i32),
                soft: Some(321),
                hard: Some(321),
            }],
        }),
        ..Default::default()
    };
    // The command executor is pid 1 of the namespace, its task's shell a
    // child of it; the task exits 0 only if both hold.
    let statuses = run(
        "posix/rlimits,namespaces/pid",
        task(
            r#"test "$(ulimit -n)" = 321 && test "$(cat /proc/1/comm)" = mesos-executor"#,
            "cpus:0.5;mem:64",
            Some(container),
        ),
    )
    .await;
    let last = statuses.last().unwrap();
    assert_eq!(last.state(), TaskState::TaskFinished, "{statuses:?}");
}

fn with_rlimits(limits: Vec<RLimit>) -> Option<ContainerInfo> {
    Some(ContainerInfo {
        r#type: container_info::Type::Mesos as i32,
        rlimit_info: Some(RLimitInfo { rlimits: limits }),
        ..Default::default()
    })
}

/// Upstream `PosixRLimitsIsolatorTest.TaskExceedingLimit`: a task that
/// burns CPU past its `RLMT_CPU` of one second is killed by the kernel
/// (SIGXCPU at the soft limit, SIGKILL at the hard one) and fails.
#[actix_rt::test]
async fn a_task_past_its_cpu_rlimit_is_killed_and_fails() {
    if !require("a_task_past_its_cpu_rlimit_is_killed_and_fails") {
        return;
    }
    let cpu = RLimit {
        r#type: Some(Type::RlmtCpu as i32),
        soft: Some(1),
        hard: Some(1),
    };
    let statuses = run(
        "posix/rlimits",
        task(
            "while true; do true; done",
            "cpus:0.5;mem:64",
            with_rlimits(vec![cpu]),
        ),
    )
    .await;
    let states: Vec<TaskState> = statuses.iter().map(TaskStatus::state).collect();
    assert_eq!(
        states,
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFailed
        ],
        "{statuses:?}"
    );
}

/// Upstream `PosixRLimitsIsolatorTest.InvalidLimits` and
/// `BothSoftAndHardLimitSet`: a soft limit above its hard one, or only
/// one of them, fails the task before it runs. Upstream's launch helper
/// exits (`REASON_EXECUTOR_TERMINATED`); ours refuses the launch
/// (`REASON_CONTAINER_LAUNCH_FAILED`, docs/compatibility.md).
#[actix_rt::test]
async fn invalid_rlimits_fail_the_task_before_it_runs() {
    if !require("invalid_rlimits_fail_the_task_before_it_runs") {
        return;
    }
    for (soft, hard) in [(Some(100), Some(1)), (Some(1), None)] {
        let limit = RLimit {
            r#type: Some(Type::RlmtCpu as i32),
            soft,
            hard,
        };
        let statuses = run(
            "posix/rlimits",
            task("true", "cpus:0.5;mem:64", with_rlimits(vec![limit])),
        )
        .await;
        assert_eq!(statuses.len(), 1, "{statuses:?}");
        let status = &statuses[0];
        assert_eq!(status.state(), TaskState::TaskFailed, "{status:?}");
        assert_eq!(
            status.reason(),
            task_status::Reason::ContainerLaunchFailed,
            "{status:?}"
        );
        assert!(
            status
                .message
                .as_deref()
                .is_some_and(|m| m.contains("invalid rlimit RLMT_CPU")),
            "{status:?}"
        );
    }
}

#[actix_rt::test]
async fn executors_inherit_the_agents_environment_or_get_the_flags() {
    if !bin_dir().join("mesos-executor").exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "build the executor"
        );
        return;
    }
    // Cargo runs the tests with CARGO_MANIFEST_DIR set: the agent's
    // environment, which executors inherit by default.
    let inherited = run_with(
        ContainerizerOptions::default(),
        task(r#"test -n "$CARGO_MANIFEST_DIR""#, "cpus:0.5;mem:64", None),
    )
    .await;
    assert_eq!(
        inherited.last().unwrap().state(),
        TaskState::TaskFinished,
        "{inherited:?}"
    );
    let options = ContainerizerOptions {
        executor_environment_variables: Some(vec![
            ("FROM_FLAG".into(), "yes".into()),
            ("PATH".into(), "/usr/bin:/bin".into()),
        ]),
        runtime_dir: support::unique_runtime_dir(),
        ..Default::default()
    };
    let given = run_with(
        options,
        task(
            r#"test "$FROM_FLAG" = yes && test -z "$CARGO_MANIFEST_DIR" && test -n "$MESOS_SANDBOX""#,
            "cpus:0.5;mem:64",
            None,
        ),
    )
    .await;
    assert_eq!(
        given.last().unwrap().state(),
        TaskState::TaskFinished,
        "{given:?}"
    );
}

#[actix_rt::test]
async fn with_switch_user_the_task_runs_as_the_frameworks_user() {
    if !require("with_switch_user_the_task_runs_as_the_frameworks_user") {
        return;
    }
    let options = ContainerizerOptions {
        switch_user: true,
        runtime_dir: support::unique_runtime_dir(),
        ..Default::default()
    };
    let statuses = run_as(
        options,
        "nobody",
        task(
            r#"test "$(id -un)" = nobody && touch "$MESOS_SANDBOX/mine""#,
            "cpus:0.5;mem:64",
            None,
        ),
    )
    .await;
    let last = statuses.last().unwrap();
    assert_eq!(last.state(), TaskState::TaskFinished, "{statuses:?}");
}

/// A running command task (with or without resource limits), on an agent
/// with `cgroups/cpu,cgroups/mem` and the cgroups root `root`, and the agent's
/// view of it: its container's cgroup and its executor's pid. Killed (and
/// its cgroups gone with its container) by [`LimitedTask::finish`].
struct LimitedTask {
    framework: TestFramework,
    _master: (
        libprocess::Runtime,
        libprocess::PID<mesos_master::master::Master>,
    ),
    _agent: (libprocess::Runtime, tempfile::TempDir),
    hierarchies: mesos_agent::linux::cgroups::Hierarchies,
    root: String,
    cgroup: String,
    executor_pid: u32,
}

impl LimitedTask {
    async fn launch(
        root: &str,
        agent_resources: &str,
        enable_cfs: bool,
        task: TaskInfo,
    ) -> LimitedTask {
        let Ok(mesos_agent::linux::Hierarchy::V1(hierarchies)) =
            mesos_agent::linux::Hierarchy::detect(std::path::Path::new("/proc"))
        else {
            panic!("cgroups v1 hierarchies, as checked");
        };
        let master_runtime = runtime();
        let master = start_master(&master_runtime);
        let agent_runtime = runtime();
        let work_dir = tempfile::tempdir().unwrap();
        let mut config = agent_config(&agent_runtime, master.upid(), work_dir.path(), bin_dir());
        config.info.resources = Resources::parse(agent_resources, "*").unwrap().to_vec();
        config.containerizer = ContainerizerOptions {
            launcher: "linux".into(),
            isolation: "cgroups/cpu,cgroups/mem".into(),
            cgroups_root: root.into(),
            cgroups_enable_cfs: enable_cfs,
            runtime_dir: support::unique_runtime_dir(),
            ..Default::default()
        };
        let _agent = mesos_agent::spawn(&agent_runtime, config).unwrap();
        let info = FrameworkInfo {
            user: "root".into(),
            name: "limits-test".into(),
            ..Default::default()
        };
        let mut framework =
            TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-limits", info)
                .await;
        framework.launch(vec![task]);
        let running = loop {
            let status = framework.next_status().await;
            match status.state() {
                TaskState::TaskStaging | TaskState::TaskStarting => continue,
                TaskState::TaskRunning => break status,
                _ => panic!("the task did not run: {status:?}"),
            }
        };
        let container = running.container_status.unwrap();
        LimitedTask {
            framework,
            _master: (master_runtime, master),
            _agent: (agent_runtime, work_dir),
            hierarchies,
            root: root.into(),
            cgroup: format!("{root}/{}", container.container_id.unwrap().value),
            executor_pid: container.executor_pid.unwrap(),
        }
    }

    /// A control file of the container's cgroup in `controller`'s
    /// hierarchy, trimmed.
    fn read(&self, controller: &str, control: &str) -> String {
        let hierarchy = self.hierarchies.get(controller).unwrap();
        let path = hierarchy.join(&self.cgroup).join(control);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .to_owned()
    }

    /// Kills the task, waits for the agent to say so and for its container
    /// to be destroyed with its cgroups (10 s at most: the agent tells the
    /// scheduler before the executor exits), then removes what is left of
    /// the cgroups root (empty cgroups, the processes being gone).
    async fn finish(mut self) {
        self.framework.kill(TaskId {
            value: "limited-1".into(),
        });
        let statuses = self.framework.updates_until_terminal().await;
        assert_eq!(
            statuses.last().unwrap().state(),
            TaskState::TaskKilled,
            "{statuses:?}"
        );
        let controllers = ["cpu", "cpuacct", "memory", "freezer"];
        let dirs = |cgroup: &str| {
            controllers
                .iter()
                .filter_map(|c| self.hierarchies.get(c))
                .map(|h| h.join(cgroup))
                .collect::<Vec<_>>()
        };
        for _ in 0..500 {
            if dirs(&self.cgroup).iter().all(|d| !d.exists()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for dir in dirs(&self.cgroup).into_iter().chain(dirs(&self.root)) {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn limited_task(resources: &str, limits: &[(&str, f64)]) -> TaskInfo {
    let mut task = task("sleep 1000", resources, None);
    task.task_id.value = "limited-1".into();
    task.limits = limits
        .iter()
        .map(|(name, value)| {
            let scalar = mesos_proto::mesos::value::Scalar { value: *value };
            (name.to_string(), scalar)
        })
        .collect();
    task
}

#[actix_rt::test]
async fn a_command_tasks_limits_set_its_quota_hard_limit_and_oom_score() {
    let test = "a_command_tasks_limits_set_its_quota_hard_limit_and_oom_score";
    if !require(test) || !require_cgroups_v1(test, &["cpu", "cpuacct", "memory"]) {
        return;
    }
    // As upstream: the agent offers the host's memory; the task requests
    // half of it less the command executor's 32 MB, with half of it as
    // its limit, and 0.2 cpus with a limit of 0.5.
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_mb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        / 1024;
    let half = total_mb / 2;
    let running = LimitedTask::launch(
        "mesos_test_limits",
        &format!("cpus:2;mem:{total_mb};disk:1024"),
        false,
        limited_task(
            &format!("cpus:0.2;mem:{}", half - 32),
            &[("cpus", 0.5), ("mem", half as f64)],
        ),
    )
    .await;
    // The executor's 0.1 cpus and 32 MB count in requests and limits.
    let shares = running.read("cpu", "cpu.shares");
    let quota = running.read("cpu", "cpu.cfs_quota_us");
    let soft = running.read("memory", "memory.soft_limit_in_bytes");
    let hard = running.read("memory", "memory.limit_in_bytes");
    let oom_score_adj =
        std::fs::read_to_string(format!("/proc/{}/oom_score_adj", running.executor_pid)).unwrap();
    running.finish().await;
    assert_eq!(shares, "307");
    assert_eq!(quota, "60000");
    assert_eq!(soft, (half << 20).to_string());
    assert_eq!(hard, ((half + 32) << 20).to_string());
    // A request of half the memory: about 500.
    let oom_score_adj: i32 = oom_score_adj.trim().parse().unwrap();
    assert!((498..=502).contains(&oom_score_adj), "{oom_score_adj}");
}

#[actix_rt::test]
async fn infinite_limits_leave_a_command_task_unlimited() {
    let test = "infinite_limits_leave_a_command_task_unlimited";
    if !require(test) || !require_cgroups_v1(test, &["cpu", "cpuacct", "memory"]) {
        return;
    }
    let running = LimitedTask::launch(
        "mesos_test_infinite_limits",
        "cpus:2;mem:1024;disk:1024",
        false,
        limited_task(
            "cpus:1;mem:128",
            &[("cpus", f64::INFINITY), ("mem", f64::INFINITY)],
        ),
    )
    .await;
    let quota = running.read("cpu", "cpu.cfs_quota_us");
    let hard = running.read("memory", "memory.limit_in_bytes");
    // The root cgroup has no limit: the container's is the same.
    let memory = running.hierarchies.get("memory").unwrap().to_path_buf();
    let unlimited = std::fs::read_to_string(memory.join("memory.limit_in_bytes")).unwrap();
    running.finish().await;
    assert_eq!(quota, "-1");
    assert_eq!(hard, unlimited.trim());
}

#[actix_rt::test]
async fn without_limits_a_command_task_is_capped_at_its_request_with_cfs() {
    let test = "without_limits_a_command_task_is_capped_at_its_request_with_cfs";
    if !require(test) || !require_cgroups_v1(test, &["cpu", "cpuacct", "memory"]) {
        return;
    }
    let running = LimitedTask::launch(
        "mesos_test_no_limits",
        "cpus:2;mem:1024;disk:1024",
        true,
        limited_task("cpus:0.5;mem:32", &[]),
    )
    .await;
    // The task's and the command executor's 0.1 cpus and 32 MB.
    let shares = running.read("cpu", "cpu.shares");
    let quota = running.read("cpu", "cpu.cfs_quota_us");
    let soft = running.read("memory", "memory.soft_limit_in_bytes");
    let hard = running.read("memory", "memory.limit_in_bytes");
    let oom_score_adj =
        std::fs::read_to_string(format!("/proc/{}/oom_score_adj", running.executor_pid)).unwrap();
    running.finish().await;
    assert_eq!(shares, "614");
    assert_eq!(quota, "60000");
    assert_eq!(soft, (64u64 << 20).to_string());
    assert_eq!(hard, (64u64 << 20).to_string());
    assert_eq!(oom_score_adj.trim(), "0");
}

#[actix_rt::test]
async fn invalid_limits_are_refused_by_the_master_with_task_error() {
    if !require("invalid_limits_are_refused_by_the_master_with_task_error") {
        return;
    }
    for (limits, message) in [
        (
            &[("disk", 10.0)][..],
            "Only cpus and mem may be included in a task's resource limits",
        ),
        (
            &[("cpus", 0.1)][..],
            "The cpu limit must be greater than or equal to the cpu request",
        ),
        (
            &[("mem", 16.0)][..],
            "The memory limit must be greater than or equal to the memory request",
        ),
    ] {
        let statuses = run(
            "cgroups/cpu,cgroups/mem",
            limited_task("cpus:0.5;mem:32;disk:8", limits),
        )
        .await;
        let last = statuses.last().unwrap();
        assert_eq!(last.state(), TaskState::TaskError, "{statuses:?}");
        assert_eq!(
            last.reason,
            Some(task_status::Reason::TaskInvalid as i32),
            "{statuses:?}"
        );
        assert_eq!(last.message.as_deref(), Some(message), "{statuses:?}");
    }
}

/// Upstream `Slave::_statusUpdate` shrinks an executor's container when
/// one of its tasks ends: a default executor (0.1 cpus) runs `quick` and
/// `keeper` (0.5 cpus each); once `quick` finishes, `cgroups/cpu` lowers
/// the container's shares from 1.1 cpus to 0.6.
#[actix_rt::test]
async fn cpu_shares_drop_when_a_task_of_a_running_executor_ends() {
    let test = "cpu_shares_drop_when_a_task_of_a_running_executor_ends";
    if !require(test) || !require_cgroups_v1(test, &["cpu", "cpuacct", "memory"]) {
        return;
    }
    if !bin_dir().join("mesos-default-executor").exists() {
        let why = format!("{test} needs mesos-default-executor (`cargo build --workspace --bins`)");
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        println!("SKIPPED: {why}");
        return;
    }
    let Ok(mesos_agent::linux::Hierarchy::V1(hierarchies)) =
        mesos_agent::linux::Hierarchy::detect(std::path::Path::new("/proc"))
    else {
        panic!("cgroups v1 hierarchies, as checked");
    };
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let _leftovers = reaper(work_dir.path());
    let mut config = agent_config(&agent_runtime, master.upid(), work_dir.path(), bin_dir());
    config.containerizer = ContainerizerOptions {
        launcher: "linux".into(),
        isolation: "cgroups/cpu,cgroups/mem".into(),
        ..support::test_containerizer(work_dir.path())
    };
    let root = config.containerizer.cgroups_root.clone();
    let _agent = mesos_agent::spawn(&agent_runtime, config).unwrap();
    let info = FrameworkInfo {
        user: "root".into(),
        name: "shrink-test".into(),
        ..Default::default()
    };
    let mut framework =
        TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-shrink", info).await;
    // `quick` ends when the test says so, through a file.
    let go = work_dir.path().join("go");
    let mut quick = task(
        &format!("while [ ! -e {} ]; do sleep 0.1; done", go.display()),
        "cpus:0.5;mem:32",
        None,
    );
    quick.task_id.value = "quick".into();
    let mut keeper = task("sleep 1000", "cpus:0.5;mem:32", None);
    keeper.task_id.value = "keeper".into();
    framework.launch_group(
        "default",
        "cpus:0.1;mem:32;disk:32",
        mesos_proto::mesos::TaskGroupInfo {
            tasks: vec![quick, keeper],
        },
    );
    let mut running = Vec::new();
    while running.len() < 2 {
        let status = framework.next_status().await;
        assert!(!status.state().is_terminal(), "{status:?}");
        if status.state() == TaskState::TaskRunning {
            running.push(status);
        }
    }
    let nested = running[0]
        .container_status
        .as_ref()
        .and_then(|c| c.container_id.clone())
        .unwrap();
    let executor = nested.parent.as_deref().unwrap_or(&nested);
    let cgroup = format!("{root}/{}", executor.value);
    let cpu = hierarchies.get("cpu").unwrap().to_path_buf();
    let shares = || {
        std::fs::read_to_string(cpu.join(&cgroup).join("cpu.shares"))
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(shares(), "1126");

    std::fs::write(&go, "").unwrap();
    let status = framework.next_status().await;
    assert_eq!(
        (status.task_id.value.as_str(), status.state()),
        ("quick", TaskState::TaskFinished),
        "{status:?}"
    );
    // The agent sends the container its smaller resources when it sees
    // the update, without waiting for them to apply: wait for it.
    let mut after = shares();
    for _ in 0..500 {
        if after != "1126" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        after = shares();
    }

    framework.kill(TaskId {
        value: "keeper".into(),
    });
    let statuses = framework.updates_until_terminal().await;
    let controllers = ["cpu", "cpuacct", "memory", "freezer"];
    let dirs = |cgroup: &str| {
        controllers
            .iter()
            .filter_map(|c| hierarchies.get(c))
            .map(|h| h.join(cgroup))
            .collect::<Vec<_>>()
    };
    for _ in 0..500 {
        if dirs(&cgroup).iter().all(|d| !d.exists()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for dir in dirs(&cgroup).into_iter().chain(dirs(&root)) {
        let _ = std::fs::remove_dir(dir);
    }
    assert_eq!(after, "614");
    assert_eq!(
        statuses.last().unwrap().state(),
        TaskState::TaskKilled,
        "{statuses:?}"
    );
}

/// A task of a task group with `LinuxInfo.share_cgroups: false` (cgroups of
/// its own) and `limits`.
fn separate(id: &str, command: &str, resources: &str, limits: &[(&str, f64)]) -> TaskInfo {
    let container = ContainerInfo {
        r#type: container_info::Type::Mesos as i32,
        linux_info: Some(mesos_proto::mesos::LinuxInfo {
            share_cgroups: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut task = task(command, resources, Some(container));
    task.task_id.value = id.into();
    task.name = id.into();
    task.limits = limits
        .iter()
        .map(|(name, value)| {
            let scalar = mesos_proto::mesos::value::Scalar { value: *value };
            (name.to_string(), scalar)
        })
        .collect();
    task
}

/// An agent with `cgroups/cpu,cgroups/mem` and CFS (linux launcher) under
/// a master, and a framework subscribed to it: what the task group tests
/// drive.
struct GroupCluster {
    framework: TestFramework,
    hierarchies: mesos_agent::linux::cgroups::Hierarchies,
    /// `--cgroups_root`.
    root: String,
    _leftovers: KillCgroupTree,
    _work_dir: tempfile::TempDir,
    _agent: libprocess::PID<mesos_agent::slave::Slave>,
    _runtimes: (libprocess::Runtime, libprocess::Runtime),
}

impl GroupCluster {
    /// `None` (the test skips) without root, the cgroups or the default
    /// executor, as [`require`] says.
    async fn start(test: &str) -> Option<Self> {
        if !require(test) || !require_cgroups_v1(test, &["cpu", "cpuacct", "memory", "freezer"]) {
            return None;
        }
        if !bin_dir().join("mesos-default-executor").exists() {
            let why =
                format!("{test} needs mesos-default-executor (`cargo build --workspace --bins`)");
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            println!("SKIPPED: {why}");
            return None;
        }
        let Ok(mesos_agent::linux::Hierarchy::V1(hierarchies)) =
            mesos_agent::linux::Hierarchy::detect(std::path::Path::new("/proc"))
        else {
            panic!("cgroups v1 hierarchies, as checked");
        };
        let master_runtime = runtime();
        let master = start_master(&master_runtime);
        let agent_runtime = runtime();
        let work_dir = tempfile::tempdir().unwrap();
        let leftovers = reaper(work_dir.path());
        let mut config = agent_config(&agent_runtime, master.upid(), work_dir.path(), bin_dir());
        config.containerizer = ContainerizerOptions {
            launcher: "linux".into(),
            isolation: "cgroups/cpu,cgroups/mem".into(),
            cgroups_enable_cfs: true,
            ..support::test_containerizer(work_dir.path())
        };
        let root = config.containerizer.cgroups_root.clone();
        let agent = mesos_agent::spawn(&agent_runtime, config).unwrap();
        let info = FrameworkInfo {
            user: "root".into(),
            name: "task-group-limits".into(),
            ..Default::default()
        };
        let framework =
            TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-groups", info)
                .await;
        Some(Self {
            framework,
            hierarchies,
            root,
            _leftovers: leftovers,
            _work_dir: work_dir,
            _agent: agent,
            _runtimes: (master_runtime, agent_runtime),
        })
    }

    /// The next `count` TASK_RUNNING updates (TASK_STARTING ones skipped),
    /// by task id.
    async fn running(&mut self, count: usize) -> std::collections::BTreeMap<String, TaskStatus> {
        let mut running = std::collections::BTreeMap::new();
        while running.len() < count {
            let status = self.framework.next_status().await;
            assert!(!status.state().is_terminal(), "{status:?}");
            if status.state() == TaskState::TaskRunning {
                running.insert(status.task_id.value.clone(), status);
            }
        }
        running
    }

    /// Control file `file` of `cgroup` (below `--cgroups_root`) in the
    /// hierarchy of `controller`.
    fn read(&self, controller: &str, cgroup: &str, file: &str) -> String {
        let path = self
            .hierarchies
            .get(controller)
            .unwrap()
            .join(&self.root)
            .join(cgroup)
            .join(file);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .to_owned()
    }

    /// Waits until control file `file` of `cgroup` reads `expected` (the
    /// agent updates the executor's container without waiting for it).
    async fn eventually_reads(&self, controller: &str, cgroup: &str, file: &str, expected: &str) {
        for _ in 0..500 {
            if self.read(controller, cgroup, file) == expected {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(
            self.read(controller, cgroup, file),
            expected,
            "{cgroup}/{file}"
        );
    }
}

/// The executor's container and a task's cgroup, from the task's
/// TASK_RUNNING update: `(<executor>, <executor>/mesos/<task>)`.
fn cgroups_of(status: &TaskStatus) -> (String, String) {
    let nested = status
        .container_status
        .as_ref()
        .and_then(|c| c.container_id.clone())
        .unwrap();
    let executor = nested.parent.as_deref().unwrap().value.clone();
    let task = format!("{executor}/mesos/{}", nested.value);
    (executor, task)
}

const MB: u64 = 1 << 20;

/// Upstream `CgroupsIsolatorTest.ROOT_CGROUPS_CFS_TaskGroupLimits`: tasks
/// of task groups with `share_cgroups: false` get cpu and memory cgroups
/// of their own below the default executor's, with shares from their cpu
/// request, a CFS quota from their cpu limit (or request), and memory soft
/// and hard limits from their memory request and limit; the executor's
/// container has the sums (its own, each task's request or limit), grows
/// with a second task group and shrinks when a group's tasks are killed,
/// its hard memory limit only ever raised.
#[actix_rt::test]
async fn task_groups_tasks_get_cgroups_of_their_own_with_their_limits() {
    let test = "task_groups_tasks_get_cgroups_of_their_own_with_their_limits";
    let Some(mut cluster) = GroupCluster::start(test).await else {
        return;
    };
    let task1 = separate("task1", "sleep 1000", "cpus:0.1;mem:32;disk:32", &[]);
    let task2 = separate(
        "task2",
        "sleep 1000",
        "cpus:0.1;mem:32;disk:32",
        &[("cpus", 0.5), ("mem", 64.0)],
    );
    let executor_resources = "cpus:0.1;mem:32;disk:32";
    cluster.framework.launch_group(
        "default",
        executor_resources,
        mesos_proto::mesos::TaskGroupInfo {
            tasks: vec![task1, task2],
        },
    );
    let running = cluster.running(2).await;
    let (executor, cgroup1) = cgroups_of(&running["task1"]);
    let (executor2, cgroup2) = cgroups_of(&running["task2"]);
    assert_eq!(executor, executor2);

    let mb = |n: u64| (n * MB).to_string();
    let expect =
        |cluster: &GroupCluster, cgroup: &str, shares: &str, quota: &str, soft: u64, hard: u64| {
            assert_eq!(
                cluster.read("cpu", cgroup, "cpu.shares"),
                shares,
                "{cgroup}"
            );
            assert_eq!(
                cluster.read("cpu", cgroup, "cpu.cfs_quota_us"),
                quota,
                "{cgroup}"
            );
            assert_eq!(
                cluster.read("memory", cgroup, "memory.soft_limit_in_bytes"),
                mb(soft),
                "{cgroup}"
            );
            assert_eq!(
                cluster.read("memory", cgroup, "memory.limit_in_bytes"),
                mb(hard),
                "{cgroup}"
            );
        };
    // The executor: 0.1 + 0.1 + 0.1 cpus of shares, 0.1 + 0.1 + 0.5 of
    // quota; 32 + 32 + 32 MB soft, 32 + 32 + 64 MB hard.
    expect(&cluster, &executor, "307", "70000", 96, 128);
    // task1 has no limits: its requests are its limits.
    expect(&cluster, &cgroup1, "102", "10000", 32, 32);
    expect(&cluster, &cgroup2, "102", "50000", 32, 64);

    // GET_CONTAINERS with `show_nested`: each task's container has its own
    // usage, from its own cgroups, and limits.
    let agent = cluster._runtimes.1.address();
    let reply = support::sandbox::request(
        agent,
        "POST",
        "/api/v1",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ],
        br#"{"type":"GET_CONTAINERS","get_containers":{"show_nested":true}}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let containers = reply.json()["get_containers"]["containers"].clone();
    let entry = |task: &TaskStatus| {
        let value = task
            .container_status
            .as_ref()
            .and_then(|c| c.container_id.clone())
            .unwrap()
            .value;
        containers
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["container_id"]["value"] == value.as_str())
            .unwrap_or_else(|| panic!("{value} in {containers}"))
            .clone()
    };
    let task2_entry = entry(&running["task2"]);
    let statistics = &task2_entry["resource_statistics"];
    assert_eq!(statistics["mem_limit_bytes"], 64 * MB, "{task2_entry}");
    assert_eq!(statistics["cpus_limit"], 0.5, "{task2_entry}");
    assert!(statistics["mem_total_bytes"].is_u64(), "{task2_entry}");
    assert!(
        statistics["cpus_user_time_secs"].is_number(),
        "{task2_entry}"
    );
    assert_eq!(
        task2_entry["container_status"]["container_id"]["parent"]["value"],
        executor.as_str()
    );
    let task1_entry = entry(&running["task1"]);
    assert_eq!(
        task1_entry["resource_statistics"]["mem_limit_bytes"],
        32 * MB,
        "{task1_entry}"
    );

    // A second task group under the same executor.
    cluster.framework.revive_and_take_next_offer().await;
    let task3 = separate("task3", "sleep 1000", "cpus:0.1;mem:32;disk:32", &[]);
    cluster.framework.launch_group(
        "default",
        executor_resources,
        mesos_proto::mesos::TaskGroupInfo { tasks: vec![task3] },
    );
    let running = cluster.running(1).await;
    let (executor3, cgroup3) = cgroups_of(&running["task3"]);
    assert_eq!(executor, executor3);
    expect(&cluster, &cgroup3, "102", "10000", 32, 32);
    // The agent grows the executor's container without waiting for it:
    // the last control file each isolator writes is waited for.
    cluster
        .eventually_reads("cpu", &executor, "cpu.cfs_quota_us", "80000")
        .await;
    cluster
        .eventually_reads("memory", &executor, "memory.soft_limit_in_bytes", &mb(128))
        .await;
    expect(&cluster, &executor, "409", "80000", 128, 160);

    // Killing task1 kills its group (task2 too); the executor shrinks to
    // its own and task3's, except its hard memory limit.
    cluster.framework.kill(TaskId {
        value: "task1".into(),
    });
    let mut killed = std::collections::BTreeSet::new();
    while killed.len() < 2 {
        let status = cluster.framework.next_status().await;
        assert_eq!(status.state(), TaskState::TaskKilled, "{status:?}");
        killed.insert(status.task_id.value.clone());
    }
    assert_eq!(killed, ["task1", "task2"].map(String::from).into());
    cluster
        .eventually_reads("cpu", &executor, "cpu.cfs_quota_us", "20000")
        .await;
    cluster
        .eventually_reads("memory", &executor, "memory.soft_limit_in_bytes", &mb(64))
        .await;
    expect(&cluster, &executor, "204", "20000", 64, 160);
    // The killed tasks' cgroups are gone.
    for cgroup in [&cgroup1, &cgroup2] {
        let dir = cluster
            .hierarchies
            .get("memory")
            .unwrap()
            .join(&cluster.root)
            .join(cgroup);
        assert!(!dir.exists(), "{}", dir.display());
    }

    cluster.framework.kill(TaskId {
        value: "task3".into(),
    });
    let statuses = cluster.framework.updates_until_terminal().await;
    assert_eq!(statuses.last().unwrap().state(), TaskState::TaskKilled);
}

/// A task with cgroups of its own over its memory limit is killed alone
/// (upstream's memory limitation of a nested container): it fails with
/// `REASON_CONTAINER_LIMITATION_MEMORY` and "Memory limit exceeded", while
/// the task of another group under the same executor keeps running in its
/// own cgroup, and the executor's cgroup keeps its processes.
#[actix_rt::test]
async fn a_task_over_its_own_memory_limit_is_killed_alone() {
    let test = "a_task_over_its_own_memory_limit_is_killed_alone";
    let Some(mut cluster) = GroupCluster::start(test).await else {
        return;
    };
    let keeper = separate("keeper", "sleep 1000", "cpus:0.1;mem:32", &[("mem", 64.0)]);
    let executor_resources = "cpus:0.1;mem:32;disk:32";
    cluster.framework.launch_group(
        "default",
        executor_resources,
        mesos_proto::mesos::TaskGroupInfo {
            tasks: vec![keeper],
        },
    );
    let running = cluster.running(1).await;
    let (executor, keeper_cgroup) = cgroups_of(&running["keeper"]);

    // `tail` buffers /dev/zero, which has no newline, until it runs out.
    cluster.framework.revive_and_take_next_offer().await;
    let hog = separate("hog", "tail /dev/zero", "cpus:0.1;mem:32", &[]);
    cluster.framework.launch_group(
        "default",
        executor_resources,
        mesos_proto::mesos::TaskGroupInfo { tasks: vec![hog] },
    );
    let failed = loop {
        let status = cluster.framework.next_status().await;
        assert_eq!(status.task_id.value, "hog", "{status:?}");
        if status.state().is_terminal() {
            break status;
        }
    };
    assert_eq!(failed.state(), TaskState::TaskFailed, "{failed:?}");
    assert_eq!(
        failed.reason(),
        task_status::Reason::ContainerLimitationMemory,
        "{failed:?}"
    );
    let message = failed.message.clone().unwrap_or_default();
    assert!(message.contains("Memory limit exceeded"), "{message}");

    // The keeper runs on in its cgroup; the executor (its processes in
    // its own cgroup) too.
    let procs = |cgroup: &str| cluster.read("memory", cgroup, "cgroup.procs");
    assert!(!procs(&keeper_cgroup).is_empty());
    assert!(!procs(&executor).is_empty());
    assert_eq!(
        cluster.read("memory", &keeper_cgroup, "memory.limit_in_bytes"),
        (64 * MB).to_string()
    );
    cluster.framework.reconcile();
    let status = loop {
        let status = cluster.framework.next_status().await;
        if status.task_id.value == "keeper" {
            break status;
        }
    };
    assert_eq!(
        (status.task_id.value.as_str(), status.state()),
        ("keeper", TaskState::TaskRunning),
        "{status:?}"
    );

    cluster.framework.kill(TaskId {
        value: "keeper".into(),
    });
    let statuses = cluster.framework.updates_until_terminal().await;
    assert_eq!(statuses.last().unwrap().state(), TaskState::TaskKilled);
}
