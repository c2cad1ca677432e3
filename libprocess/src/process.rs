//! Processes: actix actors with a libprocess identity.
//!
//! Upstream counterpart: `3rdparty/libprocess/include/process/process.hpp`
//! (`ProcessBase`, `install`, `route`, `link`, `exited`) and
//! `include/process/protobuf.hpp` (`ProtobufProcess::install<M>`).
//!
//! A process is an actix [`Actor`] that embeds a [`ProcessBase`] and
//! implements [`Process`]; [`crate::process_handlers!`] supplies the two
//! actix handlers that feed it [`Event`]s and [`Dispatch`]es. Messages
//! arrive by name: [`ProcessBase::install`] decodes a protobuf and calls a
//! typed handler, [`ProcessBase::install_raw`] passes the raw body.
//! Endpoints are installed with [`ProcessBase::route`] and matched by
//! longest prefix. Messages from one sender arrive in the order sent.
//!
//! ```ignore
//! struct Pong { base: ProcessBase<Self> }
//! impl Actor for Pong { type Context = Context<Self>; }
//! impl Process for Pong {
//!     fn base(&self) -> &ProcessBase<Self> { &self.base }
//!     fn base_mut(&mut self) -> &mut ProcessBase<Self> { &mut self.base }
//!     fn initialize(&mut self, _ctx: &mut Context<Self>) {
//!         self.base.install::<Ping>(|this, _ctx, from, ping| this.base.send(&from, &ping));
//!     }
//! }
//! libprocess::process_handlers!(Pong);
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, Context, Handler};
use bytes::Bytes;
use futures::channel::oneshot;

use crate::clock::{self, Timer};
use crate::http::{Request, Response};
use crate::runtime::{Registration, Runtime};
use crate::UPID;

/// A message delivered to a process.
#[derive(Debug, Clone)]
pub struct MessageEvent {
    /// The sender.
    pub from: UPID,
    /// The message name: a protobuf full type name, or any string.
    pub name: String,
    /// The body (a serialized protobuf for typed messages).
    pub body: Bytes,
}

/// An HTTP request delivered to a process endpoint.
#[derive(Debug)]
pub struct HttpEvent {
    /// The request.
    pub request: Request,
    /// The path within the process, e.g. `/api/v1/scheduler`.
    pub endpoint: String,
    pub(crate) reply: oneshot::Sender<Response>,
}

/// What the runtime delivers to a process.
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub enum Event {
    /// A message.
    Message(MessageEvent),
    /// An HTTP request for one of its endpoints.
    Http(HttpEvent),
    /// A linked process (or its whole OS process) went away.
    Exited(UPID),
}

/// An [`Event`] the runtime delivers, counted in its process's
/// [`EventQueue`] until the process takes it.
pub struct Delivered {
    event: Event,
    _queued: Queued,
}

impl actix::Message for Delivered {
    type Result = ();
}

impl Delivered {
    pub(crate) fn new(event: Event, queue: &Arc<EventQueue>) -> Self {
        let kind = match &event {
            Event::Message(_) => Kind::Message,
            Event::Http(_) => Kind::Http,
            Event::Exited(_) => Kind::Uncounted,
        };
        Self {
            event,
            _queued: Queued::new(queue, kind),
        }
    }

    /// Takes the event out of the queue.
    pub fn into_event(self) -> Event {
        self.event
    }
}

/// How many events wait in a process's queue, by kind: upstream's
/// `ProcessBase::eventCount<MessageEvent | DispatchEvent | HttpEvent>`,
/// behind gauges such as `master/event_queue_messages`. Messages and HTTP
/// requests are counted from the runtime's delivery until the process
/// takes them; dispatches when made through [`ProcessBase::dispatch`],
/// [`ProcessBase::delay`] (once the timer fires) or a [`PID`], not the
/// plain [`Dispatch`] message an [`Addr`] is sent.
#[derive(Debug, Default)]
pub struct EventQueue {
    messages: AtomicUsize,
    http_requests: AtomicUsize,
    dispatches: AtomicUsize,
}

