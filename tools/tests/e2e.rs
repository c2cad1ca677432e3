//! End to end with the real binaries on loopback: `mesos-local`, or
//! `mesos-master` with `mesos-agent`, run tasks submitted by
//! `mesos-execute` and by pymesos (a v1 HTTP scheduler nobody here wrote).

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

#[path = "../../agent/tests/support/registry.rs"]
mod registry;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The workspace's binaries (built by `cargo test --workspace`).
fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mesos-local"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Fails under `CI=true`, otherwise prints SKIPPED, when `path` is missing.
fn require(path: &std::path::Path, how: &str) -> bool {
    if path.exists() {
        return true;
    }
    let why = format!("{} is missing; {how}", path.display());
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{why}");
    }
    println!("SKIPPED: {why}");
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(port: u16, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            if stream.write_all(request.as_bytes()).is_ok() {
                let mut response = String::new();
                let _ = stream.read_to_string(&mut response);
                if response.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "nothing answered {path} on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn mesos_local(work_dir: &std::path::Path) -> (Daemon, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_mesos-local"))
        .args([
            "--ip=127.0.0.1",
            &format!("--port={port}"),
            &format!("--work_dir={}", work_dir.display()),
            "--resources=cpus:2;mem:1024;disk:1024;ports:[31000-32000]",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    wait_for(port, "/master/health");
    (daemon, port)
}

fn execute(port: u16, command: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
        .args([
            &format!("--master=127.0.0.1:{port}"),
            "--name=e2e",
            &format!("--command={command}"),
        ])
        .output()
        .unwrap()
}

#[test]
fn mesos_local_runs_a_task_submitted_by_mesos_execute() {
    if !require(
        &bin_dir().join("mesos-executor"),
        "run cargo test --workspace",
    ) {
        return;
    }
    let work_dir = tempfile::tempdir().unwrap();
    let (_local, port) = mesos_local(work_dir.path());

    let output = execute(port, "echo e2e-output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("Received status update TASK_RUNNING for task 'e2e'"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Received status update TASK_FINISHED for task 'e2e'"),
        "{stdout}"
    );
    assert!(
        stdout.contains("message: 'Command exited with status 0'"),
        "{stdout}"
    );

    let output = execute(port, "exit 7");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("TASK_FAILED"), "{stdout}");
    assert!(stdout.contains("Command exited with status 7"), "{stdout}");
}

/// `mesos-master` and `mesos-agent` as separate processes on loopback (the
/// agent is then its own HTTP delegate, so `/api/v1/executor` reaches it);
/// returns them and the master's port.
fn master_and_agent(work_dir: &std::path::Path) -> (Daemon, Daemon, u16) {
    master_and_agent_with(work_dir, &[])
}

/// [`master_and_agent`] with more agent flags.
fn master_and_agent_with(work_dir: &std::path::Path, extra: &[String]) -> (Daemon, Daemon, u16) {
    let master_port = free_port();
    let master = Daemon(
        Command::new(bin_dir().join("mesos-master"))
            .args([
                "--registry=in_memory",
                "--ip=127.0.0.1",
                &format!("--port={master_port}"),
                "--quiet",
            ])
            .spawn()
            .unwrap(),
    );
    wait_for(master_port, "/master/health");
    let agent_port = free_port();
    let agent = Daemon(
        Command::new(bin_dir().join("mesos-agent"))
            .args([
                &format!("--master=127.0.0.1:{master_port}"),
                "--ip=127.0.0.1",
                &format!("--port={agent_port}"),
                &format!("--work_dir={}", work_dir.display()),
                &format!("--runtime_dir={}", work_dir.join("runtime").display()),
                "--resources=cpus:2;mem:1024;disk:1024",
                "--registration_backoff_factor=10ms",
                // Its own cgroups root: a fresh agent destroys every
                // unknown container under its root as an orphan.
                &format!("--cgroups_root=mesos_test_e2e_{agent_port}"),
                "--quiet",
            ])
            .args(extra)
            .spawn()
            .unwrap(),
    );
    wait_for(agent_port, "/slave(1)/health");
    (master, agent, master_port)
}

#[test]
fn master_and_agent_binaries_run_a_task() {
    if !require(
        &bin_dir().join("mesos-executor"),
        "run cargo test --workspace",
    ) {
        return;
    }
    let work_dir = tempfile::tempdir().unwrap();
    let (_master, _agent, master_port) = master_and_agent(work_dir.path());
    let output = execute(master_port, "echo via-binaries");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("TASK_FINISHED"), "{stdout}");
}

