//! The v1 operator API of the master: `POST /api/v1` (upstream
//! `Master::Http::api` in `src/master/http.cpp`,
//! `docs/operator-http-api.md`).
//!
//! Requests and responses are `mesos.v1.master.Call` / `Response` in JSON
//! or protobuf, negotiated as for the scheduler API. Served so far:
//! `GET_HEALTH`, `GET_FLAGS`, `GET_VERSION`, `GET_METRICS`, `GET_MASTER`,
//! `GET_AGENTS`, `GET_FRAMEWORKS`, `GET_EXECUTORS` (custom and task-group
//! executors; command executors live only on agents, as upstream),
//! `GET_TASKS`, `GET_STATE`, `GET_ROLES`, `GET_WEIGHTS` and
//! `UPDATE_WEIGHTS` ([`crate::weights`]), `RESERVE_RESOURCES`,
//! `UNRESERVE_RESOURCES`, `CREATE_VOLUMES` and `DESTROY_VOLUMES`
//! ([`crate::operations`]), `SUBSCRIBE` (the event stream,
//! see [`crate::subscribers`]), `TEARDOWN`, `MARK_AGENT_GONE`, and the
//! quota calls `GET_QUOTA`, `UPDATE_QUOTA`, `SET_QUOTA`, `REMOVE_QUOTA`
//! ([`crate::quota`]), the maintenance calls `GET_MAINTENANCE_STATUS`,
//! `GET_MAINTENANCE_SCHEDULE`, `UPDATE_MAINTENANCE_SCHEDULE`,
//! `START_MAINTENANCE`, `STOP_MAINTENANCE` ([`crate::maintenance`]),
//! `DRAIN_AGENT`, `DEACTIVATE_AGENT`, `REACTIVATE_AGENT`
//! ([`crate::draining`]), and `GET_OPERATIONS`.
//! Every other call answers `501 Not Implemented` naming it, until it
//! lands.
//!
//! Responses are built with the v0 `mesos.master` types the master works
//! with and converted to v1 by re-decoding (same tags), as upstream's
//! `evolve` does, then rendered to JSON by reflection
//! ([`mesos_proto::json`]). Not the large read-only ones (`GET_STATE`,
//! `GET_TASKS`, `GET_AGENTS`, `GET_FRAMEWORKS`, `GET_EXECUTORS`) nor the
//! stream's `SUBSCRIBED` event: at 40,000 agents that path held the whole
//! state several times over (a `Response` with a copy of every task, its
//! encoding, a `DynamicMessage`, a `serde_json::Value`) and ran the master
//! out of memory. They are written straight from the master's state, one
//! task, agent, framework or executor at a time (`documents`), in JSON and
//! in protobuf, with the same bytes as that path
//! ([`large_response_both_ways`] and [`subscribed_both_ways`] give both,
//! for the tests).

use actix::{ActorFutureExt as _, AsyncContext as _, Context, WrapFuture as _};
use libprocess::http::{Request, Response};
use libprocess::HttpFuture;
use mesos_proto::api::{decode_call, BodyError, JSON, PROTOBUF};
use mesos_proto::mesos::master::{call, response, Call, Response as ApiResponse};
use mesos_proto::mesos::{v1, Flag, Metric, TimeInfo, VersionInfo};
use prost::Message as _;

use crate::master::Master;
use crate::registrar::Operation;

mod documents;

/// Seconds since the epoch as a `TimeInfo`.
pub(crate) fn time(secs: f64) -> TimeInfo {
    TimeInfo {
        nanoseconds: (secs * 1e9) as i64,
    }
}

/// Serialises `response` as the client asked.
fn respond(response: &ApiResponse, json: bool) -> Response {
    let bytes = response.encode_to_vec();
    if !json {
        return Response::status(200).with_body(PROTOBUF, bytes);
    }
    match v1::master::Response::decode(bytes.as_slice()) {
        Ok(v1) => Response::status(200).with_body(JSON, mesos_proto::json::to_string(&v1)),
        Err(error) => Response::internal_error(format!("Failed to convert the response: {error}")),
    }
}

