//! The agent API's attach and exec calls (upstream `Http::attachContainerInput`,
//! `attachContainerOutput` and `launchNestedContainerSession` in
//! `src/slave/http.cpp`): they reach the container's IO switchboard server
//! over its unix socket ([`crate::containerizer::mesos::io::client`]).
//!
//! - `ATTACH_CONTAINER_OUTPUT`: a RecordIO stream of `ProcessIO` (records
//!   in the `Message-Accept` type), as long as the container's output
//!   lasts; several may attach.
//! - `ATTACH_CONTAINER_INPUT`: a streaming request (`application/recordio`
//!   with `Message-Content-Type`): the first record names the container,
//!   the rest are relayed as they arrive; `200 OK` when it ends.
//! - `LAUNCH_NESTED_CONTAINER_SESSION`: launches a DEBUG nested container
//!   (it gets a switchboard) and answers its output stream; when the
//!   client goes away the container is destroyed.
//!
//! Errors: `404 Container <id> cannot be found` for an unknown container,
//! `500 I/O switchboard server was disabled for this container` (upstream's
//! words, which upstream's CLI matches to say that a task without a TTY
//! cannot be attached to) for either attach call to a container without a
//! switchboard (no TTY, not DEBUG), `409 Multiple input connections are
//! not allowed` (from the switchboard) for a second input stream.
//!
//! The output streams are answered in the media the request's `Accept`
//! picked ([`StreamMedia`]): `application/recordio` with the records'
//! type in `Message-Content-Type`, or, as upstream keeps from Mesos 1.2
//! for older clients, `Content-Type: application/json` (or protobuf) with
//! the same RecordIO-framed records in that type and no
//! `Message-Content-Type`.
//!
//! Beyond upstream: with the request header `Mesos-Follow-Sandbox: true`,
//! `ATTACH_CONTAINER_OUTPUT` follows the container's sandbox `stdout` and
//! `stderr` files read-only, from their start, until the container
//! terminates (`mesos task log -f` uses it). It does so for a container
//! with a switchboard too (the server copies the output into those files;
//! a TTY's output is all in `stdout`), so what was written before the
//! client came is not lost. Without the header, a container without a
//! switchboard gets upstream's error, which upstream's CLI expects.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use libprocess::http::{Body, Request, Response};
use libprocess::HttpFuture;
use mesos_proto::api::{JSON, PROTOBUF};
use mesos_proto::mesos::agent::call::attach_container_input;
use mesos_proto::mesos::agent::process_io::{self, data};
use mesos_proto::mesos::agent::{call, Call, ProcessIo};
use mesos_proto::mesos::slave::ContainerClass;
use mesos_proto::mesos::{v1, ContainerId};
use prost::Message as _;
use tokio::sync::mpsc;

use crate::containerizer::mesos::io::{client, serialize, RECORDIO};
use crate::containerizer::{container_id_string, Containerizer, ContainerizerError};
use crate::slave::Slave;

fn ready(response: Response) -> HttpFuture {
    Box::pin(std::future::ready(response))
}

fn text(status: u16, message: impl Into<String>) -> Response {
    Response::status(status).with_body("text/plain; charset=utf-8", message.into())
}

fn not_found(id: &str) -> Response {
    text(404, format!("Container {id} cannot be found"))
}

fn no_containerizer() -> Response {
    text(503, "Agent has not started its containerizer")
}

/// Upstream's answer (`IOSwitchboard::connect`'s failure) for a container
/// without a switchboard.
fn no_switchboard() -> Response {
    text(
        500,
        "I/O switchboard server was disabled for this container",
    )
}

