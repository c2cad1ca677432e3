//! Role quota: the `/master/quota` endpoint (`GET`, `POST`, `DELETE
//! /master/quota/<role>`) and the v1 calls `GET_QUOTA`, `UPDATE_QUOTA`
//! and the deprecated `SET_QUOTA` / `REMOVE_QUOTA`.
//!
//! Upstream counterparts: `Master::QuotaHandler` in
//! `src/master/quota_handler.cpp`, `quota::validation` in
//! `src/master/quota.cpp` and the `UpdateQuota` registry operation.
//!
//! Every quota is kept as a 1.9+ `QuotaConfig` (per resource name, a
//! guarantee and a limit); the pre-1.9 `QuotaRequest` of `POST
//! /master/quota` and `SET_QUOTA` becomes a config whose guarantees and
//! limits are both its `guarantee`, as upstream 1.9+ does. Configs are
//! stored in the registry first (`Registry.quota_configs`, so they
//! survive a master failover), then applied to the allocator, which lays
//! guarantees aside and caps limits ([`crate::allocator`]). Outstanding
//! offers are rescinded so that the new quota applies to them.
//!
//! Deliberate differences: no authorization (no ACLs yet); the capacity
//! check compares the sum of all guarantees with the agents' total
//! non-revocable scalars (upstream 1.9+ does the same; 1.x before it
//! compared with what was free); the registry gets no
//! `minimum_capabilities` entry (`QUOTA_V2`), which only matters when
//! downgrading to an upstream master older than 1.9.

use std::collections::BTreeMap;

use actix::{ActorFutureExt as _, AsyncContext as _, Context, WrapFuture as _};
use libprocess::http::{Request, Response};
use libprocess::HttpFuture;
use mesos_proto::mesos::quota::{QuotaConfig, QuotaInfo, QuotaRequest, QuotaStatus};
use mesos_proto::mesos::value::Scalar;
use mesos_proto::mesos::Resource;
use mesos_proto::resources::Resources;

use crate::allocator::Quota;
use crate::master::Master;
use crate::registrar::Operation;

fn ready(response: Response) -> HttpFuture {
    Box::pin(async move { response })
}

/// Returns the quota status: the configs, and their guarantees as
/// pre-1.9 `QuotaInfo`s (as upstream 1.9+ fills both).
pub fn status(master: &Master) -> QuotaStatus {
    // `infos` is deprecated upstream, which still fills it for old clients.
    #[allow(deprecated)]
    QuotaStatus {
        infos: master
            .quotas
            .values()
            .map(|config| QuotaInfo {
                role: Some(config.role.clone()),
                principal: None,
                guarantee: config
                    .guarantees
                    .iter()
                    .map(|(name, scalar)| scalar_resource(name, scalar.value))
                    .collect(),
            })
            .collect(),
        configs: master.quotas.values().cloned().collect(),
    }
}

fn scalar_resource(name: &str, value: f64) -> Resource {
    Resource {
        name: name.to_string(),
        r#type: mesos_proto::mesos::value::Type::Scalar as i32,
        scalar: Some(Scalar { value }),
        ..Default::default()
    }
}

/// Converts a pre-1.9 request into a config (guarantees and limits both
/// its guarantee), checking the resources as upstream's
/// `quota::validation::quotaInfo` does.
pub fn config_from_request(request: &QuotaRequest) -> Result<QuotaConfig, String> {
    let role = request.role.clone().unwrap_or_default();
    let mut amounts: BTreeMap<String, f64> = BTreeMap::new();
    for resource in &request.guarantee {
        Resources::validate(resource).map_err(|e| format!("Invalid guarantee: {e}"))?;
        if resource.r#type != mesos_proto::mesos::value::Type::Scalar as i32 {
            return Err(format!(
                "Invalid guarantee: resource '{}' is not a scalar",
                resource.name
            ));
        }
        let mut upgraded = resource.clone();
        mesos_proto::resources::upgrade_resource(&mut upgraded);
        if !upgraded.reservations.is_empty() {
            return Err(format!(
                "Invalid guarantee: resource '{}' must not be reserved",
                resource.name
            ));
        }
        if resource.disk.is_some() {
            return Err(format!(
                "Invalid guarantee: resource '{}' must not have DiskInfo",
                resource.name
            ));
        }
        if resource.revocable.is_some() {
            return Err(format!(
                "Invalid guarantee: resource '{}' must not be revocable",
                resource.name
            ));
        }
        if amounts.contains_key(&resource.name) {
            return Err(format!(
                "Invalid guarantee: duplicate resource name '{}'",
                resource.name
            ));
        }
        amounts.insert(
            resource.name.clone(),
            resource.scalar.map_or(0.0, |s| s.value),
        );
    }
    let scalars: std::collections::HashMap<String, Scalar> = amounts
        .into_iter()
        .map(|(name, value)| (name, Scalar { value }))
        .collect();
    Ok(QuotaConfig {
        role,
        guarantees: scalars.clone(),
        limits: scalars,
    })
}

