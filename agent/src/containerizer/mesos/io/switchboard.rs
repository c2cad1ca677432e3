//! The IO switchboard (upstream `IOSwitchboard` in
//! `src/slave/containerizer/mesos/io/switchboard.cpp`), an isolator of
//! the Mesos containerizer that decides where a container's stdio goes.
//!
//! A container with `ContainerInfo.tty_info` or of class DEBUG gets a
//! `mesos-io-switchboard` server ([`super::server`]): `prepare` creates
//! the container's stdio (a pty, whose slave becomes the container's
//! stdin, stdout, stderr and controlling terminal, sized from `tty_info`
//! and with `TERM=xterm` unless the command sets `TERM`; else three
//! pipes), starts the server with the other ends and the sandbox's
//! `stdout`/`stderr` files, waits for its socket
//! (`/tmp/mesos-io-switchboard-<uuid>`) and checkpoints it at
//! `<runtime_dir>/containers/<id>/io_switchboard/{pid,socket}`; the
//! containerizer takes the container's ends with
//! [`IOSwitchboard::extract_container_io`] for the fork. The pty's path
//! goes out as `ContainerLaunchInfo.tty_slave_path`; for a command task
//! the containerizer passes it on to the command executor as
//! `--tty_slave_path` (upstream adds that flag here), so that the task gets
//! the terminal. DEBUG containers' servers wait for the first output
//! stream before reading. Other
//! containers keep writing to the sandbox files directly (upstream's
//! container logger).
//!
//! A server that exits with a failure before the container is cleaned
//! up is a limitation with `REASON_IO_SWITCHBOARD_EXITED`. `cleanup`
//! gives the server 5 seconds to flush its streams after the container's
//! processes are gone, then kills it. `recover` takes back the servers of
//! recovered containers (one found dead is a limitation, beyond upstream),
//! and kills those of orphans. As upstream (`process::reap` of a pid the
//! agent is not the parent of gives no status, which `reaped` ignores), a
//! recovered server that dies later is not reported: its exit status is
//! unknown to the restarted agent.

use std::collections::{HashMap, HashSet};
use std::ffi::CStr;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, Shared};
use futures::FutureExt as _;
use mesos_proto::mesos::slave::{
    ContainerClass, ContainerConfig, ContainerLaunchInfo, ContainerLimitation, ContainerState,
};
use mesos_proto::mesos::task_status::Reason;
use mesos_proto::mesos::{environment, Environment};

use crate::containerizer::mesos::isolator::{Isolator, IsolatorError, Result};
use crate::containerizer::mesos::procfs;

/// The server binary, looked up in `--launcher_dir`.
pub const SERVER: &str = "mesos-io-switchboard";
/// The checkpoint directory inside a container's runtime directory.
pub const IO_SWITCHBOARD_DIRECTORY: &str = "io_switchboard";
/// The checkpointed server pid.
pub const PID_FILE: &str = "pid";
/// The checkpointed socket path.
pub const SOCKET_FILE: &str = "socket";
/// Where the servers' sockets are made (`mesos-io-switchboard-<uuid>`):
/// `/tmp` literally, as upstream, whatever `$TMPDIR` says.
pub const SOCKET_DIR: &str = "/tmp";

/// How long `cleanup` waits for the server to finish its streams.
const CLEANUP_GRACE: Duration = Duration::from_secs(5);

type Exit = Shared<BoxFuture<'static, Option<i32>>>;

/// The container's side of its stdio, for the launcher.
#[derive(Debug)]
pub struct ContainerIo {
    /// stdin.
    pub stdin: OwnedFd,
    /// stdout.
    pub stdout: OwnedFd,
    /// stderr.
    pub stderr: OwnedFd,
    /// Whether they are a pty's slave (to become the controlling
    /// terminal).
    pub tty: bool,
}

struct Server {
    pid: u32,
    socket: PathBuf,
    exit: Exit,
    /// The server died while the agent was away (found on recovery).
    dead_on_recovery: bool,
}

/// Where the switchboard is and how it starts servers.
#[derive(Debug, Clone)]
pub struct SwitchboardOptions {
    /// `--launcher_dir`: where `mesos-io-switchboard` is.
    pub launcher_dir: PathBuf,
    /// `--runtime_dir`: where servers are checkpointed.
    pub runtime_dir: PathBuf,
    /// `--http_heartbeat_interval`: heartbeats on output streams.
    pub heartbeat_interval: Option<Duration>,
    /// `--io_switchboard_enable_server` (upstream 1.2 to 1.4): without
    /// it no container gets a server, and containers that need one (a
    /// TTY, DEBUG) fail to launch.
    pub enable_server: bool,
    /// `/proc`.
    pub proc_root: PathBuf,
}

