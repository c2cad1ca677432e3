//! Attach and exec through the agent API and the IO switchboard (upstream
//! `api_tests.cpp` `AgentAPITest.LaunchNestedContainerSession*`,
//! `AttachContainerInput*`, `AttachContainerOutput*`, and
//! `io_switchboard_tests.cpp`): real agents, real `mesos-io-switchboard`
//! servers, real ptys, over real HTTP.
//!
//! Upstream test → ours (`AgentAPITest` in `api_tests.cpp`,
//! `IOSwitchboard*Test` in `io_switchboard_tests.cpp`):
//!
//! - `LaunchNestedContainerSession` (its JSON and protobuf parameters) →
//!   `a_session_accepting_json_streams_recordio_framed_json_records`,
//!   `a_session_with_protobuf_records_both_ways`
//! - `LaunchNestedContainerSessionWithTTY`, `OutputRedirectionWithTTY` →
//!   `a_tty_session_has_stderr_in_its_stdout`,
//!   `session_with_a_tty_runs_in_a_pty_and_streams_its_output`
//! - `LaunchNestedContainerSessionDisconnected` →
//!   `a_session_container_dies_with_its_connection`,
//!   `a_session_whose_client_leaves_during_the_launch_is_destroyed`
//! - `LaunchNestedContainerSessionAttachFailure` →
//!   `without_switchboard_servers_a_session_fails_with_a_clear_error`
//! - `ROOT_CGROUPS_LaunchNestedContainerSessionsInParallel` →
//!   `sessions_launched_in_parallel_each_stream_their_own_output`
//! - `ROOT_CGROUPS_LaunchNestedContainerSessionKillTask` →
//!   `a_session_that_kills_its_task_ends_with_the_task_failed`
//! - `AttachContainerInput`, `AttachContainerOutput` (TTY) →
//!   `attach_to_a_running_tty_container_and_type_into_it`,
//!   `session_without_a_tty_pipes_stdin_to_cat`
//! - `AttachContainerInputRepeat` →
//!   `input_streams_one_after_another_reach_the_same_cat`
//! - `AttachContainerInputValidation` →
//!   `an_input_stream_whose_first_record_names_no_container_is_a_bad_request`
//! - `HeaderValidation` →
//!   `agent_api.rs` (its table of header errors)
//! - `IOSwitchboardServerTest.*` →
//!   `switchboard_server_alone_heartbeats_redirects_and_takes_input`
//! - `IOSwitchboardTest.ContainerAttach` →
//!   `attach_to_a_top_level_tty_command_task_and_type_into_it`
//! - `IOSwitchboardTest.ContainerAttachAfterSlaveRestart` →
//!   `a_top_level_tty_task_is_attached_to_after_an_agent_restart`
//! - `IOSwitchboardTest.KillSwitchboardContainerDestroyed` →
//!   `a_switchboard_that_dies_fails_its_container_with_io_switchboard_exited`
//! - `NestedMesosContainerizerTest.ROOT_CGROUPS_RecoverNested*` →
//!   `nested_containers_survive_an_agent_restart_and_sessions_do_not`

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::net::SocketAddrV4;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use support::agent_binary::AgentBinary;
use support::sandbox::{get, launch, launch_tty, request, require_executor, Cluster, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const JSON: &str = "application/json";
const RECORDIO: &str = "application/recordio";

fn nested(parent: &str, id: &str) -> Value {
    json!({"value": id, "parent": {"value": parent}})
}

async fn call(addr: SocketAddrV4, call: Value) -> Reply {
    request(
        addr,
        "POST",
        "/api/v1",
        &[("Content-Type", JSON), ("Accept", JSON)],
        call.to_string().as_bytes(),
    )
    .await
}

/// Whether the switchboard server is built; fails under `CI=true`.
fn require_switchboard() -> bool {
    if !require_executor() {
        return false;
    }
    let server = support::bin_dir().join("mesos-io-switchboard");
    if server.exists() {
        return true;
    }
    let why = format!("{} is not built", server.display());
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{why}");
    }
    println!("SKIPPED: {why}");
    false
}

/// The JSON of a `ContainerID`, its parents included.
fn container_id_json(id: &mesos_proto::mesos::ContainerId) -> Value {
    match &id.parent {
        Some(parent) => json!({"value": id.value, "parent": container_id_json(parent)}),
        None => json!({"value": id.value}),
    }
}

async fn parent(cluster: &Cluster) -> String {
    let containers = get(cluster.addr, "/containers").await.json();
    containers[0]["container_id"].as_str().unwrap().to_string()
}

/// A streaming answer: its head, and its records (JSON `ProcessIO`) as
/// they arrive; `None` once the stream ended.
struct Stream {
    status: u16,
    head: String,
    records: mpsc::UnboundedReceiver<Value>,
    /// Dropping it closes the connection.
    _close: tokio::sync::oneshot::Sender<()>,
}

impl Stream {
    async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(Duration::from_secs(30), self.records.recv())
            .await
            .expect("no record in time")
    }

    /// The STDOUT (and STDERR) text until the stream ends.
    async fn output_until_end(&mut self) -> String {
        let mut out = Vec::new();
        while let Some(record) = self.next().await {
            out.extend(data(&record));
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Reads output until it contains `needle`; returns all of it.
    async fn output_until(&mut self, needle: &str) -> String {
        let mut out = Vec::new();
        loop {
            let Some(record) = self.next().await else {
                panic!(
                    "the stream ended before '{needle}': {:?}",
                    String::from_utf8_lossy(&out)
                );
            };
            out.extend(data(&record));
            let text = String::from_utf8_lossy(&out).into_owned();
            if text.contains(needle) {
                return text;
            }
        }
    }
}

fn data(record: &Value) -> Vec<u8> {
    if record["type"] != "DATA" {
        return Vec::new();
    }
    base64::engine::general_purpose::STANDARD
        .decode(record["data"]["data"].as_str().unwrap_or_default())
        .unwrap()
}

/// Opens a streaming call (JSON records).
async fn stream(addr: SocketAddrV4, call: Value) -> Stream {
    stream_with(addr, call, "").await
}

/// [`stream`] with more header lines (each ending in `\r\n`).
async fn stream_with(addr: SocketAddrV4, call: Value, headers: &str) -> Stream {
    let media = format!("Accept: {RECORDIO}\r\nMessage-Accept: {JSON}\r\n{headers}");
    stream_accepting(addr, call, &media).await
}

/// Opens a streaming call whose `Accept` (and `Message-Accept`) header
/// lines are `media`; the records must be RecordIO-framed JSON.
async fn stream_accepting(addr: SocketAddrV4, call: Value, media: &str) -> Stream {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let body = call.to_string();
    let head = format!(
        "POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON}\r\n{media}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let mut chunk = [0; 4096];
        let n = tokio::time::timeout(Duration::from_secs(30), socket.read(&mut chunk))
            .await
            .expect("no response head in time")
            .unwrap();
        assert!(n > 0, "closed before a head");
        buffer.extend_from_slice(&chunk[..n]);
    };
    let mut head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let status: u16 = head[9..12].parse().unwrap();
    buffer.drain(..head_end);
    let (tx, records) = mpsc::unbounded_channel();
    let (close, mut closed) = tokio::sync::oneshot::channel::<()>();
    let chunked = head.to_ascii_lowercase().contains("chunked");
    if !chunked {
        // An error: its body goes with the head, for the assertions.
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0);
        while buffer.len() < length {
            let mut chunk = [0; 4096];
            match tokio::time::timeout(Duration::from_secs(30), socket.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buffer.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
        head.push_str(&String::from_utf8_lossy(&buffer));
        buffer.clear();
    }
    tokio::spawn(async move {
        let mut body = Vec::new();
        let mut recordio = Vec::new();
        loop {
            // De-chunk what is complete.
            while chunked && !buffer.is_empty() {
                let Some(line) = buffer.windows(2).position(|w| w == b"\r\n") else {
                    break;
                };
                let size =
                    usize::from_str_radix(std::str::from_utf8(&buffer[..line]).unwrap().trim(), 16)
                        .unwrap();
                if size == 0 {
                    return;
                }
                if buffer.len() < line + 2 + size + 2 {
                    break;
                }
                recordio.extend_from_slice(&buffer[line + 2..line + 2 + size]);
                buffer.drain(..line + 2 + size + 2);
                // Records.
                while let Some(nl) = recordio.iter().position(|b| *b == b'\n') {
                    let length: usize = std::str::from_utf8(&recordio[..nl])
                        .unwrap()
                        .parse()
                        .unwrap();
                    if recordio.len() < nl + 1 + length {
                        break;
                    }
                    let record: Value =
                        serde_json::from_slice(&recordio[nl + 1..nl + 1 + length]).unwrap();
                    recordio.drain(..nl + 1 + length);
                    if tx.send(record).is_err() {
                        return;
                    }
                }
            }
            if !chunked {
                body.extend_from_slice(&buffer);
                buffer.clear();
            }
            let mut chunk = [0; 16 * 1024];
            tokio::select! {
                read = socket.read(&mut chunk) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                },
                _ = &mut closed => return,
            }
        }
    });
    Stream {
        status,
        head,
        records,
        _close: close,
    }
}

/// An input stream being written: records go out as chunks.
struct Input {
    socket: TcpStream,
}

impl Input {
    async fn open(addr: SocketAddrV4, container_id: Value) -> Self {
        let mut input = Self::open_empty(addr).await;
        input
            .send(json!({
                "type": "ATTACH_CONTAINER_INPUT",
                "attach_container_input": {"type": "CONTAINER_ID", "container_id": container_id}
            }))
            .await;
        input
    }

    /// Opens the request without sending a record.
    async fn open_empty(addr: SocketAddrV4) -> Self {
        let mut socket = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: {RECORDIO}\r\n\
             Message-Content-Type: {JSON}\r\nAccept: {JSON}\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        Self { socket }
    }

    async fn send(&mut self, record: Value) {
        let text = record.to_string();
        let framed = format!("{}\n{text}", text.len());
        let chunk = format!("{:x}\r\n{framed}\r\n", framed.len());
        let _ = self.socket.write_all(chunk.as_bytes()).await;
    }

    async fn stdin(&mut self, data: &[u8]) {
        let data = base64::engine::general_purpose::STANDARD.encode(data);
        self.send(json!({
            "type": "ATTACH_CONTAINER_INPUT",
            "attach_container_input": {
                "type": "PROCESS_IO",
                "process_io": {"type": "DATA", "data": {"type": "STDIN", "data": data}}
            }
        }))
        .await;
    }

    async fn control(&mut self, control: Value) {
        self.send(json!({
            "type": "ATTACH_CONTAINER_INPUT",
            "attach_container_input": {
                "type": "PROCESS_IO",
                "process_io": {"type": "CONTROL", "control": control}
            }
        }))
        .await;
    }

    /// Ends the body and reads the answer: (status, body).
    async fn finish(mut self) -> (u16, String) {
        let _ = self.socket.write_all(b"0\r\n\r\n").await;
        self.answer().await
    }

    async fn answer(&mut self) -> (u16, String) {
        let mut raw = Vec::new();
        let mut chunk = [0; 4096];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(30), self.socket.read(&mut chunk))
                .await
                .expect("no answer in time")
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&raw);
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if raw.len() >= end + 4 + length {
                    break;
                }
            }
        }
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }
}

