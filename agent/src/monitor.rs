//! The resource monitor (upstream `src/slave/monitor.cpp` and
//! `Http::statistics`, `Http::containers`): the agent's
//! `/monitor/statistics` (and `/monitor/statistics.json`), the usage of
//! every running executor's container, and `/containers`, with each
//! container's status as well.
//!
//! Entries follow upstream's JSON: `executor_id`, `executor_name`,
//! `framework_id`, `source`, `statistics` (a `ResourceStatistics`); for
//! `/containers` also `container_id` and `status` (a `ContainerStatus`).
//! Upstream builds these as `JSON::Object`s (a sorted map), so every
//! object's keys come out in name order, nested protobufs included. An
//! executor whose usage cannot be read (it is being destroyed) is left
//! out of `/monitor/statistics`, as upstream does.

use std::sync::Arc;

use libprocess::http::{Request, Response};
use libprocess::HttpFuture;
use mesos_proto::json::{render, to_value};
use mesos_proto::mesos::ExecutorInfo;
use serde_json::{Map, Value};

use crate::containerizer::Containerizer;
use crate::slave::Slave;

/// A running executor and its container.
pub(crate) struct Running {
    pub(crate) info: ExecutorInfo,
    pub(crate) container_id: String,
}

/// `/monitor/statistics` on the agent process.
pub(crate) fn statistics(slave: &mut Slave, request: Request) -> HttpFuture {
    let running = slave.running_containers();
    let containerizer = slave.containerizer_handle();
    Box::pin(async move {
        let entries = entries(running, containerizer, false).await;
        respond(entries, &request)
    })
}

/// `/containers` on the agent process.
pub(crate) fn containers(slave: &mut Slave, request: Request) -> HttpFuture {
    let running = slave.running_containers();
    let containerizer = slave.containerizer_handle();
    Box::pin(async move {
        let entries = entries(running, containerizer, true).await;
        respond(entries, &request)
    })
}

/// `value` with every object's keys in name order (stout's `JSON::Object`).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(values) => Value::Array(values.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn respond(entries: Vec<Value>, request: &Request) -> Response {
    Response::json(render(&Value::Array(entries)), request.query_param("jsonp"))
}

async fn entries(
    running: Vec<Running>,
    containerizer: Option<Arc<dyn Containerizer>>,
    with_status: bool,
) -> Vec<Value> {
    let Some(containerizer) = containerizer else {
        return vec![];
    };
    let mut entries = Vec::with_capacity(running.len());
    for executor in running {
        let Ok(statistics) = containerizer.usage(executor.container_id.clone()).await else {
            continue;
        };
        let info = &executor.info;
        let mut entry = Map::new();
        entry.insert("executor_id".into(), info.executor_id.value.clone().into());
        entry.insert(
            "executor_name".into(),
            info.name.clone().unwrap_or_default().into(),
        );
        entry.insert(
            "framework_id".into(),
            info.framework_id
                .as_ref()
                .map(|f| f.value.clone())
                .unwrap_or_default()
                .into(),
        );
        #[allow(deprecated)] // upstream still reports `source`
        entry.insert(
            "source".into(),
            info.source.clone().unwrap_or_default().into(),
        );
        if with_status {
            entry.insert("container_id".into(), executor.container_id.clone().into());
            if let Ok(status) = containerizer.status(executor.container_id.clone()).await {
                entry.insert("status".into(), to_value(&status));
            }
        }
        entry.insert("statistics".into(), to_value(&statistics));
        entries.push(sorted(Value::Object(entry)));
    }
    entries
}
