//! Volume isolators (upstream `isolators/volume/` and the legacy host
//! volumes of `filesystem/linux`), for containers without an image rootfs:
//! each volume becomes a bind mount in the container's own mount
//! namespace, made by the launch helper.
//!
//! - `volume/host_path`: `Volume.source.type = HOST_PATH` — the host path
//!   mounted at `container_path` (relative: inside the sandbox; absolute:
//!   that path, in the container's namespace only).
//! - `volume/sandbox_path`: `SANDBOX_PATH` — `PARENT`: a path in the
//!   parent container's sandbox (how the default executor shares a task
//!   group's disk volumes), `SELF`: a path in the container's own sandbox.
//! - `filesystem/linux`: the private mount namespace, and the legacy
//!   `Volume.host_path` volumes (a relative `host_path` is a directory of
//!   the sandbox, made if missing; with a relative `container_path` too it
//!   is refused, as upstream).
//!
//! `RO` volumes are remounted read-only. A relative `container_path` that
//! leaves the sandbox, or a source that does not exist, fails the launch.

use std::path::{Component, Path, PathBuf};

use futures::future::BoxFuture;
use mesos_proto::mesos::slave::{ContainerConfig, ContainerLaunchInfo, ContainerMountInfo};
use mesos_proto::mesos::volume::{self, source};
use mesos_proto::mesos::Volume;

use crate::containerizer::mesos::isolator::{ready, Isolator, IsolatorError, Result};

/// Which volumes an isolator mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeKind {
    /// `filesystem/linux` (legacy `Volume.host_path`; the namespace).
    FilesystemLinux,
    /// `volume/host_path`.
    HostPath,
    /// `volume/sandbox_path`.
    SandboxPath,
}

/// One of the volume isolators.
#[derive(Debug)]
pub struct VolumeIsolator {
    kind: VolumeKind,
    /// `--host_path_volume_force_creation` (`volume/host_path`): the
    /// directories under which a missing host path is created.
    force_creation: Option<Vec<String>>,
}

impl VolumeIsolator {
    /// The isolator of `kind`.
    pub fn new(kind: VolumeKind) -> Self {
        Self {
            kind,
            force_creation: None,
        }
    }

    /// `volume/host_path`, creating missing host paths under the
    /// directories of `force_creation` (`--host_path_volume_force_creation`,
    /// colon-separated), as upstream.
    pub fn host_path(force_creation: Option<&str>) -> Self {
        Self {
            kind: VolumeKind::HostPath,
            force_creation: force_creation
                .map(|list| list.split(':').map(str::to_string).collect()),
        }
    }

    /// A missing HOST_PATH source: created when it is under a directory of
    /// `--host_path_volume_force_creation` (always as a directory), else
    /// refused, with upstream's messages.
    fn create_host_path(&self, path: &str) -> Result<()> {
        let Some(whitelist) = &self.force_creation else {
            return Err(IsolatorError(format!(
                "Path '{path}' in HOST_PATH volume does not exist"
            )));
        };
        let normalized = normalize(path);
        let allowed = whitelist.iter().any(|allowed| {
            let directory = format!("{}/", allowed.trim_end_matches('/'));
            normalized == *allowed || normalized.starts_with(&directory)
        });
        if !allowed {
            return Err(IsolatorError(format!(
                "Path '{path}' in HOST_PATH volume does not exist and is not whitelisted for \
                 creation: Path '{normalized}' is not whitelisted"
            )));
        }
        std::fs::create_dir_all(&normalized)
            .map_err(|e| IsolatorError(format!("Failed to create the host path at '{path}': {e}")))
    }
}

/// `path` without `.`, `..` and repeated separators, lexically (upstream's
/// `path::normalize`; `..` at the root stays at the root).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Joins a relative `container_path` to the sandbox, refusing `..`.
fn inside(sandbox: &Path, container_path: &str) -> Result<PathBuf> {
    let relative = Path::new(container_path);
    if relative
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(IsolatorError(format!(
            "the container path '{container_path}' escapes the sandbox"
        )));
    }
    Ok(sandbox.join(relative))
}

/// The mount target of `volume` in a container with sandbox `sandbox`.
fn target(sandbox: &Path, volume: &Volume) -> Result<PathBuf> {
    if Path::new(&volume.container_path).is_absolute() {
        Ok(PathBuf::from(&volume.container_path))
    } else {
        inside(sandbox, &volume.container_path)
    }
}

