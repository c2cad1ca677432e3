//! The metrics registry behind `/metrics/snapshot`.
//!
//! Upstream counterpart: `3rdparty/libprocess/include/process/metrics/*`
//! and `src/metrics/metrics.cpp`. Metrics are counters, gauges and timers
//! keyed by upstream's names (`master/tasks_running`); the snapshot is one
//! flat JSON object, keys sorted, every value a double
//! (`"master\/elected":1.0`).
//!
//! A [`Timer`] renders as upstream's `Timer<Milliseconds>`: `<name>_ms`
//! holds the last duration (absent until one is recorded) and, for a timer
//! with a window, `<name>_ms/count`, `/min`, `/max`, `/p50`, `/p90`,
//! `/p95`, `/p99`, `/p999` and `/p9999` summarise the durations kept once
//! there are at least two (upstream's `Statistics::from`). As upstream's
//! `TimeSeries`, values older than the window are dropped when a value is
//! recorded (never the last one). Upstream keeps 1000 values and thins
//! older ones evenly past that; here the oldest are dropped.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// How many values a timer's window keeps, as upstream's `TimeSeries`
/// default capacity.
const TIMER_CAPACITY: usize = 1000;

#[derive(Debug, Default)]
struct TimerData {
    last: Option<f64>,
    /// The window and the values recorded within it (clock time in
    /// seconds, milliseconds), oldest first; `None` without a window.
    history: Option<(Duration, VecDeque<(Duration, f64)>)>,
}

/// Durations of a repeated event, in milliseconds (upstream's
/// `process::metrics::Timer<Milliseconds>`).
#[derive(Debug, Clone, Default)]
pub struct Timer(Arc<Mutex<TimerData>>);

impl Timer {
    /// A timer made before the registry is known (see
    /// [`Metrics::add_timer_ms`]); with a `window`, its snapshot also
    /// summarises the durations recorded within it.
    pub fn with_window(window: Option<Duration>) -> Self {
        let data = TimerData {
            last: None,
            history: window.map(|w| (w, VecDeque::new())),
        };
        Self(Arc::new(Mutex::new(data)))
    }

    fn data(&self) -> std::sync::MutexGuard<'_, TimerData> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one event that took `elapsed`.
    pub fn record(&self, elapsed: Duration) {
        self.record_at(crate::clock::elapsed(), elapsed);
    }

    /// Records `elapsed` at clock time `now`.
    fn record_at(&self, now: Duration, elapsed: Duration) {
        let value = elapsed.as_secs_f64() * 1000.0;
        let mut data = self.data();
        data.last = Some(value);
        if let Some((window, values)) = &mut data.history {
            values.push_back((now, value));
            // Upstream's `TimeSeries::truncate`: values at or before
            // `now - window` go, unless that would leave none.
            if let Some(expired) = now.checked_sub(*window) {
                let keep = values.iter().position(|(at, _)| *at > expired);
                if let Some(keep) = keep.filter(|_| values.len() > 1) {
                    values.drain(..keep);
                }
            }
            while values.len() > TIMER_CAPACITY {
                values.pop_front();
            }
        }
    }

    /// Runs `future` and records how long it took on the libprocess clock
    /// (upstream's `Timer::time`).
    pub async fn time<F: std::future::Future>(&self, future: F) -> F::Output {
        let start = crate::clock::elapsed();
        let output = future.await;
        self.record(crate::clock::elapsed().saturating_sub(start));
        output
    }

    /// Runs `f` and records how long it took on the libprocess clock.
    pub fn time_sync<T>(&self, f: impl FnOnce() -> T) -> T {
        let start = crate::clock::elapsed();
        let output = f();
        self.record(crate::clock::elapsed().saturating_sub(start));
        output
    }

    /// Returns the last duration recorded, in milliseconds.
    pub fn last(&self) -> Option<f64> {
        self.data().last
    }

    /// Adds this timer's values under `name` (with its unit suffix) to
    /// `snapshot`.
    /// The statistics cover the values kept as of the last record: as
    /// upstream, the window is applied when a value is recorded, not when
    /// the snapshot is taken.
    fn render(&self, name: &str, snapshot: &mut BTreeMap<String, f64>) {
        let data = self.data();
        if let Some(last) = data.last {
            snapshot.insert(name.to_string(), last);
        }
        let Some((_, values)) = &data.history else {
            return;
        };
        let mut sorted: Vec<f64> = values.iter().map(|(_, value)| *value).collect();
        // Upstream needs at least two values to compute aggregates.
        if sorted.len() < 2 {
            return;
        }
        sorted.sort_by(f64::total_cmp);
        let mut put = |suffix: &str, value: f64| {
            snapshot.insert(format!("{name}/{suffix}"), value);
        };
        put("count", sorted.len() as f64);
        put("min", sorted[0]);
        put("max", sorted[sorted.len() - 1]);
        for (suffix, p) in [
            ("p50", 0.5),
            ("p90", 0.9),
            ("p95", 0.95),
            ("p99", 0.99),
            ("p999", 0.999),
            ("p9999", 0.9999),
        ] {
            put(suffix, percentile(&sorted, p));
        }
    }
}

/// Returns percentile `p` of `sorted` (at least two values) by linear
/// interpolation, as upstream's `Statistics::percentile`.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let position = p * (sorted.len() - 1) as f64;
    let index = position.floor() as usize;
    let delta = position - index as f64;
    sorted[index] + delta * (sorted[index + 1] - sorted[index])
}

/// A value read when the snapshot is taken that may have none yet (an
/// upstream gauge whose future fails): the snapshot leaves it out then.
type OptionalGauge = Arc<dyn Fn() -> Option<f64> + Send + Sync>;

