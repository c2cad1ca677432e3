//! Frameworks: subscription over the libprocess scheduler driver (v0),
//! failover, disconnection, failover timeout, teardown.
//!
//! Upstream counterpart: `Master::subscribe`, `failoverFramework`,
//! `exited`, `frameworkFailoverTimeout`, `teardown`, `removeFramework` and
//! `receive(from, scheduler::Call)` in `src/master/master.cpp`, and
//! `validation::framework` in `src/master/validation.cpp`.
//!
//! The libprocess driver sends `mesos.scheduler.Call`s and is answered with
//! the internal messages: a new framework (or a failover to a new pid) gets
//! `FrameworkRegisteredMessage`, a framework reconnecting from the same pid
//! `FrameworkReregisteredMessage`, both with the master's `MasterInfo`.
//! Older drivers' `RegisterFrameworkMessage`, `ReregisterFrameworkMessage`,
//! `UnregisterFrameworkMessage` and `DeactivateFrameworkMessage` map onto
//! the same logic. Calls from a pid other than the framework's are dropped;
//! calls from a framework the master saw disconnect get
//! `FrameworkErrorMessage("Framework disconnected")`, which aborts the
//! driver so that it re-subscribes.

use std::collections::VecDeque;

use actix::{AsyncContext as _, Context};
use libprocess::{Timer, UPID};
use mesos_proto::mesos::internal::{
    DeactivateFrameworkMessage, FrameworkErrorMessage, FrameworkRegisteredMessage,
    FrameworkReregisteredMessage, RegisterFrameworkMessage, ReregisterFrameworkMessage,
    ShutdownFrameworkMessage, UnregisterFrameworkMessage,
};
use mesos_proto::mesos::scheduler::event::Type as EventType;
use mesos_proto::mesos::scheduler::OfferConstraints;
use mesos_proto::mesos::scheduler::{call, event, Call, Event};
use mesos_proto::mesos::{
    framework_info, task_status, FrameworkId, FrameworkInfo, TaskState, TaskStatus,
};

use crate::master::Master;
use crate::scheduler_http::HttpConnection;
use mesos_proto::resources::Resources;

/// What the master knows of a framework.
pub struct Framework {
    /// The framework's info, with its id.
    pub info: FrameworkInfo,
    /// The scheduler driver's address (v0 frameworks).
    pub pid: Option<UPID>,
    /// The event stream (v1 HTTP frameworks).
    pub http: Option<HttpConnection>,
    /// Whether its connection is up.
    pub connected: bool,
    /// Whether it receives offers.
    pub active: bool,
    /// When it first subscribed (seconds since the epoch).
    pub registered_time: f64,
    /// When it last re-subscribed.
    pub reregistered_time: f64,
    /// When it disconnected, if it is disconnected.
    pub unregistered_time: Option<f64>,
    /// Active (non-completed) tasks by id (`tasks()`, `tasks_mut()`).
    tasks: std::collections::HashMap<String, Box<TaskEntry>>,
    /// What the non-terminal active tasks use, by agent, as last summed
    /// (for the state endpoints); dropped by `tasks_mut()`.
    used_by_agent: std::cell::OnceCell<std::collections::HashMap<String, Resources>>,
    /// Changes with every `tasks_mut()`; unique among frameworks.
    tasks_version: u64,
    /// The active tasks as the state endpoints list them (a JSON array),
    /// as last written; dropped by `tasks_mut()`.
    tasks_json: std::cell::OnceCell<Box<str>>,
    /// Executors the framework launched or an agent reported, by agent and
    /// executor id (custom and task-group executors only: agents
    /// synthesize command executors themselves). Their resources are in
    /// allocation form and go back to the allocator when they exit.
    pub executors: std::collections::HashMap<
        String,
        std::collections::HashMap<String, mesos_proto::mesos::ExecutorInfo>,
    >,
    /// Completed tasks, oldest first, bounded by
    /// `--max_completed_tasks_per_framework`.
    /// Each with its JSON, kept as an active task's (a completed task
    /// no longer changes).
    pub completed_tasks: VecDeque<TaskEntry>,
    /// Tasks of agents marked unreachable, until the agent comes back, is
    /// marked gone or is pruned from the registry (upstream
    /// `Framework::unreachableTasks`).
    pub unreachable_tasks: UnreachableTasks,
    /// Whether the master only knows it from a re-registering agent
    /// (MESOS-6419): listed, not subscribed, and removable by teardown.
    pub recovered: bool,
    /// Its offer constraints, as it gave them (empty: none).
    pub offer_constraints: OfferConstraints,
    failover_timer: Option<Timer>,
    /// `master/frameworks/<name>/<id>/*`.
    pub metrics: std::sync::Arc<crate::framework_metrics::FrameworkMetrics>,
}

/// What a SUBSCRIBE asks besides its `FrameworkInfo`.
#[derive(Debug, Clone, Default)]
pub struct SubscribeOptions {
    /// Roles not to be offered resources.
    pub suppressed: Vec<String>,
    /// Which agents it is offered, per role.
    pub offer_constraints: OfferConstraints,
}

impl Framework {
    fn new(
        info: FrameworkInfo,
        pid: Option<UPID>,
        http: Option<HttpConnection>,
        now: f64,
        registry: Option<libprocess::Runtime>,
    ) -> Self {
        let metrics = std::sync::Arc::new(crate::framework_metrics::FrameworkMetrics::new(
            &info, registry,
        ));
        Self {
            metrics,
            info,
            pid,
            http,
            connected: true,
            active: true,
            registered_time: now,
            reregistered_time: now,
            unregistered_time: None,
            tasks: Default::default(),
            used_by_agent: Default::default(),
            tasks_json: Default::default(),
            tasks_version: next_tasks_version(),
            executors: Default::default(),
            completed_tasks: VecDeque::new(),
            unreachable_tasks: UnreachableTasks::default(),
            recovered: false,
            offer_constraints: OfferConstraints::default(),
            failover_timer: None,
        }
    }

