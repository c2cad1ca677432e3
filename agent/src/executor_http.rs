//! The v1 executor HTTP API: `POST /slave(1)/api/v1/executor` (upstream
//! `Http::executor` in `src/slave/http.cpp`, `docs/executor-http-api.md`).
//!
//! `SUBSCRIBE` answers `200` with an endless RecordIO stream of
//! `mesos.v1.executor.Event`s (JSON or protobuf, as the `Accept` header
//! asks; JSON when both are acceptable): `SUBSCRIBED` first, then the
//! queued tasks as `LAUNCH`, then whatever the agent has for the executor
//! (`KILL`, `MESSAGE`, `ACKNOWLEDGED`, `SHUTDOWN`) and a `HEARTBEAT` every
//! [`HEARTBEAT_INTERVAL`]. `UPDATE`, `MESSAGE` and `HEARTBEAT` answer
//! `202 Accepted`. Requests that are not `POST`, have an unsupported
//! `Content-Type` or `Accept`, do not parse, or fail validation get
//! upstream's 4xx with a message.
//!
//! Events are built as v0 `mesos.executor.Event`s and converted to v1 by
//! re-decoding the encoding, as upstream's `evolve` does: the two packages
//! share every tag. Calls go the other way.

use std::time::Duration;

use actix::{AsyncContext as _, Context};
use bytes::Bytes;
use libprocess::http::{Body, Request, Response};
use mesos_proto::api::{decode_call, BodyError, JSON, PROTOBUF};
use mesos_proto::mesos::executor::{event, Call, Event};
use mesos_proto::mesos::internal::{
    FrameworkToExecutorMessage, KillTaskMessage, RunTaskMessage, ShutdownExecutorMessage,
    StatusUpdateAcknowledgementMessage,
};
use mesos_proto::mesos::{task_status, v1, TaskState};
use prost::Message as _;

use crate::slave::Slave;

/// Upstream's `DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL` (`src/slave/constants.hpp`).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30 * 60);

/// A subscribed HTTP executor's event stream. Dropping it ends the stream.
pub struct HttpConnection {
    /// Tells this subscription from a later one of the same executor.
    pub(crate) id: u64,
    json: bool,
    tx: tokio::sync::mpsc::UnboundedSender<Bytes>,
}

impl HttpConnection {
    /// Sends one event (given in v0 form) on the stream.
    pub fn send(&self, event: &Event) {
        match mesos_proto::api::event_record::<v1::executor::Event>(event, self.json) {
            Ok(record) => {
                let _ = self.tx.send(record);
            }
            Err(error) => tracing::error!(%error, "Failed to convert an event to v1"),
        }
    }

    /// Returns whether the executor is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// A message for an executor, in its v0 form. `Slave::send_to_executor`
/// sends it as is to a v0 executor and as its v1 event to an HTTP one.
pub(crate) enum ToExecutor {
    RunTask(Box<RunTaskMessage>),
    RunTaskGroup(Box<mesos_proto::mesos::internal::RunTaskGroupMessage>),
    KillTask(KillTaskMessage),
    FrameworkMessage(FrameworkToExecutorMessage),
    Shutdown(ShutdownExecutorMessage),
    Acknowledgement(StatusUpdateAcknowledgementMessage),
}

impl ToExecutor {
    /// Sends the v0 message to `pid`.
    pub(crate) fn send_v0(&self, base: &libprocess::ProcessBase<Slave>, pid: &libprocess::UPID) {
        match self {
            Self::RunTask(m) => base.send(pid, m.as_ref()),
            Self::RunTaskGroup(m) => base.send(pid, m.as_ref()),
            Self::KillTask(m) => base.send(pid, m),
            Self::FrameworkMessage(m) => base.send(pid, m),
            Self::Shutdown(m) => base.send(pid, m),
            Self::Acknowledgement(m) => base.send(pid, m),
        }
    }

