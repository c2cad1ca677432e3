//! The fetcher through the Mesos containerizer and through a whole
//! cluster (upstream `fetcher_tests.cpp`, `fetcher_cache_tests.cpp`
//! scenarios): URIs served by a plain HTTP/1.1 server in the test land in
//! the sandbox before the command runs, executable, extracted or renamed;
//! the cache answers a second fetch without a request; failures name the
//! URI and the cause.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesos_agent::containerizer::mesos::MesosContainerizer;
use mesos_agent::containerizer::{Containerizer, ContainerizerOptions};
use mesos_proto::mesos::command_info::Uri;
use mesos_proto::mesos::slave::ContainerConfig;
use mesos_proto::mesos::{task_status, CommandInfo, FrameworkInfo, TaskId, TaskInfo, TaskState};
use mesos_proto::resources::Resources;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use support::*;

/// The binaries the containerizer runs: under `CI=true` their absence
/// fails the test; elsewhere the test says why and passes.
fn require(test: &str) -> bool {
    let built = ["mesos-containerizer", "mesos-fetcher", "mesos-executor"]
        .iter()
        .all(|b| bin_dir().join(b).exists());
    if built {
        return true;
    }
    let why = format!("{test} needs `cargo build --workspace --bins`");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    println!("SKIPPED: {why}");
    false
}

/// A plain HTTP/1.1 file server on 127.0.0.1 that counts requests.
#[derive(Clone)]
struct Server {
    base: String,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    requests: Arc<Mutex<Vec<(String, String)>>>,
    /// Told when a `/stall` request arrives, and when its client hangs up.
    stalled: Arc<tokio::sync::Notify>,
    hung_up: Arc<tokio::sync::Notify>,
}

impl Server {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Self {
            base: format!("http://{}", listener.local_addr().unwrap()),
            files: Arc::default(),
            requests: Arc::default(),
            stalled: Arc::default(),
            hung_up: Arc::default(),
        };
        let this = server.clone();
        actix_rt::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let this = this.clone();
                actix_rt::spawn(async move { this.serve(socket).await });
            }
        });
        server
    }

    async fn serve(&self, mut socket: tokio::net::TcpStream) {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let mut words = head.split_whitespace();
        let method = words.next().unwrap_or_default().to_string();
        let path = words.next().unwrap_or_default().to_string();
        self.requests
            .lock()
            .unwrap()
            .push((method.clone(), path.clone()));
        if path == "/stall" {
            // Answers nothing, holding the connection open until the
            // client goes away.
            self.stalled.notify_one();
            let mut rest = [0u8; 64];
            while socket.read(&mut rest).await.unwrap_or(0) > 0 {}
            self.hung_up.notify_one();
            return;
        }
        let body = self.files.lock().unwrap().get(&path).cloned();
        let response = match body {
            Some(body) => {
                let mut response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                if method != "HEAD" {
                    response.extend(body);
                }
                response
            }
            None => {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            }
        };
        let _ = socket.write_all(&response).await;
        let _ = socket.shutdown().await;
    }

    fn put(&self, path: &str, body: Vec<u8>) -> String {
        self.files.lock().unwrap().insert(path.into(), body);
        format!("{}{path}", self.base)
    }

    fn count(&self, method: &str, path: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p)| m == method && p == path)
            .count()
    }
}

const SCRIPT: &str = "#!/bin/sh\necho script-ran\n";

/// A `.tar.gz` holding `dir/a.txt` and a `.zip` holding `z/b.txt`.
fn archives() -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("dir")).unwrap();
    std::fs::write(dir.path().join("dir/a.txt"), "from-tar\n").unwrap();
    std::fs::create_dir_all(dir.path().join("z")).unwrap();
    std::fs::write(dir.path().join("z/b.txt"), "from-zip\n").unwrap();
    let run = |program: &str, args: &[&str]| {
        let status = std::process::Command::new(program)
            .args(args)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{program} {args:?}");
    };
    run("tar", &["czf", "a.tar.gz", "dir"]);
    run("zip", &["-q", "-r", "b.zip", "z"]);
    (
        std::fs::read(dir.path().join("a.tar.gz")).unwrap(),
        std::fs::read(dir.path().join("b.zip")).unwrap(),
    )
}

