//! Operations sent to an agent with the `RESOURCE_PROVIDER` and
//! `AGENT_OPERATION_FEEDBACK` capabilities (as upstream agents since 1.5
//! advertise by default): `ApplyOperationMessage`, the agent's status
//! updates, `UPDATE_OPERATION_STATUS` to a v1 HTTP framework, its
//! acknowledgements and reconciliation, `GET_OPERATIONS` and the
//! `master/operations/*` gauges (upstream `operation_reconciliation_tests`,
//! `master_tests` `OperationUpdates*` and `reservation_tests` scenarios).

use std::collections::BTreeMap;
use std::net::SocketAddrV4;

use libprocess::{MessageEvent, Runtime, PID};
use mesos_proto::mesos::internal::{
    update_slave_message, AcknowledgeOperationStatusMessage, ApplyOperationMessage,
    ReconcileOperationsMessage, RegisterSlaveMessage, SlaveRegisteredMessage,
    UpdateOperationStatusMessage, UpdateSlaveMessage,
};
use mesos_proto::mesos::resource::{reservation_info, ReservationInfo};
use mesos_proto::mesos::v1::scheduler::{call, event, Call, Event};
use mesos_proto::mesos::{
    offer, slave_info, FrameworkId, Operation, OperationId, OperationState, OperationStatus,
    Resource, SlaveId, Uuid,
};
use mesos_proto::resources::Resources;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::operator_api::api;
use crate::state::get;
use crate::support::*;

const VERSION: [u8; 16] = [7; 16];

/// A message of one protobuf type as another with the same wire format
/// (v0 and v1).
fn convert<A: prost::Message, B: prost::Message + Default>(message: &A) -> B {
    B::decode(message.encode_to_vec().as_slice()).unwrap()
}

fn reserved(text: &str) -> Vec<Resource> {
    Resources::parse(text, "*")
        .unwrap()
        .push_reservation(&ReservationInfo {
            r#type: Some(reservation_info::Type::Dynamic as i32),
            role: Some("web".into()),
            principal: Some("ops".into()),
            ..Default::default()
        })
        .unwrap()
        .to_vec()
}

fn reserve(id: Option<&str>, resources: Vec<Resource>) -> offer::Operation {
    offer::Operation {
        r#type: Some(offer::operation::Type::Reserve as i32),
        id: id.map(|id| OperationId { value: id.into() }),
        reserve: Some(offer::operation::Reserve {
            resources,
            source: vec![],
        }),
        ..Default::default()
    }
}

/// A master, an emulated agent (`cpus:2;mem:1024;disk:1024`) that takes
/// operations itself (or not), and a v1 HTTP framework of role `web`.
struct Cluster {
    runtime: Runtime,
    _master: PID<mesos_master::master::Master>,
    master_upid: libprocess::UPID,
    agent: PID<Agent>,
    agent_rx: UnboundedReceiver<MessageEvent>,
    slave_id: SlaveId,
    events: EventStream,
    stream_id: String,
    framework_id: String,
}

impl Cluster {
    async fn start(takes_operations: bool) -> Self {
        Self::start_with(takes_operations, &[]).await
    }

