//! The fetcher (upstream `src/slave/containerizer/fetcher.cpp`,
//! `docs/fetcher.md`, `docs/fetcher-cache-internals.md`): fills a
//! container's sandbox with the URIs of its `CommandInfo` before the
//! command runs.
//!
//! Split as upstream: callers hold the [`Fetcher`] facade; its actor
//! ([`FetcherProcess`]) decides, per URI, whether to bypass the cache,
//! download into it or retrieve from it (the [`cache`] bookkeeping: size
//! probe, space reservation, LRU eviction, one download shared by every
//! concurrent fetch of a URI), then runs the `mesos-fetcher` program
//! ([`helper`]) with the plan as a JSON `mesos.fetcher.FetcherInfo` in
//! `MESOS_FETCHER_INFO`. The program does the downloading, copying,
//! extracting and chmodding, logging to the sandbox's `stderr`.
//!
//! The cache lives in `<--fetcher_cache_dir>/slaves/<agent id>[/<user>]`,
//! as upstream; the agent id is read from the sandbox path (the
//! containerizer is not told it). A cache directory left by an earlier
//! agent run is removed before its first use (upstream `Fetcher::recover`
//! does it at agent start). Without an agent id in the sandbox path (a
//! containerizer driven directly) the cache is `--fetcher_cache_dir`
//! itself, and nothing is removed.

pub mod cache;
pub mod helper;
pub mod http;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, AsyncContext as _, Context, Handler, Message, ResponseFuture};
use futures::future::{BoxFuture, Shared};
use futures::FutureExt as _;
use libprocess::metrics::Counter;
use mesos_proto::mesos::command_info::Uri;
use mesos_proto::mesos::fetcher::fetcher_info::item::Action;
use mesos_proto::mesos::fetcher::fetcher_info::Item;
use mesos_proto::mesos::fetcher::FetcherInfo;
use mesos_proto::mesos::{CommandInfo, DurationInfo};

use self::cache::Cache;

/// The helper program's name, looked up in `--launcher_dir`.
pub const FETCHER: &str = "mesos-fetcher";

/// The environment variable carrying the JSON `FetcherInfo`.
pub const FETCHER_INFO_ENV: &str = "MESOS_FETCHER_INFO";

/// The fetcher's settings (from the agent flags).
#[derive(Debug, Clone)]
pub struct FetcherOptions {
    /// `--fetcher_cache_dir`.
    pub cache_dir: PathBuf,
    /// `--fetcher_cache_size`, in bytes.
    pub cache_size: u64,
    /// `--fetcher_stall_timeout`.
    pub stall_timeout: Duration,
    /// `--frameworks_home`: where relative URIs are found.
    pub frameworks_home: Option<String>,
}

impl Default for FetcherOptions {
    fn default() -> Self {
        Self {
            cache_dir: PathBuf::from("/tmp/mesos/fetch"),
            cache_size: 2 << 30,
            stall_timeout: Duration::from_secs(60),
            frameworks_home: None,
        }
    }
}

/// What a fetch failed on.
#[derive(Debug, thiserror::Error)]
pub enum FetcherError {
    /// A URI is malformed (checked before anything is fetched).
    #[error("Could not fetch: {0}")]
    InvalidUri(String),
    /// The `mesos-fetcher` program failed; the cause names the URI.
    #[error("Failed to fetch all URIs for container '{container_id}': {cause}")]
    Failed {
        /// The container.
        container_id: String,
        /// `Failed to fetch '<uri>': <why>`, from the program's log.
        cause: String,
    },
    /// The program could not be run.
    #[error("Could not fetch URIs: {0}")]
    Helper(String),
    /// The fetcher's actor is gone.
    #[error("fetcher is gone: {0}")]
    Mailbox(#[from] actix::MailboxError),
}

/// The module's result type.
pub type Result<T> = std::result::Result<T, FetcherError>;

/// The file name a URI is fetched to (upstream `Fetcher::basename`): the
/// last `/` segment, URIs treated as paths.
pub fn basename(uri: &str) -> std::result::Result<String, String> {
    if uri.contains(['\\', '\'', '\0']) {
        return Err("Illegal characters in URI".into());
    }
    if let Some(index) = uri.find("://").filter(|i| *i > 1) {
        let path = &uri[index + 3..];
        match path.find('/') {
            Some(slash) if path.len() > slash + 1 => {}
            _ => return Err(format!("Malformed URI (missing path): {uri}")),
        }
        return Ok(path.rsplit('/').next().unwrap_or_default().to_string());
    }
    Ok(Path::new(uri)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| uri.to_string()))
}

