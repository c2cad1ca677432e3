//! The Mesos master.
//!
//! Upstream counterpart: `src/master/`. Built so far (issue #3, agents
//! part): flags ([`flags`]), the registrar with in-memory and durable
//! single-file stores ([`registrar`]), agent registration,
//! re-registration, health checks and removal ([`master`], [`observer`]),
//! and the health, flags and redirect endpoints ([`http`]). Frameworks,
//! offers, tasks, the allocator and the state endpoints come next.

#![warn(missing_docs)]

pub mod allocator;
pub mod flags;
pub mod frameworks;
pub mod http;
pub mod master;
pub mod observer;
pub mod operator_api;
pub mod registrar;
pub mod scheduler_http;
pub mod tasks;

/// The upstream Mesos release whose protocol this master speaks; agents and
/// frameworks compare against it.
pub const VERSION: &str = "1.11.0";

/// The `/version` document.
pub fn version_json() -> serde_json::Value {
    serde_json::json!({ "version": VERSION })
}
