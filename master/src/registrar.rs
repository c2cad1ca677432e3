//! The registrar: the master's durable record of admitted, unreachable and
//! gone agents.
//!
//! Upstream counterpart: `src/master/registrar.cpp` and the operations in
//! `src/master/registry_operations.cpp`. Operations are applied in order,
//! in batches (those that arrive while a store is in progress go
//! together): a batch mutates a copy of the registry, the copy is stored,
//! and only then does it become current and the callers learn their
//! outcomes, so the master never acts on a change that a crash could
//! lose.
//!
//! Stores: [`InMemoryStore`] (`--registry=in_memory`) and [`FileStore`]
//! (`--registry=replicated_log`: a single replica, the `Registry` protobuf
//! written atomically under `--work_dir`). The log format is ours; upstream
//! masters do not read it. ZooKeeper-backed replication comes with the HA
//! issue behind the same [`Store`] trait.
//!
//! Metrics, as upstream's `RegistrarProcess::Metrics`
//! ([`Registrar::register_metrics`]): `registrar/queued_operations`,
//! `registrar/registry_size_bytes` (from recovery on), and the timers
//! `registrar/state_fetch_ms` and `registrar/state_store_ms` (with a
//! one-day window). Upstream's replicated log adds `registrar/log/*`; the
//! single-replica file store has no log and registers none.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use libprocess::metrics::{Metrics, Timer};
use mesos_proto::mesos::internal::registry;
use mesos_proto::mesos::internal::Registry;
use mesos_proto::mesos::{
    master_info, DrainConfig, DrainInfo, DrainState, DurationInfo, MasterInfo, SlaveId, SlaveInfo,
    TimeInfo,
};
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
    /// Storing the batch the operation was part of failed.
    #[error("{0}")]
    Batch(String),
    /// Reading or writing took longer than `--registry_fetch_timeout` or
    /// `--registry_store_timeout` (upstream's message).
    #[error("Failed to perform {action} within {limit}")]
    Timeout {
        /// `fetch` or `store`.
        action: &'static str,
        /// The limit, as flags print durations.
        limit: String,
    },
}

/// Where the registry is kept.
pub trait Store: Send + Sync {
    /// Returns the stored registry, if any.
    fn fetch(&self) -> BoxFuture<'static, Result<Option<Registry>, RegistrarError>>;
    /// Replaces the stored registry. What is needed from `registry` is
    /// taken before this returns; the future finishes the write.
    fn store(&self, registry: &Registry) -> BoxFuture<'static, Result<(), RegistrarError>>;
}

/// A registry that lives as long as the master (`--registry=in_memory`):
/// the registrar's own copy is the registry, so storing keeps nothing
/// (a copy per operation would cost O(agents) each), and a master
/// starting over it finds an empty registry.
#[derive(Default)]
pub struct InMemoryStore;

