//! The loop that runs a check again and again, and the three kinds of
//! check.
//!
//! Upstream counterpart: `CheckerProcess` in `src/checks/checker_process.cpp`
//! (and `checks_types.hpp`). [`CheckerProcess::spawn`] waits
//! `delay_seconds`, then runs the check, reports its result unless
//! checking was paused meanwhile, and waits `interval_seconds` before the
//! next one. A result is what upstream's `Result<CheckStatusInfo>` is:
//! - a `CheckStatusInfo` when the check could be made (`command.exit_code`,
//!   `http.status_code`, `tcp.succeeded`);
//! - an error when it could not, e.g. it timed out (`Command timed out
//!   after 1secs`) or the HTTP request failed;
//! - nothing when the check is not available for a passing reason (the
//!   agent cannot launch a nested check container now); that is only
//!   logged.
//!
//! A `timeout_seconds` of 0 means no timeout. A COMMAND check that times
//! out is killed with SIGKILL, with its whole process group (upstream
//! kills the process tree); a nested one is killed by the agent when the
//! executor closes the session's connection.

use std::io;
use std::os::fd::AsFd as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use mesos_proto::api::PROTOBUF;
use mesos_proto::mesos::check_info::Type as CheckType;
use mesos_proto::mesos::environment::variable::Type as VariableType;
use mesos_proto::mesos::v1::agent;
use mesos_proto::mesos::v1::ContainerId;
use mesos_proto::mesos::{check_status_info, CheckInfo, CheckStatusInfo, CommandInfo, TaskId};
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::watch;
use uuid::Uuid;

use super::{convert, Nested, Plain, Runtime};
use crate::command_executor::wstringify;
use crate::http::{self, Connection};

/// The scheme of an HTTP check that names none.
pub const DEFAULT_HTTP_SCHEME: &str = "http";

/// Upstream checks `127.0.0.1` rather than `localhost`, which some
/// images' hosts files lack.
pub const DEFAULT_DOMAIN: &str = "127.0.0.1";

/// The IPv6 loopback, for health checks with `protocol: IPv6`.
pub const DEFAULT_DOMAIN_IPV6: &str = "::1";

/// How many redirects an HTTP check follows (curl's default limit).
const MAX_REDIRECTS: usize = 50;

/// The longest HTTP response head an HTTP check reads.
const MAX_HEAD: usize = 64 * 1024;

/// What one check does (upstream's `check::Command`, `check::Http` and
/// `check::Tcp`).
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Run a command; its exit code is the result.
    Command(CommandInfo),
    /// GET `scheme://127.0.0.1:port/path`; the status code is the result.
    Http {
        /// `http` or `https`.
        scheme: String,
        /// Port on the loopback address.
        port: u32,
        /// Absolute path, possibly empty.
        path: String,
        /// Check `::1` instead of `127.0.0.1`.
        ipv6: bool,
    },
    /// Connect to `127.0.0.1:port`; whether that worked is the result.
    Tcp {
        /// Port on the loopback address.
        port: u32,
        /// Connect to `::1` instead of `127.0.0.1`.
        ipv6: bool,
    },
}

/// A check and its timing.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckConfig {
    /// What to run.
    pub check: Check,
    /// Before the first check.
    pub delay: Duration,
    /// Between the end of a check and the start of the next.
    pub interval: Duration,
    /// How long a check may take; `None` for ever.
    pub timeout: Option<Duration>,
}