/// A large read-only response (`GET_STATE` and the lists it holds),
/// written straight from the master's state by [`documents`], on the
/// master as `/master/state` is (there is no copy of the state to hand to
/// another thread).
fn respond_large(master: &Master, document: documents::Document, json: bool) -> HttpFuture {
    let response = if json {
        let mut out = String::with_capacity(document.last_len());
        documents::write_response(master, document, &mut out);
        document.set_last_len(out.len());
        Response::status(200).with_body(JSON, out)
    } else {
        Response::status(200).with_body(PROTOBUF, documents::encode_response(master, document))
    };
    ready(response)
}

/// The build's `VersionInfo`, as `/version` shows it (upstream
/// `MesosVersionInfo`).
fn version_info() -> VersionInfo {
    use crate::state_json::build;
    VersionInfo {
        version: crate::VERSION.into(),
        build_date: Some(build::DATE.into()),
        build_time: Some(build::time()),
        build_user: Some(build::USER.into()),
        git_sha: build::git_sha().map(str::to_string),
        git_branch: build::git_branch().map(str::to_string),
        git_tag: build::git_tag().map(str::to_string),
    }
}

fn ready(response: Response) -> HttpFuture {
    Box::pin(async move { response })
}

/// The v0 call of a v1 one: re-decoded (v0 and v1 share their tags), but
/// for `DrainAgent.max_grace_period`, a `google.protobuf.Duration` in v1
/// and a `DurationInfo` in v0, converted as upstream's `devolve` does.
fn devolve(v1: &v1::master::Call) -> Result<Call, String> {
    let mut call = Call::decode(v1.encode_to_vec().as_slice()).map_err(|e| e.to_string())?;
    let grace = v1
        .drain_agent
        .as_ref()
        .and_then(|drain| drain.max_grace_period);
    if let (Some(drain), Some(grace)) = (call.drain_agent.as_mut(), grace) {
        drain.max_grace_period = Some(mesos_proto::mesos::DurationInfo {
            nanoseconds: grace
                .seconds
                .saturating_mul(1_000_000_000)
                .saturating_add(i64::from(grace.nanos)),
        });
    }
    Ok(call)
}

