//! A small blocking HTTP/1.1 client for the `mesos` command: one request
//! per connection, bodies whole or streamed (chunked request bodies for
//! `ATTACH_CONTAINER_INPUT`, chunked response bodies for the output
//! streams).

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::net::TcpStream;

use anyhow::{bail, Context as _, Result};

/// A response whose body is read on demand.
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
    chunked: bool,
    /// Bytes of the body left (`Content-Length`), or `None` for chunked
    /// or until-close bodies.
    remaining: Option<usize>,
    /// Bytes left in the current chunk.
    chunk_left: usize,
    /// A chunk's data was read; its CRLF is not yet.
    after_chunk: bool,
    done: bool,
}

impl Response {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Reads some of the body; `Ok(0)` at its end.
    pub fn read_some(&mut self, buffer: &mut [u8]) -> Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.chunked {
            if self.chunk_left == 0 {
                let mut line = String::new();
                if self.after_chunk {
                    // The CRLF that ends the previous chunk's data.
                    self.reader.read_line(&mut line)?;
                    self.after_chunk = false;
                    line.clear();
                }
                if self.reader.read_line(&mut line)? == 0 {
                    bail!("the connection closed before the last chunk");
                }
                let size = line.split(';').next().unwrap_or_default().trim();
                let size = usize::from_str_radix(size, 16)
                    .with_context(|| format!("bad chunk size '{}'", size.escape_debug()))?;
                if size == 0 {
                    self.done = true;
                    return Ok(0);
                }
                self.chunk_left = size;
            }
            let want = self.chunk_left.min(buffer.len());
            let n = self.reader.read(&mut buffer[..want])?;
            if n == 0 {
                bail!("the connection closed mid-chunk");
            }
            self.chunk_left -= n;
            self.after_chunk = self.chunk_left == 0;
            return Ok(n);
        }
        let want = self.remaining.map_or(buffer.len(), |r| r.min(buffer.len()));
        if want == 0 {
            self.done = true;
            return Ok(0);
        }
        let n = self.reader.read(&mut buffer[..want])?;
        if let Some(remaining) = &mut self.remaining {
            *remaining -= n;
        }
        if n == 0 {
            self.done = true;
        }
        Ok(n)
    }

    /// Another handle on the connection (to shut it down from another
    /// thread).
    pub fn connection(&self) -> Result<TcpStream> {
        Ok(self.reader.get_ref().try_clone()?)
    }

    /// Reads the whole body.
    pub fn body(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buffer = [0_u8; 16 * 1024];
        loop {
            let n = self.read_some(&mut buffer)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buffer[..n]);
        }
    }

    /// The body as text.
    pub fn text(&mut self) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.body()?).into_owned())
    }
}

/// Reads a response head from `stream`.
fn read_response(stream: TcpStream) -> Result<Response> {
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line '{}'", status_line.trim_end()))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("the connection closed in the response head");
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v): &(String, String)| v.clone())
    };
    let chunked = find("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let remaining = find("Content-Length").and_then(|v| v.parse().ok());
    Ok(Response {
        status,
        headers,
        reader,
        chunked,
        remaining,
        chunk_left: 0,
        after_chunk: false,
        done: false,
    })
}

fn connect(address: &str) -> Result<TcpStream> {
    let stream =
        TcpStream::connect(address).with_context(|| format!("failed to connect to {address}"))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Sends a request with a whole body and returns the response.
pub fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response> {
    let mut stream = connect(address)?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    read_response(stream)
}

/// A request whose body is written chunk by chunk.
pub struct StreamingRequest {
    stream: TcpStream,
}

impl StreamingRequest {
    /// Sends the head of a chunked `POST`.
    pub fn post(address: &str, path: &str, headers: &[(&str, &str)]) -> Result<Self> {
        let mut stream = connect(address)?;
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
             Transfer-Encoding: chunked\r\n"
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        Ok(Self { stream })
    }

    /// Writes one chunk (not empty).
    pub fn send(&mut self, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
        chunk.extend_from_slice(data);
        chunk.extend_from_slice(b"\r\n");
        self.stream.write_all(&chunk)?;
        Ok(())
    }

    /// Ends the body and reads the response.
    pub fn finish(mut self) -> Result<Response> {
        self.stream.write_all(b"0\r\n\r\n")?;
        read_response(self.stream)
    }
}
