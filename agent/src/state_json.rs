//! The JSON of the agent's `/slave(1)/state` and `/slave(1)/flags`.
//!
//! Upstream counterpart: `Http::state` and `Http::_flags` in
//! `src/slave/http.cpp`, with its `ExecutorWriter`, `FrameworkWriter` and
//! `json(JSON::ObjectWriter*, const TaskInfo&)`, and the shared writers of
//! `src/common/http.cpp` (`Task`, `TaskStatus`, `CommandInfo`, resources,
//! attributes, labels). docs/agent-endpoints-json.md describes every object
//! and cites the shared conventions in docs/master-endpoints-json.md (§).
//!
//! As in the master (`master/src/state_json.rs`), objects are
//! `serde_json::Value`s whose keys are inserted in upstream's write order and
//! rendered by [`mesos_proto::json::render`]; a C++ `double` becomes a JSON
//! float (`"failover_timeout":0.0`), a C++ integer a JSON integer.
//!
//! What the agent does not hold is shown as upstream shows an agent that
//! has none of it, and the differences that follow from how the [`Slave`]
//! keeps its state are listed in docs/compatibility.md:
//! - `completed_frameworks`, `completed_executors` and `completed_tasks`
//!   come from the [`Slave`]'s bounded lists, as upstream's (a task once its
//!   terminal update is acknowledged, an executor once it has exited and its
//!   tasks are done, a framework once it has no executor left), oldest
//!   first; terminal tasks whose update is not acknowledged yet follow in
//!   `completed_tasks`, as upstream writes them. Like upstream, the lists
//!   do not survive an agent restart.
//! - Arrays upstream fills from hash maps (frameworks, executors) are in id
//!   order, shorter ids first. A task list upstream keeps in launch order
//!   (`LinkedHashMap`) is in id order too, since the [`Slave`] keeps tasks in
//!   a hash map; queued tasks keep their queue order.
//! - `build_date`, `build_time` and `build_user` come from the
//!   `MESOS_BUILD_*` variables at compile time (the master's `build.rs` sets
//!   them for the master); the agent crate has no build script yet, so they
//!   are `""`, `0.0` and `""`, and the `git_*` keys are left out.
//! - An attribute name given twice keeps one key (the last value, at the
//!   first position); upstream writes the key twice.
//! - No authorizer exists, so nothing is filtered, as upstream without one.

use mesos_proto::model::{attributes_json, dbl, id_order, labels_json};
use std::collections::{BTreeMap, HashMap};
use std::ffi::CStr;
use std::net::Ipv4Addr;

use mesos_proto::mesos::{framework_info, slave_info, Resource, Task, TaskInfo, TaskState};
use mesos_proto::resources::{self, ResourceFormat, Resources, UnorderedKeys};
use serde_json::{Map, Value};

use crate::slave::{Executor, Framework, Slave};

/// The capabilities the agent advertises when it (re-)registers, in
/// upstream's fixed order (`protobuf::slave::Capabilities`). Kept in step
/// with `Slave::do_register`; the state test compares them with what the
/// master recorded.
const CAPABILITIES: &[slave_info::capability::Type] = &[
    slave_info::capability::Type::MultiRole,
    slave_info::capability::Type::HierarchicalRole,
    slave_info::capability::Type::ReservationRefinement,
    slave_info::capability::Type::TaskResourceLimits,
];

/// The build facts upstream compiles in (`src/common/build.hpp`), when the
/// build set them (see the module doc).
mod build {
    pub(super) const DATE: &str = match option_env!("MESOS_BUILD_DATE") {
        Some(date) => date,
        None => "",
    };

    pub(super) const USER: &str = match option_env!("MESOS_BUILD_USER") {
        Some(user) => user,
        None => "",
    };

    pub(super) fn time() -> f64 {
        option_env!("MESOS_BUILD_TIME")
            .and_then(|t| t.parse().ok())
            .unwrap_or_default()
    }

    pub(super) fn git() -> [(&'static str, Option<&'static str>); 3] {
        [
            ("git_sha", option_env!("MESOS_BUILD_GIT_SHA")),
            ("git_branch", option_env!("MESOS_BUILD_GIT_BRANCH")),
            ("git_tag", option_env!("MESOS_BUILD_GIT_TAG")),
        ]
    }
}

// ---------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------

