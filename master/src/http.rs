//! The master's classic HTTP endpoints (upstream `src/master/http.cpp`).
//!
//! Served: `/master/health`, `/master/flags`, `/master/redirect`,
//! `/master/teardown`, `/master/weights` ([`crate::weights`]), `/master/quota`
//! ([`crate::quota`]), `/master/maintenance/schedule`, `/maintenance/status`,
//! `/machine/down`, `/machine/up` ([`crate::maintenance`]), `/master/reserve`,
//! `/unreserve`, `/create-volumes`, `/destroy-volumes` ([`crate::operations`]),
//! `/api/v1` ([`crate::operator_api`]),
//! `/api/v1/scheduler` ([`crate::scheduler_http`]) and the read-only state
//! endpoints `/master/state`, `/state-summary`, `/frameworks`, `/slaves`,
//! `/tasks` and `/roles`, whose JSON [`crate::state_json`] writes; the
//! delegate serves each without the `/master` prefix too. `/version`
//! (upstream's `version` process) and `/metrics/snapshot` are libprocess
//! built-ins; the master sets the former to [`crate::version_json`].
//!
//! The read-only endpoints take any method and answer on the leader only:
//! before the registry is recovered (a standalone master is elected then)
//! they answer as `/master/redirect` does, `503 No leader elected`. Query
//! parameters come from a map upstream, so a repeated one takes its last
//! value; unparsable ones are ignored. Of the pre-1.8 `.json` aliases only
//! `/state.json` is routed (a deliberate extension: upstream 1.11 answers
//! `404`); the others are not (`404`), as in upstream 1.11.
//!
//! Authentication ([`crate::http_auth`]): the read-only endpoints are in
//! the `mesos-master-readonly` realm, the others but `/health`,
//! `/redirect` and `/api/v1/scheduler` in `mesos-master-readwrite`.

use libprocess::http::{Request, Response};
use serde_json::{Map, Value};

use crate::http_auth::Realm;
use crate::master::Master;
use crate::state_json;

type Ctx = actix::Context<Master>;

/// `handler` behind the HTTP authentication of `realm`
/// ([`crate::http_auth`]).
/// A file of the web UI for `request` (its path with or without the
/// `/master` prefix): `index.html` for the root, the file under `app/` or
/// `assets/` for those; `404` otherwise, or when it is not a file inside
/// the web UI's directory.
async fn webui_file(webui: &std::path::Path, request: &Request) -> Response {
    let path = request
        .path
        .strip_prefix("/master")
        .unwrap_or(&request.path);
    let relative = match path.trim_start_matches('/') {
        "" => "index.html".to_string(),
        rest if rest.starts_with("app/") || rest.starts_with("assets/") => {
            libprocess::http::percent_decode(rest)
        }
        _ => return Response::not_found(""),
    };
    let root = webui.to_path_buf();
    let read = tokio::task::spawn_blocking(move || -> Option<(Vec<u8>, String)> {
        let root = root.canonicalize().ok()?;
        let file = root.join(&relative).canonicalize().ok()?;
        if !file.starts_with(&root) || !file.is_file() {
            return None;
        }
        let name = file.file_name()?.to_string_lossy().into_owned();
        Some((std::fs::read(&file).ok()?, name))
    })
    .await
    .ok()
    .flatten();
    match read {
        Some((bytes, name)) => {
            Response::status(200).with_body(mesos_files::mime_type(&name), bytes)
        }
        None => Response::not_found(""),
    }
}

fn guarded(
    realm: Realm,
    handler: impl Fn(&mut Master, &mut Ctx, Request) -> libprocess::HttpFuture + 'static,
) -> impl Fn(&mut Master, &mut Ctx, Request) -> libprocess::HttpFuture + 'static {
    move |master, ctx, request| match master.http_auth.authenticate(realm, &request) {
        Ok(_) => handler(master, ctx, request),
        Err(response) => Box::pin(std::future::ready(response)),
    }
}

