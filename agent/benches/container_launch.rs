//! Container launch + destroy through the Mesos containerizer, as root:
//! `true` in a container with `cgroups/cpu,cgroups/mem,namespaces/pid` on
//! the linux launcher (issue #5's benchmark), from `launch` until the
//! container is destroyed and cleaned up (`wait` resolves).
//!
//! Reports p50/p99 of containers launched one at a time, then the total
//! time and latency tail of a batch launched together.
//!
//! Run (as root): `cargo build --release -p mesos-agent && cargo bench -p
//! mesos-agent --bench container_launch [-- SEQUENTIAL BATCH]` (default
//! 200 and 500). `MESOS_LAUNCHER` and `MESOS_ISOLATION` override the
//! launcher and isolators.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mesos_agent::containerizer::{Containerizer, ContainerizerOptions};
use mesos_proto::mesos::slave::ContainerConfig;
use mesos_proto::mesos::CommandInfo;
use mesos_proto::resources::Resources;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sequential = numbers.first().copied().unwrap_or(200);
    let batch = numbers.get(1).copied().unwrap_or(500);
    let exe = std::env::current_exe().expect("own path");
    let bin_dir: PathBuf = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .to_path_buf();
    assert!(
        bin_dir.join("mesos-containerizer").exists(),
        "build it first: cargo build --release -p mesos-agent"
    );
    let options = ContainerizerOptions {
        launcher: std::env::var("MESOS_LAUNCHER").unwrap_or_else(|_| "linux".into()),
        isolation: std::env::var("MESOS_ISOLATION")
            .unwrap_or_else(|_| "cgroups/cpu,cgroups/mem,namespaces/pid".into()),
        cgroups_root: "mesos_bench".into(),
        ..Default::default()
    };
    println!(
        "launcher {}, isolation {}",
        options.launcher, options.isolation
    );
    let sandboxes = tempfile::tempdir().expect("tempdir");
    let root = sandboxes.path().to_path_buf();
    actix::System::new().block_on(async move {
        let containerizer =
            mesos_agent::containerizer::create(&options, bin_dir).expect("containerizer");
        let config = |id: &str| {
            let directory = root.join(id);
            std::fs::create_dir_all(&directory).expect("sandbox");
            ContainerConfig {
                command_info: CommandInfo {
                    value: Some("true".into()),
                    ..Default::default()
                },
                resources: Resources::parse("cpus:0.1;mem:32", "*")
                    .expect("resources")
                    .to_vec(),
                directory: directory.display().to_string(),
                ..Default::default()
            }
        };
        let run = |id: String| {
            let launch = containerizer.launch(id.clone(), config(&id));
            let wait = containerizer.wait(id);
            async move {
                let start = Instant::now();
                launch.await.expect("launch");
                let termination = wait.await.expect("terminated");
                assert_eq!(termination.status, Some(0), "{termination:?}");
                start.elapsed()
            }
        };

        let mut latencies = Vec::with_capacity(sequential);
        for i in 0..sequential {
            latencies.push(run(format!("seq-{i}")).await);
        }
        latencies.sort();
        println!(
            "sequential: {sequential} containers, launch to destroyed p50 {:.1} ms, p99 {:.1} ms",
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99))
        );

        let start = Instant::now();
        let all: Vec<_> = (0..batch).map(|i| run(format!("batch-{i}"))).collect();
        let mut latencies = futures::future::join_all(all).await;
        let elapsed = start.elapsed();
        latencies.sort();
        println!(
            "batch: {batch} containers together in {:.2} s ({:.0}/s); each p50 {:.0} ms, p99 {:.0} ms",
            elapsed.as_secs_f64(),
            batch as f64 / elapsed.as_secs_f64(),
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99))
        );
    });
}
