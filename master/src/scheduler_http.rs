//! The v1 scheduler HTTP API: `POST /api/v1/scheduler` (upstream
//! `Master::Http::scheduler` in `src/master/http.cpp`,
//! `docs/scheduler-http-api.md`).
//!
//! `SUBSCRIBE` answers `200` with a `Mesos-Stream-Id` header and an endless
//! RecordIO stream of `mesos.v1.scheduler.Event`s (JSON or protobuf, as the
//! `Accept` header asks; JSON when both are acceptable): `SUBSCRIBED` first,
//! then `HEARTBEAT` every 15 seconds. Closing that connection disconnects
//! the framework (its failover timeout starts). Other calls carry the
//! stream id and answer `202 Accepted`. Requests that are not `POST`, have
//! an unsupported `Content-Type` or `Accept`, do not parse, or fail
//! validation get upstream's 4xx with a message.
//!
//! Events are built as v0 `mesos.scheduler.Event`s and converted to v1 by
//! re-decoding the encoding, as upstream's `evolve` does: the two packages
//! share every tag.

use std::time::Duration;

use actix::{AsyncContext as _, Context};
use bytes::Bytes;
use libprocess::http::{Body, Request, Response};
use mesos_proto::api::{decode_call, BodyError, JSON, PROTOBUF};
use mesos_proto::mesos::scheduler::{event, Event};
use mesos_proto::mesos::v1;
use prost::Message as _;

use crate::master::Master;

/// Upstream's `DEFAULT_HEARTBEAT_INTERVAL`.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);

/// A subscribed HTTP framework's event stream.
pub struct HttpConnection {
    /// The `Mesos-Stream-Id` of the subscription.
    pub stream_id: String,
    json: bool,
    tx: tokio::sync::mpsc::UnboundedSender<Bytes>,
}

impl HttpConnection {
    /// Sends one event (given in v0 form) on the stream.
    pub fn send(&self, event: &Event) {
        match mesos_proto::api::event_record::<v1::scheduler::Event>(event, self.json) {
            Ok(record) => {
                let _ = self.tx.send(record);
            }
            Err(error) => tracing::error!(%error, "Failed to convert an event to v1"),
        }
    }

