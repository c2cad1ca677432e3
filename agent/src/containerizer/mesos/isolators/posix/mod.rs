//! The posix isolators (upstream `isolators/posix.hpp`): `posix/cpu` and
//! `posix/mem` isolate nothing; they report the CPU times and resident
//! memory of the container's processes, read from `/proc`.

pub mod disk;
pub mod rlimits;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use mesos_proto::mesos::slave::ContainerState;
use mesos_proto::mesos::ResourceStatistics;

use crate::containerizer::mesos::isolator::{ready, Isolator, IsolatorError, Result};
use crate::containerizer::mesos::procfs;

/// Which usage a posix isolator reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PosixKind {
    /// `posix/cpu`: user and system CPU seconds.
    Cpu,
    /// `posix/mem`: resident bytes.
    Mem,
}

/// `posix/cpu` or `posix/mem`.
#[derive(Debug)]
pub struct PosixIsolator {
    kind: PosixKind,
    proc_root: PathBuf,
    pids: Arc<Mutex<HashMap<String, u32>>>,
}

impl PosixIsolator {
    /// The isolator of `kind`, reading `proc_root`.
    pub fn new(kind: PosixKind, proc_root: PathBuf) -> Self {
        Self {
            kind,
            proc_root,
            pids: Arc::default(),
        }
    }

    fn pids(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.pids.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Isolator for PosixIsolator {
    fn name(&self) -> &'static str {
        match self.kind {
            PosixKind::Cpu => "posix/cpu",
            PosixKind::Mem => "posix/mem",
        }
    }

    fn supports_nesting(&self) -> bool {
        true
    }

    fn recover(
        &self,
        states: &[ContainerState],
        _orphans: &HashSet<String>,
    ) -> BoxFuture<'static, Result<()>> {
        let mut pids = self.pids();
        for state in states {
            if let Ok(pid) = u32::try_from(state.pid) {
                pids.insert(state.container_id.value.clone(), pid);
            }
        }
        ready(Ok(()))
    }

    fn isolate(&self, container_id: &str, pid: u32) -> BoxFuture<'static, Result<()>> {
        self.pids().insert(container_id.to_string(), pid);
        ready(Ok(()))
    }

    fn usage(&self, container_id: &str) -> BoxFuture<'static, Result<ResourceStatistics>> {
        let Some(pid) = self.pids().get(container_id).copied() else {
            return ready(Err(IsolatorError(format!(
                "unknown container '{container_id}'"
            ))));
        };
        let (kind, proc_root) = (self.kind, self.proc_root.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let pid = i32::try_from(pid).map_err(IsolatorError::new)?;
                let all = procfs::processes(&proc_root);
                let tree = procfs::container_processes(&all, pid);
                let mut statistics = ResourceStatistics::default();
                match kind {
                    PosixKind::Cpu => {
                        let ticks = procfs::ticks_per_second();
                        let user: u64 = tree.iter().map(|p| p.utime).sum();
                        let system: u64 = tree.iter().map(|p| p.stime).sum();
                        statistics.cpus_user_time_secs = Some(user as f64 / ticks);
                        statistics.cpus_system_time_secs = Some(system as f64 / ticks);
                    }
                    PosixKind::Mem => {
                        let pages: u64 = tree.iter().map(|p| p.rss_pages).sum();
                        statistics.mem_rss_bytes = Some(pages * procfs::page_size());
                    }
                }
                Ok(statistics)
            })
            .await
            .map_err(IsolatorError::new)?
        })
    }

    fn cleanup(&self, container_id: &str) -> BoxFuture<'static, Result<()>> {
        self.pids().remove(container_id);
        ready(Ok(()))
    }
}
