//! Per-framework metrics (`--publish_per_framework_metrics`), served in
//! `/metrics/snapshot` under `master/frameworks/<name>/<id>/`.
//!
//! Upstream counterpart: `FrameworkMetrics` in `src/master/metrics.cpp`
//! (1.7+). The name is percent-encoded as libprocess `http::encode` does
//! ([`libprocess::http::percent_encode`]),
//! so a `/` or a space in it does not split the metric's path. Each
//! framework has:
//! - `subscribed`: 1 while its scheduler is connected;
//! - `calls` and `calls/<type>`: the scheduler calls it made, by type;
//! - `events` and `events/<type>`: the events the master sent it, by
//!   type, whichever API carried them (a v0 driver's
//!   `ResourceOffersMessage` counts as `events/offers`);
//! - `offers/{sent,accepted,declined,rescinded}`;
//! - `tasks/active/<state>` (gauges) and `tasks/terminal/<state>`
//!   (counters);
//! - `operations` and `operations/<type>`: the offer operations it asked;
//! - `roles/<role>/suppressed`: 1 while offers for the role are suppressed
//!   (upstream's allocator publishes these under the same prefix), one per
//!   role it is subscribed to.
//!
//! The metrics live as long as the framework is known, completed ones
//! included (upstream keeps a completed framework's `Framework`, and so
//! its metrics, until it is evicted by `--max_completed_frameworks`).
//! Without a registry (the allocator benchmark's master), or with
//! `--publish_per_framework_metrics=false`, they still count but are not
//! published, as upstream's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::Arc;

use libprocess::metrics::Counter;
use libprocess::Runtime;
use mesos_proto::mesos::offer::operation;
use mesos_proto::mesos::scheduler::{call, event};
use mesos_proto::mesos::{FrameworkInfo, TaskState};

/// The enum values upstream iterates, from the descriptor: every value
/// but `UNKNOWN` (0), as `(number, lower-case name)`.
fn values<E: TryFrom<i32>>(name: impl Fn(E) -> &'static str) -> Vec<(i32, String)> {
    (1..128)
        .filter_map(|n| {
            E::try_from(n)
                .ok()
                .map(|e| (n, name(e).to_ascii_lowercase()))
        })
        .collect()
}

/// A gauge the master sets (upstream's `PushGauge`).
#[derive(Clone, Default)]
struct PushGauge(Arc<AtomicI64>);

/// One framework's metrics.
pub struct FrameworkMetrics {
    registry: Option<Runtime>,
    names: Vec<String>,
    subscribed: PushGauge,
    calls: Counter,
    call_types: HashMap<i32, Counter>,
    events: Counter,
    event_types: HashMap<i32, Counter>,
    /// `offers/sent`.
    pub offers_sent: Counter,
    /// `offers/accepted`.
    pub offers_accepted: Counter,
    /// `offers/declined`.
    pub offers_declined: Counter,
    /// `offers/rescinded`.
    pub offers_rescinded: Counter,
    active: HashMap<i32, PushGauge>,
    terminal: HashMap<i32, Counter>,
    operations: Counter,
    operation_types: HashMap<i32, Counter>,
    /// `roles/<role>/suppressed`, by role.
    suppressed: std::sync::Mutex<HashMap<String, PushGauge>>,
    prefix: String,
}

impl std::fmt::Debug for FrameworkMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameworkMetrics")
            .field("published", &self.registry.is_some())
            .finish_non_exhaustive()
    }
}

/// The `master/frameworks/<name>/<id>/` prefix of a framework's metrics.
pub fn prefix(info: &FrameworkInfo) -> String {
    let id = info.id.as_ref().map(|id| id.value.as_str()).unwrap_or("");
    format!(
        "master/frameworks/{}/{id}/",
        libprocess::http::percent_encode(&info.name)
    )
}

