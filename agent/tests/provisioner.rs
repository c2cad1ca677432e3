//! Container images in the Mesos containerizer, against Debian's
//! `docker-registry` (Docker Distribution 2.8) started by the test on
//! loopback, with htpasswd Basic auth where a test asks for it (upstream
//! `provisioner_docker_tests.cpp`, `provisioner_backend_tests.cpp`
//! scenarios). The images are made here from `busybox-static`'s binary and
//! pushed with the registry's HTTP API (by `curl`).
//!
//! The scenarios of upstream `linux_filesystem_isolator_tests.cpp` that
//! need an image run here too, through our master and agent (the mapping
//! is in `containerizer.rs`): volumes from the sandbox and the host,
//! persistent volumes and two containers at once in image rootfses.
//!
//! Needs root (mounts, pivot_root) and the registry; under `CI=true` a
//! missing one fails the test.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

#[path = "support/registry.rs"]
mod registry;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mesos_agent::containerizer::mesos::provisioner::backend;
use mesos_agent::containerizer::mesos::provisioner::{Provisioner, ProvisionerOptions};
use mesos_agent::containerizer::ContainerizerOptions;
use mesos_proto::mesos::resource::{disk_info, DiskInfo};
use mesos_proto::mesos::{
    container_info, image, offer, task_status, volume, CommandInfo, ContainerInfo, FrameworkInfo,
    Image, Resource, TaskId, TaskInfo, TaskState, Volume,
};
use mesos_proto::resources::Resources;

use registry::*;
use support::*;

/// Whether the test can run: root, the registry, htpasswd, busybox, the
/// built binaries. Under `CI=true` a missing one fails the test.
fn require(test: &str) -> bool {
    let mut missing = Vec::new();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("root".to_string());
    }
    for tool in ["docker-registry", "htpasswd", "curl", "tar"] {
        if which(tool).is_none() {
            missing.push(format!("'{tool}' (scripts/setup.sh installs it)"));
        }
    }
    if !Path::new("/bin/busybox").exists() {
        missing.push("/bin/busybox (busybox-static)".into());
    }
    for binary in ["mesos-containerizer", "mesos-executor"] {
        if !bin_dir().join(binary).exists() {
            missing.push(format!("{binary} (cargo build --workspace --bins)"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let why = format!("{test} needs {}", missing.join(", "));
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    println!("SKIPPED: {why}");
    false
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.exists())
    })
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

/// What a provisioned rootfs holds, for comparing backends.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["a", "b", "o"] {
        let mut names: Vec<String> = std::fs::read_dir(root.join(dir))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        let contents = std::fs::read_to_string(e.path()).unwrap_or_default();
                        format!(
                            "{dir}/{}={}",
                            e.file_name().to_string_lossy(),
                            contents.trim()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        out.extend(names);
    }
    out
}

fn provisioner(
    work_dir: &Path,
    store: &Path,
    backend: Option<&str>,
    registry: &str,
) -> Provisioner {
    Provisioner::create(&ProvisionerOptions {
        work_dir: work_dir.to_path_buf(),
        backend: backend.map(str::to_string),
        docker_registry: registry.to_string(),
        docker_store_dir: store.to_path_buf(),
        docker_config: None,
        proc_root: "/proc".into(),
    })
    .unwrap()
}

#[actix_rt::test]
async fn every_backend_provisions_the_same_tree_with_whiteouts_applied() {
    if !require("every_backend_provisions_the_same_tree_with_whiteouts_applied") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let expected = vec![
        "a/kept=kept, changed".to_string(),
        "a/new=new in layer two".to_string(),
        "b/third=third".to_string(),
        "o/upper=upper".to_string(),
    ];
    let mut backends = vec!["copy", "overlay"];
    if backend::kernel_supports(Path::new("/proc"), "aufs") {
        backends.push("aufs");
    } else {
        println!("aufs: this kernel has no aufs; that backend is refused at start-up here");
        let error = backend::create(Some("aufs"), Path::new("/proc")).unwrap_err();
        assert!(error.contains("aufs"), "{error}");
    }
    for name in backends {
        let work_dir = tempfile::tempdir().unwrap();
        let store = tempfile::tempdir().unwrap();
        let provisioner = provisioner(
            work_dir.path(),
            store.path(),
            Some(name),
            &format!("http://{}", registry.host),
        );
        let info = provisioner
            .provision("c1", docker_image("layered"))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(tree(&info.rootfs), expected, "backend {name}");
        assert!(info.rootfs.join("bin/busybox").exists(), "backend {name}");
        let config = info.docker_manifest.unwrap().config.unwrap();
        assert_eq!(config.env, vec!["PATH=/bin", "IMAGE_VAR=from-image"]);
        // The layers are stored once, shared by a second container.
        let second = provisioner
            .provision("c2", docker_image("layered"))
            .await
            .unwrap();
        assert_eq!(tree(&second.rootfs), expected, "backend {name}");
        assert!(provisioner.destroy("c1").await.unwrap());
        assert!(!info.rootfs.exists(), "backend {name}: rootfs removed");
        assert!(second.rootfs.exists());
        assert!(provisioner.destroy("c2").await.unwrap());
        assert!(!work_dir.path().join("provisioner/containers/c2").exists());
    }

    // `bind` takes a single-layer image, read-only.
    let work_dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let bind = provisioner(
        work_dir.path(),
        store.path(),
        Some("bind"),
        &format!("http://{}", registry.host),
    );
    let error = bind
        .provision("c1", docker_image("layered"))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("single-layer"), "{error}");
    let info = bind.provision("c2", docker_image("busybox")).await.unwrap();
    assert!(info.rootfs.join("etc/image-marker").exists());
    assert!(
        std::fs::write(info.rootfs.join("new-file"), "x").is_err(),
        "read-only"
    );
    assert!(bind.destroy("c2").await.unwrap());
    assert!(!info.rootfs.exists());

    // Without a backend named, overlay is chosen where the kernel has it.
    let auto = backend::create(None, Path::new("/proc")).unwrap();
    if backend::kernel_supports(Path::new("/proc"), "overlay") {
        assert_eq!(auto.name(), "overlay");
    } else {
        assert_ne!(auto.name(), "bind");
    }
}

#[actix_rt::test]
async fn images_come_from_a_directory_of_docker_save_tarballs() {
    if !require("images_come_from_a_directory_of_docker_save_tarballs") {
        return;
    }
    // `docker save`'s layout: manifest.json, the config, layer tarballs.
    let image = tempfile::tempdir().unwrap();
    let base = base_layer();
    std::fs::create_dir_all(image.path().join("l1")).unwrap();
    std::fs::write(image.path().join("l1/layer.tar"), &base).unwrap();
    std::fs::write(
        image.path().join("config.json"),
        serde_json::to_vec(&config_json()).unwrap(),
    )
    .unwrap();
    std::fs::write(
        image.path().join("manifest.json"),
        r#"[{"Config": "config.json", "RepoTags": ["busybox:latest"], "Layers": ["l1/layer.tar"]}]"#,
    )
    .unwrap();
    let images = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("-cf")
        .arg(images.path().join("busybox:latest.tar"))
        .arg("-C")
        .arg(image.path())
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());

    let work_dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let provisioner = provisioner(
        work_dir.path(),
        store.path(),
        Some("copy"),
        &images.path().display().to_string(),
    );
    let info = provisioner
        .provision("c1", docker_image("busybox"))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(info.rootfs.join("etc/image-marker")).unwrap(),
        "busybox-test-image\n"
    );
    let error = provisioner
        .provision("c2", docker_image("missing"))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("missing:latest.tar"), "{error}");
    provisioner.destroy("c1").await.unwrap();
}

