//! Agent draining and deactivation: the v1 operator calls `DRAIN_AGENT`,
//! `DEACTIVATE_AGENT` and `REACTIVATE_AGENT`, and what the master does
//! with deactivated and draining agents.
//!
//! Upstream counterparts: `Master::Http::drainAgent`, `deactivateAgent`
//! and `reactivateAgent` in `src/master/http.cpp`;
//! `Master::checkAndTransitionDrainingAgent`, `Master::deactivate(Slave*)`
//! and the drain parts of `_recover`, `__reregisterSlave` and
//! `___reregisterSlave` in `src/master/master.cpp`; the registry
//! operations `DrainAgent`, `MarkAgentDrained`, `DeactivateAgent` and
//! `ReactivateAgent` ([`crate::registrar::Operation`]);
//! `docs/agent-draining.md`.
//!
//! - A deactivated agent gets no offers: it is deactivated in the
//!   allocator and its outstanding offers (and inverse offers) are
//!   rescinded. Tasks already on it keep running.
//! - A draining agent is deactivated too, and is sent `DrainSlaveMessage`
//!   with the drain config, now if it is connected and again whenever it
//!   re-registers. Once it has no task and no operation left it is
//!   `DRAINED` in the registry, or marked gone when the config says so.
//!   That is checked when the drain starts, after status update and
//!   operation status acknowledgements, when the agent re-registers, and
//!   when an agent that takes operations reports no change.
//! - Both states are stored in the registry first, for registered,
//!   recovered and unreachable agents alike, and so survive a master
//!   restart; an agent removed or marked gone loses them.
//!
//! Deliberate differences: `REACTIVATE_AGENT` of an agent that is known
//! but not registered (recovered or unreachable) answers `200` once the
//! registry is updated (upstream clears the state the same way but answers
//! `409`); a drain or deactivation the registry no longer has the agent
//! for (removed meanwhile) answers `409` and changes nothing (upstream
//! answers `200` and keeps the state in memory); a `DrainSlaveMessage` is
//! only sent to a connected agent (re-registration sends it again). No
//! authorization (ACLs) yet.

use actix::{ActorFutureExt as _, AsyncContext as _, Context, WrapFuture as _};
use libprocess::http::Response;
use libprocess::HttpFuture;
use mesos_proto::mesos::internal::DrainSlaveMessage;
use mesos_proto::mesos::master::call;
use mesos_proto::mesos::{slave_info, DrainConfig, DrainInfo, DrainState, SlaveId};

use crate::master::Master;
use crate::registrar::Operation;

fn ready(response: Response) -> HttpFuture {
    Box::pin(async move { response })
}

/// Applies `operation` to the registry, then `done` on the master with
/// whether it applied; answers with what `done` returns. A registry that
/// fails stops the master, as every registrar failure does.
fn through_registry(
    master: &mut Master,
    ctx: &mut Context<Master>,
    operation: Operation,
    done: impl FnOnce(&mut Master, &mut Context<Master>, bool) -> Response + 'static,
) -> HttpFuture {
    let (tx, rx) = futures::channel::oneshot::channel();
    let registrar = master.registrar();
    ctx.spawn(
        async move { registrar.apply(operation).await }
            .into_actor(master)
            .map(move |result, master, ctx| match result {
                Ok(applied) => {
                    let _ = tx.send(done(master, ctx, applied));
                }
                Err(error) => {
                    tracing::error!(%error, "Registrar failed; exiting");
                    std::process::exit(1);
                }
            }),
    );
    Box::pin(async move {
        rx.await
            .unwrap_or_else(|_| Response::internal_error("Master terminated"))
    })
}

/// Whether the master knows agent `id` as recovered, registered or
/// unreachable (the agents the calls act on).
fn known(master: &Master, id: &str) -> bool {
    master.slaves.recovered.contains_key(id)
        || master.slaves.registered.contains_key(id)
        || master.slaves.unreachable.contains_key(id)
}

