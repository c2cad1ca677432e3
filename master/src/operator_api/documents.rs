//! The large operator API responses (`GET_STATE`, `GET_TASKS`,
//! `GET_AGENTS`, `GET_FRAMEWORKS`, `GET_EXECUTORS`) written straight from
//! the master's state, so that no `Response` message holding a copy of
//! every task, no `DynamicMessage` and no `serde_json::Value` of the whole
//! document is ever built (upstream `Master::Http::_getState` streams
//! through `jsonify` writers the same way).
//!
//! - JSON ([`write_response`]): the response's outer objects by hand,
//!   each task, agent, framework or executor from its own protobuf
//!   encoding with [`mesos_proto::json::Transcoder`]. The text is the one
//!   the reflection path ([`super::respond`]) writes for the same
//!   response: same keys in declaration order, repeated fields only when
//!   non-empty, enums by name, bytes in base64.
//! - Protobuf ([`encode_response`]): each element encoded from the
//!   master's own record into its list's buffer, the lists then framed.
//!
//! The tests compare both with the reflection path.

use mesos_proto::json::Transcoder;
use mesos_proto::mesos::master::response;
use mesos_proto::mesos::{SlaveId, Task};

use crate::json_writer::{object, Obj};
use crate::master::Master;

/// The transcoders of the response's elements.
struct Elements {
    task: Transcoder,
    executor: Transcoder,
    framework: Transcoder,
    agent: Transcoder,
    agent_info: Transcoder,
    resource: Transcoder,
}

impl Elements {
    fn get() -> &'static Elements {
        static ELEMENTS: std::sync::OnceLock<Elements> = std::sync::OnceLock::new();
        ELEMENTS.get_or_init(|| {
            let of = |name: &str| {
                Transcoder::of(name).expect("the v1 master protos are in the descriptor pool")
            };
            Elements {
                task: of("mesos.v1.Task"),
                executor: of("mesos.v1.master.Response.GetExecutors.Executor"),
                framework: of("mesos.v1.master.Response.GetFrameworks.Framework"),
                agent: of("mesos.v1.master.Response.GetAgents.Agent"),
                agent_info: of("mesos.v1.AgentInfo"),
                resource: of("mesos.v1.Resource"),
            }
        })
    }
}

/// [`Document::last_len`] of each document.
static LAST_LEN: [std::sync::atomic::AtomicUsize; 5] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 5];

/// The responses written here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Document {
    State,
    Tasks,
    Executors,
    Frameworks,
    Agents,
}

impl Document {
    /// The length of the last JSON of this document (of any master in the
    /// process): the next one's buffer starts that large (plus an
    /// eighth), rather than being copied as it doubles its way there.
    pub(crate) fn last_len(self) -> usize {
        let len = LAST_LEN[self as usize].load(std::sync::atomic::Ordering::Relaxed);
        len + len / 8
    }

    /// Records the length of a JSON of this document just written.
    pub(crate) fn set_last_len(self, len: usize) {
        LAST_LEN[self as usize].store(len, std::sync::atomic::Ordering::Relaxed);
    }

    /// The `Response.type` and the number of its field.
    fn proto(self) -> (response::Type, u32) {
        match self {
            Document::State => (response::Type::GetState, 9),
            Document::Tasks => (response::Type::GetTasks, 13),
            Document::Executors => (response::Type::GetExecutors, 12),
            Document::Frameworks => (response::Type::GetFrameworks, 11),
            Document::Agents => (response::Type::GetAgents, 10),
        }
    }

    /// The `Response.type` name and the key of its field.
    fn names(self) -> (&'static str, &'static str) {
        let key = match self {
            Document::State => "get_state",
            Document::Tasks => "get_tasks",
            Document::Executors => "get_executors",
            Document::Frameworks => "get_frameworks",
            Document::Agents => "get_agents",
        };
        (self.proto().0.as_str_name(), key)
    }
}

