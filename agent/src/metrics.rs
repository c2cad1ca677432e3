//! The agent's `slave/*` metrics (upstream `src/slave/metrics.cpp`).
//!
//! Counters (`slave/tasks_finished`, `slave/valid_status_updates`, ..) are
//! libprocess counters the agent increments where upstream does. Upstream
//! reads each state gauge (`slave/tasks_running`, `slave/cpus_used`, ..)
//! inside the agent process when a snapshot is taken; our libprocess gauges
//! are closures read outside any process, so the agent recounts them into
//! a shared [`Sample`] after each change instead ([`Slave::refresh_gauges`]:
//! changes within one message are coalesced into one recount, queued behind
//! that message). `slave/recovery_time_secs` appears once recovery is done,
//! as upstream's `Metrics::setRecoveryTime`.
//!
//! [`Slave::refresh_gauges`]: crate::slave::Slave::refresh_gauges

use std::sync::{Arc, Mutex};

use libprocess::metrics::Counter;
use mesos_proto::mesos::TaskState;

use crate::slave::{ExecutorState, Slave};

/// Upstream's resource gauges are built from these names.
pub(crate) const RESOURCE_NAMES: [&str; 4] = ["cpus", "gpus", "mem", "disk"];

/// The state gauges' values, as last recounted.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Sample {
    frameworks_active: f64,
    tasks_staging: f64,
    tasks_starting: f64,
    tasks_running: f64,
    tasks_killing: f64,
    executors_registering: f64,
    executors_running: f64,
    executors_terminating: f64,
    executor_directory_max_allowed_age_secs: f64,
    /// Non-revocable scalars allocated to executors, by [`RESOURCE_NAMES`].
    used: [f64; 4],
    /// Revocable scalars allocated to executors, by [`RESOURCE_NAMES`].
    revocable_used: [f64; 4],
}

impl Sample {
    /// Counts as upstream's `Slave::_tasks_*`, `_executors_*` and
    /// `_resources_used` do: queued tasks are staging; launched
    /// non-terminal tasks count by state; executors by state; used
    /// resources are each executor's own plus those of its queued and
    /// non-terminal tasks (`Executor::allocatedResources`). An exited
    /// executor kept until its tasks' updates are acknowledged counts for
    /// nothing: upstream removes it when it exits (its tasks are all
    /// terminal then), so it is neither terminating nor using resources.
    fn of(slave: &Slave) -> Self {
        let mut sample = Self {
            frameworks_active: slave.frameworks().len() as f64,
            executor_directory_max_allowed_age_secs: slave
                .executor_directory_max_age()
                .as_secs_f64(),
            ..Self::default()
        };
        let mut add = |resources: &[mesos_proto::mesos::Resource]| {
            for resource in resources {
                let Some(i) = RESOURCE_NAMES.iter().position(|n| *n == resource.name) else {
                    continue;
                };
                let Some(scalar) = &resource.scalar else {
                    continue;
                };
                if resource.revocable.is_some() {
                    sample.revocable_used[i] += scalar.value;
                } else {
                    sample.used[i] += scalar.value;
                }
            }
        };
        let mut counts = Self::default();
        for framework in slave.frameworks().values() {
            for executor in framework.executors.values() {
                if executor.exited {
                    continue;
                }
                match executor.state {
                    ExecutorState::Registering => counts.executors_registering += 1.0,
                    ExecutorState::Running => counts.executors_running += 1.0,
                    ExecutorState::Terminating => counts.executors_terminating += 1.0,
                }
                add(&executor.info.resources);
                counts.tasks_staging += executor.queued.len() as f64;
                for task in &executor.queued {
                    add(&task.resources);
                }
                for task in executor.tasks.values() {
                    let state = TaskState::try_from(task.state);
                    match state {
                        Ok(TaskState::TaskStaging) => counts.tasks_staging += 1.0,
                        Ok(TaskState::TaskStarting) => counts.tasks_starting += 1.0,
                        Ok(TaskState::TaskRunning) => counts.tasks_running += 1.0,
                        Ok(TaskState::TaskKilling) => counts.tasks_killing += 1.0,
                        _ => {}
                    }
                    if !state.is_ok_and(TaskState::is_terminal) {
                        add(&task.resources);
                    }
                }
            }
        }
        sample.tasks_staging = counts.tasks_staging;
        sample.tasks_starting = counts.tasks_starting;
        sample.tasks_running = counts.tasks_running;
        sample.tasks_killing = counts.tasks_killing;
        sample.executors_registering = counts.executors_registering;
        sample.executors_running = counts.executors_running;
        sample.executors_terminating = counts.executors_terminating;
        sample
    }
}

