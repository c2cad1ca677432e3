//! The master's operation records: offer operations it sent to an agent in
//! an `ApplyOperationMessage`, their status updates, acknowledgements and
//! reconciliation, and the `master/operations/*` gauges that count them.
//!
//! Upstream counterparts in `src/master/master.cpp`: the
//! `RESOURCE_PROVIDER` branch of `Master::_apply`, `addOperation`,
//! `updateOperation`, `removeOperation`, `updateOperationStatus`,
//! `acknowledgeOperationStatus`, `reconcileOperations`,
//! `sendBulkOperationFeedback`, the operations part of `updateSlave` and
//! `__removeSlave`; `Master::Http::getOperations` in `http.cpp`.
//!
//! Only agents with the `RESOURCE_PROVIDER` capability (upstream agents
//! since 1.5 by default) get operations this way; for the others the
//! master applies RESERVE, UNRESERVE, CREATE and DESTROY at once and sends
//! the agent its checkpointed resources, keeping no record (upstream's
//! legacy branch of `_apply`; see `operations.rs`). The operations here
//! are those speculative ones on the agent's own resources: the master
//! applies them to the agent's total when it sends them and waits for the
//! agent's status updates only to tell the framework and to forget them.
//!
//! An operation with an `id` asks for feedback: its status updates go to
//! its framework, which acknowledges them (`ACKNOWLEDGE_OPERATION_STATUS`,
//! passed on to the agent); the master acknowledges the others itself.
//! Upstream marks an operation whose framework it does not know an
//! "orphan" when it learns of it; here an operation is an orphan while its
//! framework is not registered, which gives the same answers and adopts it
//! when the framework subscribes.
//!
//! Deliberate differences: resource providers are not tracked (an
//! operation on a provider's resources, or a provider's own operations in
//! an `UpdateSlaveMessage`, are not recorded), so operations are never
//! forwarded to an agent for reconciliation and `OPERATION_RECOVERING` is
//! only answered for agents recovered from the registry.

use std::collections::{BTreeSet, HashMap};

use mesos_proto::mesos::internal::{
    AcknowledgeOperationStatusMessage, ApplyOperationMessage, ResourceVersionUuid,
    UpdateOperationStatusMessage,
};
use mesos_proto::mesos::scheduler::{call, event, Event};
use mesos_proto::mesos::{
    offer, slave_info, FrameworkId, Operation, OperationId, OperationState, OperationStatus,
    SlaveId, Uuid,
};

use crate::master::Master;

/// How long after an agent re-registered the master waits for the
/// framework of an orphan operation to come back before it acknowledges
/// the operation's updates itself (upstream
/// `MIN_WAIT_BEFORE_ORPHAN_OPERATION_ADOPTION`).
pub const MIN_WAIT_BEFORE_ORPHAN_OPERATION_ADOPTION: f64 = 10.0 * 60.0;

/// Returns whether an operation in `state` will not change state again
/// (upstream's `protobuf::isTerminalState(OperationState)`).
pub fn is_terminal(state: OperationState) -> bool {
    matches!(
        state,
        OperationState::OperationFinished
            | OperationState::OperationFailed
            | OperationState::OperationError
            | OperationState::OperationDropped
            | OperationState::OperationGoneByOperator
    )
}

fn state_of(status: &OperationStatus) -> OperationState {
    OperationState::try_from(status.state).unwrap_or(OperationState::OperationUnknown)
}

fn kind_of(operation: &Operation) -> offer::operation::Type {
    operation.info.r#type()
}

/// The operations the master holds, by uuid, with the indexes upstream
/// keeps in `Slave::operations` and `Framework::operations` /
/// `Framework::operationUUIDs`.
#[derive(Default)]
pub struct Operations {
    by_uuid: HashMap<Vec<u8>, Operation>,
    by_slave: HashMap<String, BTreeSet<Vec<u8>>>,
    by_framework: HashMap<String, BTreeSet<Vec<u8>>>,
    /// Operation ids (feedback) by framework.
    ids: HashMap<String, HashMap<String, Vec<u8>>>,
}