/// Handles `POST /api/v1`.
pub fn handle(master: &mut Master, ctx: &mut Context<Master>, request: Request) -> HttpFuture {
    if request.method != "POST" {
        return ready(Response::method_not_allowed(&["POST"], &request.method));
    }
    if !master.recovered() {
        return ready(
            Response::status(503).with_body("text/plain", "Master has not finished recovery"),
        );
    }
    let parsed: Result<v1::master::Call, String> =
        match decode_call(request.header("Content-Type"), &request.body) {
            Ok(call) => Ok(call),
            Err(BodyError::Malformed(error)) => Err(error),
            Err(BodyError::UnsupportedMediaType) => {
                return ready(Response::status(415).with_body(
                    "text/plain",
                    format!("Expecting 'Content-Type' of {JSON} or {PROTOBUF}"),
                ))
            }
        };
    let call = match parsed.and_then(|v1| devolve(&v1)) {
        Ok(call) => call,
        Err(error) => {
            return ready(Response::bad_request(format!(
                "Failed to parse body into Call protobuf: {error}"
            )))
        }
    };
    let Some(json) = crate::scheduler_http::negotiate(&request) else {
        return ready(Response::status(406).with_body(
            "text/plain",
            format!("Expecting 'Accept' to allow '{JSON}' or '{PROTOBUF}'"),
        ));
    };
    let kind = call.r#type();
    let typed = |t: response::Type| Some(t as i32);
    match kind {
        call::Type::GetHealth => ready(respond(
            &ApiResponse {
                r#type: typed(response::Type::GetHealth),
                get_health: Some(response::GetHealth { healthy: true }),
                ..Default::default()
            },
            json,
        )),
        call::Type::GetFlags => ready(respond(
            &ApiResponse {
                r#type: typed(response::Type::GetFlags),
                get_flags: Some(response::GetFlags {
                    flags: master
                        .flags
                        .to_map()
                        .into_iter()
                        .map(|(name, value)| Flag {
                            name: name.to_string(),
                            value: Some(value),
                        })
                        .collect(),
                }),
                ..Default::default()
            },
            json,
        )),
        call::Type::GetVersion => ready(respond(
            &ApiResponse {
                r#type: typed(response::Type::GetVersion),
                get_version: Some(response::GetVersion {
                    version_info: version_info(),
                }),
                ..Default::default()
            },
            json,
        )),
        call::Type::GetMetrics => {
            let metrics = libprocess::Process::base(master)
                .runtime()
                .map(|rt| rt.metrics().snapshot())
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| Metric {
                    name,
                    value: Some(value),
                })
                .collect();
            ready(respond(
                &ApiResponse {
                    r#type: typed(response::Type::GetMetrics),
                    get_metrics: Some(response::GetMetrics { metrics }),
                    ..Default::default()
                },
                json,
            ))
        }
        call::Type::GetLoggingLevel => ready(respond(
            &ApiResponse {
                r#type: typed(response::Type::GetLoggingLevel),
                get_logging_level: Some(response::GetLoggingLevel {
                    level: libprocess::logging::level(),
                }),
                ..Default::default()
            },
            json,
        )),
        call::Type::SetLoggingLevel => {
            let Some(set) = call.set_logging_level else {
                return ready(Response::bad_request(
                    "Expecting 'set_logging_level' to be present",
                ));
            };
            let nanos = u64::try_from(set.duration.nanoseconds).unwrap_or(0);
            libprocess::logging::set_level(set.level, std::time::Duration::from_nanos(nanos));
            ready(Response::status(200))
        }
        call::Type::GetMaster => ready(respond(
            &ApiResponse {
                r#type: typed(response::Type::GetMaster),
                get_master: Some(response::GetMaster {
                    master_info: Some(master.info.clone()),
                    start_time: Some(master.start_time),
                    elected_time: master.elected_time,
                }),
                ..Default::default()
            },
            json,
        )),
        call::Type::GetAgents => respond_large(master, documents::Document::Agents, json),
        call::Type::GetFrameworks => respond_large(master, documents::Document::Frameworks, json),
        call::Type::GetTasks => respond_large(master, documents::Document::Tasks, json),
        call::Type::GetWeights => ready(respond(
            &ApiResponse {
                r#type: typed(response::Type::GetWeights),
                get_weights: Some(response::GetWeights {
                    weight_infos: crate::weights::infos(&master.weights),
                }),
                ..Default::default()
            },
            json,
        )),
        call::Type::UpdateWeights => {
            let Some(update) = call.update_weights else {
                return ready(Response::bad_request(
                    "Expecting 'update_weights' to be present",
                ));
            };
            match crate::weights::validate(master, update.weight_infos) {
                Ok(infos) => crate::weights::update(master, ctx, infos),
                Err(error) => ready(Response::bad_request(error)),
            }
        }
        call::Type::GetRoles => ready(respond(
            &ApiResponse {
                r#type: typed(response::Type::GetRoles),
                get_roles: Some(response::GetRoles {
                    roles: crate::state_json::role_views(master)
                        .into_iter()
                        .map(|role| mesos_proto::mesos::Role {
                            resources: role.resources(),
                            name: role.name,
                            weight: role.weight,
                            frameworks: role
                                .frameworks
                                .into_iter()
                                .map(|value| mesos_proto::mesos::FrameworkId { value })
                                .collect(),
                        })
                        .collect(),
                }),
                ..Default::default()
            },
            json,
        )),
        // Quota and maintenance come from their modules; offer operations
        // with feedback do not exist here, so `GET_OPERATIONS` is empty.
        call::Type::GetQuota => ready(respond(
            &ApiResponse {
                r#type: typed(response::Type::GetQuota),
                get_quota: Some(response::GetQuota {
                    status: crate::quota::status(master),
                }),
                ..Default::default()
            },
            json,
        )),
        call::Type::UpdateMaintenanceSchedule => {
            let Some(update) = call.update_maintenance_schedule else {
                return ready(Response::bad_request(
                    "Expecting 'update_maintenance_schedule' to be present",
                ));
            };
            crate::maintenance::update_schedule(master, ctx, update.schedule)
        }
        call::Type::StartMaintenance => {
            let Some(start) = call.start_maintenance else {
                return ready(Response::bad_request(
                    "Expecting 'start_maintenance' to be present",
                ));
            };
            crate::maintenance::start(master, ctx, start.machines)
        }
        call::Type::StopMaintenance => {
            let Some(stop) = call.stop_maintenance else {
                return ready(Response::bad_request(
                    "Expecting 'stop_maintenance' to be present",
                ));
            };
            crate::maintenance::stop(master, ctx, stop.machines)
        }
        call::Type::UpdateQuota => {
            let Some(update) = call.update_quota else {
                return ready(Response::bad_request(
                    "Expecting 'update_quota' to be present",
                ));
            };
            crate::quota::update_configs(
                master,
                ctx,
                update.quota_configs,
                update.force.unwrap_or(false),
            )
        }
        // The pre-1.9 quota calls, deprecated upstream but still served.
        #[allow(deprecated)]
        call::Type::SetQuota => {
            let Some(set) = call.set_quota else {
                return ready(Response::bad_request("Expecting 'set_quota' to be present"));
            };
            crate::quota::set(master, ctx, set.quota_request)
        }
        #[allow(deprecated)]
        call::Type::RemoveQuota => {
            let Some(remove) = call.remove_quota else {
                return ready(Response::bad_request(
                    "Expecting 'remove_quota' to be present",
                ));
            };
            crate::quota::remove(master, ctx, &remove.role)
        }
        call::Type::GetMaintenanceStatus => ready(respond(
            &ApiResponse {
                r#type: typed(response::Type::GetMaintenanceStatus),
                get_maintenance_status: Some(response::GetMaintenanceStatus {
                    status: master.maintenance_status(),
                }),
                ..Default::default()
            },
            json,
        )),
        call::Type::GetMaintenanceSchedule => ready(respond(
            &ApiResponse {
                r#type: typed(response::Type::GetMaintenanceSchedule),
                get_maintenance_schedule: Some(response::GetMaintenanceSchedule {
                    schedule: master.maintenance.schedule.clone(),
                }),
                ..Default::default()
            },
            json,
        )),
        call::Type::GetOperations => ready(respond(
            &ApiResponse {
                r#type: typed(response::Type::GetOperations),
                get_operations: Some(response::GetOperations {
                    operations: master.all_operations(),
                }),
                ..Default::default()
            },
            json,
        )),
        call::Type::GetExecutors => respond_large(master, documents::Document::Executors, json),
        call::Type::GetState => respond_large(master, documents::Document::State, json),
        call::Type::Subscribe => ready(master.subscribe_operator(ctx, json)),
        call::Type::Teardown => {
            let Some(teardown) = call.teardown else {
                return ready(Response::bad_request("Expecting 'teardown' to be present"));
            };
            let id = teardown.framework_id.value;
            if !master.frameworks.registered.contains_key(&id) {
                return ready(Response::bad_request(format!(
                    "No framework found with ID {id}"
                )));
            }
            master.remove_framework(&id, ctx);
            ready(Response::status(200))
        }
        call::Type::MarkAgentGone => {
            let Some(gone) = call.mark_agent_gone else {
                return ready(Response::bad_request(
                    "Expecting 'mark_agent_gone' to be present",
                ));
            };
            mark_agent_gone(master, ctx, gone.slave_id.value)
        }
        call::Type::ReserveResources => {
            let Some(c) = call.reserve_resources else {
                return ready(Response::bad_request(
                    "Expecting 'reserve_resources' to be present",
                ));
            };
            ready(crate::operations::call(
                master,
                ctx,
                c.slave_id,
                crate::operations::Endpoint::Reserve,
                c.resources,
                c.source,
            ))
        }
        call::Type::UnreserveResources => {
            let Some(c) = call.unreserve_resources else {
                return ready(Response::bad_request(
                    "Expecting 'unreserve_resources' to be present",
                ));
            };
            ready(crate::operations::call(
                master,
                ctx,
                c.slave_id,
                crate::operations::Endpoint::Unreserve,
                c.resources,
                vec![],
            ))
        }
        call::Type::CreateVolumes => {
            let Some(c) = call.create_volumes else {
                return ready(Response::bad_request(
                    "Expecting 'create_volumes' to be present",
                ));
            };
            ready(crate::operations::call(
                master,
                ctx,
                c.slave_id,
                crate::operations::Endpoint::CreateVolumes,
                c.volumes,
                vec![],
            ))
        }
        call::Type::DestroyVolumes => {
            let Some(c) = call.destroy_volumes else {
                return ready(Response::bad_request(
                    "Expecting 'destroy_volumes' to be present",
                ));
            };
            ready(crate::operations::call(
                master,
                ctx,
                c.slave_id,
                crate::operations::Endpoint::DestroyVolumes,
                c.volumes,
                vec![],
            ))
        }
        call::Type::ListFiles => {
            let Some(files) = master.files.clone() else {
                return ready(mesos_files::FilesError::Gone.response());
            };
            let path = call.list_files.map(|l| l.path).unwrap_or_default();
            Box::pin(async move {
                tracing::info!(path, "Processing LIST_FILES call");
                match files.browse(&path).await {
                    Ok(file_infos) => respond(
                        &ApiResponse {
                            r#type: typed(response::Type::ListFiles),
                            list_files: Some(response::ListFiles { file_infos }),
                            ..Default::default()
                        },
                        json,
                    ),
                    Err(error) => error.response(),
                }
            })
        }
        call::Type::ReadFile => {
            let Some(files) = master.files.clone() else {
                return ready(mesos_files::FilesError::Gone.response());
            };
            let read = call.read_file.unwrap_or_default();
            Box::pin(async move {
                tracing::info!(path = %read.path, "Processing READ_FILE call");
                match files.read(read.offset, read.length, &read.path).await {
                    Ok((size, data)) => respond(
                        &ApiResponse {
                            r#type: typed(response::Type::ReadFile),
                            read_file: Some(response::ReadFile { size, data }),
                            ..Default::default()
                        },
                        json,
                    ),
                    Err(error) => error.response(),
                }
            })
        }
        call::Type::GrowVolume => {
            let Some(c) = call.grow_volume else {
                return ready(Response::bad_request(
                    "Expecting 'grow_volume' to be present",
                ));
            };
            let operation = mesos_proto::mesos::offer::Operation {
                r#type: Some(mesos_proto::mesos::offer::operation::Type::GrowVolume as i32),
                grow_volume: Some(mesos_proto::mesos::offer::operation::GrowVolume {
                    volume: c.volume,
                    addition: c.addition,
                }),
                ..Default::default()
            };
            ready(crate::operations::resize_call(
                master, ctx, c.slave_id, operation,
            ))
        }
        call::Type::ShrinkVolume => {
            let Some(c) = call.shrink_volume else {
                return ready(Response::bad_request(
                    "Expecting 'shrink_volume' to be present",
                ));
            };
            let operation = mesos_proto::mesos::offer::Operation {
                r#type: Some(mesos_proto::mesos::offer::operation::Type::ShrinkVolume as i32),
                shrink_volume: Some(mesos_proto::mesos::offer::operation::ShrinkVolume {
                    volume: c.volume,
                    subtract: c.subtract,
                }),
                ..Default::default()
            };
            ready(crate::operations::resize_call(
                master, ctx, c.slave_id, operation,
            ))
        }
        call::Type::DrainAgent => {
            let Some(drain) = call.drain_agent else {
                return ready(Response::bad_request(
                    "Expecting 'drain_agent' to be present",
                ));
            };
            crate::draining::drain(master, ctx, drain)
        }
        call::Type::DeactivateAgent => {
            let Some(deactivate) = call.deactivate_agent else {
                return ready(Response::bad_request(
                    "Expecting 'deactivate_agent' to be present",
                ));
            };
            crate::draining::deactivate(master, ctx, deactivate.slave_id.value)
        }
        call::Type::ReactivateAgent => {
            let Some(reactivate) = call.reactivate_agent else {
                return ready(Response::bad_request(
                    "Expecting 'reactivate_agent' to be present",
                ));
            };
            crate::draining::reactivate(master, ctx, reactivate.slave_id.value)
        }
        other => ready(Response::status(501).with_body(
            "text/plain",
            format!("Call {other:?} is not supported by this master yet"),
        )),
    }
}

