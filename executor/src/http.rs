//! A small HTTP/1.1 client for the v1 APIs an executor calls on its agent.
//!
//! Upstream counterpart: the parts of libprocess' `process::http`
//! (`connect`, `Connection::send`, streaming responses) that
//! `src/executor/executor.cpp` and `src/launcher/default_executor.cpp`
//! use. Requests carry a `Content-Length` body; responses may have a
//! `Content-Length` body, a chunked one, or one that ends with the
//! connection. A [`Connection`] sends requests one after the other, so a
//! group of calls reaches the agent in order, as upstream's pipelining
//! does.
//!
//! Deliberate difference from upstream: no TLS (`https`) and no unix
//! domain sockets (`MESOS_DOMAIN_SOCKET`) yet.

use std::io;

use bytes::{Buf as _, Bytes, BytesMut};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The longest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// The longest non-streaming response body accepted.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Where an agent API lives: `http://<address><path>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `ip:port` (or `host:port`).
    pub address: String,
    /// Absolute path, e.g. `/slave(1)/api/v1`.
    pub path: String,
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.address, self.path)
    }
}

/// A `POST` request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Target.
    pub url: Url,
    /// Extra headers (`Content-Type`, `Accept`, `Authorization`, ...).
    pub headers: Vec<(String, String)>,
    /// Body, sent with `Content-Length`.
    pub body: Vec<u8>,
}

/// A response head: status and headers.
#[derive(Debug, Clone)]
pub struct Head {
    /// Status code.
    pub code: u16,
    /// Status line after the version, e.g. `404 Not Found` (upstream's
    /// `Response::status`).
    pub status: String,
    /// Headers in arrival order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// Returns the first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status and headers.
    pub head: Head,
    /// Whole body.
    pub body: Bytes,
}

impl Response {
    /// Returns the body as text (lossily), as upstream logs it.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy)]
enum Framing {
    Length(usize),
    Chunked,
    Close,
}

/// An open connection to the agent.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    buffer: BytesMut,
    closed: bool,
}

impl Connection {
    /// Connects to `url`'s address.
    pub async fn connect(url: &Url) -> io::Result<Self> {
        let stream = TcpStream::connect(url.address.as_str()).await?;
        // Calls are small and latency matters more than throughput.
        let _ = stream.set_nodelay(true);
        Ok(Self {
            stream,
            buffer: BytesMut::new(),
            closed: false,
        })
    }

    /// Returns the local address of the connection.
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.stream.local_addr()
    }

    /// Sends `request` and reads the whole response.
    pub async fn send(&mut self, request: &Request) -> io::Result<Response> {
        let (head, mut body) = self.send_streaming(request).await?;
        let mut all = BytesMut::new();
        while let Some(data) = body.next().await? {
            if all.len() + data.len() > MAX_BODY {
                return Err(invalid("response body too large"));
            }
            all.extend_from_slice(&data);
        }
        Ok(Response {
            head,
            body: all.freeze(),
        })
    }

    /// Sends `request` and returns the response head and a reader of its
    /// body, which may be endless (a RecordIO event stream).
    pub async fn send_streaming(&mut self, request: &Request) -> io::Result<(Head, Body<'_>)> {
        if self.closed {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the agent closed the connection",
            ));
        }
        let mut text = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            request.url.path,
            request.url.address,
            request.body.len()
        );
        for (name, value) in &request.headers {
            text.push_str(name);
            text.push_str(": ");
            text.push_str(value);
            text.push_str("\r\n");
        }
        text.push_str("\r\n");
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(&request.body);
        self.stream.write_all(&bytes).await?;
        self.stream.flush().await?;

        let head = self.read_head().await?;
        let chunked = head
            .header("Transfer-Encoding")
            .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
        let framing = if chunked {
            Framing::Chunked
        } else if let Some(length) = head.header("Content-Length") {
            Framing::Length(
                length
                    .trim()
                    .parse()
                    .map_err(|_| invalid("bad Content-Length"))?,
            )
        } else if head.code == 204 || head.code == 304 || head.code < 200 {
            Framing::Length(0)
        } else {
            Framing::Close
        };
        if head
            .header("Connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"))
            || matches!(framing, Framing::Close)
        {
            self.closed = true;
        }
        Ok((
            head,
            Body {
                connection: self,
                framing,
                done: false,
            },
        ))
    }

    async fn read_more(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await?;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    async fn read_head(&mut self) -> io::Result<Head> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buffer) {
                Ok(httparse::Status::Complete(length)) => {
                    let code = response.code.unwrap_or_default();
                    let status = format!("{} {}", code, response.reason.unwrap_or_default());
                    let headers = response
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_string(),
                                String::from_utf8_lossy(h.value).trim().to_string(),
                            )
                        })
                        .collect();
                    self.buffer.advance(length);
                    return Ok(Head {
                        code,
                        status,
                        headers,
                    });
                }
                Ok(httparse::Status::Partial) => {}
                Err(error) => return Err(invalid(&format!("malformed response: {error}"))),
            }
            if self.buffer.len() > MAX_HEAD {
                return Err(invalid("response head too large"));
            }
            if self.read_more().await? == 0 {
                return Err(eof());
            }
        }
    }
}

