//! The state documents written straight into a buffer with
//! [`crate::json_writer`]: the same bytes as rendering the trees the
//! parent module's reference builders make (same keys in the same order,
//! same numbers, same escaping), without a `serde_json::Value` per agent,
//! framework or task. Rare parts (domains, container infos, health
//! checks, custom executors, offers' allocation infos) still go through
//! protobuf reflection, one small value at a time.

use std::sync::OnceLock;

use mesos_proto::mesos::{
    framework_info, master_info, value, Attribute, Labels, Resource, SlaveInfo, Task, TaskStatus,
};
use mesos_proto::model::{collapsed, container_status_json, id_order, state_name};
use mesos_proto::resources::{self, ResourceFormat, Resources, UnorderedKeys};

use super::{
    build, executors_json, master_info_json, recovered_slaves, registered_frameworks,
    registered_slaves, reservations, slave_capabilities_iter, slave_id, total_resources, TaskLists,
    TasksQuery, Usage,
};
use crate::frameworks::Framework;
use crate::json_writer::{array, object, write_dbl, write_str, write_value, Arr, Obj};
use crate::master::{Master, Slave, SlaveEntry, Slaves};

/// Writes `/master/state` (§4.1).
pub fn write_state(master: &Master, out: &mut String) {
    let usage = Usage::of(master);
    object(out, |o| {
        o.str("version", crate::VERSION);
        if let Some(sha) = build::git_sha() {
            o.str("git_sha", sha);
        }
        if let Some(branch) = build::git_branch() {
            o.str("git_branch", branch);
        }
        if let Some(tag) = build::git_tag() {
            o.str("git_tag", tag);
        }
        o.str("build_date", build::DATE);
        o.dbl("build_time", build::time());
        o.str("build_user", build::USER);
        o.dbl("start_time", master.start_time);
        if let Some(elected) = master.elected_time {
            o.dbl("elected_time", elected);
        }
        o.str("id", &master.info.id);
        o.str("pid", master.info.pid());
        o.str("hostname", master.info.hostname());
        o.arr("capabilities", |a| {
            for c in &master.info.capabilities {
                let name = c
                    .r#type
                    .and_then(|t| master_info::capability::Type::try_from(t).ok())
                    .unwrap_or(master_info::capability::Type::Unknown);
                a.str(name.as_str_name());
            }
        });
        let registered = master.slaves.registered.values();
        let active = registered.filter(|s| s.active).count();
        o.dbl("activated_slaves", active as f64);
        o.dbl(
            "deactivated_slaves",
            (master.slaves.registered.len() - active) as f64,
        );
        o.dbl("unreachable_slaves", master.slaves.unreachable.len() as f64);
        if let Some(domain) = &master.info.domain {
            o.value("domain", &mesos_proto::json::to_value(domain));
        }
        if master.recovered() {
            o.str("leader", master.info.pid());
            o.value("leader_info", &master_info_json(master));
        }
        if let Some(cluster) = &master.flags.cluster {
            o.str("cluster", cluster);
        }
        if let Some(log_dir) = &master.flags.log_dir {
            o.str("log_dir", &log_dir.display().to_string());
        }
        o.obj("flags", |f| write_flags(master, f));
        o.arr("slaves", |a| {
            for slave in registered_slaves(master) {
                a.obj(|s| write_slave(s, &master.slaves, slave, &usage));
            }
        });
        o.arr("recovered_slaves", |a| {
            for info in recovered_slaves(master) {
                a.obj(|s| write_slave_info(s, info));
            }
        });
        o.arr("frameworks", |a| {
            for framework in registered_frameworks(master) {
                a.obj(|f| write_full_framework(f, master, framework, true, &usage));
            }
        });
        o.arr("completed_frameworks", |a| {
            for framework in &master.frameworks.completed {
                a.obj(|f| write_full_framework(f, master, framework, false, &usage));
            }
        });
        o.arr("orphan_tasks", |_| {});
        o.arr("unregistered_frameworks", |_| {});
    });
}

