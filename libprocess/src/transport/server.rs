//! Inbound connections of the libprocess socket.
//!
//! Upstream counterpart: the receive path of `process.cpp`
//! (`internal::receive`, `ProcessManager::handle`). A request is a message
//! when it is a `POST` carrying `Libprocess-From` or a `User-Agent:
//! libprocess/...` header (both forms are accepted); the sender comes from
//! `Libprocess-From`, else from the user agent. A message for a running
//! process is answered `202 Accepted`, one for an unknown process `404 Not
//! Found`, in request order; replies travel over the replier's own outbound
//! connection, never this one. Other requests go to endpoints.
//!
//! Idle connections are never closed (the master learns of a peer's death
//! through its own outbound link). Malformed input is answered with the
//! decoder's 4xx and the connection is closed.

use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::decoder::{BodyPiece, Decoded, RawRequest, RequestDecoder};
use crate::http::{self, Body, BodyError, BodyStream, Request, Response};
use crate::process::{Event, MessageEvent};
use crate::runtime::WeakRuntime;
use crate::UPID;

/// Accepts connections until the runtime is gone.
pub(crate) async fn serve(runtime: WeakRuntime, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let Some(rt) = runtime.upgrade() else {
                    return;
                };
                let _ = stream.set_nodelay(true);
                let task = tokio::spawn(connection(runtime.clone(), stream, peer));
                rt.track_inbound(task.abort_handle());
            }
            Err(error) => {
                // EMFILE and friends: back off briefly rather than spin.
                tracing::warn!(%error, "Failed to accept a connection");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// What to do with a decoded request.
enum Classified {
    Message {
        from: UPID,
        to: String,
        name: String,
    },
    Http,
    Reject(Response),
}

fn classify(request: &RawRequest, peer: SocketAddr, require_ip_match: bool) -> Classified {
    if request.method != "POST" {
        return Classified::Http;
    }
    let from = match (
        request.header("Libprocess-From"),
        request.header("User-Agent"),
    ) {
        (Some(from), _) => from.trim(),
        (None, Some(agent)) if agent.starts_with("libprocess/") => {
            agent["libprocess/".len()..].trim()
        }
        _ => return Classified::Http,
    };
    let from: UPID = match from.parse() {
        Ok(from) => from,
        Err(error) => {
            return Classified::Reject(Response::bad_request(format!(
                "Failed to determine the sender of the message: {error}"
            )))
        }
    };
    if require_ip_match {
        if let std::net::IpAddr::V4(peer_ip) = peer.ip() {
            if peer_ip != from.ip {
                return Classified::Reject(Response::bad_request(format!(
                    "Sender IP {} does not match the peer address {peer_ip}",
                    from.ip
                )));
            }
        }
    }
    let path = request.target.split(['?', '#']).next().unwrap_or_default();
    let Some(path) = path.strip_prefix('/') else {
        return Classified::Reject(Response::bad_request("Request path must start with '/'"));
    };
    let (to, name) = path.split_once('/').unwrap_or((path, ""));
    Classified::Message {
        from,
        to: http::percent_decode(to),
        name: name.to_string(),
    }
}

/// A cached `202 Accepted` response; the date changes once a second.
fn accepted(out: &mut BytesMut, keep_alive: bool) {
    status_only(out, 202, keep_alive);
}

fn status_only(out: &mut BytesMut, status: u16, keep_alive: bool) {
    thread_local! {
        static DATE: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((0, String::new())) };
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    DATE.with(|date| {
        let mut date = date.borrow_mut();
        if date.0 != now || date.1.is_empty() {
            *date = (now, http::http_date());
        }
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status.to_string().as_bytes());
        out.extend_from_slice(b" ");
        out.extend_from_slice(http::reason(status).as_bytes());
        out.extend_from_slice(b"\r\nDate: ");
        out.extend_from_slice(date.1.as_bytes());
        if !keep_alive {
            out.extend_from_slice(b"\r\nConnection: close");
        }
        out.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
    });
}