impl FrameworkMetrics {
    /// Metrics of the framework `info` (with its id), published in
    /// the registry of `registry` when given.
    pub fn new(info: &FrameworkInfo, registry: Option<Runtime>) -> Self {
        let prefix = prefix(info);
        let mut names = Vec::new();
        let mut counter = |name: String| {
            let counter = match &registry {
                Some(registry) => registry.metrics().counter(&name),
                None => Counter::default(),
            };
            names.push(name);
            counter
        };
        let calls = counter(format!("{prefix}calls"));
        let call_types = values::<call::Type>(|t| t.as_str_name())
            .into_iter()
            .map(|(n, name)| (n, counter(format!("{prefix}calls/{name}"))))
            .collect();
        let events = counter(format!("{prefix}events"));
        let event_types = values::<event::Type>(|t| t.as_str_name())
            .into_iter()
            .map(|(n, name)| (n, counter(format!("{prefix}events/{name}"))))
            .collect();
        let offers_sent = counter(format!("{prefix}offers/sent"));
        let offers_accepted = counter(format!("{prefix}offers/accepted"));
        let offers_declined = counter(format!("{prefix}offers/declined"));
        let offers_rescinded = counter(format!("{prefix}offers/rescinded"));
        let mut terminal = HashMap::new();
        let mut active_names = Vec::new();
        // Every task state, TASK_STAGING (0) included.
        for n in 0..128 {
            let Ok(state) = TaskState::try_from(n) else {
                continue;
            };
            let name = state.as_str_name().to_ascii_lowercase();
            if state.is_terminal() {
                terminal.insert(n, counter(format!("{prefix}tasks/terminal/{name}")));
            } else {
                active_names.push((n, format!("{prefix}tasks/active/{name}")));
            }
        }
        let operations = counter(format!("{prefix}operations"));
        let operation_types = values::<operation::Type>(|t| t.as_str_name())
            .into_iter()
            .map(|(n, name)| (n, counter(format!("{prefix}operations/{name}"))))
            .collect();
        let mut gauge = |name: String| {
            let gauge = PushGauge::default();
            if let Some(registry) = &registry {
                let value = gauge.0.clone();
                registry
                    .metrics()
                    .gauge(&name, move || value.load(Relaxed) as f64);
            }
            names.push(name);
            gauge
        };
        let subscribed = gauge(format!("{prefix}subscribed"));
        let active = active_names
            .into_iter()
            .map(|(n, name)| (n, gauge(name)))
            .collect();
        Self {
            registry,
            names,
            subscribed,
            calls,
            call_types,
            events,
            event_types,
            offers_sent,
            offers_accepted,
            offers_declined,
            offers_rescinded,
            active,
            terminal,
            operations,
            operation_types,
            suppressed: Default::default(),
            prefix,
        }
    }

    fn suppressed_gauges(&self) -> std::sync::MutexGuard<'_, HashMap<String, PushGauge>> {
        self.suppressed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The framework is subscribed to `roles`, `suppressed` among them:
    /// a `roles/<role>/suppressed` gauge for each, those of roles it left
    /// removed.
    pub fn set_roles(&self, roles: &[String], suppressed: &[String]) {
        let mut gauges = self.suppressed_gauges();
        gauges.retain(|role, _| {
            let keep = roles.contains(role);
            if !keep {
                if let Some(registry) = &self.registry {
                    registry
                        .metrics()
                        .remove(&format!("{}roles/{role}/suppressed", self.prefix));
                }
            }
            keep
        });
        for role in roles {
            let gauge = gauges.entry(role.clone()).or_insert_with(|| {
                let gauge = PushGauge::default();
                if let Some(registry) = &self.registry {
                    let value = gauge.0.clone();
                    registry.metrics().gauge(
                        &format!("{}roles/{role}/suppressed", self.prefix),
                        move || value.load(Relaxed) as f64,
                    );
                }
                gauge
            });
            gauge.0.store(i64::from(suppressed.contains(role)), Relaxed);
        }
    }

    /// Offers for `roles` (all of them when empty) are suppressed
    /// (`true`) or revived.
    pub fn set_suppressed(&self, roles: &[String], suppressed: bool) {
        for (role, gauge) in self.suppressed_gauges().iter() {
            if roles.is_empty() || roles.contains(role) {
                gauge.0.store(i64::from(suppressed), Relaxed);
            }
        }
    }

    /// Sets `subscribed` (upstream: 1 in the `CONNECTED` state).
    pub fn set_subscribed(&self, subscribed: bool) {
        self.subscribed.0.store(i64::from(subscribed), Relaxed);
    }

    /// Counts a scheduler call of type `kind`.
    pub fn call(&self, kind: call::Type) {
        self.calls.inc();
        if let Some(counter) = self.call_types.get(&(kind as i32)) {
            counter.inc();
        }
    }

    /// Counts an event of type `kind` sent to the framework.
    pub fn event(&self, kind: event::Type) {
        self.events.inc();
        if let Some(counter) = self.event_types.get(&(kind as i32)) {
            counter.inc();
        }
    }

    /// Counts an offer operation of type `kind`.
    pub fn operation(&self, kind: i32) {
        self.operations.inc();
        if let Some(counter) = self.operation_types.get(&kind) {
            counter.inc();
        }
    }