/// Writes `/master/frameworks` (§4.3), only the framework `framework_id`
/// when given (an unknown id gives empty arrays).
pub fn write_frameworks(master: &Master, framework_id: Option<&str>, out: &mut String) {
    let usage = Usage::of(master);
    let selected = |f: &&Framework| framework_id.is_none_or(|id| f.id() == id);
    object(out, |o| {
        o.arr("frameworks", |a| {
            for framework in registered_frameworks(master).filter(selected) {
                a.obj(|f| write_full_framework(f, master, framework, true, &usage));
            }
        });
        o.arr("completed_frameworks", |a| {
            for framework in master.frameworks.completed.iter().filter(selected) {
                a.obj(|f| write_full_framework(f, master, framework, false, &usage));
            }
        });
        o.arr("unregistered_frameworks", |_| {});
    });
}

/// Writes `/master/slaves` (§4.4), only the agent `slave_id` when given.
pub fn write_slaves(master: &Master, wanted: Option<&str>, out: &mut String) {
    let usage = Usage::of(master);
    let selected = |id: &str| wanted.is_none_or(|wanted| wanted == id);
    object(out, |o| {
        o.arr("slaves", |a| {
            for slave in registered_slaves(master).filter(|s| selected(slave_id(&s.info))) {
                a.obj(|s| {
                    write_slave(s, &master.slaves, slave, &usage);
                    write_slave_full_resources(s, slave, &usage);
                });
            }
        });
        o.arr("recovered_slaves", |a| {
            for info in recovered_slaves(master).filter(|info| selected(slave_id(info))) {
                a.obj(|s| write_slave_info(s, info));
            }
        });
    });
}

/// Writes `/master/tasks` (§4.5).
pub fn write_tasks(master: &Master, query: &TasksQuery, out: &mut String) {
    let selected = super::selected_tasks(master, query);
    object(out, |o| {
        o.arr("tasks", |a| {
            for task in selected {
                a.obj(|t| write_task(t, task));
            }
        });
    });
}

fn write_flags(master: &Master, o: &mut Obj<'_>) {
    // `to_map` names each flag once.
    for (name, value) in master.flags.to_map() {
        o.str(name, &value);
    }
}

// ---------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------

fn write_slave_info(o: &mut Obj<'_>, info: &SlaveInfo) {
    o.str("id", slave_id(info));
    o.str("hostname", &info.hostname);
    o.int("port", i64::from(info.port()));
    o.obj("attributes", |a| write_attributes(a, &info.attributes));
    if let Some(domain) = &info.domain {
        o.value("domain", &mesos_proto::json::to_value(domain));
    }
}

fn write_slave(o: &mut Obj<'_>, slaves: &Slaves, slave: &SlaveEntry, usage: &Usage<'_>) {
    let id = slave_id(&slave.info);
    let (before, after) = slave_fields(slaves, slave);
    o.fields(before);
    write_maybe_resources(o.key("used_resources"), usage.slave_used.get(id).as_deref());
    write_maybe_resources(o.key("offered_resources"), usage.slave_offered.get(id));
    o.fields(after);
}

/// An agent's fields but its used and offered resources, as kept until
/// the agent or its drain state in `slaves` changes: those before them and
/// those after them.
fn slave_fields<'a>(slaves: &Slaves, entry: &'a SlaveEntry) -> &'a (Box<str>, Box<str>) {
    entry.renderings().state.get_or_init(|| {
        let slave: &Slave = entry;
        let fields = |write: &dyn Fn(&mut Obj<'_>)| {
            let mut out = String::new();
            object(&mut out, |o| write(o));
            // The fields without the braces.
            out[1..out.len() - 1].into()
        };
        (
            fields(&|o| write_slave_before_usage(o, slave)),
            fields(&|o| write_slave_after_usage(o, slaves, slave)),
        )
    })
}

/// The fields of an agent before its used resources.
fn write_slave_before_usage(o: &mut Obj<'_>, slave: &Slave) {
    write_slave_info(o, &slave.info);
    o.str("pid", &slave.pid.to_string());
    o.dbl("registered_time", slave.registered_time);
    if let Some(time) = slave.reregistered_time {
        o.dbl("reregistered_time", time);
    }
    write_resources(o.key("resources"), &slave.total_resources);
}