fn containerizer(cache: &Path) -> MesosContainerizer {
    let options = ContainerizerOptions {
        isolation: "posix/cpu".into(),
        fetcher_cache_dir: cache.to_path_buf(),
        ..Default::default()
    };
    mesos_agent::containerizer::create(&options, bin_dir()).unwrap()
}

fn uri(value: &str) -> Uri {
    Uri {
        value: value.into(),
        ..Default::default()
    }
}

fn config(sandbox: &Path, command: &str, uris: Vec<Uri>) -> ContainerConfig {
    ContainerConfig {
        command_info: CommandInfo {
            value: Some(command.into()),
            uris,
            ..Default::default()
        },
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        directory: sandbox.display().to_string(),
        ..Default::default()
    }
}

/// Launches `command` with `uris` and waits for it; returns its stdout.
async fn run_container(
    containerizer: &MesosContainerizer,
    id: &str,
    sandbox: &Path,
    command: &str,
    uris: Vec<Uri>,
) -> String {
    let launch = containerizer.launch(id.into(), config(sandbox, command, uris));
    let wait = containerizer.wait(id.into());
    launch.await.unwrap();
    let termination = wait.await.unwrap();
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap_or_default();
    let stderr = std::fs::read_to_string(sandbox.join("stderr")).unwrap_or_default();
    assert_eq!(
        termination.status,
        Some(0),
        "{termination:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    stdout
}

/// Launches a container whose fetch must fail; returns the launch error
/// and the termination's message.
async fn failed_launch(
    containerizer: &MesosContainerizer,
    sandbox: &Path,
    uri: Uri,
) -> (String, String) {
    let launch = containerizer.launch("c1".into(), config(sandbox, "echo ran", vec![uri]));
    let wait = containerizer.wait("c1".into());
    let error = launch.await.expect_err("the fetch fails").to_string();
    let termination = wait.await.unwrap();
    assert_eq!(
        termination.reason,
        Some(task_status::Reason::ContainerLaunchFailed as i32)
    );
    assert_eq!(termination.state, Some(TaskState::TaskFailed as i32));
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap_or_default();
    assert!(!stdout.contains("ran"), "the command never ran: {stdout}");
    (error, termination.message.unwrap())
}

#[actix_rt::test]
async fn http_uris_are_made_executable_extracted_and_renamed() {
    if !require("http_uris_are_made_executable_extracted_and_renamed") {
        return;
    }
    let server = Server::start().await;
    let (tar, zip) = archives();
    let script = Uri {
        executable: Some(true),
        ..uri(&server.put("/bin/script.sh", SCRIPT.into()))
    };
    let tarball = uri(&server.put("/a.tar.gz", tar));
    let zipfile = uri(&server.put("/b.zip", zip));
    let renamed = Uri {
        output_file: Some("sub/renamed.txt".into()),
        extract: Some(false),
        ..uri(&server.put("/plain.txt", b"plain\n".to_vec()))
    };
    let cache = tempfile::tempdir().unwrap();
    let sandbox = tempfile::tempdir().unwrap();
    let stdout = run_container(
        &containerizer(cache.path()),
        "c1",
        sandbox.path(),
        "./script.sh && cat dir/a.txt z/b.txt sub/renamed.txt",
        vec![script, tarball, zipfile, renamed],
    )
    .await;
    assert!(
        stdout.ends_with("script-ran\nfrom-tar\nfrom-zip\nplain\n"),
        "{stdout}"
    );
    // The archives stay beside what they held, as upstream.
    assert!(sandbox.path().join("a.tar.gz").exists());
    // The fetcher's log is in the sandbox's stderr.
    let stderr = std::fs::read_to_string(sandbox.path().join("stderr")).unwrap();
    assert!(
        stderr.contains(&format!("Fetching URI '{}/a.tar.gz'", server.base)),
        "{stderr}"
    );
    // Nothing partial is left behind.
    let hidden: Vec<_> = std::fs::read_dir(sandbox.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

#[actix_rt::test]
async fn the_cache_serves_a_second_fetch_without_a_request() {
    if !require("the_cache_serves_a_second_fetch_without_a_request") {
        return;
    }
    let server = Server::start().await;
    let cached = |value: String| Uri {
        cache: Some(true),
        executable: Some(true),
        ..uri(&value)
    };
    let script = server.put("/cached.sh", SCRIPT.into());
    let cache = tempfile::tempdir().unwrap();
    let containerizer = containerizer(cache.path());
    let first = tempfile::tempdir().unwrap();
    let stdout = run_container(
        &containerizer,
        "c1",
        first.path(),
        "./cached.sh",
        vec![cached(script.clone())],
    )
    .await;
    assert_eq!(stdout, "script-ran\n");
    assert_eq!(server.count("GET", "/cached.sh"), 1);
    let second = tempfile::tempdir().unwrap();
    let stdout = run_container(
        &containerizer,
        "c2",
        second.path(),
        "./cached.sh",
        vec![cached(script)],
    )
    .await;
    assert_eq!(stdout, "script-ran\n");
    assert_eq!(
        server.count("GET", "/cached.sh"),
        1,
        "served from the cache"
    );
    assert_eq!(server.count("HEAD", "/cached.sh"), 1, "sized once");
    let files: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files, vec!["c1-cached.sh".to_string()]);

    // Two containers fetching one new URI at once share one download.
    let shared = server.put("/shared.sh", SCRIPT.into());
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (out_a, out_b) = futures::join!(
        run_container(
            &containerizer,
            "c3",
            a.path(),
            "./shared.sh",
            vec![cached(shared.clone())]
        ),
        run_container(
            &containerizer,
            "c4",
            b.path(),
            "./shared.sh",
            vec![cached(shared)]
        ),
    );
    assert_eq!(
        (out_a.as_str(), out_b.as_str()),
        ("script-ran\n", "script-ran\n")
    );
    assert_eq!(
        server.count("GET", "/shared.sh"),
        1,
        "one download for both"
    );

    // Upstream's metrics.
    let metrics = libprocess::metrics::Metrics::default();
    containerizer.fetcher().metrics().register(&metrics);
    let snapshot = metrics.snapshot();
    let metric = |name: &str| snapshot[&format!("containerizer/fetcher/{name}")];
    assert_eq!(metric("task_fetches_succeeded"), 4.0);
    assert_eq!(metric("task_fetches_failed"), 0.0);
    assert_eq!(metric("cache_size_used_bytes"), 2.0 * SCRIPT.len() as f64);
    assert_eq!(metric("cache_size_total_bytes"), f64::from(2u32 << 30));
}

#[actix_rt::test]
async fn the_cache_evicts_the_least_recently_used_file() {
    if !require("the_cache_evicts_the_least_recently_used_file") {
        return;
    }
    let server = Server::start().await;
    let cache = tempfile::tempdir().unwrap();
    let options = ContainerizerOptions {
        isolation: "posix/cpu".into(),
        fetcher_cache_dir: cache.path().to_path_buf(),
        fetcher_cache_size: 150,
        ..Default::default()
    };
    let containerizer = mesos_agent::containerizer::create(&options, bin_dir()).unwrap();
    for (i, name) in ["one", "two", "one"].iter().enumerate() {
        let value = server.put(&format!("/{name}"), vec![b'x'; 100]);
        let sandbox = tempfile::tempdir().unwrap();
        let cached = Uri {
            cache: Some(true),
            ..uri(&value)
        };
        run_container(
            &containerizer,
            &format!("c{i}"),
            sandbox.path(),
            "true",
            vec![cached],
        )
        .await;
        assert_eq!(std::fs::read(sandbox.path().join(name)).unwrap().len(), 100);
    }
    // 100 bytes each in 150: `two` evicted `one`, which came back.
    assert_eq!(server.count("GET", "/one"), 2);
    let files: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files, vec!["c3-one".to_string()]);
}

#[actix_rt::test]
async fn a_404_fails_the_launch_naming_the_uri_and_the_status() {
    if !require("a_404_fails_the_launch_naming_the_uri_and_the_status") {
        return;
    }
    let server = Server::start().await;
    let missing = format!("{}/missing.tgz", server.base);
    let cache = tempfile::tempdir().unwrap();
    let sandbox = tempfile::tempdir().unwrap();
    let (error, message) =
        failed_launch(&containerizer(cache.path()), sandbox.path(), uri(&missing)).await;
    let expected = format!(
        "Failed to fetch all URIs for container 'c1': Failed to fetch '{missing}': Error \
         downloading resource, received HTTP return code 404"
    );
    assert_eq!(error, expected);
    assert_eq!(message, format!("Failed to launch container: {expected}"));
}

#[actix_rt::test]
async fn file_uris_and_absolute_paths_are_copied() {
    if !require("file_uris_and_absolute_paths_are_copied") {
        return;
    }
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("by-uri.txt"), "by-uri\n").unwrap();
    std::fs::write(files.path().join("by-path.sh"), SCRIPT).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let sandbox = tempfile::tempdir().unwrap();
    let by_path = Uri {
        executable: Some(true),
        ..uri(&files.path().join("by-path.sh").display().to_string())
    };
    let stdout = run_container(
        &containerizer(cache.path()),
        "c1",
        sandbox.path(),
        "cat by-uri.txt && ./by-path.sh",
        vec![
            uri(&format!("file://{}/by-uri.txt", files.path().display())),
            by_path,
        ],
    )
    .await;
    assert_eq!(stdout, "by-uri\nscript-ran\n");

    // A missing file names the path and the cause.
    let other = tempfile::tempdir().unwrap();
    let missing = files.path().join("nope.txt").display().to_string();
    let (error, _) = failed_launch(&containerizer(cache.path()), other.path(), uri(&missing)).await;
    assert!(
        error.contains(&format!("Failed to fetch '{missing}': Failed to copy")),
        "{error}"
    );
    assert!(error.contains("No such file or directory"), "{error}");
}

