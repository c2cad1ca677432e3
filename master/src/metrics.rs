//! The master's metrics, served in `/metrics/snapshot`.
//!
//! Upstream counterpart: `src/master/metrics.{hpp,cpp}`. Names and types
//! (counter or gauge) are upstream 1.11's. Upstream reads each gauge inside
//! the master process when the snapshot is taken (`defer(master, ..)`), and
//! counts tasks by walking every agent's tasks. Here the snapshot is taken
//! outside the master actor, so every gauge reads a shared atomic:
//! - task counts by state and the resources tasks and executors use are
//!   running sums, changed where a task enters, changes state or leaves
//!   ([`Gauges::task_added`], [`Gauges::task_removed`]), so a snapshot
//!   costs the same at 400k tasks as at none;
//! - agent, framework and total-resource gauges are recounted by the master
//!   after the changes that move them (`Master::refresh_gauges`, once per
//!   burst of messages).
//!
//! The allocator's metrics (upstream `src/master/allocator/mesos/metrics.cpp`)
//! are here too ([`AllocatorGauges`]): the allocator lives inside the master
//! actor, so the master copies [`Allocator::metrics`], which costs O(roles +
//! frameworks), into them once per burst of offer and framework changes
//! (`Master::refresh_allocator_metrics`), and per-role gauges are
//! registered and removed as roles come and go.
//!
//! [`Allocator::metrics`]: crate::allocator::Allocator::metrics
//!
//! Scalar sums are kept in thousandths, as upstream's fixed-point
//! `Value::Scalar` arithmetic, so adding and removing the same resources
//! gives back exactly what was there.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libprocess::metrics::{Counter, Timer};
use mesos_proto::mesos::offer::operation::Type as OperationType;
use mesos_proto::mesos::{task_status, OperationState, Resource, Task, TaskState};

use crate::allocator::{AllocatorMetrics, SHARE_NAMES};

/// The scalar resources upstream reports in `master/<name>_*`, in upstream's
/// order.
pub const RESOURCE_NAMES: [&str; 4] = ["cpus", "gpus", "mem", "disk"];

/// Sums of the [`RESOURCE_NAMES`] scalars, non-revocable then revocable,
/// in thousandths.
#[derive(Default)]
pub struct ScalarSums([AtomicI64; 8]);

impl ScalarSums {
    /// Adds (`sign` 1) or subtracts (`sign` -1) `resources`.
    pub fn add<'a>(&self, resources: impl IntoIterator<Item = &'a Resource>, sign: i64) {
        for resource in resources {
            let Some(index) = RESOURCE_NAMES.iter().position(|n| *n == resource.name) else {
                continue;
            };
            let Some(scalar) = &resource.scalar else {
                continue;
            };
            let index = index + if resource.revocable.is_some() { 4 } else { 0 };
            let milli = (scalar.value * 1000.0).round() as i64;
            self.0[index].fetch_add(sign * milli, Relaxed);
        }
    }

    /// Replaces the sums with those of `resources`.
    pub fn set<'a>(&self, resources: impl IntoIterator<Item = &'a Resource>) {
        let mut sums = [0i64; 8];
        for resource in resources {
            let Some(index) = RESOURCE_NAMES.iter().position(|n| *n == resource.name) else {
                continue;
            };
            let Some(scalar) = &resource.scalar else {
                continue;
            };
            let index = index + if resource.revocable.is_some() { 4 } else { 0 };
            sums[index] += (scalar.value * 1000.0).round() as i64;
        }
        for (sum, value) in self.0.iter().zip(sums) {
            sum.store(value, Relaxed);
        }
    }

    /// Returns the sum of resource `index` (into [`RESOURCE_NAMES`]).
    pub fn get(&self, index: usize, revocable: bool) -> f64 {
        let index = index + if revocable { 4 } else { 0 };
        self.0[index].load(Relaxed) as f64 / 1000.0
    }
}

