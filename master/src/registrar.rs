//! The registrar: the master's durable record of admitted, unreachable and
//! gone agents.
//!
//! Upstream counterpart: `src/master/registrar.cpp` and the operations in
//! `src/master/registry_operations.cpp`. Operations are applied one at a
//! time, in order: each mutates a copy of the registry, the copy is stored,
//! and only then does it become current and the caller learn the outcome,
//! so the master never acts on a change that a crash could lose.
//!
//! Stores: [`InMemoryStore`] (`--registry=in_memory`) and [`FileStore`]
//! (`--registry=replicated_log`: a single replica, the `Registry` protobuf
//! written atomically under `--work_dir`). The log format is ours; upstream
//! masters do not read it. ZooKeeper-backed replication comes with the HA
//! issue behind the same [`Store`] trait.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use mesos_proto::mesos::internal::registry;
use mesos_proto::mesos::internal::Registry;
use mesos_proto::mesos::{MasterInfo, SlaveId, SlaveInfo, TimeInfo};
use prost::Message as _;

/// Registrar failures; the master cannot continue after one.
#[derive(Debug, thiserror::Error)]
pub enum RegistrarError {
    /// Reading or writing the store failed.
    #[error("failed to {action} the registry at '{path}': {source}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The store's location.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The stored registry does not decode.
    #[error("failed to decode the registry at '{path}': {source}")]
    Decode {
        /// The store's location.
        path: String,
        /// The cause.
        source: prost::DecodeError,
    },
    /// A blocking task failed.
    #[error("registry task failed: {0}")]
    Task(String),
}

/// Where the registry is kept.
pub trait Store: Send + Sync {
    /// Returns the stored registry, if any.
    fn fetch(&self) -> BoxFuture<'static, Result<Option<Registry>, RegistrarError>>;
    /// Replaces the stored registry.
    fn store(&self, registry: Registry) -> BoxFuture<'static, Result<(), RegistrarError>>;
}

/// A registry that lives as long as the master (`--registry=in_memory`).
#[derive(Default)]
pub struct InMemoryStore {
    registry: Arc<Mutex<Option<Registry>>>,
}

impl Store for InMemoryStore {
    fn fetch(&self) -> BoxFuture<'static, Result<Option<Registry>, RegistrarError>> {
        let registry = self
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Box::pin(async move { Ok(registry) })
    }

    fn store(&self, registry: Registry) -> BoxFuture<'static, Result<(), RegistrarError>> {
        *self.registry.lock().unwrap_or_else(|p| p.into_inner()) = Some(registry);
        Box::pin(async { Ok(()) })
    }
}

/// A registry in one file, written atomically.
pub struct FileStore {
    path: PathBuf,
}

/// The registry's file under `--work_dir`.
pub const REGISTRY_FILE: &str = "registry";

impl FileStore {
    /// Returns the store under `work_dir` (`<work_dir>/registry`).
    pub fn new(work_dir: &std::path::Path) -> Self {
        Self {
            path: work_dir.join(REGISTRY_FILE),
        }
    }
}

impl Store for FileStore {
    fn fetch(&self) -> BoxFuture<'static, Result<Option<Registry>, RegistrarError>> {
        let path = self.path.clone();
        Box::pin(async move {
            let read = tokio::task::spawn_blocking({
                let path = path.clone();
                move || std::fs::read(path)
            })
            .await
            .map_err(|e| RegistrarError::Task(e.to_string()))?;
            let display = path.display().to_string();
            match read {
                Ok(bytes) => Registry::decode(bytes.as_slice())
                    .map(Some)
                    .map_err(|source| RegistrarError::Decode {
                        path: display,
                        source,
                    }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(RegistrarError::Io {
                    action: "read",
                    path: display,
                    source,
                }),
            }
        })
    }

    fn store(&self, registry: Registry) -> BoxFuture<'static, Result<(), RegistrarError>> {
        let path = self.path.clone();
        Box::pin(async move {
            let bytes = registry.encode_to_vec();
            let display = path.display().to_string();
            tokio::task::spawn_blocking(move || libprocess::os::write_atomic(&path, &bytes))
                .await
                .map_err(|e| RegistrarError::Task(e.to_string()))?
                .map_err(|source| RegistrarError::Io {
                    action: "write",
                    path: display,
                    source,
                })
        })
    }
}

