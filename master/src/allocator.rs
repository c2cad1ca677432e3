//! The allocator: hierarchical DRF over roles, then frameworks.
//!
//! Upstream counterpart: `src/master/allocator/mesos/hierarchical.cpp`
//! with the DRF sorter (`sorter/drf/sorter.cpp`). Each allocation cycle
//! visits every active agent with resources left, and offers everything
//! allocatable there to one framework per role: roles in order of their
//! dominant share, frameworks within a role in order of theirs, each
//! share being the largest fraction of a cluster-wide resource the client
//! holds. A framework is skipped on an agent while a decline filter covers
//! what it would get (`refuse_seconds`), for roles it suppressed, and when
//! what is left is below the minimum allocatable (0.01 cpus or 32 MB mem).
//!
//! The master owns the allocator and calls it synchronously; [`Allocator`]
//! is the seam for other policies.
//!
//! Cost: shares are kept as running sums of scalar quantities, role and
//! framework orders are sorted once per cycle and kept sorted as
//! allocations happen, and each agent counts the eligible frameworks that
//! filter it, so an agent every framework declined is skipped in O(1)
//! (the steady state of upstream's DeclineOffers benchmark). See
//! `benches/allocator.rs`.
//!
//! Roles form a tree by `/` (`a`, `a/b`, `a/b/c`), as in upstream's
//! hierarchical DRF sorter (1.9+): a role's subtree share is what it
//! and its subroles are allocated, over the cluster total. Roles are
//! ordered by walking the tree: siblings in order of their subtree share
//! divided by their weight (`--weights`, `UPDATE_WEIGHTS`; 1 by default),
//! each subtree visited whole before the next sibling. The frameworks of
//! a role that has subroles compete with those subroles as upstream's
//! virtual leaf `a/.`, by the role's own allocation and with weight 1;
//! the role's weight applies to its whole subtree against its siblings.
//! Intermediate roles nobody subscribes to (`a` for `a/b`) are nodes of
//! the tree all the same.
//!
//! Quota (upstream 1.9+ `QuotaConfig`): roles below their guarantee are
//! visited first, and the unreserved resources the guarantees not met
//! yet still need (the "headroom") are laid aside: other roles are not
//! offered unreserved resources that would eat into it, even when the
//! roles with quota have no framework. A role's quota consumption is
//! what it and its subroles are allocated plus their reservations nobody
//! is allocated, as upstream's role tree counts it: a parent's limit
//! caps its whole subtree (scalars are cut down to what is left under
//! the role's own limit and every ancestor's), and a subrole's
//! allocation counts toward its parent's guarantee. The headroom sums
//! the outermost guarantees only, as upstream sums the top-level roles'
//! (a subrole's guarantee lies within its parent's).
//!
//! Equal shares are ordered as upstream's DRF sorters order them: first
//! the role (or framework) allocated something fewer times, then by
//! name.
//!
//! Differences from upstream, for now: agents are visited in id order
//! (upstream shuffles them); quota counts `cpus`, `mem`, `disk` and
//! `gpus` only. Upstream 1.11 counts subroles in their ancestors'
//! consumption too, but its allocation loop checks a role's own limit
//! only, and lets only roles with a guarantee of their own use the
//! headroom; so there a framework of `a/b` is not capped by `a`'s limit
//! and cannot take what is laid aside for `a`. Here both follow the role
//! tree. (Upstream's master sets quota on top-level roles only,
//! MESOS-7402, and so does ours.)
//!
//! Capabilities, as upstream's `isCapableOfReceivingAgent` and
//! `stripIncapableResources`: with `--filter_gpu_resources` an agent with
//! GPUs goes only to `GPU_RESOURCES` frameworks; an agent in another
//! region than the master's `--domain` goes only to `REGION_AWARE`
//! frameworks; revocable resources go only to `REVOCABLE_RESOURCES`
//! frameworks. Agents' flags and frameworks' bits are set when they are
//! added or updated, so a cycle only compares booleans.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::time::Duration;

use mesos_proto::conversions::ResourceConversion;
use mesos_proto::resources::Resources;

/// The framework capabilities the allocator looks at (upstream
/// `protobuf::framework::Capabilities`, the part `allocate` reads).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `REVOCABLE_RESOURCES`: offered revocable resources.
    pub revocable_resources: bool,
    /// `GPU_RESOURCES`: offered agents with GPUs under
    /// `--filter_gpu_resources`.
    pub gpu_resources: bool,
    /// `REGION_AWARE`: offered agents in other regions than the master's.
    pub region_aware: bool,
}

/// Resources allocated to a framework's role on an agent.
#[derive(Debug, Clone)]
pub struct Allocation {
    /// The framework.
    pub framework_id: String,
    /// The agent.
    pub slave_id: String,
    /// The role they are allocated to.
    pub role: String,
    /// The resources, with `allocation_info` set to `role`.
    pub resources: Resources,
}

/// An allocation policy (upstream's `mesos::allocator::Allocator`).
pub trait Allocator: Send {
    /// Adds a framework subscribed to `roles`.
    fn add_framework(
        &mut self,
        id: &str,
        roles: Vec<String>,
        suppressed: Vec<String>,
        active: bool,
    );
    /// Removes a framework (its allocations must be recovered first).
    fn remove_framework(&mut self, id: &str);
    /// Resumes offers to a framework.
    fn activate_framework(&mut self, id: &str);
    /// Stops offers to a framework.
    fn deactivate_framework(&mut self, id: &str);
    /// Adds an agent with `total` resources of which `used` are in use.
    fn add_slave(&mut self, id: &str, total: Resources, used: Resources);
    /// Sets an agent's total (upstream `updateSlave`: its oversubscribed
    /// resources changed); what is allocated there stays.
    fn update_slave(&mut self, id: &str, total: Resources);
    /// Sets the capabilities of a framework; a framework has none until
    /// told.
    fn set_capabilities(&mut self, framework_id: &str, capabilities: Capabilities);
    /// Sets the region of an agent's fault domain (`None`: no fault
    /// domain); agents have none until told.
    fn set_slave_region(&mut self, id: &str, region: Option<&str>);
    /// Sets what offer constraints look at on an agent (its host name,
    /// attributes and fault domain); an agent not told has none.
    fn set_slave_info(&mut self, id: &str, info: std::sync::Arc<mesos_proto::mesos::SlaveInfo>);
    /// Sets the host names of the agents whose resources are offered
    /// (`None`: every agent's; upstream `updateWhitelist`).
    fn set_whitelist(&mut self, hostnames: Option<HashSet<String>>);
    /// Sets a framework's offer constraints (`None`: it takes every agent).
    fn set_offer_constraints(
        &mut self,
        framework_id: &str,
        filter: Option<std::sync::Arc<crate::offer_constraints::OfferConstraintsFilter>>,
    );
    /// Removes an agent.
    fn remove_slave(&mut self, id: &str);
    /// Resumes offers of an agent.
    fn activate_slave(&mut self, id: &str);
    /// Stops offers of an agent.
    fn deactivate_slave(&mut self, id: &str);
    /// Returns allocated `resources` (allocation form) to the pool; with
    /// `refuse`, the framework is not offered them again on this agent for
    /// that long.
    fn recover_resources(
        &mut self,
        framework_id: &str,
        slave_id: &str,
        resources: &Resources,
        refuse: Option<Duration>,
        now: Duration,
    );
    /// Marks `resources` (allocation form) as in use by a framework on an
    /// agent without offering them (e.g. tasks of a re-registering agent).
    fn add_used(&mut self, framework_id: &str, slave_id: &str, resources: &Resources);
    /// Removes filters and suppression for `roles` (all when empty).
    fn revive(&mut self, framework_id: &str, roles: &[String]);
    /// Stops offers for `roles` (all when empty).
    fn suppress(&mut self, framework_id: &str, roles: &[String]);
    /// Sets role weights: a role's dominant share is divided by its weight
    /// when roles are ordered (roles not listed weigh 1).
    fn update_weights(&mut self, weights: &BTreeMap<String, f64>);
    /// Runs one allocation cycle.
    fn allocate(&mut self, now: Duration) -> Vec<Allocation>;
    /// Sets the quota of every role that has one (roles not listed have
    /// none): guarantees are laid aside for their role, limits cap it.
    fn update_quota(&mut self, quotas: &BTreeMap<String, Quota>);
    /// Applies offer operations (RESERVE, CREATE, ...) to resources
    /// allocated to a framework on an agent (upstream `updateAllocation`):
    /// `conversions` are in allocation form; the agent's total changes by
    /// their unallocated form.
    fn update_allocation(
        &mut self,
        framework_id: &str,
        slave_id: &str,
        conversions: &[ResourceConversion],
    ) -> Result<(), String>;
    /// Applies operator operations to an agent's unallocated resources
    /// (upstream `updateAvailable`); fails, changing nothing, when what
    /// they consume is not available.
    fn update_available(
        &mut self,
        slave_id: &str,
        conversions: &[ResourceConversion],
    ) -> Result<(), String>;
    /// Returns what upstream's `allocator/mesos/*` gauges show; O(roles +
    /// frameworks), never O(agents). A policy without them returns the
    /// default (nothing tracked).
    fn metrics(&self) -> AllocatorMetrics {
        AllocatorMetrics::default()
    }
}

/// The allocator's state behind upstream's `allocator/mesos/*` gauges
/// (`src/master/allocator/mesos/metrics.cpp` and the DRF sorter's
/// `roles/<role>/shares/dominant`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AllocatorMetrics {
    /// The agents' totals, in [`SHARE_NAMES`] order
    /// (`resources/<name>/total`).
    pub total: Quantities,
    /// What is offered or allocated (`resources/<name>/offered_or_allocated`).
    pub offered_or_allocated: Quantities,
    /// The roles the allocator tracks: those frameworks subscribe to and
    /// those allocated something.
    pub roles: BTreeMap<String, RoleMetrics>,
    /// The roles with a quota: the quota and what the role is offered or
    /// allocated (`quota/roles/<role>/resources/<name>/*`).
    pub quotas: BTreeMap<String, (Quota, Quantities)>,
}

/// One role's gauges.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RoleMetrics {
    /// Its dominant share, unweighted, as upstream's sorter reports it
    /// (`roles/<role>/shares/dominant`).
    pub dominant_share: f64,
    /// Decline filters of its frameworks, one per framework and agent
    /// (`offer_filters/roles/<role>/active`).
    pub offer_filters: usize,
}

/// Scalar quantities that count towards shares, in [`SHARE_NAMES`] order.
pub type Quantities = [f64; 4];

/// A role's quota in the allocator: per [`SHARE_NAMES`] resource, the
/// guarantee (0 when none) and the limit (infinite when none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    /// Laid aside for the role until it holds this much.
    pub guarantee: Quantities,
    /// Never allocated beyond this much.
    pub limit: Quantities,
}

impl Quota {
    /// Builds a quota from scalar amounts by resource name; names other
    /// than `cpus`, `mem`, `disk` and `gpus` are not accounted.
    pub fn from_scalars<'a>(
        guarantees: impl IntoIterator<Item = (&'a String, f64)>,
        limits: impl IntoIterator<Item = (&'a String, f64)>,
    ) -> Self {
        let mut quota = Self {
            guarantee: [0.0; 4],
            limit: [f64::INFINITY; 4],
        };
        for (name, value) in guarantees {
            if let Some(i) = SHARE_NAMES.iter().position(|n| n == name) {
                quota.guarantee[i] = value;
            }
        }
        for (name, value) in limits {
            if let Some(i) = SHARE_NAMES.iter().position(|n| n == name) {
                quota.limit[i] = value;
            }
        }
        quota
    }
}

/// Resource names that count towards shares.
pub const SHARE_NAMES: [&str; 4] = ["cpus", "mem", "disk", "gpus"];

/// The index of `gpus` in [`Quantities`].
const GPUS: usize = 3;

/// Returns the quantities of `resources`, for callers outside.
pub fn scalar_quantities(resources: &Resources) -> Quantities {
    quantities(resources)
}

fn quantities(resources: &Resources) -> Quantities {
    let mut q = [0.0; 4];
    for (i, name) in SHARE_NAMES.iter().enumerate() {
        q[i] = resources.get_scalar(name).map_or(0.0, |s| s.value);
    }
    q
}

fn add(a: &mut Quantities, b: &Quantities, sign: f64) {
    for i in 0..4 {
        a[i] += sign * b[i];
    }
}

/// An order-independent digest of a resource collection: equal
/// collections have equal digests.
fn digest(resources: &Resources) -> u64 {
    use std::hash::{Hash, Hasher};
    resources.iter().fold(0u64, |sum, resource| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        prost::Message::encode_to_vec(resource).hash(&mut hasher);
        sum.wrapping_add(hasher.finish())
    })
}