#[test]
fn a_task_group_runs_in_nested_containers_of_the_default_executor() {
    if !require(
        &bin_dir().join("mesos-default-executor"),
        "run cargo test --workspace",
    ) {
        return;
    }
    let work_dir = tempfile::tempdir().unwrap();
    let (_master, _agent, master_port) = master_and_agent(work_dir.path());
    let resources = r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR","scalar":{"value":32}}]"#;
    let group = format!(
        r#"{{"tasks":[
            {{"name":"a","task_id":{{"value":"a"}},"slave_id":{{"value":""}},"resources":{resources},
              "command":{{"value":"echo from-a > $MESOS_SANDBOX/a.txt; sleep 0.3"}}}},
            {{"name":"b","task_id":{{"value":"b"}},"slave_id":{{"value":""}},"resources":{resources},
              "command":{{"value":"echo from-b"}}}}]}}"#
    );
    let output = Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
        .args([
            &format!("--master=127.0.0.1:{master_port}"),
            &format!("--task_group={group}"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for task in ["a", "b"] {
        for state in ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"] {
            assert!(
                stdout.contains(&format!("Received status update {state} for task '{task}'")),
                "{stdout}"
            );
        }
    }
    // Each task ran in its own nested container's sandbox, linked from
    // the executor's as tasks/<id>.
    let found = walk(work_dir.path())
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "a.txt"))
        .expect("task a's file");
    assert_eq!(std::fs::read_to_string(&found).unwrap(), "from-a\n");
    assert!(
        found.display().to_string().contains("/containers/"),
        "{}",
        found.display()
    );
}

/// Upstream `DefaultExecutorCheckTest`/`HealthCheckTest` through the real
/// binaries: in a task group, a COMMAND health check and a COMMAND check
/// run in nested containers of the task's (through the agent's
/// `LAUNCH_NESTED_CONTAINER_SESSION`); the task becomes healthy and its
/// check's exit code shows.
#[test]
fn a_task_group_task_is_health_checked_and_checked_in_nested_containers() {
    if !require(
        &bin_dir().join("mesos-default-executor"),
        "run cargo test --workspace",
    ) {
        return;
    }
    let work_dir = tempfile::tempdir().unwrap();
    let (_master, _agent, master_port) = master_and_agent(work_dir.path());
    let resources = r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR","scalar":{"value":32}}]"#;
    let group = format!(
        r#"{{"tasks":[
            {{"name":"a","task_id":{{"value":"a"}},"slave_id":{{"value":""}},"resources":{resources},
              "command":{{"value":"sleep 4"}},
              "health_check":{{"type":"COMMAND","command":{{"value":"test -n \"$MESOS_SANDBOX\""}},
                "delay_seconds":0,"interval_seconds":1,"grace_period_seconds":0}},
              "check":{{"type":"COMMAND","command":{{"command":{{"value":"exit 3"}}}},
                "delay_seconds":0,"interval_seconds":1}}}}]}}"#
    );
    let output = Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
        .args([
            &format!("--master=127.0.0.1:{master_port}"),
            &format!("--task_group={group}"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "reason: REASON_TASK_HEALTH_CHECK_STATUS_UPDATED\n  healthy?: 1",
        "reason: REASON_TASK_CHECK_STATUS_UPDATED",
        "check status: COMMAND exit code 3",
        "Received status update TASK_FINISHED for task 'a'",
    ] {
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn pymesos_runs_a_task_over_the_v1_http_api() {
    let python = repo().join(".venv/bin/python");
    if !require(&python, "run scripts/setup-python.sh")
        || !require(
            &bin_dir().join("mesos-executor"),
            "run cargo test --workspace",
        )
    {
        return;
    }
    let work_dir = tempfile::tempdir().unwrap();
    let (_local, port) = mesos_local(work_dir.path());
    let output = Command::new(python)
        .arg(repo().join("tests/interop/pymesos_task.py"))
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let updates: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("UPDATE "))
        .collect();
    assert_eq!(
        updates
            .iter()
            .map(|l| l.split(' ').nth(1).unwrap())
            .collect::<Vec<_>>(),
        ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"],
        "{stdout}"
    );
}

#[test]
fn pymesos_executor_runs_a_task_over_the_v1_executor_api() {
    let python = repo().join(".venv/bin/python");
    if !require(&python, "run scripts/setup-python.sh")
        || !require(
            &bin_dir().join("mesos-executor"),
            "run cargo test --workspace",
        )
    {
        return;
    }
    let work_dir = tempfile::tempdir().unwrap();
    let (_master, _agent, port) = master_and_agent(work_dir.path());
    let executor = format!(
        "{} {}",
        python.display(),
        repo().join("tests/interop/pymesos_executor.py").display()
    );
    let output = Command::new(&python)
        .arg(repo().join("tests/interop/pymesos_task.py"))
        .arg(format!("127.0.0.1:{port}"))
        .arg(executor)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let updates: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("UPDATE "))
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(updates, ["TASK_RUNNING", "TASK_FINISHED"], "{stdout}");
    assert!(
        stdout.contains("MESSAGE pymesos-executor-says-hi"),
        "{stdout}"
    );
}

/// A pymesos scheduler launches a task group (LAUNCH_GROUP with the
/// default executor): each task reaches TASK_FINISHED.
#[test]
fn pymesos_runs_a_task_group_with_the_default_executor() {
    let python = repo().join(".venv/bin/python");
    if !require(&python, "run scripts/setup-python.sh")
        || !require(
            &bin_dir().join("mesos-default-executor"),
            "run cargo build --workspace --bins",
        )
    {
        return;
    }
    let work_dir = tempfile::tempdir().unwrap();
    let (_master, _agent, port) = master_and_agent(work_dir.path());
    let output = Command::new(&python)
        .arg(repo().join("tests/interop/pymesos_task_group.py"))
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for task in ["a", "b"] {
        let states: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("UPDATE {task} ")))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(
            states,
            ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"],
            "{task}: {stdout}"
        );
    }
}