/// The IO switchboard.
pub struct IOSwitchboard {
    options: SwitchboardOptions,
    servers: Arc<Mutex<HashMap<String, Server>>>,
    container_io: Mutex<HashMap<String, ContainerIo>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// `<runtime_dir>/containers/<id>[/containers/<child>...]`.
pub fn container_runtime_dir(runtime_dir: &Path, container_id: &str) -> PathBuf {
    crate::containerizer::mesos::paths::runtime_path(runtime_dir, container_id)
}

/// The checkpoint directory of a container's server.
pub fn io_switchboard_dir(runtime_dir: &Path, container_id: &str) -> PathBuf {
    container_runtime_dir(runtime_dir, container_id).join(IO_SWITCHBOARD_DIRECTORY)
}

/// Whether `config` gets a server: a TTY or a DEBUG container.
pub fn requires_server(config: &ContainerConfig) -> bool {
    config
        .container_info
        .as_ref()
        .is_some_and(|c| c.tty_info.is_some())
        || config.container_class == Some(ContainerClass::Debug as i32)
}

fn os_error(what: &str) -> IsolatorError {
    IsolatorError(format!("{what}: {}", std::io::Error::last_os_error()))
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(os_error("failed to create a pipe"));
    }
    // SAFETY: both fds were just created and are owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Opens a pty: its master and the path of its slave.
fn open_pty() -> Result<(OwnedFd, String)> {
    // SAFETY: posix_openpt returns a new fd or -1.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if master < 0 {
        return Err(os_error("failed to open a pty"));
    }
    // SAFETY: the fd was just created and is owned by nothing else.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    // SAFETY: grantpt and unlockpt act on the master fd we own.
    let unlocked = unsafe {
        libc::grantpt(master.as_raw_fd()) == 0 && libc::unlockpt(master.as_raw_fd()) == 0
    };
    if !unlocked {
        return Err(os_error("failed to unlock the pty"));
    }
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: ptsname_r writes a NUL-terminated name into the buffer we
    // own, of the length given.
    if unsafe { libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) } != 0 {
        return Err(os_error("failed to name the pty's slave"));
    }
    // SAFETY: ptsname_r succeeded, so the buffer holds a C string.
    let path = unsafe { CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    Ok((master, path))
}

fn open_slave(path: &str) -> Result<OwnedFd> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| IsolatorError(format!("failed to open the pty slave '{path}': {e}")))?;
    Ok(OwnedFd::from(file))
}

use std::os::unix::fs::OpenOptionsExt as _;

fn open_append(path: &Path) -> Result<OwnedFd> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map(OwnedFd::from)
        .map_err(|e| IsolatorError(format!("failed to open '{}': {e}", path.display())))
}

fn dup(fd: &OwnedFd) -> Result<OwnedFd> {
    fd.try_clone()
        .map_err(|e| IsolatorError(format!("failed to duplicate an fd: {e}")))
}

/// Writes `contents` to `path` in the runtime directory atomically (not
/// synced: state of this boot, see `paths`).
fn checkpoint(path: &Path, contents: &str) -> std::io::Result<()> {
    libprocess::os::write_replace(path, contents.as_bytes())
}

/// Resolves once the server's socket exists (the server makes it when it
/// listens); an error when the server exits first or takes over 10 s.
async fn socket_created(socket: &Path, mut exit: Exit) -> std::result::Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if socket.exists() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "the switchboard server did not create '{}' in time",
                socket.display()
            ));
        }
        tokio::select! {
            status = &mut exit => {
                return Err(format!(
                    "the switchboard server exited before serving (wait status {status:?})"
                ));
            }
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
}

/// The exit of a recovered server, which is not our child: `None` (its
/// status cannot be known) once its pid is gone, as upstream's
/// `process::reap` of a non-child.
fn poll_exit(proc_root: PathBuf, pid: u32) -> Exit {
    let exit: BoxFuture<'static, Option<i32>> = Box::pin(async move {
        while procfs::alive(&proc_root, pid) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    });
    exit.shared()
}

impl IOSwitchboard {
    /// Returns the switchboard of `options`.
    pub fn new(options: SwitchboardOptions) -> Self {
        Self {
            options,
            servers: Arc::default(),
            container_io: Mutex::new(HashMap::new()),
        }
    }

    /// The socket of the container's server, if it has one.
    pub fn socket(&self, container_id: &str) -> Option<PathBuf> {
        lock(&self.servers)
            .get(container_id)
            .map(|s| s.socket.clone())
    }

