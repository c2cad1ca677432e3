//! The agent's v1 operator API: `POST /api/v1` (also
//! `/slave(1)/api/v1`); upstream `Http::api` and its call handlers in
//! `src/slave/http.cpp`, `docs/operator-http-api.md` (agent section).
//!
//! Calls and responses are `mesos.v1.agent.Call` / `Response`, in JSON or
//! protobuf as `Content-Type` and `Accept` say (JSON when both are
//! acceptable). Served: `GET_HEALTH`, `GET_FLAGS`, `GET_VERSION`,
//! `GET_METRICS`, `GET_LOGGING_LEVEL`, `GET_STATE`, `GET_CONTAINERS`,
//! `GET_FRAMEWORKS`, `GET_EXECUTORS`, `GET_TASKS`, `GET_AGENT`,
//! `LIST_FILES` and `READ_FILE` (through [`crate::files`], as the
//! `/files/*` endpoints), and the always-empty `GET_OPERATIONS` and
//! `GET_RESOURCE_PROVIDERS` (the agent has neither); the nested container
//! calls ([`crate::nested`]), attach and exec ([`crate::attach`]) and
//! `SET_LOGGING_LEVEL`. `UNKNOWN` answers `501` without a body, as
//! upstream; every other call answers `501 Not Implemented` naming it,
//! until it lands (resource provider configs, image pruning, ...).
//!
//! Requests are checked in upstream's order with its texts: `503` while
//! the agent recovers, `405` for a method other than `POST`, `400` without
//! `Content-Type`, `415` for a media type other than JSON, protobuf or
//! RecordIO (and for `Message-Content-Type` where it does not belong),
//! `406` when `Accept` or `Message-Accept` allow nothing usable, `400`
//! for a body that does not parse or a call that fails validation
//! (`Failed to validate agent::Call: ..`).
//!
//! Responses are built with the v0 `mesos.agent` types and re-read as v1
//! (same tags), as upstream's `evolve`. For the calls upstream writes with
//! its own JSON writers (`GET_METRICS`, `GET_STATE`, `GET_FRAMEWORKS`,
//! `GET_EXECUTORS`, `GET_TASKS`) the JSON carries every list, empty ones
//! included, as those writers do.
//!
//! What the agent does not keep (as in `/state`, see
//! [`crate::state_json`]): `completed_frameworks`, `completed_executors`
//! and `completed_tasks` are empty, an exited executor stays among
//! `executors`, `pending_tasks` is empty (tasks go straight to their
//! executor's queue), and terminal tasks whose update is not acknowledged
//! yet are `terminated_tasks`.

use std::sync::Arc;

use actix::Context;
use bytes::Bytes;
use libprocess::http::{Request, Response};
use libprocess::HttpFuture;
use mesos_proto::api::{JSON, PROTOBUF};
use mesos_proto::mesos::agent::{call, response, Call, Response as ApiResponse};
use mesos_proto::mesos::{
    v1, ContainerId, ExecutorId, Flag, FrameworkId, Metric, Task, TaskState, VersionInfo,
};
use mesos_proto::model::id_order;
use prost::Message as _;
use serde_json::{Map, Value};

use crate::containerizer::Containerizer;
use crate::files::{Files, FilesError};
use crate::slave::Slave;

/// `application/recordio`: the streaming calls' HTTP media type.
pub const RECORDIO: &str = "application/recordio";
/// The header naming a streaming request's record type.
const MESSAGE_CONTENT_TYPE: &str = "Message-Content-Type";
/// The header naming the records a streaming response may carry.
const MESSAGE_ACCEPT: &str = "Message-Accept";

fn ready(response: Response) -> HttpFuture {
    Box::pin(async move { response })
}

fn text(status: u16, message: impl Into<String>) -> Response {
    Response::status(status).with_body("text/plain; charset=utf-8", message.into())
}

/// A request or response media type, as upstream's `ContentType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    Json,
    Protobuf,
    RecordIo,
}

impl Media {
    fn parse(header: &str) -> Option<Self> {
        let media = header
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            JSON => Some(Self::Json),
            PROTOBUF => Some(Self::Protobuf),
            RECORDIO => Some(Self::RecordIo),
            _ => None,
        }
    }
}