fn share(totals: &Quantities, allocated: &Quantities) -> f64 {
    (0..4)
        .filter(|&i| totals[i] > 0.0)
        .map(|i| allocated[i] / totals[i])
        .fold(0.0, f64::max)
}

/// The nodes of the role tree from the top down to `role` itself:
/// `a`, `a/b`, `a/b/c` for `a/b/c`.
fn role_path(role: &str) -> impl Iterator<Item = &str> {
    role.match_indices('/')
        .map(move |(at, _)| &role[..at])
        .chain(std::iter::once(role))
}

/// Where a role sits in the order of the role tree: for each node from
/// the top down, its subtree share over its weight, its allocation count
/// and its path's rank, then the role's own frameworks as the virtual
/// leaf `<role>/.`. Compared level by level, two roles meet at the first
/// node where their paths part, so siblings are ordered by their
/// subtrees' shares, equal shares by how many times each was allocated
/// something (upstream's `DRFSorter` fairness between equal shares),
/// then by path.
#[derive(Debug, Clone, PartialEq)]
struct RoleKey {
    /// Below its quota guarantee: visited before every other role.
    below_guarantee: bool,
    path: Vec<PathEntry>,
}

/// A node in a [`RoleKey`]: its share over its weight, how many times it
/// (or a role below it) was allocated something, and its path's rank.
type PathEntry = (f64, u64, u32);

/// The nodes of the role tree of one allocation cycle (virtual leaves
/// included), numbered in the order of their paths, so that keys compare
/// integers rather than strings.
type NodeRanks = HashMap<String, u32>;

impl RoleKey {
    fn compare(&self, other: &Self) -> std::cmp::Ordering {
        (!self.below_guarantee)
            .cmp(&!other.below_guarantee)
            .then_with(|| {
                for (a, b) in self.path.iter().zip(&other.path) {
                    let ordering = a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2));
                    if ordering.is_ne() {
                        return ordering;
                    }
                }
                self.path.len().cmp(&other.path.len())
            })
    }
}

struct Filter {
    expires: Duration,
    /// What the framework refused (unallocated form), shared between the
    /// filters of one agent when they refused the same thing.
    resources: std::sync::Arc<Resources>,
    /// Its [`digest`], to recognise the common case "refused exactly
    /// what is free" without a containment check.
    digest: u64,
    /// Whether it covers all the agent has free, as of the last change.
    covering: bool,
}

struct Slave {
    id: String,
    total: Resources,
    total_quantities: Quantities,
    /// In use or offered, in allocation form.
    allocated: Resources,
    active: bool,
    /// Whether its total has GPUs (upstream `Slave::hasGpu`).
    has_gpus: bool,
    /// Whether it is in another region than the master (upstream
    /// `isRemoteSlave`).
    remote: bool,
    /// What offer constraints look at.
    info: Option<std::sync::Arc<mesos_proto::mesos::SlaveInfo>>,
    /// Decline filters on this agent, by framework index.
    filters: HashMap<usize, Filter>,
    /// How many of `filters` cover what is free and belong to eligible
    /// frameworks.
    eligible_filters: usize,
}

struct Framework {
    id: String,
    roles: Vec<String>,
    suppressed: HashSet<String>,
    active: bool,
    /// What it is offered, beyond its roles.
    capabilities: Capabilities,
    /// The agents it takes, per role.
    offer_constraints: Option<std::sync::Arc<crate::offer_constraints::OfferConstraintsFilter>>,
    /// Agents (indices) this framework filters.
    filtered: HashSet<usize>,
    /// Allocated to this framework, by role, in allocation form.
    allocated: HashMap<String, Resources>,
    /// Their share quantities, by role.
    quantities: HashMap<String, Quantities>,
    /// How many times it was allocated something, by role (upstream's
    /// framework sorter's allocation count).
    allocation_counts: HashMap<String, u64>,
}

impl Framework {
    /// Whether the framework wants offers for any role.
    fn eligible(&self) -> bool {
        self.active && self.roles.iter().any(|r| !self.suppressed.contains(r))
    }
}

/// Hierarchical dominant resource fairness, upstream's default.
#[derive(Default)]
pub struct HierarchicalDrf {
    slaves: Vec<Option<Slave>>,
    slave_index: HashMap<String, usize>,
    frameworks: Vec<Option<Framework>>,
    framework_index: HashMap<String, usize>,
    totals: Quantities,
    /// Share quantities allocated per role.
    role_quantities: HashMap<String, Quantities>,
    /// Share quantities allocated per role and its subroles, for every
    /// node of the role tree (`a` for `a/b` too).
    subtree_quantities: HashMap<String, Quantities>,
    /// How many times each node of the role tree was allocated something
    /// (see [`HierarchicalDrf::node_count`]). Kept while the master runs,
    /// as upstream's sorters keep theirs (not across a failover).
    node_counts: HashMap<String, u64>,
    /// Number of eligible frameworks.
    eligible: usize,
    /// (expiry, agent, framework) of every filter, soonest first.
    expiries: BinaryHeap<Reverse<(Duration, usize, usize)>>,
    /// Configured role weights.
    weights: HashMap<String, f64>,
    /// Role quotas.
    quotas: HashMap<String, Quota>,
    /// `--min_allocatable_resources`; `None`: upstream's default.
    min_allocatable: Option<MinAllocatable>,
    /// Reserved resources nobody is allocated, by reservation role and
    /// each of its ancestors, as of the current allocation cycle (with
    /// quota only): they count toward the quota consumption of their role
    /// and its ancestors, as upstream 1.9+.
    unallocated_reserved: HashMap<String, Quantities>,
    /// `--filter_gpu_resources`.
    filter_gpu_resources: bool,
    /// `--whitelist`: the host names of the agents offered, if limited.
    whitelist: Option<HashSet<String>>,
    /// Which of [`SHARE_NAMES`] `--fair_sharing_excluded_resource_names`
    /// leaves out of shares.
    excluded_from_shares: [bool; 4],
    /// The region of the master's `--domain`, if it has a fault domain.
    region: Option<String>,
}

/// `--min_allocatable_resources`: sets of resource quantities (a set is
/// met when each of its quantities is; resources are offerable when one
/// set is met). A scalar's quantity is its value; a range's or a set's,
/// how many values it holds (upstream MESOS-9516).
#[derive(Debug, Clone, PartialEq)]
pub struct MinAllocatable(pub Vec<Vec<(String, f64)>>);

impl MinAllocatable {
    /// Parses upstream's syntax: `cpus:0.01|mem:32`, sets split by `|`,
    /// the quantities of a set by `;`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut sets = Vec::new();
        for set in text.split('|') {
            let mut quantities: Vec<(String, f64)> = Vec::new();
            for quantity in set.split(';').map(str::trim).filter(|q| !q.is_empty()) {
                let (name, value) = quantity.split_once(':').ok_or_else(|| {
                    format!("'{quantity}' is not a resource quantity (name:value)")
                })?;
                let name = name.trim();
                let value: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{value}' is not a number in '{quantity}'"))?;
                if name.is_empty() || !value.is_finite() || value < 0.0 {
                    return Err(format!(
                        "'{quantity}': a quantity needs a name and a non-negative value"
                    ));
                }
                match quantities.iter_mut().find(|(n, _)| n == name) {
                    Some((_, total)) => *total += value,
                    None => quantities.push((name.to_string(), value)),
                }
            }
            if quantities.is_empty() {
                return Err("Resource quantities must contain at least one quantity".into());
            }
            sets.push(quantities);
        }
        Ok(Self(sets))
    }

    fn met_by(&self, resources: &Resources) -> bool {
        self.0.iter().any(|set| {
            set.iter()
                .all(|(name, minimum)| quantity(resources, name) >= *minimum)
        })
    }
}

/// How much of `name` `resources` hold: a scalar's value, the number of
/// values of ranges or a set.
fn quantity(resources: &Resources, name: &str) -> f64 {
    if let Some(scalar) = resources.get_scalar(name) {
        return scalar.value;
    }
    if let Some(ranges) = resources.get_ranges(name) {
        return ranges
            .range
            .iter()
            .map(|r| (r.end.saturating_sub(r.begin) + 1) as f64)
            .sum();
    }
    resources
        .get_set(name)
        .map_or(0.0, |set| set.item.len() as f64)
}

impl HierarchicalDrf {
    /// Sets `--filter_gpu_resources` (upstream's default is `true`; the
    /// allocator's, until told, `false`).
    pub fn set_filter_gpu_resources(&mut self, filter: bool) {
        self.filter_gpu_resources = filter;
    }

    /// Leaves `names` out of the shares frameworks and roles are sorted
    /// by (upstream `--fair_sharing_excluded_resource_names`); names that
    /// do not count towards shares here anyway are ignored.
    pub fn set_fair_sharing_excluded(&mut self, names: &[String]) {
        for (i, name) in SHARE_NAMES.iter().enumerate() {
            self.excluded_from_shares[i] = names.iter().any(|n| n == name);
        }
    }

    /// The dominant share of `allocated` against the cluster's totals,
    /// without the excluded resources.
    fn share_of(&self, allocated: &Quantities) -> f64 {
        let mut totals = self.totals;
        for (i, excluded) in self.excluded_from_shares.iter().enumerate() {
            if *excluded {
                totals[i] = 0.0;
            }
        }
        share(&totals, allocated)
    }

    /// Sets the region of the master's `--domain` fault domain, against
    /// which agents are remote; call before agents are added.
    pub fn set_region(&mut self, region: Option<String>) {
        self.region = region;
    }

    /// Whether an agent with these flags may be offered to a framework
    /// with these capabilities (upstream `isCapableOfReceivingAgent`).
    fn capable_of_agent(&self, slave: &Slave, capabilities: Capabilities) -> bool {
        let gpus_ok = !self.filter_gpu_resources || !slave.has_gpus || capabilities.gpu_resources;
        let region_ok = !slave.remote || capabilities.region_aware;
        gpus_ok && region_ok
    }

    /// Sets `--min_allocatable_resources`.
    pub fn set_min_allocatable(&mut self, min: MinAllocatable) {
        self.min_allocatable = Some(min);
    }

    /// Returns whether what is left on an agent is worth offering
    /// (`--min_allocatable_resources`, by default at least 0.01 cpus or
    /// 32 MB of memory).
    fn allocatable(&self, resources: &Resources) -> bool {
        match &self.min_allocatable {
            Some(min) => min.met_by(resources),
            None => {
                resources.get_scalar("cpus").map_or(0.0, |s| s.value) >= 0.01
                    || resources.get_scalar("mem").map_or(0.0, |s| s.value) >= 32.0
            }
        }
    }

    /// Runs `change` on a framework, keeping eligibility counts right.
    fn with_framework(&mut self, id: &str, change: impl FnOnce(&mut Framework)) {
        let Some(&index) = self.framework_index.get(id) else {
            return;
        };
        let Some(framework) = self.frameworks[index].as_mut() else {
            return;
        };
        let before = framework.eligible();
        change(framework);
        let after = framework.eligible();
        if before != after {
            self.eligibility_changed(index, after);
        }
    }

