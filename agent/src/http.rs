//! The agent's endpoints (upstream `src/slave/http.cpp`) and its metrics
//! (upstream `src/slave/metrics.cpp`).
//!
//! Endpoints, on the agent process and through the delegate: `/health`,
//! `/flags` and `/state` (JSON in [`crate::state_json`]; `/flags` and
//! `/state` honour `?jsonp=`; `/state.json` is an alias of `/state`, which
//! upstream removed in 1.8, MESOS-4509), the v1 executor API `/api/v1/executor`
//! ([`crate::executor_http`]) and the v1 operator API `/api/v1`
//! ([`crate::api`]). `/version` and `/metrics/snapshot` come from
//! libprocess; the agent adds its `slave/*` metrics to the latter.
//!
//! Upstream reads each agent gauge inside the agent process when a snapshot
//! is taken. Our libprocess gauges are plain closures read outside any
//! process, so the gauges that need the agent's state read a sample the
//! agent process takes every [`METRICS_SAMPLE_INTERVAL`] (and once right
//! after it starts): those values may be that much older than the snapshot.
// TODO(#4): read the gauges at snapshot time once the Slave refreshes a
// shared gauge table on each change (as the master's `refresh_gauges`), or
// once libprocess has deferred gauges; then the sampler goes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{AsyncContext as _, Context};
use bytes::Bytes;
use libprocess::http::Response;
use libprocess::Process;
use mesos_proto::json::render;
use mesos_proto::mesos::TaskState;
use mesos_proto::resources::Resources;

use crate::slave::{ExecutorState, Slave};
use crate::state_json;

/// How often the agent samples its state for the metrics gauges.
pub const METRICS_SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// The message the agent sends itself to start sampling (it needs the
/// process's context, which `install` does not have). Not a protobuf name,
/// so no peer sends it by mistake; one that does only causes a sample.
const SAMPLE_METRICS: &str = "mesos-agent/sample-metrics";

/// Installs the endpoints and the metrics on the agent process; called from
/// `Slave::initialize`, which is when upstream takes the agent's start time.
pub fn install(slave: &mut Slave) {
    let start_time = libprocess::clock::now_secs();
    let auth = std::sync::Arc::new(HttpAuthentication::of(slave.flags()));
    let base = slave.base_mut();
    // Upstream answers `OK()` to any method.
    base.route_sync("/health", |_, _, _| Response::status(200));
    base.route_sync(
        "/flags",
        guarded_sync(&auth, READONLY, |slave, _, request| {
            Response::json(
                render(&state_json::flags(slave)),
                request.query_param("jsonp"),
            )
        }),
    );
    base.route_sync("/api/v1/executor", crate::executor_http::handle);
    // Streaming calls (ATTACH_CONTAINER_INPUT) read their body as it
    // arrives; the others get it whole.
    base.route_streaming(
        "/api/v1",
        |request| {
            request.header("Content-Type").is_some_and(|t| {
                t.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case(crate::api::RECORDIO))
            })
        },
        guarded(&auth, READWRITE, crate::api::handle),
    );
    base.route(
        "/containers",
        guarded(&auth, READONLY, |slave, _, request| {
            crate::monitor::containers(slave, request)
        }),
    );
    for endpoint in ["/monitor/statistics", "/monitor/statistics.json"] {
        base.route(
            endpoint,
            guarded(&auth, READONLY, |slave, _, request| {
                crate::monitor::statistics(slave, request)
            }),
        );
    }
    // `/state.json`, removed upstream in 1.8 (MESOS-4509), is served as
    // an alias: issue #4 asks for it, for older tools that still read it.
    for endpoint in ["/state", "/state.json"] {
        base.route(
            endpoint,
            guarded(&auth, READONLY, move |slave, _, request| {
                let parts = state_json::state(slave, start_time);
                let master_ip = slave.master().ip;
                let jsonp = request.query_param("jsonp").map(str::to_string);
                Box::pin(async move {
                    // A reverse DNS lookup, as upstream's `net::getHostname`;
                    // it may block, so it runs off the agent process.
                    let hostname =
                        tokio::task::spawn_blocking(move || state_json::master_hostname(master_ip))
                            .await
                            .ok()
                            .flatten();
                    Response::json(render(&parts.finish(hostname)), jsonp.as_deref())
                })
            }),
        );
    }
    install_metrics(slave, start_time);
}

