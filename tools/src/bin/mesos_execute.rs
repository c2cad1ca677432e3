//! `mesos-execute`: runs one command task (or a task group) on a Mesos
//! cluster as a throwaway framework, printing every status update, and
//! exits 0 when the task finishes (upstream `src/cli/execute.cpp`).
//!
//! Deliberate difference: upstream's tool speaks the v1 scheduler HTTP
//! API; this one speaks the libprocess scheduler driver protocol
//! (`mesos.scheduler.Call` over libprocess, as Marathon's driver does),
//! which every master accepts the same way.

use std::process::ExitCode;
use std::time::Duration;

use actix::{Actor, Context};
use clap::{ArgAction, Parser};
use libprocess::{Process, ProcessBase, UPID};
use mesos_proto::mesos::internal::{
    FrameworkErrorMessage, FrameworkRegisteredMessage, FrameworkReregisteredMessage,
    ResourceOffersMessage, StatusUpdateMessage,
};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{
    container_info, environment, image, offer, task_status, CommandInfo, ContainerInfo,
    Environment, ExecutorInfo, Filters, FrameworkId, FrameworkInfo, Image, Offer, TaskGroupInfo,
    TaskId, TaskInfo, TaskState, TtyInfo,
};
use mesos_proto::resources::Resources;
use tokio::sync::mpsc;

/// `mesos-execute`'s flags (upstream names and defaults).
#[derive(Debug, Parser)]
#[command(
    name = "mesos-execute",
    rename_all = "snake_case",
    about = "Run a task on a Mesos cluster"
)]
struct Flags {
    /// The master, `host:port`.
    #[arg(long, env = "MESOS_MASTER")]
    master: String,
    /// Name of the task.
    #[arg(long)]
    name: Option<String>,
    /// Shell command to run.
    #[arg(long)]
    command: Option<String>,
    /// Whether to run the command through `sh -c`.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "true", value_parser = libprocess::flags::parse_bool_flag)]
    shell: bool,
    /// Resources of the task.
    #[arg(long, default_value = "cpus:1;mem:128")]
    resources: String,
    /// Environment variables as a JSON object.
    #[arg(long)]
    env: Option<String>,
    /// A `TaskGroupInfo` as JSON, run by the default executor.
    #[arg(long)]
    task_group: Option<String>,
    /// The framework's name.
    #[arg(long, default_value = "mesos-execute instance")]
    framework_name: String,
    /// The framework's role.
    #[arg(long, default_value = "*")]
    role: String,
    /// Whether the framework checkpoints (its tasks survive agent restarts).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    checkpoint: bool,
    /// Kill the task after this long (e.g. `10secs`).
    #[arg(long, value_parser = libprocess::flags::parse_duration)]
    kill_after: Option<Duration>,
    /// A Docker image for the command task's container (pulled by the
    /// agent's provisioner: the agent needs `--image_providers=docker`).
    #[arg(long)]
    docker_image: Option<String>,
    /// Whether the command task gets a pseudo terminal
    /// (`ContainerInfo.tty_info`): its stdio, to attach to with `mesos task
    /// attach` (its output is logged to the sandbox's `stdout`).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = libprocess::flags::parse_bool_flag)]
    tty: bool,
    /// The containerizer for `--docker_image`: `mesos` (`docker` is not
    /// supported yet).
    #[arg(long, default_value = "mesos")]
    containerizer: String,
    /// The framework's principal; with `--secret`, the framework
    /// authenticates (CRAM-MD5) with it before subscribing.
    #[arg(long, env = "MESOS_PRINCIPAL")]
    principal: Option<String>,
    /// The secret for `--principal`.
    #[arg(long, env = "MESOS_SECRET")]
    secret: Option<String>,
}

/// Authenticates `client` with `master` as the scheduler driver does
/// (`src/sched/sched.cpp`): each attempt may take a random time in
/// `[5secs, max]`, `max` growing from `5secs + 2 * 1secs` by doubling the
/// spread up to one minute; a refused credential is fatal.
async fn authenticate(
    runtime: &libprocess::Runtime,
    master: &UPID,
    client: &UPID,
    credential: mesos_proto::mesos::Credential,
) -> anyhow::Result<()> {
    const MIN: Duration = Duration::from_secs(5);
    const MAX: Duration = Duration::from_secs(60);
    const FACTOR: Duration = Duration::from_secs(1);
    let mut max = (MIN + FACTOR * 2).min(MAX);
    loop {
        let spread = max.saturating_sub(MIN).as_millis().max(1) as u64;
        let random = uuid::Uuid::new_v4().as_u128() as u64 % spread;
        let timeout = MIN + Duration::from_millis(random);
        let attempt = mesos_authentication::cram_md5::authenticatee::authenticate(
            runtime,
            master.clone(),
            client.clone(),
            credential.clone(),
        )?;
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(true)) => return Ok(()),
            Ok(Ok(false)) => anyhow::bail!("Master refused authentication"),
            Ok(Err(error)) => {
                tracing::warn!(%error, "Failed to authenticate with master; retrying")
            }
            Err(_) => tracing::warn!("Authentication timed out; retrying"),
        }
        max = (MIN + max.saturating_sub(MIN) * 2).min(MAX);
    }
}

