//! The agent's side of the switchboard socket (upstream
//! `IOSwitchboard::connect` and the proxying in `src/slave/http.cpp`):
//! one HTTP/1.1 connection per call over the unix socket.

use std::path::Path;

use bytes::{Buf as _, Bytes, BytesMut};
use libprocess::http::{self, BodyReader, Response};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::{MESSAGE_ACCEPT, MESSAGE_CONTENT_TYPE, RECORDIO};

/// What talking to the switchboard failed on.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be reached.
    #[error("failed to connect to the I/O switchboard at '{path}': {source}")]
    Connect {
        /// The socket.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The connection broke or the answer was malformed.
    #[error("I/O switchboard connection failed: {0}")]
    Protocol(String),
}

async fn connect(socket: &Path) -> Result<UnixStream, ClientError> {
    UnixStream::connect(socket)
        .await
        .map_err(|source| ClientError::Connect {
            path: socket.display().to_string(),
            source,
        })
}

/// A response head and the rest of the connection.
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
    chunked: bool,
    length: Option<usize>,
}

async fn read_head(stream: &mut UnixStream, buffer: &mut BytesMut) -> Result<Head, ClientError> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(buffer) {
            Ok(httparse::Status::Complete(length)) => {
                let headers: Vec<(String, String)> = response
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8_lossy(h.value).trim().to_string(),
                        )
                    })
                    .collect();
                let find = |name: &str| {
                    headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.clone())
                };
                let head = Head {
                    status: response.code.unwrap_or(500),
                    chunked: find("Transfer-Encoding")
                        .is_some_and(|v| v.eq_ignore_ascii_case("chunked")),
                    length: find("Content-Length").and_then(|v| v.parse().ok()),
                    headers,
                };
                buffer.advance(length);
                return Ok(head);
            }
            Ok(httparse::Status::Partial) => {}
            Err(error) => return Err(ClientError::Protocol(error.to_string())),
        }
        if buffer.len() > 64 * 1024 {
            return Err(ClientError::Protocol("response head too large".into()));
        }
        match stream.read_buf(buffer).await {
            Ok(0) => return Err(ClientError::Protocol("connection closed".into())),
            Ok(_) => {}
            Err(error) => return Err(ClientError::Protocol(error.to_string())),
        }
    }
}

/// Takes one complete chunk's data from `buffer`: `Some(None)` at the
/// last chunk, `None` when more bytes are needed.
fn take_chunk(buffer: &mut BytesMut) -> Result<Option<Option<Bytes>>, ClientError> {
    let Some(line_end) = buffer.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let line = std::str::from_utf8(&buffer[..line_end])
        .map_err(|_| ClientError::Protocol("bad chunk size".into()))?;
    let size = usize::from_str_radix(line.split(';').next().unwrap_or_default().trim(), 16)
        .map_err(|_| ClientError::Protocol(format!("bad chunk size '{line}'")))?;
    if size == 0 {
        return Ok(Some(None));
    }
    if buffer.len() < line_end + 2 + size + 2 {
        return Ok(None);
    }
    buffer.advance(line_end + 2);
    let data = buffer.split_to(size).freeze();
    buffer.advance(2);
    Ok(Some(Some(data)))
}

/// Reads the rest of a response into a [`Response`]: a whole body, or for
/// a chunked one a stream fed by a task (which ends the stream when the
/// switchboard does, and drops the connection when the receiver goes).
async fn read_response(mut stream: UnixStream) -> Result<Response, ClientError> {
    let mut buffer = BytesMut::with_capacity(16 * 1024);
    let head = read_head(&mut stream, &mut buffer).await?;
    let mut response = Response::status(head.status);
    for (name, value) in head.headers {
        if ["Date", "Content-Length", "Transfer-Encoding", "Connection"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        {
            continue;
        }
        response.headers.push((name, value));
    }
    if head.chunked {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                match take_chunk(&mut buffer) {
                    Ok(Some(Some(data))) => {
                        if tx.send(data).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Ok(Some(None)) | Err(_) => return,
                    Ok(None) => {}
                }
                tokio::select! {
                    read = stream.read_buf(&mut buffer) => {
                        if !matches!(read, Ok(n) if n > 0) {
                            return;
                        }
                    }
                    () = tx.closed() => return,
                }
            }
        });
        response.body = http::Body::Stream(rx);
        return Ok(response);
    }
    let length = head.length.unwrap_or(usize::MAX);
    while buffer.len() < length {
        match stream.read_buf(&mut buffer).await {
            Ok(0) if head.length.is_none() => break,
            Ok(0) => return Err(ClientError::Protocol("connection closed mid-body".into())),
            Ok(_) => {}
            Err(error) => return Err(ClientError::Protocol(error.to_string())),
        }
    }
    response.body = http::Body::Full(buffer.split_to(buffer.len().min(length)).freeze());
    Ok(response)
}