/// Runs a command task in `image` on an agent with the linux launcher,
/// `filesystem/linux,docker/runtime` and the image flags; returns its
/// statuses and the sandbox.
async fn run_image_task(
    registry: &Registry,
    docker_config: Option<String>,
    image: &str,
    command: CommandInfo,
) -> (Vec<mesos_proto::mesos::TaskStatus>, tempfile::TempDir) {
    run_image_task_as(registry, docker_config, image, command, false).await
}

/// [`run_image_task`], with `--switch_user` as given.
async fn run_image_task_as(
    registry: &Registry,
    docker_config: Option<String>,
    image: &str,
    command: CommandInfo,
    switch_user: bool,
) -> (Vec<mesos_proto::mesos::TaskStatus>, tempfile::TempDir) {
    let options = ImageTask {
        docker_config,
        switch_user,
        ..Default::default()
    };
    run_image_task_with(registry, image, command, options).await
}

/// What [`run_image_task_with`] gives the agent and the task beyond the
/// image and the command.
#[derive(Default)]
struct ImageTask {
    docker_config: Option<String>,
    switch_user: bool,
    /// The task's `ContainerInfo.volumes`.
    volumes: Vec<Volume>,
    /// A persistent volume on disk statically reserved for `role1` (the
    /// framework's role): created in the ACCEPT that launches the task,
    /// which gets it.
    persistent_volume: Option<Resource>,
}

/// [`run_image_task`], with volumes and `--switch_user` as `options` say.
async fn run_image_task_with(
    registry: &Registry,
    image: &str,
    command: CommandInfo,
    options: ImageTask,
) -> (Vec<mesos_proto::mesos::TaskStatus>, tempfile::TempDir) {
    let mut cluster =
        ImageCluster::start(registry, options.docker_config, options.switch_user).await;
    let mut task = image_task("in-image-1", image, command, options.volumes);
    let mut operations = Vec::new();
    if let Some(volume) = options.persistent_volume {
        task.resources.push(volume.clone());
        operations.push(create(volume));
    }
    cluster.framework.accept(operations, vec![task]);
    let statuses = cluster.framework.updates_until_terminal().await;
    // Before the agent goes with the cluster's runtimes: a rootfs still
    // mounted then would stay mounted on the host.
    assert_rootfs_removed(cluster.work_dir.path()).await;
    (statuses, cluster.work_dir)
}

/// Our master and an agent with the linux launcher,
/// `filesystem/linux,docker/runtime` and the image flags (`disk(role1)`
/// among its resources), each in its own runtime, and a framework in role
/// `role1` holding the agent's first offer. Dropped in field order.
struct ImageCluster {
    framework: TestFramework,
    agent: libprocess::PID<mesos_agent::slave::Slave>,
    agent_runtime: libprocess::Runtime,
    /// How the agent's containerizer is put together, for a restart.
    containerizer: ContainerizerOptions,
    master: libprocess::PID<mesos_master::master::Master>,
    _master_runtime: libprocess::Runtime,
    _store: tempfile::TempDir,
    work_dir: tempfile::TempDir,
}

/// The image agents' resources: `disk(role1)` for persistent volumes.
const AGENT_RESOURCES: &str = "cpus:2;mem:1024;disk:512;disk(role1):512;ports:[31000-32000]";

impl ImageCluster {
    async fn start(registry: &Registry, docker_config: Option<String>, switch_user: bool) -> Self {
        Self::start_with(registry, docker_config, switch_user, |_| {}).await
    }

    /// [`ImageCluster::start`], with the containerizer's options changed
    /// by `adjust` (more isolators, say).
    async fn start_with(
        registry: &Registry,
        docker_config: Option<String>,
        switch_user: bool,
        adjust: impl FnOnce(&mut ContainerizerOptions),
    ) -> Self {
        let master_runtime = runtime();
        let master = start_master(&master_runtime);
        let agent_runtime = runtime();
        let work_dir = tempfile::tempdir().unwrap();
        let store = tempfile::tempdir().unwrap();
        let mut config = agent_config(&agent_runtime, master.upid(), work_dir.path(), bin_dir());
        config.info.resources = Resources::parse(AGENT_RESOURCES, "*").unwrap().to_vec();
        config.containerizer = ContainerizerOptions {
            isolation: "filesystem/linux,docker/runtime".into(),
            provisioner: Some(ProvisionerOptions {
                work_dir: work_dir.path().to_path_buf(),
                backend: None,
                docker_registry: format!("http://{}", registry.host),
                docker_store_dir: store.path().to_path_buf(),
                docker_config,
                proc_root: "/proc".into(),
            }),
            switch_user,
            ..test_containerizer(work_dir.path())
        };
        adjust(&mut config.containerizer);
        let containerizer = config.containerizer.clone();
        let agent = mesos_agent::spawn(&agent_runtime, config).unwrap();
        // The single role of upstream's tests (`frameworkInfo.set_role`).
        #[allow(deprecated)]
        let info = FrameworkInfo {
            user: "root".into(),
            name: "provisioner-test".into(),
            role: Some("role1".into()),
            checkpoint: Some(true),
            ..Default::default()
        };
        let framework =
            TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-image", info).await;
        Self {
            framework,
            agent,
            agent_runtime,
            containerizer,
            master,
            _master_runtime: master_runtime,
            _store: store,
            work_dir,
        }
    }
}

impl ImageCluster {
    /// Waits for the task's `TASK_RUNNING` (failing on a terminal update).
    async fn running(&mut self) {
        loop {
            let status = self.framework.next_status().await;
            assert!(!status.state().is_terminal(), "{status:?}");
            if status.state() == TaskState::TaskRunning {
                return;
            }
        }
    }