/// Writes the v1 `Response` of `document` as JSON into `out`.
pub(crate) fn write_response(master: &Master, document: Document, out: &mut String) {
    let (type_name, key) = document.names();
    object(out, |o| {
        o.str("type", type_name);
        o.obj(key, |o| write_fields(master, document, o));
    });
}

/// Writes the fields of the `Get*` message of `document`.
fn write_fields(master: &Master, document: Document, o: &mut Obj<'_>) {
    let mut buffer = Vec::new();
    let w = &mut Writer {
        master,
        elements: Elements::get(),
        buffer: &mut buffer,
    };
    match document {
        Document::State => {
            o.obj("get_tasks", |o| w.tasks(o));
            o.obj("get_executors", |o| w.executors(o));
            o.obj("get_frameworks", |o| w.frameworks(o));
            o.obj("get_agents", |o| w.agents(o));
        }
        Document::Tasks => w.tasks(o),
        Document::Executors => w.executors(o),
        Document::Frameworks => w.frameworks(o),
        Document::Agents => w.agents(o),
    }
}

/// Returns the v1 operator event `SUBSCRIBED` (the state and the
/// heartbeat interval) in JSON or protobuf, written straight as the
/// responses are.
pub(crate) fn subscribed_event(
    master: &Master,
    heartbeat_interval_seconds: f64,
    json: bool,
) -> Vec<u8> {
    use mesos_proto::mesos::master::event;
    use prost::encoding::{encode_key, encode_varint, WireType};
    if json {
        let mut out = String::new();
        object(&mut out, |o| {
            o.str("type", event::Type::Subscribed.as_str_name());
            o.obj("subscribed", |o| {
                o.obj("get_state", |o| write_fields(master, Document::State, o));
                o.dbl("heartbeat_interval_seconds", heartbeat_interval_seconds);
            });
        });
        return out.into_bytes();
    }
    let state = encode_body(master, Document::State);
    let mut subscribed = Vec::with_capacity(state.len() + 32);
    nested(&mut subscribed, 1, &state);
    drop(state);
    prost::encoding::double::encode(2, &heartbeat_interval_seconds, &mut subscribed);
    let mut out = Vec::with_capacity(subscribed.len() + 16);
    encode_key(1, WireType::Varint, &mut out);
    encode_varint(event::Type::Subscribed as u64, &mut out);
    nested(&mut out, 2, &subscribed);
    out
}

/// Writes `"key":[..]` with an item per element of `items`, only when
/// there is one (the JSON mapping leaves empty repeated fields out).
fn list<I: IntoIterator>(
    o: &mut Obj<'_>,
    key: &str,
    items: I,
    mut write: impl FnMut(&mut String, I::Item),
) {
    let mut items = items.into_iter().peekable();
    if items.peek().is_none() {
        return;
    }
    o.arr(key, |a| {
        for item in items {
            write(a.item(), item);
        }
    });
}

struct Writer<'a> {
    master: &'a Master,
    elements: &'static Elements,
    buffer: &'a mut Vec<u8>,
}

