//! Offers and tasks: allocation into offers, DECLINE/REVIVE/SUPPRESS,
//! ACCEPT with LAUNCH and LAUNCH_GROUP, status updates and their
//! acknowledgements, KILL, RECONCILE, framework messages (also as the
//! `FrameworkToExecutorMessage` older drivers send the master), SHUTDOWN.
//!
//! Upstream counterpart: `Master::offer`, `accept`/`_accept`, `decline`,
//! `revive`, `suppress`, `kill`, `reconcile`, `statusUpdate`/`forward`,
//! `acknowledge`, `message`, `frameworkToExecutorMessage`, `shutdown` and
//! `removeOffer` in `src/master/master.cpp`; task, executor and offer
//! validation in `src/master/validation.cpp`.
//!
//! Offers go to v0 drivers as `ResourceOffersMessage` (one `pids` entry,
//! the agent's UPID, per offer) and to HTTP frameworks as `OFFERS` events.
//! Resources unused by an ACCEPT, or declined, go back to the allocator
//! with the framework's `refuse_seconds` filter (default 5 s). Status
//! updates from agents are forwarded to connected frameworks (v0:
//! `StatusUpdateMessage` with the agent's pid; HTTP: `UPDATE`) and the
//! framework's acknowledgement goes back to the agent; updates for a
//! disconnected framework are dropped, and the agent retries. RESERVE,
//! UNRESERVE, CREATE, DESTROY, GROW_VOLUME and SHRINK_VOLUME are applied
//! in order with the launches ([`crate::operations`]); an invalid one
//! (CREATE_DISK and DESTROY_DISK always are: they need resource providers)
//! is dropped and the rest of the ACCEPT goes on, as upstream.

use std::collections::BTreeMap;
use std::time::Duration;

use actix::{AsyncContext as _, Context};
use libprocess::UPID;
use mesos_proto::mesos::internal::{
    ExecutorToFrameworkMessage, FrameworkToExecutorMessage, KillTaskMessage, LostSlaveMessage,
    RescindResourceOfferMessage, ResourceOffersMessage, RunTaskGroupMessage, RunTaskMessage,
    ShutdownExecutorMessage, StatusUpdate, StatusUpdateAcknowledgementMessage, StatusUpdateMessage,
};
use mesos_proto::mesos::scheduler::{call, event, Event};
use mesos_proto::mesos::{
    container_info, executor_info, framework_info, health_check, offer, resource, slave_info,
    task_status, Address, ContainerInfo, ExecutorInfo, FrameworkId, Offer, OfferId, Resource,
    SlaveId, Task, TaskGroupInfo, TaskId, TaskInfo, TaskState, TaskStatus, Url,
};
use mesos_proto::resources::Resources;

use crate::frameworks::TaskEntry;
use crate::master::Master;

/// Upstream's default `Filters.refuse_seconds`.
pub const DEFAULT_REFUSE: Duration = Duration::from_secs(5);

/// An outstanding offer.
pub struct OfferState {
    /// The offer as sent.
    pub offer: Offer,
    /// Its resources, as the allocator gave them.
    pub resources: Resources,
}

/// Why an agent left the master, which decides what its tasks become.
#[derive(Debug, Clone, Copy)]
pub enum AgentLeft {
    /// Marked unreachable (health checks, or not re-registered after a
    /// failover) at this time.
    Unreachable(mesos_proto::mesos::TimeInfo),
    /// Marked gone by the operator (`MARK_AGENT_GONE`).
    Gone,
    /// Removed: it unregistered, or a new agent registered at its address.
    Removed,
}

impl AgentLeft {
    /// Returns the state and reason its tasks are reported with.
    pub fn task_state(&self, partition_aware: bool) -> (TaskState, task_status::Reason) {
        use task_status::Reason;
        match self {
            Self::Unreachable(_) if partition_aware => {
                (TaskState::TaskUnreachable, Reason::SlaveRemoved)
            }
            Self::Gone if partition_aware => (
                TaskState::TaskGoneByOperator,
                Reason::SlaveRemovedByOperator,
            ),
            // Upstream's `_removeSlave` reports TASK_LOST to every framework.
            _ => (TaskState::TaskLost, Reason::SlaveRemoved),
        }
    }
}