impl Store for InMemoryStore {
    fn fetch(&self) -> BoxFuture<'static, Result<Option<Registry>, RegistrarError>> {
        Box::pin(async { Ok(None) })
    }

    fn store(&self, _registry: &Registry) -> BoxFuture<'static, Result<(), RegistrarError>> {
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

    fn store(&self, registry: &Registry) -> BoxFuture<'static, Result<(), RegistrarError>> {
        let path = self.path.clone();
        let bytes = registry.encode_to_vec();
        Box::pin(async move {
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
    /// Forget unreachable and gone agents (upstream `Prune`, the registry
    /// GC); ids not found are skipped. Always applies.
    Prune {
        /// Unreachable agents to forget.
        unreachable: HashSet<String>,
        /// Gone agents to forget.
        gone: HashSet<String>,
    },
    /// Set role weights (upstream `weights::UpdateWeights`): each role's
    /// entry is replaced, or added; other roles keep theirs.
    UpdateWeights(Vec<mesos_proto::mesos::WeightInfo>),
    /// Set role quotas (upstream `quota::UpdateQuota`): each role's config
    /// replaces its earlier one (in `quota_configs`, and any pre-1.9
    /// `quotas` entry of the role is dropped); a config with neither
    /// guarantees nor limits removes the role's quota.
    UpdateQuota(Vec<mesos_proto::mesos::quota::QuotaConfig>),
    /// Start draining an admitted or unreachable agent (upstream
    /// `DrainAgent`): its drain info becomes `DRAINING` with the config,
    /// and it is deactivated; the registry then requires masters that know
    /// `AGENT_DRAINING`. Does not apply to an unknown agent.
    DrainAgent {
        /// The agent.
        slave_id: SlaveId,
        /// How long its tasks get to stop, if limited.
        max_grace_period: Option<DurationInfo>,
        /// Whether it is marked gone once drained.
        mark_gone: bool,
    },
    /// A draining agent has nothing left running (upstream
    /// `MarkAgentDrained`): its drain info becomes `DRAINED`. Does not
    /// apply to an unknown agent, nor to one that is not `DRAINING`
    /// (upstream fails the operation there, which aborts its master).
    MarkAgentDrained(SlaveId),
    /// Deactivate an admitted or unreachable agent (upstream
    /// `DeactivateAgent`), requiring `AGENT_DRAINING` of masters as
    /// `DrainAgent` does.
    DeactivateAgent(SlaveId),
    /// Clear an agent's drain info and deactivation (upstream
    /// `ReactivateAgent`); once no agent is deactivated, `AGENT_DRAINING`
    /// is no longer required.
    ReactivateAgent(SlaveId),
    /// Replace the maintenance schedule and the machines in maintenance
    /// (upstream `maintenance::UpdateSchedule`, `StartMaintenance`,
    /// `StopMaintenance`, which the master computes the result of).
    UpdateMaintenance {
        /// The schedule (none stored when it has no windows).
        schedule: mesos_proto::mesos::maintenance::Schedule,
        /// Every machine in maintenance, with its mode.
        machines: Vec<mesos_proto::mesos::MachineInfo>,
    },
}

fn slave_id(info: &SlaveInfo) -> &str {
    info.id.as_ref().map_or("", |id| id.value.as_str())
}

/// The name of the capability a registry with drain or deactivation
/// state requires of the masters that read it.
const AGENT_DRAINING: &str = "AGENT_DRAINING";

/// Adds `AGENT_DRAINING` to the registry's minimum capabilities, once.
fn require_agent_draining(capabilities: &mut Vec<registry::MinimumCapability>) {
    debug_assert_eq!(
        master_info::capability::Type::AgentDraining.as_str_name(),
        AGENT_DRAINING
    );
    if !capabilities.iter().any(|c| c.capability == AGENT_DRAINING) {
        capabilities.push(registry::MinimumCapability {
            capability: AGENT_DRAINING.into(),
        });
    }
}

/// Where each agent is in the registry, for one batch of operations, so
/// that each costs O(1) rather than a scan of every agent (upstream's
/// registrar likewise keeps the set of admitted agent ids per batch).
/// Removals leave tombstones, swept once at the end of the batch.
struct Index {
    slaves: HashMap<String, usize>,
    unreachable: HashMap<String, usize>,
    gone: HashSet<String>,
    removed_slaves: HashSet<usize>,
    removed_unreachable: HashSet<usize>,
}

impl Index {
    fn new(registry: &Registry) -> Self {
        let slaves = registry.slaves.as_ref().map_or(&[][..], |s| &s.slaves[..]);
        let unreachable = registry
            .unreachable
            .as_ref()
            .map_or(&[][..], |s| &s.slaves[..]);
        let gone = registry.gone.as_ref().map_or(&[][..], |s| &s.slaves[..]);
        Self {
            slaves: slaves
                .iter()
                .enumerate()
                .map(|(i, s)| (slave_id(&s.info).to_string(), i))
                .collect(),
            unreachable: unreachable
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.value.clone(), i))
                .collect(),
            gone: gone.iter().map(|s| s.id.value.clone()).collect(),
            removed_slaves: HashSet::new(),
            removed_unreachable: HashSet::new(),
        }
    }

    fn remove_slave(&mut self, id: &str) -> bool {
        match self.slaves.remove(id) {
            Some(position) => self.removed_slaves.insert(position),
            None => false,
        }
    }

    fn remove_unreachable(&mut self, id: &str) -> bool {
        match self.unreachable.remove(id) {
            Some(position) => self.removed_unreachable.insert(position),
            None => false,
        }
    }

    /// Changes the drain info and deactivation of agent `id`, admitted or
    /// unreachable, with `change`; returns whether the agent was found.
    fn update(
        &self,
        slaves: &mut [registry::Slave],
        unreachable: &mut [registry::UnreachableSlave],
        id: &str,
        change: impl FnOnce(&mut Option<DrainInfo>, &mut Option<bool>),
    ) -> bool {
        if let Some(&position) = self.slaves.get(id) {
            let slave = &mut slaves[position];
            change(&mut slave.drain_info, &mut slave.deactivated);
            return true;
        }
        if let Some(&position) = self.unreachable.get(id) {
            let slave = &mut unreachable[position];
            change(&mut slave.drain_info, &mut slave.deactivated);
            return true;
        }
        false
    }

    /// Sweeps the tombstones out of `registry`, and locates the agents
    /// anew if any moved.
    fn compact(&mut self, registry: &mut Registry) {
        if self.removed_slaves.is_empty() && self.removed_unreachable.is_empty() {
            return;
        }
        self.sweep(registry);
        *self = Self::new(registry);
    }

    fn sweep(&self, registry: &mut Registry) {
        let sweep = |removed: &HashSet<usize>, len: usize| -> Vec<bool> {
            (0..len).map(|i| !removed.contains(&i)).collect()
        };
        if !self.removed_slaves.is_empty() {
            let slaves = &mut registry.slaves.get_or_insert_with(Default::default).slaves;
            let mut keep = sweep(&self.removed_slaves, slaves.len()).into_iter();
            slaves.retain(|_| keep.next().unwrap_or(true));
        }
        if !self.removed_unreachable.is_empty() {
            let unreachable = &mut registry
                .unreachable
                .get_or_insert_with(Default::default)
                .slaves;
            let mut keep = sweep(&self.removed_unreachable, unreachable.len()).into_iter();
            unreachable.retain(|_| keep.next().unwrap_or(true));
        }
    }
}

