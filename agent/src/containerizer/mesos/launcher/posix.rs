//! The posix launcher (upstream `PosixLauncher`): the container's init
//! process leads a new session and process group; destroy stops, then
//! kills, its process tree and every process of its group and session.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use mesos_proto::mesos::slave::ContainerState;

use super::{ForkSpec, Forked, Launcher, Result};
use crate::containerizer::mesos::procfs;

/// Launches containers as sessions; knows them by container id.
#[derive(Debug)]
pub struct PosixLauncher {
    proc_root: PathBuf,
    pids: Arc<Mutex<HashMap<String, u32>>>,
}

impl PosixLauncher {
    /// A launcher reading processes under `proc_root` (`/proc`).
    pub fn new(proc_root: PathBuf) -> Self {
        Self {
            proc_root,
            pids: Arc::default(),
        }
    }
}

impl Launcher for PosixLauncher {
    fn name(&self) -> &'static str {
        "posix"
    }

    fn recover(&self, states: &[ContainerState]) -> BoxFuture<'static, Result<HashSet<String>>> {
        let mut pids = self.pids.lock().unwrap_or_else(|e| e.into_inner());
        for state in states {
            if let Ok(pid) = u32::try_from(state.pid) {
                pids.insert(
                    crate::containerizer::container_id_string(&state.container_id),
                    pid,
                );
            }
        }
        // A session leaves no trace of its container id: the posix
        // launcher cannot find orphans (as upstream).
        Box::pin(async { Ok(HashSet::new()) })
    }

    fn fork(&self, container_id: &str, spec: ForkSpec) -> Result<Forked> {
        let forked = super::spawn(&spec)?;
        self.pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(container_id.to_string(), forked.pid);
        Ok(forked)
    }

    fn destroy(&self, container_id: &str) -> BoxFuture<'static, Result<()>> {
        let pid = self
            .pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(container_id);
        let proc_root = self.proc_root.clone();
        Box::pin(async move {
            let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
                return Ok(());
            };
            // Fast path (the common case: the executor exited and took
            // its children along): no init process and an empty process
            // group leave nothing the tree walk below could still find
            // but session members in other groups, which is cheaper to
            // leave to the linux launcher than to scan /proc for on every
            // container exit.
            if !procfs::alive(&proc_root, pid.unsigned_abs()) && !group_exists(pid) {
                return Ok(());
            }
            // Stop first so nothing forks while the tree is being killed,
            // then kill, a few rounds for stragglers (upstream killtree).
            for _ in 0..10 {
                let members = tokio::task::spawn_blocking({
                    let proc_root = proc_root.clone();
                    move || {
                        let all = procfs::processes(&proc_root);
                        procfs::container_processes(&all, pid)
                            .into_iter()
                            .filter(|p| p.state != 'Z' && p.state != 'X' && p.pid > 1)
                            .map(|p| p.pid)
                            .collect::<Vec<_>>()
                    }
                })
                .await
                .unwrap_or_default();
                if members.is_empty() {
                    break;
                }
                kill_all(&members);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(())
        })
    }

    fn pid(&self, container_id: &str) -> Option<u32> {
        self.pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(container_id)
            .copied()
    }
}

/// Whether any process is in process group `pgid`.
fn group_exists(pgid: i32) -> bool {
    // SAFETY: signal 0 to a process group only checks for its members.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// Sends SIGSTOP, then SIGKILL, to each of `pids`.
pub(crate) fn kill_all(pids: &[i32]) {
    for &pid in pids {
        // SAFETY: signalling a process has no memory effects here.
        unsafe {
            libc::kill(pid, libc::SIGSTOP);
        }
    }
    for &pid in pids {
        // SAFETY: as above.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}
