//! A cluster with one running command task whose sandbox holds known
//! files, and a binary-safe HTTP/1.1 client, for the `/files/*` and
//! operator API tests.

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::Duration;

use libprocess::{ProcessBase, Runtime, PID};
use mesos_agent::flags::Flags;
use mesos_agent::slave::Slave;
use mesos_master::master::Master;
use mesos_proto::mesos::internal::{
    FrameworkRegisteredMessage, ResourceOffersMessage, StatusUpdateMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{
    container_info, offer, CommandInfo, ContainerInfo, Filters, FrameworkId, FrameworkInfo, TaskId,
    TaskInfo, TaskState, TtyInfo,
};
use mesos_proto::resources::Resources;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{bin_dir, decode, recv, runtime, start_master, Scheduler};

/// `Authorization` of the principal `ops` with secret `s3cret`, which the
/// tests that turn HTTP authentication on put in `--http_credentials`.
pub const TEST_BASIC_AUTHORIZATION: &str = "Basic b3BzOnMzY3JldA==";

/// What the task writes into its sandbox before it sleeps.
pub const DATA: &str = "0123456789";

/// The running cluster; dropping it ends the test's processes.
pub struct Cluster {
    pub master_runtime: Runtime,
    pub agent_runtime: Runtime,
    pub master: PID<Master>,
    pub agent: PID<Slave>,
    pub addr: SocketAddrV4,
    pub work_dir: tempfile::TempDir,
    pub framework_id: String,
    pub slave_id: String,
    /// The task's id, also its command executor's.
    pub task_id: String,
}

impl Cluster {
    /// The sandbox's virtual path (`/frameworks/F/executors/E/runs/latest`).
    pub fn sandbox(&self) -> String {
        format!(
            "/frameworks/{}/executors/{}/runs/latest",
            self.framework_id, self.task_id
        )
    }
}

/// Whether `mesos-executor` is built (the tests need it); prints the
/// upstream-style skip line, or fails under `CI=true`, when it is not.
pub fn require_executor() -> bool {
    let executor = bin_dir().join("mesos-executor");
    if executor.exists() {
        return true;
    }
    let why = format!(
        "{} is not built (cargo build --workspace --bins)",
        executor.display()
    );
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{why}");
    }
    println!("SKIPPED: {why}");
    false
}

/// Starts a master and an agent (from parsed flags, as `mesos-agent`),
/// registers a framework and runs one command task that writes
/// `data.txt` (`DATA`), a symlink `escape` to `/` and a line to stdout,
/// then sleeps; returns once the task runs and `data.txt` is complete.
pub async fn launch(task_id: &str) -> Cluster {
    launch_with_flags(task_id, &[]).await
}

/// [`launch`] with more agent flags.
pub async fn launch_with_flags(task_id: &str, extra_flags: &[String]) -> Cluster {
    launch_task(task_id, extra_flags, false).await
}

/// [`launch`] with a TTY (`ContainerInfo.tty_info`): the task ends in an
/// interactive `sh` on the container's pseudo terminal instead of sleeping.
pub async fn launch_tty(task_id: &str) -> Cluster {
    launch_task(task_id, &[], true).await
}

