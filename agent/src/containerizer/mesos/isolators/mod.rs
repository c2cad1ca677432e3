//! The isolators `--isolation` can name, in one ordered table (upstream
//! `MesosContainerizer::create`'s creator map). A name not in the table is
//! refused at start-up with an error naming it.

#[cfg(target_os = "linux")]
pub mod cgroups;
pub mod docker;
pub mod filesystem;
pub mod linux;
pub mod namespaces;
pub mod persistent_volumes;
pub mod posix;
pub mod volume;

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::isolator::{ready, Isolator, Result};
use namespaces::{Namespace, NamespacesIsolator};
use posix::rlimits::PosixRLimitsIsolator;
use posix::{PosixIsolator, PosixKind};

/// What isolators are built with.
#[derive(Debug, Clone)]
pub struct IsolatorContext {
    /// `/proc`.
    pub proc_root: PathBuf,
    /// `--container_disk_watch_interval` (`disk/du`).
    pub disk_watch_interval: std::time::Duration,
    /// `--enforce_container_disk_quota` (`disk/du`).
    pub enforce_disk_quota: bool,
    /// `--effective_capabilities` (`linux/capabilities`).
    pub effective_capabilities: Option<mesos_proto::mesos::CapabilityInfo>,
    /// `--bounding_capabilities` (`linux/capabilities`).
    pub bounding_capabilities: Option<mesos_proto::mesos::CapabilityInfo>,
    /// `--sandbox_directory` (`filesystem/linux` with an image rootfs).
    pub sandbox_directory: String,
    /// The cgroups settings, where cgroups are mounted.
    #[cfg(target_os = "linux")]
    pub cgroups: Option<Arc<cgroups::CgroupsConfig>>,
    /// The agent's `--work_dir`, where persistent volumes live.
    pub work_dir: PathBuf,
    /// `--runtime_dir` (`namespaces/ipc` keeps private `/dev/shm`s there).
    pub runtime_dir: PathBuf,
    /// The namespace isolators' flags.
    pub namespaces: namespaces::NamespaceOptions,
    /// `--host_path_volume_force_creation` (`volume/host_path`).
    pub host_path_volume_force_creation: Option<String>,
}

type Built = std::result::Result<Arc<dyn Isolator>, String>;
type Constructor = fn(&IsolatorContext) -> Built;

#[cfg(target_os = "linux")]
fn cgroups_isolator(context: &IsolatorContext, subsystem: cgroups::Subsystem) -> Built {
    let config = context
        .cgroups
        .clone()
        .ok_or("cgroups isolators need a mounted cgroup hierarchy")?;
    Ok(Arc::new(cgroups::CgroupsIsolator::new(subsystem, config)?))
}

