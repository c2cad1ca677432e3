//! Executor drivers (v0 libprocess, v1 HTTP) and the built-in executors.
//!
//! Empty for now: executors arrive with issue #4 on top of `libprocess`
//! and `mesos-proto`. Nothing here is built or shipped yet.