/// Whether the `Message-Accept` header allows `media` (absent: anything).
fn message_accepts(request: &Request, media: &str) -> bool {
    let Some(header) = request.header(MESSAGE_ACCEPT) else {
        return true;
    };
    let probe = Request {
        headers: vec![("Accept".into(), header.to_string())],
        ..Request::get("/")
    };
    probe.accepts_media_type(media)
}

/// Reads the call from the body: a whole JSON or protobuf message, or the
/// first record of a RecordIO stream in `message` type.
fn parse_body(
    content: Media,
    message: Option<Media>,
    body: &[u8],
) -> Result<v1::agent::Call, String> {
    let (media, bytes): (Media, Bytes) = match content {
        Media::RecordIo => {
            let mut decoder = mesos_proto::recordio::Decoder::default();
            let records = decoder.decode(body).map_err(|e| e.to_string())?;
            let Some(first) = records.into_iter().next() else {
                return Err("Received EOF while reading request body".into());
            };
            (message.unwrap_or(Media::Json), first)
        }
        other => (other, Bytes::copy_from_slice(body)),
    };
    match media {
        Media::Protobuf => v1::agent::Call::decode(bytes.as_ref())
            .map_err(|_| "Failed to parse body into a protobuf object".to_string()),
        _ => {
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(|e| format!("Failed to parse body into JSON: {e}"))?;
            mesos_proto::json::from_value(&value).map_err(|e| e.to_string())
        }
    }
}

/// Upstream `validation::agent::call::validate`, for the calls served.
fn validate(call: &Call) -> Result<(), String> {
    if call.r#type.is_none() {
        return Err("Expecting 'type' to be present".into());
    }
    let missing = match call.r#type() {
        call::Type::GetMetrics if call.get_metrics.is_none() => "get_metrics",
        call::Type::SetLoggingLevel if call.set_logging_level.is_none() => "set_logging_level",
        call::Type::ListFiles if call.list_files.is_none() => "list_files",
        call::Type::ReadFile if call.read_file.is_none() => "read_file",
        call::Type::AttachContainerOutput
        | call::Type::AttachContainerInput
        | call::Type::LaunchNestedContainerSession => return crate::attach::validate(call),
        _ => return crate::nested::validate(call),
    };
    Err(format!("Expecting '{missing}' to be present"))
}

