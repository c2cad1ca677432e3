//! `cgroups/perf_event`'s sampling (upstream
//! `isolators/cgroups/subsystems/perf_event.{hpp,cpp}`).
//!
//! With `--perf_events` a thread of the isolator runs `perf stat` over the
//! cgroups of every container it knows, for `--perf_duration`, once every
//! `--perf_interval` (the first run at start-up, as upstream), and keeps
//! each container's latest sample; `usage` returns it as
//! `ResourceStatistics.perf`. Until a container's first sample it is an
//! empty one with its preparation time and a zero duration (upstream's
//! initial `Info`). Without `--perf_events` nothing is sampled but the
//! empty statistics are still reported, as upstream.
//!
//! The thread stops when the isolator is dropped (after the `perf` it may
//! be running, which a timeout of the duration plus two seconds bounds).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mesos_proto::mesos::PerfStatistics;

use crate::linux::perf;

/// `--perf_events`, `--perf_interval` and `--perf_duration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfFlags {
    /// `--perf_events`: comma-separated event names; `None`: no sampling.
    pub events: Option<String>,
    /// `--perf_interval` (upstream default 60secs).
    pub interval: Duration,
    /// `--perf_duration` (upstream default 10secs).
    pub duration: Duration,
}

impl Default for PerfFlags {
    fn default() -> Self {
        Self {
            events: None,
            interval: Duration::from_secs(60),
            duration: Duration::from_secs(10),
        }
    }
}

/// stout's printing of a duration (`250ms`, `10secs`).
fn stringify(duration: Duration) -> String {
    let ns = duration.as_nanos();
    let units: [(u128, &str); 6] = [
        (604_800_000_000_000, "weeks"),
        (86_400_000_000_000, "days"),
        (3_600_000_000_000, "hrs"),
        (60_000_000_000, "mins"),
        (1_000_000_000, "secs"),
        (1_000_000, "ms"),
    ];
    for (size, unit) in units {
        if ns >= size {
            let value = ns as f64 / size as f64;
            return format!("{value}{unit}");
        }
    }
    if ns >= 1_000 {
        return format!("{}us", ns as f64 / 1_000.0);
    }
    format!("{ns}ns")
}

/// The seconds since the epoch, now.
fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// What is known of one container: its cgroup and latest sample.
#[derive(Debug, Clone)]
struct Info {
    cgroup: String,
    statistics: PerfStatistics,
}

type Infos = Arc<Mutex<HashMap<String, Info>>>;

/// Stops the sampling thread.
#[derive(Debug, Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

/// The perf_event subsystem's state: the containers' samples and, with
/// events to sample, the thread that samples them.
#[derive(Debug)]
pub struct PerfEvent {
    infos: Infos,
    stop: Arc<Stop>,
}

impl PerfEvent {
    /// Checks the flags as upstream's `PerfEventSubsystemProcess::create`
    /// does (perf present, duration not above the interval, every event
    /// known to perf) and, with events, starts sampling. Errors are
    /// upstream's messages.
    pub fn create(flags: &PerfFlags) -> Result<Self, String> {
        let this = Self {
            infos: Arc::default(),
            stop: Arc::default(),
        };
        let Some(events) = &flags.events else {
            return Ok(this);
        };
        if !perf::supported() {
            return Err("Perf is not supported".into());
        }
        if flags.duration > flags.interval {
            return Err(format!(
                "Sampling perf for duration ({}) > interval ({}) is not supported.",
                stringify(flags.duration),
                stringify(flags.interval)
            ));
        }
        let events: BTreeSet<String> = events
            .split(',')
            .filter(|e| !e.is_empty())
            .map(String::from)
            .collect();
        if !perf::valid(&events) {
            let listed: Vec<&str> = events.iter().map(String::as_str).collect();
            return Err(format!("Invalid perf events: {{ {} }}", listed.join(", ")));
        }
        tracing::info!(
            duration = %stringify(flags.duration),
            interval = %stringify(flags.interval),
            ?events,
            "perf_event subsystem will profile"
        );
        let infos = Arc::downgrade(&this.infos);
        let stop = this.stop.clone();
        let (interval, duration) = (flags.interval, flags.duration);
        std::thread::Builder::new()
            .name("perf-sample".into())
            .spawn(move || sample_loop(&events, interval, duration, &infos, &stop))
            .map_err(|e| format!("Failed to start perf sampling: {e}"))?;
        Ok(this)
    }

