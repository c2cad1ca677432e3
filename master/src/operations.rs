//! Operations on an agent's checkpointed resources: dynamic reservations
//! (RESERVE, UNRESERVE) and persistent volumes (CREATE, DESTROY), from
//! frameworks inside ACCEPT and from operators through `/master/reserve`,
//! `/master/unreserve`, `/master/create-volumes`, `/master/destroy-volumes`
//! and the v1 calls `RESERVE_RESOURCES`, `UNRESERVE_RESOURCES`,
//! `CREATE_VOLUMES`, `DESTROY_VOLUMES`.
//!
//! Upstream counterparts: `Master::_accept` (the RESERVE ... DESTROY
//! cases), `Master::apply`/`_apply`, `Slave::apply` and `drop` in
//! `src/master/master.cpp`; `Master::Http::reserve`, `_reserve`,
//! `unreserve`, `createVolumes`, `destroyVolumes` and `_operation` in
//! `src/master/http.cpp`; `validation::operation::validate` in
//! `src/master/validation.cpp`.
//!
//! An applied operation changes the agent's total (its static resources
//! with the checkpointed ones applied), the allocator's view, and the
//! offered resources the rest of the ACCEPT works with; an agent that does
//! not take operations itself then gets the whole set of checkpointed
//! resources in a `CheckpointResourcesMessage`.
//! Agents keep them across restarts and send them back when they
//! (re-)register, which is how they survive a master failover (the registry
//! holds no resources, as upstream).
//!
//! An agent with the `RESOURCE_PROVIDER` capability (upstream agents since
//! 1.5) gets the operation itself, in an `ApplyOperationMessage`, and the
//! master keeps a record of it until it ends (`operation_feedback.rs`);
//! an operation that asks for feedback (`Offer.Operation.id`) is dropped
//! for an agent without `AGENT_OPERATION_FEEDBACK`, as upstream (ours does
//! not advertise it).
//!
//! Deliberate differences: no authorization (there are no ACLs yet), so
//! the only principal checked is the framework's `FrameworkInfo.principal`
//! (operators are unauthenticated).

// `Resource.role` is deprecated upstream but the old format still uses it.
#![allow(deprecated)]

use actix::Context;
use libprocess::http::{Request, Response};
use mesos_proto::conversions::{self, ResourceConversion};
use mesos_proto::mesos::internal::CheckpointResourcesMessage;
use mesos_proto::mesos::offer::{self, operation::Type as OperationType};
use mesos_proto::mesos::resource::{disk_info, AllocationInfo};
use mesos_proto::mesos::scheduler::{event, Event};
use mesos_proto::mesos::{
    framework_info, slave_info, FrameworkInfo, OperationState, OperationStatus, Resource, SlaveId,
};
use mesos_proto::resources::{self, ResourceFormat, Resources};

use crate::master::Master;

/// Why an operator operation failed, as the HTTP status it answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    /// Malformed or invalid: `400`.
    #[error("{0}")]
    BadRequest(String),
    /// Valid, but what it consumes is not available on the agent: `409`.
    #[error("{0}")]
    Conflict(String),
}

impl OperatorError {
    /// The HTTP response for this error.
    pub fn response(&self) -> Response {
        match self {
            Self::BadRequest(message) => Response::bad_request(message.clone()),
            Self::Conflict(message) => {
                Response::status(409).with_body("text/plain", message.clone())
            }
        }
    }
}

/// Agent capabilities the validation looks at.
#[derive(Debug, Clone, Copy, Default)]
struct AgentCapabilities {
    hierarchical_role: bool,
    reservation_refinement: bool,
    resize_volume: bool,
}

impl AgentCapabilities {
    fn of(capabilities: &[slave_info::Capability]) -> Self {
        let has = |t: slave_info::capability::Type| {
            capabilities.iter().any(|c| c.r#type == Some(t as i32))
        };
        Self {
            hierarchical_role: has(slave_info::capability::Type::HierarchicalRole),
            reservation_refinement: has(slave_info::capability::Type::ReservationRefinement),
            resize_volume: has(slave_info::capability::Type::ResizeVolume),
        }
    }
}

fn type_name(operation: &offer::Operation) -> &'static str {
    match operation.r#type() {
        OperationType::Reserve => "RESERVE",
        OperationType::Unreserve => "UNRESERVE",
        OperationType::Create => "CREATE",
        OperationType::Destroy => "DESTROY",
        OperationType::Launch => "LAUNCH",
        OperationType::LaunchGroup => "LAUNCH_GROUP",
        OperationType::GrowVolume => "GROW_VOLUME",
        OperationType::ShrinkVolume => "SHRINK_VOLUME",
        OperationType::CreateDisk => "CREATE_DISK",
        OperationType::DestroyDisk => "DESTROY_DISK",
        OperationType::Unknown => "UNKNOWN",
    }
}

/// Prints a set of roles as upstream's `stringify(hashset)`: `{ a, b }`.
fn roles_text(roles: &[String]) -> String {
    format!("{{ {} }}", roles.join(", "))
}

/// Upstream `resource::validate`: each resource valid, as one message.
fn validate_resources(resources: &[Resource]) -> Result<(), String> {
    Resources::validate_all(resources).map_err(|e| format!("Invalid resources: {e}"))
}

fn validate_single_role(resources: &[Resource], what: &str) -> Result<(), String> {
    let mut role: Option<&str> = None;
    for resource in resources {
        let Some(allocated) = resource
            .allocation_info
            .as_ref()
            .and_then(|a| a.role.as_deref())
        else {
            return Err(format!(
                "Invalid {what} resources: the resource {resource} is not allocated to a role"
            ));
        };
        match role {
            Some(existing) if existing != allocated => {
                return Err(format!(
                    "Invalid {what} resources: the resources have multiple allocation roles \
                     ('{allocated}' and '{existing}') but only one allocation role is allowed"
                ))
            }
            _ => role = Some(allocated),
        }
    }
    Ok(())
}

