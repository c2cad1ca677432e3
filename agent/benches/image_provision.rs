//! Container images from a local registry (issue #6's benchmark), as
//! root: Debian's `docker-registry` on loopback serves the busybox test
//! image (one layer, ~1 MB) and a five-layer image of ~100 MB (20 MB of
//! random bytes per layer, so gzip cannot shrink it).
//!
//! For each backend: cold (empty store: pull + unpack + rootfs) and warm
//! (layers stored: rootfs only) provisioning, p50 over the runs; then
//! cold and warm start of `true` in the busybox image through the Mesos
//! containerizer (linux launcher, `filesystem/linux,docker/runtime`),
//! from `launch` to its exit; and, where a Docker Engine runs, `docker
//! pull` + `docker run --rm` of the same image for comparison.
//!
//! Run (as root): `cargo build --release -p mesos-agent && cargo bench -p
//! mesos-agent --bench image_provision [-- RUNS]` (default 5).

#![allow(clippy::unwrap_used)]

#[path = "../tests/support/registry.rs"]
mod registry;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mesos_agent::containerizer::mesos::provisioner::{Provisioner, ProvisionerOptions};
use mesos_agent::containerizer::{Containerizer, ContainerizerOptions};
use mesos_proto::mesos::slave::ContainerConfig;
use mesos_proto::mesos::{container_info, image, CommandInfo, ContainerInfo, Image};
use mesos_proto::resources::Resources;
use registry::*;

fn p50(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn docker_image(name: &str) -> Image {
    Image {
        r#type: image::Type::Docker as i32,
        docker: Some(image::Docker {
            name: name.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn random_layer(index: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("data{index}"));
    let status = Command::new("dd")
        .args(["if=/dev/urandom", "bs=1M", "count=20", "status=none"])
        .arg(format!("of={}", path.display()))
        .status()
        .unwrap();
    assert!(status.success());
    layer(&[(
        Box::leak(format!("data/{index}").into_boxed_str()),
        Box::leak(format!("copy:{}", path.display()).into_boxed_str()),
    )])
}

fn provisioner(work_dir: &Path, store: &Path, backend: &str, registry: &Registry) -> Provisioner {
    Provisioner::create(&ProvisionerOptions {
        work_dir: work_dir.to_path_buf(),
        backend: Some(backend.into()),
        docker_registry: format!("http://{}", registry.host),
        docker_store_dir: store.to_path_buf(),
        docker_config: None,
        proc_root: "/proc".into(),
    })
    .unwrap()
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let registry = Registry::start(None);
    push_images(&registry);
    let mut big = vec![base_layer()];
    big.extend((1..5).map(random_layer));
    let big_bytes: usize = big.iter().map(Vec::len).sum();
    registry.push("big", "latest", &big, config_json());
    println!(
        "images: busybox (1 layer), big (5 layers, {:.0} MB compressed); {runs} runs each",
        big_bytes as f64 / 1e6
    );

    let system = actix::System::new();
    system.block_on(async {
        for backend in ["copy", "overlay", "bind"] {
            for name in ["busybox", "big"] {
                if backend == "bind" && name == "big" {
                    continue;
                }
                let (mut cold, mut warm) = (Vec::new(), Vec::new());
                for run in 0..runs {
                    let work_dir = tempfile::tempdir().unwrap();
                    let store = tempfile::tempdir().unwrap();
                    let provisioner =
                        provisioner(work_dir.path(), store.path(), backend, &registry);
                    let start = Instant::now();
                    provisioner
                        .provision("cold", docker_image(name))
                        .await
                        .unwrap();
                    cold.push(start.elapsed());
                    let start = Instant::now();
                    provisioner
                        .provision(&format!("warm{run}"), docker_image(name))
                        .await
                        .unwrap();
                    warm.push(start.elapsed());
                    provisioner.destroy("cold").await.unwrap();
                    provisioner.destroy(&format!("warm{run}")).await.unwrap();
                }
                println!(
                    "provision {name:8} {backend:8} cold p50 {:8.1} ms   warm p50 {:7.1} ms",
                    p50(cold),
                    p50(warm)
                );
            }
        }

        // Start of `true` in the image through the containerizer.
        let exe = std::env::current_exe().unwrap();
        let bin_dir: PathBuf = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let (mut cold, mut warm) = (Vec::new(), Vec::new());
        for run in 0..runs {
            let work_dir = tempfile::tempdir().unwrap();
            let store = tempfile::tempdir().unwrap();
            let options = ContainerizerOptions {
                launcher: "linux".into(),
                isolation: "filesystem/linux,docker/runtime".into(),
                cgroups_root: format!("mesos_bench_image_{run}"),
                provisioner: Some(ProvisionerOptions {
                    work_dir: work_dir.path().to_path_buf(),
                    backend: None,
                    docker_registry: format!("http://{}", registry.host),
                    docker_store_dir: store.path().to_path_buf(),
                    docker_config: None,
                    proc_root: "/proc".into(),
                }),
                ..Default::default()
            };
            let containerizer =
                mesos_agent::containerizer::create(&options, bin_dir.clone()).unwrap();
            for (id, samples) in [("cold", &mut cold), ("warm", &mut warm)] {
                let sandbox = work_dir.path().join(id);
                std::fs::create_dir_all(&sandbox).unwrap();
                let config = ContainerConfig {
                    command_info: CommandInfo {
                        value: Some("true".into()),
                        ..Default::default()
                    },
                    container_info: Some(ContainerInfo {
                        r#type: container_info::Type::Mesos as i32,
                        mesos: Some(container_info::MesosInfo {
                            image: Some(docker_image("busybox")),
                        }),
                        ..Default::default()
                    }),
                    resources: Resources::parse("cpus:0.1;mem:32", "*").unwrap().to_vec(),
                    directory: sandbox.display().to_string(),
                    ..Default::default()
                };
                let start = Instant::now();
                let launch = containerizer.launch(id.into(), config);
                let wait = containerizer.wait(id.into());
                launch.await.unwrap();
                let termination = wait.await.unwrap();
                samples.push(start.elapsed());
                assert_eq!(termination.status, Some(0), "{termination:?}");
            }
        }
        println!(
            "start `true` in busybox (auto backend): cold p50 {:.1} ms, warm p50 {:.1} ms",
            p50(cold),
            p50(warm)
        );
    });

    // Docker Engine, where one runs: pull + run of the same image.
    let docker = |args: &[&str]| {
        Command::new("docker")
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !docker(&["info"]) {
        println!("docker: no Docker Engine here; no comparison");
        return;
    }
    let image = format!("{}/busybox:latest", registry.host);
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        docker(&["rmi", "-f", &image]);
        let start = Instant::now();
        assert!(docker(&["pull", &image]), "docker pull {image}");
        assert!(docker(&["run", "--rm", &image, "true"]));
        cold.push(start.elapsed());
        let start = Instant::now();
        assert!(docker(&["run", "--rm", &image, "true"]));
        warm.push(start.elapsed());
    }
    docker(&["rmi", "-f", &image]);
    println!(
        "docker pull + run `true` in busybox: cold p50 {:.1} ms, warm (run only) p50 {:.1} ms",
        p50(cold),
        p50(warm)
    );
}