/// [`guarded`] for handlers that answer at once.
fn guarded_sync(
    realm: Realm,
    handler: impl Fn(&mut Master, &mut Ctx, Request) -> Response + 'static,
) -> impl Fn(&mut Master, &mut Ctx, Request) -> Response + 'static {
    move |master, ctx, request| match master.http_auth.authenticate(realm, &request) {
        Ok(_) => handler(master, ctx, request),
        Err(response) => response,
    }
}

/// Installs the endpoints on the master process.
pub fn install(master: &mut Master) {
    use Realm::{ReadOnly, ReadWrite};
    let webui = master.flags.webui_dir.clone();
    let base = libprocess::Process::base_mut(master);
    // The web UI's files (upstream's `provide("", index.html)`,
    // `provide("app", ..)` and `provide("assets", ..)`), unauthenticated.
    for endpoint in ["/", "/app", "/assets"] {
        let webui = webui.clone();
        base.route(endpoint, move |_, _, request| {
            let webui = webui.clone();
            Box::pin(async move { webui_file(&webui, &request).await })
        });
    }
    base.route_sync("/health", |_, _, request| {
        if request.method != "GET" {
            return Response::method_not_allowed(&["GET"], &request.method);
        }
        Response::status(200)
    });
    base.route_sync(
        "/flags",
        guarded_sync(ReadOnly, |master, _, request| flags(master, &request)),
    );
    base.route_sync("/redirect", |master, _, _request| redirect(master));
    base.route_sync("/api/v1/scheduler", crate::scheduler_http::handle);
    base.route_sync("/teardown", guarded_sync(ReadWrite, teardown));
    // `/state.json`, removed upstream in 1.8 (MESOS-4509), is served as
    // an alias: issue #3 asks for it, for older tools that still read it.
    for endpoint in ["/state", "/state.json"] {
        base.route(
            endpoint,
            guarded(ReadOnly, |master, _, request| {
                readonly_stream(master, &request, |m, _, out| {
                    state_json::write_state(m, out)
                })
            }),
        );
    }
    base.route(
        "/state-summary",
        guarded(ReadOnly, |master, _, request| {
            readonly(master, &request, |m, _| state_json::state_summary(m))
        }),
    );
    base.route(
        "/frameworks",
        guarded(ReadOnly, |master, _, request| {
            readonly_stream(master, &request, |m, q, out| {
                state_json::write_frameworks(m, query_last(q, "framework_id"), out)
            })
        }),
    );
    base.route(
        "/slaves",
        guarded(ReadOnly, |master, _, request| {
            readonly_stream(master, &request, |m, q, out| {
                state_json::write_slaves(m, query_last(q, "slave_id"), out)
            })
        }),
    );
    base.route(
        "/tasks",
        guarded(ReadOnly, |master, _, request| {
            readonly_stream(master, &request, |m, q, out| {
                let query = state_json::TasksQuery::parse(|name| query_last(q, name));
                state_json::write_tasks(m, &query, out)
            })
        }),
    );
    base.route(
        "/roles",
        guarded(ReadOnly, |master, _, request| {
            readonly(master, &request, |m, _| state_json::roles(m))
        }),
    );
    base.route("/api/v1", guarded(ReadWrite, crate::operator_api::handle));
    base.route("/weights", guarded(ReadWrite, crate::weights::endpoint));
    base.route("/quota", guarded(ReadWrite, crate::quota::endpoint));
    base.route(
        "/maintenance/schedule",
        guarded(ReadWrite, crate::maintenance::schedule_endpoint),
    );
    base.route(
        "/maintenance/status",
        guarded(ReadOnly, crate::maintenance::status_endpoint),
    );
    base.route(
        "/machine/down",
        guarded(ReadWrite, |m, ctx, r| {
            crate::maintenance::machine_endpoint(m, ctx, r, true)
        }),
    );
    base.route(
        "/machine/up",
        guarded(ReadWrite, |m, ctx, r| {
            crate::maintenance::machine_endpoint(m, ctx, r, false)
        }),
    );
    use crate::operations::{endpoint, Endpoint};
    base.route_sync(
        "/reserve",
        guarded_sync(ReadWrite, |m, ctx, r| {
            endpoint(m, ctx, r, Endpoint::Reserve)
        }),
    );
    base.route_sync(
        "/unreserve",
        guarded_sync(ReadWrite, |m, ctx, r| {
            endpoint(m, ctx, r, Endpoint::Unreserve)
        }),
    );
    base.route_sync(
        "/create-volumes",
        guarded_sync(ReadWrite, |m, ctx, r| {
            endpoint(m, ctx, r, Endpoint::CreateVolumes)
        }),
    );
    base.route_sync(
        "/destroy-volumes",
        guarded_sync(ReadWrite, |m, ctx, r| {
            endpoint(m, ctx, r, Endpoint::DestroyVolumes)
        }),
    );
}