impl Master {
    /// Roles a framework is offered resources for.
    pub(crate) fn framework_roles(info: &mesos_proto::mesos::FrameworkInfo) -> Vec<String> {
        let multi_role = info
            .capabilities
            .iter()
            .any(|c| c.r#type == Some(framework_info::capability::Type::MultiRole as i32));
        if multi_role {
            info.roles.clone()
        } else {
            #[allow(deprecated)]
            let role = info.role.clone().unwrap_or_else(|| "*".to_string());
            vec![role]
        }
    }

    /// Runs an allocation cycle soon (batched with other triggers).
    pub(crate) fn schedule_allocation(&mut self, ctx: &mut Context<Self>) {
        if self.allocation_pending {
            return;
        }
        self.allocation_pending = true;
        let requested = libprocess::clock::elapsed();
        self.base
            .dispatch(&ctx.address(), move |master: &mut Master, ctx| {
                master.allocation_pending = false;
                let waited = libprocess::clock::elapsed().saturating_sub(requested);
                master.metrics.allocation_run_latency.record(waited);
                master.allocate(ctx);
            });
    }

    /// The periodic allocation (`--allocation_interval`).
    pub(crate) fn allocation_tick(&mut self, ctx: &mut Context<Self>) {
        self.allocate(ctx);
        self.base.delay(
            self.flags.allocation_interval,
            &ctx.address(),
            |master, ctx| master.allocation_tick(ctx),
        );
    }

    fn allocate(&mut self, ctx: &mut Context<Self>) {
        if self.allocation_paused_for.is_some() {
            tracing::debug!("Skipped allocation because the allocator is paused");
            return;
        }
        let now = libprocess::clock::elapsed();
        self.send_inverse_offers(now);
        let allocations = self
            .metrics
            .allocation_run
            .time_sync(|| self.allocator.allocate(now));
        self.metrics.allocation_runs.inc();
        let mut by_framework: std::collections::BTreeMap<String, Vec<(Offer, UPID)>> =
            Default::default();
        for allocation in allocations {
            let Some(slave) = self.slaves.registered.get(&allocation.slave_id) else {
                self.allocator.recover_resources(
                    &allocation.framework_id,
                    &allocation.slave_id,
                    &allocation.resources,
                    None,
                    now,
                );
                continue;
            };
            let connected = self
                .frameworks
                .registered
                .get(&allocation.framework_id)
                .is_some_and(|f| f.connected);
            if !connected {
                self.allocator.recover_resources(
                    &allocation.framework_id,
                    &allocation.slave_id,
                    &allocation.resources,
                    None,
                    now,
                );
                continue;
            }
            let id = format!("{}-O{}", self.info.id, self.next_offer_id);
            self.next_offer_id += 1;
            let offer = Offer {
                id: OfferId { value: id.clone() },
                framework_id: FrameworkId {
                    value: allocation.framework_id.clone(),
                },
                slave_id: SlaveId {
                    value: allocation.slave_id.clone(),
                },
                hostname: slave.info.hostname.clone(),
                url: Some(Url {
                    scheme: "http".into(),
                    address: Address {
                        hostname: Some(slave.info.hostname.clone()),
                        ip: Some(slave.pid.ip.to_string()),
                        port: i32::from(slave.pid.port),
                    },
                    path: Some(format!("/{}", slave.pid.id)),
                    ..Default::default()
                }),
                domain: slave.info.domain.clone(),
                resources: allocation.resources.to_vec(),
                attributes: slave.info.attributes.clone(),
                executor_ids: vec![],
                unavailability: self
                    .maintenance
                    .unavailability(&slave.info.hostname, &slave.pid.ip.to_string()),
                allocation_info: Some(resource::AllocationInfo {
                    role: Some(allocation.role.clone()),
                }),
            };
            by_framework
                .entry(allocation.framework_id.clone())
                .or_default()
                .push((offer.clone(), slave.pid.clone()));
            self.gauges.offered.add(allocation.resources.iter(), 1);
            self.offers.insert(
                id.clone(),
                OfferState {
                    offer,
                    resources: allocation.resources,
                },
            );
            if let Some(timeout) = self.flags.offer_timeout {
                self.base.delay(timeout, &ctx.address(), move |master, _| {
                    master.remove_offer(&id, true)
                });
            }
        }
        self.offers_changed();
        for (framework_id, offers) in by_framework {
            let Some(framework) = self.frameworks.registered.get(&framework_id) else {
                continue;
            };
            tracing::debug!(%framework_id, count = offers.len(), "Sending offers");
            framework.metrics.event(event::Type::Offers);
            framework.metrics.offers_sent.add(offers.len() as u64);
            if let Some(pid) = &framework.pid {
                let message = ResourceOffersMessage {
                    pids: offers.iter().map(|(_, agent)| agent.to_string()).collect(),
                    offers: offers.into_iter().map(|(offer, _)| offer).collect(),
                };
                libprocess::Process::base(self).send(pid, &message);
            } else if let Some(http) = &framework.http {
                http.send(&Event {
                    r#type: Some(event::Type::Offers as i32),
                    offers: Some(event::Offers {
                        offers: offers.into_iter().map(|(offer, _)| offer).collect(),
                    }),
                    ..Default::default()
                });
            }
        }
    }

    /// Refreshes `master/outstanding_offers`.
    fn offers_changed(&self) {
        self.gauges.outstanding_offers.store(
            self.offers.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        self.refresh_allocator_metrics();
    }

    /// Accounts for an offer that left [`Master::offers`].
    fn offer_removed(&self, state: &OfferState) {
        self.gauges.offered.add(state.resources.iter(), -1);
        self.offers_changed();
    }

    /// Withdraws an offer: the framework is told (`rescind`) and the
    /// resources go back to the allocator.
    pub(crate) fn remove_offer(&mut self, offer_id: &str, rescind: bool) {
        let Some(state) = self.offers.remove(offer_id) else {
            return;
        };
        self.offer_removed(&state);
        let framework_id = state.offer.framework_id.value.clone();
        self.allocator.recover_resources(
            &framework_id,
            &state.offer.slave_id.value,
            &state.resources,
            None,
            libprocess::clock::elapsed(),
        );
        if !rescind {
            return;
        }
        let Some(framework) = self.frameworks.registered.get(&framework_id) else {
            return;
        };
        framework.metrics.offers_rescinded.inc();
        framework.metrics.event(event::Type::Rescind);
        if let Some(pid) = &framework.pid {
            libprocess::Process::base(self).send(
                pid,
                &RescindResourceOfferMessage {
                    offer_id: state.offer.id.clone(),
                },
            );
        } else if let Some(http) = &framework.http {
            http.send(&Event {
                r#type: Some(event::Type::Rescind as i32),
                rescind: Some(event::Rescind {
                    offer_id: state.offer.id.clone(),
                }),
                ..Default::default()
            });
        }
    }

    /// Rescinds every offer matching `predicate`.
    pub(crate) fn rescind_offers(&mut self, predicate: impl Fn(&Offer) -> bool) {
        let ids: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, s)| predicate(&s.offer))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.remove_offer(&id, true);
        }
    }

    /// Sends a status update to a framework (v0 message or HTTP `UPDATE`);
    /// `agent` is the acknowledgee (`None` for master-generated updates).
    pub(crate) fn forward_update(
        &self,
        framework_id: &str,
        update: StatusUpdate,
        agent: Option<&UPID>,
    ) {
        let Some(framework) = self.frameworks.registered.get(framework_id) else {
            return;
        };
        if !framework.connected {
            return;
        }
        framework.metrics.event(event::Type::Update);
        if let Some(pid) = &framework.pid {
            let message = StatusUpdateMessage {
                update,
                pid: Some(agent.cloned().unwrap_or_default().to_string()),
            };
            libprocess::Process::base(self).send(pid, &message);
        } else if let Some(http) = &framework.http {
            let mut status = update.status;
            if status.uuid.is_none() {
                status.uuid = update.uuid;
            }
            http.send(&Event {
                r#type: Some(event::Type::Update as i32),
                update: Some(event::Update { status }),
                ..Default::default()
            });
        }
    }

    /// Builds and sends a master-generated update (no uuid: not
    /// acknowledged).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_master_update(
        &self,
        framework_id: &str,
        task_id: &TaskId,
        slave_id: Option<&str>,
        state: TaskState,
        reason: task_status::Reason,
        message: &str,
    ) {
        let update = self.master_update(framework_id, task_id, slave_id, state, reason, message);
        self.forward_update(framework_id, update, None);
    }

    /// Returns an update generated by the master (no uuid, so not
    /// acknowledged).
    fn master_update(
        &self,
        framework_id: &str,
        task_id: &TaskId,
        slave_id: Option<&str>,
        state: TaskState,
        reason: task_status::Reason,
        message: &str,
    ) -> StatusUpdate {
        let now = libprocess::clock::now_secs();
        StatusUpdate {
            framework_id: FrameworkId {
                value: framework_id.to_string(),
            },
            executor_id: None,
            slave_id: slave_id.map(|id| SlaveId {
                value: id.to_string(),
            }),
            status: TaskStatus {
                task_id: task_id.clone(),
                state: state as i32,
                message: Some(message.to_string()),
                source: Some(task_status::Source::Master as i32),
                reason: Some(reason as i32),
                slave_id: slave_id.map(|id| SlaveId {
                    value: id.to_string(),
                }),
                timestamp: Some(now),
                ..Default::default()
            },
            timestamp: now,
            uuid: None,
            latest_state: None,
        }
    }

    /// Returns a master-generated update telling what the master knows of
    /// a task ([`latest_task_facts`]).
    fn facts_update(
        &self,
        framework_id: &str,
        facts: TaskStatus,
        reason: task_status::Reason,
        message: &str,
    ) -> StatusUpdate {
        let mut update = self.master_update(
            framework_id,
            &facts.task_id,
            facts.slave_id.as_ref().map(|s| s.value.as_str()),
            facts.state(),
            reason,
            message,
        );
        update.executor_id = facts.executor_id.clone();
        update.status.executor_id = facts.executor_id;
        update.status.healthy = facts.healthy;
        update.status.check_status = facts.check_status;
        update.status.container_status = facts.container_status;
        update
    }

    /// An agent the master had marked unreachable (or did not know)
    /// re-registered (upstream `__reregisterSlave`): the frameworks hear of
    /// each task it reported, in the state it reported, with
    /// `REASON_SLAVE_REREGISTERED`, whether they are partition-aware or
    /// not, and the copies the master filed when the agent left are
    /// dropped (MESOS-9940). Tasks of completed frameworks are left out.
    pub(crate) fn tasks_reachable_again(
        &mut self,
        slave_id: &str,
        tasks: &[Task],
        was_unreachable: bool,
    ) {
        let message = if was_unreachable {
            // Upstream's wording, typo included.
            "Unreachable agent re-reregistered"
        } else {
            "Unknown agent reregistered"
        };
        let mut updates = Vec::new();
        for task in tasks {
            let framework_id = task.framework_id.value.as_str();
            let Some(framework) = self.frameworks.registered.get_mut(framework_id) else {
                continue;
            };
            framework.unreachable_tasks.remove(&task.task_id.value);
            framework
                .completed_tasks
                .retain(|t| t.task_id != task.task_id);
            let mut facts = latest_task_facts(task);
            facts.slave_id = Some(SlaveId {
                value: slave_id.to_string(),
            });
            updates.push((framework_id.to_string(), facts));
        }
        for (framework_id, facts) in updates {
            let update = self.facts_update(
                &framework_id,
                facts,
                task_status::Reason::SlaveReregistered,
                message,
            );
            self.forward_update(&framework_id, update, None);
        }
        // Every task filed when the agent became unreachable is back or
        // gone for good.
        self.forget_unreachable_tasks(slave_id);
    }

    /// Forgets the tasks filed as unreachable when agent `slave_id` was
    /// marked unreachable (it came back or was pruned from the registry).
    pub(crate) fn forget_unreachable_tasks(&mut self, slave_id: &str) {
        let Some(by_framework) = self.slaves.unreachable_tasks.remove(slave_id) else {
            return;
        };
        for (framework_id, task_ids) in by_framework {
            if let Some(framework) = self.frameworks.registered.get_mut(&framework_id) {
                for task_id in task_ids {
                    framework.unreachable_tasks.remove(&task_id);
                }
            }
        }
    }

    /// An unreachable agent was marked gone (upstream `Master::markGone`):
    /// the tasks filed when it became unreachable become
    /// `TASK_GONE_BY_OPERATOR` (`TASK_LOST` for frameworks that are not
    /// partition-aware) and completed, and their frameworks are told.
    pub(crate) fn unreachable_tasks_gone(&mut self, slave_id: &str, message: &str) {
        let Some(by_framework) = self.slaves.unreachable_tasks.remove(slave_id) else {
            return;
        };
        let mut by_framework: Vec<_> = by_framework.into_iter().collect();
        by_framework.sort();
        let now = libprocess::clock::now_secs();
        let mut updates = Vec::new();
        let mut events = Vec::new();
        for (framework_id, task_ids) in by_framework {
            let Some(framework) = self.frameworks.registered.get_mut(&framework_id) else {
                continue;
            };
            let partition_aware =
                framework.has_capability(framework_info::capability::Type::PartitionAware);
            let (state, reason) = AgentLeft::Gone.task_state(partition_aware);
            for task_id in task_ids {
                let Some(mut task) = framework.unreachable_tasks.remove(&task_id) else {
                    continue;
                };
                let status = TaskStatus {
                    task_id: task.task_id.clone(),
                    state: state as i32,
                    message: Some(message.to_string()),
                    source: Some(task_status::Source::Master as i32),
                    reason: Some(reason as i32),
                    slave_id: Some(task.slave_id.clone()),
                    executor_id: task.executor_id.clone(),
                    timestamp: Some(now),
                    ..Default::default()
                };
                // An unreachable task was not terminal.
                self.metrics
                    .task_terminated(state, status.source, status.reason);
                if Self::record_status(&mut task, state, &status) {
                    events.push(crate::subscribers::task_updated(&task, &status));
                }
                updates.push((
                    framework_id.clone(),
                    StatusUpdate {
                        framework_id: task.framework_id.clone(),
                        executor_id: task.executor_id.clone(),
                        slave_id: Some(task.slave_id.clone()),
                        status,
                        timestamp: now,
                        uuid: None,
                        latest_state: None,
                    },
                ));
                framework.add_completed_task(task, self.flags.max_completed_tasks_per_framework);
            }
        }
        for event in events {
            self.publish(|| event);
        }
        for (framework_id, update) in updates {
            self.forward_update(&framework_id, update, None);
        }
    }

    fn partition_aware(&self, framework_id: &str) -> bool {
        self.frameworks
            .registered
            .get(framework_id)
            .is_some_and(|f| f.has_capability(framework_info::capability::Type::PartitionAware))
    }

    /// DECLINE: the offers' resources return with the framework's filter.
    pub(crate) fn decline(&mut self, framework_id: &str, decline: call::Decline) {
        self.metrics.messages_decline_offers.inc();
        if let Some(framework) = self.frameworks.registered.get(framework_id) {
            framework
                .metrics
                .offers_declined
                .add(decline.offer_ids.len() as u64);
        }
        let refuse = refuse_duration(decline.filters.as_ref());
        for offer_id in decline.offer_ids {
            let owned = self
                .offers
                .get(&offer_id.value)
                .is_some_and(|s| s.offer.framework_id.value == framework_id);
            if !owned {
                continue;
            }
            if let Some(state) = self.offers.remove(&offer_id.value) {
                self.offer_removed(&state);
                self.allocator.recover_resources(
                    framework_id,
                    &state.offer.slave_id.value,
                    &state.resources,
                    refuse,
                    libprocess::clock::elapsed(),
                );
            }
        }
    }

    /// ACCEPT: launch tasks on the offers' resources.
    pub(crate) fn accept(
        &mut self,
        framework_id: &str,
        accept: call::Accept,
        ctx: &mut Context<Self>,
    ) {
        if let Some(framework) = self.frameworks.registered.get(framework_id) {
            framework
                .metrics
                .offers_accepted
                .add(accept.offer_ids.len() as u64);
            for operation in &accept.operations {
                framework.metrics.operation(operation.r#type() as i32);
            }
        }
        // As upstream's `accept`: a LAUNCH without tasks is an implicit
        // decline.
        for operation in &accept.operations {
            match operation.r#type() {
                offer::operation::Type::Launch => {
                    if operation
                        .launch
                        .as_ref()
                        .is_some_and(|l| !l.task_infos.is_empty())
                    {
                        self.metrics.messages_launch_tasks.inc();
                    } else {
                        self.metrics.messages_decline_offers.inc();
                    }
                }
                offer::operation::Type::LaunchGroup => self.metrics.messages_launch_tasks.inc(),
                _ => {}
            }
        }
        let refuse = refuse_duration(accept.filters.as_ref());
        let error = self.validate_offers(framework_id, &accept.offer_ids);
        let slave_id = accept
            .offer_ids
            .first()
            .and_then(|id| self.offers.get(&id.value))
            .map(|state| state.offer.slave_id.value.clone());
        let mut offered = Resources::new();
        let mut taken = Vec::new();
        for offer_id in &accept.offer_ids {
            let owned = self
                .offers
                .get(&offer_id.value)
                .is_some_and(|s| s.offer.framework_id.value == framework_id);
            if owned {
                if let Some(state) = self.offers.remove(&offer_id.value) {
                    self.offer_removed(&state);
                    offered += &state.resources;
                    taken.push(state);
                }
            }
        }
        let now = libprocess::clock::elapsed();
        if let Some(error) = error {
            tracing::warn!(%framework_id, %error, "Refusing ACCEPT");
            let (state, reason) = if self.partition_aware(framework_id) {
                (TaskState::TaskDropped, task_status::Reason::InvalidOffers)
            } else {
                (TaskState::TaskLost, task_status::Reason::InvalidOffers)
            };
            for task in launched_tasks(&accept.operations) {
                self.metrics.task_terminated(
                    state,
                    Some(task_status::Source::Master as i32),
                    Some(reason as i32),
                );
                self.send_master_update(
                    framework_id,
                    &task.task_id,
                    Some(&task.slave_id.value),
                    state,
                    reason,
                    &format!("Task launched with invalid offers: {error}"),
                );
            }
            for state in taken {
                self.allocator.recover_resources(
                    framework_id,
                    &state.offer.slave_id.value,
                    &state.resources,
                    None,
                    now,
                );
            }
            self.schedule_allocation(ctx);
            return;
        }
        let Some(slave_id) = slave_id else {
            return;
        };
        let role = taken
            .first()
            .and_then(|s| s.offer.allocation_info.as_ref())
            .and_then(|a| a.role.clone())
            .unwrap_or_else(|| "*".into());

        let mut remaining = offered;
        let mut resized = Resources::new();
        for operation in accept.operations {
            match operation.r#type() {
                offer::operation::Type::Launch => {
                    let tasks = operation.launch.map(|l| l.task_infos).unwrap_or_default();
                    for task in tasks {
                        self.launch_task(framework_id, &slave_id, &role, task, &mut remaining);
                    }
                }
                offer::operation::Type::LaunchGroup => {
                    if let Some(group) = operation.launch_group {
                        self.launch_group(framework_id, &slave_id, &role, group, &mut remaining);
                    }
                }
                _ => {
                    self.accept_operation(
                        framework_id,
                        &slave_id,
                        &role,
                        operation,
                        &mut remaining,
                        &mut resized,
                    );
                }
            }
        }
        remaining += &resized;
        self.allocator
            .recover_resources(framework_id, &slave_id, &remaining, refuse, now);
    }

    /// Upstream's `validation::offer::validate`: the offers of an ACCEPT,
    /// checked in upstream's order.
    fn validate_offers(&self, framework_id: &str, offer_ids: &[OfferId]) -> Option<String> {
        if offer_ids.is_empty() {
            return Some("No offers specified".into());
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(id) = offer_ids.iter().find(|id| !seen.insert(&id.value)) {
            return Some(format!("Duplicate offer {} in offer list", id.value));
        }
        let mut offers = Vec::with_capacity(offer_ids.len());
        for id in offer_ids {
            let Some(state) = self.offers.get(&id.value) else {
                return Some(format!("Offer {} is no longer valid", id.value));
            };
            offers.push(&state.offer);
        }
        if let Some(offer) = offers.iter().find(|o| o.framework_id.value != framework_id) {
            return Some(format!(
                "Offer {} has invalid framework {} while framework {framework_id} is expected",
                offer.id.value, offer.framework_id.value
            ));
        }
        let role = |o: &Offer| o.allocation_info.as_ref().and_then(|a| a.role.clone());
        let first = role(offers[0]);
        if let Some(offer) = offers.iter().find(|o| role(o) != first) {
            return Some(format!(
                "Aggregated offers must be allocated to the same role. Offer {} uses role '{} \
                 but another is using role '{}",
                offer.id.value,
                role(offer).unwrap_or_default(),
                first.unwrap_or_default()
            ));
        }
        let agent = &offers[0].slave_id.value;
        if let Some(offer) = offers.iter().find(|o| o.slave_id.value != *agent) {
            return Some(format!(
                "Aggregated offers must belong to one single agent. Offer {} uses agent {} \
                 and agent {agent}",
                offer.id.value, offer.slave_id.value
            ));
        }
        None
    }

    /// Returns the task's resources in allocation form.
    fn allocated(resources: &[Resource], role: &str) -> Resources {
        let mut resources = Resources::from(resources.to_vec());
        let unallocated = resources.iter().any(|r| r.allocation_info.is_none());
        if unallocated {
            resources.unallocate();
            resources.allocate(role);
        }
        resources
    }

    /// Upstream's `validation::task::internal::validateTask`: the task's
    /// own fields, in upstream's order.
    fn validate_task(
        &self,
        framework_id: &str,
        slave_id: &str,
        task: &TaskInfo,
    ) -> Result<(), String> {
        validate_id(&task.task_id.value)?;
        if let Some(framework) = self.frameworks.registered.get(framework_id) {
            let id = &task.task_id.value;
            if framework.tasks().contains_key(id) {
                return Err(format!("Task has duplicate ID: {id}"));
            }
            // TODO(MESOS-6785): the unreachable tasks are a bounded cache,
            // so not every collision is caught.
            if framework.unreachable_tasks.get(id).is_some() {
                return Err(format!("Task reuses the ID of an unreachable task: {id}"));
            }
        }
        if task.slave_id.value != slave_id {
            return Err(format!(
                "Task uses invalid agent {} while agent {slave_id} is expected",
                task.slave_id.value
            ));
        }
        let negative =
            |d: Option<&mesos_proto::mesos::DurationInfo>| d.is_some_and(|d| d.nanoseconds < 0);
        if negative(
            task.kill_policy
                .as_ref()
                .and_then(|k| k.grace_period.as_ref()),
        ) {
            return Err("Task's 'kill_policy.grace_period' must be non-negative".into());
        }
        if negative(task.max_completion_time.as_ref()) {
            return Err("Task's `max_completion_time` must be non-negative".into());
        }
        // Upstream's `validateCheck` and `validateHealthCheck`.
        if let Some(check) = &task.check {
            mesos_proto::validation::validate_check_info(check)
                .map_err(|e| format!("Task uses invalid check: {e}"))?;
        }
        if let Some(health_check) = &task.health_check {
            mesos_proto::validation::validate_health_check(health_check)
                .map_err(|e| format!("Task uses invalid health check: {e}"))?;
        }
        if task.resources.is_empty() {
            return Err("Task uses no resources".into());
        }
        Resources::validate_all(&task.resources)
            .map_err(|e| format!("Task uses invalid resources: {e}"))?;
        if let Some(command) = &task.command {
            mesos_proto::validation::validate_command_info(command)
                .map_err(|e| format!("Task's `CommandInfo` is invalid: {e}"))?;
        }
        let capable = self.slaves.registered.get(slave_id).is_some_and(|slave| {
            slave
                .capabilities
                .iter()
                .any(|c| c.r#type == Some(slave_info::capability::Type::TaskResourceLimits as i32))
        });
        validate_resource_limits(task, capable)
    }

    /// Upstream's `validation::task::internal::validateExecutor` for LAUNCH:
    /// a command or a custom executor (`executor` already normalized:
    /// framework id filled in, resources allocated).
    fn validate_task_executor(
        &self,
        framework_id: &str,
        slave_id: &str,
        task: &TaskInfo,
    ) -> Result<(), String> {
        if task.command.is_some() == task.executor.is_some() {
            return Err("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present".into());
        }
        let Some(executor) = &task.executor else {
            return Ok(());
        };
        self.validate_executor(framework_id, slave_id, executor)?;
        if executor.r#type.is_some() && executor.r#type() != executor_info::Type::Custom {
            return Err("'ExecutorInfo.type' must be 'CUSTOM'".into());
        }
        // Optional in the protobuf, still required for compatibility.
        if executor.command.is_none() {
            return Err("'ExecutorInfo.command' must be set".into());
        }
        let resources = Resources::from(executor.resources.clone());
        if !resources.shared().is_empty() {
            return Err(format!(
                "Executor resources {resources} should not contain any shared resources"
            ));
        }
        if share_cgroups(executor.container.as_ref()) == Some(true) {
            return Err(
                "The 'share_cgroups' field cannot be set to 'true' on executor containers".into(),
            );
        }
        validate_task_and_executor_resources(task)
    }

    /// Upstream's `validation::executor::internal::validate`: the rules for
    /// every executor, and the same `ExecutorInfo` for an executor id
    /// already in use on the agent.
    fn validate_executor(
        &self,
        framework_id: &str,
        slave_id: &str,
        executor: &ExecutorInfo,
    ) -> Result<(), String> {
        match executor.r#type() {
            executor_info::Type::Default if executor.command.is_some() => {
                return Err("'ExecutorInfo.command' must not be set for 'DEFAULT' executor".into())
            }
            executor_info::Type::Custom if executor.command.is_none() => {
                return Err("'ExecutorInfo.command' must be set for 'CUSTOM' executor".into())
            }
            _ => {}
        }
        validate_id(&executor.executor_id.value)?;
        if executor
            .shutdown_grace_period
            .as_ref()
            .is_some_and(|d| d.nanoseconds < 0)
        {
            return Err("ExecutorInfo's 'shutdown_grace_period' must be non-negative".into());
        }
        if let Some(command) = &executor.command {
            mesos_proto::validation::validate_command_info(command)
                .map_err(|e| format!("Executor's `CommandInfo` is invalid: {e}"))?;
        }
        let actual = executor.framework_id.as_ref().map(|id| id.value.as_str());
        if actual != Some(framework_id) {
            return Err(format!(
                "ExecutorInfo has an invalid FrameworkID (Actual: {} vs Expected: {framework_id})",
                actual.unwrap_or_default()
            ));
        }
        Resources::validate_all(&executor.resources)
            .map_err(|e| format!("Executor uses invalid resources: {e}"))?;
        let existing = self
            .frameworks
            .registered
            .get(framework_id)
            .and_then(|f| f.executors.get(slave_id))
            .and_then(|known| known.get(&executor.executor_id.value));
        if let Some(existing) = existing.filter(|e| *e != executor) {
            let line = "-".repeat(60);
            return Err(format!(
                "ExecutorInfo is not compatible with existing ExecutorInfo with same \
                 ExecutorID.\n{line}\nExisting ExecutorInfo:\n{existing:?}\n{line}\n\
                 ExecutorInfo:\n{executor:?}\n{line}\n"
            ));
        }
        Ok(())
    }

    fn task_error(&self, framework_id: &str, slave_id: &str, task_id: &TaskId, message: String) {
        tracing::warn!(%framework_id, task_id = %task_id.value, %message, "Refusing task");
        let reason = task_status::Reason::TaskInvalid;
        self.task_error_with(framework_id, slave_id, task_id, reason, message);
    }

    /// Answers a refused task with TASK_ERROR and `reason`.
    fn task_error_with(
        &self,
        framework_id: &str,
        slave_id: &str,
        task_id: &TaskId,
        reason: task_status::Reason,
        message: String,
    ) {
        self.metrics.task_terminated(
            TaskState::TaskError,
            Some(task_status::Source::Master as i32),
            Some(reason as i32),
        );
        self.send_master_update(
            framework_id,
            task_id,
            Some(slave_id),
            TaskState::TaskError,
            reason,
            &message,
        );
    }

    /// Upstream's `task::group::internal::validateExecutor` up to the
    /// resources: the general executor rules, then those of a task group's
    /// executor (`executor` and its tasks already normalized).
    fn validate_group_executor(
        &self,
        framework_id: &str,
        slave_id: &str,
        group: &TaskGroupInfo,
        executor: &ExecutorInfo,
    ) -> Result<(), String> {
        self.validate_executor(framework_id, slave_id, executor)?;
        let Some(kind) = executor.r#type else {
            return Err("'ExecutorInfo.type' must be set".into());
        };
        if kind == executor_info::Type::Unknown as i32 {
            return Err("Unknown executor type".into());
        }
        if executor
            .container
            .as_ref()
            .is_some_and(|c| c.r#type() == container_info::Type::Docker)
        {
            return Err("Docker ContainerInfo is not supported on the executor".into());
        }
        let id = &executor.executor_id.value;
        for task in &group.tasks {
            if task.executor.as_ref().is_some_and(|e| e != executor) {
                return Err(format!(
                    "The `ExecutorInfo` of task '{}' is different from executor '{id}'",
                    task.task_id.value
                ));
            }
        }
        let resources = Resources::from(executor.resources.clone());
        match resources.cpus() {
            Some(cpus) if cpus >= MIN_CPUS => {}
            cpus => {
                let cpus = cpus.map_or("None".into(), |c| c.to_string());
                return Err(format!(
                    "Executor '{id}' uses less CPUs ({cpus}) than the minimum required \
                     ({MIN_CPUS})"
                ));
            }
        }
        match resources.mem() {
            Some(mem) if mem >= MIN_MEM => {}
            mem => {
                let mem = mem.map_or("None".into(), bytes);
                return Err(format!(
                    "Executor '{id}' uses less memory ({mem}) than the minimum required ({})",
                    bytes(MIN_MEM)
                ));
            }
        }
        if resources.disk().is_none() {
            return Err(format!("Executor '{id}' uses no disk"));
        }
        validate_task_group_and_executor_resources(group, executor)
    }

    /// Upstream's `task::group::internal::validateShareCgroups`: an
    /// executor's container never shares its cgroups, and all tasks of a
    /// group and of one executor agree on `share_cgroups`.
    fn validate_group_share_cgroups(
        &self,
        framework_id: &str,
        slave_id: &str,
        group: &TaskGroupInfo,
        executor: &ExecutorInfo,
    ) -> Result<(), String> {
        if share_cgroups(executor.container.as_ref()) == Some(true) {
            return Err(
                "The 'share_cgroups' field cannot be set to 'true' on executor containers".into(),
            );
        }
        let mut shared = None;
        let mut agree = |container: Option<&ContainerInfo>| {
            // A task without the field shares them, the default.
            let value = share_cgroups(container).unwrap_or(true);
            if *shared.get_or_insert(value) != value {
                return Err(
                    "If set, the value of 'share_cgroups' must be the same for all \
                     tasks in each task group and under a single executor"
                        .to_string(),
                );
            }
            Ok(())
        };
        for task in &group.tasks {
            agree(task.container.as_ref())?;
        }
        let id = &executor.executor_id.value;
        if !self.executor_known(framework_id, slave_id, id) {
            return Ok(());
        }
        let Some(framework) = self.frameworks.registered.get(framework_id) else {
            return Ok(());
        };
        let same_executor = |task: &Task| {
            task.slave_id.value == slave_id
                && task.executor_id.as_ref().is_some_and(|e| e.value == *id)
        };
        for task in framework.tasks().values() {
            if same_executor(task) {
                agree(task.container.as_ref())?;
            }
        }
        Ok(())
    }

    fn launch_task(
        &mut self,
        framework_id: &str,
        slave_id: &str,
        role: &str,
        task: TaskInfo,
        remaining: &mut Resources,
    ) {
        // As upstream's `accept`, the master fills in the executor's
        // framework id and allocates its resources before validating.
        let mut task = task;
        if let Some(executor) = task.executor.as_mut() {
            executor.framework_id.get_or_insert_with(|| FrameworkId {
                value: framework_id.to_string(),
            });
            executor.resources = Self::allocated(&executor.resources, role).to_vec();
        }
        // As upstream's `injectAllocationInfo`, before validating: the
        // agent sees every resource with the role it was allocated to.
        task.resources = Self::allocated(&task.resources, role).to_vec();
        let valid = self
            .validate_task(framework_id, slave_id, &task)
            .and_then(|()| self.validate_task_executor(framework_id, slave_id, &task))
            .and_then(|()| {
                // Upstream's `task::internal::validateShareCgroups`.
                if share_cgroups(task.container.as_ref()) == Some(false) {
                    return Err(
                        "Only tasks in a task group may have 'share_cgroups' set to \
                         'false'"
                            .into(),
                    );
                }
                Ok(())
            });
        if let Err(message) = valid {
            self.task_error(framework_id, slave_id, &task.task_id, message);
            return;
        }
        let task_resources = Self::allocated(&task.resources, role);
        let mut needed = task_resources.clone();
        // A new executor needs its own resources; a running one has them.
        let new_executor = task
            .executor
            .as_ref()
            .filter(|e| !self.executor_known(framework_id, slave_id, &e.executor_id.value));
        let executor_resources = new_executor.map(|e| Resources::from(e.resources.clone()));
        if let Some(resources) = &executor_resources {
            needed += resources;
        }
        if !remaining.contains(&needed) {
            let message = format!(
                "Total resources {needed} required by task and its executor is more than available {remaining}"
            );
            self.task_error(framework_id, slave_id, &task.task_id, message);
            return;
        }
        *remaining -= &needed;
        let Some(framework) = self.frameworks.registered.get_mut(framework_id) else {
            return;
        };
        let record = Task {
            name: task.name.clone(),
            task_id: task.task_id.clone(),
            framework_id: FrameworkId {
                value: framework_id.to_string(),
            },
            executor_id: task.executor.as_ref().map(|e| e.executor_id.clone()),
            slave_id: SlaveId {
                value: slave_id.to_string(),
            },
            state: TaskState::TaskStaging as i32,
            resources: task_resources.to_vec(),
            labels: task.labels.clone(),
            discovery: task.discovery.clone(),
            container: task.container.clone(),
            health_check: task.health_check.clone(),
            kill_policy: task.kill_policy,
            user: task.command.as_ref().and_then(|c| c.user.clone()),
            ..Default::default()
        };
        self.gauges.task_added(&record);
        framework.metrics.task_entered(record.state);
        framework
            .tasks_mut()
            .insert(task.task_id.value.clone(), Box::new(TaskEntry::new(record)));
        if let (Some(executor), Some(_)) = (&task.executor, executor_resources) {
            let info = executor.clone();
            self.gauges.executor_changed(&info.resources, 1);
            framework
                .executors
                .entry(slave_id.to_string())
                .or_default()
                .insert(executor.executor_id.value.clone(), info);
        }
        let pid = framework.pid.clone().unwrap_or_default().to_string();
        let info = framework.info.clone();
        self.notify_task_added(framework_id, &task.task_id.value);
        let Some(agent) = self.slaves.registered.get(slave_id).map(|s| s.pid.clone()) else {
            return;
        };
        tracing::info!(%framework_id, task_id = %task.task_id.value, %slave_id, "Launching task");
        #[allow(deprecated)]
        let message = RunTaskMessage {
            framework_id: Some(FrameworkId {
                value: framework_id.to_string(),
            }),
            framework: info,
            task,
            resource_version_uuids: vec![],
            pid: Some(pid),
            launch_executor: Some(true),
        };
        libprocess::Process::base(self).send(&agent, &message);
    }

    /// Whether the master already tracks this executor on this agent (its
    /// resources are then already allocated).
    fn executor_known(&self, framework_id: &str, slave_id: &str, executor_id: &str) -> bool {
        self.frameworks
            .registered
            .get(framework_id)
            .is_some_and(|f| {
                f.executors
                    .get(slave_id)
                    .is_some_and(|known| known.contains_key(executor_id))
            })
    }

    fn launch_group(
        &mut self,
        framework_id: &str,
        slave_id: &str,
        role: &str,
        group: mesos_proto::mesos::offer::operation::LaunchGroup,
        remaining: &mut Resources,
    ) {
        // As upstream's `accept`: the master fills in the executor's
        // framework id, gives every task without an executor the group's
        // (for the operator API), and allocates the resources before
        // validating.
        let mut group = group;
        let fill = |executor: &mut ExecutorInfo| {
            executor.framework_id.get_or_insert_with(|| FrameworkId {
                value: framework_id.to_string(),
            });
            executor.resources = Self::allocated(&executor.resources, role).to_vec();
        };
        fill(&mut group.executor);
        for task in &mut group.task_group.tasks {
            match task.executor.as_mut() {
                Some(executor) => fill(executor),
                None => task.executor = Some(group.executor.clone()),
            }
            task.resources = Self::allocated(&task.resources, role).to_vec();
        }
        let executor = group.executor;
        let refuse = |this: &Self, message: String| {
            tracing::warn!(%framework_id, %message, "Refusing task group");
            for t in &group.task_group.tasks {
                this.task_error_with(
                    framework_id,
                    slave_id,
                    &t.task_id,
                    task_status::Reason::TaskGroupInvalid,
                    message.clone(),
                );
            }
        };
        for task in &group.task_group.tasks {
            let valid = self
                .validate_task(framework_id, slave_id, task)
                .and_then(|()| validate_group_task(task));
            if let Err(message) = valid {
                refuse(
                    self,
                    format!("Task '{}' is invalid: {message}", task.task_id.value),
                );
                return;
            }
        }
        let known = self.executor_known(framework_id, slave_id, &executor.executor_id.value);
        let mut needed = Resources::new();
        for task in &group.task_group.tasks {
            needed += &Resources::from(task.resources.clone());
        }
        if !known {
            needed += &Resources::from(executor.resources.clone());
        }
        let valid = self
            .validate_group_executor(framework_id, slave_id, &group.task_group, &executor)
            .and_then(|()| {
                if remaining.contains(&needed) {
                    return Ok(());
                }
                Err(format!(
                    "Total resources {needed} required by task group and its executor are \
                     more than available {remaining}"
                ))
            })
            .and_then(|()| {
                let Some(command) = &executor.command else {
                    return Ok(());
                };
                // Upstream's message has no space before "contains".
                mesos_proto::validation::validate_command_info(command).map_err(|e| {
                    format!(
                        "Executor '{}'contains an invalid command: {e}",
                        executor.executor_id.value
                    )
                })
            })
            .and_then(|()| {
                self.validate_group_share_cgroups(
                    framework_id,
                    slave_id,
                    &group.task_group,
                    &executor,
                )
            });
        if let Err(message) = valid {
            refuse(self, message);
            return;
        }
        *remaining -= &needed;
        let Some(framework) = self.frameworks.registered.get_mut(framework_id) else {
            return;
        };
        for task in &group.task_group.tasks {
            let record = Task {
                name: task.name.clone(),
                task_id: task.task_id.clone(),
                framework_id: FrameworkId {
                    value: framework_id.to_string(),
                },
                executor_id: Some(executor.executor_id.clone()),
                slave_id: SlaveId {
                    value: slave_id.to_string(),
                },
                state: TaskState::TaskStaging as i32,
                resources: task.resources.clone(),
                labels: task.labels.clone(),
                container: task.container.clone(),
                ..Default::default()
            };
            self.gauges.task_added(&record);
            framework.metrics.task_entered(record.state);
            framework
                .tasks_mut()
                .insert(task.task_id.value.clone(), Box::new(TaskEntry::new(record)));
        }
        if !known {
            self.gauges.executor_changed(&executor.resources, 1);
            framework
                .executors
                .entry(slave_id.to_string())
                .or_default()
                .insert(executor.executor_id.value.clone(), executor.clone());
        }
        let info = framework.info.clone();
        for task in &group.task_group.tasks {
            self.notify_task_added(framework_id, &task.task_id.value);
        }
        let Some(agent) = self.slaves.registered.get(slave_id).map(|s| s.pid.clone()) else {
            return;
        };
        let message = RunTaskGroupMessage {
            framework: info,
            executor,
            task_group: group.task_group,
            resource_version_uuids: vec![],
            launch_executor: Some(true),
        };
        libprocess::Process::base(self).send(&agent, &message);
    }

    /// A status update from an agent.
    pub(crate) fn status_update(
        &mut self,
        from: UPID,
        message: StatusUpdateMessage,
        ctx: &mut Context<Self>,
    ) {
        self.metrics.messages_status_update.inc();
        let update = message.update;
        let framework_id = update.framework_id.value.clone();
        let slave_id = update
            .slave_id
            .as_ref()
            .map(|id| id.value.clone())
            .unwrap_or_default();
        let known_agent = self
            .slaves
            .registered
            .get(&slave_id)
            .is_some_and(|s| s.pid == from);
        if !known_agent {
            tracing::warn!(%from, %slave_id, "Dropping status update from an unknown agent");
            self.metrics.invalid_status_updates.inc();
            return;
        }
        let state = update.status.state();
        let latest = update
            .latest_state
            .and_then(|s| TaskState::try_from(s).ok())
            .unwrap_or(state);
        let task_id = update.status.task_id.value.clone();
        let mut recovered = None;
        let mut event = None;
        let mut known_task = false;
        if let Some(framework) = self.frameworks.registered.get_mut(&framework_id) {
            let framework_metrics = framework.metrics.clone();
            if let Some(task) = framework.tasks_mut().get_mut(&task_id) {
                known_task = true;
                let was_terminal =
                    TaskState::try_from(task.state).is_ok_and(TaskState::is_terminal);
                task.status_update_state = Some(state as i32);
                task.status_update_uuid =
                    update.uuid.clone().or_else(|| update.status.uuid.clone());
                self.gauges.task_removed(task);
                let before = task.state;
                let notify = Self::record_status(task, latest, &update.status);
                self.gauges.task_added(task);
                if task.state != before {
                    framework_metrics.task_left(before);
                    framework_metrics.task_entered(task.state);
                }
                if notify && !self.subscribers.is_empty() {
                    event = Some(crate::subscribers::task_updated(task, &update.status));
                }
                if !was_terminal && latest.is_terminal() {
                    self.metrics.task_terminated(
                        latest,
                        update.status.source,
                        update.status.reason,
                    );
                    recovered = Some(Resources::from(task.resources.clone()));
                }
            }
        }
        // As upstream, an update for a task the master does not know is
        // still forwarded, but counted invalid.
        if known_task {
            self.metrics.valid_status_updates.inc();
        } else {
            self.metrics.invalid_status_updates.inc();
        }
        if let Some(event) = event {
            self.publish(|| event);
        }
        if let Some(resources) = recovered {
            self.allocator.recover_resources(
                &framework_id,
                &slave_id,
                &resources,
                None,
                libprocess::clock::elapsed(),
            );
            self.schedule_allocation(ctx);
        }
        tracing::debug!(%framework_id, %task_id, ?state, "Forwarding status update");
        self.forward_update(&framework_id, update, Some(&from));
    }

    /// ACKNOWLEDGE: routed to the agent that sent the update.
    pub(crate) fn acknowledge(
        &mut self,
        framework_id: &str,
        slave_id: SlaveId,
        task_id: TaskId,
        uuid: Vec<u8>,
    ) {
        if uuid.len() != 16 {
            // Upstream refuses it in call validation, before counting the
            // message.
            tracing::warn!(%framework_id, "Dropping acknowledgement with a malformed uuid");
            self.metrics.invalid_status_update_acknowledgements.inc();
            return;
        }
        self.metrics.messages_status_update_acknowledgement.inc();
        let Some(agent) = self
            .slaves
            .registered
            .get(&slave_id.value)
            .map(|s| s.pid.clone())
        else {
            tracing::warn!(%framework_id, slave_id = %slave_id.value, "Dropping acknowledgement for an unknown agent");
            self.metrics.invalid_status_update_acknowledgements.inc();
            return;
        };
        self.metrics.valid_status_update_acknowledgements.inc();
        // A terminal task leaves once its terminal update is acknowledged.
        if let Some(framework) = self.frameworks.registered.get_mut(framework_id) {
            let done = framework.tasks().get(&task_id.value).is_some_and(|t| {
                t.status_update_uuid.as_deref() == Some(uuid.as_slice())
                    && t.status_update_state
                        .and_then(|s| TaskState::try_from(s).ok())
                        .is_some_and(TaskState::is_terminal)
            });
            if done {
                if let Some(task) = framework.tasks_mut().remove(&task_id.value) {
                    self.gauges.task_removed(&task);
                    framework.metrics.task_left(task.state);
                    framework.completed_tasks.push_back(*task);
                    while framework.completed_tasks.len()
                        > self.flags.max_completed_tasks_per_framework as usize
                    {
                        framework.completed_tasks.pop_front();
                    }
                }
            }
        }
        let drained_id = slave_id.value.clone();
        let message = StatusUpdateAcknowledgementMessage {
            slave_id,
            framework_id: FrameworkId {
                value: framework_id.to_string(),
            },
            task_id,
            uuid,
        };
        libprocess::Process::base(self).send(&agent, &message);
        self.check_draining_agent_soon(&drained_id);
    }

    /// KILL: forwarded to the task's agent; an unknown task is reconciled.
    pub(crate) fn kill(&mut self, framework_id: &str, kill: call::Kill) {
        self.metrics.messages_kill_task.inc();
        let task = self
            .frameworks
            .registered
            .get(framework_id)
            .and_then(|f| f.tasks().get(&kill.task_id.value))
            .map(|t| t.slave_id.value.clone());
        let Some(slave_id) = task else {
            tracing::info!(%framework_id, task_id = %kill.task_id.value, "Cannot kill an unknown task; reconciling it");
            self.reconcile(
                framework_id,
                call::Reconcile {
                    tasks: vec![call::reconcile::Task {
                        task_id: kill.task_id,
                        slave_id: kill.slave_id,
                    }],
                },
            );
            return;
        };
        let Some(agent) = self.slaves.registered.get(&slave_id).map(|s| s.pid.clone()) else {
            return;
        };
        let message = KillTaskMessage {
            framework_id: FrameworkId {
                value: framework_id.to_string(),
            },
            task_id: kill.task_id,
            kill_policy: kill.kill_policy,
        };
        libprocess::Process::base(self).send(&agent, &message);
    }

    /// RECONCILE: the latest known state of the given tasks (all of the
    /// framework's when none are given), as master-generated updates with
    /// `REASON_RECONCILIATION`.
    pub(crate) fn reconcile(&mut self, framework_id: &str, reconcile: call::Reconcile) {
        self.metrics.messages_reconcile_tasks.inc();
        let Some(framework) = self.frameworks.registered.get(framework_id) else {
            return;
        };
        let partition_aware =
            framework.has_capability(framework_info::capability::Type::PartitionAware);
        // Known tasks are answered with their latest state and what their
        // latest statuses said of them; unknown ones with a guess.
        // A known task is answered with the state of the update its
        // framework is to see next (`status_update_state`), as upstream.
        let known = |task: &Task| {
            let mut facts = latest_task_facts(task);
            facts.state = task.status_update_state.unwrap_or(task.state);
            Reply::Known(Box::new(facts))
        };
        let mut replies: Vec<Reply> = Vec::new();
        if reconcile.tasks.is_empty() {
            let mut tasks: Vec<&Task> = framework.tasks().values().map(|t| &***t).collect();
            tasks.sort_by(|a, b| a.task_id.value.cmp(&b.task_id.value));
            replies.extend(tasks.into_iter().map(known));
        } else {
            for wanted in reconcile.tasks {
                if let Some(task) = framework.tasks().get(&wanted.task_id.value) {
                    replies.push(known(task));
                    continue;
                }
                let slave = wanted.slave_id.map(|s| s.value);
                let reply = match slave.as_deref() {
                    // The agent may still report it: no answer until it
                    // re-registers or is marked unreachable. Without an
                    // agent id, any agent that has not re-registered yet
                    // may hold it.
                    Some(id) if self.slaves.recovered.contains_key(id) => None,
                    None if !self.slaves.recovered.is_empty() => None,
                    Some(id) if self.slaves.registered.contains_key(id) => Some((
                        if partition_aware {
                            TaskState::TaskGone
                        } else {
                            TaskState::TaskLost
                        },
                        "Reconciliation: Task is unknown to the agent",
                    )),
                    Some(id) if self.slaves.unreachable.contains_key(id) => Some((
                        if partition_aware {
                            TaskState::TaskUnreachable
                        } else {
                            TaskState::TaskLost
                        },
                        "Reconciliation: Task is unreachable",
                    )),
                    Some(id) if self.slaves.gone.contains_key(id) => Some((
                        if partition_aware {
                            TaskState::TaskGoneByOperator
                        } else {
                            TaskState::TaskLost
                        },
                        "Reconciliation: Task is gone",
                    )),
                    _ => Some((
                        if partition_aware {
                            TaskState::TaskUnknown
                        } else {
                            TaskState::TaskLost
                        },
                        "Reconciliation: Task is unknown",
                    )),
                };
                if let Some((state, message)) = reply {
                    let unreachable_time = slave
                        .as_deref()
                        .and_then(|id| self.slaves.unreachable.get(id).copied());
                    replies.push(Reply::Unknown(
                        wanted.task_id,
                        slave,
                        state,
                        message,
                        unreachable_time,
                    ));
                }
            }
        }
        for reply in replies {
            match reply {
                Reply::Known(facts) => {
                    let update = self.facts_update(
                        framework_id,
                        *facts,
                        task_status::Reason::Reconciliation,
                        "Reconciliation: Latest task state",
                    );
                    self.forward_update(framework_id, update, None);
                }
                Reply::Unknown(task_id, slave_id, state, message, unreachable_time) => {
                    let mut update = self.master_update(
                        framework_id,
                        &task_id,
                        slave_id.as_deref(),
                        state,
                        task_status::Reason::Reconciliation,
                        message,
                    );
                    // The time its agent was marked unreachable, if it was.
                    update.status.unreachable_time = unreachable_time;
                    self.forward_update(framework_id, update, None);
                }
            }
        }
    }

    /// MESSAGE: framework data for an executor, through its agent.
    pub(crate) fn framework_message(&mut self, framework_id: &str, message: call::Message) {
        self.metrics.messages_framework_to_executor.inc();
        let Some(slave) = self.slaves.registered.get(&message.slave_id.value) else {
            tracing::warn!(%framework_id, slave_id = %message.slave_id.value, "Dropping framework message for an unknown agent");
            self.metrics.invalid_framework_to_executor_messages.inc();
            return;
        };
        // As upstream's `Master::message`: a disconnected agent gets nothing.
        if !slave.connected {
            tracing::warn!(%framework_id, slave_id = %message.slave_id.value, "Dropping framework message for a disconnected agent");
            self.metrics.invalid_framework_to_executor_messages.inc();
            return;
        }
        let agent = slave.pid.clone();
        let forward = FrameworkToExecutorMessage {
            slave_id: message.slave_id,
            framework_id: FrameworkId {
                value: framework_id.to_string(),
            },
            executor_id: message.executor_id,
            data: message.data,
        };
        libprocess::Process::base(self).send(&agent, &forward);
        self.metrics.valid_framework_to_executor_messages.inc();
    }

    /// A `FrameworkToExecutorMessage` a v0 driver sent to the master: from
    /// the framework's scheduler it goes on as a MESSAGE call; otherwise it
    /// is dropped and counted as invalid.
    pub(crate) fn framework_to_executor_message(
        &mut self,
        from: UPID,
        message: FrameworkToExecutorMessage,
    ) {
        let framework_id = message.framework_id.value.clone();
        let Some(framework) = self.frameworks.registered.get(&framework_id) else {
            tracing::warn!(%framework_id, executor_id = %message.executor_id.value, "Ignoring framework message: the framework cannot be found");
            self.metrics.invalid_framework_to_executor_messages.inc();
            return;
        };
        if framework.pid.as_ref() != Some(&from) {
            tracing::warn!(%framework_id, %from, "Ignoring framework message: not from the framework's scheduler");
            self.metrics.invalid_framework_to_executor_messages.inc();
            return;
        }
        self.framework_message(
            &framework_id,
            call::Message {
                slave_id: message.slave_id,
                executor_id: message.executor_id,
                data: message.data,
            },
        );
    }

    /// An executor's message for its framework, relayed by the agent.
    pub(crate) fn executor_message(&mut self, message: ExecutorToFrameworkMessage) {
        self.metrics.messages_executor_to_framework.inc();
        let framework_id = message.framework_id.value.clone();
        let framework = self.frameworks.registered.get(&framework_id);
        let Some(framework) = framework.filter(|f| f.connected) else {
            tracing::warn!(%framework_id, "Dropping executor message for an unknown or disconnected framework");
            self.metrics.invalid_executor_to_framework_messages.inc();
            return;
        };
        self.metrics.valid_executor_to_framework_messages.inc();
        framework.metrics.event(event::Type::Message);
        if let Some(pid) = &framework.pid {
            libprocess::Process::base(self).send(pid, &message);
        } else if let Some(http) = &framework.http {
            http.send(&Event {
                r#type: Some(event::Type::Message as i32),
                message: Some(event::Message {
                    slave_id: message.slave_id,
                    executor_id: message.executor_id,
                    data: message.data,
                }),
                ..Default::default()
            });
        }
    }

    /// SHUTDOWN: stop an executor on its agent.
    pub(crate) fn shutdown_executor(&mut self, framework_id: &str, shutdown: call::Shutdown) {
        let Some(agent) = self
            .slaves
            .registered
            .get(&shutdown.slave_id.value)
            .map(|s| s.pid.clone())
        else {
            tracing::warn!(%framework_id, slave_id = %shutdown.slave_id.value, "Cannot shut down executor: agent is not registered");
            return;
        };
        let message = ShutdownExecutorMessage {
            executor_id: Some(shutdown.executor_id),
            framework_id: Some(FrameworkId {
                value: framework_id.to_string(),
            }),
        };
        libprocess::Process::base(self).send(&agent, &message);
    }

    /// Handles the offer and task calls of a subscribed, connected
    /// framework; returns `false` for calls it does not handle.
    pub(crate) fn task_call(
        &mut self,
        framework_id: &str,
        call: mesos_proto::mesos::scheduler::Call,
        ctx: &mut Context<Self>,
    ) -> bool {
        match call.r#type() {
            call::Type::Accept => {
                if let Some(accept) = call.accept {
                    self.accept(framework_id, accept, ctx);
                }
            }
            call::Type::Decline => {
                if let Some(decline) = call.decline {
                    self.decline(framework_id, decline);
                }
            }
            call::Type::Revive => {
                self.metrics.messages_revive_offers.inc();
                let roles = call.revive.map(|r| r.roles).unwrap_or_default();
                self.allocator.revive(framework_id, &roles);
                if let Some(framework) = self.frameworks.registered.get(framework_id) {
                    framework.metrics.set_suppressed(&roles, false);
                }
                self.schedule_allocation(ctx);
            }
            call::Type::Suppress => {
                self.metrics.messages_suppress_offers.inc();
                let roles = call.suppress.map(|s| s.roles).unwrap_or_default();
                self.allocator.suppress(framework_id, &roles);
                if let Some(framework) = self.frameworks.registered.get(framework_id) {
                    framework.metrics.set_suppressed(&roles, true);
                }
            }
            call::Type::Kill => {
                if let Some(kill) = call.kill {
                    self.kill(framework_id, kill);
                }
            }
            call::Type::Acknowledge => {
                if let Some(ack) = call.acknowledge {
                    self.acknowledge(framework_id, ack.slave_id, ack.task_id, ack.uuid);
                }
            }
            call::Type::Reconcile => {
                if let Some(reconcile) = call.reconcile {
                    self.reconcile(framework_id, reconcile);
                }
            }
            call::Type::ReconcileOperations => {
                if let Some(reconcile) = call.reconcile_operations {
                    self.reconcile_operations(framework_id, reconcile);
                }
            }
            call::Type::AcknowledgeOperationStatus => {
                if let Some(acknowledge) = call.acknowledge_operation_status {
                    self.acknowledge_operation_status(framework_id, acknowledge);
                }
            }
            call::Type::Message => {
                if let Some(message) = call.message {
                    self.framework_message(framework_id, message);
                }
            }
            call::Type::Shutdown => {
                if let Some(shutdown) = call.shutdown {
                    self.shutdown_executor(framework_id, shutdown);
                }
            }
            call::Type::Request => {
                // The built-in allocator ignores requests, as upstream's does.
                self.metrics.messages_resource_request.inc();
            }
            call::Type::AcceptInverseOffers => {
                if let Some(accept) = call.accept_inverse_offers {
                    self.answer_inverse_offers(
                        framework_id,
                        &accept.inverse_offer_ids,
                        accept.filters.as_ref(),
                        true,
                    );
                }
            }
            call::Type::DeclineInverseOffers => {
                if let Some(decline) = call.decline_inverse_offers {
                    self.answer_inverse_offers(
                        framework_id,
                        &decline.inverse_offer_ids,
                        decline.filters.as_ref(),
                        false,
                    );
                }
            }
            _ => return false,
        }
        true
    }
}