fn removed_meanwhile() -> Response {
    Response::status(409).with_body("text/plain", "Agent removed while processing the call")
}

/// `DRAIN_AGENT` (upstream `Master::Http::drainAgent` and `_drainAgent`).
pub(crate) fn drain(
    master: &mut Master,
    ctx: &mut Context<Master>,
    drain: call::DrainAgent,
) -> HttpFuture {
    let id = drain.slave_id.value;
    if let Some(slave) = master.slaves.registered.get(&id) {
        // Best effort, as upstream: an agent of a machine in the schedule
        // is left to maintenance.
        let ip = slave.pid.ip.to_string();
        let scheduled = master
            .maintenance
            .schedule
            .windows
            .iter()
            .flat_map(|w| &w.machine_ids)
            .find(|m| crate::maintenance::matches(m, &slave.info.hostname, &ip));
        if let Some(machine) = scheduled {
            return ready(Response::bad_request(format!(
                "Agent {id} is part of a maintenance schedule under Machine {}",
                mesos_proto::json::to_string(machine)
            )));
        }
        if !crate::operation_feedback::has_capability(
            &slave.capabilities,
            slave_info::capability::Type::AgentDraining,
        ) {
            return ready(Response::bad_request(format!(
                "Agent {id} is not capable of draining"
            )));
        }
    }
    if !known(master, &id) {
        return ready(Response::bad_request("Unknown agent"));
    }
    if master.slaves.marking_gone.contains(&id) {
        return ready(
            Response::status(409).with_body("text/plain", "Agent is currently being marked gone"),
        );
    }
    let mark_gone = drain.mark_gone.unwrap_or(false);
    let operation = Operation::DrainAgent {
        slave_id: SlaveId { value: id.clone() },
        max_grace_period: drain.max_grace_period,
        mark_gone,
    };
    let config = DrainConfig {
        max_grace_period: drain.max_grace_period,
        mark_gone: Some(mark_gone),
    };
    through_registry(master, ctx, operation, move |master, ctx, applied| {
        if !applied {
            return removed_meanwhile();
        }
        master.start_draining(&id, config, ctx);
        Response::status(200)
    })
}

/// `DEACTIVATE_AGENT` (upstream `Master::Http::deactivateAgent`).
pub(crate) fn deactivate(master: &mut Master, ctx: &mut Context<Master>, id: String) -> HttpFuture {
    if !known(master, &id) {
        return ready(Response::bad_request("Unknown agent"));
    }
    let operation = Operation::DeactivateAgent(SlaveId { value: id.clone() });
    through_registry(master, ctx, operation, move |master, _ctx, applied| {
        if !applied {
            return removed_meanwhile();
        }
        master.slaves.deactivated.insert(id.clone());
        master.slaves.drain_changed(&id);
        master.deactivate_slave(&id);
        Response::status(200)
    })
}

/// `REACTIVATE_AGENT` (upstream `Master::Http::reactivateAgent`): only
/// for a deactivated agent that is not still `DRAINING`.
pub(crate) fn reactivate(master: &mut Master, ctx: &mut Context<Master>, id: String) -> HttpFuture {
    if !master.slaves.deactivated.contains(&id) {
        return ready(Response::bad_request("Agent is not deactivated"));
    }
    if master
        .slaves
        .draining
        .get(&id)
        .is_some_and(|info| info.state() == DrainState::Draining)
    {
        return ready(Response::bad_request(
            "Agent is still in the DRAINING state",
        ));
    }
    let operation = Operation::ReactivateAgent(SlaveId { value: id.clone() });
    through_registry(master, ctx, operation, move |master, ctx, applied| {
        master.slaves.draining.remove(&id);
        master.slaves.deactivated.remove(&id);
        master.slaves.drain_changed(&id);
        if !applied {
            return removed_meanwhile();
        }
        master.reactivate_slave(&id, ctx);
        Response::status(200)
    })
}