/// Upstream's validation of the three calls.
pub(crate) fn validate(call: &Call) -> Result<(), String> {
    match call.r#type() {
        call::Type::AttachContainerOutput if call.attach_container_output.is_none() => {
            Err("Expecting 'attach_container_output' to be present".into())
        }
        call::Type::LaunchNestedContainerSession => {
            let Some(session) = &call.launch_nested_container_session else {
                return Err("Expecting 'launch_nested_container_session' to be present".into());
            };
            if session.container_id.parent.is_none() {
                return Err(
                    "Expecting 'launch_nested_container_session.container_id.parent' to be present"
                        .into(),
                );
            }
            crate::nested::validate_id("launch_nested_container_session", &session.container_id)?;
            let separate = session
                .container
                .as_ref()
                .and_then(|c| c.linux_info.as_ref())
                .is_some_and(|l| !l.share_cgroups());
            if separate {
                return Err(
                    "'launch_nested_container_session.container.linux_info' is invalid: \
                     'share_cgroups' cannot be set to 'false' for nested container sessions"
                        .into(),
                );
            }
            Ok(())
        }
        call::Type::AttachContainerInput => {
            let Some(input) = &call.attach_container_input else {
                return Err("Expecting 'attach_container_input' to be present".into());
            };
            if input.r#type.is_none() {
                return Err("Expecting 'attach_container_input.type' to be present".into());
            }
            match input.r#type() {
                attach_container_input::Type::Unknown => {
                    Err("'attach_container_input.type' is unknown".into())
                }
                // An absent ID is checked as the empty one, as upstream.
                attach_container_input::Type::ContainerId => crate::nested::validate_id(
                    "attach_container_input",
                    &input.container_id.clone().unwrap_or_default(),
                ),
                // Checked by the handler: only the first record is
                // validated, and it must name the container.
                attach_container_input::Type::ProcessIo => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// The sandbox of a container the agent knows (its executor's, or a
/// nested one inside it).
fn sandbox(slave: &Slave, id: &str) -> Option<PathBuf> {
    let root = id.split('.').next().unwrap_or_default();
    slave
        .container_sandbox(root)
        .map(|root_sandbox| crate::nested::sandbox(root_sandbox, id))
}

/// The request header asking `ATTACH_CONTAINER_OUTPUT` to follow the
/// container's sandbox files (beyond upstream).
pub(crate) const FOLLOW_SANDBOX: &str = "Mesos-Follow-Sandbox";

/// How an output stream is answered (upstream's `accept` and
/// `messageAccept` media types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamMedia {
    /// The records are JSON (else protobuf).
    pub(crate) json: bool,
    /// `Content-Type: application/recordio` with `Message-Content-Type`;
    /// else the records' own type is the `Content-Type` (the Mesos 1.2
    /// answer, which upstream still gives to `Accept: application/json`).
    pub(crate) recordio: bool,
}

impl StreamMedia {
    fn records(self) -> &'static str {
        if self.json {
            JSON
        } else {
            PROTOBUF
        }
    }

    /// Replaces the media headers of an answer (the switchboard's always
    /// name RecordIO) with this media's.
    fn set_headers(self, response: &mut Response) {
        let message_content_type = crate::containerizer::mesos::io::MESSAGE_CONTENT_TYPE;
        response.headers.retain(|(name, _)| {
            !name.eq_ignore_ascii_case("Content-Type")
                && !name.eq_ignore_ascii_case(message_content_type)
        });
        if self.recordio {
            response
                .headers
                .push(("Content-Type".into(), RECORDIO.into()));
            response
                .headers
                .push((message_content_type.into(), self.records().into()));
        } else {
            response
                .headers
                .push(("Content-Type".into(), self.records().into()));
        }
    }
}

/// Asks the switchboard at `socket` for its output and answers it in
/// `media`.
async fn switchboard_output(
    socket: &std::path::Path,
    call: &Call,
    media: StreamMedia,
) -> Result<Response, client::ClientError> {
    let call = Bytes::from(call.encode_to_vec());
    let mut response = client::attach_output(socket, call, media.json).await?;
    if response.status == 200 {
        media.set_headers(&mut response);
    }
    Ok(response)
}