/// What the master's gauges read; shared with the snapshot.
#[derive(Default)]
pub struct Gauges {
    /// `master/elected`.
    pub elected: AtomicBool,
    /// `master/slaves_connected`.
    pub slaves_connected: AtomicU64,
    /// `master/slaves_disconnected`.
    pub slaves_disconnected: AtomicU64,
    /// `master/slaves_active`.
    pub slaves_active: AtomicU64,
    /// `master/slaves_inactive`.
    pub slaves_inactive: AtomicU64,
    /// `master/slaves_unreachable`.
    pub slaves_unreachable: AtomicU64,
    /// `master/frameworks_connected`.
    pub frameworks_connected: AtomicU64,
    /// `master/frameworks_disconnected`.
    pub frameworks_disconnected: AtomicU64,
    /// `master/frameworks_active`.
    pub frameworks_active: AtomicU64,
    /// `master/frameworks_inactive`.
    pub frameworks_inactive: AtomicU64,
    /// `master/outstanding_offers`.
    pub outstanding_offers: AtomicU64,
    /// `master/operator_event_stream_subscribers`.
    pub operator_subscribers: AtomicU64,
    /// `master/tasks_unreachable`.
    pub tasks_unreachable: AtomicU64,
    /// Active tasks by non-terminal state (`master/tasks_staging`, ..).
    tasks: [AtomicI64; ACTIVE_STATES.len()],
    /// The agents' totals (`master/<r>_total`, `master/<r>_revocable_total`).
    pub total: ScalarSums,
    /// What non-terminal tasks and known executors use (`master/<r>_used`).
    pub used: ScalarSums,
    /// What outstanding offers hold.
    pub offered: ScalarSums,
}

/// The non-terminal states with a `master/tasks_<state>` gauge, and their
/// names. `TASK_UNREACHABLE` tasks leave the active tasks and are counted
/// apart ([`Gauges::tasks_unreachable`]).
const ACTIVE_STATES: [(TaskState, &str); 4] = [
    (TaskState::TaskStaging, "master/tasks_staging"),
    (TaskState::TaskStarting, "master/tasks_starting"),
    (TaskState::TaskRunning, "master/tasks_running"),
    (TaskState::TaskKilling, "master/tasks_killing"),
];

impl Gauges {
    fn state_index(task: &Task) -> Option<usize> {
        ACTIVE_STATES
            .iter()
            .position(|(state, _)| *state as i32 == task.state)
    }

    fn is_terminal(task: &Task) -> bool {
        TaskState::try_from(task.state).is_ok_and(TaskState::is_terminal)
    }

    /// A task joined the active tasks (or is about to change state: see
    /// [`Gauges::task_removed`]).
    pub fn task_added(&self, task: &Task) {
        if let Some(index) = Self::state_index(task) {
            self.tasks[index].fetch_add(1, Relaxed);
        }
        if !Self::is_terminal(task) {
            self.used.add(&task.resources, 1);
        }
    }

    /// A task left the active tasks; called before a state change too,
    /// with [`Gauges::task_added`] after it.
    pub fn task_removed(&self, task: &Task) {
        if let Some(index) = Self::state_index(task) {
            self.tasks[index].fetch_sub(1, Relaxed);
        }
        if !Self::is_terminal(task) {
            self.used.add(&task.resources, -1);
        }
    }

    /// An executor's resources became used (`sign` 1) or free (-1).
    pub fn executor_changed(&self, resources: &[Resource], sign: i64) {
        self.used.add(resources, sign);
    }
}

