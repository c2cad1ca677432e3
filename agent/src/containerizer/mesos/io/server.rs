//! The `mesos-io-switchboard` server (upstream `IOSwitchboardServer` in
//! `src/slave/containerizer/mesos/io/switchboard.cpp`): a process beside
//! the container that owns the container's stdio (pipes, or the master of
//! its pty) and serves HTTP on a unix socket, for the agent to relay the
//! attach calls to.
//!
//! - Output read from `--stdout_from_fd`/`--stderr_from_fd` is written to
//!   `--stdout_to_fd`/`--stderr_to_fd` (the sandbox files) and copied to
//!   every attached output stream as `ProcessIO` DATA records. With
//!   `--wait_for_connection`, nothing is read before the first output
//!   stream attaches (so a session loses no output).
//! - `POST /` with a JSON or protobuf `agent.Call` of type
//!   `ATTACH_CONTAINER_OUTPUT` answers a chunked RecordIO stream (the
//!   record type from `Message-Accept`), with a HEARTBEAT control record
//!   every `--heartbeat_interval`; several streams may attach.
//! - `POST /` with `Content-Type: application/recordio` is the input
//!   stream: `agent.Call` records (`Message-Content-Type`), the first
//!   naming the container, the rest carrying `ProcessIO`: STDIN data is
//!   written to `--stdin_to_fd` (empty data: EOF, which closes the pipe, or
//!   sends `^D` on a TTY), TTY_INFO resizes the pty, HEARTBEATs are
//!   ignored. One input stream at a time (`409 Conflict` for another); it
//!   is answered `200 OK` when it ends.
//! - When the container's output ends (EOF, or `EIO` on a pty whose slave
//!   side is closed), the output streams are finished and the server
//!   exits.

use std::io::{Read as _, Write as _};
use std::os::fd::{FromRawFd as _, RawFd};
use std::os::unix::fs::FileTypeExt as _;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use libprocess::http::{self, Body, Response};
use libprocess::transport::decoder::{BodyPiece, Decoded, RequestDecoder};
use mesos_proto::mesos::agent::call::attach_container_input;
use mesos_proto::mesos::agent::process_io::{self, control, data};
use mesos_proto::mesos::agent::{call, Call, ProcessIo};
use mesos_proto::mesos::DurationInfo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use super::{deserialize, is_json, serialize, MESSAGE_ACCEPT, MESSAGE_CONTENT_TYPE, RECORDIO};

/// The server's flags (upstream `IOSwitchboardServerFlags`).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "mesos-io-switchboard", rename_all = "snake_case")]
pub struct ServerFlags {
    /// Whether the fds are the master side of the container's pty.
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false",
          value_parser = libprocess::flags::parse_bool_flag)]
    pub tty: bool,
    /// Where input for the container's stdin is written.
    #[arg(long, default_value_t = 0)]
    pub stdin_to_fd: RawFd,
    /// Where the container's stdout is read.
    #[arg(long, default_value_t = 1)]
    pub stdout_from_fd: RawFd,
    /// Where stdout is copied to (the sandbox's `stdout`).
    #[arg(long, default_value_t = 1)]
    pub stdout_to_fd: RawFd,
    /// Where the container's stderr is read (ignored with `--tty`).
    #[arg(long, default_value_t = 2)]
    pub stderr_from_fd: RawFd,
    /// Where stderr is copied to (the sandbox's `stderr`).
    #[arg(long, default_value_t = 2)]
    pub stderr_to_fd: RawFd,
    /// Read no output before the first output stream attaches.
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false",
          value_parser = libprocess::flags::parse_bool_flag)]
    pub wait_for_connection: bool,
    /// The unix socket to serve on.
    #[arg(long)]
    pub socket_address: PathBuf,
    /// How often output streams carry a HEARTBEAT record (Mesos units,
    /// e.g. `30secs`); none when unset.
    #[arg(long, value_parser = libprocess::flags::parse_duration)]
    pub heartbeat_interval: Option<Duration>,
}

/// What the output readers report.
#[derive(Debug)]
enum Output {
    Data(data::Type, Bytes),
    /// One output fd reached its end.
    End,
}

