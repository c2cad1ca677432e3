//! Executor integration tests: an emulated agent speaking raw libprocess
//! messages to the executor driver in-process (`driver`) and to the real
//! `mesos-executor` binary (`command_executor`), message by message
//! (upstream `exec_tests`, `command_executor_tests`); and the v1 executor
//! library against a fake HTTP agent (`v1_library`).

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

mod command_executor;
mod driver;
mod v1_library;