/// `/slave(1)/state` in two parts: the keys before `master_hostname` and
/// the keys after it. The host name of the master comes from a reverse DNS
/// lookup, which runs off the agent process (see [`master_hostname`]).
pub(crate) struct StateParts {
    head: Map<String, Value>,
    tail: Map<String, Value>,
}

impl StateParts {
    /// Returns the whole document, with `master_hostname` when the lookup
    /// gave one (upstream leaves the key out when it fails).
    pub(crate) fn finish(self, master_hostname: Option<String>) -> Value {
        let mut o = self.head;
        if let Some(hostname) = master_hostname {
            o.insert("master_hostname".into(), hostname.into());
        }
        o.extend(self.tail);
        Value::Object(o)
    }
}

/// Returns `/slave(1)/state` (upstream `Http::state`) but for
/// `master_hostname`. `start_time` is when the agent process started, in
/// seconds since the epoch.
pub(crate) fn state(slave: &Slave, start_time: f64) -> StateParts {
    let mut o = Map::new();
    o.insert("version".into(), crate::VERSION.into());
    for (key, value) in build::git() {
        if let Some(value) = value {
            o.insert(key.into(), value.into());
        }
    }
    o.insert("build_date".into(), build::DATE.into());
    o.insert("build_time".into(), dbl(build::time()));
    o.insert("build_user".into(), build::USER.into());
    o.insert("start_time".into(), dbl(start_time));
    o.insert("id".into(), slave.slave_id().unwrap_or_default().into());
    o.insert(
        "pid".into(),
        libprocess::Process::base(slave)
            .self_pid()
            .to_string()
            .into(),
    );
    o.insert("hostname".into(), slave.info.hostname.clone().into());
    o.insert(
        "capabilities".into(),
        CAPABILITIES
            .iter()
            .map(|c| Value::from(c.as_str_name()))
            .collect(),
    );
    if let Some(domain) = &slave.info.domain {
        o.insert("domain".into(), mesos_proto::json::to_value(domain));
    }
    // No draining yet: `drain_config` and `estimated_drain_start_time_seconds`
    // (an integer here, unlike the master's double) are never written.

    let total = slave.total_resources();
    o.insert("resources".into(), total.to_endpoint_json());
    o.insert("reserved_resources".into(), reserved_json(&total));
    o.insert(
        "unreserved_resources".into(),
        total.unreserved().to_endpoint_json(),
    );
    let reserved_full: Map<String, Value> = reservations(&total)
        .into_iter()
        .map(|(role, resources)| (role, full_json(&resources)))
        .collect();
    o.insert(
        "reserved_resources_full".into(),
        Value::Object(reserved_full),
    );
    o.insert(
        "unreserved_resources_full".into(),
        full_json(&total.unreserved()),
    );
    let frameworks = sorted_frameworks(slave);
    let mut allocated = Resources::new();
    for framework in &frameworks {
        for executor in framework.executors.values() {
            allocated += &allocated_resources(executor);
        }
    }
    o.insert(
        "reserved_resources_allocated".into(),
        reserved_json(&allocated),
    );
    o.insert(
        "unreserved_resources_allocated".into(),
        allocated.unreserved().to_endpoint_json(),
    );
    // No resource providers yet.
    o.insert("resource_providers".into(), Value::Array(vec![]));
    o.insert("attributes".into(), attributes_json(&slave.info.attributes));

    let mut tail = Map::new();
    // `log_dir` and `external_log_file` would come here; the agent has
    // neither flag yet.
    tail.insert("flags".into(), Value::Object(flags_object(slave)));
    tail.insert(
        "frameworks".into(),
        frameworks.into_iter().map(framework_json).collect(),
    );
    tail.insert(
        "completed_frameworks".into(),
        slave
            .completed_frameworks()
            .iter()
            .map(framework_json)
            .collect(),
    );
    StateParts { head: o, tail }
}

/// Returns `/slave(1)/flags` (upstream `Http::_flags`): `{"flags":{..}}`.
pub(crate) fn flags(slave: &Slave) -> Value {
    let mut o = Map::new();
    o.insert("flags".into(), Value::Object(flags_object(slave)));
    Value::Object(o)
}