    fn eligibility_changed(&mut self, index: usize, eligible: bool) {
        if eligible {
            self.eligible += 1;
        } else {
            self.eligible -= 1;
        }
        let filtered: Vec<usize> = self.frameworks[index]
            .as_ref()
            .map(|f| f.filtered.iter().copied().collect())
            .unwrap_or_default();
        for slave in filtered {
            if let Some(slave) = self.slaves[slave].as_mut() {
                if slave.filters.get(&index).is_some_and(|f| f.covering) {
                    if eligible {
                        slave.eligible_filters += 1;
                    } else {
                        slave.eligible_filters -= 1;
                    }
                }
            }
        }
    }

    fn remove_filter(&mut self, slave_index: usize, framework_index: usize) {
        let eligible = self.frameworks[framework_index]
            .as_ref()
            .is_some_and(Framework::eligible);
        if let Some(slave) = self.slaves[slave_index].as_mut() {
            if slave
                .filters
                .remove(&framework_index)
                .is_some_and(|f| f.covering)
                && eligible
            {
                slave.eligible_filters -= 1;
            }
        }
        if let Some(framework) = self.frameworks[framework_index].as_mut() {
            framework.filtered.remove(&slave_index);
        }
    }

    /// Returns what is free on an agent (unallocated form).
    fn available(slave: &Slave) -> Resources {
        let mut unallocated = slave.allocated.clone();
        unallocated.unallocate();
        let mut available = slave.total.clone();
        available -= &unallocated;
        available
    }

    /// Re-evaluates which filters on an agent still cover what is free
    /// there (after more became free), and recounts.
    fn recheck_filters(&mut self, slave_index: usize) {
        let Some(slave) = self.slaves[slave_index].as_ref() else {
            return;
        };
        let available = Self::available(slave);
        let available_digest = digest(&available);
        let eligible: Vec<(usize, bool)> = slave
            .filters
            .keys()
            .map(|&f| {
                (
                    f,
                    self.frameworks[f].as_ref().is_some_and(Framework::eligible),
                )
            })
            .collect();
        let Some(slave) = self.slaves[slave_index].as_mut() else {
            return;
        };
        let mut count = 0;
        for (framework, is_eligible) in eligible {
            if let Some(filter) = slave.filters.get_mut(&framework) {
                filter.covering =
                    filter.digest == available_digest || filter.resources.contains(&available);
                if filter.covering && is_eligible {
                    count += 1;
                }
            }
        }
        slave.eligible_filters = count;
    }

    /// Drops every filter on an agent (it was removed or replaced).
    fn clear_slave_filters(&mut self, slave_index: usize) {
        let frameworks: Vec<usize> = self.slaves[slave_index]
            .as_ref()
            .map(|s| s.filters.keys().copied().collect())
            .unwrap_or_default();
        for framework in frameworks {
            self.remove_filter(slave_index, framework);
        }
    }

    fn clear_framework_filters(&mut self, framework_index: usize) {
        let slaves: Vec<usize> = self.frameworks[framework_index]
            .as_ref()
            .map(|f| f.filtered.iter().copied().collect())
            .unwrap_or_default();
        for slave in slaves {
            self.remove_filter(slave, framework_index);
        }
    }

    fn expire_filters(&mut self, now: Duration) {
        while let Some(Reverse((expires, slave, framework))) = self.expiries.peek().copied() {
            if expires > now {
                break;
            }
            self.expiries.pop();
            let current = self
                .slaves
                .get(slave)
                .and_then(Option::as_ref)
                .and_then(|s| s.filters.get(&framework))
                .map(|f| f.expires);
            if current == Some(expires) {
                self.remove_filter(slave, framework);
            }
        }
    }

    /// Adds (or, with `sign` -1, takes) what a role is allocated to its
    /// own count and to the subtree count of every node above it.
    fn add_role_quantities(&mut self, role: &str, q: &Quantities, sign: f64) {
        fn entry<'a>(map: &'a mut HashMap<String, Quantities>, key: &str) -> &'a mut Quantities {
            if !map.contains_key(key) {
                map.insert(key.to_string(), [0.0; 4]);
            }
            map.get_mut(key).expect("inserted above")
        }
        add(entry(&mut self.role_quantities, role), q, sign);
        for node in role_path(role) {
            add(entry(&mut self.subtree_quantities, node), q, sign);
        }
    }

    fn account(&mut self, framework_index: usize, role: &str, resources: &Resources, sign: f64) {
        let q = quantities(resources);
        self.add_role_quantities(role, &q, sign);
        if let Some(framework) = self.frameworks[framework_index].as_mut() {
            add(
                framework
                    .quantities
                    .entry(role.to_string())
                    .or_insert([0.0; 4]),
                &q,
                sign,
            );
            let allocated = framework.allocated.entry(role.to_string()).or_default();
            if sign > 0.0 {
                *allocated += resources;
            } else {
                *allocated -= resources;
            }
        }
    }

    fn framework_share(&self, index: usize, role: &str) -> f64 {
        self.frameworks[index]
            .as_ref()
            .and_then(|f| f.quantities.get(role))
            .map_or(0.0, |q| self.share_of(q))
    }

    /// Where a role goes in the order of the role tree (upstream's DRF
    /// sorter walking its tree): each node's subtree share over its
    /// weight, then the role's own share (weight 1) as its virtual leaf.
    fn role_key(&self, role: &str, ranks: &NodeRanks) -> RoleKey {
        let rank = |node: &str| ranks.get(node).copied().unwrap_or(u32::MAX);
        let mut path: Vec<PathEntry> = role_path(role)
            .map(|node| (self.node_share(node), self.node_count(node), rank(node)))
            .collect();
        let own = self
            .role_quantities
            .get(role)
            .map_or(0.0, |q| self.share_of(q));
        let leaf = format!("{role}/.");
        path.push((own, self.node_count(&leaf), rank(&leaf)));
        RoleKey {
            below_guarantee: self.below_guarantee(role),
            path,
        }
    }

    /// How many times a node of the role tree (a role and the roles below
    /// it, or the virtual leaf `<role>/.` of the role's own frameworks) was
    /// allocated something.
    fn node_count(&self, node: &str) -> u64 {
        self.node_counts.get(node).copied().unwrap_or(0)
    }

    /// Counts an allocation to `framework_index` in `role` (upstream's
    /// sorters' `allocated`): for the framework in its role, the role's
    /// virtual leaf and every node above it.
    fn count_allocation(&mut self, framework_index: usize, role: &str) {
        for node in role_path(role) {
            *self.node_counts.entry(node.to_string()).or_default() += 1;
        }
        *self.node_counts.entry(format!("{role}/.")).or_default() += 1;
        if let Some(framework) = self.frameworks[framework_index].as_mut() {
            *framework
                .allocation_counts
                .entry(role.to_string())
                .or_default() += 1;
        }
    }

    /// How many times a framework was allocated something in `role`.
    fn framework_count(&self, index: usize, role: &str) -> u64 {
        self.frameworks[index]
            .as_ref()
            .and_then(|f| f.allocation_counts.get(role))
            .copied()
            .unwrap_or(0)
    }

    /// A node's subtree share over its weight.
    fn node_share(&self, node: &str) -> f64 {
        let share = self
            .subtree_quantities
            .get(node)
            .map_or(0.0, |q| self.share_of(q));
        share / self.weights.get(node).copied().unwrap_or(1.0)
    }

    /// Refreshes the keys of `roles` after `roles[allocated]` was
    /// allocated something: the shares of its nodes, wherever they appear
    /// in a key, and whether its own role and its ancestors are below
    /// their guarantee (nothing else changed). No allocation and no
    /// string comparison, so the cost per offer stays linear in the
    /// number of roles, as keeping a flat order sorted is.
    fn refresh_role_keys(&self, roles: &mut [(RoleKey, String)], allocated: usize) {
        let (key, role) = &roles[allocated];
        let depth = key.path.len() - 1;
        let changed: Vec<PathEntry> = role_path(role)
            .zip(&key.path)
            .map(|(node, (_, _, rank))| (self.node_share(node), self.node_count(node), *rank))
            .collect();
        let leaf_count = self.node_count(&format!("{role}/."));
        for (key, role) in roles.iter_mut() {
            let mut matched = 0;
            for (entry, fresh) in key.path.iter_mut().zip(&changed) {
                if entry.2 != fresh.2 {
                    break;
                }
                *entry = *fresh;
                matched += 1;
            }
            let own_depth = key.path.len() - 1;
            // Its path is a prefix of the allocated role's: an ancestor
            // or the role itself.
            if matched == own_depth {
                key.below_guarantee = self.below_guarantee(role);
                if own_depth == depth {
                    let own = self
                        .role_quantities
                        .get(role.as_str())
                        .map_or(0.0, |q| self.share_of(q));
                    if let Some(leaf) = key.path.last_mut() {
                        leaf.0 = own;
                        leaf.1 = leaf_count;
                    }
                }
            }
        }
    }

    /// A role's quota consumption (upstream 1.9+): what it and its
    /// subroles are allocated (or offered), reserved or not, plus their
    /// reservations nobody is allocated.
    fn consumed(&self, role: &str) -> Quantities {
        let mut consumed = self
            .subtree_quantities
            .get(role)
            .copied()
            .unwrap_or([0.0; 4]);
        if let Some(reserved) = self.unallocated_reserved.get(role) {
            add(&mut consumed, reserved, 1.0);
        }
        consumed
    }

    /// What a role with quota still lacks of its guarantee.
    fn unmet_guarantee(&self, role: &str, quota: &Quota) -> Quantities {
        let consumed = self.consumed(role);
        let mut unmet = [0.0; 4];
        for i in 0..4 {
            unmet[i] = (quota.guarantee[i] - consumed[i]).max(0.0);
        }
        unmet
    }

    /// The outermost role with quota among `role` and its ancestors: the
    /// one whose guarantee counts toward the headroom.
    fn outermost_quota<'a>(&'a self, role: &'a str) -> Option<(&'a str, &'a Quota)> {
        role_path(role).find_map(|node| self.quotas.get(node).map(|quota| (node, quota)))
    }

    /// Whether a role's guarantee is not met yet.
    fn below_guarantee(&self, role: &str) -> bool {
        self.quotas.get(role).is_some_and(|quota| {
            let consumed = self.consumed(role);
            (0..4).any(|i| consumed[i] < quota.guarantee[i])
        })
    }

    /// The unreserved resources laid aside for roles below their
    /// guarantee: the sum of what each outermost role with quota still
    /// lacks (its subroles' guarantees lie within its own, and what they
    /// consume counts toward it).
    fn headroom(&self) -> Quantities {
        let mut headroom = [0.0; 4];
        for (role, quota) in &self.quotas {
            if self
                .outermost_quota(role)
                .is_some_and(|(node, _)| node != role)
            {
                continue;
            }
            add(&mut headroom, &self.unmet_guarantee(role, quota), 1.0);
        }
        headroom
    }

    /// `offerable` cut down to what `role` may still get under its limit
    /// and the limits of its ancestors, scalar by scalar; `None` if one
    /// of them is reached.
    fn within_limit(&self, role: &str, offerable: &Resources) -> Option<Resources> {
        let mut left: Quantities = [f64::INFINITY; 4];
        let mut limited = false;
        for node in role_path(role) {
            let Some(quota) = self.quotas.get(node) else {
                continue;
            };
            limited = true;
            let consumed = self.consumed(node);
            for i in 0..4 {
                left[i] = left[i].min(quota.limit[i] - consumed[i]);
            }
        }
        if !limited {
            return Some(offerable.clone());
        }
        let mut capped = Resources::new();
        for resource in offerable.iter() {
            let Some(i) = SHARE_NAMES.iter().position(|n| *n == resource.name) else {
                capped += resource.clone();
                continue;
            };
            if !left[i].is_finite() {
                capped += resource.clone();
                continue;
            }
            let amount = resource.scalar.map_or(0.0, |s| s.value);
            if left[i] <= 0.0 {
                continue;
            }
            let mut resource = resource.clone();
            if amount > left[i]
                && !Resources::shrink(
                    &mut resource,
                    mesos_proto::mesos::value::Scalar::new(left[i]),
                )
            {
                continue;
            }
            left[i] -= resource.scalar.map_or(0.0, |s| s.value);
            capped += resource;
        }
        (!capped.is_empty()).then_some(capped)
    }
}