async fn connection(runtime: WeakRuntime, mut stream: TcpStream, peer: SocketAddr) {
    let Some(limits) = runtime.upgrade().map(|rt| rt.inner.config.limits) else {
        return;
    };
    let mut decoder = RequestDecoder::new(limits);
    let mut out = BytesMut::with_capacity(4096);
    loop {
        loop {
            let streaming = |raw: &RawRequest| {
                !is_message(raw)
                    && runtime
                        .upgrade()
                        .is_some_and(|rt| rt.wants_streaming(&http_request(raw, peer)))
            };
            let request = match decoder.next_with(streaming) {
                Ok(Some(Decoded::Request(request))) => request,
                Ok(Some(Decoded::Streaming(raw))) => {
                    if !out.is_empty() {
                        if stream.write_all(&out).await.is_err() {
                            return;
                        }
                        out.clear();
                    }
                    let Some(rt) = runtime.upgrade() else {
                        return;
                    };
                    let keep_alive = raw.keep_alive();
                    let (tx, rx) = tokio::sync::mpsc::channel(16);
                    let mut request = http_request(&raw, peer);
                    request.stream = Some(BodyStream::new(rx));
                    let probe = request.clone();
                    let (response, complete) =
                        stream_body(&mut stream, &mut decoder, tx, rt.handle_http(request)).await;
                    drop(rt);
                    let response = response.gzip_for(&probe);
                    // A response given before the body ended leaves the
                    // connection mid-request: it is closed after it.
                    let keep_alive = keep_alive && complete;
                    if !write_response(&mut stream, &mut decoder, &mut out, response, keep_alive)
                        .await
                        || !keep_alive
                    {
                        let _ = stream.write_all(&out).await;
                        let _ = stream.shutdown().await;
                        return;
                    }
                    continue;
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::debug!(%peer, %error, "Closing connection after a malformed request");
                    let response = Response::status(error.status())
                        .with_body("text/plain; charset=utf-8", error.to_string());
                    http::encode_head(&mut out, &response, false);
                    if let Some(body) = response.body_bytes() {
                        out.extend_from_slice(body);
                    }
                    let _ = stream.write_all(&out).await;
                    let _ = stream.shutdown().await;
                    return;
                }
            };
            let Some(rt) = runtime.upgrade() else {
                return;
            };
            let keep_alive = request.keep_alive();
            match classify(
                &request,
                peer,
                rt.inner.config.require_peer_address_ip_match,
            ) {
                Classified::Message { from, to, name } => {
                    let event = Event::Message(MessageEvent {
                        from,
                        name,
                        body: request.body,
                    });
                    if rt.deliver(&to, event) {
                        accepted(&mut out, keep_alive);
                    } else {
                        status_only(&mut out, 404, keep_alive);
                    }
                }
                Classified::Reject(response) => {
                    if !write_response(&mut stream, &mut decoder, &mut out, response, keep_alive)
                        .await
                    {
                        return;
                    }
                }
                Classified::Http => {
                    if !out.is_empty() {
                        if stream.write_all(&out).await.is_err() {
                            return;
                        }
                        out.clear();
                    }
                    let request = http_request(&request, peer);
                    let response = rt.handle_http(request.clone()).await.gzip_for(&request);
                    drop(rt);
                    if !write_response(&mut stream, &mut decoder, &mut out, response, keep_alive)
                        .await
                    {
                        return;
                    }
                }
            }
            if !keep_alive {
                let _ = stream.write_all(&out).await;
                let _ = stream.shutdown().await;
                return;
            }
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        match stream.read_buf(decoder.buffer_mut()).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Whether a decoded request is a libprocess message (never streamed).
fn is_message(raw: &RawRequest) -> bool {
    raw.method == "POST"
        && (raw.header("Libprocess-From").is_some()
            || raw
                .header("User-Agent")
                .is_some_and(|agent| agent.starts_with("libprocess/")))
}

/// The endpoint request of a decoded one.
fn http_request(raw: &RawRequest, peer: SocketAddr) -> Request {
    let (path, query) = http::split_target(&raw.target);
    Request {
        method: raw.method.clone(),
        path: http::percent_decode(&path),
        query,
        headers: raw.headers.clone(),
        body: raw.body.clone(),
        client: Some(peer),
        keep_alive: raw.keep_alive(),
        stream: None,
    }
}

/// Feeds a streamed request body to `tx` while `handling` runs; returns
/// the response and whether the body was read to its end. The body is
/// read only as fast as the handler takes it (a bounded channel). When the
/// client goes away or sends a malformed chunk, the handler reads an
/// error.
async fn stream_body(
    stream: &mut TcpStream,
    decoder: &mut RequestDecoder,
    tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, BodyError>>,
    handling: impl std::future::Future<Output = Response>,
) -> (Response, bool) {
    tokio::pin!(handling);
    let mut tx = Some(tx);
    let mut pending: Option<Result<bytes::Bytes, BodyError>> = None;
    // `Some(true)`: the body ended; `Some(false)`: it was cut short.
    let mut ended: Option<bool> = None;
    loop {
        if pending.is_none() && ended.is_none() {
            match decoder.next_body() {
                Ok(Some(BodyPiece::Data(data))) => pending = Some(Ok(data)),
                Ok(Some(BodyPiece::End)) => {
                    ended = Some(true);
                    tx = None;
                }
                Ok(None) => {}
                Err(error) => {
                    ended = Some(false);
                    pending = Some(Err(BodyError(error.to_string())));
                }
            }
        }
        if pending.is_some() && tx.is_none() {
            // Nobody reads the body (any more): drop what arrives.
            pending = None;
            continue;
        }
        let need_read = pending.is_none() && ended.is_none();
        let sender = tx.clone();
        tokio::select! {
            response = &mut handling => {
                return (response, ended == Some(true));
            }
            permit = async {
                match &sender {
                    Some(sender) => sender.reserve().await.ok(),
                    None => std::future::pending().await,
                }
            }, if pending.is_some() => {
                match (permit, pending.take()) {
                    (Some(permit), Some(piece)) => {
                        let failed = piece.is_err();
                        permit.send(piece);
                        if failed {
                            tx = None;
                        }
                    }
                    _ => tx = None,
                }
            }
            read = stream.read_buf(decoder.buffer_mut()), if need_read => {
                if !matches!(read, Ok(n) if n > 0) {
                    ended = Some(false);
                    pending = Some(Err(BodyError(
                        "the connection closed before the request body ended".into(),
                    )));
                }
            }
        }
    }
}

/// Bodies above this size are written from where they are rather than
/// copied behind the head.
const LARGE_BODY: usize = 64 * 1024;

/// Large bodies are written in slices of this size.
const SLICE: usize = 1024 * 1024;

/// Writes `response` (streaming bodies chunk by chunk); returns whether the
/// connection is still usable.
///
/// While a body streams, the connection is also read: when the client
/// closes it, the stream's receiver is dropped at once, so the producer
/// (e.g. a scheduler subscription) learns that its client is gone, as
/// upstream's closed `Pipe::Reader` tells it. Bytes that arrive meanwhile
/// stay in the decoder for the next request.
async fn write_response(
    stream: &mut TcpStream,
    decoder: &mut RequestDecoder,
    out: &mut BytesMut,
    response: Response,
    keep_alive: bool,
) -> bool {
    http::encode_head(out, &response, keep_alive);
    match response.body {
        Body::None => true,
        // A large body goes to the socket as it is, after the head: not
        // copied, and the connection's buffer does not grow to its size.
        Body::Full(body) if body.len() > LARGE_BODY => {
            if stream.write_all(out).await.is_err() {
                return false;
            }
            out.clear();
            // In slices, letting the other connections on this I/O thread
            // go between them: a reader of a document of hundreds of MB
            // must not hold up small requests (a health check) for as
            // long as the whole copy takes.
            for slice in body.chunks(SLICE) {
                if stream.write_all(slice).await.is_err() {
                    return false;
                }
                tokio::task::yield_now().await;
            }
            true
        }
        Body::Full(body) => {
            out.extend_from_slice(&body);
            true
        }
        Body::Stream(mut chunks) => {
            if stream.write_all(out).await.is_err() {
                return false;
            }
            out.clear();
            let (mut reader, mut writer) = stream.split();
            loop {
                tokio::select! {
                    chunk = chunks.recv() => {
                        let Some(chunk) = chunk else {
                            break;
                        };
                        if chunk.is_empty() {
                            continue;
                        }
                        http::encode_chunk(out, &chunk);
                        if writer.write_all(out).await.is_err() {
                            return false;
                        }
                        out.clear();
                    }
                    read = reader.read_buf(decoder.buffer_mut()) => {
                        if !matches!(read, Ok(n) if n > 0) {
                            return false;
                        }
                    }
                }
            }
            http::encode_chunk(out, b"");
            true
        }
    }
}