#[actix_rt::test]
async fn relative_paths_resolve_against_frameworks_home() {
    if !require("relative_paths_resolve_against_frameworks_home") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("fw")).unwrap();
    std::fs::write(home.path().join("fw/data.txt"), "home\n").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let options = ContainerizerOptions {
        isolation: "posix/cpu".into(),
        fetcher_cache_dir: cache.path().to_path_buf(),
        frameworks_home: Some(home.path().display().to_string()),
        ..Default::default()
    };
    let containerizer = mesos_agent::containerizer::create(&options, bin_dir()).unwrap();
    let sandbox = tempfile::tempdir().unwrap();
    let stdout = run_container(
        &containerizer,
        "c1",
        sandbox.path(),
        "cat data.txt",
        vec![uri("fw/data.txt")],
    )
    .await;
    assert_eq!(stdout, "home\n");
}

#[actix_rt::test]
async fn unknown_schemes_and_unresolvable_hosts_are_refused_clearly() {
    if !require("unknown_schemes_and_unresolvable_hosts_are_refused_clearly") {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let sandbox = tempfile::tempdir().unwrap();
    let (error, _) = failed_launch(
        &containerizer(cache.path()),
        sandbox.path(),
        uri("hdfs://namenode/data.tgz"),
    )
    .await;
    assert!(
        error.contains(
            "Failed to fetch 'hdfs://namenode/data.tgz': URI scheme 'hdfs://' is not supported"
        ),
        "{error}"
    );
    let sandbox = tempfile::tempdir().unwrap();
    let (error, _) = failed_launch(
        &containerizer(cache.path()),
        sandbox.path(),
        uri("http://no-such-host.invalid/x.sh"),
    )
    .await;
    assert!(
        error.contains("Failed to fetch 'http://no-such-host.invalid/x.sh': Error downloading resource: failed to resolve host 'no-such-host.invalid'"),
        "{error}"
    );
}

#[actix_rt::test]
async fn a_stalled_download_fails_after_the_stall_timeout() {
    if !require("a_stalled_download_fails_after_the_stall_timeout") {
        return;
    }
    let server = Server::start().await;
    let cache = tempfile::tempdir().unwrap();
    let options = ContainerizerOptions {
        isolation: "posix/cpu".into(),
        fetcher_cache_dir: cache.path().to_path_buf(),
        fetcher_stall_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let containerizer = mesos_agent::containerizer::create(&options, bin_dir()).unwrap();
    let sandbox = tempfile::tempdir().unwrap();
    let stalled = format!("{}/stall", server.base);
    let (error, _) = failed_launch(&containerizer, sandbox.path(), uri(&stalled)).await;
    assert!(
        error.contains(&format!(
            "Failed to fetch '{stalled}': Error downloading resource: stalled"
        )),
        "{error}"
    );
}

#[actix_rt::test]
async fn destroying_a_container_kills_its_running_fetch() {
    if !require("destroying_a_container_kills_its_running_fetch") {
        return;
    }
    let server = Server::start().await;
    let cache = tempfile::tempdir().unwrap();
    let containerizer = containerizer(cache.path());
    let sandbox = tempfile::tempdir().unwrap();
    let stalled = format!("{}/stall", server.base);
    let launch = containerizer.launch(
        "c1".into(),
        config(sandbox.path(), "echo ran", vec![uri(&stalled)]),
    );
    let wait = containerizer.wait("c1".into());
    let launch = actix_rt::spawn(launch);
    server.stalled.notified().await;
    assert!(containerizer.destroy("c1".into()).await);
    // The fetcher program is gone well before the 1 min stall timeout.
    tokio::time::timeout(Duration::from_secs(10), server.hung_up.notified())
        .await
        .expect("the fetcher was killed");
    assert!(launch.await.unwrap().is_err());
    assert!(wait.await.is_some());
    assert!(containerizer.containers().await.is_empty());
}

/// Finds the directory holding a file named `name` under `root`.
fn find(root: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let path = entry.path();
        if entry.file_name() == name {
            return path.parent().map(Path::to_path_buf);
        }
        if path.is_dir() && !path.is_symlink() {
            if let Some(found) = find(&path, name) {
                return Some(found);
            }
        }
    }
    None
}

/// Runs a command task with `uris` through a master and an agent (posix
/// launcher, the fetcher cache in `cache`); returns every status of it,
/// the terminal one last.
async fn run_task(
    work_dir: &Path,
    cache: &Path,
    command: &str,
    uris: Vec<Uri>,
) -> Vec<mesos_proto::mesos::TaskStatus> {
    let master_runtime = runtime();
    let master = start_master(&master_runtime);
    let agent_runtime = runtime();
    let mut config = agent_config(&agent_runtime, master.upid(), work_dir, bin_dir());
    config.containerizer = ContainerizerOptions {
        launcher: "posix".into(),
        isolation: "posix/cpu,posix/mem".into(),
        fetcher_cache_dir: cache.to_path_buf(),
        ..Default::default()
    };
    let _agent = mesos_agent::spawn(&agent_runtime, config).unwrap();

    let info = FrameworkInfo {
        user: "root".into(),
        name: "fetcher-test".into(),
        ..Default::default()
    };
    let mut framework =
        TestFramework::subscribe(&master_runtime, master.upid(), "scheduler-fetcher", info).await;
    let task = TaskInfo {
        name: "fetched".into(),
        task_id: TaskId {
            value: "fetched-1".into(),
        },
        resources: Resources::parse("cpus:0.5;mem:64", "*").unwrap().to_vec(),
        command: Some(CommandInfo {
            value: Some(command.into()),
            uris,
            ..Default::default()
        }),
        ..Default::default()
    };
    framework.launch(vec![task]);
    framework.updates_until_terminal().await
}

#[actix_rt::test]
async fn a_command_task_runs_a_script_fetched_over_http() {
    if !require("a_command_task_runs_a_script_fetched_over_http") {
        return;
    }
    let server = Server::start().await;
    let script = Uri {
        executable: Some(true),
        cache: Some(true),
        ..uri(&server.put("/task.sh", "#!/bin/sh\necho task-output\n".into()))
    };
    let work_dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let statuses = run_task(work_dir.path(), cache.path(), "./task.sh", vec![script]).await;
    assert_eq!(
        statuses.last().map(|s| s.state()),
        Some(TaskState::TaskFinished),
        "{statuses:?}"
    );
    assert_eq!(server.count("GET", "/task.sh"), 1);
    // The script landed in the executor's sandbox and wrote its output
    // there.
    let sandbox = find(work_dir.path(), "task.sh").expect("the script in the sandbox");
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap();
    assert!(stdout.contains("task-output"), "{stdout}");
    // Cached under the agent's id, as upstream.
    assert_eq!(
        std::fs::read_dir(cache.path().join("slaves"))
            .unwrap()
            .count(),
        1,
        "one agent's cache"
    );
}

#[actix_rt::test]
async fn a_task_whose_uri_is_missing_fails_with_the_launch_failed_reason() {
    if !require("a_task_whose_uri_is_missing_fails_with_the_launch_failed_reason") {
        return;
    }
    let server = Server::start().await;
    let missing = format!("{}/missing.sh", server.base);
    let work_dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let statuses = run_task(
        work_dir.path(),
        cache.path(),
        "./missing.sh",
        vec![uri(&missing)],
    )
    .await;
    let last = statuses.last().unwrap();
    assert_eq!(last.state(), TaskState::TaskFailed, "{statuses:?}");
    assert_eq!(
        last.reason,
        Some(task_status::Reason::ContainerLaunchFailed as i32),
        "{statuses:?}"
    );
    let message = last.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("Failed to launch container: Failed to fetch all URIs for container '"),
        "{message}"
    );
    assert!(
        message.ends_with(&format!(
            "Failed to fetch '{missing}': Error downloading resource, received HTTP return code 404"
        )),
        "{message}"
    );
}

