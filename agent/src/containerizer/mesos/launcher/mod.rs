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
///
/// The launchers start it with `posix_spawn` (a `vfork`-like clone: the
/// agent's page tables are not copied, which `fork` spent most of a
/// launch on), so nothing runs between the fork and the exec: the helper
/// makes itself a session leader, takes its controlling terminal and
/// unshares its namespaces (see `launch.rs`).
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
    /// A pipe end the child keeps across exec (the helper waits on it
    /// until the container is isolated).
    pub keep_fd: Option<RawFd>,
    /// stdin, stdout and stderr from the IO switchboard instead of
    /// `/dev/null` and the sandbox files (the caller keeps them open until
    /// `fork` returns).
    pub stdio: Option<[RawFd; 3]>,
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

/// The soft open-files limit to give containers: the one the agent
/// started with, when [`raise_open_files_limit`] raised it.
pub fn original_open_files_limit() -> Option<u64> {
    ORIGINAL_OPEN_FILES_LIMIT.get().map(|limit| limit.rlim_cur)
}

/// Spawns `spec` with `posix_spawn` (std uses it when no code is to run
/// between fork and exec), reaping it on the current tokio runtime.
/// Shared by the launchers.
pub(crate) fn spawn(spec: &ForkSpec) -> Result<Forked> {
    let fork_error = |source| LauncherError::Fork {
        program: spec.program.display().to_string(),
        source,
    };
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
                    .map_err(fork_error)
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
    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(&spec.arguments)
        .current_dir(&spec.working_directory)
        .env_clear()
        .envs(spec.environment.iter().map(|(k, v)| (k, v)))
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(false);
    // The kept fd is inheritable only while the child is spawned: a
    // process another thread forks meanwhile may inherit it too, which
    // is harmless (a read end), and the helper marks every fd above
    // stderr close-on-exec before it runs the command.
    let _inheritable = spec
        .keep_fd
        .map(Inheritable::new)
        .transpose()
        .map_err(fork_error)?;
    let child = command.spawn().map_err(fork_error)?;
    drop(_inheritable);
    let pid = child.id().unwrap_or_default();
    let mut child = child;
    let exit = Box::pin(async move {
        use std::os::unix::process::ExitStatusExt as _;
        child.wait().await.ok().map(|s| s.into_raw())
    });
    Ok(Forked { pid, exit })
}

/// An fd without `FD_CLOEXEC` until dropped.
struct Inheritable(RawFd);

impl Inheritable {
    fn new(fd: RawFd) -> std::io::Result<Self> {
        set_cloexec(fd, false)?;
        Ok(Self(fd))
    }
}

impl Drop for Inheritable {
    fn drop(&mut self) {
        let _ = set_cloexec(self.0, true);
    }
}

fn set_cloexec(fd: RawFd, on: bool) -> std::io::Result<()> {
    // SAFETY: F_GETFD/F_SETFD read and write the flags of an fd the
    // caller holds open; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let flags = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

    use super::*;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two fds into the array we own.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both fds were just created and are owned by nothing else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    #[actix_rt::test]
    async fn the_child_inherits_the_kept_fd_only_and_it_is_close_on_exec_again_after() {
        let (kept, other) = pipe();
        let dir = tempfile::tempdir().unwrap();
        let spec = ForkSpec {
            program: PathBuf::from("/bin/sh"),
            arguments: vec!["-c".into(), "ls /proc/$$/fd; pwd".into()],
            environment: vec![],
            working_directory: dir.path().to_path_buf(),
            stdout: dir.path().join("stdout"),
            stderr: dir.path().join("stderr"),
            keep_fd: Some(kept.as_raw_fd()),
            stdio: None,
        };
        let forked = spawn(&spec).unwrap();
        assert_eq!(forked.exit.await, Some(0));
        let shown = std::fs::read_to_string(dir.path().join("stdout")).unwrap();
        let mut lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.pop(), Some(dir.path().to_str().unwrap()));
        // (Fds the test process inherited without FD_CLOEXEC, such as
        // cargo's jobserver pipe, are inherited too.)
        let fds: Vec<i32> = lines.iter().map(|l| l.parse().unwrap()).collect();
        assert!(fds.contains(&kept.as_raw_fd()), "{fds:?}");
        assert!(!fds.contains(&other.as_raw_fd()), "{fds:?}");
        // SAFETY: F_GETFD on an fd we own.
        let flags = unsafe { libc::fcntl(kept.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    }
}
