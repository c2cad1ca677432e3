//! The JSON of the master's read-only state endpoints (`/master/state`,
//! `/master/state-summary`, `/master/frameworks`, `/master/slaves`,
//! `/master/tasks`, `/master/roles`) and of `/version`.
//!
//! Upstream counterpart: `src/master/readonly_handler.cpp` (the writers
//! `FullFrameworkWriter`, `SlaveWriter`, `SlavesWriter`, the summaries and
//! the task paging), the `json(JSON::ObjectWriter*, ..)` writers of
//! `src/common/http.cpp`, and `src/version/version.cpp` with
//! `src/common/build.hpp`. docs/master-endpoints-json.md describes every
//! object; the writers here cite its sections (§).
//!
//! `/master/state`, `/master/frameworks`, `/master/slaves` and
//! `/master/tasks` are written straight into a buffer ([`write_state`] and
//! its siblings, with [`crate::json_writer`]); the tree builders they
//! replaced are kept for the tests, which compare the two byte for byte.
//! The other documents are `serde_json::Value`s whose keys are inserted in
//! upstream's write order, rendered by [`mesos_proto::json::render`]
//! (stout's escaping and `%#.15g` doubles). A C++ `double` becomes a JSON float here, a C++
//! integer a JSON integer, so `"activated_slaves":1.0` and
//! `"TASK_RUNNING":1` print as upstream prints them.
//!
//! Deliberate differences (also in docs/compatibility.md):
//! - Arrays upstream fills from hash tables (agents, frameworks, a
//!   framework's tasks and offers, id lists) are in id order here, shorter
//!   ids first (`-S2` before `-S10`); upstream's order is arbitrary.
//! - An attribute name given twice keeps one key (the last value, at the
//!   first position); upstream writes the key twice.
//! - What the master does not record is derived or left empty:
//!   roles have no quota (quota does not exist yet).
//! - A completed framework's tasks are listed as the master holds them
//!   (upstream marks them `TASK_KILLED` and moves them to
//!   `completed_tasks`), and its `unregistered_time` is when it
//!   disconnected, if that came before its removal.

use mesos_proto::model::{attributes_json, collapsed, dbl, id_order, labels_json};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use mesos_proto::mesos::value::Scalar;
use mesos_proto::mesos::{framework_info, master_info, slave_info, SlaveInfo, Task, TaskState};
use mesos_proto::resources::{self, ResourceFormat, Resources, UnorderedKeys};
use serde_json::{Map, Value};

use crate::frameworks::{Framework, TaskEntry};
use crate::master::{Master, Slave, SlaveEntry, Slaves};

mod stream;

pub use stream::{
    estimated_len, write_ahead, write_frameworks, write_slaves, write_state, write_tasks,
    WriteAheadCursor,
};

/// Upstream's `TASK_LIMIT`: the default `limit` of `/master/tasks`.
pub const TASK_LIMIT: u64 = 100;

/// The build facts upstream compiles in (`src/common/build.hpp`),
/// recorded by the crate's `build.rs` when the master was compiled.
pub mod build {
    /// `BUILD_DATE`: `%Y-%m-%d %H:%M:%S` in the build host's local time.
    pub const DATE: &str = env!("MESOS_BUILD_DATE");

    /// `BUILD_USER`: `$USER` of the build (empty when it was unset).
    pub const USER: &str = env!("MESOS_BUILD_USER");

    /// Returns `BUILD_TIME`: when the master was built, in whole seconds
    /// since the epoch (a double, as upstream's `build::TIME`).
    pub fn time() -> f64 {
        env!("MESOS_BUILD_TIME").parse().unwrap_or_default()
    }

    /// Returns `GIT_SHA`, when the build ran in a git checkout.
    pub fn git_sha() -> Option<&'static str> {
        non_empty(env!("MESOS_BUILD_GIT_SHA"))
    }

    /// Returns `GIT_BRANCH` (`refs/heads/<name>`), when HEAD was on a
    /// branch.
    pub fn git_branch() -> Option<&'static str> {
        non_empty(env!("MESOS_BUILD_GIT_BRANCH"))
    }

    /// Returns `GIT_TAG`, when HEAD was exactly at a tag.
    pub fn git_tag() -> Option<&'static str> {
        non_empty(env!("MESOS_BUILD_GIT_TAG"))
    }

    fn non_empty(value: &'static str) -> Option<&'static str> {
        Some(value).filter(|v| !v.is_empty())
    }
}

