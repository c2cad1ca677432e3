//! The provisioner (upstream `src/slave/containerizer/mesos/provisioner/`):
//! turns a container's image into a root filesystem. A facade
//! ([`Provisioner`]) over an actor ([`ProvisionerProcess`]) holding the
//! Docker store and the backend.
//!
//! ```text
//! <work_dir>/provisioner/containers/<container id>/
//!   backends/<backend>/rootfses/<rootfs id>     the container's rootfs
//!   backends/<backend>/scratch/<rootfs id>/     upper/work dirs (overlay, aufs)
//!   containers/<child id>/...                   nested containers, the same
//! ```
//!
//! Concurrent provisions of one image share one pull. A container's
//! rootfses go when it is destroyed; after an agent restart, rootfses of
//! containers the agent no longer knows are destroyed at recovery.

pub mod backend;
pub mod store;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, AsyncContext as _, Context, Handler, Message, ResponseFuture};
use futures::future::{BoxFuture, Shared};
use futures::FutureExt as _;
use mesos_proto::docker::spec::v1::{image_manifest, ImageManifest};
use mesos_proto::mesos::{image, Image};

use self::backend::Backend;
use self::store::docker::config::Credentials;
use self::store::docker::registry::RegistryPuller;
use self::store::docker::{DockerStore, ImageInfo, Source};

/// What a provision failed on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProvisionerError {
    /// The image cannot be had (bad name, pull failure, 401, ...).
    #[error("failed to pull image '{image}': {message}")]
    Pull {
        /// The image's name.
        image: String,
        /// Why.
        message: String,
    },
    /// The image is of a kind not supported.
    #[error("{0}")]
    Unsupported(String),
    /// The backend failed.
    #[error("backend '{backend}' failed: {message}")]
    Backend {
        /// Its name.
        backend: &'static str,
        /// Why.
        message: String,
    },
    /// The actor is gone.
    #[error("the provisioner is gone")]
    Gone,
}

/// The module's result type.
pub type Result<T> = std::result::Result<T, ProvisionerError>;

/// How the provisioner is put together (agent flags).
#[derive(Debug, Clone)]
pub struct ProvisionerOptions {
    /// `--work_dir`.
    pub work_dir: PathBuf,
    /// `--image_provisioner_backend` (`None`: chosen automatically).
    pub backend: Option<String>,
    /// `--docker_registry`: a URL, or a directory of `docker save`
    /// tarballs.
    pub docker_registry: String,
    /// `--docker_store_dir`.
    pub docker_store_dir: PathBuf,
    /// `--docker_config`: a path or inline JSON.
    pub docker_config: Option<String>,
    /// `/proc`.
    pub proc_root: PathBuf,
}

/// A provisioned rootfs.
#[derive(Debug, Clone)]
pub struct ProvisionInfo {
    /// The root filesystem's path.
    pub rootfs: PathBuf,
    /// The image's Docker manifest (its config: env, entrypoint, cmd,
    /// working dir, user), as `ContainerConfig.docker.manifest` carries
    /// it.
    pub docker_manifest: Option<ImageManifest>,
    /// Where the container's writes into the rootfs land (the overlay
    /// backend's upper directory), as `ContainerConfig.ephemeral_volumes`.
    pub ephemeral_volumes: Vec<PathBuf>,
}

/// The container's provisioner directory.
pub fn container_dir(work_dir: &Path, container_id: &str) -> PathBuf {
    let mut dir = work_dir.join("provisioner");
    for (i, part) in container_id.split('.').enumerate() {
        if i > 0 || !part.is_empty() {
            dir = dir.join("containers").join(part);
        }
    }
    dir
}

/// The directory of `backend`'s files for the container.
pub fn backend_dir(work_dir: &Path, container_id: &str, backend: &str) -> PathBuf {
    container_dir(work_dir, container_id)
        .join("backends")
        .join(backend)
}

