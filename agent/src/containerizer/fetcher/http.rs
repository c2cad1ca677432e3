//! Network downloads for the `mesos-fetcher` helper and the fetcher's
//! size probe (upstream `net::download` and `net::contentLength`, both on
//! libcurl).
//!
//! `http://` is spoken here: a blocking HTTP/1.1 client over
//! `std::net::TcpStream` (`httparse` for the response head; bodies framed
//! by `Content-Length`, chunked, or the end of the connection; up to 10
//! redirects, as curl's `FOLLOWLOCATION`). `https://`, `ftp://` and
//! `ftps://` go to the system `curl` program, the way extraction goes to
//! the system `tar`: this build links no TLS library. Without `curl` such
//! a URI fails with an error that says so.
//!
//! The stall timeout is a read timeout: a download that receives nothing
//! for that long is abandoned (curl's `LOW_SPEED_LIMIT` of one byte per
//! second over `LOW_SPEED_TIME`, upstream, behaves the same way for a
//! stalled peer).

use std::io::{BufRead as _, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::path::Path;
use std::time::Duration;

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 10;

/// How long a connection or read may take when no stall timeout is set.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A parsed `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    host: String,
    port: u16,
    /// Path and query, starting with `/`.
    target: String,
}

impl Url {
    fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("not an http:// URL: {url}"))?;
        let (authority, target) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let target = target.split('#').next().unwrap_or("/");
        let target = if target.starts_with('/') {
            target.to_string()
        } else {
            format!("/{target}")
        };
        // Credentials in the authority are not sent.
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("malformed host in URL: {url}"))?;
            (host.to_string(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host.to_string(), Some(port)),
                None => (authority.to_string(), None),
            }
        };
        let port = match port {
            Some(port) => port
                .parse()
                .map_err(|_| format!("invalid port in URL: {url}"))?,
            None => 80,
        };
        if host.is_empty() {
            return Err(format!("missing host in URL: {url}"));
        }
        Ok(Self { host, port, target })
    }

    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Resolves a `Location` against this URL.
    fn join(&self, location: &str) -> String {
        if location.contains("://") {
            location.to_string()
        } else if location.starts_with("//") {
            format!("http:{location}")
        } else if location.starts_with('/') {
            format!("http://{}{location}", self.host_header())
        } else {
            let path = self.target.split('?').next().unwrap_or("/");
            let base = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("http://{}{base}{location}", self.host_header())
        }
    }
}

/// A response head and the connection its body is read from.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: BufReader<TcpStream>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn request(
    url: &Url,
    method: &str,
    timeout: Duration,
    extra: &[(String, String)],
) -> Result<Response, String> {
    let addresses: Vec<_> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| format!("failed to resolve host '{}': {e}", url.host))?
        .collect();
    let mut last = format!("no address for host '{}'", url.host);
    let mut stream = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("failed to connect to {address}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last)?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("failed to set socket timeouts: {e}"))?;
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: mesos-fetcher/{}\r\nConnection: close\r\n",
        url.target,
        url.host_header(),
        crate::VERSION
    );
    if !extra.iter().any(|(n, _)| n.eq_ignore_ascii_case("Accept")) {
        head.push_str("Accept: */*\r\n");
    }
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .map_err(|e| format!("failed to send the request: {e}"))?;
    let mut reader = BufReader::new(stream);
    let mut raw = Vec::new();
    loop {
        let before = raw.len();
        let read = reader
            .read_until(b'\n', &mut raw)
            .map_err(|e| read_error("the response", &e))?;
        if read == 0 {
            return Err("connection closed before a response".into());
        }
        if raw.len() > 64 * 1024 {
            return Err("response head too large".into());
        }
        if &raw[before..] == b"\r\n" || &raw[before..] == b"\n" {
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&raw) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err("incomplete response head".into()),
        Err(e) => return Err(format!("malformed response: {e}")),
    }
    let status = response.code.unwrap_or(0);
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
    Ok(Response {
        status,
        headers,
        body: reader,
    })
}

fn read_error(what: &str, error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            format!("stalled: no data received while reading {what}")
        }
        _ => format!("failed to read {what}: {error}"),
    }
}

/// Follows redirects; returns the final response. The `extra` headers go
/// with every request to the first URL's host, and all but
/// `Authorization` to the others (as curl).
fn follow(
    url: &str,
    method: &str,
    timeout: Duration,
    extra: &[(String, String)],
) -> Result<Response, String> {
    let mut current = url.to_string();
    let first = Url::parse(url)?;
    let elsewhere: Vec<(String, String)> = extra
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("Authorization"))
        .cloned()
        .collect();
    for _ in 0..=MAX_REDIRECTS {
        if !current.starts_with("http://") {
            // A redirect to https:// or elsewhere: curl's business.
            return Err(format!("redirected to '{current}', which is not http://"));
        }
        let parsed = Url::parse(&current)?;
        let same_host = parsed.host == first.host && parsed.port == first.port;
        let headers = if same_host { extra } else { &elsewhere };
        let response = request(&parsed, method, timeout, headers)?;
        match (response.status, response.header("Location")) {
            (301 | 302 | 303 | 307 | 308, Some(location)) => current = parsed.join(location),
            _ => return Ok(response),
        }
    }
    Err(format!("too many redirects from '{url}'"))
}