/// `ATTACH_CONTAINER_OUTPUT`; `follow`: the [`FOLLOW_SANDBOX`] opt-in.
pub(crate) fn attach_output(
    slave: &mut Slave,
    call: Call,
    media: StreamMedia,
    follow_sandbox: bool,
) -> HttpFuture {
    let Some(containerizer) = slave.containerizer_handle() else {
        return ready(no_containerizer());
    };
    let container_id = call
        .attach_container_output
        .as_ref()
        .map(|a| container_id_string(&a.container_id))
        .unwrap_or_default();
    let sandbox = sandbox(slave, &container_id).filter(|_| follow_sandbox);
    Box::pin(async move {
        match containerizer.attach(container_id.clone()).await {
            Err(ContainerizerError::UnknownContainer(_)) => not_found(&container_id),
            Err(error) => text(500, error.to_string()),
            Ok(socket) => match (sandbox, socket) {
                (Some(sandbox), _) => follow(containerizer, container_id, sandbox, media),
                (None, Some(socket)) => match switchboard_output(&socket, &call, media).await {
                    Ok(response) => response,
                    Err(error) => text(500, error.to_string()),
                },
                (None, None) => no_switchboard(),
            },
        }
    })
}

/// A streaming answer of `rx`'s framed records.
fn stream_response(rx: mpsc::Receiver<Bytes>, media: StreamMedia) -> Response {
    let mut response = Response::status(200);
    media.set_headers(&mut response);
    response.body = Body::Stream(rx);
    response
}

fn record(kind: data::Type, bytes: &[u8]) -> ProcessIo {
    ProcessIo {
        r#type: Some(process_io::Type::Data as i32),
        data: Some(process_io::Data {
            r#type: Some(kind as i32),
            data: Some(bytes.to_vec()),
        }),
        control: None,
    }
}

/// Streams the sandbox files of a container, from their start, until it
/// terminates (or the client goes).
fn follow(
    containerizer: Arc<dyn Containerizer>,
    container_id: String,
    sandbox: PathBuf,
    media: StreamMedia,
) -> Response {
    let json = media.json;
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut files = Vec::new();
        for (kind, name) in [
            (data::Type::Stdout, "stdout"),
            (data::Type::Stderr, "stderr"),
        ] {
            if let Ok(file) = std::fs::File::open(sandbox.join(name)) {
                files.push((kind, file));
            }
        }
        let mut wait = containerizer.wait(container_id);
        let mut last_round = false;
        loop {
            // Reads off the agent's thread: what each file has gained.
            let read = tokio::task::spawn_blocking(move || {
                use std::io::Read as _;
                let mut pieces = Vec::new();
                for (kind, file) in &mut files {
                    let mut buffer = vec![0_u8; 64 * 1024];
                    while let Ok(n) = file.read(&mut buffer) {
                        if n == 0 {
                            break;
                        }
                        pieces.push((*kind, Bytes::copy_from_slice(&buffer[..n])));
                        if pieces.len() >= 16 {
                            break;
                        }
                    }
                }
                (files, pieces)
            })
            .await;
            let Ok((back, pieces)) = read else {
                return;
            };
            files = back;
            let progressed = !pieces.is_empty();
            for (kind, piece) in pieces {
                let framed = mesos_proto::recordio::encode(&serialize(&record(kind, &piece), json));
                if tx.send(framed).await.is_err() {
                    return;
                }
            }
            if progressed {
                continue;
            }
            if last_round {
                return;
            }
            tokio::select! {
                _ = &mut wait, if !last_round => last_round = true,
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                () = tx.closed() => return,
            }
        }
    });
    stream_response(rx, media)
}