    /// The first container's `statistics` in the agent's
    /// `/monitor/statistics` once `done` holds of them (or after 10 s).
    async fn statistics_until(
        &self,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let mut statistics = serde_json::Value::Null;
        for _ in 0..500 {
            let reply =
                support::sandbox::get(self.agent_runtime.address(), "/monitor/statistics").await;
            if reply.status == 200 {
                statistics = reply.json()[0]["statistics"].clone();
                if done(&statistics) {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        statistics
    }

    /// Kills the task and checks it ends `TASK_KILLED`.
    async fn kill(&mut self, task_id: &TaskId) {
        self.framework.kill(task_id.clone());
        let statuses = self.framework.updates_until_terminal().await;
        assert_eq!(
            statuses.last().map(|s| s.state()),
            Some(TaskState::TaskKilled),
            "{statuses:?}"
        );
    }

    /// The agent "dies" (its actors stop and its sockets close; its
    /// containers go on), and one like it starts on the same work_dir in a
    /// new runtime. `wipe_meta` removes the agent's checkpoints first, so
    /// it comes up as a new agent to which every container is an orphan.
    async fn restart_agent(&mut self, wipe_meta: bool) {
        self.agent.terminate();
        let old = std::mem::replace(&mut self.agent_runtime, runtime());
        old.shutdown();
        tokio::time::sleep(Duration::from_millis(500)).await;
        if wipe_meta {
            std::fs::remove_dir_all(self.work_dir.path().join("meta")).unwrap();
        }
        let master = self.master.upid();
        let mut config = agent_config(&self.agent_runtime, master, self.work_dir.path(), bin_dir());
        config.info.resources = Resources::parse(AGENT_RESOURCES, "*").unwrap().to_vec();
        config.containerizer = self.containerizer.clone();
        self.agent = mesos_agent::spawn(&self.agent_runtime, config).unwrap();
    }
}

/// A command task in `image` with `volumes`, `cpus:0.5;mem:64`.
fn image_task(id: &str, image: &str, command: CommandInfo, volumes: Vec<Volume>) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: TaskId { value: id.into() },
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        command: Some(command),
        container: Some(ContainerInfo {
            r#type: container_info::Type::Mesos as i32,
            mesos: Some(container_info::MesosInfo {
                image: Some(docker_image(image)),
            }),
            volumes,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A CREATE of `volume`.
fn create(volume: Resource) -> offer::Operation {
    offer::Operation {
        r#type: Some(offer::operation::Type::Create as i32),
        create: Some(offer::operation::Create {
            volumes: vec![volume],
        }),
        ..Default::default()
    }
}

/// A persistent volume `id` of 64 MB on `disk(role1)`, at `container_path`
/// in the sandbox.
fn persistent_volume(id: &str, container_path: &str) -> Resource {
    let mut volume = Resources::parse("disk(role1):64", "*")
        .unwrap()
        .to_vec()
        .remove(0);
    volume.disk = Some(DiskInfo {
        persistence: Some(disk_info::Persistence {
            id: id.into(),
            principal: None,
        }),
        volume: Some(Volume {
            container_path: container_path.into(),
            mode: volume::Mode::Rw as i32,
            ..Default::default()
        }),
        source: None,
    });
    volume
}

/// Waits until the agent has destroyed every container's rootfs (the
/// executor exits a moment after its terminal update).
async fn assert_rootfs_removed(work_dir: &Path) {
    let containers = work_dir.join("provisioner/containers");
    let mut left = usize::MAX;
    for _ in 0..100 {
        left = std::fs::read_dir(&containers)
            .map(|d| d.count())
            .unwrap_or(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "no rootfs left under {}", containers.display());
}

fn find_file(root: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let path = entry.path();
        if entry.file_name() == name {
            return Some(path);
        }
        if path.is_dir() && !path.is_symlink() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        }
    }
    None
}

#[actix_rt::test]
async fn a_task_runs_in_an_image_pulled_from_a_private_registry_with_basic_auth() {
    if !require("a_task_runs_in_an_image_pulled_from_a_private_registry_with_basic_auth") {
        return;
    }
    let registry = Registry::start(Some(("alice", "s3cret")));
    push_images(&registry);
    let command = CommandInfo {
        value: Some(
            "cat /etc/image-marker; echo sandbox=$MESOS_SANDBOX; echo var=$IMAGE_VAR; \
             echo pwd=$(pwd); test -e /work || echo host-root-hidden; \
             echo written > $MESOS_SANDBOX/from-task.txt"
                .into(),
        ),
        ..Default::default()
    };
    let (statuses, work_dir) = run_image_task(
        &registry,
        Some(registry.docker_config()),
        "busybox",
        command,
    )
    .await;
    let stdout_path =
        find_file(work_dir.path(), "from-task.txt").map(|p| p.with_file_name("stdout"));
    let stdout = stdout_path
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    assert_eq!(
        statuses.last().map(|s| s.state()),
        Some(TaskState::TaskFinished),
        "{statuses:?}\nstdout: {stdout}"
    );
    assert!(stdout.contains("busybox-test-image"), "{stdout}");
    assert!(stdout.contains("sandbox=/mnt/mesos/sandbox"), "{stdout}");
    assert!(stdout.contains("var=from-image"), "{stdout}");
    assert!(stdout.contains("pwd=/mnt/mesos/sandbox"), "{stdout}");
    assert!(stdout.contains("host-root-hidden"), "{stdout}");
    // The rootfs goes with the container (once the executor has exited).
    assert_rootfs_removed(work_dir.path()).await;
}

#[actix_rt::test]
async fn the_image_cmd_runs_when_the_task_gives_no_command_value() {
    if !require("the_image_cmd_runs_when_the_task_gives_no_command_value") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let command = CommandInfo {
        shell: Some(false),
        ..Default::default()
    };
    let (statuses, work_dir) = run_image_task(&registry, None, "busybox", command).await;
    let stdout = find_file(work_dir.path(), "stdout")
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    assert_eq!(
        statuses.last().map(|s| s.state()),
        Some(TaskState::TaskFinished),
        "{statuses:?}\nstdout: {stdout}"
    );
    assert!(stdout.contains("from-image-cmd"), "{stdout}");
    assert_rootfs_removed(work_dir.path()).await;
}

#[actix_rt::test]
async fn without_credentials_the_task_fails_naming_the_registry_and_the_401() {
    if !require("without_credentials_the_task_fails_naming_the_registry_and_the_401") {
        return;
    }
    let registry = Registry::start(Some(("alice", "s3cret")));
    push_images(&registry);
    let command = CommandInfo {
        value: Some("echo should-not-run".into()),
        ..Default::default()
    };
    let (statuses, _work_dir) = run_image_task(&registry, None, "busybox", command).await;
    let last = statuses.last().unwrap();
    assert_eq!(last.state(), TaskState::TaskFailed, "{statuses:?}");
    assert_eq!(
        last.reason,
        Some(task_status::Reason::ContainerLaunchFailed as i32),
        "{statuses:?}"
    );
    let message = last.message.clone().unwrap_or_default();
    assert!(message.contains("401"), "{message}");
    assert!(message.contains(&registry.host), "{message}");
    assert!(message.contains("--docker_config"), "{message}");
}

/// A token-authenticating front of an anonymous registry, as Docker Hub
/// is: `401` with a `Bearer` challenge unless the request carries the
/// token its `/token` endpoint hands out for the right Basic credentials.
struct BearerFront {
    host: String,
    tokens_issued: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Manifest requests passed on to the registry.
    manifests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl BearerFront {
    fn start(backend: String, user: &str, password: &str) -> Self {
        use std::io::{BufRead as _, BufReader, Read as _, Write as _};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let basic = format!(
            "Basic {}",
            mesos_agent::containerizer::mesos::provisioner::store::docker::registry::basic_auth(
                user, password
            )
        );
        let tokens_issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let manifests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (issued, realm) = (tokens_issued.clone(), format!("http://{host}/token"));
        let forwarded = manifests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let (basic, backend, issued, realm, forwarded) = (
                    basic.clone(),
                    backend.clone(),
                    issued.clone(),
                    realm.clone(),
                    forwarded.clone(),
                );
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut head = Vec::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                        head.push(line.trim_end().to_string());
                    }
                    let target = head[0].split_whitespace().nth(1).unwrap_or("/").to_string();
                    let authorization = head
                        .iter()
                        .find_map(|h| {
                            let (n, v) = h.split_once(':')?;
                            n.eq_ignore_ascii_case("authorization")
                                .then(|| v.trim().to_string())
                        })
                        .unwrap_or_default();
                    let reply = |stream: &mut std::net::TcpStream,
                                 status: &str,
                                 extra: &str,
                                 body: &str| {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    };
                    if target.starts_with("/token") {
                        if authorization == basic
                            && target.contains("scope=repository%3Abusybox%3Apull")
                        {
                            issued.fetch_add(1, Ordering::SeqCst);
                            reply(
                                &mut stream,
                                "200 OK",
                                "Content-Type: application/json\r\n",
                                r#"{"token": "tok-123"}"#,
                            );
                        } else {
                            reply(&mut stream, "401 Unauthorized", "", "bad credentials");
                        }
                        return;
                    }
                    if authorization != "Bearer tok-123" {
                        let challenge = format!(
                            "WWW-Authenticate: Bearer realm=\"{realm}\",service=\"front\",scope=\"repository:busybox:pull\"\r\n"
                        );
                        reply(&mut stream, "401 Unauthorized", &challenge, "{}");
                        return;
                    }
                    // Forward to the registry, answer with its response.
                    if target.contains("/manifests/") {
                        forwarded.fetch_add(1, Ordering::SeqCst);
                    }
                    let mut upstream = std::net::TcpStream::connect(&backend).unwrap();
                    let mut request =
                        format!("{}\r\nHost: {backend}\r\nConnection: close\r\n", head[0]);
                    for h in &head[1..] {
                        let name = h.split(':').next().unwrap_or("").to_ascii_lowercase();
                        if !["host", "connection", "authorization"].contains(&name.as_str()) {
                            request.push_str(h);
                            request.push_str("\r\n");
                        }
                    }
                    request.push_str("\r\n");
                    upstream.write_all(request.as_bytes()).unwrap();
                    let mut response = Vec::new();
                    let _ = upstream.read_to_end(&mut response);
                    let _ = stream.write_all(&response);
                });
            }
        });
        Self {
            host,
            tokens_issued,
            manifests,
        }
    }
}