/// Reads one value of a [`Sample`].
type SampleField = fn(&Sample) -> f64;

/// The agent's metrics (upstream `slave::Metrics`).
#[derive(Default)]
pub(crate) struct Metrics {
    pub(crate) recovery_errors: Counter,
    pub(crate) tasks_finished: Counter,
    pub(crate) tasks_failed: Counter,
    pub(crate) tasks_killed: Counter,
    pub(crate) tasks_lost: Counter,
    pub(crate) tasks_gone: Counter,
    pub(crate) executors_terminated: Counter,
    /// No QoS controller preempts executors here: always 0.
    pub(crate) executors_preempted: Counter,
    pub(crate) valid_status_updates: Counter,
    pub(crate) invalid_status_updates: Counter,
    pub(crate) valid_framework_messages: Counter,
    pub(crate) invalid_framework_messages: Counter,
    pub(crate) container_launch_errors: Counter,
    /// The state gauges' values.
    sample: Arc<Mutex<Sample>>,
    /// A recount is queued.
    pub(crate) refresh_pending: bool,
    /// Where the agent started (seconds), for `slave/recovery_time_secs`.
    start_time: f64,
    /// The runtime whose registry the metrics went to, once installed.
    runtime: Option<libprocess::Runtime>,
}

impl Metrics {
    /// Counts a task's move to terminal `state` (upstream counts
    /// `TASK_FINISHED`, `TASK_FAILED`, `TASK_KILLED`, `TASK_LOST` and
    /// `TASK_GONE`; the other terminal states have no counter).
    pub(crate) fn count_terminal(&self, state: TaskState) {
        match state {
            TaskState::TaskFinished => self.tasks_finished.inc(),
            TaskState::TaskFailed => self.tasks_failed.inc(),
            TaskState::TaskKilled => self.tasks_killed.inc(),
            TaskState::TaskLost => self.tasks_lost.inc(),
            TaskState::TaskGone => self.tasks_gone.inc(),
            _ => {}
        }
    }

    /// Recounts the state gauges from `slave`.
    pub(crate) fn recount(&self, slave: &Slave) {
        *self.sample.lock().unwrap_or_else(|p| p.into_inner()) = Sample::of(slave);
    }

    /// Adds `slave/recovery_time_secs`: the time from the agent's start
    /// to the end of its recovery (upstream `Metrics::setRecoveryTime`).
    pub(crate) fn set_recovery_time(&self) {
        if let Some(runtime) = &self.runtime {
            let secs = libprocess::clock::now_secs() - self.start_time;
            runtime
                .metrics()
                .gauge("slave/recovery_time_secs", move || secs);
        }
    }