/// Launches nested container `id` running `command` with a TTY (so it
/// gets a switchboard); it must be accepted.
async fn launch_tty_nested(addr: SocketAddrV4, id: &Value, command: &str) {
    let reply = call(
        addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER",
            "launch_nested_container": {
                "container_id": id,
                "command": {"value": command},
                "container": {"type": "MESOS", "tty_info": {}}
            }
        }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

async fn wait_nested(addr: SocketAddrV4, id: Value) -> Value {
    let reply = call(
        addr,
        json!({"type": "WAIT_NESTED_CONTAINER", "wait_nested_container": {"container_id": id}}),
    )
    .await;
    reply.json()["wait_nested_container"].clone()
}

#[actix_rt::test]
async fn session_with_a_tty_runs_in_a_pty_and_streams_its_output() {
    if !require_switchboard() {
        return;
    }
    let cluster = launch("session-tty").await;
    let parent = parent(&cluster).await;
    let mut session = stream(
        cluster.addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER_SESSION",
            "launch_nested_container_session": {
                "container_id": nested(&parent, "exec-tty"),
                "command": {"value": "tty; echo pid=$$; echo TERM=$TERM; stty size"},
                "container": {"type": "MESOS", "tty_info": {"window_size": {"rows": 33, "columns": 77}}}
            }
        }),
    )
    .await;
    assert_eq!(session.status, 200, "{}", session.head);
    assert!(session.head.contains("Content-Type: application/recordio"));
    assert!(session
        .head
        .contains("Message-Content-Type: application/json"));
    let output = session.output_until_end().await;
    // A pty turns "\n" into "\r\n".
    let lines: Vec<&str> = output.split("\r\n").collect();
    assert!(lines[0].starts_with("/dev/pts/"), "{output:?}");
    assert!(lines[1].starts_with("pid="), "{output:?}");
    assert_eq!(lines[2], "TERM=xterm", "{output:?}");
    assert_eq!(lines[3], "33 77", "{output:?}");
    let wait = wait_nested(cluster.addr, nested(&parent, "exec-tty")).await;
    assert_eq!(wait["exit_status"], 0, "{wait}");
}

/// The sandbox of nested container `name` under the cluster's task.
async fn nested_sandbox(cluster: &Cluster, name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(
        get(cluster.addr, "/files/debug").await.json()[&cluster.sandbox()]
            .as_str()
            .unwrap(),
    )
    .join("containers")
    .join(name)
}

/// Splits a stream's output by kind: (stdout, stderr).
async fn stdout_and_stderr(stream: &mut Stream) -> (String, String) {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    while let Some(record) = stream.next().await {
        match record["data"]["type"].as_str() {
            Some("STDOUT") => stdout.extend(data(&record)),
            Some("STDERR") => stderr.extend(data(&record)),
            _ => {}
        }
    }
    (
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// Upstream `AgentAPITest.LaunchNestedContainerSession` (its JSON
/// parameter): `Accept: application/json` gets `200` with that
/// `Content-Type`, no `Message-Content-Type`, and RecordIO-framed JSON
/// `ProcessIO` records (the Mesos 1.2 answer upstream keeps); the output
/// is in the sandbox files too. `ATTACH_CONTAINER_OUTPUT` answers the same.
#[actix_rt::test]
async fn a_session_accepting_json_streams_recordio_framed_json_records() {
    if !require_switchboard() {
        return;
    }
    let cluster = launch("session-json").await;
    let parent = parent(&cluster).await;
    let mut session = stream_accepting(
        cluster.addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER_SESSION",
            "launch_nested_container_session": {
                "container_id": nested(&parent, "exec-json"),
                "command": {"value": "printf output && printf error 1>&2"}
            }
        }),
        &format!("Accept: {JSON}\r\n"),
    )
    .await;
    assert_eq!(session.status, 200, "{}", session.head);
    assert!(
        session.head.contains("Content-Type: application/json\r\n"),
        "{}",
        session.head
    );
    assert!(
        !session.head.contains("Message-Content-Type"),
        "{}",
        session.head
    );
    let (stdout, stderr) = stdout_and_stderr(&mut session).await;
    assert_eq!((stdout.as_str(), stderr.as_str()), ("output", "error"));
    let wait = wait_nested(cluster.addr, nested(&parent, "exec-json")).await;
    assert_eq!(wait["exit_status"], 0, "{wait}");
    let sandbox = nested_sandbox(&cluster, "exec-json").await;
    assert_eq!(
        std::fs::read_to_string(sandbox.join("stdout")).unwrap(),
        "output"
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.join("stderr")).unwrap(),
        "error"
    );

    // The same for an attach to a running container's output.
    let shell = nested(&parent, "shell-json");
    launch_tty_nested(cluster.addr, &shell, "exec sh").await;
    let mut output = stream_accepting(
        cluster.addr,
        json!({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {"container_id": shell}}),
        &format!("Accept: {JSON}\r\n"),
    )
    .await;
    assert_eq!(output.status, 200, "{}", output.head);
    assert!(output.head.contains("Content-Type: application/json\r\n"));
    assert!(!output.head.contains("Message-Content-Type"));
    let mut input = Input::open(cluster.addr, shell.clone()).await;
    input.stdin(b"echo json-$((6 * 7))\n").await;
    output.output_until("json-42").await;
    input.stdin(b"exit\n").await;
    let (status, body) = input.finish().await;
    assert_eq!(status, 200, "{body}");
}

/// Upstream `AgentAPITest.LaunchNestedContainerSessionWithTTY` and
/// `IOSwitchboardTest.OutputRedirectionWithTTY`: under a TTY the command's
/// stderr goes to the terminal too, so the stream and the sandbox `stdout`
/// hold both, in order.
#[actix_rt::test]
async fn a_tty_session_has_stderr_in_its_stdout() {
    if !require_switchboard() {
        return;
    }
    let cluster = launch("session-tty-stderr").await;
    let parent = parent(&cluster).await;
    let mut session = stream_accepting(
        cluster.addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER_SESSION",
            "launch_nested_container_session": {
                "container_id": nested(&parent, "exec-tty-err"),
                "command": {"value": "printf output && printf error 1>&2"},
                "container": {"type": "MESOS", "tty_info": {}}
            }
        }),
        &format!("Accept: {JSON}\r\n"),
    )
    .await;
    assert_eq!(session.status, 200, "{}", session.head);
    let (stdout, stderr) = stdout_and_stderr(&mut session).await;
    assert_eq!((stdout.as_str(), stderr.as_str()), ("outputerror", ""));
    let sandbox = nested_sandbox(&cluster, "exec-tty-err").await;
    assert_eq!(
        std::fs::read_to_string(sandbox.join("stdout")).unwrap(),
        "outputerror"
    );
}