impl Writer<'_> {
    /// `GetTasks` (as [`super::get_tasks`]): `tasks`, `unreachable_tasks`,
    /// `completed_tasks`, in declaration order.
    fn tasks(&mut self, o: &mut Obj<'_>) {
        let frameworks = || {
            self.master
                .frameworks
                .registered
                .values()
                .chain(self.master.frameworks.completed.iter())
        };
        let (task, buffer) = (self.elements.task, &mut *self.buffer);
        // Active tasks from the JSON kept with them (written again only
        // after a task changed); the others are not kept.
        list(
            o,
            "tasks",
            frameworks().flat_map(|f| f.tasks().values()),
            |out, entry| {
                out.push_str(entry.v1_json(|t, out| task.write_message(out, t, buffer)));
            },
        );
        list(
            o,
            "unreachable_tasks",
            frameworks().flat_map(|f| f.unreachable_tasks.iter()),
            |out, t: &Task| task.write_message(out, t, buffer),
        );
        // Completed tasks no longer change: written once.
        list(
            o,
            "completed_tasks",
            frameworks().flat_map(|f| f.completed_tasks.iter()),
            |out, entry| {
                out.push_str(entry.v1_json(|t, out| task.write_message(out, t, buffer)));
            },
        );
    }

    /// `GetExecutors` (as [`super::get_executors`]).
    fn executors(&mut self, o: &mut Obj<'_>) {
        let executor = self.elements.executor;
        list(
            o,
            "executors",
            super::executors(self.master),
            |out, (slave_id, info)| {
                let model = response::get_executors::Executor {
                    executor_info: info.clone(),
                    slave_id: SlaveId {
                        value: slave_id.to_string(),
                    },
                };
                executor.write_message(out, &model, self.buffer);
            },
        );
    }

    /// `GetFrameworks` (as [`super::get_frameworks`]).
    fn frameworks(&mut self, o: &mut Obj<'_>) {
        let framework = self.elements.framework;
        let frameworks = &self.master.frameworks;
        let buffer = &mut *self.buffer;
        let mut write = |out: &mut String, f| {
            framework.write_message(out, &super::framework_model(f), buffer);
        };
        list(o, "frameworks", frameworks.registered.values(), &mut write);
        list(
            o,
            "completed_frameworks",
            frameworks.completed.iter(),
            &mut write,
        );
    }

    /// `GetAgents` (as [`super::get_agents`]). Each agent from the parts
    /// of its JSON kept until it changes, with what is allocated and
    /// offered on it written between them.
    fn agents(&mut self, o: &mut Obj<'_>) {
        let usage = crate::state_json::AgentUsage::of(self.master);
        let (agent, agent_info, resource) = (
            self.elements.agent,
            self.elements.agent_info,
            self.elements.resource,
        );
        let slaves = &self.master.slaves;
        let buffer = &mut *self.buffer;
        list(o, "agents", slaves.registered.iter(), |out, (id, entry)| {
            let (before, after) = entry
                .renderings()
                .v1
                .get_or_init(|| agent_fragments(&agent, slaves, entry, buffer));
            out.push('{');
            out.push_str(before);
            for (key, resources) in [
                ("allocated_resources", usage.allocated(id)),
                ("offered_resources", usage.offered(id)),
            ] {
                let resources = resources.to_vec();
                if resources.is_empty() {
                    continue;
                }
                out.push_str(",\"");
                out.push_str(key);
                out.push_str("\":[");
                for (i, r) in resources.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    resource.write_message(out, r, buffer);
                }
                out.push(']');
            }
            if !after.is_empty() {
                out.push(',');
                out.push_str(after);
            }
            out.push('}');
        });
        list(
            o,
            "recovered_agents",
            slaves.recovered.values(),
            |out, info| {
                agent_info.write_message(out, info, self.buffer);
            },
        );
    }
}

/// An agent's `GetAgents.Agent` JSON without its allocated and offered
/// resources, as two runs of fields: those before them (`agent_info` to
/// `total_resources`, never empty: `agent_info` and `active` are required)
/// and those after them (`capabilities`, `drain_info` and
/// `estimated_drain_start_time`, each if set; the model sets no
/// `resource_providers`). A key cannot appear inside a nested string (its
/// quotes are escaped), and none of these is a key of `agent_info`, so
/// the last occurrence of each is the top-level one; the earliest of
/// those starts the second run.
fn agent_fragments(
    agent: &Transcoder,
    slaves: &crate::master::Slaves,
    slave: &crate::master::Slave,
    buffer: &mut Vec<u8>,
) -> (Box<str>, Box<str>) {
    let mut json = String::new();
    agent.write_message(&mut json, &super::agent_model(slaves, slave), buffer);
    let inner = &json[1..json.len() - 1];
    let after = [
        ",\"capabilities\":[",
        ",\"drain_info\":{",
        ",\"estimated_drain_start_time\":{",
    ]
    .iter()
    .filter_map(|key| inner.rfind(key))
    .min();
    match after {
        Some(at) => (inner[..at].into(), inner[at + 1..].into()),
        None => (inner.into(), "".into()),
    }
}

