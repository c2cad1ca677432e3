//! Role weights: `GET_WEIGHTS` and `UPDATE_WEIGHTS` on `/api/v1`, and the
//! `/master/weights` endpoint (`GET`, `PUT`).
//!
//! Upstream counterpart: `Master::WeightsHandler` in
//! `src/master/weights_handler.cpp` and the `UpdateWeights` registry
//! operation in `src/master/weights.hpp`.
//!
//! Weights start from `--weights`, unless the registry holds some (see
//! `Master::recover_weights`); an update is stored in the registry first
//! (`Registry.weights`, so it survives a master restart), then applied to
//! the master and the allocator, which orders roles by dominant share
//! divided by weight. When an updated role has a subscribed framework,
//! every outstanding offer is rescinded so that the new weights apply to
//! those resources, as upstream does. Roles without a weight weigh 1.

use actix::{ActorFutureExt as _, AsyncContext as _, Context, WrapFuture as _};
use libprocess::http::{Request, Response};
use libprocess::HttpFuture;
use mesos_proto::mesos::WeightInfo;

use crate::master::Master;
use crate::registrar::Operation;

/// The weights as `WeightInfo`s, in role order.
pub(crate) fn infos(weights: &std::collections::BTreeMap<String, f64>) -> Vec<WeightInfo> {
    weights
        .iter()
        .map(|(role, weight)| WeightInfo {
            weight: *weight,
            role: Some(role.clone()),
        })
        .collect()
}

/// Checks an update as upstream does: roles are trimmed and must be valid
/// (and listed in `--roles` when it is set), weights must be positive.
/// Returns the update to apply, or the `400` message.
pub(crate) fn validate(
    master: &Master,
    update: Vec<WeightInfo>,
) -> Result<Vec<WeightInfo>, String> {
    let mut validated = Vec::with_capacity(update.len());
    for mut info in update {
        let role = info.role.as_deref().unwrap_or_default().trim().to_string();
        if let Err(error) = crate::frameworks::validate_role(&role) {
            return Err(format!(
                "Failed to validate update weights request JSON: Invalid role '{role}': {error}"
            ));
        }
        if master
            .role_whitelist
            .as_ref()
            .is_some_and(|roles| !roles.contains(&role))
        {
            return Err(format!(
                "Failed to validate update weights request JSON: Unknown role '{role}'"
            ));
        }
        if info.weight.is_nan() || info.weight <= 0.0 {
            return Err(format!(
                "Failed to validate update weights request JSON for role '{role}': \
                 Invalid weight '{}': Weights must be positive",
                info.weight
            ));
        }
        info.role = Some(role);
        validated.push(info);
    }
    Ok(validated)
}

/// Stores validated weights in the registry, then applies them; answers
/// `200` once stored.
pub(crate) fn update(
    master: &mut Master,
    ctx: &mut Context<Master>,
    update: Vec<WeightInfo>,
) -> HttpFuture {
    let (tx, rx) = futures::channel::oneshot::channel();
    let registrar = master.registrar();
    let operation = Operation::UpdateWeights(update.clone());
    ctx.spawn(
        async move { registrar.apply(operation).await }
            .into_actor(master)
            .map(move |result, master, ctx| {
                let response = match result {
                    Ok(_) => {
                        master.apply_weights(&update, ctx);
                        Response::status(200)
                    }
                    Err(error) => {
                        Response::internal_error(format!("Failed to update weights: {error}"))
                    }
                };
                let _ = tx.send(response);
            }),
    );
    Box::pin(async move {
        rx.await
            .unwrap_or_else(|_| Response::internal_error("Master terminated"))
    })
}

impl Master {
    /// Applies stored weights to the master and the allocator, and
    /// rescinds all offers if an updated role has a subscribed framework.
    fn apply_weights(&mut self, update: &[WeightInfo], ctx: &mut Context<Self>) {
        for info in update {
            let role = info.role.clone().unwrap_or_default();
            tracing::info!(%role, weight = info.weight, "Updated role weight");
            self.weights.insert(role, info.weight);
        }
        self.allocator.update_weights(&self.weights);
        let active = update.iter().any(|info| {
            let role = info.role.as_deref().unwrap_or_default();
            self.frameworks
                .registered
                .values()
                .any(|f| Self::framework_roles(&f.info).iter().any(|r| r == role))
        });
        if active {
            self.rescind_offers(|_| true);
        }
        self.schedule_allocation(ctx);
    }
}

/// `/master/weights`: `GET` lists the weights as a JSON array of
/// `WeightInfo`; `PUT` with such an array updates them.
pub(crate) fn endpoint(
    master: &mut Master,
    ctx: &mut Context<Master>,
    request: Request,
) -> HttpFuture {
    let ready = |response: Response| -> HttpFuture { Box::pin(async move { response }) };
    if !master.recovered() {
        return ready(Response::status(503).with_body("text/plain", "No leader elected"));
    }
    match request.method.as_str() {
        "GET" => {
            let weights: Vec<serde_json::Value> = infos(&master.weights)
                .iter()
                .map(mesos_proto::json::to_value)
                .collect();
            let body = mesos_proto::json::render(&serde_json::Value::Array(weights));
            let jsonp = request
                .query
                .iter()
                .rev()
                .find(|(k, _)| k == "jsonp")
                .map(|(_, v)| v.as_str());
            ready(Response::json(body, jsonp))
        }
        "PUT" => {
            let body = String::from_utf8_lossy(&request.body).into_owned();
            let parsed: Result<Vec<serde_json::Value>, String> =
                serde_json::from_str(&body).map_err(|e| e.to_string());
            let array = match parsed {
                Ok(array) => array,
                Err(error) => {
                    return ready(Response::bad_request(format!(
                        "Failed to parse update weights request JSON ('{body}'): {error}"
                    )))
                }
            };
            let infos: Result<Vec<WeightInfo>, String> = array
                .iter()
                .map(|value| {
                    mesos_proto::json::from_value::<WeightInfo>(value).map_err(|e| e.to_string())
                })
                .collect();
            let infos = match infos {
                Ok(infos) => infos,
                Err(error) => {
                    return ready(Response::bad_request(format!(
                        "Failed to convert weights JSON array to protobuf ('{body}'): {error}"
                    )))
                }
            };
            match validate(master, infos) {
                Ok(infos) => update(master, ctx, infos),
                Err(error) => ready(Response::bad_request(error)),
            }
        }
        other => ready(Response::method_not_allowed(&["GET", "PUT"], other)),
    }
}