#[actix_rt::test]
async fn session_without_a_tty_pipes_stdin_to_cat() {
    if !require_switchboard() {
        return;
    }
    let cluster = launch("session-cat").await;
    let parent = parent(&cluster).await;
    let id = nested(&parent, "exec-cat");
    let mut session = stream(
        cluster.addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER_SESSION",
            "launch_nested_container_session": {
                "container_id": id,
                "command": {"value": "cat; echo done >&2"}
            }
        }),
    )
    .await;
    assert_eq!(session.status, 200, "{}", session.head);
    let mut input = Input::open(cluster.addr, id.clone()).await;
    input.stdin(b"hello ").await;
    input.stdin(b"cat\n").await;
    assert_eq!(session.output_until("hello cat\n").await, "hello cat\n");
    // A second input stream is refused while the first is attached.
    let mut second = Input::open(cluster.addr, id.clone()).await;
    let (status, body) = second.answer().await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body, "Multiple input connections are not allowed");
    // Empty data is EOF: cat ends, then the shell.
    input.stdin(b"").await;
    let (status, body) = input.finish().await;
    assert_eq!(status, 200, "{body}");
    let mut stderr = Vec::new();
    while let Some(record) = session.next().await {
        if record["data"]["type"] == "STDERR" {
            stderr.extend(data(&record));
        }
    }
    assert_eq!(String::from_utf8_lossy(&stderr), "done\n");
    let wait = wait_nested(cluster.addr, id.clone()).await;
    assert_eq!(wait["exit_status"], 0, "{wait}");
    // The sandbox files got the output too.
    let sandbox = std::path::PathBuf::from(
        get(cluster.addr, "/files/debug").await.json()[&cluster.sandbox()]
            .as_str()
            .unwrap(),
    )
    .join("containers/exec-cat");
    assert_eq!(
        std::fs::read_to_string(sandbox.join("stdout")).unwrap(),
        "hello cat\n"
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.join("stderr")).unwrap(),
        "done\n"
    );
}

/// Upstream `AgentAPITest.AttachContainerInputRepeat`: input streams one
/// after another reach the same `cat`, a short one, then 1 MB in 4 KB
/// records ending in EOF; its output is both, in order.
#[actix_rt::test]
async fn input_streams_one_after_another_reach_the_same_cat() {
    if !require_switchboard() {
        return;
    }
    let cluster = launch("input-repeat").await;
    let parent = parent(&cluster).await;
    let id = nested(&parent, "exec-repeat");
    let mut session = stream(
        cluster.addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER_SESSION",
            "launch_nested_container_session": {
                "container_id": id,
                "command": {"value": "cat"}
            }
        }),
    )
    .await;
    assert_eq!(session.status, 200, "{}", session.head);
    let mut expected = b"Hello World".to_vec();
    let mut first = Input::open(cluster.addr, id.clone()).await;
    first.stdin(&expected).await;
    let (status, body) = first.finish().await;
    assert_eq!(status, 200, "{body}");
    let large: Vec<u8> = (0..1 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    let mut second = Input::open(cluster.addr, id.clone()).await;
    for chunk in large.chunks(4096) {
        second.stdin(chunk).await;
    }
    second.stdin(b"").await;
    let (status, body) = second.finish().await;
    assert_eq!(status, 200, "{body}");
    expected.extend_from_slice(&large);
    let mut stdout = Vec::new();
    while let Some(record) = session.next().await {
        assert_ne!(record["data"]["type"], "STDERR", "{record}");
        stdout.extend(data(&record));
    }
    assert_eq!(stdout.len(), expected.len());
    assert!(stdout == expected, "the output differs from the input");
    let wait = wait_nested(cluster.addr, id).await;
    assert_eq!(wait["exit_status"], 0, "{wait}");
}

/// A session whose records are protobuf both ways (`Message-Accept` and
/// the input's `Message-Content-Type`), as upstream's CLI and our
/// default executor's checks ask for them.
#[actix_rt::test]
async fn a_session_with_protobuf_records_both_ways() {
    use mesos_proto::mesos::agent::call::{attach_container_input, AttachContainerInput};
    use mesos_proto::mesos::agent::{call, process_io, Call, ProcessIo};
    use mesos_proto::mesos::ContainerId;
    use prost::Message as _;
    const PROTOBUF: &str = "application/x-protobuf";
    if !require_switchboard() {
        return;
    }
    let cluster = launch("session-protobuf").await;
    let parent = parent(&cluster).await;
    let id = ContainerId {
        value: "exec-protobuf".into(),
        parent: Some(Box::new(ContainerId {
            value: parent.clone(),
            parent: None,
        })),
    };
    let session = Call {
        r#type: Some(call::Type::LaunchNestedContainerSession as i32),
        launch_nested_container_session: Some(call::LaunchNestedContainerSession {
            container_id: id.clone(),
            command: Some(mesos_proto::mesos::CommandInfo {
                value: Some("cat".into()),
                ..Default::default()
            }),
            container: None,
        }),
        ..Default::default()
    }
    .encode_to_vec();
    let mut output = TcpStream::connect(cluster.addr).await.unwrap();
    let head = format!(
        "POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: {PROTOBUF}\r\nAccept: {RECORDIO}\r\n\
         Message-Accept: {PROTOBUF}\r\nContent-Length: {}\r\n\r\n",
        session.len()
    );
    output.write_all(head.as_bytes()).await.unwrap();
    output.write_all(&session).await.unwrap();
    // The head comes once the container runs; its input may come then.
    let mut raw = Vec::new();
    let mut chunk = [0; 16 * 1024];
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(30), output.read(&mut chunk))
            .await
            .expect("no session head in time")
            .unwrap();
        assert!(n > 0, "closed before a head");
        raw.extend_from_slice(&chunk[..n]);
    }
    let reading = tokio::spawn(async move {
        loop {
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                if !raw.starts_with(b"HTTP/1.1 200") || dechunk(&raw[end + 4..]).1 {
                    return raw;
                }
            }
            let n = output.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return raw;
            }
            raw.extend_from_slice(&chunk[..n]);
        }
    });

    // Input records in protobuf: the container, data, EOF.
    let input_record = |input: AttachContainerInput| {
        let record = Call {
            r#type: Some(call::Type::AttachContainerInput as i32),
            attach_container_input: Some(input),
            ..Default::default()
        }
        .encode_to_vec();
        let framed = [format!("{}\n", record.len()).into_bytes(), record].concat();
        [
            format!("{:x}\r\n", framed.len()).into_bytes(),
            framed,
            b"\r\n".to_vec(),
        ]
        .concat()
    };
    let stdin = |bytes: &[u8]| AttachContainerInput {
        r#type: Some(attach_container_input::Type::ProcessIo as i32),
        container_id: None,
        process_io: Some(ProcessIo {
            r#type: Some(process_io::Type::Data as i32),
            data: Some(process_io::Data {
                r#type: Some(process_io::data::Type::Stdin as i32),
                data: Some(bytes.to_vec()),
            }),
            control: None,
        }),
    };
    {
        let mut socket = TcpStream::connect(cluster.addr).await.unwrap();
        let head = format!(
            "POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: {RECORDIO}\r\n\
             Message-Content-Type: {PROTOBUF}\r\nAccept: {JSON}\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        let first = input_record(AttachContainerInput {
            r#type: Some(attach_container_input::Type::ContainerId as i32),
            container_id: Some(id.clone()),
            process_io: None,
        });
        let request = [
            head.into_bytes(),
            first,
            input_record(stdin(b"proto-in")),
            input_record(stdin(b"")),
        ]
        .concat();
        socket.write_all(&request).await.unwrap();
        let (status, body) = Input { socket }.finish().await;
        assert_eq!(status, 200, "{body}");
    }

    let raw = tokio::time::timeout(Duration::from_secs(30), reading)
        .await
        .expect("the session did not end")
        .unwrap();
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("Content-Type: application/recordio\r\n"),
        "{head}"
    );
    assert!(
        head.contains("Message-Content-Type: application/x-protobuf\r\n"),
        "{head}"
    );
    let (body, complete) = dechunk(&raw[head_end..]);
    assert!(complete);
    let mut stdout = Vec::new();
    for record in mesos_proto::recordio::Decoder::default()
        .decode(&body)
        .unwrap()
    {
        let record = ProcessIo::decode(record.as_ref()).unwrap();
        if let Some(data) = record.data {
            assert_eq!(data.r#type(), process_io::data::Type::Stdout);
            stdout.extend(data.data.unwrap_or_default());
        }
    }
    assert_eq!(String::from_utf8_lossy(&stdout), "proto-in");
}

