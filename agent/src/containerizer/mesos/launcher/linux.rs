//! The Linux launcher (upstream `LinuxLauncher`, `linux_launcher.cpp`):
//! each container's init process and everything it forks live in the
//! freezer cgroup `<--cgroups_root>/<container id>` (on cgroups v2, the
//! container's cgroup in the unified hierarchy; a top-level container's
//! processes in its `leaf` below, as upstream's cgroups v2 layout, so that
//! its nested containers can have controllers of their own), so destroy
//! reaches every process, also those that double-forked out of the
//! session; namespaces asked for by isolators are unshared before the
//! launch helper runs.
//!
//! Recovery: the containers found under `<--cgroups_root>` that the agent
//! did not checkpoint are orphans, destroyed by the containerizer.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use mesos_proto::mesos::slave::ContainerState;

use super::{ForkSpec, Forked, Launcher, LauncherError, Result};
use crate::linux::{cgroups, cgroups2, Hierarchy};

/// Where the launcher keeps its cgroups.
#[derive(Debug, Clone)]
enum Tree {
    /// The v1 freezer hierarchy.
    Freezer(PathBuf),
    /// The v2 unified hierarchy.
    Unified(PathBuf),
}

/// The Linux launcher.
#[derive(Debug)]
pub struct LinuxLauncher {
    tree: Tree,
    root: String,
    /// How long killing a container's processes and removing its cgroup
    /// may take (`--cgroups_destroy_timeout`).
    destroy_timeout: Duration,
    pids: Arc<Mutex<HashMap<String, u32>>>,
}

impl LinuxLauncher {
    /// A launcher on `hierarchy` with containers under `root`
    /// (`--cgroups_root`). Refuses a v1 machine without a freezer.
    pub fn new(hierarchy: &Hierarchy, root: &str) -> std::result::Result<Self, String> {
        let tree = match hierarchy {
            Hierarchy::V1(hierarchies) => Tree::Freezer(
                hierarchies
                    .get("freezer")
                    .ok_or("the linux launcher needs the 'freezer' cgroup controller mounted")?
                    .to_path_buf(),
            ),
            Hierarchy::V2(root) => Tree::Unified(root.clone()),
        };
        Ok(Self {
            tree,
            root: root.trim_matches('/').to_string(),
            destroy_timeout: Duration::from_secs(60),
            pids: Arc::default(),
        })
    }

    /// The same, with `timeout` for a container's destroy (upstream's
    /// default: a minute).
    pub fn with_destroy_timeout(mut self, timeout: Duration) -> Self {
        self.destroy_timeout = timeout;
        self
    }

    fn cgroup(&self, container_id: &str) -> String {
        container_cgroup(&self.root, container_id)
    }

    /// Where the container's processes go: its cgroup, or on v2 the leaf
    /// below a top-level container's ([`cgroups2::LEAF`]).
    fn process_cgroup(&self, container_id: &str) -> String {
        let cgroup = self.cgroup(container_id);
        match self.tree {
            Tree::Unified(_) if !container_id.contains('.') => {
                format!("{cgroup}/{}", cgroups2::LEAF)
            }
            _ => cgroup,
        }
    }