/// Attaches to the output of the switchboard at `socket`: `call` is the
/// encoded `ATTACH_CONTAINER_OUTPUT` (protobuf); records come back in JSON
/// or protobuf. The response's body streams until the output ends.
pub async fn attach_output(
    socket: &Path,
    call: Bytes,
    json: bool,
) -> Result<Response, ClientError> {
    let mut stream = connect(socket).await?;
    let accept = if json {
        mesos_proto::api::JSON
    } else {
        mesos_proto::api::PROTOBUF
    };
    let head = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: {}\r\nAccept: {RECORDIO}\r\n\
         {MESSAGE_ACCEPT}: {accept}\r\nContent-Length: {}\r\n\r\n",
        mesos_proto::api::PROTOBUF,
        call.len()
    );
    let mut out = BytesMut::from(head.as_bytes());
    out.extend_from_slice(&call);
    stream
        .write_all(&out)
        .await
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
    read_response(stream).await
}

/// Relays an input stream to the switchboard at `socket`: `first` is the
/// framed first record (already read by the agent), `rest` the client's
/// body from there on, passed through as it arrives (RecordIO in
/// `message_content_type`). Returns the switchboard's answer, which may
/// come early (`409` for a second input stream).
pub async fn attach_input(
    socket: &Path,
    message_content_type: &str,
    first: Bytes,
    mut rest: BodyReader,
) -> Result<Response, ClientError> {
    let stream = connect(socket).await?;
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: {RECORDIO}\r\n\
         {MESSAGE_CONTENT_TYPE}: {message_content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut out = BytesMut::from(head.as_bytes());
    http::encode_chunk(&mut out, &first);
    let io = |e: std::io::Error| ClientError::Protocol(e.to_string());
    writer.write_all(&out).await.map_err(io)?;
    let mut answer = BytesMut::new();
    let mut scratch = [0_u8; 4096];
    let mut sending = true;
    loop {
        tokio::select! {
            piece = rest.next(), if sending => {
                out.clear();
                match piece {
                    Some(Ok(data)) => http::encode_chunk(&mut out, &data),
                    // The client left or ended: the input ends.
                    Some(Err(_)) | None => {
                        http::encode_chunk(&mut out, b"");
                        sending = false;
                    }
                }
                if writer.write_all(&out).await.is_err() {
                    sending = false;
                }
            }
            read = reader.read(&mut scratch) => {
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&scratch[..n]),
                }
            }
        }
    }
    parse_full(&answer)
}

fn parse_full(bytes: &[u8]) -> Result<Response, ClientError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(length)) = parsed.parse(bytes) else {
        return Err(ClientError::Protocol(
            "the switchboard closed the input stream without an answer".into(),
        ));
    };
    let mut response = Response::status(parsed.code.unwrap_or(500));
    let content_type = parsed
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("Content-Type"))
        .map(|h| String::from_utf8_lossy(h.value).to_string());
    let body = Bytes::copy_from_slice(&bytes[length..]);
    if !body.is_empty() {
        response = response.with_body(
            content_type
                .as_deref()
                .unwrap_or("text/plain; charset=utf-8"),
            body,
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_come_out_whole() {
        let mut buffer = BytesMut::from(&b"5\r\nhel"[..]);
        assert!(take_chunk(&mut buffer).unwrap().is_none());
        buffer.extend_from_slice(b"lo\r\n0\r\n\r\n");
        assert_eq!(
            take_chunk(&mut buffer).unwrap(),
            Some(Some(Bytes::from_static(b"hello")))
        );
        assert_eq!(take_chunk(&mut buffer).unwrap(), Some(None));
        let mut bad = BytesMut::from(&b"zz\r\n"[..]);
        assert!(take_chunk(&mut bad).is_err());
    }
}