/// `LAUNCH_NESTED_CONTAINER_SESSION`.
pub(crate) fn launch_session(slave: &mut Slave, call: Call, media: StreamMedia) -> HttpFuture {
    let Some(containerizer) = slave.containerizer_handle() else {
        return ready(no_containerizer());
    };
    let Some(session) = call.launch_nested_container_session else {
        return ready(Response::bad_request(
            "Expecting 'launch_nested_container_session' to be present",
        ));
    };
    let id = container_id_string(&session.container_id);
    let Some(directory) = sandbox(slave, &id) else {
        return ready(Response::bad_request(format!(
            "Unable to locate executor for parent container {}",
            crate::containerizer::parent(&id).unwrap_or_default()
        )));
    };
    let user = slave
        .switch_user()
        .then(|| session.command.as_ref().and_then(|c| c.user.clone()))
        .flatten();
    let template = mesos_proto::mesos::slave::ContainerConfig {
        command_info: session.command.unwrap_or_default(),
        container_info: session.container,
        user,
        container_class: Some(ContainerClass::Debug as i32),
        ..Default::default()
    };
    let launch = crate::nested::launch(containerizer.clone(), id.clone(), directory, template);
    let output = Call {
        r#type: Some(call::Type::AttachContainerOutput as i32),
        attach_container_output: Some(call::AttachContainerOutput {
            container_id: session.container_id.clone(),
        }),
        ..Default::default()
    };
    // The launch runs to its end even when the client leaves before it
    // (the HTTP future is then dropped): a session nobody receives is
    // destroyed at once.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let session = containerizer.clone();
    let session_id = id.clone();
    actix::spawn(async move {
        let response = session_response(containerizer, id, launch, output, media).await;
        if let Err(response) = tx.send(response) {
            if response.status == 200 {
                tracing::info!(container_id = %session_id, "Destroying session container: its client left before the launch finished");
                let _ = session.destroy(session_id).await;
            }
        }
    });
    Box::pin(async move {
        rx.await
            .unwrap_or_else(|_| text(500, "The session's launch was interrupted"))
    })
}

/// Launches the session's container and answers its output stream, tied
/// to the container's life.
async fn session_response(
    containerizer: Arc<dyn Containerizer>,
    id: String,
    launch: HttpFuture,
    output: Call,
    media: StreamMedia,
) -> Response {
    let launched = launch.await;
    if launched.status != 200 {
        return launched;
    }
    let socket = match containerizer.attach(id.clone()).await {
        Ok(Some(socket)) => socket,
        Ok(None) => {
            let _ = containerizer.destroy(id.clone()).await;
            return text(500, format!("Container {id} has no I/O switchboard"));
        }
        Err(error) => return text(500, error.to_string()),
    };
    let mut response = match switchboard_output(&socket, &output, media).await {
        Ok(response) => response,
        Err(error) => {
            let _ = containerizer.destroy(id.clone()).await;
            return text(500, error.to_string());
        }
    };
    let Body::Stream(mut upstream) = std::mem::take(&mut response.body) else {
        let _ = containerizer.destroy(id.clone()).await;
        return response;
    };
    // The session's container lives as long as its client.
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                chunk = upstream.recv() => match chunk {
                    Some(chunk) => {
                        if tx.send(chunk).await.is_err() {
                            break;
                        }
                    }
                    None => return,
                },
                () = tx.closed() => break,
            }
        }
        tracing::info!(container_id = %id, "Destroying session container: its client went away");
        let _ = containerizer.destroy(id).await;
    });
    response.body = Body::Stream(rx);
    response
}

/// Splits the first RecordIO record off `buffer`: the framed record and
/// where the rest starts, or `None` when it is incomplete.
fn first_record(buffer: &[u8]) -> Result<Option<(Bytes, usize)>, String> {
    let Some(newline) = buffer.iter().position(|b| *b == b'\n') else {
        if buffer.len() > 20 {
            return Err("Failed to decode the first record: header too long".into());
        }
        return Ok(None);
    };
    let length: usize = std::str::from_utf8(&buffer[..newline])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or("Failed to decode the first record: bad length")?;
    if length > 4 << 20 {
        return Err("Failed to decode the first record: too long".into());
    }
    let end = newline + 1 + length;
    if buffer.len() < end {
        return Ok(None);
    }
    Ok(Some((
        Bytes::copy_from_slice(&buffer[newline + 1..end]),
        end,
    )))
}

