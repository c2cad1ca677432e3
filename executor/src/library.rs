//! Pieces of the v1 executor library shared by the HTTP executors: the
//! headers of a call, the in-order sender of calls and the SUBSCRIBE event
//! stream.
//!
//! Upstream counterpart: `src/executor/executor.cpp` (`MesosProcess::send`,
//! `_send`, `read`). [`crate::v1`] (the public executor library) and
//! [`crate::default_executor`] drive these from their own state machines.

use mesos_proto::api::{JSON, PROTOBUF};
use mesos_proto::mesos::v1::executor::{call, event, Call, Event};
use prost::Message as _;
use tokio::sync::mpsc;

use crate::http::{self, Connection, Url};

/// The longest body of a refused SUBSCRIBE that is kept.
const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// What the SUBSCRIBE stream reports.
#[derive(Debug)]
pub(crate) enum Report {
    /// The connection failed or the stream ended.
    Disconnected(String),
    /// The agent answered SUBSCRIBE with something other than 200.
    Refused(http::Response),
    /// The agent answered 200: events follow.
    Started,
    /// One event (an `ERROR` event if it could not be decoded).
    Event(Box<Event>),
}

/// Returns the headers of every call: protobuf both ways, and the
/// executor's token (`Bearer <MESOS_EXECUTOR_AUTHENTICATION_TOKEN>`).
pub(crate) fn headers(authorization: Option<&str>) -> Vec<(String, String)> {
    let mut headers = vec![
        ("Content-Type".to_string(), PROTOBUF.to_string()),
        ("Accept".to_string(), PROTOBUF.to_string()),
    ];
    if let Some(authorization) = authorization {
        headers.push(("Authorization".into(), authorization.to_string()));
    }
    headers
}

/// Sends non-subscribe calls one after the other, so updates arrive in
/// the order they were made, starting on `connection` if given; each
/// call's response (or failure) goes to `outcome`.
pub(crate) async fn send_calls(
    url: Url,
    headers: Vec<(String, String)>,
    mut connection: Option<Connection>,
    mut calls: mpsc::UnboundedReceiver<Call>,
    outcome: impl Fn(call::Type, std::io::Result<http::Response>),
) {
    while let Some(call) = calls.recv().await {
        let request = http::Request {
            url: url.clone(),
            headers: headers.clone(),
            body: call.encode_to_vec(),
        };
        // Reuse the connection while the agent keeps it open; a stale one
        // is replaced once.
        let mut result = Err(std::io::Error::other("not sent"));
        for _ in 0..2 {
            let mut current = match connection.take() {
                Some(current) => current,
                None => match Connection::connect(&request.url).await {
                    Ok(fresh) => fresh,
                    Err(error) => {
                        result = Err(error);
                        break;
                    }
                },
            };
            result = current.send(&request).await;
            if result.is_ok() {
                connection = Some(current);
                break;
            }
        }
        outcome(call.r#type(), result);
    }
}

/// Logs the response to a non-subscribe call: `202 Accepted` is expected,
/// `503` and `404` (an agent still recovering) are warned about.
pub(crate) fn log_outcome(kind: call::Type, result: std::io::Result<http::Response>) {
    let kind = kind.as_str_name();
    match result {
        Ok(response) if response.head.code == 202 => {}
        Ok(response) if response.head.code == 503 || response.head.code == 404 => {
            tracing::warn!(call = kind, status = %response.head.status,
                body = response.body_text(), "Call refused");
        }
        Ok(response) => tracing::error!(
            call = kind,
            status = %response.head.status,
            body = response.body_text(),
            "Received unexpected response"
        ),
        Err(error) => tracing::error!(call = kind, %error, "Request failed"),
    }
}

/// Sends SUBSCRIBE (on `stream` if given, else a new connection) and reads
/// the event stream, reporting each step to `report`.
pub(crate) async fn subscribe(
    url: Url,
    headers: Vec<(String, String)>,
    stream: Option<Connection>,
    call: Call,
    report: impl Fn(Report),
) {
    let disconnected = |reason: String| report(Report::Disconnected(reason));
    let mut connection = match stream {
        Some(connection) => connection,
        None => match Connection::connect(&url).await {
            Ok(connection) => connection,
            Err(error) => return disconnected(format!("subscribe connection failed: {error}")),
        },
    };
    let request = http::Request {
        url,
        headers,
        body: call.encode_to_vec(),
    };
    let (head, mut body) = match connection.send_streaming(&request).await {
        Ok(response) => response,
        Err(error) => return disconnected(format!("subscribe connection interrupted: {error}")),
    };
    if head.code != 200 {
        let mut all = Vec::new();
        while let Ok(Some(data)) = body.next().await {
            all.extend_from_slice(&data);
            if all.len() > MAX_REFUSAL_BODY {
                break;
            }
        }
        return report(Report::Refused(http::Response {
            head,
            body: all.into(),
        }));
    }
    let json = head
        .header("Content-Type")
        .is_some_and(|c| c.to_ascii_lowercase().starts_with(JSON));
    report(Report::Started);
    let mut decoder = mesos_proto::recordio::Decoder::default();
    loop {
        let data = match body.next().await {
            Ok(Some(data)) => data,
            Ok(None) => {
                return disconnected(
                    "End-Of-File received from agent. The agent closed the event stream".into(),
                )
            }
            Err(error) => {
                return disconnected(format!("subscribe connection interrupted: {error}"))
            }
        };
        let records = match decoder.decode(&data) {
            Ok(records) => records,
            Err(error) => {
                return disconnected(format!("Failed to decode the stream of events: {error}"))
            }
        };
        for record in records {
            let event = if json {
                std::str::from_utf8(&record)
                    .map_err(|e| e.to_string())
                    .and_then(|text| {
                        mesos_proto::json::from_str::<Event>(text).map_err(|e| e.to_string())
                    })
            } else {
                Event::decode(record.as_ref()).map_err(|e| e.to_string())
            };
            let event = event.unwrap_or_else(|error| {
                let mut event = Event::default();
                event.set_type(event::Type::Error);
                event.error = Some(event::Error {
                    message: format!("Failed to de-serialize event: {error}"),
                });
                event
            });
            report(Report::Event(Box::new(event)));
        }
    }
}
