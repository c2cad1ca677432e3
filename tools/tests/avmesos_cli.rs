//! Apache's own `mesos` CLI, as published on PyPI (avmesos-cli 1.0.0, in
//! the venv `scripts/setup-python.sh` makes), run unchanged against
//! `mesos-master` and `mesos-agent` on loopback: `task list`, `task exec`
//! (plain, `-i` with piped stdin, `-t` and `-i -t` on a pty) and `task
//! attach` (to a task launched with a TTY, typing into it, detaching with
//! `^P ^Q`; refused for a task without one).
//!
//! The CLI finds the master in the TOML file `MESOS_CLI_CONFIG` names, the
//! task and its container (`statuses[0].container_status.container_id`)
//! in the master's `/tasks`, the agent in `/slaves`, and speaks the
//! agent's `/api/v1` (`LAUNCH_NESTED_CONTAINER_SESSION`,
//! `ATTACH_CONTAINER_INPUT`/`OUTPUT`, `WAIT_CONTAINER`) with JSON
//! records.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

#[path = "support/pty.rs"]
mod pty;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// Fails under `CI=true`, otherwise prints SKIPPED, unless `ok`.
fn require(ok: bool, why: &str) -> bool {
    if ok {
        return true;
    }
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{why}");
    }
    println!("SKIPPED: {why}");
    false
}

