//! `/metrics/snapshot` of a master with a framework, an agent, tasks and
//! an offer: upstream 1.11's master, registrar and allocator metric names
//! (as compiled into libmesos 1.11.0, see tests/interop) and the values of
//! a scenario.

use std::collections::BTreeMap;

use mesos_proto::mesos::internal::{StatusUpdate, StatusUpdateMessage};
use mesos_proto::mesos::scheduler::{call, Call};
use mesos_proto::mesos::{task_status, TaskId, TaskState, TaskStatus};

use crate::frameworks::recv;
use crate::state::{cluster, get, launch, task, update, Cluster};

/// Upstream 1.11's fixed `master/*` metric names: the string literals of
/// `src/master/metrics.cpp` found in libmesos 1.11.0 (`strings
/// _scheduler.so | grep ^master/`), and the resource gauges it builds from
/// `{cpus, gpus, mem, disk}`.
const UPSTREAM_NAMES: &[&str] = &[
    "master/dropped_messages",
    "master/elected",
    "master/event_queue_dispatches",
    "master/event_queue_http_requests",
    "master/event_queue_messages",
    "master/frameworks_active",
    "master/frameworks_connected",
    "master/frameworks_disconnected",
    "master/frameworks_inactive",
    "master/http_cache_hits",
    "master/invalid_executor_to_framework_messages",
    "master/invalid_framework_to_executor_messages",
    "master/invalid_operation_status_update_acknowledgements",
    "master/invalid_operation_status_updates",
    "master/invalid_status_update_acknowledgements",
    "master/invalid_status_updates",
    "master/messages_authenticate",
    "master/messages_deactivate_framework",
    "master/messages_decline_offers",
    "master/messages_executor_to_framework",
    "master/messages_exited_executor",
    "master/messages_framework_to_executor",
    "master/messages_kill_task",
    "master/messages_launch_tasks",
    "master/messages_operation_status_update",
    "master/messages_operation_status_update_acknowledgement",
    "master/messages_reconcile_operations",
    "master/messages_reconcile_tasks",
    "master/messages_register_framework",
    "master/messages_register_slave",
    "master/messages_reregister_framework",
    "master/messages_reregister_slave",
    "master/messages_resource_request",
    "master/messages_revive_offers",
    "master/messages_status_update",
    "master/messages_status_update_acknowledgement",
    "master/messages_suppress_offers",
    "master/messages_unregister_framework",
    "master/messages_unregister_slave",
    "master/messages_update_slave",
    "master/operator_event_stream_subscribers",
    "master/outstanding_offers",
    "master/recovery_slave_removals",
    "master/slave_registrations",
    "master/slave_removals",
    "master/slave_removals/reason_registered",
    "master/slave_removals/reason_unhealthy",
    "master/slave_removals/reason_unregistered",
    "master/slave_reregistrations",
    "master/slave_shutdowns_canceled",
    "master/slave_shutdowns_completed",
    "master/slave_shutdowns_scheduled",
    "master/slave_unreachable_canceled",
    "master/slave_unreachable_completed",
    "master/slave_unreachable_scheduled",
    "master/slaves_active",
    "master/slaves_connected",
    "master/slaves_disconnected",
    "master/slaves_inactive",
    "master/slaves_unreachable",
    "master/tasks_dropped",
    "master/tasks_error",
    "master/tasks_failed",
    "master/tasks_finished",
    "master/tasks_gone",
    "master/tasks_gone_by_operator",
    "master/tasks_killed",
    "master/tasks_killing",
    "master/tasks_lost",
    "master/tasks_running",
    "master/tasks_staging",
    "master/tasks_starting",
    "master/tasks_unreachable",
    "master/uptime_secs",
    "master/valid_executor_to_framework_messages",
    "master/valid_framework_to_executor_messages",
    "master/valid_operation_status_update_acknowledgements",
    "master/valid_operation_status_updates",
    "master/valid_status_update_acknowledgements",
    "master/valid_status_updates",
];

/// Upstream 1.11's fixed `registrar/*` and `allocator/*` names: the
/// literals in libmesos 1.11.0 (`strings _scheduler.so | grep -E
/// '^(registrar|allocator)/'`), timers with the `_ms` suffix
/// `Timer<Milliseconds>` adds, and the resource gauges
/// `src/master/allocator/mesos/metrics.cpp` builds from `{cpus, mem,
/// disk}`. `registrar/state_fetch_ms` is left out: it has a value only once
/// a fetch is timed (checked below).
const UPSTREAM_REGISTRAR_ALLOCATOR_NAMES: &[&str] = &[
    "allocator/event_queue_dispatches",
    "allocator/mesos/allocation_run_latency_ms",
    "allocator/mesos/allocation_run_ms",
    "allocator/mesos/allocation_runs",
    "allocator/mesos/event_queue_dispatches",
    "allocator/mesos/resources/cpus/offered_or_allocated",
    "allocator/mesos/resources/cpus/total",
    "allocator/mesos/resources/disk/offered_or_allocated",
    "allocator/mesos/resources/disk/total",
    "allocator/mesos/resources/mem/offered_or_allocated",
    "allocator/mesos/resources/mem/total",
    "registrar/queued_operations",
    "registrar/registry_size_bytes",
    "registrar/state_store_ms",
];

