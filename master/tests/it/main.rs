//! Master integration tests: a real master process and emulated agents
//! speaking raw libprocess messages, message by message (upstream
//! `master_tests`, `fault_tolerance_tests` scenarios for agents).

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

mod agents;
mod authentication;
mod draining;
mod frameworks;
mod http;
mod maintenance;
mod metrics;
mod offers;
mod operation_feedback;
mod operator_api;
mod operator_events;
mod oversubscription;
mod partition;
mod quota;
mod reconciliation;
mod reservations;
mod roles;
mod scheduler_api;
mod scheduler_calls;
mod state;
mod validation;