    /// As [`Cluster::start`], the master with `extra` flags.
    async fn start_with(takes_operations: bool, extra: &[&str]) -> Self {
        let runtime = runtime();
        let master = start_master(
            &runtime,
            flags(extra),
            Box::<mesos_master::registrar::InMemoryStore>::default(),
        );
        recovered(&master).await;
        let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
        let mut slave = slave_info("agent.example");
        slave.resources = Resources::parse("cpus:2;mem:1024;disk:1024", "*")
            .unwrap()
            .to_vec();
        use slave_info::capability::Type;
        let mut capabilities = vec![
            Type::MultiRole,
            Type::HierarchicalRole,
            Type::ReservationRefinement,
            Type::AgentDraining,
        ];
        if takes_operations {
            capabilities.extend([
                Type::ResourceProvider,
                Type::AgentOperationFeedback,
                Type::ResizeVolume,
            ]);
        }
        let message = RegisterSlaveMessage {
            slave,
            version: Some("1.11.0".into()),
            agent_capabilities: capabilities
                .into_iter()
                .map(|t| slave_info::Capability {
                    r#type: Some(t as i32),
                })
                .collect(),
            resource_version_uuid: Some(Uuid {
                value: VERSION.to_vec(),
            }),
            ..Default::default()
        };
        let to = master.upid().clone();
        agent.dispatch(move |this, _| this.base.send(&to, &message));
        let slave_id = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await).slave_id;
        let subscribe = r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"feedback","roles":["web"],"principal":"ops","capabilities":[{"type":"MULTI_ROLE"}],"failover_timeout":0}}}"#;
        let mut events =
            EventStream::open_at(runtime.address(), "/api/v1/scheduler", subscribe, true).await;
        let stream_id = events
            .head
            .lines()
            .find_map(|l| l.strip_prefix("Mesos-Stream-Id: "))
            .expect("a stream id")
            .trim()
            .to_string();
        let subscribed = next_event(&mut events, event::Type::Subscribed).await;
        let framework_id = subscribed.subscribed.unwrap().framework_id.value;
        let master_upid = master.upid().clone();
        Self {
            runtime,
            _master: master,
            master_upid,
            agent,
            agent_rx,
            slave_id,
            events,
            stream_id,
            framework_id,
        }
    }

    fn addr(&self) -> SocketAddrV4 {
        self.runtime.address()
    }

    /// POSTs a scheduler call (JSON); returns the status and body.
    async fn call(&self, mut call: Call) -> (u16, String) {
        call.framework_id = Some(mesos_proto::mesos::v1::FrameworkId {
            value: self.framework_id.clone(),
        });
        let body = mesos_proto::json::to_string(&call);
        let mut stream = tokio::net::TcpStream::connect(self.addr()).await.unwrap();
        let request = format!(
            "POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Mesos-Stream-Id: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.stream_id,
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        (head[9..12].parse().unwrap(), body.to_string())
    }

    /// ACCEPTs the next offer with `operations`.
    async fn accept(&mut self, operations: Vec<offer::Operation>) {
        let offer = self.next_offer().await;
        self.accept_offer(&offer, operations).await;
    }

    async fn next_offer(&mut self) -> mesos_proto::mesos::v1::Offer {
        let offers = next_event(&mut self.events, event::Type::Offers).await;
        offers.offers.unwrap().offers.remove(0)
    }

    /// ACCEPTs `offer` with `operations`, leaving no filter.
    async fn accept_offer(
        &mut self,
        offer: &mesos_proto::mesos::v1::Offer,
        operations: Vec<offer::Operation>,
    ) {
        let offer = offer.clone();
        let (status, body) = self
            .call(Call {
                r#type: Some(call::Type::Accept as i32),
                accept: Some(call::Accept {
                    offer_ids: vec![offer.id],
                    operations: operations.iter().map(convert).collect(),
                    filters: Some(mesos_proto::mesos::v1::Filters {
                        refuse_seconds: Some(0.0),
                    }),
                }),
                ..Default::default()
            })
            .await;
        assert_eq!(status, 202, "{body}");
    }

    /// Sends the master a message from the agent.
    fn agent_sends<M: mesos_proto::Message + Send + 'static>(&self, message: M) {
        let to = self.master_upid.clone();
        self.agent
            .dispatch(move |this, _| this.base.send(&to, &message));
    }

    /// The next message the agent got named `name` (others skipped).
    async fn agent_got<M: prost::Message + Default>(&mut self, name: &str) -> M {
        loop {
            let event = next(&mut self.agent_rx).await;
            if event.name == name {
                return decode(&event);
            }
        }
    }

    async fn applied(&mut self) -> ApplyOperationMessage {
        self.agent_got("mesos.internal.ApplyOperationMessage").await
    }

    async fn operation_update(&mut self) -> mesos_proto::mesos::v1::OperationStatus {
        let event = next_event(&mut self.events, event::Type::UpdateOperationStatus).await;
        event.update_operation_status.unwrap().status
    }

    /// RECONCILE_OPERATIONS for `(operation id, agent id)` pairs (none:
    /// implicit), answered `202`; returns the next status the framework
    /// hears.
    async fn reconcile(
        &mut self,
        operations: &[(&str, Option<&str>)],
    ) -> mesos_proto::mesos::v1::OperationStatus {
        let operations = operations
            .iter()
            .map(|(id, agent)| call::reconcile_operations::Operation {
                operation_id: mesos_proto::mesos::v1::OperationId {
                    value: id.to_string(),
                },
                agent_id: agent.map(|a| mesos_proto::mesos::v1::AgentId {
                    value: a.to_string(),
                }),
                resource_provider_id: None,
            })
            .collect();
        let (status, body) = self
            .call(Call {
                r#type: Some(call::Type::ReconcileOperations as i32),
                reconcile_operations: Some(call::ReconcileOperations { operations }),
                ..Default::default()
            })
            .await;
        assert_eq!(status, 202, "{body}");
        self.operation_update().await
    }

    async fn metrics(&self) -> BTreeMap<String, f64> {
        let reply = get(self.addr(), "/metrics/snapshot").await;
        serde_json::from_str(&reply.body).unwrap()
    }

    async fn operations(&self) -> Vec<Value> {
        let (status, body) = api(
            self.addr(),
            r#"{"type":"GET_OPERATIONS"}"#,
            "application/json",
        )
        .await;
        assert_eq!(status, 200);
        let response: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(response["type"], "GET_OPERATIONS");
        response["get_operations"]["operations"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The agent's status update for an operation it was sent.
    fn update(
        &self,
        applied: &ApplyOperationMessage,
        state: OperationState,
        status_uuid: u8,
        with_framework: bool,
    ) -> UpdateOperationStatusMessage {
        let status = OperationStatus {
            operation_id: applied.operation_info.id.clone(),
            state: state as i32,
            uuid: Some(Uuid {
                value: vec![status_uuid; 16],
            }),
            slave_id: Some(self.slave_id.clone()),
            converted_resources: if state == OperationState::OperationFinished {
                applied
                    .operation_info
                    .reserve
                    .as_ref()
                    .map(|r| r.resources.clone())
                    .unwrap_or_default()
            } else {
                vec![]
            },
            ..Default::default()
        };
        UpdateOperationStatusMessage {
            framework_id: applied.framework_id.clone().filter(|_| with_framework),
            slave_id: Some(self.slave_id.clone()),
            latest_status: Some(status.clone()),
            status,
            operation_uuid: Some(applied.operation_uuid.clone()),
        }
    }
}

async fn next_event(events: &mut EventStream, kind: event::Type) -> Event {
    loop {
        let event: Event = events.next_of().await;
        if event.r#type() == kind {
            return event;
        }
    }
}