/// Returns the `/version` document (upstream `version.cpp`): a
/// `JSON::Object`, so keys are sorted, with `build_time` a double and the
/// `git_*` keys only when the build knew them.
pub fn version() -> Value {
    let mut sorted: BTreeMap<&str, Value> = BTreeMap::new();
    sorted.insert("version", crate::VERSION.into());
    sorted.insert("build_date", build::DATE.into());
    sorted.insert("build_time", dbl(build::time()));
    sorted.insert("build_user", build::USER.into());
    for (key, value) in [
        ("git_sha", build::git_sha()),
        ("git_branch", build::git_branch()),
        ("git_tag", build::git_tag()),
    ] {
        if let Some(value) = value {
            sorted.insert(key, value.into());
        }
    }
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

// ---------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------

#[doc(hidden)]
/// The reference tree builder the streaming writer replaced, kept so
/// that tests can compare the two byte for byte.
///
/// Returns `/master/state` (§4.1).
pub fn state(master: &Master) -> Value {
    let usage = Usage::of(master);
    let mut o = Map::new();
    o.insert("version".into(), crate::VERSION.into());
    if let Some(sha) = build::git_sha() {
        o.insert("git_sha".into(), sha.into());
    }
    if let Some(branch) = build::git_branch() {
        o.insert("git_branch".into(), branch.into());
    }
    if let Some(tag) = build::git_tag() {
        o.insert("git_tag".into(), tag.into());
    }
    o.insert("build_date".into(), build::DATE.into());
    o.insert("build_time".into(), dbl(build::time()));
    o.insert("build_user".into(), build::USER.into());
    o.insert("start_time".into(), dbl(master.start_time));
    if let Some(elected) = master.elected_time {
        o.insert("elected_time".into(), dbl(elected));
    }
    o.insert("id".into(), master.info.id.clone().into());
    o.insert("pid".into(), master.info.pid().into());
    o.insert("hostname".into(), master.info.hostname().into());
    o.insert(
        "capabilities".into(),
        master
            .info
            .capabilities
            .iter()
            .map(|c| {
                let name = c
                    .r#type
                    .and_then(|t| master_info::capability::Type::try_from(t).ok())
                    .unwrap_or(master_info::capability::Type::Unknown);
                Value::from(name.as_str_name())
            })
            .collect(),
    );
    let registered = master.slaves.registered.values();
    let active = registered.clone().filter(|s| s.active).count();
    o.insert("activated_slaves".into(), dbl(active as f64));
    o.insert(
        "deactivated_slaves".into(),
        dbl((master.slaves.registered.len() - active) as f64),
    );
    o.insert(
        "unreachable_slaves".into(),
        dbl(master.slaves.unreachable.len() as f64),
    );
    if let Some(domain) = &master.info.domain {
        o.insert("domain".into(), mesos_proto::json::to_value(domain));
    }
    // A standalone master leads once it is elected (registry recovered).
    if master.recovered() {
        o.insert("leader".into(), master.info.pid().into());
        o.insert("leader_info".into(), master_info_json(master));
    }
    if let Some(cluster) = &master.flags.cluster {
        o.insert("cluster".into(), cluster.clone().into());
    }
    if let Some(log_dir) = &master.flags.log_dir {
        o.insert("log_dir".into(), log_dir.display().to_string().into());
    }
    let flags: Map<String, Value> = master
        .flags
        .to_map()
        .into_iter()
        .map(|(name, value)| (name.to_string(), Value::String(value)))
        .collect();
    o.insert("flags".into(), Value::Object(flags));
    o.insert(
        "slaves".into(),
        registered_slaves(master)
            .map(|slave| Value::Object(slave_json(&master.slaves, slave, &usage)))
            .collect(),
    );
    o.insert(
        "recovered_slaves".into(),
        recovered_slaves(master)
            .map(|info| Value::Object(slave_info_json(info)))
            .collect(),
    );
    o.insert(
        "frameworks".into(),
        registered_frameworks(master)
            .map(|f| Value::Object(full_framework_json(master, f, true, &usage)))
            .collect(),
    );
    o.insert(
        "completed_frameworks".into(),
        master
            .frameworks
            .completed
            .iter()
            .map(|f| Value::Object(full_framework_json(master, f, false, &usage)))
            .collect(),
    );
    o.insert("orphan_tasks".into(), Value::Array(vec![]));
    o.insert("unregistered_frameworks".into(), Value::Array(vec![]));
    Value::Object(o)
}

/// Returns `/master/state-summary` (§4.2).
pub fn state_summary(master: &Master) -> Value {
    let usage = Usage::of(master);
    // Task counts and the agent <-> framework links come from the tasks of
    // registered frameworks only, as upstream computes them.
    let mut slave_counts: HashMap<&str, StateCounts> = HashMap::new();
    let mut framework_counts: HashMap<&str, StateCounts> = HashMap::new();
    let mut slave_frameworks: HashMap<&str, BTreeSet<IdKey<'_>>> = HashMap::new();
    let mut framework_slaves: HashMap<&str, BTreeSet<IdKey<'_>>> = HashMap::new();
    for framework in registered_frameworks(master) {
        let lists = TaskLists::of(framework);
        for task in lists.all() {
            let slave_id = task.slave_id.value.as_str();
            slave_counts.entry(slave_id).or_default().count(task);
            framework_counts
                .entry(framework.id())
                .or_default()
                .count(task);
            slave_frameworks
                .entry(slave_id)
                .or_default()
                .insert(IdKey(framework.id()));
            framework_slaves
                .entry(framework.id())
                .or_default()
                .insert(IdKey(slave_id));
        }
    }

    let mut o = Map::new();
    o.insert("hostname".into(), master.info.hostname().into());
    if let Some(cluster) = &master.flags.cluster {
        o.insert("cluster".into(), cluster.clone().into());
    }
    let slaves = registered_slaves(master).map(|slave| {
        let mut s = slave_json(&master.slaves, slave, &usage);
        let id = slave_id(&slave.info);
        slave_counts
            .get(id)
            .cloned()
            .unwrap_or_default()
            .write(&mut s);
        s.insert("framework_ids".into(), ids_json(slave_frameworks.get(id)));
        Value::Object(s)
    });
    o.insert("slaves".into(), slaves.collect());
    let frameworks = registered_frameworks(master).map(|framework| {
        let mut f = framework_summary_json(framework, &usage);
        let id = framework.id();
        framework_counts
            .get(id)
            .cloned()
            .unwrap_or_default()
            .write(&mut f);
        f.insert("slave_ids".into(), ids_json(framework_slaves.get(id)));
        Value::Object(f)
    });
    o.insert("frameworks".into(), frameworks.collect());
    Value::Object(o)
}

#[doc(hidden)]
/// The reference tree builder the streaming writer replaced, kept so
/// that tests can compare the two byte for byte.
///
/// Returns `/master/frameworks` (§4.3), only the framework `framework_id`
/// when given (an unknown id gives empty arrays).
pub fn frameworks(master: &Master, framework_id: Option<&str>) -> Value {
    let usage = Usage::of(master);
    let selected = |f: &&Framework| framework_id.is_none_or(|id| f.id() == id);
    let mut o = Map::new();
    o.insert(
        "frameworks".into(),
        registered_frameworks(master)
            .filter(selected)
            .map(|f| Value::Object(full_framework_json(master, f, true, &usage)))
            .collect(),
    );
    o.insert(
        "completed_frameworks".into(),
        master
            .frameworks
            .completed
            .iter()
            .filter(selected)
            .map(|f| Value::Object(full_framework_json(master, f, false, &usage)))
            .collect(),
    );
    o.insert("unregistered_frameworks".into(), Value::Array(vec![]));
    Value::Object(o)
}

#[doc(hidden)]
/// The reference tree builder the streaming writer replaced, kept so
/// that tests can compare the two byte for byte.
///
/// Returns `/master/slaves` (§4.4), only the agent `slave_id` when given.
pub fn slaves(master: &Master, slave_id: Option<&str>) -> Value {
    let usage = Usage::of(master);
    let selected = |id: &str| slave_id.is_none_or(|wanted| wanted == id);
    let mut o = Map::new();
    o.insert(
        "slaves".into(),
        registered_slaves(master)
            .filter(|s| selected(self::slave_id(&s.info)))
            .map(|slave| {
                let mut s = slave_json(&master.slaves, slave, &usage);
                slave_full_resources(slave, &usage, &mut s);
                Value::Object(s)
            })
            .collect(),
    );
    o.insert(
        "recovered_slaves".into(),
        recovered_slaves(master)
            .filter(|info| selected(self::slave_id(info)))
            .map(|info| Value::Object(slave_info_json(info)))
            .collect(),
    );
    Value::Object(o)
}

/// The query of `/master/tasks` (§4.5).
#[derive(Debug, Clone, PartialEq)]
pub struct TasksQuery {
    /// At most this many tasks (`limit`, default 100; a negative number
    /// wraps to a huge one, as upstream's `size_t` conversion does).
    pub limit: u64,
    /// Skip this many sorted tasks (`offset`, default 0; negatives wrap).
    pub offset: u64,
    /// `order=asc`; anything else sorts descending.
    pub ascending: bool,
    /// Only this framework's tasks.
    pub framework_id: Option<String>,
    /// Only tasks with this id.
    pub task_id: Option<String>,
}

impl TasksQuery {
    /// Reads the query parameters with `param` (which returns a
    /// parameter's value); what does not parse takes its default.
    pub fn parse<'a>(param: impl Fn(&str) -> Option<&'a str>) -> Self {
        // `size_t x = int` sign-extends: -1 becomes 2^64 - 1.
        let number = |name: &str, default: u64| {
            param(name)
                .and_then(numify_int)
                .map_or(default, |n| i64::from(n) as u64)
        };
        Self {
            limit: number("limit", TASK_LIMIT),
            offset: number("offset", 0),
            ascending: param("order") == Some("asc"),
            framework_id: param("framework_id").map(str::to_string),
            task_id: param("task_id").map(str::to_string),
        }
    }
}