/// Returns a proto enum name in lower case, as upstream's
/// `strings::lower(Enum_Name(..))`.
fn lower(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// The operation states upstream counts, in the order of its
/// `Metrics::OperationStates` (`master/operations/<state>`).
const OPERATION_STATES: [(OperationState, &str); 8] = [
    (OperationState::OperationPending, "pending"),
    (OperationState::OperationRecovering, "recovering"),
    (OperationState::OperationUnreachable, "unreachable"),
    (OperationState::OperationFinished, "finished"),
    (OperationState::OperationFailed, "failed"),
    (OperationState::OperationError, "error"),
    (OperationState::OperationDropped, "dropped"),
    (OperationState::OperationGoneByOperator, "gone_by_operator"),
];

/// The operation types with gauges of their own
/// (`master/operations/<type>/<state>`): every type but `UNKNOWN`,
/// `LAUNCH` and `LAUNCH_GROUP`, as upstream.
const OPERATION_TYPES: [OperationType; 8] = [
    OperationType::Reserve,
    OperationType::Unreserve,
    OperationType::Create,
    OperationType::Destroy,
    OperationType::GrowVolume,
    OperationType::ShrinkVolume,
    OperationType::CreateDisk,
    OperationType::DestroyDisk,
];

/// Upstream's `master/operations/*` gauges (push gauges there): for all
/// operations and for each type, `total` and one gauge per state. An
/// operation counts in the state it is in while the master holds it; a
/// terminal state counts for good (the gauges of terminal states are
/// lifetime totals, as upstream's `removeOperation` leaves them), and an
/// agent that leaves adds its operations to `unreachable` or
/// `gone_by_operator`.
#[derive(Clone, Default)]
pub struct OperationGauges(
    Arc<[[AtomicI64; 1 + OPERATION_STATES.len()]; 1 + OPERATION_TYPES.len()]>,
);

impl OperationGauges {
    fn register(m: &libprocess::metrics::Metrics) -> Self {
        let gauges = Self::default();
        let prefixes = std::iter::once("master/operations/".to_string()).chain(
            OPERATION_TYPES
                .iter()
                .map(|t| format!("master/operations/{}/", lower(t.as_str_name()))),
        );
        for (row, prefix) in prefixes.enumerate() {
            let names = std::iter::once("total").chain(OPERATION_STATES.iter().map(|(_, n)| *n));
            for (column, name) in names.enumerate() {
                let g = gauges.clone();
                m.gauge(&format!("{prefix}{name}"), move || {
                    g.0[row][column].load(Relaxed) as f64
                });
            }
        }
        gauges
    }

    /// Adds `delta` operations of `kind` in `state` (upstream
    /// `Metrics::incrementOperationState` / `decrementOperationState`).
    pub fn add(&self, kind: OperationType, state: OperationState, delta: i64) {
        let Some(column) = OPERATION_STATES.iter().position(|(s, _)| *s == state) else {
            tracing::error!(state = state.as_str_name(), "Unexpected operation state");
            return;
        };
        let rows = std::iter::once(0).chain(
            OPERATION_TYPES
                .iter()
                .position(|t| *t == kind)
                .map(|index| index + 1),
        );
        for row in rows {
            self.0[row][0].fetch_add(delta, Relaxed);
            self.0[row][column + 1].fetch_add(delta, Relaxed);
        }
    }

    /// Moves an operation of `kind` from state `from` to `to` (upstream
    /// `Metrics::transitionOperationState`).
    pub fn transition(&self, kind: OperationType, from: OperationState, to: OperationState) {
        if from != to {
            self.add(kind, from, -1);
            self.add(kind, to, 1);
        }
    }

    /// Returns the gauge for `kind` (`None`: all types) in `state`
    /// (`None`: `total`).
    pub fn get(&self, kind: Option<OperationType>, state: Option<OperationState>) -> i64 {
        let row = match kind {
            None => 0,
            Some(kind) => match OPERATION_TYPES.iter().position(|t| *t == kind) {
                Some(index) => index + 1,
                None => return 0,
            },
        };
        let column = match state {
            None => 0,
            Some(state) => match OPERATION_STATES.iter().position(|(s, _)| *s == state) {
                Some(index) => index + 1,
                None => return 0,
            },
        };
        self.0[row][column].load(Relaxed)
    }
}

/// The master's counters, and the registry for those created on demand.
#[derive(Default)]
pub struct Metrics {
    runtime: Option<libprocess::Runtime>,
    /// `master/task_<state>/source_<source>/reason_<reason>`, created the
    /// first time they count, as upstream's `incrementTasksStates`.
    tasks_states: RefCell<HashMap<(i32, i32, i32), Counter>>,
    /// `master/tasks_<state>` counters of terminal states.
    terminal: HashMap<i32, Counter>,
    /// `allocator/mesos/allocation_runs`.
    pub allocation_runs: Counter,
    /// `allocator/mesos/allocation_run_ms`: how long the allocator's
    /// cycles take.
    pub allocation_run: Timer,
    /// `allocator/mesos/allocation_run_latency_ms`: how long a requested
    /// allocation waits to run.
    pub allocation_run_latency: Timer,
    /// The allocator's gauges.
    allocator: Arc<AllocatorGauges>,
    /// `master/operations/*`.
    pub operations: OperationGauges,
    /// `master/dropped_messages`.
    pub dropped_messages: Counter,
    /// `master/slave_registrations`.
    pub slave_registrations: Counter,
    /// `master/slave_reregistrations`.
    pub slave_reregistrations: Counter,
    /// `master/slave_removals`.
    pub slave_removals: Counter,
    /// `master/slave_removals/reason_registered`.
    pub slave_removals_reason_registered: Counter,
    /// `master/slave_removals/reason_unregistered`.
    pub slave_removals_reason_unregistered: Counter,
    /// `master/slave_unreachable_completed`.
    pub slave_unreachable_completed: Counter,
    /// `master/recovery_slave_removals`.
    pub recovery_slave_removals: Counter,
    /// `master/messages_register_framework`.
    pub messages_register_framework: Counter,
    /// `master/messages_reregister_framework`.
    pub messages_reregister_framework: Counter,
    /// `master/messages_unregister_framework`.
    pub messages_unregister_framework: Counter,
    /// `master/messages_deactivate_framework`.
    pub messages_deactivate_framework: Counter,
    /// `master/messages_kill_task`.
    pub messages_kill_task: Counter,
    /// `master/messages_status_update_acknowledgement`.
    pub messages_status_update_acknowledgement: Counter,
    /// `master/messages_operation_status_update_acknowledgement`.
    pub messages_operation_status_update_acknowledgement: Counter,
    /// `master/messages_resource_request`.
    pub messages_resource_request: Counter,
    /// `master/messages_launch_tasks`.
    pub messages_launch_tasks: Counter,
    /// `master/messages_decline_offers`.
    pub messages_decline_offers: Counter,
    /// `master/messages_revive_offers`.
    pub messages_revive_offers: Counter,
    /// `master/messages_suppress_offers`.
    pub messages_suppress_offers: Counter,
    /// `master/messages_reconcile_operations`.
    pub messages_reconcile_operations: Counter,
    /// `master/messages_reconcile_tasks`.
    pub messages_reconcile_tasks: Counter,
    /// `master/messages_framework_to_executor`.
    pub messages_framework_to_executor: Counter,
    /// `master/messages_executor_to_framework`.
    pub messages_executor_to_framework: Counter,
    /// `master/messages_register_slave`.
    pub messages_register_slave: Counter,
    /// `master/messages_reregister_slave`.
    pub messages_reregister_slave: Counter,
    /// `master/messages_unregister_slave`.
    pub messages_unregister_slave: Counter,
    /// `master/messages_status_update`.
    pub messages_status_update: Counter,
    /// `master/messages_operation_status_update`.
    pub messages_operation_status_update: Counter,
    /// `master/messages_exited_executor`.
    pub messages_exited_executor: Counter,
    /// `master/messages_update_slave`.
    pub messages_update_slave: Counter,
    /// `master/messages_authenticate`.
    pub messages_authenticate: Counter,
    /// `master/http_cache_hits`: read-only requests answered with the
    /// document written for a request before (batching).
    pub http_cache_hits: Counter,
    /// `master/valid_framework_to_executor_messages`.
    pub valid_framework_to_executor_messages: Counter,
    /// `master/invalid_framework_to_executor_messages`.
    pub invalid_framework_to_executor_messages: Counter,
    /// `master/valid_executor_to_framework_messages`.
    pub valid_executor_to_framework_messages: Counter,
    /// `master/invalid_executor_to_framework_messages`.
    pub invalid_executor_to_framework_messages: Counter,
    /// `master/valid_status_updates`.
    pub valid_status_updates: Counter,
    /// `master/invalid_status_updates`.
    pub invalid_status_updates: Counter,
    /// `master/valid_status_update_acknowledgements`.
    pub valid_status_update_acknowledgements: Counter,
    /// `master/invalid_status_update_acknowledgements`.
    pub invalid_status_update_acknowledgements: Counter,
    /// `master/valid_operation_status_updates`.
    pub valid_operation_status_updates: Counter,
    /// `master/invalid_operation_status_updates`.
    pub invalid_operation_status_updates: Counter,
    /// `master/valid_operation_status_update_acknowledgements`.
    pub valid_operation_status_update_acknowledgements: Counter,
    /// `master/invalid_operation_status_update_acknowledgements`.
    pub invalid_operation_status_update_acknowledgements: Counter,
}

/// The window of the allocation timers' statistics, as upstream's.
const ALLOCATION_WINDOW: Duration = Duration::from_secs(60 * 60);

/// The resources with `allocator/mesos/resources/<name>/*` gauges, as
/// upstream's (indices into [`SHARE_NAMES`]).
const ALLOCATOR_RESOURCES: [usize; 3] = [0, 1, 2];

/// What a per-role allocator gauge reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum RoleGauge {
    /// `roles/<role>/shares/dominant`.
    Share(String),
    /// `offer_filters/roles/<role>/active`.
    OfferFilters(String),
    /// `quota/roles/<role>/resources/<name>/guarantee`.
    Guarantee(String, usize),
    /// `quota/roles/<role>/resources/<name>/limit`.
    Limit(String, usize),
    /// `quota/roles/<role>/resources/<name>/offered_or_allocated`.
    QuotaAllocated(String, usize),
}

