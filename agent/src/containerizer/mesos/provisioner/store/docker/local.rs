//! Images from a local directory of `docker save` tarballs (upstream
//! `ImageTarPuller`, used when `--docker_registry` is a path): the image
//! `repository:tag` is the file `<directory>/<repository>:<tag>.tar`.
//! Its `manifest.json` (what `docker save` writes, legacy and OCI layouts
//! alike) lists the config and the layer tarballs, base first.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::reference::Reference;
use super::registry::Layer;

/// An image unpacked from its tarball into a staging directory.
#[derive(Debug)]
pub struct LocalImage {
    /// Layers (their ids as digests) and the tarball of each.
    pub layers: Vec<(Layer, PathBuf)>,
    /// The image config document.
    pub config: serde_json::Value,
}

/// The tarball of `reference` in `directory`.
pub fn tarball(directory: &Path, reference: &Reference) -> PathBuf {
    let tag = reference.tag.as_deref().unwrap_or("latest");
    directory.join(format!("{}:{tag}.tar", reference.repository))
}

/// Unpacks the tarball of `reference` into `staging`.
pub fn unpack(
    directory: &Path,
    reference: &Reference,
    staging: &Path,
) -> Result<LocalImage, String> {
    let tarball = tarball(directory, reference);
    if !tarball.is_file() {
        return Err(format!(
            "no tarball for image '{reference}' in the local registry: '{}' does not exist",
            tarball.display()
        ));
    }
    let output = Command::new("tar")
        .arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(staging)
        .output()
        .map_err(|e| format!("failed to run tar: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "failed to extract '{}': {}",
            tarball.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let manifest = std::fs::read(staging.join("manifest.json")).map_err(|e| {
        format!(
            "'{}' has no readable manifest.json (not a 'docker save' tarball?): {e}",
            tarball.display()
        )
    })?;
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).map_err(|e| {
        format!(
            "the manifest.json of '{}' is not valid JSON: {e}",
            tarball.display()
        )
    })?;
    let entry = manifest
        .as_array()
        .and_then(|entries| entries.first())
        .ok_or_else(|| {
            format!(
                "the manifest.json of '{}' lists no image",
                tarball.display()
            )
        })?;
    let config = entry
        .get("Config")
        .and_then(|c| c.as_str())
        .map(|c| std::fs::read(staging.join(c)))
        .transpose()
        .map_err(|e| format!("failed to read the image config: {e}"))?
        .map(|bytes| serde_json::from_slice(&bytes))
        .transpose()
        .map_err(|e| format!("the image config is not valid JSON: {e}"))?
        .unwrap_or(serde_json::Value::Null);
    let mut layers = Vec::new();
    for layer in entry
        .get("Layers")
        .and_then(|l| l.as_array())
        .ok_or_else(|| {
            format!(
                "the manifest.json of '{}' has no 'Layers'",
                tarball.display()
            )
        })?
    {
        let path = layer
            .as_str()
            .ok_or("a layer in manifest.json is not a string")?;
        // `<id>/layer.tar` (legacy) or `blobs/sha256/<hex>` (OCI).
        let id = match path.strip_suffix("/layer.tar") {
            Some(id) => id.rsplit('/').next().unwrap_or(id).to_string(),
            None => path.rsplit('/').next().unwrap_or(path).to_string(),
        };
        layers.push((
            Layer {
                digest: format!("sha256:{id}"),
            },
            staging.join(path),
        ));
    }
    Ok(LocalImage { layers, config })
}