/// A custom v0 executor written with this project's executor driver
/// (`executor/examples/test_executor.rs`), launched through its
/// `ExecutorInfo` by a pymesos scheduler: the task runs, framework messages
/// go both ways, and the executor's TASK_FINISHED arrives.
#[test]
fn a_v0_custom_executor_runs_a_task_and_exchanges_framework_messages() {
    let python = repo().join(".venv/bin/python");
    let executor = bin_dir().join("examples/test-executor");
    if !require(&python, "run scripts/setup-python.sh")
        || !require(&executor, "run cargo build --workspace --bins --examples")
    {
        return;
    }
    let work_dir = tempfile::tempdir().unwrap();
    let (_master, _agent, port) = master_and_agent(work_dir.path());
    let output = Command::new(&python)
        .arg(repo().join("tests/interop/pymesos_task.py"))
        .arg(format!("127.0.0.1:{port}"))
        .arg(executor.display().to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let updates: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("UPDATE "))
        .collect();
    assert_eq!(
        updates,
        [
            "UPDATE TASK_RUNNING ",
            "UPDATE TASK_FINISHED test-executor got hello-executor"
        ],
        "{stdout}"
    );
    assert!(
        stdout.contains("MESSAGE test-executor running "),
        "executor to framework: {stdout}"
    );
    assert!(
        stdout.contains("MESSAGE test-executor got hello-executor"),
        "framework to executor and back: {stdout}"
    );
    // The executor's own output is in its sandbox.
    let sandbox_stdout = walk(work_dir.path())
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "stdout"))
        .expect("the executor's stdout");
    let sandbox_stdout = std::fs::read_to_string(sandbox_stdout).unwrap();
    assert!(
        sandbox_stdout.contains("Registered executor pymesos-executor")
            && sandbox_stdout.contains("Framework message: hello-executor"),
        "{sandbox_stdout}"
    );
}

/// The example executor on our public v1 executor library
/// (`executor/examples/v1_executor.rs`) as a framework's custom executor:
/// the same scenario as the pymesos executor above.
#[test]
fn rust_v1_executor_example_runs_a_task_over_the_v1_executor_api() {
    let python = repo().join(".venv/bin/python");
    let example = bin_dir().join("examples/v1_executor");
    if !require(&python, "run scripts/setup-python.sh")
        || !require(
            &bin_dir().join("mesos-executor"),
            "run cargo test --workspace",
        )
        || !require(&example, "run cargo build -p mesos-executor --examples")
    {
        return;
    }
    let work_dir = tempfile::tempdir().unwrap();
    let (_master, _agent, port) = master_and_agent(work_dir.path());
    let output = Command::new(&python)
        .arg(repo().join("tests/interop/pymesos_task.py"))
        .arg(format!("127.0.0.1:{port}"))
        .arg(example.display().to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let updates: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("UPDATE "))
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(updates, ["TASK_RUNNING", "TASK_FINISHED"], "{stdout}");
    assert!(
        stdout.contains("MESSAGE rust-v1-executor-says-hi"),
        "{stdout}"
    );
    assert!(stdout.contains("rust v1 executor done"), "{stdout}");
}

