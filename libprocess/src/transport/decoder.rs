//! Incremental HTTP/1.x request decoder for the libprocess socket.
//!
//! Upstream counterpart: `3rdparty/libprocess/src/decoder.hpp`
//! (`DataDecoder`, built on http-parser). Bytes from the socket are fed in
//! as they arrive; [`RequestDecoder::next`] returns each complete request,
//! so pipelined requests come out one by one, in order. Bodies may be
//! framed by `Content-Length`, by `Transfer-Encoding: chunked`, or absent
//! (a libprocess message with an empty body has neither header).
//!
//! Every malformed input is an error the connection answers with a 4xx
//! before closing: a bad request line or header, an invalid length, a bad
//! chunk, a head or body over the limits. The decoder never panics on any
//! input; `fuzz/` runs it under libFuzzer.

use bytes::{Buf, Bytes, BytesMut};

/// Bounds on what one request may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Request line plus headers.
    pub max_head: usize,
    /// Number of headers.
    pub max_headers: usize,
    /// Body, after de-chunking.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head: 64 * 1024,
            max_headers: 128,
            max_body: 256 * 1024 * 1024,
        }
    }
}

/// A decoded request, body complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// Method token.
    pub method: String,
    /// Request target as sent (path and query, still encoded).
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Headers in order; values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (empty when there is none).
    pub body: Bytes,
}

impl RawRequest {
    /// Returns the first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Returns whether the connection stays open after this request.
    pub fn keep_alive(&self) -> bool {
        let connection = self.header("Connection").map(str::to_ascii_lowercase);
        match self.minor_version {
            0 => connection.is_some_and(|c| c.contains("keep-alive")),
            _ => !connection.is_some_and(|c| c.contains("close")),
        }
    }
}

/// Why a request could not be decoded; [`DecodeError::status`] is what the
/// connection answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Request line or headers are malformed.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// A body framing header is invalid.
    #[error("invalid body framing: {0}")]
    Framing(String),
    /// A chunk of a chunked body is malformed.
    #[error("malformed chunk: {0}")]
    Chunk(String),
    /// Head or body exceeds the limits.
    #[error("{what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// `request head` or `request body`.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A transfer coding other than chunked.
    #[error("unsupported transfer encoding '{0}'")]
    Unsupported(String),
}

impl DecodeError {
    /// Returns the HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge {
                what: "request head",
                ..
            } => 431,
            Self::TooLarge { .. } => 413,
            Self::Unsupported(_) => 501,
            _ => 400,
        }
    }
}

struct Head {
    method: String,
    target: String,
    minor_version: u8,
    headers: Vec<(String, String)>,
}

enum Chunked {
    /// Expecting `<hex>[;ext]\r\n`.
    Size,
    /// Reading a chunk's data; bytes left.
    Data(usize),
    /// Expecting the `\r\n` after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one.
    Trailers,
}

/// What one step of chunked decoding achieved.
enum Progress {
    /// Moved on; try the next step.
    Continue(Chunked),
    /// Needs more bytes in this state.
    NeedMore(Chunked),
    /// The body and its trailers are complete.
    Done,
}

enum State {
    Head,
    Length {
        head: Head,
        remaining: usize,
        body: BytesMut,
    },
    Chunked {
        head: Head,
        chunk: Chunked,
        body: BytesMut,
    },
    /// A streamed body (its head already returned): bytes left.
    StreamLength(usize),
    /// A streamed chunked body.
    StreamChunked(Chunked),
    /// A streamed body is complete; [`RequestDecoder::next_body`] reports
    /// its end next.
    StreamEnd,
    Failed,
}

/// What [`RequestDecoder::next_with`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A request with its whole body.
    Request(RawRequest),
    /// The head of a request whose body is streamed (its `body` is
    /// empty): read the body with [`RequestDecoder::next_body`] until
    /// [`BodyPiece::End`].
    Streaming(RawRequest),
}

/// A piece of a streamed request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyPiece {
    /// Body bytes (de-chunked).
    Data(Bytes),
    /// The body is complete; the next request may follow.
    End,
}

/// The incremental decoder.
pub struct RequestDecoder {
    buffer: BytesMut,
    state: State,
    limits: Limits,
}