/// The image config (`config` of the document) as the v1 manifest proto.
pub fn manifest_of(config: &serde_json::Value) -> ImageManifest {
    let strings = |value: Option<&serde_json::Value>| -> Vec<String> {
        value
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let string = |value: Option<&serde_json::Value>| {
        value
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let inner = config.get("config");
    let image_config = inner.map(|c| image_manifest::Config {
        entrypoint: strings(c.get("Entrypoint")),
        env: strings(c.get("Env")),
        user: string(c.get("User")),
        cmd: strings(c.get("Cmd")),
        working_dir: string(c.get("WorkingDir")),
        ..Default::default()
    });
    ImageManifest {
        id: string(config.get("id")),
        architecture: string(config.get("architecture")),
        os: string(config.get("os")),
        config: image_config,
        ..Default::default()
    }
}

/// The provisioner, as callers hold it.
#[derive(Clone)]
pub struct Provisioner {
    addr: Addr<ProvisionerProcess>,
    backend: Arc<dyn Backend>,
    metrics: ProvisionerMetrics,
    /// The agent's `--work_dir`.
    work_dir: PathBuf,
}

/// The provisioner's metrics (upstream `ProvisionerProcess::Metrics`, the
/// bind backend's and the docker store's), registered with the agent's
/// registry by [`ProvisionerMetrics::register`].
#[derive(Debug, Clone)]
pub struct ProvisionerMetrics {
    /// `containerizer/mesos/provisioner/remove_container_errors`: destroys
    /// of a container's rootfses that failed.
    remove_container_errors: libprocess::metrics::Counter,
    /// `containerizer/mesos/provisioner/bind/remove_rootfs_errors`: rootfses
    /// the bind backend failed to remove.
    bind_remove_rootfs_errors: libprocess::metrics::Counter,
    /// `containerizer/mesos/provisioner/docker_store/image_pull`.
    image_pull: libprocess::metrics::Timer,
}

impl ProvisionerMetrics {
    /// Registers them under upstream's names. The bind backend's counter
    /// is there as root, where upstream creates that backend (beside the
    /// one in use).
    pub fn register(&self, registry: &libprocess::metrics::Metrics) {
        registry.add_counter(
            "containerizer/mesos/provisioner/remove_container_errors",
            &self.remove_container_errors,
        );
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            registry.add_counter(
                "containerizer/mesos/provisioner/bind/remove_rootfs_errors",
                &self.bind_remove_rootfs_errors,
            );
        }
        registry.add_timer_ms(
            "containerizer/mesos/provisioner/docker_store/image_pull",
            &self.image_pull,
        );
    }
}

impl std::fmt::Debug for Provisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioner")
            .field("backend", &self.backend.name())
            .finish()
    }
}

/// The actor behind [`Provisioner`].
pub struct ProvisionerProcess {
    work_dir: PathBuf,
    store: DockerStore,
    backend: Arc<dyn Backend>,
    pulls: HashMap<String, Shared<BoxFuture<'static, std::result::Result<ImageInfo, String>>>>,
    metrics: ProvisionerMetrics,
}

impl Actor for ProvisionerProcess {
    type Context = Context<Self>;
}