    /// Returns the framework id.
    pub fn id(&self) -> &str {
        self.info.id.as_ref().map_or("", |id| id.value.as_str())
    }

    /// The active tasks by id.
    pub fn tasks(&self) -> &std::collections::HashMap<String, Box<TaskEntry>> {
        &self.tasks
    }

    /// The active tasks by id, to change: what they use is summed again
    /// when next asked for.
    pub fn tasks_mut(&mut self) -> &mut std::collections::HashMap<String, Box<TaskEntry>> {
        self.used_by_agent.take();
        self.tasks_json.take();
        self.tasks_version = next_tasks_version();
        &mut self.tasks
    }

    /// The version of the active tasks: another after every `tasks_mut()`
    /// (and distinct from every other framework's).
    pub fn tasks_version(&self) -> u64 {
        self.tasks_version
    }

    /// What the non-terminal active tasks use, by agent id (resources as
    /// the tasks hold them, summed). Kept until the tasks change.
    pub fn used_by_agent(&self) -> &std::collections::HashMap<String, Resources> {
        self.used_by_agent.get_or_init(|| {
            let mut used: std::collections::HashMap<String, Resources> = Default::default();
            for task in self.tasks.values() {
                if TaskState::try_from(task.state).is_ok_and(TaskState::is_terminal) {
                    continue;
                }
                let sum = match used.get_mut(&task.slave_id.value) {
                    Some(sum) => sum,
                    None => used.entry(task.slave_id.value.clone()).or_default(),
                };
                for resource in &task.resources {
                    sum.add_ref(resource);
                }
            }
            used
        })
    }

    /// Whether the active tasks' JSON array is kept (written since they
    /// last changed).
    pub fn tasks_json_written(&self) -> bool {
        self.tasks_json.get().is_some()
    }

    /// The active tasks as a JSON array, written by `write` the first time
    /// after they changed.
    pub fn tasks_json(&self, write: impl FnOnce(&Self, &mut String)) -> &str {
        self.tasks_json.get_or_init(|| {
            let mut out = String::new();
            write(self, &mut out);
            out.into_boxed_str()
        })
    }

    /// Files a task as completed, dropping the oldest beyond `capacity`
    /// (upstream `Framework::addCompletedTask`).
    pub fn add_completed_task(&mut self, task: mesos_proto::mesos::Task, capacity: u32) {
        self.completed_tasks.push_back(TaskEntry::new(task));
        while self.completed_tasks.len() > capacity as usize {
            self.completed_tasks.pop_front();
        }
    }

    /// Returns whether the framework declared `capability`.
    pub fn has_capability(&self, capability: framework_info::capability::Type) -> bool {
        self.info
            .capabilities
            .iter()
            .any(|c| c.r#type == Some(capability as i32))
    }

    /// The capabilities the allocator filters offers by.
    pub fn allocator_capabilities(&self) -> crate::allocator::Capabilities {
        use framework_info::capability::Type;
        crate::allocator::Capabilities {
            revocable_resources: self.has_capability(Type::RevocableResources),
            gpu_resources: self.has_capability(Type::GpuResources),
            region_aware: self.has_capability(Type::RegionAware),
        }
    }
}

/// A framework's tasks on unreachable agents by task id, in the order
/// they were filed and bounded by `--max_unreachable_tasks_per_framework`
/// (upstream's `BoundedHashMap<TaskID, Owned<Task>>`): filing a task again
/// moves it to the end; beyond the capacity the oldest is dropped.
#[derive(Default)]
pub struct UnreachableTasks {
    by_id: std::collections::HashMap<String, (u64, mesos_proto::mesos::Task)>,
    order: std::collections::BTreeMap<u64, String>,
    next: u64,
}

impl UnreachableTasks {
    /// Files `task`, keeping at most `capacity` tasks.
    pub fn set(&mut self, task: mesos_proto::mesos::Task, capacity: u32) {
        if capacity == 0 {
            return;
        }
        let id = task.task_id.value.clone();
        if let Some((seq, _)) = self.by_id.remove(&id) {
            self.order.remove(&seq);
        } else if self.by_id.len() >= capacity as usize {
            if let Some((_, oldest)) = self.order.pop_first() {
                self.by_id.remove(&oldest);
            }
        }
        let seq = self.next;
        self.next += 1;
        self.order.insert(seq, id.clone());
        self.by_id.insert(id, (seq, task));
    }

    /// Removes and returns the task with this id.
    pub fn remove(&mut self, task_id: &str) -> Option<mesos_proto::mesos::Task> {
        let (seq, task) = self.by_id.remove(task_id)?;
        self.order.remove(&seq);
        Some(task)
    }

    /// Returns the task with this id.
    pub fn get(&self, task_id: &str) -> Option<&mesos_proto::mesos::Task> {
        self.by_id.get(task_id).map(|(_, task)| task)
    }

    /// Returns how many tasks are filed.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Returns whether no task is filed.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Returns the tasks, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &mesos_proto::mesos::Task> + '_ {
        self.order.values().filter_map(|id| self.get(id))
    }

    /// Removes and returns every task, oldest first.
    pub fn drain(&mut self) -> Vec<mesos_proto::mesos::Task> {
        let order = std::mem::take(&mut self.order);
        let mut by_id = std::mem::take(&mut self.by_id);
        order
            .into_values()
            .filter_map(|id| by_id.remove(&id).map(|(_, task)| task))
            .collect()
    }
}

/// A new tasks version (`Framework::tasks_version`).
fn next_tasks_version() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// An active task with its JSON as the state endpoints and the operator
/// API write it, kept until the task changes: most tasks do not change
/// between two `/master/state` (or `GET_STATE`) requests, so a document of
/// many tasks is mostly copied rather than written.
pub type TaskEntry = crate::kept::Kept<mesos_proto::mesos::Task, TaskJson>;