/// Where a URI is, for the fetcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalPath {
    /// A local file (`file://`, an absolute path, or a path relative to
    /// `--frameworks_home`).
    Path(PathBuf),
    /// Something with a scheme other than `file://`.
    Remote,
}

/// Resolves local URIs (upstream `Fetcher::uriToLocalPath`).
pub fn uri_to_local_path(
    uri: &str,
    frameworks_home: Option<&str>,
) -> std::result::Result<LocalPath, String> {
    if !uri.starts_with("file://") && uri.contains("://") {
        return Ok(LocalPath::Remote);
    }
    let (path, file_uri) = if let Some(path) = uri.strip_prefix("file://localhost") {
        (path, true)
    } else if let Some(path) = uri.strip_prefix("file://") {
        (path, true)
    } else {
        (uri, false)
    };
    if file_uri && !path.starts_with('/') {
        return Err("File URI only supports absolute paths".into());
    }
    if path.starts_with('/') {
        return Ok(LocalPath::Path(PathBuf::from(path)));
    }
    match frameworks_home.filter(|h| !h.is_empty()) {
        Some(home) => {
            tracing::info!(
                "Prepended Mesos frameworks home to relative path, making it: '{home}/{path}'"
            );
            Ok(LocalPath::Path(Path::new(home).join(path)))
        }
        None => Err(
            "A relative path was passed for the resource but the Mesos framework \
                     home was not specified. Please either provide this config option or avoid \
                     using a relative path"
                .into(),
        ),
    }
}

/// Whether the URI is fetched over the network (upstream
/// `Fetcher::isNetUri`).
pub fn is_net_uri(uri: &str) -> bool {
    ["http://", "https://", "ftp://", "ftps://"]
        .iter()
        .any(|scheme| uri.starts_with(scheme))
}

/// The refusal of a scheme upstream would hand to the Hadoop client.
pub(crate) fn unsupported_scheme(uri: &str) -> String {
    let scheme = uri.split("://").next().unwrap_or(uri);
    format!(
        "URI scheme '{scheme}://' is not supported: this agent fetches http, https, ftp, ftps, \
         file:// and local paths (hdfs, s3 and other Hadoop schemes need the Hadoop client, \
         which it does not support yet)"
    )
}

/// The fetcher's metrics (upstream `FetcherProcess::Metrics`).
#[derive(Debug, Clone, Default)]
pub struct FetcherMetrics {
    /// Fetches (of a container with URIs) that got every URI.
    pub task_fetches_succeeded: Counter,
    /// Fetches that failed.
    pub task_fetches_failed: Counter,
    /// `--fetcher_cache_size`.
    pub cache_size_total_bytes: u64,
    /// The bytes the cache holds or has reserved.
    pub cache_size_used_bytes: Arc<AtomicU64>,
}

impl FetcherMetrics {
    /// Registers them under upstream's `containerizer/fetcher/*` names.
    pub fn register(&self, metrics: &libprocess::metrics::Metrics) {
        let succeeded = self.task_fetches_succeeded.clone();
        metrics.gauge("containerizer/fetcher/task_fetches_succeeded", move || {
            succeeded.get() as f64
        });
        let failed = self.task_fetches_failed.clone();
        metrics.gauge("containerizer/fetcher/task_fetches_failed", move || {
            failed.get() as f64
        });
        let total = self.cache_size_total_bytes as f64;
        metrics.gauge("containerizer/fetcher/cache_size_total_bytes", move || {
            total
        });
        let used = self.cache_size_used_bytes.clone();
        metrics.gauge("containerizer/fetcher/cache_size_used_bytes", move || {
            used.load(Ordering::Relaxed) as f64
        });
    }
}

/// The fetcher, as the containerizer holds it.
#[derive(Clone)]
pub struct Fetcher {
    addr: Addr<FetcherProcess>,
    metrics: FetcherMetrics,
}