impl Provisioner {
    /// Builds the store and the backend; starts the actor on the current
    /// arbiter.
    pub fn create(options: &ProvisionerOptions) -> std::result::Result<Self, String> {
        let backend = backend::create(options.backend.as_deref(), &options.proc_root)?;
        let credentials = match &options.docker_config {
            Some(config) => Credentials::parse_flag(config)
                .map_err(|e| format!("invalid --docker_config: {e}"))?,
            None => Credentials::default(),
        };
        let registry = options.docker_registry.trim();
        let source = if registry.starts_with('/') || registry.starts_with("file://") {
            Source::Local(PathBuf::from(registry.trim_start_matches("file://")))
        } else if registry.starts_with("hdfs://") {
            return Err(
                "--docker_registry: hdfs:// registries are not supported yet (use a URL or a \
                 local directory)"
                    .into(),
            );
        } else {
            Source::Registry(RegistryPuller::new(
                registry,
                credentials,
                Duration::from_secs(60),
            ))
        };
        let store = DockerStore::new(
            options.docker_store_dir.clone(),
            source,
            backend.layer_format(),
        );
        let metrics = ProvisionerMetrics {
            remove_container_errors: Default::default(),
            bind_remove_rootfs_errors: Default::default(),
            image_pull: store.image_pull().clone(),
        };
        let (work_dir, process_work_dir) = (options.work_dir.clone(), options.work_dir.clone());
        let (process_backend, process_metrics) = (backend.clone(), metrics.clone());
        let addr = ProvisionerProcess::create(move |_| ProvisionerProcess {
            work_dir: process_work_dir,
            store,
            backend: process_backend,
            pulls: HashMap::new(),
            metrics: process_metrics,
        });
        Ok(Self {
            addr,
            backend,
            metrics,
            work_dir,
        })
    }

    /// Its metrics.
    pub fn metrics(&self) -> &ProvisionerMetrics {
        &self.metrics
    }

    /// The backend's name.
    pub fn backend(&self) -> &'static str {
        self.backend.name()
    }

    /// Provisions `image` as a rootfs of `container_id`.
    pub fn provision(
        &self,
        container_id: &str,
        image: Image,
    ) -> BoxFuture<'static, Result<ProvisionInfo>> {
        let sent = self.addr.send(Provision(container_id.to_string(), image));
        Box::pin(async move { sent.await.map_err(|_| ProvisionerError::Gone)? })
    }

    /// Destroys every rootfs of `container_id` (and its nested
    /// containers'); resolves to whether there was any.
    pub fn destroy(&self, container_id: &str) -> BoxFuture<'static, Result<bool>> {
        let sent = self.addr.send(Destroy(container_id.to_string()));
        Box::pin(async move { sent.await.map_err(|_| ProvisionerError::Gone)? })
    }

    /// The ephemeral volumes of the rootfses of the top-level container
    /// `container_id` (for its recovery).
    pub fn ephemeral_volumes(&self, container_id: &str) -> Vec<PathBuf> {
        let backend_dir = backend_dir(&self.work_dir, container_id, self.backend.name());
        let Ok(rootfses) = std::fs::read_dir(backend_dir.join("rootfses")) else {
            return Vec::new();
        };
        rootfses
            .flatten()
            .flat_map(|rootfs| self.backend.ephemeral_volumes(&rootfs.path(), &backend_dir))
            .collect()
    }

    /// Destroys the rootfses of containers not in `known` (top-level
    /// container ids).
    pub fn recover(&self, known: HashSet<String>) -> BoxFuture<'static, Result<()>> {
        let sent = self.addr.send(Recover(known));
        Box::pin(async move { sent.await.map_err(|_| ProvisionerError::Gone)? })
    }
}

#[derive(Message)]
#[rtype(result = "Result<ProvisionInfo>")]
pub(crate) struct Provision(String, Image);

#[derive(Message)]
#[rtype(result = "Result<bool>")]
pub(crate) struct Destroy(String);

#[derive(Message)]
#[rtype(result = "Result<()>")]
pub(crate) struct Recover(HashSet<String>);

#[derive(Message)]
#[rtype(result = "()")]
struct Pulled(String);

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::result::Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("blocking work failed: {e}"))
}

impl Handler<Provision> for ProvisionerProcess {
    type Result = ResponseFuture<Result<ProvisionInfo>>;

