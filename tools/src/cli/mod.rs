//! The `mesos` command (upstream's Python `src/cli_new/`, `mesos task
//! list|exec|attach|log`): finds a task's agent and container through the
//! master's `/master/state` and the agent's `/state`, then speaks only the
//! agent's v1 operator API (`LAUNCH_NESTED_CONTAINER_SESSION`,
//! `ATTACH_CONTAINER_INPUT`, `ATTACH_CONTAINER_OUTPUT`,
//! `WAIT_NESTED_CONTAINER`); plain `task log` reads the sandbox file
//! through `/files/read`.
//!
//! `task attach` takes the task's output, and with a terminal on both
//! sides our keys as its input; `^P ^Q` (upstream's sequence) detaches.
//! A task without a TTY cannot be attached to, as upstream says.
//!
//! Differences from upstream's tool: the task's container is its
//! executor's (a task of a task group is reached through its executor's
//! container, not its own nested one); `task log -f` follows the sandbox
//! file from its start until the task's container terminates, through
//! `ATTACH_CONTAINER_OUTPUT` with our agent's `Mesos-Follow-Sandbox: true`
//! (beyond upstream's API; upstream's tool has no `-f`);
//! detaching closes our input without sending an end of file (upstream's
//! tool sends one, which a shell on the terminal reads as `^D` and exits).

pub mod http;
pub mod term;

use std::io::Write as _;

use anyhow::{anyhow, bail, Context as _, Result};
use mesos_proto::mesos::agent::call::attach_container_input;
use mesos_proto::mesos::agent::process_io::{self, control, data};
use mesos_proto::mesos::agent::{call, Call, ProcessIo};
use mesos_proto::mesos::{ContainerId, TtyInfo};
use prost::Message as _;
use serde_json::{json, Value};

const JSON: &str = "application/json";
const PROTOBUF: &str = "application/x-protobuf";
const RECORDIO: &str = "application/recordio";

/// A task as the CLI finds it.
#[derive(Debug, Clone)]
pub struct TaskRef {
    /// The task id.
    pub id: String,
    /// The agent's `host:port`.
    pub agent: String,
    /// The agent process's id (`slave(1)`): its endpoints are under
    /// `/<id>/`, which also works when it shares its port with a master
    /// (`mesos-local`).
    pub agent_id: String,
    /// Its executor's container.
    pub container_id: String,
    /// Its executor's sandbox on the agent.
    pub directory: String,
}

fn get_json(address: &str, path: &str) -> Result<Value> {
    let mut response = http::request(address, "GET", path, &[("Accept", JSON)], b"")?;
    let body = response.body()?;
    if response.status != 200 {
        bail!(
            "GET {path} on {address} answered {}: {}",
            response.status,
            String::from_utf8_lossy(&body)
        );
    }
    serde_json::from_slice(&body).with_context(|| format!("bad JSON from {address}{path}"))
}

/// The master's tasks: (framework's tasks, their agents' addresses).
fn master_state(master: &str) -> Result<Value> {
    get_json(master, "/master/state")
}

/// `mesos task list`: the running and recent tasks.
pub fn task_list(master: &str, out: &mut dyn std::io::Write) -> Result<()> {
    let state = master_state(master)?;
    writeln!(out, "{:<38} {:<20} {:<16} AGENT", "ID", "NAME", "STATE")?;
    let hostname = |slave_id: &str| {
        state["slaves"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["id"] == slave_id)
            .and_then(|s| s["hostname"].as_str())
            .unwrap_or("?")
            .to_string()
    };
    for framework in state["frameworks"].as_array().into_iter().flatten() {
        for task in framework["tasks"].as_array().into_iter().flatten() {
            writeln!(
                out,
                "{:<38} {:<20} {:<16} {}",
                task["id"].as_str().unwrap_or_default(),
                task["name"].as_str().unwrap_or_default(),
                task["state"].as_str().unwrap_or_default(),
                hostname(task["slave_id"].as_str().unwrap_or_default()),
            )?;
        }
    }
    Ok(())
}