/// A change to the registry (upstream's registry operations).
#[derive(Debug, Clone)]
pub enum Operation {
    /// Admit a newly registering agent; fails if its id is known.
    AdmitSlave(SlaveInfo),
    /// Readmit a re-registering agent: moves it out of the unreachable
    /// list, or admits it if the registry does not know it; fails if it was
    /// marked gone.
    MarkSlaveReachable(SlaveInfo),
    /// Move an admitted agent to the unreachable list.
    MarkSlaveUnreachable(SlaveInfo, TimeInfo),
    /// Forget an agent that shut down (`UnregisterSlaveMessage`).
    RemoveSlave(SlaveInfo),
    /// Mark an agent gone for good (operator's `MARK_AGENT_GONE`).
    MarkSlaveGone(SlaveId, TimeInfo),
    /// Set role weights (upstream `weights::UpdateWeights`): each role's
    /// entry is replaced, or added; other roles keep theirs.
    UpdateWeights(Vec<mesos_proto::mesos::WeightInfo>),
}

impl Operation {
    /// Applies the operation to `registry`; returns whether it applies.
    fn perform(&self, registry: &mut Registry) -> bool {
        let slaves = &mut registry.slaves.get_or_insert_with(Default::default).slaves;
        let unreachable = &mut registry
            .unreachable
            .get_or_insert_with(Default::default)
            .slaves;
        let gone = &mut registry.gone.get_or_insert_with(Default::default).slaves;
        let id_of = |info: &SlaveInfo| {
            info.id
                .as_ref()
                .map(|id| id.value.clone())
                .unwrap_or_default()
        };
        match self {
            Self::AdmitSlave(info) => {
                let id = id_of(info);
                let known = slaves.iter().any(|s| id_of(&s.info) == id)
                    || unreachable.iter().any(|s| s.id.value == id)
                    || gone.iter().any(|s| s.id.value == id);
                if known {
                    return false;
                }
                slaves.push(registry::Slave {
                    info: info.clone(),
                    ..Default::default()
                });
                true
            }
            Self::MarkSlaveReachable(info) => {
                let id = id_of(info);
                if gone.iter().any(|s| s.id.value == id) {
                    return false;
                }
                unreachable.retain(|s| s.id.value != id);
                match slaves.iter_mut().find(|s| id_of(&s.info) == id) {
                    Some(slave) => slave.info = info.clone(),
                    None => slaves.push(registry::Slave {
                        info: info.clone(),
                        ..Default::default()
                    }),
                }
                true
            }
            Self::MarkSlaveUnreachable(info, time) => {
                let id = id_of(info);
                let before = slaves.len();
                slaves.retain(|s| id_of(&s.info) != id);
                if slaves.len() == before {
                    return false;
                }
                unreachable.push(registry::UnreachableSlave {
                    id: SlaveId { value: id },
                    timestamp: *time,
                    ..Default::default()
                });
                true
            }
            Self::RemoveSlave(info) => {
                let id = id_of(info);
                let before = slaves.len() + unreachable.len();
                slaves.retain(|s| id_of(&s.info) != id);
                unreachable.retain(|s| s.id.value != id);
                slaves.len() + unreachable.len() != before
            }
            Self::MarkSlaveGone(id, time) => {
                if gone.iter().any(|s| s.id.value == id.value) {
                    return false;
                }
                slaves.retain(|s| id_of(&s.info) != id.value);
                unreachable.retain(|s| s.id.value != id.value);
                gone.push(registry::GoneSlave {
                    id: id.clone(),
                    timestamp: *time,
                });
                true
            }
            Self::UpdateWeights(infos) => {
                for info in infos {
                    match registry
                        .weights
                        .iter_mut()
                        .find(|w| w.info.role == info.role)
                    {
                        Some(stored) => stored.info.weight = info.weight,
                        None => registry
                            .weights
                            .push(registry::Weight { info: info.clone() }),
                    }
                }
                true
            }
        }
    }
}

/// The registrar: serialises operations over a [`Store`].
pub struct Registrar {
    store: Box<dyn Store>,
    /// The current registry; held across the store so operations apply in
    /// order.
    registry: tokio::sync::Mutex<Registry>,
}

