//! The Docker image store (upstream `provisioner/docker/store.cpp`):
//! pulls an image's layers once, unpacks each into the store, and
//! remembers which layers make which image.
//!
//! ```text
//! <docker_store_dir>/
//!   layers/<layer id>/rootfs          a layer as its tarball holds it
//!                                     (Docker's `.wh.` whiteouts)
//!   layers/<layer id>/rootfs.overlay  the same for the overlay backend
//!                                     (whiteouts as overlayfs's: 0/0
//!                                     character devices, opaque xattrs)
//!   staging/<uuid>/                   downloads and unpacking in flight
//!   storedImages                      image -> layer ids and config (JSON)
//! ```
//!
//! A layer lands under `layers/` by a rename once complete, so a crash
//! never leaves a half-unpacked layer looking good; layers are shared by
//! every image that has them. The blocking work runs on blocking threads;
//! the provisioner's actor makes concurrent pulls of one image share one.

pub mod config;
pub mod local;
pub mod reference;
pub mod registry;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use self::reference::Reference;
use self::registry::{Layer, RegistryPuller};

/// The index file of stored images.
pub const STORED_IMAGES: &str = "storedImages";

/// Which whiteout format the layers are kept in (the backend decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerFormat {
    /// Docker's `.wh.` files (copy, bind, aufs).
    Docker,
    /// overlayfs whiteouts (overlay).
    Overlay,
}

impl LayerFormat {
    /// The directory of a layer's files in this format.
    pub fn rootfs_name(self) -> &'static str {
        match self {
            LayerFormat::Docker => "rootfs",
            LayerFormat::Overlay => "rootfs.overlay",
        }
    }
}

/// Where images come from.
#[derive(Debug)]
pub enum Source {
    /// A Docker registry.
    Registry(RegistryPuller),
    /// A directory of `docker save` tarballs.
    Local(PathBuf),
}

/// A pulled image.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// The layers' directories, base first.
    pub layers: Vec<PathBuf>,
    /// The image config document.
    pub config: serde_json::Value,
}

/// The Docker store.
#[derive(Debug, Clone)]
pub struct DockerStore {
    directory: PathBuf,
    source: Arc<Source>,
    format: LayerFormat,
    /// Serializes updates of `storedImages` (pulls run concurrently).
    index_lock: Arc<std::sync::Mutex<()>>,
    /// `containerizer/mesos/provisioner/docker_store/image_pull`: how long
    /// each pull from the source took (not images found in the store).
    image_pull: libprocess::metrics::Timer,
}

/// `storedImages`: `{"images": {"<reference>": {"layers": [ids, base
/// first], "config": {...}}}}`.
#[derive(Debug, Default)]
struct StoredImages {
    images: BTreeMap<String, StoredImage>,
}

#[derive(Debug, Clone)]
struct StoredImage {
    layers: Vec<String>,
    config: serde_json::Value,
}

impl StoredImages {
    fn parse(bytes: &[u8]) -> Option<Self> {
        let json: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        let mut images = BTreeMap::new();
        for (name, image) in json.get("images")?.as_object()? {
            let layers = image
                .get("layers")?
                .as_array()?
                .iter()
                .map(|l| l.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()?;
            let config = image.get("config").cloned().unwrap_or_default();
            images.insert(name.clone(), StoredImage { layers, config });
        }
        Some(Self { images })
    }

    fn to_json(&self) -> serde_json::Value {
        let images: serde_json::Map<String, serde_json::Value> = self
            .images
            .iter()
            .map(|(name, image)| {
                (
                    name.clone(),
                    serde_json::json!({"layers": image.layers, "config": image.config}),
                )
            })
            .collect();
        serde_json::json!({ "images": images })
    }
}

/// A layer id of a digest (`sha256:<hex>` -> `<hex>`).
fn layer_id(layer: &Layer) -> String {
    layer
        .digest
        .split_once(':')
        .map_or(layer.digest.clone(), |(_, hex)| hex.to_string())
}

impl DockerStore {
    /// A store in `directory` pulling from `source`.
    pub fn new(directory: PathBuf, source: Source, format: LayerFormat) -> Self {
        Self {
            directory,
            source: Arc::new(source),
            format,
            index_lock: Arc::default(),
            // Upstream's window: an hour.
            image_pull: libprocess::metrics::Timer::with_window(Some(Duration::from_secs(3600))),
        }
    }