    /// Knows a prepared or recovered container (upstream `prepare` and
    /// `recover`), with an empty sample.
    pub fn add(&self, container_id: &str, cgroup: &str) {
        let info = Info {
            cgroup: cgroup.to_owned(),
            statistics: PerfStatistics {
                timestamp: now_secs(),
                duration: 0.0,
                ..Default::default()
            },
        };
        self.lock().insert(container_id.to_owned(), info);
    }

    /// The container's latest sample; `None` for an unknown container.
    pub fn statistics(&self, container_id: &str) -> Option<PerfStatistics> {
        self.lock().get(container_id).map(|i| i.statistics)
    }

    /// Forgets a container.
    pub fn remove(&self, container_id: &str) {
        self.lock().remove(container_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Info>> {
        self.infos.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for PerfEvent {
    fn drop(&mut self) {
        *self.stop.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.stop.wake.notify_all();
    }
}

/// Upstream's `sample` / `_sample` loop: a sample of every known cgroup,
/// then the next one an interval after this one started.
fn sample_loop(
    events: &BTreeSet<String>,
    interval: Duration,
    duration: Duration,
    infos: &Weak<Mutex<HashMap<String, Info>>>,
    stop: &Stop,
) {
    // The allowance upstream gives a sample beyond its duration.
    let timeout = duration + Duration::from_secs(2);
    loop {
        let next = Instant::now() + interval;
        let Some(shared) = infos.upgrade() else {
            return;
        };
        let cgroups: BTreeSet<String> = shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|i| i.cgroup.clone())
            .collect();
        drop(shared);
        match perf::sample(events, &cgroups, duration, timeout) {
            Ok(samples) => {
                let Some(shared) = infos.upgrade() else {
                    return;
                };
                // Containers added meanwhile get the next sample.
                let mut infos = shared.lock().unwrap_or_else(|e| e.into_inner());
                for info in infos.values_mut() {
                    if let Some(sample) = samples.get(&info.cgroup) {
                        info.statistics = *sample;
                    }
                }
            }
            Err(error) => tracing::error!(%error, "Failed to get the perf sample"),
        }
        let mut stopped = stop.stopped.lock().unwrap_or_else(|e| e.into_inner());
        while !*stopped {
            let now = Instant::now();
            if now >= next {
                break;
            }
            stopped = match stop.wake.wait_timeout(stopped, next - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        if *stopped {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_stout_does() {
        assert_eq!(stringify(Duration::from_millis(250)), "250ms");
        assert_eq!(stringify(Duration::from_secs(10)), "10secs");
        assert_eq!(stringify(Duration::from_secs(60)), "1mins");
        assert_eq!(stringify(Duration::from_millis(1500)), "1.5secs");
    }

    /// Upstream `PerfEventSubsystemProcess::create`: a duration above the
    /// interval is refused (equal is fine); without events nothing is
    /// checked and nothing sampled, but usage has the empty sample.
    #[test]
    fn flags_are_checked_only_with_events() {
        let quiet = PerfEvent::create(&PerfFlags {
            events: None,
            interval: Duration::from_secs(1),
            duration: Duration::from_secs(5),
        })
        .expect("no events: no checks");
        quiet.add("c1", "mesos/c1");
        let statistics = quiet.statistics("c1").expect("known");
        assert!(statistics.timestamp > 0.0);
        assert_eq!(statistics.duration, 0.0);
        assert_eq!(statistics.task_clock, None);
        quiet.remove("c1");
        assert!(quiet.statistics("c1").is_none());
    }
}