/// A large read-only response as [`documents`] writes it, beside what
/// the reflection path makes of the `Response` message built for it.
#[doc(hidden)]
#[derive(Debug)]
pub struct BothWays {
    /// The JSON written straight.
    pub json: String,
    /// The JSON of the reflection path.
    pub reference_json: String,
    /// The protobuf encoded straight.
    pub protobuf: Vec<u8>,
    /// The encoding of the `Response` message.
    pub reference_protobuf: Vec<u8>,
}

/// The large read-only `call` (`GET_STATE`, `GET_TASKS`, `GET_AGENTS`,
/// `GET_FRAMEWORKS`, `GET_EXECUTORS`) answered both ways, for tests that
/// compare them; `None` for any other call.
#[doc(hidden)]
pub fn large_response_both_ways(master: &Master, call: call::Type) -> Option<BothWays> {
    let typed = |t: response::Type| Some(t as i32);
    let (document, reference) = match call {
        call::Type::GetState => (
            documents::Document::State,
            ApiResponse {
                r#type: typed(response::Type::GetState),
                get_state: Some(get_state(master)),
                ..Default::default()
            },
        ),
        call::Type::GetTasks => (
            documents::Document::Tasks,
            ApiResponse {
                r#type: typed(response::Type::GetTasks),
                get_tasks: Some(get_tasks(master)),
                ..Default::default()
            },
        ),
        call::Type::GetAgents => (
            documents::Document::Agents,
            ApiResponse {
                r#type: typed(response::Type::GetAgents),
                get_agents: Some(get_agents(master)),
                ..Default::default()
            },
        ),
        call::Type::GetFrameworks => (
            documents::Document::Frameworks,
            ApiResponse {
                r#type: typed(response::Type::GetFrameworks),
                get_frameworks: Some(get_frameworks(master)),
                ..Default::default()
            },
        ),
        call::Type::GetExecutors => (
            documents::Document::Executors,
            ApiResponse {
                r#type: typed(response::Type::GetExecutors),
                get_executors: Some(get_executors(master)),
                ..Default::default()
            },
        ),
        _ => return None,
    };
    let mut json = String::new();
    documents::write_response(master, document, &mut json);
    let reference_protobuf = reference.encode_to_vec();
    let v1 = v1::master::Response::decode(reference_protobuf.as_slice()).ok()?;
    Some(BothWays {
        json,
        reference_json: mesos_proto::json::to_string(&v1),
        protobuf: documents::encode_response(master, document),
        reference_protobuf,
    })
}