fn assert_gauges(metrics: &BTreeMap<String, f64>, expected: &[(&str, f64)]) {
    for (name, value) in expected {
        let name = format!("master/operations/{name}");
        assert_eq!(metrics.get(&name), Some(value), "{name} in {metrics:#?}");
    }
}

#[actix_rt::test]
async fn a_framework_hears_of_its_operation_acknowledges_it_and_the_master_forgets_it() {
    let mut c = Cluster::start(true).await;
    let metrics = c.metrics().await;
    // Upstream's names, every one at zero before any operation.
    for kind in [
        "",
        "reserve/",
        "unreserve/",
        "create/",
        "destroy/",
        "grow_volume/",
        "shrink_volume/",
        "create_disk/",
        "destroy_disk/",
    ] {
        for state in [
            "total",
            "pending",
            "recovering",
            "unreachable",
            "finished",
            "failed",
            "error",
            "dropped",
            "gone_by_operator",
        ] {
            assert_gauges(&metrics, &[(&format!("{kind}{state}"), 0.0)]);
        }
    }
    assert!(!metrics.contains_key("master/operations/launch/total"));

    let cpus = reserved("cpus:1;mem:128");
    c.accept(vec![reserve(Some("op1"), cpus.clone())]).await;
    let applied = c.applied().await;
    assert_eq!(
        applied.framework_id.as_ref().map(|f| f.value.as_str()),
        Some(c.framework_id.as_str())
    );
    assert_eq!(applied.operation_info.id.as_ref().unwrap().value, "op1");
    assert_eq!(applied.resource_version_uuid.uuid.value, VERSION.to_vec());
    assert!(applied.resource_version_uuid.resource_provider_id.is_none());
    assert_eq!(applied.operation_uuid.value.len(), 16);
    assert_gauges(
        &c.metrics().await,
        &[
            ("total", 1.0),
            ("pending", 1.0),
            ("reserve/pending", 1.0),
            ("finished", 0.0),
        ],
    );
    let listed = c.operations().await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["latest_status"]["state"], "OPERATION_PENDING");
    assert_eq!(listed[0]["framework_id"]["value"], c.framework_id.as_str());
    assert_eq!(listed[0]["agent_id"]["value"], c.slave_id.value.as_str());
    assert_eq!(listed[0]["info"]["id"]["value"], "op1");

    // Until the agent answers, the framework's reconciliation says pending.
    let pending = c.reconcile(&[]).await;
    assert_eq!(
        pending.state(),
        mesos_proto::mesos::v1::OperationState::OperationPending
    );
    assert!(pending.uuid.is_none());

    c.agent_sends(c.update(&applied, OperationState::OperationFinished, 1, true));
    let finished = c.operation_update().await;
    assert_eq!(
        finished.state(),
        mesos_proto::mesos::v1::OperationState::OperationFinished
    );
    assert_eq!(finished.operation_id.as_ref().unwrap().value, "op1");
    assert_eq!(finished.uuid.as_ref().unwrap().value, vec![1; 16]);
    assert_eq!(finished.agent_id.as_ref().unwrap().value, c.slave_id.value);
    assert_gauges(
        &c.metrics().await,
        &[
            ("total", 1.0),
            ("pending", 0.0),
            ("finished", 1.0),
            ("reserve/finished", 1.0),
        ],
    );
    assert_eq!(
        c.metrics()
            .await
            .get("master/valid_operation_status_updates"),
        Some(&1.0)
    );

    // Explicit reconciliation, as upstream answers each case.
    let slave = c.slave_id.value.clone();
    for (id, agent, state, message) in [
        ("op1", Some(slave.as_str()), "OPERATION_FINISHED", None),
        (
            "nope",
            Some(slave.as_str()),
            "OPERATION_UNKNOWN",
            Some("Reconciliation: Operation is unknown"),
        ),
        (
            "nope",
            Some("elsewhere"),
            "OPERATION_UNKNOWN",
            Some("Reconciliation: Both operation and agent are unknown"),
        ),
        (
            "nope",
            None,
            "OPERATION_UNKNOWN",
            Some("Reconciliation: Operation is unknown and no 'agent_id' was provided"),
        ),
    ] {
        let answer = c.reconcile(&[(id, agent)]).await;
        assert_eq!(answer.state().as_str_name(), state);
        assert_eq!(answer.operation_id.as_ref().unwrap().value, id);
        assert_eq!(
            answer.message.as_deref(),
            message.or(answer.message.as_deref())
        );
        assert!(
            answer.uuid.is_none(),
            "a reconciliation answer is not reliable"
        );
    }

    // A malformed acknowledgement is refused; a good one reaches the agent
    // and ends the operation.
    let acknowledge = |uuid: Vec<u8>| Call {
        r#type: Some(call::Type::AcknowledgeOperationStatus as i32),
        acknowledge_operation_status: Some(call::AcknowledgeOperationStatus {
            agent_id: Some(mesos_proto::mesos::v1::AgentId {
                value: slave.clone(),
            }),
            resource_provider_id: None,
            uuid,
            operation_id: mesos_proto::mesos::v1::OperationId {
                value: "op1".into(),
            },
        }),
        ..Default::default()
    };
    let (status, _) = c.call(acknowledge(vec![1, 2, 3])).await;
    assert_eq!(status, 400);
    let (status, body) = c.call(acknowledge(vec![1; 16])).await;
    assert_eq!(status, 202, "{body}");
    let ack: AcknowledgeOperationStatusMessage = c
        .agent_got("mesos.internal.AcknowledgeOperationStatusMessage")
        .await;
    assert_eq!(ack.status_uuid.value, vec![1; 16]);
    assert_eq!(ack.operation_uuid, applied.operation_uuid);
    assert!(c.operations().await.is_empty());
    let metrics = c.metrics().await;
    assert_gauges(
        &metrics,
        &[("total", 1.0), ("finished", 1.0), ("pending", 0.0)],
    );
    assert_eq!(
        metrics.get("master/valid_operation_status_update_acknowledgements"),
        Some(&1.0)
    );
    // The agent was never sent its checkpointed resources: it applies
    // operations itself.
    while let Ok(event) = c.agent_rx.try_recv() {
        assert_ne!(event.name, "mesos.internal.CheckpointResourcesMessage");
    }
}