/// The JSON kept for a task: each document's is written the first time
/// that document lists the task after it was created or changed.
#[derive(Debug, Default)]
pub struct TaskJson {
    /// As the state endpoints write it (`/master/state`, `/master/tasks`).
    state: std::cell::OnceCell<Box<str>>,
    /// As the v1 operator API writes it (`mesos.v1.Task` in `GET_TASKS`).
    v1: std::cell::OnceCell<Box<str>>,
}

impl TaskEntry {
    /// Returns the task's JSON in the state endpoints, written by `write`
    /// the first time after the task was created or changed.
    pub fn json(&self, write: impl FnOnce(&mesos_proto::mesos::Task, &mut String)) -> &str {
        Self::kept(&self.renderings().state, self, write)
    }

    /// Whether its JSON in the state endpoints is written (and kept).
    pub fn json_written(&self) -> bool {
        self.is_written() && self.renderings().state.get().is_some()
    }

    /// Returns the task's JSON in the v1 operator API, written by `write`
    /// the first time after the task was created or changed.
    pub fn v1_json(&self, write: impl FnOnce(&mesos_proto::mesos::Task, &mut String)) -> &str {
        Self::kept(&self.renderings().v1, self, write)
    }

    fn kept<'a>(
        cell: &'a std::cell::OnceCell<Box<str>>,
        task: &mesos_proto::mesos::Task,
        write: impl FnOnce(&mesos_proto::mesos::Task, &mut String),
    ) -> &'a str {
        cell.get_or_init(|| {
            let mut out = String::new();
            write(task, &mut out);
            out.into_boxed_str()
        })
    }
}

/// The frameworks, by state.
#[derive(Default)]
pub struct Frameworks {
    /// Subscribed (connected or not) frameworks by id.
    pub registered: std::collections::HashMap<String, Framework>,
    /// Removed frameworks, oldest first, bounded by
    /// `--max_completed_frameworks`.
    pub completed: VecDeque<Framework>,
    next_id: u64,
}

/// Checks a `FrameworkInfo` as upstream's `validation::framework` does.
pub fn validate(info: &FrameworkInfo) -> Result<(), String> {
    let multi_role = info
        .capabilities
        .iter()
        .any(|c| c.r#type == Some(framework_info::capability::Type::MultiRole as i32));
    #[allow(deprecated)]
    let role = info.role.as_deref();
    if multi_role {
        if role.is_some() {
            return Err(
                "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable"
                    .into(),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for role in &info.roles {
            validate_role(role)?;
            if !seen.insert(role) {
                return Err(format!(
                    "'FrameworkInfo.roles' contains duplicate role '{role}'"
                ));
            }
        }
    } else {
        if !info.roles.is_empty() {
            return Err("'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable".into());
        }
        validate_role(role.unwrap_or("*"))?;
    }
    Ok(())
}

/// Checks a role name (upstream's `roles::validate`).
pub fn validate_role(role: &str) -> Result<(), String> {
    if role == "*" {
        return Ok(());
    }
    if role.is_empty() {
        return Err("Empty role name is invalid".into());
    }
    if role.starts_with('/') || role.ends_with('/') {
        return Err(format!("Role '{role}' cannot start or end with a slash"));
    }
    for component in role.split('/') {
        if component.is_empty() {
            return Err(format!("Role '{role}' cannot contain two adjacent slashes"));
        }
        if component == "." || component == ".." {
            return Err(format!(
                "Role '{role}' cannot be '.' or '..' or contain them as path components"
            ));
        }
        if component == "*" {
            return Err(format!(
                "Role '{role}' cannot contain '*' as a path component"
            ));
        }
        if component.starts_with('-') {
            return Err(format!("Role '{role}' cannot start with '-'"));
        }
        if component
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "Role '{role}' cannot contain whitespace or control characters"
            ));
        }
    }
    Ok(())
}

/// Returns a v0 `ERROR` event with `message`.
pub fn error_event(message: &str) -> Event {
    Event {
        r#type: Some(event::Type::Error as i32),
        error: Some(event::Error {
            message: message.to_string(),
        }),
        ..Default::default()
    }
}

impl Master {
    /// Upstream's `Master::validateFramework`: [`validate`], then the
    /// framework's roles against `--roles` when it is set.
    pub(crate) fn validate_framework(&self, info: &FrameworkInfo) -> Result<(), String> {
        validate(info)?;
        if let Some(whitelist) = &self.role_whitelist {
            let invalid: std::collections::BTreeSet<String> = Self::framework_roles(info)
                .into_iter()
                .filter(|role| !whitelist.contains(role))
                .collect();
            if !invalid.is_empty() {
                let list: Vec<String> = invalid.into_iter().collect();
                return Err(format!(
                    "Roles {{ {} }} are not present in the master's --roles",
                    list.join(", ")
                ));
            }
        }
        if info.user == "root" && !self.flags.root_submissions {
            return Err(
                "User 'root' is not allowed to run frameworks without --root_submissions set"
                    .into(),
            );
        }
        Ok(())
    }

    pub(crate) fn framework_error(&self, to: &UPID, message: &str) {
        if let Some(framework) = self
            .frameworks
            .registered
            .values()
            .find(|f| f.pid.as_ref() == Some(to))
        {
            framework.metrics.event(EventType::Error);
        }
        self.base().send(
            to,
            &FrameworkErrorMessage {
                message: message.to_string(),
            },
        );
    }

    fn base(&self) -> &libprocess::ProcessBase<Self> {
        libprocess::Process::base(self)
    }

    /// Counts an event sent to framework `id` (`events/<type>`).
    pub(crate) fn count_event(&self, id: &str, kind: EventType) {
        if let Some(framework) = self.frameworks.registered.get(id) {
            framework.metrics.event(kind);
        }
    }

    /// A framework known from now on, its metrics published unless
    /// `--publish_per_framework_metrics=false`.
    fn new_framework(
        &self,
        info: FrameworkInfo,
        pid: Option<UPID>,
        http: Option<HttpConnection>,
        now: f64,
    ) -> Framework {
        let registry = if self.flags.publish_per_framework_metrics {
            self.metrics.runtime().cloned()
        } else {
            None
        };
        Framework::new(info, pid, http, now, registry)
    }