impl CheckConfig {
    /// Returns the configuration of a (validated) `CheckInfo`, with the
    /// HTTP scheme and IP version a health check may add.
    pub fn new(info: &CheckInfo, scheme: Option<String>, ipv6: bool) -> Self {
        let check = match info.r#type() {
            CheckType::Command | CheckType::Unknown => Check::Command(
                info.command
                    .as_ref()
                    .map(|c| c.command.clone())
                    .unwrap_or_default(),
            ),
            CheckType::Http => {
                let http = info.http.clone().unwrap_or_default();
                Check::Http {
                    scheme: scheme.unwrap_or_else(|| DEFAULT_HTTP_SCHEME.into()),
                    port: http.port,
                    path: http.path.unwrap_or_default(),
                    ipv6,
                }
            }
            CheckType::Tcp => Check::Tcp {
                port: info.tcp.map(|t| t.port).unwrap_or_default(),
                ipv6,
            },
        };
        let timeout = seconds(info.timeout_seconds());
        Self {
            check,
            delay: seconds(info.delay_seconds()),
            interval: seconds(info.interval_seconds()),
            // Zero means no timeout.
            timeout: (!timeout.is_zero()).then_some(timeout),
        }
    }

    /// The check's type.
    pub fn r#type(&self) -> CheckType {
        match self.check {
            Check::Command(_) => CheckType::Command,
            Check::Http { .. } => CheckType::Http,
            Check::Tcp { .. } => CheckType::Tcp,
        }
    }
}

/// Converts seconds as checks give them, clamping negative and huge ones.
pub fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(Duration::MAX)
}

/// One check's result: a status, an error, or nothing for a passing
/// unavailability.
pub type CheckResult = Option<Result<CheckStatusInfo, String>>;

/// A running check loop; dropping it stops the loop and kills a check in
/// flight.
#[derive(Debug)]
pub struct CheckerProcess {
    task: tokio::task::JoinHandle<()>,
    paused: watch::Sender<bool>,
}

impl CheckerProcess {
    /// Starts checking on the current tokio runtime. `callback` gets every
    /// result that is not a passing unavailability. `name` (`COMMAND
    /// check`, `HTTP health check`) is for the logs.
    pub fn spawn(
        config: CheckConfig,
        runtime: Runtime,
        name: String,
        task_id: TaskId,
        mut callback: impl FnMut(Result<CheckStatusInfo, String>) + Send + 'static,
    ) -> Self {
        let (paused, mut paused_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut nested = NestedState::default();
            tracing::debug!(task_id = task_id.value, delay = ?config.delay, "Scheduling {name}");
            if !pausable_sleep(config.delay, &mut paused_rx).await {
                return;
            }
            loop {
                if *paused_rx.borrow_and_update() && paused_rx.wait_for(|p| !*p).await.is_err() {
                    return;
                }
                let started = Instant::now();
                let result = perform(&config, &runtime, &mut nested).await;
                if *paused_rx.borrow() {
                    tracing::info!(
                        task_id = task_id.value,
                        "Ignoring {name} result: checking is paused"
                    );
                    continue;
                }
                match result {
                    Some(result) => {
                        tracing::debug!(task_id = task_id.value, elapsed = ?started.elapsed(),
                            "Performed {name}");
                        callback(result);
                    }
                    None => tracing::info!(task_id = task_id.value, "{name} is not available"),
                }
                if !pausable_sleep(config.interval, &mut paused_rx).await {
                    return;
                }
            }
        });
        Self { task, paused }
    }

    /// Stops checking until [`CheckerProcess::resume`]; a result that
    /// arrives meanwhile is dropped.
    pub fn pause(&self) {
        self.paused
            .send_if_modified(|paused| !std::mem::replace(paused, true));
    }

    /// Checks again at once, then as usual.
    pub fn resume(&self) {
        self.paused
            .send_if_modified(|paused| std::mem::replace(paused, false));
    }
}

/// Sleeps for `duration`, or until checking is paused or resumed (a
/// resumed checker checks at once, as upstream's `resume` schedules a
/// check with no delay). Returns `false` once the checker is gone.
async fn pausable_sleep(duration: Duration, paused: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => true,
        changed = paused.changed() => changed.is_ok(),
    }
}

