//! The `master` process: agents (this part), and frameworks, offers and
//! tasks as the rest of issue #3 lands.
//!
//! Upstream counterpart: `src/master/master.{hpp,cpp}`. What is here:
//! - recovery of the registry at start-up; until it completes every
//!   message is dropped, as upstream drops messages while recovering;
//! - `RegisterSlaveMessage` → id `<master id>-S<n>` → registrar
//!   `AdmitSlave` → link to the agent, start its `slave-observer(N)`,
//!   `SlaveRegisteredMessage`;
//! - `ReregisterSlaveMessage` for a connected or disconnected agent (pid
//!   updated), for one recovered from the registry or unreachable
//!   (registrar `MarkSlaveReachable`), refusal of a gone one
//!   (`ShutdownMessage`);
//! - `exited` on the link: the agent is disconnected and deactivated; its
//!   observer keeps pinging and marks it unreachable after the ping
//!   timeouts;
//! - recovered agents that do not re-register within
//!   `--agent_reregister_timeout` are marked unreachable;
//! - `UnregisterSlaveMessage`: the agent is removed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::{ActorFutureExt as _, Addr, AsyncContext as _, Context, WrapFuture as _};
use libprocess::{Process, ProcessBase, PID, UPID};
use mesos_proto::mesos::internal::{
    MasterSlaveConnection, ReconcileTasksMessage, RegisterSlaveMessage, ReregisterSlaveMessage,
    ShutdownMessage, SlaveRegisteredMessage, SlaveReregisteredMessage, UnregisterSlaveMessage,
    UpdateSlaveMessage,
};
use mesos_proto::mesos::{
    master_info, slave_info, task_status, Address, DrainInfo, ExecutorInfo, FrameworkId,
    FrameworkInfo, MasterInfo, Resource, SlaveId, SlaveInfo, Task, TaskStatus, TimeInfo,
};
use mesos_proto::resources::Resources;

use crate::allocator::{Allocator, HierarchicalDrf};
use crate::flags::Flags;
use crate::frameworks::Frameworks;
use crate::observer::SlaveObserver;
use crate::registrar::{Operation, Registrar};
use crate::tasks::{AgentLeft, OfferState};

/// The oldest agent version the master admits (upstream's
/// `MINIMUM_AGENT_VERSION`).
pub const MINIMUM_AGENT_VERSION: (u64, u64, u64) = (1, 0, 0);

/// What the master knows of a registered agent.
pub struct Slave {
    /// The agent's info, with its id.
    pub info: SlaveInfo,
    /// Where the agent is.
    pub pid: UPID,
    /// The version the agent reported.
    pub version: String,
    /// Capabilities the agent advertised.
    pub capabilities: Vec<slave_info::Capability>,
    /// When it registered (seconds since the epoch).
    pub registered_time: f64,
    /// When it last re-registered, if it did.
    pub reregistered_time: Option<f64>,
    /// Whether its connection is up.
    pub connected: bool,
    /// Whether it takes part in allocation.
    pub active: bool,
    /// Resources it checkpointed (reservations, volumes), as the master
    /// last told it (or as it reported them when it (re-)registered).
    pub checkpointed_resources: Vec<Resource>,
    /// Its total: `info.resources` with the checkpointed resources applied
    /// (upstream `Slave::totalResources`).
    pub total_resources: Resources,
    /// Tasks it reported when re-registering, until they are handed to
    /// their frameworks.
    pub tasks: Vec<Task>,
    /// Executors it reported when re-registering.
    pub executors: Vec<ExecutorInfo>,
    /// Frameworks it reported when re-registering.
    pub frameworks: Vec<FrameworkInfo>,
    /// The version of its resources it last reported (upstream
    /// `Slave::resourceVersion`).
    pub resource_version: Option<mesos_proto::mesos::Uuid>,
    /// When the master told it to drain (seconds since the epoch; upstream
    /// `Slave::estimatedDrainStartTime`), until it is reactivated.
    pub estimated_drain_start_time: Option<f64>,
    observer: PID<SlaveObserver>,
}

/// How often the `--whitelist` file is read (upstream
/// `WHITELIST_WATCH_INTERVAL`).
const WHITELIST_WATCH_INTERVAL: Duration = Duration::from_secs(5);

/// How often the master looks for state JSON to write ahead.
const WRITE_AHEAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// When the master looks for state JSON to write ahead again after it found
/// something waiting for it.
const WRITE_AHEAD_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// The longest the master writes ahead before it looks at its queue again.
const WRITE_AHEAD_SLICE: std::time::Duration = std::time::Duration::from_millis(2);

/// A registered agent with the parts of its JSON that do not depend on
/// tasks or offers, kept until the agent changes.
pub type SlaveEntry = crate::kept::Kept<Slave, SlaveJson>;

/// An agent's JSON, in two parts around what depends on tasks and offers
/// (its used and offered resources in the state endpoints, its allocated
/// and offered resources in the v1 operator API); each document's parts
/// are written the first time it lists the agent after it changed.
#[derive(Debug, Default)]
pub struct SlaveJson {
    /// As the state endpoints write it (`/master/state`, `/master/slaves`).
    pub state: std::cell::OnceCell<(Box<str>, Box<str>)>,
    /// As the v1 operator API writes it (`GetAgents.Agent`).
    pub v1: std::cell::OnceCell<(Box<str>, Box<str>)>,
}

/// The agents, by state.
#[derive(Default)]
pub struct Slaves {
    /// Registered agents by id.
    pub registered: HashMap<String, SlaveEntry>,
    /// Agents from the registry that have not re-registered since the
    /// master started.
    pub recovered: HashMap<String, SlaveInfo>,
    /// Agents marked unreachable, with when.
    pub unreachable: HashMap<String, TimeInfo>,
    /// Agents marked gone, with when.
    pub gone: HashMap<String, TimeInfo>,
    /// The tasks filed as unreachable when each agent was marked
    /// unreachable, by agent then framework id (upstream
    /// `Slaves::unreachableTasks`).
    pub(crate) unreachable_tasks: HashMap<String, HashMap<String, Vec<String>>>,
    /// The drain info of agents being drained or drained, recovered,
    /// registered or unreachable ones (upstream `Slaves::draining`); kept
    /// in the registry. Each is also deactivated.
    pub draining: HashMap<String, DrainInfo>,
    /// Agents the operator deactivated, recovered, registered or
    /// unreachable ones (upstream `Slaves::deactivated`); kept in the
    /// registry.
    pub deactivated: HashSet<String>,
    registering: HashSet<UPID>,
    pub(crate) reregistering: HashSet<String>,
    marking_unreachable: HashSet<String>,
    pub(crate) marking_gone: HashSet<String>,
    /// Draining agents being marked `DRAINED` in the registry.
    pub(crate) marking_drained: HashSet<String>,
    removing: HashSet<String>,
}

impl Slaves {
    /// The drain info of agent `id` and whether it is deactivated, as the
    /// endpoints show them.
    pub fn drain_of(&self, id: &str) -> (Option<DrainInfo>, bool) {
        (
            self.draining.get(id).copied(),
            self.deactivated.contains(id),
        )
    }

    /// Drops the JSON kept for registered agent `id` after its drain
    /// state changed (the state lives beside the agent, not in it).
    pub(crate) fn drain_changed(&mut self, id: &str) {
        if let Some(entry) = self.registered.get_mut(id) {
            entry.changed();
        }
    }

    /// Forgets the drain state of an agent that was removed or marked
    /// gone (an unreachable agent keeps its own, as upstream).
    pub(crate) fn forget_drain(&mut self, id: &str) {
        self.draining.remove(id);
        self.deactivated.remove(id);
        self.marking_drained.remove(id);
    }
}

