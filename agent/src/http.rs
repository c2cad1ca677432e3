//! The agent's endpoints (upstream `src/slave/http.cpp`). So far
//! `/slave(1)/health` and `/slave(1)/flags` (and `/health`, `/flags`
//! through the delegate); `/version` and `/metrics/snapshot` come from
//! libprocess. The state endpoints come later in issue #4.

use libprocess::http::Response;
use serde_json::{Map, Value};

use crate::slave::Slave;

/// Installs the endpoints on the agent process.
pub fn install(slave: &mut Slave) {
    let base = libprocess::Process::base_mut(slave);
    base.route_sync("/health", |_, _, request| {
        if request.method != "GET" {
            return Response::method_not_allowed(&["GET"], &request.method);
        }
        Response::status(200)
    });
    base.route_sync("/flags", |slave, _, request| {
        let flags: Map<String, Value> = slave
            .flags()
            .map(|f| f.to_map())
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect();
        let mut object = Map::new();
        object.insert("flags".into(), Value::Object(flags));
        Response::json(
            mesos_proto::json::render(&Value::Object(object)),
            request.query_param("jsonp"),
        )
    });
}
