//! The metrics registry behind `/metrics/snapshot`.
//!
//! Upstream counterpart: `3rdparty/libprocess/include/process/metrics/*`
//! and `src/metrics/metrics.cpp`. Metrics are counters and gauges keyed by
//! upstream's names (`master/tasks_running`); the snapshot is one flat JSON
//! object, keys sorted, every value a double (`"master\/elected":1.0`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Number, Value};

/// A monotonically increasing count.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Returns the count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value read when the snapshot is taken.
pub type Gauge = Arc<dyn Fn() -> f64 + Send + Sync>;

enum Metric {
    Counter(Counter),
    Gauge(Gauge),
}

/// The registry of one runtime.
#[derive(Default)]
pub struct Metrics {
    metrics: Mutex<BTreeMap<String, Metric>>,
}

impl Metrics {
    /// Registers a counter under `name` and returns it (the existing one if
    /// the name is taken by a counter).
    pub fn counter(&self, name: &str) -> Counter {
        let mut metrics = self.metrics.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(Metric::Counter(counter)) = metrics.get(name) {
            return counter.clone();
        }
        let counter = Counter::default();
        metrics.insert(name.to_string(), Metric::Counter(counter.clone()));
        counter
    }

    /// Registers `counter`, made before the registry was known, under
    /// `name` (replacing what was there).
    pub fn add_counter(&self, name: &str, counter: &Counter) {
        self.metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), Metric::Counter(counter.clone()));
    }

    /// Registers (or replaces) gauge `name`.
    pub fn gauge(&self, name: &str, gauge: impl Fn() -> f64 + Send + Sync + 'static) {
        self.metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), Metric::Gauge(Arc::new(gauge)));
    }

    /// Removes metric `name`.
    pub fn remove(&self, name: &str) {
        self.metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    /// Returns the current values, keys sorted.
    pub fn snapshot(&self) -> BTreeMap<String, f64> {
        let metrics = self.metrics.lock().unwrap_or_else(|p| p.into_inner());
        metrics
            .iter()
            .map(|(name, metric)| {
                let value = match metric {
                    Metric::Counter(c) => c.get() as f64,
                    Metric::Gauge(g) => g(),
                };
                (name.clone(), value)
            })
            .collect()
    }

    /// Renders the snapshot as upstream's JSON object.
    pub fn snapshot_json(&self) -> String {
        let object: Map<String, Value> = self
            .snapshot()
            .into_iter()
            .map(|(k, v)| (k, Number::from_f64(v).map_or(Value::Null, Value::Number)))
            .collect();
        mesos_proto::json::render(&Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_is_sorted_doubles_with_escaped_slashes() {
        let metrics = Metrics::default();
        let counter = metrics.counter("master/tasks_running");
        counter.add(3);
        metrics.gauge("master/elected", || 1.0);
        metrics.gauge("master/cpus_percent", || 0.25);
        assert_eq!(
            metrics.snapshot_json(),
            r#"{"master\/cpus_percent":0.25,"master\/elected":1.0,"master\/tasks_running":3.0}"#
        );
    }
}