/// The operator stream's `SUBSCRIBED` event (the state and the heartbeat
/// interval) in JSON or protobuf, written straight as `GET_STATE` is.
pub(crate) fn subscribed_event(
    master: &Master,
    heartbeat_interval_seconds: f64,
    json: bool,
) -> Vec<u8> {
    documents::subscribed_event(master, heartbeat_interval_seconds, json)
}

/// The `SUBSCRIBED` event (with a heartbeat interval of 15 seconds)
/// `(written straight, through the reflection path)` in JSON or protobuf,
/// for tests that compare them.
#[doc(hidden)]
pub fn subscribed_both_ways(master: &Master, json: bool) -> (Vec<u8>, Vec<u8>) {
    use mesos_proto::mesos::master::{event, Event};
    let reference = Event {
        r#type: Some(event::Type::Subscribed as i32),
        subscribed: Some(event::Subscribed {
            get_state: Some(get_state(master)),
            heartbeat_interval_seconds: Some(15.0),
        }),
        ..Default::default()
    };
    let mut bytes = reference.encode_to_vec();
    if json {
        if let Ok(v1) = v1::master::Event::decode(bytes.as_slice()) {
            bytes = mesos_proto::json::to_string(&v1).into_bytes();
        }
    }
    (subscribed_event(master, 15.0, json), bytes)
}