fn flags(master: &Master, request: &Request) -> Response {
    if request.method != "GET" {
        return Response::method_not_allowed(&["GET"], &request.method);
    }
    let flags: Map<String, Value> = master
        .flags
        .to_map()
        .into_iter()
        .map(|(name, value)| (name.to_string(), Value::String(value)))
        .collect();
    let mut object = Map::new();
    object.insert("flags".into(), Value::Object(flags));
    Response::json(
        mesos_proto::json::render(&Value::Object(object)),
        request.query_param("jsonp"),
    )
}

/// Answers a read-only endpoint: its JSON from `write`, wrapped for
/// `?jsonp=`, or the redirect answer when this master does not lead.
/// The document is built on the master; rendering it to text (and
/// freeing it) happens on a blocking thread, so the master moves on.
fn readonly(
    master: &Master,
    request: &Request,
    write: impl FnOnce(&Master, &Request) -> Value,
) -> libprocess::HttpFuture {
    if !master.recovered() {
        let response = redirect(master);
        return Box::pin(async move { response });
    }
    let value = write(master, request);
    let jsonp = query_last(request, "jsonp").map(str::to_string);
    Box::pin(async move {
        let rendered = tokio::task::spawn_blocking(move || mesos_proto::json::render(&value)).await;
        match rendered {
            Ok(json) => Response::json(json, jsonp.as_deref()),
            Err(error) => Response::internal_error(format!("Failed to render the state: {error}")),
        }
    })
}

/// Answers a read-only endpoint whose JSON `write` puts straight into a
/// buffer (on the master: no tree is built, so there is nothing left to
/// render elsewhere), wrapped for `?jsonp=`, or the redirect answer when
/// this master does not lead.
fn readonly_stream(
    master: &Master,
    request: &Request,
    write: impl FnOnce(&Master, &Request, &mut String),
) -> libprocess::HttpFuture {
    let response = if master.recovered() {
        let json = batched(master, request, write);
        Response::json_bytes(json, query_last(request, "jsonp"))
    } else {
        redirect(master)
    };
    Box::pin(async move { response })
}

/// A read-only document as written for a request (upstream batches
/// concurrent read-only requests the same way: those that arrive while a
/// document is being produced get that document).
pub(crate) struct Batched {
    /// Path and query it answered.
    key: String,
    /// When writing it ended.
    written: std::time::Instant,
    /// How long writing it took: the batching window.
    took: std::time::Duration,
    json: Document,
}

/// A written document, shared by the responses that send it. Once they
/// are all sent, its buffer is written over for the next document: a
/// state of hundreds of MB is then not allocated (and faulted in) again
/// for every request.
#[derive(Clone)]
struct Document(std::sync::Arc<String>);