/// The master process.
pub struct Master {
    pub(crate) base: ProcessBase<Self>,
    /// The flags it runs with.
    pub flags: Arc<Flags>,
    /// Its `MasterInfo` (id, address, version, capabilities).
    pub info: MasterInfo,
    registrar: Arc<Registrar>,
    /// When the master started (seconds since the epoch).
    pub start_time: f64,
    /// When it became leader; a standalone master is elected once its
    /// registry is recovered.
    pub elected_time: Option<f64>,
    /// The agents.
    pub slaves: Slaves,
    /// The frameworks.
    pub frameworks: Frameworks,
    /// Outstanding offers by id.
    pub offers: HashMap<String, OfferState>,
    /// Operations sent to agents and not yet forgotten.
    pub operations: crate::operation_feedback::Operations,
    /// The `files` process, which serves the master's log (`/master/log`).
    pub files: Option<mesos_files::Files>,
    /// Inverse offers and the frameworks' answers ([`crate::inverse_offers`]).
    pub(crate) inverse_offers: crate::inverse_offers::InverseOffers,
    pub(crate) allocator: Box<dyn Allocator>,
    pub(crate) next_offer_id: u64,
    pub(crate) allocation_pending: bool,
    /// Suppressed roles of the subscription being handled, for the
    /// allocator.
    pub(crate) pending_suppressed: Vec<String>,
    /// How many admitted agents the registry held at recovery.
    recovered_from_registry: usize,
    /// While set, no allocation runs until this many agents are known
    /// (upstream's allocator recovery, with quota after a failover).
    pub(crate) allocation_paused_for: Option<usize>,
    /// The offer constraints of the SUBSCRIBE in progress, and their filter.
    pub(crate) pending_offer_constraints: (
        mesos_proto::mesos::scheduler::OfferConstraints,
        Option<Arc<crate::offer_constraints::OfferConstraintsFilter>>,
    ),
    /// The operator API event streams.
    pub(crate) subscribers: crate::subscribers::Subscribers,
    /// Configured role weights (roles not listed weigh 1).
    pub weights: BTreeMap<String, f64>,
    /// HTTP authentication of the endpoints.
    pub(crate) http_auth: crate::http_auth::HttpAuthentication,
    /// `--agent_removal_rate_limit` and its metrics, shared with the
    /// agents' observers.
    removals: crate::observer::Removals,
    /// The maintenance schedule and machines ([`crate::maintenance`]).
    pub maintenance: crate::maintenance::Maintenance,
    /// Role quotas, by role ([`crate::quota`]).
    pub quotas: BTreeMap<String, mesos_proto::mesos::quota::QuotaConfig>,
    /// The roles `--roles` allows, if it is set (deprecated upstream).
    pub role_whitelist: Option<BTreeSet<String>>,
    next_slave_id: u64,
    self_addr: Option<actix::WeakAddr<Master>>,
    /// Where writing ahead the state JSON goes on.
    write_ahead_cursor: std::cell::Cell<crate::state_json::WriteAheadCursor>,
    /// The document size the buffer being faulted in is for.
    prefault_wanted: std::cell::Cell<Option<usize>>,
    /// Whether the last write-ahead pass had nothing left to do.
    written_ahead: std::cell::Cell<bool>,
    gauges_pending: bool,
    /// Whether a copy of the allocator's metrics is queued.
    allocator_metrics_pending: std::cell::Cell<bool>,
    /// The counters behind `/metrics/snapshot` ([`crate::metrics`]).
    pub(crate) metrics: crate::metrics::Metrics,
    /// What the gauges behind `/metrics/snapshot` read.
    pub(crate) gauges: Arc<crate::metrics::Gauges>,
    /// The last read-only document written ([`crate::http`]): requests
    /// that queued up while it was being written are answered with it.
    pub(crate) readonly_batch: std::cell::RefCell<Option<crate::http::Batched>>,
    /// A buffer for the next read-only document, faulted in while idle
    /// (see [`crate::http::prefault_document`]).
    pub(crate) spare_document: std::cell::RefCell<Option<crate::http::SpareDocument>>,
    /// What the frameworks' tasks use, as last summed for a state document.
    pub(crate) tasks_usage: std::cell::RefCell<Option<std::rc::Rc<crate::state_json::TasksUsage>>>,
    /// Authentication sessions and the principals clients authenticated.
    pub auth: crate::authentication::Authentications,
}

impl Master {
    /// Returns the master process for `flags`, storing its registry with
    /// `registrar`. `address` is the runtime's advertised address.
    pub fn new(
        flags: Arc<Flags>,
        registrar: Arc<Registrar>,
        address: std::net::SocketAddrV4,
    ) -> Self {
        let hostname = flags.hostname.clone().unwrap_or_else(|| {
            if flags.hostname_lookup {
                libprocess::os::hostname().unwrap_or_else(|_| address.ip().to_string())
            } else {
                address.ip().to_string()
            }
        });
        let pid = UPID::new("master", address);
        // Checked by `Flags::validate`.
        let domain = flags.parsed_domain().ok().flatten();
        let info = MasterInfo {
            id: uuid::Uuid::new_v4().to_string(),
            // Network byte order read as a host integer, as upstream stores it.
            ip: u32::from_le_bytes(address.ip().octets()),
            port: u32::from(address.port()),
            pid: Some(pid.to_string()),
            hostname: Some(hostname.clone()),
            version: Some(crate::VERSION.to_string()),
            address: Some(Address {
                hostname: Some(hostname),
                ip: Some(address.ip().to_string()),
                port: i32::from(address.port()),
            }),
            domain: domain.clone(),
            capabilities: [
                master_info::capability::Type::AgentUpdate,
                master_info::capability::Type::AgentDraining,
                master_info::capability::Type::QuotaV2,
            ]
            .into_iter()
            .map(|t| master_info::Capability {
                r#type: Some(t as i32),
            })
            .collect(),
        };
        // `Flags::validate` already refused bad values.
        let role_whitelist = flags.role_whitelist().unwrap_or_default();
        if role_whitelist.is_some() {
            tracing::warn!(
                "The '--roles' flag is deprecated. This flag will be removed in the future. \
                 See the Mesos 0.27 upgrade notes for more information"
            );
        }
        let weights = flags
            .parsed_weights(role_whitelist.as_ref())
            .unwrap_or_default();
        let auth = crate::authentication::Authentications::new(&flags);
        let mut drf = HierarchicalDrf::default();
        drf.set_filter_gpu_resources(flags.filter_gpu_resources);
        drf.set_fair_sharing_excluded(&flags.fair_sharing_excluded());
        drf.set_region(
            domain
                .as_ref()
                .and_then(|d| d.fault_domain.as_ref())
                .map(|f| f.region.name.clone()),
        );
        // Checked by `Flags::validate`.
        if let Ok(min) = crate::allocator::MinAllocatable::parse(&flags.min_allocatable_resources) {
            drf.set_min_allocatable(min);
        }
        let allocator: Box<dyn Allocator> = Box::new(drf);
        // Checked by `Flags::validate`.
        let http_auth = crate::http_auth::HttpAuthentication::new(
            flags.authenticate_http_readonly,
            flags.authenticate_http_readwrite,
            flags.authenticate_http_frameworks,
            &flags
                .load_http_credentials()
                .ok()
                .flatten()
                .unwrap_or_default(),
        );
        let removals = crate::observer::Removals {
            // Checked by `Flags::validate`.
            limiter: flags
                .agent_removal_rate_limit
                .as_deref()
                .and_then(|limit| crate::observer::RemovalLimiter::parse(limit).ok())
                .map(|limiter| std::sync::Arc::new(std::sync::Mutex::new(limiter))),
            ..Default::default()
        };
        Self {
            base: ProcessBase::new("master"),
            flags,
            info,
            registrar,
            start_time: libprocess::clock::now_secs(),
            elected_time: None,
            slaves: Slaves::default(),
            frameworks: Frameworks::default(),
            offers: HashMap::new(),
            operations: Default::default(),
            files: None,
            inverse_offers: Default::default(),
            allocator,
            next_offer_id: 0,
            allocation_pending: false,
            pending_suppressed: Vec::new(),
            recovered_from_registry: 0,
            allocation_paused_for: None,
            pending_offer_constraints: Default::default(),
            subscribers: Default::default(),
            weights,
            removals,
            http_auth,
            quotas: BTreeMap::new(),
            maintenance: Default::default(),
            role_whitelist,
            next_slave_id: 0,
            self_addr: None,
            write_ahead_cursor: Default::default(),
            prefault_wanted: Default::default(),
            written_ahead: Default::default(),
            gauges_pending: false,
            allocator_metrics_pending: std::cell::Cell::new(false),
            metrics: Default::default(),
            gauges: Arc::default(),
            readonly_batch: std::cell::RefCell::new(None),
            spare_document: std::cell::RefCell::new(None),
            tasks_usage: std::cell::RefCell::new(None),
            auth,
        }
    }

    /// Counts an `AuthenticateMessage` (`master/messages_authenticate`).
    pub(crate) fn count_authenticate(&self) {
        self.metrics.messages_authenticate.inc();
    }

    /// Refreshes the agent gauges after a change: once, after the messages
    /// already queued (counting is O(agents), so a burst of registrations
    /// must not count once per agent).
    pub(crate) fn refresh_gauges(&mut self) {
        if self.gauges_pending {
            return;
        }
        let Some(addr) = self.self_addr.as_ref().and_then(|a| a.upgrade()) else {
            self.count_gauges();
            return;
        };
        self.gauges_pending = true;
        self.base.dispatch(&addr, |master: &mut Master, _| {
            master.gauges_pending = false;
            master.count_gauges();
        });
    }

    /// Runs `f` on the master after the messages already queued (nothing
    /// when the master is not running).
    pub(crate) fn soon(&self, f: impl FnOnce(&mut Master, &mut Context<Master>) + Send + 'static) {
        if let Some(addr) = self.self_addr.as_ref().and_then(|a| a.upgrade()) {
            self.base.dispatch(&addr, f);
        }
    }

