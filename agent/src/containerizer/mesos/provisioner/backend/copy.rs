//! The `copy` backend (upstream `backends/copy.cpp`): each layer, base
//! first, is copied over the rootfs with `cp -a` after its whiteouts
//! have removed what they hide from the layers below; the whiteout files
//! themselves are not copied.

use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::process::Command;

use super::Backend;

/// The `copy` backend.
#[derive(Debug)]
pub struct CopyBackend;

/// Applies the whiteouts of `layer` (relative directory `relative`) to
/// `rootfs`.
fn apply_whiteouts(layer: &Path, rootfs: &Path, relative: &Path) -> Result<(), String> {
    let dir = layer.join(relative);
    let entries =
        std::fs::read_dir(&dir).map_err(|e| format!("failed to read '{}': {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("failed to read '{}': {e}", dir.display()))?;
        let name = entry.file_name();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if name.as_bytes() == b".wh..wh..opq" {
            // Opaque: nothing of the lower layers' directory shows.
            let below = rootfs.join(relative);
            if let Ok(entries) = std::fs::read_dir(&below) {
                for entry in entries.flatten() {
                    remove(&entry.path())?;
                }
            }
        } else if let Some(hidden) = name.as_bytes().strip_prefix(b".wh.") {
            let target = rootfs
                .join(relative)
                .join(std::ffi::OsStr::from_bytes(hidden));
            remove(&target)?;
        } else if is_dir {
            apply_whiteouts(layer, rootfs, &relative.join(&name))?;
        }
    }
    Ok(())
}

fn remove(path: &Path) -> Result<(), String> {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let removed = if metadata.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    removed.map_err(|e| format!("failed to remove '{}': {e}", path.display()))
}

/// Removes the whiteout files copied into `dir`.
fn remove_whiteout_files(dir: &Path) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("failed to read '{}': {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().as_bytes().starts_with(b".wh.") {
            remove(&path)?;
        } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_whiteout_files(&path)?;
        }
    }
    Ok(())
}

impl Backend for CopyBackend {
    fn name(&self) -> &'static str {
        "copy"
    }

    fn provision(
        &self,
        layers: &[&Path],
        rootfs: &Path,
        _backend_dir: &Path,
    ) -> Result<(), String> {
        std::fs::create_dir_all(rootfs)
            .map_err(|e| format!("failed to create '{}': {e}", rootfs.display()))?;
        for layer in layers {
            apply_whiteouts(layer, rootfs, Path::new(""))?;
            let output = Command::new("cp")
                .arg("-a")
                .arg("--no-target-directory")
                .arg(layer)
                .arg(rootfs)
                .output()
                .map_err(|e| format!("failed to run cp: {e}"))?;
            if !output.status.success() {
                return Err(format!(
                    "failed to copy layer '{}': {}",
                    layer.display(),
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
            remove_whiteout_files(rootfs)?;
        }
        Ok(())
    }

    fn destroy(&self, rootfs: &Path, _backend_dir: &Path) -> Result<bool, String> {
        super::unmount_and_remove(rootfs)
    }
}