impl RoleGauge {
    fn name(&self) -> String {
        let resource = |role: &str, index: usize, what: &str| {
            format!(
                "allocator/mesos/quota/roles/{role}/resources/{}/{what}",
                SHARE_NAMES[index]
            )
        };
        match self {
            Self::Share(role) => format!("allocator/mesos/roles/{role}/shares/dominant"),
            Self::OfferFilters(role) => {
                format!("allocator/mesos/offer_filters/roles/{role}/active")
            }
            Self::Guarantee(role, i) => resource(role, *i, "guarantee"),
            Self::Limit(role, i) => resource(role, *i, "limit"),
            Self::QuotaAllocated(role, i) => resource(role, *i, "offered_or_allocated"),
        }
    }

    fn read(&self, metrics: &AllocatorMetrics) -> Option<f64> {
        match self {
            Self::Share(role) => metrics.roles.get(role).map(|r| r.dominant_share),
            Self::OfferFilters(role) => metrics.roles.get(role).map(|r| r.offer_filters as f64),
            Self::Guarantee(role, i) => metrics.quotas.get(role).map(|(q, _)| q.guarantee[*i]),
            Self::Limit(role, i) => metrics.quotas.get(role).map(|(q, _)| q.limit[*i]),
            Self::QuotaAllocated(role, i) => metrics.quotas.get(role).map(|(_, a)| a[*i]),
        }
    }