impl Default for TasksQuery {
    fn default() -> Self {
        Self::parse(|_| None)
    }
}

/// Returns `/master/tasks` (§4.5): the tasks of registered, then completed
/// frameworks, sorted by their first status's timestamp, then paged.
#[doc(hidden)]
/// (The reference tree builder, kept for the tests.)
pub fn tasks(master: &Master, query: &TasksQuery) -> Value {
    let page: Vec<Value> = selected_tasks(master, query)
        .into_iter()
        .map(|task| Value::Object(task_json(task)))
        .collect();
    let mut o = Map::new();
    o.insert("tasks".into(), Value::Array(page));
    Value::Object(o)
}

/// The page of tasks `/master/tasks` lists for `query`.
fn selected_tasks<'a>(master: &'a Master, query: &TasksQuery) -> Vec<&'a Task> {
    let frameworks = registered_frameworks(master)
        .chain(master.frameworks.completed.iter())
        .filter(|f| query.framework_id.as_deref().is_none_or(|id| f.id() == id));
    let mut selected: Vec<&Task> = Vec::new();
    for framework in frameworks {
        let lists = TaskLists::of(framework);
        selected.extend(lists.all().filter(|t| {
            query
                .task_id
                .as_deref()
                .is_none_or(|id| t.task_id.value == id)
        }));
    }
    let first = |task: &Task| collapsed(&task.statuses).first().map(|s| s.timestamp());
    // A stable sort; upstream's is not, so ties may come in any order there.
    selected.sort_by(|a, b| match (first(a), first(b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) if query.ascending => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) if query.ascending => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) if query.ascending => x.total_cmp(&y),
        (Some(x), Some(y)) => y.total_cmp(&x),
    });
    // `min(offset + limit, size)` in `size_t`, wrapping as upstream does.
    let end = query
        .offset
        .wrapping_add(query.limit)
        .min(selected.len() as u64);
    (query.offset..end)
        .filter_map(|i| selected.get(usize::try_from(i).ok()?).copied())
        .collect()
}

/// A known role and what it holds (upstream `Master::knownRoles` with
/// `RoleResourceBreakdown`), as `/master/roles` and `GET_ROLES` show it.
pub struct RoleView {
    /// The role.
    pub name: String,
    /// Its weight (1 unless configured).
    pub weight: f64,
    /// Ids of the registered frameworks subscribed to it or holding
    /// resources allocated to it, in id order.
    pub frameworks: Vec<String>,
    allocated: Quantities,
    offered: Quantities,
    reserved: Quantities,
    consumed: Quantities,
}

impl RoleView {
    /// What is allocated and offered to the role's subtree, as scalar
    /// resources (`mesos.Role.resources`).
    pub fn resources(&self) -> Vec<mesos_proto::mesos::Resource> {
        let mut both = self.allocated.clone();
        both.merge(&self.offered);
        both.0
            .iter()
            .map(|(name, scalar)| mesos_proto::mesos::Resource {
                name: name.clone(),
                r#type: mesos_proto::mesos::value::Type::Scalar as i32,
                scalar: Some(mesos_proto::mesos::value::Scalar {
                    value: scalar.value,
                }),
                ..Default::default()
            })
            .collect()
    }
}

