//! The agent's endpoints (upstream `src/slave/http.cpp`) and its metrics
//! (upstream `src/slave/metrics.cpp`).
//!
//! Endpoints, on the agent process and through the delegate: `/health`,
//! `/flags` and `/state` (JSON in [`crate::state_json`]; `/flags` and
//! `/state` honour `?jsonp=`; `/state.json` is an alias of `/state`, which
//! upstream removed in 1.8, MESOS-4509), the v1 executor API `/api/v1/executor`
//! ([`crate::executor_http`]) and the v1 operator API `/api/v1`
//! ([`crate::api`]). `/version` and `/metrics/snapshot` come from
//! libprocess; the agent adds its `slave/*` metrics ([`crate::metrics`])
//! to the latter.

use libprocess::http::Response;
use libprocess::Process;
use mesos_proto::json::render;

use crate::slave::Slave;
use crate::state_json;

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
    slave.install_metrics(start_time);
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
