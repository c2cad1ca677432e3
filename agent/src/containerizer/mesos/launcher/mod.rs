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

/// The soft open-files limit the agent started with, when
/// [`raise_open_files_limit`] raised it; containers get it back.
static ORIGINAL_OPEN_FILES_LIMIT: std::sync::OnceLock<libc::rlimit> = std::sync::OnceLock::new();

/// Raises the agent's soft `RLIMIT_NOFILE` to its hard limit, as Go's
/// runtime and many daemons do: the agent holds two sockets per executor
/// and a few more per launch in flight, so the usual 1024 stops it
/// before 350 executors. Containers are started with the limit the agent
/// was given (upstream's agent keeps it and needs an operator to raise
/// it). Returns the (old, new) soft limits. Call it once, at start-up.
pub fn raise_open_files_limit() -> std::io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let old = limit.rlim_cur;
    if limit.rlim_cur >= limit.rlim_max {
        return Ok((old, old));
    }
    let raised = libc::rlimit {
        rlim_cur: limit.rlim_max,
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit reads the struct we pass and nothing else.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let _ = ORIGINAL_OPEN_FILES_LIMIT.set(limit);
    Ok((old, raised.rlim_cur))
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
    let open_files_limit = ORIGINAL_OPEN_FILES_LIMIT.get().copied();
    // SAFETY: the closure runs between fork and exec and calls only
    // async-signal-safe functions (setsid, ioctl, fcntl, unshare,
    // setrlimit); it allocates nothing and touches no memory shared with
    // the parent's threads.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(limit) = &open_files_limit {
                if libc::setrlimit(libc::RLIMIT_NOFILE, limit) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn soft_open_files_limit() -> u64 {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the struct we own.
        let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        assert_eq!(got, 0);
        limit.rlim_cur
    }

    #[actix_rt::test]
    async fn containers_get_the_open_files_limit_the_agent_started_with() {
        // Start one below the hard limit, so there is something to raise.
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the struct we own.
        let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        assert_eq!(got, 0);
        if limit.rlim_max != libc::RLIM_INFINITY {
            limit.rlim_cur = limit.rlim_max - 1;
            // SAFETY: setrlimit reads the struct we pass.
            let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
            assert_eq!(set, 0);
        }
        let before = soft_open_files_limit();
        let (old, new) = raise_open_files_limit().unwrap();
        assert_eq!(old, before);
        assert_eq!(soft_open_files_limit(), new);
        assert_eq!(new, limit.rlim_max);
        let dir = tempfile::tempdir().unwrap();
        let spec = ForkSpec {
            program: PathBuf::from("/bin/sh"),
            arguments: vec!["-c".into(), "ulimit -n".into()],
            environment: vec![],
            working_directory: dir.path().to_path_buf(),
            stdout: dir.path().join("stdout"),
            stderr: dir.path().join("stderr"),
            clone_namespaces: 0,
            keep_fd: None,
            stdio: None,
            controlling_tty: false,
        };
        let forked = spawn(&spec, 0).unwrap();
        assert_eq!(forked.exit.await, Some(0));
        let shown = std::fs::read_to_string(dir.path().join("stdout")).unwrap();
        let expected = if before == libc::RLIM_INFINITY {
            "unlimited".to_string()
        } else {
            before.to_string()
        };
        assert_eq!(shown.trim(), expected);
    }
}
