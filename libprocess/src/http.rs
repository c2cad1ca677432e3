//! HTTP requests and responses as processes see them, and the response
//! encoder of the transport.
//!
//! Upstream counterpart: `3rdparty/libprocess/include/process/http.hpp`
//! (`Request`, `Response`, `OK`, `Accepted`, ...) and `src/encoder.hpp`
//! (`HttpResponseEncoder`). Responses carry `Date`; bodies of 1 KiB or more
//! are gzip-compressed when the client accepts gzip, as upstream's
//! `HttpProxy` does; a streaming body is sent chunked. A route may take
//! request bodies as they arrive ([`BodyReader`], upstream's request
//! streaming with `Pipe::Reader`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::{BufMut, Bytes, BytesMut};

/// Upstream's `GZIP_MINIMUM_BODY_LENGTH`.
pub const GZIP_MINIMUM_BODY_LENGTH: usize = 1024;

/// An HTTP request delivered to a process endpoint.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The percent-decoded path as received, e.g. `/master/state`.
    pub path: String,
    /// The query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// Header names and values as received.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Bytes,
    /// The peer's address, when the request came over the network.
    pub client: Option<SocketAddr>,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// The body as it arrives, for a route that streams request bodies
    /// (installed with `ProcessBase::route_streaming`); `body` is then
    /// empty. Read it through [`Request::body_reader`].
    pub stream: Option<BodyStream>,
}

/// Why a streamed request body ended early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(pub String);

/// The receiving end of a streamed request body, shared by the clones of
/// its [`Request`]; the first [`Request::body_reader`] takes it.
#[derive(Debug, Clone)]
pub struct BodyStream(Arc<Mutex<Option<PieceReceiver>>>);

/// The channel end a streamed body arrives on.
pub type PieceReceiver = tokio::sync::mpsc::Receiver<Result<Bytes, BodyError>>;

impl BodyStream {
    /// Returns a stream fed by `receiver` (the transport's end; tests may
    /// build one too). The body ends when every sender is dropped after an
    /// `Ok` piece; an `Err` piece means it was cut short.
    pub fn new(receiver: PieceReceiver) -> Self {
        Self(Arc::new(Mutex::new(Some(receiver))))
    }
}

/// Reads a request body piece by piece, streamed or whole (upstream's
/// `Pipe::Reader` of a request with `Request::PIPE`).
#[derive(Debug)]
pub struct BodyReader {
    receiver: Option<PieceReceiver>,
    whole: Option<Bytes>,
}

impl BodyReader {
    /// Returns the next piece (never empty), `None` at the end of the
    /// body, or the error that cut it short.
    pub async fn next(&mut self) -> Option<Result<Bytes, BodyError>> {
        if let Some(whole) = self.whole.take().filter(|b| !b.is_empty()) {
            return Some(Ok(whole));
        }
        let receiver = self.receiver.as_mut()?;
        loop {
            match receiver.recv().await {
                Some(Ok(piece)) if piece.is_empty() => continue,
                Some(piece) => return Some(piece),
                None => {
                    self.receiver = None;
                    return None;
                }
            }
        }
    }

    /// Reads the rest of the body, refusing more than `limit` bytes.
    pub async fn read_to_end(&mut self, limit: usize) -> Result<Bytes, BodyError> {
        let mut all = BytesMut::new();
        while let Some(piece) = self.next().await {
            let piece = piece?;
            if all.len() + piece.len() > limit {
                return Err(BodyError(format!(
                    "request body exceeds the limit of {limit} bytes"
                )));
            }
            all.extend_from_slice(&piece);
        }
        Ok(all.freeze())
    }
}

impl Request {
    /// Returns a `GET` request for `path` (`?query` allowed), for tests and
    /// in-process calls.
    pub fn get(target: &str) -> Self {
        let (path, query) = split_target(target);
        Self {
            method: "GET".into(),
            path,
            query,
            headers: Vec::new(),
            body: Bytes::new(),
            client: None,
            keep_alive: true,
            stream: None,
        }
    }