impl Fetcher {
    /// Starts the fetcher's actor on the current arbiter; the
    /// `mesos-fetcher` program is looked up in `launcher_dir`.
    pub fn start(options: FetcherOptions, launcher_dir: &Path) -> Self {
        let helper = launcher_dir.join(FETCHER);
        let metrics = FetcherMetrics {
            cache_size_total_bytes: options.cache_size,
            ..Default::default()
        };
        let process_metrics = metrics.clone();
        let addr = FetcherProcess::create(|_| FetcherProcess {
            cache: Cache::new(options.cache_size),
            options,
            helper,
            pids: HashMap::new(),
            cleared: HashMap::new(),
            metrics: process_metrics,
        });
        Self { addr, metrics }
    }

    /// Its metrics, to register with a runtime.
    pub fn metrics(&self) -> &FetcherMetrics {
        &self.metrics
    }

    /// Fetches every URI of `command` into `sandbox`; resolves once they
    /// are all there. `user` is the container's (set only under
    /// `--switch_user`): the fetch runs as it and is cached per user.
    pub fn fetch(
        &self,
        container_id: &str,
        command: &CommandInfo,
        sandbox: &Path,
        user: Option<String>,
    ) -> BoxFuture<'static, Result<()>> {
        if command.uris.is_empty() {
            return Box::pin(std::future::ready(Ok(())));
        }
        let request = self.addr.send(Fetch {
            container_id: container_id.to_string(),
            uris: command.uris.clone(),
            user,
            sandbox: sandbox.to_path_buf(),
        });
        Box::pin(async move { request.await? })
    }

    /// Kills the container's running `mesos-fetcher`, if any.
    pub fn kill(&self, container_id: &str) {
        self.addr.do_send(Kill(container_id.to_string()));
    }
}

/// The actor behind [`Fetcher`]: the cache and the running programs.
pub struct FetcherProcess {
    options: FetcherOptions,
    helper: PathBuf,
    cache: Cache,
    /// The process group of each container's running `mesos-fetcher`.
    pids: HashMap<String, u32>,
    /// Per cache root, the removal of what an earlier run left there.
    cleared: HashMap<PathBuf, Shared<BoxFuture<'static, ()>>>,
    metrics: FetcherMetrics,
}

impl Actor for FetcherProcess {
    type Context = Context<Self>;
}

// --- Messages -----------------------------------------------------------

#[derive(Message)]
#[rtype(result = "Result<()>")]
pub(crate) struct Fetch {
    container_id: String,
    uris: Vec<Uri>,
    user: Option<String>,
    sandbox: PathBuf,
}

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Kill(String);

/// The size probe of a new cache entry finished: claim the space.
#[derive(Message)]
#[rtype(result = "std::result::Result<(), String>")]
struct Reserve {
    key: String,
    size: std::result::Result<u64, String>,
}

/// The program runs.
#[derive(Message)]
#[rtype(result = "()")]
struct Started(String, u32);

/// The program finished: settle the cache entries it used.
#[derive(Message)]
#[rtype(result = "()")]
struct Finished {
    container_id: String,
    success: bool,
    /// Each cache entry used, whether this fetch downloaded it, and the
    /// size of its file afterwards.
    entries: Vec<(String, bool, Option<u64>)>,
}

/// How one URI is fetched, decided on the actor.
enum Plan {
    Bypass(Uri),
    Retrieve(Uri, String, String),
    Wait(Uri, String, String, tokio::sync::oneshot::Receiver<bool>),
    Download(Uri, String, String),
}

/// The agent id in a sandbox path (`.../slaves/<id>/frameworks/...`).
fn slave_id(sandbox: &Path) -> Option<String> {
    let parts: Vec<String> = sandbox
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts
        .windows(3)
        .rev()
        .find(|w| w[0] == "slaves" && w[2] == "frameworks")
        .map(|w| w[1].clone())
}

