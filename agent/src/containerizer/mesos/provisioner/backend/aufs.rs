//! The `aufs` backend (upstream `backends/aufs.cpp`): an aufs union of a
//! per-rootfs writable branch over the layers (read-only, with Docker's
//! whiteouts, which aufs reads natively). Only where the kernel has aufs;
//! the agent refuses to start with `--image_provisioner_backend=aufs`
//! elsewhere.

use std::path::Path;

use super::Backend;

/// The `aufs` backend.
#[derive(Debug)]
pub struct AufsBackend;

fn scratch(rootfs: &Path, backend_dir: &Path) -> std::path::PathBuf {
    let id = rootfs.file_name().unwrap_or_default();
    backend_dir.join("scratch").join(id)
}

impl Backend for AufsBackend {
    fn name(&self) -> &'static str {
        "aufs"
    }

    fn provision(&self, layers: &[&Path], rootfs: &Path, backend_dir: &Path) -> Result<(), String> {
        let scratch = scratch(rootfs, backend_dir);
        let (workdir, links) = (scratch.join("workdir"), scratch.join("links"));
        for dir in [&workdir, &links, &rootfs.to_path_buf()] {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("failed to create '{}': {e}", dir.display()))?;
        }
        let mut branches = vec![format!("{}=rw", workdir.display())];
        for (i, layer) in layers.iter().enumerate().rev() {
            let link = links.join(i.to_string());
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(layer, &link)
                .map_err(|e| format!("failed to link '{}': {e}", link.display()))?;
            branches.push(format!("{}=ro+wh", link.display()));
        }
        let options = format!("br={},dio,xino=/dev/shm/aufs.xino", branches.join(":"));
        super::mount("none", rootfs, Some("aufs"), 0, Some(&options))
    }

    fn destroy(&self, rootfs: &Path, backend_dir: &Path) -> Result<bool, String> {
        let existed = super::unmount_and_remove(rootfs)?;
        let scratch = scratch(rootfs, backend_dir);
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)
                .map_err(|e| format!("failed to remove '{}': {e}", scratch.display()))?;
        }
        Ok(existed)
    }
}