impl Drop for CheckerProcess {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a nested COMMAND check remembers between checks.
#[derive(Debug, Default)]
struct NestedState {
    /// The previous check's container, removed before the next check.
    previous: Option<ContainerId>,
}

async fn perform(config: &CheckConfig, runtime: &Runtime, nested: &mut NestedState) -> CheckResult {
    match &config.check {
        Check::Command(command) => {
            let status = match runtime {
                Runtime::Plain(plain) => Some(command_check(command, plain, config.timeout).await),
                Runtime::Nested(runtime) => {
                    nested_command_check(command, runtime, config.timeout, nested).await
                }
            };
            status.map(|s| s.and_then(command_status))
        }
        Check::Http {
            scheme,
            port,
            path,
            ipv6,
        } => {
            let domain = if *ipv6 {
                format!("[{DEFAULT_DOMAIN_IPV6}]")
            } else {
                DEFAULT_DOMAIN.to_string()
            };
            let url = format!("{scheme}://{domain}:{port}{path}");
            let code = if scheme == "https" {
                curl_check(&url, config.timeout).await
            } else {
                with_timeout(config.timeout, "HTTP request", http_check(&url)).await
            };
            Some(code.map(|code| {
                tracing::info!(url, code, "HTTP check returned");
                CheckStatusInfo {
                    r#type: Some(CheckType::Http as i32),
                    http: Some(check_status_info::Http {
                        status_code: Some(code),
                    }),
                    ..Default::default()
                }
            }))
        }
        Check::Tcp { port, ipv6 } => {
            let domain = if *ipv6 {
                DEFAULT_DOMAIN_IPV6
            } else {
                DEFAULT_DOMAIN
            };
            let succeeded =
                with_timeout(config.timeout, "TCP connection", tcp_check(domain, *port)).await;
            Some(succeeded.map(|succeeded| CheckStatusInfo {
                r#type: Some(CheckType::Tcp as i32),
                tcp: Some(check_status_info::Tcp {
                    succeeded: Some(succeeded),
                }),
                ..Default::default()
            }))
        }
    }
}

/// A COMMAND check's wait status as a result: its exit code, or an error
/// when a signal ended it.
fn command_status(raw: i32) -> Result<CheckStatusInfo, String> {
    let status = ExitStatus::from_raw(raw);
    match status.code() {
        Some(code) => Ok(CheckStatusInfo {
            r#type: Some(CheckType::Command as i32),
            command: Some(check_status_info::Command {
                exit_code: Some(code),
            }),
            ..Default::default()
        }),
        None => Err(format!("Command {}", wstringify(status))),
    }
}

async fn with_timeout<T>(
    timeout: Option<Duration>,
    what: &str,
    future: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match timeout {
        None => future.await,
        Some(timeout) => tokio::time::timeout(timeout, future)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "{what} timed out after {}",
                    libprocess::flags::format_duration(timeout)
                ))
            }),
    }
}