    /// Handles a `mesos.scheduler.Call` from a libprocess driver.
    pub(crate) fn receive_call(&mut self, from: UPID, call: Call, ctx: &mut Context<Self>) {
        if !self.recovered() {
            tracing::info!(%from, "Dropping scheduler call: registry not recovered yet");
            self.metrics.dropped_messages.inc();
            return;
        }
        let kind = call.r#type();
        if kind == call::Type::Subscribe {
            let Some(subscribe) = call.subscribe else {
                self.framework_error(&from, "Expecting 'subscribe' to be present");
                return;
            };
            let force = subscribe.force.unwrap_or(false);
            self.subscribe(
                from,
                subscribe.framework_info,
                force,
                SubscribeOptions {
                    suppressed: subscribe.suppressed_roles,
                    offer_constraints: subscribe.offer_constraints.unwrap_or_default(),
                },
                ctx,
            );
            return;
        }
        let Some(id) = call.framework_id.as_ref().map(|id| id.value.clone()) else {
            tracing::warn!(%from, ?kind, "Dropping call without a framework id");
            return;
        };
        let Some(framework) = self.frameworks.registered.get(&id) else {
            tracing::warn!(%from, framework_id = %id, ?kind, "Dropping call of an unknown framework");
            return;
        };
        if framework.pid.as_ref() != Some(&from) {
            tracing::warn!(%from, framework_id = %id, ?kind, "Dropping call from an unexpected pid");
            return;
        }
        if !framework.connected {
            // The master saw the driver's socket close; tell the driver, so
            // it aborts and re-subscribes instead of talking into the void.
            self.framework_error(&from, "Framework disconnected");
            return;
        }
        framework.metrics.call(kind);
        if kind == call::Type::Teardown {
            self.metrics.messages_unregister_framework.inc();
            self.remove_framework(&id, ctx);
        } else if kind == call::Type::UpdateFramework {
            if let Some(update) = call.update_framework {
                if let Err(error) = self.update_framework(&id, update, ctx) {
                    self.framework_error(&from, &error);
                }
            }
        } else if matches!(
            kind,
            call::Type::AcknowledgeOperationStatus | call::Type::ReconcileOperations
        ) {
            // Operation feedback is for HTTP frameworks only (upstream
            // `Master::receive` drops these two).
            tracing::warn!(
                framework_id = %id,
                "Dropping {} call: '{}' is not supported by the v0 API",
                kind.as_str_name(),
                kind.as_str_name()
            );
        } else if !self.task_call(&id, call, ctx) {
            tracing::info!(framework_id = %id, call = ?kind, "Scheduler call not supported yet; dropping it");
        }
    }

    /// Subscribes (registers, re-registers or fails over) a v0 framework.
    pub(crate) fn subscribe(
        &mut self,
        from: UPID,
        mut info: FrameworkInfo,
        force: bool,
        options: SubscribeOptions,
        ctx: &mut Context<Self>,
    ) {
        if self.auth.in_progress(&from) {
            tracing::info!(%from, name = %info.name, "Queuing up SUBSCRIBE call because authentication is still in progress");
            let queued_from = from.clone();
            self.queue_while_authenticating(
                &from,
                Box::new(move |this, ctx| this.subscribe(queued_from, info, force, options, ctx)),
            );
            return;
        }
        if info.id.as_ref().is_some_and(|id| !id.value.is_empty()) {
            self.metrics.messages_reregister_framework.inc();
        } else {
            self.metrics.messages_register_framework.inc();
        }
        // Counted once the messages already queued are handled.
        self.refresh_gauges();
        if let Err(error) = self
            .validate_framework(&info)
            .and_then(|()| self.validate_framework_authentication(&info, &from))
            .and_then(|()| self.set_pending_options(&info, options))
        {
            tracing::warn!(%from, %error, "Refusing framework subscription");
            self.framework_error(&from, &error);
            return;
        }
        if info.principal.is_none() {
            if let Some(principal) = self.auth.authenticated.get(&from) {
                tracing::warn!(%from, %principal, "Setting 'principal' in FrameworkInfo because the framework authenticated with that principal but did not set it in FrameworkInfo");
                info.principal = Some(principal.clone());
            }
        }
        let now = libprocess::clock::now_secs();
        let master_info = self.info.clone();

        let Some(id) = info
            .id
            .as_ref()
            .map(|id| id.value.clone())
            .filter(|id| !id.is_empty())
        else {
            // A new framework, unless this is a retry of one that just
            // registered from the same pid.
            if let Some(existing) = self
                .frameworks
                .registered
                .values()
                .find(|f| f.pid.as_ref() == Some(&from) && f.connected)
            {
                let framework_id = existing.info.id.clone().unwrap_or_default();
                existing.metrics.event(EventType::Subscribed);
                self.base().send(
                    &from,
                    &FrameworkRegisteredMessage {
                        framework_id,
                        master_info,
                    },
                );
                return;
            }
            let id = format!("{}-{:04}", self.info.id, self.frameworks.next_id);
            self.frameworks.next_id += 1;
            info.id = Some(FrameworkId { value: id.clone() });
            tracing::info!(%from, framework_id = %id, name = %info.name, "Registering framework");
            self.base().link(&from);
            self.frameworks.registered.insert(
                id.clone(),
                self.new_framework(info, Some(from.clone()), None, now),
            );
            self.base().send(
                &from,
                &FrameworkRegisteredMessage {
                    framework_id: FrameworkId { value: id.clone() },
                    master_info,
                },
            );
            self.count_event(&id, EventType::Subscribed);
            self.framework_added(&id, ctx);
            self.notify_framework_added(&id);
            return;
        };

        if self.frameworks.completed.iter().any(|f| f.id() == id) {
            self.framework_error(&from, "Framework has been removed");
            return;
        }
        let framework_id = FrameworkId { value: id.clone() };
        match self.frameworks.registered.get_mut(&id) {
            Some(framework) => {
                if let Some(timer) = framework.failover_timer.take() {
                    timer.cancel();
                }
                if let Some(http) = framework.http.take() {
                    // An HTTP framework moving to the driver: end its stream.
                    framework.metrics.event(EventType::Error);
                    http.send(&error_event("Framework failed over"));
                }
                let old = framework.pid.replace(from.clone());
                let was_recovered = std::mem::replace(&mut framework.recovered, false);
                framework.info = info;
                framework.connected = true;
                framework.active = true;
                framework.unregistered_time = None;
                framework.reregistered_time = now;
                self.base().link(&from);
                match old {
                    // First subscription since the master learnt of it from
                    // an agent: a re-registration, as upstream answers.
                    _ if was_recovered => {
                        tracing::info!(%from, framework_id = %id, "Recovered framework re-registered");
                        self.base().send(
                            &from,
                            &FrameworkReregisteredMessage {
                                framework_id,
                                master_info,
                            },
                        );
                    }
                    Some(old) if old != from => {
                        tracing::info!(%from, %old, framework_id = %id, "Framework failed over");
                        self.framework_error(&old, "Framework failed over");
                        self.base().send(
                            &from,
                            &FrameworkRegisteredMessage {
                                framework_id,
                                master_info,
                            },
                        );
                    }
                    _ => {
                        tracing::info!(%from, framework_id = %id, force, "Framework re-registered");
                        self.base().send(
                            &from,
                            &FrameworkReregisteredMessage {
                                framework_id,
                                master_info,
                            },
                        );
                    }
                }
            }
            None => {
                // Known from before a master failover (or not at all): take
                // it back with its id.
                tracing::info!(%from, framework_id = %id, "Re-registering framework unknown to this master");
                self.base().link(&from);
                self.frameworks.registered.insert(
                    id.clone(),
                    self.new_framework(info, Some(from.clone()), None, now),
                );
                self.notify_framework_added(&id);
                self.base().send(
                    &from,
                    &FrameworkReregisteredMessage {
                        framework_id,
                        master_info,
                    },
                );
            }
        }
        self.count_event(&id, EventType::Subscribed);
        self.framework_added(&id, ctx);
        self.notify_framework_updated(&id);
    }