/// Copies the body of `response` to `out`; returns the bytes written.
fn copy_body(response: &mut Response, out: &mut (impl Write + ?Sized)) -> Result<u64, String> {
    let chunked = response
        .header("Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = response
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok());
    let write_error = |e: std::io::Error| format!("failed to write the download: {e}");
    if chunked {
        let mut total = 0;
        loop {
            let mut line = String::new();
            response
                .body
                .read_line(&mut line)
                .map_err(|e| read_error("a chunk", &e))?;
            let size = line.trim().split(';').next().unwrap_or("");
            let size = u64::from_str_radix(size, 16)
                .map_err(|_| format!("malformed chunk size '{}'", line.trim()))?;
            if size == 0 {
                return Ok(total);
            }
            let copied = std::io::copy(&mut (&mut response.body).take(size), out)
                .map_err(|e| read_error("a chunk", &e))?;
            if copied != size {
                return Err("connection closed in the middle of a chunk".into());
            }
            total += copied;
            let mut crlf = String::new();
            response
                .body
                .read_line(&mut crlf)
                .map_err(|e| read_error("a chunk", &e))?;
        }
    }
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        if length.is_some_and(|l| total >= l) {
            break;
        }
        let want = length.map_or(buffer.len(), |l| {
            usize::try_from(l - total).map_or(buffer.len(), |r| r.min(buffer.len()))
        });
        let read = response
            .body
            .read(&mut buffer[..want])
            .map_err(|e| read_error("the body", &e))?;
        if read == 0 {
            break;
        }
        out.write_all(&buffer[..read]).map_err(write_error)?;
        total += read as u64;
    }
    if let Some(length) = length {
        if total < length {
            return Err(format!("connection closed after {total} of {length} bytes"));
        }
    }
    Ok(total)
}

/// Downloads `uri` into `destination` (created or truncated); returns
/// the final status code (200, or 226 for FTP, on success).
pub fn download(uri: &str, destination: &Path, stall: Option<Duration>) -> Result<u16, String> {
    if !uri.starts_with("http://") {
        return curl_download(uri, destination, stall);
    }
    let mut response = follow(uri, "GET", stall.unwrap_or(DEFAULT_TIMEOUT), &[])?;
    if response.status != 200 {
        return Ok(response.status);
    }
    let mut file = std::fs::File::create(destination)
        .map_err(|e| format!("failed to create '{}': {e}", destination.display()))?;
    copy_body(&mut response, &mut file)?;
    file.sync_all()
        .map_err(|e| format!("failed to sync '{}': {e}", destination.display()))?;
    Ok(response.status)
}

/// The size `uri` reports (`Content-Length` of a `HEAD`).
pub fn content_length(uri: &str, stall: Option<Duration>) -> Result<u64, String> {
    if !uri.starts_with("http://") {
        return curl_content_length(uri, stall);
    }
    let response = follow(uri, "HEAD", stall.unwrap_or(DEFAULT_TIMEOUT), &[])?;
    if response.status != 200 {
        return Err(format!(
            "HEAD of '{uri}' answered with status code {}",
            response.status
        ));
    }
    response
        .header("Content-Length")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no Content-Length for '{uri}'"))
}

