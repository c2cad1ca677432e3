//! The operator event stream: `SUBSCRIBE` on `POST /api/v1` and the
//! events sent to every subscriber.
//!
//! Upstream counterpart: `Master::Subscribers` in `src/master/master.hpp`,
//! `Master::subscribe`/`exited(id::UUID)` and the `subscribers.send(..)`
//! call sites in `src/master/master.cpp`, `Framework::addTask` in
//! `src/master/framework.cpp`, and the event builders
//! (`createTaskAdded`, `createTaskUpdated`, `createFrameworkAdded`, ...) in
//! `src/common/protobuf_utils.cpp`.
//!
//! A subscription answers `200` with an endless RecordIO stream of
//! `mesos.v1.master.Event`s in JSON or protobuf, as the `Accept` header
//! asks (no `Mesos-Stream-Id` header, unlike the scheduler API): first
//! `SUBSCRIBED` with the `GET_STATE` snapshot and
//! `heartbeat_interval_seconds` (15), then the events below as they
//! happen, and `HEARTBEAT` every 15 seconds (the first one 15 seconds
//! after subscribing). The master sends, as upstream does:
//!
//! - `TASK_ADDED` when a task is added to its framework: launched from an
//!   offer, or reported by an agent that (re-)joins;
//! - `TASK_UPDATED` (`framework_id`, the update's `status`, the task's
//!   latest `state`) whenever a task's status changes state (a repeated
//!   state is only sent for check and health-check updates), whether the
//!   status comes from an agent or from the master (agent removed or
//!   disconnected, framework removed);
//! - `AGENT_ADDED` when an agent is added (registration, or readmission
//!   after a master failover or after being unreachable); an agent that
//!   reconnects while still registered is not added again;
//! - `AGENT_REMOVED` when an agent is removed (it unregistered, or a new
//!   agent registered at its address). Upstream 1.11 sends nothing when an
//!   agent is marked unreachable or gone, and neither do we;
//! - `FRAMEWORK_ADDED` when a framework subscribes for the first time, or
//!   becomes known from a re-registering agent or a re-subscription after
//!   a master failover;
//! - `FRAMEWORK_UPDATED` after every re-subscription, and after
//!   `UPDATE_FRAMEWORK` (disconnection sends nothing, as upstream);
//! - `FRAMEWORK_REMOVED` when a framework is removed.
//!
//! A subscriber whose connection closes is dropped. At most
//! `--max_operator_event_stream_subscribers` streams are kept: a new one
//! beyond that closes the oldest. No authorization filtering: the master
//! has no authorizer (upstream filters per `VIEW_*` ACL).
//!
//! Deliberate difference: when a re-registering agent reports tasks of a
//! framework the master does not know yet, upstream sends `AGENT_ADDED`
//! before that framework's `FRAMEWORK_ADDED` and `TASK_ADDED`s; this
//! master learns the framework first, so `FRAMEWORK_ADDED` and the tasks
//! come before `AGENT_ADDED`.

use std::collections::VecDeque;

use actix::{AsyncContext as _, Context};
use bytes::Bytes;
use libprocess::http::{Body, Response};
use mesos_proto::api::{JSON, PROTOBUF};
use mesos_proto::mesos::master::{event, response, Event};
use mesos_proto::mesos::{v1, FrameworkInfo, SlaveId, Task, TaskState, TaskStatus};

use crate::master::Master;
use crate::scheduler_http::HEARTBEAT_INTERVAL;

/// One open event stream.
struct Subscriber {
    stream_id: String,
    json: bool,
    tx: tokio::sync::mpsc::UnboundedSender<Bytes>,
}

/// The open operator event streams, oldest first.
#[derive(Default)]
pub struct Subscribers {
    subscribed: VecDeque<Subscriber>,
}

impl Subscribers {
    /// Returns whether nobody listens (events need not be built).
    pub fn is_empty(&self) -> bool {
        self.subscribed.is_empty()
    }

    /// Returns how many streams are open.
    pub fn len(&self) -> usize {
        self.subscribed.len()
    }

    /// Sends `event` to every subscriber, encoding it at most once per
    /// media type, and drops the subscribers whose client is gone.
    pub fn send(&mut self, event: &Event) {
        let mut json = None;
        let mut protobuf = None;
        self.subscribed.retain(|subscriber| {
            let cache = if subscriber.json {
                &mut json
            } else {
                &mut protobuf
            };
            let record = cache.get_or_insert_with(|| {
                mesos_proto::api::event_record::<v1::master::Event>(event, subscriber.json)
            });
            match record {
                Ok(record) => subscriber.tx.send(record.clone()).is_ok(),
                Err(error) => {
                    tracing::error!(%error, "Failed to convert an operator event to v1");
                    true
                }
            }
        });
    }