/// Runs a COMMAND check as a child of the executor; returns its raw wait
/// status.
async fn command_check(
    command: &CommandInfo,
    plain: &Plain,
    timeout: Option<Duration>,
) -> Result<i32, String> {
    let value = command.value.clone().unwrap_or_default();
    let mut child = if command.shell() {
        let mut child = std::process::Command::new("/bin/sh");
        child.arg0("sh").arg("-c").arg(&value);
        child
    } else {
        let mut child = std::process::Command::new(&value);
        if let Some((arg0, rest)) = command.arguments.split_first() {
            child.arg0(arg0).args(rest);
        }
        child
    };
    // The executor's environment plus the check's own variables.
    for variable in command.environment.iter().flat_map(|e| &e.variables) {
        if variable.r#type() == VariableType::Secret {
            continue;
        }
        if let Some(value) = &variable.value {
            child.env(&variable.name, value);
        }
    }
    // Output goes to the executor's stderr, as upstream's does.
    let stderr = || {
        io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_or_else(|_| Stdio::null(), Stdio::from)
    };
    child
        .stdin(Stdio::null())
        .stdout(stderr())
        .stderr(stderr())
        // Its own process group, so a timeout kills what it started too.
        .process_group(0);
    if let Some(directory) = &plain.working_directory {
        child.current_dir(directory);
    }
    if let Some(rootfs) = &plain.rootfs {
        use std::os::unix::ffi::OsStrExt as _;
        let directory = plain
            .rootfs_working_directory
            .clone()
            .unwrap_or_else(|| "/".into());
        let rootfs = std::ffi::CString::new(rootfs.as_os_str().as_bytes())
            .map_err(|e| format!("Invalid rootfs: {e}"))?;
        let directory = std::ffi::CString::new(directory.as_os_str().as_bytes())
            .map_err(|e| format!("Invalid working directory: {e}"))?;
        // SAFETY: the hook runs in the forked child before exec and only
        // calls chroot(2) and chdir(2) on strings made before the fork,
        // both async-signal-safe.
        unsafe {
            child.pre_exec(move || {
                if libc::chroot(rootfs.as_ptr()) != 0 || libc::chdir(directory.as_ptr()) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    tracing::debug!(command = value, "Launching command check");
    let mut child = tokio::process::Command::from(child)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("Failed to create subprocess: {e}"))?;
    let pid = child.id();
    let waited = match timeout {
        None => child.wait().await,
        Some(timeout) => match tokio::time::timeout(timeout, child.wait()).await {
            Ok(waited) => waited,
            Err(_) => {
                if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                    tracing::debug!(pid, "Killing the timed out check command");
                    // SAFETY: killpg has no memory-safety preconditions.
                    unsafe { libc::killpg(pid, libc::SIGKILL) };
                }
                let _ = child.kill().await;
                return Err(format!(
                    "Command timed out after {}",
                    libprocess::flags::format_duration(timeout)
                ));
            }
        },
    };
    waited
        .map(|status| status.into_raw())
        .map_err(|e| format!("Failed to reap the command process: {e}"))
}

/// Runs a COMMAND check in a nested container of the task's container
/// (`LAUNCH_NESTED_CONTAINER_SESSION`, then `WAIT_NESTED_CONTAINER`); the
/// previous check's container is removed first. Returns the raw wait
/// status, or nothing when the agent could not run the check now.
#[allow(deprecated)] // upstream's checker uses the `*_NESTED_CONTAINER` calls
async fn nested_command_check(
    command: &CommandInfo,
    nested: &Nested,
    timeout: Option<Duration>,
    state: &mut NestedState,
) -> Option<Result<i32, String>> {
    if let Some(previous) = state.previous.clone() {
        let call = agent::Call {
            r#type: Some(agent::call::Type::RemoveNestedContainer as i32),
            remove_nested_container: Some(agent::call::RemoveNestedContainer {
                container_id: previous.clone(),
            }),
            ..Default::default()
        };
        match http::post(&request(nested, &call, PROTOBUF)).await {
            Ok(response) if response.head.code == 200 => state.previous = None,
            Ok(response) => {
                tracing::warn!(container_id = previous.value, status = %response.head.status,
                    body = response.body_text(), "Failed to remove the previous check container");
                return None;
            }
            Err(error) => {
                tracing::warn!(container_id = previous.value, %error,
                    "Connection to remove the previous check container failed");
                return None;
            }
        }
    }

    let container_id = ContainerId {
        value: format!("check-{}", Uuid::new_v4()),
        parent: Some(Box::new(nested.task_container_id.clone())),
    };
    state.previous = Some(container_id.clone());
    let mut connection = match Connection::connect(&nested.agent_url).await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::warn!(%error, "Unable to connect to the agent to launch a check");
            return None;
        }
    };
    let call = agent::Call {
        r#type: Some(agent::call::Type::LaunchNestedContainerSession as i32),
        launch_nested_container_session: Some(agent::call::LaunchNestedContainerSession {
            container_id: container_id.clone(),
            command: Some(convert(command)),
            container: None,
        }),
        ..Default::default()
    };
    let mut launch = request(nested, &call, "application/recordio");
    launch
        .headers
        .push(("Message-Accept".into(), PROTOBUF.into()));
    // The agent streams the check's output until it exits, and kills it
    // when the connection closes.
    let sent = match timeout {
        None => Ok(connection.send(&launch).await),
        Some(timeout) => tokio::time::timeout(timeout, connection.send(&launch)).await,
    };
    drop(connection);
    match sent {
        Err(_) => {
            let _ = wait_nested_container(nested, &container_id).await;
            let timeout = timeout.map_or_else(String::new, libprocess::flags::format_duration);
            Some(Err(format!("Command timed out after {timeout}")))
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "Connection to the agent to launch a check failed");
            None
        }
        Ok(Ok(response)) if response.head.code != 200 => {
            tracing::warn!(status = %response.head.status, body = response.body_text(),
                "Failed to launch a check container");
            let _ = wait_nested_container(nested, &container_id).await;
            None
        }
        Ok(Ok(_)) => match wait_nested_container(nested, &container_id).await {
            Err(error) => Some(Err(format!("Unable to get the exit code: {error}"))),
            Ok(None) => Some(Err("Unable to get the exit code".into())),
            // Killed, probably because the task ended meanwhile.
            Ok(Some(raw)) if ExitStatus::from_raw(raw).signal() == Some(libc::SIGKILL) => None,
            Ok(Some(raw)) => Some(Ok(raw)),
        },
    }
}