#[actix_rt::test]
async fn the_bearer_token_flow_uses_the_docker_config_credentials() {
    if !require("the_bearer_token_flow_uses_the_docker_config_credentials") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let front = BearerFront::start(registry.host.clone(), "bob", "hunter2");
    let auth = mesos_agent::containerizer::mesos::provisioner::store::docker::registry::basic_auth(
        "bob", "hunter2",
    );
    let options = |config: Option<String>, store: &Path, work_dir: &Path| ProvisionerOptions {
        work_dir: work_dir.to_path_buf(),
        backend: Some("copy".into()),
        docker_registry: format!("http://{}", front.host),
        docker_store_dir: store.to_path_buf(),
        docker_config: config,
        proc_root: "/proc".into(),
    };
    let (work_dir, store) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = serde_json::json!({"auths": {front.host.clone(): {"auth": auth}}}).to_string();
    let provisioner =
        Provisioner::create(&options(Some(config), store.path(), work_dir.path())).unwrap();
    let info = provisioner
        .provision("c1", docker_image("busybox"))
        .await
        .unwrap();
    assert!(info.rootfs.join("etc/image-marker").exists());
    assert!(
        front
            .tokens_issued
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 1
    );
    provisioner.destroy("c1").await.unwrap();

    // Concurrent provisions of one image share one pull.
    let (work_dir, store) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = serde_json::json!({"auths": {front.host.clone(): {"auth": auth}}}).to_string();
    let provisioner =
        Provisioner::create(&options(Some(config), store.path(), work_dir.path())).unwrap();
    let before = front.manifests.load(std::sync::atomic::Ordering::SeqCst);
    let (a, b) = futures::join!(
        provisioner.provision("p1", docker_image("busybox")),
        provisioner.provision("p2", docker_image("busybox"))
    );
    assert_ne!(a.unwrap().rootfs, b.unwrap().rootfs);
    assert_eq!(
        front.manifests.load(std::sync::atomic::Ordering::SeqCst) - before,
        1,
        "one manifest request for both"
    );
    provisioner.destroy("p1").await.unwrap();
    provisioner.destroy("p2").await.unwrap();

    // Wrong credentials: the token service's refusal is named.
    let wrong = serde_json::json!({"auths": {front.host.clone(): {"auth": "Ym9iOndyb25n"}}});
    let (work_dir, store) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let provisioner = Provisioner::create(&options(
        Some(wrong.to_string()),
        store.path(),
        work_dir.path(),
    ))
    .unwrap();
    let error = provisioner
        .provision("c1", docker_image("busybox"))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("refused the credentials"), "{error}");
}

#[actix_rt::test]
async fn a_nested_container_runs_in_its_own_image_under_a_plain_parent() {
    if !require("a_nested_container_runs_in_its_own_image_under_a_plain_parent") {
        return;
    }
    use support::sandbox::{get, launch_with_flags, request};
    let registry = Registry::start(None);
    push_images(&registry);
    let store = tempfile::tempdir().unwrap();
    let cluster = launch_with_flags(
        "image-parent",
        &[
            "--launcher=linux".into(),
            "--isolation=filesystem/linux,docker/runtime".into(),
            "--image_providers=docker".into(),
            format!("--docker_registry=http://{}", registry.host),
            format!("--docker_store_dir={}", store.path().display()),
        ],
    )
    .await;
    let addr = cluster.addr;
    let containers = get(addr, "/containers").await.json();
    let parent = containers[0]["container_id"].as_str().unwrap().to_string();
    let sandbox = PathBuf::from(
        get(addr, "/files/debug").await.json()[&cluster.sandbox()]
            .as_str()
            .unwrap(),
    );
    let call = |body: serde_json::Value| async move {
        let body = body.to_string();
        request(
            addr,
            "POST",
            "/api/v1",
            &[
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            body.as_bytes(),
        )
        .await
    };
    let id = serde_json::json!({"value": "in-image", "parent": {"value": parent}});
    let reply = call(serde_json::json!({
        "type": "LAUNCH_NESTED_CONTAINER",
        "launch_nested_container": {
            "container_id": id,
            "command": {"value": "cat /etc/image-marker; echo sandbox=$MESOS_SANDBOX; \
                                  test -e /work || echo host-root-hidden"},
            "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER",
                          "docker": {"name": "busybox"}}}}
        }
    }))
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = call(serde_json::json!({
        "type": "WAIT_NESTED_CONTAINER",
        "wait_nested_container": {"container_id": id}
    }))
    .await;
    let stdout =
        std::fs::read_to_string(sandbox.join("containers/in-image/stdout")).unwrap_or_default();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json()["wait_nested_container"]["exit_status"],
        0,
        "{}\nstdout: {stdout}",
        reply.text()
    );
    assert!(stdout.contains("busybox-test-image"), "{stdout}");
    assert!(stdout.contains("sandbox=/mnt/mesos/sandbox"), "{stdout}");
    assert!(stdout.contains("host-root-hidden"), "{stdout}");
    // Its rootfs was under the parent's provisioner directory, and went
    // when it exited.
    let nested_dir = cluster
        .work_dir
        .path()
        .join("provisioner/containers")
        .join(&parent)
        .join("containers/in-image");
    assert!(!nested_dir.exists(), "{} removed", nested_dir.display());
}