/// Returns the known roles in name order: with `--roles`, the listed
/// roles and their ancestors; otherwise the roles of registered
/// frameworks, roles holding allocations, offers or reservations, roles
/// with a configured weight, and their ancestors.
pub fn role_views(master: &Master) -> Vec<RoleView> {
    let usage = Usage::of(master);
    let totals: Vec<Resources> = registered_slaves(master)
        .map(|s| total_resources(s))
        .collect();

    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut members: HashMap<String, BTreeSet<IdKey<'_>>> = HashMap::new();
    for framework in registered_frameworks(master) {
        let mut roles: BTreeSet<String> = Master::framework_roles(&framework.info)
            .into_iter()
            .collect();
        if let Some(used) = usage.framework_used.get(framework.id()) {
            roles.extend(used.allocations().into_keys());
        }
        for role in roles {
            members
                .entry(role.clone())
                .or_default()
                .insert(IdKey(framework.id()));
            known.insert(role);
        }
    }
    if let Some(whitelist) = &master.role_whitelist {
        known = whitelist.clone();
    } else {
        for offered in usage.slave_offered.values() {
            known.extend(offered.allocations().into_keys());
        }
        for total in &totals {
            known.extend(
                total
                    .iter()
                    .filter_map(|r| Resources::reservation_role(r).map(str::to_string)),
            );
        }
        known.extend(master.weights.keys().cloned());
        known.extend(master.quotas.keys().cloned());
    }
    let ancestors: Vec<String> = known
        .iter()
        .flat_map(|role| {
            role.match_indices('/')
                .map(|(i, _)| role[..i].to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    known.extend(ancestors);

    known
        .into_iter()
        .map(|name| {
            let mut allocated = Quantities::default();
            let mut consumed_unreserved = Quantities::default();
            for used in usage.slave_used.values() {
                let subtree = used.allocated_to_role_subtree(&name);
                allocated.add(&subtree);
                consumed_unreserved.add(&subtree.unreserved().non_revocable());
            }
            let mut offered = Quantities::default();
            for resources in usage.slave_offered.values() {
                offered.add(&resources.allocated_to_role_subtree(&name));
            }
            let mut reserved = Quantities::default();
            for total in &totals {
                reserved.add(&total.reserved_to_role_subtree(&name));
            }
            let mut consumed = reserved.clone();
            consumed.merge(&consumed_unreserved);
            let frameworks = members
                .get(&name)
                .into_iter()
                .flatten()
                .map(|id| id.0.to_string())
                .collect();
            RoleView {
                weight: master.weights.get(&name).copied().unwrap_or(1.0),
                name,
                frameworks,
                allocated,
                offered,
                reserved,
                consumed,
            }
        })
        .collect()
}

/// Returns `/master/roles` (§4.6).
pub fn roles(master: &Master) -> Value {
    let roles = role_views(master).into_iter().map(|role| {
        let mut both = role.allocated.clone();
        both.merge(&role.offered);
        let mut quota = Map::new();
        quota.insert("role".into(), role.name.clone().into());
        let scalars =
            |map: Option<&std::collections::HashMap<String, mesos_proto::mesos::value::Scalar>>| {
                let mut sorted: Vec<(&String, f64)> = map
                    .map(|m| m.iter().map(|(n, s)| (n, s.value)).collect())
                    .unwrap_or_default();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    sorted
                        .into_iter()
                        .map(|(n, v)| (n.clone(), dbl(v)))
                        .collect(),
                )
            };
        let config = master.quotas.get(&role.name);
        quota.insert("guarantee".into(), scalars(config.map(|c| &c.guarantees)));
        quota.insert("limit".into(), scalars(config.map(|c| &c.limits)));
        quota.insert("consumed".into(), role.consumed.json());
        let mut r = Map::new();
        r.insert("name".into(), role.name.clone().into());
        r.insert("weight".into(), dbl(role.weight));
        r.insert("quota".into(), Value::Object(quota));
        r.insert("resources".into(), both.json());
        r.insert("allocated".into(), role.allocated.json());
        r.insert("offered".into(), role.offered.json());
        r.insert("reserved".into(), role.reserved.json());
        r.insert(
            "frameworks".into(),
            role.frameworks.into_iter().map(Value::from).collect(),
        );
        Value::Object(r)
    });
    let mut o = Map::new();
    o.insert("roles".into(), roles.collect());
    Value::Object(o)
}

// ---------------------------------------------------------------------------
// Accounting
// ---------------------------------------------------------------------------

/// Resources in use and on offer, per agent and per framework (upstream
/// keeps these as `Slave::usedResources`/`offeredResources` and
/// `Framework::totalUsedResources`/`totalOfferedResources`; here they are
/// summed from the active tasks, the executors and the outstanding offers).
struct Usage<'a> {
    slave_used: UsedMap<'a>,
    slave_offered: HashMap<&'a str, Resources>,
    framework_used: UsedMap<'a>,
    framework_offered: HashMap<&'a str, Resources>,
}

/// What the frameworks' tasks use, per agent and per framework: summed
/// again only when a framework's tasks changed (or frameworks came or
/// went), so that a state document of a large, steady cluster does not
/// add up every agent's use for every request.
pub(crate) struct TasksUsage {
    /// Each registered framework's id and tasks version, when summed.
    key: Vec<(String, u64)>,
    slave: HashMap<String, Resources>,
    framework: HashMap<String, Resources>,
}

impl TasksUsage {
    pub(crate) fn of(master: &Master) -> std::rc::Rc<Self> {
        let key: Vec<(String, u64)> = registered_frameworks(master)
            .map(|f| (f.id().to_string(), f.tasks_version()))
            .collect();
        let mut cache = master.tasks_usage.borrow_mut();
        if let Some(usage) = cache.as_ref().filter(|usage| usage.key == key) {
            return usage.clone();
        }
        let mut slave: HashMap<String, Resources> = HashMap::new();
        let mut framework: HashMap<String, Resources> = HashMap::new();
        for f in registered_frameworks(master) {
            let mut framework_used = Resources::default();
            // Each framework keeps its tasks' use per agent until they
            // change.
            for (slave_id, used) in f.used_by_agent() {
                framework_used += used;
                match slave.get_mut(slave_id.as_str()) {
                    Some(sum) => *sum += used,
                    None => {
                        slave.insert(slave_id.clone(), used.clone());
                    }
                }
            }
            if !framework_used.is_empty() {
                framework.insert(f.id().to_string(), framework_used);
            }
        }
        let usage = std::rc::Rc::new(Self {
            key,
            slave,
            framework,
        });
        *cache = Some(usage.clone());
        usage
    }
}

/// Use by id: the tasks' (kept between documents) plus the executors'.
struct UsedMap<'a> {
    tasks: std::rc::Rc<TasksUsage>,
    /// Whether this is the per-agent map (else per framework).
    by_agent: bool,
    executors: HashMap<&'a str, Resources>,
}