impl Master {
    /// An agent joined (or came back): the allocator learns its resources,
    /// minus those of the tasks it reported, which the master records.
    pub(crate) fn slave_added(&mut self, id: &str, ctx: &mut Context<Self>) {
        let Some(slave) = self.slaves.registered.get_mut(id) else {
            return;
        };
        let total = slave.total_resources.clone();
        let region = slave
            .info
            .domain
            .as_ref()
            .and_then(|d| d.fault_domain.as_ref())
            .map(|f| f.region.name.clone());
        // The reported tasks move to their frameworks: no second copy.
        let tasks = std::mem::take(&mut slave.tasks);
        let executors = slave.executors.clone();
        let mut used = Resources::new();
        for executor in executors {
            let Some(framework_id) = executor.framework_id.as_ref().map(|f| f.value.clone()) else {
                continue;
            };
            let Some(framework) = self.frameworks.registered.get_mut(&framework_id) else {
                continue;
            };
            let role = Self::framework_roles(&framework.info)
                .into_iter()
                .next()
                .unwrap_or_else(|| "*".into());
            let resources = Self::allocated(&executor.resources, &role);
            let known = framework.executors.entry(id.to_string()).or_default();
            if !known.contains_key(&executor.executor_id.value) {
                used += &resources;
                let mut info = executor;
                info.resources = resources.to_vec();
                self.gauges.executor_changed(&info.resources, 1);
                known.insert(info.executor_id.value.clone(), info);
            }
        }
        for task in tasks {
            let state = TaskState::try_from(task.state).unwrap_or(TaskState::TaskStaging);
            if state.is_terminal() {
                continue;
            }
            let framework_id = task.framework_id.value.clone();
            let role = self
                .frameworks
                .registered
                .get(&framework_id)
                .map(|f| {
                    Self::framework_roles(&f.info)
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| "*".into())
                })
                .unwrap_or_else(|| "*".into());
            used += &Self::allocated(&task.resources, &role);
            if let Some(framework) = self.frameworks.registered.get_mut(&framework_id) {
                let task_id = task.task_id.value.clone();
                let framework_metrics = framework.metrics.clone();
                if let std::collections::hash_map::Entry::Vacant(entry) =
                    framework.tasks_mut().entry(task_id.clone())
                {
                    self.gauges.task_added(&task);
                    framework_metrics.task_entered(task.state);
                    entry.insert(Box::new(TaskEntry::new(task)));
                    self.notify_task_added(&framework_id, &task_id);
                }
            }
        }
        self.allocator.add_slave(id, total, used);
        self.allocator.set_slave_region(id, region.as_deref());
        self.check_allocation_recovery(ctx);
        if let Some(slave) = self.slaves.registered.get(id) {
            let info = std::sync::Arc::new(slave.info.clone());
            self.allocator.set_slave_info(id, info);
        }
        self.schedule_allocation(ctx);
    }

    /// An agent left (unreachable, removed or gone): its offers are
    /// rescinded and each of its tasks is reported to its framework as
    /// upstream's `_removeSlave` (removed: `TASK_LOST`) and `__removeSlave`
    /// (unreachable: `TASK_UNREACHABLE` with the time it was marked; gone:
    /// `TASK_GONE_BY_OPERATOR`) do, with `TASK_LOST` for frameworks that
    /// are not partition-aware. Terminal tasks not yet acknowledged are
    /// reported too, as upstream.
    pub(crate) fn slave_removed(&mut self, id: &str, left: AgentLeft, message: &str) {
        self.slave_operations_left(id, left);
        self.slave_gone_for_inverse_offers(id);
        self.allocator.remove_slave(id);
        self.rescind_offers(|offer| offer.slave_id.value == id);
        let mut updates = Vec::new();
        let mut events = Vec::new();
        let now = libprocess::clock::now_secs();
        for (framework_id, framework) in &mut self.frameworks.registered {
            for executor in framework
                .executors
                .remove(id)
                .into_iter()
                .flat_map(|e| e.into_values())
            {
                self.gauges.executor_changed(&executor.resources, -1);
            }
            let mut on_agent: Vec<String> = framework
                .tasks()
                .iter()
                .filter(|(_, t)| t.slave_id.value == id)
                .map(|(task_id, _)| task_id.clone())
                .collect();
            on_agent.sort();
            let partition_aware =
                framework.has_capability(framework_info::capability::Type::PartitionAware);
            let (state, reason) = left.task_state(partition_aware);
            for task_id in on_agent {
                let Some(mut task) = framework.tasks_mut().remove(&task_id) else {
                    continue;
                };
                let status = TaskStatus {
                    task_id: task.task_id.clone(),
                    state: state as i32,
                    message: Some(message.to_string()),
                    source: Some(task_status::Source::Master as i32),
                    reason: Some(reason as i32),
                    slave_id: Some(task.slave_id.clone()),
                    executor_id: task.executor_id.clone(),
                    timestamp: Some(now),
                    unreachable_time: match &left {
                        AgentLeft::Unreachable(time) => Some(*time),
                        _ => None,
                    },
                    ..Default::default()
                };
                let terminal = TaskState::try_from(task.state).is_ok_and(TaskState::is_terminal);
                self.gauges.task_removed(&task);
                if !terminal && state.is_terminal() {
                    self.metrics
                        .task_terminated(state, status.source, status.reason);
                }
                let before = task.state;
                if Self::record_status(&mut task, state, &status) {
                    events.push(crate::subscribers::task_updated(&task, &status));
                }
                // It leaves the framework's active tasks in its new state.
                if task.state != before {
                    framework.metrics.task_left(before);
                    framework.metrics.task_entered(task.state);
                }
                framework.metrics.task_left(task.state);
                let update = (
                    framework_id.clone(),
                    StatusUpdate {
                        framework_id: task.framework_id.clone(),
                        executor_id: task.executor_id.clone(),
                        slave_id: Some(task.slave_id.clone()),
                        status,
                        timestamp: now,
                        uuid: None,
                        latest_state: None,
                    },
                );
                updates.push(update);
                // Upstream files the tasks of an unreachable agent apart
                // (`removeTask(task, unreachable)`), whatever the framework.
                if let AgentLeft::Unreachable(_) = left {
                    self.slaves
                        .unreachable_tasks
                        .entry(id.to_string())
                        .or_default()
                        .entry(framework_id.clone())
                        .or_default()
                        .push(task_id);
                    framework.unreachable_tasks.set(
                        task.into_inner(),
                        self.flags.max_unreachable_tasks_per_framework,
                    );
                } else {
                    framework.add_completed_task(
                        task.into_inner(),
                        self.flags.max_completed_tasks_per_framework,
                    );
                }
            }
        }
        for event in events {
            self.publish(|| event);
        }
        for (framework_id, update) in updates {
            self.forward_update(&framework_id, update, None);
        }
        self.notify_agent_lost(id);
    }

    /// An agent disconnected: the tasks and executors of frameworks that do
    /// not checkpoint cannot survive on it, so they are removed at once
    /// (upstream `removeFramework(Slave*, Framework*)`): each task becomes
    /// `TASK_LOST` with `REASON_SLAVE_DISCONNECTED`, its framework is told
    /// if connected, and task and executor resources are recovered.
    /// Checkpointing frameworks wait for the agent to come back.
    pub(crate) fn remove_non_checkpointing_frameworks(&mut self, id: &str, hostname: &str) {
        let message = format!("Agent {hostname} disconnected");
        let elapsed = libprocess::clock::elapsed();
        let mut lost = Vec::new();
        let mut freed = Vec::new();
        let mut events = Vec::new();
        for (framework_id, framework) in &mut self.frameworks.registered {
            if framework.info.checkpoint.unwrap_or(false) {
                continue;
            }
            let mut on_agent: Vec<String> = framework
                .tasks()
                .iter()
                .filter(|(_, t)| t.slave_id.value == id)
                .map(|(task_id, _)| task_id.clone())
                .collect();
            on_agent.sort();
            for task_id in on_agent {
                let Some(mut task) = framework.tasks_mut().remove(&task_id) else {
                    continue;
                };
                let terminal = TaskState::try_from(task.state).is_ok_and(TaskState::is_terminal);
                if !terminal {
                    freed.push((
                        framework_id.clone(),
                        Resources::from(task.resources.clone()),
                    ));
                }
                let status = TaskStatus {
                    task_id: task.task_id.clone(),
                    state: TaskState::TaskLost as i32,
                    message: Some(message.clone()),
                    source: Some(task_status::Source::Master as i32),
                    reason: Some(task_status::Reason::SlaveDisconnected as i32),
                    slave_id: Some(task.slave_id.clone()),
                    executor_id: task.executor_id.clone(),
                    timestamp: Some(libprocess::clock::now_secs()),
                    ..Default::default()
                };
                self.gauges.task_removed(&task);
                if !terminal {
                    self.metrics
                        .task_terminated(TaskState::TaskLost, status.source, status.reason);
                }
                let before = task.state;
                if Self::record_status(&mut task, TaskState::TaskLost, &status) {
                    events.push(crate::subscribers::task_updated(&task, &status));
                }
                if task.state != before {
                    framework.metrics.task_left(before);
                    framework.metrics.task_entered(task.state);
                }
                framework.metrics.task_left(task.state);
                lost.push((
                    framework_id.clone(),
                    task.task_id.clone(),
                    task.executor_id.clone(),
                ));
                framework.completed_tasks.push_back(*task);
            }
            if let Some(executors) = framework.executors.remove(id) {
                for executor in executors.into_values() {
                    self.gauges.executor_changed(&executor.resources, -1);
                    freed.push((framework_id.clone(), Resources::from(executor.resources)));
                }
            }
        }
        for (framework_id, resources) in freed {
            self.allocator
                .recover_resources(&framework_id, id, &resources, None, elapsed);
        }
        for event in events {
            self.publish(|| event);
        }
        for (framework_id, task_id, executor_id) in lost {
            tracing::info!(%framework_id, task_id = %task_id.value, slave_id = %id, "Removing a non-checkpointing framework's task from a disconnected agent");
            let now = libprocess::clock::now_secs();
            let slave_id = SlaveId {
                value: id.to_string(),
            };
            let update = StatusUpdate {
                framework_id: FrameworkId {
                    value: framework_id.clone(),
                },
                executor_id: executor_id.clone(),
                slave_id: Some(slave_id.clone()),
                status: TaskStatus {
                    task_id,
                    state: TaskState::TaskLost as i32,
                    message: Some(message.clone()),
                    source: Some(task_status::Source::Master as i32),
                    reason: Some(task_status::Reason::SlaveDisconnected as i32),
                    slave_id: Some(slave_id),
                    executor_id,
                    timestamp: Some(now),
                    ..Default::default()
                },
                timestamp: now,
                uuid: None,
                latest_state: None,
            };
            self.forward_update(&framework_id, update, None);
        }
    }

    /// Tells every connected framework that an agent is gone, as upstream
    /// does after removing one: `LostSlaveMessage` to driver-based
    /// schedulers, a `FAILURE` event carrying only the agent id over HTTP.
    fn notify_agent_lost(&self, id: &str) {
        let slave_id = SlaveId {
            value: id.to_string(),
        };
        for framework in self.frameworks.registered.values() {
            if !framework.connected {
                continue;
            }
            framework.metrics.event(event::Type::Failure);
            if let Some(pid) = &framework.pid {
                libprocess::Process::base(self).send(
                    pid,
                    &LostSlaveMessage {
                        slave_id: slave_id.clone(),
                    },
                );
            } else if let Some(http) = &framework.http {
                http.send(&Event {
                    r#type: Some(event::Type::Failure as i32),
                    failure: Some(event::Failure {
                        slave_id: Some(slave_id.clone()),
                        executor_id: None,
                        status: None,
                    }),
                    ..Default::default()
                });
            }
        }
    }

    pub(crate) fn install_task_handlers(&mut self) {
        use mesos_proto::mesos::internal::{
            ExitedExecutorMessage, LaunchTasksMessage, ReconcileTasksMessage,
            ResourceRequestMessage, ReviveOffersMessage,
        };
        let base = libprocess::Process::base_mut(self);
        base.install::<StatusUpdateMessage>(|this, ctx, from, message| {
            if this.recovered() {
                this.status_update(from, message, ctx);
            } else {
                this.metrics.dropped_messages.inc();
            }
        });
        // Older drivers send framework messages to the master when they
        // do not know the agent's pid (upstream's `frameworkToExecutorMessage`).
        base.install::<FrameworkToExecutorMessage>(|this, _ctx, from, message| {
            this.framework_to_executor_message(from, message);
        });
        base.install::<ExecutorToFrameworkMessage>(|this, _ctx, _from, message| {
            this.executor_message(message);
        });
        base.install::<ExitedExecutorMessage>(|this, _ctx, from, message| {
            this.metrics.messages_exited_executor.inc();
            let known = this
                .slaves
                .registered
                .get(&message.slave_id.value)
                .is_some_and(|s| s.pid == from);
            if !known {
                return;
            }
            let freed = this
                .frameworks
                .registered
                .get_mut(&message.framework_id.value)
                .and_then(|f| f.executors.get_mut(&message.slave_id.value))
                .and_then(|known| known.remove(&message.executor_id.value));
            if let Some(executor) = freed {
                this.gauges.executor_changed(&executor.resources, -1);
                this.allocator.recover_resources(
                    &message.framework_id.value,
                    &message.slave_id.value,
                    &Resources::from(executor.resources),
                    None,
                    libprocess::clock::elapsed(),
                );
            }
            let Some(framework) = this.frameworks.registered.get(&message.framework_id.value)
            else {
                return;
            };
            framework.metrics.event(event::Type::Failure);
            if let Some(pid) = &framework.pid {
                libprocess::Process::base(this).send(pid, &message);
            } else if let Some(http) = &framework.http {
                http.send(&Event {
                    r#type: Some(event::Type::Failure as i32),
                    failure: Some(event::Failure {
                        slave_id: Some(message.slave_id),
                        executor_id: Some(message.executor_id),
                        status: Some(message.status),
                    }),
                    ..Default::default()
                });
            }
        });
        // The legacy driver messages, for drivers older than the Call API.
        base.install::<StatusUpdateAcknowledgementMessage>(|this, _ctx, from, message| {
            let id = message.framework_id.value.clone();
            if this
                .frameworks
                .registered
                .get(&id)
                .is_some_and(|f| f.pid.as_ref() == Some(&from))
            {
                this.acknowledge(&id, message.slave_id, message.task_id, message.uuid);
            }
        });
        base.install::<LaunchTasksMessage>(|this, ctx, from, message| {
            let id = message.framework_id.value.clone();
            if !this
                .frameworks
                .registered
                .get(&id)
                .is_some_and(|f| f.pid.as_ref() == Some(&from))
            {
                return;
            }
            let accept = call::Accept {
                offer_ids: message.offer_ids,
                operations: vec![offer::Operation {
                    r#type: Some(offer::operation::Type::Launch as i32),
                    launch: Some(offer::operation::Launch {
                        task_infos: message.tasks,
                    }),
                    ..Default::default()
                }],
                filters: Some(message.filters),
            };
            this.accept(&id, accept, ctx);
        });
        base.install::<ResourceRequestMessage>(|this, _ctx, from, message| {
            let id = message.framework_id.value;
            if this
                .frameworks
                .registered
                .get(&id)
                .is_some_and(|f| f.pid.as_ref() == Some(&from))
            {
                // Upstream's `request`: the built-in allocator ignores it.
                this.metrics.messages_resource_request.inc();
            } else {
                tracing::warn!(framework_id = %id, %from, "Ignoring resource request of an unknown framework or from an unexpected pid");
            }
        });
        base.install::<ReviveOffersMessage>(|this, ctx, from, message| {
            let id = message.framework_id.value.clone();
            if this
                .frameworks
                .registered
                .get(&id)
                .is_some_and(|f| f.pid.as_ref() == Some(&from))
            {
                this.metrics.messages_revive_offers.inc();
                this.allocator.revive(&id, &message.roles);
                if let Some(framework) = this.frameworks.registered.get(&id) {
                    framework.metrics.set_suppressed(&message.roles, false);
                }
                this.schedule_allocation(ctx);
            }
        });
        base.install::<KillTaskMessage>(|this, _ctx, from, message| {
            let id = message.framework_id.value.clone();
            if this
                .frameworks
                .registered
                .get(&id)
                .is_some_and(|f| f.pid.as_ref() == Some(&from))
            {
                this.kill(
                    &id,
                    call::Kill {
                        task_id: message.task_id,
                        slave_id: None,
                        kill_policy: message.kill_policy,
                    },
                );
            }
        });
        base.install::<ReconcileTasksMessage>(|this, _ctx, from, message| {
            let id = message.framework_id.value.clone();
            if this
                .frameworks
                .registered
                .get(&id)
                .is_some_and(|f| f.pid.as_ref() == Some(&from))
            {
                let tasks = message
                    .statuses
                    .into_iter()
                    .map(|s| call::reconcile::Task {
                        task_id: s.task_id,
                        slave_id: s.slave_id,
                    })
                    .collect();
                this.reconcile(&id, call::Reconcile { tasks });
            }
        });
    }
}