/// Encodes the v1 `Response` of `document` in protobuf the same way:
/// each element encoded from the master's own record (no copy of the
/// tasks), each list into a buffer of its own, the lists framed into the
/// response once their lengths are known. The bytes are those of encoding
/// the `Response` message the reflection path builds (v0 and v1 share
/// their tags).
pub(crate) fn encode_response(master: &Master, document: Document) -> Vec<u8> {
    use prost::encoding::{encode_key, encode_varint, WireType};
    let (kind, field) = document.proto();
    let body = encode_body(master, document);
    let mut out = Vec::with_capacity(body.len() + 16);
    encode_key(1, WireType::Varint, &mut out);
    encode_varint(kind as u64, &mut out);
    nested(&mut out, field, &body);
    out
}

/// Encodes the `Get*` message of `document`.
fn encode_body(master: &Master, document: Document) -> Vec<u8> {
    match document {
        Document::State => {
            let parts = [
                (1, encode_tasks(master)),
                (2, encode_executors(master)),
                (3, encode_frameworks(master)),
                (4, encode_agents(master)),
            ];
            let mut state = Vec::with_capacity(parts.iter().map(|(_, p)| p.len() + 16).sum());
            for (number, part) in parts {
                nested(&mut state, number, &part);
            }
            state
        }
        Document::Tasks => encode_tasks(master),
        Document::Executors => encode_executors(master),
        Document::Frameworks => encode_frameworks(master),
        Document::Agents => encode_agents(master),
    }
}

/// Appends field `number` holding the encoded message `body`.
fn nested(out: &mut Vec<u8>, number: u32, body: &[u8]) {
    use prost::encoding::{encode_key, encode_varint, WireType};
    encode_key(number, WireType::LengthDelimited, out);
    encode_varint(body.len() as u64, out);
    out.extend_from_slice(body);
}

/// `GetTasks`: `tasks` (2), `unreachable_tasks` (5), `completed_tasks` (3),
/// in declaration order as prost encodes them.
fn encode_tasks(master: &Master) -> Vec<u8> {
    use prost::encoding::message;
    let frameworks = || {
        master
            .frameworks
            .registered
            .values()
            .chain(master.frameworks.completed.iter())
    };
    let mut out = Vec::new();
    for task in frameworks().flat_map(|f| f.tasks().values()) {
        message::encode::<Task>(2, &***task, &mut out);
    }
    for task in frameworks().flat_map(|f| f.unreachable_tasks.iter()) {
        message::encode(5, task, &mut out);
    }
    for task in frameworks().flat_map(|f| f.completed_tasks.iter()) {
        message::encode(3, &**task, &mut out);
    }
    out
}

/// `GetExecutors`: `executors` (1).
fn encode_executors(master: &Master) -> Vec<u8> {
    let mut out = Vec::new();
    for (slave_id, info) in super::executors(master) {
        let model = response::get_executors::Executor {
            executor_info: info.clone(),
            slave_id: SlaveId {
                value: slave_id.to_string(),
            },
        };
        prost::encoding::message::encode(1, &model, &mut out);
    }
    out
}

/// `GetFrameworks`: `frameworks` (1), `completed_frameworks` (2).
fn encode_frameworks(master: &Master) -> Vec<u8> {
    let mut out = Vec::new();
    for f in master.frameworks.registered.values() {
        prost::encoding::message::encode(1, &super::framework_model(f), &mut out);
    }
    for f in &master.frameworks.completed {
        prost::encoding::message::encode(2, &super::framework_model(f), &mut out);
    }
    out
}

/// `GetAgents`: `agents` (1), `recovered_agents` (2).
fn encode_agents(master: &Master) -> Vec<u8> {
    let usage = crate::state_json::AgentUsage::of(master);
    let mut out = Vec::new();
    for (id, s) in &master.slaves.registered {
        let agent = super::agent_with_usage(&master.slaves, id, s, &usage);
        prost::encoding::message::encode(1, &agent, &mut out);
    }
    for info in master.slaves.recovered.values() {
        prost::encoding::message::encode(2, info, &mut out);
    }
    out
}