#[actix_rt::test]
async fn recovery_destroys_the_rootfses_of_unknown_containers_only() {
    if !require("recovery_destroys_the_rootfses_of_unknown_containers_only") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let (work_dir, store) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let url = format!("http://{}", registry.host);
    let first = provisioner(work_dir.path(), store.path(), Some("overlay"), &url);
    let kept = first
        .provision("kept", docker_image("busybox"))
        .await
        .unwrap();
    let orphan = first
        .provision("orphan", docker_image("busybox"))
        .await
        .unwrap();
    let nested = first
        .provision("kept.child", docker_image("busybox"))
        .await
        .unwrap();
    // A restarted agent's provisioner knows only what the agent recovered.
    let second = provisioner(work_dir.path(), store.path(), Some("overlay"), &url);
    second
        .recover(["kept".to_string()].into_iter().collect())
        .await
        .unwrap();
    assert!(kept.rootfs.join("etc/image-marker").exists());
    assert!(nested.rootfs.join("etc/image-marker").exists());
    assert!(!orphan.rootfs.exists(), "the orphan's rootfs is gone");
    assert!(!backend::is_mount_point(&orphan.rootfs));
    assert!(second.destroy("kept").await.unwrap());
    assert!(
        !nested.rootfs.exists(),
        "nested rootfses go with their parent"
    );
}

#[actix_rt::test]
async fn an_image_carries_its_own_registry_credentials() {
    if !require("an_image_carries_its_own_registry_credentials") {
        return;
    }
    let registry = Registry::start(Some(("carol", "pa55")));
    push_images(&registry);
    let (work_dir, store) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let provisioner = provisioner(
        work_dir.path(),
        store.path(),
        Some("copy"),
        &format!("http://{}", registry.host),
    );
    let mut image = docker_image("busybox");
    if let Some(docker) = image.docker.as_mut() {
        docker.config = Some(mesos_proto::mesos::Secret {
            r#type: Some(mesos_proto::mesos::secret::Type::Value as i32),
            value: Some(mesos_proto::mesos::secret::Value {
                data: registry.docker_config().into_bytes(),
            }),
            ..Default::default()
        });
    }
    let info = provisioner.provision("c1", image).await.unwrap();
    assert!(info.rootfs.join("etc/image-marker").exists());
    provisioner.destroy("c1").await.unwrap();
    // The agent's own (absent) credentials are not enough once the
    // registry is asked again (`cached: false`; a cached image is reused).
    let uncached = Image {
        cached: Some(false),
        ..docker_image("busybox")
    };
    let error = provisioner
        .provision("c2", uncached)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("401"), "{error}");
}

#[actix_rt::test]
async fn an_oci_index_resolves_to_this_platforms_image() {
    if !require("an_oci_index_resolves_to_this_platforms_image") {
        return;
    }
    let registry = Registry::start(None);
    registry.push_oci_index("multi", "v1", &[base_layer()], config_json());
    let (work_dir, store) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let provisioner = provisioner(
        work_dir.path(),
        store.path(),
        Some("overlay"),
        &format!("http://{}", registry.host),
    );
    let info = provisioner
        .provision("c1", docker_image("multi:v1"))
        .await
        .unwrap();
    assert!(info.rootfs.join("etc/image-marker").exists());
    let config = info.docker_manifest.unwrap().config.unwrap();
    assert_eq!(config.cmd, vec!["/bin/sh", "-c", "echo from-image-cmd"]);
    provisioner.destroy("c1").await.unwrap();
}

/// A command task with an image and a user of its own under
/// `--switch_user`: the command executor stays root to enter the rootfs
/// and the task runs as the image's user (upstream's `--user` of the
/// command executor), its groups from the image's `/etc/group`.
#[actix_rt::test]
async fn an_image_task_runs_as_its_user_under_switch_user() {
    if !require("an_image_task_runs_as_its_user_under_switch_user") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let command = CommandInfo {
        value: Some(
            "echo uid=$(id -u) gid=$(id -g) groups=$(id -G); touch $MESOS_SANDBOX/as-user".into(),
        ),
        user: Some("nobody".into()),
        ..Default::default()
    };
    let (statuses, work_dir) = run_image_task_as(&registry, None, "busybox", command, true).await;
    let marker = find_file(work_dir.path(), "as-user");
    let stdout = marker
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p.with_file_name("stdout")).ok())
        .unwrap_or_default();
    assert_eq!(
        statuses.last().map(|s| s.state()),
        Some(TaskState::TaskFinished),
        "{statuses:?}\nstdout: {stdout}"
    );
    assert!(stdout.contains("uid=65534 gid=65534"), "{stdout}");
    assert!(
        stdout.contains("4242"),
        "the image's supplementary group: {stdout}"
    );
    use std::os::unix::fs::MetadataExt as _;
    let owner = std::fs::metadata(marker.unwrap()).unwrap().uid();
    assert_eq!(owner, 65534, "the task wrote its file as the user");
}

/// A read-write volume of `host_path` at `container_path`.
fn host_volume(container_path: &str, host_path: &Path) -> Volume {
    Volume {
        container_path: container_path.into(),
        host_path: Some(host_path.display().to_string()),
        mode: volume::Mode::Rw as i32,
        ..Default::default()
    }
}

/// The sandbox of the one task [`run_image_task_with`] ran, and its
/// stdout and stderr (for failure messages).
fn sandbox_of(work_dir: &Path, statuses: &[mesos_proto::mesos::TaskStatus]) -> (PathBuf, String) {
    let stdout = find_file(work_dir, "stdout")
        .unwrap_or_else(|| panic!("no sandbox; the task: {statuses:?}"));
    let sandbox = stdout.parent().unwrap().to_path_buf();
    let output = format!(
        "stdout: {}\nstderr: {}",
        std::fs::read_to_string(&stdout).unwrap_or_default(),
        std::fs::read_to_string(sandbox.join("stderr")).unwrap_or_default()
    );
    (sandbox, output)
}

fn shell(command: &str) -> CommandInfo {
    CommandInfo {
        value: Some(command.into()),
        ..Default::default()
    }
}

fn assert_finished(statuses: &[mesos_proto::mesos::TaskStatus], output: &str) {
    let states: Vec<_> = statuses.iter().map(|s| s.state()).collect();
    assert_eq!(
        states,
        vec![
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ],
        "{statuses:?}\n{output}"
    );
}