    /// Returns a reader of the body: the streamed body when the route
    /// streams (only the first call gets it; later ones read nothing),
    /// else the whole `body` as one piece.
    pub fn body_reader(&self) -> BodyReader {
        match &self.stream {
            Some(stream) => BodyReader {
                receiver: stream.0.lock().unwrap_or_else(|p| p.into_inner()).take(),
                whole: None,
            },
            None => BodyReader {
                receiver: None,
                whole: Some(self.body.clone()),
            },
        }
    }

    /// Returns the first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Returns the first value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Returns whether the client accepts `encoding` (`Accept-Encoding`
    /// with q-values; `q=0` refuses), like upstream's `acceptsEncoding`.
    pub fn accepts_encoding(&self, encoding: &str) -> bool {
        let Some(header) = self.header("Accept-Encoding") else {
            return false;
        };
        quality_items(header)
            .any(|(name, q)| (name.eq_ignore_ascii_case(encoding) || name == "*") && q > 0.0)
    }

    /// Returns whether the client accepts media type `media` (`Accept`
    /// with q-values and the `type/*` and `*/*` wildcards; a request
    /// without `Accept` accepts anything), like upstream's
    /// `acceptsMediaType`.
    pub fn accepts_media_type(&self, media: &str) -> bool {
        let Some(header) = self.header("Accept") else {
            return true;
        };
        let kind = media.split('/').next().unwrap_or_default();
        quality_items(header).any(|(name, q)| {
            let matches = name.eq_ignore_ascii_case(media)
                || name == "*/*"
                || name
                    .strip_suffix("/*")
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind));
            matches && q > 0.0
        })
    }

    /// The first of `candidates` the client accepts (the server's order of
    /// preference decides, as in upstream's API handlers).
    pub fn preferred_media_type<'a>(&self, candidates: &[&'a str]) -> Option<&'a str> {
        candidates
            .iter()
            .copied()
            .find(|media| self.accepts_media_type(media))
    }
}

/// The items of an `Accept`-style header with their q-values (1.0 when
/// absent or unparsable).
fn quality_items(header: &str) -> impl Iterator<Item = (&str, f64)> {
    header.split(',').map(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f64>().ok())
            .unwrap_or(1.0);
        (name, q)
    })
}

/// A response body.
#[derive(Debug, Default)]
pub enum Body {
    /// No body.
    #[default]
    None,
    /// A complete body, sent with `Content-Length`.
    Full(Bytes),
    /// A body produced over time, sent chunked until every sender is
    /// dropped (upstream's `Response::PIPE`). When the client goes away the
    /// receiver is dropped, which producers see through
    /// `Sender::closed()`.
    Stream(tokio::sync::mpsc::Receiver<Bytes>),
}

/// An HTTP response from a process endpoint.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers besides `Date`, `Content-Length` and `Transfer-Encoding`.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body,
}