/// Checks a config as upstream's `validateQuotaConfig`: a valid role
/// (listed in `--roles` when that is set), finite non-negative amounts,
/// no guarantee above its limit.
pub fn validate_config(master: &Master, config: &QuotaConfig) -> Result<(), String> {
    let role = &config.role;
    if role == "*" {
        return Err("Invalid QuotaConfig: Invalid role '*': quota cannot be set for '*'".into());
    }
    crate::frameworks::validate_role(role)
        .map_err(|e| format!("Invalid QuotaConfig: Invalid role '{role}': {e}"))?;
    if master
        .role_whitelist
        .as_ref()
        .is_some_and(|roles| !roles.contains(role))
    {
        return Err(format!("Invalid QuotaConfig: Unknown role '{role}'"));
    }
    for (kind, map) in [("guarantee", &config.guarantees), ("limit", &config.limits)] {
        for (name, scalar) in map {
            if name.is_empty() {
                return Err(format!(
                    "Invalid QuotaConfig: empty resource name in {kind}s"
                ));
            }
            if !scalar.value.is_finite() || scalar.value < 0.0 {
                return Err(format!(
                    "Invalid QuotaConfig: {kind} of '{name}' must be a non-negative number, \
                     got {}",
                    scalar.value
                ));
            }
        }
    }
    for (name, guarantee) in &config.guarantees {
        if let Some(limit) = config.limits.get(name) {
            if guarantee.value > limit.value {
                return Err(format!(
                    "Invalid QuotaConfig: role '{role}' has a guarantee of {} {name} greater \
                     than its limit of {}",
                    guarantee.value, limit.value
                ));
            }
        }
    }
    Ok(())
}

/// Checks that the cluster could hold every guarantee once `configs` are
/// applied (skipped with `force`).
fn check_capacity(master: &Master, configs: &[QuotaConfig]) -> Result<(), String> {
    let mut quotas = master.quotas.clone();
    for config in configs {
        quotas.insert(config.role.clone(), config.clone());
    }
    let mut guaranteed: BTreeMap<String, f64> = BTreeMap::new();
    for config in quotas.values() {
        for (name, scalar) in &config.guarantees {
            *guaranteed.entry(name.clone()).or_default() += scalar.value;
        }
    }
    let mut capacity = Resources::new();
    for slave in master.slaves.registered.values() {
        capacity += slave
            .total_resources
            .non_revocable()
            .create_stripped_scalar_quantity();
    }
    for (name, amount) in &guaranteed {
        let available = capacity.get_scalar(name).map_or(0.0, |s| s.value);
        if *amount > available + 1e-9 {
            return Err(format!(
                "Invalid QuotaConfig: total quota guarantees of {amount} {name} exceed the \
                 cluster capacity of {available} {name} (use 'force' to bypass this check)"
            ));
        }
    }
    Ok(())
}

impl Master {
    /// Quotas stored in the registry: the 1.9+ configs, and pre-1.9
    /// `QuotaInfo`s as configs.
    pub(crate) fn recover_quotas(
        &mut self,
        configs: Vec<QuotaConfig>,
        legacy: Vec<mesos_proto::mesos::internal::registry::Quota>,
    ) {
        for quota in legacy {
            let request = QuotaRequest {
                force: None,
                role: quota.info.role.clone(),
                guarantee: quota.info.guarantee.clone(),
            };
            if let Ok(config) = config_from_request(&request) {
                self.quotas.insert(config.role.clone(), config);
            }
        }
        for config in configs {
            self.quotas.insert(config.role.clone(), config);
        }
        self.apply_quotas_to_allocator();
    }