/// `ATTACH_CONTAINER_INPUT` (any streaming request): reads the first
/// record, checks it, then relays the rest to the switchboard.
pub(crate) fn attach_input(
    slave: &mut Slave,
    request: Request,
    json: bool,
    streaming_accept: bool,
) -> HttpFuture {
    let Some(containerizer) = slave.containerizer_handle() else {
        return ready(no_containerizer());
    };
    let message_content_type = if json { JSON } else { PROTOBUF };
    Box::pin(async move {
        let mut reader = request.body_reader();
        let mut buffer = BytesMut::new();
        let (record, rest) = loop {
            match first_record(&buffer) {
                Ok(Some(split)) => break split,
                Ok(None) => {}
                Err(error) => return Response::bad_request(error),
            }
            match reader.next().await {
                Some(Ok(piece)) => buffer.extend_from_slice(&piece),
                Some(Err(error)) => return Response::bad_request(error.0),
                None => return Response::bad_request("Received EOF while reading request body"),
            }
        };
        let v1_call =
            match crate::containerizer::mesos::io::deserialize::<v1::agent::Call>(&record, json) {
                Ok(call) => call,
                Err(error) => return Response::bad_request(error),
            };
        let call = match Call::decode(v1_call.encode_to_vec().as_slice()) {
            Ok(call) => call,
            Err(error) => return Response::bad_request(error.to_string()),
        };
        if call.r#type.is_none() {
            return Response::bad_request(
                "Failed to validate agent::Call: Expecting 'type' to be present",
            );
        }
        if let Err(error) = validate(&call) {
            return Response::bad_request(format!("Failed to validate agent::Call: {error}"));
        }
        let kind = call.r#type();
        if kind != call::Type::AttachContainerInput {
            return text(
                415,
                format!(
                    "Streaming 'Content-Type' {RECORDIO} is not supported for {} call",
                    kind.as_str_name()
                ),
            );
        }
        if streaming_accept {
            return text(
                406,
                "Streaming response is not supported for ATTACH_CONTAINER_INPUT call",
            );
        }
        let first_names_container = call
            .attach_container_input
            .as_ref()
            .is_some_and(|input| input.r#type() == attach_container_input::Type::ContainerId);
        if !first_names_container {
            return Response::bad_request(
                "Expecting 'attach_container_input.type' to be CONTAINER_ID",
            );
        }
        let container_id: ContainerId = call
            .attach_container_input
            .and_then(|a| a.container_id)
            .unwrap_or_default();
        let id = container_id_string(&container_id);
        tracing::info!(container_id = %id, "Processing ATTACH_CONTAINER_INPUT call");
        let socket = match containerizer.attach(id.clone()).await {
            Err(ContainerizerError::UnknownContainer(_)) => return not_found(&id),
            Err(error) => return text(500, error.to_string()),
            Ok(None) => return no_switchboard(),
            Ok(Some(socket)) => socket,
        };
        // The first record and whatever followed it, as received.
        debug_assert!(rest <= buffer.len());
        match client::attach_input(&socket, message_content_type, buffer.freeze(), reader).await {
            Ok(response) => response,
            Err(error) => text(500, error.to_string()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream `AgentCallValidationTest.LaunchNestedContainerSession`'s
    /// `share_cgroups` case.
    #[test]
    fn a_session_container_cannot_have_cgroups_of_its_own() {
        use mesos_proto::mesos::{ContainerId, ContainerInfo, LinuxInfo};
        let session = |share_cgroups: Option<bool>| {
            let mut call = Call::default();
            call.set_type(call::Type::LaunchNestedContainerSession);
            call.launch_nested_container_session = Some(call::LaunchNestedContainerSession {
                container_id: ContainerId {
                    value: "debug".into(),
                    parent: Some(Box::new(ContainerId {
                        value: "e".into(),
                        parent: None,
                    })),
                },
                container: Some(ContainerInfo {
                    linux_info: Some(LinuxInfo {
                        share_cgroups,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            });
            call
        };
        assert_eq!(
            validate(&session(Some(false))),
            Err(
                "'launch_nested_container_session.container.linux_info' is invalid: \
                 'share_cgroups' cannot be set to 'false' for nested container sessions"
                    .into()
            )
        );
        assert_eq!(validate(&session(Some(true))), Ok(()));
        assert_eq!(validate(&session(None)), Ok(()));
    }

    #[test]
    fn first_records_split_off_their_rest() {
        assert_eq!(first_record(b"3\nab").unwrap(), None);
        assert_eq!(
            first_record(b"3\nabc2\nde").unwrap(),
            Some((Bytes::from_static(b"abc"), 5))
        );
        assert!(first_record(b"x\nabc").is_err());
        assert!(first_record(&[b'1'; 40]).is_err());
    }
}
