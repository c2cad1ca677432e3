//! The runtime of one libprocess instance: its address, the processes it
//! hosts, message delivery, links, and HTTP routing.
//!
//! Upstream counterpart: `ProcessManager` and `SocketManager` in
//! `3rdparty/libprocess/src/process.cpp`. An OS process normally has one
//! runtime ([`crate::initialize`]); tests may start several on different
//! ports to exercise the real transport between them.
//!
//! Delivery: a message to a UPID at this runtime's address goes straight to
//! the process's mailbox (no network); anything else is encoded and written
//! to the one outbound connection kept per peer address. Network I/O runs on
//! a small dedicated tokio runtime, so processes (on any actix arbiter) never
//! block on sockets.
//!
//! HTTP: `/<id>/<endpoint>` goes to process `<id>`; when no process has that
//! id, the request goes to the delegate process with the whole path as its
//! endpoint (so `/state` on an agent is `/slave(1)/state`). Built-in
//! endpoints (`/metrics/snapshot`, `/logging/toggle`, `/__processes__`,
//! `/version`) need no
//! actor. Paths containing `/..` are refused with 404.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};

use actix::{AsyncContext as _, Context, Recipient};
use bytes::Bytes;
use dashmap::DashMap;
use futures::channel::oneshot;

use crate::http::{Request, Response};
use crate::metrics::Metrics;
use crate::process::{
    Delivered, Dispatch, Event, EventQueue, HttpEvent, MessageEvent, Process, PID,
};
use crate::transport::{self, Limits};
use crate::UPID;

/// A handler for an endpoint served without an actor.
pub type BuiltinHandler =
    Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

/// Decides whether a request may reach a built-in endpoint: `Err` holds
/// the answer it gets instead (see [`Runtime::guard_builtin`]).
pub type BuiltinGuard = Arc<dyn Fn(&Request) -> Result<(), Response> + Send + Sync>;

/// Decides, from a request's head (its body still empty), whether a
/// streaming route receives the body as it arrives.
pub type StreamPredicate = Arc<dyn Fn(&Request) -> bool + Send + Sync>;

/// A test filter: returns `true` to drop the event (upstream's
/// `process::filter`, behind `DROP_MESSAGE` and `FUTURE_MESSAGE`).
pub type Filter = Arc<dyn Fn(&UPID, &Event) -> bool + Send + Sync>;

/// Where the runtime binds and what it advertises (`LIBPROCESS_*`).
#[derive(Debug, Clone)]
pub struct Config {
    /// `LIBPROCESS_IP`: the address to bind (default ANY).
    pub ip: Ipv4Addr,
    /// `LIBPROCESS_PORT`: the port to bind (0: ephemeral).
    pub port: u16,
    /// `LIBPROCESS_ADVERTISE_IP`: the IP put in UPIDs instead.
    pub advertise_ip: Option<Ipv4Addr>,
    /// `LIBPROCESS_ADVERTISE_PORT`: the port put in UPIDs instead.
    pub advertise_port: Option<u16>,
    /// `LIBPROCESS_REQUIRE_PEER_ADDRESS_IP_MATCH`: refuse (400) messages
    /// whose sender IP differs from the connection's peer IP.
    pub require_peer_address_ip_match: bool,
    /// Bounds on inbound requests.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ip: Ipv4Addr::UNSPECIFIED,
            port: 0,
            advertise_ip: None,
            advertise_port: None,
            require_peer_address_ip_match: false,
            limits: Limits::default(),
        }
    }
}

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// An environment variable has an invalid value.
    #[error("invalid value '{value}' for {name}")]
    Env {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// Binding the socket failed.
    #[error("failed to bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddrV4,
        /// The cause.
        source: std::io::Error,
    },
    /// The advertised IP is ANY and the host name does not resolve.
    #[error("failed to determine an IP to advertise: {0} (set LIBPROCESS_IP or LIBPROCESS_ADVERTISE_IP)")]
    Advertise(String),
    /// `initialize` was called twice.
    #[error("libprocess is already initialized")]
    AlreadyInitialized,
}