enum Metric {
    Counter(Counter),
    Gauge(Gauge),
    OptionalGauge(OptionalGauge),
    Timer(Timer),
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

    /// Registers (or replaces) gauge `name`, left out of the snapshot while
    /// `gauge` returns `None` (as upstream leaves out a gauge whose value
    /// failed, e.g. `registrar/registry_size_bytes` before recovery).
    pub fn optional_gauge(
        &self,
        name: &str,
        gauge: impl Fn() -> Option<f64> + Send + Sync + 'static,
    ) {
        self.metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), Metric::OptionalGauge(Arc::new(gauge)));
    }

    /// Registers a millisecond timer `<name>_ms` and returns it (the
    /// existing one if the name is taken by a timer). With a `window`, the
    /// snapshot also summarises the durations recorded within it.
    pub fn timer_ms(&self, name: &str, window: Option<Duration>) -> Timer {
        let name = format!("{name}_ms");
        let mut metrics = self.metrics.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(Metric::Timer(timer)) = metrics.get(&name) {
            return timer.clone();
        }
        let timer = Timer::with_window(window);
        metrics.insert(name, Metric::Timer(timer.clone()));
        timer
    }

    /// Registers `timer`, made before the registry was known, as
    /// `<name>_ms` (replacing what was there).
    pub fn add_timer_ms(&self, name: &str, timer: &Timer) {
        self.metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(format!("{name}_ms"), Metric::Timer(timer.clone()));
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
        let mut snapshot = BTreeMap::new();
        for (name, metric) in metrics.iter() {
            match metric {
                Metric::Counter(c) => {
                    snapshot.insert(name.clone(), c.get() as f64);
                }
                Metric::Gauge(g) => {
                    snapshot.insert(name.clone(), g());
                }
                Metric::OptionalGauge(g) => {
                    if let Some(value) = g() {
                        snapshot.insert(name.clone(), value);
                    }
                }
                Metric::Timer(t) => t.render(name, &mut snapshot),
            }
        }
        snapshot
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

    #[test]
    fn optional_gauge_without_value_is_left_out() {
        let metrics = Metrics::default();
        let value = Arc::new(Mutex::new(None));
        let read = value.clone();
        metrics.optional_gauge("registrar/registry_size_bytes", move || {
            *read.lock().unwrap()
        });
        assert!(metrics.snapshot().is_empty());
        *value.lock().unwrap() = Some(42.0);
        assert_eq!(metrics.snapshot()["registrar/registry_size_bytes"], 42.0);
    }

    #[test]
    fn timer_without_window_renders_only_its_last_value() {
        let metrics = Metrics::default();
        let timer = metrics.timer_ms("registrar/state_fetch", None);
        assert!(metrics.snapshot().is_empty());
        timer.record(Duration::from_micros(2500));
        timer.record(Duration::from_millis(4));
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.len(), 1);
        assert_eq!(snapshot["registrar/state_fetch_ms"], 4.0);
    }

    #[test]
    fn timer_with_window_renders_upstream_statistics_from_two_values() {
        let metrics = Metrics::default();
        let timer = metrics.timer_ms("registrar/state_store", Some(Duration::from_secs(86400)));
        timer.record(Duration::from_millis(3));
        let snapshot = metrics.snapshot();
        assert_eq!(
            snapshot.keys().collect::<Vec<_>>(),
            ["registrar/state_store_ms"]
        );

        for ms in [1, 4, 2] {
            timer.record(Duration::from_millis(ms));
        }
        let snapshot = metrics.snapshot();
        let name = |suffix: &str| format!("registrar/state_store_ms/{suffix}");
        assert_eq!(snapshot.len(), 10);
        assert_eq!(snapshot["registrar/state_store_ms"], 2.0);
        assert_eq!(snapshot[&name("count")], 4.0);
        assert_eq!(snapshot[&name("min")], 1.0);
        assert_eq!(snapshot[&name("max")], 4.0);
        // Sorted 1, 2, 3, 4: position p * 3, interpolated.
        assert_eq!(snapshot[&name("p50")], 2.5);
        assert!((snapshot[&name("p90")] - 3.7).abs() < 1e-9);
        assert!((snapshot[&name("p99")] - 3.97).abs() < 1e-9);
        assert!((snapshot[&name("p9999")] - 3.9997).abs() < 1e-9);
        assert!(snapshot.contains_key(&name("p95")));
        assert!(snapshot.contains_key(&name("p999")));
    }

    #[test]
    fn timer_window_forgets_old_values() {
        let hour = Duration::from_secs(3600);
        let timer = Timer::with_window(Some(hour));
        let at = |secs| Duration::from_secs(secs);
        let count = |timer: &Timer| {
            let mut snapshot = BTreeMap::new();
            timer.render("t_ms", &mut snapshot);
            snapshot.get("t_ms/count").copied()
        };
        timer.record_at(at(10), Duration::from_millis(1));
        timer.record_at(at(20), Duration::from_millis(2));
        assert_eq!(count(&timer), Some(2.0));
        // Recording applies the window: the value at 10 goes.
        timer.record_at(at(3615), Duration::from_millis(3));
        assert_eq!(count(&timer), Some(2.0));
        // Both older values go: one value, no statistics.
        timer.record_at(at(7300), Duration::from_millis(4));
        assert_eq!(count(&timer), None);
        let mut snapshot = BTreeMap::new();
        timer.render("t_ms", &mut snapshot);
        assert_eq!(snapshot["t_ms"], 4.0);
    }

    #[test]
    fn timer_is_shared_by_name() {
        let metrics = Metrics::default();
        let a = metrics.timer_ms("x", None);
        let b = metrics.timer_ms("x", None);
        a.record(Duration::from_millis(7));
        assert_eq!(b.last(), Some(7.0));
    }
}