    /// Checks a SUBSCRIBE's suppressed roles and offer constraints against
    /// the framework's roles and keeps them for [`Self::framework_added`]
    /// (upstream `createAllocatorFrameworkOptions`).
    fn set_pending_options(
        &mut self,
        info: &FrameworkInfo,
        options: SubscribeOptions,
    ) -> Result<(), String> {
        let roles = Self::framework_roles(info);
        let filter = crate::offer_constraints::OfferConstraintsFilter::create(
            &options.offer_constraints,
            &roles,
        )?;
        self.pending_suppressed = options.suppressed;
        self.pending_offer_constraints =
            (options.offer_constraints, filter.map(std::sync::Arc::new));
        Ok(())
    }

    /// Tells the allocator about a (re-)subscribed framework and triggers
    /// an allocation.
    pub(crate) fn framework_added(&mut self, id: &str, ctx: &mut Context<Self>) {
        self.refresh_gauges();
        let Some(framework) = self.frameworks.registered.get(id) else {
            return;
        };
        let roles = Self::framework_roles(&framework.info);
        let active = framework.active;
        let capabilities = framework.allocator_capabilities();
        let suppressed = std::mem::take(&mut self.pending_suppressed);
        framework.metrics.set_roles(&roles, &suppressed);
        let (constraints, filter) = std::mem::take(&mut self.pending_offer_constraints);
        self.allocator.add_framework(id, roles, suppressed, active);
        self.allocator.set_capabilities(id, capabilities);
        self.allocator.set_offer_constraints(id, filter);
        if let Some(framework) = self.frameworks.registered.get_mut(id) {
            framework.offer_constraints = constraints;
        }
        if active {
            self.allocator.activate_framework(id);
        }
        self.schedule_allocation(ctx);
    }

    /// A v0 framework's connection broke: disconnect it and start its
    /// failover timeout. Returns whether `pid` was a framework.
    pub(crate) fn framework_exited(&mut self, pid: &UPID, ctx: &mut Context<Self>) -> bool {
        self.refresh_gauges();
        let Some(id) = self
            .frameworks
            .registered
            .values()
            .find(|f| f.pid.as_ref() == Some(pid))
            .map(|f| f.id().to_string())
        else {
            return false;
        };
        if self.disconnect_framework(&id, ctx) {
            self.count_event(&id, EventType::Error);
            self.base().send(
                pid,
                &FrameworkErrorMessage {
                    message: "Framework disconnected".into(),
                },
            );
        }
        true
    }

    /// An HTTP framework's subscription stream `stream_id` closed.
    pub(crate) fn http_framework_disconnected(
        &mut self,
        id: &str,
        stream_id: &str,
        ctx: &mut Context<Self>,
    ) {
        self.refresh_gauges();
        let current = self
            .frameworks
            .registered
            .get(id)
            .and_then(|f| f.http.as_ref())
            .is_some_and(|http| http.stream_id == stream_id);
        if current {
            self.disconnect_framework(id, ctx);
        }
    }