/// The source of a legacy `Volume.host_path` volume: an absolute host
/// path as is, a relative one a directory of the sandbox, made (owned by
/// the sandbox's owner) if missing, as upstream's `filesystem/linux`.
fn legacy_source(sandbox: &Path, host_path: &str, container_path: &str) -> Result<PathBuf> {
    if Path::new(host_path).is_absolute() {
        return Ok(PathBuf::from(host_path));
    }
    // The task can reach a sandbox directory at a relative path directly.
    if !Path::new(container_path).is_absolute() {
        return Err(IsolatorError(format!(
            "both the host path '{host_path}' and the container path '{container_path}' of a \
             volume are relative"
        )));
    }
    let source = inside(sandbox, host_path)?;
    if !source.exists() {
        std::fs::create_dir_all(&source).map_err(|e| {
            IsolatorError(format!(
                "failed to create the volume source '{}': {e}",
                source.display()
            ))
        })?;
        // Not when it exists: it may belong to another user.
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            let owner = std::fs::metadata(sandbox).map_err(|e| {
                IsolatorError(format!(
                    "failed to stat the sandbox '{}': {e}",
                    sandbox.display()
                ))
            })?;
            std::os::unix::fs::chown(&source, Some(owner.uid()), Some(owner.gid())).map_err(
                |e| {
                    IsolatorError(format!(
                        "failed to change the ownership of the volume source '{}': {e}",
                        source.display()
                    ))
                },
            )?;
        }
    }
    Ok(source)
}

fn bind(source: PathBuf, target: PathBuf, mode: i32) -> Result<ContainerMountInfo> {
    if !source.exists() {
        return Err(IsolatorError(format!(
            "the volume source '{}' does not exist",
            source.display()
        )));
    }
    let mut flags = libc::MS_BIND | libc::MS_REC;
    if mode == volume::Mode::Ro as i32 {
        flags |= libc::MS_RDONLY;
    }
    Ok(ContainerMountInfo {
        target: target.display().to_string(),
        source: Some(source.display().to_string()),
        r#type: None,
        flags: Some(flags as u32),
        options: None,
    })
}

impl VolumeIsolator {
    /// The bind mounts of the container's volumes of this kind. With an
    /// image rootfs, absolute container paths are inside it; relative ones
    /// are in the sandbox, which is bound into the rootfs after them.
    pub(crate) fn mounts(&self, config: &ContainerConfig) -> Result<Vec<ContainerMountInfo>> {
        let mut mounts = self.host_mounts(config)?;
        if let Some(rootfs) = &config.rootfs {
            let sandbox = Path::new(&config.directory);
            for mount in &mut mounts {
                let target = Path::new(&mount.target);
                if !target.starts_with(sandbox) {
                    let relative = target.strip_prefix("/").unwrap_or(target);
                    mount.target = Path::new(rootfs).join(relative).display().to_string();
                }
            }
        }
        Ok(mounts)
    }

    fn host_mounts(&self, config: &ContainerConfig) -> Result<Vec<ContainerMountInfo>> {
        let sandbox = PathBuf::from(&config.directory);
        let volumes = config
            .container_info
            .as_ref()
            .map(|c| c.volumes.as_slice())
            .unwrap_or_default();
        let mut mounts = Vec::new();
        for volume in volumes {
            let kind = volume
                .source
                .as_ref()
                .and_then(|s| s.r#type)
                .and_then(|t| source::Type::try_from(t).ok());
            match (self.kind, kind) {
                (VolumeKind::FilesystemLinux, None) => {
                    if let Some(host_path) = &volume.host_path {
                        mounts.push(bind(
                            legacy_source(&sandbox, host_path, &volume.container_path)?,
                            target(&sandbox, volume)?,
                            volume.mode,
                        )?);
                    }
                }
                (VolumeKind::HostPath, Some(source::Type::HostPath)) => {
                    let Some(path) = volume
                        .source
                        .as_ref()
                        .and_then(|s| s.host_path.as_ref())
                        .map(|h| h.path.clone())
                    else {
                        return Err(IsolatorError("a HOST_PATH volume needs 'host_path'".into()));
                    };
                    if !Path::new(&path).is_absolute() {
                        return Err(IsolatorError(format!(
                            "the host path '{path}' is not absolute"
                        )));
                    }
                    if !Path::new(&path).exists() {
                        self.create_host_path(&path)?;
                    }
                    mounts.push(bind(
                        PathBuf::from(path),
                        target(&sandbox, volume)?,
                        volume.mode,
                    )?);
                }
                (VolumeKind::SandboxPath, Some(source::Type::SandboxPath)) => {
                    let Some(path) = volume.source.as_ref().and_then(|s| s.sandbox_path.as_ref())
                    else {
                        return Err(IsolatorError(
                            "a SANDBOX_PATH volume needs 'sandbox_path'".into(),
                        ));
                    };
                    let base = if path.r#type == Some(source::sandbox_path::Type::Parent as i32) {
                        // `<parent sandbox>/containers/<id>`.
                        sandbox
                            .parent()
                            .and_then(Path::parent)
                            .filter(|_| sandbox.parent().is_some_and(|p| p.ends_with("containers")))
                            .ok_or_else(|| {
                                IsolatorError(
                                    "a PARENT sandbox path volume needs a nested container".into(),
                                )
                            })?
                            .to_path_buf()
                    } else {
                        sandbox.clone()
                    };
                    let source = inside(&base, &path.path)?;
                    // The shared directory exists from the start, as
                    // upstream creates it.
                    std::fs::create_dir_all(&source).map_err(|e| {
                        IsolatorError(format!("failed to create '{}': {e}", source.display()))
                    })?;
                    mounts.push(bind(source, target(&sandbox, volume)?, volume.mode)?);
                }
                _ => {}
            }
        }
        Ok(mounts)
    }
}