/// Upstream's realm of the agent's read-only endpoints.
const READONLY: &str = "mesos-agent-readonly";
/// Upstream's realm of the agent's operator API.
const READWRITE: &str = "mesos-agent-readwrite";

/// Which realms authenticate (`--authenticate_http_readonly`,
/// `--authenticate_http_readwrite`), with `--http_credentials`
/// ([`mesos_authentication::basic`]). `/health` and the executor API are
/// not authenticated (upstream authenticates executors with JWTs, not
/// built here). No authorizer.
#[derive(Debug, Default)]
struct HttpAuthentication {
    readonly: bool,
    readwrite: bool,
    basic: mesos_authentication::basic::BasicAuthenticator,
}

impl HttpAuthentication {
    fn of(flags: Option<&crate::flags::Flags>) -> Self {
        let Some(flags) = flags else {
            return Self::default();
        };
        Self {
            readonly: flags.authenticate_http_readonly,
            readwrite: flags.authenticate_http_readwrite,
            // Checked by `Flags::validate`.
            basic: mesos_authentication::basic::BasicAuthenticator::new(
                &flags
                    .load_http_credentials()
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
            ),
        }
    }

    fn check(&self, realm: &str, request: &libprocess::http::Request) -> Result<(), Response> {
        let enabled = if realm == READONLY {
            self.readonly
        } else {
            self.readwrite
        };
        if enabled {
            self.basic.authenticate(realm, request)?;
        }
        Ok(())
    }
}

type Ctx = actix::Context<Slave>;

/// `handler` behind the authentication of `realm`.
fn guarded(
    auth: &std::sync::Arc<HttpAuthentication>,
    realm: &'static str,
    handler: impl Fn(&mut Slave, &mut Ctx, libprocess::http::Request) -> libprocess::HttpFuture
        + 'static,
) -> impl Fn(&mut Slave, &mut Ctx, libprocess::http::Request) -> libprocess::HttpFuture + 'static {
    let auth = auth.clone();
    move |slave, ctx, request| match auth.check(realm, &request) {
        Ok(()) => handler(slave, ctx, request),
        Err(response) => Box::pin(std::future::ready(response)),
    }
}

/// [`guarded`] for handlers that answer at once.
fn guarded_sync(
    auth: &std::sync::Arc<HttpAuthentication>,
    realm: &'static str,
    handler: impl Fn(&mut Slave, &mut Ctx, libprocess::http::Request) -> Response + 'static,
) -> impl Fn(&mut Slave, &mut Ctx, libprocess::http::Request) -> Response + 'static {
    let auth = auth.clone();
    move |slave, ctx, request| match auth.check(realm, &request) {
        Ok(()) => handler(slave, ctx, request),
        Err(response) => response,
    }
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/// The counts the state gauges report, as last sampled.
#[derive(Debug, Default, Clone, Copy)]
struct Sample {
    tasks_staging: f64,
    tasks_starting: f64,
    tasks_running: f64,
    tasks_killing: f64,
    executors_registering: f64,
    executors_running: f64,
    executor_directory_max_allowed_age_secs: f64,
}

impl Sample {
    /// Counts as upstream's `Slave::_tasks_*` and `_executors_*` do: queued
    /// tasks are staging; launched (non-terminal) tasks count by state;
    /// executors by state.
    fn of(slave: &Slave) -> Self {
        let mut sample = Self {
            executor_directory_max_allowed_age_secs: slave
                .executor_directory_max_age()
                .as_secs_f64(),
            ..Self::default()
        };
        for framework in slave.frameworks().values() {
            for executor in framework.executors.values() {
                match executor.state {
                    ExecutorState::Registering => sample.executors_registering += 1.0,
                    ExecutorState::Running => sample.executors_running += 1.0,
                    ExecutorState::Terminating => {}
                }
                sample.tasks_staging += executor.queued.len() as f64;
                for task in executor.tasks.values() {
                    match TaskState::try_from(task.state) {
                        Ok(TaskState::TaskStaging) => sample.tasks_staging += 1.0,
                        Ok(TaskState::TaskStarting) => sample.tasks_starting += 1.0,
                        Ok(TaskState::TaskRunning) => sample.tasks_running += 1.0,
                        Ok(TaskState::TaskKilling) => sample.tasks_killing += 1.0,
                        _ => {}
                    }
                }
            }
        }
        sample
    }
}