fn validate_reserve(
    reserve: &offer::operation::Reserve,
    principal: Option<&str>,
    agent: AgentCapabilities,
    framework: Option<&FrameworkInfo>,
) -> Result<(), String> {
    validate_resources(&reserve.resources)?;
    Resources::validate_all(&reserve.source).map_err(|e| format!("Invalid source: {e}"))?;
    if !reserve.source.is_empty() {
        let source = Resources::from(reserve.source.clone());
        let target = Resources::from(reserve.resources.clone());
        if source.to_unreserved() != target.to_unreserved() {
            return Err(format!(
                "Source and target resources should refer to identical resource quantities: \
                 {} vs. {}",
                source.to_unreserved(),
                target.to_unreserved()
            ));
        }
    }
    let framework_roles = framework.map(Master::framework_roles);
    for resource in &reserve.resources {
        if !Resources::is_dynamically_reserved(resource) {
            return Err(format!("Resource {resource} is not dynamically reserved"));
        }
        let role = Resources::reservation_role(resource).unwrap_or_default();
        if !agent.hierarchical_role && role.contains('/') {
            return Err(format!(
                "Resource {resource} with reservation for hierarchical role '{role}' cannot be \
                 reserved on an agent without HIERARCHICAL_ROLE capability"
            ));
        }
        if !agent.reservation_refinement && Resources::has_refined_reservations(resource) {
            return Err(format!(
                "Resource {resource} with reservation refinement cannot be reserved on an agent \
                 without RESERVATION_REFINEMENT capability"
            ));
        }
        if let Some(principal) = principal {
            let reservation = resource.reservations.last();
            match reservation.and_then(|r| r.principal.as_deref()) {
                None => {
                    return Err(format!(
                        "A reserve operation was attempted by principal '{principal}', but there \
                         is a reserved resource in the request with no principal set"
                    ))
                }
                Some(other) if other != principal => {
                    return Err(format!(
                        "A reserve operation was attempted by authenticated principal \
                         '{principal}', which does not match a reserved resource in the request \
                         with principal '{other}'"
                    ))
                }
                Some(_) => {}
            }
        }
        if let Some(roles) = &framework_roles {
            let Some(allocated) = resource
                .allocation_info
                .as_ref()
                .and_then(|a| a.role.as_deref())
            else {
                return Err(format!(
                    "A reserve operation was attempted on unallocated resource {resource}, but \
                     frameworks can only perform reservations on allocated resources"
                ));
            };
            if allocated != role {
                return Err(format!(
                    "A reserve operation was attempted for a resource with role '{role}', but \
                     the resource was allocated to role '{allocated}'"
                ));
            }
            if !roles.iter().any(|r| r == allocated) {
                return Err(format!(
                    "A reserve operation was attempted for a resource allocated to role \
                     '{allocated}', but the framework only has roles '{}'",
                    roles_text(roles)
                ));
            }
        } else if resource.allocation_info.is_some() {
            return Err(
                "A reserve operation was attempted with an allocated resource, but the \
                        operator API only allows reservations to be made to unallocated resources"
                    .into(),
            );
        }
    }
    if framework.is_some() {
        validate_single_role(&reserve.resources, "reservation")?;
    }
    Ok(())
}

fn validate_unreserve(unreserve: &offer::operation::Unreserve) -> Result<(), String> {
    validate_resources(&unreserve.resources)?;
    for resource in &unreserve.resources {
        if !Resources::is_dynamically_reserved(resource) {
            return Err(format!("Resource {resource} is not dynamically reserved"));
        }
        if Resources::is_persistent_volume(resource) {
            return Err(format!(
                "A dynamically reserved persistent volume {resource} cannot be unreserved \
                 directly. Please destroy the persistent volume first then unreserve the resource"
            ));
        }
    }
    Ok(())
}

/// Upstream `resource::validatePersistentVolume`.
fn validate_persistent_volumes(volumes: &[Resource]) -> Result<(), String> {
    for volume in volumes {
        let Some(disk) = &volume.disk else {
            return Err(format!(
                "Not a persistent volume: Resource {volume} does not have DiskInfo"
            ));
        };
        if disk.persistence.is_none() {
            return Err("Not a persistent volume: 'persistence' is not set in DiskInfo".into());
        }
        let Some(path) = disk.volume.as_ref() else {
            return Err(
                "Not a persistent volume: Expecting 'volume' to be set for persistent volume"
                    .into(),
            );
        };
        if path.mode == mesos_proto::mesos::volume::Mode::Ro as i32 {
            return Err(
                "Not a persistent volume: Read-only persistent volume not supported".into(),
            );
        }
        // Not an upstream check: the agent links or mounts the volume at
        // this path inside the sandbox, which must not be left.
        let container_path = std::path::Path::new(&path.container_path);
        let escapes = container_path.is_absolute()
            || container_path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        if path.container_path.is_empty() || escapes {
            return Err(format!(
                "Not a persistent volume: 'container_path' '{}' must be a relative path inside \
                 the sandbox",
                path.container_path
            ));
        }
    }
    Ok(())
}

/// Upstream `resource::validateUniquePersistenceID`.
pub(crate) fn validate_unique_persistence_ids(volumes: &Resources) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for volume in volumes.persistent_volumes().iter() {
        let role = Resources::reservation_role(volume)
            .unwrap_or("*")
            .to_string();
        let id = volume
            .disk
            .as_ref()
            .and_then(|d| d.persistence.as_ref())
            .map(|p| p.id.clone())
            .unwrap_or_default();
        if !seen.insert((role, id.clone())) {
            return Err(format!("Persistence ID '{id}' is not unique"));
        }
    }
    Ok(())
}