    /// The socket of the container's server once the server listens (an
    /// attach may come while the container launches), if it has one; a
    /// server that exits first or is slow is left to the connection to
    /// report.
    pub fn listening_socket(&self, container_id: &str) -> BoxFuture<'static, Option<PathBuf>> {
        let server = lock(&self.servers)
            .get(container_id)
            .map(|s| (s.socket.clone(), s.exit.clone()));
        Box::pin(async move {
            let (socket, exit) = server?;
            let _ = socket_created(&socket, exit).await;
            Some(socket)
        })
    }

    /// Takes the container's side of the stdio `prepare` made (once).
    pub fn extract_container_io(&self, container_id: &str) -> Option<ContainerIo> {
        lock(&self.container_io).remove(container_id)
    }

    /// Starts a server for `config`; returns the launch info to merge.
    fn start_server(
        &self,
        container_id: &str,
        config: &ContainerConfig,
    ) -> Result<ContainerLaunchInfo> {
        let sandbox = PathBuf::from(&config.directory);
        let stdout_to = open_append(&sandbox.join("stdout"))?;
        let stderr_to = open_append(&sandbox.join("stderr"))?;
        let tty_info = config.container_info.as_ref().and_then(|c| c.tty_info);
        let mut launch_info = ContainerLaunchInfo::default();
        // (server fds: stdin_to, stdout_from, stderr_from), container's io.
        let (server_fds, container_io) = match tty_info {
            Some(tty_info) => {
                let (master, slave_path) = open_pty()?;
                if let Some(size) = tty_info.window_size {
                    super::server::set_window_size(master.as_raw_fd(), size.rows, size.columns)
                        .map_err(IsolatorError)?;
                }
                let slave = open_slave(&slave_path)?;
                let io = ContainerIo {
                    stdin: dup(&slave)?,
                    stdout: dup(&slave)?,
                    stderr: slave,
                    tty: true,
                };
                launch_info.tty_slave_path = Some(slave_path);
                let has_term = config
                    .command_info
                    .environment
                    .as_ref()
                    .is_some_and(|e| e.variables.iter().any(|v| v.name == "TERM"));
                if !has_term {
                    launch_info.environment = Some(Environment {
                        variables: vec![environment::Variable {
                            name: "TERM".into(),
                            value: Some("xterm".into()),
                            ..Default::default()
                        }],
                    });
                }
                ((dup(&master)?, dup(&master)?, master), io)
            }
            None => {
                let (stdin_read, stdin_write) = pipe()?;
                let (stdout_read, stdout_write) = pipe()?;
                let (stderr_read, stderr_write) = pipe()?;
                (
                    (stdin_write, stdout_read, stderr_read),
                    ContainerIo {
                        stdin: stdin_read,
                        stdout: stdout_write,
                        stderr: stderr_write,
                        tty: false,
                    },
                )
            }
        };
        let directory = io_switchboard_dir(&self.options.runtime_dir, container_id);
        std::fs::create_dir_all(&directory).map_err(|e| {
            IsolatorError(format!("failed to create '{}': {e}", directory.display()))
        })?;
        // Upstream's path, `/tmp` literally (not `$TMPDIR`): short, as unix
        // socket paths are limited to 108 bytes.
        let socket =
            Path::new(SOCKET_DIR).join(format!("mesos-io-switchboard-{}", uuid::Uuid::new_v4()));
        let (stdin_to, stdout_from, stderr_from) = server_fds;
        let keep: Vec<RawFd> = vec![
            stdin_to.as_raw_fd(),
            stdout_from.as_raw_fd(),
            stdout_to.as_raw_fd(),
            stderr_from.as_raw_fd(),
            stderr_to.as_raw_fd(),
        ];
        let debug = config.container_class == Some(ContainerClass::Debug as i32);
        let mut command = std::process::Command::new(self.options.launcher_dir.join(SERVER));
        command
            .arg(format!("--tty={}", tty_info.is_some()))
            .arg(format!("--stdin_to_fd={}", keep[0]))
            .arg(format!("--stdout_from_fd={}", keep[1]))
            .arg(format!("--stdout_to_fd={}", keep[2]))
            .arg(format!("--stderr_from_fd={}", keep[3]))
            .arg(format!("--stderr_to_fd={}", keep[4]))
            .arg(format!("--wait_for_connection={debug}"))
            .arg(format!("--socket_address={}", socket.display()))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(directory.join("server.log"))
                    .map(std::process::Stdio::from)
                    .unwrap_or_else(|_| std::process::Stdio::null()),
            );
        if let Some(interval) = self.options.heartbeat_interval {
            command.arg(format!(
                "--heartbeat_interval={}",
                libprocess::flags::format_duration(interval)
            ));
        }
        {
            use std::os::unix::process::CommandExt as _;
            let keep = keep.clone();
            // SAFETY: the closure runs between fork and exec and calls only
            // async-signal-safe functions (setsid, fcntl) on fds it was
            // given; it allocates nothing.
            unsafe {
                command.pre_exec(move || {
                    libc::setsid();
                    for &fd in &keep {
                        let flags = libc::fcntl(fd, libc::F_GETFD);
                        if flags == -1
                            || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) == -1
                        {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        }
        let mut child = tokio::process::Command::from(command)
            .kill_on_drop(false)
            .spawn()
            .map_err(|e| IsolatorError(format!("failed to start '{SERVER}': {e}")))?;
        drop((stdin_to, stdout_from, stderr_from, stdout_to, stderr_to));
        let pid = child.id().unwrap_or_default();
        let exit: BoxFuture<'static, Option<i32>> = Box::pin(async move {
            use std::os::unix::process::ExitStatusExt as _;
            child.wait().await.ok().map(|s| s.into_raw())
        });
        let exit = exit.shared();
        checkpoint(&directory.join(PID_FILE), &pid.to_string())
            .and_then(|()| checkpoint(&directory.join(SOCKET_FILE), &socket.display().to_string()))
            .map_err(|e| IsolatorError(format!("failed to checkpoint the switchboard: {e}")))?;
        lock(&self.servers).insert(
            container_id.to_string(),
            Server {
                pid,
                socket: socket.clone(),
                exit: exit.clone(),
                dead_on_recovery: false,
            },
        );
        lock(&self.container_io).insert(container_id.to_string(), container_io);
        tracing::info!(%container_id, pid, socket = %socket.display(), "Started I/O switchboard");
        Ok(launch_info)
    }

    fn kill_server(pid: u32) {
        if let Ok(pid) = i32::try_from(pid) {
            if pid > 0 {
                // SAFETY: signals one process by pid.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

impl Isolator for IOSwitchboard {
    fn name(&self) -> &'static str {
        "io/switchboard"
    }

    fn supports_nesting(&self) -> bool {
        true
    }

    fn supports_standalone(&self) -> bool {
        true
    }

    fn recover(
        &self,
        states: &[ContainerState],
        orphans: &HashSet<String>,
    ) -> BoxFuture<'static, Result<()>> {
        let runtime_dir = self.options.runtime_dir.clone();
        let proc_root = self.options.proc_root.clone();
        let mut servers = lock(&self.servers);
        for state in states {
            let id = crate::containerizer::container_id_string(&state.container_id);
            let directory = io_switchboard_dir(&runtime_dir, &id);
            let Ok(pid) = std::fs::read_to_string(directory.join(PID_FILE)) else {
                continue;
            };
            let Ok(pid) = pid.trim().parse::<u32>() else {
                continue;
            };
            let socket = std::fs::read_to_string(directory.join(SOCKET_FILE))
                .map(|s| PathBuf::from(s.trim()))
                .unwrap_or_default();
            let alive = procfs::alive(&proc_root, pid);
            tracing::info!(container_id = %id, pid, alive, "Recovered I/O switchboard");
            servers.insert(
                id,
                Server {
                    pid,
                    socket,
                    exit: poll_exit(proc_root.clone(), pid),
                    dead_on_recovery: !alive,
                },
            );
        }
        for orphan in orphans {
            let directory = io_switchboard_dir(&runtime_dir, orphan);
            if let Some(pid) = std::fs::read_to_string(directory.join(PID_FILE))
                .ok()
                .and_then(|p| p.trim().parse::<u32>().ok())
            {
                if procfs::alive(&proc_root, pid) {
                    tracing::info!(container_id = %orphan, pid, "Killing orphaned I/O switchboard");
                    Self::kill_server(pid);
                }
            }
            if let Ok(socket) = std::fs::read_to_string(directory.join(SOCKET_FILE)) {
                let _ = std::fs::remove_file(socket.trim());
            }
            let _ = std::fs::remove_dir_all(&directory);
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn prepare(
        &self,
        container_id: &str,
        config: &ContainerConfig,
    ) -> BoxFuture<'static, Result<Option<ContainerLaunchInfo>>> {
        if !requires_server(config) {
            return Box::pin(std::future::ready(Ok(None)));
        }
        if !self.options.enable_server {
            return Box::pin(std::future::ready(Err(IsolatorError(
                "The I/O switchboard server is disabled (--io_switchboard_enable_server=false), \
                 but the container needs one (it asks for a TTY, or is a DEBUG container)"
                    .into(),
            ))));
        }
        let started = self.start_server(container_id, config);
        let socket = self.socket(container_id);
        let exit = lock(&self.servers)
            .get(container_id)
            .map(|s| s.exit.clone());
        Box::pin(async move {
            let launch_info = started?;
            let (Some(socket), Some(exit)) = (socket, exit) else {
                return Err(IsolatorError("the switchboard server vanished".into()));
            };
            // Ready once its socket exists.
            socket_created(&socket, exit).await.map_err(IsolatorError)?;
            Ok(Some(launch_info))
        })
    }

    fn watch(&self, container_id: &str) -> BoxFuture<'static, ContainerLimitation> {
        let servers = lock(&self.servers);
        let Some(server) = servers.get(container_id) else {
            return Box::pin(std::future::pending());
        };
        let limitation = |message: String| ContainerLimitation {
            reason: Some(Reason::IoSwitchboardExited as i32),
            message: Some(message),
            ..Default::default()
        };
        if server.dead_on_recovery {
            let message = "'IOSwitchboard' exited while the agent was away".to_string();
            return Box::pin(std::future::ready(limitation(message)));
        }
        let exit = server.exit.clone();
        Box::pin(async move {
            let status = exit.await;
            let failed = status.is_some_and(|s| !(libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == 0));
            if !failed {
                // A server that finished its streams is no limitation.
                return std::future::pending().await;
            }
            limitation(format!(
                "'IOSwitchboard' exited with {}",
                match status {
                    Some(s) if libc::WIFSIGNALED(s) => format!("signal {}", libc::WTERMSIG(s)),
                    Some(s) => format!("status {}", libc::WEXITSTATUS(s)),
                    None => "an unknown status".into(),
                }
            ))
        })
    }

    /// Asked when the container is destroyed: a server already dead by
    /// then (its pty or pipes closing may be what ended the container, so
    /// the container's own exit can be seen first) is the limitation.
    fn last_limitation(
        &self,
        container_id: &str,
    ) -> BoxFuture<'static, Option<ContainerLimitation>> {
        let server = lock(&self.servers)
            .get(container_id)
            .map(|s| (s.pid, s.exit.clone()));
        let Some((pid, exit)) = server else {
            return Box::pin(std::future::ready(None));
        };
        if procfs::alive(&self.options.proc_root, pid) {
            return Box::pin(std::future::ready(None));
        }
        let watch = self.watch(container_id);
        Box::pin(async move {
            // Dead: its exit is at hand; the watch says whether it failed.
            let _ = tokio::time::timeout(Duration::from_secs(2), exit).await;
            tokio::time::timeout(Duration::from_millis(50), watch)
                .await
                .ok()
        })
    }

    fn cleanup(&self, container_id: &str) -> BoxFuture<'static, Result<()>> {
        lock(&self.container_io).remove(container_id);
        let server = {
            let servers = lock(&self.servers);
            servers
                .get(container_id)
                .map(|server| (server.pid, server.exit.clone(), server.socket.clone()))
        };
        let directory = io_switchboard_dir(&self.options.runtime_dir, container_id);
        let runtime_dir = self.options.runtime_dir.clone();
        let id = container_id.to_string();
        let servers = self.servers.clone();
        Box::pin(async move {
            if let Some((pid, exit, socket)) = server {
                if tokio::time::timeout(CLEANUP_GRACE, exit.clone())
                    .await
                    .is_err()
                {
                    tracing::warn!(container_id = %id, pid, "Killing I/O switchboard that did not finish");
                    Self::kill_server(pid);
                    let _ = tokio::time::timeout(CLEANUP_GRACE, exit).await;
                }
                let _ = std::fs::remove_file(socket);
            }
            let _ = std::fs::remove_dir_all(&directory);
            // The container's runtime directories left empty go too (a
            // nested one's chain up to `<runtime_dir>/containers`).
            let mut dir = directory.parent().map(Path::to_path_buf);
            while let Some(current) = dir {
                if current == runtime_dir.join("containers")
                    || std::fs::remove_dir(&current).is_err()
                {
                    break;
                }
                dir = current.parent().map(Path::to_path_buf);
            }
            lock(&servers).remove(&id);
            Ok(())
        })
    }
}

/// A shared switchboard, as the containerizer holds it.
pub type SharedSwitchboard = Arc<IOSwitchboard>;