impl Master {
    /// The drain of agent `id` is stored: it is draining and deactivated;
    /// a registered agent is deactivated now, told to drain and checked
    /// for being drained already.
    fn start_draining(&mut self, id: &str, config: DrainConfig, ctx: &mut Context<Self>) {
        self.slaves.draining.insert(
            id.to_string(),
            DrainInfo {
                state: DrainState::Draining as i32,
                config,
            },
        );
        self.slaves.deactivated.insert(id.to_string());
        self.slaves.drain_changed(id);
        let Some(slave) = self.slaves.registered.get_mut(id) else {
            tracing::info!(slave_id = %id, "Agent will be drained when it re-registers");
            return;
        };
        slave.estimated_drain_start_time = Some(libprocess::clock::now_secs());
        let (pid, connected) = (slave.pid.clone(), slave.connected);
        tracing::info!(
            slave_id = %id,
            tasks = self.tasks_on_slave(id),
            operations = self.operations.on_slave(id).len(),
            "Transitioning agent to the DRAINING state"
        );
        self.deactivate_slave(id);
        if connected {
            self.base.send(&pid, &DrainSlaveMessage { config });
        }
        self.check_and_transition_draining_agent(id, ctx);
    }

    /// Stops offering registered agent `id` (upstream
    /// `Master::deactivate(Slave*)`): inactive here and in the allocator,
    /// its offers and inverse offers rescinded.
    pub(crate) fn deactivate_slave(&mut self, id: &str) {
        let Some(slave) = self.slaves.registered.get_mut(id) else {
            return;
        };
        tracing::info!(slave_id = %id, "Deactivating agent");
        slave.active = false;
        self.allocator.deactivate_slave(id);
        self.rescind_offers(|offer| offer.slave_id.value == id);
        self.rescind_inverse_offers(|_, slave| slave == id);
        self.refresh_gauges();
    }

    /// Offers registered agent `id` again once it is reactivated; a
    /// disconnected one is activated when it re-registers.
    fn reactivate_slave(&mut self, id: &str, ctx: &mut Context<Self>) {
        let Some(slave) = self.slaves.registered.get_mut(id) else {
            tracing::info!(slave_id = %id, "Reactivated agent that is not registered");
            return;
        };
        slave.estimated_drain_start_time = None;
        if !slave.connected {
            tracing::info!(slave_id = %id, "Disconnected agent will be reactivated when it re-registers");
            return;
        }
        tracing::info!(slave_id = %id, "Reactivating agent");
        slave.active = true;
        self.allocator.activate_slave(id);
        self.refresh_gauges();
        self.schedule_allocation(ctx);
    }

    /// Agent `id` re-registered (or was readmitted): deactivated again if
    /// the operator deactivated it, and told to drain again if it is
    /// draining or drained (upstream `__reregisterSlave`).
    pub(crate) fn drain_reregistered(&mut self, id: &str, ctx: &mut Context<Self>) {
        if self.slaves.deactivated.contains(id) {
            self.deactivate_slave(id);
        }
        let Some(info) = self.slaves.draining.get(id).copied() else {
            return;
        };
        let Some(slave) = self.slaves.registered.get(id) else {
            return;
        };
        self.base.send(
            &slave.pid,
            &DrainSlaveMessage {
                config: info.config,
            },
        );
        // An agent that takes operations reports its pending ones in its
        // first `UpdateSlaveMessage`: it is checked then.
        let takes_operations = crate::operation_feedback::has_capability(
            &slave.capabilities,
            slave_info::capability::Type::ResourceProvider,
        );
        if !takes_operations {
            self.check_and_transition_draining_agent(id, ctx);
        }
    }

    /// The tasks the master holds on agent `id`, terminal ones not yet
    /// acknowledged included (upstream `Slave::tasks`).
    fn tasks_on_slave(&self, id: &str) -> usize {
        self.frameworks
            .registered
            .values()
            .flat_map(|f| f.tasks().values())
            .filter(|t| t.slave_id.value == id)
            .count()
    }