fn validate_create(
    create: &offer::operation::Create,
    checkpointed: &Resources,
    principal: Option<&str>,
    agent: AgentCapabilities,
    framework: Option<&FrameworkInfo>,
) -> Result<(), String> {
    validate_resources(&create.volumes)?;
    validate_persistent_volumes(&create.volumes)?;
    let mut all = checkpointed.clone();
    all.unallocate();
    let mut created = Resources::from(create.volumes.clone());
    created.unallocate();
    // Volumes of one CREATE merge when identical: compare them one by one.
    if created.persistent_volumes().len() != create.volumes.len() {
        let ids: Vec<String> = create
            .volumes
            .iter()
            .filter_map(|v| v.disk.as_ref()?.persistence.as_ref().map(|p| p.id.clone()))
            .collect();
        let mut unique = std::collections::BTreeSet::new();
        if let Some(id) = ids.iter().find(|id| !unique.insert((*id).clone())) {
            return Err(format!("Persistence ID '{id}' is not unique"));
        }
    }
    all += &created;
    validate_unique_persistence_ids(&all)?;
    for volume in &create.volumes {
        if let Some(framework) = framework {
            let shared_capable = framework.capabilities.iter().any(|c| {
                c.r#type == Some(framework_info::capability::Type::SharedResources as i32)
            });
            if volume.shared.is_some() && !shared_capable {
                return Err(format!(
                    "Create volume operation for '{volume}' has been attempted by framework '{}' \
                     with no SHARED_RESOURCES capability",
                    framework
                        .id
                        .as_ref()
                        .map(|id| id.value.as_str())
                        .unwrap_or_default()
                ));
            }
        }
        let role = Resources::reservation_role(volume).unwrap_or("*");
        if !agent.hierarchical_role && role.contains('/') {
            return Err(format!(
                "Volume {volume} with reservation for hierarchical role '{role}' cannot be \
                 created on an agent without HIERARCHICAL_ROLE capability"
            ));
        }
        if !agent.reservation_refinement && Resources::has_refined_reservations(volume) {
            return Err(format!(
                "Volume {volume} with reservation refinement cannot be created on an agent \
                 without RESERVATION_REFINEMENT capability"
            ));
        }
        if let Some(principal) = principal {
            let owner = volume
                .disk
                .as_ref()
                .and_then(|d| d.persistence.as_ref())
                .and_then(|p| p.principal.as_deref());
            match owner {
                None => {
                    return Err(format!(
                        "Create volume operation attempted by principal '{principal}', but \
                         there is a volume in the operation with no principal set in \
                         'disk.persistence'"
                    ))
                }
                Some(other) if other != principal => {
                    return Err(format!(
                        "Create volume operation attempted by authenticated principal \
                         '{principal}', which does not match a volume in the operation with \
                         principal '{other}' set in 'disk.persistence'"
                    ))
                }
                Some(_) => {}
            }
        }
    }
    if framework.is_some() {
        validate_single_role(&create.volumes, "volume")?;
    }
    Ok(())
}

fn validate_destroy(
    destroy: &offer::operation::Destroy,
    checkpointed: &Resources,
    used: &[Resources],
) -> Result<(), String> {
    let mut volumes = Resources::from(destroy.volumes.clone());
    volumes.unallocate();
    let list = volumes.to_vec();
    validate_resources(&list)?;
    validate_persistent_volumes(&list)?;
    let mut checkpointed = checkpointed.clone();
    checkpointed.unallocate();
    for volume in &list {
        if !checkpointed.contains_resource(volume) {
            return Err("Persistent volumes not found".into());
        }
    }
    for resources in used {
        let mut resources = resources.clone();
        resources.unallocate();
        if list.iter().any(|v| resources.contains_resource(v)) {
            return Err("Persistent volumes in use".into());
        }
    }
    Ok(())
}

/// A scalar compared as upstream's fixed-point `Value::Scalar`.
fn fixed(scalar: Option<&mesos_proto::mesos::value::Scalar>) -> i64 {
    scalar.map(|s| s.to_fixed()).unwrap_or(0)
}

/// Upstream `validation::operation::validate(GrowVolume)`.
fn validate_grow(
    grow: &offer::operation::GrowVolume,
    agent: AgentCapabilities,
) -> Result<(), String> {
    Resources::validate_all(std::slice::from_ref(&grow.volume))
        .map_err(|e| format!("Invalid resource in the 'GrowVolume.volume' field: {e}"))?;
    Resources::validate_all(std::slice::from_ref(&grow.addition))
        .map_err(|e| format!("Invalid resource in the 'GrowVolume.addition' field: {e}"))?;
    if fixed(grow.addition.scalar.as_ref()) <= 0 {
        return Err("The size of 'GrowVolume.addition' field must be greater than zero".into());
    }
    if grow.volume.provider_id.is_some() {
        return Err("Growing a volume from a resource provider is not supported".into());
    }
    validate_persistent_volumes(std::slice::from_ref(&grow.volume)).map_err(|e| {
        let e = e
            .strip_prefix("Not a persistent volume: ")
            .unwrap_or(&e)
            .to_string();
        format!("Invalid persistent volume in the 'GrowVolume.volume' field: {e}")
    })?;
    if grow.volume.shared.is_some() {
        return Err("Growing a shared persistent volume is not supported".into());
    }
    let stripped = conversions::strip_persistent_volume(&grow.volume);
    if (Resources::from(stripped) + &Resources::from(grow.addition.clone())).len() != 1 {
        return Err(
            "Incompatible resources in the 'GrowVolume.volume' and 'GrowVolume.addition' fields"
                .into(),
        );
    }
    if !agent.resize_volume {
        return Err(format!(
            "Volume {} cannot be grown on an agent without RESIZE_VOLUME capability",
            grow.volume
        ));
    }
    Ok(())
}