impl Default for RequestDecoder {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

const MAX_CHUNK_LINE: usize = 1024;

impl RequestDecoder {
    /// Returns a decoder with `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            buffer: BytesMut::with_capacity(8 * 1024),
            state: State::Head,
            limits,
        }
    }

    /// Returns the buffer to read socket data into.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buffer
    }

    /// Appends received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.buffer.extend_from_slice(data);
    }

    /// Returns whether a request is partly received.
    pub fn in_progress(&self) -> bool {
        !matches!(self.state, State::Head) || !self.buffer.is_empty()
    }

    /// Returns the next complete request, `Ok(None)` when more bytes are
    /// needed. After an error the decoder stays failed.
    #[allow(clippy::should_implement_trait)] // fallible, unlike Iterator::next
    pub fn next(&mut self) -> Result<Option<RawRequest>, DecodeError> {
        match self.next_with(|_| false)? {
            Some(Decoded::Request(request) | Decoded::Streaming(request)) => Ok(Some(request)),
            None => Ok(None),
        }
    }

    /// Like [`RequestDecoder::next`], but a request for which `stream`
    /// returns `true` (asked once its head is complete) comes out at once
    /// as [`Decoded::Streaming`], and its body is then read piece by piece
    /// with [`RequestDecoder::next_body`]. Until that body has ended this
    /// returns `Ok(None)`.
    pub fn next_with(
        &mut self,
        stream: impl Fn(&RawRequest) -> bool,
    ) -> Result<Option<Decoded>, DecodeError> {
        let result = self.step(&stream);
        if result.is_err() {
            self.state = State::Failed;
            self.buffer.clear();
        }
        result
    }

    /// Returns the next piece of a streamed body, `Ok(None)` when more
    /// bytes are needed (or no body is being streamed). Pieces are at most
    /// what has arrived; a chunked body's chunk boundaries are not kept.
    /// After an error the decoder stays failed.
    pub fn next_body(&mut self) -> Result<Option<BodyPiece>, DecodeError> {
        let result = self.step_body();
        if result.is_err() {
            self.state = State::Failed;
            self.buffer.clear();
        }
        result
    }

    fn step_body(&mut self) -> Result<Option<BodyPiece>, DecodeError> {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::StreamEnd => {
                self.state = State::Head;
                Ok(Some(BodyPiece::End))
            }
            State::StreamLength(0) => {
                self.state = State::Head;
                Ok(Some(BodyPiece::End))
            }
            State::StreamLength(remaining) => {
                let take = remaining.min(self.buffer.len());
                self.state = State::StreamLength(remaining - take);
                if take == 0 {
                    return Ok(None);
                }
                Ok(Some(BodyPiece::Data(self.buffer.split_to(take).freeze())))
            }
            State::StreamChunked(mut chunk) => {
                let mut body = BytesMut::new();
                loop {
                    match self.step_chunked(chunk, &mut body)? {
                        Progress::Continue(next) => chunk = next,
                        Progress::NeedMore(next) => {
                            self.state = State::StreamChunked(next);
                            break;
                        }
                        Progress::Done => {
                            self.state = State::StreamEnd;
                            break;
                        }
                    }
                    // Hand over what one chunk gave before parsing on.
                    if !body.is_empty() && matches!(chunk, Chunked::Size) {
                        self.state = State::StreamChunked(chunk);
                        break;
                    }
                }
                if !body.is_empty() {
                    return Ok(Some(BodyPiece::Data(body.freeze())));
                }
                if matches!(self.state, State::StreamEnd) {
                    return self.step_body();
                }
                Ok(None)
            }
            other => {
                self.state = other;
                Ok(None)
            }
        }
    }

    fn step(
        &mut self,
        stream: &dyn Fn(&RawRequest) -> bool,
    ) -> Result<Option<Decoded>, DecodeError> {
        loop {
            match std::mem::replace(&mut self.state, State::Failed) {
                State::Failed => {
                    return Err(DecodeError::Malformed("decoder failed earlier".into()));
                }
                state @ (State::StreamLength(_) | State::StreamChunked(_) | State::StreamEnd) => {
                    self.state = state;
                    return Ok(None);
                }
                State::Head => {
                    let Some(head) = self.parse_head()? else {
                        self.state = State::Head;
                        return Ok(None);
                    };
                    let state = self.body_state(head)?;
                    let (head, streamed) = match state {
                        State::Length {
                            head, remaining, ..
                        } => (head, State::StreamLength(remaining)),
                        State::Chunked { head, chunk, .. } => (head, State::StreamChunked(chunk)),
                        other => {
                            self.state = other;
                            continue;
                        }
                    };
                    let request = finish(head, BytesMut::new());
                    if stream(&request) {
                        self.state = streamed;
                        return Ok(Some(Decoded::Streaming(request)));
                    }
                    let head = Head {
                        method: request.method,
                        target: request.target,
                        minor_version: request.minor_version,
                        headers: request.headers,
                    };
                    self.state = match streamed {
                        State::StreamLength(remaining) => State::Length {
                            head,
                            remaining,
                            body: BytesMut::with_capacity(remaining.min(1 << 20)),
                        },
                        State::StreamChunked(chunk) => State::Chunked {
                            head,
                            chunk,
                            body: BytesMut::new(),
                        },
                        _ => unreachable!("only body states are streamed"),
                    };
                }
                State::Length {
                    head,
                    mut remaining,
                    mut body,
                } => {
                    let take = remaining.min(self.buffer.len());
                    body.extend_from_slice(&self.buffer[..take]);
                    self.buffer.advance(take);
                    remaining -= take;
                    if remaining > 0 {
                        self.state = State::Length {
                            head,
                            remaining,
                            body,
                        };
                        return Ok(None);
                    }
                    self.state = State::Head;
                    return Ok(Some(Decoded::Request(finish(head, body))));
                }
                State::Chunked {
                    head,
                    mut chunk,
                    mut body,
                } => loop {
                    match self.step_chunked(chunk, &mut body)? {
                        Progress::Continue(next) => chunk = next,
                        Progress::NeedMore(next) => {
                            self.state = State::Chunked {
                                head,
                                chunk: next,
                                body,
                            };
                            return Ok(None);
                        }
                        Progress::Done => {
                            self.state = State::Head;
                            return Ok(Some(Decoded::Request(finish(head, body))));
                        }
                    }
                },
            }
        }
    }

    fn parse_head(&mut self) -> Result<Option<Head>, DecodeError> {
        // Tolerate blank lines between pipelined requests (RFC 7230 §3.5).
        while self.buffer.starts_with(b"\r\n") {
            self.buffer.advance(2);
        }
        if self.buffer.is_empty() {
            return Ok(None);
        }
        let mut headers = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut request = httparse::Request::new(&mut headers);
        // Parse at most `max_head` bytes, so the outcome (a request, an
        // error, or "too large") does not depend on how the bytes arrived.
        let window = self.buffer.len().min(self.limits.max_head);
        let status = request.parse(&self.buffer[..window]).map_err(|e| match e {
            httparse::Error::TooManyHeaders => {
                DecodeError::Malformed(format!("more than {} headers", self.limits.max_headers))
            }
            other => DecodeError::Malformed(other.to_string()),
        })?;
        let length = match status {
            httparse::Status::Partial => {
                if self.buffer.len() >= self.limits.max_head {
                    return Err(DecodeError::TooLarge {
                        what: "request head",
                        limit: self.limits.max_head,
                    });
                }
                return Ok(None);
            }
            httparse::Status::Complete(length) => length,
        };
        if length > self.limits.max_head {
            return Err(DecodeError::TooLarge {
                what: "request head",
                limit: self.limits.max_head,
            });
        }
        let head = Head {
            method: request.method.unwrap_or_default().to_string(),
            target: request.path.unwrap_or_default().to_string(),
            minor_version: request.version.unwrap_or(1),
            headers: request
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).trim().to_string(),
                    )
                })
                .collect(),
        };
        self.buffer.advance(length);
        Ok(Some(head))
    }

    fn body_state(&self, head: Head) -> Result<State, DecodeError> {
        fn find<'a>(head: &'a Head, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
            head.headers
                .iter()
                .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
        let encodings: Vec<String> = find(&head, "Transfer-Encoding")
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
            .collect();
        let lengths: Vec<String> = find(&head, "Content-Length").map(str::to_string).collect();
        if !encodings.is_empty() {
            if !lengths.is_empty() {
                return Err(DecodeError::Framing(
                    "both Transfer-Encoding and Content-Length".into(),
                ));
            }
            if encodings.iter().any(|e| e != "chunked") || encodings.len() > 1 {
                return Err(DecodeError::Unsupported(encodings.join(", ")));
            }
            return Ok(State::Chunked {
                head,
                chunk: Chunked::Size,
                body: BytesMut::new(),
            });
        }
        let mut length = None;
        for value in &lengths {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DecodeError::Framing(format!(
                    "invalid Content-Length '{value}'"
                )));
            }
            let parsed: usize = value
                .parse()
                .map_err(|_| DecodeError::Framing(format!("invalid Content-Length '{value}'")))?;
            if length.is_some_and(|l| l != parsed) {
                return Err(DecodeError::Framing(
                    "conflicting Content-Length values".into(),
                ));
            }
            length = Some(parsed);
        }
        let length = length.unwrap_or(0);
        if length > self.limits.max_body {
            return Err(DecodeError::TooLarge {
                what: "request body",
                limit: self.limits.max_body,
            });
        }
        Ok(State::Length {
            head,
            remaining: length,
            body: BytesMut::with_capacity(length.min(1 << 20)),
        })
    }

    /// Advances the chunked body by one step.
    fn step_chunked(
        &mut self,
        chunk: Chunked,
        body: &mut BytesMut,
    ) -> Result<Progress, DecodeError> {
        match chunk {
            Chunked::Size => {
                let Some(line) = self.take_line()? else {
                    return Ok(Progress::NeedMore(Chunked::Size));
                };
                let size = line.split(|b| *b == b';').next().unwrap_or_default();
                // Hex digits, then optional whitespace before an extension.
                let size = std::str::from_utf8(size)
                    .ok()
                    .map(|s| s.trim_end_matches([' ', '\t']))
                    .filter(|s| !s.is_empty() && s.len() <= 16)
                    .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|s| usize::from_str_radix(s, 16).ok())
                    .ok_or_else(|| {
                        DecodeError::Chunk(format!(
                            "invalid chunk size '{}'",
                            String::from_utf8_lossy(&line[..line.len().min(32)])
                        ))
                    })?;
                if size == 0 {
                    return Ok(Progress::Continue(Chunked::Trailers));
                }
                if body.len().saturating_add(size) > self.limits.max_body {
                    return Err(DecodeError::TooLarge {
                        what: "request body",
                        limit: self.limits.max_body,
                    });
                }
                Ok(Progress::Continue(Chunked::Data(size)))
            }
            Chunked::Data(remaining) => {
                let take = remaining.min(self.buffer.len());
                body.extend_from_slice(&self.buffer[..take]);
                self.buffer.advance(take);
                if take < remaining {
                    Ok(Progress::NeedMore(Chunked::Data(remaining - take)))
                } else {
                    Ok(Progress::Continue(Chunked::DataEnd))
                }
            }
            Chunked::DataEnd => {
                if self.buffer.len() < 2 {
                    return Ok(Progress::NeedMore(Chunked::DataEnd));
                }
                if &self.buffer[..2] != b"\r\n" {
                    return Err(DecodeError::Chunk("chunk data not followed by CRLF".into()));
                }
                self.buffer.advance(2);
                Ok(Progress::Continue(Chunked::Size))
            }
            Chunked::Trailers => match self.take_line()? {
                None => Ok(Progress::NeedMore(Chunked::Trailers)),
                Some(line) if line.is_empty() => Ok(Progress::Done),
                Some(_) => Ok(Progress::Continue(Chunked::Trailers)),
            },
        }
    }

    /// Takes one CRLF-terminated line (without the CRLF) if complete.
    /// Lines longer than `MAX_CHUNK_LINE` are refused whether or not their
    /// end has arrived, so the outcome does not depend on read sizes.
    fn take_line(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        let window = self.buffer.len().min(MAX_CHUNK_LINE + 2);
        match self.buffer[..window].windows(2).position(|w| w == b"\r\n") {
            Some(end) => {
                let line = self.buffer[..end].to_vec();
                self.buffer.advance(end + 2);
                Ok(Some(line))
            }
            None if self.buffer.len() >= MAX_CHUNK_LINE + 2 => {
                Err(DecodeError::Chunk("chunk line too long".into()))
            }
            None => Ok(None),
        }
    }
}