    /// Copies the allocator's metrics into the `allocator/*` gauges soon
    /// (once per burst of changes: O(roles + frameworks) each time).
    pub(crate) fn refresh_allocator_metrics(&self) {
        if self.allocator_metrics_pending.replace(true) {
            return;
        }
        let Some(addr) = self.self_addr.as_ref().and_then(|a| a.upgrade()) else {
            self.allocator_metrics_pending.set(false);
            self.metrics.allocator_changed(self.allocator.metrics());
            return;
        };
        self.base.dispatch(&addr, |master: &mut Master, _| {
            master.allocator_metrics_pending.set(false);
            master.metrics.allocator_changed(master.allocator.metrics());
        });
    }

    /// Recounts the gauges that are not running sums: agents, frameworks,
    /// the agents' total resources and the unreachable tasks. O(agents +
    /// frameworks + completed tasks), so only after changes that move them.
    fn count_gauges(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let g = &self.gauges;
        let registered = self.slaves.registered.values();
        let connected = registered.clone().filter(|s| s.connected).count() as u64;
        let active = registered.clone().filter(|s| s.active).count() as u64;
        let total = self.slaves.registered.len() as u64;
        g.elected.store(self.recovered(), Relaxed);
        g.slaves_connected.store(connected, Relaxed);
        g.slaves_disconnected.store(total - connected, Relaxed);
        g.slaves_active.store(active, Relaxed);
        g.slaves_inactive.store(total - active, Relaxed);
        g.slaves_unreachable
            .store(self.slaves.unreachable.len() as u64, Relaxed);
        g.total
            .set(registered.flat_map(|s| s.total_resources.iter()));
        // Frameworks known only from re-registering agents (MESOS-6419)
        // are upstream's `frameworks.recovered`, not counted.
        let frameworks = self.frameworks.registered.values().filter(|f| !f.recovered);
        let total = frameworks.clone().count() as u64;
        let connected = frameworks.clone().filter(|f| f.connected).count() as u64;
        let active = frameworks.clone().filter(|f| f.active).count() as u64;
        for framework in self.frameworks.registered.values() {
            framework
                .metrics
                .set_subscribed(framework.connected && !framework.recovered);
        }
        for framework in &self.frameworks.completed {
            framework.metrics.set_subscribed(false);
        }
        g.frameworks_connected.store(connected, Relaxed);
        g.frameworks_disconnected.store(total - connected, Relaxed);
        g.frameworks_active.store(active, Relaxed);
        g.frameworks_inactive.store(total - active, Relaxed);
        // Upstream counts its frameworks' `unreachableTasks`; here they are
        // the completed tasks left `TASK_UNREACHABLE` (see `state_json`).
        let mut unreachable = 0;
        for framework in frameworks {
            let mut seen = HashSet::new();
            for task in &framework.completed_tasks {
                if task.state == mesos_proto::mesos::TaskState::TaskUnreachable as i32
                    && !framework.tasks().contains_key(&task.task_id.value)
                    && seen.insert(&task.task_id.value)
                {
                    unreachable += 1;
                }
            }
        }
        g.tasks_unreachable.store(unreachable, Relaxed);
        self.refresh_allocator_metrics();
    }