/// Handles `POST /api/v1`.
pub fn handle(slave: &mut Slave, _ctx: &mut Context<Slave>, request: Request) -> HttpFuture {
    if slave.is_recovering() {
        return ready(text(503, "Agent has not finished recovery"));
    }
    if request.method != "POST" {
        return ready(Response::method_not_allowed(&["POST"], &request.method));
    }
    let Some(content_type) = request.header("Content-Type") else {
        return ready(Response::bad_request(
            "Expecting 'Content-Type' to be present",
        ));
    };
    let Some(content) = Media::parse(content_type) else {
        return ready(text(
            415,
            format!("Expecting 'Content-Type' of {JSON} or {PROTOBUF} or {RECORDIO}"),
        ));
    };
    let message_content = match (content, request.header(MESSAGE_CONTENT_TYPE)) {
        (Media::RecordIo, None) => {
            return ready(Response::bad_request(format!(
                "Expecting '{MESSAGE_CONTENT_TYPE}' to be set for streaming requests"
            )))
        }
        (Media::RecordIo, Some(header)) => match Media::parse(header) {
            Some(media @ (Media::Json | Media::Protobuf)) => Some(media),
            _ => {
                return ready(text(
                    415,
                    format!("Expecting '{MESSAGE_CONTENT_TYPE}' of {JSON} or {PROTOBUF}"),
                ))
            }
        },
        (_, Some(_)) => {
            return ready(text(
                415,
                format!(
                    "Expecting '{MESSAGE_CONTENT_TYPE}' to be not set for non-streaming requests"
                ),
            ))
        }
        (_, None) => None,
    };
    let accept = match request.preferred_media_type(&[JSON, PROTOBUF, RECORDIO]) {
        Some(JSON) => Media::Json,
        Some(PROTOBUF) => Media::Protobuf,
        Some(_) => Media::RecordIo,
        None => {
            return ready(text(
                406,
                format!("Expecting 'Accept' to allow {JSON} or {PROTOBUF} or {RECORDIO}"),
            ))
        }
    };
    if accept == Media::RecordIo {
        if !message_accepts(&request, JSON) && !message_accepts(&request, PROTOBUF) {
            return ready(text(
                406,
                format!("Expecting '{MESSAGE_ACCEPT}' to allow {JSON} or {PROTOBUF}"),
            ));
        }
    } else if request.header(MESSAGE_ACCEPT).is_some() {
        return ready(text(
            406,
            format!("Expecting '{MESSAGE_ACCEPT}' to be not set for non-streaming responses"),
        ));
    }

    if content == Media::RecordIo {
        // The only streaming request: its first record is read as it
        // arrives (see `crate::attach`).
        let json = message_content != Some(Media::Protobuf);
        return crate::attach::attach_input(slave, request, json, accept == Media::RecordIo);
    }
    let call = match parse_body(content, message_content, &request.body).and_then(|v1| {
        let call = Call::decode(v1.encode_to_vec().as_slice()).map_err(|e| e.to_string())?;
        validate(&call).map_err(|e| format!("Failed to validate agent::Call: {e}"))?;
        Ok(call)
    }) {
        Ok(call) => call,
        Err(error) => return ready(Response::bad_request(error)),
    };
    let kind = call.r#type();
    let name = kind.as_str_name();
    if kind == call::Type::AttachContainerInput {
        return ready(text(
            415,
            format!("Expecting 'Content-Type' to be {RECORDIO} for {name} call"),
        ));
    }
    if accept == Media::RecordIo
        && !matches!(
            kind,
            call::Type::AttachContainerOutput | call::Type::LaunchNestedContainerSession
        )
    {
        return ready(text(
            406,
            format!("Streaming response is not supported for {name} call"),
        ));
    }
    if matches!(
        kind,
        call::Type::AttachContainerOutput | call::Type::LaunchNestedContainerSession
    ) {
        // A non-streaming `Accept` gets RecordIO-framed records of that
        // type all the same (upstream's answer since Mesos 1.2).
        let recordio = accept == Media::RecordIo;
        let media = crate::attach::StreamMedia {
            json: if recordio {
                message_accepts(&request, JSON)
            } else {
                accept == Media::Json
            },
            recordio,
        };
        tracing::info!(call = name, "Processing agent API call");
        return if kind == call::Type::AttachContainerOutput {
            let follow = request
                .header(crate::attach::FOLLOW_SANDBOX)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            crate::attach::attach_output(slave, call, media, follow)
        } else {
            crate::attach::launch_session(slave, call, media)
        };
    }
    tracing::info!(call = name, "Processing agent API call");
    dispatch(slave, call, accept == Media::Json)
}