impl UsedMap<'_> {
    fn base(&self) -> &HashMap<String, Resources> {
        if self.by_agent {
            &self.tasks.slave
        } else {
            &self.tasks.framework
        }
    }

    /// The use of `id`, if any.
    fn get(&self, id: &str) -> Option<std::borrow::Cow<'_, Resources>> {
        use std::borrow::Cow;
        match (self.base().get(id), self.executors.get(id)) {
            (Some(tasks), None) => Some(Cow::Borrowed(tasks)),
            (None, Some(executors)) => Some(Cow::Borrowed(executors)),
            (Some(tasks), Some(executors)) => {
                let mut sum = tasks.clone();
                sum += executors;
                Some(Cow::Owned(sum))
            }
            (None, None) => None,
        }
    }

    /// The use of `id`, empty if none.
    fn get_or_empty(&self, id: &str) -> Resources {
        self.get(id).map(|r| r.into_owned()).unwrap_or_default()
    }

    /// Every id's use.
    fn values(&self) -> impl Iterator<Item = std::borrow::Cow<'_, Resources>> + '_ {
        let base = self.base();
        base.keys()
            .map(String::as_str)
            .chain(
                self.executors
                    .keys()
                    .copied()
                    .filter(move |id| !base.contains_key(*id)),
            )
            .filter_map(|id| self.get(id))
    }
}

impl<'a> Usage<'a> {
    fn of(master: &'a Master) -> Self {
        let tasks = TasksUsage::of(master);
        let mut slave_executors: HashMap<&'a str, Resources> = HashMap::new();
        let mut framework_executors: HashMap<&'a str, Resources> = HashMap::new();
        for framework in registered_frameworks(master) {
            // Executors hold resources too (upstream's `totalUsedResources`).
            for (slave_id, executors) in &framework.executors {
                for executor in executors.values() {
                    if executor.resources.is_empty() {
                        continue;
                    }
                    let slave_used = slave_executors.entry(slave_id.as_str()).or_default();
                    let framework_used = framework_executors.entry(framework.id()).or_default();
                    for resource in &executor.resources {
                        slave_used.add_ref(resource);
                        framework_used.add_ref(resource);
                    }
                }
            }
        }
        let mut usage = Self {
            slave_used: UsedMap {
                tasks: tasks.clone(),
                by_agent: true,
                executors: slave_executors,
            },
            slave_offered: HashMap::new(),
            framework_used: UsedMap {
                tasks,
                by_agent: false,
                executors: framework_executors,
            },
            framework_offered: HashMap::new(),
        };
        let mut offers: Vec<_> = master.offers.iter().collect();
        offers.sort_by(|a, b| id_order(a.0, b.0));
        for (_, offer) in offers {
            *usage
                .slave_offered
                .entry(offer.offer.slave_id.value.as_str())
                .or_default() += &offer.resources;
            *usage
                .framework_offered
                .entry(offer.offer.framework_id.value.as_str())
                .or_default() += &offer.resources;
        }
        usage
    }

    /// Returns the resources of `id` in `map`, empty if it has none.
    fn get(map: &HashMap<&str, Resources>, id: &str) -> Resources {
        map.get(id).cloned().unwrap_or_default()
    }
}

/// Each agent's allocated (tasks' and executors') and offered resources,
/// summed as for `/master/slaves`; `GET_AGENTS` shows them too.
pub(crate) struct AgentUsage<'a>(Usage<'a>);

impl<'a> AgentUsage<'a> {
    /// Sums the use of every registered agent.
    pub(crate) fn of(master: &'a Master) -> Self {
        Self(Usage::of(master))
    }

    /// Returns what the frameworks' tasks and executors hold on `id`.
    pub(crate) fn allocated(&self, id: &str) -> Resources {
        self.0.slave_used.get_or_empty(id)
    }

    /// Returns what outstanding offers hold on `id`.
    pub(crate) fn offered(&self, id: &str) -> Resources {
        Usage::get(&self.0.slave_offered, id)
    }
}

/// Scalar quantities by name (upstream `ResourceQuantities`): sorted by
/// name, added at three-decimal fixed point, zeros dropped.
#[derive(Clone, Default)]
struct Quantities(BTreeMap<String, Scalar>);

impl Quantities {
    fn add(&mut self, resources: &Resources) {
        for resource in resources.scalars().iter() {
            let scalar = resource.scalar.unwrap_or_default();
            let entry = self.0.entry(resource.name.clone()).or_default();
            *entry += scalar;
        }
        self.0.retain(|_, v| v.to_fixed() != 0);
    }

    fn merge(&mut self, other: &Quantities) {
        for (name, scalar) in &other.0 {
            *self.0.entry(name.clone()).or_default() += *scalar;
        }
        self.0.retain(|_, v| v.to_fixed() != 0);
    }

    fn json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(name, scalar)| (name.clone(), dbl(scalar.value)))
                .collect(),
        )
    }
}

/// Task counts by state, written as the ten `TASK_*` integers of §4.2.
#[derive(Clone, Default)]
struct StateCounts(HashMap<i32, u64>);

impl StateCounts {
    fn count(&mut self, task: &Task) {
        *self.0.entry(task.state).or_default() += 1;
    }