    /// The gauges `metrics` calls for: two per role; per role with a
    /// quota, `guarantee` for the resources it guarantees, `limit` for
    /// those it limits, and `offered_or_allocated` for either.
    fn all(metrics: &AllocatorMetrics) -> BTreeSet<Self> {
        let mut gauges = BTreeSet::new();
        for role in metrics.roles.keys() {
            gauges.insert(Self::Share(role.clone()));
            gauges.insert(Self::OfferFilters(role.clone()));
        }
        for (role, (quota, _)) in &metrics.quotas {
            for i in 0..SHARE_NAMES.len() {
                let guaranteed = quota.guarantee[i] > 0.0;
                let limited = quota.limit[i].is_finite();
                if guaranteed {
                    gauges.insert(Self::Guarantee(role.clone(), i));
                }
                if limited {
                    gauges.insert(Self::Limit(role.clone(), i));
                }
                if guaranteed || limited {
                    gauges.insert(Self::QuotaAllocated(role.clone(), i));
                }
            }
        }
        gauges
    }
}

/// The `allocator/*` gauges: what the allocator last reported, and the
/// per-role gauges registered for it.
#[derive(Default)]
pub struct AllocatorGauges {
    metrics: Mutex<AllocatorMetrics>,
    registered: Mutex<BTreeSet<RoleGauge>>,
}

impl AllocatorGauges {
    fn metrics(&self) -> std::sync::MutexGuard<'_, AllocatorMetrics> {
        self.metrics.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers the fixed gauges in `m`.
    fn register(m: &libprocess::metrics::Metrics) -> Arc<Self> {
        let this = Arc::new(Self::default());
        // The allocator runs inside the master actor: it has no event
        // queue of its own, so nothing is ever queued for it.
        m.gauge("allocator/event_queue_dispatches", || 0.0);
        m.gauge("allocator/mesos/event_queue_dispatches", || 0.0);
        for index in ALLOCATOR_RESOURCES {
            let name = SHARE_NAMES[index];
            let gauges = Arc::downgrade(&this);
            m.gauge(
                &format!("allocator/mesos/resources/{name}/total"),
                move || gauges.upgrade().map_or(0.0, |g| g.metrics().total[index]),
            );
            let gauges = Arc::downgrade(&this);
            m.gauge(
                &format!("allocator/mesos/resources/{name}/offered_or_allocated"),
                move || {
                    gauges
                        .upgrade()
                        .map_or(0.0, |g| g.metrics().offered_or_allocated[index])
                },
            );
        }
        this
    }

    /// Keeps `metrics`, registering the per-role gauges it calls for and
    /// removing those it no longer does.
    fn update(self: &Arc<Self>, m: &libprocess::metrics::Metrics, metrics: AllocatorMetrics) {
        let wanted = RoleGauge::all(&metrics);
        *self.metrics() = metrics;
        let mut registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
        if *registered == wanted {
            return;
        }
        for gone in registered.difference(&wanted) {
            m.remove(&gone.name());
        }
        for new in wanted.difference(&registered) {
            let gauges = Arc::downgrade(self);
            let gauge = new.clone();
            m.optional_gauge(&new.name(), move || {
                gauge.read(&gauges.upgrade()?.metrics())
            });
        }
        *registered = wanted;
    }
}