impl Registrar {
    /// Returns a registrar over `store`; call [`Registrar::recover`] first.
    pub fn new(store: Box<dyn Store>) -> Self {
        Self {
            store,
            registry: tokio::sync::Mutex::new(Registry::default()),
        }
    }

    /// Reads the stored registry, records `master` as the latest leader,
    /// stores it back, and returns it.
    pub async fn recover(&self, master: MasterInfo) -> Result<Registry, RegistrarError> {
        let mut current = self.registry.lock().await;
        let mut registry = self.store.fetch().await?.unwrap_or_default();
        registry.master = Some(mesos_proto::mesos::internal::registry::Master { info: master });
        self.store.store(registry.clone()).await?;
        *current = registry.clone();
        Ok(registry)
    }

    /// Applies `operation`: `Ok(true)` once the change is stored,
    /// `Ok(false)` when it does not apply (nothing is stored).
    pub async fn apply(&self, operation: Operation) -> Result<bool, RegistrarError> {
        let mut current = self.registry.lock().await;
        let mut next = current.clone();
        if !operation.perform(&mut next) {
            return Ok(false);
        }
        self.store.store(next.clone()).await?;
        *current = next;
        Ok(true)
    }

    /// Returns the current registry.
    pub async fn registry(&self) -> Registry {
        self.registry.lock().await.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str) -> SlaveInfo {
        SlaveInfo {
            hostname: "host".into(),
            id: Some(SlaveId { value: id.into() }),
            ..Default::default()
        }
    }

    fn now() -> TimeInfo {
        TimeInfo { nanoseconds: 1 }
    }

    #[tokio::test]
    async fn operations_follow_upstream_rules() {
        let registrar = Registrar::new(Box::<InMemoryStore>::default());
        registrar.recover(MasterInfo::default()).await.unwrap();
        assert!(registrar
            .apply(Operation::AdmitSlave(info("S1")))
            .await
            .unwrap());
        assert!(
            !registrar
                .apply(Operation::AdmitSlave(info("S1")))
                .await
                .unwrap(),
            "no double admit"
        );
        assert!(registrar
            .apply(Operation::MarkSlaveUnreachable(info("S1"), now()))
            .await
            .unwrap());
        assert!(!registrar
            .apply(Operation::AdmitSlave(info("S1")))
            .await
            .unwrap());
        assert!(registrar
            .apply(Operation::MarkSlaveReachable(info("S1")))
            .await
            .unwrap());
        assert!(
            registrar
                .apply(Operation::MarkSlaveReachable(info("S2")))
                .await
                .unwrap(),
            "unknown agents are readmitted"
        );
        assert!(registrar
            .apply(Operation::MarkSlaveGone(
                SlaveId { value: "S2".into() },
                now()
            ))
            .await
            .unwrap());
        assert!(
            !registrar
                .apply(Operation::MarkSlaveReachable(info("S2")))
                .await
                .unwrap(),
            "gone is final"
        );
        assert!(registrar
            .apply(Operation::RemoveSlave(info("S1")))
            .await
            .unwrap());
        let registry = registrar.registry().await;
        assert!(registry.slaves.unwrap_or_default().slaves.is_empty());
        assert_eq!(registry.gone.unwrap_or_default().slaves.len(), 1);
    }

    #[tokio::test]
    async fn the_file_store_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let registrar = Registrar::new(Box::new(FileStore::new(dir.path())));
        registrar
            .recover(MasterInfo {
                id: "m1".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        registrar
            .apply(Operation::AdmitSlave(info("S1")))
            .await
            .unwrap();

        let again = Registrar::new(Box::new(FileStore::new(dir.path())));
        let registry = again
            .recover(MasterInfo {
                id: "m2".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            registry.slaves.unwrap_or_default().slaves[0].info.hostname,
            "host"
        );
        assert_eq!(registry.master.unwrap().info.id, "m2");
    }

    #[tokio::test]
    async fn a_corrupt_registry_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(REGISTRY_FILE), b"\xff\xff\xff").unwrap();
        let registrar = Registrar::new(Box::new(FileStore::new(dir.path())));
        let error = registrar
            .recover(MasterInfo::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("failed to decode the registry"), "{error}");
    }
}