/// The statistics upstream's snapshot adds for a timer with a window
/// (`MetricsProcess::__snapshot`), once it holds two values.
const TIMER_STATISTICS: [&str; 9] = [
    "count", "min", "max", "p50", "p90", "p95", "p99", "p999", "p9999",
];

/// The snapshot, once the master handled what is queued (gauges are
/// recounted by a dispatch queued after the change).
async fn snapshot(cluster: &Cluster) -> BTreeMap<String, f64> {
    cluster.master.call(|_, _| ()).await.unwrap();
    cluster.master.call(|_, _| ()).await.unwrap();
    let reply = get(cluster.addr(), "/metrics/snapshot").await;
    assert_eq!(reply.status, 200);
    serde_json::from_str(&reply.body).unwrap()
}

fn assert_values(metrics: &BTreeMap<String, f64>, expected: &[(&str, f64)]) {
    for (name, value) in expected {
        assert_eq!(metrics.get(*name), Some(value), "{name} in {metrics:#?}");
    }
}

/// The agent reports `TASK_FAILED` for task `id` with a reason.
async fn fail(cluster: &mut Cluster, id: &str) {
    let uuid = uuid::Uuid::new_v4().as_bytes().to_vec();
    let message = StatusUpdateMessage {
        update: StatusUpdate {
            framework_id: cluster.framework_id.clone(),
            executor_id: None,
            slave_id: Some(cluster.slave_id.clone()),
            status: TaskStatus {
                task_id: TaskId { value: id.into() },
                state: TaskState::TaskFailed as i32,
                source: Some(task_status::Source::Executor as i32),
                reason: Some(task_status::Reason::CommandExecutorFailed as i32),
                uuid: Some(uuid.clone()),
                ..Default::default()
            },
            timestamp: 2.0,
            uuid: Some(uuid),
            latest_state: None,
        },
        pid: Some(cluster.agent.upid().to_string()),
    };
    let to = cluster.master.upid().clone();
    cluster
        .agent
        .dispatch(move |this, _| this.base.send(&to, &message));
    while recv(&mut cluster.rx).await.name != "mesos.internal.StatusUpdateMessage" {}
}