/// `GET_STATE`: tasks, executors, frameworks and agents.
pub(crate) fn get_state(master: &Master) -> response::GetState {
    response::GetState {
        get_tasks: Some(get_tasks(master)),
        get_executors: Some(get_executors(master)),
        get_frameworks: Some(get_frameworks(master)),
        get_agents: Some(get_agents(master)),
    }
}

/// An agent as `GET_AGENTS` and `AGENT_ADDED` show it (upstream
/// `createAgentResponse`), with its drain state from `slaves`:
/// `deactivated` always, `drain_info` and `estimated_drain_start_time`
/// (in whole seconds, as upstream converts it) while it drains or is
/// drained.
pub(crate) fn agent_model(
    slaves: &crate::master::Slaves,
    slave: &crate::master::Slave,
) -> response::get_agents::Agent {
    let id = slave.info.id.as_ref().map_or("", |id| id.value.as_str());
    let (drain_info, deactivated) = slaves.drain_of(id);
    let estimated_drain_start_time = drain_info
        .and(slave.estimated_drain_start_time)
        .map(|secs| TimeInfo {
            nanoseconds: (secs.trunc() as i64).saturating_mul(1_000_000_000),
        });
    response::get_agents::Agent {
        agent_info: slave.info.clone(),
        active: slave.active,
        deactivated: Some(deactivated),
        version: slave.version.clone(),
        pid: Some(slave.pid.to_string()),
        registered_time: Some(time(slave.registered_time)),
        reregistered_time: slave.reregistered_time.map(time),
        total_resources: slave.total_resources.to_vec(),
        capabilities: slave.capabilities.clone(),
        drain_info,
        estimated_drain_start_time,
        ..Default::default()
    }
}

