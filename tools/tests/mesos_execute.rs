//! `mesos-execute`, the real binary: it refuses what it does not support
//! yet with a clear message, and its flags shape the framework and the
//! task as upstream's (`src/cli/execute.cpp`).

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn zookeeper_master_is_refused_with_a_clear_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
        .args([
            "--master=zk://127.0.0.1:2181/mesos",
            "--name=refused",
            "--command=true",
        ])
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--master=zk://... is not supported yet"),
        "{stderr}"
    );
    assert!(!stderr.contains("invalid port"), "{stderr}");
}

// The flags that shape the framework and the task, against `mesos-local`
// (upstream `src/cli/execute.cpp`: `--resources`, `--env`, `--role`,
// `--checkpoint`, `--framework_name`, `--kill_after`).

/// Fails under `CI=true`, otherwise prints SKIPPED, when `path` is missing.
fn require(path: &Path) -> bool {
    if path.exists() {
        return true;
    }
    let why = format!(
        "{} is missing; run cargo build --workspace --bins",
        path.display()
    );
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{why}");
    }
    println!("SKIPPED: {why}");
    false
}

fn executor_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mesos-local"))
        .parent()
        .unwrap()
        .join("mesos-executor")
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The body of `GET path`, when it answers 200.
fn get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    if !response.starts_with("HTTP/1.1 200") && !response.starts_with("HTTP/1.0 200") {
        return None;
    }
    let (_, body) = response.split_once("\r\n\r\n")?;
    Some(body.to_string())
}