impl Config {
    /// Reads `LIBPROCESS_IP`, `LIBPROCESS_PORT`, `LIBPROCESS_ADVERTISE_IP`,
    /// `LIBPROCESS_ADVERTISE_PORT` and
    /// `LIBPROCESS_REQUIRE_PEER_ADDRESS_IP_MATCH`.
    pub fn from_env() -> Result<Self, InitError> {
        fn var<T: std::str::FromStr>(name: &'static str) -> Result<Option<T>, InitError> {
            match std::env::var(name) {
                Ok(value) if !value.is_empty() => value
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| InitError::Env { name, value }),
                _ => Ok(None),
            }
        }
        let require = match std::env::var("LIBPROCESS_REQUIRE_PEER_ADDRESS_IP_MATCH") {
            Ok(v) if !v.is_empty() => crate::flags::parse_bool(&v).ok_or(InitError::Env {
                name: "LIBPROCESS_REQUIRE_PEER_ADDRESS_IP_MATCH",
                value: v,
            })?,
            _ => false,
        };
        Ok(Self {
            ip: var("LIBPROCESS_IP")?.unwrap_or(Ipv4Addr::UNSPECIFIED),
            port: var("LIBPROCESS_PORT")?.unwrap_or(0),
            advertise_ip: var("LIBPROCESS_ADVERTISE_IP")?,
            advertise_port: var("LIBPROCESS_ADVERTISE_PORT")?,
            require_peer_address_ip_match: require,
            limits: Limits::default(),
        })
    }
}

/// A handle to a libprocess runtime; clones share it.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The address in this runtime's UPIDs.
    advertised: SocketAddrV4,
    /// The address bound.
    bound: SocketAddrV4,
    pub(crate) config: Config,
    processes: DashMap<Arc<str>, Entry>,
    generation: std::sync::atomic::AtomicU64,
    /// Linkee id → ids of local processes linked to it.
    local_links: Mutex<HashMap<Arc<str>, HashSet<Arc<str>>>>,
    /// Process id → waiters for its termination.
    waiters: Mutex<HashMap<Arc<str>, Vec<oneshot::Sender<()>>>>,
    builtins: DashMap<String, HashMap<String, BuiltinHandler>>,
    /// Process id → its request-streaming endpoints.
    streaming: DashMap<String, HashMap<String, StreamPredicate>>,
    delegate: RwLock<Option<String>>,
    filter: RwLock<Option<Filter>>,
    /// Endpoints disabled by `--firewall_rules`.
    firewall: RwLock<Arc<std::collections::HashSet<String>>>,
    pub(crate) sockets: transport::SocketManager,
    metrics: Metrics,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Inbound connection tasks, closed by `shutdown` as an exiting OS
    /// process closes its sockets.
    inbound: Mutex<Vec<tokio::task::AbortHandle>>,
    /// The I/O runtime its connections run on.
    pub(crate) io: tokio::runtime::Handle,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The tokio runtime all libprocess network I/O of this OS process runs
/// on, built by the first libprocess runtime started and kept for the
/// life of the process (later runtimes share it, whichever constructor
/// they use).
static IO: OnceLock<tokio::runtime::Handle> = OnceLock::new();