/// `GET_AGENTS`: each agent with its allocated and offered resources
/// (upstream `createAgentResponse`).
fn get_agents(master: &Master) -> response::GetAgents {
    let usage = crate::state_json::AgentUsage::of(master);
    let agents = master
        .slaves
        .registered
        .iter()
        .map(|(id, s)| agent_with_usage(&master.slaves, id, s, &usage))
        .collect();
    response::GetAgents {
        agents,
        recovered_agents: master.slaves.recovered.values().cloned().collect(),
    }
}

/// An agent of `GET_AGENTS`: [`agent_model`] with what is allocated and
/// offered on it.
fn agent_with_usage(
    slaves: &crate::master::Slaves,
    id: &str,
    slave: &crate::master::Slave,
    usage: &crate::state_json::AgentUsage<'_>,
) -> response::get_agents::Agent {
    let mut agent = agent_model(slaves, slave);
    agent.allocated_resources = usage.allocated(id).to_vec();
    agent.offered_resources = usage.offered(id).to_vec();
    agent
}

/// The executors the master knows (custom and task-group ones), in
/// framework, agent and executor id order.
fn get_executors(master: &Master) -> response::GetExecutors {
    #[allow(deprecated)]
    response::GetExecutors {
        executors: executors(master)
            .into_iter()
            .map(|(slave_id, info)| response::get_executors::Executor {
                executor_info: info.clone(),
                slave_id: mesos_proto::mesos::SlaveId {
                    value: slave_id.to_string(),
                },
            })
            .collect(),
        orphan_executors: vec![],
    }
}