/// Answers a validated call.
fn dispatch(slave: &mut Slave, call: Call, json: bool) -> HttpFuture {
    if let Some(served) = crate::nested::dispatch(slave, &call, respond, json) {
        return served;
    }
    let kind = call.r#type();
    let mut response = ApiResponse::default();
    match kind {
        call::Type::Unknown => return ready(Response::status(501)),
        call::Type::GetHealth => {
            response.set_type(response::Type::GetHealth);
            response.get_health = Some(response::GetHealth { healthy: true });
        }
        call::Type::GetFlags => {
            response.set_type(response::Type::GetFlags);
            let flags = slave
                .flags()
                .map(|flags| flags.to_map())
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| Flag {
                    name: name.to_string(),
                    value: Some(value),
                })
                .collect();
            response.get_flags = Some(response::GetFlags { flags });
        }
        call::Type::GetVersion => {
            response.set_type(response::Type::GetVersion);
            response.get_version = Some(response::GetVersion {
                version_info: VersionInfo {
                    version: crate::VERSION.into(),
                    ..Default::default()
                },
            });
        }
        call::Type::GetMetrics => {
            // The snapshot is taken at once, so `timeout` never cuts it
            // short.
            response.set_type(response::Type::GetMetrics);
            let metrics = libprocess::Process::base(slave)
                .runtime()
                .map(|rt| rt.metrics().snapshot())
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| Metric {
                    name,
                    value: Some(value),
                })
                .collect();
            response.get_metrics = Some(response::GetMetrics { metrics });
        }
        call::Type::GetLoggingLevel => {
            // Upstream answers glog's `FLAGS_v` (see `libprocess::logging`).
            response.set_type(response::Type::GetLoggingLevel);
            response.get_logging_level = Some(response::GetLoggingLevel {
                level: libprocess::logging::level(),
            });
        }
        call::Type::SetLoggingLevel => {
            let set = call.set_logging_level.unwrap_or_default();
            let nanos = u64::try_from(set.duration.nanoseconds).unwrap_or(0);
            libprocess::logging::set_level(set.level, std::time::Duration::from_nanos(nanos));
            return ready(Response::status(200));
        }
        call::Type::GetState => {
            response.set_type(response::Type::GetState);
            response.get_state = Some(response::GetState {
                get_tasks: Some(get_tasks(slave)),
                get_executors: Some(get_executors(slave)),
                get_frameworks: Some(get_frameworks(slave)),
            });
        }
        call::Type::GetFrameworks => {
            response.set_type(response::Type::GetFrameworks);
            response.get_frameworks = Some(get_frameworks(slave));
        }
        call::Type::GetExecutors => {
            response.set_type(response::Type::GetExecutors);
            response.get_executors = Some(get_executors(slave));
        }
        call::Type::GetTasks => {
            response.set_type(response::Type::GetTasks);
            response.get_tasks = Some(get_tasks(slave));
        }
        call::Type::GetAgent => {
            response.set_type(response::Type::GetAgent);
            response.get_agent = Some(response::GetAgent {
                slave_info: Some(slave.info.clone()),
                ..Default::default()
            });
        }
        call::Type::GetOperations => {
            response.set_type(response::Type::GetOperations);
            response.get_operations = Some(response::GetOperations::default());
        }
        call::Type::GetResourceProviders => {
            response.set_type(response::Type::GetResourceProviders);
            response.get_resource_providers = Some(response::GetResourceProviders::default());
        }
        call::Type::GetContainers => {
            let running = slave.running_containers();
            let containerizer = slave.containerizer_handle();
            let show_nested = call
                .get_containers
                .as_ref()
                .and_then(|g| g.show_nested)
                .unwrap_or(false);
            return Box::pin(async move {
                let mut response = ApiResponse::default();
                response.set_type(response::Type::GetContainers);
                response.get_containers =
                    Some(get_containers(running, containerizer, show_nested).await);
                respond(&response, json)
            });
        }
        call::Type::ListFiles => {
            let Some(files) = slave.files().cloned() else {
                return ready(FilesError::Gone.response());
            };
            let path = call.list_files.map(|l| l.path).unwrap_or_default();
            return Box::pin(async move { list_files(&files, &path, json).await });
        }
        call::Type::ReadFile => {
            let Some(files) = slave.files().cloned() else {
                return ready(FilesError::Gone.response());
            };
            let read = call.read_file.unwrap_or_default();
            return Box::pin(async move { read_file(&files, read, json).await });
        }
        other => {
            return ready(text(
                501,
                format!(
                    "Call {} is not supported by this agent yet",
                    other.as_str_name()
                ),
            ))
        }
    }
    ready(respond(&response, json))
}

async fn list_files(files: &Files, path: &str, json: bool) -> Response {
    tracing::info!(path, "Processing LIST_FILES call");
    match files.browse(path).await {
        Ok(file_infos) => {
            let mut response = ApiResponse::default();
            response.set_type(response::Type::ListFiles);
            response.list_files = Some(response::ListFiles { file_infos });
            respond(&response, json)
        }
        Err(error) => error.response(),
    }
}

async fn read_file(files: &Files, read: call::ReadFile, json: bool) -> Response {
    tracing::info!(path = %read.path, "Processing READ_FILE call");
    match files.read(read.offset, read.length, &read.path).await {
        Ok((size, data)) => {
            let mut response = ApiResponse::default();
            response.set_type(response::Type::ReadFile);
            response.read_file = Some(response::ReadFile { size, data });
            respond(&response, json)
        }
        Err(error) => error.response(),
    }
}

/// Serialises `response` as the client asked.
fn respond(response: &ApiResponse, json: bool) -> Response {
    let bytes = response.encode_to_vec();
    if !json {
        return Response::status(200).with_body(PROTOBUF, bytes);
    }
    match v1::agent::Response::decode(bytes.as_slice()) {
        Ok(v1) => {
            let mut value = mesos_proto::json::to_value(&v1);
            with_written_lists(&mut value);
            Response::status(200).with_body(JSON, mesos_proto::json::render(&value))
        }
        Err(error) => Response::internal_error(format!("Failed to convert the response: {error}")),
    }
}

