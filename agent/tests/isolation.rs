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
        cgroups_root: "mesos_test_isolation".into(),
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
    config.containerizer = options;
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