/// Every flag that has a value, as a string, sorted by name (stout keeps
/// flags in a `std::map`; `/flags` builds a `JSON::Object`, also sorted).
/// Besides [`crate::flags::Flags::to_map`] this has `advertise_ip`,
/// `advertise_port` when set, and stout's `help` and the agent's `version`
/// (both `false` in a running agent).
// TODO(#4): move the additions into `Flags::to_map`.
fn flags_object(slave: &Slave) -> Map<String, Value> {
    let Some(flags) = slave.flags() else {
        return Map::new();
    };
    let mut sorted: BTreeMap<&str, String> = flags.to_map().into_iter().collect();
    if let Some(ip) = flags.advertise_ip {
        sorted.insert("advertise_ip", ip.to_string());
    }
    if let Some(port) = flags.advertise_port {
        sorted.insert("advertise_port", port.to_string());
    }
    sorted.insert("help", "false".into());
    sorted.insert("version", "false".into());
    sorted
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v)))
        .collect()
}

/// Returns the host name of `ip` as stout's `net::getHostname` does
/// (`getnameinfo` without `NI_NAMEREQD`, so an address without a name gives
/// its numeric form); `None` when the call fails. Blocks on DNS: call it off
/// the agent process.
pub(crate) fn master_hostname(ip: Ipv4Addr) -> Option<String> {
    let address = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip.octets()),
        },
        sin_zero: [0; 8],
    };
    let mut host = [0 as libc::c_char; libc::NI_MAXHOST as usize];
    // SAFETY: `address` is a valid `sockaddr_in` of the length passed, and
    // `host` is a writable buffer of the length passed; both outlive the
    // call. No service buffer is asked for (null, length 0).
    let rc = unsafe {
        libc::getnameinfo(
            std::ptr::addr_of!(address).cast::<libc::sockaddr>(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success `getnameinfo` wrote a NUL-terminated string into
    // `host`, which is still alive.
    let name = unsafe { CStr::from_ptr(host.as_ptr()) };
    name.to_str().ok().map(str::to_string)
}

// ---------------------------------------------------------------------------
// Frameworks and executors
// ---------------------------------------------------------------------------

/// `FrameworkWriter`.
fn framework_json(framework: &Framework) -> Value {
    let info = &framework.info;
    let mut o = Map::new();
    o.insert(
        "id".into(),
        info.id.clone().unwrap_or_default().value.into(),
    );
    o.insert("name".into(), info.name.clone().into());
    o.insert("user".into(), info.user.clone().into());
    o.insert("failover_timeout".into(), dbl(info.failover_timeout()));
    o.insert("checkpoint".into(), info.checkpoint().into());
    o.insert("hostname".into(), info.hostname().into());
    if let Some(principal) = &info.principal {
        o.insert("principal".into(), principal.clone().into());
    }
    let multi_role = info
        .capabilities
        .iter()
        .any(|c| c.r#type == Some(framework_info::capability::Type::MultiRole as i32));
    if multi_role {
        o.insert(
            "roles".into(),
            info.roles.iter().cloned().map(Value::from).collect(),
        );
    } else {
        #[allow(deprecated)] // upstream still writes the old field
        let role = info.role();
        o.insert("role".into(), role.into());
    }
    let mut executors: Vec<&Executor> = framework.executors.values().collect();
    executors.sort_by(|a, b| id_order(&a.info.executor_id.value, &b.info.executor_id.value));
    o.insert(
        "executors".into(),
        executors.into_iter().map(executor_json).collect(),
    );
    o.insert(
        "completed_executors".into(),
        framework
            .completed_executors
            .iter()
            .map(executor_json)
            .collect(),
    );
    Value::Object(o)
}

/// `ExecutorWriter`.
fn executor_json(executor: &Executor) -> Value {
    let info = &executor.info;
    let mut o = Map::new();
    o.insert("id".into(), info.executor_id.value.clone().into());
    o.insert("name".into(), info.name().into());
    #[allow(deprecated)] // upstream still writes the old field
    let source = info.source().to_string();
    o.insert("source".into(), source.into());
    o.insert("container".into(), executor.container_id.clone().into());
    o.insert(
        "directory".into(),
        executor.directory.display().to_string().into(),
    );
    o.insert(
        "resources".into(),
        allocated_resources(executor).to_endpoint_json(),
    );
    // Command executors may have no resources; executors do not mix roles
    // (MESOS-6636), so the first resource's role is the executor's.
    if !info.resources.is_empty() {
        o.insert("role".into(), role_of(&info.resources).into());
    }
    if let Some(labels) = &info.labels {
        o.insert("labels".into(), labels_json(labels));
    }
    if info.r#type.is_some() {
        o.insert("type".into(), info.r#type().as_str_name().into());
    }
    let (mut launched, mut terminated): (Vec<&Task>, Vec<&Task>) =
        executor.tasks.values().partition(|t| !is_terminal(t.state));
    launched.sort_by(|a, b| id_order(&a.task_id.value, &b.task_id.value));
    terminated.sort_by(|a, b| id_order(&a.task_id.value, &b.task_id.value));
    o.insert(
        "tasks".into(),
        launched.into_iter().map(task_json).collect(),
    );
    o.insert(
        "queued_tasks".into(),
        executor.queued.iter().map(task_info_json).collect(),
    );
    // Upstream writes the acknowledged completed tasks, then the terminated
    // ones awaiting acknowledgement.
    o.insert(
        "completed_tasks".into(),
        executor
            .completed_tasks
            .iter()
            .chain(terminated)
            .map(task_json)
            .collect(),
    );
    Value::Object(o)
}

/// Upstream `Executor::allocatedResources`: the executor's own resources
/// plus those of its queued and launched (non-terminal) tasks.
fn allocated_resources(executor: &Executor) -> Resources {
    let mut allocated = Resources::from(executor.info.resources.clone());
    for task in &executor.queued {
        for resource in &task.resources {
            allocated += resource;
        }
    }
    for task in executor.tasks.values().filter(|t| !is_terminal(t.state)) {
        for resource in &task.resources {
            allocated += resource;
        }
    }
    allocated
}

fn sorted_frameworks(slave: &Slave) -> Vec<&Framework> {
    let mut frameworks: Vec<(&String, &Framework)> = slave.frameworks().iter().collect();
    frameworks.sort_by(|a, b| id_order(a.0, b.0));
    frameworks.into_iter().map(|(_, f)| f).collect()
}

// ---------------------------------------------------------------------------
// Tasks (the shared writers of `src/common/http.cpp`)
// ---------------------------------------------------------------------------

/// `json(JSON::ObjectWriter*, const TaskInfo&)` in `src/slave/http.cpp`:
/// a queued task.
fn task_info_json(task: &TaskInfo) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), task.task_id.value.clone().into());
    o.insert("name".into(), task.name.clone().into());
    o.insert("slave_id".into(), task.slave_id.value.clone().into());
    o.insert(
        "resources".into(),
        resources::endpoint_json(&task.resources),
    );
    // Upstream reads the first resource unconditionally (tasks always have
    // one); an empty list gives `""` here.
    o.insert("role".into(), role_of(&task.resources).into());
    if let Some(command) = &task.command {
        o.insert(
            "command".into(),
            mesos_proto::model::command_info_json(command),
        );
    }
    if let Some(executor) = &task.executor {
        o.insert(
            "executor_id".into(),
            executor.executor_id.value.clone().into(),
        );
    }
    if let Some(discovery) = &task.discovery {
        o.insert("discovery".into(), mesos_proto::json::to_value(discovery));
    }
    Value::Object(o)
}