/// Lists upstream's hand-written JSON writers always write, in field
/// order, by the message they belong to.
const GET_TASKS_LISTS: &[&str] = &[
    "pending_tasks",
    "queued_tasks",
    "launched_tasks",
    "terminated_tasks",
    "completed_tasks",
];
const GET_EXECUTORS_LISTS: &[&str] = &["executors", "completed_executors"];
const GET_FRAMEWORKS_LISTS: &[&str] = &["frameworks", "completed_frameworks"];
const GET_METRICS_LISTS: &[&str] = &["metrics"];

/// Puts the empty lists back that the generic protobuf JSON leaves out,
/// where upstream's writers emit them.
fn with_written_lists(response: &mut Value) {
    let Some(object) = response.as_object_mut() else {
        return;
    };
    let targets: [(&str, &[&str]); 4] = [
        ("get_tasks", GET_TASKS_LISTS),
        ("get_executors", GET_EXECUTORS_LISTS),
        ("get_frameworks", GET_FRAMEWORKS_LISTS),
        ("get_metrics", GET_METRICS_LISTS),
    ];
    for (field, lists) in targets {
        if let Some(inner) = object.get_mut(field) {
            fill(inner, lists);
        }
    }
    if let Some(state) = object.get_mut("get_state").and_then(Value::as_object_mut) {
        let mut ordered = Map::new();
        for (field, lists) in &targets[..3] {
            let mut inner = state
                .remove(*field)
                .unwrap_or_else(|| Value::Object(Map::new()));
            fill(&mut inner, lists);
            ordered.insert((*field).to_string(), inner);
        }
        *state = ordered;
    }
}

/// Rebuilds `object` with `lists` first, in order, empty when absent.
fn fill(object: &mut Value, lists: &[&str]) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let mut ordered = Map::new();
    for list in lists {
        let value = map.remove(*list).unwrap_or_else(|| Value::Array(vec![]));
        ordered.insert((*list).to_string(), value);
    }
    ordered.append(map);
    *map = ordered;
}

fn sorted_frameworks(slave: &Slave) -> Vec<&crate::slave::Framework> {
    let mut frameworks: Vec<_> = slave.frameworks().iter().collect();
    frameworks.sort_by(|a, b| id_order(a.0, b.0));
    frameworks.into_iter().map(|(_, f)| f).collect()
}

fn sorted_executors(framework: &crate::slave::Framework) -> Vec<&crate::slave::Executor> {
    let mut executors: Vec<_> = framework.executors.values().collect();
    executors.sort_by(|a, b| id_order(&a.info.executor_id.value, &b.info.executor_id.value));
    executors
}

fn get_frameworks(slave: &Slave) -> response::GetFrameworks {
    response::GetFrameworks {
        frameworks: sorted_frameworks(slave)
            .into_iter()
            .map(|f| response::get_frameworks::Framework {
                framework_info: f.info.clone(),
            })
            .collect(),
        completed_frameworks: slave
            .completed_frameworks()
            .iter()
            .map(|f| response::get_frameworks::Framework {
                framework_info: f.info.clone(),
            })
            .collect(),
    }
}

fn get_executors(slave: &Slave) -> response::GetExecutors {
    let executors = sorted_frameworks(slave)
        .into_iter()
        .flat_map(sorted_executors)
        .map(|e| response::get_executors::Executor {
            executor_info: e.info.clone(),
        })
        .collect();
    let completed_executors = sorted_frameworks(slave)
        .into_iter()
        .chain(slave.completed_frameworks())
        .flat_map(|f| &f.completed_executors)
        .map(|e| response::get_executors::Executor {
            executor_info: e.info.clone(),
        })
        .collect();
    response::GetExecutors {
        executors,
        completed_executors,
    }
}