/// The terminal states with a `master/tasks_<state>` counter.
const TERMINAL_STATES: [(TaskState, &str); 8] = [
    (TaskState::TaskFinished, "master/tasks_finished"),
    (TaskState::TaskFailed, "master/tasks_failed"),
    (TaskState::TaskKilled, "master/tasks_killed"),
    (TaskState::TaskLost, "master/tasks_lost"),
    (TaskState::TaskError, "master/tasks_error"),
    (TaskState::TaskDropped, "master/tasks_dropped"),
    (TaskState::TaskGone, "master/tasks_gone"),
    (
        TaskState::TaskGoneByOperator,
        "master/tasks_gone_by_operator",
    ),
];

impl Metrics {
    /// Registers upstream's master metrics in `runtime`'s registry, the
    /// gauges reading `gauges`; `start_time` is when the master started.
    pub fn register(
        runtime: &libprocess::Runtime,
        gauges: &std::sync::Arc<Gauges>,
        start_time: f64,
    ) -> Self {
        let m = runtime.metrics();
        let c = |name: &str| m.counter(name);
        let metrics = Self {
            runtime: Some(runtime.clone()),
            tasks_states: RefCell::default(),
            allocation_runs: c("allocator/mesos/allocation_runs"),
            allocation_run: m.timer_ms("allocator/mesos/allocation_run", Some(ALLOCATION_WINDOW)),
            allocation_run_latency: m.timer_ms(
                "allocator/mesos/allocation_run_latency",
                Some(ALLOCATION_WINDOW),
            ),
            allocator: AllocatorGauges::register(m),
            operations: OperationGauges::register(m),
            terminal: TERMINAL_STATES
                .iter()
                .map(|(state, name)| (*state as i32, c(name)))
                .collect(),
            dropped_messages: c("master/dropped_messages"),
            slave_registrations: c("master/slave_registrations"),
            slave_reregistrations: c("master/slave_reregistrations"),
            slave_removals: c("master/slave_removals"),
            slave_removals_reason_registered: c("master/slave_removals/reason_registered"),
            slave_removals_reason_unregistered: c("master/slave_removals/reason_unregistered"),
            slave_unreachable_completed: c("master/slave_unreachable_completed"),
            recovery_slave_removals: c("master/recovery_slave_removals"),
            messages_register_framework: c("master/messages_register_framework"),
            messages_reregister_framework: c("master/messages_reregister_framework"),
            messages_unregister_framework: c("master/messages_unregister_framework"),
            messages_deactivate_framework: c("master/messages_deactivate_framework"),
            messages_kill_task: c("master/messages_kill_task"),
            messages_status_update_acknowledgement: c(
                "master/messages_status_update_acknowledgement",
            ),
            messages_operation_status_update_acknowledgement: c(
                "master/messages_operation_status_update_acknowledgement",
            ),
            messages_resource_request: c("master/messages_resource_request"),
            messages_launch_tasks: c("master/messages_launch_tasks"),
            messages_decline_offers: c("master/messages_decline_offers"),
            messages_revive_offers: c("master/messages_revive_offers"),
            messages_suppress_offers: c("master/messages_suppress_offers"),
            messages_reconcile_operations: c("master/messages_reconcile_operations"),
            messages_reconcile_tasks: c("master/messages_reconcile_tasks"),
            messages_framework_to_executor: c("master/messages_framework_to_executor"),
            messages_executor_to_framework: c("master/messages_executor_to_framework"),
            messages_register_slave: c("master/messages_register_slave"),
            messages_reregister_slave: c("master/messages_reregister_slave"),
            messages_unregister_slave: c("master/messages_unregister_slave"),
            messages_status_update: c("master/messages_status_update"),
            messages_operation_status_update: c("master/messages_operation_status_update"),
            messages_exited_executor: c("master/messages_exited_executor"),
            messages_update_slave: c("master/messages_update_slave"),
            messages_authenticate: c("master/messages_authenticate"),
            http_cache_hits: c("master/http_cache_hits"),
            valid_framework_to_executor_messages: c("master/valid_framework_to_executor_messages"),
            invalid_framework_to_executor_messages: c(
                "master/invalid_framework_to_executor_messages",
            ),
            valid_executor_to_framework_messages: c("master/valid_executor_to_framework_messages"),
            invalid_executor_to_framework_messages: c(
                "master/invalid_executor_to_framework_messages",
            ),
            valid_status_updates: c("master/valid_status_updates"),
            invalid_status_updates: c("master/invalid_status_updates"),
            valid_status_update_acknowledgements: c("master/valid_status_update_acknowledgements"),
            invalid_status_update_acknowledgements: c(
                "master/invalid_status_update_acknowledgements",
            ),
            valid_operation_status_updates: c("master/valid_operation_status_updates"),
            invalid_operation_status_updates: c("master/invalid_operation_status_updates"),
            valid_operation_status_update_acknowledgements: c(
                "master/valid_operation_status_update_acknowledgements",
            ),
            invalid_operation_status_update_acknowledgements: c(
                "master/invalid_operation_status_update_acknowledgements",
            ),
        };
        // Registered by upstream 1.11 but never counted there: agents that
        // fail health checks are marked unreachable
        // (`master/slave_unreachable_*`), not shut down.
        for name in [
            "master/slave_shutdowns_scheduled",
            "master/slave_shutdowns_completed",
            "master/slave_shutdowns_canceled",
            "master/slave_removals/reason_unhealthy",
        ] {
            m.counter(name);
        }
        metrics.register_gauges(m, gauges, start_time);
        metrics
    }