/// `json(JSON::ObjectWriter*, const Task&)` (master doc §3.10).
fn task_json(task: &Task) -> Value {
    Value::Object(mesos_proto::model::task_json(task))
}

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

/// `{role: resources}` for the reserved part of `resources` (upstream
/// `Resources::reservations()`, a hash map: roles in libstdc++ order).
fn reserved_json(resources: &Resources) -> Value {
    Value::Object(
        reservations(resources)
            .into_iter()
            .map(|(role, reserved)| (role, reserved.to_endpoint_json()))
            .collect(),
    )
}

/// Reserved resources by role, roles in the iteration order of upstream's
/// `hashmap` (inserted as first met).
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
        .map(|role| (role.to_string(), by_role.remove(role).unwrap_or_default()))
        .collect()
}

/// Resources as an array in the "endpoint" format (master doc §3.15).
fn full_json(resources: &Resources) -> Value {
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
}

/// The `allocation_info.role` of the first resource (`""` if none).
fn role_of(resources: &[Resource]) -> String {
    resources
        .first()
        .and_then(|r| r.allocation_info.as_ref())
        .and_then(|a| a.role.clone())
        .unwrap_or_default()
}

fn is_terminal(state: i32) -> bool {
    TaskState::try_from(state).is_ok_and(TaskState::is_terminal)
}

