//! The Mesos containerizer with real processes: the launch helper, the
//! posix launcher, `posix/rlimits`, `namespaces/pid`, usage, destroy
//! (upstream `posix_rlimits_isolator_tests`, `ns_tests`,
//! `containerizer_tests` scenarios that apply to these isolators).

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mesos_agent::containerizer::mesos::isolators::{self, IsolatorContext};
use mesos_agent::containerizer::mesos::launcher::posix::PosixLauncher;
use mesos_agent::containerizer::mesos::MesosContainerizer;
use mesos_agent::containerizer::Containerizer;
use mesos_proto::mesos::r_limit_info::{r_limit::Type, RLimit};
use mesos_proto::mesos::slave::ContainerConfig;
use mesos_proto::mesos::{container_info, task_status, CommandInfo, ContainerInfo, RLimitInfo};
use mesos_proto::resources::Resources;

fn containerizer(isolation: &str) -> MesosContainerizer {
    let context = IsolatorContext {
        proc_root: PathBuf::from("/proc"),
    };
    MesosContainerizer::start(
        Arc::new(PosixLauncher::new(PathBuf::from("/proc"))),
        isolators::create(isolation, &context).unwrap(),
        support::bin_dir(),
        PathBuf::from("/proc"),
    )
}

fn config(sandbox: &Path, command: &str, container: Option<ContainerInfo>) -> ContainerConfig {
    ContainerConfig {
        command_info: CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        },
        container_info: container,
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        directory: sandbox.display().to_string(),
        ..Default::default()
    }
}

fn rlimits(limits: Vec<RLimit>) -> Option<ContainerInfo> {
    Some(ContainerInfo {
        r#type: container_info::Type::Mesos as i32,
        rlimit_info: Some(RLimitInfo { rlimits: limits }),
        ..Default::default()
    })
}

fn limit(kind: Type, soft: Option<u64>, hard: Option<u64>) -> RLimit {
    RLimit {
        r#type: Some(kind as i32),
        soft,
        hard,
    }
}

/// Root is needed for namespaces: under `CI=true` its absence fails the
/// test; elsewhere the test says why and passes without running.
fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test} needs root (CI=true)"
    );
    eprintln!("{test}: skipped, needs root");
    false
}

#[actix_rt::test]
async fn rlimits_reach_the_command_and_unset_ones_are_unlimited() {
    let sandbox = tempfile::tempdir().unwrap();
    let containerizer = containerizer("posix/rlimits");
    let container = rlimits(vec![
        limit(Type::RlmtNofile, Some(123), Some(456)),
        limit(Type::RlmtCore, None, None),
    ]);
    let launch = containerizer.launch(
        "c1".into(),
        config(
            sandbox.path(),
            "ulimit -n; ulimit -Hn; ulimit -c",
            container,
        ),
    );
    let wait = containerizer.wait("c1".into());
    launch.await.unwrap();
    let termination = wait.await.unwrap();
    assert_eq!(termination.status, Some(0), "{termination:?}");
    let stdout = std::fs::read_to_string(sandbox.path().join("stdout")).unwrap();
    assert_eq!(stdout, "123\n456\nunlimited\n");
}

#[actix_rt::test]
async fn invalid_rlimits_fail_the_launch_with_a_reason() {
    let sandbox = tempfile::tempdir().unwrap();
    let containerizer = containerizer("posix/rlimits");
    let container = rlimits(vec![limit(Type::RlmtNofile, Some(20), Some(10))]);
    let launch = containerizer.launch("c1".into(), config(sandbox.path(), "true", container));
    let wait = containerizer.wait("c1".into());
    let error = launch.await.expect_err("soft above hard");
    assert!(
        error.to_string().contains("invalid rlimit RLMT_NOFILE"),
        "{error}"
    );
    let termination = wait.await.unwrap();
    assert_eq!(
        termination.reason,
        Some(task_status::Reason::ContainerLaunchFailed as i32)
    );
    assert!(termination
        .message
        .unwrap()
        .starts_with("Failed to launch container: failed to prepare isolator 'posix/rlimits'"));
    assert!(containerizer.containers().await.is_empty());
}