    /// The executor event upstream sends an HTTP executor instead.
    pub(crate) fn event(&self) -> Event {
        let mut event = Event::default();
        match self {
            Self::RunTask(m) => {
                event.set_type(event::Type::Launch);
                event.launch = Some(event::Launch {
                    task: m.task.clone(),
                });
            }
            Self::RunTaskGroup(m) => {
                event.set_type(event::Type::LaunchGroup);
                event.launch_group = Some(event::LaunchGroup {
                    task_group: m.task_group.clone(),
                });
            }
            Self::KillTask(m) => {
                event.set_type(event::Type::Kill);
                event.kill = Some(event::Kill {
                    task_id: m.task_id.clone(),
                    kill_policy: m.kill_policy,
                });
            }
            Self::FrameworkMessage(m) => {
                event.set_type(event::Type::Message);
                event.message = Some(event::Message {
                    data: m.data.clone(),
                });
            }
            Self::Shutdown(_) => event.set_type(event::Type::Shutdown),
            Self::Acknowledgement(m) => {
                event.set_type(event::Type::Acknowledged);
                event.acknowledged = Some(event::Acknowledged {
                    task_id: m.task_id.clone(),
                    uuid: m.uuid.clone(),
                });
            }
        }
        event
    }
}

/// Which media type to answer in, by preference (JSON first):
/// `Some(true)` for JSON, `Some(false)` for protobuf, `None` for neither
/// (406).
fn negotiate(request: &Request) -> Option<bool> {
    request
        .preferred_media_type(&[JSON, PROTOBUF])
        .map(|media| media == JSON)
}

/// Handles a request to `/api/v1/executor`.
pub fn handle(slave: &mut Slave, ctx: &mut Context<Slave>, request: Request) -> Response {
    if request.method != "POST" {
        return Response::method_not_allowed(&["POST"], &request.method);
    }
    let call: v1::executor::Call = match decode_call(request.header("Content-Type"), &request.body)
    {
        Ok(call) => call,
        Err(BodyError::Malformed(error)) => {
            return Response::bad_request(format!(
                "Failed to parse body into executor::Call: {error}"
            ))
        }
        Err(BodyError::UnsupportedMediaType) => {
            return Response::status(415).with_body(
                "text/plain",
                format!("Expecting 'Content-Type' of {JSON} or {PROTOBUF}"),
            )
        }
    };
    // Back to v0 types, which the agent works with (same tags).
    let call = match Call::decode(call.encode_to_vec().as_slice()) {
        Ok(call) => call,
        Err(error) => {
            return Response::internal_error(format!("Failed to convert the call: {error}"))
        }
    };
    if let Err(error) = validate(&call) {
        return Response::bad_request(format!("Failed to validate executor::Call: {error}"));
    }
    use mesos_proto::mesos::executor::call::Type;
    let kind = call.r#type();
    if kind == Type::Heartbeat {
        return Response::status(202);
    }
    if kind == Type::Subscribe {
        let Some(json) = negotiate(&request) else {
            return Response::status(406).with_body(
                "text/plain",
                format!("Expecting 'Accept' to allow '{JSON}' or '{PROTOBUF}'"),
            );
        };
        return subscribe(slave, ctx, call, json);
    }
    if let Err(response) = slave.http_executor_subscribed(&call.framework_id, &call.executor_id) {
        return response;
    }
    if slave.is_recovering() {
        return Response::status(503).with_body("text/plain", "Agent has not finished recovery");
    }
    match kind {
        Type::Update => {
            let Some(update) = call.update else {
                return Response::bad_request("Expecting 'update' to be present");
            };
            slave.http_status_update(call.framework_id, call.executor_id, update.status, ctx);
            Response::status(202)
        }
        Type::Message => {
            let Some(message) = call.message else {
                return Response::bad_request("Expecting 'message' to be present");
            };
            slave.http_executor_message(call.framework_id, call.executor_id, message.data);
            Response::status(202)
        }
        _ => Response::bad_request("Expecting 'type' to be present"),
    }
}

/// Upstream's `validation::executor::call::validate`.
fn validate(call: &Call) -> Result<(), String> {
    use mesos_proto::mesos::executor::call::Type;
    let Some(kind) = call.r#type.and_then(|t| Type::try_from(t).ok()) else {
        return Err("Expecting 'type' to be present".into());
    };
    if call.executor_id.value.is_empty() {
        return Err("Expecting 'executor_id' to be present".into());
    }
    if call.framework_id.value.is_empty() {
        return Err("Expecting 'framework_id' to be present".into());
    }
    match kind {
        Type::Subscribe if call.subscribe.is_none() => {
            Err("Expecting 'subscribe' to be present".into())
        }
        Type::Update => {
            let Some(update) = &call.update else {
                return Err("Expecting 'update' to be present".into());
            };
            let status = &update.status;
            if status.source != Some(task_status::Source::Executor as i32) {
                return Err(
                    "Received Call from executor with invalid source, expecting \
                     'SOURCE_EXECUTOR'"
                        .into(),
                );
            }
            let Some(uuid) = &status.uuid else {
                return Err("Expecting 'uuid' to be present".into());
            };
            if uuid::Uuid::from_slice(uuid).is_err() {
                return Err(format!(
                    "Failed to parse 'uuid': expected 16 bytes, got {}",
                    uuid.len()
                ));
            }
            if status.state() == TaskState::TaskStaging {
                return Err("Received TASK_STAGING from executor which is not allowed".into());
            }
            if let Some(executor_id) = &status.executor_id {
                if *executor_id != call.executor_id {
                    return Err(format!(
                        "ExecutorID in Call: {} does not match ExecutorID in TaskStatus: {}",
                        call.executor_id.value, executor_id.value
                    ));
                }
            }
            Ok(())
        }
        Type::Message if call.message.is_none() => Err("Expecting 'message' to be present".into()),
        Type::Unknown => Err("Expecting 'type' to be present".into()),
        _ => Ok(()),
    }
}