    /// Marks a framework disconnected and starts its failover timeout;
    /// returns whether it was connected.
    fn disconnect_framework(&mut self, id: &str, ctx: &mut Context<Self>) -> bool {
        let Some(framework) = self.frameworks.registered.get_mut(id) else {
            return false;
        };
        if !framework.connected {
            return false;
        }
        tracing::info!(framework_id = %id, "Framework disconnected");
        framework.connected = false;
        framework.active = false;
        // A framework authenticates again before it re-registers.
        if let Some(pid) = framework.pid.clone() {
            self.forget_authentication(&pid);
        }
        self.allocator.deactivate_framework(id);
        let owner = id.to_string();
        self.rescind_offers(|offer| offer.framework_id.value == owner);
        // Its outstanding inverse offers go too (it is asked again once
        // it is back).
        self.rescind_inverse_offers(|framework, _| framework == owner);
        let Some(framework) = self.frameworks.registered.get_mut(id) else {
            return false;
        };
        let now = libprocess::clock::now_secs();
        framework.unregistered_time = Some(now);
        let timeout = framework.info.failover_timeout.unwrap_or(0.0).max(0.0);
        let id = id.to_string();
        framework.failover_timer = Some(self.base.delay(
            std::time::Duration::from_secs_f64(timeout.min(1e9)),
            &ctx.address(),
            move |this, ctx| this.framework_failover_timeout(&id, now, ctx),
        ));
        true
    }

    /// Subscribes an HTTP framework with the stream `connection`; returns
    /// its id, or why it was refused.
    pub(crate) fn subscribe_http(
        &mut self,
        mut info: FrameworkInfo,
        options: SubscribeOptions,
        connection: HttpConnection,
        ctx: &mut Context<Self>,
    ) -> Result<String, String> {
        self.refresh_gauges();
        self.validate_framework(&info)?;
        self.set_pending_options(&info, options)?;
        let now = libprocess::clock::now_secs();
        let resubscribing = info.id.as_ref().is_some_and(|id| !id.value.is_empty());
        let id = match info
            .id
            .as_ref()
            .map(|id| id.value.clone())
            .filter(|id| !id.is_empty())
        {
            Some(id) => {
                if self.frameworks.completed.iter().any(|f| f.id() == id) {
                    return Err("Framework has been removed".into());
                }
                id
            }
            None => {
                let id = format!("{}-{:04}", self.info.id, self.frameworks.next_id);
                self.frameworks.next_id += 1;
                info.id = Some(FrameworkId { value: id.clone() });
                id
            }
        };
        let subscribed = Event {
            r#type: Some(event::Type::Subscribed as i32),
            subscribed: Some(event::Subscribed {
                framework_id: FrameworkId { value: id.clone() },
                heartbeat_interval_seconds: Some(
                    crate::scheduler_http::HEARTBEAT_INTERVAL.as_secs_f64(),
                ),
                master_info: Some(self.info.clone()),
            }),
            ..Default::default()
        };
        connection.send(&subscribed);
        match self.frameworks.registered.get_mut(&id) {
            Some(framework) => {
                tracing::info!(framework_id = %id, "HTTP framework re-subscribed");
                if let Some(timer) = framework.failover_timer.take() {
                    timer.cancel();
                }
                if let Some(old) = framework.http.replace(connection) {
                    framework.metrics.event(EventType::Error);
                    old.send(&error_event("Framework failed over"));
                }
                if let Some(old) = framework.pid.take() {
                    self.framework_error(&old, "Framework failed over");
                }
                let framework = self
                    .frameworks
                    .registered
                    .get_mut(&id)
                    .expect("present above");
                framework.info = info;
                framework.connected = true;
                framework.active = true;
                framework.unregistered_time = None;
                framework.reregistered_time = now;
            }
            None => {
                tracing::info!(framework_id = %id, name = %info.name, "HTTP framework subscribed");
                self.frameworks.registered.insert(
                    id.clone(),
                    self.new_framework(info, None, Some(connection), now),
                );
                self.notify_framework_added(&id);
            }
        }
        self.count_event(&id, EventType::Subscribed);
        self.framework_added(&id, ctx);
        if resubscribing {
            self.notify_framework_updated(&id);
        }
        Ok(id)
    }

    fn framework_failover_timeout(
        &mut self,
        id: &str,
        disconnected_at: f64,
        ctx: &mut Context<Self>,
    ) {
        let still_gone = self
            .frameworks
            .registered
            .get(id)
            .is_some_and(|f| !f.connected && f.unregistered_time == Some(disconnected_at));
        if still_gone {
            tracing::info!(framework_id = %id, "Framework failover timeout; removing it");
            self.remove_framework(id, ctx);
        }
    }

