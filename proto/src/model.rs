//! JSON writers shared by the master's and the agent's classic endpoints,
//! as upstream's `json(JSON::ObjectWriter*, const T&)` overloads in
//! `src/common/http.cpp` (task statuses, container statuses, network
//! infos, labels, attributes, commands, executor infos, tasks) and the small
//! helpers they use. Section
//! numbers refer to `docs/master-endpoints-json.md`.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use crate::mesos::{
    executor_info, value, Attribute, CommandInfo, ContainerStatus, ExecutorInfo, Labels,
    NetworkInfo, Task, TaskState, TaskStatus,
};

/// §3.2: one key per attribute, valued by its type.
pub fn attributes_json(attributes: &[Attribute]) -> Value {
    let mut o = Map::new();
    for attribute in attributes {
        let value = match value::Type::try_from(attribute.r#type) {
            Ok(value::Type::Scalar) => dbl(attribute.scalar.unwrap_or_default().value),
            Ok(value::Type::Ranges) => attribute
                .ranges
                .clone()
                .unwrap_or_default()
                .to_string()
                .into(),
            Ok(value::Type::Set) => attribute.set.clone().unwrap_or_default().to_string().into(),
            Ok(value::Type::Text) => attribute.text.clone().unwrap_or_default().value.into(),
            Err(_) => continue,
        };
        o.insert(attribute.name.clone(), value);
    }
    Value::Object(o)
}

/// The statuses as upstream stores them: an update whose state equals the
/// previous one's replaces it (`Master::updateTask`).
pub fn collapsed(statuses: &[TaskStatus]) -> Vec<&TaskStatus> {
    let mut kept: Vec<&TaskStatus> = Vec::with_capacity(statuses.len());
    for status in statuses {
        if kept.last().is_some_and(|last| last.state == status.state) {
            kept.pop();
        }
        kept.push(status);
    }
    kept
}

/// §3.11: `json(ContainerStatus)`.
pub fn container_status_json(status: &ContainerStatus) -> Value {
    let mut o = Map::new();
    if let Some(id) = &status.container_id {
        o.insert("container_id".into(), crate::json::to_value(id));
    }
    if !status.network_infos.is_empty() {
        o.insert(
            "network_infos".into(),
            status.network_infos.iter().map(network_info_json).collect(),
        );
    }
    if let Some(cgroup_info) = &status.cgroup_info {
        o.insert("cgroup_info".into(), crate::json::to_value(cgroup_info));
    }
    Value::Object(o)
}

/// A C++ `double`: always printed with a decimal point.
pub fn dbl(value: f64) -> Value {
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

/// Orders ids shorter first, then bytewise, so generated ids
/// (`<master>-S<n>`, `<master>-O<n>`, `<master>-<nnnn>`) come in number
/// order.
pub fn id_order(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `json(CommandInfo)`: `shell` and `value` when set, `argv`,
/// `environment` as protobuf JSON when set, `uris` as value/executable.
pub fn command_info_json(command: &CommandInfo) -> Value {
    let mut o = Map::new();
    if let Some(shell) = command.shell {
        o.insert("shell".into(), shell.into());
    }
    if let Some(value) = &command.value {
        o.insert("value".into(), value.clone().into());
    }
    o.insert(
        "argv".into(),
        command.arguments.iter().cloned().map(Value::from).collect(),
    );
    if let Some(environment) = &command.environment {
        o.insert("environment".into(), crate::json::to_value(environment));
    }
    o.insert(
        "uris".into(),
        command
            .uris
            .iter()
            .map(|uri| {
                let mut u = Map::new();
                u.insert("value".into(), uri.value.clone().into());
                u.insert("executable".into(), uri.executable.unwrap_or(false).into());
                Value::Object(u)
            })
            .collect(),
    );
    Value::Object(o)
}

/// `json(ExecutorInfo)`: id, name, framework id, command, resources, the
/// role of its (single-role) resources when it has any, labels and type
/// when set. The master appends `slave_id`.
pub fn executor_info_json(executor: &ExecutorInfo) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert(
        "executor_id".into(),
        executor.executor_id.value.clone().into(),
    );
    o.insert(
        "name".into(),
        executor.name.clone().unwrap_or_default().into(),
    );
    o.insert(
        "framework_id".into(),
        executor
            .framework_id
            .as_ref()
            .map(|f| f.value.clone())
            .unwrap_or_default()
            .into(),
    );
    o.insert(
        "command".into(),
        command_info_json(&executor.command.clone().unwrap_or_default()),
    );
    o.insert(
        "resources".into(),
        crate::resources::endpoint_json(&executor.resources),
    );
    if let Some(first) = executor.resources.first() {
        let role = first
            .allocation_info
            .as_ref()
            .and_then(|a| a.role.clone())
            .unwrap_or_default();
        o.insert("role".into(), role.into());
    }
    if let Some(labels) = &executor.labels {
        o.insert("labels".into(), labels_json(labels));
    }
    if let Some(kind) = executor.r#type {
        if let Ok(kind) = executor_info::Type::try_from(kind) {
            o.insert("type".into(), kind.as_str_name().into());
        }
    }
    o
}

