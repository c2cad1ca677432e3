//! A custom executor on the public v1 executor library
//! ([`mesos_executor::v1::Mesos`]), the Rust twin of
//! `tests/interop/pymesos_executor.py` (upstream's example is
//! `src/examples/test_http_executor.cpp`).
//!
//! Started by the agent as a framework's `ExecutorInfo` command, it
//! subscribes with the environment the agent gives it (retrying every
//! second until SUBSCRIBED, with the updates the agent has not
//! acknowledged), and for each task it is launched with sends
//! TASK_RUNNING, a framework message `rust-v1-executor-says-hi`, then
//! TASK_FINISHED. It exits 0 once the agent acknowledges the terminal
//! update, or on SHUTDOWN.
//!
//! ```text
//! cargo build -p mesos-executor --examples
//! python tests/interop/pymesos_task.py 127.0.0.1:5050 target/debug/examples/v1_executor
//! ```

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mesos_executor::v1::{Mesos, MesosConfig, Notice};
use mesos_proto::mesos::v1::executor::{call, event, Call, Event};
use mesos_proto::mesos::v1::task_status::Source;
use mesos_proto::mesos::v1::{TaskId, TaskInfo, TaskState, TaskStatus};

/// What the executor keeps between events.
struct Executor {
    config: MesosConfig,
    mesos: Mesos,
    subscribed: bool,
    /// Updates the agent has not acknowledged, sent again on SUBSCRIBE.
    unacknowledged: Vec<call::Update>,
    /// Tasks launched whose updates the agent has not acknowledged.
    tasks: Vec<TaskInfo>,
    /// The uuids of terminal updates not yet acknowledged.
    terminal: Vec<Vec<u8>>,
}

/// What the main loop does after an event.
enum Next {
    Continue,
    Exit,
}

impl Executor {
    fn call(&self, kind: call::Type) -> Call {
        let mut call = Call {
            framework_id: self.config.framework_id.clone(),
            executor_id: self.config.executor_id.clone(),
            ..Default::default()
        };
        call.set_type(kind);
        call
    }

    fn subscribe(&self) {
        let mut call = self.call(call::Type::Subscribe);
        call.subscribe = Some(call::Subscribe {
            unacknowledged_updates: self.unacknowledged.clone(),
            unacknowledged_tasks: self.tasks.clone(),
        });
        self.mesos.send(call);
    }

    fn update(&mut self, task_id: &TaskId, state: TaskState, message: Option<&str>) {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |t| t.as_secs_f64());
        let mut status = TaskStatus {
            task_id: task_id.clone(),
            executor_id: Some(self.config.executor_id.clone()),
            message: message.map(str::to_string),
            uuid: Some(uuid::Uuid::new_v4().as_bytes().to_vec()),
            timestamp: Some(timestamp),
            ..Default::default()
        };
        status.set_state(state);
        status.set_source(Source::Executor);
        if state == TaskState::TaskFinished {
            self.terminal.extend(status.uuid.clone());
        }
        let update = call::Update { status };
        self.unacknowledged.push(update.clone());
        let mut call = self.call(call::Type::Update);
        call.update = Some(update);
        self.mesos.send(call);
    }

    fn launch(&mut self, task: TaskInfo) {
        println!("Launching task {}", task.task_id.value);
        let task_id = task.task_id.clone();
        self.tasks.push(task);
        self.update(&task_id, TaskState::TaskRunning, None);
        let mut message = self.call(call::Type::Message);
        message.message = Some(call::Message {
            data: b"rust-v1-executor-says-hi".to_vec(),
        });
        self.mesos.send(message);
        self.update(
            &task_id,
            TaskState::TaskFinished,
            Some("rust v1 executor done"),
        );
    }

    fn received(&mut self, event: Event) -> Next {
        match event.r#type() {
            event::Type::Subscribed => {
                println!("Subscribed");
                self.subscribed = true;
            }
            event::Type::Launch => {
                if let Some(launch) = event.launch {
                    self.launch(launch.task);
                }
            }
            event::Type::Acknowledged => {
                let Some(acknowledged) = event.acknowledged else {
                    return Next::Continue;
                };
                let uuid = acknowledged.uuid;
                self.unacknowledged
                    .retain(|u| u.status.uuid.as_ref() != Some(&uuid));
                self.tasks.retain(|t| t.task_id != acknowledged.task_id);
                if self.terminal.contains(&uuid) {
                    self.terminal.retain(|u| *u != uuid);
                    if self.terminal.is_empty() {
                        println!("Terminal update acknowledged; exiting");
                        return Next::Exit;
                    }
                }
            }
            event::Type::Shutdown => {
                println!("Shutting down");
                return Next::Exit;
            }
            event::Type::Message => {
                let data = event.message.map(|m| m.data).unwrap_or_default();
                println!(
                    "Message from the framework: {}",
                    String::from_utf8_lossy(&data)
                );
            }
            event::Type::Error => {
                let message = event.error.map(|e| e.message).unwrap_or_default();
                eprintln!("Error: {message}");
            }
            event::Type::LaunchGroup => eprintln!("LAUNCH_GROUP is not supported"),
            event::Type::Kill | event::Type::Heartbeat | event::Type::Unknown => {}
        }
        Next::Continue
    }
}

async fn run() -> Result<(), String> {
    let config = MesosConfig::from_env().map_err(|error| error.to_string())?;
    let (mesos, mut notices) = Mesos::new(config.clone());
    let mut executor = Executor {
        config,
        mesos,
        subscribed: false,
        unacknowledged: Vec::new(),
        tasks: Vec::new(),
        terminal: Vec::new(),
    };
    let mut connected = false;
    let mut retry = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            notice = notices.recv() => match notice {
                Some(Notice::Connected) => {
                    connected = true;
                    executor.subscribed = false;
                    executor.subscribe();
                }
                Some(Notice::Disconnected) => {
                    connected = false;
                    executor.subscribed = false;
                }
                Some(Notice::Received(events)) => {
                    for event in events {
                        if let Next::Exit = executor.received(event) {
                            return Ok(());
                        }
                    }
                }
                None => return Err("the executor library stopped".into()),
            },
            // A refused SUBSCRIBE (an agent still recovering) is retried.
            _ = retry.tick() => {
                if connected && !executor.subscribed {
                    executor.subscribe();
                }
            }
        }
    }
}

fn main() -> ExitCode {
    // The library's log lines go to stderr, which the agent points at the
    // sandbox's `stderr`.
    if let Err(error) = mesos_executor::logging::init("INFO", None, false, "v1_executor.log") {
        eprintln!("v1_executor: {error:#}");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("v1_executor: failed to start tokio: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("v1_executor: {error}");
            ExitCode::from(1)
        }
    }
}