    /// A task of the framework entered `state` (a terminal state counts
    /// once; an active one is a gauge, left with [`Self::task_left`]).
    pub fn task_entered(&self, state: i32) {
        if let Some(counter) = self.terminal.get(&state) {
            counter.inc();
        } else if let Some(gauge) = self.active.get(&state) {
            gauge.0.fetch_add(1, Relaxed);
        }
    }

    /// A task of the framework left active `state`.
    pub fn task_left(&self, state: i32) {
        if let Some(gauge) = self.active.get(&state) {
            gauge.0.fetch_sub(1, Relaxed);
        }
    }
}

impl Drop for FrameworkMetrics {
    fn drop(&mut self) {
        if let Some(registry) = &self.registry {
            for name in &self.names {
                registry.metrics().remove(name);
            }
            for role in self.suppressed_gauges().keys() {
                registry
                    .metrics()
                    .remove(&format!("{}roles/{role}/suppressed", self.prefix));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppressed_roles_have_a_gauge_each() {
        let registry = Runtime::new(libprocess::runtime::Config {
            ip: std::net::Ipv4Addr::LOCALHOST,
            ..Default::default()
        })
        .unwrap();
        let info = FrameworkInfo {
            name: "f".into(),
            id: Some(mesos_proto::mesos::FrameworkId {
                value: "F-2".into(),
            }),
            ..Default::default()
        };
        let metrics = FrameworkMetrics::new(&info, Some(registry.clone()));
        let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let value = |role: &str| {
            registry
                .metrics()
                .snapshot()
                .get(&format!("master/frameworks/f/F-2/roles/{role}/suppressed"))
                .copied()
        };
        metrics.set_roles(&roles(&["a", "b"]), &roles(&["b"]));
        assert_eq!((value("a"), value("b")), (Some(0.0), Some(1.0)));
        metrics.set_suppressed(&[], true);
        assert_eq!(value("a"), Some(1.0));
        metrics.set_suppressed(&roles(&["a"]), false);
        assert_eq!((value("a"), value("b")), (Some(0.0), Some(1.0)));
        // A role left loses its gauge; the rest go with the framework.
        metrics.set_roles(&roles(&["a"]), &[]);
        assert_eq!(value("b"), None);
        drop(metrics);
        assert_eq!(value("a"), None);
    }

    #[test]
    fn every_upstream_metric_is_published_and_removed_with_the_framework() {
        let registry = Runtime::new(libprocess::runtime::Config {
            ip: std::net::Ipv4Addr::LOCALHOST,
            ..Default::default()
        })
        .unwrap();
        let info = FrameworkInfo {
            name: "web app".into(),
            id: Some(mesos_proto::mesos::FrameworkId {
                value: "F-1".into(),
            }),
            ..Default::default()
        };
        let metrics = FrameworkMetrics::new(&info, Some(registry.clone()));
        metrics.set_subscribed(true);
        metrics.call(call::Type::Accept);
        metrics.event(event::Type::Offers);
        metrics.task_entered(TaskState::TaskStaging as i32);
        metrics.task_left(TaskState::TaskStaging as i32);
        metrics.task_entered(TaskState::TaskRunning as i32);
        metrics.task_entered(TaskState::TaskFinished as i32);
        metrics.operation(operation::Type::Launch as i32);
        let snapshot = registry.metrics().snapshot();
        let p = "master/frameworks/web%20app/F-1/";
        for (name, value) in [
            ("subscribed", 1.0),
            ("calls", 1.0),
            ("calls/accept", 1.0),
            ("calls/decline", 0.0),
            ("calls/update_framework", 0.0),
            ("events", 1.0),
            ("events/offers", 1.0),
            ("events/heartbeat", 0.0),
            ("offers/sent", 0.0),
            ("offers/rescinded", 0.0),
            ("tasks/active/task_staging", 0.0),
            ("tasks/active/task_running", 1.0),
            ("tasks/active/task_unreachable", 0.0),
            ("tasks/terminal/task_finished", 1.0),
            ("tasks/terminal/task_gone_by_operator", 0.0),
            ("operations", 1.0),
            ("operations/launch", 1.0),
            ("operations/launch_group", 0.0),
        ] {
            assert_eq!(snapshot.get(&format!("{p}{name}")), Some(&value), "{name}");
        }
        assert!(!snapshot.contains_key(&format!("{p}calls/unknown")));
        drop(metrics);
        assert!(registry
            .metrics()
            .snapshot()
            .keys()
            .all(|k| !k.starts_with(p)));
    }
}