/// The fields of an agent after its offered resources, its drain state
/// from `slaves` among them.
fn write_slave_after_usage(o: &mut Obj<'_>, slaves: &Slaves, slave: &Slave) {
    let (drain_info, deactivated) = slaves.drain_of(slave_id(&slave.info));
    let total = &slave.total_resources;
    o.obj("reserved_resources", |r| {
        for (role, resources) in reservations(total) {
            write_resources(r.key(&role), &resources);
        }
    });
    write_resources(o.key("unreserved_resources"), &total.unreserved());
    o.bool("active", slave.active);
    o.bool("deactivated", deactivated);
    o.str("version", &slave.version);
    o.arr("capabilities", |a| {
        for name in slave_capabilities_iter(slave) {
            a.str(name);
        }
    });
    if let Some(info) = drain_info {
        o.value("drain_info", &mesos_proto::json::to_value(&info));
        if let Some(time) = slave.estimated_drain_start_time {
            o.dbl("estimated_drain_start_time_seconds", time);
        }
    }
}

fn write_slave_full_resources(o: &mut Obj<'_>, slave: &Slave, usage: &Usage<'_>) {
    let id = slave_id(&slave.info);
    let total = total_resources(slave);
    let full = |out: &mut String, resources: Option<&Resources>| {
        array(out, |a| {
            for resource in resources.into_iter().flatten() {
                let mut resource = resource.clone();
                // Resources held here are valid, so the conversion to the
                // endpoint format cannot fail.
                let _ = resources::convert_resource_format(&mut resource, ResourceFormat::Endpoint);
                a.value(&mesos_proto::json::to_value(&resource));
            }
        })
    };
    o.obj("reserved_resources_full", |r| {
        for (role, resources) in reservations(&total) {
            full(r.key(&role), Some(&resources));
        }
    });
    full(
        o.key("unreserved_resources_full"),
        Some(&total.unreserved()),
    );
    full(
        o.key("used_resources_full"),
        usage.slave_used.get(id).as_deref(),
    );
    full(o.key("offered_resources_full"), usage.slave_offered.get(id));
}