    /// Refreshes `master/operator_event_stream_subscribers`.
    pub(crate) fn refresh_subscriber_gauge(&self) {
        self.gauges.operator_subscribers.store(
            self.subscribers.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Returns whether registry recovery finished (the master serves).
    pub fn recovered(&self) -> bool {
        self.elected_time.is_some()
    }

    fn connection(&self) -> MasterSlaveConnection {
        MasterSlaveConnection {
            total_ping_timeout_seconds: Some(
                self.flags.agent_ping_timeout.as_secs_f64()
                    * f64::from(self.flags.max_agent_ping_timeouts),
            ),
        }
    }

    fn recover(&mut self, ctx: &mut Context<Self>) {
        let registrar = self.registrar.clone();
        let info = self.info.clone();
        ctx.spawn(
            async move { registrar.recover(info).await }
                .into_actor(self)
                .map(|result, this, ctx| match result {
                    Ok(registry) => this.recovered_registry(registry, ctx),
                    Err(error) => {
                        tracing::error!(%error, "Failed to recover the registry");
                        std::process::exit(1);
                    }
                }),
        );
    }

    fn recovered_registry(
        &mut self,
        registry: mesos_proto::mesos::internal::Registry,
        ctx: &mut Context<Self>,
    ) {
        for slave in registry.slaves.unwrap_or_default().slaves {
            let id = slave
                .info
                .id
                .as_ref()
                .map(|id| id.value.clone())
                .unwrap_or_default();
            self.recover_drain(&id, slave.drain_info, slave.deactivated);
            self.slaves.recovered.insert(id, slave.info);
            self.recovered_from_registry += 1;
        }
        for slave in registry.unreachable.unwrap_or_default().slaves {
            self.recover_drain(&slave.id.value, slave.drain_info, slave.deactivated);
            self.slaves
                .unreachable
                .insert(slave.id.value, slave.timestamp);
        }
        for slave in registry.gone.unwrap_or_default().slaves {
            self.slaves.gone.insert(slave.id.value, slave.timestamp);
        }
        self.recover_weights(registry.weights, ctx);
        self.recover_quotas(registry.quota_configs, registry.quotas);
        self.pause_allocation_for_recovery(ctx);
        let machines: Vec<mesos_proto::mesos::MachineInfo> = registry
            .machines
            .unwrap_or_default()
            .machines
            .into_iter()
            .map(|m| m.info)
            .collect();
        self.maintenance = crate::maintenance::Maintenance::recover(&registry.schedules, &machines);
        self.elected_time = Some(libprocess::clock::now_secs());
        self.refresh_gauges();
        tracing::info!(
            master_id = %self.info.id,
            recovered_agents = self.slaves.recovered.len(),
            "Recovered the registry; elected"
        );
        self.base.delay(
            self.flags.allocation_interval,
            &ctx.address(),
            |this, ctx| this.allocation_tick(ctx),
        );
        self.base.delay(
            self.flags.registry_gc_interval,
            &ctx.address(),
            |this, ctx| this.registry_gc(ctx),
        );
        self.base
            .delay(WRITE_AHEAD_INTERVAL, &ctx.address(), |this, ctx| {
                this.write_ahead(ctx)
            });
        if let Some(path) = self.flags.whitelist_path() {
            self.watch_whitelist(path, None, ctx);
        }
        if !self.slaves.recovered.is_empty() {
            self.base.delay(
                self.flags.agent_reregister_timeout,
                &ctx.address(),
                |this, ctx| this.recovered_slaves_timeout(ctx),
            );
        }
    }

    /// With quota, offers wait after a failover until
    /// `--allocator_agent_recovery_factor` of the registry's agents are
    /// back, or `--allocator_recovery_timeout` passed (upstream
    /// `HierarchicalAllocatorProcess::recover`): allocating on a partial
    /// view could lay aside for quota what other roles need.
    fn pause_allocation_for_recovery(&mut self, ctx: &mut Context<Self>) {
        if self.quotas.is_empty() {
            return;
        }
        let expected = (self.recovered_from_registry as f64
            * self.flags.allocator_agent_recovery_factor) as usize;
        if expected == 0 {
            return;
        }
        tracing::info!(
            expected,
            timeout = %libprocess::flags::format_duration(self.flags.allocator_recovery_timeout),
            "Triggered allocator recovery: waiting for agents to reconnect"
        );
        self.allocation_paused_for = Some(expected);
        self.base.delay(
            self.flags.allocator_recovery_timeout,
            &ctx.address(),
            |this, ctx| {
                if this.allocation_paused_for.take().is_some() {
                    tracing::info!("Allocator recovery timed out; resuming offers");
                    this.schedule_allocation(ctx);
                }
            },
        );
    }

    /// Resumes offers once enough agents are back (see
    /// [`Self::pause_allocation_for_recovery`]).
    pub(crate) fn check_allocation_recovery(&mut self, ctx: &mut Context<Self>) {
        let Some(expected) = self.allocation_paused_for else {
            return;
        };
        if self.slaves.registered.len() >= expected {
            tracing::info!(
                agents = self.slaves.registered.len(),
                "Recovery complete: sufficient amount of agents added"
            );
            self.allocation_paused_for = None;
            self.schedule_allocation(ctx);
        }
    }

    /// Reads the `--whitelist` file and tells the allocator when it changed,
    /// then again every 5 seconds (upstream `WhitelistWatcher`): an empty
    /// file offers no agent, an unreadable one keeps the last whitelist.
    fn watch_whitelist(
        &mut self,
        path: std::path::PathBuf,
        last: Option<HashSet<String>>,
        ctx: &mut Context<Self>,
    ) {
        let whitelist = match std::fs::read_to_string(&path) {
            Ok(text) => Some(
                text.split('\n')
                    .filter(|line| !line.is_empty())
                    .map(str::to_string)
                    .collect::<HashSet<String>>(),
            ),
            Err(error) => {
                tracing::error!(%error, path = %path.display(), "Error reading whitelist file; retrying");
                last.clone()
            }
        };
        if whitelist != last {
            tracing::info!(agents = ?whitelist, "Updated the agent whitelist");
            self.allocator.set_whitelist(whitelist.clone());
            self.schedule_allocation(ctx);
        }
        self.base.delay(
            WHITELIST_WATCH_INTERVAL,
            &ctx.address(),
            move |this, ctx| this.watch_whitelist(path, whitelist, ctx),
        );
    }

    /// Weights stored in the registry win over `--weights`, which is only
    /// used (and then stored) while the registry holds none, as upstream's
    /// `Master::_recover`.
    fn recover_weights(
        &mut self,
        stored: Vec<mesos_proto::mesos::internal::registry::Weight>,
        ctx: &mut Context<Self>,
    ) {
        if !stored.is_empty() {
            if !self.weights.is_empty() {
                tracing::warn!(
                    weights = ?self.flags.weights,
                    "Ignoring --weights flag and recovering the weights from the registry"
                );
                self.weights.clear();
            }
            for weight in stored {
                self.weights
                    .insert(weight.info.role.unwrap_or_default(), weight.info.weight);
            }
        } else if !self.weights.is_empty() {
            let registrar = self.registrar.clone();
            let operation = Operation::UpdateWeights(crate::weights::infos(&self.weights));
            ctx.spawn(async move { registrar.apply(operation).await }.into_actor(self).map(
                |result, _, _| {
                    if let Err(error) = result {
                        tracing::error!(%error, "Failed to store --weights in the registry; exiting");
                        std::process::exit(1);
                    }
                },
            ));
        }
        self.allocator.update_weights(&self.weights);
    }

    /// Writes ahead the state documents' JSON of what changed (beyond
    /// upstream, which writes every document whole): for up to
    /// [`WRITE_AHEAD_SLICE`] at a time (but a framework's task list and its
    /// use per agent, and their sum over the frameworks, are each written
    /// whole: 0.2-0.4 s at 80,000 tasks) while nothing waits for the master,
    /// going on behind what arrived meanwhile; when something waits, again
    /// after [`WRITE_AHEAD_RETRY`]; when all is written, again after
    /// [`WRITE_AHEAD_INTERVAL`].
    fn write_ahead(&mut self, ctx: &mut Context<Self>) {
        let queue = self.base.event_queue();
        let again = if queue.messages() + queue.http_requests() + queue.dispatches() > 0 {
            WRITE_AHEAD_RETRY
        } else if self.write_ahead_slice() {
            std::time::Duration::ZERO
        } else {
            WRITE_AHEAD_INTERVAL
        };
        let write_ahead = |this: &mut Self, ctx: &mut Context<Self>| this.write_ahead(ctx);
        if again.is_zero() {
            self.base.dispatch(&ctx.address(), write_ahead);
        } else {
            self.base.delay(again, &ctx.address(), write_ahead);
        }
    }

    /// One slice of writing ahead; returns whether some is left. Once the
    /// JSON is written, a buffer as large as the next document is faulted
    /// in for it.
    fn write_ahead_slice(&self) -> bool {
        let mut cursor = self.write_ahead_cursor.get();
        let deadline = std::time::Instant::now() + WRITE_AHEAD_SLICE;
        let more = crate::state_json::write_ahead(self, &mut cursor, deadline);
        self.write_ahead_cursor.set(cursor);
        if more {
            self.written_ahead.set(false);
            return true;
        }
        let wanted = match self.prefault_wanted.get() {
            Some(wanted) => wanted,
            None => {
                let wanted = crate::state_json::estimated_len(self);
                self.prefault_wanted.set(Some(wanted));
                wanted
            }
        };
        let more = crate::http::prefault_document(self, wanted, deadline);
        if !more {
            // Estimated again at the end of the next pass.
            self.prefault_wanted.set(None);
        }
        self.written_ahead.set(!more);
        more
    }

    /// Whether the last write-ahead pass found nothing left to do: the
    /// JSON of every task and agent written, and a buffer for the next
    /// document faulted in (the benches wait for it).
    pub fn is_written_ahead(&self) -> bool {
        self.written_ahead.get()
    }

    /// Upstream's `Master::doRegistryGc`: every `--registry_gc_interval`,
    /// unreachable and gone agents beyond `--registry_max_agent_count`
    /// (the oldest first; upstream goes by insertion order, which is the
    /// order of their timestamps unless the clock went back) or older than
    /// `--registry_max_agent_age` are pruned from the registry, then from
    /// the master, with the unreachable agents' tasks.
    fn registry_gc(&mut self, ctx: &mut Context<Self>) {
        self.base.delay(
            self.flags.registry_gc_interval,
            &ctx.address(),
            |this, ctx| this.registry_gc(ctx),
        );
        let now = (libprocess::clock::now_secs() * 1e9) as i64;
        let max_age =
            i64::try_from(self.flags.registry_max_agent_age.as_nanos()).unwrap_or(i64::MAX);
        let max_count = self.flags.registry_max_agent_count;
        let prune = |agents: &HashMap<String, TimeInfo>| -> HashSet<String> {
            let mut by_age: Vec<(&String, i64)> = agents
                .iter()
                .map(|(id, time)| (id, time.nanoseconds))
                .collect();
            by_age.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)));
            let mut remove = HashSet::new();
            for (id, time) in by_age {
                if agents.len() - remove.len() > max_count || now.saturating_sub(time) > max_age {
                    remove.insert(id.clone());
                }
            }
            remove
        };
        let unreachable = prune(&self.slaves.unreachable);
        let gone = prune(&self.slaves.gone);
        if unreachable.is_empty() && gone.is_empty() {
            tracing::debug!(
                "Skipping periodic registry garbage collection: no agents qualify for removal"
            );
            return;
        }
        let registrar = self.registrar.clone();
        let operation = Operation::Prune {
            unreachable: unreachable.clone(),
            gone: gone.clone(),
        };
        ctx.spawn(
            async move { registrar.apply(operation).await }
                .into_actor(self)
                .map(move |result, this, _ctx| {
                    if let Err(error) = result {
                        tracing::error!(%error, "Failed to prune the registry");
                        return;
                    }
                    let mut removed_unreachable = 0;
                    for id in &unreachable {
                        if this.slaves.unreachable.remove(id).is_some() {
                            removed_unreachable += 1;
                        }
                    }
                    let removed_gone = gone
                        .iter()
                        .filter(|id| this.slaves.gone.remove(*id).is_some())
                        .count();
                    // Their unreachable tasks go too (a reconciliation then
                    // answers TASK_UNKNOWN, as upstream), and their drain
                    // state, which left the registry with them.
                    for id in &unreachable {
                        this.forget_unreachable_tasks(id);
                        this.slaves.forget_drain(id);
                    }
                    this.refresh_gauges();
                    tracing::info!(
                        unreachable = removed_unreachable,
                        gone = removed_gone,
                        "Garbage collected unreachable and gone agents from the registry"
                    );
                }),
        );
    }

    fn recovered_slaves_timeout(&mut self, ctx: &mut Context<Self>) {
        // Too many missing agents: give up rather than remove them
        // (upstream `recoveredSlavesTimeout`).
        let limit = self.flags.recovery_removal_limit().unwrap_or(1.0);
        if self.recovered_from_registry > 0 {
            let share = self.slaves.recovered.len() as f64 / self.recovered_from_registry as f64;
            if share > limit {
                let mut ids: Vec<&String> = self.slaves.recovered.keys().collect();
                ids.sort();
                tracing::error!(
                    "Post-recovery agent removal limit exceeded! After {} there were {} ({}%) \
                     agents recovered from the registry that did not reregister: {:?} The \
                     configured removal limit is {}%. Please investigate or increase this \
                     limit to proceed further",
                    libprocess::flags::format_duration(self.flags.agent_reregister_timeout),
                    self.slaves.recovered.len(),
                    share * 100.0,
                    ids,
                    limit * 100.0
                );
                std::process::exit(1);
            }
        }
        let expired: Vec<SlaveInfo> = self.slaves.recovered.values().cloned().collect();
        for info in expired {
            let id = info
                .id
                .as_ref()
                .map(|id| id.value.clone())
                .unwrap_or_default();
            tracing::warn!(slave_id = %id, "Agent did not re-register after master failover");
            // Through the removal rate limiter, as upstream; an agent that
            // re-registers meanwhile is not marked.
            self.removals.scheduled.inc();
            self.metrics.recovery_slave_removals.inc();
            let wait = self.removals.acquire();
            self.base.delay(wait, &ctx.address(), move |this, ctx| {
                if this.slaves.recovered.contains_key(&id)
                    && !this.slaves.reregistering.contains(&id)
                {
                    let reason = "did not reregister after master failover".to_string();
                    this.apply_unreachable(info, reason, ctx);
                } else {
                    this.removals.canceled.inc();
                }
            });
        }
    }

    fn version_ok(version: Option<&str>) -> bool {
        let Some(version) = version else {
            return false;
        };
        let core = version.split(['-', '+']).next().unwrap_or_default();
        let parts: Vec<u64> = core.split('.').filter_map(|p| p.parse().ok()).collect();
        match parts.as_slice() {
            [major, minor, patch] => (*major, *minor, *patch) >= MINIMUM_AGENT_VERSION,
            _ => false,
        }
    }

    /// Whether an agent's domain keeps it out, as upstream: an agent with
    /// a domain when the master has none (it could be remote), or one
    /// without a domain under `--require_agent_domain`. The agent is not
    /// shut down, so it can restart with the right domain.
    fn domain_refused(&self, from: &UPID, slave: &SlaveInfo, attempt: &str) -> bool {
        if let (Some(domain), None) = (&slave.domain, &self.info.domain) {
            tracing::warn!(
                %from, ?domain,
                "Agent is configured with a domain but the master has no configured domain. \
                 Ignoring agent {attempt} attempt"
            );
            return true;
        }
        if self.flags.require_agent_domain && slave.domain.is_none() {
            tracing::warn!(
                %from,
                "Agent attempted to register without a domain, but this master is configured \
                 to require agent domains. Ignoring agent {attempt} attempt"
            );
            return true;
        }
        false
    }

    fn register_slave(
        &mut self,
        from: UPID,
        message: RegisterSlaveMessage,
        ctx: &mut Context<Self>,
    ) {
        self.metrics.messages_register_slave.inc();
        if !self.recovered() {
            tracing::info!(%from, "Dropping agent registration: registry not recovered yet");
            self.metrics.dropped_messages.inc();
            return;
        }
        if self.auth.in_progress(&from) {
            tracing::info!(%from, "Queuing up registration request because authentication is still in progress");
            let queued_from = from.clone();
            self.queue_while_authenticating(
                &from,
                Box::new(move |this, ctx| this.register_slave(queued_from, message, ctx)),
            );
            return;
        }
        if !self.agent_authenticated(&from) {
            // Could be an authentication that failed, or an agent that
            // never tried: either way it is not registered, as upstream.
            tracing::warn!(%from, "Refusing registration of agent because it is not authenticated");
            return;
        }
        if !Self::version_ok(message.version.as_deref()) {
            tracing::warn!(%from, version = ?message.version, "Ignoring registration of an agent older than 1.0.0");
            return;
        }
        if self.domain_refused(&from, &message.slave, "registration") {
            return;
        }
        if self.slaves.registering.contains(&from) {
            tracing::info!(%from, "Ignoring registration: already in progress");
            return;
        }
        if let Some(existing) = self.slaves.registered.values().find(|s| s.pid == from) {
            if existing.connected {
                // A retry that crossed our reply: answer again.
                let id = existing.info.id.clone().unwrap_or_default();
                tracing::info!(%from, slave_id = %id.value, "Agent registered again at the same address");
                self.base.send(
                    &from,
                    &SlaveRegisteredMessage {
                        slave_id: id,
                        connection: Some(self.connection()),
                    },
                );
                return;
            }
            // The agent restarted without recovering: forget the old one.
            let id = existing
                .info
                .id
                .as_ref()
                .map(|id| id.value.clone())
                .unwrap_or_default();
            self.remove_slave(
                &id,
                "a new agent registered at its address",
                Some(self.metrics.slave_removals_reason_registered.clone()),
                ctx,
            );
        }

        if let Err(error) = Self::slave_total(&message.slave, &message.checkpointed_resources) {
            self.refuse_incompatible(&from, &error);
            return;
        }
        if self.refuse_down_machine(&from, &message.slave) {
            return;
        }
        let mut info = message.slave.clone();
        let id = format!("{}-S{}", self.info.id, self.next_slave_id);
        self.next_slave_id += 1;
        info.id = Some(SlaveId { value: id.clone() });
        self.slaves.registering.insert(from.clone());
        tracing::info!(%from, slave_id = %id, hostname = %info.hostname, "Registering agent");

        let registrar = self.registrar.clone();
        let operation = Operation::AdmitSlave(info.clone());
        ctx.spawn(async move { registrar.apply(operation).await }.into_actor(self).map(
            move |result, this, ctx| {
                this.slaves.registering.remove(&from);
                match result {
                    Ok(true) => {
                        let resource_version = message.resource_version_uuid;
                        this.add_slave(info, from.clone(), message.version.unwrap_or_default(), message.agent_capabilities, message.checkpointed_resources, None, ctx);
                        this.metrics.slave_registrations.inc();
                        if let Some(slave) = this.slaves.registered.get_mut(&id) {
                            slave.resource_version = resource_version;
                        }
                        this.base.send(
                            &from,
                            &SlaveRegisteredMessage {
                                slave_id: SlaveId { value: id },
                                connection: Some(this.connection()),
                            },
                        );
                    }
                    Ok(false) => {
                        tracing::warn!(%from, slave_id = %id, "Agent id already admitted; refusing it");
                        this.base.send(
                            &from,
                            &ShutdownMessage { message: Some("Agent id already admitted".into()) },
                        );
                    }
                    Err(error) => {
                        tracing::error!(%error, "Registrar failed; exiting");
                        std::process::exit(1);
                    }
                }
            },
        ));
    }

    fn reregister_slave(
        &mut self,
        from: UPID,
        message: ReregisterSlaveMessage,
        ctx: &mut Context<Self>,
    ) {
        self.metrics.messages_reregister_slave.inc();
        if !self.recovered() {
            tracing::info!(%from, "Dropping agent re-registration: registry not recovered yet");
            self.metrics.dropped_messages.inc();
            return;
        }
        if self.auth.in_progress(&from) {
            tracing::info!(%from, "Queuing up re-registration request because authentication is still in progress");
            let queued_from = from.clone();
            self.queue_while_authenticating(
                &from,
                Box::new(move |this, ctx| this.reregister_slave(queued_from, message, ctx)),
            );
            return;
        }
        if !self.agent_authenticated(&from) {
            tracing::warn!(%from, "Refusing re-registration of agent because it is not authenticated");
            return;
        }
        if !Self::version_ok(message.version.as_deref()) {
            tracing::warn!(%from, version = ?message.version, "Ignoring re-registration of an agent older than 1.0.0");
            return;
        }
        let Some(id) = message.slave.id.as_ref().map(|id| id.value.clone()) else {
            tracing::warn!(%from, "Ignoring re-registration without an agent id");
            return;
        };
        if self.slaves.gone.contains_key(&id) {
            tracing::warn!(%from, slave_id = %id, "Refusing re-registration of an agent marked gone");
            self.base.send(
                &from,
                &ShutdownMessage {
                    message: Some("Agent has been marked gone".into()),
                },
            );
            return;
        }
        if self.slaves.reregistering.contains(&id)
            || self.slaves.marking_unreachable.contains(&id)
            || self.slaves.marking_gone.contains(&id)
            || self.slaves.removing.contains(&id)
        {
            tracing::info!(%from, slave_id = %id, "Ignoring re-registration: another change is in progress");
            return;
        }
        let connection = self.connection();
        if self.refuse_down_machine(&from, &message.slave) {
            return;
        }
        if self.domain_refused(&from, &message.slave, "re-registration") {
            return;
        }
        if !self.slaves.registered.contains_key(&id) {
            if let Err(error) = Self::slave_total(&message.slave, &message.checkpointed_resources) {
                self.refuse_incompatible(&from, &error);
                return;
            }
        }
        if let Some(slave) = self.slaves.registered.get_mut(&id) {
            tracing::info!(%from, slave_id = %id, "Agent re-registered");
            if slave.pid != from {
                slave.pid = from.clone();
            }
            slave.info = message.slave.clone();
            slave.version = message.version.clone().unwrap_or_default();
            slave.capabilities = message.agent_capabilities.clone();
            // The master's view of the checkpointed resources wins: an agent
            // that missed an update gets it again (upstream
            // `Master::___reregisterSlave`). An agent that takes operations
            // itself reports what it applied, and its view wins.
            let stale = Resources::from(message.checkpointed_resources.clone())
                != Resources::from(slave.checkpointed_resources.clone());
            let takes_operations = message.resource_version_uuid.is_some()
                && crate::operation_feedback::has_capability(
                    &message.agent_capabilities,
                    mesos_proto::mesos::slave_info::capability::Type::ResourceProvider,
                );
            let mut resend = None;
            if stale && takes_operations {
                match Self::slave_total(&message.slave, &message.checkpointed_resources) {
                    Ok(total) => {
                        slave.checkpointed_resources = message.checkpointed_resources.clone();
                        slave.total_resources = total.clone();
                        self.allocator.update_slave(&id, total);
                    }
                    Err(error) => {
                        tracing::warn!(slave_id = %id, %error, "Ignoring the checkpointed resources of a re-registering agent");
                    }
                }
            } else if stale {
                resend = Some(slave.checkpointed_resources.clone());
            }
            // Its tasks are reconciled below, not kept a second time.
            slave.tasks = Vec::new();
            slave.executors = message.executor_infos.clone();
            slave.frameworks = message.frameworks.clone();
            slave.connected = true;
            slave.resource_version = message.resource_version_uuid.clone();
            let frameworks = message.frameworks.clone();
            // A deactivated agent stays so (upstream `___reregisterSlave`).
            let deactivated = self.slaves.deactivated.contains(&id);
            slave.active = !deactivated;
            slave.reregistered_time = Some(libprocess::clock::now_secs());
            let pid = from.clone();
            slave
                .observer
                .dispatch(move |observer, _| observer.reconnect(pid));
            self.recover_frameworks(&frameworks);
            self.base.link(&from);
            self.allocator
                .set_slave_info(&id, Arc::new(message.slave.clone()));
            if !deactivated {
                self.allocator.activate_slave(&id);
            }
            self.schedule_allocation(ctx);
            self.refresh_gauges();
            self.metrics.slave_reregistrations.inc();
            if let Some(resources) = resend {
                tracing::info!(slave_id = %id, "Re-sending checkpointed resources to the agent");
                self.base.send(
                    &from,
                    &mesos_proto::mesos::internal::CheckpointResourcesMessage { resources },
                );
            }
            let reconciliations = self.reconcile_known_slave(&id, &message);
            self.base.send(
                &from,
                &SlaveReregisteredMessage {
                    slave_id: SlaveId { value: id.clone() },
                    reconciliations,
                    connection: Some(connection),
                },
            );
            self.drain_reregistered(&id, ctx);
            return;
        }

        // Recovered, unreachable or unknown: readmit through the registrar.
        self.slaves.reregistering.insert(id.clone());
        let registrar = self.registrar.clone();
        let operation = Operation::MarkSlaveReachable(message.slave.clone());
        ctx.spawn(async move { registrar.apply(operation).await }.into_actor(self).map(
            move |result, this, ctx| {
                this.slaves.reregistering.remove(&id);
                match result {
                    Ok(true) => {
                        let was_recovered = this.slaves.recovered.remove(&id).is_some();
                        let was_unreachable = this.slaves.unreachable.remove(&id).is_some();
                        tracing::info!(%from, slave_id = %id, "Readmitted agent");
                        if !was_recovered {
                            this.tasks_reachable_again(&id, &message.tasks, was_unreachable);
                        }
                        let version = message.version.clone().unwrap_or_default();
                        let resource_version = message.resource_version_uuid.clone();
                        this.recover_frameworks(&message.frameworks);
                        this.add_slave(
                            message.slave.clone(),
                            from.clone(),
                            version,
                            message.agent_capabilities.clone(),
                            message.checkpointed_resources.clone(),
                            Some(message),
                            ctx,
                        );
                        this.metrics.slave_reregistrations.inc();
                        if let Some(slave) = this.slaves.registered.get_mut(&id) {
                            slave.resource_version = resource_version;
                        }
                        // Deactivated and told to drain again before it
                        // hears it is back, as upstream `__reregisterSlave`.
                        this.drain_reregistered(&id, ctx);
                        this.base.send(
                            &from,
                            &SlaveReregisteredMessage {
                                slave_id: SlaveId { value: id },
                                reconciliations: vec![],
                                connection: Some(this.connection()),
                            },
                        );
                    }
                    Ok(false) => {
                        tracing::warn!(%from, slave_id = %id, "Refusing re-registration of an agent marked gone");
                        this.base.send(
                            &from,
                            &ShutdownMessage { message: Some("Agent has been marked gone".into()) },
                        );
                    }
                    Err(error) => {
                        tracing::error!(%error, "Registrar failed; exiting");
                        std::process::exit(1);
                    }
                }
            },
        ));
    }

    /// `UpdateSlaveMessage` (upstream `Master::updateSlave`), for what
    /// applies without resource providers: the oversubscribed resources
    /// replace the revocable part of the agent's total (unless
    /// `update_oversubscribed_resources` is false; agents before 1.5 leave
    /// it unset and always mean it), the resource version is stored, the
    /// allocator learns the new total and offers holding revocable
    /// resources are rescinded. An update that changes nothing is ignored.
    /// The operations it reports on its own resources are reconciled with
    /// those the master holds (`slave_reported_operations`); resource
    /// providers are not tracked by this master (our agent has none): they
    /// are logged and left out.
    fn update_slave(&mut self, message: UpdateSlaveMessage, ctx: &mut Context<Self>) {
        self.metrics.messages_update_slave.inc();
        let id = message.slave_id.value.clone();
        // Read first: taking the entry to change drops its kept JSON.
        let Some(slave) = self.slaves.registered.get(&id) else {
            tracing::warn!(slave_id = %id, "Ignoring update on removed agent");
            return;
        };
        let has_oversubscribed = message.update_oversubscribed_resources.unwrap_or(true);
        let agent_resources = |r: &Resource| r.provider_id.is_none();
        let mut total = slave
            .total_resources
            .non_revocable()
            .filter(agent_resources);
        if has_oversubscribed {
            tracing::info!(
                slave_id = %id,
                oversubscribed = %Resources::from(message.oversubscribed_resources.clone()),
                "Received update of agent with total oversubscribed resources"
            );
            total += &Resources::from(message.oversubscribed_resources.clone());
        } else {
            total += &slave.total_resources.revocable().filter(agent_resources);
        }
        let version_changed = message
            .resource_version_uuid
            .as_ref()
            .is_some_and(|uuid| slave.resource_version.as_ref() != Some(uuid));
        if message
            .resource_providers
            .as_ref()
            .is_some_and(|p| !p.providers.is_empty())
        {
            tracing::warn!(slave_id = %id, "Ignoring the resource providers of an agent update: not supported by this master");
        }
        let reported = message.operations.as_ref().map(|o| o.operations.as_slice());
        let same = total == slave.total_resources && !version_changed;
        if same && !self.slave_reported_operations(&id, reported, true) {
            tracing::info!(slave_id = %id, "Ignoring update on agent as it reports no changes");
            // An agent that takes operations reports its pending ones only
            // now, so a draining one may be drained (upstream does the same).
            self.check_draining_agent_soon(&id);
            return;
        }
        self.slave_reported_operations(&id, reported, false);
        let Some(slave) = self.slaves.registered.get_mut(&id) else {
            return;
        };
        if let Some(uuid) = message.resource_version_uuid {
            slave.resource_version = Some(uuid);
        }
        slave.total_resources = total.clone();
        self.allocator.update_slave(&id, total);
        if has_oversubscribed {
            // The agent sends its oversubscribed resources regularly: only
            // offers holding revocable resources are rescinded.
            self.rescind_offers(|offer| {
                offer.slave_id.value == id && offer.resources.iter().any(|r| r.revocable.is_some())
            });
        }
        self.schedule_allocation(ctx);
    }

    /// An agent the master still holds re-registered (upstream
    /// `reconcileKnownSlave`): tasks the master knows on it that it did not
    /// report go back to it as reconciliation requests, one
    /// `ReconcileTasksMessage` per framework (the agent answers
    /// `TASK_LOST` / `TASK_DROPPED` for those it does not know); executors
    /// it did not report are forgotten and their resources recovered.
    fn reconcile_known_slave(
        &mut self,
        id: &str,
        message: &ReregisterSlaveMessage,
    ) -> Vec<ReconcileTasksMessage> {
        let reported_tasks: HashSet<(&str, &str)> = message
            .tasks
            .iter()
            .map(|t| (t.framework_id.value.as_str(), t.task_id.value.as_str()))
            .collect();
        let reported_executors: HashSet<(&str, &str)> = message
            .executor_infos
            .iter()
            .map(|e| {
                (
                    e.framework_id.as_ref().map_or("", |f| f.value.as_str()),
                    e.executor_id.value.as_str(),
                )
            })
            .collect();
        let now = libprocess::clock::now_secs();
        let mut reconciliations = Vec::new();
        let mut freed = Vec::new();
        let mut frameworks: Vec<_> = self.frameworks.registered.iter_mut().collect();
        frameworks.sort_by(|a, b| a.0.cmp(b.0));
        let gauges = &self.gauges;
        for (framework_id, framework) in frameworks {
            if framework.recovered {
                continue;
            }
            let mut missing: Vec<&Task> = framework
                .tasks()
                .values()
                .map(|t| &***t)
                .filter(|t| t.slave_id.value == id)
                .filter(|t| {
                    !reported_tasks.contains(&(framework_id.as_str(), t.task_id.value.as_str()))
                })
                .collect();
            missing.sort_by(|a, b| a.task_id.value.cmp(&b.task_id.value));
            if !missing.is_empty() {
                tracing::warn!(slave_id = %id, %framework_id, tasks = missing.len(), "Tasks unknown to the re-registering agent: reconciling with it");
                reconciliations.push(ReconcileTasksMessage {
                    framework_id: FrameworkId {
                        value: framework_id.clone(),
                    },
                    statuses: missing
                        .iter()
                        .map(|task| TaskStatus {
                            task_id: task.task_id.clone(),
                            slave_id: Some(SlaveId {
                                value: id.to_string(),
                            }),
                            state: task.status_update_state.unwrap_or(task.state),
                            source: Some(task_status::Source::Master as i32),
                            message: Some("Reconciliation request".into()),
                            reason: Some(task_status::Reason::Reconciliation as i32),
                            timestamp: Some(now),
                            ..Default::default()
                        })
                        .collect(),
                    framework: Some(framework.info.clone()),
                });
            }
            if let Some(known) = framework.executors.get_mut(id) {
                known.retain(|executor_id, executor| {
                    let kept =
                        reported_executors.contains(&(framework_id.as_str(), executor_id.as_str()));
                    if !kept {
                        tracing::warn!(slave_id = %id, %framework_id, %executor_id, "Executor possibly unknown to the re-registering agent: removing it");
                        gauges.executor_changed(&executor.resources, -1);
                        freed.push((
                            framework_id.clone(),
                            Resources::from(executor.resources.clone()),
                        ));
                    }
                    kept
                });
            }
        }
        let elapsed = libprocess::clock::elapsed();
        for (framework_id, resources) in freed {
            self.allocator
                .recover_resources(&framework_id, id, &resources, None, elapsed);
        }
        reconciliations
    }

    #[allow(clippy::too_many_arguments)]
    fn add_slave(
        &mut self,
        info: SlaveInfo,
        pid: UPID,
        version: String,
        capabilities: Vec<slave_info::Capability>,
        checkpointed_resources: Vec<Resource>,
        reregistration: Option<ReregisterSlaveMessage>,
        ctx: &mut Context<Self>,
    ) {
        let id = info
            .id
            .as_ref()
            .map(|id| id.value.clone())
            .unwrap_or_default();
        self.base.link(&pid);
        let observer = SlaveObserver::new(
            pid.clone(),
            id.clone(),
            self.base.handle(ctx.address()),
            self.flags.agent_ping_timeout,
            self.flags.max_agent_ping_timeouts,
            self.removals.clone(),
        );
        let runtime = self.base.runtime().cloned();
        let Some(observer) = runtime.and_then(|rt| rt.spawn(observer).ok()) else {
            tracing::error!(slave_id = %id, "Failed to start the agent's health checker");
            return;
        };
        let now = libprocess::clock::now_secs();
        let id_for_allocator = id.clone();
        let reregistered_time = reregistration.as_ref().map(|_| now);
        let (tasks, executors, frameworks) = reregistration
            .map(|m| (m.tasks, m.executor_infos, m.frameworks))
            .unwrap_or_default();
        let total_resources = Self::slave_total(&info, &checkpointed_resources)
            .unwrap_or_else(|_| Resources::from(info.resources.clone()));
        self.slaves.registered.insert(
            id,
            SlaveEntry::new(Slave {
                info,
                pid,
                version,
                capabilities,
                registered_time: now,
                reregistered_time,
                connected: true,
                active: true,
                checkpointed_resources,
                total_resources,
                tasks,
                executors,
                frameworks,
                resource_version: None,
                estimated_drain_start_time: None,
                observer,
            }),
        );
        self.slave_added(&id_for_allocator, ctx);
        self.notify_agent_added(&id_for_allocator);
        self.refresh_gauges();
    }

    /// Returns an agent's total: its static resources with its
    /// checkpointed ones applied; an error if they do not fit.
    fn slave_total(info: &SlaveInfo, checkpointed: &[Resource]) -> Result<Resources, String> {
        mesos_proto::conversions::apply_checkpointed_resources(
            &Resources::from(info.resources.clone()),
            checkpointed,
        )
        .map_err(|e| e.to_string())
    }

    /// Refuses an agent on a machine that is `DOWN` for maintenance, as
    /// upstream does; returns whether it was refused.
    fn refuse_down_machine(&self, from: &UPID, info: &SlaveInfo) -> bool {
        if !self
            .maintenance
            .is_down(&info.hostname, &from.ip.to_string())
        {
            return false;
        }
        tracing::warn!(%from, hostname = %info.hostname, "Refusing agent of a machine in DOWN mode");
        self.base.send(
            from,
            &ShutdownMessage {
                message: Some("Machine is `DOWN`".into()),
            },
        );
        true
    }

    /// Refuses an agent whose checkpointed resources do not fit its
    /// resources, as upstream does (it is told to shut down).
    fn refuse_incompatible(&self, from: &UPID, error: &str) {
        let message =
            format!("Checkpointed resources are incompatible with agent resources: {error}");
        tracing::warn!(%from, %message, "Refusing agent");
        self.base.send(
            from,
            &ShutdownMessage {
                message: Some(message),
            },
        );
    }

    /// Returns the registrar.
    pub fn registrar(&self) -> Arc<Registrar> {
        self.registrar.clone()
    }

    /// Forgets agent `id` after the registrar marked it gone, and tells it
    /// to shut down.
    pub(crate) fn agent_gone(&mut self, id: &str, timestamp: TimeInfo) {
        self.slaves.marking_gone.remove(id);
        self.slaves.forget_drain(id);
        self.slaves.recovered.remove(id);
        if self.slaves.unreachable.remove(id).is_some() {
            self.unreachable_tasks_gone(id, "Agent has been marked gone");
        }
        if let Some(slave) = self.slaves.registered.remove(id) {
            slave.observer.terminate();
            self.forget_authentication(&slave.pid);
            self.slave_removed(id, AgentLeft::Gone, "Agent has been marked gone");
            self.base.send(
                &slave.pid,
                &ShutdownMessage {
                    message: Some("Agent has been marked gone".into()),
                },
            );
        }
        self.slaves.gone.insert(id.to_string(), timestamp);
        self.refresh_gauges();
        tracing::info!(slave_id = %id, "Marked agent gone");
    }

    /// Marks agent `id` unreachable (called by its observer).
    pub fn mark_unreachable(&mut self, id: &str, reason: &str, ctx: &mut Context<Self>) {
        let Some(slave) = self.slaves.registered.get(id) else {
            return;
        };
        tracing::warn!(slave_id = %id, %reason, "Marking agent unreachable");
        let info = slave.info.clone();
        self.apply_unreachable(info, reason.to_string(), ctx);
    }

    /// Marks an agent unreachable in the registry, then in the master;
    /// `reason` is the message of its tasks' updates.
    fn apply_unreachable(&mut self, info: SlaveInfo, reason: String, ctx: &mut Context<Self>) {
        let id = info
            .id
            .as_ref()
            .map(|id| id.value.clone())
            .unwrap_or_default();
        if !self.slaves.marking_unreachable.insert(id.clone()) {
            return;
        }
        let time = TimeInfo {
            nanoseconds: (libprocess::clock::now_secs() * 1e9) as i64,
        };
        let registrar = self.registrar.clone();
        let operation = Operation::MarkSlaveUnreachable(info, time);
        ctx.spawn(
            async move { registrar.apply(operation).await }
                .into_actor(self)
                .map(move |result, this, _ctx| {
                    this.slaves.marking_unreachable.remove(&id);
                    match result {
                        Ok(true) => {
                            this.slaves.recovered.remove(&id);
                            if let Some(slave) = this.slaves.registered.remove(&id) {
                                slave.observer.terminate();
                                this.forget_authentication(&slave.pid);
                                this.slave_removed(&id, AgentLeft::Unreachable(time), &reason);
                            }
                            this.slaves.unreachable.insert(id.clone(), time);
                            this.refresh_gauges();
                            this.metrics.slave_unreachable_completed.inc();
                            tracing::info!(slave_id = %id, "Marked agent unreachable");
                        }
                        Ok(false) => {}
                        Err(error) => {
                            tracing::error!(%error, "Registrar failed; exiting");
                            std::process::exit(1);
                        }
                    }
                }),
        );
    }

    /// `counter` is the `master/slave_removals/reason_*` counter of the
    /// reason, counted with `master/slave_removals` once the registry
    /// removed the agent.
    pub(crate) fn remove_slave(
        &mut self,
        id: &str,
        reason: &str,
        counter: Option<libprocess::metrics::Counter>,
        ctx: &mut Context<Self>,
    ) {
        let Some(slave) = self.slaves.registered.get(id) else {
            return;
        };
        if !self.slaves.removing.insert(id.to_string()) {
            return;
        }
        tracing::info!(slave_id = %id, %reason, "Removing agent");
        let message = format!("Agent {} removed: {reason}", slave.info.hostname);
        let registrar = self.registrar.clone();
        let operation = Operation::RemoveSlave(slave.info.clone());
        let id = id.to_string();
        ctx.spawn(
            async move { registrar.apply(operation).await }
                .into_actor(self)
                .map(move |result, this, _ctx| {
                    this.slaves.removing.remove(&id);
                    match result {
                        Ok(_) => {
                            if let Some(slave) = this.slaves.registered.remove(&id) {
                                slave.observer.terminate();
                                this.forget_authentication(&slave.pid);
                                this.slaves.forget_drain(&id);
                                this.slave_removed(&id, AgentLeft::Removed, &message);
                                this.publish(|| crate::subscribers::agent_removed(&id));
                            }
                            this.refresh_gauges();
                            this.metrics.slave_removals.inc();
                            if let Some(counter) = &counter {
                                counter.inc();
                            }
                        }
                        Err(error) => {
                            tracing::error!(%error, "Registrar failed; exiting");
                            std::process::exit(1);
                        }
                    }
                }),
        );
    }

    fn unregister_slave(
        &mut self,
        from: UPID,
        message: UnregisterSlaveMessage,
        ctx: &mut Context<Self>,
    ) {
        self.metrics.messages_unregister_slave.inc();
        let id = message.slave_id.value;
        match self.slaves.registered.get(&id) {
            Some(slave) if slave.pid == from => self.remove_slave(
                &id,
                "the agent unregistered",
                Some(self.metrics.slave_removals_reason_unregistered.clone()),
                ctx,
            ),
            Some(_) => {
                tracing::warn!(%from, slave_id = %id, "Ignoring unregistration from another address")
            }
            None => {
                tracing::info!(%from, slave_id = %id, "Ignoring unregistration of an unknown agent")
            }
        }
    }

    fn register_metrics(&mut self) {
        let Some(runtime) = self.base.runtime().cloned() else {
            return;
        };
        self.metrics = crate::metrics::Metrics::register(&runtime, &self.gauges, self.start_time);
        let metrics = runtime.metrics();
        self.removals.scheduled = metrics.counter("master/slave_unreachable_scheduled");
        self.removals.canceled = metrics.counter("master/slave_unreachable_canceled");
        self.registrar.register_metrics(metrics);
        // Upstream's `master/event_queue_*`: what waits in the master's
        // queue, by kind.
        let queue = std::sync::Arc::downgrade(self.base.event_queue());
        let gauge = |name: &str, read: fn(&libprocess::EventQueue) -> usize| {
            let queue = queue.clone();
            metrics.gauge(name, move || {
                queue.upgrade().map_or(0.0, |q| read(&q) as f64)
            });
        };
        gauge("master/event_queue_messages", |q| q.messages());
        gauge("master/event_queue_dispatches", |q| q.dispatches());
        gauge("master/event_queue_http_requests", |q| q.http_requests());
    }
}