impl Operations {
    fn insert(&mut self, operation: Operation) {
        let uuid = operation.uuid.value.clone();
        if let Some(slave_id) = &operation.slave_id {
            self.by_slave
                .entry(slave_id.value.clone())
                .or_default()
                .insert(uuid.clone());
        }
        if let Some(framework_id) = &operation.framework_id {
            self.by_framework
                .entry(framework_id.value.clone())
                .or_default()
                .insert(uuid.clone());
            if let Some(id) = &operation.info.id {
                self.ids
                    .entry(framework_id.value.clone())
                    .or_default()
                    .insert(id.value.clone(), uuid.clone());
            }
        }
        self.by_uuid.insert(uuid, operation);
    }

    fn remove(&mut self, uuid: &[u8]) -> Option<Operation> {
        let operation = self.by_uuid.remove(uuid)?;
        if let Some(slave_id) = &operation.slave_id {
            if let Some(set) = self.by_slave.get_mut(&slave_id.value) {
                set.remove(uuid);
                if set.is_empty() {
                    self.by_slave.remove(&slave_id.value);
                }
            }
        }
        if let Some(framework_id) = &operation.framework_id {
            if let Some(set) = self.by_framework.get_mut(&framework_id.value) {
                set.remove(uuid);
                if set.is_empty() {
                    self.by_framework.remove(&framework_id.value);
                }
            }
            if let (Some(id), Some(ids)) =
                (&operation.info.id, self.ids.get_mut(&framework_id.value))
            {
                if ids.get(&id.value).is_some_and(|u| u.as_slice() == uuid) {
                    ids.remove(&id.value);
                }
                if ids.is_empty() {
                    self.ids.remove(&framework_id.value);
                }
            }
        }
        Some(operation)
    }

    /// The operation with this uuid.
    pub fn get(&self, uuid: &[u8]) -> Option<&Operation> {
        self.by_uuid.get(uuid)
    }