#[actix_rt::test]
async fn a_containers_user_fetches_and_owns_its_files() {
    if !require("a_containers_user_fetches_and_owns_its_files") {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let why = "a_containers_user_fetches_and_owns_its_files needs root";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        println!("SKIPPED: {why}");
        return;
    }
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let server = Server::start().await;
    let script = Uri {
        cache: Some(true),
        ..uri(&server.put("/owned.txt", "mine\n".into()))
    };
    let cache = tempfile::tempdir().unwrap();
    // The user must be able to reach its cache directory.
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sandbox = tempfile::tempdir().unwrap();
    let containerizer = containerizer(cache.path());
    let mut as_nobody = config(sandbox.path(), "id -un; cat owned.txt", vec![script]);
    as_nobody.user = Some("nobody".into());
    let launch = containerizer.launch("owner".into(), as_nobody);
    let wait = containerizer.wait("owner".into());
    launch.await.unwrap();
    let termination = wait.await.unwrap();
    let stderr = std::fs::read_to_string(sandbox.path().join("stderr")).unwrap_or_default();
    assert_eq!(termination.status, Some(0), "{stderr}");
    let fetched = std::fs::metadata(sandbox.path().join("owned.txt")).unwrap();
    let nobody = std::fs::metadata(sandbox.path()).unwrap().uid();
    assert_ne!(nobody, 0);
    assert_eq!(fetched.uid(), nobody, "the fetched file is the user's");
    // The user's cache entry is the user's too.
    let cached = find(cache.path(), "nobody").expect("a per-user cache directory");
    assert_eq!(
        std::fs::metadata(cached.join("nobody")).unwrap().uid(),
        nobody
    );
}