    fn send_to(&mut self, stream_id: &str, event: &Event) -> bool {
        let Some(subscriber) = self.subscribed.iter().find(|s| s.stream_id == stream_id) else {
            return false;
        };
        match mesos_proto::api::event_record::<v1::master::Event>(event, subscriber.json) {
            Ok(record) => subscriber.tx.send(record).is_ok(),
            Err(error) => {
                tracing::error!(%error, "Failed to convert an operator event to v1");
                true
            }
        }
    }

    fn remove(&mut self, stream_id: &str) -> bool {
        let before = self.subscribed.len();
        self.subscribed.retain(|s| s.stream_id != stream_id);
        self.subscribed.len() != before
    }
}

fn event(kind: event::Type) -> Event {
    Event {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

/// `TASK_ADDED` for `task`.
pub(crate) fn task_added(task: &Task) -> Event {
    Event {
        task_added: Some(event::TaskAdded { task: task.clone() }),
        ..event(event::Type::TaskAdded)
    }
}

/// `TASK_UPDATED` for `task` (in its latest state) after `status`.
pub(crate) fn task_updated(task: &Task, status: &TaskStatus) -> Event {
    Event {
        task_updated: Some(event::TaskUpdated {
            framework_id: task.framework_id.clone(),
            status: status.clone(),
            state: task.state,
        }),
        ..event(event::Type::TaskUpdated)
    }
}

/// `AGENT_REMOVED` for agent `id`.
pub(crate) fn agent_removed(id: &str) -> Event {
    Event {
        agent_removed: Some(event::AgentRemoved {
            agent_id: SlaveId {
                value: id.to_string(),
            },
        }),
        ..event(event::Type::AgentRemoved)
    }
}

/// `FRAMEWORK_REMOVED` for the framework described by `info`.
pub(crate) fn framework_removed(info: &FrameworkInfo) -> Event {
    Event {
        framework_removed: Some(event::FrameworkRemoved {
            framework_info: info.clone(),
        }),
        ..event(event::Type::FrameworkRemoved)
    }
}

/// The framework as `FRAMEWORK_ADDED` and `FRAMEWORK_UPDATED` carry it
/// (upstream always sets `unregistered_time`, the epoch when the framework
/// never disconnected).
fn framework_model(
    framework: &crate::frameworks::Framework,
) -> response::get_frameworks::Framework {
    let mut model = crate::operator_api::framework_model(framework);
    model.unregistered_time = Some(crate::operator_api::time(
        framework.unregistered_time.unwrap_or(0.0),
    ));
    model
}

impl Master {
    /// Sends the event `build` returns to the operator subscribers; builds
    /// nothing when there are none.
    pub(crate) fn notify(&mut self, build: impl FnOnce(&Self) -> Option<Event>) {
        if self.subscribers.is_empty() {
            return;
        }
        if let Some(event) = build(self) {
            self.subscribers.send(&event);
            self.refresh_subscriber_gauge();
        }
    }

    /// Sends the event `build` returns to the operator subscribers, if
    /// there are any.
    pub(crate) fn publish(&mut self, build: impl FnOnce() -> Event) {
        if self.subscribers.is_empty() {
            return;
        }
        self.subscribers.send(&build());
        self.refresh_subscriber_gauge();
    }

    /// `FRAMEWORK_ADDED` for framework `id`.
    pub(crate) fn notify_framework_added(&mut self, id: &str) {
        self.notify(|m| {
            let framework = m.frameworks.registered.get(id)?;
            Some(Event {
                framework_added: Some(event::FrameworkAdded {
                    framework: framework_model(framework),
                }),
                ..event(event::Type::FrameworkAdded)
            })
        });
    }

    /// `FRAMEWORK_UPDATED` for framework `id`.
    pub(crate) fn notify_framework_updated(&mut self, id: &str) {
        self.notify(|m| {
            let framework = m.frameworks.registered.get(id)?;
            Some(Event {
                framework_updated: Some(event::FrameworkUpdated {
                    framework: framework_model(framework),
                }),
                ..event(event::Type::FrameworkUpdated)
            })
        });
    }

    /// `AGENT_ADDED` for agent `id`, with its allocated and offered
    /// resources as `GET_AGENTS` shows them (upstream `createAgentAdded`
    /// builds the event with `createAgentResponse`).
    pub(crate) fn notify_agent_added(&mut self, id: &str) {
        self.notify(|m| {
            let slave = m.slaves.registered.get(id)?;
            let usage = crate::state_json::AgentUsage::of(m);
            let mut agent = crate::operator_api::agent_model(&m.slaves, slave);
            agent.allocated_resources = usage.allocated(id).to_vec();
            agent.offered_resources = usage.offered(id).to_vec();
            Some(Event {
                agent_added: Some(event::AgentAdded { agent }),
                ..event(event::Type::AgentAdded)
            })
        });
    }

    /// `TASK_ADDED` for task `task_id` of framework `framework_id`.
    pub(crate) fn notify_task_added(&mut self, framework_id: &str, task_id: &str) {
        self.notify(|m| {
            let task = m
                .frameworks
                .registered
                .get(framework_id)?
                .tasks()
                .get(task_id)?;
            Some(task_added(task))
        });
    }

    /// Records `status` on `task` as upstream's `Master::updateTask` does:
    /// the task takes `latest` as its state unless it is already terminal,
    /// a status in the same state as the last one replaces it, and
    /// subscribers get `TASK_UPDATED` when the state is new (or for check
    /// and health-check updates). Returns whether to send `TASK_UPDATED`.
    pub(crate) fn record_status(task: &mut Task, latest: TaskState, status: &TaskStatus) -> bool {
        use mesos_proto::mesos::task_status::Reason;
        let terminal = TaskState::try_from(task.state).is_ok_and(TaskState::is_terminal);
        if !terminal {
            task.state = latest as i32;
        }
        let mut notify = matches!(
            status.reason.and_then(|r| Reason::try_from(r).ok()),
            Some(Reason::TaskCheckStatusUpdated | Reason::TaskHealthCheckStatusUpdated)
        );
        if task
            .statuses
            .last()
            .is_some_and(|last| last.state == status.state)
        {
            task.statuses.pop();
        } else {
            notify = true;
        }
        let mut status = status.clone();
        // Large framework data stays out of the master (MESOS-1746).
        status.data = None;
        task.statuses.push(status);
        notify
    }

    /// Answers `SUBSCRIBE`: opens the stream, sends `SUBSCRIBED` and starts
    /// the heartbeats.
    pub(crate) fn subscribe_operator(&mut self, ctx: &mut Context<Self>, json: bool) -> Response {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let stream_id = uuid::Uuid::new_v4().to_string();
        // Written straight from the state, as `GET_STATE` is: the whole
        // state as one message would not fit in memory on a large cluster.
        let subscribed =
            crate::operator_api::subscribed_event(self, HEARTBEAT_INTERVAL.as_secs_f64(), json);
        let _ = tx.send(mesos_proto::recordio::encode(&subscribed));
        let max = self.flags.max_operator_event_stream_subscribers as usize;
        while self.subscribers.len() >= max.max(1) {
            if let Some(oldest) = self.subscribers.subscribed.pop_front() {
                tracing::info!(
                    stream_id = %oldest.stream_id,
                    max,
                    "Reached the maximum number of operator event stream subscribers; \
                     closing the oldest"
                );
            }
        }
        tracing::info!(%stream_id, "Added subscriber to the list of active subscribers");
        self.subscribers.subscribed.push_back(Subscriber {
            stream_id: stream_id.clone(),
            json,
            tx,
        });
        self.refresh_subscriber_gauge();
        schedule_heartbeat(self, ctx, stream_id.clone());

        // The subscriber goes when its client does.
        let handle = self.base.handle(ctx.address());
        let on_close = move || {
            handle.dispatch(move |master: &mut Master, _ctx| {
                if master.subscribers.remove(&stream_id) {
                    tracing::info!(%stream_id, "Removed subscriber from the list of active subscribers");
                    master.refresh_subscriber_gauge();
                }
            });
        };

        Response {
            status: 200,
            headers: vec![(
                "Content-Type".into(),
                if json { JSON } else { PROTOBUF }.into(),
            )],
            body: Body::Stream(crate::scheduler_http::bridge(rx, on_close)),
        }
    }
}

fn schedule_heartbeat(master: &Master, ctx: &mut Context<Master>, stream_id: String) {
    master
        .base
        .delay(HEARTBEAT_INTERVAL, &ctx.address(), move |master, ctx| {
            if master
                .subscribers
                .send_to(&stream_id, &event(event::Type::Heartbeat))
            {
                schedule_heartbeat(master, ctx, stream_id);
            }
        });
}
