//! The posix launcher (upstream `src/slave/containerizer/mesos/launcher.cpp`,
//! `PosixLauncher`): fork/exec in a new session; destroy kills the session's
//! process group.

use std::path::PathBuf;
use std::process::Stdio;

use futures_like::oneshot;

/// Re-exported channel so callers need no extra dependency.
pub mod futures_like {
    pub use tokio::sync::oneshot;
}

/// What to run in a container.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The program (already resolved: `sh` for shell commands).
    pub program: String,
    /// Its arguments, without argv\[0\].
    pub arguments: Vec<String>,
    /// argv\[0\].
    pub argv0: Option<String>,
    /// The environment (nothing of the agent's own is inherited but
    /// `PATH`, as upstream's containerizer does).
    pub environment: Vec<(String, String)>,
    /// The sandbox: working directory, and home of `stdout` / `stderr`.
    pub directory: PathBuf,
}

/// How a container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termination {
    /// The raw wait status (as upstream's `WaitStatus`).
    pub status: Option<i32>,
}

/// Launches and destroys containers as process groups.
#[derive(Debug, Default, Clone)]
pub struct PosixLauncher;

impl PosixLauncher {
    /// Starts `spec`; returns the process id and a receiver of its
    /// termination. Must run inside a tokio runtime (an actix arbiter).
    pub fn launch(
        &self,
        spec: &LaunchSpec,
    ) -> std::io::Result<(u32, oneshot::Receiver<Termination>)> {
        std::fs::create_dir_all(&spec.directory)?;
        let stdout = std::fs::File::create(spec.directory.join("stdout"))?;
        let stderr = std::fs::File::create(spec.directory.join("stderr"))?;
        let mut command = tokio::process::Command::new(&spec.program);
        command
            .args(&spec.arguments)
            .current_dir(&spec.directory)
            .env_clear()
            .env(
                "PATH",
                std::env::var("PATH").unwrap_or_else(|_| {
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
                }),
            )
            .envs(
                spec.environment
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(false);
        if let Some(argv0) = &spec.argv0 {
            command.arg0(argv0);
        }
        // SAFETY: `setsid` is async-signal-safe and touches no memory of
        // the parent; it only makes the child lead a new session and
        // process group, as upstream's posix launcher does.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        let pid = child.id().unwrap_or_default();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            use std::os::unix::process::ExitStatusExt as _;
            let status = child.wait().await.ok().map(|s| s.into_raw());
            let _ = tx.send(Termination { status });
        });
        Ok((pid, rx))
    }

    /// Kills every process of the container's process group.
    pub fn destroy(&self, pid: u32) {
        let Ok(pgid) = i32::try_from(pid) else {
            return;
        };
        if pgid <= 1 {
            return;
        }
        // SAFETY: `kill` with a negative pid signals the process group the
        // launcher created for this container and nothing else.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}