/// A volume whose host path is relative is a directory of the sandbox,
/// made by the agent and mounted at the absolute container path inside
/// the image's rootfs (upstream `ROOT_VolumeFromSandbox`).
#[actix_rt::test]
async fn a_relative_host_path_volume_is_a_sandbox_directory_mounted_in_the_rootfs() {
    if !require("a_relative_host_path_volume_is_a_sandbox_directory_mounted_in_the_rootfs") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let options = ImageTask {
        volumes: vec![host_volume("/tmp", Path::new("tmp"))],
        ..Default::default()
    };
    let (statuses, work_dir) =
        run_image_task_with(&registry, "busybox", shell("echo abc > /tmp/file"), options).await;
    let (sandbox, output) = sandbox_of(work_dir.path(), &statuses);
    assert_finished(&statuses, &output);
    assert_eq!(
        std::fs::read_to_string(sandbox.join("tmp/file")).unwrap(),
        "abc\n"
    );
}

/// Host directories and files are mounted at absolute container paths
/// inside the image's rootfs, missing mount points made in it, and a
/// relative container path lands in the sandbox (upstream
/// `ROOT_VolumeFromHost`, `ROOT_FileVolumeFromHost`,
/// `ROOT_ChangeRootFilesystemCommandExecutorWithHostVolumes`).
#[actix_rt::test]
async fn host_directories_and_files_are_mounted_at_absolute_paths_in_the_rootfs() {
    if !require("host_directories_and_files_are_mounted_at_absolute_paths_in_the_rootfs") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let host = tempfile::tempdir().unwrap();
    std::fs::create_dir(host.path().join("dir")).unwrap();
    std::fs::write(host.path().join("testfile"), "").unwrap();
    let file = host.path().join("file");
    std::fs::write(&file, "host file\n").unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let options = ImageTask {
        volumes: vec![
            host_volume("/tmp", host.path()),
            host_volume("/tmp2/test/file.txt", &file),
            host_volume("relative_dir", dir2.path()),
        ],
        ..Default::default()
    };
    let command = shell(
        "test -d /tmp/dir && test -f /tmp/testfile && test -f /tmp2/test/file.txt && \
         cat /tmp2/test/file.txt && test -d $MESOS_SANDBOX/relative_dir && \
         echo from-task > /tmp/dir/written && echo into-dir2 > relative_dir/written",
    );
    let (statuses, work_dir) = run_image_task_with(&registry, "busybox", command, options).await;
    let (sandbox, output) = sandbox_of(work_dir.path(), &statuses);
    assert_finished(&statuses, &output);
    assert!(output.contains("host file"), "{output}");
    // Read-write: the task's writes reached the host.
    assert_eq!(
        std::fs::read_to_string(host.path().join("dir/written")).unwrap(),
        "from-task\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir2.path().join("written")).unwrap(),
        "into-dir2\n"
    );
    // The mounts stayed in the container's namespace.
    assert!(!backend::is_mount_point(&sandbox.join("relative_dir")));
}

/// A persistent volume created with the task is mounted under the sandbox
/// inside the image's rootfs, beside a host volume; what the task wrote is
/// in the volume on the host afterwards (upstream
/// `ROOT_PersistentVolumeWithRootFilesystem`,
/// `ROOT_ChangeRootFilesystemCommandExecutorPersistentVolume`).
#[actix_rt::test]
async fn a_persistent_volume_is_mounted_in_the_rootfs_and_keeps_what_the_task_wrote() {
    if !require("a_persistent_volume_is_mounted_in_the_rootfs_and_keeps_what_the_task_wrote") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let dir1 = tempfile::tempdir().unwrap();
    let options = ImageTask {
        volumes: vec![host_volume("/tmp", dir1.path())],
        persistent_volume: Some(persistent_volume("id1", "path1")),
        ..Default::default()
    };
    let command = shell("echo abc > path1/file && echo def > /tmp/file");
    let (statuses, work_dir) = run_image_task_with(&registry, "busybox", command, options).await;
    let (_, output) = sandbox_of(work_dir.path(), &statuses);
    assert_finished(&statuses, &output);
    assert_eq!(
        std::fs::read_to_string(work_dir.path().join("volumes/roles/role1/id1/file")).unwrap(),
        "abc\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir1.path().join("file")).unwrap(),
        "def\n"
    );
    // The agent shrank the container when the task ended, and
    // `filesystem/linux` removed the volume's mount point.
    // It does so without waiting for it to apply: wait for it.
    let (sandbox, _) = sandbox_of(work_dir.path(), &statuses);
    for _ in 0..500 {
        if !sandbox.join("path1").exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!sandbox.join("path1").exists());
}

/// An image cluster whose agent also runs `disk/du`, measuring every
/// 10 ms, enforcing as `enforce` says, on the overlay backend (upstream's
/// ROOTFS disk quota tests name it).
async fn disk_cluster(registry: &Registry, enforce: bool) -> ImageCluster {
    ImageCluster::start_with(registry, None, false, |options| {
        options.isolation = "disk/du,filesystem/linux,docker/runtime".into();
        options.disk_watch_interval = Duration::from_millis(10);
        options.enforce_disk_quota = enforce;
        if let Some(provisioner) = &mut options.provisioner {
            provisioner.backend = Some("overlay".into());
        }
    })
    .await
}

/// A task in an image with `disk:<disk_mb>` running `command`.
fn disk_task(id: &str, disk_mb: u32, command: &str) -> TaskInfo {
    let mut task = image_task(id, "busybox", shell(command), vec![]);
    task.resources = Resources::parse(&format!("cpus:0.5;mem:64;disk:{disk_mb}"), "*")
        .unwrap()
        .to_vec();
    task
}

/// A task that writes 2 MB into its image's rootfs (the overlay upper
/// directory, not the sandbox) with 1 MB of disk is killed with the disk
/// limitation (upstream `DiskQuotaEnforcement.DiskUsageExceedsQuota`,
/// ROOTFS).
#[actix_rt::test]
async fn writing_past_the_disk_into_the_image_rootfs_is_a_disk_limitation() {
    if !require("writing_past_the_disk_into_the_image_rootfs_is_a_disk_limitation") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let mut cluster = disk_cluster(&registry, true).await;
    let _reaper = reaper(cluster.work_dir.path());
    let task = disk_task(
        "rootfs-writer",
        1,
        "dd if=/dev/zero of=/tmp/file bs=1048576 count=2 && sleep 1000",
    );
    cluster.framework.accept(vec![], vec![task]);
    let statuses = cluster.framework.updates_until_terminal().await;
    let last = statuses.last().unwrap();
    assert_eq!(last.state(), TaskState::TaskFailed, "{statuses:?}");
    assert_eq!(
        last.reason,
        Some(task_status::Reason::ContainerLimitationDisk as i32),
        "{last:?}"
    );
    assert!(
        last.message
            .as_deref()
            .is_some_and(|m| m.contains("Disk usage") && m.contains("exceeds quota")),
        "{last:?}"
    );
}