/// Polls `path` until `pick` finds something in its JSON.
fn poll<T>(port: u16, path: &str, pick: impl Fn(&serde_json::Value) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let json = get(port, path).and_then(|body| serde_json::from_str(&body).ok());
        if let Some(found) = json.as_ref().and_then(&pick) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never showed it: {json:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn mesos_local(work_dir: &Path) -> (Daemon, u16) {
    mesos_local_with(
        work_dir,
        &["--resources=cpus:2;mem:1024;disk:1024;ports:[31000-32000]"],
    )
}

fn mesos_local_with(work_dir: &Path, extra: &[&str]) -> (Daemon, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_mesos-local"))
        .args([
            "--ip=127.0.0.1",
            &format!("--port={port}"),
            &format!("--work_dir={}", work_dir.display()),
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(port, "/master/health").is_none() {
        assert!(Instant::now() < deadline, "mesos-local never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    (daemon, port)
}

/// `--framework_name`, `--role` and `--checkpoint` make the framework's
/// `FrameworkInfo`; `--resources` the task's resources (allocated to the
/// role); `--env` the command's environment.
#[test]
fn framework_and_task_flags_reach_the_master_and_the_task() {
    if !require(&executor_binary()) {
        return;
    }
    let work_dir = tempfile::tempdir().unwrap();
    let (_local, port) = mesos_local(work_dir.path());
    let execute = Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
        .args([
            &format!("--master=127.0.0.1:{port}"),
            "--name=flags",
            // The task fails unless it sees both variables; it lives long
            // enough for the master's endpoints to show it.
            r#"--command=test "$GREETING" = hello && test "$COUNT" = 3 && sleep 2"#,
            r#"--env={"GREETING":"hello","COUNT":3}"#,
            "--resources=cpus:0.5;mem:96;disk:10",
            "--framework_name=flags-framework",
            "--role=analytics",
            "--checkpoint",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let framework = poll(port, "/master/frameworks", |json| {
        json["frameworks"]
            .as_array()?
            .iter()
            .find(|f| f["name"] == "flags-framework")
            .cloned()
    });
    assert_eq!(framework["role"], "analytics", "{framework}");
    assert_eq!(framework["checkpoint"], true, "{framework}");

    let task = poll(port, "/master/tasks", |json| {
        json["tasks"]
            .as_array()?
            .iter()
            .find(|t| t["id"] == "flags" && t["state"] == "TASK_RUNNING")
            .cloned()
    });
    assert_eq!(task["resources"]["cpus"], 0.5, "{task}");
    assert_eq!(task["resources"]["mem"], 96.0, "{task}");
    assert_eq!(task["resources"]["disk"], 10.0, "{task}");
    assert_eq!(task["role"], "analytics", "{task}");

    let output = execute.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("Received status update TASK_FINISHED for task 'flags'"),
        "{stdout}"
    );
}

/// `--kill_after` kills the task: TASK_KILLED, and mesos-execute exits
/// non-zero as for any state but TASK_FINISHED.
#[test]
fn kill_after_kills_the_task_and_exits_non_zero() {
    if !require(&executor_binary()) {
        return;
    }
    let work_dir = tempfile::tempdir().unwrap();
    let (_local, port) = mesos_local(work_dir.path());
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
        .args([
            &format!("--master=127.0.0.1:{port}"),
            "--name=doomed",
            "--command=sleep 1000",
            "--kill_after=1secs",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("Received status update TASK_KILLED for task 'doomed'"),
        "{stdout}"
    );
    assert!(!stdout.contains("TASK_FINISHED"), "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(60), "{stdout}");
}

/// `--num_slaves=2`: two agents in the one process, each registered with
/// its own id and its own work directory `<work_dir>/0`, `<work_dir>/1`
/// (upstream `src/local/local.cpp`). Two tasks that do not fit one agent
/// together run at once, one on each.
#[test]
fn two_local_agents_register_apart_and_each_runs_a_task() {
    if !require(&executor_binary()) {
        return;
    }
    let work_dir = tempfile::tempdir().unwrap();
    let (_local, port) = mesos_local_with(
        work_dir.path(),
        &["--num_slaves=2", "--resources=cpus:1;mem:256;disk:256"],
    );

    let agents = poll(port, "/master/slaves", |json| {
        let agents = json["slaves"].as_array()?;
        (agents.len() == 2 && agents.iter().all(|a| a["active"] == true)).then(|| agents.clone())
    });
    let ids: Vec<String> = agents
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    assert_ne!(ids[0], ids[1], "{agents:?}");
    let pids: Vec<&str> = agents.iter().map(|a| a["pid"].as_str().unwrap()).collect();
    assert_ne!(pids[0], pids[1], "{agents:?}");

    // Each agent checkpointed itself under its own work directory.
    let checkpointed: Vec<String> = ["0", "1"]
        .iter()
        .map(|n| {
            let meta = work_dir.path().join(n).join("meta/slaves");
            let found: Vec<String> = std::fs::read_dir(&meta)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name != "latest")
                .collect();
            assert_eq!(found.len(), 1, "{}: {found:?}", meta.display());
            found[0].clone()
        })
        .collect();
    let mut sorted = checkpointed.clone();
    sorted.sort();
    let mut registered = ids.clone();
    registered.sort();
    assert_eq!(sorted, registered);

    // 0.6 cpus each (plus the command executor's 0.1): only one fits an agent.
    let tasks: Vec<Child> = ["left", "right"]
        .iter()
        .map(|name| {
            Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
                .args([
                    &format!("--master=127.0.0.1:{port}"),
                    &format!("--name={name}"),
                    "--command=sleep 2",
                    "--resources=cpus:0.6;mem:64",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let running = poll(port, "/master/tasks", |json| {
        let running: Vec<String> = json["tasks"]
            .as_array()?
            .iter()
            .filter(|t| t["state"] == "TASK_RUNNING")
            .map(|t| t["slave_id"].as_str().unwrap_or_default().to_string())
            .collect();
        (running.len() == 2).then_some(running)
    });
    assert_ne!(running[0], running[1], "both tasks on one agent");

    for task in tasks {
        let output = task.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("TASK_FINISHED"), "{stdout}");
    }
    // Each agent ran its executor in a sandbox under its own work directory.
    for (n, id) in [("0", &checkpointed[0]), ("1", &checkpointed[1])] {
        let frameworks = work_dir
            .path()
            .join(n)
            .join("slaves")
            .join(id)
            .join("frameworks");
        assert_eq!(
            std::fs::read_dir(&frameworks)
                .map(Iterator::count)
                .unwrap_or(0),
            1,
            "{}",
            frameworks.display()
        );
    }
}