#[actix_rt::test]
async fn attach_to_a_running_tty_container_and_type_into_it() {
    if !require_switchboard() {
        return;
    }
    let cluster = launch("attach-tty").await;
    let parent = parent(&cluster).await;
    let id = nested(&parent, "shell");
    launch_tty_nested(cluster.addr, &id, "exec sh").await;
    let mut output = stream(
        cluster.addr,
        json!({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {"container_id": id}}),
    )
    .await;
    assert_eq!(output.status, 200, "{}", output.head);
    // Two attachers see the same output.
    let mut second = stream(
        cluster.addr,
        json!({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {"container_id": id}}),
    )
    .await;
    let mut input = Input::open(cluster.addr, id.clone()).await;
    input
        .control(
            json!({"type": "TTY_INFO", "tty_info": {"window_size": {"rows": 20, "columns": 90}}}),
        )
        .await;
    input
        .control(
            json!({"type": "HEARTBEAT", "heartbeat": {"interval": {"nanoseconds": 1000000000}}}),
        )
        .await;
    input.stdin(b"echo typed-$((40 + 2)); stty size\n").await;
    output.output_until("typed-42").await;
    second.output_until("20 90").await;
    // Beyond upstream: following the sandbox gets what was written before
    // (the switchboard copies it into `stdout`), then the rest.
    let mut followed = stream_with(
        cluster.addr,
        json!({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {"container_id": id}}),
        "Mesos-Follow-Sandbox: true\r\n",
    )
    .await;
    assert_eq!(followed.status, 200, "{}", followed.head);
    followed.output_until("typed-42").await;
    input.stdin(b"exit 7\n").await;
    let (status, body) = input.finish().await;
    assert_eq!(status, 200, "{body}");
    let wait = wait_nested(cluster.addr, id.clone()).await;
    assert_eq!(wait["exit_status"], 7 << 8, "{wait}");
    // The streams end with the container.
    output.output_until_end().await;
    let rest = followed.output_until_end().await;
    assert!(rest.contains("exit 7"), "{rest:?}");
}

#[actix_rt::test]
async fn attach_to_a_top_level_tty_command_task_and_type_into_it() {
    if !require_switchboard() {
        return;
    }
    // The command executor's container has the pty; the executor hands it
    // to the task (`--tty_slave_path`), which ends in an interactive `sh`.
    let cluster = launch_tty("task-tty").await;
    let container = json!({"value": parent(&cluster).await});
    let mut output = stream(
        cluster.addr,
        json!({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {"container_id": container}}),
    )
    .await;
    assert_eq!(output.status, 200, "{}", output.head);
    let mut input = Input::open(cluster.addr, container.clone()).await;
    input
        .control(
            json!({"type": "TTY_INFO", "tty_info": {"window_size": {"rows": 21, "columns": 81}}}),
        )
        .await;
    // The terminal echoes what is typed; the answers differ from it. The
    // shell's process group is the terminal's foreground one (`+`).
    input
        .stdin(
            b"echo typed-$((40 + 2)); stty size; tty; \
              case $(ps -o stat= -p $$) in *+*) echo fore-$((1))ground;; esac\n",
        )
        .await;
    let text = output.output_until("fore-1ground").await;
    assert!(text.contains("typed-42"), "{text:?}");
    assert!(text.contains("21 81"), "{text:?}");
    assert!(text.contains("/dev/pts/"), "{text:?}");
    // The task's output also lands in the sandbox's stdout, through the
    // switchboard.
    input.stdin(b"exit 3\n").await;
    let (status, body) = input.finish().await;
    assert_eq!(status, 200, "{body}");
    output.output_until_end().await;
    let stdout = get(
        cluster.addr,
        &format!("/files/read?path={}/stdout&offset=0", cluster.sandbox()),
    )
    .await
    .json();
    let stdout = stdout["data"].as_str().unwrap_or_default();
    assert!(stdout.contains("hello-sandbox"), "{stdout:?}");
    assert!(stdout.contains("typed-42"), "{stdout:?}");
}

#[actix_rt::test]
async fn a_session_container_dies_with_its_connection() {
    if !require_switchboard() {
        return;
    }
    let cluster = launch("session-drop").await;
    let parent = parent(&cluster).await;
    let id = nested(&parent, "exec-sleep");
    let session = stream(
        cluster.addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER_SESSION",
            "launch_nested_container_session": {
                "container_id": id,
                "command": {"value": "exec sleep 1007"}
            }
        }),
    )
    .await;
    assert_eq!(session.status, 200, "{}", session.head);
    let count = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("cmdline")).ok())
            .filter(|c| c == "sleep\x001007\x00")
            .count()
    };
    // The command runs once the launch helper has exec'd it.
    for _ in 0..250 {
        if count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count(), 1);
    drop(session);
    let wait = tokio::time::timeout(Duration::from_secs(20), wait_nested(cluster.addr, id))
        .await
        .expect("the session container outlived its connection");
    assert_eq!(wait["exit_status"], libc::SIGKILL, "{wait}");
    assert_eq!(count(), 0);
}