    fn write(&self, object: &mut Map<String, Value>) {
        // TASK_DROPPED, TASK_GONE, TASK_GONE_BY_OPERATOR and TASK_UNKNOWN
        // are counted but not written, as upstream.
        for state in [
            TaskState::TaskStaging,
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskKilling,
            TaskState::TaskFinished,
            TaskState::TaskKilled,
            TaskState::TaskFailed,
            TaskState::TaskLost,
            TaskState::TaskError,
            TaskState::TaskUnreachable,
        ] {
            let count = self.0.get(&(state as i32)).copied().unwrap_or_default();
            object.insert(state.as_str_name().into(), count.into());
        }
    }
}

// ---------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------

/// §3.6: the `SlaveInfo` part of an agent; alone in `recovered_slaves`.
fn slave_info_json(info: &SlaveInfo) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("id".into(), slave_id(info).into());
    o.insert("hostname".into(), info.hostname.clone().into());
    o.insert("port".into(), info.port().into());
    o.insert("attributes".into(), attributes_json(&info.attributes));
    if let Some(domain) = &info.domain {
        o.insert("domain".into(), mesos_proto::json::to_value(domain));
    }
    o
}

/// §3.7: a registered agent (`SlaveWriter`), with its drain state from
/// `slaves`.
fn slave_json(slaves: &Slaves, slave: &Slave, usage: &Usage<'_>) -> Map<String, Value> {
    let id = slave_id(&slave.info);
    let total = total_resources(slave);
    let mut o = slave_info_json(&slave.info);
    o.insert("pid".into(), slave.pid.to_string().into());
    o.insert("registered_time".into(), dbl(slave.registered_time));
    if let Some(time) = slave.reregistered_time {
        o.insert("reregistered_time".into(), dbl(time));
    }
    o.insert("resources".into(), total.to_endpoint_json());
    o.insert(
        "used_resources".into(),
        usage.slave_used.get_or_empty(id).to_endpoint_json(),
    );
    o.insert(
        "offered_resources".into(),
        Usage::get(&usage.slave_offered, id).to_endpoint_json(),
    );
    let reserved: Map<String, Value> = reservations(&total)
        .into_iter()
        .map(|(role, resources)| (role, resources.to_endpoint_json()))
        .collect();
    o.insert("reserved_resources".into(), Value::Object(reserved));
    o.insert(
        "unreserved_resources".into(),
        total.unreserved().to_endpoint_json(),
    );
    let (drain_info, deactivated) = slaves.drain_of(id);
    o.insert("active".into(), slave.active.into());
    o.insert("deactivated".into(), deactivated.into());
    o.insert("version".into(), slave.version.clone().into());
    o.insert("capabilities".into(), slave_capabilities(slave));
    if let Some(info) = drain_info {
        o.insert("drain_info".into(), mesos_proto::json::to_value(&info));
        if let Some(time) = slave.estimated_drain_start_time {
            o.insert("estimated_drain_start_time_seconds".into(), dbl(time));
        }
    }
    o
}

/// The four `*_full` keys `/master/slaves` adds (§3.7, §3.15).
fn slave_full_resources(slave: &Slave, usage: &Usage<'_>, o: &mut Map<String, Value>) {
    let id = slave_id(&slave.info);
    let total = total_resources(slave);
    let full = |resources: &Resources| -> Value {
        resources
            .iter()
            .map(|resource| {
                let mut resource = resource.clone();
                // Resources held here are valid, so the conversion to the
                // endpoint format cannot fail.
                let _ = resources::convert_resource_format(&mut resource, ResourceFormat::Endpoint);
                mesos_proto::json::to_value(&resource)
            })
            .collect()
    };
    let reserved: Map<String, Value> = reservations(&total)
        .into_iter()
        .map(|(role, resources)| (role, full(&resources)))
        .collect();
    o.insert("reserved_resources_full".into(), Value::Object(reserved));
    o.insert(
        "unreserved_resources_full".into(),
        full(&total.unreserved()),
    );
    o.insert(
        "used_resources_full".into(),
        full(&usage.slave_used.get_or_empty(id)),
    );
    o.insert(
        "offered_resources_full".into(),
        full(&Usage::get(&usage.slave_offered, id)),
    );
}

/// The agent's total resources (upstream `Slave::totalResources`: its
/// static resources with checkpointed reservations and volumes applied).
fn total_resources(slave: &Slave) -> Resources {
    slave.total_resources.clone()
}

/// Reserved resources by role (upstream `Resources::reservations()`, a
/// `hashmap`): roles in libstdc++ iteration order, inserted as first met.
fn reservations(total: &Resources) -> Vec<(String, Resources)> {
    let mut keys = UnorderedKeys::new();
    let mut by_role: HashMap<String, Resources> = HashMap::new();
    for resource in total.iter() {
        if let Some(role) = Resources::reservation_role(resource) {
            keys.insert(role);
            *by_role.entry(role.to_string()).or_default() += resource;
        }
    }
    keys.iter()
        .map(|role| {
            let resources = by_role.remove(role).unwrap_or_default();
            (role.to_string(), resources)
        })
        .collect()
}

/// The agent's capabilities in upstream's fixed order
/// (`protobuf::slave::Capabilities::toRepeatedPtrField`).
fn slave_capabilities(slave: &Slave) -> Value {
    slave_capabilities_iter(slave).map(Value::from).collect()
}