impl AsRef<[u8]> for Document {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The document for `request`: the last one written when it answered the
/// same path and query and the request arrived while it was being written
/// (within as long as writing it took, after it ended), else a new one.
fn batched(
    master: &Master,
    request: &Request,
    write: impl FnOnce(&Master, &Request, &mut String),
) -> bytes::Bytes {
    let key = format!("{}?{:?}", request.path, request.query);
    let last = {
        let mut slot = master.readonly_batch.borrow_mut();
        let same = |last: &&Batched| last.key == key && last.written.elapsed() <= last.took;
        if let Some(last) = slot.as_ref().filter(same) {
            master.metrics.http_cache_hits.inc();
            return bytes::Bytes::from_owner(last.json.clone());
        }
        slot.take()
    };
    // The last document's buffer when no response holds it any more, else
    // the one faulted in ahead.
    let mut buffer = last
        .and_then(|last| std::sync::Arc::into_inner(last.json.0))
        .or_else(|| {
            let spare = master.spare_document.borrow_mut().take()?;
            String::from_utf8(spare.buffer).ok()
        })
        .unwrap_or_default();
    buffer.clear();
    let started = std::time::Instant::now();
    write(master, request, &mut buffer);
    let json = Document(std::sync::Arc::new(buffer));
    *master.readonly_batch.borrow_mut() = Some(Batched {
        key,
        written: std::time::Instant::now(),
        took: started.elapsed(),
        json: json.clone(),
    });
    bytes::Bytes::from_owner(json)
}

/// A buffer for the next read-only document, faulted in page by page
/// while the master is idle: the first page touch of a fresh allocation
/// is what the first `/master/state` of a large cluster pays over later
/// ones, which write over the last document's buffer (measured on these
/// machines: 175–290 ms for 242 MB, against 11 ms to write them again).
#[derive(Default)]
pub(crate) struct SpareDocument {
    /// Empty; its capacity is the buffer.
    buffer: Vec<u8>,
    /// How far its pages are touched.
    touched: usize,
}

/// Makes sure a buffer of about `wanted` bytes is faulted in for the next
/// document, touching pages until `deadline`; returns whether some are
/// left. Nothing to do while the last document's buffer is large enough.
pub(crate) fn prefault_document(
    master: &Master,
    wanted: usize,
    deadline: std::time::Instant,
) -> bool {
    const PAGE: usize = 4096;
    let last = master
        .readonly_batch
        .borrow()
        .as_ref()
        .map_or(0, |last| last.json.0.capacity());
    if last >= wanted {
        return false;
    }
    let mut slot = master.spare_document.borrow_mut();
    let spare = slot.get_or_insert_with(SpareDocument::default);
    if spare.buffer.capacity() < wanted {
        *spare = SpareDocument {
            buffer: Vec::with_capacity(wanted),
            touched: 0,
        };
    }
    let pages = spare.buffer.spare_capacity_mut();
    while spare.touched < pages.len() {
        let end = (spare.touched + 256 * PAGE).min(pages.len());
        for byte in pages[spare.touched..end].iter_mut().step_by(PAGE) {
            byte.write(0);
        }
        spare.touched = end;
        if std::time::Instant::now() >= deadline {
            return spare.touched < pages.len();
        }
    }
    false
}

/// Returns the last value of query parameter `name` (upstream decodes the
/// query into a hash map, so a later value replaces an earlier one).
fn query_last<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .query
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `307` to the leading master, `//<hostname>:<port>` (a standalone master
/// leads once its registry is recovered; `503` before).
fn redirect(master: &Master) -> Response {
    if !master.recovered() {
        return Response::status(503).with_body("text/plain", "No leader elected");
    }
    let hostname = master.info.hostname.clone().unwrap_or_default();
    Response::status(307).with_header("Location", format!("//{hostname}:{}", master.info.port))
}

/// `POST /master/teardown` with the form field `frameworkId`: removes the
/// framework and shuts its tasks down, whether it is subscribed or only
/// recovered from an agent.
fn teardown(master: &mut Master, ctx: &mut actix::Context<Master>, request: Request) -> Response {
    if request.method != "POST" {
        return Response::method_not_allowed(&["POST"], &request.method);
    }
    let body = String::from_utf8_lossy(&request.body);
    let (_, form) = libprocess::http::split_target(&format!("?{body}"));
    let Some(id) = form
        .iter()
        .find(|(k, _)| k == "frameworkId")
        .map(|(_, v)| v.clone())
    else {
        return Response::bad_request("Missing 'frameworkId' query parameter in the request body");
    };
    if !master.frameworks.registered.contains_key(&id) {
        return Response::bad_request("No framework found with specified ID");
    }
    master.remove_framework(&id, ctx);
    Response::status(200)
}