    /// Its `image_pull` timer.
    pub fn image_pull(&self) -> &libprocess::metrics::Timer {
        &self.image_pull
    }

    /// Its directory.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    fn layer_dir(&self, id: &str) -> PathBuf {
        self.directory.join("layers").join(id)
    }

    fn layer_rootfs(&self, id: &str) -> PathBuf {
        self.layer_dir(id).join(self.format.rootfs_name())
    }

    fn read_index(&self) -> StoredImages {
        std::fs::read(self.directory.join(STORED_IMAGES))
            .ok()
            .and_then(|bytes| StoredImages::parse(&bytes))
            .unwrap_or_default()
    }

    /// The image `name`, pulled unless `cached` allows the stored copy;
    /// `credentials` (the image's own `config`) replace `--docker_config`.
    /// Blocking.
    pub fn get(
        &self,
        name: &str,
        cached: bool,
        credentials: Option<&config::Credentials>,
    ) -> Result<ImageInfo, String> {
        let reference = Reference::parse(name)?;
        let key = reference.to_string();
        if cached {
            if let Some(stored) = self.read_index().images.get(&key) {
                let layers: Vec<PathBuf> = stored
                    .layers
                    .iter()
                    .map(|id| self.layer_rootfs(id))
                    .collect();
                if layers.iter().all(|l| l.is_dir()) {
                    return Ok(ImageInfo {
                        layers,
                        config: stored.config.clone(),
                    });
                }
            }
        }
        for dir in ["layers", "staging"] {
            std::fs::create_dir_all(self.directory.join(dir)).map_err(|e| {
                format!(
                    "failed to create '{}': {e}",
                    self.directory.join(dir).display()
                )
            })?;
        }
        let staging = self
            .directory
            .join("staging")
            .join(uuid::Uuid::new_v4().to_string());
        std::fs::create_dir_all(&staging)
            .map_err(|e| format!("failed to create '{}': {e}", staging.display()))?;
        let pulled = self
            .image_pull
            .time_sync(|| self.pull(&reference, credentials, &staging));
        let _ = std::fs::remove_dir_all(&staging);
        let (ids, config) = pulled?;
        let _guard = self
            .index_lock
            .lock()
            .map_err(|_| "the store's index lock is poisoned".to_string())?;
        let mut index = self.read_index();
        index.images.insert(
            key,
            StoredImage {
                layers: ids.clone(),
                config: config.clone(),
            },
        );
        let bytes = serde_json::to_vec_pretty(&index.to_json()).map_err(|e| e.to_string())?;
        libprocess::os::write_atomic(&self.directory.join(STORED_IMAGES), &bytes)
            .map_err(|e| format!("failed to checkpoint the stored images: {e}"))?;
        Ok(ImageInfo {
            layers: ids.iter().map(|id| self.layer_rootfs(id)).collect(),
            config,
        })
    }

    fn pull(
        &self,
        reference: &Reference,
        credentials: Option<&config::Credentials>,
        staging: &Path,
    ) -> Result<(Vec<String>, serde_json::Value), String> {
        match self.source.as_ref() {
            Source::Registry(puller) => {
                let manifest = puller.manifest(reference, credentials)?;
                let mut ids = Vec::new();
                for layer in &manifest.layers {
                    let id = layer_id(layer);
                    if !self.layer_rootfs(&id).is_dir() {
                        let blob = staging.join(format!("{id}.blob"));
                        tracing::info!(image = %reference, layer = %layer.digest, "Pulling layer");
                        puller.blob(reference, credentials, &layer.digest, &blob)?;
                        self.unpack_layer(&id, &blob, staging)?;
                        let _ = std::fs::remove_file(&blob);
                    }
                    ids.push(id);
                }
                Ok((ids, manifest.config))
            }
            Source::Local(directory) => {
                let image = local::unpack(directory, reference, staging)?;
                let mut ids = Vec::new();
                for (layer, tarball) in &image.layers {
                    let id = layer_id(layer);
                    if !self.layer_rootfs(&id).is_dir() {
                        self.unpack_layer(&id, tarball, staging)?;
                    }
                    ids.push(id);
                }
                Ok((ids, image.config))
            }
        }
    }