/// Upstream `validation::operation::validate(ShrinkVolume)`.
fn validate_shrink(
    shrink: &offer::operation::ShrinkVolume,
    agent: AgentCapabilities,
) -> Result<(), String> {
    Resources::validate_all(std::slice::from_ref(&shrink.volume))
        .map_err(|e| format!("Invalid resource in the 'ShrinkVolume.volume' field: {e}"))?;
    let subtract = shrink.subtract.to_fixed();
    if subtract <= 0 {
        return Err("Value of 'ShrinkVolume.subtract' must be greater than zero".into());
    }
    if fixed(shrink.volume.scalar.as_ref()) <= subtract {
        return Err(
            "Value of 'ShrinkVolume.subtract' must be smaller than the size of \
             'ShrinkVolume.volume'"
                .into(),
        );
    }
    if shrink.volume.provider_id.is_some() {
        return Err("Shrinking a volume from a resource provider is not supported".into());
    }
    let mount = shrink
        .volume
        .disk
        .as_ref()
        .and_then(|d| d.source.as_ref())
        .is_some_and(|s| s.r#type() == disk_info::source::Type::Mount);
    if mount {
        return Err("Shrinking a volume on a MOUNT disk is not supported".into());
    }
    validate_persistent_volumes(std::slice::from_ref(&shrink.volume)).map_err(|e| {
        let e = e
            .strip_prefix("Not a persistent volume: ")
            .unwrap_or(&e)
            .to_string();
        format!("Invalid persistent volume in the 'ShrinkVolume.volume' field: {e}")
    })?;
    if shrink.volume.shared.is_some() {
        return Err("Shrinking a shared persistent volume is not supported".into());
    }
    if !agent.resize_volume {
        return Err(format!(
            "Volume {} cannot be shrunk on an agent without RESIZE_VOLUME capability",
            shrink.volume
        ));
    }
    Ok(())
}

/// Upstream's CREATE_DISK and DESTROY_DISK checks up to the resource
/// provider: their source must come from one, and this master tracks none.
fn validate_disk_operation(source: &Resource) -> Result<(), String> {
    validate_resources(std::slice::from_ref(source)).map_err(|e| {
        let e = e
            .strip_prefix("Invalid resources: ")
            .unwrap_or(&e)
            .to_string();
        format!("Invalid resource: {e}")
    })?;
    if source.provider_id.is_none() {
        return Err("'source' is not managed by a resource provider".into());
    }
    Err("Resource providers are not supported by this master yet".into())
}

/// Sets `allocation_info` on operation resources that lack it, as
/// upstream's `injectAllocationInfo` does for ACCEPT.
fn inject_allocation_info(operation: &mut offer::Operation, role: &str) {
    let inject = |resources: &mut [Resource]| {
        for resource in resources {
            if resource.allocation_info.is_none() {
                resource.allocation_info = Some(AllocationInfo {
                    role: Some(role.to_string()),
                });
            }
        }
    };
    if let Some(reserve) = operation.reserve.as_mut() {
        inject(&mut reserve.resources);
        inject(&mut reserve.source);
    }
    if let Some(unreserve) = operation.unreserve.as_mut() {
        inject(&mut unreserve.resources);
    }
    if let Some(create) = operation.create.as_mut() {
        inject(&mut create.volumes);
    }
    if let Some(destroy) = operation.destroy.as_mut() {
        inject(&mut destroy.volumes);
    }
    if let Some(grow) = operation.grow_volume.as_mut() {
        inject(std::slice::from_mut(&mut grow.volume));
        inject(std::slice::from_mut(&mut grow.addition));
    }
    if let Some(shrink) = operation.shrink_volume.as_mut() {
        inject(std::slice::from_mut(&mut shrink.volume));
    }
}

/// Rewrites every resource of the operation in the post-refinement format
/// (upstream `upgradeResources(Offer::Operation*)`).
fn upgrade_operation(operation: &mut offer::Operation) {
    if let Some(reserve) = operation.reserve.as_mut() {
        resources::upgrade_resources(&mut reserve.resources);
        resources::upgrade_resources(&mut reserve.source);
    }
    if let Some(unreserve) = operation.unreserve.as_mut() {
        resources::upgrade_resources(&mut unreserve.resources);
    }
    if let Some(create) = operation.create.as_mut() {
        resources::upgrade_resources(&mut create.volumes);
    }
    if let Some(destroy) = operation.destroy.as_mut() {
        resources::upgrade_resources(&mut destroy.volumes);
    }
    if let Some(grow) = operation.grow_volume.as_mut() {
        resources::upgrade_resources(std::slice::from_mut(&mut grow.volume));
        resources::upgrade_resources(std::slice::from_mut(&mut grow.addition));
    }
    if let Some(shrink) = operation.shrink_volume.as_mut() {
        resources::upgrade_resources(std::slice::from_mut(&mut shrink.volume));
    }
}

fn unallocated(conversions: &[ResourceConversion]) -> Vec<ResourceConversion> {
    conversions
        .iter()
        .map(|c| {
            let (mut consumed, mut converted) = (c.consumed.clone(), c.converted.clone());
            consumed.unallocate();
            converted.unallocate();
            ResourceConversion {
                consumed,
                converted,
            }
        })
        .collect()
}

/// Returns whether an offer operation is one this module handles: every
/// one but LAUNCH and LAUNCH_GROUP.
pub fn is_resource_operation(operation: &offer::Operation) -> bool {
    !matches!(
        operation.r#type(),
        OperationType::Launch | OperationType::LaunchGroup
    )
}

/// GROW_VOLUME and SHRINK_VOLUME, whose result a LAUNCH of the same ACCEPT
/// cannot use (upstream's `resizedResources`).
fn is_resize(operation: &offer::Operation) -> bool {
    matches!(
        operation.r#type(),
        OperationType::GrowVolume | OperationType::ShrinkVolume
    )
}

impl Master {
    /// Returns the resources each framework uses on an agent (tasks that
    /// are not terminal, and executors), for the DESTROY check.
    fn used_on_slave(&self, slave_id: &str) -> Vec<Resources> {
        self.frameworks
            .registered
            .values()
            .map(|framework| {
                let mut used = Resources::new();
                for task in framework.tasks().values() {
                    let live = mesos_proto::mesos::TaskState::try_from(task.state)
                        .is_ok_and(|s| !s.is_terminal());
                    if task.slave_id.value == slave_id && live {
                        used += Resources::from(task.resources.clone());
                    }
                }
                if let Some(executors) = framework.executors.get(slave_id) {
                    for executor in executors.values() {
                        used += Resources::from(executor.resources.clone());
                    }
                }
                used
            })
            .collect()
    }

    /// Validates an operation against an agent; `framework` for ACCEPT,
    /// `None` for the operator API.
    fn validate_operation(
        &self,
        slave_id: &str,
        operation: &offer::Operation,
        framework: Option<&FrameworkInfo>,
        principal: Option<&str>,
    ) -> Result<(), String> {
        let slave = self
            .slaves
            .registered
            .get(slave_id)
            .ok_or_else(|| "No agent found with specified ID".to_string())?;
        let agent = AgentCapabilities::of(&slave.capabilities);
        let checkpointed = Resources::from(slave.checkpointed_resources.clone());
        let missing = |what: &str| format!("Expecting '{what}' to be present");
        match operation.r#type() {
            OperationType::Reserve => validate_reserve(
                operation
                    .reserve
                    .as_ref()
                    .ok_or_else(|| missing("reserve"))?,
                principal,
                agent,
                framework,
            ),
            OperationType::Unreserve => validate_unreserve(
                operation
                    .unreserve
                    .as_ref()
                    .ok_or_else(|| missing("unreserve"))?,
            ),
            OperationType::Create => validate_create(
                operation.create.as_ref().ok_or_else(|| missing("create"))?,
                &checkpointed,
                principal,
                agent,
                framework,
            ),
            OperationType::Destroy => validate_destroy(
                operation
                    .destroy
                    .as_ref()
                    .ok_or_else(|| missing("destroy"))?,
                &checkpointed,
                &self.used_on_slave(slave_id),
            ),
            OperationType::GrowVolume => validate_grow(
                operation
                    .grow_volume
                    .as_ref()
                    .ok_or_else(|| missing("grow_volume"))?,
                agent,
            ),
            OperationType::ShrinkVolume => validate_shrink(
                operation
                    .shrink_volume
                    .as_ref()
                    .ok_or_else(|| missing("shrink_volume"))?,
                agent,
            ),
            OperationType::CreateDisk => validate_disk_operation(
                &operation
                    .create_disk
                    .as_ref()
                    .ok_or_else(|| missing("create_disk"))?
                    .source,
            ),
            OperationType::DestroyDisk => validate_disk_operation(
                &operation
                    .destroy_disk
                    .as_ref()
                    .ok_or_else(|| missing("destroy_disk"))?
                    .source,
            ),
            other => Err(format!("Unknown offer operation {}", other.as_str_name())),
        }
    }

    /// Applies unallocated conversions to an agent's total and its
    /// checkpointed resources (upstream `Slave::apply`).
    fn apply_to_slave(&mut self, slave_id: &str, conversions: &[ResourceConversion]) {
        let Some(slave) = self.slaves.registered.get_mut(slave_id) else {
            return;
        };
        match slave.total_resources.apply(conversions) {
            Ok(total) => slave.total_resources = total,
            Err(error) => {
                // Validated against the allocator's view just before.
                tracing::error!(%slave_id, %error, "Failed to apply an operation to the agent's total");
                return;
            }
        }
        slave.checkpointed_resources = slave
            .total_resources
            .iter()
            .filter(|r| conversions::needs_checkpointing(r))
            .cloned()
            .collect();
    }

    /// Sends an agent that does not take operations itself the whole set
    /// of its checkpointed resources (the `CheckpointResourcesMessage` of
    /// upstream's legacy `_apply`).
    fn send_checkpointed_resources(&self, slave_id: &str) {
        let Some(slave) = self.slaves.registered.get(slave_id) else {
            return;
        };
        let mut resources = slave.checkpointed_resources.clone();
        // Agents without RESERVATION_REFINEMENT read the pre-1.4 format.
        if !AgentCapabilities::of(&slave.capabilities).reservation_refinement {
            for resource in &mut resources {
                let _ = resources::convert_resource_format(
                    resource,
                    ResourceFormat::PreReservationRefinement,
                );
            }
        }
        let pid = slave.pid.clone();
        tracing::info!(%slave_id, checkpointed = %Resources::from(resources.clone()), "Sending checkpointed resources to agent");
        libprocess::Process::base(self).send(&pid, &CheckpointResourcesMessage { resources });
    }

    /// Whether an operation that asks for feedback (`id`) can have it, as
    /// upstream's `Master::accept` checks: a v0 framework is sent an error
    /// (its driver aborts), and the operation is dropped for an agent
    /// without `RESOURCE_PROVIDER`, or, on the agent's own resources,
    /// without `AGENT_OPERATION_FEEDBACK`.
    fn feedback_possible(
        &self,
        framework_id: &str,
        slave_id: &str,
        operation: &offer::Operation,
    ) -> bool {
        let Some(framework) = self.frameworks.registered.get(framework_id) else {
            return false;
        };
        if framework.http.is_none() {
            let message = "The 'id' field was set in an offer operation, but operation \
                           feedback is not supported for the SchedulerDriver API";
            tracing::warn!(
                %framework_id,
                "Dropping {} operation from framework {framework_id}: {message}",
                type_name(operation)
            );
            if let Some(pid) = &framework.pid {
                self.framework_error(
                    pid,
                    &format!("{message}; please use the HTTP scheduler API for this feature"),
                );
            }
            return false;
        }
        let capabilities = self
            .slaves
            .registered
            .get(slave_id)
            .map(|s| s.capabilities.clone())
            .unwrap_or_default();
        let has = |t: slave_info::capability::Type| {
            crate::operation_feedback::has_capability(&capabilities, t)
        };
        if !has(slave_info::capability::Type::ResourceProvider) {
            self.drop_operation(
                framework_id,
                operation,
                &format!(
                    "Operation requested feedback, but agent {slave_id} does not have the \
                     required RESOURCE_PROVIDER capability"
                ),
            );
            return false;
        }
        if !has(slave_info::capability::Type::AgentOperationFeedback) {
            self.drop_operation(
                framework_id,
                operation,
                &format!(
                    "Operation on agent default resources requested feedback, but agent \
                     {slave_id} does not have the required AGENT_OPERATION_FEEDBACK and \
                     RESOURCE_PROVIDER capabilities"
                ),
            );
            return false;
        }
        true
    }

    /// Drops an offer operation of an ACCEPT with `message` (upstream
    /// `Master::drop`): logged, and for an operation with an id the
    /// framework gets `OPERATION_ERROR`.
    fn drop_operation(&self, framework_id: &str, operation: &offer::Operation, message: &str) {
        tracing::warn!(
            %framework_id,
            "Dropping {} offer operation from framework {framework_id}: {message}",
            type_name(operation)
        );
        let Some(id) = operation.id.clone() else {
            return;
        };
        let Some(framework) = self.frameworks.registered.get(framework_id) else {
            return;
        };
        if let Some(http) = &framework.http {
            framework.metrics.event(event::Type::UpdateOperationStatus);
            http.send(&Event {
                r#type: Some(event::Type::UpdateOperationStatus as i32),
                update_operation_status: Some(event::UpdateOperationStatus {
                    status: OperationStatus {
                        operation_id: Some(id),
                        state: OperationState::OperationError as i32,
                        message: Some(message.to_string()),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            });
        }
    }

    /// Applies a RESERVE, UNRESERVE, CREATE or DESTROY of an ACCEPT to
    /// the offered resources `offered` (allocation form, role `role`):
    /// validated as upstream, then applied to the allocator, the agent's
    /// total and `offered`, and checkpointed on the agent. An invalid
    /// operation is dropped (see [`Self::drop_operation`]) and the rest of
    /// the ACCEPT goes on.
    pub(crate) fn accept_operation(
        &mut self,
        framework_id: &str,
        slave_id: &str,
        role: &str,
        mut operation: offer::Operation,
        offered: &mut Resources,
        resized: &mut Resources,
    ) {
        if operation.id.is_some() && !self.feedback_possible(framework_id, slave_id, &operation) {
            return;
        }
        upgrade_operation(&mut operation);
        inject_allocation_info(&mut operation, role);
        let Some(info) = self
            .frameworks
            .registered
            .get(framework_id)
            .map(|f| f.info.clone())
        else {
            return;
        };
        let principal = info.principal.clone();
        if let Err(error) =
            self.validate_operation(slave_id, &operation, Some(&info), principal.as_deref())
        {
            let error = match self.slaves.registered.get(slave_id) {
                Some(slave) => format!(
                    "{error}; on agent {slave_id} at {} ({})",
                    slave.pid, slave.info.hostname
                ),
                None => error,
            };
            self.drop_operation(framework_id, &operation, &error);
            return;
        }
        let conversions = match conversions::operation_conversions(&operation) {
            Ok(conversions) => conversions,
            Err(error) => {
                self.drop_operation(framework_id, &operation, &error.0);
                return;
            }
        };
        let applied = if is_resize(&operation) {
            // What it makes is not offered to the rest of the ACCEPT.
            let consumed = conversions
                .iter()
                .fold(Resources::new(), |sum, c| sum + &c.consumed);
            if !offered.contains(&consumed) {
                let message = format!(
                    "Invalid {} operation: {offered} does not contain {consumed}",
                    type_name(&operation)
                );
                self.drop_operation(framework_id, &operation, &message);
                return;
            }
            offered.clone() - &consumed
        } else {
            match offered.apply(&conversions) {
                Ok(applied) => applied,
                Err(error) => {
                    let message = format!("Invalid {} Operation: {error}", type_name(&operation));
                    self.drop_operation(framework_id, &operation, &message);
                    return;
                }
            }
        };
        if let Err(error) = self
            .allocator
            .update_allocation(framework_id, slave_id, &conversions)
        {
            self.drop_operation(framework_id, &operation, &error);
            return;
        }
        tracing::info!(
            %framework_id,
            %slave_id,
            "Applying {} operation for resources {} from framework {framework_id} to agent {slave_id}",
            type_name(&operation),
            conversions
                .iter()
                .fold(Resources::new(), |sum, c| sum + &c.converted)
        );
        *offered = applied;
        if is_resize(&operation) {
            for conversion in &conversions {
                *resized += &conversion.converted;
            }
        }
        self.apply_to_slave(slave_id, &unallocated(&conversions));
        if self.agent_takes_operations(slave_id) {
            self.send_operation_to_agent(Some(framework_id), slave_id, operation);
        } else {
            self.send_checkpointed_resources(slave_id);
        }
    }

    /// Applies an operator's operation to an agent's unallocated
    /// resources (upstream `Master::Http::_operation` and
    /// `Master::apply`): offers on the agent are rescinded, one at a time,
    /// until what the operation consumes is free; `409` if it still is not.
    pub(crate) fn operator_operation(
        &mut self,
        slave_id: &str,
        mut operation: offer::Operation,
        ctx: &mut Context<Self>,
    ) -> Result<(), OperatorError> {
        if !self.slaves.registered.contains_key(slave_id) {
            return Err(OperatorError::BadRequest(
                "No agent found with specified ID".into(),
            ));
        }
        upgrade_operation(&mut operation);
        let name = type_name(&operation);
        self.validate_operation(slave_id, &operation, None, None)
            .map_err(|e| OperatorError::BadRequest(format!("Invalid {name} operation: {e}")))?;
        let conversions = conversions::operation_conversions(&operation)
            .map_err(|e| OperatorError::BadRequest(format!("Invalid {name} operation: {e}")))?;
        let mut consumed = Resources::new();
        for conversion in &conversions {
            consumed += &conversion.consumed;
        }
        if self
            .allocator
            .update_available(slave_id, &conversions)
            .is_err()
        {
            // Rescind offers that hold some of what is needed, until enough
            // is free, then try again.
            let mut remaining = consumed.clone();
            let mut offers: Vec<(String, Resources)> = self
                .offers
                .iter()
                .filter(|(_, o)| o.offer.slave_id.value == slave_id)
                .map(|(id, o)| {
                    let mut resources = o.resources.clone();
                    resources.unallocate();
                    (id.clone(), resources)
                })
                .collect();
            offers.sort_by(|a, b| a.0.cmp(&b.0));
            for (offer_id, resources) in offers {
                if remaining.is_empty() {
                    break;
                }
                let less = &remaining - &resources;
                if less == remaining {
                    continue;
                }
                remaining = less;
                self.remove_offer(&offer_id, true);
            }
            self.allocator
                .update_available(slave_id, &conversions)
                .map_err(OperatorError::Conflict)?;
        }
        tracing::info!(%slave_id, "Applying {name} operation for resources {consumed} from an operator to agent {slave_id}");
        self.apply_to_slave(slave_id, &conversions);
        if self.agent_takes_operations(slave_id) {
            self.send_operation_to_agent(None, slave_id, operation);
        } else {
            self.send_checkpointed_resources(slave_id);
        }
        self.schedule_allocation(ctx);
        Ok(())
    }
}

/// Which classic operator endpoint: the operation and its form field.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint {
    /// `/master/reserve` (`resources`).
    Reserve,
    /// `/master/unreserve` (`resources`).
    Unreserve,
    /// `/master/create-volumes` (`volumes`).
    CreateVolumes,
    /// `/master/destroy-volumes` (`volumes`).
    DestroyVolumes,
}

/// Builds the offer operation of an operator call on `resources`.
pub fn operation(endpoint: Endpoint, resources: Vec<Resource>) -> offer::Operation {
    let mut operation = offer::Operation::default();
    match endpoint {
        Endpoint::Reserve => {
            operation.r#type = Some(OperationType::Reserve as i32);
            operation.reserve = Some(offer::operation::Reserve {
                resources,
                source: vec![],
            });
        }
        Endpoint::Unreserve => {
            operation.r#type = Some(OperationType::Unreserve as i32);
            operation.unreserve = Some(offer::operation::Unreserve { resources });
        }
        Endpoint::CreateVolumes => {
            operation.r#type = Some(OperationType::Create as i32);
            operation.create = Some(offer::operation::Create { volumes: resources });
        }
        Endpoint::DestroyVolumes => {
            operation.r#type = Some(OperationType::Destroy as i32);
            operation.destroy = Some(offer::operation::Destroy { volumes: resources });
        }
    }
    operation
}

/// Serves `POST /master/reserve`, `/unreserve`, `/create-volumes` and
/// `/destroy-volumes`: a form-encoded body with `slaveId` and a JSON array
/// of `Resource`s (`resources`, or `volumes` for the volume endpoints).
/// `202 Accepted` once applied, `400` for a malformed or invalid request,
/// `409 Conflict` when the resources are not available.
pub fn endpoint(
    master: &mut Master,
    ctx: &mut Context<Master>,
    request: Request,
    endpoint: Endpoint,
) -> Response {
    if request.method != "POST" {
        return Response::method_not_allowed(&["POST"], &request.method);
    }
    if !master.recovered() {
        return Response::status(503).with_body("text/plain", "No leader elected");
    }
    let body = String::from_utf8_lossy(&request.body);
    let (_, form) = libprocess::http::split_target(&format!("?{body}"));
    let field = |name: &str| {
        form.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let Some(slave_id) = field("slaveId") else {
        return Response::bad_request("Missing 'slaveId' query parameter in the request body");
    };
    let name = match endpoint {
        Endpoint::Reserve | Endpoint::Unreserve => "resources",
        Endpoint::CreateVolumes | Endpoint::DestroyVolumes => "volumes",
    };
    let Some(text) = field(name) else {
        return Response::bad_request(format!(
            "Missing '{name}' query parameter in the request body"
        ));
    };
    let parse_error = |error: String| {
        Response::bad_request(format!(
            "Error in parsing '{name}' query parameter in the request body: {error}"
        ))
    };
    let array = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Array(array)) => array,
        Ok(_) => return parse_error("expecting a JSON array".into()),
        Err(error) => return parse_error(error.to_string()),
    };
    let mut resources = Vec::with_capacity(array.len());
    for value in &array {
        let resource: Resource = match mesos_proto::json::from_value(value) {
            Ok(resource) => resource,
            Err(error) => return parse_error(error.to_string()),
        };
        // `+=` would drop an invalid resource silently: check each first.
        if let Err(error) = Resources::validate(&resource) {
            return Response::bad_request(error.to_string());
        }
        resources.push(resource);
    }
    match master.operator_operation(&slave_id, operation(endpoint, resources), ctx) {
        Ok(()) => Response::status(202),
        Err(error) => error.response(),
    }
}

/// Applies a v1 operator call (`RESERVE_RESOURCES`, ...) on `slave_id`
/// (`source`: `ReserveResources.source`, to re-reserve reserved resources):
/// `202 Accepted`, or the error's status.
pub fn call(
    master: &mut Master,
    ctx: &mut Context<Master>,
    slave_id: SlaveId,
    endpoint: Endpoint,
    resources: Vec<Resource>,
    source: Vec<Resource>,
) -> Response {
    for resource in resources.iter().chain(&source) {
        if let Err(error) = Resources::validate(resource) {
            return Response::bad_request(error.to_string());
        }
    }
    let mut operation = operation(endpoint, resources);
    if let Some(reserve) = operation.reserve.as_mut() {
        reserve.source = source;
    }
    match master.operator_operation(&slave_id.value, operation, ctx) {
        Ok(()) => Response::status(202),
        Err(error) => error.response(),
    }
}

/// The v1 operator calls `GROW_VOLUME` and `SHRINK_VOLUME` (upstream
/// `Master::Http::growVolume` / `shrinkVolume`): only volumes of an agent's
/// own resources, so `agent_id` is needed.
pub fn resize_call(
    master: &mut Master,
    ctx: &mut Context<Master>,
    slave_id: Option<SlaveId>,
    operation: offer::Operation,
) -> Response {
    let Some(slave_id) = slave_id else {
        return Response::bad_request("Expecting 'agent_id' to be present");
    };
    let resources = operation
        .grow_volume
        .iter()
        .flat_map(|g| [&g.volume, &g.addition])
        .chain(operation.shrink_volume.iter().map(|s| &s.volume));
    for resource in resources {
        if let Err(error) = Resources::validate(resource) {
            return Response::bad_request(error.to_string());
        }
    }
    match master.operator_operation(&slave_id.value, operation, ctx) {
        Ok(()) => Response::status(202),
        Err(error) => error.response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::resource::{reservation_info, DiskInfo, ReservationInfo};

    fn reserved(text: &str, role: &str, principal: Option<&str>) -> Vec<Resource> {
        Resources::parse(text, "*")
            .expect("valid")
            .push_reservation(&ReservationInfo {
                r#type: Some(reservation_info::Type::Dynamic as i32),
                role: Some(role.into()),
                principal: principal.map(str::to_string),
                ..Default::default()
            })
            .expect("valid")
            .to_vec()
    }

    fn framework(roles: &[&str]) -> FrameworkInfo {
        FrameworkInfo {
            user: "u".into(),
            name: "f".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            capabilities: vec![framework_info::Capability {
                r#type: Some(framework_info::capability::Type::MultiRole as i32),
            }],
            ..Default::default()
        }
    }

    fn agent() -> AgentCapabilities {
        AgentCapabilities {
            hierarchical_role: true,
            reservation_refinement: true,
            resize_volume: true,
        }
    }

    fn persistent(text: &str) -> Resource {
        let mut volume = reserved(text, "web", Some("ops")).remove(0);
        volume.disk = Some(DiskInfo {
            persistence: Some(disk_info::Persistence {
                id: "v1".into(),
                principal: Some("ops".into()),
            }),
            volume: Some(mesos_proto::mesos::Volume {
                container_path: "data".into(),
                mode: mesos_proto::mesos::volume::Mode::Rw as i32,
                ..Default::default()
            }),
            source: None,
        });
        volume
    }

    #[test]
    fn resizing_is_checked_as_upstream() {
        use mesos_proto::mesos::value::Scalar;
        let grow = |addition: &str| offer::operation::GrowVolume {
            volume: persistent("disk:100"),
            addition: reserved(addition, "web", Some("ops")).remove(0),
        };
        assert_eq!(validate_grow(&grow("disk:50"), agent()), Ok(()));
        assert_eq!(
            validate_grow(&grow("mem:50"), agent()),
            Err(
                "Incompatible resources in the 'GrowVolume.volume' and 'GrowVolume.addition' \
                 fields"
                    .into()
            )
        );
        let no_resize = AgentCapabilities {
            resize_volume: false,
            ..agent()
        };
        assert!(validate_grow(&grow("disk:50"), no_resize)
            .unwrap_err()
            .ends_with("cannot be grown on an agent without RESIZE_VOLUME capability"));
        let shrink = |by: f64| offer::operation::ShrinkVolume {
            volume: persistent("disk:100"),
            subtract: Scalar { value: by },
        };
        assert_eq!(validate_shrink(&shrink(30.0), agent()), Ok(()));
        assert_eq!(
            validate_shrink(&shrink(0.0), agent()),
            Err("Value of 'ShrinkVolume.subtract' must be greater than zero".into())
        );
        assert_eq!(
            validate_shrink(&shrink(100.0), agent()),
            Err(
                "Value of 'ShrinkVolume.subtract' must be smaller than the size of \
                 'ShrinkVolume.volume'"
                    .into()
            )
        );
        let mut unreserved = shrink(30.0);
        unreserved.volume.disk.as_mut().unwrap().persistence = None;
        assert_eq!(
            validate_shrink(&unreserved, agent()),
            Err(
                "Invalid persistent volume in the 'ShrinkVolume.volume' field: 'persistence' \
                 is not set in DiskInfo"
                    .into()
            )
        );
    }

    #[test]
    fn a_resize_converts_as_upstream() {
        let grow = offer::Operation {
            r#type: Some(OperationType::GrowVolume as i32),
            grow_volume: Some(offer::operation::GrowVolume {
                volume: persistent("disk:100"),
                addition: reserved("disk:50", "web", Some("ops")).remove(0),
            }),
            ..Default::default()
        };
        let conversions = conversions::operation_conversions(&grow).expect("converts");
        assert_eq!(conversions.len(), 1);
        assert_eq!(
            conversions[0].converted,
            Resources::from(persistent("disk:150"))
        );
        let shrink = offer::Operation {
            r#type: Some(OperationType::ShrinkVolume as i32),
            shrink_volume: Some(offer::operation::ShrinkVolume {
                volume: persistent("disk:150"),
                subtract: mesos_proto::mesos::value::Scalar { value: 30.0 },
            }),
            ..Default::default()
        };
        let conversions = conversions::operation_conversions(&shrink).expect("converts");
        assert_eq!(
            conversions[0].consumed,
            Resources::from(persistent("disk:150"))
        );
        assert_eq!(
            conversions[0].converted,
            Resources::from(persistent("disk:120"))
                + &Resources::from(reserved("disk:30", "web", Some("ops")))
        );
    }

    #[test]
    fn reserve_checks_principal_and_roles_as_upstream() {
        let mut resources = reserved("cpus:1", "web", Some("ops"));
        let reserve = offer::operation::Reserve {
            resources: resources.clone(),
            source: vec![],
        };
        // From the operator API: unallocated is right.
        assert_eq!(
            validate_reserve(&reserve, Some("ops"), agent(), None),
            Ok(())
        );
        let error = validate_reserve(&reserve, Some("other"), agent(), None).unwrap_err();
        assert!(
            error.contains("which does not match a reserved resource"),
            "{error}"
        );
        // A framework reserves allocated resources of its own role only.
        let error =
            validate_reserve(&reserve, None, agent(), Some(&framework(&["web"]))).unwrap_err();
        assert!(
            error.contains("can only perform reservations on allocated"),
            "{error}"
        );
        for r in &mut resources {
            r.allocation_info = Some(AllocationInfo {
                role: Some("web".into()),
            });
        }
        let reserve = offer::operation::Reserve {
            resources,
            source: vec![],
        };
        assert_eq!(
            validate_reserve(&reserve, None, agent(), Some(&framework(&["web"]))),
            Ok(())
        );
        let error =
            validate_reserve(&reserve, None, agent(), Some(&framework(&["db"]))).unwrap_err();
        assert!(
            error.contains("but the framework only has roles '{ db }'"),
            "{error}"
        );
        let error = validate_reserve(&reserve, None, agent(), None).unwrap_err();
        assert!(error.contains("operator API only allows"), "{error}");
    }

    #[test]
    fn unreserving_a_volume_or_unreserved_resources_is_refused() {
        let unreserved = Resources::parse("cpus:1", "*").expect("valid").to_vec();
        let error = validate_unreserve(&offer::operation::Unreserve {
            resources: unreserved,
        })
        .unwrap_err();
        assert!(error.contains("is not dynamically reserved"), "{error}");
    }

    #[test]
    fn volumes_need_unique_ids_and_a_relative_path() {
        let mut volume = reserved("disk:10", "web", None).remove(0);
        volume.disk = Some(DiskInfo {
            persistence: Some(disk_info::Persistence {
                id: "v".into(),
                principal: None,
            }),
            volume: Some(mesos_proto::mesos::Volume {
                container_path: "data".into(),
                mode: mesos_proto::mesos::volume::Mode::Rw as i32,
                ..Default::default()
            }),
            source: None,
        });
        let create = offer::operation::Create {
            volumes: vec![volume.clone()],
        };
        assert_eq!(
            validate_create(&create, &Resources::new(), None, agent(), None),
            Ok(())
        );
        let existing = Resources::from(volume.clone());
        let error = validate_create(&create, &existing, None, agent(), None).unwrap_err();
        assert_eq!(error, "Persistence ID 'v' is not unique");
        let mut absolute = volume.clone();
        if let Some(v) = absolute.disk.as_mut().and_then(|d| d.volume.as_mut()) {
            v.container_path = "/etc".into();
        }
        let error = validate_create(
            &offer::operation::Create {
                volumes: vec![absolute],
            },
            &Resources::new(),
            None,
            agent(),
            None,
        )
        .unwrap_err();
        assert!(error.contains("must be a relative path"), "{error}");
        let destroy = offer::operation::Destroy {
            volumes: vec![volume.clone()],
        };
        assert_eq!(
            validate_destroy(&destroy, &Resources::new(), &[]),
            Err("Persistent volumes not found".into())
        );
        assert_eq!(
            validate_destroy(&destroy, &existing, std::slice::from_ref(&existing)),
            Err("Persistent volumes in use".into())
        );
        assert_eq!(validate_destroy(&destroy, &existing, &[]), Ok(()));
    }
}
