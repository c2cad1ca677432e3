//! The large operator API responses (`GET_STATE`, `GET_TASKS`,
//! `GET_AGENTS`, `GET_FRAMEWORKS`, `GET_EXECUTORS`) written straight as
//! JSON: the response's outer objects by hand, each task, agent, framework
//! or executor from its own protobuf encoding with
//! [`mesos_proto::json::Transcoder`], so that no `Response` message, copy
//! of the tasks, `DynamicMessage` or `serde_json::Value` of the whole
//! document is ever built (upstream `Master::Http::_getState` streams
//! through `jsonify` writers the same way).
//!
//! The text is the one the reflection path ([`super::respond`]) writes for
//! the same response: same keys in declaration order, repeated fields
//! only when non-empty, enums by name, bytes in base64. The tests compare
//! the two.

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
            }
        })
    }
}

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
    /// The `Response.type` name and the key of its field.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Document::State => ("GET_STATE", "get_state"),
            Document::Tasks => ("GET_TASKS", "get_tasks"),
            Document::Executors => ("GET_EXECUTORS", "get_executors"),
            Document::Frameworks => ("GET_FRAMEWORKS", "get_frameworks"),
            Document::Agents => ("GET_AGENTS", "get_agents"),
        }
    }
}

/// Writes the v1 `Response` of `document` as JSON into `out`.
pub(crate) fn write_response(master: &Master, document: Document, out: &mut String) {
    let elements = Elements::get();
    let mut buffer = Vec::new();
    let (type_name, key) = document.names();
    object(out, |o| {
        o.str("type", type_name);
        o.obj(key, |o| {
            let w = &mut Writer {
                master,
                elements,
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
        });
    });
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
        let mut write = |out: &mut String, t: &Task| task.write_message(out, t, buffer);
        list(
            o,
            "tasks",
            frameworks().flat_map(|f| f.tasks().values().map(|t| &***t)),
            &mut write,
        );
        list(
            o,
            "unreachable_tasks",
            frameworks().flat_map(|f| f.unreachable_tasks.iter()),
            &mut write,
        );
        list(
            o,
            "completed_tasks",
            frameworks().flat_map(|f| f.completed_tasks.iter()),
            &mut write,
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

    /// `GetAgents` (as [`super::get_agents`]).
    fn agents(&mut self, o: &mut Obj<'_>) {
        let usage = crate::state_json::AgentUsage::of(self.master);
        let (agent, agent_info) = (self.elements.agent, self.elements.agent_info);
        let slaves = &self.master.slaves;
        list(o, "agents", slaves.registered.iter(), |out, (id, s)| {
            agent.write_message(out, &super::agent_with_usage(id, s, &usage), self.buffer);
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