/// The size of what `uri` would download (upstream `fetchSize`); blocks.
fn fetch_size(uri: &str, home: Option<&str>, stall: Duration) -> std::result::Result<u64, String> {
    match uri_to_local_path(uri, home)? {
        LocalPath::Path(path) => std::fs::metadata(&path).map(|m| m.len()).map_err(|e| {
            format!(
                "Could not determine file size for: '{}', error: {e}",
                path.display()
            )
        }),
        LocalPath::Remote if is_net_uri(uri) => match http::content_length(uri, Some(stall))? {
            0 => Err(format!("URI reported content-length 0: {uri}")),
            size => Ok(size),
        },
        LocalPath::Remote => Err(unsupported_scheme(uri)),
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(work).await.ok()
}

impl FetcherProcess {
    fn update_used(&self) {
        let used = self
            .options
            .cache_size
            .saturating_sub(self.cache.available());
        self.metrics
            .cache_size_used_bytes
            .store(used, Ordering::Relaxed);
    }

    /// The removal of an earlier run's files under `root`, started once.
    fn clear(&mut self, root: &Path, known_agent: bool) -> Shared<BoxFuture<'static, ()>> {
        if let Some(cleared) = self.cleared.get(root) {
            return cleared.clone();
        }
        let path = root.to_path_buf();
        let cleared: BoxFuture<'static, ()> = Box::pin(async move {
            if known_agent {
                let removed = blocking(move || match std::fs::remove_dir_all(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                });
                if let Some(Err(error)) = removed.await {
                    tracing::warn!(%error, "Could not delete the old fetcher cache directory");
                }
            }
        });
        let cleared = cleared.shared();
        self.cleared.insert(root.to_path_buf(), cleared.clone());
        cleared
    }

    /// Deletes cache files off the actor.
    fn delete(paths: Vec<PathBuf>) {
        if paths.is_empty() {
            return;
        }
        actix::spawn(async move {
            blocking(move || {
                for path in paths {
                    if let Err(error) = std::fs::remove_file(&path) {
                        if error.kind() != std::io::ErrorKind::NotFound {
                            tracing::warn!(path = %path.display(), %error, "Could not delete fetcher cache file");
                        }
                    }
                }
            })
            .await;
        });
    }
}

// --- Handlers -----------------------------------------------------------

impl Handler<Fetch> for FetcherProcess {
    type Result = ResponseFuture<Result<()>>;