impl actix::Actor for Master {
    type Context = Context<Self>;
}

impl Process for Master {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }

    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }

    fn initialize(&mut self, ctx: &mut Context<Self>) {
        self.self_addr = Some(ctx.address().downgrade());
        self.base
            .install::<RegisterSlaveMessage>(|this, ctx, from, message| {
                this.register_slave(from, message, ctx)
            });
        self.base
            .install::<ReregisterSlaveMessage>(|this, ctx, from, message| {
                this.reregister_slave(from, message, ctx)
            });
        self.base
            .install::<UnregisterSlaveMessage>(|this, ctx, from, message| {
                this.unregister_slave(from, message, ctx)
            });
        self.base
            .install::<UpdateSlaveMessage>(|this, ctx, _from, message| {
                if this.recovered() {
                    this.update_slave(message, ctx)
                }
            });
        self.base
            .install::<mesos_proto::mesos::internal::UpdateOperationStatusMessage>(
                |this, _ctx, _from, message| {
                    if this.recovered() {
                        this.operation_status_update(message)
                    }
                },
            );
        self.base
            .install::<mesos_proto::mesos::internal::AuthenticateMessage>(
                |this, ctx, from, message| this.authenticate(from, message.pid, ctx),
            );
        self.install_framework_handlers();
        self.install_task_handlers();
        crate::http::install(self);
        self.register_metrics();
        self.recover(ctx);
    }

    fn exited(&mut self, pid: &UPID, ctx: &mut Context<Self>) {
        if self.framework_exited(pid, ctx) {
            return;
        }
        let Some(slave) = self.slaves.registered.values_mut().find(|s| s.pid == *pid) else {
            return;
        };
        if slave.connected {
            tracing::info!(%pid, slave_id = ?slave.info.id.as_ref().map(|id| &id.value), "Agent disconnected");
            slave.connected = false;
            slave.active = false;
            slave.observer.dispatch(|observer, _| observer.disconnect());
            let id = slave
                .info
                .id
                .as_ref()
                .map(|id| id.value.clone())
                .unwrap_or_default();
            let hostname = slave.info.hostname.clone();
            self.allocator.deactivate_slave(&id);
            self.rescind_offers(|offer| offer.slave_id.value == id);
            self.remove_non_checkpointing_frameworks(&id, &hostname);
            self.refresh_gauges();
        }
    }
}

