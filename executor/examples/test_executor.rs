//! `test-executor`: a custom executor on the v0 [`ExecutorDriver`], as a
//! framework would write one (upstream `src/examples/test_executor.cpp`).
//!
//! For each task it sends `TASK_RUNNING` and the framework message
//! `test-executor running <task>`, then waits for a message from its
//! framework: it answers `test-executor got <data>` and finishes the task
//! (`TASK_FINISHED`). Unlike upstream's, which finishes each task at once,
//! it shows messages going both ways; `tools/tests/e2e.rs` runs it under
//! a pymesos scheduler.

use std::process::ExitCode;

use mesos_executor::driver::{self, Executor, ExecutorDriver};
use mesos_proto::mesos::{
    ExecutorInfo, FrameworkInfo, KillPolicy, SlaveInfo, Status, TaskId, TaskInfo, TaskState,
    TaskStatus,
};

/// Runs the tasks it is given until its framework says something.
#[derive(Default)]
struct TestExecutor {
    /// Tasks waiting for a framework message.
    running: Vec<TaskId>,
}

fn status(task_id: TaskId, state: TaskState, message: Option<String>) -> TaskStatus {
    TaskStatus {
        task_id,
        state: state as i32,
        message,
        ..Default::default()
    }
}

impl Executor for TestExecutor {
    fn registered(
        &mut self,
        _driver: &ExecutorDriver,
        executor_info: ExecutorInfo,
        _framework_info: FrameworkInfo,
        slave_info: SlaveInfo,
    ) {
        println!(
            "Registered executor {} on {}",
            executor_info.executor_id.value, slave_info.hostname
        );
    }

    fn reregistered(&mut self, _driver: &ExecutorDriver, slave_info: SlaveInfo) {
        println!("Re-registered executor on {}", slave_info.hostname);
    }

    fn launch_task(&mut self, driver: &ExecutorDriver, task: TaskInfo) {
        println!("Starting task {}", task.task_id.value);
        driver.send_status_update(status(task.task_id.clone(), TaskState::TaskRunning, None));
        driver.send_framework_message(
            format!("test-executor running {}", task.task_id.value).into_bytes(),
        );
        self.running.push(task.task_id);
    }

    fn kill_task(
        &mut self,
        driver: &ExecutorDriver,
        task_id: TaskId,
        _kill_policy: Option<KillPolicy>,
    ) {
        self.running.retain(|t| *t != task_id);
        driver.send_status_update(status(task_id, TaskState::TaskKilled, None));
    }

    fn framework_message(&mut self, driver: &ExecutorDriver, data: Vec<u8>) {
        let data = String::from_utf8_lossy(&data).into_owned();
        println!("Framework message: {data}");
        driver.send_framework_message(format!("test-executor got {data}").into_bytes());
        for task_id in self.running.drain(..) {
            println!("Finishing task {}", task_id.value);
            driver.send_status_update(status(
                task_id,
                TaskState::TaskFinished,
                Some(format!("test-executor got {data}")),
            ));
        }
    }

    fn shutdown(&mut self, driver: &ExecutorDriver) {
        println!("Shutting down");
        driver.stop();
    }

    fn error(&mut self, _driver: &ExecutorDriver, message: &str) {
        eprintln!("test-executor: {message}");
    }
}

fn main() -> ExitCode {
    match driver::run(TestExecutor::default()) {
        Ok(Status::DriverStopped) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("test-executor: driver ended as {}", status.as_str_name());
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("test-executor: {error:#}");
            ExitCode::from(1)
        }
    }
}