    fn apply_quotas_to_allocator(&mut self) {
        let quotas: BTreeMap<String, Quota> = self
            .quotas
            .iter()
            .map(|(role, config)| {
                (
                    role.clone(),
                    Quota::from_scalars(
                        config.guarantees.iter().map(|(n, s)| (n, s.value)),
                        config.limits.iter().map(|(n, s)| (n, s.value)),
                    ),
                )
            })
            .collect();
        self.allocator.update_quota(&quotas);
        self.refresh_allocator_metrics();
    }

    /// Applies stored configs: the master's view, the allocator, and a
    /// fresh allocation of every outstanding offer.
    fn apply_quotas(&mut self, configs: &[QuotaConfig], ctx: &mut Context<Self>) {
        for config in configs {
            if config.guarantees.is_empty() && config.limits.is_empty() {
                tracing::info!(role = %config.role, "Removed quota");
                self.quotas.remove(&config.role);
            } else {
                tracing::info!(role = %config.role, "Updated quota");
                self.quotas.insert(config.role.clone(), config.clone());
            }
        }
        self.apply_quotas_to_allocator();
        self.rescind_offers(|_| true);
        self.schedule_allocation(ctx);
    }
}

/// Stores validated configs in the registry, then applies them; `200`
/// once stored.
pub fn update(
    master: &mut Master,
    ctx: &mut Context<Master>,
    configs: Vec<QuotaConfig>,
) -> HttpFuture {
    let (tx, rx) = futures::channel::oneshot::channel();
    let registrar = master.registrar();
    let operation = Operation::UpdateQuota(configs.clone());
    ctx.spawn(
        async move { registrar.apply(operation).await }
            .into_actor(master)
            .map(move |result, master, ctx| {
                let response = match result {
                    Ok(_) => {
                        master.apply_quotas(&configs, ctx);
                        Response::status(200)
                    }
                    Err(error) => {
                        Response::internal_error(format!("Failed to update quota: {error}"))
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

/// `UPDATE_QUOTA`: validates every config (and the capacity unless
/// `force`), then stores and applies them.
pub fn update_configs(
    master: &mut Master,
    ctx: &mut Context<Master>,
    configs: Vec<QuotaConfig>,
    force: bool,
) -> HttpFuture {
    for config in &configs {
        if let Err(error) = validate_config(master, config) {
            return ready(Response::bad_request(error));
        }
        // As upstream, until MESOS-7402: the allocator counts subroles in
        // their parent's consumption, but quota is only set on top-level
        // roles.
        if config.role.contains('/') {
            return ready(Response::bad_request(format!(
                "Updating quota on nested role '{}' is not supported yet",
                config.role
            )));
        }
    }
    if !force {
        if let Err(error) = check_capacity(master, &configs) {
            return ready(Response::bad_request(error));
        }
    }
    update(master, ctx, configs)
}

/// `SET_QUOTA` and `POST /master/quota`: the pre-1.9 request.
pub fn set(master: &mut Master, ctx: &mut Context<Master>, request: QuotaRequest) -> HttpFuture {
    let config = match config_from_request(&request) {
        Ok(config) => config,
        Err(error) => {
            return ready(Response::bad_request(format!(
                "Failed to validate set quota request: {error}"
            )))
        }
    };
    if let Err(error) = validate_config(master, &config) {
        return ready(Response::bad_request(format!(
            "Failed to validate set quota request: {error}"
        )));
    }
    if config.guarantees.is_empty() {
        return ready(Response::bad_request(
            "Failed to validate set quota request: QuotaInfo with empty 'guarantee'",
        ));
    }
    // As upstream, until MESOS-7402.
    if config.role.contains('/') {
        return ready(Response::bad_request(format!(
            "Setting quota on nested role '{}' is not supported yet",
            config.role
        )));
    }
    if master.quotas.contains_key(&config.role) {
        return ready(Response::bad_request(format!(
            "Failed to validate set quota request: Cannot set quota for role '{}' which \
             already has quota",
            config.role
        )));
    }
    if !request.force.unwrap_or(false) {
        if let Err(error) = check_capacity(master, std::slice::from_ref(&config)) {
            return ready(Response::status(409).with_body(
                "text/plain",
                format!("Heuristic capacity check for set quota request failed: {error}"),
            ));
        }
    }
    update(master, ctx, vec![config])
}

/// `REMOVE_QUOTA` and `DELETE /master/quota/<role>`.
pub fn remove(master: &mut Master, ctx: &mut Context<Master>, role: &str) -> HttpFuture {
    if !master.quotas.contains_key(role) {
        return ready(Response::bad_request(format!(
            "Failed to remove quota: Role '{role}' has no quota set"
        )));
    }
    update(
        master,
        ctx,
        vec![QuotaConfig {
            role: role.to_string(),
            guarantees: Default::default(),
            limits: Default::default(),
        }],
    )
}

/// `/master/quota`: `GET` the status, `POST` a JSON `QuotaRequest`,
/// `DELETE /master/quota/<role>`.
pub fn endpoint(master: &mut Master, ctx: &mut Context<Master>, request: Request) -> HttpFuture {
    if !master.recovered() {
        return ready(Response::status(503).with_body("text/plain", "No leader elected"));
    }
    match request.method.as_str() {
        "GET" => {
            let body = mesos_proto::json::to_string(&status(master));
            let jsonp = request
                .query
                .iter()
                .rev()
                .find(|(k, _)| k == "jsonp")
                .map(|(_, v)| v.as_str());
            ready(Response::json(body, jsonp))
        }
        "POST" => {
            let body = String::from_utf8_lossy(&request.body).into_owned();
            let value: serde_json::Value = match serde_json::from_str(&body) {
                Ok(value @ serde_json::Value::Object(_)) => value,
                Ok(_) => {
                    return ready(Response::bad_request(format!(
                        "Failed to parse set quota request JSON '{body}': expecting an object"
                    )))
                }
                Err(error) => {
                    return ready(Response::bad_request(format!(
                        "Failed to parse set quota request JSON '{body}': {error}"
                    )))
                }
            };
            match mesos_proto::json::from_value::<QuotaRequest>(&value) {
                Ok(quota_request) => set(master, ctx, quota_request),
                Err(error) => ready(Response::bad_request(format!(
                    "Failed to convert set quota request JSON '{body}' to protobuf: {error}"
                ))),
            }
        }
        "DELETE" => {
            let components: Vec<&str> = request.path.split('/').filter(|c| !c.is_empty()).collect();
            if components.len() != 3 {
                return ready(Response::bad_request(format!(
                    "Failed to parse request path '{}': 3 tokens ('master', 'quota', 'role') \
                     required, found {} token(s)",
                    request.path,
                    components.len()
                )));
            }
            if components[1] != "quota" {
                return ready(Response::bad_request(format!(
                    "Failed to parse request path '{}': Missing 'quota' endpoint",
                    request.path
                )));
            }
            let role = components[2].to_string();
            remove(master, ctx, &role)
        }
        other => ready(Response::method_not_allowed(
            &["GET", "POST", "DELETE"],
            other,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_become_configs_with_equal_guarantees_and_limits() {
        let request = QuotaRequest {
            force: None,
            role: Some("web".into()),
            guarantee: Resources::parse("cpus:2;mem:512", "*").unwrap().to_vec(),
        };
        let config = config_from_request(&request).unwrap();
        assert_eq!(config.role, "web");
        assert_eq!(config.guarantees["cpus"].value, 2.0);
        assert_eq!(config.limits["mem"].value, 512.0);
        let reserved = QuotaRequest {
            guarantee: Resources::parse("cpus(web):2", "*").unwrap().to_vec(),
            ..request.clone()
        };
        assert!(config_from_request(&reserved)
            .unwrap_err()
            .contains("must not be reserved"));
        let ranges = QuotaRequest {
            guarantee: Resources::parse("ports:[1-2]", "*").unwrap().to_vec(),
            ..request
        };
        assert!(config_from_request(&ranges)
            .unwrap_err()
            .contains("is not a scalar"));
    }
}