/// Every isolator built, by upstream name, in the order their `prepare`
/// and `isolate` run when named together.
const TABLE: &[(&str, Constructor)] = &[
    ("filesystem/posix", |c| {
        Ok(Arc::new(persistent_volumes::PersistentVolumes::new(
            Arc::new(FilesystemPosixIsolator),
            c.work_dir.clone(),
            persistent_volumes::Mode::Link,
        )))
    }),
    // The volume isolators mount into the sandbox before filesystem/linux
    // binds the sandbox into an image rootfs.
    ("volume/host_path", |c| {
        Ok(Arc::new(volume::VolumeIsolator::host_path(
            c.host_path_volume_force_creation.as_deref(),
        )))
    }),
    ("volume/sandbox_path", |_| {
        Ok(Arc::new(volume::VolumeIsolator::new(
            volume::VolumeKind::SandboxPath,
        )))
    }),
    ("filesystem/linux", |c| {
        Ok(Arc::new(persistent_volumes::PersistentVolumes::new(
            Arc::new(filesystem::linux::LinuxFilesystemIsolator::new(
                c.sandbox_directory.clone(),
            )),
            c.work_dir.clone(),
            persistent_volumes::Mode::BindMount,
        )))
    }),
    ("docker/runtime", |_| {
        Ok(Arc::new(docker::runtime::DockerRuntimeIsolator))
    }),
    ("posix/cpu", |c| {
        Ok(Arc::new(PosixIsolator::new(
            PosixKind::Cpu,
            c.proc_root.clone(),
        )))
    }),
    ("posix/mem", |c| {
        Ok(Arc::new(PosixIsolator::new(
            PosixKind::Mem,
            c.proc_root.clone(),
        )))
    }),
    #[cfg(target_os = "linux")]
    ("cgroups/cpu", |c| {
        cgroups_isolator(c, cgroups::Subsystem::Cpu)
    }),
    #[cfg(target_os = "linux")]
    ("cgroups/mem", |c| {
        cgroups_isolator(c, cgroups::Subsystem::Mem)
    }),
    #[cfg(target_os = "linux")]
    ("cgroups/pids", |c| {
        cgroups_isolator(c, cgroups::Subsystem::Pids)
    }),
    #[cfg(target_os = "linux")]
    ("cgroups/devices", |c| {
        cgroups_isolator(c, cgroups::Subsystem::Devices)
    }),
    #[cfg(target_os = "linux")]
    ("cgroups/blkio", |c| {
        cgroups_isolator(c, cgroups::Subsystem::Blkio)
    }),
    #[cfg(target_os = "linux")]
    ("cgroups/cpuset", |c| {
        cgroups_isolator(c, cgroups::Subsystem::Cpuset)
    }),
    #[cfg(target_os = "linux")]
    ("cgroups/hugetlb", |c| {
        cgroups_isolator(c, cgroups::Subsystem::Hugetlb)
    }),
    #[cfg(target_os = "linux")]
    ("cgroups/net_cls", |c| {
        cgroups_isolator(c, cgroups::Subsystem::NetCls)
    }),
    #[cfg(target_os = "linux")]
    ("cgroups/net_prio", |c| {
        cgroups_isolator(c, cgroups::Subsystem::NetPrio)
    }),
    #[cfg(target_os = "linux")]
    ("cgroups/perf_event", |c| {
        cgroups_isolator(c, cgroups::Subsystem::PerfEvent)
    }),
    ("disk/du", |c| {
        Ok(Arc::new(posix::disk::PosixDiskIsolator::new(
            c.disk_watch_interval,
            c.enforce_disk_quota,
            c.work_dir.clone(),
        )))
    }),
    ("posix/rlimits", |_| Ok(Arc::new(PosixRLimitsIsolator))),
    ("linux/nnp", |_| {
        Ok(Arc::new(linux::NoNewPrivilegesIsolator))
    }),
    ("linux/capabilities", |c| {
        Ok(Arc::new(linux::LinuxCapabilitiesIsolator {
            effective: c.effective_capabilities.clone(),
            bounding: c.bounding_capabilities.clone(),
        }))
    }),
    ("namespaces/pid", |c| {
        Ok(Arc::new(NamespacesIsolator::new(
            Namespace::Pid,
            c.namespaces.clone(),
            &c.runtime_dir,
        )))
    }),
    ("namespaces/ipc", |c| {
        Ok(Arc::new(NamespacesIsolator::new(
            Namespace::Ipc,
            c.namespaces.clone(),
            &c.runtime_dir,
        )))
    }),
];

/// Names that stand for other isolators.
const ALIASES: &[(&str, &[&str])] = &[
    // Upstream's deprecated name.
    ("posix/disk", &["disk/du"]),
];

/// Upstream's deprecated whole values of `--isolation`, and the isolators
/// `MesosContainerizer::create` takes them for.
const DEPRECATED_VALUES: &[(&str, &str)] = &[
    ("process", "posix/cpu,posix/mem"),
    ("cgroups", "cgroups/cpu,cgroups/mem"),
];

/// The isolators a deprecated whole `--isolation` value (`process`,
/// `cgroups`) stands for; `None` for any other value. Only the whole
/// value is replaced, as upstream: in a list, `cgroups` is an unknown
/// name.
pub fn deprecated_replacement(isolation: &str) -> Option<&'static str> {
    DEPRECATED_VALUES
        .iter()
        .find(|(value, _)| *value == isolation.trim())
        .map(|(_, replacement)| *replacement)
}

/// Every cgroups isolator whose subsystem the kernel enables (v1; mounted
/// first where needed) or the v2 root offers ([`cgroups::all`]).
const CGROUPS_ALL: &str = "cgroups/all";

/// The names `--isolation` accepts.
pub fn supported() -> Vec<&'static str> {
    TABLE
        .iter()
        .map(|(name, _)| *name)
        .chain(ALIASES.iter().map(|(name, _)| *name))
        .chain([CGROUPS_ALL])
        .collect()
}

/// Whether any isolator named needs the Linux launcher (cgroups and
/// namespaces, as upstream requires).
pub fn need_linux_launcher(isolation: &str) -> Option<&str> {
    isolation.split(',').map(str::trim).find(|name| {
        name.starts_with("cgroups/")
            || name.starts_with("namespaces/")
            || *name == "filesystem/linux"
            || name.starts_with("volume/")
    })
}