    /// Returns whether the client is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Which media type to answer in, by preference (JSON first):
/// `Some(true)` for JSON, `Some(false)` for protobuf, `None` for neither
/// (406).
pub(crate) fn negotiate(request: &Request) -> Option<bool> {
    request
        .preferred_media_type(&[JSON, PROTOBUF])
        .map(|media| media == JSON)
}

/// Handles a request to `/api/v1/scheduler`.
pub fn handle(master: &mut Master, ctx: &mut Context<Master>, request: Request) -> Response {
    if request.method != "POST" {
        return Response::method_not_allowed(&["POST"], &request.method);
    }
    let principal = match master
        .http_auth
        .authenticate(crate::http_auth::Realm::Scheduler, &request)
    {
        Ok(principal) => principal,
        Err(response) => return response,
    };
    if !master.recovered() {
        return Response::status(503).with_body("text/plain", "Master has not finished recovery");
    }
    let call: v1::scheduler::Call = match decode_call(request.header("Content-Type"), &request.body)
    {
        Ok(call) => call,
        Err(BodyError::Malformed(error)) => {
            return Response::bad_request(format!(
                "Failed to parse body into Call protobuf: {error}"
            ))
        }
        Err(BodyError::UnsupportedMediaType) => {
            return Response::status(415).with_body(
                "text/plain",
                format!("Expecting 'Content-Type' of {JSON} or {PROTOBUF}"),
            )
        }
    };
    if let Err(error) = validate(&call) {
        return Response::bad_request(format!("Failed to validate scheduler::Call: {error}"));
    }
    // Back to v0 types, which the master works with (same tags).
    let call = match mesos_proto::mesos::scheduler::Call::decode(call.encode_to_vec().as_slice()) {
        Ok(call) => call,
        Err(error) => {
            return Response::internal_error(format!("Failed to convert the call: {error}"))
        }
    };
    let kind = call.r#type();
    if kind == mesos_proto::mesos::scheduler::call::Type::Subscribe {
        if request.header("Mesos-Stream-Id").is_some() {
            return Response::bad_request(
                "Subscribe calls should not include the 'Mesos-Stream-Id' header",
            );
        }
        let Some(json) = negotiate(&request) else {
            return Response::status(406).with_body(
                "text/plain",
                format!("Expecting 'Accept' to allow '{JSON}' or '{PROTOBUF}'"),
            );
        };
        let Some(subscribe) = call.subscribe else {
            return Response::bad_request("Expecting 'subscribe' to be present");
        };
        if let (Some(authenticated), Some(declared)) =
            (&principal, &subscribe.framework_info.principal)
        {
            if authenticated != declared {
                return Response::bad_request(format!(
                    "Failed to validate scheduler::Call: Authenticated principal \
                     '{authenticated}' does not match principal '{declared}' set in \
                     `FrameworkInfo`"
                ));
            }
        }
        return subscribe_http(
            master,
            ctx,
            subscribe.framework_info,
            crate::frameworks::SubscribeOptions {
                suppressed: subscribe.suppressed_roles,
                offer_constraints: subscribe.offer_constraints.unwrap_or_default(),
            },
            json,
        );
    }

    let Some(id) = call.framework_id.as_ref().map(|id| id.value.clone()) else {
        return Response::bad_request("Expecting 'framework_id' to be present");
    };
    let Some(framework) = master.frameworks.registered.get(&id) else {
        return Response::bad_request(format!("Framework '{id}' cannot be found"));
    };
    if let (Some(authenticated), Some(declared)) = (&principal, &framework.info.principal) {
        if authenticated != declared {
            return Response::bad_request(format!(
                "Authenticated principal '{authenticated}' does not match principal \
                 '{declared}' used to subscribe"
            ));
        }
    }
    let Some(http) = framework.http.as_ref() else {
        return Response::status(403)
            .with_body("text/plain", "Framework is not subscribed over HTTP");
    };
    match request.header("Mesos-Stream-Id") {
        None => {
            return Response::bad_request(
                "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
            )
        }
        Some(stream_id) if stream_id != http.stream_id => {
            return Response::bad_request(format!(
                "The stream ID '{stream_id}' included in this request didn't match the stream ID \
                 currently associated with framework ID '{id}'"
            ))
        }
        Some(_) => {}
    }
    if !framework.connected {
        return Response::status(403).with_body("text/plain", "Framework is not connected");
    }
    framework.metrics.call(kind);
    match kind {
        mesos_proto::mesos::scheduler::call::Type::Teardown => {
            master.metrics.messages_unregister_framework.inc();
            master.remove_framework(&id, ctx);
            Response::status(202)
        }
        mesos_proto::mesos::scheduler::call::Type::UpdateFramework => {
            let Some(update) = call.update_framework else {
                return Response::bad_request("Expecting 'update_framework' to be present");
            };
            match master.update_framework(&id, update, ctx) {
                Ok(()) => Response::status(200),
                Err(error) => Response::bad_request(error),
            }
        }
        other => {
            if master.task_call(&id, call, ctx) {
                Response::status(202)
            } else {
                Response::status(501).with_body(
                    "text/plain",
                    format!("Call {other:?} is not supported by this master yet"),
                )
            }
        }
    }
}

/// Upstream's `validation::scheduler::call::validate`, for the parts that
/// do not depend on master state.
fn validate(call: &v1::scheduler::Call) -> Result<(), String> {
    use v1::scheduler::call::Type;
    let Some(kind) = call.r#type.and_then(|t| Type::try_from(t).ok()) else {
        return Err("Expecting 'type' to be present".into());
    };
    if kind == Type::Subscribe {
        let Some(subscribe) = &call.subscribe else {
            return Err("Expecting 'subscribe' to be present".into());
        };
        let info = &subscribe.framework_info;
        if let (Some(framework_id), Some(info_id)) = (&call.framework_id, &info.id) {
            if framework_id != info_id {
                return Err("'framework_id' differs from 'subscribe.framework_info.id'".into());
            }
        }
        if call.framework_id.is_none() && info.id.is_some() {
            return Err("'framework_id' must be set when 'subscribe.framework_info.id' is".into());
        }
        return Ok(());
    }
    if call.framework_id.is_none() {
        return Err("Expecting 'framework_id' to be present".into());
    }
    let missing = |present: bool, field: &str| {
        if present {
            Ok(())
        } else {
            Err(format!("Expecting '{field}' to be present"))
        }
    };
    match kind {
        Type::Accept => missing(call.accept.is_some(), "accept"),
        Type::Decline => missing(call.decline.is_some(), "decline"),
        Type::AcceptInverseOffers => missing(
            call.accept_inverse_offers.is_some(),
            "accept_inverse_offers",
        ),
        Type::DeclineInverseOffers => missing(
            call.decline_inverse_offers.is_some(),
            "decline_inverse_offers",
        ),
        Type::Kill => missing(call.kill.is_some(), "kill"),
        Type::Shutdown => missing(call.shutdown.is_some(), "shutdown"),
        Type::Acknowledge => missing(call.acknowledge.is_some(), "acknowledge"),
        Type::AcknowledgeOperationStatus => {
            let Some(acknowledge) = &call.acknowledge_operation_status else {
                return Err("Expecting 'acknowledge_operation_status' to be present".into());
            };
            uuid::Uuid::from_slice(&acknowledge.uuid).map_err(|e| e.to_string())?;
            if acknowledge.agent_id.is_none() {
                return Err("Expecting 'agent_id' to be present".into());
            }
            Ok(())
        }
        Type::Reconcile => missing(call.reconcile.is_some(), "reconcile"),
        Type::ReconcileOperations => {
            missing(call.reconcile_operations.is_some(), "reconcile_operations")
        }
        Type::Message => missing(call.message.is_some(), "message"),
        Type::Request => missing(call.request.is_some(), "request"),
        Type::UpdateFramework => missing(call.update_framework.is_some(), "update_framework"),
        Type::Unknown => Err("Expecting 'type' to be present".into()),
        Type::Subscribe | Type::Teardown | Type::Revive | Type::Suppress => Ok(()),
    }
}