libprocess::process_handlers!(Master);

/// Spawns the master on `runtime` and makes it the delegate, so `/state`
/// and `/api/v1/scheduler` reach it without the `/master` prefix.
pub fn spawn(
    runtime: &libprocess::Runtime,
    flags: Arc<Flags>,
    registrar: Arc<Registrar>,
) -> Result<PID<Master>, libprocess::SpawnError> {
    // libprocess's `/metrics/snapshot` is in the read-only realm too, and
    // `/logging/toggle` in the read-write one.
    let basic = || {
        mesos_authentication::basic::BasicAuthenticator::new(
            &flags
                .load_http_credentials()
                .ok()
                .flatten()
                .unwrap_or_default(),
        )
    };
    runtime.set_disabled_endpoints(flags.disabled_endpoints().unwrap_or_default());
    // Upstream's registrar process serves what it holds at
    // `/registrar(1)/registry` (`RegistrarProcess::registry`).
    let held = registrar.clone();
    runtime.route_builtin(
        "registrar(1)",
        "/registry",
        Arc::new(move |request: libprocess::http::Request| {
            let registrar = held.clone();
            Box::pin(async move {
                let registry = registrar.registry().await;
                libprocess::http::Response::json(
                    mesos_proto::json::to_string(&registry),
                    request.query_param("jsonp"),
                )
            })
        }),
    );
    if flags.authenticate_http_readonly {
        let guard = basic().guard(crate::http_auth::Realm::ReadOnly.name());
        runtime.guard_builtin("metrics", "/snapshot", guard.clone());
        runtime.guard_builtin("registrar(1)", "/registry", guard);
    }
    if flags.authenticate_http_readwrite {
        let guard = basic().guard(crate::http_auth::Realm::ReadWrite.name());
        runtime.guard_builtin("logging", "/toggle", guard);
    }
    // Upstream's master has a `files` process too; it serves the log.
    let files = if runtime.has_process("files") {
        None
    } else {
        let guard = flags
            .authenticate_http_readonly
            .then(|| basic().guard(crate::http_auth::Realm::ReadOnly.name()));
        Some(mesos_files::Files::spawn_guarded(runtime, guard)?)
    };
    let log_file = flags.log_file();
    let mut master = Master::new(flags, registrar, runtime.address());
    master.files = files.clone();
    let master = runtime.spawn(master)?;
    if let (Some(files), Some(log_file)) = (files, log_file) {
        actix::spawn(async move {
            if let Err(error) = files.attach(log_file.clone(), "/master/log").await {
                tracing::error!(%error, path = %log_file.display(), "Failed to attach the log file");
            }
        });
    }
    runtime.set_delegate(Some("master"));
    runtime.set_version(crate::version_json());
    Ok(master)
}

/// How long to wait between retries when something needs the master to be
/// recovered first.
pub const RECOVERY_POLL: Duration = Duration::from_millis(10);

/// Returns the address of a spawned master, for tests and tools.
pub fn addr(pid: &PID<Master>) -> Addr<Master> {
    pid.addr().clone()
}