/// The status and headers of a response to [`get`].
#[derive(Debug, Clone)]
pub struct Head {
    /// The final status code (after redirects).
    pub status: u16,
    /// The final response's headers.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// GETs `url` with the caller's request headers, following redirects;
/// the body of the final response, whatever its status, is written to
/// `out`. `https://` goes through the system `curl`, as [`download`].
pub fn get(
    url: &str,
    headers: &[(String, String)],
    timeout: Duration,
    out: &mut dyn Write,
) -> Result<Head, String> {
    if !url.starts_with("http://") {
        return curl_get(url, headers, timeout, out);
    }
    let mut response = follow(url, "GET", timeout, headers)?;
    copy_body(&mut response, out)?;
    Ok(Head {
        status: response.status,
        headers: response.headers,
    })
}

fn curl_get(
    url: &str,
    headers: &[(String, String)],
    timeout: Duration,
    out: &mut dyn Write,
) -> Result<Head, String> {
    struct Removed(std::path::PathBuf);
    impl Drop for Removed {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let body = Removed(std::env::temp_dir().join(format!("mesos-curl-{}", uuid::Uuid::new_v4())));
    let mut arguments = curl_common(Some(timeout));
    for (name, value) in headers {
        arguments.extend(["--header".into(), format!("{name}: {value}")]);
    }
    arguments.extend([
        "--dump-header".into(),
        "-".into(),
        "--output".into(),
        body.0.display().to_string(),
        "--".into(),
        url.into(),
    ]);
    let output = curl(&arguments)?;
    if !output.status.success() {
        return Err(format!(
            "curl failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    // Redirects print several heads: the last one is the response's.
    let dumped = String::from_utf8_lossy(&output.stdout);
    let last = dumped
        .split("\r\n\r\n")
        .filter(|h| h.starts_with("HTTP/"))
        .last()
        .ok_or_else(|| format!("no response head from curl for '{url}'"))?;
    let mut lines = last.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("malformed status line from curl for '{url}'"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut file =
        std::fs::File::open(&body.0).map_err(|e| format!("failed to read the body: {e}"))?;
    std::io::copy(&mut file, out).map_err(|e| format!("failed to write the body: {e}"))?;
    Ok(Head { status, headers })
}

fn curl(arguments: &[String]) -> Result<std::process::Output, String> {
    std::process::Command::new("curl")
        .args(arguments)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                "this build has no TLS or FTP client of its own and hands https://, ftp:// and \
                 ftps:// to the 'curl' program, which is not installed (not found in PATH)"
                    .to_string()
            } else {
                format!("failed to run 'curl': {e}")
            }
        })
}

fn curl_common(stall: Option<Duration>) -> Vec<String> {
    let mut arguments = vec![
        "--silent".into(),
        "--show-error".into(),
        "--location".into(),
        "--max-redirs".into(),
        MAX_REDIRECTS.to_string(),
    ];
    if let Some(stall) = stall {
        arguments.extend([
            "--speed-limit".into(),
            "1".into(),
            "--speed-time".into(),
            stall.as_secs().max(1).to_string(),
        ]);
    }
    arguments
}

fn curl_download(uri: &str, destination: &Path, stall: Option<Duration>) -> Result<u16, String> {
    let mut arguments = curl_common(stall);
    arguments.extend([
        "--write-out".into(),
        "%{response_code}".into(),
        "--output".into(),
        destination.display().to_string(),
        "--".into(),
        uri.into(),
    ]);
    let output = curl(&arguments)?;
    let code = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    if !output.status.success() {
        return Err(format!(
            "curl failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(code)
}

fn curl_content_length(uri: &str, stall: Option<Duration>) -> Result<u64, String> {
    let mut arguments = curl_common(stall);
    arguments.extend([
        "--head".into(),
        "--fail".into(),
        "--".into(),
        uri.to_string(),
    ]);
    let output = curl(&arguments)?;
    if !output.status.success() {
        return Err(format!(
            "curl failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    // The last response's length (redirects print several heads).
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .next_back()
        .ok_or_else(|| format!("no Content-Length for '{uri}'"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn urls_parse_with_and_without_port_and_path() {
        let url = Url::parse("http://example.com:8080/a/b.tgz?x=1#frag").unwrap();
        assert_eq!(
            url,
            Url {
                host: "example.com".into(),
                port: 8080,
                target: "/a/b.tgz?x=1".into()
            }
        );
        assert_eq!(Url::parse("http://h").unwrap().target, "/");
        assert_eq!(Url::parse("http://[::1]:81/x").unwrap().host, "::1");
        assert!(Url::parse("http://h:port/").is_err());
    }

    #[test]
    fn redirects_resolve_against_the_request() {
        let url = Url::parse("http://h:81/dir/file?q").unwrap();
        assert_eq!(url.join("/other"), "http://h:81/other");
        assert_eq!(url.join("sibling"), "http://h:81/dir/sibling");
        assert_eq!(url.join("http://x/y"), "http://x/y");
    }

    #[test]
    fn https_goes_to_curl() {
        // Nothing listens on port 1: curl's own error comes back.
        let dir = tempfile::tempdir().unwrap();
        let error = download(
            "https://127.0.0.1:1/x",
            &dir.path().join("x"),
            Some(Duration::from_secs(5)),
        )
        .unwrap_err();
        assert!(
            error.starts_with("curl failed: ") || error.contains("'curl' program"),
            "{error}"
        );
    }

    #[test]
    fn unresolvable_hosts_say_so() {
        let error = download(
            "http://no-such-host.invalid/x",
            Path::new("/nonexistent/x"),
            Some(Duration::from_secs(5)),
        )
        .unwrap_err();
        assert!(
            error.contains("failed to resolve host 'no-such-host.invalid'"),
            "{error}"
        );
    }
}