impl HierarchicalDrf {
    /// Installs, for every framework on every agent, the filter a decline
    /// of everything free there would leave: the steady state of
    /// upstream's DeclineOffers benchmark, reached without running the
    /// cycles that lead to it. For benchmarks.
    #[doc(hidden)]
    pub fn decline_everything(&mut self, refuse: Duration, now: Duration) {
        let expires = now + refuse;
        for slave_index in 0..self.slaves.len() {
            let Some(slave) = self.slaves[slave_index].as_ref() else {
                continue;
            };
            let available = std::sync::Arc::new(Self::available(slave));
            let available_digest = digest(&available);
            for framework_index in 0..self.frameworks.len() {
                if self.frameworks[framework_index].is_none() {
                    continue;
                }
                if let Some(slave) = self.slaves[slave_index].as_mut() {
                    let filter = Filter {
                        expires,
                        resources: available.clone(),
                        digest: available_digest,
                        covering: true,
                    };
                    slave.filters.insert(framework_index, filter);
                }
                if let Some(framework) = self.frameworks[framework_index].as_mut() {
                    framework.filtered.insert(slave_index);
                }
                self.expiries
                    .push(Reverse((expires, slave_index, framework_index)));
            }
            self.recheck_filters(slave_index);
        }
    }
}

impl Allocator for HierarchicalDrf {
    fn add_framework(
        &mut self,
        id: &str,
        roles: Vec<String>,
        suppressed: Vec<String>,
        active: bool,
    ) {
        if self.framework_index.contains_key(id) {
            self.with_framework(id, |f| {
                f.roles = roles;
                f.suppressed = suppressed.into_iter().collect();
                f.active = active;
            });
            return;
        }
        let framework = Framework {
            id: id.to_string(),
            roles,
            suppressed: suppressed.into_iter().collect(),
            active,
            capabilities: Capabilities::default(),
            offer_constraints: None,
            filtered: HashSet::new(),
            allocated: HashMap::new(),
            quantities: HashMap::new(),
            allocation_counts: HashMap::new(),
        };
        if framework.eligible() {
            self.eligible += 1;
        }
        self.framework_index
            .insert(id.to_string(), self.frameworks.len());
        self.frameworks.push(Some(framework));
    }

    fn remove_framework(&mut self, id: &str) {
        let Some(&index) = self.framework_index.get(id) else {
            return;
        };
        self.clear_framework_filters(index);
        if let Some(framework) = self.frameworks[index].take() {
            if framework.eligible() {
                self.eligible -= 1;
            }
            for (role, q) in framework.quantities {
                self.add_role_quantities(&role, &q, -1.0);
            }
        }
        self.framework_index.remove(id);
    }

    fn activate_framework(&mut self, id: &str) {
        self.with_framework(id, |f| f.active = true);
    }

    fn deactivate_framework(&mut self, id: &str) {
        self.with_framework(id, |f| f.active = false);
    }

    fn add_slave(&mut self, id: &str, total: Resources, used: Resources) {
        if let Some(&index) = self.slave_index.get(id) {
            self.clear_slave_filters(index);
            if let Some(old) = self.slaves[index].take() {
                add(&mut self.totals, &old.total_quantities, -1.0);
            }
            self.slave_index.remove(id);
        }
        let total_quantities = quantities(&total);
        add(&mut self.totals, &total_quantities, 1.0);
        self.slave_index.insert(id.to_string(), self.slaves.len());
        self.slaves.push(Some(Slave {
            id: id.to_string(),
            total,
            total_quantities,
            allocated: used,
            active: true,
            has_gpus: total_quantities[GPUS] > 0.0,
            remote: false,
            info: None,
            filters: HashMap::new(),
            eligible_filters: 0,
        }));
    }

    fn update_slave(&mut self, id: &str, total: Resources) {
        let Some(&index) = self.slave_index.get(id) else {
            return;
        };
        let Some(slave) = self.slaves[index].as_mut() else {
            return;
        };
        let total_quantities = quantities(&total);
        add(&mut self.totals, &slave.total_quantities, -1.0);
        add(&mut self.totals, &total_quantities, 1.0);
        slave.has_gpus = total_quantities[GPUS] > 0.0;
        slave.total = total;
        slave.total_quantities = total_quantities;
        self.recheck_filters(index);
    }

    fn set_capabilities(&mut self, framework_id: &str, capabilities: Capabilities) {
        self.with_framework(framework_id, |f| f.capabilities = capabilities);
    }

    fn set_slave_info(&mut self, id: &str, info: std::sync::Arc<mesos_proto::mesos::SlaveInfo>) {
        let Some(&index) = self.slave_index.get(id) else {
            return;
        };
        if let Some(slave) = self.slaves[index].as_mut() {
            slave.info = Some(info);
        }
    }

    fn set_offer_constraints(
        &mut self,
        framework_id: &str,
        filter: Option<std::sync::Arc<crate::offer_constraints::OfferConstraintsFilter>>,
    ) {
        self.with_framework(framework_id, |f| f.offer_constraints = filter);
    }

    fn set_whitelist(&mut self, hostnames: Option<HashSet<String>>) {
        self.whitelist = hostnames;
    }

    fn set_slave_region(&mut self, id: &str, region: Option<&str>) {
        let Some(&index) = self.slave_index.get(id) else {
            return;
        };
        // No fault domain on either side: not remote (upstream's master
        // refuses agents with a domain when it has none).
        let remote = matches!((&self.region, region), (Some(own), Some(theirs)) if own != theirs);
        if let Some(slave) = self.slaves[index].as_mut() {
            slave.remote = remote;
        }
    }

    fn remove_slave(&mut self, id: &str) {
        let Some(index) = self.slave_index.remove(id) else {
            return;
        };
        self.clear_slave_filters(index);
        if let Some(slave) = self.slaves[index].take() {
            add(&mut self.totals, &slave.total_quantities, -1.0);
        }
    }

    fn activate_slave(&mut self, id: &str) {
        if let Some(slave) = self
            .slave_index
            .get(id)
            .and_then(|&i| self.slaves[i].as_mut())
        {
            slave.active = true;
        }
    }

    fn deactivate_slave(&mut self, id: &str) {
        if let Some(slave) = self
            .slave_index
            .get(id)
            .and_then(|&i| self.slaves[i].as_mut())
        {
            slave.active = false;
        }
    }

    fn recover_resources(
        &mut self,
        framework_id: &str,
        slave_id: &str,
        resources: &Resources,
        refuse: Option<Duration>,
        now: Duration,
    ) {
        if resources.is_empty() {
            return;
        }
        let slave_index = self.slave_index.get(slave_id).copied();
        let framework_index = self.framework_index.get(framework_id).copied();
        if let Some(index) = slave_index {
            if let Some(slave) = self.slaves[index].as_mut() {
                slave.allocated -= resources;
            }
        }
        if let Some(index) = framework_index {
            for (role, recovered) in resources.allocations() {
                self.account(index, &role, &recovered, -1.0);
            }
        }
        if let (Some(slave), Some(framework), Some(refuse)) = (
            slave_index,
            framework_index,
            refuse.filter(|d| !d.is_zero()),
        ) {
            let expires = now + refuse;
            let mut refused = resources.clone();
            refused.unallocate();
            let refused_digest = digest(&refused);
            if let Some(s) = self.slaves[slave].as_mut() {
                let filter = Filter {
                    expires,
                    resources: std::sync::Arc::new(refused),
                    digest: refused_digest,
                    covering: false,
                };
                s.filters.insert(framework, filter);
            }
            if let Some(f) = self.frameworks[framework].as_mut() {
                f.filtered.insert(slave);
            }
            self.expiries.push(Reverse((expires, slave, framework)));
        }
        // More is free there now: which filters still cover it?
        if let Some(index) = slave_index {
            self.recheck_filters(index);
        }
    }

    fn add_used(&mut self, framework_id: &str, slave_id: &str, resources: &Resources) {
        if let Some(slave) = self
            .slave_index
            .get(slave_id)
            .and_then(|&i| self.slaves[i].as_mut())
        {
            slave.allocated += resources;
        }
        if let Some(&index) = self.framework_index.get(framework_id) {
            for (role, used) in resources.allocations() {
                self.account(index, &role, &used, 1.0);
                self.count_allocation(index, &role);
            }
        }
    }

    fn revive(&mut self, framework_id: &str, roles: &[String]) {
        let Some(&index) = self.framework_index.get(framework_id) else {
            return;
        };
        self.clear_framework_filters(index);
        let roles = roles.to_vec();
        self.with_framework(framework_id, |f| {
            if roles.is_empty() {
                f.suppressed.clear();
            } else {
                for role in &roles {
                    f.suppressed.remove(role);
                }
            }
        });
    }

    fn suppress(&mut self, framework_id: &str, roles: &[String]) {
        let roles = roles.to_vec();
        self.with_framework(framework_id, |f| {
            let roles = if roles.is_empty() {
                f.roles.clone()
            } else {
                roles
            };
            f.suppressed.extend(roles);
        });
    }

    fn update_weights(&mut self, weights: &BTreeMap<String, f64>) {
        self.weights = weights
            .iter()
            .filter(|(_, w)| **w > 0.0)
            .map(|(role, weight)| (role.clone(), *weight))
            .collect();
    }

    fn update_quota(&mut self, quotas: &BTreeMap<String, Quota>) {
        self.quotas = quotas
            .iter()
            .map(|(role, quota)| (role.clone(), *quota))
            .collect();
    }

    fn update_allocation(
        &mut self,
        framework_id: &str,
        slave_id: &str,
        conversions: &[ResourceConversion],
    ) -> Result<(), String> {
        let slave_index = *self
            .slave_index
            .get(slave_id)
            .ok_or_else(|| format!("unknown agent {slave_id}"))?;
        let unallocated: Vec<ResourceConversion> = conversions
            .iter()
            .map(|c| {
                let (mut consumed, mut converted) = (c.consumed.clone(), c.converted.clone());
                consumed.unallocate();
                converted.unallocate();
                ResourceConversion {
                    consumed,
                    converted,
                }
            })
            .collect();
        let slave = self.slaves[slave_index]
            .as_mut()
            .ok_or_else(|| format!("unknown agent {slave_id}"))?;
        let allocated = slave
            .allocated
            .apply(conversions)
            .map_err(|e| e.to_string())?;
        let total = slave.total.apply(&unallocated).map_err(|e| e.to_string())?;
        slave.allocated = allocated;
        slave.total = total;
        let before = slave.total_quantities;
        slave.total_quantities = quantities(&slave.total);
        let after = slave.total_quantities;
        add(&mut self.totals, &before, -1.0);
        add(&mut self.totals, &after, 1.0);
        if let Some(&index) = self.framework_index.get(framework_id) {
            for conversion in conversions {
                for (role, consumed) in conversion.consumed.allocations() {
                    self.account(index, &role, &consumed, -1.0);
                }
                for (role, converted) in conversion.converted.allocations() {
                    self.account(index, &role, &converted, 1.0);
                }
            }
        }
        self.recheck_filters(slave_index);
        Ok(())
    }