/// `WAIT_NESTED_CONTAINER`: the container's wait status, if it has one.
#[allow(deprecated)] // upstream's checker uses the `*_NESTED_CONTAINER` calls
async fn wait_nested_container(
    nested: &Nested,
    container_id: &ContainerId,
) -> Result<Option<i32>, String> {
    let call = agent::Call {
        r#type: Some(agent::call::Type::WaitNestedContainer as i32),
        wait_nested_container: Some(agent::call::WaitNestedContainer {
            container_id: container_id.clone(),
        }),
        ..Default::default()
    };
    let response = http::post(&request(nested, &call, PROTOBUF))
        .await
        .map_err(|e| {
            format!(
                "Connection to wait for check container '{}' failed: {e}",
                container_id.value
            )
        })?;
    if response.head.code != 200 {
        return Err(format!(
            "Received '{}' ({}) while waiting on check container '{}'",
            response.head.status,
            response.body_text(),
            container_id.value
        ));
    }
    let decoded = agent::Response::decode(response.body.as_ref())
        .map_err(|e| format!("Failed to decode the wait response: {e}"))?;
    Ok(decoded.wait_nested_container.and_then(|w| w.exit_status))
}

fn request(nested: &Nested, call: &agent::Call, accept: &str) -> http::Request {
    let mut headers = vec![
        ("Accept".to_string(), accept.to_string()),
        ("Content-Type".to_string(), PROTOBUF.to_string()),
    ];
    if let Some(authorization) = &nested.authorization {
        headers.push(("Authorization".into(), authorization.clone()));
    }
    http::Request {
        url: nested.agent_url.clone(),
        headers,
        body: call.encode_to_vec(),
    }
}

/// Connects to `domain:port`: `true` if that worked (upstream treats
/// every failure of `mesos-tcp-connect` as a failed connection).
async fn tcp_check(domain: &str, port: u32) -> Result<bool, String> {
    let Ok(port) = u16::try_from(port) else {
        return Ok(false);
    };
    match TcpStream::connect((domain, port)).await {
        Ok(_) => Ok(true),
        Err(error) => {
            tracing::debug!(domain, port, %error, "TCP check failed to connect");
            Ok(false)
        }
    }
}

/// GETs `url` (`http://host:port/path`), following redirects as `curl -L`
/// does; returns the final status code.
async fn http_check(url: &str) -> Result<u32, String> {
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let (authority, path) = split_url(&url)?;
        let (code, location) = http_get(&authority, &path).await?;
        match location {
            Some(location) if (300..400).contains(&code) => {
                url = if location.starts_with("http://") || location.starts_with("https://") {
                    location
                } else if location.starts_with('/') {
                    format!("http://{authority}{location}")
                } else {
                    let base = path.rsplit_once('/').map_or("", |(base, _)| base);
                    format!("http://{authority}{base}/{location}")
                };
            }
            _ => return Ok(code),
        }
    }
    Err(format!("Maximum ({MAX_REDIRECTS}) redirects followed"))
}

/// Splits `http://authority/path` into its authority and path (`/` when
/// empty).
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("Unsupported URL '{url}'"))?;
    let (authority, path) = match rest.find('/') {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, "/"),
    };
    Ok((authority.to_string(), path.to_string()))
}