/// Without enforcement a task that wrote 2 MB into its image's rootfs
/// with 1 MB of disk keeps running, and its usage reports the 2 MB
/// against the 1 MB limit (upstream `DiskQuotaEnforcement.NoQuotaEnforcement`
/// and, for the sandbox's entry, `ResourceStatistics`, ROOTFS).
#[actix_rt::test]
async fn writes_into_the_image_rootfs_count_as_the_sandboxs_disk_use() {
    if !require("writes_into_the_image_rootfs_count_as_the_sandboxs_disk_use") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let mut cluster = disk_cluster(&registry, false).await;
    let _reaper = reaper(cluster.work_dir.path());
    let task = disk_task(
        "rootfs-writer",
        1,
        "dd if=/dev/zero of=/tmp/file bs=1048576 count=2 && sleep 1000",
    );
    cluster.framework.accept(vec![], vec![task.clone()]);
    cluster.running().await;
    const MB: u64 = 1 << 20;
    let statistics = cluster
        .statistics_until(|s| s["disk_used_bytes"].as_u64().is_some_and(|u| u >= 2 * MB))
        .await;
    assert_eq!(statistics["disk_limit_bytes"], MB, "{statistics}");
    let used = statistics["disk_used_bytes"].as_u64().unwrap_or_default();
    assert!((2 * MB..3 * MB).contains(&used), "{statistics}");
    assert_eq!(
        statistics["disk_statistics"][0]["used_bytes"].as_u64(),
        Some(used),
        "{statistics}"
    );
    // The sandbox itself holds next to nothing: the 2 MB are the rootfs's.
    let sandbox_root = cluster.work_dir.path().join("slaves");
    let output = Command::new("du")
        .args(["-k", "-s"])
        .arg(&sandbox_root)
        .output()
        .unwrap();
    let sandbox_kb: u64 = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .and_then(|kb| kb.parse().ok())
        .unwrap();
    assert!(sandbox_kb * 1024 < MB, "{sandbox_kb} KB in the sandboxes");
    cluster.kill(&task.task_id).await;
}

/// A task that wrote 2 MB into its image's rootfs keeps them counted
/// after an agent restart: the recovered container's ephemeral volume
/// (the overlay upper directory) is found again and measured with its
/// sandbox against its 3 MB (upstream `DiskQuotaEnforcement.SlaveRecovery`,
/// ROOTFS).
#[actix_rt::test]
async fn a_recovered_containers_rootfs_writes_still_count_as_its_disk_use() {
    if !require("a_recovered_containers_rootfs_writes_still_count_as_its_disk_use") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let mut cluster = disk_cluster(&registry, false).await;
    let _reaper = reaper(cluster.work_dir.path());
    let task = disk_task(
        "rootfs-writer",
        3,
        "dd if=/dev/zero of=/tmp/file bs=1048576 count=2 && sleep 1000",
    );
    cluster.framework.accept(vec![], vec![task.clone()]);
    cluster.running().await;
    cluster.restart_agent(false).await;
    const MB: u64 = 1 << 20;
    let statistics = cluster
        .statistics_until(|s| s["disk_used_bytes"].as_u64().is_some_and(|u| u >= 2 * MB))
        .await;
    assert_eq!(statistics["disk_limit_bytes"], 3 * MB, "{statistics}");
    let used = statistics["disk_used_bytes"].as_u64().unwrap_or_default();
    assert!((2 * MB..=3 * MB).contains(&used), "{statistics}");
    cluster.kill(&task.task_id).await;
}

/// What the container-specific cgroup mount tests run in the image: the
/// memory soft limit and cpu shares of its cgroups (the executor's 0.1
/// cpus and 32 MB with the task's: 204 shares, 64 MB), and its shell in
/// its own freezer cgroup.
const OWN_CGROUPS: &str = "test `cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes` = 67108864 \
     && test `cat /sys/fs/cgroup/cpu/cpu.shares` = 204 \
     && grep -w $$ /sys/fs/cgroup/freezer/cgroup.procs";

/// An image cluster with `cgroups/mem,cgroups/cpu` beside the image
/// isolators.
async fn cgroups_cluster(registry: &Registry) -> ImageCluster {
    ImageCluster::start_with(registry, None, false, |options| {
        options.isolation = "filesystem/linux,docker/runtime,cgroups/mem,cgroups/cpu".into();
    })
    .await
}

