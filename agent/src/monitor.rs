//! The resource monitor (upstream `src/slave/monitor.cpp`): the
//! `monitor` process serving `/monitor/statistics` (and
//! `/monitor/statistics.json`), the usage of every running executor's
//! container; and the agent's `/containers` with each container's status
//! as well.
//!
//! Entries follow upstream's JSON: `executor_id`, `executor_name`,
//! `framework_id`, `source`, `statistics` (a `ResourceStatistics`); for
//! `/containers` also `container_id` and `status` (a `ContainerStatus`).
//! An executor whose usage cannot be read (it is being destroyed) is left
//! out, as upstream does.

use std::sync::Arc;

use libprocess::http::{Request, Response};
use libprocess::{HttpFuture, Process, ProcessBase, PID};
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

/// The `monitor` process.
pub struct ResourceMonitor {
    base: ProcessBase<Self>,
    slave: PID<Slave>,
}

impl ResourceMonitor {
    /// The monitor of `slave`'s executors.
    pub fn new(slave: PID<Slave>) -> Self {
        Self {
            base: ProcessBase::new("monitor"),
            slave,
        }
    }
}

impl actix::Actor for ResourceMonitor {
    type Context = actix::Context<Self>;
}

impl Process for ResourceMonitor {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }

    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }

    fn initialize(&mut self, _: &mut actix::Context<Self>) {
        for endpoint in ["/statistics", "/statistics.json"] {
            self.base.route(endpoint, |this, _, request| {
                let slave = this.slave.clone();
                Box::pin(async move {
                    let Ok((running, containerizer)) = slave
                        .call(|slave, _| (slave.running_containers(), slave.containerizer_handle()))
                        .await
                    else {
                        return Response::status(503)
                            .with_body("text/plain; charset=utf-8", "the agent is gone");
                    };
                    let entries = entries(running, containerizer, false).await;
                    respond(entries, &request)
                })
            });
        }
    }
}

libprocess::process_handlers!(ResourceMonitor);

/// `/containers` on the agent process.
pub(crate) fn containers(slave: &mut Slave, request: Request) -> HttpFuture {
    let running = slave.running_containers();
    let containerizer = slave.containerizer_handle();
    Box::pin(async move {
        let entries = entries(running, containerizer, true).await;
        respond(entries, &request)
    })
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
        entries.push(Value::Object(entry));
    }
    entries
}
