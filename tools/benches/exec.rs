//! Exec and attach through the agent API and the IO switchboard, against
//! `mesos-local` (release binaries, loopback): a command task `sleep` is
//! the parent of every session.
//!
//! - Exec round trip: `LAUNCH_NESTED_CONTAINER_SESSION` of `true` (a DEBUG
//!   container with its own `mesos-io-switchboard` server, posix launcher
//!   as `mesos-local` runs it) until its output stream ends and
//!   `WAIT_NESTED_CONTAINER` reports exit status 0; p50/p99.
//! - Attach throughput: MB/s of a session running `yes` (pipes, then a
//!   pty, whose kernel side alone caps it; compare a bare pty read loop)
//!   as the client receives it (RecordIO of protobuf `ProcessIO`,
//!   over chunked HTTP, relayed by the agent from the switchboard's unix
//!   socket).
//!
//! Run: `cargo build --release -p mesos-executor -p mesos-agent && cargo bench -p mesos-tools --bench exec [-- ROUNDS SECONDS]`
//! (default 100 round trips, 3 seconds of `yes`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mesos_proto::mesos::ContainerId;
use mesos_tools::cli::{self, http, TaskRef};
use serde_json::json;

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn session(task: &TaskRef, command: &str, tty: bool) -> (ContainerId, http::Response) {
    let id = ContainerId {
        value: uuid::Uuid::new_v4().to_string(),
        parent: Some(Box::new(cli::parse_container_id(&task.container_id))),
    };
    let mut session = json!({
        "container_id": cli::container_id_json(&id),
        "command": {"value": command},
    });
    if tty {
        session["container"] = json!({"type": "MESOS", "tty_info": {}});
    }
    let call = json!({"type": "LAUNCH_NESTED_CONTAINER_SESSION", "launch_nested_container_session": session});
    let response = http::request(
        &task.agent,
        "POST",
        &task.api(),
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/recordio"),
            ("Message-Accept", "application/x-protobuf"),
        ],
        call.to_string().as_bytes(),
    )
    .expect("session");
    assert_eq!(response.status, 200, "session refused");
    (id, response)
}

fn throughput(task: &TaskRef, seconds: u64, tty: bool) -> f64 {
    let (id, mut response) = session(task, "yes", tty);
    let mut buffer = vec![0_u8; 256 * 1024];
    let start = Instant::now();
    let mut bytes = 0_u64;
    while start.elapsed() < Duration::from_secs(seconds) {
        let n = response.read_some(&mut buffer).expect("read");
        assert!(n > 0, "the stream ended");
        bytes += n as u64;
    }
    let rate = bytes as f64 / start.elapsed().as_secs_f64() / 1e6;
    // Dropping the connection destroys the session's container.
    drop(response);
    let _ = cli::wait_status(task, &id);
    rate
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mesos-local"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    for needed in [
        "mesos-executor",
        "mesos-containerizer",
        "mesos-io-switchboard",
    ] {
        assert!(
            bin.join(needed).exists(),
            "{needed} is not built: cargo build --release -p mesos-executor -p mesos-agent"
        );
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let work_dir = tempfile::tempdir().expect("tempdir");
    let _local = Daemon(
        Command::new(bin.join("mesos-local"))
            .args([
                "--ip=127.0.0.1",
                &format!("--port={port}"),
                &format!("--work_dir={}", work_dir.path().display()),
                "--resources=cpus:2;mem:1024;disk:1024",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mesos-local"),
    );
    let master = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http::request(&master, "GET", "/master/health", &[], b"").is_ok_and(|r| r.status == 200)
    {
        assert!(Instant::now() < deadline, "mesos-local never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _execute = Daemon(
        Command::new(bin.join("mesos-execute"))
            .args([
                &format!("--master=127.0.0.1:{port}"),
                "--name=bench-parent",
                "--command=sleep 3600",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mesos-execute"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let task = loop {
        if let Ok(task) = cli::find_task(&master, "bench-parent") {
            break task;
        }
        assert!(Instant::now() < deadline, "the parent task never ran");
        std::thread::sleep(Duration::from_millis(100));
    };

    let mut latencies = Vec::with_capacity(rounds);
    for round in 0..rounds + 5 {
        let start = Instant::now();
        let (id, mut response) = session(&task, "true", false);
        response.body().expect("stream");
        let status = cli::wait_status(&task, &id).expect("wait");
        assert_eq!(status, 0);
        if round >= 5 {
            latencies.push(start.elapsed());
        }
    }
    latencies.sort();
    println!(
        "exec round trip (LAUNCH_NESTED_CONTAINER_SESSION of `true` to exit status), {rounds} \
         sessions one at a time: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );
    let pipes = throughput(&task, seconds, false);
    println!("attach throughput, `yes` through pipes: {pipes:.0} MB/s over {seconds} s");
    let pty = throughput(&task, seconds, true);
    println!("attach throughput, `yes` through a pty: {pty:.0} MB/s over {seconds} s");
}
