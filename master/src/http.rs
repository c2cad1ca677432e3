//! The master's classic HTTP endpoints (upstream `src/master/http.cpp`).
//!
//! Served so far: `/master/health`, `/master/flags` (and `/flags` through
//! the delegate), `/master/redirect`, `/api/v1/scheduler`
//! ([`crate::scheduler_http`]); `/version` and `/metrics/snapshot`
//! come from libprocess. The state endpoints (`/master/state`, `/slaves`,
//! `/frameworks`, ...) come with the frameworks part of issue #3 and answer
//! 404 until then, as docs/compatibility.md says.

use libprocess::http::{Request, Response};
use serde_json::{Map, Value};

use crate::master::Master;

/// Installs the endpoints on the master process.
pub fn install(master: &mut Master) {
    let base = libprocess::Process::base_mut(master);
    base.route_sync("/health", |_, _, request| {
        if request.method != "GET" {
            return Response::method_not_allowed(&["GET"], &request.method);
        }
        Response::status(200)
    });
    base.route_sync("/flags", |master, _, request| flags(master, &request));
    base.route_sync("/redirect", |master, _, _request| redirect(master));
    base.route_sync("/api/v1/scheduler", crate::scheduler_http::handle);
    base.route_sync("/teardown", teardown);
    base.route("/api/v1", crate::operator_api::handle);
}

fn flags(master: &Master, request: &Request) -> Response {
    if request.method != "GET" {
        return Response::method_not_allowed(&["GET"], &request.method);
    }
    let flags: Map<String, Value> = master
        .flags
        .to_map()
        .into_iter()
        .map(|(name, value)| (name.to_string(), Value::String(value)))
        .collect();
    let mut object = Map::new();
    object.insert("flags".into(), Value::Object(flags));
    Response::json(
        mesos_proto::json::render(&Value::Object(object)),
        request.query_param("jsonp"),
    )
}

/// `307` to the leading master, `//<hostname>:<port>` (a standalone master
/// leads once its registry is recovered; `503` before).
fn redirect(master: &Master) -> Response {
    if !master.recovered() {
        return Response::status(503).with_body("text/plain", "No leader elected");
    }
    let hostname = master.info.hostname.clone().unwrap_or_default();
    Response::status(307).with_header("Location", format!("//{hostname}:{}", master.info.port))
}

/// `POST /master/teardown` with the form field `frameworkId`: removes the
/// framework and shuts its tasks down, whether it is subscribed or only
/// recovered from an agent.
fn teardown(master: &mut Master, ctx: &mut actix::Context<Master>, request: Request) -> Response {
    if request.method != "POST" {
        return Response::method_not_allowed(&["POST"], &request.method);
    }
    let body = String::from_utf8_lossy(&request.body);
    let (_, form) = libprocess::http::split_target(&format!("?{body}"));
    let Some(id) = form
        .iter()
        .find(|(k, _)| k == "frameworkId")
        .map(|(_, v)| v.clone())
    else {
        return Response::bad_request("Missing 'frameworkId' query parameter in the request body");
    };
    if !master.frameworks.registered.contains_key(&id) {
        return Response::bad_request("No framework found with specified ID");
    }
    master.remove_framework(&id, ctx);
    Response::status(200)
}