/// Upstream's `MIN_CPUS`: the least cpus an executor may use.
const MIN_CPUS: f64 = 0.01;

/// Upstream's `MIN_MEM`, in bytes: the least memory an executor may use.
const MIN_MEM: u64 = 32 << 20;

/// stout's `Bytes` printing: the largest unit that divides exactly.
fn bytes(value: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (1 << 40, "TB"),
        (1 << 30, "GB"),
        (1 << 20, "MB"),
        (1 << 10, "KB"),
    ];
    match UNITS
        .iter()
        .find(|(size, _)| value != 0 && value % size == 0)
    {
        Some((size, unit)) => format!("{}{unit}", value / size),
        None => format!("{value}B"),
    }
}

/// Upstream's `task::internal::validateResourceLimits`: limits only on an
/// agent that handles them (`TASK_RESOURCE_LIMITS`), only for `cpus` and
/// `mem`, each with a request of its own and not below it (an infinite
/// limit is allowed).
fn validate_resource_limits(task: &TaskInfo, agent_capable: bool) -> Result<(), String> {
    let limits = &task.limits;
    if limits.is_empty() {
        return Ok(());
    }
    if !agent_capable {
        return Err("Agent is not capable of handling task resource limits".into());
    }
    if limits.keys().any(|name| name != "cpus" && name != "mem") {
        return Err("Only cpus and mem may be included in a task's resource limits".into());
    }
    let requests = Resources::from(task.resources.clone());
    if let Some(limit) = limits.get("cpus") {
        let Some(cpus) = requests.cpus() else {
            return Err(
                "When a CPU limit is specified, a CPU request must also be specified".into(),
            );
        };
        if limit.value < cpus {
            return Err("The cpu limit must be greater than or equal to the cpu request".into());
        }
    }
    if let Some(limit) = limits.get("mem") {
        let Some(mem) = requests.mem() else {
            return Err(
                "When a memory limit is specified, a memory request must also be specified".into(),
            );
        };
        // The limit in whole bytes, as stout's `Bytes(value, MEGABYTES)`.
        if !limit.value.is_infinite() && ((limit.value * (1u64 << 20) as f64) as u64) < mem {
            return Err(
                "The memory limit must be greater than or equal to the memory request".into(),
            );
        }
    }
    Ok(())
}