#[actix_rt::test]
async fn snapshot_has_upstream_names_and_counts_tasks_offers_and_resources() {
    let mut cluster = cluster(&[]).await;

    let metrics = snapshot(&cluster).await;
    let missing: Vec<_> = UPSTREAM_NAMES
        .iter()
        .filter(|name| !metrics.contains_key(**name))
        .collect();
    assert!(missing.is_empty(), "missing {missing:?}");
    let missing: Vec<_> = UPSTREAM_REGISTRAR_ALLOCATOR_NAMES
        .iter()
        .filter(|name| !metrics.contains_key(**name))
        .collect();
    assert!(missing.is_empty(), "missing {missing:?}");
    assert!(metrics.contains_key("registrar/state_fetch_ms"));
    // Recovery and the agent's admission were stored.
    for statistic in TIMER_STATISTICS {
        let name = format!("registrar/state_store_ms/{statistic}");
        assert!(metrics.contains_key(&name), "missing {name}");
    }
    assert_eq!(metrics["registrar/state_store_ms/count"], 2.0);
    assert!(metrics["registrar/registry_size_bytes"] > 0.0);
    // Per-role gauges of the framework's role; it has no quota.
    assert!(metrics.contains_key("allocator/mesos/roles/*/shares/dominant"));
    assert!(!metrics
        .keys()
        .any(|k| k.starts_with("allocator/mesos/quota/")));
    for resource in ["cpus", "gpus", "mem", "disk"] {
        for kind in ["total", "used", "percent"] {
            for name in [
                format!("master/{resource}_{kind}"),
                format!("master/{resource}_revocable_{kind}"),
            ] {
                assert!(metrics.contains_key(&name), "missing {name}");
            }
        }
    }
    assert_values(
        &metrics,
        &[
            ("master/elected", 1.0),
            ("master/slaves_active", 1.0),
            ("master/slaves_connected", 1.0),
            ("master/frameworks_active", 1.0),
            ("master/frameworks_connected", 1.0),
            ("master/frameworks_inactive", 0.0),
            ("master/frameworks_disconnected", 0.0),
            ("master/outstanding_offers", 1.0),
            ("master/cpus_total", 2.0),
            ("master/mem_total", 1024.0),
            ("master/disk_total", 512.0),
            ("master/gpus_total", 0.0),
            ("master/cpus_used", 0.0),
            ("master/cpus_percent", 0.0),
            ("master/messages_register_framework", 1.0),
            ("master/messages_register_slave", 1.0),
            ("master/slave_registrations", 1.0),
            ("registrar/queued_operations", 0.0),
            // Nothing waits in the master's queue once it is idle.
            ("master/event_queue_messages", 0.0),
            ("master/event_queue_dispatches", 0.0),
            ("master/event_queue_http_requests", 0.0),
            ("allocator/event_queue_dispatches", 0.0),
            ("allocator/mesos/event_queue_dispatches", 0.0),
            ("allocator/mesos/resources/cpus/total", 2.0),
            ("allocator/mesos/resources/mem/total", 1024.0),
            ("allocator/mesos/resources/disk/total", 512.0),
            // The whole agent is offered.
            ("allocator/mesos/resources/cpus/offered_or_allocated", 2.0),
            ("allocator/mesos/resources/mem/offered_or_allocated", 1024.0),
            ("allocator/mesos/roles/*/shares/dominant", 1.0),
            ("allocator/mesos/offer_filters/roles/*/active", 0.0),
        ],
    );
    assert!(metrics["allocator/mesos/allocation_runs"] >= 1.0);

    // Three tasks: one finishes, one fails, one keeps running.
    let tasks = ["t1", "t2", "t3"]
        .iter()
        .map(|id| task(id, &cluster.offer, "cpus:0.5;mem:128"))
        .collect();
    launch(&mut cluster, tasks).await;
    let metrics = snapshot(&cluster).await;
    assert_values(
        &metrics,
        &[
            ("master/messages_launch_tasks", 1.0),
            ("master/tasks_staging", 3.0),
            ("master/outstanding_offers", 0.0),
            ("master/cpus_used", 1.5),
            ("master/mem_used", 384.0),
            ("master/cpus_percent", 0.75),
        ],
    );
    for id in ["t1", "t2", "t3"] {
        update(&mut cluster, id, TaskState::TaskRunning, 1.0).await;
    }
    update(&mut cluster, "t1", TaskState::TaskFinished, 2.0).await;
    fail(&mut cluster, "t2").await;

    // The rest of the agent is offered again.
    let revive = Call {
        framework_id: Some(cluster.framework_id.clone()),
        r#type: Some(call::Type::Revive as i32),
        revive: Some(call::Revive::default()),
        ..Default::default()
    };
    let to = cluster.master.upid().clone();
    cluster
        .scheduler
        .dispatch(move |this, _| this.base.send(&to, &revive));
    while recv(&mut cluster.rx).await.name != "mesos.internal.ResourceOffersMessage" {}

    let metrics = snapshot(&cluster).await;
    assert_values(
        &metrics,
        &[
            ("master/tasks_staging", 0.0),
            ("master/tasks_starting", 0.0),
            ("master/tasks_running", 1.0),
            ("master/tasks_killing", 0.0),
            ("master/tasks_unreachable", 0.0),
            ("master/tasks_finished", 1.0),
            ("master/tasks_failed", 1.0),
            ("master/tasks_killed", 0.0),
            ("master/tasks_lost", 0.0),
            ("master/tasks_error", 0.0),
            (
                "master/task_failed/source_executor/reason_command_executor_failed",
                1.0,
            ),
            ("master/messages_status_update", 5.0),
            ("master/valid_status_updates", 5.0),
            ("master/invalid_status_updates", 0.0),
            ("master/messages_revive_offers", 1.0),
            ("master/cpus_used", 0.5),
            ("master/mem_used", 128.0),
            ("master/cpus_percent", 0.25),
            ("master/mem_percent", 0.125),
            ("master/dropped_messages", 0.0),
            // The running task's resources and the rest, offered again.
            ("allocator/mesos/resources/cpus/offered_or_allocated", 2.0),
            ("allocator/mesos/resources/mem/offered_or_allocated", 1024.0),
            ("allocator/mesos/roles/*/shares/dominant", 1.0),
        ],
    );
    // Offering again ran the allocator again, after a requested
    // allocation waited for its turn.
    assert!(metrics["allocator/mesos/allocation_runs"] >= 2.0);
    assert!(metrics.contains_key("allocator/mesos/allocation_run_latency_ms"));
    // Every offer the master holds (one or two: the freed resources may
    // be offered apart).
    let offers = cluster.master.call(|m, _| m.offers.len()).await.unwrap();
    assert!(offers >= 1);
    assert_values(&metrics, &[("master/outstanding_offers", offers as f64)]);
    // A terminal update without a reason counts no per-reason counter.
    assert!(!metrics
        .keys()
        .any(|k| k.starts_with("master/task_finished/")));

    // The framework's own metrics (upstream `FrameworkMetrics`).
    let prefix = format!(
        "master/frameworks/test-framework/{}/",
        cluster.framework_id.value
    );
    let framework: Vec<(String, f64)> = [
        ("subscribed", 1.0),
        ("events/subscribed", 1.0),
        ("events/update", 5.0),
        ("events/rescind", 0.0),
        ("events/heartbeat", 0.0),
        ("calls/accept", 1.0),
        ("calls/revive", 1.0),
        ("roles/*/suppressed", 0.0),
        ("calls/decline", 0.0),
        ("offers/accepted", 1.0),
        ("offers/declined", 0.0),
        ("offers/rescinded", 0.0),
        ("operations", 1.0),
        ("operations/launch", 1.0),
        ("operations/reserve", 0.0),
        ("tasks/active/task_staging", 0.0),
        ("tasks/active/task_running", 1.0),
        ("tasks/terminal/task_finished", 1.0),
        ("tasks/terminal/task_failed", 1.0),
        ("tasks/terminal/task_killed", 0.0),
    ]
    .into_iter()
    .map(|(name, value)| (format!("{prefix}{name}"), value))
    .collect();
    let expected: Vec<(&str, f64)> = framework.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    assert_values(&metrics, &expected);
    // One offer per event here; the freed resources may come apart.
    let offers = metrics[&format!("{prefix}offers/sent")];
    assert!(offers >= 2.0, "{offers}");
    assert_eq!(metrics[&format!("{prefix}events/offers")], offers);
    assert_eq!(
        metrics[&format!("{prefix}events")],
        metrics[&format!("{prefix}events/subscribed")]
            + metrics[&format!("{prefix}events/offers")]
            + metrics[&format!("{prefix}events/update")]
    );
}