    fn update_available(
        &mut self,
        slave_id: &str,
        conversions: &[ResourceConversion],
    ) -> Result<(), String> {
        let slave_index = *self
            .slave_index
            .get(slave_id)
            .ok_or_else(|| format!("unknown agent {slave_id}"))?;
        let slave = self.slaves[slave_index]
            .as_mut()
            .ok_or_else(|| format!("unknown agent {slave_id}"))?;
        // What is free must hold what the operations consume.
        Self::available(slave)
            .apply(conversions)
            .map_err(|e| e.to_string())?;
        slave.total = slave.total.apply(conversions).map_err(|e| e.to_string())?;
        let before = slave.total_quantities;
        slave.total_quantities = quantities(&slave.total);
        let after = slave.total_quantities;
        add(&mut self.totals, &before, -1.0);
        add(&mut self.totals, &after, 1.0);
        self.recheck_filters(slave_index);
        Ok(())
    }

    fn metrics(&self) -> AllocatorMetrics {
        let mut metrics = AllocatorMetrics {
            total: self.totals,
            ..Default::default()
        };
        for (role, allocated) in &self.role_quantities {
            add(&mut metrics.offered_or_allocated, allocated, 1.0);
            if allocated.iter().any(|q| *q > 0.0) {
                metrics.roles.entry(role.clone()).or_default();
            }
        }
        for framework in self.frameworks.iter().flatten() {
            for role in &framework.roles {
                metrics.roles.entry(role.clone()).or_default().offer_filters +=
                    framework.filtered.len();
            }
        }
        for (role, gauges) in &mut metrics.roles {
            gauges.dominant_share = self
                .role_quantities
                .get(role)
                .map_or(0.0, |q| self.share_of(q));
        }
        for (role, quota) in &self.quotas {
            let allocated = self.role_quantities.get(role).copied().unwrap_or_default();
            metrics.quotas.insert(role.clone(), (*quota, allocated));
        }
        metrics
    }

    fn allocate(&mut self, now: Duration) -> Vec<Allocation> {
        self.expire_filters(now);
        let mut allocations = Vec::new();
        if self.eligible == 0 {
            return allocations;
        }

        // Roles wanted by eligible frameworks, and their frameworks, each
        // sorted by share (ties by name) once; kept sorted below.
        let mut members: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, framework) in self.frameworks.iter().enumerate() {
            let Some(framework) = framework else { continue };
            if !framework.active {
                continue;
            }
            for role in &framework.roles {
                if !framework.suppressed.contains(role) {
                    members.entry(role.clone()).or_default().push(index);
                }
            }
        }
        // Unreserved resources free across the cluster, against which the
        // guarantees not met yet are laid aside (only with quota).
        let mut free_unreserved: Quantities = [0.0; 4];
        self.unallocated_reserved.clear();
        if !self.quotas.is_empty() {
            let mut unallocated_reserved: HashMap<String, Quantities> = HashMap::new();
            for slave in self.slaves.iter().flatten().filter(|s| s.active) {
                let available = Self::available(slave);
                add(
                    &mut free_unreserved,
                    &quantities(&available.unreserved()),
                    1.0,
                );
                for (role, reserved) in available.reservations() {
                    let reserved = quantities(&reserved);
                    for node in role_path(&role) {
                        add(
                            unallocated_reserved
                                .entry(node.to_string())
                                .or_insert([0.0; 4]),
                            &reserved,
                            1.0,
                        );
                    }
                }
            }
            self.unallocated_reserved = unallocated_reserved;
        }
        // Roles below their quota guarantee come first (upstream's quota
        // stage), then the others; in the order of the role tree within
        // each group. Keys are computed once, and refreshed where an
        // allocation changed them.
        let nodes: std::collections::BTreeSet<String> = members
            .keys()
            .flat_map(|role| {
                role_path(role)
                    .map(str::to_string)
                    .chain(std::iter::once(format!("{role}/.")))
            })
            .collect();
        let ranks: NodeRanks = nodes.into_iter().zip(0..).collect();
        let mut roles: Vec<(RoleKey, String)> = members
            .keys()
            .map(|role| (self.role_key(role, &ranks), role.clone()))
            .collect();
        roles.sort_by(|(a, _), (b, _)| a.compare(b));
        // Frameworks by share, equal shares by allocation count, then by
        // id (upstream's framework sorters).
        let framework_key = |this: &Self, index: usize, role: &str| {
            let name = this.frameworks[index]
                .as_ref()
                .map(|f| f.id.clone())
                .unwrap_or_default();
            (
                this.framework_share(index, role),
                this.framework_count(index, role),
                name,
            )
        };
        let framework_order = |a: &(f64, u64, String), b: &(f64, u64, String)| {
            a.0.total_cmp(&b.0)
                .then(a.1.cmp(&b.1))
                .then_with(|| a.2.cmp(&b.2))
        };
        for (role, list) in members.iter_mut() {
            list.sort_by(|&a, &b| {
                framework_order(&framework_key(self, a, role), &framework_key(self, b, role))
            });
        }

        let mut order: Vec<usize> = (0..self.slaves.len())
            .filter(|&i| self.slaves[i].as_ref().is_some_and(|s| s.active))
            .collect();
        order.sort_by(|&a, &b| {
            let ia = self.slaves[a]
                .as_ref()
                .map(|s| s.id.as_str())
                .unwrap_or_default();
            let ib = self.slaves[b]
                .as_ref()
                .map(|s| s.id.as_str())
                .unwrap_or_default();
            ia.cmp(ib)
        });

        for slave_index in order {
            let Some(slave) = self.slaves[slave_index].as_ref() else {
                continue;
            };
            // Every eligible framework declined this agent: nothing to do.
            if slave.eligible_filters >= self.eligible {
                continue;
            }
            // Not whitelisted (upstream `isWhitelisted`).
            if let Some(whitelist) = &self.whitelist {
                let hostname = slave.info.as_ref().map_or("", |i| i.hostname.as_str());
                if !whitelist.contains(hostname) {
                    continue;
                }
            }
            let mut available = Self::available(slave);
            if available.is_empty() || !self.allocatable(&available) {
                continue;
            }
            let restricted = slave.remote || (self.filter_gpu_resources && slave.has_gpus);

            let mut role_position = 0;
            while role_position < roles.len() {
                let role = roles[role_position].1.clone();
                role_position += 1;
                let offerable = available.allocatable_to(&role);
                if offerable.is_empty() || !self.allocatable(&offerable) {
                    continue;
                }
                let Some(mut offerable) = self.within_limit(&role, &offerable) else {
                    continue;
                };
                if !self.quotas.is_empty() {
                    // What the guarantees not met yet need stays free,
                    // except for those roles themselves.
                    let headroom = self.headroom();
                    // The part of it this role's allocation would consume:
                    // what its outermost role with quota still lacks.
                    let own = self
                        .outermost_quota(&role)
                        .map_or([0.0; 4], |(node, quota)| self.unmet_guarantee(node, quota));
                    let unreserved = quantities(&offerable.unreserved());
                    let squeezes = (0..4).any(|i| {
                        unreserved[i] > 0.0
                            && free_unreserved[i] - unreserved[i] < headroom[i] - own[i] - 1e-9
                    });
                    if squeezes {
                        offerable = offerable.filter(|r| !Resources::is_unreserved(r));
                    }
                    if offerable.is_empty() || !self.allocatable(&offerable) {
                        continue;
                    }
                }
                let Some(candidates) = members.get(&role) else {
                    continue;
                };
                // Revocable resources go only to frameworks that take them
                // (upstream strips them for the others).
                let stripped = offerable
                    .iter()
                    .any(|r| r.revocable.is_some())
                    .then(|| offerable.non_revocable());
                // GPU and remote agents go only to frameworks capable of
                // them (upstream `isCapableOfReceivingAgent`).
                let offer_for = |this: &Self, f: usize| -> Option<&Resources> {
                    let framework = this.frameworks[f].as_ref()?;
                    let capabilities = framework.capabilities;
                    if let Some(constraints) = &framework.offer_constraints {
                        // Upstream's `isFiltered`: an agent the framework's
                        // constraints exclude for this role is not offered.
                        let slave = this.slaves[slave_index].as_ref()?;
                        let default = mesos_proto::mesos::SlaveInfo::default();
                        let info = slave.info.as_deref().unwrap_or(&default);
                        if constraints.excludes(&role, info) {
                            return None;
                        }
                    }
                    if restricted {
                        let slave = this.slaves[slave_index].as_ref()?;
                        if !this.capable_of_agent(slave, capabilities) {
                            return None;
                        }
                    }
                    match &stripped {
                        Some(stripped) if !capabilities.revocable_resources => {
                            (!stripped.is_empty() && this.allocatable(stripped)).then_some(stripped)
                        }
                        _ => Some(&offerable),
                    }
                };
                let chosen = candidates.iter().position(|&f| {
                    offer_for(self, f).is_some_and(|offer| {
                        self.slaves[slave_index].as_ref().is_some_and(|s| {
                            !s.filters
                                .get(&f)
                                .is_some_and(|filter| filter.resources.contains(offer))
                        })
                    })
                });
                let Some(position) = chosen else { continue };
                let framework_index = candidates[position];
                let capable = self.frameworks[framework_index]
                    .as_ref()
                    .is_some_and(|f| f.capabilities.revocable_resources);
                if let (Some(stripped), false) = (stripped, capable) {
                    offerable = stripped;
                }

                let mut allocated = offerable.clone();
                allocated.allocate(&role);
                available -= &offerable;
                // Its reservations are allocated now, not unallocated.
                if !self.unallocated_reserved.is_empty() {
                    for (reservation_role, reserved) in offerable.reservations() {
                        let reserved = quantities(&reserved);
                        for node in role_path(&reservation_role) {
                            if let Some(left) = self.unallocated_reserved.get_mut(node) {
                                add(left, &reserved, -1.0);
                            }
                        }
                    }
                }
                add(
                    &mut free_unreserved,
                    &quantities(&offerable.unreserved()),
                    -1.0,
                );
                if let Some(slave) = self.slaves[slave_index].as_mut() {
                    slave.allocated += &allocated;
                }
                self.account(framework_index, &role, &allocated, 1.0);
                self.count_allocation(framework_index, &role);
                let framework_id = self.frameworks[framework_index]
                    .as_ref()
                    .map(|f| f.id.clone())
                    .unwrap_or_default();
                allocations.push(Allocation {
                    framework_id,
                    slave_id: self.slaves[slave_index]
                        .as_ref()
                        .map(|s| s.id.clone())
                        .unwrap_or_default(),
                    role: role.clone(),
                    resources: allocated,
                });

                // Keep the orders sorted: the framework and its role grew.
                let key = framework_key(self, framework_index, &role);
                if let Some(list) = members.get_mut(&role) {
                    list.remove(position);
                    let at = list.partition_point(|&f| {
                        framework_order(&framework_key(self, f, &role), &key).is_lt()
                    });
                    list.insert(at, framework_index);
                }
                self.refresh_role_keys(&mut roles, role_position - 1);
                if cfg!(debug_assertions) {
                    for (key, role) in &roles {
                        let fresh = self.role_key(role, &ranks);
                        debug_assert_eq!(*key, fresh, "stale key of role {role}");
                    }
                }
                // Nearly sorted still: a stable sort takes linear time.
                roles.sort_by(|(a, _), (b, _)| a.compare(b));
                role_position = 0;
                if available.is_empty() {
                    break;
                }
            }
        }
        allocations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(text: &str) -> Resources {
        Resources::parse(text, "*").unwrap()
    }