/// §3.2, as `attributes_json`: one key per attribute name (the last
/// value of a repeated name, at its first position).
fn write_attributes(o: &mut Obj<'_>, attributes: &[Attribute]) {
    let valid = |a: &&Attribute| value::Type::try_from(a.r#type).is_ok();
    for (i, attribute) in attributes.iter().enumerate().filter(|(_, a)| valid(a)) {
        if attributes[..i]
            .iter()
            .filter(valid)
            .any(|a| a.name == attribute.name)
        {
            continue;
        }
        let last = attributes[i..]
            .iter()
            .rev()
            .filter(valid)
            .find(|a| a.name == attribute.name)
            .unwrap_or(attribute);
        let out = o.key(&attribute.name);
        match value::Type::try_from(last.r#type) {
            Ok(value::Type::Scalar) => write_dbl(out, last.scalar.unwrap_or_default().value),
            Ok(value::Type::Ranges) => {
                write_str(out, &last.ranges.clone().unwrap_or_default().to_string())
            }
            Ok(value::Type::Set) => {
                write_str(out, &last.set.clone().unwrap_or_default().to_string())
            }
            Ok(value::Type::Text) | Err(_) => {
                write_str(out, last.text.as_ref().map_or("", |t| t.value.as_str()))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Frameworks
// ---------------------------------------------------------------------------

fn write_full_framework(
    o: &mut Obj<'_>,
    master: &Master,
    framework: &Framework,
    registered: bool,
    usage: &Usage<'_>,
) {
    let info = &framework.info;
    let id = framework.id();
    // The summary (§3.13).
    o.str("id", id);
    o.str("name", &info.name);
    if let Some(pid) = &framework.pid {
        o.str("pid", &pid.to_string());
    }
    let used = usage.framework_used.get(id);
    let used = used.as_deref();
    let offered = usage.framework_offered.get(id);
    write_maybe_resources(o.key("used_resources"), used);
    write_maybe_resources(o.key("offered_resources"), offered);
    o.arr("capabilities", |a| {
        for c in &info.capabilities {
            let name = c
                .r#type
                .and_then(|t| framework_info::capability::Type::try_from(t).ok())
                .unwrap_or(framework_info::capability::Type::Unknown);
            a.str(name.as_str_name());
        }
    });
    o.str("hostname", info.hostname());
    o.str("webui_url", info.webui_url());
    o.bool("active", framework.active);
    o.bool("connected", framework.connected);
    o.bool("recovered", framework.recovered);
    // The rest of `FullFrameworkWriter`.
    o.str("user", &info.user);
    o.dbl("failover_timeout", info.failover_timeout());
    o.bool("checkpoint", info.checkpoint());
    o.dbl("registered_time", framework.registered_time);
    let unregistered = if registered {
        0.0
    } else {
        framework.unregistered_time.unwrap_or_default()
    };
    o.dbl("unregistered_time", unregistered);
    if let Some(principal) = &info.principal {
        o.str("principal", principal);
    }
    let mut resources = used.cloned().unwrap_or_default();
    if let Some(offered) = offered {
        resources += offered;
    }
    write_resources(o.key("resources"), &resources);
    if framework.reregistered_time != framework.registered_time {
        o.dbl("reregistered_time", framework.reregistered_time);
    }
    if framework.has_capability(framework_info::capability::Type::MultiRole) {
        o.arr("roles", |a| {
            for role in &info.roles {
                a.str(role);
            }
        });
    } else {
        #[allow(deprecated)]
        let role = info.role();
        o.str("role", role);
    }
    let lists = TaskLists::inactive(framework);
    let tasks = |out: &mut String, list: &[&Task]| {
        array(out, |a| {
            for task in list {
                a.obj(|t| write_task(t, task));
            }
        })
    };
    // The active tasks as the framework keeps them written until they
    // change, each from its entry's JSON, written when that task changed.
    o.key("tasks").push_str(active_tasks(framework));
    tasks(o.key("unreachable_tasks"), &lists.unreachable);
    // Completed tasks from their entries' JSON: written once.
    array(o.key("completed_tasks"), |a| {
        for entry in &lists.completed {
            a.item().push_str(task_entry(entry));
        }
    });
    let mut offers: Vec<_> = master
        .offers
        .iter()
        .filter(|(_, s)| s.offer.framework_id.value == id)
        .collect();
    offers.sort_by(|a, b| id_order(a.0, b.0));
    o.arr("offers", |a| {
        for (_, state) in offers {
            let offer = &state.offer;
            a.obj(|j| {
                j.str("id", &offer.id.value);
                j.str("framework_id", &offer.framework_id.value);
                j.value(
                    "allocation_info",
                    &mesos_proto::json::to_value(
                        &offer.allocation_info.clone().unwrap_or_default(),
                    ),
                );
                j.str("slave_id", &offer.slave_id.value);
                write_resources(j.key("resources"), &offer.resources);
            });
        }
    });
    o.value("executors", &executors_json(framework));
    if let Some(labels) = &info.labels {
        write_labels(o.key("labels"), labels);
    }
    if framework.offer_constraints.role_constraints.is_empty() {
        o.obj("offer_constraints", |_| {});
    } else {
        o.value(
            "offer_constraints",
            &mesos_proto::json::to_value(&framework.offer_constraints),
        );
    }
}

/// A framework's active tasks as a JSON array, as kept until they change.
fn active_tasks(framework: &Framework) -> &str {
    framework.tasks_json(|framework, out| {
        array(out, |a| {
            for entry in super::sorted_tasks(framework) {
                a.item().push_str(task_entry(entry));
            }
        })
    })
}

// ---------------------------------------------------------------------------
// Writing ahead
// ---------------------------------------------------------------------------

/// Where [`write_ahead`] stopped: in the task list of the framework whose
/// tasks had version `tasks_version`, after `tasks_passed` tasks; among
/// the agents, after `agents_passed`; among the completed tasks of all
/// frameworks, after `completed_passed`. A map's order holds while it is not
/// changed, and a framework's tasks change only with a new version; when
/// the agents change, some may be passed unwritten until the next pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteAheadCursor {
    tasks_version: u64,
    tasks_passed: usize,
    agents_passed: usize,
    completed_passed: usize,
}

/// Writes ahead, until `deadline`, what the next `/master/state` would
/// write anew: the JSON of the active tasks created or changed since the
/// last document, the task lists of their frameworks, the agents that
/// changed and the tasks completed since, going on from `cursor`. Returns whether some is left. The
/// master calls it while nothing waits for it, so that a document after
/// many changes (the first after a failover's re-registrations) is mostly
/// copied, not written.
pub fn write_ahead(
    master: &Master,
    cursor: &mut WriteAheadCursor,
    deadline: std::time::Instant,
) -> bool {
    let due = |n: usize| n % 64 == 63 && std::time::Instant::now() >= deadline;
    for framework in master.frameworks.registered.values() {
        if framework.tasks_json_written() {
            continue;
        }
        if cursor.tasks_version != framework.tasks_version() {
            cursor.tasks_version = framework.tasks_version();
            cursor.tasks_passed = 0;
        }
        // Passing a task without looking at it costs next to nothing.
        let tasks = framework.tasks().values().enumerate();
        for (n, entry) in tasks.skip(cursor.tasks_passed) {
            task_entry(entry);
            if due(n) {
                cursor.tasks_passed = n + 1;
                return true;
            }
        }
        // Both in one go: at 80,000 tasks, 0.1-0.2 s each.
        active_tasks(framework);
        framework.used_by_agent();
        if std::time::Instant::now() >= deadline {
            return true;
        }
    }
    let slaves = master.slaves.registered.values().enumerate();
    for (n, slave) in slaves.skip(cursor.agents_passed) {
        slave_fields(&master.slaves, slave);
        if due(n) {
            cursor.agents_passed = n + 1;
            return true;
        }
    }
    // Past the agents until the completed tasks are done too.
    cursor.agents_passed = master.slaves.registered.len();
    let completed = master
        .frameworks
        .registered
        .values()
        .flat_map(|f| f.completed_tasks.iter())
        .enumerate();
    for (n, entry) in completed.skip(cursor.completed_passed) {
        if !entry.json_written() {
            task_entry(entry);
        }
        if due(n) {
            cursor.completed_passed = n + 1;
            return true;
        }
    }
    cursor.agents_passed = 0;
    cursor.completed_passed = 0;
    // What the tasks use per agent, summed over the frameworks, also in
    // one go once they changed (0.4 s at 40,000 agents and 5 frameworks).
    super::TasksUsage::of(master);
    false
}

/// About how long `/master/state` would be, from the JSON kept for the
/// frameworks' tasks and the agents (written if missing: called once the
/// write-ahead is done), plus an eighth for what is written per request.
pub fn estimated_len(master: &Master) -> usize {
    let mut len = 0;
    for framework in master.frameworks.registered.values() {
        len += active_tasks(framework).len();
        len += framework
            .completed_tasks
            .iter()
            .map(|entry| task_entry(entry).len() + 1)
            .sum::<usize>();
    }
    for slave in master.slaves.registered.values() {
        let (before, after) = slave_fields(&master.slaves, slave);
        len += before.len() + after.len();
    }
    len + len / 8
}

// ---------------------------------------------------------------------------
// Tasks (`mesos_proto::model::task_json` and the writers it uses)
// ---------------------------------------------------------------------------

/// An active task's JSON, as kept until it changes (a completed task's,
/// kept for good).
fn task_entry(entry: &crate::frameworks::TaskEntry) -> &str {
    entry.json(|task, out| object(out, |t| write_task(t, task)))
}

/// §3.10: `json(Task)`.
fn write_task(o: &mut Obj<'_>, task: &Task) {
    o.str("id", &task.task_id.value);
    o.str("name", &task.name);
    o.str("framework_id", &task.framework_id.value);
    o.str(
        "executor_id",
        task.executor_id.as_ref().map_or("", |id| id.value.as_str()),
    );
    o.str("slave_id", &task.slave_id.value);
    o.str("state", state_name(task.state));
    write_resources(o.key("resources"), &task.resources);
    if !task.limits.is_empty() {
        let mut limits: Vec<(&String, f64)> =
            task.limits.iter().map(|(n, s)| (n, s.value)).collect();
        limits.sort_by(|a, b| a.0.cmp(b.0));
        o.obj("limits", |l| {
            for (name, value) in limits {
                l.dbl(name, value);
            }
        });
    }
    // Tasks do not mix roles (MESOS-6636): the first resource's role.
    let role = task
        .resources
        .first()
        .and_then(|r| r.allocation_info.as_ref())
        .and_then(|a| a.role.as_deref())
        .unwrap_or_default();
    o.str("role", role);
    o.arr("statuses", |a| {
        for status in collapsed(&task.statuses) {
            a.obj(|s| write_status(s, status));
        }
    });
    if let Some(user) = &task.user {
        o.str("user", user);
    }
    if let Some(labels) = &task.labels {
        write_labels(o.key("labels"), labels);
    }
    if let Some(discovery) = &task.discovery {
        o.value("discovery", &mesos_proto::json::to_value(discovery));
    }
    if let Some(container) = &task.container {
        o.value("container", &mesos_proto::json::to_value(container));
    }
    if let Some(health_check) = &task.health_check {
        o.value("health_check", &mesos_proto::json::to_value(health_check));
    }
}

/// §3.11: `json(TaskStatus)`.
fn write_status(o: &mut Obj<'_>, status: &TaskStatus) {
    o.str("state", state_name(status.state));
    o.dbl("timestamp", status.timestamp());
    if let Some(labels) = &status.labels {
        write_labels(o.key("labels"), labels);
    }
    if let Some(container_status) = &status.container_status {
        o.value("container_status", &container_status_json(container_status));
    }
    if let Some(healthy) = status.healthy {
        o.bool("healthy", healthy);
    }
}

/// §3.3: labels as protobuf JSON `Label`s.
fn write_labels(out: &mut String, labels: &Labels) {
    array(out, |a: &mut Arr<'_>| {
        for label in &labels.labels {
            a.obj(|l| {
                l.str("key", &label.key);
                if let Some(value) = &label.value {
                    l.str("value", value);
                }
            });
        }
    });
}

// ---------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------

/// `write_resources` of what may be missing (empty).
fn write_maybe_resources(out: &mut String, resources: Option<&Resources>) {
    match resources {
        Some(resources) => write_resources(out, resources),
        None => write_resources(out, &[] as &[Resource]),
    }
}

/// The four scalars every resources object has, in the order upstream's
/// hash map iterates them (indices into `cpus, gpus, mem, disk`).
fn standard_order() -> &'static [usize; 4] {
    static ORDER: OnceLock<[usize; 4]> = OnceLock::new();
    ORDER.get_or_init(|| {
        const NAMES: [&str; 4] = ["cpus", "gpus", "mem", "disk"];
        let mut keys = UnorderedKeys::with_capacity(4);
        for name in NAMES {
            keys.insert(name);
        }
        let mut order = [0, 1, 2, 3];
        for (slot, key) in order.iter_mut().zip(keys.iter()) {
            *slot = NAMES.iter().position(|n| *n == key).unwrap_or(0);
        }
        order
    })
}

/// `resources::endpoint_json`: the common case (non-revocable `cpus`,
/// `gpus`, `mem`, `disk` scalars only) summed in place, anything else
/// through the general function.
fn write_resources<'a, I>(out: &mut String, resources: I)
where
    I: IntoIterator<Item = &'a Resource> + Clone,
{
    let mut sums = [0.0f64; 4];
    for resource in resources.clone() {
        let index = match resource.name.as_str() {
            "cpus" => 0,
            "gpus" => 1,
            "mem" => 2,
            "disk" => 3,
            _ => usize::MAX,
        };
        if index == usize::MAX
            || resource.r#type != value::Type::Scalar as i32
            || Resources::is_revocable(resource)
        {
            write_value(out, &resources::endpoint_json(resources));
            return;
        }
        sums[index] += resource.scalar.unwrap_or_default().value;
    }
    const NAMES: [&str; 4] = ["cpus", "gpus", "mem", "disk"];
    object(out, |o| {
        for &index in standard_order() {
            o.dbl(NAMES[index], sums[index]);
        }
    });
}