enum Event {
    Registered(FrameworkId),
    Offers(Vec<Offer>),
    Update(Box<StatusUpdateMessage>),
    Error(String),
}

struct Scheduler {
    base: ProcessBase<Self>,
    tx: mpsc::UnboundedSender<Event>,
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
        self.base
            .install::<FrameworkRegisteredMessage>(|this, _, _, m| {
                let _ = this.tx.send(Event::Registered(m.framework_id));
            });
        self.base
            .install::<FrameworkReregisteredMessage>(|this, _, _, m| {
                let _ = this.tx.send(Event::Registered(m.framework_id));
            });
        self.base.install::<ResourceOffersMessage>(|this, _, _, m| {
            let _ = this.tx.send(Event::Offers(m.offers));
        });
        self.base.install::<StatusUpdateMessage>(|this, _, _, m| {
            let _ = this.tx.send(Event::Update(Box::new(m)));
        });
        self.base.install::<FrameworkErrorMessage>(|this, _, _, m| {
            let _ = this.tx.send(Event::Error(m.message));
        });
    }
    fn exited(&mut self, pid: &UPID, _ctx: &mut Context<Self>) {
        let _ = self.tx.send(Event::Error(format!(
            "lost the connection to the master {pid}"
        )));
    }
}
libprocess::process_handlers!(Scheduler);