impl Response {
    /// Returns a response with `status` and no body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::None,
        }
    }

    /// `200 OK` with a `text/plain` body, like upstream's `OK(string)`.
    pub fn ok(body: impl Into<Bytes>) -> Self {
        Self::status(200).with_body("text/plain; charset=utf-8", body)
    }

    /// `200 OK` with rendered JSON, wrapped for `jsonp` when given
    /// (upstream's `OK(JSON::Value, jsonp)`).
    pub fn json(json: String, jsonp: Option<&str>) -> Self {
        match jsonp {
            Some(callback) => Self::status(200)
                .with_body("text/javascript", mesos_proto::json::jsonp(callback, &json)),
            None => Self::status(200).with_body("application/json", json),
        }
    }

    /// [`Response::json`] of JSON already in a shared buffer (sent as it
    /// is, without a copy, unless `jsonp` wraps it).
    pub fn json_bytes(json: Bytes, jsonp: Option<&str>) -> Self {
        match jsonp {
            Some(callback) => {
                let mut wrapped = Vec::with_capacity(json.len() + callback.len() + 3);
                wrapped.extend_from_slice(callback.as_bytes());
                wrapped.push(b'(');
                wrapped.extend_from_slice(&json);
                wrapped.extend_from_slice(b");");
                Self::status(200).with_body("text/javascript", wrapped)
            }
            None => Self::status(200).with_body("application/json", json),
        }
    }

    /// `400 Bad Request` with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::status(400).with_body("text/plain; charset=utf-8", message.into())
    }

    /// `404 Not Found`, with an optional message.
    pub fn not_found(message: impl Into<String>) -> Self {
        let message = message.into();
        if message.is_empty() {
            Self::status(404)
        } else {
            Self::status(404).with_body("text/plain; charset=utf-8", message)
        }
    }

    /// `405 Method Not Allowed` naming the allowed methods.
    pub fn method_not_allowed(allowed: &[&str], method: &str) -> Self {
        let mut response = Self::status(405).with_body(
            "text/plain; charset=utf-8",
            format!(
                "Expecting one of {{ '{}' }}, but received '{method}'",
                allowed.join("', '")
            ),
        );
        response.headers.push(("Allow".into(), allowed.join(", ")));
        response
    }

    /// `500 Internal Server Error` with a message.
    pub fn internal_error(message: impl Into<String>) -> Self {
        Self::status(500).with_body("text/plain; charset=utf-8", message.into())
    }

    /// Returns this response with a body of `content_type`.
    pub fn with_body(mut self, content_type: &str, body: impl Into<Bytes>) -> Self {
        self.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("Content-Type"));
        self.headers
            .push(("Content-Type".into(), content_type.into()));
        self.body = Body::Full(body.into());
        self
    }

    /// Returns this response with an extra header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Returns the first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Returns the body when complete (empty for none, `None` for a stream).
    pub fn body_bytes(&self) -> Option<&[u8]> {
        match &self.body {
            Body::None => Some(&[]),
            Body::Full(b) => Some(b),
            Body::Stream(_) => None,
        }
    }

    /// Compresses a complete body of at least 1 KiB when `request` accepts
    /// gzip and no encoding is set yet.
    pub fn gzip_for(mut self, request: &Request) -> Self {
        let Body::Full(body) = &self.body else {
            return self;
        };
        if body.len() < GZIP_MINIMUM_BODY_LENGTH
            || self.header("Content-Encoding").is_some()
            || !request.accepts_encoding("gzip")
        {
            return self;
        }
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        if encoder.write_all(body).is_err() {
            return self;
        }
        if let Ok(compressed) = encoder.finish() {
            self.body = Body::Full(compressed.into());
            self.headers
                .push(("Content-Encoding".into(), "gzip".into()));
        }
        self
    }
}

/// Returns the reason phrase upstream uses for `status`.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Returns the current time as an RFC 1123 `Date` header value.
pub fn http_date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format_http_date(secs)
}