/// The executors of [`get_executors`], with the id of their agent, in
/// its order.
fn executors(master: &Master) -> Vec<(&str, &mesos_proto::mesos::ExecutorInfo)> {
    use mesos_proto::model::id_order;
    let mut frameworks: Vec<_> = master.frameworks.registered.iter().collect();
    frameworks.sort_by(|a, b| id_order(a.0, b.0));
    let mut executors = Vec::new();
    for (_, framework) in frameworks {
        let mut slaves: Vec<_> = framework.executors.iter().collect();
        slaves.sort_by(|a, b| id_order(a.0, b.0));
        for (slave_id, known) in slaves {
            let mut known: Vec<_> = known.iter().collect();
            known.sort_by(|a, b| id_order(a.0, b.0));
            executors.extend(known.into_iter().map(|(_, info)| (slave_id.as_str(), info)));
        }
    }
    executors
}

/// Active tasks, unreachable ones (tasks of unreachable agents), and
/// completed ones, of every framework (completed frameworks included).
fn get_tasks(master: &Master) -> response::GetTasks {
    let mut tasks = Vec::new();
    let mut unreachable = Vec::new();
    let mut completed = Vec::new();
    let frameworks = master
        .frameworks
        .registered
        .values()
        .chain(master.frameworks.completed.iter());
    for framework in frameworks {
        tasks.extend(framework.tasks().values().map(|task| (**task).clone()));
        unreachable.extend(framework.unreachable_tasks.iter().cloned());
        completed.extend(framework.completed_tasks.iter().map(|t| (**t).clone()));
    }
    #[allow(deprecated)]
    response::GetTasks {
        pending_tasks: vec![],
        tasks,
        unreachable_tasks: unreachable,
        completed_tasks: completed,
        orphan_tasks: vec![],
    }
}

/// A framework as `GET_FRAMEWORKS` shows it.
pub(crate) fn framework_model(
    f: &crate::frameworks::Framework,
) -> response::get_frameworks::Framework {
    response::get_frameworks::Framework {
        framework_info: f.info.clone(),
        active: f.active,
        connected: f.connected,
        recovered: f.recovered,
        registered_time: Some(time(f.registered_time)),
        reregistered_time: Some(time(f.reregistered_time)),
        unregistered_time: f.unregistered_time.map(time),
        offer_constraints: Some(f.offer_constraints.clone()),
        ..Default::default()
    }
}

fn get_frameworks(master: &Master) -> response::GetFrameworks {
    response::GetFrameworks {
        frameworks: master
            .frameworks
            .registered
            .values()
            .map(framework_model)
            .collect(),
        completed_frameworks: master
            .frameworks
            .completed
            .iter()
            .map(framework_model)
            .collect(),
        ..Default::default()
    }
}

/// Marks an agent gone: recorded in the registry, told to shut down, and
/// never readmitted.
fn mark_agent_gone(master: &mut Master, ctx: &mut Context<Master>, id: String) -> HttpFuture {
    if master.slaves.gone.contains_key(&id) {
        return ready(Response::status(200));
    }
    let known = master.slaves.registered.contains_key(&id)
        || master.slaves.recovered.contains_key(&id)
        || master.slaves.unreachable.contains_key(&id);
    if !known {
        return ready(Response::not_found(format!("Agent '{id}' not found")));
    }
    if !master.slaves.marking_gone.insert(id.clone()) {
        return ready(Response::status(503).with_body(
            "text/plain",
            format!("Agent '{id}' is already being transitioned to gone"),
        ));
    }
    let (tx, rx) = futures::channel::oneshot::channel();
    let timestamp = time(libprocess::clock::now_secs());
    let registrar = master.registrar();
    let operation =
        Operation::MarkSlaveGone(mesos_proto::mesos::SlaveId { value: id.clone() }, timestamp);
    ctx.spawn(
        async move { registrar.apply(operation).await }
            .into_actor(master)
            .map(move |result, master, _ctx| {
                let response = match result {
                    Ok(_) => {
                        master.agent_gone(&id, timestamp);
                        Response::status(200)
                    }
                    Err(error) => {
                        master.slaves.marking_gone.remove(&id);
                        Response::internal_error(format!("Failed to mark agent gone: {error}"))
                    }
                };
                let _ = tx.send(response);
            }),
    );
    Box::pin(async move {
        rx.await
            .unwrap_or_else(|_| Response::internal_error("Master terminated"))
    })
}