/// One GET; returns the status code and the `Location` header.
async fn http_get(authority: &str, path: &str) -> Result<(u32, Option<String>), String> {
    let has_port = match authority.strip_prefix('[') {
        Some(ipv6) => ipv6.contains("]:"),
        None => authority.contains(':'),
    };
    let address = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let mut stream = TcpStream::connect(address.as_str())
        .await
        .map_err(|e| format!("Failed to connect to {authority}: {e}"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: mesos-checker/{}\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n",
        crate::VERSION
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("Failed to send the request to {authority}: {e}"))?;
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("Failed to read the response from {authority}: {e}"))?;
        if read == 0 {
            return Err(format!(
                "{authority} closed the connection before a response"
            ));
        }
        buffer.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buffer) {
            Ok(httparse::Status::Complete(_)) => {
                let code = u32::from(response.code.unwrap_or_default());
                let location = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("Location"))
                    .map(|h| String::from_utf8_lossy(h.value).trim().to_string());
                return Ok((code, location));
            }
            Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD => {}
            Ok(httparse::Status::Partial) => {
                return Err(format!("The response head from {authority} is too long"));
            }
            Err(error) => return Err(format!("Malformed response from {authority}: {error}")),
        }
    }
}

/// An `https` check: `curl` as upstream runs it; returns the status code.
async fn curl_check(url: &str, timeout: Option<Duration>) -> Result<u32, String> {
    let mut command = tokio::process::Command::new("curl");
    command
        .args([
            "-s",
            "-S",
            "-L",
            "-k",
            "-w",
            "%{http_code}",
            "-o",
            "/dev/null",
            "-g",
        ])
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = with_timeout(timeout, "curl", async {
        command
            .output()
            .await
            .map_err(|e| format!("Failed to create the curl subprocess: {e}"))
    })
    .await?;
    if !output.status.success() {
        return Err(format!(
            "curl {}: {}",
            wstringify(output.status),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .trim()
        .parse()
        .map_err(|_| format!("Unexpected output from curl: {stdout}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::check_info;

    fn run(check: Check, timeout: Option<Duration>) -> CheckResult {
        let config = CheckConfig {
            check,
            delay: Duration::ZERO,
            interval: Duration::ZERO,
            timeout,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(perform(
            &config,
            &Runtime::Plain(Plain::default()),
            &mut NestedState::default(),
        ))
    }

    fn shell(value: &str) -> Check {
        Check::Command(CommandInfo {
            value: Some(value.into()),
            ..Default::default()
        })
    }

    fn exit_code(result: CheckResult) -> Option<i32> {
        result.unwrap().unwrap().command.unwrap().exit_code
    }

    #[test]
    fn check_info_defaults_are_upstreams() {
        let info = CheckInfo {
            r#type: Some(CheckType::Tcp as i32),
            tcp: Some(check_info::Tcp { port: 8080 }),
            timeout_seconds: Some(0.0),
            ..Default::default()
        };
        let config = CheckConfig::new(&info, None, false);
        assert_eq!(
            config,
            CheckConfig {
                check: Check::Tcp {
                    port: 8080,
                    ipv6: false
                },
                delay: Duration::from_secs(15),
                interval: Duration::from_secs(10),
                timeout: None,
            }
        );
    }

    #[test]
    fn command_checks_report_the_exit_code() {
        assert_eq!(exit_code(run(shell("true"), None)), Some(0));
        assert_eq!(exit_code(run(shell("exit 3"), None)), Some(3));
        let argv = Check::Command(CommandInfo {
            shell: Some(false),
            value: Some("/bin/sh".into()),
            arguments: vec!["sh".into(), "-c".into(), "exit 4".into()],
            ..Default::default()
        });
        assert_eq!(exit_code(run(argv, None)), Some(4));
    }

    #[test]
    fn command_checks_get_their_environment() {
        let check = Check::Command(CommandInfo {
            value: Some(r#"test "$CHECK_VAR" = yes"#.into()),
            environment: Some(mesos_proto::mesos::Environment {
                variables: vec![mesos_proto::mesos::environment::Variable {
                    name: "CHECK_VAR".into(),
                    value: Some("yes".into()),
                    ..Default::default()
                }],
            }),
            ..Default::default()
        });
        assert_eq!(exit_code(run(check, None)), Some(0));
    }

    #[test]
    fn a_command_check_that_times_out_is_killed_and_fails() {
        let started = Instant::now();
        let result = run(shell("sleep 30"), Some(Duration::from_millis(200)));
        assert_eq!(
            result,
            Some(Err("Command timed out after 200ms".to_string()))
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn tcp_checks_report_whether_they_connected() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = u32::from(listener.local_addr().unwrap().port());
        let succeeded = |result: CheckResult| result.unwrap().unwrap().tcp.unwrap().succeeded;
        assert_eq!(
            succeeded(run(Check::Tcp { port, ipv6: false }, None)),
            Some(true)
        );
        drop(listener);
        assert_eq!(
            succeeded(run(Check::Tcp { port, ipv6: false }, None)),
            Some(false)
        );
    }

    #[test]
    fn http_checks_report_the_final_status_code() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            use std::io::{Read as _, Write as _};
            let answers = [
                "HTTP/1.1 302 Found\r\nLocation: /ready\r\nContent-Length: 0\r\n\r\n",
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
            ];
            let mut paths = Vec::new();
            for answer in answers {
                let (mut stream, _) = listener.accept().unwrap();
                let mut buffer = [0u8; 4096];
                let read = stream.read(&mut buffer).unwrap();
                let head = String::from_utf8_lossy(&buffer[..read]).to_string();
                paths.push(head.lines().next().unwrap_or_default().to_string());
                stream.write_all(answer.as_bytes()).unwrap();
            }
            paths
        });
        let check = Check::Http {
            scheme: "http".into(),
            port: u32::from(port),
            path: "/health".into(),
            ipv6: false,
        };
        let result = run(check, Some(Duration::from_secs(10)));
        assert_eq!(
            result.unwrap().unwrap().http.unwrap().status_code,
            Some(503)
        );
        assert_eq!(
            server.join().unwrap(),
            ["GET /health HTTP/1.1", "GET /ready HTTP/1.1"]
        );
    }

    #[test]
    fn an_http_check_without_a_listener_fails() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = u32::from(listener.local_addr().unwrap().port());
        drop(listener);
        let check = Check::Http {
            scheme: "http".into(),
            port,
            path: String::new(),
            ipv6: false,
        };
        let error = run(check, Some(Duration::from_secs(5)))
            .unwrap()
            .unwrap_err();
        assert!(
            error.starts_with("Failed to connect to 127.0.0.1:"),
            "{error}"
        );
    }

    #[test]
    fn a_resumed_check_loop_checks_at_once() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let config = CheckConfig {
                check: shell("true"),
                delay: Duration::ZERO,
                interval: Duration::from_secs(600),
                timeout: None,
            };
            let process = CheckerProcess::spawn(
                config,
                Runtime::Plain(Plain::default()),
                "COMMAND check".into(),
                TaskId { value: "t".into() },
                move |result| {
                    let _ = tx.send(result);
                },
            );
            assert!(rx.recv().await.unwrap().is_ok());
            process.pause();
            process.resume();
            // Not after the 10-minute interval: at once.
            let next = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
            assert!(next.unwrap().unwrap().is_ok());
        });
    }

    #[test]
    fn a_check_loop_reports_every_result_until_dropped() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let config = CheckConfig {
                check: shell("exit 2"),
                delay: Duration::ZERO,
                interval: Duration::from_millis(10),
                timeout: None,
            };
            let process = CheckerProcess::spawn(
                config,
                Runtime::Plain(Plain::default()),
                "COMMAND check".into(),
                TaskId { value: "t".into() },
                move |result| {
                    let _ = tx.send(result);
                },
            );
            for _ in 0..2 {
                let result = rx.recv().await.unwrap().unwrap();
                assert_eq!(result.command.unwrap().exit_code, Some(2));
            }
            drop(process);
            while rx.recv().await.is_some() {}
        });
    }
}
