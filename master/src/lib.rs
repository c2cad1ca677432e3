//! The Mesos master: frameworks, agents, offers, tasks and the registry.
//!
//! Empty for now: the master arrives with issue #3 on top of `libprocess`
//! and `mesos-proto`. Nothing here is built or shipped yet.