fn format_http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Writes the status line and headers of `response`; a complete body
/// follows with `Content-Length`, a stream is announced as chunked.
pub fn encode_head(out: &mut BytesMut, response: &Response, keep_alive: bool) {
    let mut head = String::with_capacity(128);
    let _ = write!(
        head,
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    let _ = write!(head, "Date: {}\r\n", http_date());
    for (name, value) in &response.headers {
        if name.eq_ignore_ascii_case("Content-Length")
            || name.eq_ignore_ascii_case("Transfer-Encoding")
            || name.eq_ignore_ascii_case("Date")
        {
            continue;
        }
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    match &response.body {
        Body::None => head.push_str("Content-Length: 0\r\n"),
        Body::Full(body) => {
            let _ = write!(head, "Content-Length: {}\r\n", body.len());
        }
        Body::Stream(_) => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    head.push_str("\r\n");
    out.put_slice(head.as_bytes());
}

/// Writes one chunk of a chunked body (an empty `data` ends the body).
pub fn encode_chunk(out: &mut BytesMut, data: &[u8]) {
    let _ = write!(ChunkHeader(out), "{:x}\r\n", data.len());
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

struct ChunkHeader<'a>(&'a mut BytesMut);

impl std::fmt::Write for ChunkHeader<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

/// Percent-encodes `s` as upstream's `process::http::encode`: reserved
/// and unsafe characters, controls and non-ASCII bytes become `%XX`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        let reserved = b"$&+,/:;=?@ \"<>#%{}|\\^~[]`".contains(&c);
        if reserved || !(0x20..=0x7f).contains(&c) {
            out.push_str(&format!("%{c:02X}"));
        } else {
            out.push(c as char);
        }
    }
    out
}

/// Percent-decodes `s` (`+` stays `+`); invalid escapes are kept verbatim.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits a request target into its decoded path and decoded query
/// parameters (in a query, `+` means a space, as upstream's `query::decode`).
pub fn split_target(target: &str) -> (String, Vec<(String, String)>) {
    let target = target.split_once('#').map_or(target, |(t, _)| t);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let query = query
        .map(|q| {
            q.split(['&', ';'])
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (
                        percent_decode(&k.replace('+', " ")),
                        percent_decode(&v.replace('+', " ")),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (path.to_string(), query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc1123() {
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            format_http_date(1_700_000_000),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
    }

    #[test]
    fn percent_encoding_is_upstreams() {
        assert_eq!(percent_encode("my framework/1"), "my%20framework%2F1");
        assert_eq!(percent_encode("a~b^c"), "a%7Eb%5Ec");
        assert_eq!(percent_encode("plain-name_1.0"), "plain-name_1.0");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_decode(&percent_encode("a b/c")), "a b/c");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("slave%281%29"), "slave(1)");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn targets_split_into_path_and_query() {
        let (path, query) = split_target("/master/state?jsonp=cb&x=a+b%21");
        assert_eq!(path, "/master/state");
        assert_eq!(
            query,
            vec![("jsonp".into(), "cb".into()), ("x".into(), "a b!".into())]
        );
    }

    #[test]
    fn accept_encoding_honours_q_values() {
        let mut request = Request::get("/");
        request
            .headers
            .push(("accept-encoding".into(), "deflate, gzip;q=0".into()));
        assert!(!request.accepts_encoding("gzip"));
        request.headers[0].1 = "gzip;q=0.5".into();
        assert!(request.accepts_encoding("gzip"));
    }

    #[test]
    fn accept_picks_the_first_acceptable_media_type() {
        const JSON: &str = "application/json";
        const PROTOBUF: &str = "application/x-protobuf";
        let mut request = Request::get("/");
        assert!(request.accepts_media_type(PROTOBUF));
        assert_eq!(request.preferred_media_type(&[JSON, PROTOBUF]), Some(JSON));
        for (accept, preferred) in [
            ("application/x-protobuf", Some(PROTOBUF)),
            (
                "application/json;q=0, application/x-protobuf",
                Some(PROTOBUF),
            ),
            ("application/*", Some(JSON)),
            ("*/*;q=0.1", Some(JSON)),
            ("Application/JSON", Some(JSON)),
            ("text/*, application/json;q=0", None),
            ("text/plain", None),
        ] {
            request.headers = vec![("Accept".into(), accept.into())];
            assert_eq!(
                request.preferred_media_type(&[JSON, PROTOBUF]),
                preferred,
                "{accept}"
            );
        }
    }

    #[test]
    fn large_bodies_are_gzipped_when_accepted() {
        let mut request = Request::get("/");
        let small = Response::ok("x").gzip_for(&request);
        assert!(small.header("Content-Encoding").is_none());
        request
            .headers
            .push(("Accept-Encoding".into(), "gzip".into()));
        let large = Response::ok(vec![b'a'; 4096]).gzip_for(&request);
        assert_eq!(large.header("Content-Encoding"), Some("gzip"));
        let mut decoded = Vec::new();
        let mut decoder = flate2::read::GzDecoder::new(large.body_bytes().unwrap());
        std::io::Read::read_to_end(&mut decoder, &mut decoded).unwrap();
        assert_eq!(decoded.len(), 4096);
    }
}
