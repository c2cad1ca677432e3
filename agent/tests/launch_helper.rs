//! What the launch helper does in place of code between fork and exec
//! (the launchers start it with `posix_spawn`): the container's init
//! leads its own session, gets the open-files limit the agent started
//! with, and inherits no fd but its stdio. A test binary of its own: it
//! raises the process's open-files limit, as `mesos-agent` does.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use mesos_agent::containerizer::Containerizer;
use mesos_proto::mesos::slave::ContainerConfig;
use mesos_proto::mesos::CommandInfo;
use mesos_proto::resources::Resources;

fn soft_open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we own.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0);
    limit.rlim_cur
}

#[actix_rt::test]
async fn a_container_leads_its_session_with_the_agents_first_open_files_limit_and_no_stray_fds() {
    // One below the hard limit, so there is something to raise.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we own.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0);
    if limit.rlim_max != libc::RLIM_INFINITY {
        limit.rlim_cur = limit.rlim_max - 1;
        // SAFETY: setrlimit reads the struct we pass.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    }
    let before = soft_open_files_limit();
    let (old, new) = mesos_agent::containerizer::mesos::launcher::raise_open_files_limit().unwrap();
    assert_eq!(old, before);
    assert_eq!(soft_open_files_limit(), new);
    assert_eq!(new, limit.rlim_max);

    // An fd the agent process holds without FD_CLOEXEC.
    let stray = std::fs::File::open("/dev/null").unwrap();
    let stray_fd = std::os::fd::AsRawFd::as_raw_fd(&stray);
    // SAFETY: F_SETFD on an fd we own.
    assert_eq!(unsafe { libc::fcntl(stray_fd, libc::F_SETFD, 0) }, 0);

    let options = mesos_agent::containerizer::ContainerizerOptions {
        launcher: "posix".into(),
        isolation: "posix/cpu".into(),
        runtime_dir: support::unique_runtime_dir(),
        ..Default::default()
    };
    let containerizer = mesos_agent::containerizer::create(&options, support::bin_dir()).unwrap();
    let sandbox = tempfile::tempdir().unwrap();
    let command = "ulimit -n; \
                   test \"$(cut -d' ' -f6 /proc/$$/stat)\" = $$ && echo leader; \
                   ls /proc/$$/fd | tr '\\n' ' '";
    let config = ContainerConfig {
        command_info: CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        },
        resources: Resources::parse("cpus:0.1;mem:32", "*").unwrap().to_vec(),
        directory: sandbox.path().display().to_string(),
        ..Default::default()
    };
    let launch = containerizer.launch("c1".into(), config);
    let wait = containerizer.wait("c1".into());
    launch.await.unwrap();
    let termination = wait.await.unwrap();
    let stdout = std::fs::read_to_string(sandbox.path().join("stdout")).unwrap();
    let stderr = std::fs::read_to_string(sandbox.path().join("stderr")).unwrap();
    assert_eq!(termination.status, Some(0), "{termination:?} {stderr}");
    let expected = if before == libc::RLIM_INFINITY {
        "unlimited".to_string()
    } else {
        before.to_string()
    };
    assert_eq!(stdout, format!("{expected}\nleader\n0 1 2 "), "{stderr}");
}