/// A response body being read.
#[derive(Debug)]
pub struct Body<'a> {
    connection: &'a mut Connection,
    framing: Framing,
    done: bool,
}

impl Body<'_> {
    /// Returns the next piece of the body, or `None` at its end.
    pub async fn next(&mut self) -> io::Result<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        let connection = &mut *self.connection;
        match &mut self.framing {
            Framing::Length(remaining) => {
                if *remaining == 0 {
                    self.done = true;
                    return Ok(None);
                }
                if connection.buffer.is_empty() && connection.read_more().await? == 0 {
                    return Err(eof());
                }
                let take = (*remaining).min(connection.buffer.len());
                *remaining -= take;
                Ok(Some(connection.buffer.split_to(take).freeze()))
            }
            Framing::Close => {
                if connection.buffer.is_empty() && connection.read_more().await? == 0 {
                    self.done = true;
                    return Ok(None);
                }
                let all = connection.buffer.len();
                Ok(Some(connection.buffer.split_to(all).freeze()))
            }
            Framing::Chunked => loop {
                if let Some(line) = connection.buffer.windows(2).position(|w| w == b"\r\n") {
                    let text = std::str::from_utf8(&connection.buffer[..line])
                        .map_err(|_| invalid("bad chunk header"))?;
                    let size = text.split(';').next().unwrap_or_default().trim();
                    let size =
                        usize::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
                    if size > MAX_BODY {
                        return Err(invalid("chunk too large"));
                    }
                    if size == 0 {
                        // The last chunk, then (no) trailers and a blank line.
                        if let Some(end) =
                            connection.buffer.windows(4).position(|w| w == b"\r\n\r\n")
                        {
                            connection.buffer.advance(end + 4);
                            self.done = true;
                            return Ok(None);
                        }
                    } else if connection.buffer.len() >= line + 2 + size + 2 {
                        connection.buffer.advance(line + 2);
                        let data = connection.buffer.split_to(size).freeze();
                        connection.buffer.advance(2);
                        return Ok(Some(data));
                    }
                }
                if connection.read_more().await? == 0 {
                    return Err(eof());
                }
            },
        }
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

fn eof() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the agent closed the connection",
    )
}

/// Sends `request` on a new connection and reads the whole response.
pub async fn post(request: &Request) -> io::Result<Response> {
    let mut connection = Connection::connect(&request.url).await?;
    connection.send(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Serves `responses` byte by byte in pieces of `piece` bytes, after
    /// reading the requests; returns the server's URL.
    async fn server(responses: &'static [u8], piece: usize) -> Url {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await.unwrap();
            for part in responses.chunks(piece) {
                stream.write_all(part).await.unwrap();
                stream.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            // Keep the connection open until the client is done.
            let _ = stream.read(&mut request).await;
        });
        Url {
            address,
            path: "/slave(1)/api/v1".into(),
        }
    }

    fn request(url: &Url) -> Request {
        Request {
            url: url.clone(),
            headers: vec![("Content-Type".into(), "application/x-protobuf".into())],
            body: b"call".to_vec(),
        }
    }

    #[tokio::test]
    async fn chunked_and_length_bodies_are_read_on_one_connection() {
        static RESPONSES: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
            5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n\
            HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone";
        for piece in [1, 7, RESPONSES.len()] {
            let url = server(RESPONSES, piece).await;
            let mut connection = Connection::connect(&url).await.unwrap();
            let first = connection.send(&request(&url)).await.unwrap();
            assert_eq!(first.head.code, 200);
            assert_eq!(&first.body[..], b"hello, world");
            let second = connection.send(&request(&url)).await.unwrap();
            assert_eq!(second.head.status, "404 Not Found");
            assert_eq!(second.body_text(), "gone");
        }
    }

    #[tokio::test]
    async fn a_body_without_length_ends_with_the_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url {
            address: listener.local_addr().unwrap().to_string(),
            path: "/".into(),
        };
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await.unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\n\r\nuntil close")
                .await
                .unwrap();
        });
        let mut connection = Connection::connect(&url).await.unwrap();
        let response = connection.send(&request(&url)).await.unwrap();
        assert_eq!(response.body_text(), "until close");
        // The connection cannot carry another request.
        assert!(connection.send(&request(&url)).await.is_err());
    }

    #[tokio::test]
    async fn malformed_responses_are_errors() {
        static BAD_CHUNK: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        let url = server(BAD_CHUNK, BAD_CHUNK.len()).await;
        let mut connection = Connection::connect(&url).await.unwrap();
        assert!(connection.send(&request(&url)).await.is_err());
        static BAD_HEAD: &[u8] = b"NOT HTTP\r\n\r\n";
        let url = server(BAD_HEAD, BAD_HEAD.len()).await;
        let mut connection = Connection::connect(&url).await.unwrap();
        assert!(connection.send(&request(&url)).await.is_err());
    }
}