    /// Unpacks a layer tarball (any compression tar knows) into the
    /// store: staged, converted to the backend's whiteouts, renamed.
    fn unpack_layer(&self, id: &str, tarball: &Path, staging: &Path) -> Result<(), String> {
        let unpacked = staging.join(format!("{id}.layer"));
        let rootfs = unpacked.join(self.format.rootfs_name());
        std::fs::create_dir_all(&rootfs)
            .map_err(|e| format!("failed to create '{}': {e}", rootfs.display()))?;
        let output = Command::new("tar")
            .arg("-x")
            .arg("--numeric-owner")
            .arg("-f")
            .arg(tarball)
            .arg("-C")
            .arg(&rootfs)
            .output()
            .map_err(|e| format!("failed to run tar: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "failed to extract layer '{id}': {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        if self.format == LayerFormat::Overlay {
            convert_whiteouts(&rootfs)?;
        }
        let target = self.layer_dir(id);
        if target.join(self.format.rootfs_name()).is_dir() {
            // Another pull of an image sharing it was quicker.
            return Ok(());
        }
        if target.exists() {
            // The layer in the other format: keep both side by side.
            return std::fs::rename(&rootfs, target.join(self.format.rootfs_name()))
                .map_err(|e| format!("failed to move layer '{id}' into the store: {e}"));
        }
        match std::fs::rename(&unpacked, &target) {
            Ok(()) => Ok(()),
            Err(_) if target.join(self.format.rootfs_name()).is_dir() => Ok(()),
            Err(e) => Err(format!("failed to move layer '{id}' into the store: {e}")),
        }
    }
}

/// Rewrites Docker whiteouts as overlayfs ones: `.wh.<name>` becomes a
/// 0/0 character device `<name>`, `.wh..wh..opq` the `trusted.overlay.
/// opaque` attribute of its directory.
pub fn convert_whiteouts(root: &Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt as _;
    let entries =
        std::fs::read_dir(root).map_err(|e| format!("failed to read '{}': {e}", root.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("failed to read '{}': {e}", root.display()))?;
        let path = entry.path();
        let name = entry.file_name();
        let file_type = entry
            .file_type()
            .map_err(|e| format!("failed to stat '{}': {e}", path.display()))?;
        if name.as_bytes() == b".wh..wh..opq" {
            std::fs::remove_file(&path)
                .map_err(|e| format!("failed to remove '{}': {e}", path.display()))?;
            set_opaque(root)?;
        } else if let Some(hidden) = name.as_bytes().strip_prefix(b".wh.") {
            std::fs::remove_file(&path)
                .map_err(|e| format!("failed to remove '{}': {e}", path.display()))?;
            let target = root.join(std::ffi::OsStr::from_bytes(hidden));
            make_whiteout(&target)?;
        } else if file_type.is_dir() {
            convert_whiteouts(&path)?;
        }
    }
    Ok(())
}

fn c_path(path: &Path) -> Result<std::ffi::CString, String> {
    use std::os::unix::ffi::OsStrExt as _;
    std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| format!("bad path '{}': {e}", path.display()))
}

fn make_whiteout(path: &Path) -> Result<(), String> {
    let c = c_path(path)?;
    // SAFETY: mknod reads the NUL-terminated path we own.
    if unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, 0) } != 0 {
        return Err(format!(
            "failed to create the whiteout '{}': {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

fn set_opaque(dir: &Path) -> Result<(), String> {
    let c = c_path(dir)?;
    let name = c"trusted.overlay.opaque";
    // SAFETY: setxattr reads the two NUL-terminated strings and one byte
    // of value, all alive for the call.
    let done = unsafe { libc::setxattr(c.as_ptr(), name.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    if done != 0 {
        return Err(format!(
            "failed to mark '{}' opaque: {}",
            dir.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
