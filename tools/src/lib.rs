//! Framework-side tools: `mesos-execute` (run one task or task group and
//! report its status updates) and `mesos-local` (a master and agents in one
//! process).
//!
//! [`cli`] is the `mesos` command (`mesos task list|exec|attach|log`).

pub mod cli;