/// The shared state of the server.
struct Shared {
    flags: ServerFlags,
    /// Attached output streams.
    outputs: Mutex<Vec<mpsc::UnboundedSender<ProcessIo>>>,
    /// Whether all output was read (streams attaching later get nothing).
    finished: Mutex<bool>,
    /// Output streams still sending (they finish once the senders in
    /// `outputs` are dropped).
    active_outputs: std::sync::atomic::AtomicUsize,
    /// Input streams not answered yet.
    active_inputs: std::sync::atomic::AtomicUsize,
    /// Woken when the output has ended (`finished`).
    done: tokio::sync::Notify,
    /// Whether an input stream is attached.
    input_connected: Mutex<bool>,
    /// Released at the first output connection (`--wait_for_connection`).
    start: (Mutex<bool>, Condvar),
    /// Input for the container's stdin (`None` after EOF).
    stdin: Mutex<Option<std::fs::File>>,
}

/// Runs the server until the container's output ends; returns the exit
/// code.
pub fn run(flags: ServerFlags) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("Failed to start the I/O switchboard: {error}");
            return 1;
        }
    };
    match runtime.block_on(serve(flags)) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("I/O switchboard failed: {error}");
            1
        }
    }
}

/// Listens on the unix socket `path`, which appears only once it accepts
/// connections: the agent waits for the file and then connects, and a
/// socket bound but not yet listening refuses them (seen under load).
fn listen(path: &std::path::Path) -> Result<UnixListener, String> {
    let mut staging = path.as_os_str().to_owned();
    staging.push(".new");
    let staging = PathBuf::from(staging);
    let _ = std::fs::remove_file(&staging);
    let listener = UnixListener::bind(&staging)
        .map_err(|e| format!("failed to bind '{}': {e}", staging.display()))?;
    std::fs::rename(&staging, path).map_err(|e| {
        let _ = std::fs::remove_file(&staging);
        format!(
            "failed to move '{}' to '{}': {e}",
            staging.display(),
            path.display()
        )
    })?;
    Ok(listener)
}

async fn serve(flags: ServerFlags) -> Result<(), String> {
    // A stale socket file of an earlier server is replaced.
    if std::fs::symlink_metadata(&flags.socket_address).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(&flags.socket_address);
    }
    let listener = listen(&flags.socket_address)?;
    // SAFETY: the fd was handed to this process for stdin and is owned by
    // nothing else in it.
    let stdin = unsafe { std::fs::File::from_raw_fd(flags.stdin_to_fd) };
    let shared = Arc::new(Shared {
        outputs: Mutex::new(Vec::new()),
        finished: Mutex::new(false),
        active_outputs: std::sync::atomic::AtomicUsize::new(0),
        active_inputs: std::sync::atomic::AtomicUsize::new(0),
        done: tokio::sync::Notify::new(),
        input_connected: Mutex::new(false),
        start: (Mutex::new(!flags.wait_for_connection), Condvar::new()),
        stdin: Mutex::new(Some(stdin)),
        flags,
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut readers = 1;
    spawn_reader(
        shared.clone(),
        data::Type::Stdout,
        shared.flags.stdout_from_fd,
        shared.flags.stdout_to_fd,
        tx.clone(),
    );
    if !shared.flags.tty {
        readers += 1;
        spawn_reader(
            shared.clone(),
            data::Type::Stderr,
            shared.flags.stderr_from_fd,
            shared.flags.stderr_to_fd,
            tx.clone(),
        );
    }
    drop(tx);
    let accept = {
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(connection(shared.clone(), stream));
                    }
                    Err(error) => {
                        eprintln!("Failed to accept a connection: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        })
    };
    if let Some(interval) = shared.flags.heartbeat_interval.filter(|i| !i.is_zero()) {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                broadcast(&shared, heartbeat(interval));
            }
        });
    }
    while readers > 0 {
        match rx.recv().await {
            Some(Output::Data(kind, bytes)) => broadcast(
                &shared,
                ProcessIo {
                    r#type: Some(process_io::Type::Data as i32),
                    data: Some(process_io::Data {
                        r#type: Some(kind as i32),
                        data: Some(bytes.to_vec()),
                    }),
                    control: None,
                },
            ),
            Some(Output::End) => readers -= 1,
            None => break,
        }
    }
    // Every stream ends; the server goes once they have flushed (dropping
    // the senders ends them) or after a grace period.
    *lock(&shared.finished) = true;
    drop(std::mem::take(&mut *lock(&shared.outputs)));
    // An input stream still open got its `200` (it ends with the
    // container): the server stays until that answer is written, so the
    // agent never sees the connection drop instead (upstream waits for
    // the agent's `/acknowledge_container_input_response`).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let active = |count: &std::sync::atomic::AtomicUsize| {
        count.load(std::sync::atomic::Ordering::SeqCst) > 0
    };
    while (active(&shared.active_outputs) || active(&shared.active_inputs))
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    accept.abort();
    let _ = std::fs::remove_file(&shared.flags.socket_address);
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn heartbeat(interval: Duration) -> ProcessIo {
    ProcessIo {
        r#type: Some(process_io::Type::Control as i32),
        data: None,
        control: Some(process_io::Control {
            r#type: Some(control::Type::Heartbeat as i32),
            tty_info: None,
            heartbeat: Some(control::Heartbeat {
                interval: Some(DurationInfo {
                    nanoseconds: i64::try_from(interval.as_nanos()).unwrap_or(i64::MAX),
                }),
            }),
        }),
    }
}