    #[test]
    fn metrics_report_totals_shares_filters_and_quota() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave(
            "s1",
            resources("cpus:2;mem:1024;disk:100"),
            Resources::new(),
        );
        drf.add_slave(
            "s2",
            resources("cpus:2;mem:1024;disk:100"),
            Resources::new(),
        );
        drf.add_framework("fa", vec!["a".into()], vec![], true);
        drf.add_framework("fb", vec!["b".into()], vec!["b".into()], true);
        let mut quotas = BTreeMap::new();
        let cpus = "cpus".to_string();
        quotas.insert(
            "a".to_string(),
            Quota::from_scalars([(&cpus, 1.0)], [(&cpus, 4.0)]),
        );
        drf.update_quota(&quotas);
        let allocations = drf.allocate(Duration::ZERO);
        assert_eq!(allocations.len(), 2, "b suppressed its role");
        // a declines one agent for a minute.
        let first = &allocations[0];
        drf.recover_resources(
            "fa",
            &first.slave_id,
            &first.resources,
            Some(Duration::from_secs(60)),
            Duration::ZERO,
        );
        drf.allocate(Duration::ZERO);

        let metrics = drf.metrics();
        assert_eq!(metrics.total, [4.0, 2048.0, 200.0, 0.0]);
        assert_eq!(metrics.offered_or_allocated, [2.0, 1024.0, 100.0, 0.0]);
        assert_eq!(metrics.roles.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(metrics.roles["a"].dominant_share, 0.5);
        assert_eq!(metrics.roles["a"].offer_filters, 1);
        assert_eq!(metrics.roles["b"], RoleMetrics::default());
        let (quota, allocated) = metrics.quotas["a"];
        assert_eq!((quota.guarantee[0], quota.limit[0]), (1.0, 4.0));
        assert_eq!(allocated, [2.0, 1024.0, 100.0, 0.0]);
    }

    #[test]
    fn roles_are_ordered_by_share_over_weight() {
        let run = |weights: &[(&str, f64)]| {
            let mut drf = HierarchicalDrf::default();
            drf.update_weights(&weights.iter().map(|(r, w)| (r.to_string(), *w)).collect());
            for agent in ["s1", "s2", "s3", "s4"] {
                drf.add_slave(agent, resources("cpus:1;mem:256"), Resources::new());
            }
            drf.add_framework("fa", vec!["a".into()], vec![], true);
            drf.add_framework("fb", vec!["b".into()], vec![], true);
            let allocations = drf.allocate(Duration::ZERO);
            let count = |f: &str| allocations.iter().filter(|a| a.framework_id == f).count();
            (count("fa"), count("fb"))
        };
        assert_eq!(run(&[]), (2, 2));
        // Role a weighs three times as much: it gets three agents of four.
        assert_eq!(run(&[("a", 3.0)]), (3, 1));
        assert_eq!(run(&[("b", 3.0)]), (1, 3));
    }

    #[test]
    fn excluded_resources_do_not_count_towards_shares() {
        let next = |excluded: &[&str]| {
            let mut drf = HierarchicalDrf::default();
            drf.set_fair_sharing_excluded(
                &excluded.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            );
            drf.add_slave("g", resources("cpus:1;mem:100;gpus:4"), Resources::new());
            drf.add_slave("c1", resources("cpus:4;mem:400"), Resources::new());
            drf.add_slave("c2", resources("cpus:4;mem:400"), Resources::new());
            drf.add_framework("fa", vec!["a".into()], vec![], true);
            drf.add_framework("fb", vec!["b".into()], vec![], true);
            // Role a holds the GPU agent, role b a CPU agent.
            let mut gpu = resources("cpus:1;mem:100;gpus:4");
            gpu.allocate("a");
            drf.add_used("fa", "g", &gpu);
            let mut cpu = resources("cpus:4;mem:400");
            cpu.allocate("b");
            drf.add_used("fb", "c1", &cpu);
            let allocations = drf.allocate(Duration::ZERO);
            assert_eq!(allocations.len(), 1, "{allocations:?}");
            allocations[0].framework_id.clone()
        };
        // All GPUs make role a's share 1: the free agent goes to b.
        assert_eq!(next(&[]), "fb");
        // Without GPUs a holds 1/9 of the CPUs, b 4/9.
        assert_eq!(next(&["gpus"]), "fa");
    }

    #[test]
    fn min_allocatable_resources_decide_what_is_offered() {
        let offered = |min: Option<&str>| {
            let mut drf = HierarchicalDrf::default();
            if let Some(min) = min {
                drf.set_min_allocatable(MinAllocatable::parse(min).unwrap());
            }
            drf.add_slave("small", resources("cpus:0.5;mem:16"), Resources::new());
            drf.add_slave(
                "ports",
                resources("mem:8;ports:[31000-31001]"),
                Resources::new(),
            );
            drf.add_slave("big", resources("cpus:4;mem:4096"), Resources::new());
            drf.add_framework("f", vec!["*".into()], vec![], true);
            let mut agents: Vec<String> = drf
                .allocate(Duration::ZERO)
                .into_iter()
                .map(|a| a.slave_id)
                .collect();
            agents.sort();
            agents
        };
        // Upstream's default: 0.01 cpus or 32 MB.
        assert_eq!(offered(None), ["big", "small"]);
        assert_eq!(offered(Some("cpus:0.01|mem:32")), ["big", "small"]);
        assert_eq!(offered(Some("cpus:1;mem:64")), ["big"]);
        // A range's quantity is how many values it holds.
        assert_eq!(offered(Some("ports:2")), ["ports"]);
        assert_eq!(offered(Some("ports:3|cpus:2")), ["big"]);
        assert!(MinAllocatable::parse("cpus:1||mem:2").is_err());
        assert!(MinAllocatable::parse("cpus:-1").is_err());
        assert!(MinAllocatable::parse("cpus").is_err());
        assert_eq!(
            MinAllocatable::parse("cpus:1;mem:2;cpus:1").unwrap(),
            MinAllocatable(vec![vec![("cpus".into(), 2.0), ("mem".into(), 2.0)]])
        );
    }