/// Returns a container's `LinuxInfo.share_cgroups`, if set.
fn share_cgroups(container: Option<&ContainerInfo>) -> Option<bool> {
    container?.linux_info.as_ref()?.share_cgroups
}

/// Upstream's `task::group::internal::validateTask` after the general
/// task rules: what a task of a task group may not use.
fn validate_group_task(task: &TaskInfo) -> Result<(), String> {
    if task.executor.is_none() {
        return Err("'TaskInfo.executor' must be set".into());
    }
    if let Some(container) = &task.container {
        let http_or_tcp = task.health_check.as_ref().is_some_and(|check| {
            matches!(
                check.r#type(),
                health_check::Type::Http | health_check::Type::Tcp
            )
        });
        if !container.network_infos.is_empty() && http_or_tcp {
            return Err(
                "HTTP and TCP health checks are not supported for nested containers \
                 not joining parent's network"
                    .into(),
            );
        }
        if container.r#type() == container_info::Type::Docker {
            return Err("Docker ContainerInfo is not supported on the task".into());
        }
    }
    if !task.limits.is_empty() && share_cgroups(task.container.as_ref()) != Some(false) {
        return Err(
            "Resource limits may only be set for tasks within a task group when the \
             'share_cgroups' field is set to 'false'."
                .into(),
        );
    }
    Ok(())
}