/// `KILL_NESTED_CONTAINER` of a running DEBUG session container: the
/// session's output stream ends, and `WAIT_NESTED_CONTAINER` reports it
/// killed by `SIGKILL` (upstream's default signal).
#[actix_rt::test]
async fn killing_a_session_container_ends_its_stream() {
    if !require_switchboard() {
        return;
    }
    let cluster = launch("session-kill").await;
    let parent = parent(&cluster).await;
    let id = nested(&parent, "exec-killed");
    let mut session = stream(
        cluster.addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER_SESSION",
            "launch_nested_container_session": {
                "container_id": id,
                "command": {"value": "echo started; exec sleep 1019"}
            }
        }),
    )
    .await;
    assert_eq!(session.status, 200, "{}", session.head);
    session.output_until("started\n").await;
    assert!(eventually(|| pids_of(&["sleep", "1019"]).len() == 1).await);
    let reply = call(
        cluster.addr,
        json!({"type": "KILL_NESTED_CONTAINER", "kill_nested_container": {"container_id": id}}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rest = tokio::time::timeout(Duration::from_secs(20), session.output_until_end())
        .await
        .expect("the session's stream outlived its container");
    assert_eq!(rest, "");
    let wait = wait_nested(cluster.addr, id).await;
    assert_eq!(wait["exit_status"], libc::SIGKILL, "{wait}");
    assert!(pids_of(&["sleep", "1019"]).is_empty());
}

/// Upstream `AgentAPITest.ROOT_CGROUPS_LaunchNestedContainerSessionsInParallel`
/// (disabled there, MESOS-9257): ten sessions launched at once under the
/// command task's container, in its pid namespace, each answering its own
/// output.
#[actix_rt::test]
async fn sessions_launched_in_parallel_each_stream_their_own_output() {
    if !require_switchboard() || !require_linux_launcher() {
        return;
    }
    let cluster = support::sandbox::launch_with_flags(
        "sessions-parallel",
        &[
            "--launcher=linux".into(),
            "--isolation=filesystem/linux,namespaces/pid".into(),
        ],
    )
    .await;
    let parent = parent(&cluster).await;
    let sessions = (0..10).map(|i| {
        let id = nested(&parent, &format!("parallel-{i}"));
        let addr = cluster.addr;
        async move {
            let mut session = stream(
                addr,
                json!({
                    "type": "LAUNCH_NESTED_CONTAINER_SESSION",
                    "launch_nested_container_session": {
                        "container_id": id,
                        "command": {"value": format!("echo echo-{i}")}
                    }
                }),
            )
            .await;
            assert_eq!(session.status, 200, "{}", session.head);
            (i, session.output_until_end().await)
        }
    });
    for (i, output) in futures::future::join_all(sessions).await {
        assert_eq!(output, format!("echo-{i}\n"));
        let wait = wait_nested(cluster.addr, nested(&parent, &format!("parallel-{i}"))).await;
        assert_eq!(wait["exit_status"], 0, "{wait}");
    }
}

/// Upstream `AgentAPITest.ROOT_CGROUPS_LaunchNestedContainerSessionKillTask`:
/// a session `sh` under a task group's task, told through an input stream
/// that stays open to kill the task's `sleep`. The task fails, its
/// containers are destroyed and the session's stream ends with no output.
#[actix_rt::test]
async fn a_session_that_kills_its_task_ends_with_the_task_failed() {
    use mesos_proto::mesos::{
        CommandInfo, FrameworkInfo, TaskGroupInfo, TaskId, TaskInfo, TaskState,
    };
    if !require_switchboard() || !require_linux_launcher() {
        return;
    }
    let master_runtime = support::runtime();
    let master = support::start_master(&master_runtime);
    let work_dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port);
    let _agent = AgentBinary::start(
        master.upid(),
        port,
        work_dir.path(),
        &[
            "--launcher=linux",
            "--isolation=filesystem/linux,namespaces/pid",
        ],
    );
    let mut framework = support::TestFramework::subscribe(
        &master_runtime,
        master.upid(),
        "scheduler-session-kill-task",
        FrameworkInfo {
            user: "root".into(),
            name: "session-kill-task".into(),
            ..Default::default()
        },
    )
    .await;
    let task_id = TaskId {
        value: "sleeper".into(),
    };
    framework.launch_group(
        "kill-task-executor",
        "cpus:0.1;mem:32;disk:10",
        TaskGroupInfo {
            tasks: vec![TaskInfo {
                name: "sleeper".into(),
                task_id: task_id.clone(),
                resources: mesos_proto::resources::Resources::parse("cpus:0.1;mem:32", "*")
                    .unwrap()
                    .to_vec(),
                command: Some(CommandInfo {
                    value: Some("sleep 1027".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        },
    );
    let log = || std::fs::read_to_string(work_dir.path().join("agent.log")).unwrap_or_default();
    let starting = framework.next_status().await;
    assert_eq!(starting.state(), TaskState::TaskStarting, "{starting:?}");
    let running = framework.next_status().await;
    assert_eq!(running.state(), TaskState::TaskRunning, "{running:?}");
    assert_eq!(running.task_id, task_id);
    // The task's own container, nested in its executor's.
    let task_container = running
        .container_status
        .as_ref()
        .and_then(|s| s.container_id.as_ref())
        .unwrap_or_else(|| panic!("no container id in {running:?}"));
    assert!(task_container.parent.is_some(), "{task_container:?}");
    let task_container = container_id_json(task_container);
    assert!(eventually(|| pids_of(&["sleep", "1027"]).len() == 1).await);

    let id = json!({"value": "kill-task-session", "parent": task_container});
    let mut session = stream(
        addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER_SESSION",
            "launch_nested_container_session": {
                "container_id": id,
                "command": {"value": "sh"}
            }
        }),
    )
    .await;
    assert_eq!(session.status, 200, "{}\n{}", session.head, log());
    // The input stream stays open, as a user's interactive session.
    let mut input = Input::open(addr, id.clone()).await;
    input.stdin(b"pkill -f 'sleep 1027'\n").await;
    let output = tokio::time::timeout(Duration::from_secs(30), session.output_until_end())
        .await
        .expect("the session outlived its task");
    assert_eq!(output, "");
    let failed = framework.next_status().await;
    assert_eq!(
        failed.state(),
        TaskState::TaskFailed,
        "{failed:?}\n{}",
        log()
    );
    assert_eq!(failed.task_id, task_id);
    assert!(pids_of(&["sleep", "1027"]).is_empty());
    drop(input);
}

#[actix_rt::test]
async fn attach_to_a_task_without_a_switchboard_fails_as_upstream_follows_when_asked_and_errors_are_4xx(
) {
    if !require_switchboard() {
        return;
    }
    let cluster = launch("follow").await;
    let parent = parent(&cluster).await;
    // Both attach calls need a switchboard; upstream's CLI recognises
    // this exact answer ("Unable to attach to a task launched without a
    // TTY").
    let disabled = "I/O switchboard server was disabled for this container";
    let output = stream(
        cluster.addr,
        json!({
            "type": "ATTACH_CONTAINER_OUTPUT",
            "attach_container_output": {"container_id": {"value": parent}}
        }),
    )
    .await;
    assert_eq!(output.status, 500, "{}", output.head);
    // Beyond upstream, asked for: the task's output followed from its
    // sandbox files.
    let mut followed = stream_with(
        cluster.addr,
        json!({
            "type": "ATTACH_CONTAINER_OUTPUT",
            "attach_container_output": {"container_id": {"value": parent}}
        }),
        "Mesos-Follow-Sandbox: true\r\n",
    )
    .await;
    assert_eq!(followed.status, 200, "{}", followed.head);
    followed.output_until("hello-sandbox\n").await;
    let mut input = Input::open(cluster.addr, json!({"value": parent})).await;
    let (status, body) = input.answer().await;
    assert_eq!((status, body.as_str()), (500, disabled));
    // Unknown containers.
    let mut input = Input::open(cluster.addr, json!({"value": "nope"})).await;
    let (status, body) = input.answer().await;
    assert_eq!(
        (status, body.as_str()),
        (404, "Container nope cannot be found")
    );
    let unknown = stream(
        cluster.addr,
        json!({
            "type": "ATTACH_CONTAINER_OUTPUT",
            "attach_container_output": {"container_id": {"value": "nope"}}
        }),
    )
    .await;
    assert_eq!(unknown.status, 404);
    // `Accept: application/json` is served too (upstream's Mesos 1.2
    // answer), so the same error comes back; input wants a streaming body.
    let reply = call(
        cluster.addr,
        json!({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {"container_id": {"value": parent}}}),
    )
    .await;
    assert_eq!((reply.status, reply.text().as_str()), (500, disabled));
    let reply = call(
        cluster.addr,
        json!({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input": {"type": "CONTAINER_ID", "container_id": {"value": parent}}}),
    )
    .await;
    assert_eq!(reply.status, 415, "{}", reply.text());
    // A malformed first record.
    let reply = request(
        cluster.addr,
        "POST",
        "/api/v1",
        &[
            ("Content-Type", RECORDIO),
            ("Message-Content-Type", JSON),
            ("Accept", JSON),
        ],
        b"5\n{bad}",
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
}

/// Upstream `AgentAPITest.AttachContainerInputValidation`: the first
/// record of an input stream must name the container; a first record
/// without its ID, or carrying `PROCESS_IO`, is a `400`.
#[actix_rt::test]
async fn an_input_stream_whose_first_record_names_no_container_is_a_bad_request() {
    if !require_switchboard() {
        return;
    }
    let cluster = launch("input-validation").await;
    let mut input = Input::open_empty(cluster.addr).await;
    input
        .send(json!({
            "type": "ATTACH_CONTAINER_INPUT",
            "attach_container_input": {"type": "CONTAINER_ID"}
        }))
        .await;
    let (status, body) = input.answer().await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.starts_with(
            "Failed to validate agent::Call: 'attach_container_input.container_id' is invalid"
        ),
        "{body}"
    );
    let mut input = Input::open_empty(cluster.addr).await;
    input.stdin(b"hello").await;
    let (status, body) = input.answer().await;
    assert_eq!(
        (status, body.as_str()),
        (
            400,
            "Expecting 'attach_container_input.type' to be CONTAINER_ID"
        )
    );
}

/// Beyond upstream: `Mesos-Follow-Sandbox` streams a container without a
/// switchboard live, output written after the client attached included,
/// and the stream ends when the container terminates.
#[actix_rt::test]
async fn following_a_task_without_a_switchboard_streams_later_output_until_it_ends() {
    if !require_switchboard() {
        return;
    }
    let cluster = launch("follow-live").await;
    let parent = parent(&cluster).await;
    let id = nested(&parent, "writer");
    // No TTY and not DEBUG: no switchboard, as upstream decides.
    let reply = call(
        cluster.addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER",
            "launch_nested_container": {
                "container_id": id,
                "command": {"value": "echo first; sleep 2; echo second >&2; sleep 1; echo third"}
            }
        }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let attach = json!({
        "type": "ATTACH_CONTAINER_OUTPUT",
        "attach_container_output": {"container_id": id}
    });
    let plain = stream(cluster.addr, attach.clone()).await;
    assert_eq!(plain.status, 500, "{}", plain.head);
    let mut followed = stream_with(cluster.addr, attach, "Mesos-Follow-Sandbox: true\r\n").await;
    assert_eq!(followed.status, 200, "{}", followed.head);
    assert!(followed.head.contains("Content-Type: application/recordio"));
    // Attached while the command sleeps: "first" is there, the rest is
    // written later.
    let early = followed.output_until("first\n").await;
    assert_eq!(early, "first\n");
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(record) = followed.next().await {
            match record["data"]["type"].as_str() {
                Some("STDOUT") => stdout.extend(data(&record)),
                Some("STDERR") => stderr.extend(data(&record)),
                _ => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived the container");
    assert_eq!(String::from_utf8_lossy(&stdout), "third\n");
    assert_eq!(String::from_utf8_lossy(&stderr), "second\n");
    let wait = wait_nested(cluster.addr, id).await;
    assert_eq!(wait["exit_status"], 0, "{wait}");
}

#[actix_rt::test]
async fn a_switchboard_that_dies_fails_its_container_with_io_switchboard_exited() {
    if !require_switchboard() {
        return;
    }
    let cluster = launch("switchboard-dies").await;
    let parent = parent(&cluster).await;
    let id = nested(&parent, "tty-sleeper");
    launch_tty_nested(cluster.addr, &id, "exec sleep 1010").await;
    // Checkpointed as upstream lays it out.
    let flags = get(cluster.addr, "/flags").await.json();
    let runtime_dir = std::path::PathBuf::from(flags["flags"]["runtime_dir"].as_str().unwrap());
    let checkpoint = runtime_dir
        .join("containers")
        .join(&parent)
        .join("containers/tty-sleeper/io_switchboard");
    let pid: i32 = std::fs::read_to_string(checkpoint.join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let socket = std::fs::read_to_string(checkpoint.join("socket")).unwrap();
    // Upstream's place, whatever `$TMPDIR` says.
    assert!(
        socket.trim().starts_with("/tmp/mesos-io-switchboard-"),
        "{socket}"
    );
    assert!(std::path::Path::new(socket.trim()).exists());
    // SAFETY: kills the switchboard server the test's agent started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    let wait = tokio::time::timeout(Duration::from_secs(20), wait_nested(cluster.addr, id))
        .await
        .expect("the container outlived its switchboard");
    assert_eq!(wait["reason"], "REASON_IO_SWITCHBOARD_EXITED", "{wait}");
    assert_eq!(wait["state"], "TASK_FAILED", "{wait}");
    assert!(
        !checkpoint.exists(),
        "the checkpoint is removed with the container"
    );
}

/// A pipe whose ends stay open across exec (for the server's flags).
fn inheritable_pipe() -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two new fds into the array we own.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    (fds[0], fds[1])
}

/// Upstream `IOSwitchboardServerTest` (`SendHeartbeat`, `AttachOutput`,
/// `AttachInput`, `RedirectLog`): the server binary alone, on pipes.
#[actix_rt::test]
async fn switchboard_server_alone_heartbeats_redirects_and_takes_input() {
    if !require_switchboard() {
        return;
    }
    use std::io::{Read as _, Write as _};
    use std::os::fd::{FromRawFd as _, IntoRawFd as _};
    let dir = tempfile::tempdir().unwrap();
    let (stdin_read, stdin_write) = inheritable_pipe();
    let (stdout_read, stdout_write) = inheritable_pipe();
    let (stderr_read, stderr_write) = inheritable_pipe();
    // Our ends must not leak into the server (it would never see EOF).
    for fd in [stdin_read, stdout_write, stderr_write] {
        // SAFETY: sets FD_CLOEXEC on an fd we own.
        let set = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        assert_eq!(set, 0);
    }
    let log = |name: &str| {
        let file = std::fs::File::create(dir.path().join(name)).unwrap();
        // SAFETY: dup of an fd we own; the copy has no CLOEXEC.
        let fd = unsafe { libc::dup(file.into_raw_fd()) };
        assert!(fd >= 0);
        fd
    };
    let (stdout_log, stderr_log) = (log("stdout"), log("stderr"));
    let socket = dir.path().join("socket");
    let mut server = std::process::Command::new(support::bin_dir().join("mesos-io-switchboard"))
        .args([
            "--tty=false".to_string(),
            format!("--stdin_to_fd={stdin_write}"),
            format!("--stdout_from_fd={stdout_read}"),
            format!("--stdout_to_fd={stdout_log}"),
            format!("--stderr_from_fd={stderr_read}"),
            format!("--stderr_to_fd={stderr_log}"),
            "--wait_for_connection=true".into(),
            format!("--socket_address={}", socket.display()),
            "--heartbeat_interval=50ms".into(),
        ])
        .spawn()
        .unwrap();
    // SAFETY: closes our copies of the server's ends.
    unsafe {
        for fd in [
            stdin_write,
            stdout_read,
            stderr_read,
            stdout_log,
            stderr_log,
        ] {
            libc::close(fd);
        }
    }
    // SAFETY: the fds are ours from here on.
    let (mut container_stdin, mut container_stdout, container_stderr) = unsafe {
        (
            std::fs::File::from_raw_fd(stdin_read),
            std::fs::File::from_raw_fd(stdout_write),
            std::fs::File::from_raw_fd(stderr_write),
        )
    };
    for _ in 0..500 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Output: heartbeats, then what the "container" writes.
    let mut output = tokio::net::UnixStream::connect(&socket).await.unwrap();
    let body = json!({
        "type": "ATTACH_CONTAINER_OUTPUT",
        "attach_container_output": {"container_id": {"value": "c"}}
    })
    .to_string();
    let head = format!(
        "POST / HTTP/1.1\r\nContent-Type: {JSON}\r\nAccept: {RECORDIO}\r\n\
         Message-Accept: {JSON}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    output.write_all(head.as_bytes()).await.unwrap();
    container_stdout.write_all(b"hello").unwrap();
    let mut seen = String::new();
    let mut raw = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(seen.contains("HEARTBEAT") && seen.contains(r#""type":"STDOUT""#)) {
        let mut chunk = [0; 4096];
        let n = tokio::time::timeout_at(deadline, output.read(&mut chunk))
            .await
            .expect("no heartbeat and output in time")
            .unwrap();
        assert!(n > 0, "{seen}");
        seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
        raw.extend_from_slice(&chunk[..n]);
    }
    assert!(seen.starts_with("HTTP/1.1 200 OK"), "{seen}");
    assert!(
        seen.contains("Content-Type: application/recordio"),
        "{seen}"
    );
    // "hello" in base64.
    assert!(seen.contains("aGVsbG8="), "{seen}");

    // Input: to the container's stdin, then EOF.
    let mut input = tokio::net::UnixStream::connect(&socket).await.unwrap();
    let records: Vec<String> = [
        json!({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input": {"type": "CONTAINER_ID", "container_id": {"value": "c"}}}),
        json!({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input": {"type": "PROCESS_IO", "process_io": {"type": "DATA", "data": {"type": "STDIN", "data": "YWJj"}}}}),
        json!({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input": {"type": "PROCESS_IO", "process_io": {"type": "DATA", "data": {"type": "STDIN", "data": ""}}}}),
    ]
    .iter()
    .map(|r| {
        let text = r.to_string();
        let framed = format!("{}\n{text}", text.len());
        format!("{:x}\r\n{framed}\r\n", framed.len())
    })
    .collect();
    let head = format!(
        "POST / HTTP/1.1\r\nContent-Type: {RECORDIO}\r\nMessage-Content-Type: {JSON}\r\n\
         Transfer-Encoding: chunked\r\n\r\n{}0\r\n\r\n",
        records.concat()
    );
    input.write_all(head.as_bytes()).await.unwrap();
    let mut answer = String::new();
    input.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let mut received = String::new();
    tokio::task::spawn_blocking(move || {
        container_stdin.read_to_string(&mut received).unwrap();
        received
    })
    .await
    .map(|received| assert_eq!(received, "abc"))
    .unwrap();

    // 1 MB on each of stdout and stderr (upstream `RedirectLog` writes a
    // large output too), read by the stream while it is written.
    let large_stdout: Vec<u8> = (0..1 << 20).map(|i| b'A' + (i % 23) as u8).collect();
    let large_stderr: Vec<u8> = (0..1 << 20).map(|i| b'a' + (i % 19) as u8).collect();
    let (out, err) = (large_stdout.clone(), large_stderr.clone());
    let writers = tokio::task::spawn_blocking(move || {
        let mut container_stderr = container_stderr;
        let stderr = std::thread::spawn(move || container_stderr.write_all(&err).unwrap());
        container_stdout.write_all(&out).unwrap();
        stderr.join().unwrap();
        // The output ends.
    });
    let mut rest = Vec::new();
    output.read_to_end(&mut rest).await.unwrap();
    writers.await.unwrap();
    raw.extend_from_slice(&rest);

    // The stream finished and the server exits 0, having copied the
    // output to the log files.
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let (body, complete) = dechunk(&raw[head_end..]);
    assert!(complete, "the stream did not finish");
    let mut streamed = (Vec::new(), Vec::new());
    for record in mesos_proto::recordio::Decoder::default()
        .decode(&body)
        .unwrap()
    {
        let record: Value = serde_json::from_slice(&record).unwrap();
        match record["data"]["type"].as_str() {
            Some("STDOUT") => streamed.0.extend(data(&record)),
            Some("STDERR") => streamed.1.extend(data(&record)),
            _ => {}
        }
    }
    let mut expected_stdout = b"hello".to_vec();
    expected_stdout.extend_from_slice(&large_stdout);
    assert!(streamed.0 == expected_stdout, "the streamed stdout differs");
    assert!(streamed.1 == large_stderr, "the streamed stderr differs");
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    assert!(std::fs::read(dir.path().join("stdout")).unwrap() == expected_stdout);
    assert!(std::fs::read(dir.path().join("stderr")).unwrap() == large_stderr);
    assert!(!socket.exists(), "the server removes its socket");
}

/// De-chunks a chunked body: its data, and whether its last chunk came.
fn dechunk(mut body: &[u8]) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    while let Some(line) = body.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return (data, true);
        }
        if body.len() < line + 2 + size + 2 {
            break;
        }
        data.extend_from_slice(&body[line + 2..line + 2 + size]);
        body = &body[line + 2 + size + 2..];
    }
    (data, false)
}

/// Whether the linux launcher can run here (root, cgroups); fails under
/// `CI=true` when it cannot.
fn require_linux_launcher() -> bool {
    if mesos_agent::flags::linux_launcher_available() {
        return true;
    }
    let why = "the linux launcher needs root and cgroups";
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{why}");
    }
    println!("SKIPPED: {why}");
    false
}

#[actix_rt::test]
async fn a_session_joins_its_parents_pid_namespace_sandbox_and_environment() {
    if !require_switchboard() || !require_linux_launcher() {
        return;
    }
    let cluster = support::sandbox::launch_with_flags(
        "session-ns",
        &[
            "--launcher=linux".into(),
            "--isolation=filesystem/linux,namespaces/pid".into(),
        ],
    )
    .await;
    let parent = parent(&cluster).await;
    let mut session = stream(
        cluster.addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER_SESSION",
            "launch_nested_container_session": {
                "container_id": nested(&parent, "exec-ns"),
                "command": {"value": "echo sandbox=$MESOS_SANDBOX; echo pwd=$(pwd); echo pid=$$; \
                    echo init=$(tr '\\0' ' ' < /proc/1/cmdline); \
                    for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done \
                    | grep -c '^sleep 60'"}
            }
        }),
    )
    .await;
    assert_eq!(session.status, 200, "{}", session.head);
    let output = session.output_until_end().await;
    let line = |key: &str| {
        output
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {output:?}"))
            .to_string()
    };
    // The parent's MESOS_SANDBOX and working directory, not a sandbox of
    // its own.
    let sandbox = line("sandbox=");
    assert!(sandbox.ends_with(&format!("/runs/{parent}")), "{output}");
    assert_eq!(line("pwd="), sandbox, "{output}");
    // Inside the task's pid namespace: the executor is pid 1, the shell
    // has a small pid, and the task's `sleep` is there to see.
    let pid: u32 = line("pid=").parse().unwrap();
    assert!(pid < 100, "{output}");
    assert!(line("init=").contains("mesos-executor"), "{output}");
    assert_eq!(output.lines().last(), Some("1"), "{output}");
    let wait = wait_nested(cluster.addr, nested(&parent, "exec-ns")).await;
    assert_eq!(wait["exit_status"], 0, "{wait}");
}

/// The pids whose command line is exactly `argv` (NUL-separated).
fn pids_of(argv: &[&str]) -> Vec<i32> {
    let wanted: String = argv.iter().map(|a| format!("{a}\0")).collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().parse().ok()?;
            let cmdline = std::fs::read_to_string(e.path().join("cmdline")).ok()?;
            (cmdline == wanted).then_some(pid)
        })
        .collect()
}

/// The first file under `root` (symbolic links not followed) whose path
/// ends with `suffix`.
fn find_path(root: &std::path::Path, suffix: &str) -> Option<std::path::PathBuf> {
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.ends_with(suffix) {
                return Some(path);
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
            }
        }
    }
    None
}

async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// Upstream's recovery of nested containers (`MesosContainerizerProcess::
/// recover` from the runtime directory): after the agent is killed and
/// started again, a task group's nested container still runs and its
/// default executor waits on it again (the kill reaches it and it ends
/// TASK_KILLED, not failed); a TTY container, whose attached client's
/// streams end with the agent, keeps its switchboard, which copies the
/// output written meanwhile to the sandbox, and is attached to and typed
/// into again through it; a DEBUG session container, whose connection
/// died with the agent, is destroyed.
#[actix_rt::test]
async fn nested_containers_survive_an_agent_restart_and_sessions_do_not() {
    use mesos_proto::mesos::{
        CommandInfo, FrameworkInfo, TaskGroupInfo, TaskId, TaskInfo, TaskState,
    };
    if !require_switchboard() {
        return;
    }
    let master_runtime = support::runtime();
    let master = support::start_master(&master_runtime);
    let work_dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port);
    let mut agent = AgentBinary::start(master.upid(), port, work_dir.path(), &[]);
    let mut framework = support::TestFramework::subscribe(
        &master_runtime,
        master.upid(),
        "scheduler-nested-recovery",
        FrameworkInfo {
            user: "root".into(),
            name: "nested-recovery".into(),
            checkpoint: Some(true),
            ..Default::default()
        },
    )
    .await;
    let task_id = TaskId {
        value: "grouped".into(),
    };
    framework.launch_group(
        "group-executor",
        "cpus:0.1;mem:32;disk:10",
        TaskGroupInfo {
            tasks: vec![TaskInfo {
                name: "grouped".into(),
                task_id: task_id.clone(),
                resources: mesos_proto::resources::Resources::parse("cpus:0.1;mem:32", "*")
                    .unwrap()
                    .to_vec(),
                command: Some(CommandInfo {
                    value: Some("exec sleep 1011".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        },
    );
    loop {
        let status = framework.next_status().await;
        assert!(!status.state().is_terminal(), "{status:?}");
        if status.state() == TaskState::TaskRunning {
            break;
        }
    }
    let containers = get(addr, "/containers").await.json();
    let executor = containers
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["executor_id"] == "group-executor")
        .unwrap_or_else(|| panic!("{containers}"))["container_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(eventually(|| pids_of(&["sleep", "1011"]).len() == 1).await);
    let task_pid = pids_of(&["sleep", "1011"])[0];

    // A TTY container and a DEBUG session under the executor's container.
    let shell = nested(&executor, "shell");
    launch_tty_nested(addr, &shell, "exec sh").await;
    // A client is attached to the TTY container when the agent dies; the
    // shell then waits for a file and writes once it is there.
    let mut attached = stream(
        addr,
        json!({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {"container_id": shell}}),
    )
    .await;
    assert_eq!(attached.status, 200, "{}", attached.head);
    let mut typing = Input::open(addr, shell.clone()).await;
    typing.stdin(b"echo before-$((1 + 1))\n").await;
    attached.output_until("before-2").await;
    let go = work_dir.path().join("go");
    typing
        .stdin(
            format!(
                "while [ ! -e {} ]; do sleep 0.05; done; echo down-$((40 + 2))\n",
                go.display()
            )
            .as_bytes(),
        )
        .await;
    attached.output_until("done;").await;
    let session = stream(
        addr,
        json!({
            "type": "LAUNCH_NESTED_CONTAINER_SESSION",
            "launch_nested_container_session": {
                "container_id": nested(&executor, "debug"),
                "command": {"value": "exec sleep 1013"}
            }
        }),
    )
    .await;
    assert_eq!(session.status, 200, "{}", session.head);
    assert!(eventually(|| pids_of(&["sleep", "1013"]).len() == 1).await);
    let checkpointed = work_dir
        .path()
        .join("runtime/containers")
        .join(&executor)
        .join("containers");
    assert!(checkpointed.join("shell/pid").exists());
    assert!(checkpointed.join("shell/config").exists());
    assert!(checkpointed
        .join("debug/force_destroy_on_recovery")
        .exists());
    let debug_switchboard: i32 =
        std::fs::read_to_string(checkpointed.join("debug/io_switchboard/pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();

    let shell_switchboard: i32 =
        std::fs::read_to_string(checkpointed.join("shell/io_switchboard/pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();

    // kill -9: everything the agent launched keeps running, the session's
    // container too (nobody is left to destroy it).
    agent.crash();
    drop(session);
    // The attached client's streams end with the agent.
    tokio::time::timeout(Duration::from_secs(10), async {
        while attached.next().await.is_some() {}
    })
    .await
    .expect("the output stream outlived the agent");
    assert_eq!(typing.answer().await, (0, String::new()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pids_of(&["sleep", "1011"]), vec![task_pid]);
    assert_eq!(pids_of(&["sleep", "1013"]).len(), 1);
    // The TTY container's switchboard outlives its clients and still
    // copies the output to the sandbox while no agent is there.
    assert!(std::path::Path::new(&format!("/proc/{shell_switchboard}")).exists());
    let shell_stdout = find_path(work_dir.path(), "containers/shell/stdout")
        .unwrap_or_else(|| panic!("no sandbox stdout of the shell"));
    std::fs::write(&go, b"").unwrap();
    assert!(
        eventually(|| std::fs::read_to_string(&shell_stdout)
            .unwrap_or_default()
            .contains("down-42"))
        .await,
        "{:?}",
        std::fs::read_to_string(&shell_stdout)
    );

    let _agent = AgentBinary::start(master.upid(), port, work_dir.path(), &[]);
    // The recovered agent destroys the DEBUG container; the task runs on.
    let log = || std::fs::read_to_string(work_dir.path().join("agent.log")).unwrap_or_default();
    assert!(
        eventually(|| pids_of(&["sleep", "1013"]).is_empty()).await,
        "the session container outlived the agent's restart: {}",
        log()
    );
    assert_eq!(pids_of(&["sleep", "1011"]), vec![task_pid]);
    // So is its orphaned switchboard server.
    assert!(
        eventually(|| !std::path::Path::new(&format!("/proc/{debug_switchboard}")).exists()).await,
        "the DEBUG container's switchboard outlived the recovery"
    );

    // The TTY container is attached to again (once the agent finished
    // recovering) and typed into: its input stream was freed when the
    // agent's connection broke.
    let mut output = loop {
        let output = stream(
            addr,
            json!({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {"container_id": shell}}),
        )
        .await;
        if output.status != 503 {
            break output;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(output.status, 200, "{}\n{}", output.head, log());
    let mut input = Input::open(addr, shell.clone()).await;
    input.stdin(b"echo after-$((40 + 3))\n").await;
    output.output_until("after-43").await;
    input.stdin(b"exit 5\n").await;
    let (status, body) = input.finish().await;
    assert_eq!(status, 200, "{body}");
    // Its exit status survived the restart (the helper checkpointed it).
    let wait = wait_nested(addr, shell.clone()).await;
    assert_eq!(wait["exit_status"], 5 << 8, "{wait}");

    // The default executor subscribed again and waits on its task: the
    // kill reaches it and the task ends killed.
    framework.kill(task_id);
    let statuses = framework.updates_until_terminal().await;
    let last = statuses.last().unwrap();
    assert_eq!(
        last.state(),
        TaskState::TaskKilled,
        "{statuses:?}\n{}",
        log()
    );
    assert!(eventually(|| pids_of(&["sleep", "1011"]).is_empty()).await);
}

/// Upstream `IOSwitchboardTest.ContainerAttachAfterSlaveRestart`: a
/// checkpointed top-level command task with a TTY is attached to (output
/// and input) after the agent is killed and started again, through its
/// recovered switchboard, and its command executor reports its end.
#[actix_rt::test]
async fn a_top_level_tty_task_is_attached_to_after_an_agent_restart() {
    use mesos_proto::mesos::container_info;
    use mesos_proto::mesos::{
        CommandInfo, ContainerInfo, FrameworkInfo, TaskId, TaskInfo, TaskState, TtyInfo,
    };
    if !require_switchboard() {
        return;
    }
    let master_runtime = support::runtime();
    let master = support::start_master(&master_runtime);
    let work_dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port);
    let mut agent = AgentBinary::start(master.upid(), port, work_dir.path(), &[]);
    let mut framework = support::TestFramework::subscribe(
        &master_runtime,
        master.upid(),
        "scheduler-tty-restart",
        FrameworkInfo {
            user: "root".into(),
            name: "tty-restart".into(),
            checkpoint: Some(true),
            ..Default::default()
        },
    )
    .await;
    framework.launch(vec![TaskInfo {
        name: "tty-task".into(),
        task_id: TaskId {
            value: "tty-task".into(),
        },
        resources: mesos_proto::resources::Resources::parse("cpus:0.1;mem:32", "*")
            .unwrap()
            .to_vec(),
        command: Some(CommandInfo {
            value: Some("exec sh".into()),
            ..Default::default()
        }),
        container: Some(ContainerInfo {
            r#type: container_info::Type::Mesos as i32,
            tty_info: Some(TtyInfo::default()),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    loop {
        let status = framework.next_status().await;
        assert!(!status.state().is_terminal(), "{status:?}");
        if status.state() == TaskState::TaskRunning {
            break;
        }
    }
    let containers = get(addr, "/containers").await.json();
    let container = json!({"value": containers[0]["container_id"].as_str().unwrap()});
    let attach = json!({
        "type": "ATTACH_CONTAINER_OUTPUT",
        "attach_container_output": {"container_id": container}
    });
    let mut output = stream(addr, attach.clone()).await;
    assert_eq!(output.status, 200, "{}", output.head);
    let mut input = Input::open(addr, container.clone()).await;
    input.stdin(b"echo before-$((2 + 2))\n").await;
    output.output_until("before-4").await;

    agent.crash();
    let _agent = AgentBinary::start(master.upid(), port, work_dir.path(), &[]);
    let log = || std::fs::read_to_string(work_dir.path().join("agent.log")).unwrap_or_default();
    while TcpStream::connect(addr).await.is_err() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut output = loop {
        let output = stream(addr, attach.clone()).await;
        if output.status != 503 {
            break output;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(output.status, 200, "{}\n{}", output.head, log());
    let mut input = Input::open(addr, container.clone()).await;
    input.stdin(b"echo after-$((40 + 4))\n").await;
    output.output_until("after-44").await;
    input.stdin(b"exit 3\n").await;
    let (status, body) = input.finish().await;
    assert_eq!(status, 200, "{body}");
    let statuses = framework.updates_until_terminal().await;
    let last = statuses.last().unwrap();
    assert_eq!(
        last.state(),
        TaskState::TaskFailed,
        "{statuses:?}\n{}",
        log()
    );
}

#[actix_rt::test]
async fn a_session_whose_client_leaves_during_the_launch_is_destroyed() {
    if !require_switchboard() {
        return;
    }
    let cluster = launch("session-early-leave").await;
    let parent = parent(&cluster).await;
    let id = nested(&parent, "exec-left");
    // The request goes out and the client leaves before any answer.
    let body = json!({
        "type": "LAUNCH_NESTED_CONTAINER_SESSION",
        "launch_nested_container_session": {
            "container_id": id,
            "command": {"value": "exec sleep 1041"}
        }
    })
    .to_string();
    let mut socket = TcpStream::connect(cluster.addr).await.unwrap();
    let head = format!(
        "POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON}\r\nAccept: {RECORDIO}\r\n\
         Message-Accept: {JSON}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    drop(socket);
    // The container is launched all the same, and destroyed once the
    // launch finds nobody to answer.
    let wait = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let reply = call(
                cluster.addr,
                json!({"type": "WAIT_NESTED_CONTAINER", "wait_nested_container": {"container_id": id}}),
            )
            .await;
            if reply.status == 200 {
                return reply.json()["wait_nested_container"].clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the session container outlived its client");
    assert_eq!(wait["exit_status"], libc::SIGKILL, "{wait}");
    assert!(pids_of(&["sleep", "1041"]).is_empty());
}

#[actix_rt::test]
async fn without_switchboard_servers_a_session_fails_with_a_clear_error() {
    if !require_switchboard() {
        return;
    }
    let cluster = support::sandbox::launch_with_flags(
        "no-server",
        &["--io_switchboard_enable_server=false".into()],
    )
    .await;
    let parent = parent(&cluster).await;
    let body = json!({
        "type": "LAUNCH_NESTED_CONTAINER_SESSION",
        "launch_nested_container_session": {
            "container_id": nested(&parent, "exec-off"),
            "command": {"value": "true"}
        }
    });
    let reply = request(
        cluster.addr,
        "POST",
        "/api/v1",
        &[
            ("Content-Type", JSON),
            ("Accept", RECORDIO),
            ("Message-Accept", JSON),
        ],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 500, "{}", reply.text());
    assert!(
        reply
            .text()
            .contains("--io_switchboard_enable_server=false"),
        "{}",
        reply.text()
    );
    // As after upstream's `LaunchNestedContainerSessionAttachFailure`, the
    // refused session's container is destroyed: its termination is all
    // that is left.
    let wait = wait_nested(cluster.addr, nested(&parent, "exec-off")).await;
    assert_eq!(wait["reason"], "REASON_CONTAINER_LAUNCH_FAILED", "{wait}");
    let containers = get(cluster.addr, "/containers").await.json();
    assert!(!containers.to_string().contains("exec-off"), "{containers}");
}
