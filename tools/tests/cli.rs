//! The `mesos` command against `mesos-local` (real binaries on loopback):
//! `task list`, `task exec` with a pty and with piped stdin, `task log`,
//! `task attach` to a task with a TTY (and detaching), and exit codes.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

#[path = "support/pty.rs"]
mod pty;

use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mesos-local"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Fails under `CI=true`, otherwise prints SKIPPED, when `path` is missing.
fn require(path: &std::path::Path) -> bool {
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

fn mesos(port: u16, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mesos"))
        .arg(format!("--master=127.0.0.1:{port}"))
        .args(args)
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

/// Waits until the master answers `/master/health` (mesos-execute gives up
/// on a master that is not there yet).
fn wait_for_master(port: u16) {
    use std::io::Read as _;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let request = "GET /master/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
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
            "mesos-local never answered on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn mesos_task_list_exec_and_log_against_mesos_local() {
    for binary in [
        "mesos-executor",
        "mesos-io-switchboard",
        "mesos-containerizer",
    ] {
        if !require(&bin_dir().join(binary)) {
            return;
        }
    }
    let work_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _local = Daemon(
        Command::new(env!("CARGO_BIN_EXE_mesos-local"))
            .args([
                "--ip=127.0.0.1",
                &format!("--port={port}"),
                &format!("--work_dir={}", work_dir.path().display()),
                "--resources=cpus:2;mem:1024;disk:1024;ports:[31000-32000]",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_master(port);
    let _execute = Daemon(
        Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
            .args([
                &format!("--master=127.0.0.1:{port}"),
                "--name=cli-target",
                "--command=echo hi-from-the-task; sleep 120",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _shell = Daemon(
        Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
            .args([
                &format!("--master=127.0.0.1:{port}"),
                "--name=cli-tty",
                "--command=exec sh",
                "--resources=cpus:0.5;mem:64",
                "--tty",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let running = |out: &str, id: &str| {
        out.lines()
            .any(|l| l.starts_with(&format!("{id} ")) && l.contains("TASK_RUNNING"))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = mesos(port, &["task", "list"], b"");
        let out = text(&list.stdout);
        if running(&out, "cli-target") && running(&out, "cli-tty") {
            assert!(out.starts_with("ID"), "{out}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the task never ran: {out}{}",
            text(&list.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A pty: `tty` names it; the pty turns "\n" into "\r\n".
    let exec = mesos(
        port,
        &[
            "task",
            "exec",
            "-t",
            "cli-target",
            "--",
            "sh",
            "-c",
            "tty; echo $$",
        ],
        b"",
    );
    let out = text(&exec.stdout);
    assert!(exec.status.success(), "{out}{}", text(&exec.stderr));
    let lines: Vec<&str> = out.split("\r\n").collect();
    assert!(lines[0].starts_with("/dev/pts/"), "{out:?}");
    assert!(lines[1].parse::<u32>().is_ok(), "{out:?}");

    // No tty: stdin piped to cat, and back.
    let exec = mesos(
        port,
        &["task", "exec", "-i", "cli-target", "--", "cat"],
        b"through the pipe\n",
    );
    assert!(exec.status.success(), "{}", text(&exec.stderr));
    assert_eq!(text(&exec.stdout), "through the pipe\n");

    // The command's exit code is ours; stderr stays stderr.
    let exec = mesos(
        port,
        &[
            "task",
            "exec",
            "cli-target",
            "--",
            "sh",
            "-c",
            "echo oops >&2; exit 3",
        ],
        b"",
    );
    assert_eq!(exec.status.code(), Some(3));
    assert_eq!(text(&exec.stderr), "oops\n");

    let log = mesos(port, &["task", "log", "cli-target"], b"");
    assert!(log.status.success(), "{}", text(&log.stderr));
    assert!(
        text(&log.stdout).contains("hi-from-the-task"),
        "{}",
        text(&log.stdout)
    );
    // `-f` follows the file until the task is gone.
    let _short = Daemon(
        Command::new(env!("CARGO_BIN_EXE_mesos-execute"))
            .args([
                &format!("--master=127.0.0.1:{port}"),
                "--name=cli-short",
                "--command=sleep 1; echo first; sleep 1; echo second",
                "--resources=cpus:0.1;mem:32",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !running(
        &text(&mesos(port, &["task", "list"], b"").stdout),
        "cli-short",
    ) {
        assert!(Instant::now() < deadline, "cli-short never ran");
        std::thread::sleep(Duration::from_millis(100));
    }
    let follow = mesos(port, &["task", "log", "-f", "cli-short"], b"");
    assert!(follow.status.success(), "{}", text(&follow.stderr));
    assert_eq!(text(&follow.stdout), "first\nsecond\n");

    // Attach to the TTY task's shell: keys typed run there (typed again
    // until the answer shows, as the first may beat the input stream);
    // ^P ^Q detaches and leaves the shell running.
    let attach = |needle: &'static str, typed: &'static [u8]| {
        let mut last: Option<Instant> = None;
        let mut detached = false;
        let mut command = Command::new(env!("CARGO_BIN_EXE_mesos"));
        command.args([
            &format!("--master=127.0.0.1:{port}"),
            "task",
            "attach",
            "cli-tty",
        ]);
        pty::run(command, Duration::from_secs(60), move |out| {
            if out.contains(needle) {
                if !detached {
                    detached = true;
                    return Some(b"\x10\x11".to_vec());
                }
                return None;
            }
            if last.is_none_or(|at| at.elapsed() > Duration::from_secs(2)) {
                last = Some(Instant::now());
                return Some(typed.to_vec());
            }
            None
        })
    };
    let session = attach("attached-42", b"echo attached-$((6 * 7))\r");
    assert_eq!(session.code, Some(0), "{:?}", session.output);
    let session = attach("again-43", b"echo again-$((6 * 7 + 1))\r");
    assert_eq!(session.code, Some(0), "{:?}", session.output);
    let list = text(&mesos(port, &["task", "list"], b"").stdout);
    assert!(running(&list, "cli-tty"), "{list}");
    // A task without a TTY takes no attach.
    let refused = mesos(port, &["task", "attach", "cli-target"], b"");
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("Unable to attach to a task launched without a TTY"),
        "{}",
        text(&refused.stderr)
    );

    let missing = mesos(port, &["task", "exec", "no-such-task", "--", "true"], b"");
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("No task 'no-such-task'"),
        "{}",
        text(&missing.stderr)
    );
}