fn finish(head: Head, body: BytesMut) -> RawRequest {
    RawRequest {
        method: head.method,
        target: head.target,
        minor_version: head.minor_version,
        headers: head.headers,
        body: body.freeze(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<Vec<RawRequest>, DecodeError> {
        let mut decoder = RequestDecoder::default();
        decoder.feed(input);
        let mut out = Vec::new();
        while let Some(request) = decoder.next()? {
            out.push(request);
        }
        Ok(out)
    }

    const CHUNKED: &[u8] = b"POST /master/mesos.internal.Ping HTTP/1.1\r\n\
User-Agent: libprocess/slave(1)@127.0.0.1:5051\r\n\
Libprocess-From: slave(1)@127.0.0.1:5051\r\n\
Connection: Keep-Alive\r\n\
Host: \r\n\
Transfer-Encoding: chunked\r\n\r\n\
5\r\nhello\r\n0\r\n\r\n";

    #[test]
    fn chunked_message_with_empty_host() {
        let requests = decode_all(CHUNKED).unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].method, "POST");
        assert_eq!(requests[0].target, "/master/mesos.internal.Ping");
        assert_eq!(requests[0].header("host"), Some(""));
        assert_eq!(&requests[0].body[..], b"hello");
        assert!(requests[0].keep_alive());
    }

    #[test]
    fn every_split_point_gives_the_same_requests() {
        let mut stream = CHUNKED.to_vec();
        stream.extend_from_slice(
            b"POST /a/b HTTP/1.1\r\nLibprocess-From: x@1.2.3.4:5\r\nContent-Length: 3\r\n\r\nabc",
        );
        stream.extend_from_slice(b"POST /a/empty HTTP/1.1\r\nLibprocess-From: x@1.2.3.4:5\r\n\r\n");
        let expected = decode_all(&stream).unwrap();
        assert_eq!(expected.len(), 3);
        for split in 0..stream.len() {
            let mut decoder = RequestDecoder::default();
            let mut got = Vec::new();
            decoder.feed(&stream[..split]);
            while let Some(r) = decoder.next().unwrap() {
                got.push(r);
            }
            decoder.feed(&stream[split..]);
            while let Some(r) = decoder.next().unwrap() {
                got.push(r);
            }
            assert_eq!(got, expected, "split at {split}");
        }
    }

    #[test]
    fn chunk_extensions_and_trailers_are_accepted() {
        let input = b"POST /a/b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(&decode_all(input).unwrap()[0].body[..], b"abcde");
    }

    #[test]
    fn malformed_input_is_an_error_with_a_4xx() {
        let cases: &[(&[u8], u16)] = &[
            (b"GARBAGE\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
                400,
            ),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                400,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc",
                400,
            ),
        ];
        for (input, status) in cases {
            let error = decode_all(input).unwrap_err();
            assert_eq!(
                error.status(),
                *status,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn oversized_bodies_and_heads_are_refused() {
        let limits = Limits {
            max_head: 64,
            max_headers: 4,
            max_body: 8,
        };
        let mut decoder = RequestDecoder::new(limits);
        decoder.feed(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n");
        assert_eq!(decoder.next().unwrap_err().status(), 413);

        let mut decoder = RequestDecoder::new(limits);
        decoder.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n5\r\n");
        assert_eq!(decoder.next().unwrap_err().status(), 413);

        let mut decoder = RequestDecoder::new(limits);
        decoder.feed(&[b'a'; 100]);
        assert_eq!(decoder.next().unwrap_err().status(), 431);
    }

    #[test]
    fn limits_give_the_same_outcome_however_bytes_arrive() {
        // Found by the request_decoder fuzz target: an error inside the
        // head limit and a long chunk line, fed whole and split.
        let limits = Limits {
            max_head: 64,
            max_headers: 16,
            max_body: 1024,
        };
        let mut head = b"GET / HTTP/1.1\r\nA: ".to_vec();
        head.extend_from_slice(&[b'a'; 50]);
        head.extend_from_slice(b"\x01\r\n\r\n");
        let mut long_line = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
        long_line.extend_from_slice(&[b'a'; 2000]);
        long_line.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
        for input in [head, long_line] {
            let whole = {
                let mut decoder = RequestDecoder::new(limits);
                decoder.feed(&input);
                decoder
                    .next()
                    .map(|r| r.map(|r| r.body))
                    .map_err(|e| e.status())
            };
            for split in [1, 17, 65, 500] {
                let mut decoder = RequestDecoder::new(limits);
                let mut outcome = Ok(None);
                for piece in input.chunks(split) {
                    decoder.feed(piece);
                    outcome = decoder
                        .next()
                        .map(|r| r.map(|r| r.body))
                        .map_err(|e| e.status());
                    if !matches!(outcome, Ok(None)) {
                        break;
                    }
                }
                assert_eq!(outcome, whole, "split into pieces of {split}");
            }
        }
    }

    #[test]
    fn chunk_sizes_are_strict_hex() {
        for bad in [&b"+5"[..], b" 5", b"0x5"] {
            let mut input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            input.extend_from_slice(bad);
            input.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
            assert_eq!(decode_all(&input).unwrap_err().status(), 400);
        }
    }

    fn streamed(input: &[u8], split: usize) -> (Vec<u8>, Vec<RawRequest>) {
        let mut decoder = RequestDecoder::default();
        let mut body = Vec::new();
        let mut heads = Vec::new();
        let mut streaming = false;
        for piece in input.chunks(split) {
            decoder.feed(piece);
            loop {
                if streaming {
                    match decoder.next_body().unwrap() {
                        Some(BodyPiece::Data(data)) => body.extend_from_slice(&data),
                        Some(BodyPiece::End) => streaming = false,
                        None => break,
                    }
                    continue;
                }
                match decoder
                    .next_with(|r| r.target.starts_with("/stream"))
                    .unwrap()
                {
                    Some(Decoded::Streaming(head)) => {
                        assert!(head.body.is_empty());
                        heads.push(head);
                        streaming = true;
                    }
                    Some(Decoded::Request(request)) => heads.push(request),
                    None => break,
                }
            }
        }
        (body, heads)
    }

    #[test]
    fn streamed_bodies_come_out_in_pieces_however_bytes_arrive() {
        let mut input = b"POST /stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
5\r\nhello\r\n6;x=1\r\n world\r\n0\r\nT: 1\r\n\r\n"
            .to_vec();
        input.extend_from_slice(b"POST /stream HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
        input.extend_from_slice(b"POST /whole HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy");
        for split in 1..input.len() {
            let (body, heads) = streamed(&input, split);
            assert_eq!(body, b"hello worldabc", "split {split}");
            assert_eq!(heads.len(), 3, "split {split}");
            assert_eq!(&heads[2].body[..], b"xy");
        }
    }

    #[test]
    fn a_streamed_body_blocks_the_next_request_until_it_ends() {
        let mut decoder = RequestDecoder::default();
        decoder.feed(b"POST /s HTTP/1.1\r\nContent-Length: 2\r\n\r\n");
        assert!(matches!(
            decoder.next_with(|_| true).unwrap(),
            Some(Decoded::Streaming(_))
        ));
        decoder.feed(b"ab");
        assert_eq!(decoder.next().unwrap(), None);
        assert_eq!(
            decoder.next_body().unwrap(),
            Some(BodyPiece::Data(Bytes::from_static(b"ab")))
        );
        assert_eq!(decoder.next_body().unwrap(), Some(BodyPiece::End));
        assert_eq!(decoder.next_body().unwrap(), None);
    }

    #[test]
    fn http_1_0_closes_unless_keep_alive() {
        let requests =
            decode_all(b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                .unwrap();
        assert!(!requests[0].keep_alive());
        assert!(requests[1].keep_alive());
    }
}