/// CRAM-MD5 end to end: a master requiring framework and agent
/// authentication, an agent with `--credential`, and `mesos-execute`
/// with `--principal`/`--secret` (a wrong secret is refused).
#[test]
fn authenticated_agent_and_framework_run_a_task() {
    if !require(
        &bin_dir().join("mesos-executor"),
        "run cargo test --workspace",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        r#"{"credentials":[{"principal":"agent","secret":"a-secret"},{"principal":"fw","secret":"f-secret"}]}"#,
    )
    .unwrap();
    let credential = dir.path().join("credential");
    std::fs::write(&credential, "agent a-secret\n").unwrap();
    let work_dir = dir.path().join("work");
    let master_port = free_port();
    let _master = Daemon(
        Command::new(bin_dir().join("mesos-master"))
            .args([
                "--registry=in_memory",
                "--ip=127.0.0.1",
                &format!("--port={master_port}"),
                "--authenticate_frameworks",
                "--authenticate_agents",
                &format!("--credentials=file://{}", credentials.display()),
                "--quiet",
            ])
            .spawn()
            .unwrap(),
    );
    wait_for(master_port, "/master/health");
    let agent_port = free_port();
    let _agent = Daemon(
        Command::new(bin_dir().join("mesos-agent"))
            .args([
                &format!("--master=127.0.0.1:{master_port}"),
                "--ip=127.0.0.1",
                &format!("--port={agent_port}"),
                &format!("--work_dir={}", work_dir.display()),
                &format!("--runtime_dir={}", work_dir.join("runtime").display()),
                &format!("--cgroups_root=mesos_test_e2e_{agent_port}"),
                &format!("--credential={}", credential.display()),
                "--resources=cpus:2;mem:1024;disk:1024",
                "--registration_backoff_factor=10ms",
                "--quiet",
            ])
            .spawn()
            .unwrap(),
    );
    wait_for(agent_port, "/slave(1)/health");

    let execute = |secret: &str| {
        Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
            .args([
                &format!("--master=127.0.0.1:{master_port}"),
                "--name=auth",
                "--command=echo authenticated",
                "--principal=fw",
                &format!("--secret={secret}"),
            ])
            .output()
            .unwrap()
    };
    let refused = execute("wrong");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("Master refused authentication"), "{stderr}");

    let output = execute("f-secret");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("TASK_FINISHED"), "{stdout}");
}

#[test]
fn mesos_execute_runs_a_command_in_a_docker_image_from_a_private_registry() {
    if !require(
        &bin_dir().join("mesos-executor"),
        "run cargo test --workspace",
    ) {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let registry_installed = std::path::Path::new("/usr/bin/docker-registry").exists()
        && std::path::Path::new("/bin/busybox").exists();
    if !root || !registry_installed {
        let why = "images need root, docker-registry and busybox-static (scripts/setup.sh)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        println!("SKIPPED: {why}");
        return;
    }
    let registry = registry::Registry::start(Some(("e2e", "pw")));
    registry::push_images(&registry);
    let work_dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let config = work_dir.path().join("docker-config.json");
    std::fs::write(&config, registry.docker_config()).unwrap();
    let agent_dir = work_dir.path().join("agent");
    let (_master, _agent, master_port) = master_and_agent_with(
        &agent_dir,
        &[
            "--launcher=linux".into(),
            "--isolation=filesystem/linux,docker/runtime".into(),
            "--image_providers=docker".into(),
            format!("--docker_registry=http://{}", registry.host),
            format!("--docker_store_dir={}", store.path().display()),
            format!("--docker_config=file://{}", config.display()),
        ],
    );
    let output = Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
        .args([
            &format!("--master=127.0.0.1:{master_port}"),
            "--name=in-image",
            "--docker_image=busybox",
            "--command=cat /etc/image-marker",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("TASK_FINISHED"), "{stdout}");
    let task_stdout = walk(&agent_dir)
        .into_iter()
        .filter(|p| p.ends_with("stdout"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect::<String>();
    assert!(task_stdout.contains("busybox-test-image"), "{task_stdout}");
}