/// §3.3: labels as an array of protobuf JSON `Label`s.
pub fn labels_json(labels: &Labels) -> Value {
    // Written by hand (what `json::to_value` gives, without reflection):
    // a state document holds one per task, so this is hot.
    labels
        .labels
        .iter()
        .map(|label| {
            let mut o = Map::new();
            o.insert("key".into(), label.key.clone().into());
            if let Some(value) = &label.value {
                o.insert("value".into(), value.clone().into());
            }
            Value::Object(o)
        })
        .collect()
}

/// §3.11: `json(NetworkInfo)`, hand-ordered.
pub fn network_info_json(info: &NetworkInfo) -> Value {
    let mut o = Map::new();
    if !info.groups.is_empty() {
        o.insert(
            "groups".into(),
            info.groups.iter().cloned().map(Value::from).collect(),
        );
    }
    if let Some(labels) = &info.labels {
        o.insert("labels".into(), labels_json(labels));
    }
    if !info.ip_addresses.is_empty() {
        o.insert(
            "ip_addresses".into(),
            info.ip_addresses
                .iter()
                .map(crate::json::to_value)
                .collect(),
        );
    }
    if let Some(name) = &info.name {
        o.insert("name".into(), name.clone().into());
    }
    if !info.port_mappings.is_empty() {
        o.insert(
            "port_mappings".into(),
            info.port_mappings
                .iter()
                .map(crate::json::to_value)
                .collect(),
        );
    }
    Value::Object(o)
}

/// Returns a task state's upstream name (`TASK_RUNNING`), or an empty
/// string for a number the enum lacks.
pub fn state_name(state: i32) -> &'static str {
    TaskState::try_from(state).map_or("", |s| s.as_str_name())
}

/// §3.11: `json(TaskStatus)`.
pub fn status_json(status: &TaskStatus) -> Value {
    let mut o = Map::new();
    o.insert("state".into(), state_name(status.state).into());
    o.insert("timestamp".into(), dbl(status.timestamp()));
    if let Some(labels) = &status.labels {
        o.insert("labels".into(), labels_json(labels));
    }
    if let Some(container_status) = &status.container_status {
        o.insert(
            "container_status".into(),
            container_status_json(container_status),
        );
    }
    if let Some(healthy) = status.healthy {
        o.insert("healthy".into(), healthy.into());
    }
    Value::Object(o)
}

/// §3.10: `json(Task)`, as the master's and the agent's state endpoints
/// write a task.
pub fn task_json(task: &Task) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("id".into(), task.task_id.value.clone().into());
    o.insert("name".into(), task.name.clone().into());
    o.insert(
        "framework_id".into(),
        task.framework_id.value.clone().into(),
    );
    o.insert(
        "executor_id".into(),
        task.executor_id
            .as_ref()
            .map(|id| id.value.clone())
            .unwrap_or_default()
            .into(),
    );
    o.insert("slave_id".into(), task.slave_id.value.clone().into());
    o.insert("state".into(), state_name(task.state).into());
    o.insert(
        "resources".into(),
        crate::resources::endpoint_json(&task.resources),
    );
    if !task.limits.is_empty() {
        // A protobuf map: upstream's order is unspecified; ours is by name.
        let limits: std::collections::BTreeMap<&String, &value::Scalar> =
            task.limits.iter().collect();
        o.insert(
            "limits".into(),
            Value::Object(
                limits
                    .into_iter()
                    .map(|(name, scalar)| (name.clone(), dbl(scalar.value)))
                    .collect(),
            ),
        );
    }
    // Tasks do not mix roles (MESOS-6636): the first resource's role.
    let role = task
        .resources
        .first()
        .and_then(|r| r.allocation_info.as_ref())
        .and_then(|a| a.role.clone())
        .unwrap_or_default();
    o.insert("role".into(), role.into());
    o.insert(
        "statuses".into(),
        collapsed(&task.statuses)
            .into_iter()
            .map(status_json)
            .collect(),
    );
    if let Some(user) = &task.user {
        o.insert("user".into(), user.clone().into());
    }
    if let Some(labels) = &task.labels {
        o.insert("labels".into(), labels_json(labels));
    }
    if let Some(discovery) = &task.discovery {
        o.insert("discovery".into(), crate::json::to_value(discovery));
    }
    if let Some(container) = &task.container {
        o.insert("container".into(), crate::json::to_value(container));
    }
    if let Some(health_check) = &task.health_check {
        o.insert("health_check".into(), crate::json::to_value(health_check));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_json_is_what_reflection_gives() {
        let labels = Labels {
            labels: vec![
                crate::mesos::Label {
                    key: "k".into(),
                    value: Some("v \"quoted\"".into()),
                },
                crate::mesos::Label {
                    key: "only".into(),
                    value: None,
                },
                crate::mesos::Label {
                    key: String::new(),
                    value: Some(String::new()),
                },
            ],
        };
        let reflected: Value = labels.labels.iter().map(crate::json::to_value).collect();
        assert_eq!(labels_json(&labels), reflected);
        assert_eq!(
            crate::json::render(&labels_json(&labels)),
            crate::json::render(&reflected)
        );
    }
}