#[actix_rt::test]
async fn the_master_acknowledges_updates_of_operations_without_feedback() {
    let mut c = Cluster::start(true).await;
    // A framework's reservation without an id, then an operator's.
    c.accept(vec![reserve(None, reserved("cpus:1"))]).await;
    let by_framework = c.applied().await;
    assert!(by_framework.framework_id.is_some());
    let body = serde_json::json!({
        "type": "RESERVE_RESOURCES",
        "reserve_resources": {
            "agent_id": {"value": c.slave_id.value},
            "resources": reserved("disk:100").iter().map(mesos_proto::json::to_value).collect::<Vec<_>>(),
        }
    });
    let (status, _) = api(c.addr(), &body.to_string(), "application/json").await;
    assert_eq!(status, 202);
    let by_operator = c.applied().await;
    assert!(by_operator.framework_id.is_none());
    assert_gauges(&c.metrics().await, &[("pending", 2.0), ("total", 2.0)]);

    for (applied, uuid) in [(&by_operator, 3u8), (&by_framework, 4u8)] {
        c.agent_sends(c.update(applied, OperationState::OperationFinished, uuid, true));
        let ack: AcknowledgeOperationStatusMessage = c
            .agent_got("mesos.internal.AcknowledgeOperationStatusMessage")
            .await;
        assert_eq!(ack.status_uuid.value, vec![uuid; 16]);
        assert_eq!(ack.operation_uuid, applied.operation_uuid);
    }
    assert!(c.operations().await.is_empty());
    assert_gauges(
        &c.metrics().await,
        &[
            ("pending", 0.0),
            ("finished", 2.0),
            ("reserve/finished", 2.0),
            ("total", 2.0),
        ],
    );
}

