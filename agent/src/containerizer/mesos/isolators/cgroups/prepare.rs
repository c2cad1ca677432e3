//! Mounting the v1 hierarchies the cgroups isolators need (upstream
//! `cgroups::prepare`, which `CgroupsIsolatorProcess::create` calls for
//! each subsystem it loads).
//!
//! A subsystem the kernel enables (`/proc/cgroups`) but no hierarchy
//! carries is mounted at `<--cgroups_hierarchy>/<subsystem>`, and stays
//! mounted, as upstream's. A subsystem the kernel lacks or disables is
//! refused with upstream's reason. Deliberate difference: a subsystem
//! mounted somewhere outside `--cgroups_hierarchy` is left as it is (the
//! isolator then refuses it, naming the flag) where upstream would use
//! that mount; this agent only uses hierarchies below the flag.

use std::path::Path;
use std::sync::Mutex;

use super::{all, Subsystem, SUBSYSTEMS};
use crate::linux::{cgroups, Hierarchy};

/// The subsystems `isolation` names (`cgroups/all`: every one the kernel
/// enables); names of other isolators are left to the isolator table.
fn named(
    isolation: &str,
    hierarchy: &Hierarchy,
    proc_root: &Path,
) -> Result<Vec<Subsystem>, String> {
    let mut subsystems = Vec::new();
    for name in isolation.split(',').map(str::trim) {
        if name == "cgroups/all" {
            let enabled = enabled(proc_root)?;
            for each in all(hierarchy, &enabled) {
                subsystems.extend(SUBSYSTEMS.iter().find(|s| s.name() == each));
            }
        } else {
            subsystems.extend(SUBSYSTEMS.iter().find(|s| s.name() == name));
        }
    }
    Ok(subsystems)
}

/// The subsystems the kernel enables, from `<proc_root>/cgroups`
/// (upstream `cgroups::subsystems()`).
pub fn enabled(proc_root: &Path) -> Result<Vec<String>, String> {
    let infos = cgroups::subsystems(proc_root)
        .map_err(|e| format!("Failed to get the enabled subsystems: {e}"))?;
    Ok(infos
        .into_iter()
        .filter(|info| info.enabled)
        .map(|info| info.name)
        .collect())
}

/// Mounts the v1 hierarchies of the subsystems `isolation` needs that no
/// hierarchy carries, under `mount_root`; returns the hierarchy as it is
/// afterwards. A v2 hierarchy is returned as it is.
pub fn prepare(
    isolation: &str,
    hierarchy: Hierarchy,
    proc_root: &Path,
    mount_root: &Path,
) -> Result<Hierarchy, String> {
    let Hierarchy::V1(under_root) = &hierarchy else {
        return Ok(hierarchy);
    };
    let mut missing: Vec<&'static str> = Vec::new();
    for subsystem in named(isolation, &hierarchy, proc_root)? {
        for controller in subsystem.v1_controllers() {
            if under_root.get(controller).is_none() && !missing.contains(controller) {
                missing.push(controller);
            }
        }
    }
    if missing.is_empty() {
        return Ok(hierarchy);
    }
    // One mount at a time in this process; what is mounted is read again
    // under the lock (another containerizer may have just mounted it).
    static MOUNTING: Mutex<()> = Mutex::new(());
    let _mounting = MOUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let mut mounted = false;
    for controller in missing {
        // Every hierarchy of this mount namespace, wherever it is mounted.
        let anywhere = cgroups::Hierarchies::read(proc_root).map_err(|e| e.to_string())?;
        if anywhere.get(controller).is_some() {
            mounted = true;
            continue;
        }
        let target = match cgroups::mount_subsystem(proc_root, mount_root, controller) {
            Ok(target) => target,
            // Another process may have mounted it meanwhile.
            Err(_)
                if cgroups::Hierarchies::read(proc_root)
                    .is_ok_and(|h| h.get(controller).is_some()) =>
            {
                mounted = true;
                continue;
            }
            Err(e) => {
                return Err(format!(
                    "Failed to prepare hierarchy for the subsystem '{controller}': {e}"
                ))
            }
        };
        tracing::info!(
            subsystem = controller,
            hierarchy = %target.display(),
            "Mounted the cgroups hierarchy"
        );
        mounted = true;
    }
    if !mounted {
        return Ok(hierarchy);
    }
    Hierarchy::detect_under(proc_root, mount_root).map_err(|e| {
        format!(
            "failed to detect the cgroup hierarchy under --cgroups_hierarchy '{}': {e}",
            mount_root.display()
        )
    })
}