/// Builds the isolators `isolation` names (comma-separated), in table
/// order; `filesystem/posix` is added when no filesystem isolator is
/// named, as upstream does.
pub fn create(
    isolation: &str,
    context: &IsolatorContext,
) -> std::result::Result<Vec<Arc<dyn Isolator>>, String> {
    let mut names: Vec<&str> = Vec::new();
    for name in isolation.split(',').map(str::trim) {
        if name.is_empty() {
            continue;
        }
        if name == CGROUPS_ALL {
            names.extend(cgroups_all(context)?);
        } else if let Some((_, aliased)) = ALIASES.iter().find(|(alias, _)| *alias == name) {
            names.extend_from_slice(aliased);
        } else {
            names.push(name);
        }
    }
    for name in &names {
        if !TABLE.iter().any(|(known, _)| known == name) {
            return Err(format!(
                "--isolation: isolator '{name}' is not supported yet (supported: {})",
                supported().join(", ")
            ));
        }
    }
    if !names.iter().any(|name| name.starts_with("filesystem/")) {
        names.push("filesystem/posix");
    }
    TABLE
        .iter()
        .filter(|(name, _)| names.contains(name))
        .map(|(_, constructor)| constructor(context))
        .collect()
}

/// What `cgroups/all` stands for here (upstream refuses to start when it
/// finds no subsystem).
#[cfg(target_os = "linux")]
fn cgroups_all(context: &IsolatorContext) -> std::result::Result<Vec<&'static str>, String> {
    let config = context
        .cgroups
        .as_ref()
        .ok_or("cgroups isolators need a mounted cgroup hierarchy")?;
    let enabled = match &config.hierarchy {
        crate::linux::Hierarchy::V1(_) => cgroups::enabled_subsystems(&context.proc_root)?,
        crate::linux::Hierarchy::V2(_) => Vec::new(),
    };
    let names = cgroups::all(&config.hierarchy, &enabled);
    if names.is_empty() {
        return Err(format!(
            "--isolation: '{CGROUPS_ALL}': no cgroup subsystem with an isolator is enabled"
        ));
    }
    tracing::info!(isolators = ?names, "Automatically loading cgroups subsystems");
    Ok(names)
}

#[cfg(not(target_os = "linux"))]
fn cgroups_all(_context: &IsolatorContext) -> std::result::Result<Vec<&'static str>, String> {
    Err(format!("--isolation: '{CGROUPS_ALL}' needs Linux"))
}

/// `filesystem/posix`: the sandbox is a plain host directory (upstream's
/// default filesystem isolator); persistent volumes are linked into it by
/// the [`persistent_volumes::PersistentVolumes`] wrapper.
#[derive(Debug)]
pub struct FilesystemPosixIsolator;

impl Isolator for FilesystemPosixIsolator {
    fn name(&self) -> &'static str {
        "filesystem/posix"
    }

    fn supports_nesting(&self) -> bool {
        true
    }

    fn cleanup(&self, _container_id: &str) -> BoxFuture<'static, Result<()>> {
        ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> IsolatorContext {
        IsolatorContext {
            proc_root: "/proc".into(),
            disk_watch_interval: std::time::Duration::from_secs(15),
            enforce_disk_quota: false,
            effective_capabilities: None,
            bounding_capabilities: None,
            sandbox_directory: "/mnt/mesos/sandbox".into(),
            #[cfg(target_os = "linux")]
            cgroups: None,
            work_dir: PathBuf::from("/tmp/mesos"),
            runtime_dir: PathBuf::from("/tmp/mesos/runtime"),
            namespaces: Default::default(),
            host_path_volume_force_creation: None,
        }
    }

    #[test]
    fn isolators_come_in_table_order_with_a_filesystem_one() {
        let isolators = create("posix/mem, posix/cpu", &context()).expect("known");
        let names: Vec<&str> = isolators.iter().map(|i| i.name()).collect();
        assert_eq!(names, vec!["filesystem/posix", "posix/cpu", "posix/mem"]);
    }

    #[test]
    fn cgroups_isolators_need_a_hierarchy() {
        let error = create("cgroups/all", &context()).err().expect("refused");
        assert!(error.contains("need a mounted cgroup hierarchy"), "{error}");
        assert_eq!(
            need_linux_launcher("posix/cpu,cgroups/mem"),
            Some("cgroups/mem")
        );
        assert_eq!(need_linux_launcher("posix/cpu,posix/mem"), None);
    }

    #[test]
    fn deprecated_whole_values_stand_for_upstreams_replacements() {
        assert_eq!(
            deprecated_replacement("process"),
            Some("posix/cpu,posix/mem")
        );
        assert_eq!(
            deprecated_replacement("cgroups"),
            Some("cgroups/cpu,cgroups/mem")
        );
        assert_eq!(deprecated_replacement("cgroups/cpu"), None);
        assert_eq!(deprecated_replacement("process,posix/mem"), None);
        let error = create("process,posix/mem", &context())
            .err()
            .expect("only the whole value is deprecated");
        assert!(error.contains("'process' is not supported yet"), "{error}");
    }

    #[test]
    fn unknown_isolators_are_refused_by_name() {
        let error = create("posix/cpu,gpu/nvidia", &context())
            .err()
            .expect("refused");
        assert!(
            error.contains("'gpu/nvidia' is not supported yet"),
            "{error}"
        );
    }
}