    /// Registers the agent's metrics with `runtime`'s registry (upstream's
    /// `Metrics` constructor), the agent having started at `start_time`.
    /// `total` gives the `slave/<r>_total` gauges: the agent's resources
    /// do not change after it starts.
    pub(crate) fn install(
        &mut self,
        runtime: &libprocess::Runtime,
        start_time: f64,
        total: &mesos_proto::resources::Resources,
    ) {
        self.runtime = Some(runtime.clone());
        let registry = runtime.metrics();
        self.start_time = start_time;
        registry.gauge("slave/uptime_secs", move || {
            libprocess::clock::now_secs() - start_time
        });
        // Upstream's `_registered()` is `master.isSome()`: 1 once a master
        // is detected, before and regardless of registration. The agent is
        // given its master (`--master`), so it always knows one.
        registry.gauge("slave/registered", || 1.0);

        let counters: [(&str, &mut Counter); 13] = [
            ("slave/recovery_errors", &mut self.recovery_errors),
            ("slave/tasks_finished", &mut self.tasks_finished),
            ("slave/tasks_failed", &mut self.tasks_failed),
            ("slave/tasks_killed", &mut self.tasks_killed),
            ("slave/tasks_lost", &mut self.tasks_lost),
            ("slave/tasks_gone", &mut self.tasks_gone),
            ("slave/executors_terminated", &mut self.executors_terminated),
            ("slave/executors_preempted", &mut self.executors_preempted),
            ("slave/valid_status_updates", &mut self.valid_status_updates),
            (
                "slave/invalid_status_updates",
                &mut self.invalid_status_updates,
            ),
            (
                "slave/valid_framework_messages",
                &mut self.valid_framework_messages,
            ),
            (
                "slave/invalid_framework_messages",
                &mut self.invalid_framework_messages,
            ),
            (
                "slave/container_launch_errors",
                &mut self.container_launch_errors,
            ),
        ];
        for (name, counter) in counters {
            let registered = registry.counter(name);
            // Counted before the registration (recovery errors).
            registered.add(counter.get());
            *counter = registered;
        }

        let gauges: [(&str, SampleField); 9] = [
            ("slave/frameworks_active", |s| s.frameworks_active),
            ("slave/tasks_staging", |s| s.tasks_staging),
            ("slave/tasks_starting", |s| s.tasks_starting),
            ("slave/tasks_running", |s| s.tasks_running),
            ("slave/tasks_killing", |s| s.tasks_killing),
            ("slave/executors_registering", |s| s.executors_registering),
            ("slave/executors_running", |s| s.executors_running),
            ("slave/executors_terminating", |s| s.executors_terminating),
            ("slave/executor_directory_max_allowed_age_secs", |s| {
                s.executor_directory_max_allowed_age_secs
            }),
        ];
        for (name, field) in gauges {
            let sample = self.sample.clone();
            registry.gauge(name, move || {
                field(&sample.lock().unwrap_or_else(|p| p.into_inner()))
            });
        }

        for (i, name) in RESOURCE_NAMES.into_iter().enumerate() {
            // Upstream `_resources_total`: the scalar by name.
            let value = total
                .iter()
                .filter(|r| r.name == name && r.revocable.is_none())
                .filter_map(|r| r.scalar.map(|s| s.value))
                // Not `sum()`: its empty sum is `-0.0`, printed as such.
                .fold(0.0, |total, value| total + value);
            registry.gauge(&format!("slave/{name}_total"), move || value);
            let sample = self.sample.clone();
            registry.gauge(&format!("slave/{name}_used"), move || {
                sample.lock().unwrap_or_else(|p| p.into_inner()).used[i]
            });
            // Upstream `_resources_percent`: 0 when there is none.
            let sample = self.sample.clone();
            registry.gauge(&format!("slave/{name}_percent"), move || {
                if value == 0.0 {
                    return 0.0;
                }
                sample.lock().unwrap_or_else(|p| p.into_inner()).used[i] / value
            });
            // Revocable totals come from the resource estimator; the agent
            // has none (upstream's default `noop` estimator also offers
            // nothing), so the revocable percentages are 0 as upstream's
            // for a zero total.
            registry.gauge(&format!("slave/{name}_revocable_total"), || 0.0);
            let sample = self.sample.clone();
            registry.gauge(&format!("slave/{name}_revocable_used"), move || {
                sample
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .revocable_used[i]
            });
            registry.gauge(&format!("slave/{name}_revocable_percent"), || 0.0);
        }
    }
}