/// The names of the agent's capabilities, as [`slave_capabilities`].
fn slave_capabilities_iter(slave: &Slave) -> impl Iterator<Item = &'static str> + '_ {
    use slave_info::capability::Type;
    let has = |t: Type| {
        slave
            .capabilities
            .iter()
            .any(|c| c.r#type == Some(t as i32))
    };
    [
        Type::MultiRole,
        Type::HierarchicalRole,
        Type::ReservationRefinement,
        Type::ResourceProvider,
        Type::ResizeVolume,
        Type::AgentOperationFeedback,
        Type::AgentDraining,
        Type::TaskResourceLimits,
    ]
    .into_iter()
    .filter(move |t| has(*t))
    .map(|t| t.as_str_name())
}

/// §3.5: `json(MasterInfo)`.
fn master_info_json(master: &Master) -> Value {
    let info = &master.info;
    let mut o = Map::new();
    o.insert("id".into(), info.id.clone().into());
    o.insert("pid".into(), info.pid().into());
    o.insert("port".into(), info.port.into());
    o.insert("hostname".into(), info.hostname().into());
    if let Some(domain) = &info.domain {
        o.insert("domain".into(), mesos_proto::json::to_value(domain));
    }
    Value::Object(o)
}

// ---------------------------------------------------------------------------
// Frameworks
// ---------------------------------------------------------------------------

/// §3.13 summary (`json(Summary<Framework>)`).
fn framework_summary_json(framework: &Framework, usage: &Usage<'_>) -> Map<String, Value> {
    let info = &framework.info;
    let mut o = Map::new();
    o.insert("id".into(), framework.id().into());
    o.insert("name".into(), info.name.clone().into());
    if let Some(pid) = &framework.pid {
        o.insert("pid".into(), pid.to_string().into());
    }
    o.insert(
        "used_resources".into(),
        usage
            .framework_used
            .get_or_empty(framework.id())
            .to_endpoint_json(),
    );
    o.insert(
        "offered_resources".into(),
        Usage::get(&usage.framework_offered, framework.id()).to_endpoint_json(),
    );
    o.insert(
        "capabilities".into(),
        info.capabilities
            .iter()
            .map(|c| {
                let name = c
                    .r#type
                    .and_then(|t| framework_info::capability::Type::try_from(t).ok())
                    .unwrap_or(framework_info::capability::Type::Unknown);
                Value::from(name.as_str_name())
            })
            .collect(),
    );
    o.insert("hostname".into(), info.hostname().into());
    o.insert("webui_url".into(), info.webui_url().into());
    o.insert("active".into(), framework.active.into());
    o.insert("connected".into(), framework.connected.into());
    o.insert("recovered".into(), framework.recovered.into());
    o
}

/// §3.13 full (`FullFrameworkWriter`).
/// `registered`: whether the framework is registered rather than
/// completed.
fn full_framework_json(
    master: &Master,
    framework: &Framework,
    registered: bool,
    usage: &Usage<'_>,
) -> Map<String, Value> {
    let info = &framework.info;
    let mut o = framework_summary_json(framework, usage);
    o.insert("user".into(), info.user.clone().into());
    o.insert("failover_timeout".into(), dbl(info.failover_timeout()));
    o.insert("checkpoint".into(), info.checkpoint().into());
    o.insert("registered_time".into(), dbl(framework.registered_time));
    // Upstream sets it only when the framework is removed.
    let unregistered = if registered {
        0.0
    } else {
        framework.unregistered_time.unwrap_or_default()
    };
    o.insert("unregistered_time".into(), dbl(unregistered));
    if let Some(principal) = &info.principal {
        o.insert("principal".into(), principal.clone().into());
    }
    let mut resources = usage.framework_used.get_or_empty(framework.id());
    resources += &Usage::get(&usage.framework_offered, framework.id());
    o.insert("resources".into(), resources.to_endpoint_json());
    if framework.reregistered_time != framework.registered_time {
        o.insert("reregistered_time".into(), dbl(framework.reregistered_time));
    }
    if framework.has_capability(framework_info::capability::Type::MultiRole) {
        o.insert(
            "roles".into(),
            info.roles.iter().cloned().map(Value::from).collect(),
        );
    } else {
        #[allow(deprecated)]
        let role = info.role();
        o.insert("role".into(), role.into());
    }
    let lists = TaskLists::of(framework);
    let tasks = |list: &[&Task]| -> Value {
        list.iter()
            .map(|task| Value::Object(task_json(task)))
            .collect()
    };
    let active: Vec<&Task> = lists.active.iter().map(|t| &***t).collect();
    o.insert("tasks".into(), tasks(&active));
    o.insert("unreachable_tasks".into(), tasks(&lists.unreachable));
    let completed: Vec<&Task> = lists.completed.iter().map(|t| &***t).collect();
    o.insert("completed_tasks".into(), tasks(&completed));
    let mut offers: Vec<_> = master
        .offers
        .iter()
        .filter(|(_, s)| s.offer.framework_id.value == framework.id())
        .collect();
    offers.sort_by(|a, b| id_order(a.0, b.0));
    o.insert(
        "offers".into(),
        offers
            .into_iter()
            .map(|(_, state)| {
                let offer = &state.offer;
                let mut j = Map::new();
                j.insert("id".into(), offer.id.value.clone().into());
                j.insert(
                    "framework_id".into(),
                    offer.framework_id.value.clone().into(),
                );
                j.insert(
                    "allocation_info".into(),
                    mesos_proto::json::to_value(&offer.allocation_info.clone().unwrap_or_default()),
                );
                j.insert("slave_id".into(), offer.slave_id.value.clone().into());
                j.insert(
                    "resources".into(),
                    resources::endpoint_json(&offer.resources),
                );
                Value::Object(j)
            })
            .collect(),
    );
    o.insert("executors".into(), executors_json(framework));
    if let Some(labels) = &info.labels {
        o.insert("labels".into(), labels_json(labels));
    }
    o.insert(
        "offer_constraints".into(),
        mesos_proto::json::to_value(&framework.offer_constraints),
    );
    o
}

/// A framework's tasks as upstream lists them: active (`tasks`, including
/// terminal ones not yet acknowledged), unreachable, completed (oldest
/// first).
struct TaskLists<'a> {
    active: Vec<&'a TaskEntry>,
    unreachable: Vec<&'a Task>,
    completed: Vec<&'a TaskEntry>,
}

impl<'a> TaskLists<'a> {
    fn of(framework: &'a Framework) -> Self {
        Self {
            active: sorted_tasks(framework),
            ..Self::inactive(framework)
        }
    }

    /// [`TaskLists::of`] without the active tasks (left empty).
    fn inactive(framework: &'a Framework) -> Self {
        Self {
            active: Vec::new(),
            unreachable: framework.unreachable_tasks.iter().collect(),
            completed: framework.completed_tasks.iter().collect(),
        }
    }