#[actix_rt::test]
async fn operations_of_an_agent_marked_gone_are_gone_by_operator() {
    let mut c = Cluster::start(true).await;
    c.accept(vec![reserve(Some("op1"), reserved("cpus:1"))])
        .await;
    c.applied().await;
    let body = format!(
        r#"{{"type":"MARK_AGENT_GONE","mark_agent_gone":{{"agent_id":{{"value":"{}"}}}}}}"#,
        c.slave_id.value
    );
    let (status, _) = api(c.addr(), &body, "application/json").await;
    assert_eq!(status, 200);
    let gone = c.operation_update().await;
    assert_eq!(
        gone.state(),
        mesos_proto::mesos::v1::OperationState::OperationGoneByOperator
    );
    assert_eq!(gone.message.as_deref(), Some("Agent has been marked gone"));
    assert_eq!(gone.operation_id.unwrap().value, "op1");
    assert_gauges(
        &c.metrics().await,
        &[
            ("pending", 0.0),
            ("gone_by_operator", 1.0),
            ("reserve/gone_by_operator", 1.0),
            ("total", 1.0),
        ],
    );
    assert!(c.operations().await.is_empty());
    let slave = c.slave_id.value.clone();
    let answer = c.reconcile(&[("op1", Some(&slave))]).await;
    assert_eq!(
        answer.state(),
        mesos_proto::mesos::v1::OperationState::OperationGoneByOperator
    );
    assert_eq!(
        answer.message.as_deref(),
        Some("Reconciliation: Agent marked gone by operator")
    );
}

#[actix_rt::test]
async fn an_agent_update_reconciles_operations_with_the_master() {
    let mut c = Cluster::start(true).await;
    c.accept(vec![reserve(Some("op1"), reserved("cpus:1"))])
        .await;
    let applied = c.applied().await;
    // The agent never got it (say it restarted): its update lists no
    // operation, so the master asks it about the one it holds.
    let slave_id = c.slave_id.clone();
    let update = |operations: Vec<Operation>| UpdateSlaveMessage {
        slave_id: slave_id.clone(),
        update_oversubscribed_resources: Some(false),
        operations: Some(update_slave_message::Operations { operations }),
        resource_version_uuid: Some(Uuid {
            value: VERSION.to_vec(),
        }),
        ..Default::default()
    };
    c.agent_sends(update(vec![]));
    let reconcile: ReconcileOperationsMessage = c
        .agent_got("mesos.internal.ReconcileOperationsMessage")
        .await;
    assert_eq!(reconcile.operations.len(), 1);
    assert_eq!(
        reconcile.operations[0].operation_uuid.as_ref(),
        Some(&applied.operation_uuid)
    );
    // It answers OPERATION_DROPPED without the framework id, as upstream
    // agents do; the framework hears it with its operation id.
    c.agent_sends(c.update(&applied, OperationState::OperationDropped, 5, false));
    let dropped = c.operation_update().await;
    assert_eq!(
        dropped.state(),
        mesos_proto::mesos::v1::OperationState::OperationDropped
    );
    assert_eq!(dropped.operation_id.unwrap().value, "op1");
    assert_gauges(&c.metrics().await, &[("pending", 0.0), ("dropped", 1.0)]);

    // An operation the master does not know (it failed over) is recorded
    // from the agent's report.
    let unknown = Operation {
        framework_id: Some(FrameworkId {
            value: c.framework_id.clone(),
        }),
        slave_id: Some(c.slave_id.clone()),
        info: reserve(Some("op2"), reserved("mem:64")),
        latest_status: OperationStatus {
            operation_id: Some(OperationId {
                value: "op2".into(),
            }),
            state: OperationState::OperationPending as i32,
            ..Default::default()
        },
        statuses: vec![],
        uuid: Uuid { value: vec![9; 16] },
    };
    c.agent_sends(update(vec![unknown.clone()]));
    // The dropped operation, not yet acknowledged, is reconciled again.
    let reconcile: ReconcileOperationsMessage = c
        .agent_got("mesos.internal.ReconcileOperationsMessage")
        .await;
    assert_eq!(
        reconcile.operations[0].operation_uuid.as_ref(),
        Some(&applied.operation_uuid)
    );
    let listed = c.operations().await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().any(|o| o["info"]["id"]["value"] == "op2"));
    assert_gauges(&c.metrics().await, &[("pending", 1.0), ("total", 2.0)]);
}