    fn handle(
        &mut self,
        Provision(container_id, image): Provision,
        ctx: &mut Context<Self>,
    ) -> Self::Result {
        let docker = match (image.r#type(), image.docker) {
            (image::Type::Docker, Some(docker)) => docker,
            (image::Type::Docker, None) => {
                return Box::pin(std::future::ready(Err(ProvisionerError::Unsupported(
                    "a DOCKER image needs 'docker'".into(),
                ))))
            }
            (image::Type::Appc, _) => {
                return Box::pin(std::future::ready(Err(ProvisionerError::Unsupported(
                    "APPC images are not supported yet (only --image_providers=docker)".into(),
                ))))
            }
        };
        let name = docker.name.clone();
        let cached = image.cached.unwrap_or(true);
        // The image's own registry credentials (`Image.Docker.config`, a
        // docker config document as a value secret).
        let credentials = match &docker.config {
            None => None,
            Some(secret) => match secret.value.as_ref() {
                Some(value) => match std::str::from_utf8(&value.data)
                    .map_err(|e| e.to_string())
                    .and_then(Credentials::parse)
                {
                    Ok(credentials) => Some((credentials, value.data.clone())),
                    Err(error) => {
                        return Box::pin(std::future::ready(Err(ProvisionerError::Pull {
                            image: name,
                            message: format!("invalid docker config in the image: {error}"),
                        })))
                    }
                },
                None => {
                    return Box::pin(std::future::ready(Err(ProvisionerError::Unsupported(
                        "the image's docker config is a secret reference; only value secrets \
                         are supported (no secret resolver)"
                            .into(),
                    ))))
                }
            },
        };
        let key = format!(
            "{name}#{cached}#{}",
            credentials
                .as_ref()
                .map(|(_, data)| String::from_utf8_lossy(data).into_owned())
                .unwrap_or_default()
        );
        let credentials = credentials.map(|(credentials, _)| credentials);
        let pull = match self.pulls.get(&key) {
            Some(pull) => pull.clone(),
            None => {
                let store = self.store.clone();
                let pull_name = name.clone();
                let pull: BoxFuture<'static, std::result::Result<ImageInfo, String>> =
                    Box::pin(async move {
                        blocking(move || store.get(&pull_name, cached, credentials.as_ref()))
                            .await?
                    });
                let pull = pull.shared();
                self.pulls.insert(key.clone(), pull.clone());
                let (addr, done) = (ctx.address(), pull.clone());
                actix::spawn(async move {
                    let _ = done.await;
                    addr.do_send(Pulled(key));
                });
                pull
            }
        };
        let backend = self.backend.clone();
        let backend_dir = backend_dir(&self.work_dir, &container_id, backend.name());
        Box::pin(async move {
            let info = pull.await.map_err(|message| ProvisionerError::Pull {
                image: name.clone(),
                message,
            })?;
            let rootfs = backend_dir
                .join("rootfses")
                .join(uuid::Uuid::new_v4().to_string());
            let layers = info.layers.clone();
            let name_of_backend = backend.name();
            let ephemeral_volumes = backend.ephemeral_volumes(&rootfs, &backend_dir);
            let provision_rootfs = rootfs.clone();
            blocking(move || {
                let layers: Vec<&Path> = layers.iter().map(PathBuf::as_path).collect();
                backend.provision(&layers, &provision_rootfs, &backend_dir)
            })
            .await
            .and_then(|r| r)
            .map_err(|message| ProvisionerError::Backend {
                backend: name_of_backend,
                message,
            })?;
            tracing::info!(%container_id, image = %name, rootfs = %rootfs.display(), "Provisioned rootfs");
            Ok(ProvisionInfo {
                ephemeral_volumes,
                rootfs,
                docker_manifest: Some(manifest_of(&info.config)),
            })
        })
    }
}

impl Handler<Pulled> for ProvisionerProcess {
    type Result = ();

    fn handle(&mut self, Pulled(key): Pulled, _ctx: &mut Context<Self>) {
        self.pulls.remove(&key);
    }
}

/// Destroys the rootfses under a container's directory, nested
/// containers first, then removes the directory; a failure counts in
/// `remove_container_errors` (and, from the bind backend, in its
/// `remove_rootfs_errors`).
fn destroy_dir(
    dir: &Path,
    backend: &dyn Backend,
    metrics: &ProvisionerMetrics,
) -> std::result::Result<bool, String> {
    let result = destroy_rootfses(dir, backend, metrics);
    if result.is_err() {
        metrics.remove_container_errors.inc();
    }
    result
}