/// Upstream's `task::internal::validateTaskAndExecutorResources`: a task
/// and its executor share no range or set item and no persistent volume
/// (resources in allocation form).
fn validate_task_and_executor_resources(task: &TaskInfo) -> Result<(), String> {
    let task_resources = Resources::from(task.resources.clone());
    let mut total = task_resources.clone();
    if let Some(executor) = &task.executor {
        let executor_resources = Resources::from(executor.resources.clone());
        total += &executor_resources;
        if overlapping_set_and_range_resources(&[&task_resources, &executor_resources]) {
            return Err(format!(
                "There are overlapping resources in the task resources {task_resources} and \
                 executor resources {executor_resources}"
            ));
        }
    }
    crate::operations::validate_unique_persistence_ids(&total)
        .map_err(|e| format!("Task and its executor use duplicate persistence ID: {e}"))?;
    validate_revocable_and_non_revocable(&total).map_err(|e| {
        format!("Task and its executor mix revocable and non-revocable resources: {e}")
    })
}

/// Upstream's `task::group::internal::validateTaskGroupAndExecutorResources`.
fn validate_task_group_and_executor_resources(
    group: &TaskGroupInfo,
    executor: &ExecutorInfo,
) -> Result<(), String> {
    let executor_resources = Resources::from(executor.resources.clone());
    let task_resources: Vec<Resources> = group
        .tasks
        .iter()
        .map(|t| Resources::from(t.resources.clone()))
        .collect();
    let mut total = executor_resources.clone();
    for resources in &task_resources {
        total += resources;
    }
    crate::operations::validate_unique_persistence_ids(&total)
        .map_err(|e| format!("Task group and executor use duplicate persistence ID: {e}"))?;
    validate_revocable_and_non_revocable(&total).map_err(|e| {
        format!("Task group and executor mix revocable and non-revocable resources: {e}")
    })?;
    let mut all: Vec<&Resources> = task_resources.iter().collect();
    all.push(&executor_resources);
    if overlapping_set_and_range_resources(&all) {
        let tasks: Vec<String> = task_resources.iter().map(|r| r.to_string()).collect();
        return Err(format!(
            "There are overlapping resources in the task group's task resources [ {} ] \
             and/or executor resources {executor_resources}",
            tasks.join(", ")
        ));
    }
    Ok(())
}