/// A command task in an image sees its container's own cgroups (and its
/// freezer cgroup) at `/sys/fs/cgroup` (upstream
/// `ROOT_CGROUPS_CommandTaskSpecificCgroupsMount`).
#[actix_rt::test]
async fn a_command_task_in_an_image_sees_its_own_cgroups() {
    let test = "a_command_task_in_an_image_sees_its_own_cgroups";
    if !require(test) || !require_cgroups_v1(test, &["memory", "cpu", "freezer"]) {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let mut cluster = cgroups_cluster(&registry).await;
    let _reaper = reaper(cluster.work_dir.path());
    let mut task = image_task("own-cgroups", "busybox", shell(OWN_CGROUPS), vec![]);
    task.resources = Resources::parse("cpus:0.1;mem:32", "*").unwrap().to_vec();
    cluster.framework.accept(vec![], vec![task]);
    let statuses = cluster.framework.updates_until_terminal().await;
    let (_, output) = sandbox_of(cluster.work_dir.path(), &statuses);
    assert_finished(&statuses, &output);
}

/// A task of a task group, in an image under the default executor, sees
/// the cgroups it shares with the executor and its own freezer cgroup at
/// `/sys/fs/cgroup` (upstream
/// `ROOT_CGROUPS_NestedContainerSpecificCgroupsMount`).
#[actix_rt::test]
async fn a_nested_container_in_an_image_sees_its_cgroups() {
    let test = "a_nested_container_in_an_image_sees_its_cgroups";
    if !require(test) || !require_cgroups_v1(test, &["memory", "cpu", "freezer"]) {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let mut cluster = cgroups_cluster(&registry).await;
    let _reaper = reaper(cluster.work_dir.path());
    let mut task = image_task("nested-own-cgroups", "busybox", shell(OWN_CGROUPS), vec![]);
    task.resources = Resources::parse("cpus:0.1;mem:32;disk:32", "*")
        .unwrap()
        .to_vec();
    cluster.framework.launch_group(
        "default",
        "cpus:0.1;mem:32;disk:32",
        mesos_proto::mesos::TaskGroupInfo { tasks: vec![task] },
    );
    let statuses = cluster.framework.updates_until_terminal().await;
    let last = statuses.last().unwrap();
    let containers = find_file(&cluster.work_dir.path().join("slaves"), "containers");
    let stderr = containers
        .and_then(|dir| find_file(&dir, "stderr"))
        .and_then(|file| std::fs::read_to_string(file).ok());
    assert_eq!(
        last.state(),
        TaskState::TaskFinished,
        "{statuses:?}\nnested stderr: {stderr:?}"
    );
}

/// While a command task runs in an image its container counts in
/// `containerizer/mesos/filesystem/containers_new_rootfs`, and the pull of
/// the image in the docker store's timer; once the task is killed and its
/// container destroyed it no longer counts (upstream `ROOT_Metrics`, which
/// checks the gauge at 1 with a custom executor in an image).
#[actix_rt::test]
async fn containers_in_images_and_image_pulls_are_in_the_metrics() {
    if !require("containers_in_images_and_image_pulls_are_in_the_metrics") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let mut cluster = ImageCluster::start(&registry, None, false).await;
    let _reaper = reaper(cluster.work_dir.path());
    let metric = |cluster: &ImageCluster, name: &str| -> Option<f64> {
        cluster
            .agent_runtime
            .metrics()
            .snapshot()
            .get(name)
            .copied()
    };
    const NEW_ROOTFS: &str = "containerizer/mesos/filesystem/containers_new_rootfs";
    assert_eq!(metric(&cluster, NEW_ROOTFS), Some(0.0));
    for name in [
        "containerizer/mesos/provisioner/remove_container_errors",
        "containerizer/mesos/provisioner/bind/remove_rootfs_errors",
    ] {
        assert_eq!(metric(&cluster, name), Some(0.0), "{name}");
    }
    // A timer without a value is left out, as upstream's.
    assert_eq!(
        metric(
            &cluster,
            "containerizer/mesos/provisioner/docker_store/image_pull_ms"
        ),
        None
    );
    let task = image_task("in-image", "busybox", shell("sleep 1000"), vec![]);
    cluster.framework.accept(vec![], vec![task.clone()]);
    cluster.running().await;
    assert_eq!(metric(&cluster, NEW_ROOTFS), Some(1.0));
    // The one pull's duration; statistics need two (upstream's timer).
    let pull = metric(
        &cluster,
        "containerizer/mesos/provisioner/docker_store/image_pull_ms",
    );
    assert!(pull.is_some_and(|ms| ms > 0.0), "{pull:?}");
    cluster.kill(&task.task_id).await;
    assert_rootfs_removed(cluster.work_dir.path()).await;
    let mut count = metric(&cluster, NEW_ROOTFS);
    for _ in 0..100 {
        if count == Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        count = metric(&cluster, NEW_ROOTFS);
    }
    assert_eq!(count, Some(0.0));
    assert_eq!(
        metric(
            &cluster,
            "containerizer/mesos/provisioner/remove_container_errors"
        ),
        Some(0.0)
    );
}

/// A checkpointing framework's task in an image, with a persistent volume
/// and a host volume, runs; the agent dies and its checkpoints are wiped,
/// so the restarted agent finds the container only in the containerizer's
/// runtime directory: an orphan, destroyed, and with it every mount under
/// the sandboxes and the provisioner's rootfses (upstream
/// `ROOT_RecoverOrphanedPersistentVolume`).
#[actix_rt::test]
async fn an_orphan_found_at_recovery_leaves_no_volume_or_rootfs_mounted() {
    if !require("an_orphan_found_at_recovery_leaves_no_volume_or_rootfs_mounted") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let mut cluster = ImageCluster::start(&registry, None, false).await;
    let _reaper = reaper(cluster.work_dir.path());
    let dir1 = tempfile::tempdir().unwrap();
    let mut task = image_task(
        "orphan",
        "busybox",
        shell("sleep 1000"),
        vec![host_volume("/tmp", dir1.path())],
    );
    let volume = persistent_volume("id1", "path1");
    task.resources.push(volume.clone());
    cluster.framework.accept(vec![create(volume)], vec![task]);
    cluster.running().await;
    let containers = cluster.work_dir.path().join("runtime/containers");
    let ids: Vec<String> = std::fs::read_dir(&containers)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let work_dir = cluster.work_dir.path().to_path_buf();
    let under = |mountinfo: &str| -> Vec<String> {
        mountinfo
            .lines()
            .filter_map(|line| line.split(' ').nth(4))
            .filter(|target| {
                target.starts_with(&*work_dir.join("slaves").to_string_lossy())
                    || target.starts_with(&*work_dir.join("provisioner").to_string_lossy())
            })
            .map(str::to_string)
            .collect()
    };
    assert!(
        !under(&std::fs::read_to_string("/proc/self/mountinfo").unwrap()).is_empty(),
        "the running container's rootfs is mounted on the host"
    );

    cluster.restart_agent(true).await;

    let mut left = (ids.clone(), Vec::new());
    for _ in 0..300 {
        let running: Vec<String> = std::fs::read_dir(&containers)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let mounted = under(&std::fs::read_to_string("/proc/self/mountinfo").unwrap());
        left = (running, mounted);
        if left.0.is_empty() && left.1.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(left.0.is_empty(), "the orphan is destroyed: {:?}", left.0);
    assert!(left.1.is_empty(), "targets left mounted: {:?}", left.1);
    assert!(
        !work_dir
            .join("provisioner/containers")
            .join(&ids[0])
            .exists(),
        "the orphan's rootfs is removed"
    );
    // What the volume held stays, on the host.
    assert!(work_dir.join("volumes/roles/role1/id1").is_dir());
}

/// Two tasks in images on one agent at once: the second, in its own
/// rootfs, does not see the host's directories and finishes while the
/// first, holding a persistent volume, keeps running; then the first is
/// killed, and both rootfses go (upstream `ROOT_MultipleContainers`).
#[actix_rt::test]
async fn two_image_tasks_run_side_by_side_without_interfering() {
    if !require("two_image_tasks_run_side_by_side_without_interfering") {
        return;
    }
    let registry = Registry::start(None);
    push_images(&registry);
    let mut cluster = ImageCluster::start(&registry, None, false).await;
    let mut sleeper = image_task(
        "sleeper",
        "busybox",
        shell("echo before > volume/file && sleep 1000"),
        vec![],
    );
    sleeper.resources.push(persistent_volume("id1", "volume"));
    let host_dir = cluster.work_dir.path().display().to_string();
    let checker = image_task(
        "checker",
        "busybox",
        shell(&format!("[ ! -d '{host_dir}' ]")),
        vec![],
    );
    let volume = persistent_volume("id1", "volume");
    cluster
        .framework
        .accept(vec![create(volume)], vec![sleeper, checker]);
    let mut seen: Vec<(String, TaskState)> = Vec::new();
    let state_of = |seen: &[(String, TaskState)], id: &str| {
        seen.iter()
            .rev()
            .find(|(task, _)| task == id)
            .map(|(_, state)| *state)
    };
    while !(state_of(&seen, "sleeper") == Some(TaskState::TaskRunning)
        && state_of(&seen, "checker").is_some_and(|s| s.is_terminal()))
    {
        let status = cluster.framework.next_status().await;
        assert!(
            status.task_id.value == "checker" || !status.state().is_terminal(),
            "{status:?}"
        );
        seen.push((status.task_id.value.clone(), status.state()));
    }
    assert_eq!(
        state_of(&seen, "checker"),
        Some(TaskState::TaskFinished),
        "{seen:?}"
    );
    // The first task writes into its volume after its RUNNING; it is
    // still there to do so, its volume mounted.
    let file = cluster.work_dir.path().join("volumes/roles/role1/id1/file");
    let mut written = String::new();
    for _ in 0..100 {
        written = std::fs::read_to_string(&file).unwrap_or_default();
        if !written.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(written, "before\n");
    cluster.framework.kill(TaskId {
        value: "sleeper".into(),
    });
    let killed = loop {
        let status = cluster.framework.next_status().await;
        if status.task_id.value == "sleeper" && status.state().is_terminal() {
            break status;
        }
    };
    assert_eq!(killed.state(), TaskState::TaskKilled, "{killed:?}");
    assert_rootfs_removed(cluster.work_dir.path()).await;
}