fn broadcast(shared: &Shared, record: ProcessIo) {
    lock(&shared.outputs).retain(|output| output.send(record.clone()).is_ok());
}

/// Reads `from` on a thread of its own (blocking reads of a pipe or pty),
/// copying to `to` and to the streams.
fn spawn_reader(
    shared: Arc<Shared>,
    kind: data::Type,
    from: RawFd,
    to: RawFd,
    tx: mpsc::UnboundedSender<Output>,
) {
    std::thread::spawn(move || {
        {
            let (started, condvar) = &shared.start;
            let mut started = lock(started);
            while !*started {
                started = condvar.wait(started).unwrap_or_else(|p| p.into_inner());
            }
        }
        // SAFETY: both fds were handed to this process for this stream;
        // `ManuallyDrop` keeps them open for the other stream when they
        // are the same (the pty master).
        let mut input = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(from) });
        // SAFETY: as above.
        let mut output = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(to) });
        let mut buffer = vec![0_u8; 64 * 1024];
        loop {
            match input.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    let _ = output.write_all(&buffer[..n]);
                    let _ = tx.send(Output::Data(kind, Bytes::copy_from_slice(&buffer[..n])));
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                // EIO: the pty's slave side is closed everywhere.
                Err(_) => break,
            }
        }
        let _ = tx.send(Output::End);
    });
}

/// Serves one connection: one request (the agent opens one per call).
async fn connection(shared: Arc<Shared>, mut stream: UnixStream) {
    let mut decoder = RequestDecoder::default();
    let request = loop {
        match decoder.next_with(|_| true) {
            Ok(Some(Decoded::Streaming(request) | Decoded::Request(request))) => break request,
            Ok(None) => {}
            Err(error) => {
                let response = Response::bad_request(error.to_string());
                let _ = write_full(&mut stream, response).await;
                return;
            }
        }
        match stream.read_buf(decoder.buffer_mut()).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    };
    if request.method != "POST" {
        let response = Response::method_not_allowed(&["POST"], &request.method);
        let _ = write_full(&mut stream, response).await;
        return;
    }
    let content_type = request.header("Content-Type").unwrap_or_default();
    if content_type.trim().eq_ignore_ascii_case(RECORDIO) {
        let json = is_json(request.header(MESSAGE_CONTENT_TYPE).unwrap_or_default());
        shared
            .active_inputs
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let response = tokio::select! {
            response = input(&shared, &mut stream, &mut decoder, json) => response,
            () = finished(&shared) => {
                *lock(&shared.input_connected) = false;
                Response::status(200)
            }
        };
        let _ = write_full(&mut stream, response).await;
        shared
            .active_inputs
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        return;
    }
    let json = is_json(content_type);
    let body = match read_body(&mut stream, &mut decoder).await {
        Ok(body) => body,
        Err(error) => {
            let _ = write_full(&mut stream, Response::bad_request(error)).await;
            return;
        }
    };
    let call: Call = match deserialize(&body, json) {
        Ok(call) => call,
        Err(error) => {
            let _ = write_full(&mut stream, Response::bad_request(error)).await;
            return;
        }
    };
    if call.r#type() != call::Type::AttachContainerOutput {
        let response = Response::bad_request(format!(
            "Unsupported call {} (expecting ATTACH_CONTAINER_OUTPUT or a streaming \
             ATTACH_CONTAINER_INPUT)",
            call.r#type().as_str_name()
        ));
        let _ = write_full(&mut stream, response).await;
        return;
    }
    let accept_json = request
        .header(MESSAGE_ACCEPT)
        .is_none_or(|accept| accept.contains(mesos_proto::api::JSON) || accept.contains("*/*"));
    output(&shared, stream, accept_json).await;
}