    #[test]
    fn the_framework_with_the_lowest_share_gets_the_agent() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus:2;mem:1024"), Resources::new());
        drf.add_slave("s2", resources("cpus:2;mem:1024"), Resources::new());
        drf.add_framework("f1", vec!["*".into()], vec![], true);
        let first = drf.allocate(Duration::ZERO);
        assert_eq!(first.len(), 2, "one framework takes both agents: {first:?}");
        drf.add_framework("f2", vec!["*".into()], vec![], true);
        // f1 declines s1 for a minute: f2 has the lower share and gets it.
        let s1 = first
            .iter()
            .find(|a| a.slave_id == "s1")
            .unwrap()
            .resources
            .clone();
        drf.recover_resources(
            "f1",
            "s1",
            &s1,
            Some(Duration::from_secs(60)),
            Duration::ZERO,
        );
        let second = drf.allocate(Duration::from_secs(1));
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].framework_id, "f2");
        assert_eq!(second[0].slave_id, "s1");
        assert_eq!(
            second[0].resources.allocations().keys().collect::<Vec<_>>(),
            vec!["*"]
        );
    }

    /// Upstream's DRF sorters break ties between equal shares by how many
    /// times each client was allocated something, then by name: two
    /// frameworks that keep giving back what they get take turns.
    #[test]
    fn equal_shares_take_turns_by_allocation_count() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus:2;mem:1024"), Resources::new());
        for framework in ["f1", "f2"] {
            drf.add_framework(framework, vec!["*".into()], vec![], true);
        }
        let mut takers = Vec::new();
        for second in 0..4 {
            let now = Duration::from_secs(second);
            let offer = drf.allocate(now).remove(0);
            // Given back at once, without a filter: both shares are zero
            // again.
            drf.recover_resources(&offer.framework_id, "s1", &offer.resources, None, now);
            takers.push(offer.framework_id);
        }
        assert_eq!(takers, ["f1", "f2", "f1", "f2"]);
        // The same between roles.
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus:2;mem:1024"), Resources::new());
        drf.add_framework("fa", vec!["a".into()], vec![], true);
        drf.add_framework("fb", vec!["b".into()], vec![], true);
        let mut roles = Vec::new();
        for second in 0..4 {
            let now = Duration::from_secs(second);
            let offer = drf.allocate(now).remove(0);
            drf.recover_resources(&offer.framework_id, "s1", &offer.resources, None, now);
            roles.push(offer.role);
        }
        assert_eq!(roles, ["a", "b", "a", "b"]);
    }

    #[test]
    fn filters_expire_and_revive_clears_them() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus:1;mem:512"), Resources::new());
        drf.add_framework("f1", vec!["*".into()], vec![], true);
        let offer = drf.allocate(Duration::ZERO).remove(0).resources;
        drf.recover_resources(
            "f1",
            "s1",
            &offer,
            Some(Duration::from_secs(5)),
            Duration::ZERO,
        );
        assert!(drf.allocate(Duration::from_secs(4)).is_empty(), "filtered");
        let again = drf.allocate(Duration::from_secs(6));
        assert_eq!(again.len(), 1, "the filter expired");
        drf.recover_resources(
            "f1",
            "s1",
            &again[0].resources,
            Some(Duration::from_secs(60)),
            Duration::from_secs(6),
        );
        drf.revive("f1", &[]);
        assert_eq!(
            drf.allocate(Duration::from_secs(7)).len(),
            1,
            "revive clears filters"
        );
    }

    #[test]
    fn suppressed_and_inactive_frameworks_get_nothing() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus:1;mem:512"), Resources::new());
        drf.add_framework("f1", vec!["*".into()], vec![], true);
        drf.suppress("f1", &[]);
        assert!(drf.allocate(Duration::ZERO).is_empty());
        drf.revive("f1", &["*".into()]);
        drf.deactivate_framework("f1");
        assert!(drf.allocate(Duration::ZERO).is_empty());
        drf.activate_framework("f1");
        assert_eq!(drf.allocate(Duration::ZERO).len(), 1);
    }

    fn offered_agents(drf: &mut HierarchicalDrf, framework: &str) -> Vec<String> {
        let mut agents: Vec<String> = drf
            .allocate(Duration::ZERO)
            .into_iter()
            .filter(|a| a.framework_id == framework)
            .map(|a| a.slave_id)
            .collect();
        agents.sort();
        agents
    }

    #[test]
    fn agents_with_gpus_go_only_to_gpu_frameworks_when_filtered() {
        for filter in [true, false] {
            let mut drf = HierarchicalDrf::default();
            drf.set_filter_gpu_resources(filter);
            drf.add_slave("gpu", resources("cpus:1;mem:512;gpus:1"), Resources::new());
            drf.add_slave("plain", resources("cpus:1;mem:512"), Resources::new());
            drf.add_framework("f1", vec!["*".into()], vec![], true);
            // The whole agent is withheld, not only its GPUs.
            let expected: &[&str] = if filter {
                &["plain"]
            } else {
                &["gpu", "plain"]
            };
            assert_eq!(offered_agents(&mut drf, "f1"), expected, "filter {filter}");
        }

        let mut drf = HierarchicalDrf::default();
        drf.set_filter_gpu_resources(true);
        drf.add_slave("gpu", resources("cpus:1;mem:512;gpus:1"), Resources::new());
        drf.add_framework("f1", vec!["*".into()], vec![], true);
        assert!(drf.allocate(Duration::ZERO).is_empty());
        let gpu = Capabilities {
            gpu_resources: true,
            ..Capabilities::default()
        };
        drf.set_capabilities("f1", gpu);
        let allocations = drf.allocate(Duration::ZERO);
        assert_eq!(allocations.len(), 1);
        assert_eq!(quantity(&allocations[0].resources, "gpus"), 1.0);
        // An agent that loses its GPUs is offered to everyone again.
        drf.add_slave("gpu2", resources("cpus:1;mem:512;gpus:1"), Resources::new());
        drf.add_framework("f2", vec!["*".into()], vec![], true);
        drf.update_slave("gpu2", resources("cpus:1;mem:512"));
        assert_eq!(offered_agents(&mut drf, "f2"), ["gpu2"]);
    }

    #[test]
    fn remote_agents_go_only_to_region_aware_frameworks() {
        let mut drf = HierarchicalDrf::default();
        drf.set_region(Some("east".into()));
        for (agent, region) in [
            ("local", Some("east")),
            ("remote", Some("west")),
            ("none", None),
        ] {
            drf.add_slave(agent, resources("cpus:1;mem:512"), Resources::new());
            drf.set_slave_region(agent, region);
        }
        drf.add_framework("f1", vec!["*".into()], vec![], true);
        assert_eq!(offered_agents(&mut drf, "f1"), ["local", "none"]);
        let aware = Capabilities {
            region_aware: true,
            ..Capabilities::default()
        };
        drf.set_capabilities("f1", aware);
        assert_eq!(offered_agents(&mut drf, "f1"), ["remote"]);

        // A master without a fault domain has no remote agents.
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("west", resources("cpus:1;mem:512"), Resources::new());
        drf.set_slave_region("west", Some("west"));
        drf.add_framework("f1", vec!["*".into()], vec![], true);
        assert_eq!(offered_agents(&mut drf, "f1"), ["west"]);
    }

    #[test]
    fn reserved_resources_go_only_to_their_role() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave(
            "s1",
            resources("cpus(web):1;mem(web):512;cpus:1;mem:512"),
            Resources::new(),
        );
        drf.add_framework("other", vec!["batch".into()], vec![], true);
        drf.add_framework("web", vec!["web".into()], vec![], true);
        let allocations = drf.allocate(Duration::ZERO);
        let web = allocations
            .iter()
            .find(|a| a.framework_id == "web")
            .unwrap();
        assert!(!web.resources.reserved(Some("web")).is_empty(), "{web:?}");
        let other = allocations
            .iter()
            .find(|a| a.framework_id == "other")
            .unwrap();
        assert!(
            other.resources.reserved(Some("web")).is_empty(),
            "{other:?}"
        );
    }

    fn quota(guarantee: &[(&str, f64)], limit: &[(&str, f64)]) -> Quota {
        let g: Vec<(String, f64)> = guarantee.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        let l: Vec<(String, f64)> = limit.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        Quota::from_scalars(
            g.iter().map(|(n, v)| (n, *v)),
            l.iter().map(|(n, v)| (n, *v)),
        )
    }

    #[test]
    fn guarantees_are_laid_aside_even_without_a_framework_of_the_role() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus:2;mem:1024"), Resources::new());
        drf.add_slave("s2", resources("cpus:2;mem:1024"), Resources::new());
        drf.add_framework("batch", vec!["batch".into()], vec![], true);
        let quotas = BTreeMap::from([("web".to_string(), quota(&[("cpus", 2.0)], &[]))]);
        drf.update_quota(&quotas);
        // Two cpus stay free for `web`: one agent is not offered.
        let allocations = drf.allocate(Duration::ZERO);
        assert_eq!(allocations.len(), 1, "{allocations:?}");
        // A framework of `web` gets them, ahead of anyone.
        drf.add_framework("web", vec!["web".into()], vec![], true);
        let allocations = drf.allocate(Duration::ZERO);
        assert_eq!(allocations.len(), 1, "{allocations:?}");
        assert_eq!(allocations[0].framework_id, "web");
        // Without quota, everything goes.
        let mut drf2 = HierarchicalDrf::default();
        drf2.add_slave("s1", resources("cpus:2;mem:1024"), Resources::new());
        drf2.add_slave("s2", resources("cpus:2;mem:1024"), Resources::new());
        drf2.add_framework("batch", vec!["batch".into()], vec![], true);
        assert_eq!(drf2.allocate(Duration::ZERO).len(), 2);
    }

    #[test]
    fn unallocated_reservations_count_toward_quota_consumption() {
        // `web`'s guarantee is met by its reservation on s1, which nobody
        // is allocated: nothing is laid aside, `batch` gets s2 whole.
        let mut drf = HierarchicalDrf::default();
        drf.add_slave(
            "s1",
            resources("cpus(web):2;mem(web):1024"),
            Resources::new(),
        );
        drf.add_slave("s2", resources("cpus:2;mem:1024"), Resources::new());
        drf.add_framework("batch", vec!["batch".into()], vec![], true);
        let quotas = BTreeMap::from([("web".to_string(), quota(&[("cpus", 2.0)], &[]))]);
        drf.update_quota(&quotas);
        let allocations = drf.allocate(Duration::ZERO);
        assert_eq!(allocations.len(), 1, "{allocations:?}");
        assert_eq!(allocations[0].slave_id, "s2");
        // Its limit counts the reservation too: with a limit of 3 cpus,
        // `web` gets its 2 reserved and 1 unreserved cpu at most.
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus(web):2;mem(web):64"), Resources::new());
        drf.add_slave("s2", resources("cpus:4;mem:1024"), Resources::new());
        drf.add_framework("web", vec!["web".into()], vec![], true);
        let quotas = BTreeMap::from([("web".to_string(), quota(&[], &[("cpus", 3.0)]))]);
        drf.update_quota(&quotas);
        let cpus: f64 = drf
            .allocate(Duration::ZERO)
            .iter()
            .map(|a| a.resources.get_scalar("cpus").map_or(0.0, |s| s.value))
            .sum();
        assert!((cpus - 3.0).abs() < 1e-9, "{cpus}");
    }

    #[test]
    fn limits_cap_what_a_role_is_allocated() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus:4;mem:1024"), Resources::new());
        drf.add_framework("web", vec!["web".into()], vec![], true);
        let quotas =
            BTreeMap::from([("web".to_string(), quota(&[("cpus", 1.0)], &[("cpus", 1.5)]))]);
        drf.update_quota(&quotas);
        let allocations = drf.allocate(Duration::ZERO);
        assert_eq!(allocations.len(), 1);
        assert_eq!(allocations[0].resources.cpus(), Some(1.5));
        assert_eq!(allocations[0].resources.mem(), Some(1024 << 20));
        // At its limit, the role gets no more cpus.
        assert!(drf.allocate(Duration::ZERO).is_empty());
    }

    #[test]
    fn used_resources_are_not_offered() {
        let mut drf = HierarchicalDrf::default();
        let mut used = resources("cpus:1;mem:512");
        used.allocate("*");
        drf.add_slave("s1", resources("cpus:1;mem:512"), used);
        drf.add_framework("f1", vec!["*".into()], vec![], true);
        assert!(drf.allocate(Duration::ZERO).is_empty());
    }

    /// Upstream `HierarchicalAllocatorTest.NestedRoleDRF`: roles compete
    /// by the shares of their subtrees, so a framework of `d/e` gets an
    /// agent before one of `a/c` while `a/b` holds more than `d`, and `d/f`
    /// before `a/c` once `d` holds less than `a` again.
    #[test]
    fn nested_roles_compete_by_the_shares_of_their_subtrees() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("agent1", resources("cpus:2;mem:1024"), Resources::new());
        drf.add_framework("f1", vec!["a/b".into()], vec![], true);
        assert_eq!(offered_agents(&mut drf, "f1"), ["agent1"]);

        drf.add_framework("f2", vec!["a/c".into()], vec![], true);
        drf.add_framework("f3", vec!["d/e".into()], vec![], true);
        drf.add_slave("agent2", resources("cpus:1;mem:512"), Resources::new());
        let allocations = drf.allocate(Duration::ZERO);
        assert_eq!(allocations.len(), 1, "{allocations:?}");
        assert_eq!(
            (
                allocations[0].framework_id.as_str(),
                allocations[0].role.as_str()
            ),
            ("f3", "d/e")
        );

        // a holds 2 of 5 cpus, d 1: d's subtree is further below its
        // share, though f2 (in a/c) holds nothing at all.
        drf.add_framework("f4", vec!["d/f".into()], vec![], true);
        drf.add_slave("agent3", resources("cpus:2;mem:1024"), Resources::new());
        let allocations = drf.allocate(Duration::ZERO);
        assert_eq!(allocations.len(), 1, "{allocations:?}");
        assert_eq!(allocations[0].framework_id, "f4");
        assert_eq!(allocations[0].slave_id, "agent3");
    }

    /// A cluster whose agent `held` (cpus:100;mem:100, inactive, so never
    /// offered) holds what roles are allocated, and an agent `probe`
    /// with a single port: ports count toward no share, so offering the
    /// probe shows who comes first without changing any share.
    struct RoleTree {
        drf: HierarchicalDrf,
        roles: Vec<String>,
    }

    impl RoleTree {
        fn new(roles: &[&str]) -> Self {
            let mut drf = HierarchicalDrf::default();
            drf.set_min_allocatable(MinAllocatable::parse("ports:1").unwrap());
            drf.add_slave("held", resources("cpus:100;mem:100"), Resources::new());
            drf.deactivate_slave("held");
            drf.add_slave("probe", resources("ports:[1-1]"), Resources::new());
            let mut tree = Self {
                drf,
                roles: Vec::new(),
            };
            for role in roles {
                tree.add(role);
            }
            tree
        }

        /// Adds a framework `f:<role>` subscribed to `role` (upstream:
        /// adding and activating a sorter client).
        fn add(&mut self, role: &str) {
            self.drf
                .add_framework(&format!("f:{role}"), vec![role.into()], vec![], true);
            self.roles.push(role.to_string());
        }

        fn allocated(&mut self, role: &str, text: &str) {
            let mut used = resources(text);
            used.allocate(role);
            self.drf.add_used(&format!("f:{role}"), "held", &used);
        }

        fn unallocated(&mut self, role: &str, text: &str) {
            let mut used = resources(text);
            used.allocate(role);
            self.drf
                .recover_resources(&format!("f:{role}"), "held", &used, None, Duration::ZERO);
        }

        fn remove(&mut self, role: &str) {
            self.drf.remove_framework(&format!("f:{role}"));
            self.roles.retain(|r| r != role);
        }

        fn weights(&mut self, weights: &[(&str, f64)]) {
            self.drf
                .update_weights(&weights.iter().map(|(r, w)| (r.to_string(), *w)).collect());
        }

        /// The roles in the order they are offered the probe: each
        /// declines it in turn, so the next in line gets it.
        fn order(&mut self) -> Vec<String> {
            let mut order = Vec::new();
            let mut now = Duration::from_secs(1000);
            loop {
                now += Duration::from_secs(1);
                let mut allocations = self.drf.allocate(now);
                let Some(allocation) = allocations.pop() else {
                    break;
                };
                assert!(allocations.is_empty());
                self.drf.recover_resources(
                    &allocation.framework_id,
                    "probe",
                    &allocation.resources,
                    Some(Duration::from_secs(100)),
                    now,
                );
                order.push(allocation.role);
            }
            for role in &self.roles {
                self.drf.revive(&format!("f:{role}"), &[]);
            }
            order
        }
    }

    /// Upstream `DRFSorterTest.HierarchicalAllocation`.
    #[test]
    fn role_order_follows_the_shares_of_subtrees() {
        let mut tree = RoleTree::new(&["a", "b/c", "b/d"]);
        assert_eq!(tree.order(), ["a", "b/c", "b/d"]);
        tree.allocated("a", "cpus:6;mem:6");
        assert_eq!(tree.order(), ["b/c", "b/d", "a"]);
        tree.allocated("b/c", "cpus:4;mem:4");
        tree.allocated("b/d", "cpus:3;mem:3");
        // b (0.07) has more than a (0.06).
        assert_eq!(tree.order(), ["a", "b/d", "b/c"]);
        tree.allocated("a", "cpus:2;mem:2");
        assert_eq!(tree.order(), ["b/d", "b/c", "a"]);
        tree.add("b/e/f");
        assert_eq!(tree.order(), ["b/e/f", "b/d", "b/c", "a"]);
        tree.allocated("b/e/f", "cpus:3.5;mem:3.5");
        // b (0.105) now has more than a (0.08); within b, e (0.035) sits
        // between d (0.03) and c (0.04).
        assert_eq!(tree.order(), ["a", "b/d", "b/e/f", "b/c"]);
        // Removing a framework takes its allocation off its subtree.
        tree.remove("b/e/f");
        assert_eq!(tree.order(), ["b/d", "b/c", "a"]);
        tree.unallocated("b/c", "cpus:3;mem:3");
        assert_eq!(tree.order(), ["b/c", "b/d", "a"]);
        tree.add("b/e/f");
        tree.allocated("b/e/f", "cpus:3.5;mem:3.5");
        assert_eq!(tree.order(), ["b/c", "b/d", "b/e/f", "a"]);
    }

    /// Upstream `DRFSorterTest.HierarchicalIterationOrder`: a subtree is
    /// visited whole before the next sibling, and a role's own frameworks
    /// compete with its subroles.
    #[test]
    fn subtrees_are_visited_whole_in_order() {
        let mut tree = RoleTree::new(&["a/b", "c", "d", "d/e"]);
        assert_eq!(tree.order(), ["a/b", "c", "d", "d/e"]);
        tree.allocated("c", "cpus:8;mem:8");
        assert_eq!(tree.order(), ["a/b", "d", "d/e", "c"]);
        tree.allocated("d", "cpus:3;mem:3");
        tree.allocated("d/e", "cpus:2;mem:2");
        assert_eq!(tree.order(), ["a/b", "d/e", "d", "c"]);
        tree.allocated("a/b", "cpus:6;mem:6");
        assert_eq!(tree.order(), ["d/e", "d", "a/b", "c"]);
    }

    /// Upstream `DRFSorterTest.AddChildToLeaf`: a role gaining a subrole
    /// competes with it inside its subtree, with weight 1 there; its own
    /// weight counts against its siblings only.
    #[test]
    fn a_role_competes_with_its_subroles_with_weight_one() {
        let mut tree = RoleTree::new(&["a", "b"]);
        tree.allocated("a", "cpus:10;mem:10");
        tree.allocated("b", "cpus:6;mem:6");
        assert_eq!(tree.order(), ["b", "a"]);
        tree.add("a/c");
        tree.allocated("a/c", "cpus:5;mem:5");
        assert_eq!(tree.order(), ["b", "a/c", "a"]);
        tree.unallocated("a", "cpus:10;mem:10");
        tree.remove("a");
        assert_eq!(tree.order(), ["a/c", "b"]);
        tree.add("a");
        tree.allocated("a", "cpus:10;mem:10");
        assert_eq!(tree.order(), ["b", "a/c", "a"]);
        tree.weights(&[("a/c", 0.2)]);
        assert_eq!(tree.order(), ["b", "a", "a/c"]);
        tree.weights(&[("a/c", 0.2), ("a", 3.0)]);
        assert_eq!(tree.order(), ["a", "a/c", "b"]);
        tree.weights(&[("a", 3.0)]);
        assert_eq!(tree.order(), ["a/c", "a", "b"]);
    }

    /// Upstream `DRFSorterTest.AddChildToInternal`.
    #[test]
    fn a_role_joins_the_subtree_of_its_subroles() {
        let mut tree = RoleTree::new(&["x/a", "x/b"]);
        tree.allocated("x/a", "cpus:10;mem:10");
        tree.allocated("x/b", "cpus:6;mem:6");
        assert_eq!(tree.order(), ["x/b", "x/a"]);
        tree.add("x");
        tree.allocated("x", "cpus:7;mem:7");
        assert_eq!(tree.order(), ["x/b", "x", "x/a"]);
        tree.add("z");
        tree.allocated("z", "cpus:20;mem:20");
        assert_eq!(tree.order(), ["z", "x/b", "x", "x/a"]);
        tree.unallocated("x", "cpus:7;mem:7");
        tree.remove("x");
        assert_eq!(tree.order(), ["x/b", "x/a", "z"]);
    }

    /// Upstream `DRFSorterTest.AddChildToInactiveLeaf`: a role without
    /// active frameworks is not offered, but its allocation still counts
    /// for its subtree.
    #[test]
    fn an_inactive_role_still_counts_for_its_subtree() {
        let mut tree = RoleTree::new(&["a", "b"]);
        tree.allocated("a", "cpus:10;mem:10");
        tree.allocated("b", "cpus:6;mem:6");
        tree.drf.deactivate_framework("f:a");
        assert_eq!(tree.order(), ["b"]);
        tree.add("a/c");
        tree.allocated("a/c", "cpus:5;mem:5");
        assert_eq!(tree.order(), ["b", "a/c"]);
    }

    /// Upstream `DRFSorterTest.ChangeWeightOnSubtree`: weights of
    /// intermediate roles nobody subscribes to apply to their subtrees.
    #[test]
    fn weights_apply_to_whole_subtrees() {
        let mut tree = RoleTree::new(&[]);
        tree.weights(&[("a", 2.0), ("b", 3.0)]);
        tree.add("a/x");
        tree.add("b/y");
        assert_eq!(tree.order(), ["a/x", "b/y"]);
        tree.allocated("a/x", "cpus:10;mem:10");
        tree.allocated("b/y", "cpus:10;mem:10");
        assert_eq!(tree.order(), ["b/y", "a/x"]);
        tree.add("b/z");
        tree.allocated("b/z", "cpus:5;mem:5");
        assert_eq!(tree.order(), ["b/z", "b/y", "a/x"]);
        tree.add("b");
        tree.allocated("b", "cpus:4;mem:4");
        assert_eq!(tree.order(), ["a/x", "b", "b/z", "b/y"]);
        tree.add("a/zz");
        tree.allocated("a/zz", "cpus:2;mem:2");
        assert_eq!(tree.order(), ["a/zz", "a/x", "b", "b/z", "b/y"]);
    }

    /// Upstream `DRFSorterTest.UpdateWeight`, with the roles nested in
    /// one parent: a weight orders siblings inside a subtree too.
    #[test]
    fn updating_a_weight_reorders_sibling_subroles() {
        let mut tree = RoleTree::new(&["p/a", "p/b"]);
        tree.allocated("p/a", "cpus:5;mem:5");
        tree.allocated("p/b", "cpus:6;mem:6");
        assert_eq!(tree.order(), ["p/a", "p/b"]);
        tree.weights(&[("p/b", 2.0)]);
        assert_eq!(tree.order(), ["p/b", "p/a"]);
    }

    /// Upstream `DRFSorterTest.ShallowHierarchy`-like: disjoint subtrees
    /// of one role each order as the roles would without nesting.
    #[test]
    fn disjoint_subtrees_order_as_flat_roles() {
        let mut tree = RoleTree::new(&["a/a", "b/b", "c/c/c", "d/d"]);
        tree.allocated("a/a", "cpus:5;mem:5");
        tree.allocated("b/b", "cpus:6;mem:6");
        tree.allocated("c/c/c", "cpus:1;mem:1");
        tree.allocated("d/d", "cpus:3;mem:1");
        assert_eq!(tree.order(), ["c/c/c", "d/d", "a/a", "b/b"]);
    }

    /// A parent role's limit caps its whole subtree (upstream's role
    /// tree counts a subrole's allocation in its parent's consumption).
    #[test]
    fn a_parent_limit_caps_its_subroles() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus:4;mem:1024"), Resources::new());
        drf.add_slave("s2", resources("cpus:4;mem:1024"), Resources::new());
        drf.add_framework("fb", vec!["a/b".into()], vec![], true);
        drf.add_framework("fc", vec!["a/c".into()], vec![], true);
        let quotas = BTreeMap::from([("a".to_string(), quota(&[], &[("cpus", 3.0)]))]);
        drf.update_quota(&quotas);
        let allocations = drf.allocate(Duration::ZERO);
        let cpus: f64 = allocations.iter().filter_map(|a| a.resources.cpus()).sum();
        assert!((cpus - 3.0).abs() < 1e-9, "{allocations:?}");
        // Both subroles were offered, the second what the first left.
        let mut frameworks: Vec<&str> = allocations
            .iter()
            .map(|a| a.framework_id.as_str())
            .collect();
        frameworks.sort();
        assert_eq!(frameworks, ["fb", "fc"], "{allocations:?}");
        assert!(drf
            .allocate(Duration::ZERO)
            .iter()
            .all(|a| a.resources.cpus().is_none()));
        // A role outside the subtree is not capped by it.
        drf.add_framework("fd", vec!["d".into()], vec![], true);
        let cpus: f64 = drf
            .allocate(Duration::ZERO)
            .iter()
            .filter(|a| a.framework_id == "fd")
            .filter_map(|a| a.resources.cpus())
            .sum();
        assert!((cpus - 5.0).abs() < 1e-9, "{cpus}");
    }

    /// A subrole's allocation counts toward its parent's guarantee: once
    /// `a/b` holds what `a` is guaranteed, nothing more is laid aside.
    #[test]
    fn a_subrole_allocation_counts_toward_its_parent_guarantee() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus:2;mem:1024"), Resources::new());
        drf.add_slave("s2", resources("cpus:2;mem:1024"), Resources::new());
        drf.add_slave("s3", resources("cpus:2;mem:1024"), Resources::new());
        let quotas = BTreeMap::from([("a".to_string(), quota(&[("cpus", 2.0)], &[]))]);
        drf.update_quota(&quotas);
        drf.add_framework("batch", vec!["batch".into()], vec![], true);
        // Two cpus are laid aside for `a`: batch gets two agents of three.
        let batch = drf.allocate(Duration::ZERO);
        assert_eq!(batch.len(), 2, "{batch:?}");
        // A framework of `a/b` may take what is laid aside for `a`.
        drf.add_framework("ab", vec!["a/b".into()], vec![], true);
        let allocations = drf.allocate(Duration::ZERO);
        assert_eq!(allocations.len(), 1, "{allocations:?}");
        assert_eq!(allocations[0].framework_id, "ab");
        // `a/b` holds `a`'s guarantee: nothing is laid aside any more, and
        // an agent batch declines is offered to it again.
        drf.suppress("ab", &[]);
        drf.recover_resources(
            "batch",
            &batch[0].slave_id,
            &batch[0].resources,
            None,
            Duration::ZERO,
        );
        let allocations = drf.allocate(Duration::ZERO);
        assert_eq!(allocations.len(), 1, "{allocations:?}");
        assert_eq!(allocations[0].framework_id, "batch");
    }

    /// A reservation to a parent role counts toward its guarantee while
    /// nobody holds it, and goes on counting once a framework of a
    /// subrole is allocated it (upstream's role tree tracks reservations
    /// up to the root).
    #[test]
    fn a_parent_reservation_taken_by_a_subrole_still_meets_the_guarantee() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus(a):2;mem(a):512"), Resources::new());
        drf.add_slave("s2", resources("cpus:2;mem:512"), Resources::new());
        let quotas = BTreeMap::from([("a".to_string(), quota(&[("cpus", 2.0)], &[]))]);
        drf.update_quota(&quotas);
        drf.add_framework("batch", vec!["batch".into()], vec![], true);
        // `a`'s reservation meets its guarantee: batch gets s2.
        assert_eq!(offered_agents(&mut drf, "batch"), ["s2"]);
        drf.add_framework("ab", vec!["a/b".into()], vec![], true);
        let allocations = drf.allocate(Duration::ZERO);
        assert_eq!(allocations.len(), 1, "{allocations:?}");
        assert_eq!(
            (
                allocations[0].framework_id.as_str(),
                allocations[0].slave_id.as_str()
            ),
            ("ab", "s1")
        );
        assert_eq!(allocations[0].role, "a/b");
        // Held by `a/b`, the reservation still meets `a`'s guarantee.
        drf.add_slave("s3", resources("cpus:2;mem:512"), Resources::new());
        drf.suppress("ab", &[]);
        assert_eq!(offered_agents(&mut drf, "batch"), ["s3"]);
    }
}
