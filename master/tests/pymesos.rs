//! pymesos 0.3.15, a v1 HTTP scheduler nobody here wrote, against the real
//! `mesos-master` binary: it subscribes over `/api/v1/scheduler` (JSON,
//! RecordIO, `Mesos-Stream-Id`), receives SUBSCRIBED and tears the
//! framework down.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The venv's python, or `None` (printing SKIPPED) outside CI; under
/// `CI=true` a missing venv fails the test.
fn python() -> Option<PathBuf> {
    let python = repo().join(".venv/bin/python");
    if python.exists() {
        return Some(python);
    }
    let why = format!(
        "{} is missing; run scripts/setup-python.sh",
        python.display()
    );
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{why}");
    }
    println!("SKIPPED: {why}");
    None
}

struct Master(Child);

impl Drop for Master {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_master() -> (Master, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_mesos-master"))
        .args([
            "--registry=in_memory",
            "--ip=127.0.0.1",
            &format!("--port={port}"),
            "--quiet",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the master did not start listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (Master(child), port)
}

#[test]
fn pymesos_subscribes_and_tears_down() {
    let Some(python) = python() else {
        return;
    };
    let (_master, port) = start_master();
    let output = Command::new(python)
        .arg(repo().join("tests/interop/pymesos_subscribe.py"))
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pymesos failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("REGISTERED "))
        .expect("registered");
    let fields: Vec<&str> = line.split(' ').collect();
    assert!(fields[1].ends_with("-0000"), "framework id: {line}");
    assert_eq!(
        fields[2], "1.11.0",
        "master version from SUBSCRIBED.master_info"
    );
}

mod operations {
    //! pymesos reserving resources with operation feedback on an emulated
    //! agent that takes operations itself (`RESOURCE_PROVIDER`,
    //! `AGENT_OPERATION_FEEDBACK`, as upstream agents since 1.5): the
    //! `UPDATE_OPERATION_STATUS` events, pymesos's own acknowledgement
    //! (the whole status as the call) and `RECONCILE_OPERATIONS`, against
    //! the real `mesos-master` binary.

    use std::net::Ipv4Addr;
    use std::time::Duration;

    use libprocess::actix::{Actor, Context};
    use libprocess::{Config, MessageEvent, Process, ProcessBase, Runtime, UPID};
    use mesos_proto::mesos::internal::{
        AcknowledgeOperationStatusMessage, ApplyOperationMessage, PongSlaveMessage,
        RegisterSlaveMessage, SlaveRegisteredMessage, UpdateOperationStatusMessage,
    };
    use mesos_proto::mesos::{
        slave_info, OperationState, OperationStatus, SlaveId, SlaveInfo, Uuid,
    };
    use mesos_proto::resources::Resources;
    use tokio::sync::mpsc;

    /// An agent that registers, answers pings, finishes every operation it
    /// is sent and reports the acknowledgements it gets.
    struct Agent {
        base: ProcessBase<Self>,
        slave_id: Option<SlaveId>,
        acks: mpsc::UnboundedSender<AcknowledgeOperationStatusMessage>,
    }

    impl Actor for Agent {
        type Context = Context<Self>;
    }

    impl Process for Agent {
        fn base(&self) -> &ProcessBase<Self> {
            &self.base
        }
        fn base_mut(&mut self) -> &mut ProcessBase<Self> {
            &mut self.base
        }
        fn initialize(&mut self, _ctx: &mut Context<Self>) {
            self.base
                .install_raw("mesos.internal.PingSlaveMessage", |this, _, event| {
                    this.base.send(&event.from, &PongSlaveMessage {});
                });
            self.base
                .install_raw("mesos.internal.SlaveRegisteredMessage", |this, _, event| {
                    let message = decode::<SlaveRegisteredMessage>(&event);
                    this.slave_id = Some(message.slave_id);
                });
            self.base
                .install_raw("mesos.internal.ApplyOperationMessage", |this, _, event| {
                    let applied = decode::<ApplyOperationMessage>(&event);
                    let status = OperationStatus {
                        operation_id: applied.operation_info.id.clone(),
                        state: OperationState::OperationFinished as i32,
                        uuid: Some(Uuid {
                            value: uuid::Uuid::new_v4().as_bytes().to_vec(),
                        }),
                        slave_id: this.slave_id.clone(),
                        converted_resources: applied
                            .operation_info
                            .reserve
                            .map(|r| r.resources)
                            .unwrap_or_default(),
                        ..Default::default()
                    };
                    let update = UpdateOperationStatusMessage {
                        framework_id: applied.framework_id,
                        slave_id: this.slave_id.clone(),
                        latest_status: Some(status.clone()),
                        status,
                        operation_uuid: Some(applied.operation_uuid),
                    };
                    this.base.send(&event.from, &update);
                });
            self.base.install_raw(
                "mesos.internal.AcknowledgeOperationStatusMessage",
                |this, _, event| {
                    let _ = this.acks.send(decode(&event));
                },
            );
        }
    }
    libprocess::process_handlers!(Agent);

    fn decode<M: prost::Message + Default>(event: &MessageEvent) -> M {
        M::decode(event.body.clone()).unwrap()
    }

    #[actix_rt::test]
    async fn pymesos_hears_of_its_reservation_acknowledges_and_reconciles_it() {
        let Some(python) = super::python() else {
            return;
        };
        let (_master, port) = super::start_master();
        let runtime = Runtime::new(Config {
            ip: Ipv4Addr::LOCALHOST,
            ..Config::default()
        })
        .unwrap();
        let (acks, mut acks_rx) = mpsc::unbounded_channel();
        let agent = runtime
            .spawn(Agent {
                base: ProcessBase::new("slave(1)"),
                slave_id: None,
                acks,
            })
            .unwrap();
        let master: UPID = format!("master@127.0.0.1:{port}").parse().unwrap();
        use slave_info::capability::Type;
        let register = RegisterSlaveMessage {
            slave: SlaveInfo {
                hostname: "agent.example".into(),
                port: Some(5051),
                resources: Resources::parse("cpus:2;mem:1024;disk:1024", "*")
                    .unwrap()
                    .to_vec(),
                ..Default::default()
            },
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
            resource_version_uuid: Some(Uuid {
                value: uuid::Uuid::new_v4().as_bytes().to_vec(),
            }),
            ..Default::default()
        };
        agent.dispatch(move |this, _| this.base.send(&master, &register));

        let script = super::repo().join("tests/interop/pymesos_operations.py");
        let output = tokio::task::spawn_blocking(move || {
            super::Command::new(python)
                .arg(script)
                .arg(format!("127.0.0.1:{port}"))
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "pymesos failed\nstdout: {stdout}\nstderr: {stderr}"
        );
        let lines: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("OPERATION "))
            .collect();
        // The agent's update (reliable, acknowledged by pymesos), then the
        // two reconciliation answers (unreliable).
        assert_eq!(lines.len(), 3, "{stdout}");
        assert!(
            lines[0].starts_with("OPERATION OPERATION_FINISHED op1 reliable "),
            "{stdout}"
        );
        assert!(
            lines.contains(&"OPERATION OPERATION_UNKNOWN nope unreliable -"),
            "{stdout}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("OPERATION OPERATION_FINISHED op1 unreliable ")),
            "{stdout}"
        );
        // pymesos's acknowledgement reached the agent.
        let ack = tokio::time::timeout(Duration::from_secs(10), acks_rx.recv())
            .await
            .expect("no acknowledgement reached the agent")
            .unwrap();
        assert_eq!(ack.status_uuid.value.len(), 16);
        assert!(ack.resource_provider_id.is_none());
        let snapshot = get(port, "/metrics/snapshot").await;
        let metrics: serde_json::Value = serde_json::from_str(&snapshot).unwrap();
        assert_eq!(metrics["master/operations/finished"], 1.0);
        assert_eq!(metrics["master/operations/reserve/finished"], 1.0);
        assert_eq!(metrics["master/operations/pending"], 0.0);
        assert_eq!(
            metrics["master/valid_operation_status_update_acknowledgements"],
            1.0
        );
    }

    async fn get(port: u16, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let body = response.split_once("\r\n\r\n").unwrap().1;
        let start = body.find('{').unwrap();
        let end = body.rfind('}').unwrap();
        body[start..=end].to_string()
    }
}