/// `--publish_per_framework_metrics=false` leaves the framework's metrics
/// out of the snapshot.
#[actix_rt::test]
async fn per_framework_metrics_can_be_left_unpublished() {
    let cluster = cluster(&["--publish_per_framework_metrics=false"]).await;
    let metrics = snapshot(&cluster).await;
    assert!(metrics.contains_key("master/frameworks_active"));
    assert!(!metrics.keys().any(|k| k.starts_with("master/frameworks/")));
    let cluster = crate::state::cluster(&[]).await;
    let metrics = snapshot(&cluster).await;
    let subscribed = format!(
        "master/frameworks/test-framework/{}/subscribed",
        cluster.framework_id.value
    );
    assert_eq!(metrics.get(&subscribed), Some(&1.0));
}

/// `master/event_queue_*` count what waits for the master actor: read
/// while the master is busy with a dispatch, after it queued itself two
/// messages, a dispatch and (through its HTTP port) a request.
#[actix_rt::test]
async fn event_queue_gauges_count_what_waits_for_the_master() {
    let cluster = cluster(&[]).await;
    let addr = cluster.addr();
    // Sent while the master is held up below.
    let request = crate::state::raw_get(addr, "/master/health");
    let queued = cluster
        .master
        .call(|master, ctx| {
            use libprocess::actix::AsyncContext as _;
            use libprocess::Process as _;
            let to = master.base().self_pid().clone();
            for _ in 0..2 {
                let _ =
                    master
                        .base()
                        .send_raw(&to, "mesos.internal.NoSuchMessage", Default::default());
            }
            master.base().dispatch(&ctx.address(), |_, _| ());
            // Wait (holding the master) until the request is queued.
            let queue = master.base().event_queue().clone();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while queue.http_requests() == 0 && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let metrics = master.base().runtime().unwrap().metrics().snapshot();
            [
                "master/event_queue_messages",
                "master/event_queue_dispatches",
                "master/event_queue_http_requests",
            ]
            .map(|name| metrics[name])
        })
        .await
        .unwrap();
    assert_eq!(queued, [2.0, 1.0, 1.0]);
    let reply = String::from_utf8_lossy(&request.await.unwrap()).into_owned();
    assert!(reply.contains(" 200 "), "{reply}");
    let metrics = snapshot(&cluster).await;
    assert_values(
        &metrics,
        &[
            ("master/event_queue_messages", 0.0),
            ("master/event_queue_dispatches", 0.0),
            ("master/event_queue_http_requests", 0.0),
        ],
    );
}