/// Builds the I/O runtime of [`Runtime::new`]: tokio's multi-threaded
/// scheduler with `LIBPROCESS_NUM_WORKER_THREADS` workers (default: the
/// cores, at most 4).
fn io_workers() -> tokio::runtime::Handle {
    let workers = std::env::var("LIBPROCESS_NUM_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get().min(4)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("libprocess-io")
        .enable_io()
        .enable_time()
        .build()
        .expect("building the libprocess I/O runtime at start-up");
    let handle = runtime.handle().clone();
    // It serves every runtime of this OS process until it exits.
    std::mem::forget(runtime);
    handle
}

/// Builds the I/O runtime of [`Runtime::new_single_threaded`]: tokio's
/// current-thread scheduler, driven by one dedicated thread that does
/// nothing else. One thread and stack fewer than the smallest pool, and
/// the multi-threaded scheduler's code (its worker loop, work stealing)
/// never runs, so its pages are never loaded: the command executor, whose
/// one connection to its agent needs no more, runs in less memory.
fn io_thread() -> tokio::runtime::Handle {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .expect("building the libprocess I/O runtime at start-up");
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("libprocess-io".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .expect("starting the libprocess I/O thread at start-up");
    handle
}

impl Runtime {
    /// Binds the socket described by `config` and starts serving it. Its
    /// network I/O runs on `LIBPROCESS_NUM_WORKER_THREADS` threads (tokio's
    /// multi-threaded scheduler), unless an earlier runtime of this OS
    /// process chose otherwise.
    pub fn new(config: Config) -> Result<Self, InitError> {
        Self::start(config, IO.get_or_init(io_workers))
    }

    /// As [`Runtime::new`], with the network I/O on one dedicated thread
    /// (`LIBPROCESS_NUM_WORKER_THREADS` is not read), unless an earlier
    /// runtime of this OS process chose otherwise. For processes that talk
    /// to one or two peers: the command executor.
    pub fn new_single_threaded(config: Config) -> Result<Self, InitError> {
        Self::start(config, IO.get_or_init(io_thread))
    }

    fn start(config: Config, io: &tokio::runtime::Handle) -> Result<Self, InitError> {
        let requested = SocketAddrV4::new(config.ip, config.port);
        let listener = {
            let _guard = io.enter();
            tokio::net::TcpSocket::new_v4()
                .and_then(|s| s.set_reuseaddr(true).map(|()| s))
                .and_then(|s| s.bind(requested.into()).map(|()| s))
                .and_then(|s| s.listen(1024))
                .map_err(|source| InitError::Bind {
                    addr: requested,
                    source,
                })?
        };
        let bound = match listener.local_addr() {
            Ok(std::net::SocketAddr::V4(addr)) => addr,
            Ok(other) => {
                return Err(InitError::Bind {
                    addr: requested,
                    source: std::io::Error::other(format!("bound a non-IPv4 address {other}")),
                })
            }
            Err(source) => {
                return Err(InitError::Bind {
                    addr: requested,
                    source,
                })
            }
        };
        let mut ip = config.advertise_ip.unwrap_or(*bound.ip());
        if ip.is_unspecified() {
            ip = hostname_ip()?;
        }
        let advertised = SocketAddrV4::new(ip, config.advertise_port.unwrap_or(bound.port()));

        let runtime = Self {
            inner: Arc::new(Inner {
                advertised,
                bound,
                config,
                processes: DashMap::new(),
                generation: std::sync::atomic::AtomicU64::new(1),
                local_links: Mutex::new(HashMap::new()),
                waiters: Mutex::new(HashMap::new()),
                builtins: DashMap::new(),
                streaming: DashMap::new(),
                delegate: RwLock::new(None),
                filter: RwLock::new(None),
                firewall: RwLock::default(),
                sockets: transport::SocketManager::default(),
                metrics: Metrics::default(),
                server: Mutex::new(None),
                inbound: Mutex::new(Vec::new()),
                io: io.clone(),
            }),
        };
        runtime.install_builtins();
        let server = io.spawn(transport::serve(runtime.downgrade(), listener));
        *lock(&runtime.inner.server) = Some(server);
        tracing::debug!(%advertised, %bound, "libprocess runtime started");
        Ok(runtime)
    }

    pub(crate) fn downgrade(&self) -> WeakRuntime {
        WeakRuntime(Arc::downgrade(&self.inner))
    }

    /// Returns the address in this runtime's UPIDs.
    pub fn address(&self) -> SocketAddrV4 {
        self.inner.advertised
    }

    /// Returns the address the socket is bound to.
    pub fn bound_address(&self) -> SocketAddrV4 {
        self.inner.bound
    }

    /// Returns the metrics registry behind `/metrics/snapshot`.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Sets the process that serves paths naming no process (upstream's
    /// `process::initialize(delegate)`: `master`, or `slave(1)`).
    pub fn set_delegate(&self, id: Option<&str>) {
        *self
            .inner
            .delegate
            .write()
            .unwrap_or_else(|p| p.into_inner()) = id.map(str::to_string);
    }

    /// Installs a test filter on everything delivered to local processes.
    pub fn set_filter(&self, filter: Option<Filter>) {
        *self.inner.filter.write().unwrap_or_else(|p| p.into_inner()) = filter;
    }

    /// Disables the endpoints at `paths` (upstream
    /// `process::firewall::install` with a `DisabledEndpointsFirewallRule`):
    /// a request for one of them answers `403`.
    pub fn set_disabled_endpoints(&self, paths: std::collections::HashSet<String>) {
        *self
            .inner
            .firewall
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(paths);
    }

    /// Serves `endpoint` of pseudo-process `id` without an actor.
    pub fn route_builtin(&self, id: &str, endpoint: &str, handler: BuiltinHandler) {
        let endpoint = if endpoint.starts_with('/') {
            endpoint.to_string()
        } else {
            format!("/{endpoint}")
        };
        self.inner
            .builtins
            .entry(id.to_string())
            .or_default()
            .insert(endpoint, handler);
    }

    /// Puts `guard` in front of built-in endpoint `endpoint` of process
    /// `id` (e.g. `metrics`, `/snapshot`): a request it refuses gets its
    /// answer (upstream authenticates libprocess's own endpoints in the
    /// realm the master or agent gives `process::initialize`).
    pub fn guard_builtin(&self, id: &str, endpoint: &str, guard: BuiltinGuard) {
        let Some(mut routes) = self.inner.builtins.get_mut(id) else {
            return;
        };
        let Some(handler) = routes.get(endpoint).cloned() else {
            return;
        };
        routes.insert(
            endpoint.to_string(),
            Arc::new(move |request: Request| match guard(&request) {
                Ok(()) => handler(request),
                Err(response) => Box::pin(async move { response }),
            }),
        );
    }

    /// Marks `endpoint` of process `id` as streaming request bodies for
    /// the requests `predicate` accepts (see `ProcessBase::route_streaming`).
    pub(crate) fn set_streaming(&self, id: &str, endpoint: String, predicate: StreamPredicate) {
        self.inner
            .streaming
            .entry(id.to_string())
            .or_default()
            .insert(endpoint, predicate);
    }

    /// Returns whether `request` (its head) goes to a route that streams
    /// its body, resolving the process as [`Runtime::handle_http`] does.
    pub fn wants_streaming(&self, request: &Request) -> bool {
        if self.inner.streaming.is_empty() || request.path.contains("/..") {
            return false;
        }
        let trimmed = request.path.strip_prefix('/').unwrap_or(&request.path);
        let (first, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        let id = crate::http::percent_decode(first);
        let (id, endpoint) = if !id.is_empty() && self.inner.processes.contains_key(id.as_str()) {
            (id, format!("/{rest}"))
        } else {
            match self
                .inner
                .delegate
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
            {
                Some(delegate) => (delegate, request.path.clone()),
                None => return false,
            }
        };
        let Some(routes) = self.inner.streaming.get(&id) else {
            return false;
        };
        let mut name = format!("/{}", endpoint.trim_matches('/'));
        loop {
            if let Some(predicate) = routes.get(&name) {
                return predicate(request);
            }
            match name.rfind('/') {
                Some(0) if name.len() > 1 => name.truncate(1),
                Some(0) | None => return false,
                Some(index) => name.truncate(index),
            }
        }
    }

    /// Serves `value` at `/version` (Mesos' version JSON).
    pub fn set_version(&self, value: serde_json::Value) {
        let body = mesos_proto::json::render(&value);
        self.route_builtin(
            "version",
            "/",
            Arc::new(move |request: Request| {
                let response = Response::json(body.clone(), request.query_param("jsonp"));
                Box::pin(async move { response })
            }),
        );
    }

    fn install_builtins(&self) {
        self.route_builtin("logging", "/toggle", crate::logging::handler());
        let weak = self.downgrade();
        self.route_builtin(
            "metrics",
            "/snapshot",
            Arc::new(move |request: Request| {
                let body = weak
                    .upgrade()
                    .map(|rt| rt.inner.metrics.snapshot_json())
                    .unwrap_or_default();
                let response = Response::json(body, request.query_param("jsonp"));
                Box::pin(async move { response })
            }),
        );
    }

    /// Returns whether `to` lives in this runtime.
    pub fn is_local(&self, to: &UPID) -> bool {
        let addr = to.address();
        addr == self.inner.advertised
            || addr == self.inner.bound
            || (to.port == self.inner.bound.port()
                && (self.inner.bound.ip().is_unspecified() && to.ip.is_loopback()))
    }

    /// Spawns `actor` on the current actix arbiter. Fails when its id is
    /// taken. Must be called inside an actix system.
    pub fn spawn<A: Process>(&self, mut actor: A) -> Result<PID<A>, SpawnError> {
        let id = actor.base().id_arc();
        let upid = UPID::new(id.clone(), self.inner.advertised);
        let ctx: Context<A> = Context::new();
        let addr = ctx.address();
        let queue = actor.base().event_queue().clone();
        let generation = self.register(&id, addr.clone().recipient(), &queue)?;
        let registration = Registration {
            runtime: self.downgrade(),
            id,
            generation,
        };
        actor
            .base_mut()
            .attach(self.clone(), upid.clone(), registration, queue.clone());
        addr.do_send(Dispatch(Box::new(|actor: &mut A, ctx: &mut Context<A>| {
            actor.initialize(ctx)
        })));
        ctx.run(actor);
        Ok(PID::new(upid, addr, queue))
    }

    /// Spawns the actor `make` builds on `arbiter`'s thread.
    pub fn spawn_in<A: Process>(
        &self,
        arbiter: &actix::ArbiterHandle,
        id: &str,
        make: impl FnOnce() -> A + Send + 'static,
    ) -> Result<PID<A>, SpawnError> {
        let id: Arc<str> = Arc::from(id);
        let upid = UPID::new(id.clone(), self.inner.advertised);
        let generation = self.next_generation();
        let runtime = self.clone();
        let pid_for_actor = upid.clone();
        let id_for_actor = id.clone();
        let queue = Arc::new(EventQueue::default());
        let queue_for_actor = queue.clone();
        let addr = A::start_in_arbiter(arbiter, move |ctx: &mut Context<A>| {
            let mut actor = make();
            let registration = Registration {
                runtime: runtime.downgrade(),
                id: id_for_actor,
                generation,
            };
            actor
                .base_mut()
                .attach(runtime, pid_for_actor, registration, queue_for_actor);
            actor.initialize(ctx);
            actor
        });
        if let Err(error) = self.insert(&id, addr.clone().recipient(), &queue, generation) {
            addr.do_send(Dispatch(Box::new(|_: &mut A, ctx: &mut Context<A>| {
                actix::ActorContext::stop(ctx)
            })));
            return Err(error);
        }
        Ok(PID::new(upid, addr, queue))
    }

    fn next_generation(&self) -> u64 {
        self.inner
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    fn register(
        &self,
        id: &Arc<str>,
        recipient: Recipient<Delivered>,
        queue: &Arc<EventQueue>,
    ) -> Result<u64, SpawnError> {
        let generation = self.next_generation();
        self.insert(id, recipient, queue, generation)
            .map(|()| generation)
    }

    fn insert(
        &self,
        id: &Arc<str>,
        recipient: Recipient<Delivered>,
        queue: &Arc<EventQueue>,
        generation: u64,
    ) -> Result<(), SpawnError> {
        match self.inner.processes.entry(id.clone()) {
            dashmap::mapref::entry::Entry::Occupied(_) => {
                Err(SpawnError::Duplicate(id.to_string()))
            }
            dashmap::mapref::entry::Entry::Vacant(entry) => {
                entry.insert(Entry {
                    recipient,
                    queue: queue.clone(),
                    generation,
                });
                Ok(())
            }
        }
    }

    /// Returns whether a process with `id` is running here.
    pub fn has_process(&self, id: &str) -> bool {
        self.inner.processes.contains_key(id)
    }

    /// Returns the ids of the running processes.
    pub fn process_ids(&self) -> Vec<String> {
        self.inner
            .processes
            .iter()
            .map(|e| e.key().to_string())
            .collect()
    }

    /// Resolves once process `id` has terminated (at once if it is not
    /// running).
    pub fn wait(&self, id: &str) -> impl Future<Output = ()> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        {
            let mut waiters = lock(&self.inner.waiters);
            if self.inner.processes.contains_key(id) {
                waiters.entry(Arc::from(id)).or_default().push(tx);
            } else {
                let _ = tx.send(());
            }
        }
        async move {
            let _ = rx.await;
        }
    }

    /// Sends message `name` from `from` (a process of this runtime) to `to`.
    pub fn send(&self, from: &UPID, to: &UPID, name: &str, body: Bytes) {
        if self.is_local(to) {
            let event = Event::Message(MessageEvent {
                from: from.clone(),
                name: name.to_string(),
                body,
            });
            if !self.deliver(&to.id, event) {
                tracing::debug!(%to, %name, "Dropping message for unknown local process");
            }
        } else {
            let bytes = transport::encode_message(from, to, name, &body);
            self.inner.sockets.send(self, to.address(), bytes);
        }
    }

    /// Delivers `event` to local process `id`; returns whether it exists.
    pub(crate) fn deliver(&self, id: &str, event: Event) -> bool {
        let Some((recipient, queue)) = self
            .inner
            .processes
            .get(id)
            .map(|r| (r.value().recipient.clone(), r.value().queue.clone()))
        else {
            return false;
        };
        if let Some(filter) = self
            .inner
            .filter
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            let to = UPID::new(id.to_string(), self.inner.advertised);
            if filter(&to, &event) {
                return true;
            }
        }
        recipient.do_send(Delivered::new(event, &queue));
        true
    }

    /// Links local process `linker` to `to` (see [`crate::ProcessBase::link`]).
    pub(crate) fn link(&self, linker: &Arc<str>, to: &UPID, reconnect: bool) {
        if self.is_local(to) {
            if !self.inner.processes.contains_key(&*to.id) {
                self.deliver(linker, Event::Exited(to.clone()));
                return;
            }
            lock(&self.inner.local_links)
                .entry(to.id.clone())
                .or_default()
                .insert(linker.clone());
            // It may have gone between the check and the insert.
            if !self.inner.processes.contains_key(&*to.id) {
                self.notify_terminated(&to.id);
            }
        } else {
            self.inner.sockets.link(self, linker, to, reconnect);
        }
    }

    /// Unregisters process `id` (this generation of it) and tells its
    /// linkers and waiters.
    fn process_terminated(&self, id: &Arc<str>, generation: u64) {
        if self
            .inner
            .processes
            .remove_if(id, |_, e| e.generation == generation)
            .is_some()
        {
            self.notify_terminated(id);
        }
    }

    fn notify_terminated(&self, id: &Arc<str>) {
        let linkers = lock(&self.inner.local_links).remove(id).unwrap_or_default();
        let upid = UPID::new(id.clone(), self.inner.advertised);
        for linker in linkers {
            self.deliver(&linker, Event::Exited(upid.clone()));
        }
        for waiter in lock(&self.inner.waiters).remove(id).unwrap_or_default() {
            let _ = waiter.send(());
        }
    }

    /// Answers an HTTP request as upstream's `ProcessManager::handle` does.
    pub async fn handle_http(&self, request: Request) -> Response {
        if request.path.contains("/..") {
            return Response::not_found("");
        }
        let disabled = self
            .inner
            .firewall
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(refused) = crate::firewall::refuse(&disabled, &request.path) {
            return refused;
        }
        if request.path == "/__processes__" {
            return self.processes_json(&request);
        }
        let path = request.path.clone();
        let trimmed = path.strip_prefix('/').unwrap_or(&path);
        let (first, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        let id = crate::http::percent_decode(first);

        if !id.is_empty() && self.inner.processes.contains_key(id.as_str()) {
            return self.dispatch_http(&id, format!("/{rest}"), request).await;
        }
        if let Some(handler) = self.find_builtin(&id, rest) {
            return handler(request).await;
        }
        let delegate = self
            .inner
            .delegate
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match delegate {
            Some(delegate) if self.inner.processes.contains_key(delegate.as_str()) => {
                self.dispatch_http(&delegate, path, request).await
            }
            _ => Response::not_found(""),
        }
    }

    fn find_builtin(&self, id: &str, rest: &str) -> Option<BuiltinHandler> {
        let routes = self.inner.builtins.get(id)?;
        let mut name = format!("/{}", rest.trim_end_matches('/'));
        loop {
            if let Some(handler) = routes.get(&name) {
                return Some(handler.clone());
            }
            match name.rfind('/') {
                Some(0) if name.len() > 1 => name.truncate(1),
                Some(0) | None => return None,
                Some(index) => name.truncate(index),
            }
        }
    }

    async fn dispatch_http(&self, id: &str, endpoint: String, request: Request) -> Response {
        let (reply, response) = oneshot::channel();
        if !self.deliver(
            id,
            Event::Http(HttpEvent {
                request,
                endpoint,
                reply,
            }),
        ) {
            return Response::not_found("");
        }
        response
            .await
            .unwrap_or_else(|_| Response::status(503).with_body("text/plain", "Process terminated"))
    }

    fn processes_json(&self, request: &Request) -> Response {
        let mut ids = self.process_ids();
        ids.sort();
        let array = ids
            .into_iter()
            .map(|id| serde_json::json!({"id": id, "events": []}))
            .collect::<Vec<_>>();
        Response::json(
            mesos_proto::json::render(&serde_json::Value::Array(array)),
            request.query_param("jsonp"),
        )
    }

    /// Stops serving: closes the listening socket and every inbound and
    /// outbound connection, as an exiting OS process would. Processes keep
    /// running but can no longer reach other OS processes.
    pub fn shutdown(&self) {
        if let Some(server) = lock(&self.inner.server).take() {
            server.abort();
        }
        for connection in lock(&self.inner.inbound).drain(..) {
            connection.abort();
        }
        self.inner.sockets.close_all();
    }

    /// Tracks an inbound connection task so `shutdown` can close it.
    pub(crate) fn track_inbound(&self, task: tokio::task::AbortHandle) {
        let mut inbound = lock(&self.inner.inbound);
        inbound.retain(|t| !t.is_finished());
        inbound.push(task);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(server) = lock(&self.server).take() {
            server.abort();
        }
        for connection in lock(&self.inbound).drain(..) {
            connection.abort();
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Runtime({})", self.inner.advertised)
    }
}

/// A weak handle, held by I/O tasks so they do not keep a runtime alive.
#[derive(Clone)]
pub(crate) struct WeakRuntime(std::sync::Weak<Inner>);

impl WeakRuntime {
    pub(crate) fn upgrade(&self) -> Option<Runtime> {
        self.0.upgrade().map(|inner| Runtime { inner })
    }
}

struct Entry {
    recipient: Recipient<Delivered>,
    queue: Arc<EventQueue>,
    generation: u64,
}

/// Unregisters a process when its actor is dropped.
pub(crate) struct Registration {
    runtime: WeakRuntime,
    id: Arc<str>,
    generation: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.upgrade() {
            runtime.process_terminated(&self.id, self.generation);
        }
    }
}

/// Why a process could not be spawned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// A process with this id is running.
    #[error("a process with id '{0}' already exists")]
    Duplicate(String),
}

fn hostname_ip() -> Result<Ipv4Addr, InitError> {
    let hostname = crate::os::hostname()
        .map_err(|e| InitError::Advertise(format!("failed to read the host name: {e}")))?;
    crate::pid::resolve(&hostname).map_err(|e| InitError::Advertise(e.to_string()))
}