    /// The uuids of the operations on an agent.
    pub fn on_slave(&self, slave_id: &str) -> Vec<Vec<u8>> {
        self.by_slave
            .get(slave_id)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The operations of a framework, by uuid.
    pub fn of_framework(&self, framework_id: &str) -> impl Iterator<Item = &Operation> {
        self.by_framework
            .get(framework_id)
            .into_iter()
            .flatten()
            .filter_map(|uuid| self.by_uuid.get(uuid))
    }

    /// A framework's operation by its id.
    pub fn by_id(&self, framework_id: &str, operation_id: &str) -> Option<&Operation> {
        let uuid = self.ids.get(framework_id)?.get(operation_id)?;
        self.by_uuid.get(uuid)
    }

    /// Every operation, agent by agent.
    pub fn all(&self) -> impl Iterator<Item = &Operation> {
        self.by_slave
            .values()
            .flatten()
            .filter_map(|uuid| self.by_uuid.get(uuid))
    }

    /// How many operations the master holds.
    pub fn len(&self) -> usize {
        self.by_uuid.len()
    }

    /// Whether the master holds none.
    pub fn is_empty(&self) -> bool {
        self.by_uuid.is_empty()
    }
}

/// Whether an agent's capabilities include `capability`.
pub fn has_capability(
    capabilities: &[slave_info::Capability],
    capability: slave_info::capability::Type,
) -> bool {
    capabilities
        .iter()
        .any(|c| c.r#type == Some(capability as i32))
}

/// The latest status sent to the framework, or the pending one if none
/// was (upstream's choice in `reconcileOperations`), without its uuid: a
/// reconciliation answer is not sent reliably.
fn reconciliation_status(operation: &Operation) -> OperationStatus {
    let mut status = operation
        .statuses
        .last()
        .unwrap_or(&operation.latest_status)
        .clone();
    status.uuid = None;
    status
}

impl Master {
    /// Whether the master sends this agent its operations in an
    /// `ApplyOperationMessage` (an agent with the `RESOURCE_PROVIDER`
    /// capability, which reports its resource version) rather than
    /// applying them itself.
    pub(crate) fn agent_takes_operations(&self, slave_id: &str) -> bool {
        self.slaves.registered.get(slave_id).is_some_and(|slave| {
            slave.resource_version.is_some()
                && has_capability(
                    &slave.capabilities,
                    slave_info::capability::Type::ResourceProvider,
                )
        })
    }

    fn is_completed_framework(&self, framework_id: &str) -> bool {
        self.frameworks.completed.iter().any(|f| {
            f.info
                .id
                .as_ref()
                .is_some_and(|id| id.value == framework_id)
        })
    }

    /// Records an operation (upstream `addOperation`).
    fn add_operation(&mut self, operation: Operation) {
        self.metrics
            .operations
            .add(kind_of(&operation), state_of(&operation.latest_status), 1);
        self.operations.insert(operation);
    }

    /// Forgets an operation (upstream `removeOperation`): the gauges of
    /// terminal states keep counting it, those of other states do not.
    fn remove_operation(&mut self, uuid: &[u8]) {
        let Some(operation) = self.operations.remove(uuid) else {
            return;
        };
        let state = state_of(&operation.latest_status);
        if !is_terminal(state) {
            self.metrics.operations.add(kind_of(&operation), state, -1);
        }
    }

    /// Applies a status update to an operation (upstream
    /// `updateOperation`): a terminal operation keeps its state, and the
    /// status joins its history unless it repeats the last one.
    fn update_operation(&mut self, uuid: &[u8], update: &UpdateOperationStatusMessage) {
        let Some(mut operation) = self.operations.by_uuid.remove(uuid) else {
            return;
        };
        let status = update.latest_status.as_ref().unwrap_or(&update.status);
        let old = state_of(&operation.latest_status);
        tracing::info!(
            operation_id = ?operation.info.id.as_ref().map(|id| &id.value),
            uuid = %uuid::Uuid::from_slice(uuid).map(|u| u.to_string()).unwrap_or_default(),
            framework_id = ?operation.framework_id.as_ref().map(|id| &id.value),
            latest = old.as_str_name(),
            update = state_of(status).as_str_name(),
            "Updating the state of operation"
        );
        self.metrics
            .operations
            .transition(kind_of(&operation), old, state_of(status));
        if !is_terminal(old) {
            operation.latest_status = status.clone();
        }
        if operation.statuses.last() != Some(status) {
            operation.statuses.push(status.clone());
        }
        self.operations.by_uuid.insert(uuid.to_vec(), operation);
    }

    /// Sends an operation status update to a framework, if it is
    /// registered and connected (upstream `Framework::send` of an
    /// `UpdateOperationStatusMessage`: the message to a v0 scheduler, an
    /// `UPDATE_OPERATION_STATUS` event with its `status` to an HTTP one).
    fn send_operation_update(&self, framework_id: &str, update: &UpdateOperationStatusMessage) {
        let framework = self.frameworks.registered.get(framework_id);
        let Some(framework) = framework.filter(|f| f.connected) else {
            tracing::warn!(
                %framework_id,
                "Received an operation status update, but the framework is {}",
                if framework.is_none() { "unknown" } else { "disconnected" }
            );
            return;
        };
        tracing::info!(%framework_id, state = state_of(&update.status).as_str_name(), "Forwarding operation status update");
        self.send_operation_status(framework, update.status.clone(), Some(update));
    }

    /// Sends one operation status to a framework: to a v0 scheduler as an
    /// `UpdateOperationStatusMessage` (`update`, or one made from
    /// `status`), to an HTTP one as an `UPDATE_OPERATION_STATUS` event.
    fn send_operation_status(
        &self,
        framework: &crate::frameworks::Framework,
        status: OperationStatus,
        update: Option<&UpdateOperationStatusMessage>,
    ) {
        if let Some(http) = &framework.http {
            framework.metrics.event(event::Type::UpdateOperationStatus);
            http.send(&Event {
                r#type: Some(event::Type::UpdateOperationStatus as i32),
                update_operation_status: Some(event::UpdateOperationStatus { status }),
                ..Default::default()
            });
        } else if let Some(pid) = &framework.pid {
            let message = match update {
                Some(update) => update.clone(),
                None => UpdateOperationStatusMessage {
                    framework_id: framework.info.id.clone(),
                    slave_id: status.slave_id.clone(),
                    status,
                    ..Default::default()
                },
            };
            libprocess::Process::base(self).send(pid, &message);
        }
    }

    /// Sends an operation to an agent that takes them (the
    /// `RESOURCE_PROVIDER` branch of upstream `_apply`): recorded as
    /// `OPERATION_PENDING` and sent in an `ApplyOperationMessage` with the
    /// agent's resource version. The caller has applied it to the agent's
    /// total.
    pub(crate) fn send_operation_to_agent(
        &mut self,
        framework_id: Option<&str>,
        slave_id: &str,
        info: offer::Operation,
    ) {
        let Some(slave) = self.slaves.registered.get(slave_id) else {
            return;
        };
        let Some(version) = slave.resource_version.clone() else {
            return;
        };
        let pid = slave.pid.clone();
        let uuid = Uuid {
            value: uuid::Uuid::new_v4().as_bytes().to_vec(),
        };
        let framework_id = framework_id.map(|id| FrameworkId { value: id.into() });
        let operation = Operation {
            framework_id: framework_id.clone(),
            slave_id: Some(SlaveId {
                value: slave_id.into(),
            }),
            info: info.clone(),
            latest_status: OperationStatus {
                operation_id: info.id.clone(),
                state: OperationState::OperationPending as i32,
                slave_id: Some(SlaveId {
                    value: slave_id.into(),
                }),
                ..Default::default()
            },
            statuses: Vec::new(),
            uuid: uuid.clone(),
        };
        self.add_operation(operation);
        tracing::info!(
            operation_id = ?info.id.as_ref().map(|id| &id.value),
            uuid = %uuid::Uuid::from_slice(&uuid.value).unwrap_or_default(),
            %slave_id,
            "Sending operation to agent"
        );
        libprocess::Process::base(self).send(
            &pid,
            &ApplyOperationMessage {
                framework_id,
                operation_info: info,
                operation_uuid: uuid,
                resource_version_uuid: ResourceVersionUuid {
                    resource_provider_id: None,
                    uuid: version,
                },
            },
        );
    }

    /// `UpdateOperationStatusMessage` from an agent (upstream
    /// `Master::updateOperationStatus`).
    pub(crate) fn operation_status_update(&mut self, mut update: UpdateOperationStatusMessage) {
        self.metrics.messages_operation_status_update.inc();
        let Some(slave_id) = update.slave_id.as_ref().map(|id| id.value.clone()) else {
            tracing::warn!("Ignoring an operation status update without an agent id");
            self.metrics.invalid_operation_status_updates.inc();
            return;
        };
        let mut framework_id = update.framework_id.as_ref().map(|id| id.value.clone());
        // Without an operation uuid it answers a reconciliation the master
        // forwarded: it only goes on to the framework.
        let Some(uuid) = update.operation_uuid.as_ref().map(|u| u.value.clone()) else {
            if let Some(framework_id) = &framework_id {
                self.send_operation_update(framework_id, &update);
            }
            return;
        };
        let Some(slave) = self.slaves.registered.get(&slave_id) else {
            tracing::warn!(%slave_id, "Ignoring status update for an operation: agent is not registered");
            self.metrics.invalid_operation_status_updates.inc();
            return;
        };
        let reregistered_time = slave.reregistered_time;
        let slave_pid = slave.pid.clone();
        let known = self
            .operations
            .get(&uuid)
            .filter(|o| o.slave_id.as_ref().is_some_and(|id| id.value == slave_id));
        let Some(operation) = known else {
            // A duplicate after master/agent reconciliation, or the answer
            // to a framework's reconciliation that raced with its removal.
            if let Some(framework_id) = &framework_id {
                self.send_operation_update(framework_id, &update);
                self.metrics.invalid_operation_status_updates.inc();
            }
            return;
        };
        self.metrics.valid_operation_status_updates.inc();
        let has_id = operation.info.id.is_some();
        let operation_framework = operation.framework_id.as_ref().map(|id| id.value.clone());
        if has_id {
            framework_id = operation_framework.clone();
            update.status.operation_id = operation.info.id.clone();
        }
        self.update_operation(&uuid, &update);
        let Some(operation) = self.operations.get(&uuid) else {
            return;
        };
        let latest = operation
            .statuses
            .last()
            .cloned()
            .unwrap_or_else(|| operation.latest_status.clone());
        let terminal = is_terminal(state_of(&latest));
        let orphan = operation_framework
            .as_ref()
            .is_some_and(|id| !self.frameworks.registered.contains_key(id));
        let completed = framework_id
            .as_ref()
            .is_some_and(|id| self.is_completed_framework(id));
        if has_id && framework_id.is_some() && !completed && !orphan {
            if let Some(framework_id) = &framework_id {
                self.send_operation_update(framework_id, &update);
            }
            if terminal && latest.uuid.is_none() {
                self.remove_operation(&uuid);
            }
            return;
        }
        if let Some(status_uuid) = latest.uuid.clone() {
            // An orphan's framework may still come back: until a while
            // after its agent re-registered, the update is left
            // unacknowledged (the agent retries it).
            if has_id && orphan && framework_id.is_some() && !completed {
                let recent = reregistered_time.is_some_and(|at| {
                    libprocess::clock::now_secs() - at < MIN_WAIT_BEFORE_ORPHAN_OPERATION_ADOPTION
                });
                if recent {
                    return;
                }
            }
            libprocess::Process::base(self).send(
                &slave_pid,
                &AcknowledgeOperationStatusMessage {
                    status_uuid,
                    operation_uuid: Uuid {
                        value: uuid.clone(),
                    },
                    resource_provider_id: None,
                },
            );
        }
        if terminal {
            self.remove_operation(&uuid);
        }
    }

    /// `ACKNOWLEDGE_OPERATION_STATUS` from a framework (upstream
    /// `Master::acknowledgeOperationStatus`): passed on to the agent, and
    /// a terminal status acknowledged ends the operation.
    pub(crate) fn acknowledge_operation_status(
        &mut self,
        framework_id: &str,
        acknowledge: call::AcknowledgeOperationStatus,
    ) {
        self.metrics
            .messages_operation_status_update_acknowledgement
            .inc();
        let operation_id = acknowledge.operation_id.value.clone();
        let invalid = |this: &Self, why: &str| {
            tracing::warn!(
                %framework_id,
                %operation_id,
                "Cannot send operation status update acknowledgement: {why}"
            );
            this.metrics
                .invalid_operation_status_update_acknowledgements
                .inc();
        };
        let Some(slave_id) = acknowledge.slave_id.as_ref().map(|id| id.value.clone()) else {
            return invalid(self, "no agent id");
        };
        let Some(slave) = self.slaves.registered.get(&slave_id) else {
            return invalid(self, "agent is not registered");
        };
        if !slave.connected {
            return invalid(self, "agent is disconnected");
        }
        if acknowledge.resource_provider_id.is_some()
            && !has_capability(
                &slave.capabilities,
                slave_info::capability::Type::ResourceProvider,
            )
        {
            return invalid(
                self,
                "the agent does not have the RESOURCE_PROVIDER capability",
            );
        }
        if acknowledge.resource_provider_id.is_none()
            && !has_capability(
                &slave.capabilities,
                slave_info::capability::Type::AgentOperationFeedback,
            )
        {
            return invalid(
                self,
                "the agent does not support operation feedback on agent default resources",
            );
        }
        let pid = slave.pid.clone();
        let Some(operation) = self.operations.by_id(framework_id, &operation_id) else {
            return invalid(self, "the operation is unknown");
        };
        let Some(status) = operation
            .statuses
            .iter()
            .find(|s| s.uuid.as_ref().is_some_and(|u| u.value == acknowledge.uuid))
        else {
            tracing::warn!(%framework_id, %operation_id, "Ignoring operation status acknowledgement: the operation status is unknown");
            // Upstream counts this one among the task acknowledgements.
            self.metrics.invalid_status_update_acknowledgements.inc();
            return;
        };
        let terminal = is_terminal(state_of(status));
        let uuid = operation.uuid.clone();
        tracing::info!(%framework_id, %operation_id, %slave_id, "Processing ACKNOWLEDGE_OPERATION_STATUS call");
        if terminal {
            self.remove_operation(&uuid.value);
        }
        libprocess::Process::base(self).send(
            &pid,
            &AcknowledgeOperationStatusMessage {
                status_uuid: Uuid {
                    value: acknowledge.uuid,
                },
                operation_uuid: uuid,
                resource_provider_id: acknowledge.resource_provider_id,
            },
        );
        self.metrics
            .valid_operation_status_update_acknowledgements
            .inc();
        self.check_draining_agent_soon(&slave_id);
    }

    /// `RECONCILE_OPERATIONS` (upstream `Master::reconcileOperations`):
    /// without operations, the latest status of each of the framework's
    /// operations; with some, an answer for each from what the master
    /// knows of it or of its agent.
    pub(crate) fn reconcile_operations(
        &mut self,
        framework_id: &str,
        reconcile: call::ReconcileOperations,
    ) {
        self.metrics.messages_reconcile_operations.inc();
        let Some(framework) = self.frameworks.registered.get(framework_id) else {
            return;
        };
        if reconcile.operations.is_empty() {
            tracing::info!(%framework_id, "Performing implicit operation state reconciliation");
            for operation in self.operations.of_framework(framework_id) {
                self.send_operation_status(framework, reconciliation_status(operation), None);
            }
            return;
        }
        tracing::info!(%framework_id, count = reconcile.operations.len(), "Performing explicit operation state reconciliation");
        for asked in reconcile.operations {
            let slave_id = asked.slave_id.as_ref().map(|id| id.value.as_str());
            let answer = |state: OperationState, message: &str| OperationStatus {
                operation_id: Some(asked.operation_id.clone()),
                state: state as i32,
                message: Some(message.to_string()),
                slave_id: asked.slave_id.clone(),
                resource_provider_id: asked.resource_provider_id.clone(),
                ..Default::default()
            };
            let status = if let Some(operation) = self
                .operations
                .by_id(framework_id, &asked.operation_id.value)
            {
                reconciliation_status(operation)
            } else if slave_id.is_some_and(|id| self.slaves.recovered.contains_key(id)) {
                answer(
                    OperationState::OperationRecovering,
                    "Reconciliation: Agent is recovered but has not re-registered",
                )
            } else if slave_id.is_some_and(|id| self.slaves.registered.contains_key(id)) {
                answer(
                    OperationState::OperationUnknown,
                    "Reconciliation: Operation is unknown",
                )
            } else if slave_id.is_some_and(|id| self.slaves.unreachable.contains_key(id)) {
                answer(
                    OperationState::OperationUnreachable,
                    "Reconciliation: Agent is unreachable",
                )
            } else if slave_id.is_some_and(|id| self.slaves.gone.contains_key(id)) {
                answer(
                    OperationState::OperationGoneByOperator,
                    "Reconciliation: Agent marked gone by operator",
                )
            } else if slave_id.is_some() {
                answer(
                    OperationState::OperationUnknown,
                    "Reconciliation: Both operation and agent are unknown",
                )
            } else {
                answer(
                    OperationState::OperationUnknown,
                    "Reconciliation: Operation is unknown and no 'agent_id' was provided",
                )
            };
            self.send_operation_status(framework, status, None);
        }
    }

    /// The operations on an agent that left: frameworks that asked for
    /// feedback hear `OPERATION_UNREACHABLE` or `OPERATION_GONE_BY_OPERATOR`
    /// (unreliably, as upstream's `sendBulkOperationFeedback`, when it was
    /// marked unreachable or gone), and each operation counts in that
    /// state and is forgotten (upstream `__removeSlave`).
    pub(crate) fn slave_operations_left(&mut self, slave_id: &str, left: crate::tasks::AgentLeft) {
        use crate::tasks::AgentLeft;
        let uuids = self.operations.on_slave(slave_id);
        if uuids.is_empty() {
            return;
        }
        let (state, feedback) = match left {
            AgentLeft::Unreachable(_) => (
                OperationState::OperationUnreachable,
                Some("Agent was marked unreachable"),
            ),
            AgentLeft::Gone => (
                OperationState::OperationGoneByOperator,
                Some("Agent has been marked gone"),
            ),
            AgentLeft::Removed => (OperationState::OperationGoneByOperator, None),
        };
        for uuid in uuids {
            let Some(operation) = self.operations.get(&uuid) else {
                continue;
            };
            if let (Some(message), Some(id), Some(framework_id)) =
                (feedback, &operation.info.id, &operation.framework_id)
            {
                let framework = self.frameworks.registered.get(&framework_id.value);
                if let Some(framework) = framework.filter(|f| f.http.is_some()) {
                    let status = OperationStatus {
                        operation_id: Some(OperationId {
                            value: id.value.clone(),
                        }),
                        state: state as i32,
                        message: Some(message.to_string()),
                        slave_id: Some(SlaveId {
                            value: slave_id.into(),
                        }),
                        ..Default::default()
                    };
                    self.send_operation_status(framework, status, None);
                }
            }
            self.metrics.operations.add(kind_of(operation), state, 1);
            self.remove_operation(&uuid);
        }
    }

    /// The operations an agent reported in an `UpdateSlaveMessage`
    /// (agent-default resources only; upstream `updateSlave`): those the
    /// master does not know (it failed over) are recorded, and those it
    /// knows that the agent did not report are reconciled with the agent
    /// (it answers `OPERATION_DROPPED` for those it never got). Returns
    /// whether they differ from what the master holds.
    pub(crate) fn slave_reported_operations(
        &mut self,
        slave_id: &str,
        reported: Option<&[Operation]>,
        check_only: bool,
    ) -> bool {
        let known = self.operations.on_slave(slave_id);
        let received: Vec<&Operation> = reported.unwrap_or_default().iter().collect();
        let differs = received.len() != known.len()
            || received
                .iter()
                .any(|o| self.operations.get(&o.uuid.value) != Some(*o));
        if check_only || !differs {
            return differs;
        }
        let reported_uuids: BTreeSet<&[u8]> =
            received.iter().map(|o| o.uuid.value.as_slice()).collect();
        let missing: Vec<Vec<u8>> = known
            .into_iter()
            .filter(|uuid| reported.is_none() || !reported_uuids.contains(uuid.as_slice()))
            .collect();
        for operation in received {
            if self.operations.get(&operation.uuid.value).is_none() {
                let mut operation = operation.clone();
                operation.slave_id = Some(SlaveId {
                    value: slave_id.into(),
                });
                self.add_operation(operation);
            }
        }
        if !missing.is_empty() {
            let Some(pid) = self.slaves.registered.get(slave_id).map(|s| s.pid.clone()) else {
                return differs;
            };
            for uuid in &missing {
                tracing::warn!(
                    %slave_id,
                    uuid = %uuid::Uuid::from_slice(uuid).unwrap_or_default(),
                    "Performing explicit reconciliation with agent for known operation since it was not present in original reconciliation message from agent"
                );
            }
            let message = mesos_proto::mesos::internal::ReconcileOperationsMessage {
                operations: missing
                    .into_iter()
                    .map(|uuid| {
                        mesos_proto::mesos::internal::reconcile_operations_message::Operation {
                            operation_uuid: Some(Uuid { value: uuid }),
                            ..Default::default()
                        }
                    })
                    .collect(),
                framework_id: None,
            };
            libprocess::Process::base(self).send(&pid, &message);
        }
        differs
    }

    /// Every operation the master holds (`GET_OPERATIONS`).
    pub(crate) fn all_operations(&self) -> Vec<Operation> {
        self.operations.all().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operation(uuid: u8, slave: &str, framework: Option<&str>, id: Option<&str>) -> Operation {
        Operation {
            framework_id: framework.map(|f| FrameworkId { value: f.into() }),
            slave_id: Some(SlaveId {
                value: slave.into(),
            }),
            info: offer::Operation {
                r#type: Some(offer::operation::Type::Reserve as i32),
                id: id.map(|i| OperationId { value: i.into() }),
                ..Default::default()
            },
            latest_status: OperationStatus {
                state: OperationState::OperationPending as i32,
                ..Default::default()
            },
            statuses: Vec::new(),
            uuid: Uuid { value: vec![uuid] },
        }
    }

    #[test]
    fn operations_are_found_by_agent_framework_and_id_until_removed() {
        let mut operations = Operations::default();
        operations.insert(operation(1, "s1", Some("f1"), Some("op1")));
        operations.insert(operation(2, "s1", None, None));
        operations.insert(operation(3, "s2", Some("f1"), None));
        assert_eq!(operations.on_slave("s1"), vec![vec![1], vec![2]]);
        assert_eq!(operations.of_framework("f1").count(), 2);
        assert_eq!(
            operations.by_id("f1", "op1").map(|o| o.uuid.value.clone()),
            Some(vec![1])
        );
        assert!(operations.remove(&[1]).is_some());
        assert!(operations.by_id("f1", "op1").is_none());
        assert_eq!(operations.on_slave("s1"), vec![vec![2]]);
        assert_eq!(operations.of_framework("f1").count(), 1);
        assert_eq!(operations.all().count(), 2);
        operations.remove(&[2]);
        operations.remove(&[3]);
        assert!(operations.is_empty());
        assert!(operations.by_slave.is_empty() && operations.by_framework.is_empty());
        assert!(operations.ids.is_empty());
    }

    #[test]
    fn terminal_operation_states_are_upstreams() {
        use OperationState::*;
        for state in [
            OperationFinished,
            OperationFailed,
            OperationError,
            OperationDropped,
            OperationGoneByOperator,
        ] {
            assert!(is_terminal(state), "{state:?}");
        }
        for state in [
            OperationPending,
            OperationUnreachable,
            OperationRecovering,
            OperationUnknown,
            OperationUnsupported,
        ] {
            assert!(!is_terminal(state), "{state:?}");
        }
    }
}