/// Upstream's `resource::validateRevocableAndNonRevocableResources`.
fn validate_revocable_and_non_revocable(resources: &Resources) -> Result<(), String> {
    for name in resources.names() {
        let named = resources.get(&name);
        let revocable = named.revocable();
        if !revocable.is_empty() && named != revocable {
            return Err(format!(
                "Cannot use both revocable and non-revocable '{name}' at the same time"
            ));
        }
    }
    Ok(())
}

/// Upstream's `resource::detectOverlappingSetAndRangeResources`: whether
/// the collections share a range or set item (the summed quantities then
/// exceed those of the sum).
fn overlapping_set_and_range_resources(collections: &[&Resources]) -> bool {
    fn quantities(resources: &Resources, into: &mut BTreeMap<String, u64>) {
        for resource in resources.iter() {
            let count = if let Some(ranges) = &resource.ranges {
                ranges
                    .range
                    .iter()
                    .map(|r| r.end.saturating_sub(r.begin) + 1)
                    .sum()
            } else if let Some(set) = &resource.set {
                set.item.len() as u64
            } else {
                continue;
            };
            *into.entry(resource.name.clone()).or_default() += count;
        }
    }
    let mut summed = BTreeMap::new();
    let mut total = Resources::new();
    for resources in collections {
        quantities(resources, &mut summed);
        total += *resources;
    }
    let mut of_total = BTreeMap::new();
    quantities(&total, &mut of_total);
    summed != of_total
}