#[actix_rt::test]
async fn without_the_isolator_rlimits_are_not_applied() {
    let sandbox = tempfile::tempdir().unwrap();
    let containerizer = containerizer("posix/cpu");
    let container = rlimits(vec![limit(Type::RlmtNofile, Some(20), Some(10))]);
    let launch = containerizer.launch("c1".into(), config(sandbox.path(), "true", container));
    let wait = containerizer.wait("c1".into());
    launch.await.unwrap();
    assert_eq!(wait.await.unwrap().status, Some(0));
}

#[actix_rt::test]
async fn usage_reports_limits_and_the_processes_memory() {
    let sandbox = tempfile::tempdir().unwrap();
    let containerizer = containerizer("posix/cpu,posix/mem");
    let launch = containerizer.launch("c1".into(), config(sandbox.path(), "sleep 30", None));
    launch.await.unwrap();
    let usage = containerizer.usage("c1".into()).await.unwrap();
    assert_eq!(usage.cpus_limit, Some(0.5));
    assert_eq!(usage.mem_limit_bytes, Some(64 * 1024 * 1024));
    assert!(usage.mem_rss_bytes.unwrap() > 0, "{usage:?}");
    assert!(usage.cpus_user_time_secs.is_some());
    assert!(usage.timestamp > 0.0);
    let status = containerizer.status("c1".into()).await.unwrap();
    assert!(status.executor_pid.unwrap() > 1);

    let wait = containerizer.wait("c1".into());
    assert!(containerizer.destroy("c1".into()).await);
    let termination = wait.await.unwrap();
    let status = termination.status.unwrap();
    assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL);
    assert!(!containerizer.destroy("c1".into()).await, "gone");
    assert!(containerizer.usage("c1".into()).await.is_err());
}

#[actix_rt::test]
async fn a_pid_namespace_shows_the_container_only_its_own_processes() {
    if !require_root("a_pid_namespace_shows_the_container_only_its_own_processes") {
        return;
    }
    let sandbox = tempfile::tempdir().unwrap();
    let containerizer = containerizer("namespaces/pid");
    let launch = containerizer.launch(
        "c1".into(),
        config(
            sandbox.path(),
            "echo $$; ls /proc | grep -c '^[0-9]*$'",
            None,
        ),
    );
    let wait = containerizer.wait("c1".into());
    launch.await.unwrap();
    assert_eq!(wait.await.unwrap().status, Some(0));
    let stdout = std::fs::read_to_string(sandbox.path().join("stdout")).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "1", "the shell is pid 1: {stdout}");
    let count: usize = lines[1].parse().unwrap();
    assert!(count <= 4, "only sh, ls and grep are visible: {stdout}");
    // The host's /proc is untouched.
    assert!(Path::new("/proc/1/stat").exists());
    assert!(std::fs::read_dir("/proc").unwrap().count() > count);
}

#[actix_rt::test]
async fn destroy_in_a_pid_namespace_kills_double_forked_children() {
    if !require_root("destroy_in_a_pid_namespace_kills_double_forked_children") {
        return;
    }
    let sandbox = tempfile::tempdir().unwrap();
    let containerizer = containerizer("namespaces/pid");
    // The grandchild leaves the session and is re-parented: the posix
    // launcher alone cannot find it; the pid namespace takes it down.
    let launch = containerizer.launch(
        "c1".into(),
        config(
            sandbox.path(),
            "(setsid sleep 1000 & echo $! > inner.pid); echo started; sleep 1000",
            None,
        ),
    );
    launch.await.unwrap();
    let mut marker = String::new();
    for _ in 0..200 {
        marker = std::fs::read_to_string(sandbox.path().join("stdout")).unwrap_or_default();
        if marker.contains("started") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(marker.contains("started"));
    let host_sleepers = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("cmdline")).ok())
            .filter(|c| c == "sleep\x001000\x00")
            .count()
    };
    assert!(host_sleepers() >= 2);
    assert!(containerizer.destroy("c1".into()).await);
    let mut left = host_sleepers();
    for _ in 0..100 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        left = host_sleepers();
    }
    assert_eq!(left, 0, "every process of the container is gone");
}
