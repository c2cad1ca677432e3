//! The Mesos agent: registration, tasks, status updates, containerizers.
//!
//! Empty for now: the agent arrives with issue #4 on top of `libprocess`
//! and `mesos-proto`. Nothing here is built or shipped yet.