async fn launch_task(task_id: &str, extra_flags: &[String], tty: bool) -> Cluster {
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let work_dir = tempfile::tempdir().unwrap();
    let args = [
        "mesos-agent".to_string(),
        format!("--master={}", master.upid().address()),
        format!("--work_dir={}", work_dir.path().display()),
        format!(
            "--runtime_dir={}",
            work_dir.path().join("runtime").display()
        ),
        format!("--port={}", agent_runtime.address().port()),
        "--hostname=localhost".into(),
        "--resources=cpus:2;mem:1024;disk:1024;ports:[31000-32000]".into(),
        // The framework's user ("tester") does not exist here.
        "--switch_user=false".into(),
        // A cgroups root of its own: a fresh agent destroys every unknown
        // container under its root as an orphan.
        format!(
            "--cgroups_root={}",
            super::test_containerizer(work_dir.path()).cgroups_root
        ),
        "--registration_backoff_factor=10ms".into(),
        "--executor_shutdown_grace_period=1secs".into(),
    ];
    let flags =
        Flags::parse_from_args(args.into_iter().chain(extra_flags.iter().cloned())).unwrap();
    let config = mesos_agent::slave::Config {
        master: flags.master_pid().unwrap(),
        info: mesos_agent::slave::slave_info(&flags, agent_runtime.address()).unwrap(),
        work_dir: flags.work_dir.clone(),
        launcher_dir: bin_dir(),
        registration_backoff_factor: flags.registration_backoff_factor,
        authentication: None,
        executor_registration_timeout: flags.executor_registration_timeout,
        executor_shutdown_grace_period: flags.executor_shutdown_grace_period,
        recovery_timeout: flags.recovery_timeout,
        executor_reregistration_timeout: Duration::from_secs(2),
        executor_reregistration_retry_interval: None,
        recover_cleanup: false,
        containerizer: flags.containerizer_options(),
        gc: flags.gc_options(),
        flags: Some(Arc::new(flags)),
    };
    let agent = mesos_agent::spawn(&agent_runtime, config).unwrap();
    let addr = agent_runtime.address();

    let (tx, mut rx) = mpsc::unbounded_channel();
    let scheduler = master_runtime
        .spawn(Scheduler {
            base: ProcessBase::new(format!("scheduler-{task_id}")),
            tx,
        })
        .unwrap();
    let subscribe = Call {
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: FrameworkInfo {
                user: "tester".into(),
                name: "sandbox-test".into(),
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let to = master.upid().clone();
    scheduler.dispatch(move |this, _| this.base.send(&to, &subscribe));
    let framework_id: FrameworkId = decode::<FrameworkRegisteredMessage>(
        &recv(&mut rx, "mesos.internal.FrameworkRegisteredMessage").await,
    )
    .framework_id;
    let offers: ResourceOffersMessage =
        decode(&recv(&mut rx, "mesos.internal.ResourceOffersMessage").await);
    let offer = offers.offers[0].clone();
    let task = TaskInfo {
        name: format!("task {task_id}"),
        task_id: TaskId {
            value: task_id.into(),
        },
        slave_id: offer.slave_id.clone(),
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some(format!(
                "printf {DATA} > data.tmp && mv data.tmp data.txt && ln -s / escape \
                 && echo hello-sandbox && {}",
                if tty { "exec sh" } else { "sleep 60" }
            )),
            ..Default::default()
        }),
        container: tty.then(|| ContainerInfo {
            r#type: container_info::Type::Mesos as i32,
            tty_info: Some(TtyInfo::default()),
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
    loop {
        let update: StatusUpdateMessage =
            decode(&recv(&mut rx, "mesos.internal.StatusUpdateMessage").await);
        let status = &update.update.status;
        assert!(!status.state().is_terminal(), "the task ended: {update:?}");
        let ack = Call {
            framework_id: Some(framework_id.clone()),
            r#type: Some(call::Type::Acknowledge as i32),
            acknowledge: Some(call::Acknowledge {
                slave_id: update.update.slave_id.clone().unwrap(),
                task_id: status.task_id.clone(),
                uuid: update.update.uuid.clone().unwrap(),
            }),
            ..Default::default()
        };
        let to = master.upid().clone();
        scheduler.dispatch(move |this, _| this.base.send(&to, &ack));
        if status.state() == TaskState::TaskRunning {
            break;
        }
    }
    let cluster = Cluster {
        master_runtime,
        agent_runtime,
        master,
        agent,
        addr,
        work_dir,
        framework_id: framework_id.value,
        slave_id: offer.slave_id.value,
        task_id: task_id.into(),
    };
    // The command runs after TASK_RUNNING; wait for its files (with the
    // credentials tests give `--http_credentials`, in case the agent
    // authenticates).
    let probe = format!("/files/read?path={}/escape/&offset=-1", cluster.sandbox());
    let auth = [("Authorization", TEST_BASIC_AUTHORIZATION)];
    for _ in 0..300 {
        let data = request(
            addr,
            "GET",
            &format!("/files/read?path={}/data.txt&offset=-1", cluster.sandbox()),
            &auth,
            b"",
        )
        .await;
        if data.status == 200 && request(addr, "GET", &probe, &auth, b"").await.status != 404 {
            return cluster;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the task never wrote its sandbox files");
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

/// A response as the client sees it, body de-chunked.
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }

    /// The body as JSON, after checking for a `200` JSON answer.
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.status, 200, "{}\r\n\r\n{}", self.head, self.text());
        assert_eq!(
            self.header("Content-Type").as_deref(),
            Some("application/json"),
            "{}",
            self.head
        );
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Sends one request on its own connection and reads the whole answer.
pub async fn request(
    addr: SocketAddrV4,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("the response never ended")
        .unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut body = raw[split + 4..].to_vec();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status: head[9..12].parse().unwrap(),
        head,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = std::str::from_utf8(&data[..line]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        data = &data[line + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// `GET target`.
pub async fn get(addr: SocketAddrV4, target: &str) -> Reply {
    request(addr, "GET", target, &[], b"").await
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