impl Isolator for VolumeIsolator {
    fn name(&self) -> &'static str {
        match self.kind {
            VolumeKind::FilesystemLinux => "filesystem/linux",
            VolumeKind::HostPath => "volume/host_path",
            VolumeKind::SandboxPath => "volume/sandbox_path",
        }
    }

    fn supports_nesting(&self) -> bool {
        true
    }

    fn prepare(
        &self,
        _container_id: &str,
        config: &ContainerConfig,
    ) -> BoxFuture<'static, Result<Option<ContainerLaunchInfo>>> {
        let mounts = match self.mounts(config) {
            Ok(mounts) => mounts,
            Err(error) => return ready(Err(error)),
        };
        if mounts.is_empty() && self.kind != VolumeKind::FilesystemLinux {
            return ready(Ok(None));
        }
        ready(Ok(Some(ContainerLaunchInfo {
            clone_namespaces: vec![libc::CLONE_NEWNS],
            mounts,
            ..Default::default()
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_host_paths_are_created_only_under_the_whitelisted_directories() {
        let base = tempfile::tempdir().expect("tempdir");
        let allowed = base.path().join("allowed").display().to_string();
        let isolator = VolumeIsolator::host_path(Some(&format!("{allowed}:/nonexistent-mesos")));
        let inside = format!("{allowed}/a/../b/c");
        isolator.create_host_path(&inside).expect("whitelisted");
        assert!(Path::new(&allowed).join("b/c").is_dir());
        // The whitelisted directory itself, but not a sibling with its name
        // as a prefix, nor a path leaving it through `..`.
        isolator.create_host_path(&allowed).expect("itself");
        for refused in [format!("{allowed}x/d"), format!("{allowed}/../escape")] {
            let error = isolator.create_host_path(&refused).unwrap_err().0;
            assert!(error.contains("is not whitelisted for creation"), "{error}");
        }
        let error = VolumeIsolator::host_path(None)
            .create_host_path("/nonexistent-mesos/x")
            .unwrap_err()
            .0;
        assert_eq!(
            error,
            "Path '/nonexistent-mesos/x' in HOST_PATH volume does not exist"
        );
        assert_eq!(normalize("//a/./b/../c/"), "/a/c");
        assert_eq!(normalize("/../a"), "/a");
    }

    #[test]
    fn a_relative_legacy_host_path_is_a_sandbox_directory_made_on_demand() {
        let sandbox = tempfile::tempdir().expect("tempdir");
        let source = legacy_source(sandbox.path(), "tmp", "/tmp").expect("made");
        assert_eq!(source, sandbox.path().join("tmp"));
        assert!(source.is_dir());
        assert_eq!(
            legacy_source(sandbox.path(), "/abs", "/tmp").expect("as is"),
            Path::new("/abs")
        );
        let both = legacy_source(sandbox.path(), "tmp", "data").unwrap_err();
        assert!(both.to_string().contains("both"), "{both}");
        assert!(legacy_source(sandbox.path(), "../out", "/tmp").is_err());
    }

    #[test]
    fn relative_container_paths_stay_in_the_sandbox() {
        let sandbox = Path::new("/sandbox");
        assert_eq!(inside(sandbox, "data").unwrap(), Path::new("/sandbox/data"));
        assert!(inside(sandbox, "../etc").is_err());
        assert!(inside(sandbox, "a/../../b").is_err());
    }
}