/// Upstream's `common::validation::validateID`, for task and executor ids.
fn validate_id(id: &str) -> Result<(), String> {
    // NAME_MAX: the id names a sandbox directory.
    const NAME_MAX: usize = 255;
    if id.is_empty() {
        return Err("ID must not be empty".into());
    }
    if id.len() > NAME_MAX {
        return Err(format!("ID must not be greater than {NAME_MAX} characters"));
    }
    if id == "." || id == ".." {
        return Err(format!("'{id}' is disallowed"));
    }
    if id.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        return Err(format!("'{id}' contains invalid characters"));
    }
    Ok(())
}

/// Returns the tasks of LAUNCH and LAUNCH_GROUP operations.
fn launched_tasks(operations: &[offer::Operation]) -> Vec<TaskInfo> {
    let mut tasks = Vec::new();
    for operation in operations {
        if let Some(launch) = &operation.launch {
            tasks.extend(launch.task_infos.iter().cloned());
        }
        if let Some(group) = &operation.launch_group {
            tasks.extend(group.task_group.tasks.iter().cloned());
        }
    }
    tasks
}

/// `Filters.refuse_seconds` (default 5 s; zero or negative means none).
fn refuse_duration(filters: Option<&mesos_proto::mesos::Filters>) -> Option<Duration> {
    let seconds = filters
        .and_then(|f| f.refuse_seconds)
        .unwrap_or(DEFAULT_REFUSE.as_secs_f64());
    (seconds > 0.0 && seconds.is_finite())
        .then(|| Duration::from_secs_f64(seconds.min(365.0 * 86_400.0)))
}

/// What a reconciliation reply tells of a known task besides its state:
/// its ids, the `healthy` and `check_status` of its latest status (the
/// latest `TASK_RUNNING` one while it runs) and the most recent
/// `container_status` (upstream's `getTaskHealth`, `getTaskCheckStatus`
/// and `getTaskContainerStatus` in `src/common/protobuf_utils.cpp`).
fn latest_task_facts(task: &mesos_proto::mesos::Task) -> TaskStatus {
    let last = task.statuses.last();
    TaskStatus {
        task_id: task.task_id.clone(),
        state: TaskState::try_from(task.state)
            .unwrap_or(TaskState::TaskStaging)
            .into(),
        slave_id: Some(task.slave_id.clone()),
        executor_id: task.executor_id.clone(),
        healthy: last.and_then(|s| s.healthy),
        check_status: last.and_then(|s| s.check_status),
        container_status: task
            .statuses
            .iter()
            .rev()
            .find_map(|s| s.container_status.clone()),
        ..Default::default()
    }
}

/// One answer of a reconciliation.
enum Reply {
    /// A known task: its latest state and facts ([`latest_task_facts`]).
    Known(Box<TaskStatus>),
    /// A task the master does not know: id, agent, guessed state, message
    /// and when the agent was marked unreachable.
    Unknown(
        TaskId,
        Option<String>,
        TaskState,
        &'static str,
        Option<mesos_proto::mesos::TimeInfo>,
    ),
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::value;

    fn task(resources: &str, limits: &[(&str, f64)]) -> TaskInfo {
        TaskInfo {
            resources: Resources::parse(resources, "*")
                .expect("resources")
                .to_vec(),
            limits: limits
                .iter()
                .map(|(name, value)| (name.to_string(), value::Scalar { value: *value }))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn resource_limits_are_validated_as_upstream() {
        let ok = |t: &TaskInfo| validate_resource_limits(t, true);
        assert_eq!(ok(&task("cpus:1;mem:64", &[])), Ok(()));
        assert_eq!(
            ok(&task("cpus:1;mem:64", &[("cpus", 2.0), ("mem", 128.0)])),
            Ok(())
        );
        assert_eq!(
            ok(&task(
                "cpus:1;mem:64",
                &[("cpus", f64::INFINITY), ("mem", f64::INFINITY)]
            )),
            Ok(())
        );
        assert_eq!(
            validate_resource_limits(&task("cpus:1", &[("cpus", 2.0)]), false),
            Err("Agent is not capable of handling task resource limits".into())
        );
        assert_eq!(
            ok(&task("cpus:1;disk:10", &[("disk", 20.0)])),
            Err("Only cpus and mem may be included in a task's resource limits".into())
        );
        assert_eq!(
            ok(&task("mem:64", &[("cpus", 1.0)])),
            Err("When a CPU limit is specified, a CPU request must also be specified".into())
        );
        assert_eq!(
            ok(&task("cpus:1", &[("mem", 64.0)])),
            Err("When a memory limit is specified, a memory request must also be specified".into())
        );
        assert_eq!(
            ok(&task("cpus:1;mem:64", &[("cpus", 0.5)])),
            Err("The cpu limit must be greater than or equal to the cpu request".into())
        );
        assert_eq!(
            ok(&task("cpus:1;mem:64", &[("mem", 32.0)])),
            Err("The memory limit must be greater than or equal to the memory request".into())
        );
    }
}