fn subscribe(slave: &mut Slave, ctx: &mut Context<Slave>, call: Call, json: bool) -> Response {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let connection = HttpConnection {
        id: uuid::Uuid::new_v4().as_u64_pair().0,
        json,
        tx,
    };
    let connection_id = connection.id;
    let framework_id = call.framework_id.value.clone();
    let executor_id = call.executor_id.value.clone();
    if let Err(response) = slave.subscribe_http_executor(call, connection, ctx) {
        return response;
    }

    // The executor disconnects when its client goes away (or the agent
    // dropped the connection, which the agent then knows).
    let addr = ctx.address();
    let (f, e) = (framework_id.clone(), executor_id.clone());
    let body = bridge(rx, move || {
        addr.do_send(libprocess::Dispatch(Box::new(
            move |slave: &mut Slave, _ctx| slave.http_executor_disconnected(&f, &e, connection_id),
        )));
    });
    schedule_heartbeat(ctx, framework_id, executor_id, connection_id);

    Response {
        status: 200,
        headers: vec![(
            "Content-Type".into(),
            if json { JSON } else { PROTOBUF }.into(),
        )],
        body: Body::Stream(body),
    }
}

/// Adapts the unbounded event channel to the bounded body channel the
/// transport reads; `closed` runs once the stream ends, either way.
fn bridge(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Bytes>,
    closed: impl FnOnce() + 'static,
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
        // Dropping `rx` tells the agent's sender the client is gone.
        drop(rx);
        closed();
    });
    body_rx
}

fn schedule_heartbeat(
    ctx: &mut Context<Slave>,
    framework_id: String,
    executor_id: String,
    connection_id: u64,
) {
    libprocess::delay(HEARTBEAT_INTERVAL, &ctx.address(), move |slave, ctx| {
        let Some(http) = slave.http_connection(&framework_id, &executor_id) else {
            return;
        };
        if http.id != connection_id || http.is_closed() {
            return;
        }
        http.send(&Event {
            r#type: Some(event::Type::Heartbeat as i32),
            ..Default::default()
        });
        schedule_heartbeat(ctx, framework_id, executor_id, connection_id);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(json: &str) -> Call {
        let v1: v1::executor::Call = mesos_proto::json::from_str(json).unwrap();
        Call::decode(v1.encode_to_vec().as_slice()).unwrap()
    }

    #[test]
    fn updates_are_validated_as_upstream() {
        let base = r#""executor_id":{"value":"e"},"framework_id":{"value":"f"},"type":"UPDATE""#;
        let uuid = "AAECAwQFBgcICQoLDA0ODw==";
        let ok = format!(
            r#"{{{base},"update":{{"status":{{"task_id":{{"value":"t"}},"state":"TASK_RUNNING","source":"SOURCE_EXECUTOR","uuid":"{uuid}"}}}}}}"#
        );
        assert_eq!(validate(&call(&ok)), Ok(()));
        let staging = ok.replace("TASK_RUNNING", "TASK_STAGING");
        assert!(validate(&call(&staging))
            .unwrap_err()
            .contains("TASK_STAGING"));
        let source = ok.replace("SOURCE_EXECUTOR", "SOURCE_MASTER");
        assert!(validate(&call(&source))
            .unwrap_err()
            .contains("SOURCE_EXECUTOR"));
        let short = ok.replace(uuid, "AAEC");
        assert!(validate(&call(&short)).unwrap_err().contains("uuid"));
        let subscribe = format!("{{{}}}", base.replace("UPDATE", "SUBSCRIBE"));
        assert!(validate(&call(&subscribe))
            .unwrap_err()
            .contains("subscribe"));
    }

    #[test]
    fn acknowledgements_become_acknowledged_events() {
        let message = ToExecutor::Acknowledgement(StatusUpdateAcknowledgementMessage {
            task_id: mesos_proto::mesos::TaskId { value: "t".into() },
            uuid: vec![7; 16],
            ..Default::default()
        });
        let event = message.event();
        assert_eq!(event.r#type(), event::Type::Acknowledged);
        let v1 = v1::executor::Event::decode(event.encode_to_vec().as_slice()).unwrap();
        let acknowledged = v1.acknowledged.unwrap();
        assert_eq!(acknowledged.task_id.value, "t");
        assert_eq!(acknowledged.uuid, vec![7; 16]);
    }

    #[test]
    fn kills_carry_the_kill_policy() {
        let message = ToExecutor::KillTask(KillTaskMessage {
            task_id: mesos_proto::mesos::TaskId { value: "t".into() },
            kill_policy: Some(mesos_proto::mesos::KillPolicy {
                grace_period: Some(mesos_proto::mesos::DurationInfo { nanoseconds: 5 }),
            }),
            ..Default::default()
        });
        let v1 = v1::executor::Event::decode(message.event().encode_to_vec().as_slice()).unwrap();
        assert_eq!(v1.r#type(), v1::executor::event::Type::Kill);
        let kill = v1.kill.unwrap();
        assert_eq!(kill.task_id.value, "t");
        assert_eq!(
            kill.kill_policy.unwrap().grace_period.unwrap().nanoseconds,
            5
        );
    }
}