impl Operation {
    /// Applies the operation to `registry` (whose agents `index` locates);
    /// returns whether it applies.
    fn perform(&self, registry: &mut Registry, index: &mut Index) -> bool {
        let slaves = &mut registry.slaves.get_or_insert_with(Default::default).slaves;
        let unreachable = &mut registry
            .unreachable
            .get_or_insert_with(Default::default)
            .slaves;
        let gone = &mut registry.gone.get_or_insert_with(Default::default).slaves;
        match self {
            Self::AdmitSlave(info) => {
                let id = slave_id(info);
                if index.slaves.contains_key(id)
                    || index.unreachable.contains_key(id)
                    || index.gone.contains(id)
                {
                    return false;
                }
                index.slaves.insert(id.to_string(), slaves.len());
                slaves.push(registry::Slave {
                    info: info.clone(),
                    ..Default::default()
                });
                true
            }
            Self::MarkSlaveReachable(info) => {
                let id = slave_id(info);
                if index.gone.contains(id) {
                    return false;
                }
                // The drain info and deactivation go back with it.
                let (drain_info, deactivated) = match index.unreachable.get(id) {
                    Some(&position) => (
                        unreachable[position].drain_info,
                        unreachable[position].deactivated,
                    ),
                    None => (None, None),
                };
                index.remove_unreachable(id);
                match index.slaves.get(id) {
                    Some(&position) => slaves[position].info = info.clone(),
                    None => {
                        index.slaves.insert(id.to_string(), slaves.len());
                        slaves.push(registry::Slave {
                            info: info.clone(),
                            drain_info,
                            deactivated,
                        });
                    }
                }
                true
            }
            Self::MarkSlaveUnreachable(info, time) => {
                let id = slave_id(info);
                let Some(&position) = index.slaves.get(id) else {
                    return false;
                };
                // The drain info and deactivation go along.
                let drain_info = slaves[position].drain_info;
                let deactivated = slaves[position].deactivated;
                index.remove_slave(id);
                index.unreachable.insert(id.to_string(), unreachable.len());
                unreachable.push(registry::UnreachableSlave {
                    id: SlaveId {
                        value: id.to_string(),
                    },
                    timestamp: *time,
                    drain_info,
                    deactivated,
                });
                true
            }
            Self::RemoveSlave(info) => {
                let id = slave_id(info);
                let slave = index.remove_slave(id);
                let unreachable = index.remove_unreachable(id);
                slave || unreachable
            }
            Self::MarkSlaveGone(id, time) => {
                if index.gone.contains(&id.value) {
                    return false;
                }
                index.remove_slave(&id.value);
                index.remove_unreachable(&id.value);
                index.gone.insert(id.value.clone());
                gone.push(registry::GoneSlave {
                    id: id.clone(),
                    timestamp: *time,
                });
                true
            }
            Self::Prune {
                unreachable: pruned_unreachable,
                gone: pruned_gone,
            } => {
                for id in pruned_unreachable {
                    index.remove_unreachable(id);
                }
                gone.retain(|slave| !pruned_gone.contains(&slave.id.value));
                index.gone.retain(|id| !pruned_gone.contains(id));
                true
            }
            Self::DrainAgent {
                slave_id,
                max_grace_period,
                mark_gone,
            } => {
                let drain_info = DrainInfo {
                    state: DrainState::Draining as i32,
                    config: DrainConfig {
                        max_grace_period: *max_grace_period,
                        mark_gone: Some(*mark_gone),
                    },
                };
                let applied = index.update(slaves, unreachable, &slave_id.value, |d, a| {
                    *d = Some(drain_info);
                    *a = Some(true);
                });
                if applied {
                    require_agent_draining(&mut registry.minimum_capabilities);
                }
                applied
            }
            Self::MarkAgentDrained(slave_id) => {
                let mut draining = false;
                index.update(slaves, unreachable, &slave_id.value, |d, _| {
                    if let Some(info) = d.as_mut() {
                        if info.state() == DrainState::Draining {
                            info.state = DrainState::Drained as i32;
                            draining = true;
                        }
                    }
                });
                draining
            }
            Self::DeactivateAgent(slave_id) => {
                let applied = index.update(slaves, unreachable, &slave_id.value, |_, a| {
                    *a = Some(true);
                });
                if applied {
                    require_agent_draining(&mut registry.minimum_capabilities);
                }
                applied
            }
            Self::ReactivateAgent(id) => {
                let applied = index.update(slaves, unreachable, &id.value, |d, a| {
                    *d = None;
                    *a = None;
                });
                let live = |id: &str| index.slaves.contains_key(id);
                let still_deactivated = slaves
                    .iter()
                    .any(|s| s.deactivated == Some(true) && live(slave_id(&s.info)))
                    || unreachable.iter().any(|s| {
                        s.deactivated == Some(true) && index.unreachable.contains_key(&s.id.value)
                    });
                if applied && !still_deactivated {
                    registry
                        .minimum_capabilities
                        .retain(|c| c.capability != AGENT_DRAINING);
                }
                applied
            }
            Self::UpdateMaintenance { schedule, machines } => {
                registry.schedules = if schedule.windows.is_empty() {
                    vec![]
                } else {
                    vec![schedule.clone()]
                };
                registry.machines = Some(registry::Machines {
                    machines: machines
                        .iter()
                        .map(|info| registry::Machine { info: info.clone() })
                        .collect(),
                });
                true
            }
            Self::UpdateQuota(configs) => {
                for config in configs {
                    registry.quota_configs.retain(|c| c.role != config.role);
                    registry
                        .quotas
                        .retain(|q| q.info.role.as_deref() != Some(config.role.as_str()));
                    if !config.guarantees.is_empty() || !config.limits.is_empty() {
                        registry.quota_configs.push(config.clone());
                    }
                }
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

/// An operation waiting for the next batch, with where its outcome goes.
type Pending = (
    Operation,
    futures::channel::oneshot::Sender<Result<bool, RegistrarError>>,
);

/// What the registrar holds between batches.
struct State {
    /// The current registry (stored, but for the batch being stored).
    registry: Registry,
    /// Where its agents are.
    index: Index,
    /// Operations waiting for the batch in progress to finish.
    queue: Vec<Pending>,
    /// Whether a batch is being stored.
    updating: bool,
}

/// The registrar: serialises operations over a [`Store`].
///
/// Operations that arrive while a batch is being stored wait and then go
/// together, in arrival order, into the next batch: one copy of the
/// registry and one store per batch, as upstream's registrar batches
/// updates. Each caller learns its outcome once its batch is stored.
pub struct Registrar {
    store: Box<dyn Store>,
    state: Mutex<State>,
    /// Set by [`Registrar::recover`]; `registrar/registry_size_bytes` has
    /// no value before.
    recovered: AtomicBool,
    /// `registrar/state_fetch_ms` and `registrar/state_store_ms`, once
    /// registered.
    timers: OnceLock<(Timer, Timer)>,
    /// How long a fetch and a store may take.
    timeouts: (Duration, Duration),
}

/// The window of `registrar/state_store_ms`'s statistics, as upstream's.
const STATE_STORE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

impl Registrar {
    /// Returns a registrar over `store`; call [`Registrar::recover`] first.
    pub fn new(store: Box<dyn Store>) -> Self {
        let registry = Registry::default();
        Self {
            store,
            state: Mutex::new(State {
                index: Index::new(&registry),
                registry,
                queue: Vec::new(),
                updating: false,
            }),
            recovered: AtomicBool::new(false),
            timers: OnceLock::new(),
            timeouts: (Duration::from_secs(60), Duration::from_secs(20)),
        }
    }

    /// Sets how long a fetch and a store may take (upstream
    /// `--registry_fetch_timeout`, default 1 min, and
    /// `--registry_store_timeout`, default 20 s).
    pub fn with_timeouts(mut self, fetch: Duration, store: Duration) -> Self {
        self.timeouts = (fetch, store);
        self
    }

    async fn within<T>(
        limit: Duration,
        action: &'static str,
        work: impl std::future::Future<Output = Result<T, RegistrarError>>,
    ) -> Result<T, RegistrarError> {
        tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
            Err(RegistrarError::Timeout {
                action,
                limit: libprocess::flags::format_duration(limit),
            })
        })
    }

    /// Registers upstream's `registrar/*` metrics in `metrics`; the gauges
    /// read the registrar when the snapshot is taken.
    pub fn register_metrics(self: &Arc<Self>, metrics: &Metrics) {
        let this = Arc::downgrade(self);
        metrics.gauge("registrar/queued_operations", move || {
            this.upgrade()
                .map_or(0.0, |registrar| registrar.state().queue.len() as f64)
        });
        let this = Arc::downgrade(self);
        metrics.optional_gauge("registrar/registry_size_bytes", move || {
            let registrar = this.upgrade()?;
            if !registrar.recovered.load(Ordering::Acquire) {
                return None;
            }
            let size = registrar.state().registry.encoded_len();
            Some(size as f64)
        });
        let _ = self.timers.set((
            metrics.timer_ms("registrar/state_fetch", None),
            metrics.timer_ms("registrar/state_store", Some(STATE_STORE_WINDOW)),
        ));
    }

    async fn fetch(&self) -> Result<Option<Registry>, RegistrarError> {
        let fetch = Self::within(self.timeouts.0, "fetch", self.store.fetch());
        match self.timers.get() {
            Some((timer, _)) => timer.time(fetch).await,
            None => fetch.await,
        }
    }

    async fn stored(
        &self,
        store: BoxFuture<'static, Result<(), RegistrarError>>,
    ) -> Result<(), RegistrarError> {
        let store = Self::within(self.timeouts.1, "store", store);
        match self.timers.get() {
            Some((_, timer)) => timer.time(store).await,
            None => store.await,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the stored registry, records `master` as the latest leader,
    /// stores it back, and returns it.
    pub async fn recover(&self, master: MasterInfo) -> Result<Registry, RegistrarError> {
        let mut registry = self.fetch().await?.unwrap_or_default();
        registry.master = Some(mesos_proto::mesos::internal::registry::Master { info: master });
        self.stored(self.store.store(&registry)).await?;
        let mut state = self.state();
        state.index = Index::new(&registry);
        state.registry = registry.clone();
        self.recovered.store(true, Ordering::Release);
        Ok(registry)
    }

    /// Applies `operation`: `Ok(true)` once the change is stored,
    /// `Ok(false)` when it does not apply.
    pub async fn apply(&self, operation: Operation) -> Result<bool, RegistrarError> {
        let (tx, rx) = futures::channel::oneshot::channel();
        let lead = {
            let mut state = self.state();
            state.queue.push((operation, tx));
            !std::mem::replace(&mut state.updating, true)
        };
        if lead {
            // This caller stores batches until no operation waits. A batch
            // applies to the registry in place (the master exits if a store
            // fails, so there is nothing to roll back to); its callers
            // learn their outcomes once it is stored.
            loop {
                let (batch, outcomes, stored) = {
                    let mut guard = self.state();
                    let state = &mut *guard;
                    if state.queue.is_empty() {
                        state.updating = false;
                        break;
                    }
                    let batch = std::mem::take(&mut state.queue);
                    let outcomes: Vec<bool> = batch
                        .iter()
                        .map(|(operation, _)| {
                            operation.perform(&mut state.registry, &mut state.index)
                        })
                        .collect();
                    state.index.compact(&mut state.registry);
                    let stored = outcomes
                        .iter()
                        .any(|applied| *applied)
                        .then(|| self.store.store(&state.registry));
                    (batch, outcomes, stored)
                };
                let stored = match stored {
                    Some(store) => self.stored(store).await,
                    None => Ok(()),
                };
                match stored {
                    Ok(()) => {
                        for ((_, reply), applied) in batch.into_iter().zip(outcomes) {
                            let _ = reply.send(Ok(applied));
                        }
                    }
                    Err(error) => {
                        let message = error.to_string();
                        for (_, reply) in batch {
                            let _ = reply.send(Err(RegistrarError::Batch(message.clone())));
                        }
                    }
                }
            }
        }
        rx.await
            .unwrap_or_else(|_| Err(RegistrarError::Task("the registrar went away".into())))
    }

    /// Returns the current registry.
    pub async fn registry(&self) -> Registry {
        self.state().registry.clone()
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

    /// A store that takes `delay` to read and to write.
    struct Slow(Duration);

    impl Store for Slow {
        fn fetch(&self) -> BoxFuture<'static, Result<Option<Registry>, RegistrarError>> {
            let delay = self.0;
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                Ok(None)
            })
        }

        fn store(&self, _: &Registry) -> BoxFuture<'static, Result<(), RegistrarError>> {
            let delay = self.0;
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                Ok(())
            })
        }
    }

    #[tokio::test]
    async fn a_slow_store_fails_with_upstreams_timeout_messages() {
        let slow = Duration::from_millis(300);
        let registrar = Registrar::new(Box::new(Slow(slow)))
            .with_timeouts(Duration::from_millis(50), Duration::from_secs(5));
        let error = registrar.recover(Default::default()).await.unwrap_err();
        assert_eq!(error.to_string(), "Failed to perform fetch within 50ms");
        let registrar = Registrar::new(Box::new(Slow(slow)))
            .with_timeouts(Duration::from_secs(5), Duration::from_millis(50));
        let error = registrar.recover(Default::default()).await.unwrap_err();
        assert_eq!(error.to_string(), "Failed to perform store within 50ms");
        // Within the limits, all is well.
        let registrar = Registrar::new(Box::new(Slow(Duration::from_millis(10))));
        assert!(registrar.recover(Default::default()).await.is_ok());
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
    async fn drain_state_follows_the_agent_until_it_is_reactivated() {
        let registrar = Registrar::new(Box::<InMemoryStore>::default());
        registrar.recover(MasterInfo::default()).await.unwrap();
        let id = |value: &str| SlaveId {
            value: value.into(),
        };
        let apply = |operation| registrar.apply(operation);
        assert!(apply(Operation::AdmitSlave(info("S1"))).await.unwrap());
        assert!(apply(Operation::AdmitSlave(info("S2"))).await.unwrap());
        assert!(
            !apply(Operation::DeactivateAgent(id("S9"))).await.unwrap(),
            "unknown agents are not deactivated"
        );
        assert!(apply(Operation::DeactivateAgent(id("S2"))).await.unwrap());
        let grace = DurationInfo {
            nanoseconds: 10_000_000_000,
        };
        assert!(apply(Operation::DrainAgent {
            slave_id: id("S1"),
            max_grace_period: Some(grace),
            mark_gone: false,
        })
        .await
        .unwrap());
        let registry = registrar.registry().await;
        assert_eq!(
            registry.minimum_capabilities,
            vec![registry::MinimumCapability {
                capability: "AGENT_DRAINING".into()
            }]
        );
        let draining = DrainInfo {
            state: DrainState::Draining as i32,
            config: DrainConfig {
                max_grace_period: Some(grace),
                mark_gone: Some(false),
            },
        };
        let s1 = &registry.slaves.as_ref().unwrap().slaves[0];
        assert_eq!(
            (s1.drain_info, s1.deactivated),
            (Some(draining), Some(true))
        );

        // Unreachable and back, the state goes along.
        assert!(apply(Operation::MarkSlaveUnreachable(info("S1"), now()))
            .await
            .unwrap());
        assert!(apply(Operation::MarkAgentDrained(id("S1"))).await.unwrap());
        assert!(
            !apply(Operation::MarkAgentDrained(id("S1"))).await.unwrap(),
            "only a DRAINING agent becomes DRAINED"
        );
        let registry = registrar.registry().await;
        let unreachable = &registry.unreachable.as_ref().unwrap().slaves[0];
        assert_eq!(unreachable.deactivated, Some(true));
        assert_eq!(
            unreachable.drain_info.map(|i| i.state()),
            Some(DrainState::Drained)
        );
        assert!(apply(Operation::MarkSlaveReachable(info("S1")))
            .await
            .unwrap());
        let registry = registrar.registry().await;
        let slaves = &registry.slaves.as_ref().unwrap().slaves;
        let s1 = slaves.iter().find(|s| slave_id(&s.info) == "S1").unwrap();
        assert_eq!(s1.drain_info.map(|i| i.state()), Some(DrainState::Drained));

        // Reactivation clears it; the capability goes with the last one.
        assert!(apply(Operation::ReactivateAgent(id("S1"))).await.unwrap());
        assert_eq!(registrar.registry().await.minimum_capabilities.len(), 1);
        assert!(apply(Operation::ReactivateAgent(id("S2"))).await.unwrap());
        let registry = registrar.registry().await;
        assert!(registry.minimum_capabilities.is_empty());
        assert!(registry
            .slaves
            .unwrap()
            .slaves
            .iter()
            .all(|s| s.drain_info.is_none() && s.deactivated.is_none()));
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

    /// A store that takes a while and counts its writes.
    #[derive(Default)]
    struct SlowStore {
        stores: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Store for SlowStore {
        fn fetch(&self) -> BoxFuture<'static, Result<Option<Registry>, RegistrarError>> {
            Box::pin(async { Ok(None) })
        }
        fn store(&self, _: &Registry) -> BoxFuture<'static, Result<(), RegistrarError>> {
            self.stores
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::pin(async {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                Ok(())
            })
        }
    }

    #[tokio::test]
    async fn operations_arriving_during_a_store_share_the_next_one() {
        let store = SlowStore::default();
        let stores = store.stores.clone();
        let registrar = Arc::new(Registrar::new(Box::new(store)));
        registrar.recover(MasterInfo::default()).await.unwrap();
        let before = stores.load(std::sync::atomic::Ordering::Relaxed);
        let mut handles = Vec::new();
        for i in 0..200 {
            let registrar = registrar.clone();
            handles.push(tokio::spawn(async move {
                registrar
                    .apply(Operation::AdmitSlave(info(&format!("S{i}"))))
                    .await
            }));
        }
        // An id already admitted is not admitted again.
        let duplicate = registrar.apply(Operation::AdmitSlave(info("S0")));
        for handle in handles {
            assert!(handle.await.unwrap().unwrap());
        }
        assert!(!duplicate.await.unwrap());
        let registry = registrar.registry().await;
        assert_eq!(registry.slaves.unwrap_or_default().slaves.len(), 200);
        let batches = stores.load(std::sync::atomic::Ordering::Relaxed) - before;
        assert!(batches < 10, "{batches} stores for 200 operations");
        // Removals in one batch leave the others in order.
        for id in ["S3", "S7"] {
            assert!(registrar
                .apply(Operation::MarkSlaveUnreachable(info(id), now()))
                .await
                .unwrap());
        }
        let registry = registrar.registry().await;
        let ids: Vec<String> = registry.slaves.unwrap_or_default().slaves[..6]
            .iter()
            .map(|s| slave_id(&s.info).to_string())
            .collect();
        assert_eq!(ids, ["S0", "S1", "S2", "S4", "S5", "S6"]);
        assert_eq!(registry.unreachable.unwrap_or_default().slaves.len(), 2);
    }

    #[tokio::test]
    async fn metrics_follow_recovery_and_stores() {
        let registrar = Arc::new(Registrar::new(Box::<InMemoryStore>::default()));
        let metrics = Metrics::default();
        registrar.register_metrics(&metrics);
        let snapshot = metrics.snapshot();
        assert_eq!(
            snapshot.keys().collect::<Vec<_>>(),
            ["registrar/queued_operations"]
        );

        registrar.recover(MasterInfo::default()).await.unwrap();
        registrar
            .apply(Operation::AdmitSlave(info("S1")))
            .await
            .unwrap();
        let snapshot = metrics.snapshot();
        let size = registrar.registry().await.encoded_len() as f64;
        assert!(size > 0.0);
        assert_eq!(snapshot["registrar/registry_size_bytes"], size);
        assert_eq!(snapshot["registrar/queued_operations"], 0.0);
        assert!(snapshot.contains_key("registrar/state_fetch_ms"));
        // Recovery stored once, the admission once.
        assert_eq!(snapshot["registrar/state_store_ms/count"], 2.0);
        assert!(snapshot.contains_key("registrar/state_store_ms/p9999"));
        assert!(!snapshot.contains_key("registrar/state_fetch_ms/count"));
    }
}