#[actix_rt::test]
async fn an_agent_without_feedback_gets_checkpointed_resources_and_no_record() {
    let mut c = Cluster::start(false).await;
    c.accept(vec![
        reserve(Some("op1"), reserved("cpus:1")),
        reserve(None, reserved("mem:64")),
    ])
    .await;
    let error = c.operation_update().await;
    assert_eq!(
        error.state(),
        mesos_proto::mesos::v1::OperationState::OperationError
    );
    assert_eq!(
        error.message.unwrap(),
        format!(
            "Operation requested feedback, but agent {} does not have the required \
             RESOURCE_PROVIDER capability",
            c.slave_id.value
        )
    );
    let checkpointed: mesos_proto::mesos::internal::CheckpointResourcesMessage = c
        .agent_got("mesos.internal.CheckpointResourcesMessage")
        .await;
    assert_eq!(
        Resources::from(checkpointed.resources),
        Resources::from(reserved("mem:64"))
    );
    assert!(c.operations().await.is_empty());
    assert_gauges(&c.metrics().await, &[("total", 0.0), ("finished", 0.0)]);
}

/// The volume `id` among `resources` (v1, as offered), in v0 form.
fn find_volume(resources: &[mesos_proto::mesos::v1::Resource], id: &str) -> Option<Resource> {
    resources.iter().map(convert::<_, Resource>).find(|r| {
        r.disk
            .as_ref()
            .and_then(|d| d.persistence.as_ref())
            .is_some_and(|p| p.id == id)
    })
}

fn scalar(resource: &Resource) -> f64 {
    resource.scalar.as_ref().unwrap().value
}

/// The next offer holding the volume `id`, with the volume.
async fn offer_with_volume(c: &mut Cluster, id: &str) -> (mesos_proto::mesos::v1::Offer, Resource) {
    loop {
        let offer = c.next_offer().await;
        if let Some(volume) = find_volume(&offer.resources, id) {
            return (offer, volume);
        }
    }
}

#[actix_rt::test]
async fn a_framework_grows_and_shrinks_a_volume_on_an_agent_that_resizes() {
    use mesos_proto::mesos::resource::{disk_info, DiskInfo};
    use mesos_proto::mesos::{volume, Volume};

    let mut c = Cluster::start(true).await;
    let mut v1 = reserved("disk:100").remove(0);
    v1.disk = Some(DiskInfo {
        persistence: Some(disk_info::Persistence {
            id: "v1".into(),
            principal: Some("ops".into()),
        }),
        volume: Some(Volume {
            container_path: "data".into(),
            mode: volume::Mode::Rw as i32,
            ..Default::default()
        }),
        source: None,
    });
    let create = offer::Operation {
        r#type: Some(offer::operation::Type::Create as i32),
        create: Some(offer::operation::Create { volumes: vec![v1] }),
        ..Default::default()
    };
    c.accept(vec![reserve(None, reserved("disk:150")), create])
        .await;
    for uuid in [1u8, 2] {
        let applied = c.applied().await;
        c.agent_sends(c.update(&applied, OperationState::OperationFinished, uuid, true));
    }

    let (offer, volume) = offer_with_volume(&mut c, "v1").await;
    assert_eq!(scalar(&volume), 100.0);
    let mut addition = reserved("disk:50").remove(0);
    addition.allocation_info = volume.allocation_info.clone();
    let grow = offer::Operation {
        r#type: Some(offer::operation::Type::GrowVolume as i32),
        id: Some(OperationId {
            value: "grow".into(),
        }),
        grow_volume: Some(offer::operation::GrowVolume {
            volume: volume.clone(),
            addition,
        }),
        ..Default::default()
    };
    c.accept_offer(&offer, vec![grow]).await;
    let applied = c.applied().await;
    assert_eq!(
        applied.operation_info.r#type(),
        offer::operation::Type::GrowVolume
    );
    c.agent_sends(c.update(&applied, OperationState::OperationFinished, 3, true));
    assert_eq!(
        c.operation_update().await.state(),
        mesos_proto::mesos::v1::OperationState::OperationFinished
    );
    let (offer, volume) = offer_with_volume(&mut c, "v1").await;
    assert_eq!(scalar(&volume), 150.0, "grown: {volume}");

    let shrink = offer::Operation {
        r#type: Some(offer::operation::Type::ShrinkVolume as i32),
        shrink_volume: Some(offer::operation::ShrinkVolume {
            volume: volume.clone(),
            subtract: mesos_proto::mesos::value::Scalar { value: 30.0 },
        }),
        ..Default::default()
    };
    c.accept_offer(&offer, vec![shrink]).await;
    let applied = c.applied().await;
    c.agent_sends(c.update(&applied, OperationState::OperationFinished, 4, true));
    let (offer, volume) = offer_with_volume(&mut c, "v1").await;
    assert_eq!(scalar(&volume), 120.0, "shrunk: {volume}");
    // The 30 MB it gave back are offered again, still reserved for `web`.
    let freed: f64 = offer
        .resources
        .iter()
        .map(convert::<_, Resource>)
        .filter(|r| r.name == "disk" && r.disk.is_none() && !r.reservations.is_empty())
        .map(|r| scalar(&r))
        .sum();
    assert_eq!(freed, 30.0);
    assert_gauges(
        &c.metrics().await,
        &[
            ("grow_volume/finished", 1.0),
            ("shrink_volume/finished", 1.0),
            ("finished", 4.0),
        ],
    );
}