    fn pids(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.pids.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A container's launcher cgroup under `root` (`--cgroups_root`):
/// `<root>/<id>`; a nested container's is under its parent's,
/// `<root>/<parent>/mesos/<child>`, as upstream lays them out, so
/// destroying the parent's subtree reaches its nested containers.
pub fn container_cgroup(root: &str, container_id: &str) -> String {
    let mut parts = container_id.split('.');
    let mut cgroup = format!(
        "{}/{}",
        root.trim_matches('/'),
        parts.next().unwrap_or_default()
    );
    for child in parts {
        cgroup.push_str("/mesos/");
        cgroup.push_str(child);
    }
    cgroup
}

fn destroy_error(container_id: &str, error: impl std::fmt::Display) -> LauncherError {
    LauncherError::Destroy {
        container_id: container_id.to_string(),
        message: error.to_string(),
    }
}

impl Tree {
    fn create(&self, cgroup: &str) -> std::result::Result<(), String> {
        match self {
            Tree::Freezer(hierarchy) => {
                cgroups::create(hierarchy, cgroup).map_err(|e| e.to_string())
            }
            Tree::Unified(root) => cgroups2::create(root, cgroup).map_err(|e| e.to_string()),
        }
    }

    fn assign(&self, cgroup: &str, pid: libc::pid_t) -> std::result::Result<(), String> {
        match self {
            Tree::Freezer(hierarchy) => {
                cgroups::assign(hierarchy, cgroup, pid).map_err(|e| e.to_string())
            }
            Tree::Unified(root) => cgroups2::assign(root, cgroup, pid).map_err(|e| e.to_string()),
        }
    }

    fn destroy(&self, cgroup: &str, timeout: Duration) -> std::result::Result<(), String> {
        match self {
            Tree::Freezer(hierarchy) => {
                cgroups::destroy(hierarchy, cgroup, timeout).map_err(|e| e.to_string())
            }
            Tree::Unified(root) => {
                cgroups2::destroy(root, cgroup, timeout).map_err(|e| e.to_string())
            }
        }
    }

    /// The container ids with a cgroup under `root`, nested ones
    /// (`<root>/<parent>/mesos/<child>`) as `parent.child`.
    fn containers(&self, root: &str) -> Vec<String> {
        fn walk(dir: &Path, prefix: Option<&str>, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                let id = match prefix {
                    Some(prefix) => format!("{prefix}.{name}"),
                    None => name,
                };
                walk(&entry.path().join("mesos"), Some(&id), out);
                out.push(id);
            }
        }
        let base: &Path = match self {
            Tree::Freezer(hierarchy) => hierarchy,
            Tree::Unified(root) => root,
        };
        let mut out = Vec::new();
        walk(&base.join(root), None, &mut out);
        out
    }
}

impl Launcher for LinuxLauncher {
    fn name(&self) -> &'static str {
        "linux"
    }

    // On v2 a nested container's cgroup gets controllers only when the
    // cgroups isolators give it limits of its own (`share_cgroups: false`);
    // otherwise it shares its parent's limits.

    fn recover(&self, states: &[ContainerState]) -> BoxFuture<'static, Result<HashSet<String>>> {
        let known: HashSet<String> = states
            .iter()
            .map(|s| crate::containerizer::container_id_string(&s.container_id))
            .collect();
        {
            let mut pids = self.pids();
            for state in states {
                if let Ok(pid) = u32::try_from(state.pid) {
                    pids.insert(
                        crate::containerizer::container_id_string(&state.container_id),
                        pid,
                    );
                }
            }
        }
        let (tree, root) = (self.tree.clone(), self.root.clone());
        Box::pin(async move {
            let found = tokio::task::spawn_blocking(move || tree.containers(&root))
                .await
                .unwrap_or_default();
            Ok(found.into_iter().filter(|id| !known.contains(id)).collect())
        })
    }

    fn fork(&self, container_id: &str, spec: ForkSpec) -> Result<Forked> {
        let cgroup = self.cgroup(container_id);
        let process_cgroup = self.process_cgroup(container_id);
        self.tree
            .create(&process_cgroup)
            .map_err(|message| LauncherError::Fork {
                program: spec.program.display().to_string(),
                source: std::io::Error::other(format!("failed to create cgroup: {message}")),
            })?;
        let forked = super::spawn(&spec)?;
        let pid = libc::pid_t::try_from(forked.pid).unwrap_or_default();
        // The helper blocks on its pipe until the containerizer has
        // isolated it, so everything it forks lands in the cgroup too.
        if let Err(message) = self.tree.assign(&process_cgroup, pid) {
            // SAFETY: kills the child we just forked, and nothing else.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            let _ = self.tree.destroy(&cgroup, self.destroy_timeout);
            return Err(LauncherError::Fork {
                program: spec.program.display().to_string(),
                source: std::io::Error::other(format!(
                    "failed to assign pid {pid} to cgroup '{process_cgroup}': {message}"
                )),
            });
        }
        self.pids().insert(container_id.to_string(), forked.pid);
        Ok(forked)
    }

    fn destroy(&self, container_id: &str) -> BoxFuture<'static, Result<()>> {
        self.pids().remove(container_id);
        let (tree, cgroup, id, timeout) = (
            self.tree.clone(),
            self.cgroup(container_id),
            container_id.to_string(),
            self.destroy_timeout,
        );
        Box::pin(async move {
            tokio::task::spawn_blocking(move || tree.destroy(&cgroup, timeout))
                .await
                .map_err(|e| destroy_error(&id, e))?
                .map_err(|e| destroy_error(&id, e))
        })
    }

    fn pid(&self, container_id: &str) -> Option<u32> {
        self.pids().get(container_id).copied()
    }
}
