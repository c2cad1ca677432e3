//! Agents partitioned from the master, as frameworks see them (upstream
//! `partition_tests`): tasks of an agent that stops answering pings become
//! `TASK_UNREACHABLE` for `PARTITION_AWARE` frameworks and `TASK_LOST` for
//! the others, come back when the agent re-registers, and become
//! `TASK_GONE_BY_OPERATOR` (or `TASK_LOST`) when the operator marks the
//! agent gone.

use libprocess::{MessageEvent, Runtime, PID};
use mesos_master::master::Master;
use mesos_master::registrar::InMemoryStore;
use mesos_proto::mesos::internal::{
    FrameworkRegisteredMessage, LostSlaveMessage, ReregisterSlaveMessage, RunTaskMessage,
    ShutdownMessage, SlaveRegisteredMessage, SlaveReregisteredMessage, StatusUpdate,
    StatusUpdateMessage, UnregisterSlaveMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{
    framework_info, task_status, FrameworkId, FrameworkInfo, SlaveId, SlaveInfo, Task, TaskId,
    TaskState, TaskStatus,
};
use mesos_proto::resources::Resources;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::frameworks::{info, recv, spawn_scheduler, subscribe, Scheduler};
use crate::offers::{accept, next_offers, next_update, send_call, task};
use crate::support::*;

/// A master with one registered agent (cpus:4;mem:1024). Pings time out
/// after 500ms and two missed ones make the agent unreachable.
pub(crate) struct Cluster {
    pub runtime: Runtime,
    pub master: PID<Master>,
    pub agent: PID<Agent>,
    pub agent_rx: UnboundedReceiver<MessageEvent>,
    /// The agent's info, with its id.
    pub slave: SlaveInfo,
}

impl Cluster {
    pub async fn start(extra: &[&str]) -> Self {
        let runtime = runtime();
        let mut args = vec![
            "--registry=in_memory",
            "--agent_ping_timeout=500ms",
            "--max_agent_ping_timeouts=2",
        ];
        args.extend_from_slice(extra);
        let master = start_master(&runtime, flags(&args), Box::<InMemoryStore>::default());
        recovered(&master).await;
        let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
        let mut slave = slave_info("agent.example");
        slave.resources = Resources::parse("cpus:4;mem:1024", "*").unwrap().to_vec();
        register_with(&agent, master.upid(), "1.11.0", slave.clone());
        let event = next(&mut agent_rx).await;
        slave.id = Some(decode::<SlaveRegisteredMessage>(&event).slave_id);
        Self {
            runtime,
            master,
            agent,
            agent_rx,
            slave,
        }
    }

    pub fn slave_id(&self) -> String {
        self.slave.id.clone().unwrap().value
    }

    /// Subscribes a framework and launches `task_ids` (cpus:1;mem:128
    /// each) on the agent, which reports them `TASK_RUNNING`. The
    /// framework declines the rest of the offer for good, so the next
    /// framework gets it.
    pub async fn launch(&mut self, partition_aware: bool, task_ids: &[&str]) -> Framework {
        let mut info = info(None, 0.0);
        if partition_aware {
            info.capabilities.push(framework_info::Capability {
                r#type: Some(framework_info::capability::Type::PartitionAware as i32),
            });
        }
        let (scheduler, mut rx) = spawn_scheduler(&self.runtime);
        subscribe(&scheduler, self.master.upid(), info.clone(), false);
        let id = decode::<FrameworkRegisteredMessage>(&recv(&mut rx).await).framework_id;
        info.id = Some(id.clone());
        let offers = next_offers(&mut rx).await;
        let offer = &offers.offers[0];
        let tasks = task_ids
            .iter()
            .map(|task_id| task(task_id, offer, "cpus:1;mem:128"))
            .collect();
        send_call(
            &scheduler,
            self.master.upid(),
            accept(&id, &[offer], tasks, 1000.0),
        );
        let mut framework = Framework {
            scheduler,
            rx,
            id: id.clone(),
            info,
            tasks: Vec::new(),
        };
        while framework.tasks.len() < task_ids.len() {
            let event = next(&mut self.agent_rx).await;
            if event.name != "mesos.internal.RunTaskMessage" {
                continue;
            }
            let run: RunTaskMessage = decode(&event);
            framework.tasks.push(Task {
                name: run.task.name.clone(),
                task_id: run.task.task_id.clone(),
                framework_id: id.clone(),
                slave_id: run.task.slave_id.clone(),
                state: TaskState::TaskRunning as i32,
                resources: run.task.resources.clone(),
                ..Default::default()
            });
        }
        for task in &framework.tasks {
            self.send_update(&framework.id, &task.task_id, TaskState::TaskRunning, None);
            let update = next_update(&mut framework.rx).await.update;
            assert_eq!(update.status.state(), TaskState::TaskRunning);
        }
        framework
    }

    /// The agent reports a state of a framework's task; `latest` is the
    /// task's latest state when the update is a retry of an older one.
    pub fn send_update(
        &self,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        state: TaskState,
        latest: Option<TaskState>,
    ) {
        let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
        let message = StatusUpdateMessage {
            update: StatusUpdate {
                framework_id: framework_id.clone(),
                executor_id: None,
                slave_id: self.slave.id.clone(),
                status: TaskStatus {
                    task_id: task_id.clone(),
                    state: state as i32,
                    source: Some(task_status::Source::Executor as i32),
                    uuid: Some(uuid.clone()),
                    ..Default::default()
                },
                timestamp: 1.0,
                uuid: Some(uuid),
                latest_state: latest.map(|s| s as i32),
            },
            pid: Some(self.agent.upid().to_string()),
        };
        let to = self.master.upid().clone();
        self.agent
            .dispatch(move |this, _| this.base.send(&to, &message));
    }

    /// Stops answering pings and waits until the master has marked the
    /// agent unreachable.
    pub async fn partition(&self) {
        self.agent
            .call(|a, _| a.answer_pings = false)
            .await
            .unwrap();
        let id = self.slave_id();
        for _ in 0..1000 {
            let id = id.clone();
            let unreachable = self
                .master
                .call(move |m, _| m.slaves.unreachable.contains_key(&id))
                .await
                .unwrap();
            if unreachable {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the agent was not marked unreachable");
    }

    /// The agent answers pings again and re-registers with `tasks`.
    pub async fn reregister(&mut self, frameworks: &[&Framework], tasks: Vec<Task>) {
        self.agent.call(|a, _| a.answer_pings = true).await.unwrap();
        let message = ReregisterSlaveMessage {
            slave: self.slave.clone(),
            version: Some("1.11.0".into()),
            tasks,
            frameworks: frameworks.iter().map(|f| f.info.clone()).collect(),
            ..Default::default()
        };
        let to = self.master.upid().clone();
        self.agent
            .dispatch(move |this, _| this.base.send(&to, &message));
        let reply = loop {
            let event = next(&mut self.agent_rx).await;
            if event.name == "mesos.internal.SlaveReregisteredMessage" {
                break decode::<SlaveReregisteredMessage>(&event);
            }
        };
        assert_eq!(Some(reply.slave_id), self.slave.id);
    }
}

/// A v0 framework with tasks on the cluster's agent.
pub(crate) struct Framework {
    pub scheduler: PID<Scheduler>,
    pub rx: UnboundedReceiver<MessageEvent>,
    pub id: FrameworkId,
    pub info: FrameworkInfo,
    /// Its tasks, as the agent reports them.
    pub tasks: Vec<Task>,
}

impl Framework {
    /// Sends RECONCILE for `tasks` (task id, agent id); none asks for
    /// every task.
    pub fn reconcile(&self, master: &PID<Master>, tasks: &[(&str, Option<&str>)]) {
        let call = Call {
            framework_id: Some(self.id.clone()),
            r#type: Some(call::Type::Reconcile as i32),
            reconcile: Some(call::Reconcile {
                tasks: tasks
                    .iter()
                    .map(|(task_id, slave_id)| call::reconcile::Task {
                        task_id: TaskId {
                            value: task_id.to_string(),
                        },
                        slave_id: slave_id.map(|id| SlaveId { value: id.into() }),
                    })
                    .collect(),
            }),
            ..Default::default()
        };
        send_call(&self.scheduler, master.upid(), call);
    }

    /// Returns the next `LostSlaveMessage`.
    pub async fn next_lost_slave(&mut self) -> LostSlaveMessage {
        loop {
            let event = recv(&mut self.rx).await;
            if event.name == "mesos.internal.LostSlaveMessage" {
                return decode(&event);
            }
        }
    }
}

/// A framework's task ids in `/master/state` (`tasks`,
/// `unreachable_tasks`, `completed_tasks`) and the state of each listed
/// task.
#[derive(Debug, Default, PartialEq)]
struct Listed {
    tasks: Vec<String>,
    unreachable_tasks: Vec<String>,
    completed_tasks: Vec<String>,
    states: Vec<String>,
}

async fn listed(cluster: &Cluster, framework: &Framework) -> Listed {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(cluster.runtime.address())
        .await
        .unwrap();
    let request = "GET /master/state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    let state: serde_json::Value = serde_json::from_str(body).unwrap();
    let entry = state["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == framework.id.value.as_str())
        .expect("framework listed")
        .clone();
    let mut listed = Listed::default();
    for (key, ids) in [
        ("tasks", &mut listed.tasks),
        ("unreachable_tasks", &mut listed.unreachable_tasks),
        ("completed_tasks", &mut listed.completed_tasks),
    ] {
        for task in entry[key].as_array().unwrap() {
            ids.push(task["id"].as_str().unwrap().to_string());
            listed
                .states
                .push(task["state"].as_str().unwrap().to_string());
        }
    }
    listed
}

fn ids(tasks: &[&str]) -> Vec<String> {
    tasks.iter().map(|t| t.to_string()).collect()
}

// Upstream PartitionTest.ReregisterSlavePartitionAware and
// ReregisterSlaveNotPartitionAware.
#[actix_rt::test]
async fn an_unreachable_agent_s_tasks_are_unreachable_or_lost_then_back_when_it_reregisters() {
    let mut cluster = Cluster::start(&[]).await;
    let mut aware = cluster.launch(true, &["aware"]).await;
    let mut unaware = cluster.launch(false, &["unaware"]).await;

    cluster.partition().await;
    let id = cluster.slave_id();
    let marked = {
        let id = id.clone();
        cluster
            .master
            .call(move |m, _| m.slaves.unreachable[&id])
            .await
            .unwrap()
    };
    for (framework, state) in [
        (&mut aware, TaskState::TaskUnreachable),
        (&mut unaware, TaskState::TaskLost),
    ] {
        let update = next_update(&mut framework.rx).await;
        let status = &update.update.status;
        assert_eq!(status.task_id, framework.tasks[0].task_id);
        assert_eq!(status.state(), state);
        assert_eq!(status.reason(), task_status::Reason::SlaveRemoved);
        assert_eq!(status.source(), task_status::Source::Master);
        assert_eq!(status.message.as_deref(), Some("health check timed out"));
        assert_eq!(status.unreachable_time, Some(marked));
        assert_eq!(status.slave_id.as_ref(), cluster.slave.id.as_ref());
        assert_eq!(update.update.uuid, None, "not to be acknowledged");
        assert_eq!(
            framework.next_lost_slave().await.slave_id.value,
            id,
            "LostSlaveMessage"
        );
        // Upstream files both as unreachable tasks, whatever the state.
        let task = &framework.tasks[0].task_id.value;
        assert_eq!(
            listed(&cluster, framework).await,
            Listed {
                unreachable_tasks: ids(&[task]),
                states: vec![state.as_str_name().to_string()],
                ..Default::default()
            }
        );
    }
    let (status, body) = crate::operator_api::api(
        cluster.runtime.address(),
        r#"{"type":"GET_TASKS"}"#,
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    let tasks: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut unreachable: Vec<&str> = tasks["get_tasks"]["unreachable_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"]["value"].as_str().unwrap())
        .collect();
    unreachable.sort();
    assert_eq!(unreachable, ["aware", "unaware"]);
    assert!(
        tasks["get_tasks"].get("completed_tasks").is_none(),
        "{tasks}"
    );
    let v1 = crate::operator_api::assert_large_responses_as_reflection(
        &cluster.master,
        cluster.runtime.address(),
    )
    .await;
    assert!(v1.contains(r#""unreachable_tasks":[{"#), "{v1}");

    // The agent comes back with both tasks running: both frameworks hear
    // so, and neither task is killed (upstream 1.11 no longer shuts down
    // the tasks of frameworks that are not partition-aware).
    let tasks = vec![aware.tasks[0].clone(), unaware.tasks[0].clone()];
    cluster.reregister(&[&aware, &unaware], tasks).await;
    for framework in [&mut aware, &mut unaware] {
        let update = next_update(&mut framework.rx).await.update;
        assert_eq!(update.status.task_id, framework.tasks[0].task_id);
        assert_eq!(update.status.state(), TaskState::TaskRunning);
        assert_eq!(
            update.status.reason(),
            task_status::Reason::SlaveReregistered
        );
        assert_eq!(
            update.status.message.as_deref(),
            Some("Unreachable agent re-reregistered")
        );
        assert_eq!(update.status.source(), task_status::Source::Master);
        let task = &framework.tasks[0].task_id.value;
        assert_eq!(
            listed(&cluster, framework).await,
            Listed {
                tasks: ids(&[task]),
                states: vec!["TASK_RUNNING".into()],
                ..Default::default()
            }
        );
    }
    while let Ok(event) = cluster.agent_rx.try_recv() {
        assert_ne!(event.name, "mesos.internal.KillTaskMessage");
        assert_ne!(event.name, "mesos.internal.ShutdownFrameworkMessage");
    }
}

// Upstream `Master::markGone` and `__removeSlave`: `TASK_GONE_BY_OPERATOR`
// with `REASON_SLAVE_REMOVED_BY_OPERATOR` for partition-aware frameworks.
#[actix_rt::test]
async fn marking_an_agent_gone_reports_its_tasks_gone_by_operator_or_lost() {
    let mut cluster = Cluster::start(&[]).await;
    let mut aware = cluster.launch(true, &["aware"]).await;
    let mut unaware = cluster.launch(false, &["unaware"]).await;
    let id = cluster.slave_id();
    mark_gone(&cluster).await;
    for (framework, state, reason) in [
        (
            &mut aware,
            TaskState::TaskGoneByOperator,
            task_status::Reason::SlaveRemovedByOperator,
        ),
        (
            &mut unaware,
            TaskState::TaskLost,
            task_status::Reason::SlaveRemoved,
        ),
    ] {
        let update = next_update(&mut framework.rx).await.update;
        assert_eq!(update.status.task_id, framework.tasks[0].task_id);
        assert_eq!(update.status.state(), state);
        assert_eq!(update.status.reason(), reason);
        assert_eq!(
            update.status.message.as_deref(),
            Some("Agent has been marked gone")
        );
        assert_eq!(update.status.unreachable_time, None);
        let task = &framework.tasks[0].task_id.value;
        assert_eq!(
            listed(&cluster, framework).await,
            Listed {
                completed_tasks: ids(&[task]),
                states: vec![state.as_str_name().to_string()],
                ..Default::default()
            }
        );
    }
    // Reconciling the task on the gone agent (upstream reconciliation
    // case 5).
    aware.reconcile(&cluster.master, &[("aware", Some(&id))]);
    let update = next_update(&mut aware.rx).await.update;
    assert_eq!(update.status.state(), TaskState::TaskGoneByOperator);
    assert_eq!(update.status.reason(), task_status::Reason::Reconciliation);
    assert_eq!(
        update.status.message.as_deref(),
        Some("Reconciliation: Task is gone")
    );
    let shutdown: ShutdownMessage = loop {
        let event = next(&mut cluster.agent_rx).await;
        if event.name == "mesos.internal.ShutdownMessage" {
            break decode(&event);
        }
    };
    assert_eq!(
        shutdown.message.as_deref(),
        Some("Agent has been marked gone")
    );
}

async fn mark_gone(cluster: &Cluster) {
    let id = cluster.slave_id();
    let call = format!(
        r#"{{"type":"MARK_AGENT_GONE","mark_agent_gone":{{"agent_id":{{"value":"{id}"}}}}}}"#
    );
    let (status, _) =
        crate::operator_api::api(cluster.runtime.address(), &call, "application/json").await;
    assert_eq!(status, 200);
}

// Upstream `Master::markGone` for an unreachable agent: its unreachable
// tasks become TASK_GONE_BY_OPERATOR (TASK_LOST) and completed.
#[actix_rt::test]
async fn marking_an_unreachable_agent_gone_completes_its_unreachable_tasks() {
    let mut cluster = Cluster::start(&[]).await;
    let mut aware = cluster.launch(true, &["aware"]).await;
    let mut unaware = cluster.launch(false, &["unaware"]).await;
    cluster.partition().await;
    for framework in [&mut aware, &mut unaware] {
        next_update(&mut framework.rx).await;
    }
    mark_gone(&cluster).await;
    for (framework, state, reason) in [
        (
            &mut aware,
            TaskState::TaskGoneByOperator,
            task_status::Reason::SlaveRemovedByOperator,
        ),
        (
            &mut unaware,
            TaskState::TaskLost,
            task_status::Reason::SlaveRemoved,
        ),
    ] {
        let update = next_update(&mut framework.rx).await.update;
        assert_eq!(update.status.task_id, framework.tasks[0].task_id);
        assert_eq!(update.status.state(), state);
        assert_eq!(update.status.reason(), reason);
        assert_eq!(
            update.status.message.as_deref(),
            Some("Agent has been marked gone")
        );
        let task = &framework.tasks[0].task_id.value;
        assert_eq!(
            listed(&cluster, framework).await,
            Listed {
                completed_tasks: ids(&[task]),
                states: vec![state.as_str_name().to_string()],
                ..Default::default()
            }
        );
    }
}

// Upstream `Framework::unreachableTasks` is a `BoundedHashMap` of
// `--max_unreachable_tasks_per_framework`.
#[actix_rt::test]
async fn unreachable_tasks_are_bounded_per_framework() {
    let mut cluster = Cluster::start(&["--max_unreachable_tasks_per_framework=2"]).await;
    let mut aware = cluster.launch(true, &["a", "b", "c"]).await;
    cluster.partition().await;
    for _ in 0..3 {
        let update = next_update(&mut aware.rx).await.update;
        assert_eq!(update.status.state(), TaskState::TaskUnreachable);
    }
    // The tasks are filed in id order here: the first is dropped.
    assert_eq!(
        listed(&cluster, &aware).await,
        Listed {
            unreachable_tasks: ids(&["b", "c"]),
            states: vec!["TASK_UNREACHABLE".into(); 2],
            ..Default::default()
        }
    );
}

// Upstream `Master::_doRegistryGc`: an unreachable agent pruned from the
// registry takes its unreachable tasks along.
#[actix_rt::test]
async fn pruning_an_unreachable_agent_forgets_its_unreachable_tasks() {
    let mut cluster = Cluster::start(&[
        "--registry_gc_interval=100ms",
        "--registry_max_agent_count=0",
    ])
    .await;
    let mut aware = cluster.launch(true, &["aware"]).await;
    cluster.partition().await;
    next_update(&mut aware.rx).await;
    for _ in 0..500 {
        if listed(&cluster, &aware).await == Listed::default() {
            let id = cluster.slave_id();
            let pruned = cluster
                .master
                .call(move |m, _| !m.slaves.unreachable.contains_key(&id))
                .await
                .unwrap();
            assert!(pruned);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the unreachable task was not forgotten");
}

// Upstream `Master::_removeSlave`: a removed agent's tasks are TASK_LOST
// for every framework.
#[actix_rt::test]
async fn an_agent_that_unregisters_leaves_its_tasks_lost_even_for_partition_aware_frameworks() {
    let mut cluster = Cluster::start(&[]).await;
    let mut aware = cluster.launch(true, &["aware"]).await;
    let message = UnregisterSlaveMessage {
        slave_id: cluster.slave.id.clone().unwrap(),
    };
    let to = cluster.master.upid().clone();
    cluster
        .agent
        .dispatch(move |this, _| this.base.send(&to, &message));
    let update = next_update(&mut aware.rx).await.update;
    assert_eq!(update.status.state(), TaskState::TaskLost);
    assert_eq!(update.status.reason(), task_status::Reason::SlaveRemoved);
    assert_eq!(
        update.status.message.as_deref(),
        Some("Agent agent.example removed: the agent unregistered")
    );
    assert_eq!(update.status.task_id.value, "aware");
    assert_eq!(
        listed(&cluster, &aware).await,
        Listed {
            completed_tasks: ids(&["aware"]),
            states: vec!["TASK_LOST".into()],
            ..Default::default()
        }
    );
}
