//! Provisioner backends (upstream `provisioner/backend.hpp`): each turns
//! an image's layers (base first) into one root filesystem at a path.
//!
//! - `copy`: copies every layer in turn, applying whiteouts; works
//!   anywhere, costs a full copy per container.
//! - `bind`: a read-only bind mount of the one layer of a single-layer
//!   image; the image must have every mount point the container needs
//!   (the sandbox's included), since nothing can be created in it.
//! - `overlay`: an overlayfs mount of the layers with a per-container
//!   upper and work directory; layers are stored with overlay whiteouts.
//! - `aufs`: an aufs mount of the layers (where the kernel has aufs).
//!
//! `--image_provisioner_backend` names one; without it the agent chooses
//! (upstream MESOS-5931, the "auto" choice): `overlay` where the kernel
//! has overlayfs, else `aufs` where it has aufs, else `copy`. `bind` is
//! never chosen: it only serves single-layer images.
//!
//! Mounts are made in the agent's mount namespace, as upstream: the
//! container's namespace, cloned later, sees them. The calls block: the
//! provisioner runs them on blocking threads.

pub mod aufs;
pub mod bind;
pub mod copy;
pub mod overlay;

use std::ffi::CString;
use std::path::Path;
use std::sync::Arc;

use super::store::docker::LayerFormat;

/// A backend.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// The upstream name (`copy`, `bind`, `overlay`, `aufs`).
    fn name(&self) -> &'static str;

    /// The whiteout format its layers are stored in.
    fn layer_format(&self) -> LayerFormat {
        LayerFormat::Docker
    }

    /// Builds the root filesystem of `layers` (base first) at `rootfs`;
    /// `backend_dir` holds what it needs beside it (upper directories).
    fn provision(&self, layers: &[&Path], rootfs: &Path, backend_dir: &Path) -> Result<(), String>;

    /// Removes the root filesystem at `rootfs` (unmounting it first);
    /// returns whether there was one. Safe to call again.
    fn destroy(&self, rootfs: &Path, backend_dir: &Path) -> Result<bool, String>;

    /// Where what the container writes into the rootfs `rootfs` lands
    /// (upstream's ephemeral volumes, which `disk/du` counts against the
    /// sandbox's disk): none unless the backend keeps writes apart from
    /// the image.
    fn ephemeral_volumes(&self, _rootfs: &Path, _backend_dir: &Path) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
}

/// The backends upstream names, for flag checking.
pub const NAMES: &[&str] = &["aufs", "bind", "copy", "overlay"];

/// Whether the kernel knows the filesystem `name` (`/proc/filesystems`).
pub fn kernel_supports(proc_root: &Path, name: &str) -> bool {
    std::fs::read_to_string(proc_root.join("filesystems")).is_ok_and(|text| {
        text.lines()
            .any(|line| line.split_whitespace().last() == Some(name))
    })
}

/// The backend `name`, or the automatic choice when `None`.
pub fn create(name: Option<&str>, proc_root: &Path) -> Result<Arc<dyn Backend>, String> {
    let name = match name {
        Some(name) => name.to_string(),
        None => {
            let chosen = if kernel_supports(proc_root, "overlay") {
                "overlay"
            } else if kernel_supports(proc_root, "aufs") {
                "aufs"
            } else {
                "copy"
            };
            tracing::info!(backend = chosen, "Chose the image provisioner backend");
            chosen.to_string()
        }
    };
    match name.as_str() {
        "copy" => Ok(Arc::new(copy::CopyBackend)),
        "bind" => Ok(Arc::new(bind::BindBackend)),
        "overlay" => {
            if !kernel_supports(proc_root, "overlay") {
                return Err(
                    "the 'overlay' backend needs overlayfs, which this kernel does not list in \
                     /proc/filesystems"
                        .into(),
                );
            }
            Ok(Arc::new(overlay::OverlayBackend))
        }
        "aufs" => {
            if !kernel_supports(proc_root, "aufs") {
                return Err(
                    "the 'aufs' backend needs aufs, which this kernel does not list in \
                     /proc/filesystems"
                        .into(),
                );
            }
            Ok(Arc::new(aufs::AufsBackend))
        }
        other => Err(format!(
            "unknown image provisioner backend '{other}' (known: {})",
            NAMES.join(", ")
        )),
    }
}

fn c_string(value: &str) -> Result<CString, String> {
    CString::new(value).map_err(|e| format!("bad mount argument '{value}': {e}"))
}

/// mount(2).
pub(crate) fn mount(
    source: &str,
    target: &Path,
    kind: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<(), String> {
    let source_c = c_string(source)?;
    let target_c = c_string(&target.display().to_string())?;
    let kind_c = kind.map(c_string).transpose()?;
    let data_c = data.map(c_string).transpose()?;
    // SAFETY: every pointer is a NUL-terminated string alive for the
    // call, or null where mount(2) allows it.
    let done = unsafe {
        libc::mount(
            source_c.as_ptr(),
            target_c.as_ptr(),
            kind_c.as_ref().map_or(std::ptr::null(), |k| k.as_ptr()),
            flags,
            data_c
                .as_ref()
                .map_or(std::ptr::null(), |d| d.as_ptr().cast()),
        )
    };
    if done != 0 {
        return Err(format!(
            "failed to mount '{}' at '{}': {}",
            source,
            target.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Whether `path` is a mount point (in `/proc/self/mountinfo`).
pub fn is_mount_point(path: &Path) -> bool {
    let Ok(path) = path.canonicalize() else {
        return false;
    };
    let wanted = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|text| {
        text.lines()
            .any(|line| line.split_whitespace().nth(4).map(unescape).as_deref() == Some(&wanted))
    })
}

/// mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            if let Ok(code) = u8::from_str_radix(&field[i + 1..i + 4], 8) {
                out.push(code);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts `path` if mounted (lazily, as upstream's MNT_DETACH), then
/// removes it.
pub(crate) fn unmount_and_remove(path: &Path) -> Result<bool, String> {
    if !path.exists() {
        return Ok(false);
    }
    while is_mount_point(path) {
        let c = c_string(&path.display().to_string())?;
        // SAFETY: umount2 reads the NUL-terminated path we own.
        if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
            return Err(format!(
                "failed to unmount '{}': {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
    }
    std::fs::remove_dir_all(path)
        .map_err(|e| format!("failed to remove '{}': {e}", path.display()))?;
    Ok(true)
}