    /// Runs [`Master::check_and_transition_draining_agent`] for agent `id`
    /// after what is queued, if it is draining.
    pub(crate) fn check_draining_agent_soon(&self, id: &str) {
        let draining = self
            .slaves
            .draining
            .get(id)
            .is_some_and(|info| info.state() == DrainState::Draining);
        if !draining {
            return;
        }
        let id = id.to_string();
        self.soon(move |master, ctx| master.check_and_transition_draining_agent(&id, ctx));
    }

    /// A draining registered agent with no task and no operation left is
    /// drained: `DRAINED` in the registry, or marked gone if its config
    /// says so (upstream `Master::checkAndTransitionDrainingAgent`).
    pub(crate) fn check_and_transition_draining_agent(
        &mut self,
        id: &str,
        ctx: &mut Context<Self>,
    ) {
        let Some(info) = self.slaves.draining.get(id).copied() else {
            return;
        };
        if info.state() == DrainState::Drained
            || !self.slaves.registered.contains_key(id)
            || self.slaves.marking_drained.contains(id)
        {
            return;
        }
        let tasks = self.tasks_on_slave(id);
        let operations = self.operations.on_slave(id).len();
        if tasks > 0 || operations > 0 {
            tracing::debug!(slave_id = %id, tasks, operations, "Draining agent still has work");
            return;
        }
        if self.slaves.marking_gone.contains(id) {
            tracing::info!(slave_id = %id, "Not marking agent DRAINED: it is being marked gone");
            return;
        }
        let registrar = self.registrar();
        let slave_id = SlaveId {
            value: id.to_string(),
        };
        let id = id.to_string();
        if info.config.mark_gone() {
            tracing::info!(slave_id = %id, "Marking agent in the DRAINED state as gone");
            self.slaves.marking_gone.insert(id.clone());
            let timestamp = crate::operator_api::time(libprocess::clock::now_secs());
            let operation = Operation::MarkSlaveGone(slave_id, timestamp);
            ctx.spawn(
                async move { registrar.apply(operation).await }
                    .into_actor(self)
                    .map(move |result, master, _ctx| match result {
                        Ok(_) => master.agent_gone(&id, timestamp),
                        Err(error) => {
                            tracing::error!(%error, "Failed to mark agent gone in the registry; exiting");
                            std::process::exit(1);
                        }
                    }),
            );
            return;
        }
        tracing::info!(slave_id = %id, "Transitioning agent to the DRAINED state");
        self.slaves.marking_drained.insert(id.clone());
        let operation = Operation::MarkAgentDrained(slave_id);
        ctx.spawn(
            async move { registrar.apply(operation).await }
                .into_actor(self)
                .map(move |result, master, _ctx| {
                    let marked = match result {
                        Ok(marked) => marked,
                        Err(error) => {
                            tracing::error!(%error, "Failed to update draining info in the registry; exiting");
                            std::process::exit(1);
                        }
                    };
                    if !master.slaves.marking_drained.remove(&id) {
                        // Removed or reactivated meanwhile.
                        return;
                    }
                    match master.slaves.draining.get_mut(&id) {
                        Some(info) if marked => {
                            info.state = DrainState::Drained as i32;
                            master.slaves.drain_changed(&id);
                            tracing::info!(slave_id = %id, "Agent marked as DRAINED");
                        }
                        _ => {
                            tracing::info!(slave_id = %id, "Agent was removed while being marked as DRAINED")
                        }
                    }
                }),
        );
    }

    /// Recovers the drain state of an agent from its registry entry.
    pub(crate) fn recover_drain(
        &mut self,
        id: &str,
        drain_info: Option<DrainInfo>,
        deactivated: Option<bool>,
    ) {
        if let Some(info) = drain_info {
            self.slaves.draining.insert(id.to_string(), info);
        }
        if deactivated == Some(true) {
            self.slaves.deactivated.insert(id.to_string());
        }
    }
}