#[cfg(test)]
mod tests {
    use mesos_proto::json::render;
    use mesos_proto::mesos::command_info::Uri;
    use mesos_proto::mesos::{environment, CommandInfo, Environment, ExecutorId, SlaveId, TaskId};

    use super::*;
    use mesos_proto::mesos::TaskStatus;

    fn status(state: TaskState, timestamp: f64) -> TaskStatus {
        TaskStatus {
            state: state as i32,
            timestamp: Some(timestamp),
            message: Some("left out".into()),
            ..Default::default()
        }
    }

    #[test]
    fn command_writes_argv_and_uris_always_and_shell_only_when_set() {
        let command = CommandInfo {
            value: Some("echo hi".into()),
            uris: vec![Uri {
                value: "http://x/y".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            render(&mesos_proto::model::command_info_json(&command)),
            r#"{"value":"echo hi","argv":[],"uris":[{"value":"http:\/\/x\/y","executable":false}]}"#
        );
        let command = CommandInfo {
            shell: Some(false),
            arguments: vec!["a".into()],
            environment: Some(Environment {
                variables: vec![environment::Variable {
                    name: "K".into(),
                    value: Some("V".into()),
                    ..Default::default()
                }],
            }),
            ..Default::default()
        };
        assert_eq!(
            render(&mesos_proto::model::command_info_json(&command)),
            r#"{"shell":false,"argv":["a"],"environment":{"variables":[{"name":"K","type":"VALUE","value":"V"}]},"uris":[]}"#
        );
    }

    #[test]
    fn queued_task_has_upstream_keys_in_order() {
        let task = TaskInfo {
            name: "t".into(),
            task_id: TaskId { value: "t1".into() },
            slave_id: SlaveId { value: "S0".into() },
            resources: Resources::parse("cpus:1", "*").unwrap().to_vec(),
            command: Some(CommandInfo::default()),
            ..Default::default()
        };
        assert_eq!(
            render(&task_info_json(&task)),
            r#"{"id":"t1","name":"t","slave_id":"S0","resources":{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":1.0},"role":"","command":{"argv":[],"uris":[]}}"#
        );
    }

    #[test]
    fn task_statuses_collapse_repeated_states_and_drop_the_message() {
        let task = Task {
            name: "t".into(),
            task_id: TaskId { value: "t1".into() },
            executor_id: Some(ExecutorId { value: "e".into() }),
            state: TaskState::TaskRunning as i32,
            statuses: vec![
                status(TaskState::TaskStarting, 1.0),
                status(TaskState::TaskRunning, 2.0),
                status(TaskState::TaskRunning, 3.5),
            ],
            ..Default::default()
        };
        let json = render(&task_json(&task));
        assert!(
            json.contains(
                r#""statuses":[{"state":"TASK_STARTING","timestamp":1.0},{"state":"TASK_RUNNING","timestamp":3.5}]"#
            ),
            "{json}"
        );
        assert!(json.starts_with(r#"{"id":"t1","name":"t","framework_id":"","executor_id":"e","slave_id":"","state":"TASK_RUNNING","resources":"#));
    }

    #[test]
    fn reservations_come_in_hash_order_with_endpoint_format_arrays() {
        let total = Resources::parse("cpus(b):1;cpus(a):2;mem:10", "*").unwrap();
        let roles: Vec<String> = reservations(&total).into_iter().map(|(r, _)| r).collect();
        let mut keys = UnorderedKeys::new();
        keys.insert("b");
        keys.insert("a");
        assert_eq!(roles, keys.iter().collect::<Vec<_>>());
        let full = render(&full_json(&total.unreserved()));
        assert_eq!(
            full,
            r#"[{"name":"mem","type":"SCALAR","scalar":{"value":10.0},"role":"*"}]"#
        );
    }

    #[test]
    fn master_hostname_of_loopback_is_a_name_or_the_address() {
        let name = master_hostname(Ipv4Addr::LOCALHOST).expect("getnameinfo answers");
        assert!(!name.is_empty());
    }
}