/// Resolves once the container's output has ended.
async fn finished(shared: &Shared) {
    loop {
        let notified = shared.done.notified();
        if *lock(&shared.finished) {
            return;
        }
        notified.await;
    }
}

async fn read_body(stream: &mut UnixStream, decoder: &mut RequestDecoder) -> Result<Bytes, String> {
    let mut body = BytesMut::new();
    loop {
        match decoder.next_body().map_err(|e| e.to_string())? {
            Some(BodyPiece::Data(data)) => body.extend_from_slice(&data),
            Some(BodyPiece::End) => return Ok(body.freeze()),
            None => match stream.read_buf(decoder.buffer_mut()).await {
                Ok(0) | Err(_) => return Err("connection closed mid-body".into()),
                Ok(_) => {}
            },
        }
        if body.len() > 1 << 20 {
            return Err("request body too large".into());
        }
    }
}

async fn write_full(stream: &mut UnixStream, response: Response) -> std::io::Result<()> {
    let mut out = BytesMut::new();
    http::encode_head(&mut out, &response, false);
    if let Some(body) = response.body_bytes() {
        out.extend_from_slice(body);
    }
    stream.write_all(&out).await?;
    stream.shutdown().await
}

/// An output stream: chunked RecordIO until the output ends or the
/// client goes.
async fn output(shared: &Shared, stream: UnixStream, json: bool) {
    shared
        .active_outputs
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    stream_output(shared, stream, json).await;
    shared
        .active_outputs
        .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
}

async fn stream_output(shared: &Shared, mut stream: UnixStream, json: bool) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    {
        let finished = lock(&shared.finished);
        if !*finished {
            lock(&shared.outputs).push(tx);
        }
    }
    {
        let (started, condvar) = &shared.start;
        *lock(started) = true;
        condvar.notify_all();
    }
    let (_keep, dummy) = mpsc::channel(1);
    let mut head = Response::status(200);
    head.headers.push(("Content-Type".into(), RECORDIO.into()));
    head.headers.push((
        MESSAGE_CONTENT_TYPE.into(),
        if json {
            mesos_proto::api::JSON
        } else {
            mesos_proto::api::PROTOBUF
        }
        .into(),
    ));
    head.body = Body::Stream(dummy);
    let mut out = BytesMut::new();
    http::encode_head(&mut out, &head, false);
    if stream.write_all(&out).await.is_err() {
        return;
    }
    let (mut reader, mut writer) = stream.split();
    let mut scratch = [0_u8; 512];
    loop {
        tokio::select! {
            record = rx.recv() => {
                let Some(record) = record else { break };
                // What queued up meanwhile goes out in the same chunk.
                let mut records = BytesMut::new();
                mesos_proto::recordio::encode_into(&serialize(&record, json), &mut records);
                while records.len() < 256 * 1024 {
                    let Ok(record) = rx.try_recv() else { break };
                    mesos_proto::recordio::encode_into(&serialize(&record, json), &mut records);
                }
                out.clear();
                http::encode_chunk(&mut out, &records);
                if writer.write_all(&out).await.is_err() {
                    return;
                }
            }
            read = reader.read(&mut scratch) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return;
                }
            }
        }
    }
    out.clear();
    http::encode_chunk(&mut out, b"");
    let _ = writer.write_all(&out).await;
    let _ = writer.shutdown().await;
}

/// The input stream; returns the response once it ends.
async fn input(
    shared: &Shared,
    stream: &mut UnixStream,
    decoder: &mut RequestDecoder,
    json: bool,
) -> Response {
    {
        let mut connected = lock(&shared.input_connected);
        if *connected {
            return Response::status(409).with_body(
                "text/plain; charset=utf-8",
                "Multiple input connections are not allowed",
            );
        }
        *connected = true;
    }
    let response = read_input(shared, stream, decoder, json).await;
    *lock(&shared.input_connected) = false;
    response
}

