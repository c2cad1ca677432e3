//! The `bind` backend (upstream `backends/bind.cpp`): a read-only bind
//! mount of a single-layer image's layer. Nothing can be created in the
//! rootfs, so the image must hold every mount point the container needs
//! (the sandbox's at `--sandbox_directory` too).

use std::path::Path;

use super::Backend;

/// The `bind` backend.
#[derive(Debug)]
pub struct BindBackend;

impl Backend for BindBackend {
    fn name(&self) -> &'static str {
        "bind"
    }

    fn provision(
        &self,
        layers: &[&Path],
        rootfs: &Path,
        _backend_dir: &Path,
    ) -> Result<(), String> {
        let [layer] = layers else {
            return Err(format!(
                "the 'bind' backend takes single-layer images only; this one has {} layers",
                layers.len()
            ));
        };
        std::fs::create_dir_all(rootfs)
            .map_err(|e| format!("failed to create '{}': {e}", rootfs.display()))?;
        let source = layer.display().to_string();
        super::mount(&source, rootfs, None, libc::MS_BIND | libc::MS_REC, None)?;
        super::mount(
            "none",
            rootfs,
            None,
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
            None,
        )
    }

    fn destroy(&self, rootfs: &Path, _backend_dir: &Path) -> Result<bool, String> {
        super::unmount_and_remove(rootfs)
    }
}