#[actix_rt::test]
async fn resizing_a_volume_needs_an_agent_that_resizes() {
    let mut c = Cluster::start(false).await;
    let mut volume = reserved("disk:100").remove(0);
    volume.disk = Some(mesos_proto::mesos::resource::DiskInfo {
        persistence: Some(mesos_proto::mesos::resource::disk_info::Persistence {
            id: "v1".into(),
            principal: Some("ops".into()),
        }),
        volume: Some(mesos_proto::mesos::Volume {
            container_path: "data".into(),
            mode: mesos_proto::mesos::volume::Mode::Rw as i32,
            ..Default::default()
        }),
        source: None,
    });
    let body = serde_json::json!({
        "type": "GROW_VOLUME",
        "grow_volume": {
            "agent_id": {"value": c.slave_id.value},
            "volume": mesos_proto::json::to_value(&volume),
            "addition": mesos_proto::json::to_value(&reserved("disk:50")[0]),
        }
    });
    let (status, body) = api(c.addr(), &body.to_string(), "application/json").await;
    assert_eq!(status, 400);
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("cannot be grown on an agent without RESIZE_VOLUME capability"),
        "{body}"
    );
    // Through ACCEPT, a resize asking for feedback is dropped with
    // OPERATION_ERROR: this agent gives none.
    c.accept(vec![offer::Operation {
        r#type: Some(offer::operation::Type::ShrinkVolume as i32),
        id: Some(OperationId {
            value: "shrink".into(),
        }),
        shrink_volume: Some(offer::operation::ShrinkVolume {
            volume,
            subtract: mesos_proto::mesos::value::Scalar { value: 30.0 },
        }),
        ..Default::default()
    }])
    .await;
    let error = c.operation_update().await;
    assert_eq!(
        error.state(),
        mesos_proto::mesos::v1::OperationState::OperationError
    );
    let message = error.message.unwrap();
    assert!(
        message.contains("RESOURCE_PROVIDER capability"),
        "{message}"
    );
}