/// Whether the venv has the CLI and what it imports.
fn cli_installed(python: &Path) -> bool {
    python.exists()
        && Command::new(python)
            .args([
                "-c",
                "import avmesos.cli, avmesos.http, requests, tenacity, toml, ujson, docopt",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `GET path` answers 200.
fn wait_for(port: u16, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
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
            "nothing answered {path} on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The PyPI CLI, configured for the master at `port`.
struct Cli {
    python: PathBuf,
    config: PathBuf,
}

impl Cli {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.python);
        command
            .arg(repo().join("tests/interop/avmesos_cli.py"))
            .args(args)
            .env("MESOS_CLI_CONFIG", &self.config);
        command
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin).unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    }
}

#[test]
fn the_pypi_mesos_cli_lists_execs_and_attaches() {
    let python = repo().join(".venv/bin/python");
    if !require(
        cli_installed(&python),
        "the venv has no avmesos-cli (run scripts/setup-python.sh)",
    ) {
        return;
    }
    for binary in [
        "mesos-master",
        "mesos-agent",
        "mesos-executor",
        "mesos-io-switchboard",
        "mesos-containerizer",
    ] {
        let path = bin_dir().join(binary);
        if !require(
            path.exists(),
            &format!(
                "{} is missing; run cargo build --workspace --bins",
                path.display()
            ),
        ) {
            return;
        }
    }
    let work_dir = tempfile::tempdir().unwrap();
    let master_port = free_port();
    let _master = Daemon(
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
    // Its own port: the CLI reaches the agent's API at `/api/v1` on the
    // address in its pid.
    let agent_port = free_port();
    let _agent = Daemon(
        Command::new(bin_dir().join("mesos-agent"))
            .args([
                &format!("--master=127.0.0.1:{master_port}"),
                "--ip=127.0.0.1",
                &format!("--port={agent_port}"),
                &format!("--work_dir={}", work_dir.path().join("agent").display()),
                "--resources=cpus:2;mem:1024;disk:1024",
                "--registration_backoff_factor=10ms",
                &format!("--cgroups_root=mesos_test_avmesos_{agent_port}"),
                "--quiet",
            ])
            .spawn()
            .unwrap(),
    );
    wait_for(agent_port, "/slave(1)/health");
    let execute = |name: &str, command: &str, tty: bool| {
        Daemon(
            Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
                .args([
                    &format!("--master=127.0.0.1:{master_port}"),
                    &format!("--name={name}"),
                    &format!("--command={command}"),
                    "--resources=cpus:0.5;mem:64",
                    &format!("--tty={tty}"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let _target = execute("cli-target", "echo hi-from-the-task; sleep 120", false);
    let _shell = execute("cli-tty", "exec sh", true);

    let config = work_dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[master]\naddress = \"127.0.0.1:{master_port}\"\n"),
    )
    .unwrap();
    let cli = Cli { python, config };

    // `task list`: a table of the running tasks.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = cli.run(&["task", "list"], b"");
        let out = text(&list.stdout);
        let running = |id: &str| {
            out.lines()
                .any(|l| l.starts_with(&format!("{id} ")) && l.contains("TASK_RUNNING"))
        };
        if running("cli-target") && running("cli-tty") {
            assert!(out.starts_with("ID"), "{out}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the tasks never ran: {out}{}",
            text(&list.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Plain: stdout and stderr apart, the command's exit code ours.
    let exec = cli.run(
        &[
            "task",
            "exec",
            "cli-target",
            "sh",
            "-c",
            "echo out-$((1 + 1)); echo oops >&2; exit 3",
        ],
        b"",
    );
    assert_eq!(
        (text(&exec.stdout), text(&exec.stderr), exec.status.code()),
        ("out-2\n".into(), "oops\n".into(), Some(3))
    );
    // `-i`: our stdin piped to `cat`, and back.
    let exec = cli.run(
        &["task", "exec", "-i", "cli-target", "cat"],
        b"through the pipe\n",
    );
    assert!(exec.status.success(), "{}", text(&exec.stderr));
    assert_eq!(text(&exec.stdout), "through the pipe\n");

    // `-t` on a terminal: the command has a pty of its own.
    let session = pty::run(
        cli.command(&[
            "task",
            "exec",
            "-t",
            "cli-target",
            "sh",
            "-c",
            "tty; exit 4",
        ]),
        Duration::from_secs(60),
        |_| None,
    );
    assert_eq!(session.code, Some(4), "{:?}", session.output);
    assert!(
        session.output.starts_with("/dev/pts/"),
        "{:?}",
        session.output
    );

    // `-i -t`: keys typed into a shell; its exit code ours.
    let mut typed = false;
    let mut exited = false;
    let session = pty::run(
        cli.command(&["task", "exec", "-i", "-t", "cli-target", "sh"]),
        Duration::from_secs(60),
        |out| {
            if !typed && !out.is_empty() {
                typed = true;
                return Some(b"echo typed-$((6 * 7))\r".to_vec());
            }
            if !exited && out.contains("typed-42") {
                exited = true;
                return Some(b"exit 5\r".to_vec());
            }
            None
        },
    );
    assert_eq!(session.code, Some(5), "{:?}", session.output);
    assert!(session.output.contains("typed-42"), "{:?}", session.output);

    // `attach` needs a task with a TTY.
    let session = pty::run(
        cli.command(&["task", "attach", "cli-target"]),
        Duration::from_secs(60),
        |_| None,
    );
    assert_eq!(session.code, Some(1), "{:?}", session.output);
    assert!(
        session
            .output
            .contains("Unable to attach to a task launched without a TTY"),
        "{:?}",
        session.output
    );

    // `attach` to the TTY task's shell: what we type runs there (typed
    // again until the answer shows: the first keys may go out before the
    // input stream is up); ^P ^Q detaches.
    let mut last_typed: Option<Instant> = None;
    let mut detached = false;
    let session = pty::run(
        cli.command(&["task", "attach", "cli-tty"]),
        Duration::from_secs(60),
        |out| {
            if out.contains("attached-42") {
                if !detached {
                    detached = true;
                    return Some(b"\x10\x11".to_vec());
                }
                return None;
            }
            if last_typed.is_none_or(|at| at.elapsed() > Duration::from_secs(2)) {
                last_typed = Some(Instant::now());
                return Some(b"echo attached-$((6 * 7))\r".to_vec());
            }
            None
        },
    );
    assert_eq!(session.code, Some(0), "{:?}", session.output);
    assert!(
        session.output.contains("attached-42"),
        "{:?}",
        session.output
    );
}