    fn all(&self) -> impl Iterator<Item = &'a Task> + '_ {
        self.active
            .iter()
            .map(|t| -> &'a Task { t })
            .chain(self.unreachable.iter().copied())
            .chain(self.completed.iter().map(|t| -> &'a Task { t }))
    }
}

// ---------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------

/// §3.10: `json(Task)`.
/// A framework's executors (custom and task-group ones; command executors
/// live only on agents), each `json(ExecutorInfo)` plus `slave_id`, in
/// agent then executor id order.
fn executors_json(framework: &Framework) -> Value {
    let mut slaves: Vec<_> = framework.executors.iter().collect();
    slaves.sort_by(|a, b| id_order(a.0, b.0));
    let mut out = Vec::new();
    for (slave_id, executors) in slaves {
        let mut executors: Vec<_> = executors.iter().collect();
        executors.sort_by(|a, b| id_order(a.0, b.0));
        for (_, executor) in executors {
            let mut o = mesos_proto::model::executor_info_json(executor);
            o.insert("slave_id".into(), slave_id.clone().into());
            out.push(Value::Object(o));
        }
    }
    Value::Array(out)
}

fn task_json(task: &Task) -> Map<String, Value> {
    mesos_proto::model::task_json(task)
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// An id sorted by [`id_order`].
#[derive(PartialEq, Eq)]
struct IdKey<'a>(&'a str);

impl Ord for IdKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        id_order(self.0, other.0)
    }
}

impl PartialOrd for IdKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn ids_json(ids: Option<&BTreeSet<IdKey<'_>>>) -> Value {
    ids.into_iter()
        .flatten()
        .map(|id| Value::from(id.0))
        .collect()
}

fn slave_id(info: &SlaveInfo) -> &str {
    info.id.as_ref().map_or("", |id| id.value.as_str())
}

fn registered_slaves(master: &Master) -> impl Iterator<Item = &SlaveEntry> {
    let mut slaves: Vec<&SlaveEntry> = master.slaves.registered.values().collect();
    slaves.sort_by(|a, b| id_order(slave_id(&a.info), slave_id(&b.info)));
    slaves.into_iter()
}

fn recovered_slaves(master: &Master) -> impl Iterator<Item = &SlaveInfo> {
    let mut infos: Vec<&SlaveInfo> = master.slaves.recovered.values().collect();
    infos.sort_by(|a, b| id_order(slave_id(a), slave_id(b)));
    infos.into_iter()
}

fn registered_frameworks(master: &Master) -> impl Iterator<Item = &Framework> {
    let mut frameworks: Vec<&Framework> = master.frameworks.registered.values().collect();
    frameworks.sort_by(|a, b| id_order(a.id(), b.id()));
    frameworks.into_iter()
}

fn sorted_tasks(framework: &Framework) -> Vec<&TaskEntry> {
    let mut tasks: Vec<&TaskEntry> = framework.tasks().values().map(|t| &**t).collect();
    tasks.sort_by(|a, b| id_order(&a.task_id.value, &b.task_id.value));
    tasks
}

/// Parses an `int` query value as stout's `numify<int>` does
/// (`boost::lexical_cast`, then `0x` hexadecimal); `None` when it does not
/// parse.
fn numify_int(text: &str) -> Option<i32> {
    if let Ok(n) = text.parse::<i32>() {
        return Some(n);
    }
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let digits = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))
        .filter(|d| d.chars().all(|c| c.is_ascii_hexdigit()))?;
    let magnitude = i64::from_str_radix(digits, 16).ok()?;
    i32::try_from(if negative { -magnitude } else { magnitude }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::TaskStatus;

    #[test]
    fn task_query_parses_as_upstream() {
        let query = |pairs: &'static [(&'static str, &'static str)]| {
            TasksQuery::parse(|name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
        };
        assert_eq!(query(&[]), TasksQuery::default());
        assert_eq!(TasksQuery::default().limit, 100);
        let q = query(&[("limit", "5"), ("offset", "+2"), ("order", "asc")]);
        assert_eq!((q.limit, q.offset, q.ascending), (5, 2, true));
        assert_eq!(query(&[("limit", "x")]).limit, 100);
        assert_eq!(query(&[("limit", "0x10")]).limit, 16);
        assert_eq!(query(&[("limit", "0x-1")]).limit, 100);
        assert_eq!(query(&[("limit", " 5")]).limit, 100);
        assert_eq!(query(&[("limit", "-1")]).limit, u64::MAX);
        assert!(!query(&[("order", "ASC")]).ascending);
    }

    #[test]
    fn statuses_of_one_state_in_a_row_collapse_to_the_last() {
        let status = |state: TaskState, time: f64| TaskStatus {
            state: state as i32,
            timestamp: Some(time),
            ..Default::default()
        };
        let statuses = [
            status(TaskState::TaskStarting, 1.0),
            status(TaskState::TaskRunning, 2.0),
            status(TaskState::TaskRunning, 3.0),
            status(TaskState::TaskFinished, 4.0),
        ];
        let times: Vec<f64> = collapsed(&statuses).iter().map(|s| s.timestamp()).collect();
        assert_eq!(times, [1.0, 3.0, 4.0]);
    }

    #[test]
    fn quantities_are_sorted_and_drop_zeros() {
        let mut q = Quantities::default();
        q.add(&Resources::parse("mem:10;cpus:0.5;ports:[1-2]", "*").unwrap());
        assert_eq!(
            mesos_proto::json::render(&q.json()),
            r#"{"cpus":0.5,"mem":10.0}"#
        );
        assert_eq!(
            mesos_proto::json::render(&Quantities::default().json()),
            "{}"
        );
    }

    #[test]
    fn version_keys_are_sorted() {
        let version = version();
        let keys: Vec<&String> = version.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(version["version"], crate::VERSION);
        assert!(version["build_time"].is_f64());
    }

    #[test]
    fn ids_sort_by_length_then_bytes() {
        let mut ids = vec!["m-S10", "m-S2", "m-S1"];
        ids.sort_by(|a, b| id_order(a, b));
        assert_eq!(ids, ["m-S1", "m-S2", "m-S10"]);
    }
}