/// Reads one count of a [`Sample`].
type SampleField = fn(&Sample) -> f64;

struct Sampler {
    sample: Mutex<Sample>,
    started: AtomicBool,
}

impl Sampler {
    fn take(&self, slave: &Slave) {
        *self.sample.lock().unwrap_or_else(|p| p.into_inner()) = Sample::of(slave);
    }

    fn read(&self, field: SampleField) -> f64 {
        field(&self.sample.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn tick(self: Arc<Self>, slave: &mut Slave, ctx: &mut Context<Slave>) {
        self.take(slave);
        libprocess::delay(
            METRICS_SAMPLE_INTERVAL,
            &ctx.address(),
            move |slave, ctx| self.tick(slave, ctx),
        );
    }
}

/// Registers the `slave/*` metrics whose values the agent knows (see
/// docs/compatibility.md for the ones left out and why).
fn install_metrics(slave: &mut Slave, start_time: f64) {
    let Some(runtime) = slave.base().runtime().cloned() else {
        return;
    };
    let metrics = runtime.metrics();
    metrics.gauge("slave/uptime_secs", move || {
        libprocess::clock::now_secs() - start_time
    });
    // Upstream's `_registered()` is `master.isSome()`: 1 once a master is
    // detected, before and regardless of registration. The agent is given
    // its master (`--master`) and has no recovery phase, so it always
    // knows one.
    metrics.gauge("slave/registered", || 1.0);
    let recovery_errors = slave.recovery_errors.clone();
    metrics.gauge("slave/recovery_errors", move || {
        f64::from(recovery_errors.load(Ordering::Relaxed))
    });

    // Upstream `_resources_total`: scalar resources of `SlaveInfo` by name.
    // The agent's info does not change after it starts.
    let total = Resources::from(slave.info.resources.clone());
    for name in ["cpus", "gpus", "mem", "disk"] {
        let value = total
            .iter()
            .filter(|r| r.name == name)
            .filter_map(|r| r.scalar.map(|s| s.value))
            // Not `sum()`: its empty sum is `-0.0`, printed as such.
            .fold(0.0, |total, value| total + value);
        metrics.gauge(&format!("slave/{name}_total"), move || value);
        // Revocable totals come from the resource estimator; the agent has
        // none (upstream's default `noop` estimator also offers nothing).
        metrics.gauge(&format!("slave/{name}_revocable_total"), || 0.0);
    }

    let sampler = Arc::new(Sampler {
        sample: Mutex::new(Sample::default()),
        started: AtomicBool::new(false),
    });
    let gauges: [(&str, SampleField); 7] = [
        ("slave/tasks_staging", |s| s.tasks_staging),
        ("slave/tasks_starting", |s| s.tasks_starting),
        ("slave/tasks_running", |s| s.tasks_running),
        ("slave/tasks_killing", |s| s.tasks_killing),
        ("slave/executors_registering", |s| s.executors_registering),
        ("slave/executors_running", |s| s.executors_running),
        ("slave/executor_directory_max_allowed_age_secs", |s| {
            s.executor_directory_max_allowed_age_secs
        }),
    ];
    for (name, field) in gauges {
        let sampler = sampler.clone();
        metrics.gauge(name, move || sampler.read(field));
    }

    let base = slave.base_mut();
    base.install_raw(SAMPLE_METRICS, move |slave, ctx, _| {
        if sampler.started.swap(true, Ordering::AcqRel) {
            sampler.take(slave);
        } else {
            sampler.clone().tick(slave, ctx);
        }
    });
    let me = base.self_pid().clone();
    if let Err(error) = base.send_raw(&me, SAMPLE_METRICS, Bytes::new()) {
        tracing::warn!(%error, "Failed to start sampling the agent metrics");
    }
}