impl EventQueue {
    /// Messages waiting.
    pub fn messages(&self) -> usize {
        self.messages.load(Ordering::Relaxed)
    }

    /// HTTP requests waiting.
    pub fn http_requests(&self) -> usize {
        self.http_requests.load(Ordering::Relaxed)
    }

    /// Dispatches waiting.
    pub fn dispatches(&self) -> usize {
        self.dispatches.load(Ordering::Relaxed)
    }

    fn counter(&self, kind: Kind) -> Option<&AtomicUsize> {
        match kind {
            Kind::Message => Some(&self.messages),
            Kind::Http => Some(&self.http_requests),
            Kind::Dispatch => Some(&self.dispatches),
            Kind::Uncounted => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Message,
    Http,
    Dispatch,
    Uncounted,
}

/// One event in an [`EventQueue`], from its making until it is dropped.
struct Queued {
    queue: Arc<EventQueue>,
    kind: Kind,
}

impl Queued {
    fn new(queue: &Arc<EventQueue>, kind: Kind) -> Self {
        if let Some(counter) = queue.counter(kind) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Self {
            queue: queue.clone(),
            kind,
        }
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        if let Some(counter) = self.queue.counter(self.kind) {
            counter.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The closure inside a [`Dispatch`].
pub type DispatchFn<A> = Box<dyn FnOnce(&mut A, &mut <A as Actor>::Context) + Send>;

/// A closure to run inside process `A` (upstream's `dispatch`).
pub struct Dispatch<A: Actor>(pub DispatchFn<A>);

impl<A: Actor> actix::Message for Dispatch<A> {
    type Result = ();
}

/// A [`Dispatch`] counted in its process's [`EventQueue`] until it runs.
pub struct QueuedDispatch<A: Actor> {
    f: DispatchFn<A>,
    _queued: Queued,
}

impl<A: Actor> actix::Message for QueuedDispatch<A> {
    type Result = ();
}

impl<A: Actor> QueuedDispatch<A> {
    fn new(queue: &Arc<EventQueue>, f: DispatchFn<A>) -> Self {
        Self {
            f,
            _queued: Queued::new(queue, Kind::Dispatch),
        }
    }

    /// Takes the closure out of the queue.
    pub fn into_fn(self) -> DispatchFn<A> {
        self.f
    }
}

/// The future an endpoint handler returns.
pub type HttpFuture = Pin<Box<dyn Future<Output = Response>>>;

type MessageHandler<A> = Rc<dyn Fn(&mut A, &mut Context<A>, MessageEvent)>;
type HttpHandler<A> = Rc<dyn Fn(&mut A, &mut Context<A>, Request) -> HttpFuture>;

/// A libprocess process. Implement it and invoke
/// [`crate::process_handlers!`] for the type.
pub trait Process:
    Actor<Context = Context<Self>>
    + Handler<Event>
    + Handler<Delivered>
    + Handler<Dispatch<Self>>
    + Handler<QueuedDispatch<Self>>
{
    /// Returns the embedded process state.
    fn base(&self) -> &ProcessBase<Self>;

    /// Returns the embedded process state, mutably.
    fn base_mut(&mut self) -> &mut ProcessBase<Self>;

    /// Runs once, before any message: install handlers and routes here.
    fn initialize(&mut self, ctx: &mut Context<Self>) {
        let _ = ctx;
    }

    /// Called when a linked process, or the connection to its OS process,
    /// goes away.
    fn exited(&mut self, pid: &UPID, ctx: &mut Context<Self>) {
        let _ = (pid, ctx);
    }

    /// Called for a message without an installed handler; upstream drops
    /// those silently.
    fn unhandled(&mut self, event: MessageEvent, ctx: &mut Context<Self>) {
        let _ = ctx;
        tracing::debug!(from = %event.from, name = %event.name, "Dropping message without a handler");
    }
}

/// Implements the actix handlers that drive a [`Process`].
#[macro_export]
macro_rules! process_handlers {
    ($t:ty) => {
        impl $crate::actix::Handler<$crate::Event> for $t {
            type Result = ();
            fn handle(&mut self, event: $crate::Event, ctx: &mut $crate::actix::Context<Self>) {
                $crate::process::handle_event(self, event, ctx)
            }
        }
        impl $crate::actix::Handler<$crate::process::Delivered> for $t {
            type Result = ();
            fn handle(
                &mut self,
                delivered: $crate::process::Delivered,
                ctx: &mut $crate::actix::Context<Self>,
            ) {
                $crate::process::handle_event(self, delivered.into_event(), ctx)
            }
        }
        impl $crate::actix::Handler<$crate::process::QueuedDispatch<$t>> for $t {
            type Result = ();
            fn handle(
                &mut self,
                dispatch: $crate::process::QueuedDispatch<$t>,
                ctx: &mut $crate::actix::Context<Self>,
            ) {
                (dispatch.into_fn())(self, ctx)
            }
        }
        impl $crate::actix::Handler<$crate::Dispatch<$t>> for $t {
            type Result = ();
            fn handle(
                &mut self,
                dispatch: $crate::Dispatch<$t>,
                ctx: &mut $crate::actix::Context<Self>,
            ) {
                (dispatch.0)(self, ctx)
            }
        }
    };
}

/// Routes one event to the process's handlers.
pub fn handle_event<A: Process>(actor: &mut A, event: Event, ctx: &mut Context<A>) {
    match event {
        Event::Message(message) => {
            let handler = actor.base().handlers.get(message.name.as_str()).cloned();
            match handler {
                Some(handler) => handler(actor, ctx, message),
                None => actor.unhandled(message, ctx),
            }
        }
        Event::Http(http) => {
            let HttpEvent {
                request,
                endpoint,
                reply,
            } = http;
            match actor.base().find_route(&endpoint) {
                Some(route) => {
                    let response = route(actor, ctx, request);
                    actix::spawn(async move {
                        let _ = reply.send(response.await);
                    });
                }
                None => {
                    let _ = reply.send(Response::not_found(""));
                }
            }
        }
        Event::Exited(pid) => actor.exited(&pid, ctx),
    }
}

/// The libprocess identity and tables a process embeds (upstream's
/// `ProcessBase`).
pub struct ProcessBase<A: Process> {
    id: Arc<str>,
    pid: UPID,
    runtime: Option<Runtime>,
    registration: Option<Registration>,
    handlers: HashMap<String, MessageHandler<A>>,
    routes: HashMap<String, HttpHandler<A>>,
    queue: Arc<EventQueue>,
}

impl<A: Process> ProcessBase<A> {
    /// Returns process state for id `id` (see [`crate::id::generate`]).
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: Arc::from(id.into()),
            pid: UPID::empty(),
            runtime: None,
            registration: None,
            handlers: HashMap::new(),
            routes: HashMap::new(),
            queue: Arc::default(),
        }
    }

    /// Returns the process id.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn id_arc(&self) -> Arc<str> {
        self.id.clone()
    }

    /// Returns this process's UPID (empty before it is spawned).
    pub fn self_pid(&self) -> &UPID {
        &self.pid
    }

    /// Returns the runtime the process was spawned on.
    pub fn runtime(&self) -> Option<&Runtime> {
        self.runtime.as_ref()
    }

    pub(crate) fn attach(
        &mut self,
        runtime: Runtime,
        pid: UPID,
        registration: Registration,
        queue: Arc<EventQueue>,
    ) {
        self.runtime = Some(runtime);
        self.pid = pid;
        self.registration = Some(registration);
        self.queue = queue;
    }

    /// Returns the process's event queue counts.
    pub fn event_queue(&self) -> &Arc<EventQueue> {
        &self.queue
    }

    /// Runs `f` inside the process at `addr` (this process's address),
    /// after the events already queued, counted as a dispatch in its
    /// [`EventQueue`] (upstream's `dispatch(self(), ...)`).
    pub fn dispatch(
        &self,
        addr: &Addr<A>,
        f: impl FnOnce(&mut A, &mut Context<A>) + Send + 'static,
    ) {
        addr.do_send(QueuedDispatch::new(&self.queue, Box::new(f)));
    }

    /// Runs `f` inside the process at `addr` (this process's address) once
    /// `after` has passed, counted as a dispatch from then until it runs
    /// (upstream's `delay`).
    pub fn delay(
        &self,
        after: Duration,
        addr: &Addr<A>,
        f: impl FnOnce(&mut A, &mut Context<A>) + Send + 'static,
    ) -> Timer {
        let (addr, queue) = (addr.clone(), self.queue.clone());
        clock::timer(after, move || {
            addr.do_send(QueuedDispatch::new(&queue, Box::new(f)))
        })
    }

    /// Returns a handle to this process at `addr` (its address) whose
    /// dispatches are counted in its [`EventQueue`].
    pub fn handle(&self, addr: Addr<A>) -> PID<A> {
        PID::new(self.pid.clone(), addr, self.queue.clone())
    }

    /// Installs a handler for protobuf message `M`, by its full type name.
    /// A body that does not decode is logged and dropped, as upstream does.
    pub fn install<M>(&mut self, handler: impl Fn(&mut A, &mut Context<A>, UPID, M) + 'static)
    where
        M: prost::Message + prost::Name + Default,
    {
        let name = M::full_name();
        self.handlers.insert(
            name.clone(),
            Rc::new(move |actor, ctx, event: MessageEvent| match M::decode(event.body) {
                Ok(message) => handler(actor, ctx, event.from, message),
                Err(error) => {
                    tracing::warn!(from = %event.from, %name, %error, "Dropping message that failed to parse");
                }
            }),
        );
    }

    /// Installs a handler for message `name` taking the raw event.
    pub fn install_raw(
        &mut self,
        name: &str,
        handler: impl Fn(&mut A, &mut Context<A>, MessageEvent) + 'static,
    ) {
        self.handlers.insert(name.to_string(), Rc::new(handler));
    }

    /// Installs an endpoint, e.g. `/state`. Requests for `/state/x` reach it
    /// too unless a longer route matches.
    pub fn route(
        &mut self,
        endpoint: &str,
        handler: impl Fn(&mut A, &mut Context<A>, Request) -> HttpFuture + 'static,
    ) {
        self.routes
            .insert(normalize_endpoint(endpoint), Rc::new(handler));
    }

    /// Installs an endpoint that receives the bodies of the requests
    /// `stream` accepts as they arrive (upstream's
    /// `RouteOptions::requestStreaming`): the handler runs once the head
    /// is in, and reads the body through [`Request::body_reader`] while
    /// the connection stays open. Other requests arrive whole, as with
    /// [`ProcessBase::route`]. A response given before the body has ended
    /// closes the connection after it.
    pub fn route_streaming(
        &mut self,
        endpoint: &str,
        stream: impl Fn(&Request) -> bool + Send + Sync + 'static,
        handler: impl Fn(&mut A, &mut Context<A>, Request) -> HttpFuture + 'static,
    ) {
        let endpoint = normalize_endpoint(endpoint);
        if let Some(runtime) = &self.runtime {
            runtime.set_streaming(&self.id, endpoint.clone(), Arc::new(stream));
        } else {
            tracing::warn!(%endpoint, "Streaming route installed before spawn streams nothing");
        }
        self.routes.insert(endpoint, Rc::new(handler));
    }

    /// Installs an endpoint whose response is ready at once.
    pub fn route_sync(
        &mut self,
        endpoint: &str,
        handler: impl Fn(&mut A, &mut Context<A>, Request) -> Response + 'static,
    ) {
        self.route(endpoint, move |actor, ctx, request| {
            let response = handler(actor, ctx, request);
            Box::pin(async move { response })
        });
    }

    fn find_route(&self, endpoint: &str) -> Option<HttpHandler<A>> {
        let mut name = normalize_endpoint(endpoint);
        loop {
            if let Some(route) = self.routes.get(&name) {
                return Some(route.clone());
            }
            match name.rfind('/') {
                Some(0) if name.len() > 1 => name.truncate(1),
                Some(0) | None => return None,
                Some(index) => name.truncate(index),
            }
        }
    }

    /// Sends protobuf `message` to `to`, named by its full type name.
    /// Sending from a process that is not spawned is logged and dropped.
    pub fn send<M: mesos_proto::Message>(&self, to: &UPID, message: &M) {
        let body = Bytes::from(message.encode_to_vec());
        if let Err(error) = self.send_raw(to, &M::full_name(), body) {
            tracing::error!(%to, name = %M::full_name(), %error, "Dropping message");
        }
    }

    /// Sends message `name` with a raw body to `to`.
    pub fn send_raw(&self, to: &UPID, name: &str, body: Bytes) -> Result<(), crate::SendError> {
        let runtime = self.runtime.as_ref().ok_or(crate::SendError::NotSpawned)?;
        runtime.send(&self.pid, to, name, body);
        Ok(())
    }

    /// Links to `to`: when it (or the connection to its OS process) goes
    /// away, [`Process::exited`] is called with its UPID.
    pub fn link(&self, to: &UPID) {
        if let Some(runtime) = &self.runtime {
            runtime.link(&self.id, to, false);
        }
    }

    /// Links to `to` over a new connection, replacing an existing one
    /// without reporting it as exited (upstream's `link(to, RECONNECT)`).
    pub fn relink(&self, to: &UPID) {
        if let Some(runtime) = &self.runtime {
            runtime.link(&self.id, to, true);
        }
    }
}

fn normalize_endpoint(endpoint: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

/// A typed handle to a spawned process.
pub struct PID<A: Actor> {
    upid: UPID,
    addr: Addr<A>,
    queue: Arc<EventQueue>,
}

impl<A: Actor> Clone for PID<A> {
    fn clone(&self) -> Self {
        Self {
            upid: self.upid.clone(),
            addr: self.addr.clone(),
            queue: self.queue.clone(),
        }
    }
}

impl<A: Actor> std::fmt::Debug for PID<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PID({})", self.upid)
    }
}

/// The process terminated before it could answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("process terminated")]
pub struct Terminated;

impl<A: Process> PID<A> {
    pub(crate) fn new(upid: UPID, addr: Addr<A>, queue: Arc<EventQueue>) -> Self {
        Self { upid, addr, queue }
    }

    /// Returns the process's UPID.
    pub fn upid(&self) -> &UPID {
        &self.upid
    }

    /// Returns the actix address.
    pub fn addr(&self) -> &Addr<A> {
        &self.addr
    }

    /// Returns the process's event queue counts.
    pub fn event_queue(&self) -> &Arc<EventQueue> {
        &self.queue
    }

    /// Runs `f` inside the process, without waiting.
    pub fn dispatch(&self, f: impl FnOnce(&mut A, &mut Context<A>) + Send + 'static) {
        self.addr
            .do_send(QueuedDispatch::new(&self.queue, Box::new(f)));
    }

    /// Runs `f` inside the process and returns its result.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut A, &mut Context<A>) -> R + Send + 'static,
    ) -> Result<R, Terminated> {
        let (tx, rx) = oneshot::channel();
        self.dispatch(move |actor, ctx| {
            let _ = tx.send(f(actor, ctx));
        });
        rx.await.map_err(|_| Terminated)
    }

    /// Stops the process after the events already queued.
    pub fn terminate(&self) {
        self.dispatch(|_, ctx| actix::ActorContext::stop(ctx));
    }
}

/// Runs `f` inside the process at `addr` once `after` has passed on the
/// libprocess clock (upstream's `delay`).
pub fn delay<A: Process>(
    after: Duration,
    addr: &Addr<A>,
    f: impl FnOnce(&mut A, &mut Context<A>) + Send + 'static,
) -> Timer {
    let addr = addr.clone();
    clock::timer(after, move || addr.do_send(Dispatch(Box::new(f))))
}
