//! Launchers (upstream `src/slave/containerizer/mesos/launcher.hpp`):
//! how a container's init process is created and how every process of a
//! container is killed.
//!
//! - [`posix::PosixLauncher`] (`--launcher=posix`): a new session and
//!   process group; destroy kills the process tree, group and session.
//! - [`linux::LinuxLauncher`] (`--launcher=linux`): a freezer (or v2)
//!   cgroup per container; destroy kills everything in it.

#[cfg(target_os = "linux")]
pub mod linux;
pub mod posix;

use std::collections::HashSet;
use std::os::fd::RawFd;
use std::path::PathBuf;

use futures::future::BoxFuture;
use mesos_proto::mesos::slave::ContainerState;

/// What a launcher failed on.
#[derive(Debug, thiserror::Error)]
pub enum LauncherError {
    /// The process could not be started.
    #[error("failed to fork '{program}': {source}")]
    Fork {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A sandbox file could not be opened.
    #[error("failed to open '{}': {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The container's processes could not be killed.
    #[error("failed to destroy container '{container_id}': {message}")]
    Destroy {
        /// The container.
        container_id: String,
        /// What went wrong.
        message: String,
    },
    /// The launcher does not know the container.
    #[error("unknown container '{0}'")]
    UnknownContainer(String),
}

/// The module's result type.
pub type Result<T> = std::result::Result<T, LauncherError>;

/// What to fork: the `mesos-containerizer launch` helper, usually.
#[derive(Debug, Clone)]
pub struct ForkSpec {
    /// The program.
    pub program: PathBuf,
    /// Its arguments, without argv\[0\].
    pub arguments: Vec<String>,
    /// Its whole environment.
    pub environment: Vec<(String, String)>,
    /// Its working directory.
    pub working_directory: PathBuf,
    /// Where its stdout goes (created or appended to).
    pub stdout: PathBuf,
    /// Where its stderr goes.
    pub stderr: PathBuf,
    /// `CLONE_NEW*` flags to unshare before exec (the helper forks the
    /// container's init inside a new pid namespace).
    pub clone_namespaces: i32,
    /// A pipe end the child keeps across exec (the helper waits on it
    /// until the container is isolated).
    pub keep_fd: Option<RawFd>,
    /// stdin, stdout and stderr from the IO switchboard instead of
    /// `/dev/null` and the sandbox files (the caller keeps them open until
    /// `fork` returns).
    pub stdio: Option<[RawFd; 3]>,
    /// Make stdin (a pty's slave) the controlling terminal of the new
    /// session.
    pub controlling_tty: bool,
}

/// A forked container: its pid and its exit.
pub struct Forked {
    /// The OS pid of the container's init process.
    pub pid: u32,
    /// Resolves to the raw wait status once it exits (`None` when it
    /// could not be reaped).
    pub exit: BoxFuture<'static, Option<i32>>,
}

/// The launcher interface.
pub trait Launcher: Send + Sync {
    /// The upstream name (`posix`, `linux`).
    fn name(&self) -> &'static str;

    /// Takes over the containers of a previous agent run; returns the
    /// orphans: containers the launcher finds that are not in `states`.
    fn recover(&self, states: &[ContainerState]) -> BoxFuture<'static, Result<HashSet<String>>>;

    /// Forks the container's init process.
    fn fork(&self, container_id: &str, spec: ForkSpec) -> Result<Forked>;

    /// Kills every process of the container; resolves once none is left.
    fn destroy(&self, container_id: &str) -> BoxFuture<'static, Result<()>>;

    /// The init process's pid.
    fn pid(&self, container_id: &str) -> Option<u32>;
}

/// Spawns `spec` with `setsid` (and `unshare`, when asked), reaping it on
/// the current tokio runtime. Shared by the launchers.
pub(crate) fn spawn(spec: &ForkSpec, pre_exec_unshare: i32) -> Result<Forked> {
    use std::os::unix::process::CommandExt as _;
    let open = |path: &PathBuf| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| LauncherError::Open {
                path: path.clone(),
                source,
            })
    };
    let (stdin, stdout, stderr) = match spec.stdio {
        Some(fds) => {
            let dup = |fd: RawFd| {
                // SAFETY: the caller keeps `fd` open for this call; the
                // borrow ends before it returns.
                unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
                    .try_clone_to_owned()
                    .map_err(|source| LauncherError::Fork {
                        program: spec.program.display().to_string(),
                        source,
                    })
            };
            (
                std::process::Stdio::from(dup(fds[0])?),
                std::process::Stdio::from(dup(fds[1])?),
                std::process::Stdio::from(dup(fds[2])?),
            )
        }
        None => (
            std::process::Stdio::null(),
            open(&spec.stdout)?.into(),
            open(&spec.stderr)?.into(),
        ),
    };
    let mut command = std::process::Command::new(&spec.program);
    command
        .args(&spec.arguments)
        .current_dir(&spec.working_directory)
        .env_clear()
        .envs(spec.environment.iter().map(|(k, v)| (k, v)))
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr);
    let keep_fd = spec.keep_fd;
    let controlling_tty = spec.controlling_tty;
    // SAFETY: the closure runs between fork and exec and calls only
    // async-signal-safe functions (setsid, ioctl, fcntl, unshare); it allocates
    // nothing and touches no memory shared with the parent's threads.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if controlling_tty && libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(fd) = keep_fd {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags == -1 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if pre_exec_unshare != 0 && libc::unshare(pre_exec_unshare) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = tokio::process::Command::from(command)
        .kill_on_drop(false)
        .spawn()
        .map_err(|source| LauncherError::Fork {
            program: spec.program.display().to_string(),
            source,
        })?;
    let pid = child.id().unwrap_or_default();
    let mut child = child;
    let exit = Box::pin(async move {
        use std::os::unix::process::ExitStatusExt as _;
        child.wait().await.ok().map(|s| s.into_raw())
    });
    Ok(Forked { pid, exit })
}