/// Finds `task` (its id, or a unique prefix of it) and its container.
pub fn find_task(master: &str, task: &str) -> Result<TaskRef> {
    let state = master_state(master)?;
    let mut found = Vec::new();
    for framework in state["frameworks"].as_array().into_iter().flatten() {
        for t in framework["tasks"].as_array().into_iter().flatten() {
            let id = t["id"].as_str().unwrap_or_default();
            if id == task || id.starts_with(task) {
                found.push((
                    id.to_string(),
                    t["slave_id"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    let exact: Vec<_> = found.iter().filter(|(id, _)| id == task).cloned().collect();
    let (id, slave_id) = match (exact.as_slice(), found.as_slice()) {
        ([one], _) | ([], [one]) => one.clone(),
        ([], []) => bail!("No task '{task}' is running"),
        _ => bail!("'{task}' names several tasks; give more of its id"),
    };
    let (agent_id, agent) = state["slaves"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"] == slave_id.as_str())
        .and_then(|s| s["pid"].as_str())
        .and_then(|pid| pid.split_once('@'))
        .map(|(id, address)| (id.to_string(), address.to_string()))
        .ok_or_else(|| anyhow!("the agent of task '{id}' is not known to the master"))?;
    let agent_state = get_json(&agent, &format!("/{agent_id}/state"))?;
    for framework in agent_state["frameworks"].as_array().into_iter().flatten() {
        for executor in framework["executors"].as_array().into_iter().flatten() {
            let has = ["tasks", "queued_tasks"].iter().any(|list| {
                executor[*list]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|t| t["id"] == id.as_str())
            });
            if has {
                return Ok(TaskRef {
                    id,
                    agent,
                    agent_id,
                    container_id: executor["container"].as_str().unwrap_or_default().into(),
                    directory: executor["directory"].as_str().unwrap_or_default().into(),
                });
            }
        }
    }
    bail!("task '{id}' is not running on its agent {agent}")
}

impl TaskRef {
    /// The agent's operator API.
    pub fn api(&self) -> String {
        format!("/{}/api/v1", self.agent_id)
    }
}

/// The JSON of a container id.
pub fn container_id_json(id: &ContainerId) -> Value {
    match &id.parent {
        Some(parent) => json!({"value": id.value, "parent": container_id_json(parent)}),
        None => json!({"value": id.value}),
    }
}

/// The `ContainerID` of its string form (`parent.child`).
pub fn parse_container_id(id: &str) -> ContainerId {
    match id.rsplit_once('.') {
        Some((parent, value)) => ContainerId {
            value: value.into(),
            parent: Some(Box::new(parse_container_id(parent))),
        },
        None => ContainerId {
            value: id.into(),
            parent: None,
        },
    }
}

/// Posts a JSON call asking for a RecordIO stream of protobuf records.
fn open_output(task: &TaskRef, call: &Value) -> Result<http::Response> {
    open_output_with(task, call, &[])
}

/// [`open_output`] with more request headers.
fn open_output_with(
    task: &TaskRef,
    call: &Value,
    extra_headers: &[(&str, &str)],
) -> Result<http::Response> {
    let body = call.to_string();
    let mut headers = vec![
        ("Content-Type", JSON),
        ("Accept", RECORDIO),
        ("Message-Accept", PROTOBUF),
    ];
    headers.extend_from_slice(extra_headers);
    let mut response = http::request(&task.agent, "POST", &task.api(), &headers, body.as_bytes())?;
    if response.status != 200 {
        let text = response.text().unwrap_or_default();
        bail!("the agent answered {}: {}", response.status, text.trim());
    }
    Ok(response)
}

/// Copies an output stream to `stdout`/`stderr` until it ends.
fn pump_output(
    response: &mut http::Response,
    stdout: &mut dyn std::io::Write,
    stderr: &mut dyn std::io::Write,
) -> Result<()> {
    let mut decoder = mesos_proto::recordio::Decoder::default();
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        let n = response.read_some(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        for record in decoder.decode(&buffer[..n])? {
            let io = ProcessIo::decode(record.as_ref())?;
            if io.r#type() != process_io::Type::Data {
                continue;
            }
            let data = io.data.unwrap_or_default();
            let kind = data.r#type();
            let bytes = data.data.unwrap_or_default();
            match kind {
                data::Type::Stderr => {
                    stderr.write_all(&bytes)?;
                    stderr.flush()?;
                }
                _ => {
                    stdout.write_all(&bytes)?;
                    stdout.flush()?;
                }
            }
        }
    }
}

fn input_record(process_io: ProcessIo) -> Vec<u8> {
    let call = Call {
        r#type: Some(call::Type::AttachContainerInput as i32),
        attach_container_input: Some(call::AttachContainerInput {
            r#type: Some(attach_container_input::Type::ProcessIo as i32),
            container_id: None,
            process_io: Some(process_io),
        }),
        ..Default::default()
    };
    mesos_proto::recordio::encode(&call.encode_to_vec()).to_vec()
}

fn stdin_record(bytes: &[u8]) -> Vec<u8> {
    input_record(ProcessIo {
        r#type: Some(process_io::Type::Data as i32),
        data: Some(process_io::Data {
            r#type: Some(data::Type::Stdin as i32),
            data: Some(bytes.to_vec()),
        }),
        control: None,
    })
}

fn window_record(rows: u16, columns: u16) -> Vec<u8> {
    input_record(ProcessIo {
        r#type: Some(process_io::Type::Control as i32),
        data: None,
        control: Some(process_io::Control {
            r#type: Some(control::Type::TtyInfo as i32),
            tty_info: Some(TtyInfo {
                window_size: Some(mesos_proto::mesos::tty_info::WindowSize {
                    rows: u32::from(rows),
                    columns: u32::from(columns),
                }),
            }),
            heartbeat: None,
        }),
    })
}

/// The keys that detach `task attach` from the task: `^P ^Q`, as
/// upstream's tool.
pub const DETACH_KEYS: &[u8] = b"\x10\x11";

/// Finds [`DETACH_KEYS`] in what is typed, across reads.
#[derive(Debug, Default)]
pub struct DetachKeys {
    /// How much of the sequence ended the previous read (not sent yet).
    held: usize,
}

impl DetachKeys {
    /// Returns what of `input` to send on, and whether the sequence was
    /// typed (what follows it is dropped).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len() + self.held);
        for &byte in input {
            if byte == DETACH_KEYS[self.held] {
                self.held += 1;
                if self.held == DETACH_KEYS.len() {
                    return (out, true);
                }
                continue;
            }
            // A partial sequence that did not go on is plain input.
            out.extend_from_slice(&DETACH_KEYS[..self.held]);
            self.held = 0;
            if byte == DETACH_KEYS[0] {
                self.held = 1;
            } else {
                out.push(byte);
            }
        }
        (out, false)
    }
}

/// What happens when the detach keys are typed.
type OnDetach = Box<dyn FnOnce() + Send>;

/// Streams our stdin to the container (on a thread of its own) until EOF,
/// or, with `on_detach`, until [`DETACH_KEYS`] are typed (the stream then
/// ends without an EOF and `on_detach` runs); returns the agent's answer.
fn attach_input(
    task: &TaskRef,
    container_id: &ContainerId,
    tty: bool,
    input: Box<dyn std::io::Read + Send>,
    on_detach: Option<OnDetach>,
) -> Result<std::thread::JoinHandle<Result<()>>> {
    let mut request = http::StreamingRequest::post(
        &task.agent,
        &task.api(),
        &[
            ("Content-Type", RECORDIO),
            ("Message-Content-Type", PROTOBUF),
            ("Accept", JSON),
        ],
    )?;
    let first = Call {
        r#type: Some(call::Type::AttachContainerInput as i32),
        attach_container_input: Some(call::AttachContainerInput {
            r#type: Some(attach_container_input::Type::ContainerId as i32),
            container_id: Some(container_id.clone()),
            process_io: None,
        }),
        ..Default::default()
    };
    request.send(&mesos_proto::recordio::encode(&first.encode_to_vec()))?;
    if tty {
        if let Some((rows, columns)) = term::window_size() {
            request.send(&window_record(rows, columns))?;
        }
    }
    Ok(std::thread::spawn(move || {
        let mut input = input;
        let mut buffer = [0_u8; 4096];
        let mut keys = DetachKeys::default();
        let mut on_detach = on_detach;
        loop {
            let n = match input.read(&mut buffer) {
                Ok(n) => n,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error.into()),
            };
            if n == 0 {
                // EOF: an empty record (the switchboard sends ^D on a TTY).
                request.send(&stdin_record(b""))?;
                break;
            }
            if on_detach.is_none() {
                request.send(&stdin_record(&buffer[..n]))?;
                continue;
            }
            let (typed, detached) = keys.feed(&buffer[..n]);
            // (An empty record would be an EOF.)
            if !typed.is_empty() {
                request.send(&stdin_record(&typed))?;
            }
            if detached {
                let _ = request.finish();
                if let Some(on_detach) = on_detach.take() {
                    on_detach();
                }
                return Ok(());
            }
        }
        let mut response = request.finish()?;
        let text = response.text().unwrap_or_default();
        if response.status != 200 {
            bail!("input stream answered {}: {}", response.status, text.trim());
        }
        Ok(())
    }))
}

/// Waits for a nested container (`WAIT_NESTED_CONTAINER`); returns its
/// exit code as a shell reports it (128 + signal when killed).
pub fn wait_status(task: &TaskRef, container_id: &ContainerId) -> Result<i32> {
    let call = json!({
        "type": "WAIT_NESTED_CONTAINER",
        "wait_nested_container": {"container_id": container_id_json(container_id)}
    });
    let mut response = http::request(
        &task.agent,
        "POST",
        &task.api(),
        &[("Content-Type", JSON), ("Accept", JSON)],
        call.to_string().as_bytes(),
    )?;
    let body = response.body()?;
    if response.status != 200 {
        bail!("WAIT_NESTED_CONTAINER answered {}", response.status);
    }
    let value: Value = serde_json::from_slice(&body)?;
    let status = value["wait_nested_container"]["exit_status"]
        .as_i64()
        .unwrap_or(0);
    let status = i32::try_from(status).unwrap_or(1);
    Ok(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    })
}

/// `mesos task exec [-i] [-t] TASK -- CMD...`: runs `command` in a DEBUG
/// container nested in the task's; returns its exit code.
pub fn task_exec(
    master: &str,
    task: &str,
    interactive: bool,
    tty: bool,
    command: &[String],
) -> Result<i32> {
    let Some(program) = command.first() else {
        bail!("Give the command to run after the task: mesos task exec TASK -- CMD...");
    };
    let task = find_task(master, task)?;
    let container_id = ContainerId {
        value: uuid::Uuid::new_v4().to_string(),
        parent: Some(Box::new(parse_container_id(&task.container_id))),
    };
    let mut session = json!({
        "container_id": container_id_json(&container_id),
        "command": {"shell": false, "value": program, "arguments": command},
    });
    if tty {
        let mut tty_info = json!({});
        if let Some((rows, columns)) = term::window_size() {
            tty_info = json!({"window_size": {"rows": rows, "columns": columns}});
        }
        session["container"] = json!({"type": "MESOS", "tty_info": tty_info});
    }
    let call = json!({
        "type": "LAUNCH_NESTED_CONTAINER_SESSION",
        "launch_nested_container_session": session,
    });
    let mut output = open_output(&task, &call)?;
    let _raw = if tty && interactive {
        term::RawMode::enter()
    } else {
        None
    };
    let input = if interactive {
        Some(attach_input(
            &task,
            &container_id,
            tty,
            Box::new(std::io::stdin()),
            None,
        )?)
    } else {
        None
    };
    pump_output(&mut output, &mut std::io::stdout(), &mut std::io::stderr())?;
    drop(_raw);
    // The input thread may still block on our stdin; its answer does not
    // matter once the command is gone.
    drop(input);
    wait_status(&task, &container_id)
}

/// The agent's answer for a container without an IO switchboard
/// (upstream's words).
const SWITCHBOARD_DISABLED: &str = "I/O switchboard server was disabled for this container";

/// `mesos task attach TASK`: the task's output, and our stdin as its
/// input; with a terminal here, raw keys until [`DETACH_KEYS`].
pub fn task_attach(master: &str, task: &str) -> Result<i32> {
    let task = find_task(master, task)?;
    let container_id = parse_container_id(&task.container_id);
    let call = json!({
        "type": "ATTACH_CONTAINER_OUTPUT",
        "attach_container_output": {"container_id": container_id_json(&container_id)}
    });
    let mut output = match open_output(&task, &call) {
        Ok(output) => output,
        Err(error) if error.to_string().ends_with(SWITCHBOARD_DISABLED) => {
            bail!("Unable to attach to a task launched without a TTY")
        }
        Err(error) => return Err(error),
    };
    let local_tty = term::is_tty(0);
    let raw = if local_tty {
        term::RawMode::enter()
    } else {
        None
    };
    let detached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let on_detach: Option<OnDetach> = if raw.is_some() {
        let connection = output.connection()?;
        let detached = detached.clone();
        Some(Box::new(move || {
            detached.store(true, std::sync::atomic::Ordering::SeqCst);
            // Ends the output stream the main thread reads.
            let _ = connection.shutdown(std::net::Shutdown::Both);
        }))
    } else {
        None
    };
    let _input = attach_input(
        &task,
        &container_id,
        local_tty,
        Box::new(std::io::stdin()),
        on_detach,
    )
    .ok();
    let pumped = pump_output(&mut output, &mut std::io::stdout(), &mut std::io::stderr());
    drop(raw);
    if detached.load(std::sync::atomic::Ordering::SeqCst) {
        // The cursor was wherever the task left it.
        println!();
        return Ok(0);
    }
    pumped?;
    Ok(0)
}

/// The request header that asks our agent's `ATTACH_CONTAINER_OUTPUT` to
/// follow the container's sandbox files (beyond upstream).
const FOLLOW_SANDBOX: &str = "Mesos-Follow-Sandbox";

/// `mesos task log [-f] TASK [stdout|stderr]`: the sandbox file, whole;
/// with `-f`, followed until the task's container terminates.
pub fn task_log(master: &str, task: &str, follow: bool, file: &str) -> Result<()> {
    if !["stdout", "stderr"].contains(&file) {
        bail!("Unknown file '{file}': give stdout or stderr");
    }
    let task = find_task(master, task)?;
    if follow {
        return follow_log(&task, file);
    }
    read_log(&task, file)
}

/// Follows the task's sandbox `file` through `ATTACH_CONTAINER_OUTPUT`
/// with [`FOLLOW_SANDBOX`]: the file from its start, then what the task
/// writes, until its container terminates.
fn follow_log(task: &TaskRef, file: &str) -> Result<()> {
    let container_id = parse_container_id(&task.container_id);
    let call = json!({
        "type": "ATTACH_CONTAINER_OUTPUT",
        "attach_container_output": {"container_id": container_id_json(&container_id)}
    });
    let mut output = open_output_with(task, &call, &[(FOLLOW_SANDBOX, "true")])?;
    let mut stdout = std::io::stdout();
    let mut other = std::io::sink();
    if file == "stderr" {
        pump_output(&mut output, &mut other, &mut stdout)
    } else {
        pump_output(&mut output, &mut stdout, &mut other)
    }
}

/// Prints the task's sandbox `file` as it is now, through `/files/read`.
fn read_log(task: &TaskRef, file: &str) -> Result<()> {
    let path = format!("{}/{file}", task.directory);
    let mut offset = 0_u64;
    let mut stdout = std::io::stdout();
    loop {
        let target = format!(
            "/files/read?path={}&offset={offset}&length={}",
            encode(&path),
            1 << 20
        );
        let value = get_json(&task.agent, &target)?;
        let data = value["data"].as_str().unwrap_or_default();
        if data.is_empty() {
            return Ok(());
        }
        stdout.write_all(data.as_bytes())?;
        stdout.flush()?;
        offset += data.len() as u64;
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_are_found_across_reads_and_partial_ones_pass_through() {
        let mut keys = DetachKeys::default();
        assert_eq!(keys.feed(b"ls\r"), (b"ls\r".to_vec(), false));
        assert_eq!(keys.feed(b"a\x10"), (b"a".to_vec(), false));
        assert_eq!(keys.feed(b"\x11after"), (vec![], true));

        let mut keys = DetachKeys::default();
        assert_eq!(keys.feed(b"\x10x"), (b"\x10x".to_vec(), false));
        assert_eq!(keys.feed(b"\x10\x10\x11"), (b"\x10".to_vec(), true));
    }
}
