//! The agent against our master, each in its own libprocess runtime (as
//! in its own OS process): registration, offers of the agent's resources,
//! and a command task run by the real `mesos-executor` binary.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use libprocess::actix::{Actor, Context};
use libprocess::{Config, MessageEvent, Process, ProcessBase, Runtime, PID, UPID};
use mesos_agent::slave::Slave;
use mesos_master::master::Master;
use mesos_master::registrar::{InMemoryStore, Registrar};
use mesos_proto::mesos::internal::{
    FrameworkRegisteredMessage, ResourceOffersMessage, StatusUpdateMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{
    offer, CommandInfo, Filters, FrameworkInfo, SlaveInfo, TaskId, TaskInfo, TaskState,
};
use mesos_proto::resources::Resources;
use tokio::sync::mpsc;

fn runtime() -> Runtime {
    Runtime::new(Config {
        ip: Ipv4Addr::LOCALHOST,
        ..Config::default()
    })
    .unwrap()
}

fn start_master(runtime: &Runtime) -> PID<Master> {
    let flags = Arc::new(
        mesos_master::flags::Flags::parse_from_args(
            ["mesos-master", "--registry=in_memory"]
                .iter()
                .map(|s| s.to_string()),
        )
        .unwrap(),
    );
    let registrar = Arc::new(Registrar::new(Box::<InMemoryStore>::default()));
    mesos_master::master::spawn(runtime, flags, registrar).unwrap()
}

/// Where cargo put the workspace's binaries (next to this test's `deps`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .to_path_buf()
}

fn start_agent(runtime: &Runtime, master: &UPID, work_dir: &std::path::Path) -> PID<Slave> {
    let config = mesos_agent::slave::Config {
        master: master.clone(),
        info: SlaveInfo {
            hostname: "localhost".into(),
            port: Some(i32::from(runtime.address().port())),
            resources: Resources::parse("cpus:2;mem:1024;disk:1024;ports:[31000-32000]", "*")
                .unwrap()
                .to_vec(),
            ..Default::default()
        },
        work_dir: work_dir.to_path_buf(),
        launcher_dir: bin_dir(),
        registration_backoff_factor: Duration::from_millis(10),
        executor_registration_timeout: Duration::from_secs(30),
        executor_shutdown_grace_period: Duration::from_secs(1),
        recovery_timeout: Duration::from_secs(60),
        executor_reregistration_timeout: Duration::from_secs(2),
        flags: None,
    };
    mesos_agent::spawn(runtime, config).unwrap()
}

struct Scheduler {
    base: ProcessBase<Self>,
    tx: mpsc::UnboundedSender<MessageEvent>,
}

impl Actor for Scheduler {
    type Context = Context<Self>;
}

impl Process for Scheduler {
    fn base(&self) -> &ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut Context<Self>) {
        for name in [
            "mesos.internal.FrameworkRegisteredMessage",
            "mesos.internal.ResourceOffersMessage",
            "mesos.internal.StatusUpdateMessage",
        ] {
            self.base.install_raw(name, |this, _ctx, event| {
                let _ = this.tx.send(event);
            });
        }
    }
}
libprocess::process_handlers!(Scheduler);

async fn recv(rx: &mut mpsc::UnboundedReceiver<MessageEvent>, name: &str) -> MessageEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("timed out")
            .unwrap();
        if event.name == name {
            return event;
        }
    }
}

fn decode<M: prost::Message + Default>(event: &MessageEvent) -> M {
    M::decode(event.body.clone()).unwrap()
}

#[actix_rt::test]
async fn an_agent_registers_and_runs_a_command_task() {
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&agent_runtime, master.upid(), work_dir.path());

    // The agent registers.
    let mut registered = false;
    for _ in 0..500 {
        if agent.call(|a, _| a.registered).await.unwrap() {
            registered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(registered, "the agent registered with the master");
    let slave_id = agent
        .call(|a, _| a.slave_id().unwrap().to_string())
        .await
        .unwrap();
    let known = master
        .call(move |m, _| m.slaves.registered.contains_key(&slave_id))
        .await
        .unwrap();
    assert!(known);

    // A framework is offered the agent's resources.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let scheduler = master_runtime
        .spawn(Scheduler {
            base: ProcessBase::new("scheduler-test"),
            tx,
        })
        .unwrap();
    let subscribe = Call {
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: FrameworkInfo {
                user: "root".into(),
                name: "agent-test".into(),
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let to = master.upid().clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &subscribe));
    let framework_id = decode::<FrameworkRegisteredMessage>(
        &recv(&mut rx, "mesos.internal.FrameworkRegisteredMessage").await,
    )
    .framework_id;
    let offers: ResourceOffersMessage =
        decode(&recv(&mut rx, "mesos.internal.ResourceOffersMessage").await);
    let offer = offers.offers[0].clone();
    assert_eq!(offers.pids[0], agent.upid().to_string());
    assert_eq!(Resources::from(offer.resources.clone()).cpus(), Some(2.0));

    let executor = bin_dir().join("mesos-executor");
    if !executor.exists() {
        let why = format!(
            "{} is not built (cargo test --workspace builds it)",
            executor.display()
        );
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{why}");
        }
        println!("SKIPPED: {why}");
        return;
    }

    // A command task runs through the command executor to TASK_FINISHED.
    let task = TaskInfo {
        name: "hello".into(),
        task_id: TaskId {
            value: "hello-1".into(),
        },
        slave_id: offer.slave_id.clone(),
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some("echo hello from the task".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let accept = Call {
        framework_id: Some(framework_id.clone()),
        r#type: Some(call::Type::Accept as i32),
        accept: Some(call::Accept {
            offer_ids: vec![offer.id.clone()],
            operations: vec![offer::Operation {
                r#type: Some(offer::operation::Type::Launch as i32),
                launch: Some(offer::operation::Launch {
                    task_infos: vec![task],
                }),
                ..Default::default()
            }],
            filters: Some(Filters {
                refuse_seconds: Some(60.0),
            }),
        }),
        ..Default::default()
    };
    let to = master.upid().clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &accept));
    let mut states = Vec::new();
    loop {
        let update: StatusUpdateMessage =
            decode(&recv(&mut rx, "mesos.internal.StatusUpdateMessage").await);
        let state = update.update.status.state();
        states.push(state);
        // Acknowledge, as the driver does.
        let ack = Call {
            framework_id: Some(framework_id.clone()),
            r#type: Some(call::Type::Acknowledge as i32),
            acknowledge: Some(call::Acknowledge {
                slave_id: update.update.slave_id.clone().unwrap(),
                task_id: update.update.status.task_id.clone(),
                uuid: update.update.uuid.clone().unwrap(),
            }),
            ..Default::default()
        };
        let to = master.upid().clone();
        scheduler.dispatch(move |this, _| this.base.send(&to, &ack));
        if state.is_terminal() {
            break;
        }
    }
    assert_eq!(states.last(), Some(&TaskState::TaskFinished), "{states:?}");
    assert!(states.contains(&TaskState::TaskRunning), "{states:?}");

    // The task's output is in its sandbox.
    let stdout = find_file(work_dir.path(), "stdout").expect("a sandbox stdout");
    let output = std::fs::read_to_string(stdout).unwrap();
    assert!(output.contains("hello from the task"), "{output}");
}

fn find_file(dir: &std::path::Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}