/// The command task's `ContainerInfo` (upstream `getContainerInfo`): a
/// Mesos container when the task has an image or a TTY.
fn container_info(flags: &Flags) -> Option<ContainerInfo> {
    if flags.docker_image.is_none() && !flags.tty {
        return None;
    }
    Some(ContainerInfo {
        r#type: container_info::Type::Mesos as i32,
        mesos: flags
            .docker_image
            .as_ref()
            .map(|name| container_info::MesosInfo {
                image: Some(Image {
                    r#type: image::Type::Docker as i32,
                    docker: Some(image::Docker {
                        name: name.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }),
        tty_info: flags.tty.then(TtyInfo::default),
        ..Default::default()
    })
}

fn state_name(state: TaskState) -> &'static str {
    state.as_str_name()
}

async fn run(flags: Flags) -> anyhow::Result<bool> {
    if flags.containerizer != "mesos" {
        anyhow::bail!(
            "--containerizer={}: only 'mesos' is supported (no docker containerizer yet)",
            flags.containerizer
        );
    }
    if flags.docker_image.is_some() && flags.task_group.is_some() {
        anyhow::bail!(
            "--docker_image applies to --command; give each task of --task_group its own \
             'container'"
        );
    }
    if flags.tty && flags.task_group.is_some() {
        anyhow::bail!(
            "--tty applies to --command; give each task of --task_group its own \
             'container.tty_info'"
        );
    }
    if flags.task_group.is_some() == flags.command.is_some() {
        anyhow::bail!("Either --command or --task_group must be given (and not both)");
    }
    let name = flags.name.clone().unwrap_or_else(|| "mesos-execute".into());
    let resources = Resources::parse(&flags.resources, "*")?;
    let environment = match &flags.env {
        Some(json) => {
            let value: serde_json::Value = serde_json::from_str(json)?;
            let object = value
                .as_object()
                .ok_or_else(|| anyhow::anyhow!("--env must be a JSON object"))?;
            Some(Environment {
                variables: object
                    .iter()
                    .map(|(k, v)| environment::Variable {
                        name: k.clone(),
                        value: Some(v.as_str().map_or_else(|| v.to_string(), str::to_string)),
                        ..Default::default()
                    })
                    .collect(),
            })
        }
        None => None,
    };
    let task_group: Option<TaskGroupInfo> = match &flags.task_group {
        Some(json) => Some(mesos_proto::json::from_str(json)?),
        None => None,
    };
    let expected = task_group.as_ref().map_or(1, |g| g.tasks.len().max(1));
    let mut terminal: std::collections::HashMap<String, TaskState> =
        std::collections::HashMap::new();

    // Upstream's mesos-execute detects the master through ZooKeeper;
    // ZooKeeper detection comes with the high-availability work.
    if flags.master.starts_with("zk://") {
        anyhow::bail!(
            "--master=zk://... is not supported yet (ZooKeeper detection comes with the \
             high-availability work); give the master as host:port"
        );
    }
    let master: UPID = if flags.master.contains('@') {
        flags.master.parse()?
    } else {
        format!("master@{}", flags.master).parse()?
    };
    let runtime = libprocess::initialize(libprocess::Config::from_env()?)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let scheduler = runtime.spawn(Scheduler {
        base: ProcessBase::new(format!("scheduler-{}", uuid::Uuid::new_v4())),
        tx,
    })?;
    #[allow(deprecated)]
    let info = FrameworkInfo {
        user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
        name: flags.framework_name.clone(),
        role: Some(flags.role.clone()),
        checkpoint: Some(flags.checkpoint),
        principal: flags.principal.clone(),
        ..Default::default()
    };
    if let (Some(principal), Some(secret)) = (&flags.principal, &flags.secret) {
        let credential = mesos_proto::mesos::Credential {
            principal: principal.clone(),
            secret: Some(secret.clone()),
        };
        let to = master.clone();
        scheduler.dispatch(move |this, _| this.base.link(&to));
        authenticate(&runtime, &master, scheduler.upid(), credential).await?;
    }
    let send = |call: Call| {
        let to = master.clone();
        scheduler.dispatch(move |this, _| {
            this.base.link(&to);
            this.base.send(&to, &call)
        });
    };
    let subscribe = Call {
        r#type: Some(call::Type::Subscribe as i32),
        subscribe: Some(call::Subscribe {
            framework_info: info.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    send(subscribe.clone());

    let mut framework_id = None;
    let mut launched = false;
    let mut retry = tokio::time::interval(Duration::from_secs(2));
    loop {
        let event = tokio::select! {
            event = rx.recv() => event,
            _ = retry.tick(), if framework_id.is_none() => {
                send(subscribe.clone());
                continue;
            }
        };
        match event {
            None => anyhow::bail!("scheduler stopped"),
            Some(Event::Error(message)) => anyhow::bail!("{message}"),
            Some(Event::Registered(id)) => {
                if framework_id.is_none() {
                    println!("Subscribed with ID {}", id.value);
                }
                framework_id = Some(id);
            }
            Some(Event::Offers(offers)) => {
                let Some(id) = framework_id.clone() else {
                    continue;
                };
                for offer in offers {
                    let offered = Resources::from(offer.resources.clone());
                    let mut wanted = resources.clone();
                    wanted.allocate(&flags.role);
                    let fits = !launched && offered.contains(&wanted);
                    let (operations, filters) = if fits {
                        launched = true;
                        let operation = match &task_group {
                            None => {
                                let task = TaskInfo {
                                    name: name.clone(),
                                    task_id: TaskId {
                                        value: name.clone(),
                                    },
                                    slave_id: offer.slave_id.clone(),
                                    resources: wanted.to_vec(),
                                    command: Some(CommandInfo {
                                        value: flags.command.clone(),
                                        shell: Some(flags.shell),
                                        environment: environment.clone(),
                                        arguments: if flags.shell {
                                            vec![]
                                        } else {
                                            flags.command.iter().cloned().collect()
                                        },
                                        ..Default::default()
                                    }),
                                    container: container_info(&flags),
                                    ..Default::default()
                                };
                                offer::Operation {
                                    r#type: Some(offer::operation::Type::Launch as i32),
                                    launch: Some(offer::operation::Launch {
                                        task_infos: vec![task],
                                    }),
                                    ..Default::default()
                                }
                            }
                            Some(group) => {
                                let mut group = group.clone();
                                for task in &mut group.tasks {
                                    task.slave_id = offer.slave_id.clone();
                                }
                                offer::Operation {
                                    r#type: Some(offer::operation::Type::LaunchGroup as i32),
                                    launch_group: Some(offer::operation::LaunchGroup {
                                        executor: ExecutorInfo {
                                            r#type: Some(
                                                mesos_proto::mesos::executor_info::Type::Default
                                                    as i32,
                                            ),
                                            executor_id: mesos_proto::mesos::ExecutorId {
                                                value: format!(
                                                    "default-executor-{}",
                                                    uuid::Uuid::new_v4()
                                                ),
                                            },
                                            framework_id: Some(id.clone()),
                                            resources: Resources::parse(
                                                "cpus:0.1;mem:32;disk:32",
                                                "*",
                                            )
                                            .map(|mut r| {
                                                r.allocate(&flags.role);
                                                r.to_vec()
                                            })
                                            .unwrap_or_default(),
                                            ..Default::default()
                                        },
                                        task_group: group,
                                    }),
                                    ..Default::default()
                                }
                            }
                        };
                        println!(
                            "Submitted task '{name}' to agent '{}'",
                            offer.slave_id.value
                        );
                        (
                            vec![operation],
                            Filters {
                                refuse_seconds: Some(3600.0),
                            },
                        )
                    } else {
                        (
                            vec![],
                            Filters {
                                refuse_seconds: Some(3600.0),
                            },
                        )
                    };
                    send(Call {
                        framework_id: Some(id.clone()),
                        r#type: Some(call::Type::Accept as i32),
                        accept: Some(call::Accept {
                            offer_ids: vec![offer.id],
                            operations,
                            filters: Some(filters),
                        }),
                        ..Default::default()
                    });
                    if launched {
                        if let Some(after) = flags.kill_after {
                            let task_id = TaskId {
                                value: name.clone(),
                            };
                            let kill = Call {
                                framework_id: Some(id.clone()),
                                r#type: Some(call::Type::Kill as i32),
                                kill: Some(call::Kill {
                                    task_id,
                                    slave_id: None,
                                    kill_policy: None,
                                }),
                                ..Default::default()
                            };
                            let to = master.clone();
                            let scheduler = scheduler.clone();
                            tokio::spawn(async move {
                                tokio::time::sleep(after).await;
                                scheduler.dispatch(move |this, _| this.base.send(&to, &kill));
                            });
                        }
                    }
                }
            }
            Some(Event::Update(message)) => {
                let update = message.update.clone();
                let status = &update.status;
                let state = status.state();
                println!(
                    "Received status update {} for task '{}'",
                    state_name(state),
                    status.task_id.value
                );
                if let Some(text) = &status.message {
                    println!("  message: '{text}'");
                }
                if let Some(source) = status
                    .source
                    .and_then(|s| task_status::Source::try_from(s).ok())
                {
                    println!("  source: {}", source.as_str_name());
                }
                if let Some(reason) = status
                    .reason
                    .and_then(|r| task_status::Reason::try_from(r).ok())
                {
                    println!("  reason: {}", reason.as_str_name());
                }
                if let Some(healthy) = status.healthy {
                    // Upstream streams the bool as a number.
                    println!("  healthy?: {}", u8::from(healthy));
                }
                if let Some(check_status) = &status.check_status {
                    println!("  check status: {}", describe_check_status(check_status));
                }
                if let (Some(uuid), Some(slave_id), Some(id)) =
                    (&update.uuid, &update.slave_id, &framework_id)
                {
                    send(Call {
                        framework_id: Some(id.clone()),
                        r#type: Some(call::Type::Acknowledge as i32),
                        acknowledge: Some(call::Acknowledge {
                            slave_id: slave_id.clone(),
                            task_id: status.task_id.clone(),
                            uuid: uuid.clone(),
                        }),
                        ..Default::default()
                    });
                }
                if state.is_terminal() {
                    terminal.insert(status.task_id.value.clone(), state);
                }
                // As upstream: done once every task (of the group) ended.
                if terminal.len() >= expected {
                    // Give the acknowledgement a moment, then tear down.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if let Some(id) = &framework_id {
                        send(Call {
                            framework_id: Some(id.clone()),
                            r#type: Some(call::Type::Teardown as i32),
                            ..Default::default()
                        });
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    return Ok(terminal.values().all(|s| *s == TaskState::TaskFinished));
                }
            }
        }
    }
}

fn main() -> ExitCode {
    let args = match libprocess::flags::prefilter(std::env::args(), "MESOS_", &[]) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("mesos-execute: {error}");
            return ExitCode::from(1);
        }
    };
    let flags = match Flags::try_parse_from(args) {
        Ok(flags) => flags,
        Err(error) => error.exit(),
    };
    match actix::System::new().block_on(run(flags)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("mesos-execute: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// A check status as upstream's `operator<<` prints it: `COMMAND exit code
/// 0`, `HTTP status code 200`, `TCP connection success`.
fn describe_check_status(status: &mesos_proto::mesos::CheckStatusInfo) -> String {
    use mesos_proto::mesos::check_info::Type;
    let mut text = String::new();
    match status.r#type() {
        Type::Command => {
            if let Some(command) = &status.command {
                text.push_str("COMMAND");
                if let Some(code) = command.exit_code {
                    text.push_str(&format!(" exit code {code}"));
                }
            }
        }
        Type::Http => {
            if let Some(http) = &status.http {
                text.push_str("HTTP");
                if let Some(code) = http.status_code {
                    text.push_str(&format!(" status code {code}"));
                }
            }
        }
        Type::Tcp => {
            if let Some(tcp) = &status.tcp {
                text.push_str("TCP");
                match tcp.succeeded {
                    Some(true) => text.push_str(" connection success"),
                    Some(false) => text.push_str(" connection failure"),
                    None => {}
                }
            }
        }
        Type::Unknown => text.push_str("UNKNOWN"),
    }
    text
}