async fn read_input(
    shared: &Shared,
    stream: &mut UnixStream,
    decoder: &mut RequestDecoder,
    json: bool,
) -> Response {
    let mut records = mesos_proto::recordio::Decoder::default();
    let mut first = true;
    loop {
        let piece = match decoder.next_body() {
            Ok(Some(BodyPiece::Data(data))) => data,
            Ok(Some(BodyPiece::End)) => return Response::status(200),
            Ok(None) => match stream.read_buf(decoder.buffer_mut()).await {
                Ok(0) | Err(_) => return Response::status(200),
                Ok(_) => continue,
            },
            Err(error) => return Response::bad_request(error.to_string()),
        };
        let decoded = match records.decode(&piece) {
            Ok(decoded) => decoded,
            Err(error) => return Response::bad_request(format!("bad RecordIO: {error}")),
        };
        for record in decoded {
            let call: Call = match deserialize(&record, json) {
                Ok(call) => call,
                Err(error) => return Response::bad_request(error),
            };
            let Some(attach) = call.attach_container_input else {
                return Response::bad_request("Expecting 'attach_container_input' to be present");
            };
            if first {
                first = false;
                if attach.r#type() != attach_container_input::Type::ContainerId {
                    return Response::bad_request(
                        "Expecting the first record to be of type CONTAINER_ID",
                    );
                }
                continue;
            }
            if attach.r#type() != attach_container_input::Type::ProcessIo {
                return Response::bad_request("Expecting records of type PROCESS_IO");
            }
            let Some(io) = attach.process_io else {
                return Response::bad_request("Expecting 'process_io' to be present");
            };
            if let Err(error) = apply_input(shared, io).await {
                return Response::bad_request(error);
            }
        }
    }
}

async fn apply_input(shared: &Shared, io: ProcessIo) -> Result<(), String> {
    match io.r#type() {
        process_io::Type::Data => {
            let data = io.data.unwrap_or_default();
            if data.r#type() != data::Type::Stdin {
                return Err("Expecting STDIN data".into());
            }
            let bytes = data.data.unwrap_or_default();
            let tty = shared.flags.tty;
            let file = lock(&shared.stdin)
                .as_ref()
                .and_then(|f| f.try_clone().ok());
            let Some(mut file) = file else {
                // Input after EOF is dropped, as upstream.
                return Ok(());
            };
            if bytes.is_empty() {
                if tty {
                    // EOT: the line discipline turns it into EOF.
                    let _ = tokio::task::spawn_blocking(move || file.write_all(&[0x04])).await;
                } else {
                    lock(&shared.stdin).take();
                    drop(file);
                }
                return Ok(());
            }
            // A blocking write off the runtime: a full pipe waits for the
            // container to read.
            tokio::task::spawn_blocking(move || file.write_all(&bytes))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("failed to write to the container's stdin: {e}"))
        }
        process_io::Type::Control => {
            let control = io.control.unwrap_or_default();
            match control.r#type() {
                control::Type::TtyInfo => {
                    if !shared.flags.tty {
                        return Err("Received TTY_INFO for a container without a TTY".into());
                    }
                    let Some(size) = control.tty_info.and_then(|t| t.window_size) else {
                        return Err("Expecting 'tty_info.window_size' to be present".into());
                    };
                    set_window_size(shared.flags.stdin_to_fd, size.rows, size.columns)
                }
                control::Type::Heartbeat => Ok(()),
                control::Type::Unknown => Err("Unknown control type".into()),
            }
        }
        process_io::Type::Unknown => Err("Unknown ProcessIO type".into()),
    }
}

/// Sets the window size of the pty whose master is `fd`.
pub fn set_window_size(fd: RawFd, rows: u32, columns: u32) -> Result<(), String> {
    let size = libc::winsize {
        ws_row: u16::try_from(rows).unwrap_or(u16::MAX),
        ws_col: u16::try_from(columns).unwrap_or(u16::MAX),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize we own.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &size) } != 0 {
        return Err(format!(
            "failed to set the window size: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