/// The drain state of agent `id` in `GET_AGENTS`.
async fn drain_state(addr: SocketAddrV4, id: &str) -> Value {
    let (status, body) = api(addr, r#"{"type":"GET_AGENTS"}"#, "application/json").await;
    assert_eq!(status, 200);
    let response: Value = serde_json::from_slice(&body).unwrap();
    response["get_agents"]["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["agent_info"]["id"]["value"] == id)
        .map(|a| a["drain_info"]["state"].clone())
        .unwrap_or(Value::Null)
}

#[actix_rt::test]
async fn a_draining_agent_is_drained_once_its_last_operation_is_acknowledged() {
    let mut c = Cluster::start(true).await;
    c.accept(vec![reserve(Some("op1"), reserved("cpus:1;mem:128"))])
        .await;
    let applied = c.applied().await;
    let id = c.slave_id.value.clone();
    let drain =
        format!(r#"{{"type":"DRAIN_AGENT","drain_agent":{{"agent_id":{{"value":"{id}"}}}}}}"#);
    let (status, body) = api(c.addr(), &drain, "application/json").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let _: mesos_proto::mesos::internal::DrainSlaveMessage =
        c.agent_got("mesos.internal.DrainSlaveMessage").await;
    assert_eq!(drain_state(c.addr(), &id).await, "DRAINING");

    // Finished but not acknowledged, the operation is still held.
    c.agent_sends(c.update(&applied, OperationState::OperationFinished, 1, true));
    c.operation_update().await;
    assert_eq!(drain_state(c.addr(), &id).await, "DRAINING");

    let (status, body) = c
        .call(Call {
            r#type: Some(call::Type::AcknowledgeOperationStatus as i32),
            acknowledge_operation_status: Some(call::AcknowledgeOperationStatus {
                agent_id: Some(mesos_proto::mesos::v1::AgentId { value: id.clone() }),
                resource_provider_id: None,
                uuid: vec![1; 16],
                operation_id: mesos_proto::mesos::v1::OperationId {
                    value: "op1".into(),
                },
            }),
            ..Default::default()
        })
        .await;
    assert_eq!(status, 202, "{body}");
    let _: AcknowledgeOperationStatusMessage = c
        .agent_got("mesos.internal.AcknowledgeOperationStatusMessage")
        .await;
    // The master sends nothing when it marks the agent drained.
    for _ in 0..500 {
        if drain_state(c.addr(), &id).await == "DRAINED" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the agent was not drained");
}

#[actix_rt::test]
async fn an_agent_that_takes_operations_keeps_its_own_view_of_its_resources() {
    use mesos_proto::mesos::internal::ReregisterSlaveMessage;
    use slave_info::capability::Type;

    let mut c = Cluster::start(true).await;
    c.accept(vec![reserve(Some("op1"), reserved("cpus:1"))])
        .await;
    let applied = c.applied().await;
    // It restarts before applying the operation: what it reports has no
    // reservation, and the master takes that (it does not resend its own
    // view, as for agents that do not take operations).
    let mut slave = slave_info("agent.example");
    slave.id = Some(c.slave_id.clone());
    slave.resources = Resources::parse("cpus:2;mem:1024;disk:1024", "*")
        .unwrap()
        .to_vec();
    let message = ReregisterSlaveMessage {
        slave,
        version: Some("1.11.0".into()),
        agent_capabilities: [
            Type::MultiRole,
            Type::HierarchicalRole,
            Type::ReservationRefinement,
            Type::ResourceProvider,
            Type::AgentOperationFeedback,
        ]
        .into_iter()
        .map(|t| slave_info::Capability {
            r#type: Some(t as i32),
        })
        .collect(),
        resource_version_uuid: Some(Uuid { value: vec![8; 16] }),
        ..Default::default()
    };
    c.agent_sends(message);
    let _: mesos_proto::mesos::internal::SlaveReregisteredMessage =
        c.agent_got("mesos.internal.SlaveReregisteredMessage").await;
    let state = get(c.addr(), "/master/slaves").await;
    let state: Value = serde_json::from_str(&state.body).unwrap();
    let agent = &state["slaves"][0];
    assert!(
        agent["reserved_resources"]
            .as_object()
            .is_none_or(|r| r.is_empty()),
        "{agent}"
    );
    // Its update then drops the operation it never got.
    c.agent_sends(UpdateSlaveMessage {
        slave_id: c.slave_id.clone(),
        update_oversubscribed_resources: Some(false),
        operations: Some(update_slave_message::Operations { operations: vec![] }),
        resource_version_uuid: Some(Uuid { value: vec![8; 16] }),
        ..Default::default()
    });
    let reconcile: ReconcileOperationsMessage = c
        .agent_got("mesos.internal.ReconcileOperationsMessage")
        .await;
    assert_eq!(
        reconcile.operations[0].operation_uuid.as_ref(),
        Some(&applied.operation_uuid)
    );
    while let Ok(event) = c.agent_rx.try_recv() {
        assert_ne!(event.name, "mesos.internal.CheckpointResourcesMessage");
    }
}

#[actix_rt::test]
async fn operations_of_an_unreachable_agent_are_unreachable() {
    let mut c = Cluster::start_with(
        true,
        &["--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=2"],
    )
    .await;
    c.accept(vec![reserve(Some("op1"), reserved("cpus:1"))])
        .await;
    c.applied().await;
    c.agent.call(|a, _| a.answer_pings = false).await.unwrap();
    let unreachable = c.operation_update().await;
    assert_eq!(
        unreachable.state(),
        mesos_proto::mesos::v1::OperationState::OperationUnreachable
    );
    assert_eq!(
        unreachable.message.as_deref(),
        Some("Agent was marked unreachable")
    );
    assert_gauges(
        &c.metrics().await,
        &[
            ("pending", 0.0),
            ("unreachable", 1.0),
            ("reserve/unreachable", 1.0),
        ],
    );
    let slave = c.slave_id.value.clone();
    let answer = c.reconcile(&[("op1", Some(&slave))]).await;
    assert_eq!(
        answer.state(),
        mesos_proto::mesos::v1::OperationState::OperationUnreachable
    );
    assert_eq!(
        answer.message.as_deref(),
        Some("Reconciliation: Agent is unreachable")
    );
}