    fn register_gauges(
        &self,
        m: &libprocess::metrics::Metrics,
        gauges: &std::sync::Arc<Gauges>,
        start_time: f64,
    ) {
        m.gauge("master/uptime_secs", move || {
            libprocess::clock::now_secs() - start_time
        });
        let gauge = |name: &str, read: fn(&Gauges) -> f64| {
            let gauges = gauges.clone();
            m.gauge(name, move || read(&gauges));
        };
        gauge("master/elected", |g| {
            f64::from(u8::from(g.elected.load(Relaxed)))
        });
        gauge("master/slaves_connected", |g| {
            g.slaves_connected.load(Relaxed) as f64
        });
        gauge("master/slaves_disconnected", |g| {
            g.slaves_disconnected.load(Relaxed) as f64
        });
        gauge("master/slaves_active", |g| {
            g.slaves_active.load(Relaxed) as f64
        });
        gauge("master/slaves_inactive", |g| {
            g.slaves_inactive.load(Relaxed) as f64
        });
        gauge("master/slaves_unreachable", |g| {
            g.slaves_unreachable.load(Relaxed) as f64
        });
        gauge("master/frameworks_connected", |g| {
            g.frameworks_connected.load(Relaxed) as f64
        });
        gauge("master/frameworks_disconnected", |g| {
            g.frameworks_disconnected.load(Relaxed) as f64
        });
        gauge("master/frameworks_active", |g| {
            g.frameworks_active.load(Relaxed) as f64
        });
        gauge("master/frameworks_inactive", |g| {
            g.frameworks_inactive.load(Relaxed) as f64
        });
        gauge("master/outstanding_offers", |g| {
            g.outstanding_offers.load(Relaxed) as f64
        });
        gauge("master/operator_event_stream_subscribers", |g| {
            g.operator_subscribers.load(Relaxed) as f64
        });
        gauge("master/tasks_unreachable", |g| {
            g.tasks_unreachable.load(Relaxed) as f64
        });
        for (index, (_, name)) in ACTIVE_STATES.iter().enumerate() {
            let gauges = gauges.clone();
            m.gauge(name, move || {
                gauges.tasks[index].load(Relaxed).max(0) as f64
            });
        }
        for (index, resource) in RESOURCE_NAMES.iter().enumerate() {
            for (revocable, infix) in [(false, ""), (true, "_revocable")] {
                let g = gauges.clone();
                m.gauge(&format!("master/{resource}{infix}_total"), move || {
                    g.total.get(index, revocable)
                });
                let g = gauges.clone();
                m.gauge(&format!("master/{resource}{infix}_used"), move || {
                    g.used.get(index, revocable)
                });
                let g = gauges.clone();
                m.gauge(&format!("master/{resource}{infix}_percent"), move || {
                    let total = g.total.get(index, revocable);
                    if total == 0.0 {
                        0.0
                    } else {
                        g.used.get(index, revocable) / total
                    }
                });
            }
        }
    }

    /// The runtime whose registry holds the metrics, if any.
    pub fn runtime(&self) -> Option<&libprocess::Runtime> {
        self.runtime.as_ref()
    }

    /// Shows what the allocator reports in the `allocator/mesos/*` gauges.
    pub fn allocator_changed(&self, metrics: AllocatorMetrics) {
        if let Some(runtime) = &self.runtime {
            self.allocator.update(runtime.metrics(), metrics);
        }
    }