fn get_tasks(slave: &Slave) -> response::GetTasks {
    let mut tasks = response::GetTasks::default();
    for framework in sorted_frameworks(slave) {
        for executor in sorted_executors(framework) {
            for queued in &executor.queued {
                tasks.queued_tasks.push(slave.task_from_info(
                    &framework.info,
                    queued,
                    &executor.info,
                    TaskState::TaskStaging,
                ));
            }
            tasks
                .completed_tasks
                .extend(executor.completed_tasks.iter().cloned());
            let mut known: Vec<&Task> = executor.tasks.values().collect();
            known.sort_by(|a, b| id_order(&a.task_id.value, &b.task_id.value));
            for task in known {
                let terminal = TaskState::try_from(task.state).is_ok_and(TaskState::is_terminal);
                if terminal {
                    tasks.terminated_tasks.push(task.clone());
                } else {
                    tasks.launched_tasks.push(task.clone());
                }
            }
        }
        for executor in &framework.completed_executors {
            tasks
                .completed_tasks
                .extend(executor.completed_tasks.iter().cloned());
        }
    }
    for framework in slave.completed_frameworks() {
        for executor in &framework.completed_executors {
            tasks
                .completed_tasks
                .extend(executor.completed_tasks.iter().cloned());
        }
    }
    tasks
}

/// Upstream `Http::__containers` for the executors' containers: an entry
/// per running executor, with its status and usage when they could be
/// read; with `show_nested`, then an entry per container nested in one of
/// them, with (as upstream) only its own id's value, its status (whose
/// `container_id` has the parents) and its usage (its own cgroups' when
/// it does not share its parent's).
async fn get_containers(
    running: Vec<crate::monitor::Running>,
    containerizer: Option<Arc<dyn Containerizer>>,
    show_nested: bool,
) -> response::GetContainers {
    let mut containers = Vec::with_capacity(running.len());
    let Some(containerizer) = containerizer else {
        return response::GetContainers { containers };
    };
    let roots: std::collections::HashSet<String> =
        running.iter().map(|e| e.container_id.clone()).collect();
    for executor in running {
        let info = &executor.info;
        let container_status = containerizer
            .status(executor.container_id.clone())
            .await
            .ok();
        let resource_statistics = containerizer
            .usage(executor.container_id.clone())
            .await
            .ok();
        containers.push(response::get_containers::Container {
            framework_id: Some(info.framework_id.clone().unwrap_or(FrameworkId {
                value: String::new(),
            })),
            executor_id: Some(ExecutorId {
                value: info.executor_id.value.clone(),
            }),
            executor_name: Some(info.name.clone().unwrap_or_default()),
            container_id: ContainerId {
                value: executor.container_id.clone(),
                ..Default::default()
            },
            container_status,
            resource_statistics,
        });
    }
    if show_nested {
        let mut nested: Vec<String> = containerizer
            .containers()
            .await
            .into_iter()
            .filter(|id| {
                id.split_once('.')
                    .is_some_and(|(root, _)| roots.contains(root))
            })
            .collect();
        nested.sort();
        for id in nested {
            let container_status = containerizer.status(id.clone()).await.ok();
            let resource_statistics = containerizer.usage(id.clone()).await.ok();
            let value = id.rsplit_once('.').map(|(_, v)| v).unwrap_or(&id);
            containers.push(response::get_containers::Container {
                framework_id: None,
                executor_id: None,
                executor_name: None,
                container_id: ContainerId {
                    value: value.to_string(),
                    ..Default::default()
                },
                container_status,
                resource_statistics,
            });
        }
    }
    response::GetContainers { containers }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_lists_are_filled_in_field_order() {
        let mut value = serde_json::json!({
            "type": "GET_STATE",
            "get_state": {
                "get_frameworks": {"frameworks": [{"framework_info": {}}]},
                "get_tasks": {"launched_tasks": [1]},
            }
        });
        with_written_lists(&mut value);
        assert_eq!(
            mesos_proto::json::render(&value),
            concat!(
                r#"{"type":"GET_STATE","get_state":{"get_tasks":{"pending_tasks":[],"#,
                r#""queued_tasks":[],"launched_tasks":[1],"terminated_tasks":[],"#,
                r#""completed_tasks":[]},"get_executors":{"executors":[],"#,
                r#""completed_executors":[]},"get_frameworks":{"frameworks":"#,
                r#"[{"framework_info":{}}],"completed_frameworks":[]}}}"#
            )
        );
    }

    #[test]
    fn calls_without_their_payload_fail_validation() {
        let mut call = Call::default();
        assert_eq!(
            validate(&call),
            Err("Expecting 'type' to be present".into())
        );
        call.set_type(call::Type::ReadFile);
        assert_eq!(
            validate(&call),
            Err("Expecting 'read_file' to be present".into())
        );
        call.set_type(call::Type::GetHealth);
        assert_eq!(validate(&call), Ok(()));
    }
}