    /// Removes a framework: its tasks are shut down on the agents and it
    /// moves to the completed frameworks.
    pub(crate) fn remove_framework(&mut self, id: &str, _ctx: &mut Context<Self>) {
        self.refresh_gauges();
        self.framework_gone_for_inverse_offers(id);
        let Some(mut framework) = self.frameworks.registered.remove(id) else {
            return;
        };
        tracing::info!(framework_id = %id, "Removing framework");
        if let Some(timer) = framework.failover_timer.take() {
            timer.cancel();
        }
        if let Some(pid) = &framework.pid {
            // As upstream's disconnect on removal: authenticate again first.
            self.auth.authenticated.remove(pid);
        }
        let owner = id.to_string();
        let offers: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, s)| s.offer.framework_id.value == owner)
            .map(|(offer_id, _)| offer_id.clone())
            .collect();
        for offer_id in offers {
            self.remove_offer(&offer_id, false);
        }
        let now = libprocess::clock::elapsed();
        // As upstream, the framework's tasks are marked killed (without an
        // update to anyone: the framework is gone) and become completed.
        let mut task_ids: Vec<String> = framework.tasks().keys().cloned().collect();
        task_ids.sort();
        let timestamp = libprocess::clock::now_secs();
        for task_id in task_ids {
            let Some(mut task) = framework.tasks_mut().remove(&task_id) else {
                continue;
            };
            let terminal = TaskState::try_from(task.state).is_ok_and(TaskState::is_terminal);
            self.gauges.task_removed(&task);
            framework.metrics.task_left(task.state);
            if !terminal {
                self.metrics.task_terminated(
                    TaskState::TaskKilled,
                    Some(task_status::Source::Master as i32),
                    Some(task_status::Reason::FrameworkRemoved as i32),
                );
                let resources = mesos_proto::resources::Resources::from(task.resources.clone());
                self.allocator
                    .recover_resources(id, &task.slave_id.value, &resources, None, now);
            }
            let status = TaskStatus {
                task_id: task.task_id.clone(),
                state: TaskState::TaskKilled as i32,
                message: Some(format!("Framework {id} removed")),
                source: Some(task_status::Source::Master as i32),
                reason: Some(task_status::Reason::FrameworkRemoved as i32),
                slave_id: Some(task.slave_id.clone()),
                executor_id: task.executor_id.clone(),
                timestamp: Some(timestamp),
                ..Default::default()
            };
            if Self::record_status(&mut task, TaskState::TaskKilled, &status) {
                self.publish(|| crate::subscribers::task_updated(&task, &status));
            }
            framework.completed_tasks.push_back(*task);
        }
        // Its tasks on unreachable agents too (upstream uses TASK_KILLED
        // here as well, MESOS-6608).
        for mut task in framework.unreachable_tasks.drain() {
            let status = TaskStatus {
                task_id: task.task_id.clone(),
                state: TaskState::TaskKilled as i32,
                message: Some(format!("Framework {id} removed")),
                source: Some(task_status::Source::Master as i32),
                reason: Some(task_status::Reason::FrameworkRemoved as i32),
                slave_id: Some(task.slave_id.clone()),
                executor_id: task.executor_id.clone(),
                timestamp: Some(timestamp),
                ..Default::default()
            };
            // TASK_UNREACHABLE is not terminal: the task becomes killed.
            if Self::record_status(&mut task, TaskState::TaskKilled, &status) {
                self.publish(|| crate::subscribers::task_updated(&task, &status));
            }
            framework.completed_tasks.push_back(TaskEntry::new(task));
        }
        while framework.completed_tasks.len()
            > self.flags.max_completed_tasks_per_framework as usize
        {
            framework.completed_tasks.pop_front();
        }
        for (slave_id, executors) in &framework.executors {
            for executor in executors.values() {
                self.gauges.executor_changed(&executor.resources, -1);
                let resources = mesos_proto::resources::Resources::from(executor.resources.clone());
                self.allocator
                    .recover_resources(id, slave_id, &resources, None, now);
            }
        }
        self.allocator.remove_framework(id);
        framework.connected = false;
        framework.active = false;
        framework
            .unregistered_time
            .get_or_insert_with(libprocess::clock::now_secs);
        // Dropping the connection ends the subscription stream.
        framework.http = None;
        let message = ShutdownFrameworkMessage {
            framework_id: FrameworkId {
                value: id.to_string(),
            },
        };
        let agents: Vec<UPID> = self
            .slaves
            .registered
            .values()
            .map(|s| s.pid.clone())
            .collect();
        for agent in agents {
            self.base().send(&agent, &message);
        }
        let info = framework.info.clone();
        self.frameworks.completed.push_back(framework);
        while self.frameworks.completed.len() > self.flags.max_completed_frameworks as usize {
            self.frameworks.completed.pop_front();
        }
        self.publish(|| crate::subscribers::framework_removed(&info));
    }

    /// UPDATE_FRAMEWORK: a new `FrameworkInfo` (roles, name, capabilities,
    /// ...) and set of suppressed roles, as upstream's
    /// `Master::updateFramework`. Offers for roles the framework left or
    /// suppressed are rescinded; agents running its tasks learn the new
    /// info. Changing the user, principal or checkpointing is refused, as
    /// upstream refuses it.
    pub(crate) fn update_framework(
        &mut self,
        id: &str,
        update: call::UpdateFramework,
        ctx: &mut Context<Self>,
    ) -> Result<(), String> {
        let mut info = update.framework_info;
        if info.id.as_ref().map(|i| i.value.as_str()) != Some(id) {
            return Err("'framework_info.id' must match the framework's id".into());
        }
        self.validate_framework(&info)?;
        let constraints = update.offer_constraints.unwrap_or_default();
        let filter = crate::offer_constraints::OfferConstraintsFilter::create(
            &constraints,
            &Self::framework_roles(&info),
        )?
        .map(std::sync::Arc::new);
        let Some(framework) = self.frameworks.registered.get_mut(id) else {
            return Err(format!("Framework '{id}' cannot be found"));
        };
        if info.user != framework.info.user {
            return Err("Updating 'FrameworkInfo.user' is unsupported".into());
        }
        if info.principal != framework.info.principal {
            return Err("Updating 'FrameworkInfo.principal' is unsupported".into());
        }
        if info.checkpoint.unwrap_or(false) != framework.info.checkpoint.unwrap_or(false) {
            return Err("Updating 'FrameworkInfo.checkpoint' is unsupported".into());
        }
        info.id = framework.info.id.clone();
        let changed = framework.info != info || framework.offer_constraints != constraints;
        framework.info = info.clone();
        framework.offer_constraints = constraints;
        let roles = Self::framework_roles(&info);
        let active = framework.active;
        let suppressed = update.suppressed_roles;
        let agents: std::collections::HashSet<String> = framework
            .tasks()
            .values()
            .map(|t| t.slave_id.value.clone())
            .collect();
        let pid = framework.pid.clone().unwrap_or_default().to_string();
        framework.metrics.set_roles(&roles, &suppressed);
        self.allocator
            .add_framework(id, roles.clone(), suppressed.clone(), active);
        self.allocator
            .set_capabilities(id, framework.allocator_capabilities());
        self.allocator.set_offer_constraints(id, filter.clone());
        let owner = id.to_string();
        // Offers of agents the new constraints exclude go too.
        let excluded: std::collections::HashSet<(String, String)> = match &filter {
            Some(filter) => self
                .offers
                .values()
                .filter(|o| o.offer.framework_id.value == owner)
                .filter_map(|o| {
                    let role = o.offer.allocation_info.as_ref()?.role.clone()?;
                    let slave = self.slaves.registered.get(&o.offer.slave_id.value)?;
                    filter
                        .excludes(&role, &slave.info)
                        .then(|| (o.offer.slave_id.value.clone(), role))
                })
                .collect(),
            None => Default::default(),
        };
        self.rescind_offers(|offer| {
            let role = offer
                .allocation_info
                .as_ref()
                .and_then(|a| a.role.clone())
                .unwrap_or_default();
            offer.framework_id.value == owner
                && (!roles.contains(&role)
                    || suppressed.contains(&role)
                    || excluded.contains(&(offer.slave_id.value.clone(), role)))
        });
        let message = mesos_proto::mesos::internal::UpdateFrameworkMessage {
            framework_id: FrameworkId {
                value: id.to_string(),
            },
            pid: Some(pid),
            framework_info: Some(info),
        };
        for agent in agents {
            if let Some(slave) = self.slaves.registered.get(&agent) {
                self.base().send(&slave.pid, &message);
            }
        }
        self.schedule_allocation(ctx);
        if changed {
            self.notify_framework_updated(id);
        }
        Ok(())
    }

    /// Records frameworks an agent reported when re-registering that this
    /// master does not know (after a failover), so they are listed and can
    /// be torn down (MESOS-6419) until they re-subscribe.
    pub(crate) fn recover_frameworks(&mut self, infos: &[FrameworkInfo]) {
        self.refresh_gauges();
        let now = libprocess::clock::now_secs();
        for info in infos {
            let Some(id) = info.id.as_ref().map(|id| id.value.clone()) else {
                continue;
            };
            if self.frameworks.registered.contains_key(&id)
                || self.frameworks.completed.iter().any(|f| f.id() == id)
            {
                continue;
            }
            tracing::info!(framework_id = %id, "Recovered framework from a re-registering agent");
            let mut framework = self.new_framework(info.clone(), None, None, now);
            framework.connected = false;
            framework.active = false;
            framework.recovered = true;
            framework.unregistered_time = Some(now);
            self.frameworks.registered.insert(id.clone(), framework);
            self.notify_framework_added(&id);
        }
    }

    pub(crate) fn install_framework_handlers(&mut self) {
        let base = libprocess::Process::base_mut(self);
        base.install::<Call>(|this, ctx, from, call| this.receive_call(from, call, ctx));
        base.install::<RegisterFrameworkMessage>(|this, ctx, from, message| {
            if this.recovered() {
                this.subscribe(
                    from,
                    message.framework,
                    false,
                    SubscribeOptions::default(),
                    ctx,
                );
            } else {
                this.metrics.dropped_messages.inc();
            }
        });
        base.install::<ReregisterFrameworkMessage>(|this, ctx, from, message| {
            if this.recovered() {
                this.subscribe(
                    from,
                    message.framework,
                    message.failover,
                    SubscribeOptions::default(),
                    ctx,
                );
            } else {
                this.metrics.dropped_messages.inc();
            }
        });
        base.install::<UnregisterFrameworkMessage>(|this, ctx, from, message| {
            this.metrics.messages_unregister_framework.inc();
            let id = message.framework_id.value;
            if this
                .frameworks
                .registered
                .get(&id)
                .is_some_and(|f| f.pid.as_ref() == Some(&from))
            {
                this.remove_framework(&id, ctx);
            }
        });
        base.install::<DeactivateFrameworkMessage>(|this, _ctx, from, message| {
            this.metrics.messages_deactivate_framework.inc();
            if let Some(framework) = this
                .frameworks
                .registered
                .get_mut(&message.framework_id.value)
            {
                if framework.pid.as_ref() == Some(&from) {
                    framework.active = false;
                }
                this.refresh_gauges();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_validated_as_upstream() {
        for good in ["*", "web", "a/b", "eng-1", "a.b"] {
            assert!(validate_role(good).is_ok(), "{good}");
        }
        for bad in ["", "/a", "a/", "a//b", ".", "a/../b", "-a", "a b", "a/*"] {
            assert!(validate_role(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn multi_role_frameworks_use_roles_only() {
        let mut info = FrameworkInfo {
            user: "u".into(),
            name: "n".into(),
            ..Default::default()
        };
        info.capabilities.push(framework_info::Capability {
            r#type: Some(framework_info::capability::Type::MultiRole as i32),
        });
        info.roles = vec!["a".into(), "b".into()];
        assert!(validate(&info).is_ok());
        info.roles.push("a".into());
        assert!(validate(&info).unwrap_err().contains("duplicate"));
        #[allow(deprecated)]
        {
            info.roles.clear();
            info.role = Some("a".into());
        }
        assert!(validate(&info).is_err());
    }

    #[test]
    fn a_task_entry_writes_its_json_again_only_after_a_change() {
        use mesos_proto::mesos::Task;
        let mut entry = TaskEntry::new(Task {
            state: TaskState::TaskStaging as i32,
            ..Default::default()
        });
        let writes = std::cell::Cell::new(0);
        let write = |task: &Task, out: &mut String| {
            writes.set(writes.get() + 1);
            out.push_str(&task.state.to_string());
        };
        assert_eq!(entry.json(write), "6");
        assert_eq!(entry.json(write), "6");
        assert_eq!(writes.get(), 1);
        // Reading through `Deref` keeps the JSON; any mutable access drops it.
        assert_eq!(entry.state, TaskState::TaskStaging as i32);
        entry.state = TaskState::TaskRunning as i32;
        assert_eq!(entry.json(write), "1");
        assert_eq!(writes.get(), 2);
        // The operator API's JSON is kept beside it, and dropped with it.
        assert_eq!(entry.v1_json(|_, out| out.push_str("v1")), "v1");
        assert_eq!(entry.v1_json(|_, _| unreachable!("kept")), "v1");
        assert_eq!(entry.json(|_, _| unreachable!("kept")), "1");
        entry.state = TaskState::TaskFinished as i32;
        assert_eq!(entry.v1_json(|_, out| out.push_str("v1 again")), "v1 again");
        assert_eq!(entry.json(write), "2");
        assert_eq!(writes.get(), 3);
    }
}