fn destroy_rootfses(
    dir: &Path,
    backend: &dyn Backend,
    metrics: &ProvisionerMetrics,
) -> std::result::Result<bool, String> {
    if !dir.exists() {
        return Ok(false);
    }
    if let Ok(children) = std::fs::read_dir(dir.join("containers")) {
        for child in children.flatten() {
            destroy_rootfses(&child.path(), backend, metrics)?;
        }
    }
    let mut any = false;
    if let Ok(backends) = std::fs::read_dir(dir.join("backends")) {
        for backend_entry in backends.flatten() {
            let backend_dir = backend_entry.path();
            if let Ok(rootfses) = std::fs::read_dir(backend_dir.join("rootfses")) {
                for rootfs in rootfses.flatten() {
                    let destroyed = backend.destroy(&rootfs.path(), &backend_dir);
                    if destroyed.is_err() && backend.name() == "bind" {
                        metrics.bind_remove_rootfs_errors.inc();
                    }
                    any |= destroyed?;
                }
            }
        }
    }
    std::fs::remove_dir_all(dir)
        .map_err(|e| format!("failed to remove '{}': {e}", dir.display()))?;
    Ok(any)
}

impl Handler<Destroy> for ProvisionerProcess {
    type Result = ResponseFuture<Result<bool>>;

    fn handle(&mut self, Destroy(container_id): Destroy, _ctx: &mut Context<Self>) -> Self::Result {
        let dir = container_dir(&self.work_dir, &container_id);
        let (backend, metrics) = (self.backend.clone(), self.metrics.clone());
        Box::pin(async move {
            let name = backend.name();
            blocking(move || destroy_dir(&dir, backend.as_ref(), &metrics))
                .await
                .and_then(|r| r)
                .map_err(|message| ProvisionerError::Backend {
                    backend: name,
                    message,
                })
        })
    }
}

impl Handler<Recover> for ProvisionerProcess {
    type Result = ResponseFuture<Result<()>>;

    fn handle(&mut self, Recover(known): Recover, _ctx: &mut Context<Self>) -> Self::Result {
        let containers = self.work_dir.join("provisioner").join("containers");
        let (backend, metrics) = (self.backend.clone(), self.metrics.clone());
        Box::pin(async move {
            let name = backend.name();
            blocking(move || {
                let Ok(entries) = std::fs::read_dir(&containers) else {
                    return Ok(());
                };
                for entry in entries.flatten() {
                    let id = entry.file_name().to_string_lossy().into_owned();
                    if !known.contains(&id) {
                        tracing::info!(container_id = %id, "Destroying the rootfs of an unknown container");
                        destroy_dir(&entry.path(), backend.as_ref(), &metrics)?;
                    }
                }
                Ok(())
            })
            .await
            .and_then(|r| r)
            .map_err(|message| ProvisionerError::Backend {
                backend: name,
                message,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_containers_have_nested_directories() {
        let work = Path::new("/w");
        assert_eq!(
            container_dir(work, "a"),
            Path::new("/w/provisioner/containers/a")
        );
        assert_eq!(
            backend_dir(work, "a.b", "overlay"),
            Path::new("/w/provisioner/containers/a/containers/b/backends/overlay")
        );
    }

    #[test]
    fn image_configs_become_v1_manifests() {
        let config = serde_json::json!({"architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Entrypoint": null,
                       "WorkingDir": "/srv", "User": ""}});
        let manifest = manifest_of(&config);
        let inner = manifest.config.unwrap_or_default();
        assert_eq!(inner.env, vec!["PATH=/bin"]);
        assert_eq!(inner.cmd, vec!["sh"]);
        assert!(inner.entrypoint.is_empty());
        assert_eq!(inner.working_dir.as_deref(), Some("/srv"));
        assert_eq!(inner.user, None);
    }
}