fn subscribe_http(
    master: &mut Master,
    ctx: &mut Context<Master>,
    info: mesos_proto::mesos::FrameworkInfo,
    options: crate::frameworks::SubscribeOptions,
    json: bool,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let stream_id = uuid::Uuid::new_v4().to_string();
    let connection = HttpConnection {
        stream_id: stream_id.clone(),
        json,
        tx,
    };
    let framework_id = match master.subscribe_http(info, options, connection, ctx) {
        Ok(id) => id,
        Err(error) => return Response::bad_request(error),
    };

    // The first heartbeat follows SUBSCRIBED at once (upstream's
    // `Heartbeater::initialize`), then one every interval.
    heartbeat(master, ctx, framework_id.clone(), stream_id.clone());

    // The framework disconnects when its client goes away.
    let handle = master.base.handle(ctx.address());
    let (id, stream) = (framework_id, stream_id.clone());
    let on_close = move || {
        handle.dispatch(move |master: &mut Master, ctx| {
            master.http_framework_disconnected(&id, &stream, ctx)
        });
    };

    Response {
        status: 200,
        headers: vec![
            (
                "Content-Type".into(),
                if json { JSON } else { PROTOBUF }.into(),
            ),
            ("Mesos-Stream-Id".into(), stream_id),
        ],
        body: Body::Stream(bridge(rx, on_close)),
    }
}

/// Adapts the unbounded event channel to the bounded body channel the
/// transport reads. The stream ends when the master drops its sender;
/// `on_close` runs once the stream is over, whichever side ended it (the
/// client going away, or the master).
pub(crate) fn bridge(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Bytes>,
    on_close: impl FnOnce() + 'static,
) -> tokio::sync::mpsc::Receiver<Bytes> {
    let (body_tx, body_rx) = tokio::sync::mpsc::channel(64);
    actix::spawn(async move {
        loop {
            tokio::select! {
                event = rx.recv() => {
                    let Some(event) = event else { break };
                    if body_tx.send(event).await.is_err() {
                        break;
                    }
                }
                _ = body_tx.closed() => break,
            }
        }
        // Dropping `rx` also tells the master's sender the stream is gone.
        drop(rx);
        on_close();
    });
    body_rx
}

/// Sends a HEARTBEAT on the framework's stream while it is the one with
/// `stream_id` and open, and again after each interval.
fn heartbeat(master: &Master, ctx: &mut Context<Master>, framework_id: String, stream_id: String) {
    let alive = master
        .frameworks
        .registered
        .get(&framework_id)
        .and_then(|f| f.http.as_ref())
        .filter(|http| http.stream_id == stream_id && !http.is_closed());
    let Some(http) = alive else {
        return;
    };
    http.send(&Event {
        r#type: Some(event::Type::Heartbeat as i32),
        ..Default::default()
    });
    master.count_event(&framework_id, event::Type::Heartbeat);
    master
        .base
        .delay(HEARTBEAT_INTERVAL, &ctx.address(), move |master, ctx| {
            heartbeat(master, ctx, framework_id, stream_id);
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(accept: Option<&str>) -> Request {
        let mut request = Request::get("/");
        if let Some(accept) = accept {
            request.headers.push(("Accept".into(), accept.into()));
        }
        request
    }

    #[test]
    fn json_is_preferred_when_both_are_acceptable() {
        assert_eq!(negotiate(&request(None)), Some(true));
        assert_eq!(
            negotiate(&request(Some("application/x-protobuf"))),
            Some(false)
        );
        assert_eq!(
            negotiate(&request(Some("application/x-protobuf, application/json"))),
            Some(true)
        );
        assert_eq!(negotiate(&request(Some("*/*"))), Some(true));
        assert_eq!(negotiate(&request(Some("text/html"))), None);
        assert_eq!(
            negotiate(&request(Some(
                "application/json;q=0, application/x-protobuf"
            ))),
            Some(false)
        );
    }
}