    /// Counts a task that reached terminal `state` (`master/tasks_<state>`)
    /// and, when the update has a reason,
    /// `master/task_<state>/source_<source>/reason_<reason>`, as upstream's
    /// `updateTask` and `_accept` do. `source` defaults to
    /// `SOURCE_MASTER`, the first value, as protobuf reads an unset field.
    pub fn task_terminated(&self, state: TaskState, source: Option<i32>, reason: Option<i32>) {
        if let Some(counter) = self.terminal.get(&(state as i32)) {
            counter.inc();
        }
        let Some(reason) = reason else {
            return;
        };
        let source = source.unwrap_or(task_status::Source::Master as i32);
        let key = (state as i32, source, reason);
        if let Some(counter) = self.tasks_states.borrow().get(&key) {
            counter.inc();
            return;
        }
        let Some(runtime) = &self.runtime else {
            return;
        };
        let (Ok(source_enum), Ok(reason_enum)) = (
            task_status::Source::try_from(source),
            task_status::Reason::try_from(reason),
        ) else {
            return;
        };
        let name = format!(
            "master/{}/{}/{}",
            lower(state.as_str_name()),
            lower(source_enum.as_str_name()),
            lower(reason_enum.as_str_name()),
        );
        let counter = runtime.metrics().counter(&name);
        counter.inc();
        self.tasks_states.borrow_mut().insert(key, counter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::value;

    fn scalar(name: &str, value: f64) -> Resource {
        Resource {
            name: name.into(),
            r#type: value::Type::Scalar as i32,
            scalar: Some(value::Scalar { value }),
            ..Default::default()
        }
    }

    #[test]
    fn scalar_sums_are_exact_in_thousandths() {
        let sums = ScalarSums::default();
        let resources = vec![
            scalar("cpus", 0.1),
            scalar("mem", 32.0),
            scalar("ports", 1.0),
        ];
        for _ in 0..3 {
            sums.add(&resources, 1);
        }
        sums.add(&resources, -1);
        assert_eq!(sums.get(0, false), 0.2);
        assert_eq!(sums.get(2, false), 64.0);
        assert_eq!(sums.get(0, true), 0.0);
    }

    #[test]
    fn tasks_count_by_state_until_terminal() {
        let gauges = Gauges::default();
        let mut task = Task {
            state: TaskState::TaskStaging as i32,
            resources: vec![scalar("cpus", 1.0)],
            ..Default::default()
        };
        gauges.task_added(&task);
        assert_eq!(gauges.tasks[0].load(Relaxed), 1);
        gauges.task_removed(&task);
        task.state = TaskState::TaskFinished as i32;
        gauges.task_added(&task);
        assert_eq!(gauges.tasks[0].load(Relaxed), 0);
        assert_eq!(gauges.used.get(0, false), 0.0);
    }

    #[test]
    fn allocator_role_gauges_come_and_go_with_roles() {
        use crate::allocator::{Quota, RoleMetrics};
        let m = libprocess::metrics::Metrics::default();
        let gauges = AllocatorGauges::register(&m);
        let mem = "mem".to_string();
        let mut metrics = AllocatorMetrics {
            total: [4.0, 2048.0, 100.0, 0.0],
            ..Default::default()
        };
        metrics.roles.insert(
            "web".into(),
            RoleMetrics {
                dominant_share: 0.25,
                offer_filters: 3,
            },
        );
        let quota = Quota::from_scalars([(&mem, 512.0)], std::iter::empty());
        metrics
            .quotas
            .insert("web".into(), (quota, [0.0, 256.0, 0.0, 0.0]));
        gauges.update(&m, metrics);

        let snapshot = m.snapshot();
        let quota = "allocator/mesos/quota/roles/web/resources";
        assert_eq!(snapshot["allocator/mesos/resources/mem/total"], 2048.0);
        assert_eq!(snapshot["allocator/mesos/roles/web/shares/dominant"], 0.25);
        assert_eq!(
            snapshot["allocator/mesos/offer_filters/roles/web/active"],
            3.0
        );
        assert_eq!(snapshot[&format!("{quota}/mem/guarantee")], 512.0);
        assert_eq!(
            snapshot[&format!("{quota}/mem/offered_or_allocated")],
            256.0
        );
        assert!(!snapshot.contains_key(&format!("{quota}/mem/limit")));
        assert!(!snapshot.contains_key(&format!("{quota}/cpus/guarantee")));

        gauges.update(&m, AllocatorMetrics::default());
        let snapshot = m.snapshot();
        assert!(
            !snapshot.keys().any(|k| k.contains("/web/")),
            "{snapshot:?}"
        );
        assert_eq!(snapshot["allocator/mesos/resources/mem/total"], 0.0);
    }
}