    fn handle(&mut self, fetch: Fetch, ctx: &mut Context<Self>) -> Self::Result {
        let Fetch {
            container_id,
            uris,
            user,
            sandbox,
        } = fetch;
        tracing::debug!(%container_id, directory = %sandbox.display(), "Starting to fetch URIs");
        for uri in &uris {
            if let Err(error) = basename(&uri.value) {
                self.metrics.task_fetches_failed.inc();
                return Box::pin(std::future::ready(Err(FetcherError::InvalidUri(error))));
            }
        }
        let agent = slave_id(&sandbox);
        let root = match &agent {
            Some(id) => self.options.cache_dir.join("slaves").join(id),
            None => self.options.cache_dir.clone(),
        };
        let cache_directory = match &user {
            Some(user) => root.join(user),
            None => root.clone(),
        };
        let cleared = self.clear(&root, agent.is_some());
        let plans: Vec<Plan> = uris
            .into_iter()
            .map(|uri| {
                if !uri.cache() {
                    return Plan::Bypass(uri);
                }
                let key = cache::key(user.as_deref(), &uri.value);
                if let Some(entry) = self.cache.get(&key) {
                    entry.references += 1;
                    let filename = entry.filename.clone();
                    if entry.complete {
                        return Plan::Retrieve(uri, key, filename);
                    }
                    return match self.cache.wait(&key) {
                        Some(rx) => Plan::Wait(uri, key, filename, rx),
                        None => Plan::Bypass(uri),
                    };
                }
                let name = basename(&uri.value).unwrap_or_default();
                let filename = self.cache.create(&key, &name, &cache_directory);
                Plan::Download(uri, key, filename)
            })
            .collect();
        let addr = ctx.address();
        let helper = self.helper.clone();
        let home = self.options.frameworks_home.clone();
        let stall = self.options.stall_timeout;
        let metrics = self.metrics.clone();
        Box::pin(async move {
            cleared.await;
            let mut items = Vec::new();
            let mut used = Vec::new();
            for plan in plans {
                let item = |uri: Uri, action: Action, filename: Option<String>| Item {
                    uri,
                    action: action as i32,
                    cache_filename: filename,
                };
                match plan {
                    Plan::Bypass(uri) => items.push(item(uri, Action::BypassCache, None)),
                    Plan::Retrieve(uri, key, filename) => {
                        used.push((key, filename.clone(), false));
                        items.push(item(uri, Action::RetrieveFromCache, Some(filename)));
                    }
                    Plan::Wait(uri, key, filename, rx) => {
                        if rx.await.unwrap_or(false) {
                            used.push((key, filename.clone(), false));
                            items.push(item(uri, Action::RetrieveFromCache, Some(filename)));
                        } else {
                            tracing::warn!(%container_id, uri = %uri.value, "Reverting to fetching directly into the sandbox, due to failure to fetch through the cache");
                            items.push(item(uri, Action::BypassCache, None));
                        }
                    }
                    Plan::Download(uri, key, filename) => {
                        let (value, home) = (uri.value.clone(), home.clone());
                        let size = blocking(move || fetch_size(&value, home.as_deref(), stall))
                            .await
                            .unwrap_or_else(|| Err("size probe panicked".into()));
                        match addr
                            .send(Reserve {
                                key: key.clone(),
                                size,
                            })
                            .await?
                        {
                            Ok(()) => {
                                used.push((key, filename.clone(), true));
                                items.push(item(uri, Action::DownloadAndCache, Some(filename)));
                            }
                            Err(error) => {
                                tracing::warn!(%container_id, uri = %uri.value, %error, "Reverting to fetching directly into the sandbox, due to failure to fetch through the cache");
                                items.push(item(uri, Action::BypassCache, None));
                            }
                        }
                    }
                }
            }
            let info = FetcherInfo {
                sandbox_directory: sandbox.display().to_string(),
                cache_directory: Some(cache_directory.display().to_string()),
                items,
                user,
                frameworks_home: home,
                stall_timeout: Some(DurationInfo {
                    nanoseconds: i64::try_from(stall.as_nanos()).unwrap_or(i64::MAX),
                }),
            };
            let run = run(&container_id, &helper, &info, &addr).await;
            match &run {
                Ok(()) => metrics.task_fetches_succeeded.inc(),
                Err(_) => metrics.task_fetches_failed.inc(),
            }
            // The actual sizes of what this fetch put in the cache.
            let directory = cache_directory.clone();
            let entries = blocking(move || {
                used.into_iter()
                    .map(|(key, filename, downloaded)| {
                        let size = downloaded
                            .then(|| std::fs::metadata(directory.join(filename)).ok())
                            .flatten()
                            .map(|m| m.len());
                        (key, downloaded, size)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
            addr.send(Finished {
                container_id: container_id.clone(),
                success: run.is_ok(),
                entries,
            })
            .await?;
            run
        })
    }
}

/// Runs `mesos-fetcher` for `info`, its output appended to the sandbox's
/// `stdout` and `stderr`; on failure, the cause is the program's last
/// `Failed to fetch` line.
async fn run(
    container_id: &str,
    helper: &Path,
    info: &FetcherInfo,
    addr: &Addr<FetcherProcess>,
) -> Result<()> {
    use std::os::unix::process::CommandExt as _;
    let sandbox = PathBuf::from(&info.sandbox_directory);
    let (out, err) = (sandbox.join("stdout"), sandbox.join("stderr"));
    let helper_path = helper.to_path_buf();
    let opened = blocking(move || {
        if !helper_path.is_file() {
            return Err(format!(
                "failed to find {FETCHER} at '{}'",
                helper_path.display()
            ));
        }
        let open = |path: &Path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("Failed to create '{}': {e}", path.display()))
        };
        Ok((open(&out)?, open(&err)?))
    })
    .await
    .unwrap_or_else(|| Err("opening the sandbox files panicked".into()))
    .map_err(FetcherError::Helper)?;
    let json = mesos_proto::json::to_string(info);
    let mut command = std::process::Command::new(helper);
    command
        .env(FETCHER_INFO_ENV, json)
        .stdin(std::process::Stdio::null())
        .stdout(opened.0)
        .stderr(opened.1)
        // Its own process group, so a kill reaches tar, curl, ...
        .process_group(0);
    let mut child = tokio::process::Command::from(command)
        .spawn()
        .map_err(|e| FetcherError::Helper(format!("Failed to execute {FETCHER}: {e}")))?;
    if let Some(pid) = child.id() {
        addr.do_send(Started(container_id.to_string(), pid));
    }
    let status = child
        .wait()
        .await
        .map_err(|e| FetcherError::Helper(format!("No status available from {FETCHER}: {e}")))?;
    if status.success() {
        return Ok(());
    }
    let stderr = sandbox.join("stderr");
    let log = blocking(move || std::fs::read_to_string(stderr).unwrap_or_default())
        .await
        .unwrap_or_default();
    let cause = log
        .lines()
        .rev()
        .find_map(|line| {
            line.find("Failed to fetch '")
                .map(|i| line[i..].to_string())
        })
        .or_else(|| {
            log.lines()
                .rev()
                .find(|line| line.contains("ERROR"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("{FETCHER} exited with status: {status}"));
    tracing::warn!(%container_id, "Begin fetcher log (stderr in sandbox)\n{log}\nEnd fetcher log");
    Err(FetcherError::Failed {
        container_id: container_id.to_string(),
        cause,
    })
}

impl Handler<Reserve> for FetcherProcess {
    type Result = std::result::Result<(), String>;

    fn handle(&mut self, Reserve { key, size }: Reserve, _: &mut Context<Self>) -> Self::Result {
        let reserved = size
            .map_err(|e| {
                format!("Could not determine size of cache file for '{key}' with error: {e}")
            })
            .and_then(|size| {
                self.cache
                    .reserve(&key, size)
                    .map_err(|e| format!("Failed to reserve space in the cache: {e}"))
            });
        let reserved = match reserved {
            Ok(evicted) => {
                Self::delete(evicted);
                Ok(())
            }
            Err(error) => {
                // Waiters for this download bypass the cache; a new
                // request tries again.
                self.cache.remove(&key);
                Err(error)
            }
        };
        self.update_used();
        reserved
    }
}

impl Handler<Started> for FetcherProcess {
    type Result = ();

    fn handle(&mut self, Started(id, pid): Started, _: &mut Context<Self>) {
        self.pids.insert(id, pid);
    }
}

impl Handler<Finished> for FetcherProcess {
    type Result = ();

    fn handle(&mut self, finished: Finished, _: &mut Context<Self>) {
        self.pids.remove(&finished.container_id);
        for (key, downloaded, size) in finished.entries {
            self.cache.unreference(&key);
            if !downloaded {
                continue;
            }
            match (finished.success, size) {
                (true, Some(size)) => {
                    self.cache.adjust(&key, size);
                    self.cache.complete(&key);
                }
                _ => {
                    // Failed or partial: out of the cache, file and all.
                    if let Some(path) = self.cache.remove(&key) {
                        Self::delete(vec![path]);
                    }
                }
            }
        }
        self.update_used();
    }
}

impl Handler<Kill> for FetcherProcess {
    type Result = ();

    fn handle(&mut self, Kill(id): Kill, _: &mut Context<Self>) {
        if let Some(pid) = self.pids.remove(&id) {
            tracing::info!(container_id = %id, "Killing the fetcher");
            if let Ok(pid) = i32::try_from(pid) {
                // SAFETY: signals the process group the fetcher program
                // leads (it was spawned with process_group(0)).
                unsafe { libc::killpg(pid, libc::SIGKILL) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn basenames_follow_upstream() {
        assert_eq!(basename("http://h/a/b.tar.gz").unwrap(), "b.tar.gz");
        assert_eq!(basename("/tmp/x/script.sh").unwrap(), "script.sh");
        assert_eq!(
            basename("http://host").unwrap_err(),
            "Malformed URI (missing path): http://host"
        );
        assert_eq!(basename("/a'b").unwrap_err(), "Illegal characters in URI");
    }

    #[test]
    fn local_paths_resolve_against_frameworks_home() {
        assert_eq!(
            uri_to_local_path("file:///a/b", None).unwrap(),
            LocalPath::Path("/a/b".into())
        );
        assert_eq!(
            uri_to_local_path("file://localhost/a/b", None).unwrap(),
            LocalPath::Path("/a/b".into())
        );
        assert_eq!(
            uri_to_local_path("x/y", Some("/home")).unwrap(),
            LocalPath::Path("/home/x/y".into())
        );
        assert_eq!(
            uri_to_local_path("http://h/x", None).unwrap(),
            LocalPath::Remote
        );
        assert!(uri_to_local_path("file://rel/x", None).is_err());
        assert!(uri_to_local_path("rel/x", None).is_err());
    }

    #[test]
    fn the_agent_id_comes_from_the_sandbox_path() {
        let sandbox = Path::new("/w/slaves/S1/frameworks/F/executors/E/runs/C");
        assert_eq!(slave_id(sandbox).as_deref(), Some("S1"));
        assert_eq!(slave_id(Path::new("/tmp/sandbox")), None);
    }
}
