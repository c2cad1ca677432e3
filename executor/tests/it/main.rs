//! Executor integration tests: an emulated agent speaking raw libprocess
//! messages to the executor driver in-process (`driver`) and to the real
//! `mesos-executor` binary (`command_executor`), message by message
//! (upstream `exec_tests`, `command_executor_tests`).

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

mod command_executor;
mod driver;
