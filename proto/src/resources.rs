//! `Resources`: the normalised collection of `Resource`s that agents, masters
//! and allocators compute with, as upstream Mesos 1.11 defines it.
//!
//! Upstream counterparts: `include/mesos/resources.hpp` and
//! `src/common/resources.cpp` (the class, parsing, validation, arithmetic,
//! printing), `src/common/resources_utils.cpp` (conversions between the
//! pre-1.4 `role`/`reservation` format and the `reservations` stack),
//! `src/common/roles.cpp` (role names) and `src/common/http.cpp` (the
//! `{"cpus":..,"mem":..}` object endpoints print).
//!
//! Model:
//! - Every `Resource` held is valid, non-empty and in the
//!   "post-reservation-refinement" format: reservations live in the
//!   `reservations` stack (innermost role last), never in the deprecated
//!   `role`/`reservation` fields. Invalid or empty resources are dropped
//!   silently by `+=`/`-=`, as upstream does.
//! - Resources that are "addable" (same name, type, allocation, reservation
//!   stack, disk identity, revocability, provider; see [`Resources`]) are kept
//!   merged into one entry. Identical shared resources (shared persistent
//!   volumes) are kept once with a count, printed as `<n>`.
//! - Scalar arithmetic is fixed point with three decimal digits
//!   ([`crate::values`]).
//!
//! Deliberate differences:
//! - Upstream `CHECK`-fails (aborts) when a resource in the old format reaches
//!   the arithmetic, when an unreserved resource is popped, or when a pushed
//!   reservation makes a resource invalid. Here `+=`, `-=` and `contains`
//!   upgrade such resources first, and `push_reservation`/`pop_reservation`
//!   return an error.
//! - `allocations()` skips resources without an allocation (upstream aborts);
//!   `unallocate()` re-merges entries that only differed by allocation.
//! - Maps are `BTreeMap`s, so per-role results iterate in role order.
//! - Error messages follow upstream's wording but start lower case and have
//!   no trailing period.
//! - The endpoint JSON object reproduces upstream's libstdc++ hash-map key
//!   order ([`UnorderedKeys`]); only maps of more than a million keys could
//!   differ (bucket counts beyond the copied prime table).

// The pre-1.4 `Resource.role` field is deprecated upstream, but it is exactly
// what the format conversions and validation read and write.
#![allow(deprecated)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};

use crate::mesos::resource::disk_info::{source::Type as SourceType, Source};
use crate::mesos::resource::reservation_info::Type as ReservationType;
use crate::mesos::resource::{AllocationInfo, DiskInfo, ReservationInfo};
use crate::mesos::value::{Ranges, Scalar, Set, Type};
use crate::mesos::{Labels, Resource, Volume};
use crate::values::{self, ValueError};

/// The resource layer's errors.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResourcesError {
    /// The value of a `name:value` pair does not parse.
    #[error("failed to parse resource {name} value {value}")]
    Value {
        /// Resource name.
        name: String,
        /// The value text.
        value: String,
        /// Why it does not parse.
        #[source]
        source: ValueError,
    },
    /// The value parsed as a type resources cannot have (text).
    #[error("bad type for resource {name} value {value} type {kind}")]
    UnsupportedType {
        /// Resource name.
        name: String,
        /// The value text.
        value: String,
        /// The value type name (`TEXT`).
        kind: String,
    },
    /// A `;`-separated token is not one `name:value` pair.
    #[error("bad value for resources, missing or extra ':' in {token}")]
    MissingColon {
        /// The offending token.
        token: String,
    },
    /// A `name(role)` has a `)` missing or before the `(`.
    #[error("bad value for resources, mismatched parentheses in {token}")]
    MismatchedParentheses {
        /// The offending token.
        token: String,
    },
    /// A JSON array of resources does not parse as `Resource` messages.
    #[error("some JSON resources were not formatted properly: {0}")]
    Json(String),
    /// A resource or role name fails validation; the text says why.
    #[error("{0}")]
    Invalid(String),
    /// One resource of a list fails validation.
    #[error("resource '{resource}' is invalid: {reason}")]
    InvalidResource {
        /// The resource as printed.
        resource: String,
        /// Why it is invalid.
        reason: String,
    },
    /// Resources given on the command line use what only operations may set
    /// (persistent volumes, revocable resources, dynamic reservations) or mix
    /// types under one name.
    #[error("{0}")]
    CommandLine(String),
    /// The pre-1.4 format cannot express refined reservations.
    #[error("cannot downgrade resources containing refined reservations")]
    RefinedReservations,
    /// A reservation was popped from an unreserved resource.
    #[error("cannot pop a reservation from unreserved resource '{0}'")]
    NotReserved(String),
}

/// The result type of this module.
pub type Result<T> = std::result::Result<T, ResourcesError>;

/// The encodings of reservations in a `Resource` (upstream `ResourceFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceFormat {
    /// Pre-1.4: `role` and, for dynamic reservations, `reservation`; no
    /// `reservations`. Cannot express refined reservations.
    PreReservationRefinement,
    /// 1.4+: only the `reservations` stack.
    PostReservationRefinement,
    /// What endpoints serve: the `reservations` stack plus, when there is at
    /// most one reservation, the equivalent `role`/`reservation`.
    Endpoint,
}

// ---------------------------------------------------------------------------
// Roles (upstream `src/common/roles.cpp`).
// ---------------------------------------------------------------------------

/// Bytes a role component may not contain: whitespace and DEL.
const INVALID_ROLE_CHARACTERS: &[char] = &['\x09', '\x0a', '\x0b', '\x0c', '\x0d', '\x20', '\x7f'];

/// Checks a role name (upstream `roles::validate`): `*`, or `/`-separated
/// components that are not empty, `.`, `..` or `*`, do not start with `-`
/// and contain no whitespace.
pub fn validate_role(role: &str) -> Result<()> {
    check_role(role).map_err(ResourcesError::Invalid)
}

fn check_role(role: &str) -> std::result::Result<(), String> {
    if role == "*" {
        return Ok(());
    }
    if role.starts_with('/') {
        return Err(format!("role '{role}' cannot start with a slash"));
    }
    if role.ends_with('/') {
        return Err(format!("role '{role}' cannot end with a slash"));
    }
    if role.contains("//") {
        return Err(format!("role '{role}' cannot contain two adjacent slashes"));
    }
    let components = values::tokenize(role, &['/']);
    if components.is_empty() {
        return Err("role names cannot be the empty string".to_string());
    }
    for component in components {
        match component {
            "." => return Err(format!("role '{role}' cannot include '.' as a component")),
            ".." => return Err(format!("role '{role}' cannot include '..' as a component")),
            "*" => return Err(format!("role '{role}' cannot include '*' as a component")),
            _ => {}
        }
        if component.starts_with('-') {
            return Err(format!(
                "role component '{component}' is invalid because it starts with a dash"
            ));
        }
        if component.contains(INVALID_ROLE_CHARACTERS) {
            return Err(format!(
                "role component '{component}' is invalid because it contains backspace or \
                 whitespace"
            ));
        }
    }
    Ok(())
}

/// Returns whether `left` is a descendant of `right` in the role tree
/// (`a/b` is a strict subrole of `a`; `a` and `ab` are not).
pub fn is_strict_subrole_of(left: &str, right: &str) -> bool {
    left.len() > right.len() && left.as_bytes()[right.len()] == b'/' && left.starts_with(right)
}

// ---------------------------------------------------------------------------
// Comparisons of single `Resource`s (upstream's `operator==`, `addable`,
// `subtractable`, `contains`).
// ---------------------------------------------------------------------------

fn value_type(resource: &Resource) -> Option<Type> {
    Type::try_from(resource.r#type).ok()
}

/// Labels are equal when they hold the same labels in any order.
fn labels_equal(left: &Labels, right: &Labels) -> bool {
    left.labels.len() == right.labels.len()
        && left.labels.iter().all(|label| right.labels.contains(label))
}

/// Compares optional labels, a missing one differing from a present one.
fn optional_labels_equal(left: Option<&Labels>, right: Option<&Labels>) -> bool {
    match (left, right) {
        (None, None) => true,
        (Some(left), Some(right)) => labels_equal(left, right),
        _ => false,
    }
}

fn reservation_equal(left: &ReservationInfo, right: &ReservationInfo) -> bool {
    left.r#type() == right.r#type()
        && left.role() == right.role()
        && left.principal == right.principal
        && optional_labels_equal(left.labels.as_ref(), right.labels.as_ref())
}

fn source_equal(left: &Source, right: &Source) -> bool {
    left.r#type == right.r#type
        && left.path == right.path
        && left.mount == right.mount
        && left.vendor == right.vendor
        && left.id == right.id
        && optional_labels_equal(left.metadata.as_ref(), right.metadata.as_ref())
        && left.profile == right.profile
}

/// Disk infos are equal when source and persistence ID match; the volume (how
/// a task mounts it) and the persistence principal do not count.
fn disk_equal(left: &DiskInfo, right: &DiskInfo) -> bool {
    let sources = match (&left.source, &right.source) {
        (None, None) => true,
        (Some(left), Some(right)) => source_equal(left, right),
        _ => false,
    };
    let persistence = match (&left.persistence, &right.persistence) {
        (None, None) => true,
        (Some(left), Some(right)) => left.id == right.id,
        _ => false,
    };
    sources && persistence
}

/// Everything but the value (upstream `compareResourceMetadata`).
fn metadata_equal(left: &Resource, right: &Resource) -> bool {
    left.name == right.name
        && left.r#type == right.r#type
        && left.allocation_info == right.allocation_info
        && left.reservations.len() == right.reservations.len()
        && left
            .reservations
            .iter()
            .zip(&right.reservations)
            .all(|(l, r)| reservation_equal(l, r))
        && match (&left.disk, &right.disk) {
            (None, None) => true,
            (Some(left), Some(right)) => disk_equal(left, right),
            _ => false,
        }
        && left.revocable.is_some() == right.revocable.is_some()
        && left.provider_id == right.provider_id
        && left.shared.is_some() == right.shared.is_some()
}

fn scalar_of(resource: &Resource) -> Scalar {
    resource.scalar.unwrap_or_default()
}

fn value_equal(left: &Resource, right: &Resource) -> bool {
    match value_type(left) {
        Some(Type::Scalar) => scalar_of(left).equivalent(&scalar_of(right)),
        Some(Type::Ranges) => left
            .ranges
            .clone()
            .unwrap_or_default()
            .equivalent(&right.ranges.clone().unwrap_or_default()),
        Some(Type::Set) => left
            .set
            .clone()
            .unwrap_or_default()
            .equivalent(&right.set.clone().unwrap_or_default()),
        _ => false,
    }
}

fn value_contains(left: &Resource, right: &Resource) -> bool {
    match value_type(left) {
        Some(Type::Scalar) => scalar_of(left).contains(&scalar_of(right)),
        Some(Type::Ranges) => left
            .ranges
            .clone()
            .unwrap_or_default()
            .contains(&right.ranges.clone().unwrap_or_default()),
        Some(Type::Set) => left
            .set
            .clone()
            .unwrap_or_default()
            .contains(&right.set.clone().unwrap_or_default()),
        _ => false,
    }
}

impl Resource {
    /// Returns whether both describe the same resource and amount (upstream
    /// `operator==(Resource, Resource)`): metadata as in [`Resources`] and a
    /// value equal at three decimals, as coalesced ranges or as a set.
    pub fn equivalent(&self, other: &Resource) -> bool {
        metadata_equal(self, other) && value_equal(self, other)
    }

    /// Returns whether `other` can be taken out of this resource whole
    /// (upstream `mesos::contains(left, right)`).
    pub fn contains(&self, other: &Resource) -> bool {
        subtractable(self, other) && value_contains(self, other)
    }
}

/// The metadata checks `addable` and `subtractable` share; `disk` is checked
/// by the callers.
fn mergeable_metadata(left: &Resource, right: &Resource) -> bool {
    left.name == right.name
        && left.r#type == right.r#type
        && left.allocation_info == right.allocation_info
        && left.reservations.len() == right.reservations.len()
        && left
            .reservations
            .iter()
            .zip(&right.reservations)
            .all(|(l, r)| reservation_equal(l, r))
        && left.revocable.is_some() == right.revocable.is_some()
        && left.provider_id == right.provider_id
}

/// Whether `left + right` is one valid resource (upstream `addable`).
fn addable(left: &Resource, right: &Resource) -> bool {
    if left.shared.is_some() != right.shared.is_some() {
        return false;
    }
    // Shared resources are only ever counted, never merged in value.
    if left.shared.is_some() {
        return left.equivalent(right);
    }
    if !mergeable_metadata(left, right) {
        return false;
    }
    match (&left.disk, &right.disk) {
        (None, None) => true,
        (Some(disk), Some(other)) => {
            if !disk_equal(disk, other) {
                return false;
            }
            let source_allows = match &disk.source {
                None => true,
                Some(source) => match source.r#type() {
                    SourceType::Path => true,
                    // Exclusive disks cannot be merged; that would hide that
                    // they are separate devices.
                    SourceType::Block | SourceType::Mount => false,
                    // Raw disks with an identity are separate devices.
                    SourceType::Raw => source.id.is_none(),
                    SourceType::Unknown => false,
                },
            };
            // Two persistent volumes are never merged.
            source_allows && disk.persistence.is_none()
        }
        _ => false,
    }
}

/// Whether `left - right` is one valid resource (upstream `subtractable`).
/// Set subtraction needs no containment: `{1,2} - {2,3}` is `{1}`.
fn subtractable(left: &Resource, right: &Resource) -> bool {
    if left.shared.is_some() != right.shared.is_some() {
        return false;
    }
    if left.shared.is_some() {
        return left.equivalent(right);
    }
    if !mergeable_metadata(left, right) {
        return false;
    }
    match (&left.disk, &right.disk) {
        (None, None) => true,
        (Some(disk), Some(other)) => {
            if !disk_equal(disk, other) {
                return false;
            }
            let source_allows = match &disk.source {
                None => true,
                Some(source) => match source.r#type() {
                    SourceType::Path => true,
                    // Exclusive disks are only taken out whole.
                    SourceType::Block | SourceType::Mount => left.equivalent(right),
                    SourceType::Raw => source.id.is_none() || left.equivalent(right),
                    SourceType::Unknown => false,
                },
            };
            source_allows && (disk.persistence.is_none() || left.equivalent(right))
        }
        _ => false,
    }
}

fn add_value(left: &mut Resource, right: &Resource) {
    match value_type(left) {
        Some(Type::Scalar) => left.scalar = Some(scalar_of(left) + scalar_of(right)),
        Some(Type::Ranges) => {
            let mut ranges = left.ranges.take().unwrap_or_default();
            if let Some(other) = &right.ranges {
                ranges += other;
            }
            left.ranges = Some(ranges);
        }
        Some(Type::Set) => {
            let mut set = left.set.take().unwrap_or_default();
            if let Some(other) = &right.set {
                set += other;
            }
            left.set = Some(set);
        }
        _ => {}
    }
}

fn subtract_value(left: &mut Resource, right: &Resource) {
    match value_type(left) {
        Some(Type::Scalar) => left.scalar = Some(scalar_of(left) - scalar_of(right)),
        Some(Type::Ranges) => {
            let mut ranges = left.ranges.take().unwrap_or_default();
            if let Some(other) = &right.ranges {
                ranges -= other;
            }
            left.ranges = Some(ranges);
        }
        Some(Type::Set) => {
            let mut set = left.set.take().unwrap_or_default();
            if let Some(other) = &right.set {
                set -= other;
            }
            left.set = Some(set);
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Validation (upstream `Resources::validate`).
// ---------------------------------------------------------------------------

fn check_resource(resource: &Resource) -> std::result::Result<(), String> {
    if resource.name.is_empty() {
        return Err("empty resource name".to_string());
    }
    let Some(kind) = value_type(resource) else {
        return Err("invalid resource type".to_string());
    };
    match kind {
        Type::Scalar => {
            let Some(scalar) = resource.scalar else {
                return Err("invalid scalar resource".to_string());
            };
            if resource.ranges.is_some() || resource.set.is_some() {
                return Err("invalid scalar resource".to_string());
            }
            // Negative values, and non-zero values that round to zero, are
            // refused.
            if scalar.value != 0.0 && scalar.to_fixed() <= 0 {
                return Err("invalid scalar resource: value <= 0".to_string());
            }
        }
        Type::Ranges => {
            let Some(ranges) = &resource.ranges else {
                return Err("invalid ranges resource".to_string());
            };
            if resource.scalar.is_some() || resource.set.is_some() {
                return Err("invalid ranges resource".to_string());
            }
            for (i, range) in ranges.range.iter().enumerate() {
                if range.begin > range.end {
                    return Err("invalid ranges resource: begin > end".to_string());
                }
                // Overlaps are refused; adjacent ranges are fine.
                let overlaps = ranges.range[i + 1..]
                    .iter()
                    .any(|later| range.begin <= later.begin && later.begin <= range.end);
                if overlaps {
                    return Err("invalid ranges resource: overlapping ranges".to_string());
                }
            }
        }
        Type::Set => {
            let Some(set) = &resource.set else {
                return Err("invalid set resource".to_string());
            };
            if resource.scalar.is_some() || resource.ranges.is_some() {
                return Err("invalid set resource".to_string());
            }
            for (i, item) in set.item.iter().enumerate() {
                if set.item[i + 1..].contains(item) {
                    return Err("invalid set resource: duplicated elements".to_string());
                }
            }
        }
        Type::Text => return Err("unsupported resource type".to_string()),
    }

    if let Some(disk) = &resource.disk {
        if resource.name != "disk" {
            return Err(format!(
                "DiskInfo should not be set for {} resource",
                resource.name
            ));
        }
        if let Some(source) = &disk.source {
            match source.r#type() {
                SourceType::Path | SourceType::Mount => {}
                kind @ (SourceType::Block | SourceType::Raw) => {
                    if source.mount.is_some() {
                        return Err(format!(
                            "Mount should not be set for {} disk source",
                            kind.as_str_name()
                        ));
                    }
                    if source.path.is_some() {
                        return Err(format!(
                            "Path should not be set for {} disk source",
                            kind.as_str_name()
                        ));
                    }
                }
                SourceType::Unknown => {
                    return Err(format!(
                        "unsupported 'DiskInfo.Source.Type' in '{}'",
                        DisplaySource(source)
                    ));
                }
            }
        }
    }

    check_reservations(resource)?;

    // Only persistent volumes can be shared for now.
    if resource.shared.is_some() {
        if resource.name != "disk" {
            return Err(format!("resource {} cannot be shared", resource.name));
        }
        if resource
            .disk
            .as_ref()
            .is_none_or(|disk| disk.persistence.is_none())
        {
            return Err("only persistent volumes can be shared".to_string());
        }
    }
    Ok(())
}

fn check_reservations(resource: &Resource) -> std::result::Result<(), String> {
    let Some((first, refinements)) = resource.reservations.split_first() else {
        // The pre-1.4 format: `role` (default "*") and maybe `reservation`.
        check_role(resource.role())?;
        if let Some(reservation) = &resource.reservation {
            if reservation.r#type.is_some() {
                return Err("'Resource.ReservationInfo.type' must not be set for the \
                            'Resource.reservation' field"
                    .to_string());
            }
            if reservation.role.is_some() {
                return Err("'Resource.ReservationInfo.role' must not be set for the \
                            'Resource.reservation' field"
                    .to_string());
            }
            if resource.role() == "*" {
                return Err(
                    "invalid reservation: role \"*\" cannot be dynamically reserved".to_string(),
                );
            }
        }
        return Ok(());
    };

    for reservation in &resource.reservations {
        if reservation.r#type.is_none() {
            return Err(
                "invalid reservation: 'Resource.ReservationInfo.type' field must be set"
                    .to_string(),
            );
        }
        if reservation.role.is_none() {
            return Err(
                "invalid reservation: 'Resource.ReservationInfo.role' field must be set"
                    .to_string(),
            );
        }
        check_role(reservation.role())?;
        if reservation.role() == "*" {
            return Err("invalid reservation: role \"*\" cannot be reserved".to_string());
        }
    }

    // Each refinement must be dynamic and reserve to a descendant role.
    let mut ancestor = first.role();
    for reservation in refinements {
        if reservation.r#type() == ReservationType::Static {
            return Err(
                "invalid refined reservation: a refined reservation cannot be STATIC".to_string(),
            );
        }
        let descendant = reservation.role();
        if !is_strict_subrole_of(descendant, ancestor) {
            return Err(format!(
                "invalid refined reservation: role '{descendant}' is not a refinement of \
                 '{ancestor}'"
            ));
        }
        ancestor = descendant;
    }

    // The "endpoint" format: the old fields may be set alongside a single
    // reservation if they say the same thing.
    if !refinements.is_empty() {
        if resource.role.is_some() {
            return Err(
                "invalid resource format: 'Resource.role' must not be set if there is \
                        more than one reservation in 'Resource.reservations'"
                    .to_string(),
            );
        }
        if resource.reservation.is_some() {
            return Err(
                "invalid resource format: 'Resource.reservation' must not be set if \
                        there is more than one reservation in 'Resource.reservations'"
                    .to_string(),
            );
        }
        return Ok(());
    }
    if resource.role.is_some() && resource.role() != first.role() {
        return Err(format!(
            "invalid resource format: 'Resource.role' field with '{}' does not match the role \
             '{}' in 'Resource.reservations'",
            resource.role(),
            first.role()
        ));
    }
    match first.r#type() {
        ReservationType::Static => {
            if resource.reservation.is_some() {
                return Err(
                    "invalid resource format: 'Resource.reservation' must not be set if \
                            the single reservation in 'Resource.reservations' is STATIC"
                        .to_string(),
                );
            }
        }
        ReservationType::Dynamic => {
            if resource.role.is_some() != resource.reservation.is_some() {
                return Err("invalid resource format: 'Resource.role' and \
                            'Resource.reservation' must either be both set or both not set if \
                            the single reservation in 'Resource.reservations' is DYNAMIC"
                    .to_string());
            }
            if let Some(old) = &resource.reservation {
                if old.principal() != first.principal() {
                    return Err(format!(
                        "invalid resource format: 'Resource.reservation.principal' field with \
                         '{}' does not match the principal '{}' in 'Resource.reservations'",
                        old.principal(),
                        first.principal()
                    ));
                }
                let old_labels = old.labels.clone().unwrap_or_default();
                let labels = first.labels.clone().unwrap_or_default();
                if !labels_equal(&old_labels, &labels) {
                    return Err(format!(
                        "invalid resource format: 'Resource.reservation.labels' field with \
                         '{}' does not match the labels '{}' in 'Resource.reservations'",
                        DisplayLabels(&old_labels),
                        DisplayLabels(&labels)
                    ));
                }
            }
        }
        ReservationType::Unknown => {
            return Err("unsupported 'Resource.ReservationInfo.Type'".to_string());
        }
    }
    Ok(())
}

/// Checks what only operations may create is absent from command-line
/// resources, and that each name has one type.
fn check_command_line(resources: &Resources) -> Result<()> {
    let mut types: HashMap<&str, i32> = HashMap::new();
    for resource in resources {
        if Resources::is_persistent_volume(resource) {
            return Err(ResourcesError::CommandLine(
                "persistent volumes cannot be specified at the command line".to_string(),
            ));
        }
        if Resources::is_revocable(resource) {
            return Err(ResourcesError::CommandLine(
                "revocable resources cannot be specified at the command line; do not include a \
                 'revocable' key in the resources JSON"
                    .to_string(),
            ));
        }
        if Resources::is_dynamically_reserved(resource) {
            return Err(ResourcesError::CommandLine(
                "dynamic reservations cannot be specified at the command line; do not include a \
                 reservation with DYNAMIC type in the resources JSON"
                    .to_string(),
            ));
        }
        let kind = *types
            .entry(resource.name.as_str())
            .or_insert(resource.r#type);
        if kind != resource.r#type {
            return Err(ResourcesError::CommandLine(format!(
                "resources with the same name ('{}') but different types are not allowed",
                resource.name
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Format conversions (upstream `src/common/resources_utils.cpp`).
// ---------------------------------------------------------------------------

/// Rewrites how `resource` encodes its reservations (upstream
/// `convertResourceFormat`). A resource in either format is accepted.
///
/// Fails, leaving the resource in the 1.4+ format, when converting a
/// refined reservation to [`ResourceFormat::PreReservationRefinement`].
pub fn convert_resource_format(resource: &mut Resource, format: ResourceFormat) -> Result<()> {
    // Normalise first, so that a resource already in the old format converts
    // from what it means rather than from its empty `reservations`.
    upgrade_resource(resource);
    if format == ResourceFormat::PostReservationRefinement {
        return Ok(());
    }
    match resource.reservations.as_slice() {
        [] => resource.role = Some("*".to_string()),
        [single] => {
            let single = single.clone();
            if single.r#type() == ReservationType::Dynamic {
                resource.reservation = Some(ReservationInfo {
                    principal: single.principal.clone(),
                    labels: single.labels.clone(),
                    ..Default::default()
                });
            }
            resource.role = Some(single.role().to_string());
            if format == ResourceFormat::PreReservationRefinement {
                resource.reservations.clear();
            }
        }
        _ => {
            if format == ResourceFormat::PreReservationRefinement {
                return Err(ResourcesError::RefinedReservations);
            }
        }
    }
    Ok(())
}

/// Converts a resource to the 1.4+ `reservations` format (upstream
/// `upgradeResource`): `role: "r"` becomes a STATIC reservation, and with a
/// `reservation` a DYNAMIC one; `role: "*"` becomes no reservation. A
/// resource already in that format only loses the duplicated old fields.
pub fn upgrade_resource(resource: &mut Resource) {
    if !resource.reservations.is_empty() {
        resource.role = None;
        resource.reservation = None;
        return;
    }
    if resource.role() == "*" {
        // A `reservation` beside role "*" is invalid; it is left for
        // validation to refuse.
        resource.role = None;
        return;
    }
    let mut reservation = match resource.reservation.take() {
        None => ReservationInfo {
            r#type: Some(ReservationType::Static as i32),
            ..Default::default()
        },
        Some(mut reservation) => {
            reservation.r#type = Some(ReservationType::Dynamic as i32);
            reservation
        }
    };
    reservation.role = resource.role.take();
    resource.reservations.push(reservation);
}

/// Upgrades every resource (upstream `upgradeResources`).
pub fn upgrade_resources(resources: &mut [Resource]) {
    resources.iter_mut().for_each(upgrade_resource);
}

/// Converts a resource to the pre-1.4 `role`/`reservation` format for peers
/// without `RESERVATION_REFINEMENT` (upstream `downgradeResource`). Fails,
/// leaving the resource unchanged, if it has refined reservations.
pub fn downgrade_resource(resource: &mut Resource) -> Result<()> {
    convert_resource_format(resource, ResourceFormat::PreReservationRefinement)
}

/// Downgrades resources in order, stopping at the first that has refined
/// reservations (those before it stay downgraded), as upstream does.
pub fn downgrade_resources(resources: &mut [Resource]) -> Result<()> {
    resources.iter_mut().try_for_each(downgrade_resource)
}

// ---------------------------------------------------------------------------
// The collection.
// ---------------------------------------------------------------------------

/// One held resource: upstream's `Resource_`, which counts identical shared
/// resources instead of merging their values.
#[derive(Debug, Clone)]
struct Entry {
    resource: Resource,
    /// `Some(n)` for shared resources: `n` copies are held.
    shared_count: Option<i64>,
}

impl Entry {
    fn new(resource: Resource) -> Self {
        let shared_count = resource.shared.is_some().then_some(1);
        Entry {
            resource,
            shared_count,
        }
    }

    fn is_empty(&self) -> bool {
        self.shared_count == Some(0) || Resources::is_empty_resource(&self.resource)
    }

    fn contains(&self, that: &Entry) -> bool {
        match (self.shared_count, that.shared_count) {
            (Some(mine), Some(theirs)) => {
                mine >= theirs && self.resource.equivalent(&that.resource)
            }
            (None, None) => self.resource.contains(&that.resource),
            _ => false,
        }
    }

    /// Adds `that`, which the caller checked is addable.
    fn add(&mut self, that: &Entry) {
        match &mut self.shared_count {
            Some(count) => *count += that.shared_count.unwrap_or_default(),
            None => add_value(&mut self.resource, &that.resource),
        }
    }

    /// Subtracts `that`, which the caller checked is subtractable.
    fn subtract(&mut self, that: &Entry) {
        match &mut self.shared_count {
            Some(count) => *count -= that.shared_count.unwrap_or_default(),
            None => subtract_value(&mut self.resource, &that.resource),
        }
    }

    fn is_negative(&self) -> bool {
        self.shared_count.is_some_and(|count| count < 0)
            || (value_type(&self.resource) == Some(Type::Scalar)
                && scalar_of(&self.resource).value < 0.0)
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.resource)?;
        if let Some(count) = self.shared_count {
            write!(f, "<{count}>")?;
        }
        Ok(())
    }
}

/// A set of resources kept valid and merged (upstream `mesos::Resources`).
///
/// Two resources merge when they are "addable": same name and type, same
/// allocation role, same reservation stack (type, role, principal, labels),
/// same disk source and persistence ID, both revocable or not, same resource
/// provider, and neither shared (identical shared resources are counted
/// instead). Exclusive disks (`MOUNT`, `BLOCK`, `RAW` with an ID) and
/// persistent volumes never merge.
///
/// Equality (`==`) is mutual containment.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    entries: Vec<Entry>,
}

/// Iterates over the resources of a [`Resources`], one per entry (a shared
/// resource held `n` times is yielded once).
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    inner: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Resource;

    fn next(&mut self) -> Option<&'a Resource> {
        self.inner.next().map(|entry| &entry.resource)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Resources {
    type Item = &'a Resource;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl Resources {
    /// Returns an empty set of resources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns whether no resource is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Returns how many distinct resources are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Iterates over the held resources.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.entries.iter(),
        }
    }

    /// Returns the held resources as protobufs (upstream's conversion to
    /// `RepeatedPtrField<Resource>`), one per entry.
    pub fn to_vec(&self) -> Vec<Resource> {
        self.iter().cloned().collect()
    }

    // --- Parsing --------------------------------------------------------

    /// Parses `--resources` text, either a JSON array of `Resource` objects
    /// or `name(role):value;...`, and checks the result (upstream
    /// `Resources::parse(text, defaultRole)`).
    ///
    /// Resources without a role get `default_role` (`"*"` for unreserved);
    /// a role becomes a STATIC reservation. Every resource must be valid;
    /// zero amounts are then dropped. Persistent volumes, revocable
    /// resources, dynamic reservations and one name with two types are
    /// refused.
    pub fn parse(text: &str, default_role: &str) -> Result<Resources> {
        let mut result = Resources::new();
        for resource in Self::from_string(text, default_role)? {
            check_resource(&resource).map_err(ResourcesError::Invalid)?;
            result.add_entry(Entry::new(resource));
        }
        check_command_line(&result)?;
        Ok(result)
    }

    /// Parses one resource from its name, value text and role (upstream
    /// `Resources::parse(name, value, role)`); role `"*"` means unreserved,
    /// any other role a STATIC reservation. The result is not validated.
    pub fn parse_resource(name: &str, value: &str, role: &str) -> Result<Resource> {
        let parsed = values::parse(value).map_err(|source| ResourcesError::Value {
            name: name.to_string(),
            value: value.to_string(),
            source,
        })?;
        let mut resource = Resource {
            name: name.to_string(),
            r#type: parsed.r#type,
            ..Default::default()
        };
        if role != "*" {
            resource.reservations.push(ReservationInfo {
                r#type: Some(ReservationType::Static as i32),
                role: Some(role.to_string()),
                ..Default::default()
            });
        }
        match parsed.r#type() {
            Type::Scalar => resource.scalar = parsed.scalar,
            Type::Ranges => resource.ranges = parsed.ranges,
            Type::Set => resource.set = parsed.set,
            Type::Text => {
                return Err(ResourcesError::UnsupportedType {
                    name: name.to_string(),
                    value: value.to_string(),
                    kind: Type::Text.as_str_name().to_string(),
                })
            }
        }
        Ok(resource)
    }

    /// Parses a JSON array of `Resource` objects (upstream
    /// `Resources::fromJSON`). Resources with neither `role` nor
    /// `reservations` get `default_role`; all are upgraded to the 1.4+
    /// format. The results are not validated.
    pub fn from_json(json: &serde_json::Value, default_role: &str) -> Result<Vec<Resource>> {
        let mut resources = crate::json::from_value_repeated::<Resource>(json)
            .map_err(|error| ResourcesError::Json(error.to_string()))?;
        for resource in &mut resources {
            if resource.role.is_none() && resource.reservations.is_empty() {
                resource.role = Some(default_role.to_string());
            }
            upgrade_resource(resource);
        }
        Ok(resources)
    }

    /// Parses `name(role):value;name:value;...` (upstream
    /// `Resources::fromSimpleString`). Names and roles are trimmed; a
    /// resource without `(role)` gets `default_role`. The results are not
    /// validated.
    pub fn from_simple_string(text: &str, default_role: &str) -> Result<Vec<Resource>> {
        let trim = |s: &str| s.trim_matches([' ', '\t', '\n', '\r']).to_string();
        let mut resources = Vec::new();
        for token in values::tokenize(text, &[';']) {
            let pair = values::tokenize(token, &[':']);
            let [key, value] = pair.as_slice() else {
                return Err(ResourcesError::MissingColon {
                    token: token.to_string(),
                });
            };
            let (name, role) = match key.find('(') {
                None => (trim(key), default_role.to_string()),
                Some(open) => match key.find(')') {
                    Some(close) if close > open => {
                        (trim(&key[..open]), trim(&key[open + 1..close]))
                    }
                    _ => {
                        return Err(ResourcesError::MismatchedParentheses {
                            token: token.to_string(),
                        })
                    }
                },
            };
            resources.push(Self::parse_resource(&name, value, &role)?);
        }
        Ok(resources)
    }

    /// Parses either form: a JSON array if the text is one, the simple text
    /// form otherwise (upstream `Resources::fromString`).
    pub fn from_string(text: &str, default_role: &str) -> Result<Vec<Resource>> {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(json @ serde_json::Value::Array(_)) => Self::from_json(&json, default_role),
            _ => Self::from_simple_string(text, default_role),
        }
    }

    // --- Validation -------------------------------------------------------

    /// Checks one resource (upstream `Resources::validate(Resource)`): a
    /// name; a scalar, ranges or set value matching the type (scalars not
    /// negative and not rounding to zero, ranges not inverted or overlapping,
    /// sets without duplicates); disk info only on `disk`; valid role names;
    /// reservations in either format and consistent when both are given,
    /// refinements DYNAMIC and to descendant roles; only persistent volumes
    /// shared.
    pub fn validate(resource: &Resource) -> Result<()> {
        check_resource(resource).map_err(ResourcesError::Invalid)
    }

    /// Checks every resource, naming the first invalid one (upstream
    /// `Resources::validate(RepeatedPtrField<Resource>)`).
    pub fn validate_all<'a>(resources: impl IntoIterator<Item = &'a Resource>) -> Result<()> {
        for resource in resources {
            check_resource(resource).map_err(|reason| ResourcesError::InvalidResource {
                resource: resource.to_string(),
                reason,
            })?;
        }
        Ok(())
    }

    // --- Predicates on one resource (assumed valid and upgraded) ------------

    /// Returns whether the resource holds nothing: zero, no ranges, no items.
    pub fn is_empty_resource(resource: &Resource) -> bool {
        match value_type(resource) {
            Some(Type::Scalar) => scalar_of(resource).to_fixed() == 0,
            Some(Type::Ranges) => resource.ranges.as_ref().is_none_or(|r| r.range.is_empty()),
            Some(Type::Set) => resource.set.as_ref().is_none_or(|s| s.item.is_empty()),
            _ => false,
        }
    }

    /// Returns whether the resource is a persistent volume.
    pub fn is_persistent_volume(resource: &Resource) -> bool {
        resource
            .disk
            .as_ref()
            .is_some_and(|disk| disk.persistence.is_some())
    }

    /// Returns whether the resource is a disk with a source of that type.
    pub fn is_disk(resource: &Resource, kind: SourceType) -> bool {
        resource
            .disk
            .as_ref()
            .and_then(|disk| disk.source.as_ref())
            .is_some_and(|source| source.r#type() == kind)
    }

    /// Returns whether the resource is reserved, and if `role` is given,
    /// whether its innermost reservation is to that role.
    pub fn is_reserved(resource: &Resource, role: Option<&str>) -> bool {
        !Self::is_unreserved(resource)
            && role.is_none_or(|role| Self::reservation_role(resource) == Some(role))
    }

    /// Returns whether `role` may be allocated the resource: it is
    /// unreserved, or reserved to `role` or one of its ancestors.
    pub fn is_allocatable_to(resource: &Resource, role: &str) -> bool {
        match Self::reservation_role(resource) {
            None => true,
            Some(reserved) => role == reserved || is_strict_subrole_of(role, reserved),
        }
    }

    /// Returns whether the resource has no reservation.
    pub fn is_unreserved(resource: &Resource) -> bool {
        resource.reservations.is_empty()
    }

    /// Returns whether the innermost reservation is DYNAMIC.
    pub fn is_dynamically_reserved(resource: &Resource) -> bool {
        resource
            .reservations
            .last()
            .is_some_and(|r| r.r#type() == ReservationType::Dynamic)
    }

    /// Returns whether the resource is revocable.
    pub fn is_revocable(resource: &Resource) -> bool {
        resource.revocable.is_some()
    }

    /// Returns whether the resource is shared.
    pub fn is_shared(resource: &Resource) -> bool {
        resource.shared.is_some()
    }

    /// Returns whether the resource is allocated to `role` or a descendant.
    pub fn is_allocated_to_role_subtree(resource: &Resource, role: &str) -> bool {
        let allocated = resource
            .allocation_info
            .as_ref()
            .map_or("", AllocationInfo::role);
        allocated == role || is_strict_subrole_of(allocated, role)
    }

    /// Returns whether the resource is reserved to `role` or a descendant.
    pub fn is_reserved_to_role_subtree(resource: &Resource, role: &str) -> bool {
        Self::reservation_role(resource)
            .is_some_and(|reserved| reserved == role || is_strict_subrole_of(reserved, role))
    }

    /// Returns whether the resource has more than one reservation.
    pub fn has_refined_reservations(resource: &Resource) -> bool {
        resource.reservations.len() > 1
    }

    /// Returns whether the resource comes from a resource provider.
    pub fn has_resource_provider(resource: &Resource) -> bool {
        resource.provider_id.is_some()
    }

    /// Returns the role of the innermost reservation, if reserved.
    pub fn reservation_role(resource: &Resource) -> Option<&str> {
        resource.reservations.last().map(ReservationInfo::role)
    }

    /// Lowers a scalar resource to at most `target` (upstream
    /// `Resources::shrink`). Returns false, leaving it unchanged, if it is an
    /// indivisible disk (one that does not contain a smaller copy of itself).
    pub fn shrink(resource: &mut Resource, target: Scalar) -> bool {
        if target.contains(&scalar_of(resource)) {
            return true;
        }
        if resource.disk.is_some() {
            let original = resource.clone();
            let previous = resource.scalar.replace(target);
            if original.contains(resource) {
                return true;
            }
            resource.scalar = previous;
            return false;
        }
        resource.scalar = Some(target);
        true
    }

    /// Returns `r1` with the reservations `r1` and `r2` share at the bottom
    /// of their stacks (upstream `getReservationAncestor(Resource, Resource)`).
    pub fn resource_reservation_ancestor(r1: &Resource, r2: &Resource) -> Resource {
        let mut ancestor = r1.clone();
        ancestor.reservations = r1
            .reservations
            .iter()
            .zip(&r2.reservations)
            .take_while(|(left, right)| reservation_equal(left, right))
            .map(|(left, _)| left.clone())
            .collect();
        ancestor
    }

    /// Returns the resources reserved with the reservations both share,
    /// looking at their first resources (upstream
    /// `getReservationAncestor(Resources, Resources)`); `None` if either is
    /// empty or they differ once unreserved.
    pub fn reservation_ancestor(r1: &Resources, r2: &Resources) -> Option<Resources> {
        let (first, second) = (r1.iter().next()?, r2.iter().next()?);
        let result = r1.to_unreserved();
        if result != r2.to_unreserved() {
            return None;
        }
        let ancestor = Self::resource_reservation_ancestor(first, second);
        ancestor
            .reservations
            .iter()
            .try_fold(result, |resources, reservation| {
                resources.push_reservation(reservation)
            })
            .ok()
    }

    // --- Queries ------------------------------------------------------------

    /// Returns whether every resource of `that` is held here; persistent
    /// volumes are counted (two copies of a volume need two).
    pub fn contains(&self, that: &Resources) -> bool {
        let mut remaining = self.clone();
        for entry in &that.entries {
            if !remaining.contains_entry(entry) {
                return false;
            }
            if Self::is_persistent_volume(&entry.resource) {
                remaining.subtract_entry(entry);
            }
        }
        true
    }

    /// Returns whether `that` is held here; an invalid resource never is.
    pub fn contains_resource(&self, that: &Resource) -> bool {
        if check_resource(that).is_err() {
            return false;
        }
        let mut that = that.clone();
        upgrade_resource(&mut that);
        self.contains_entry(&Entry::new(that))
    }

    fn contains_entry(&self, that: &Entry) -> bool {
        self.entries.iter().any(|entry| entry.contains(that))
    }

    /// Returns how many copies of exactly `that` are held: the count for a
    /// shared resource, otherwise 1 or 0.
    pub fn count(&self, that: &Resource) -> usize {
        self.entries
            .iter()
            .find(|entry| entry.resource.equivalent(that))
            .map_or(0, |entry| {
                entry
                    .shared_count
                    .map_or(1, |count| usize::try_from(count).unwrap_or(0))
            })
    }

    /// Returns the resources matching `predicate`.
    pub fn filter(&self, predicate: impl Fn(&Resource) -> bool) -> Resources {
        Resources {
            entries: self
                .entries
                .iter()
                .filter(|e| predicate(&e.resource))
                .cloned()
                .collect(),
        }
    }

    /// Returns the reserved resources grouped by the role of their innermost
    /// reservation.
    pub fn reservations(&self) -> BTreeMap<String, Resources> {
        let mut result: BTreeMap<String, Resources> = BTreeMap::new();
        for entry in &self.entries {
            if let Some(role) = Self::reservation_role(&entry.resource) {
                result
                    .entry(role.to_string())
                    .or_default()
                    .add_entry(entry.clone());
            }
        }
        result
    }

    /// Returns the reserved resources, only those reserved to `role` if
    /// given (`"*"` matches nothing).
    pub fn reserved(&self, role: Option<&str>) -> Resources {
        self.filter(|r| Self::is_reserved(r, role))
    }

    /// Returns what `role` may be allocated: unreserved resources and those
    /// reserved to `role` or its ancestors.
    pub fn allocatable_to(&self, role: &str) -> Resources {
        self.filter(|r| Self::is_allocatable_to(r, role))
    }

    /// Returns the resources allocated to `role` exactly.
    pub fn allocated_to(&self, role: &str) -> Resources {
        self.filter(|r| r.allocation_info.as_ref().is_some_and(|a| a.role() == role))
    }

    /// Returns the resources allocated to `role` or its descendants.
    pub fn allocated_to_role_subtree(&self, role: &str) -> Resources {
        self.filter(|r| Self::is_allocated_to_role_subtree(r, role))
    }

    /// Returns the resources reserved to `role` or its descendants.
    pub fn reserved_to_role_subtree(&self, role: &str) -> Resources {
        self.filter(|r| Self::is_reserved_to_role_subtree(r, role))
    }

    /// Returns the unreserved resources.
    pub fn unreserved(&self) -> Resources {
        self.filter(Self::is_unreserved)
    }

    /// Returns the persistent volumes.
    pub fn persistent_volumes(&self) -> Resources {
        self.filter(Self::is_persistent_volume)
    }

    /// Returns the revocable resources.
    pub fn revocable(&self) -> Resources {
        self.filter(Self::is_revocable)
    }

    /// Returns the resources that are not revocable.
    pub fn non_revocable(&self) -> Resources {
        self.filter(|r| !Self::is_revocable(r))
    }

    /// Returns the shared resources.
    pub fn shared(&self) -> Resources {
        self.filter(Self::is_shared)
    }

    /// Returns the resources that are not shared.
    pub fn non_shared(&self) -> Resources {
        self.filter(|r| !Self::is_shared(r))
    }

    /// Returns the resources grouped by allocation role; resources without
    /// an allocation are left out.
    pub fn allocations(&self) -> BTreeMap<String, Resources> {
        let mut result: BTreeMap<String, Resources> = BTreeMap::new();
        for entry in &self.entries {
            if let Some(role) = entry
                .resource
                .allocation_info
                .as_ref()
                .and_then(|a| a.role.clone())
            {
                result.entry(role).or_default().add_entry(entry.clone());
            }
        }
        result
    }

    /// Returns the resources named `name`.
    pub fn get(&self, name: &str) -> Resources {
        self.filter(|r| r.name == name)
    }

    /// Returns the sum of the scalar resources named `name`, if any.
    pub fn get_scalar(&self, name: &str) -> Option<Scalar> {
        // Summing from zero rounds even a single value to thousandths.
        let mut matching = self
            .iter()
            .filter(|r| r.name == name && value_type(r) == Some(Type::Scalar))
            .peekable();
        matching.peek()?;
        Some(
            matching
                .map(scalar_of)
                .fold(Scalar::default(), |total, scalar| total + scalar),
        )
    }

    /// Returns the union of the ranges resources named `name`, if any.
    pub fn get_ranges(&self, name: &str) -> Option<Ranges> {
        let mut matching = self
            .iter()
            .filter(|r| r.name == name && value_type(r) == Some(Type::Ranges))
            .peekable();
        matching.peek()?;
        let mut total = Ranges::default();
        for resource in matching {
            total += &resource.ranges.clone().unwrap_or_default();
        }
        Some(total)
    }

    /// Returns the union of the set resources named `name`, if any.
    pub fn get_set(&self, name: &str) -> Option<Set> {
        let mut matching = self
            .iter()
            .filter(|r| r.name == name && value_type(r) == Some(Type::Set))
            .peekable();
        matching.peek()?;
        let mut total = Set::default();
        for resource in matching {
            total += &resource.set.clone().unwrap_or_default();
        }
        Some(total)
    }

    /// Returns the scalar resources.
    pub fn scalars(&self) -> Resources {
        self.filter(|r| value_type(r) == Some(Type::Scalar))
    }

    /// Returns the distinct resource names.
    pub fn names(&self) -> BTreeSet<String> {
        self.iter().map(|r| r.name.clone()).collect()
    }

    /// Returns each name's value type (the last one seen wins).
    pub fn types(&self) -> BTreeMap<String, Type> {
        self.iter()
            .filter_map(|r| Some((r.name.clone(), value_type(r)?)))
            .collect()
    }

    /// Returns the total `cpus`, if any.
    pub fn cpus(&self) -> Option<f64> {
        self.get_scalar("cpus").map(|s| s.value)
    }

    /// Returns the total `gpus`, if any.
    pub fn gpus(&self) -> Option<f64> {
        self.get_scalar("gpus").map(|s| s.value)
    }

    /// Returns the total `mem` in bytes, if any: the megabytes truncated to a
    /// whole number, as upstream's `Bytes` result.
    pub fn mem(&self) -> Option<u64> {
        self.get_scalar("mem").map(|s| megabytes_to_bytes(s.value))
    }

    /// Returns the total `disk` in bytes, if any, like [`Resources::mem`].
    pub fn disk(&self) -> Option<u64> {
        self.get_scalar("disk").map(|s| megabytes_to_bytes(s.value))
    }

    /// Returns the union of the `ports` ranges, if any.
    pub fn ports(&self) -> Option<Ranges> {
        self.get_ranges("ports")
    }

    /// Returns the union of the `ephemeral_ports` ranges, if any.
    pub fn ephemeral_ports(&self) -> Option<Ranges> {
        self.get_ranges("ephemeral_ports")
    }

    /// Finds resources here to satisfy each of `targets`, looking first at
    /// the target's own reservation, then unreserved, then any other
    /// reservation (upstream `Resources::find`). Returns `None` if a target
    /// cannot be met.
    pub fn find(&self, targets: &Resources) -> Option<Resources> {
        let mut total = Resources::new();
        for target in targets {
            total += self.find_resource(target)?;
        }
        Some(total)
    }

    fn find_resource(&self, target: &Resource) -> Option<Resources> {
        let mut found = Resources::new();
        let mut total = self.clone();
        let mut remaining = Resources::from(target.clone()).to_unreserved();
        let target_role = Self::reservation_role(target);

        // Stage 0: the target's role; 1: unreserved; 2: anything.
        let stages: &[u8] = if target_role.is_some() {
            &[0, 1, 2]
        } else {
            &[1, 2]
        };
        for &stage in stages {
            let candidates = total.filter(|r| match stage {
                0 => Self::is_reserved(r, target_role),
                1 => Self::is_unreserved(r),
                _ => true,
            });
            for candidate in candidates.entries {
                let mut alone = Resources::new();
                alone.add_entry(candidate.clone());
                // Compare amounts only, whatever the reservations.
                let unreserved = alone.to_unreserved();
                if unreserved.contains(&remaining) {
                    for resource in &remaining {
                        let mut resource = resource.clone();
                        resource.reservations = candidate.resource.reservations.clone();
                        found.add_entry(Entry::new(resource));
                    }
                    return Some(found);
                } else if remaining.contains(&unreserved) {
                    total.subtract_entry(&candidate);
                    found.add_entry(candidate);
                    remaining -= &unreserved;
                    // Upstream moves on to the next stage after a partial
                    // match, and so do we.
                    break;
                }
            }
        }
        None
    }

    // --- Transformations ------------------------------------------------------

    /// Sets every resource's allocation role, replacing any earlier one.
    pub fn allocate(&mut self, role: &str) {
        for entry in &mut self.entries {
            entry.resource.allocation_info = Some(AllocationInfo {
                role: Some(role.to_string()),
            });
        }
    }

    /// Clears every resource's allocation, merging what becomes addable.
    pub fn unallocate(&mut self) {
        let entries = std::mem::take(&mut self.entries);
        for mut entry in entries {
            entry.resource.allocation_info = None;
            self.add_entry(entry);
        }
    }

    /// Returns these resources with `reservation` pushed on every
    /// reservation stack (upstream `pushReservation`). Fails if that makes a
    /// resource invalid (e.g. the role is not a refinement of the current
    /// one).
    pub fn push_reservation(&self, reservation: &ReservationInfo) -> Result<Resources> {
        let mut result = Resources::new();
        for entry in &self.entries {
            let mut entry = entry.clone();
            entry.resource.reservations.push(reservation.clone());
            check_resource(&entry.resource).map_err(|reason| ResourcesError::InvalidResource {
                resource: entry.resource.to_string(),
                reason,
            })?;
            result.add_entry(entry);
        }
        Ok(result)
    }

    /// Returns these resources with the innermost reservation removed
    /// (upstream `popReservation`). Fails if one is unreserved.
    pub fn pop_reservation(&self) -> Result<Resources> {
        let mut result = Resources::new();
        for entry in &self.entries {
            let mut entry = entry.clone();
            if entry.resource.reservations.pop().is_none() {
                return Err(ResourcesError::NotReserved(entry.resource.to_string()));
            }
            result.add_entry(entry);
        }
        Ok(result)
    }

    /// Returns these resources with every reservation removed.
    pub fn to_unreserved(&self) -> Resources {
        let mut result = Resources::new();
        for entry in &self.entries {
            let mut entry = entry.clone();
            entry.resource.reservations.clear();
            result.add_entry(entry);
        }
        result
    }

    /// Returns only the name, type and amount of the scalar resources,
    /// dropping reservations, allocation, disk info, revocability, sharing
    /// and provider.
    pub fn create_stripped_scalar_quantity(&self) -> Resources {
        let mut stripped = Resources::new();
        for resource in self.iter().filter(|r| value_type(r) == Some(Type::Scalar)) {
            stripped.add_entry(Entry::new(Resource {
                name: resource.name.clone(),
                r#type: resource.r#type,
                scalar: resource.scalar,
                ..Default::default()
            }));
        }
        stripped
    }

    /// Returns the object master and agent endpoints print for these
    /// resources; see [`endpoint_json`].
    pub fn to_endpoint_json(&self) -> serde_json::Value {
        endpoint_json(self)
    }

    // --- Arithmetic ---------------------------------------------------------

    /// Adds an entry known to be valid and upgraded (upstream `add`).
    fn add_entry(&mut self, that: Entry) {
        if that.is_empty() {
            return;
        }
        match self
            .entries
            .iter_mut()
            .find(|e| addable(&e.resource, &that.resource))
        {
            Some(entry) => entry.add(&that),
            None => self.entries.push(that),
        }
    }

    /// Subtracts an entry known to be valid and upgraded (upstream
    /// `subtract`); what becomes empty or negative is removed.
    fn subtract_entry(&mut self, that: &Entry) {
        if that.is_empty() {
            return;
        }
        let Some(index) = self
            .entries
            .iter()
            .position(|e| subtractable(&e.resource, &that.resource))
        else {
            return;
        };
        let entry = &mut self.entries[index];
        entry.subtract(that);
        if entry.is_negative() || entry.is_empty() {
            // Upstream swaps the last entry into the hole; keeping that makes
            // printed orders match.
            self.entries.swap_remove(index);
        }
    }

    fn add_resource(&mut self, mut resource: Resource) {
        if check_resource(&resource).is_ok() {
            upgrade_resource(&mut resource);
            self.add_entry(Entry::new(resource));
        }
    }

    /// `+= resource.clone()`, cloning only when the resource is appended
    /// rather than merged: for summing many resources (the tasks of an
    /// agent) into a few.
    pub fn add_ref(&mut self, resource: &Resource) {
        // Shared resources and the pre-refinement format go the long way.
        if resource.shared.is_some() || resource.role.is_some() || resource.reservation.is_some() {
            self.add_resource(resource.clone());
            return;
        }
        if check_resource(resource).is_err() || Resources::is_empty_resource(resource) {
            return;
        }
        match self
            .entries
            .iter_mut()
            .find(|e| addable(&e.resource, resource))
        {
            Some(entry) => add_value(&mut entry.resource, resource),
            None => self.entries.push(Entry::new(resource.clone())),
        }
    }

    fn subtract_resource(&mut self, mut resource: Resource) {
        if check_resource(&resource).is_ok() {
            upgrade_resource(&mut resource);
            self.subtract_entry(&Entry::new(resource));
        }
    }
}

fn megabytes_to_bytes(megabytes: f64) -> u64 {
    // Truncation, as upstream's `static_cast<uint64_t>`; negatives become 0.
    (megabytes as u64).saturating_mul(1024 * 1024)
}

impl PartialEq for Resources {
    fn eq(&self, other: &Resources) -> bool {
        self.contains(other) && other.contains(self)
    }
}

impl From<Resource> for Resources {
    /// Holds the resource if it is valid and not empty.
    fn from(resource: Resource) -> Self {
        let mut resources = Resources::new();
        resources.add_resource(resource);
        resources
    }
}

impl From<Vec<Resource>> for Resources {
    /// Holds the valid, non-empty resources, merged.
    fn from(resources: Vec<Resource>) -> Self {
        resources.into_iter().collect()
    }
}

impl From<&[Resource]> for Resources {
    /// Holds the valid, non-empty resources, merged.
    fn from(resources: &[Resource]) -> Self {
        resources.iter().cloned().collect()
    }
}

impl From<Resources> for Vec<Resource> {
    fn from(resources: Resources) -> Self {
        resources
            .entries
            .into_iter()
            .map(|entry| entry.resource)
            .collect()
    }
}

impl FromIterator<Resource> for Resources {
    fn from_iter<I: IntoIterator<Item = Resource>>(iter: I) -> Self {
        let mut resources = Resources::new();
        resources.extend(iter);
        resources
    }
}

impl Extend<Resource> for Resources {
    fn extend<I: IntoIterator<Item = Resource>>(&mut self, iter: I) {
        for resource in iter {
            self.add_resource(resource);
        }
    }
}

impl AddAssign<Resource> for Resources {
    /// Adds the resource if it is valid; it merges with an addable one.
    fn add_assign(&mut self, rhs: Resource) {
        self.add_resource(rhs);
    }
}

impl AddAssign<&Resource> for Resources {
    fn add_assign(&mut self, rhs: &Resource) {
        self.add_resource(rhs.clone());
    }
}

impl AddAssign<&Resources> for Resources {
    fn add_assign(&mut self, rhs: &Resources) {
        // `add_entry(entry.clone())`, cloning only what is appended.
        for that in &rhs.entries {
            if that.is_empty() {
                continue;
            }
            match self
                .entries
                .iter_mut()
                .find(|e| addable(&e.resource, &that.resource))
            {
                Some(entry) => entry.add(that),
                None => self.entries.push(that.clone()),
            }
        }
    }
}

impl AddAssign<Resources> for Resources {
    fn add_assign(&mut self, rhs: Resources) {
        for entry in rhs.entries {
            self.add_entry(entry);
        }
    }
}

impl SubAssign<Resource> for Resources {
    /// Subtracts the resource if it is valid, from the one it is
    /// subtractable from; what drops to zero or below disappears.
    fn sub_assign(&mut self, rhs: Resource) {
        self.subtract_resource(rhs);
    }
}

impl SubAssign<&Resource> for Resources {
    fn sub_assign(&mut self, rhs: &Resource) {
        self.subtract_resource(rhs.clone());
    }
}

impl SubAssign<&Resources> for Resources {
    fn sub_assign(&mut self, rhs: &Resources) {
        for entry in &rhs.entries {
            self.subtract_entry(entry);
        }
    }
}

impl SubAssign<Resources> for Resources {
    fn sub_assign(&mut self, rhs: Resources) {
        *self -= &rhs;
    }
}

/// `a + b` and `a - b` for owned and borrowed `Resources`, from the `+=` and
/// `-=` above.
macro_rules! resources_binary_op {
    ($Op:ident, $op:ident, $OpAssign:ident, $op_assign:ident, $($Rhs:ty),+) => {$(
        impl $Op<$Rhs> for Resources {
            type Output = Resources;

            fn $op(mut self, rhs: $Rhs) -> Resources {
                $OpAssign::$op_assign(&mut self, rhs);
                self
            }
        }

        impl $Op<$Rhs> for &Resources {
            type Output = Resources;

            fn $op(self, rhs: $Rhs) -> Resources {
                let mut result = self.clone();
                $OpAssign::$op_assign(&mut result, rhs);
                result
            }
        }
    )+};
}

resources_binary_op!(Add, add, AddAssign, add_assign, Resource, &Resource, Resources, &Resources);
resources_binary_op!(Sub, sub, SubAssign, sub_assign, Resource, &Resource, Resources, &Resources);

// ---------------------------------------------------------------------------
// Printing (upstream's `operator<<`s in `resources.cpp`).
// ---------------------------------------------------------------------------

/// `{key: value, key}`.
struct DisplayLabels<'a>(&'a Labels);

impl fmt::Display for DisplayLabels<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, label) in self.0.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(&label.key)?;
            if let Some(value) = &label.value {
                write!(f, ": {value}")?;
            }
        }
        f.write_str("}")
    }
}

/// `TYPE,role[,principal][,{labels}]`.
struct DisplayReservation<'a>(&'a ReservationInfo);

impl fmt::Display for DisplayReservation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reservation = self.0;
        write!(
            f,
            "{},{}",
            reservation.r#type().as_str_name(),
            reservation.role()
        )?;
        if let Some(principal) = &reservation.principal {
            write!(f, ",{principal}")?;
        }
        if let Some(labels) = &reservation.labels {
            write!(f, ",{}", DisplayLabels(labels))?;
        }
        Ok(())
    }
}

/// `MOUNT:/root`, `PATH:/root`, `BLOCK`, `RAW`, or with a CSI identity
/// `MOUNT(vendor,id,profile)`.
struct DisplaySource<'a>(&'a Source);

impl fmt::Display for DisplaySource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = self.0;
        let csi = (source.id.is_some() || source.profile.is_some())
            .then(|| format!("({},{},{})", source.vendor(), source.id(), source.profile()));
        let root = |root: Option<&String>| root.map(|root| format!(":{root}")).unwrap_or_default();
        match source.r#type() {
            SourceType::Mount => write!(
                f,
                "MOUNT{}",
                csi.unwrap_or_else(|| root(source.mount.as_ref().and_then(|m| m.root.as_ref())))
            ),
            SourceType::Path => write!(
                f,
                "PATH{}",
                csi.unwrap_or_else(|| root(source.path.as_ref().and_then(|p| p.root.as_ref())))
            ),
            SourceType::Block => write!(f, "BLOCK{}", csi.unwrap_or_default()),
            SourceType::Raw => write!(f, "RAW{}", csi.unwrap_or_default()),
            SourceType::Unknown => f.write_str("UNKNOWN"),
        }
    }
}

/// `[host_path:]container_path[:rw|:ro]` (the mode only with a host path).
struct DisplayVolume<'a>(&'a Volume);

impl fmt::Display for DisplayVolume<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let volume = self.0;
        let Some(host_path) = &volume.host_path else {
            return f.write_str(&volume.container_path);
        };
        write!(f, "{host_path}:{}", volume.container_path)?;
        match volume.mode {
            1 => f.write_str(":rw"),
            2 => f.write_str(":ro"),
            _ => Ok(()),
        }
    }
}

/// `source,persistence_id:volume`, each part only when set.
struct DisplayDisk<'a>(&'a DiskInfo);

impl fmt::Display for DisplayDisk<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let disk = self.0;
        if let Some(source) = &disk.source {
            write!(f, "{}", DisplaySource(source))?;
        }
        if let Some(persistence) = &disk.persistence {
            if disk.source.is_some() {
                f.write_str(",")?;
            }
            f.write_str(&persistence.id)?;
        }
        if let Some(volume) = &disk.volume {
            write!(f, ":{}", DisplayVolume(volume))?;
        }
        Ok(())
    }
}

impl fmt::Display for Resource {
    /// Prints as upstream's `operator<<(ostream&, const Resource&)`, e.g.
    /// `cpus:1`, `cpus(allocated: *):1`,
    /// `disk(reservations: [(STATIC,a),(DYNAMIC,a/b,p)])[MOUNT:/mnt,id:/data]{REV}:64`,
    /// `ports:[31000-32000]`, `disks:{sda1, sda2}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(allocation) = &self.allocation_info {
            write!(f, "(allocated: {})", allocation.role())?;
        }
        if !self.reservations.is_empty() {
            f.write_str("(reservations: [")?;
            for (i, reservation) in self.reservations.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "({})", DisplayReservation(reservation))?;
            }
            f.write_str("])")?;
        }
        if let Some(disk) = &self.disk {
            write!(f, "[{}]", DisplayDisk(disk))?;
        }
        if self.revocable.is_some() {
            f.write_str("{REV}")?;
        }
        if self.shared.is_some() {
            f.write_str("<SHARED>")?;
        }
        f.write_str(":")?;
        match value_type(self) {
            Some(Type::Scalar) => write!(f, "{}", scalar_of(self)),
            Some(Type::Ranges) => write!(f, "{}", self.ranges.clone().unwrap_or_default()),
            Some(Type::Set) => write!(f, "{}", self.set.clone().unwrap_or_default()),
            Some(Type::Text) | None => Ok(()),
        }
    }
}

impl fmt::Display for Resources {
    /// Prints the resources separated by `; `, shared ones followed by their
    /// count (`<2>`), or `{}` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entries.is_empty() {
            return f.write_str("{}");
        }
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{entry}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Endpoint JSON (upstream `json(JSON::ObjectWriter*, const Resources&)` in
// `src/common/http.cpp`).
// ---------------------------------------------------------------------------

/// Returns libstdc++'s `std::hash<std::string>` of `bytes` on 64-bit Linux:
/// `std::_Hash_bytes` (a 64-bit Murmur2 variant) with seed `0xc70f6907`.
pub fn libstdcxx_string_hash(bytes: &[u8]) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const SEED: u64 = 0xc70f_6907;
    let mix = |v: u64| v ^ (v >> 47);
    let mut hash = SEED ^ (bytes.len() as u64).wrapping_mul(M);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(word);
        let data = mix(u64::from_le_bytes(buf).wrapping_mul(M)).wrapping_mul(M);
        hash = (hash ^ data).wrapping_mul(M);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        hash = (hash ^ u64::from_le_bytes(buf)).wrapping_mul(M);
    }
    mix(mix(hash).wrapping_mul(M))
}

/// libstdc++'s `__prime_list` (bucket counts) up to about a million; the
/// first entries are answered by `__fast_bkt` in [`next_bucket_count`].
const PRIMES: &[usize] = &[
    17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 103, 109, 113, 127,
    137, 139, 149, 157, 167, 179, 193, 199, 211, 227, 241, 257, 277, 293, 313, 337, 359, 383, 409,
    439, 467, 503, 541, 577, 619, 661, 709, 761, 823, 887, 953, 1031, 1109, 1193, 1289, 1381, 1493,
    1613, 1741, 1879, 2029, 2179, 2357, 2549, 2753, 2971, 3209, 3469, 3739, 4027, 4349, 4703, 5087,
    5503, 5953, 6427, 6949, 7517, 8123, 8783, 9497, 10273, 11113, 12011, 12983, 14033, 15173,
    16411, 17749, 19183, 20753, 22447, 24281, 26267, 28411, 30727, 33223, 35933, 38873, 42043,
    45481, 49201, 53201, 57557, 62233, 67307, 72817, 78779, 85229, 92203, 99733, 107897, 116731,
    126271, 136607, 147793, 159871, 172933, 187091, 202409, 218971, 236897, 256279, 277261, 299951,
    324503, 351061, 379787, 410857, 444487, 480881, 520241, 562841, 608903, 658753, 712697, 771049,
    834181, 902483, 976369, 1056323,
];

/// `_Prime_rehash_policy::_M_next_bkt(n)`: the bucket count chosen for at
/// least `n` buckets. Beyond the table (maps of a million keys) it takes
/// the next prime, which may differ from libstdc++'s sparser list.
fn next_bucket_count(n: usize) -> usize {
    const FAST: [usize; 14] = [2, 2, 2, 3, 5, 5, 7, 7, 11, 11, 11, 11, 13, 13];
    if let Some(&count) = FAST.get(n) {
        return count;
    }
    if let Some(&count) = PRIMES.iter().find(|&&p| p >= n) {
        return count;
    }
    let is_prime = |k: usize| k >= 2 && (2..).take_while(|d| d * d <= k).all(|d| k % d != 0);
    (n..).find(|&k| is_prime(k)).unwrap_or(n)
}

/// The key order of a libstdc++ `std::unordered_map<std::string, T>`
/// (`hashmap` in stout), as its iterators walk it.
///
/// The map keeps one singly linked list in which each bucket's nodes are
/// contiguous; a new key goes just before the first node of its bucket, or
/// at the head when its bucket is empty. A rehash re-inserts the old list
/// from the head with the same rule. Checked against g++ 12's libstdc++
/// on 3000 random key sets (up to 400 keys, empty and `reserve(4)`d maps);
/// the hash and the bucket policy are believed unchanged since GCC 5.
#[derive(Debug, Clone)]
pub struct UnorderedKeys {
    /// `(key, hash)` in iteration order.
    list: Vec<(String, u64)>,
    buckets: usize,
    next_resize: usize,
}

impl Default for UnorderedKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl UnorderedKeys {
    /// Returns an empty, default-constructed map (one bucket).
    pub fn new() -> Self {
        Self {
            list: Vec::new(),
            buckets: 1,
            next_resize: 0,
        }
    }

    /// Returns an empty map after `reserve(n)`.
    pub fn with_capacity(n: usize) -> Self {
        let mut keys = Self::new();
        let count = next_bucket_count(n.max(1));
        if count != keys.buckets {
            keys.buckets = count;
            keys.next_resize = count;
        }
        keys
    }

    /// Inserts `key` if it is new (`map[key]` or `emplace`); returns whether
    /// it was.
    pub fn insert(&mut self, key: &str) -> bool {
        if self.list.iter().any(|(k, _)| k == key) {
            return false;
        }
        // `_M_need_rehash(buckets, size, 1)` with max_load_factor 1.0.
        let size = self.list.len();
        if size + 1 > self.next_resize {
            let min = (size + 1).max(if self.next_resize == 0 { 11 } else { 0 });
            if min >= self.buckets {
                let count = next_bucket_count((min + 1).max(self.buckets * 2));
                self.rehash(count);
            } else {
                self.next_resize = self.buckets;
            }
        }
        let hash = libstdcxx_string_hash(key.as_bytes());
        self.link((key.to_string(), hash));
        true
    }

    /// Returns the keys in iteration order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.list.iter().map(|(k, _)| k.as_str())
    }

    fn link(&mut self, node: (String, u64)) {
        let bucket = node.1 % self.buckets as u64;
        let at = self
            .list
            .iter()
            .position(|(_, h)| h % self.buckets as u64 == bucket)
            .unwrap_or(0);
        self.list.insert(at, node);
    }

    fn rehash(&mut self, buckets: usize) {
        self.buckets = buckets;
        self.next_resize = buckets;
        for node in std::mem::take(&mut self.list) {
            self.link(node);
        }
    }
}

/// Returns the object master and agent endpoints (`/state`, `/slaves`,
/// `/frameworks`, ...) print for a list of resources, as upstream's writer
/// does:
///
/// - scalars summed by name as doubles, with `cpus`, `gpus`, `mem` and
///   `disk` always present (`0.0` when absent); ranges merged by name and
///   printed `"[a-b, c-d]"`; sets merged by name and printed `"{a, b}"`;
///   text resources left out; revocable resources keyed `<name>_revocable`;
/// - all scalar keys, then all range keys, then all set keys, each group in
///   the iteration order of upstream's hash maps ([`UnorderedKeys`]): the
///   scalar map is `reserve(4)`d and seeded with `cpus`, `gpus`, `mem`,
///   `disk`, so a plain agent prints `{"disk":..,"mem":..,"gpus":..,"cpus":..}`.
///
/// Reservations and other metadata are not shown; scalars are added as
/// plain doubles, as upstream does here.
pub fn endpoint_json<'a>(resources: impl IntoIterator<Item = &'a Resource>) -> serde_json::Value {
    let mut scalar_keys = UnorderedKeys::with_capacity(4);
    let mut scalars: HashMap<String, f64> = HashMap::new();
    for name in ["cpus", "gpus", "mem", "disk"] {
        scalar_keys.insert(name);
        scalars.insert(name.to_string(), 0.0);
    }
    let mut range_keys = UnorderedKeys::new();
    let mut ranges: HashMap<String, Ranges> = HashMap::new();
    let mut set_keys = UnorderedKeys::new();
    let mut sets: HashMap<String, Set> = HashMap::new();

    for resource in resources {
        let name = if Resources::is_revocable(resource) {
            format!("{}_revocable", resource.name)
        } else {
            resource.name.clone()
        };
        match value_type(resource) {
            Some(Type::Scalar) => {
                scalar_keys.insert(&name);
                *scalars.entry(name).or_default() += scalar_of(resource).value;
            }
            Some(Type::Ranges) => {
                range_keys.insert(&name);
                let merged = ranges.entry(name).or_default();
                if let Some(value) = &resource.ranges {
                    *merged += value;
                }
            }
            Some(Type::Set) => {
                set_keys.insert(&name);
                let merged = sets.entry(name).or_default();
                if let Some(value) = &resource.set {
                    *merged += value;
                }
            }
            Some(Type::Text) | None => {}
        }
    }

    let mut object = serde_json::Map::new();
    for name in scalar_keys.iter() {
        let value = scalars.get(name).copied().unwrap_or_default();
        let number = serde_json::Number::from_f64(value)
            .map_or(serde_json::Value::Null, serde_json::Value::Number);
        object.insert(name.to_string(), number);
    }
    for name in range_keys.iter() {
        let value = ranges
            .get(name)
            .map(ToString::to_string)
            .unwrap_or_default();
        object.insert(name.to_string(), serde_json::Value::String(value));
    }
    for name in set_keys.iter() {
        let value = sets.get(name).map(ToString::to_string).unwrap_or_default();
        object.insert(name.to_string(), serde_json::Value::String(value));
    }
    serde_json::Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesos::resource::disk_info::source::{Mount, Path};
    use crate::mesos::resource::disk_info::Persistence;
    use crate::mesos::resource::{RevocableInfo, SharedInfo};
    use crate::mesos::{Label, ResourceProviderId};

    fn parse(text: &str) -> Resources {
        Resources::parse(text, "*").unwrap()
    }

    fn resource(name: &str, value: &str, role: &str) -> Resource {
        Resources::parse_resource(name, value, role).unwrap()
    }

    #[test]
    fn add_ref_sums_as_adding_owned_resources_does() {
        let parts = [
            "cpus:0.1;mem:5",
            "cpus(web):0.2;ports:[31000-31001]",
            "cpus:0.3;ports:[31002-31002];disk:10",
            "mem(web):7",
        ];
        let mut by_ref = Resources::default();
        let mut owned = Resources::default();
        for part in parts {
            let resources = parse(part);
            for resource in resources.iter() {
                by_ref.add_ref(resource);
            }
            owned += resources;
        }
        assert_eq!(by_ref, owned);
        assert_eq!(by_ref.to_string(), owned.to_string());
        // Pre-refinement resources (`role`) are upgraded as `+=` does.
        let mut old = resource("cpus", "1", "web");
        old.reservations.clear();
        old.role = Some("web".into());
        let mut upgraded = Resources::default();
        upgraded.add_ref(&old);
        let mut expected = Resources::default();
        expected += old;
        assert_eq!(upgraded.to_string(), expected.to_string());
    }

    fn static_reservation(role: &str) -> ReservationInfo {
        ReservationInfo {
            r#type: Some(ReservationType::Static as i32),
            role: Some(role.to_string()),
            ..Default::default()
        }
    }

    fn dynamic_reservation(role: &str, principal: &str, labels: Option<Labels>) -> ReservationInfo {
        ReservationInfo {
            r#type: Some(ReservationType::Dynamic as i32),
            role: Some(role.to_string()),
            principal: Some(principal.to_string()),
            labels,
        }
    }

    fn labels(pairs: &[(&str, Option<&str>)]) -> Labels {
        Labels {
            labels: pairs
                .iter()
                .map(|(key, value)| Label {
                    key: key.to_string(),
                    value: value.map(str::to_string),
                })
                .collect(),
        }
    }

    fn reserved(name: &str, value: &str, reservation: Option<ReservationInfo>) -> Resource {
        let mut resource = resource(name, value, "*");
        resource.reservations.extend(reservation);
        resource
    }

    fn mount_source(root: &str) -> Source {
        Source {
            r#type: SourceType::Mount as i32,
            mount: Some(Mount {
                root: Some(root.to_string()),
            }),
            ..Default::default()
        }
    }

    fn path_source(root: &str) -> Source {
        Source {
            r#type: SourceType::Path as i32,
            path: Some(Path {
                root: Some(root.to_string()),
            }),
            ..Default::default()
        }
    }

    /// Upstream's `createDiskResource` test helper.
    fn disk(
        value: &str,
        role: &str,
        persistence: Option<&str>,
        container_path: Option<&str>,
        source: Option<Source>,
        shared: bool,
    ) -> Resource {
        let mut resource = resource("disk", value, role);
        if persistence.is_some() || container_path.is_some() || source.is_some() {
            resource.disk = Some(DiskInfo {
                persistence: persistence.map(|id| Persistence {
                    id: id.to_string(),
                    principal: None,
                }),
                volume: container_path.map(|path| Volume {
                    mode: 1,
                    container_path: path.to_string(),
                    ..Default::default()
                }),
                source,
            });
            if shared {
                resource.shared = Some(SharedInfo {});
            }
        }
        resource
    }

    fn revocable(name: &str, value: &str, is_revocable: bool) -> Resource {
        let mut resource = resource(name, value, "*");
        if is_revocable {
            resource.revocable = Some(RevocableInfo {});
        }
        resource
    }

    fn one(resource: Resource) -> Resources {
        Resources::from(resource)
    }

    #[test]
    fn parses_scalars_ranges_and_sets() {
        let cpus = resource("cpus", "45.55", "*");
        assert_eq!(cpus.r#type(), Type::Scalar);
        assert_eq!(cpus.scalar.unwrap().value, 45.55);

        let ports = resource("ports", "[10000-20000, 30000-50000]", "*");
        assert_eq!(ports.r#type(), Type::Ranges);
        assert_eq!(ports.ranges.as_ref().unwrap().range.len(), 2);

        let disks = resource("disks", "{sda1}", "*");
        assert_eq!(disks.set.as_ref().unwrap().item, ["sda1"]);

        let parsed = parse("cpus:45.55;ports:[10000-20000, 30000-50000];disks:{sda1}");
        let built = one(cpus) + ports + disks;
        assert_eq!(parsed, built);
        assert_eq!(parsed.len(), 3);
    }

    #[test]
    fn roles_in_text_become_static_reservations() {
        let parsed = parse("cpus(role1):2;mem(role1):3");
        let expected = one(reserved("cpus", "2", Some(static_reservation("role1"))))
            + reserved("mem", "3", Some(static_reservation("role1")));
        assert_eq!(parsed, expected);

        let parsed = parse("cpus(role1):2.5;ports(role2):[0-100]");
        let expected = one(reserved(
            "ports",
            "[0-100]",
            Some(static_reservation("role2")),
        )) + reserved("cpus", "2.5", Some(static_reservation("role1")));
        assert_eq!(parsed, expected);

        // The default role applies to resources without one.
        let with_default = Resources::parse("cpus:2.5;ports(role2):[0-100]", "role1").unwrap();
        assert_eq!(with_default, parsed);

        // Names and roles are trimmed.
        assert_eq!(parse(" cpus ( role1 ) :2.5"), parse("cpus(role1):2.5"));
    }

    #[test]
    fn malformed_text_is_refused() {
        assert!(matches!(
            Resources::parse("cpus(role1)", "*"),
            Err(ResourcesError::MissingColon { .. })
        ));
        assert!(matches!(
            Resources::parse("cpus(role1:1", "*"),
            Err(ResourcesError::MismatchedParentheses { .. })
        ));
        assert!(matches!(
            Resources::parse("cpus)(role1:1", "*"),
            Err(ResourcesError::MismatchedParentheses { .. })
        ));
        assert!(matches!(
            Resources::parse("foo(role1):1;foo(role2):[0-1]", "*"),
            Err(ResourcesError::CommandLine(_))
        ));
        assert!(matches!(
            Resources::parse("cpus:[1-2b]", "*"),
            Err(ResourcesError::Value { .. })
        ));
        assert!(matches!(
            Resources::parse("os:linux", "*"),
            Err(ResourcesError::UnsupportedType { .. })
        ));
        // A principal is not part of the text syntax; it ends up in the role.
        assert!(matches!(
            Resources::parse("cpus(role, principal):1", "*"),
            Err(ResourcesError::Invalid(_))
        ));
        assert_eq!(
            Resources::parse("cpus(a//b):1", "*")
                .unwrap_err()
                .to_string(),
            "role 'a//b' cannot contain two adjacent slashes"
        );
    }

    #[test]
    fn empty_text_parses_to_nothing() {
        assert!(parse("").is_empty());
        assert!(parse(";;").is_empty());
    }

    #[test]
    fn parses_json_arrays() {
        let resources = parse("cpus:2;mem:3");
        let json = serde_json::Value::Array(resources.iter().map(crate::json::to_value).collect());
        assert_eq!(Resources::parse(&json.to_string(), "*").unwrap(), resources);

        let cpus = parse(r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":45.55}}]"#);
        assert_eq!(cpus.len(), 1);
        assert_eq!(cpus.cpus(), Some(45.55));

        let all = parse(
            r#"[
              {"name": "cpus", "type": "SCALAR", "scalar": {"value": 45.55}},
              {"name": "ports", "type": "RANGES",
               "ranges": {"range": [{"begin": 10000, "end": 20000},
                                    {"begin": 30000, "end": 50000}]}},
              {"name": "pandas", "type": "SET", "set": {"item": ["lun_lun", "yang_yang"]}}
            ]"#,
        );
        let expected =
            parse("cpus:45.55;ports:[10000-20000,30000-50000];pandas:{lun_lun,yang_yang}");
        assert_eq!(all, expected);
    }

    #[test]
    fn json_roles_and_reservations_are_upgraded() {
        let reserved = parse(
            r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":45.55},
                 "reservations":[{"type":"STATIC","role":"role1"}]}]"#,
        );
        let first = reserved.iter().next().unwrap();
        assert_eq!(Resources::reservation_role(first), Some("role1"));

        // The deprecated `role` field means the same static reservation.
        let old =
            parse(r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":45.55},"role":"role1"}]"#);
        assert_eq!(old, reserved);
        assert!(old.iter().all(|r| r.role.is_none()));

        // Without a role, the default role applies.
        let defaulted = Resources::parse(
            r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":45.55}}]"#,
            "role1",
        )
        .unwrap();
        assert_eq!(defaulted, reserved);

        let mut total = Resources::new();
        total +=
            parse(r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":54.44},"role":"role2"}]"#);
        total += &reserved;
        total += &reserved;
        assert_eq!(total.cpus(), Some(145.54));
        for resource in &total {
            match Resources::reservation_role(resource) {
                Some("role1") => assert_eq!(resource.scalar.unwrap().value, 91.1),
                _ => assert_eq!(resource.scalar.unwrap().value, 54.44),
            }
        }
    }

    #[test]
    fn bad_json_resources_are_refused() {
        let cases = [
            // An object, not an array: parsed as text, which fails.
            r#"{"name":"sad_pandas","type":"SET","set":{"item":["bai_yun"]}}"#,
            // Missing 'type'.
            r#"[{"name":"pandas","set":{"item":["lun_lun"]}}]"#,
            // Empty name.
            r#"[{"name":"","type":"SET","set":{"item":["lun_lun"]}}]"#,
            // Unknown type.
            r#"[{"name":"pandas","type":"FLOATINGPOINT","set":{"item":["lun_lun"]}}]"#,
            // Negative scalar.
            r#"[{"name":"panda_power","type":"SCALAR","scalar":{"value":-1}}]"#,
            // One name, two types.
            r#"[{"name":"happy","type":"SCALAR","scalar":{"value":14}},
                {"name":"happy","type":"SET","set":{"item":["yun_zi"]}}]"#,
            // Persistent volume.
            r#"[{"name":"disk","type":"SCALAR","scalar":{"value":2048},
                 "disk":{"persistence":{"id":"pv1"},
                         "volume":{"container_path":"/p","mode":"RW"}}}]"#,
            // Dynamic reservation.
            r#"[{"name":"disk","type":"SCALAR","scalar":{"value":2048},
                 "reservations":[{"type":"DYNAMIC","role":"r","principal":"p"}]}]"#,
            // Revocable.
            r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":54.44},"role":"role2",
                 "revocable":{}}]"#,
            // Trailing text.
            r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}] once upon a time"#,
        ];
        for text in cases {
            assert!(Resources::parse(text, "*").is_err(), "{text}");
        }
    }

    #[test]
    fn typed_getters_sum_by_name() {
        let resources = parse("cpus:45.55;mem:1024;ports:[10000-20000, 30000-50000];disk:512");
        assert_eq!(resources.cpus(), Some(45.55));
        assert_eq!(resources.mem(), Some(1024 * 1024 * 1024));
        assert_eq!(resources.disk(), Some(512 * 1024 * 1024));
        assert_eq!(
            resources.ports().unwrap().to_string(),
            "[10000-20000, 30000-50000]"
        );
        assert_eq!(resources.gpus(), None);

        let resources = parse("cpus:45.55;disk:512");
        assert_eq!(resources.mem(), None);
        assert_eq!(resources.ports(), None);

        let both = parse("cpus(role1):2;cpus:4;mem(role1):10;mem:10");
        assert_eq!(both.get("cpus"), parse("cpus(role1):2;cpus:4"));
        assert_eq!(both.cpus(), Some(6.0));
        assert_eq!(
            both.names().into_iter().collect::<Vec<_>>(),
            ["cpus", "mem"]
        );

        let types = parse("cpus(role1):2;cpus:4;ports:[1-10];ports:[11-20]").types();
        assert_eq!(types.get("cpus"), Some(&Type::Scalar));
        assert_eq!(types.get("ports"), Some(&Type::Ranges));
        assert_eq!(parse("cpus:1;ports:[1-2]").scalars(), parse("cpus:1"));
    }

    #[test]
    fn prints_like_upstream() {
        let resources = parse("cpus:45.55;ports:[10000-20000, 30000-50000];disks:{sda1}");
        assert_eq!(
            resources.to_string(),
            "cpus:45.55; ports:[10000-20000, 30000-50000]; disks:{sda1}"
        );
        assert_eq!(Resources::new().to_string(), "{}");

        let mut allocated = parse("cpus:1;mem:128");
        allocated.allocate("*");
        assert_eq!(
            allocated.to_string(),
            "cpus(allocated: *):1; mem(allocated: *):128"
        );
        assert_eq!(parse("disks:{a,b}").to_string(), "disks:{a, b}");
    }

    #[test]
    fn prints_extended_attributes() {
        let mut disk = resource("disk", "1", "*");
        assert_eq!(disk.to_string(), "disk:1");

        disk.reservations.push(static_reservation("alice"));
        assert_eq!(disk.to_string(), "disk(reservations: [(STATIC,alice)]):1");

        disk.allocation_info = Some(AllocationInfo {
            role: Some("role".into()),
        });
        assert_eq!(
            disk.to_string(),
            "disk(allocated: role)(reservations: [(STATIC,alice)]):1"
        );
        disk.allocation_info = None;

        disk.revocable = Some(RevocableInfo {});
        assert_eq!(
            disk.to_string(),
            "disk(reservations: [(STATIC,alice)]){REV}:1"
        );
        disk.revocable = None;

        disk.disk = Some(DiskInfo {
            persistence: Some(Persistence {
                id: "hadoop".into(),
                principal: None,
            }),
            volume: Some(Volume {
                container_path: "/data".into(),
                ..Default::default()
            }),
            source: None,
        });
        assert_eq!(
            disk.to_string(),
            "disk(reservations: [(STATIC,alice)])[hadoop:/data]:1"
        );

        disk.revocable = Some(RevocableInfo {});
        assert_eq!(
            disk.to_string(),
            "disk(reservations: [(STATIC,alice)])[hadoop:/data]{REV}:1"
        );
        disk.revocable = None;

        let info = disk.disk.as_mut().unwrap();
        let volume = info.volume.as_mut().unwrap();
        volume.host_path = Some("/hdfs".into());
        volume.mode = 1;
        assert_eq!(
            disk.to_string(),
            "disk(reservations: [(STATIC,alice)])[hadoop:/hdfs:/data:rw]:1"
        );

        disk.disk.as_mut().unwrap().source = Some(mount_source("/mnt1"));
        assert_eq!(
            disk.to_string(),
            "disk(reservations: [(STATIC,alice)])[MOUNT:/mnt1,hadoop:/hdfs:/data:rw]:1"
        );
        disk.disk.as_mut().unwrap().source = Some(path_source("/mnt2"));
        assert_eq!(
            disk.to_string(),
            "disk(reservations: [(STATIC,alice)])[PATH:/mnt2,hadoop:/hdfs:/data:rw]:1"
        );
        disk.disk.as_mut().unwrap().source = None;

        disk.reservations
            .push(dynamic_reservation("alice/refined", "hdfs-p", None));
        assert_eq!(
            disk.to_string(),
            "disk(reservations: [(STATIC,alice),(DYNAMIC,alice/refined,hdfs-p)])\
             [hadoop:/hdfs:/data:rw]:1"
        );

        disk.reservations[1].labels = Some(labels(&[("foo", Some("bar")), ("foo", None)]));
        assert_eq!(
            disk.to_string(),
            "disk(reservations: [(STATIC,alice),(DYNAMIC,alice/refined,hdfs-p,{foo: bar, foo})])\
             [hadoop:/hdfs:/data:rw]:1"
        );
    }

    #[test]
    fn prints_csi_sources() {
        let mut source = Source {
            r#type: SourceType::Raw as i32,
            ..Default::default()
        };
        source.vendor = Some("vendor".into());
        source.id = Some("id".into());
        assert_eq!(DisplaySource(&source).to_string(), "RAW(vendor,id,)");
        source.r#type = SourceType::Block as i32;
        source.vendor = None;
        source.profile = Some("fast".into());
        assert_eq!(DisplaySource(&source).to_string(), "BLOCK(,id,fast)");
    }

    #[test]
    fn prints_scalars_with_three_decimals() {
        let cases = [
            (1.234, "cpus:1.234"),
            (1.2345, "cpus:1.235"),
            (1.2344, "cpus:1.234"),
            (1.1, "cpus:1.1"),
            (1000001.0, "cpus:1000001"),
            (99999999999.9994, "cpus:99999999999.999"),
        ];
        for (value, expected) in cases {
            let mut cpus = resource("cpus", "1", "*");
            cpus.scalar = Some(Scalar::new(value));
            assert_eq!(cpus.to_string(), expected);
        }
    }

    #[test]
    fn invalid_and_zero_resources_are_dropped() {
        let mut nameless = resource("cpus", "1", "*");
        nameless.name.clear();
        let mut resources = Resources::new();
        resources += nameless;
        assert!(resources.is_empty());

        resources += resource("cpus", "0", "*");
        assert!(resources.is_empty());

        assert!(parse("gpus:0").is_empty());
        assert!(Resources::parse("cpus:0.00001", "*").is_err());
    }

    #[test]
    fn scalar_equality_and_containment_respect_roles() {
        let r1 = parse("cpus:3;mem:3072");
        assert_eq!(
            r1,
            one(resource("cpus", "3", "*")) + resource("mem", "3072", "*")
        );
        assert_ne!(
            one(resource("cpus", "3", "role1")),
            one(resource("cpus", "3", "role2"))
        );

        let small = parse("cpus:1;mem:3072");
        let large = parse("cpus:1;mem:4096");
        assert!(large.contains(&small));
        assert!(!small.contains(&large));

        let role1 = parse("cpus(role1):1");
        let role2 = parse("cpus(role2):1");
        assert!(!role1.contains(&role2));
        assert!(!role2.contains(&role1));
        let more = parse("cpus(role1):3");
        assert!(more.contains(&role1));
        assert!(!role1.contains(&more));
        assert!(!more.contains(&role2));
    }

    #[test]
    fn scalar_addition_and_subtraction_merge_by_role() {
        let sum = parse("cpus:1;mem:5") + parse("cpus:2;mem:10");
        assert_eq!(sum.len(), 2);
        assert_eq!(sum.get_scalar("cpus").unwrap().value, 3.0);
        assert_eq!(sum.get_scalar("mem").unwrap().value, 15.0);

        let sum = parse("cpus(role1):1;cpus(role2):3") + parse("cpus(role1):5");
        assert_eq!(sum.len(), 2);
        assert_eq!(sum.cpus(), Some(9.0));
        assert_eq!(sum, parse("cpus(role1):6;cpus(role2):3"));

        let difference = parse("cpus:50;mem:4096") - parse("cpus:0.5;mem:1024");
        assert_eq!(difference.get_scalar("cpus").unwrap().value, 49.5);
        assert_eq!(difference.get_scalar("mem").unwrap().value, 3072.0);

        let all = parse("cpus:50;mem:4096");
        assert!((&all - &all).is_empty());

        let difference = parse("cpus(role1):5;cpus(role2):3") - parse("cpus(role1):1");
        assert_eq!(difference, parse("cpus(role1):4;cpus(role2):3"));

        // Subtracting more than held removes the resource.
        assert!((parse("cpus:1") - parse("cpus:2")).is_empty());
    }

    #[test]
    fn ranges_merge_and_split() {
        assert_eq!(parse("ports:[20-40]"), parse("ports:[20-30, 31-39, 40-40]"));

        let r1 = parse("ports:[2-2, 4-5]");
        assert!(parse("ports:[1-10]").contains(&r1));
        assert!(!r1.contains(&parse("ports:[1-10]")));
        assert!(!parse("ports:[2-3]").contains(&r1));
        assert!(parse("ports:[1-2, 4-6]").contains(&r1));
        assert!(parse("ports:[1-4, 5-5]").contains(&r1));

        let sum = parse("ports:[20000-40000]") + parse("ports:[30000-50000, 10000-20000]");
        assert_eq!(sum.ports().unwrap().to_string(), "[10000-50000]");
        let sum = parse("ports:[1-10, 5-30, 50-60]") + parse("ports:[1-65, 70-80]");
        assert_eq!(sum.ports().unwrap().to_string(), "[1-65, 70-80]");
        let sum = parse("ports:[1-2]")
            + parse("ports:[3-4]")
            + parse("ports:[7-8]")
            + parse("ports:[5-6]");
        assert_eq!(sum.ports().unwrap().to_string(), "[1-8]");
        assert_eq!(sum.len(), 1);

        let cases = [
            (
                "[20000-40000]",
                "[10000-20000, 30000-50000]",
                "[20001-29999]",
            ),
            ("[50000-60000]", "[50000-50001]", "[50002-60000]"),
            ("[50000-60000]", "[50000-50000]", "[50001-60000]"),
            (
                "[1-10, 20-30, 40-50]",
                "[2-9, 15-45, 48-50]",
                "[1-1, 10-10, 46-47]",
            ),
            ("[1-10]", "[11-20]", "[1-10]"),
        ];
        for (left, right, expected) in cases {
            let difference = parse(&format!("ports:{left}")) - parse(&format!("ports:{right}"));
            assert_eq!(difference.ports().unwrap().to_string(), expected);
        }

        let all = parse("ports:[50000-60000]");
        let free = &all - &(parse("") + parse("ports:[50000-50001]"));
        assert_eq!(free.ports().unwrap().to_string(), "[50002-60000]");
        assert!((&all - &all).is_empty());
        assert_eq!((&all - &all).ports(), None);
    }

    #[test]
    fn sets_add_subtract_and_contain() {
        assert_eq!(parse("disks:{sda1}"), parse("disks:{sda1}"));
        let small = parse("disks:{sda1,sda2}");
        let large = parse("disks:{sda1,sda3,sda4,sda2}");
        assert!(large.contains(&small));
        assert!(!small.contains(&large));

        let sum = parse("disks:{sda1,sda2,sda3}") + parse("disks:{sda1,sda2,sda3,sda4}");
        assert_eq!(sum.get_set("disks").unwrap().item.len(), 4);

        let difference = parse("disks:{sda1,sda2,sda3,sda4}") - parse("disks:{sda2,sda3,sda4}");
        assert_eq!(difference.get_set("disks").unwrap().item, ["sda1"]);
    }

    #[test]
    fn empty_differs_from_non_empty() {
        assert_ne!(parse(""), parse("cpus:2"));
        assert_eq!(parse(""), Resources::new());
    }

    #[test]
    fn filters_by_reservation() {
        let unreserved = parse("cpus:1;mem:2;disk:4");
        let role1 = parse("cpus(role1):2;mem(role1):4;disk(role1):8");
        let role2 = parse("cpus(role2):4;mem(role2):8;disk(role2):6");
        let resources = &unreserved + &role1 + &role2;

        let reservations = resources.reservations();
        assert_eq!(reservations.len(), 2);
        assert_eq!(reservations["role1"], role1);
        assert_eq!(reservations["role2"], role2);
        assert_eq!(resources.reserved(Some("role1")), role1);
        assert_eq!(resources.reserved(Some("role2")), role2);
        assert!(resources.reserved(Some("*")).is_empty());
        assert_eq!(resources.unreserved(), unreserved);
        assert_eq!(resources.reserved(None), &role1 + &role2);
        assert_eq!(resources.reserved_to_role_subtree("role1"), role1);
    }

    #[test]
    fn allocatable_to_includes_ancestor_reservations() {
        let unreserved = parse("cpus:1;mem:2;disk:4");
        let grandfather = parse("cpus(a):2;mem(a):4;disk(a):8");
        let father = parse("cpus(a/bx):4;mem(a/bx):8;disk(a/bx):16");
        let uncle = parse("cpus(a/b):4;mem(a/b):8;disk(a/b):16");
        let child = parse("cpus(a/bx/c):8;mem(a/bx/c):16;disk(a/bx/c):32");
        let family = &unreserved + &grandfather + &father + &uncle + &child;

        assert_eq!(family.allocatable_to("*"), unreserved);
        assert_eq!(family.allocatable_to("a"), &grandfather + &unreserved);
        assert_eq!(
            family.allocatable_to("a/bx"),
            &grandfather + &father + &unreserved
        );
        assert_eq!(
            family.allocatable_to("a/bx/c"),
            &grandfather + &father + &child + &unreserved
        );
        assert_eq!(family.reserved_to_role_subtree("a/bx"), &father + &child);
    }

    #[test]
    fn resource_provider_ids_keep_resources_apart() {
        let provider = ResourceProviderId {
            value: "RESOURCE_PROVIDER_ID".into(),
        };
        let mut cpus = resource("cpus", "4", "*");
        cpus.provider_id = Some(provider.clone());
        let disk1 = resource("disk", "1", "*");
        let mut disk2 = disk1.clone();
        disk2.provider_id = Some(provider);

        let r1 = one(cpus.clone()) + disk2.clone();
        assert_eq!(r1.len(), 2);
        assert!(r1.contains_resource(&cpus));
        assert!(r1.contains_resource(&disk2));
        assert!(!r1.contains_resource(&disk1));

        let r2 = one(disk2.clone()) + disk2.clone();
        assert_eq!(r2.len(), 1);
        assert_eq!(r2.get_scalar("disk").unwrap().value, 2.0);

        let r3 = one(disk1.clone()) + disk2.clone();
        assert_eq!(r3.len(), 2);
        assert_eq!(r3.get_scalar("disk").unwrap().value, 2.0);

        assert!((one(cpus.clone()) - cpus.clone()).is_empty());
        let r0 = one(cpus.clone()) + disk1.clone();
        assert_eq!(&r0 - &disk1, one(cpus.clone()));
        assert_eq!(&r0 - &cpus, one(disk1.clone()));
        assert_eq!(&r2 - &disk2, one(disk2.clone()));
        assert_ne!(one(disk1), one(disk2));
    }

    #[test]
    fn to_unreserved_merges_roles() {
        let resources = parse("cpus(role1):1;cpus(role2):2;mem(role1):5");
        assert_eq!(resources.to_unreserved(), parse("cpus:3;mem:5"));
    }

    #[test]
    fn find_prefers_own_role_then_unreserved() {
        let resources = parse("cpus(role1):2;mem(role1):10;cpus:4;mem:20");
        assert_eq!(
            resources.find(&parse("cpus(role1):3;mem(role1):15")),
            Some(parse("cpus(role1):2;mem(role1):10;cpus:1;mem:5"))
        );

        let resources = parse("cpus(role1):1;mem(role1):5;cpus(role2):2;mem(role2):8;cpus:1;mem:7");
        assert_eq!(
            resources.find(&parse("cpus(role1):3;mem(role1):15")),
            Some(parse(
                "cpus(role1):1;mem(role1):5;cpus:1;mem:7;cpus(role2):1;mem(role2):3"
            ))
        );

        let resources = parse("cpus(role1):5;mem(role1):5;cpus:5;mem:5");
        assert_eq!(
            resources.find(&parse("cpus:6;mem:6")),
            Some(parse("cpus:5;mem:5;cpus(role1):1;mem(role1):1"))
        );

        let resources = parse("cpus(role1):1;mem(role1):1");
        assert_eq!(resources.find(&parse("cpus(role1):2;mem(role1):2")), None);

        let rev = one(revocable("cpus", "1", true));
        let plain = parse("cpus:1");
        assert_eq!((&rev + &plain).find(&rev), Some(rev.clone()));
        assert_eq!((&rev + &plain).find(&plain), Some(plain.clone()));
        assert_eq!(rev.find(&plain), None);
    }

    #[test]
    fn scalar_precision_is_three_decimals() {
        let cpu = parse("cpus:1.001");
        assert_eq!(cpu.cpus(), Some(1.001));
        let result = &cpu + &cpu + &cpu - &cpu - &cpu;
        assert_eq!(result, cpu);
        assert_eq!(result.cpus(), Some(1.001));
        assert_eq!(&cpu - &parse("cpus:0"), cpu);

        let mut current = cpu.clone();
        for _ in 0..2500 {
            let next = &current + &current + &current - &current - &current;
            assert_eq!(next.cpus(), Some(1.001));
            current = next;
        }

        let lost = parse("cpus:1.5011");
        assert_eq!(lost.cpus(), Some(1.501));
        assert_eq!(&lost + &lost + &lost - &lost - &lost, lost);

        let rounded = parse("cpus:1.5015");
        assert_eq!(rounded.cpus(), Some(1.502));
    }

    #[test]
    fn reservations_with_different_labels_stay_apart() {
        let labels1 = labels(&[("foo", Some("bar"))]);
        let labels2 = labels(&[("foo", Some("baz"))]);
        let unique = [
            reserved("cpus", "8", None),
            reserved("cpus", "8", Some(static_reservation("role1"))),
            reserved("cpus", "8", Some(static_reservation("role2"))),
            reserved(
                "cpus",
                "8",
                Some(dynamic_reservation("role1", "principal1", None)),
            ),
            reserved(
                "cpus",
                "8",
                Some(dynamic_reservation("role1", "principal2", None)),
            ),
            reserved(
                "cpus",
                "8",
                Some(dynamic_reservation("role2", "principal1", None)),
            ),
            reserved(
                "cpus",
                "8",
                Some(dynamic_reservation(
                    "role1",
                    "principal2",
                    Some(labels1.clone()),
                )),
            ),
            reserved(
                "cpus",
                "8",
                Some(dynamic_reservation(
                    "role1",
                    "principal2",
                    Some(labels2.clone()),
                )),
            ),
        ];
        for (i, left) in unique.iter().enumerate() {
            assert!(Resources::validate(left).is_ok());
            for (j, right) in unique.iter().enumerate() {
                assert_eq!(
                    i == j,
                    one(left.clone()) == one(right.clone()),
                    "{left} vs {right}"
                );
            }
        }

        // Same labels in another order are the same reservation.
        let ab = labels(&[("a", Some("1")), ("b", None)]);
        let ba = labels(&[("b", None), ("a", Some("1"))]);
        let sum = one(reserved(
            "cpus",
            "1",
            Some(dynamic_reservation("r", "p", Some(ab))),
        )) + reserved("cpus", "1", Some(dynamic_reservation("r", "p", Some(ba))));
        assert_eq!(sum.len(), 1);

        let reservation1 = dynamic_reservation("role", "principal", Some(labels1));
        let reservation2 = dynamic_reservation("role", "principal", Some(labels2));
        let r1 = one(reserved("cpus", "6", Some(reservation1.clone())));
        let r2 = one(reserved("cpus", "6", Some(reservation2)));
        let sum = &r1 + &r2;
        assert_eq!(sum.len(), 2);
        assert_ne!(sum, &r1 + &r1);

        let static_ = one(reserved("cpus", "8", Some(static_reservation("role"))));
        let dynamic = one(reserved("cpus", "8", Some(reservation1.clone())));
        assert!((&static_ - &static_).is_empty());
        assert_eq!(&static_ - &dynamic, static_);
        assert_eq!(&dynamic - &static_, dynamic);
        let total = &static_ + &dynamic;
        let expected = one(reserved("cpus", "6", Some(static_reservation("role"))))
            + reserved("cpus", "4", Some(reservation1.clone()));
        let taken = one(reserved("cpus", "2", Some(static_reservation("role"))))
            + reserved("cpus", "4", Some(reservation1));
        assert_eq!(&total - &taken, expected);
        assert!(total.contains(&static_));
        assert!(total.contains(&dynamic));
        assert!(!static_.contains(&total));
    }

    #[test]
    fn disk_info_only_on_disk() {
        let mut cpus = resource("cpus", "2", "*");
        cpus.disk = Some(DiskInfo::default());
        assert_eq!(
            Resources::validate(&cpus).unwrap_err().to_string(),
            "DiskInfo should not be set for cpus resource"
        );
        assert!(
            Resources::validate(&disk("10", "role", Some("1"), Some("path"), None, false)).is_ok()
        );
        assert!(Resources::validate(&disk("10", "*", None, Some("path"), None, false)).is_ok());
        assert!(Resources::validate(&disk(
            "10",
            "role",
            Some("1"),
            Some("path"),
            Some(mount_source("mnt")),
            false
        ))
        .is_ok());

        let mut raw = disk("10", "*", None, None, Some(mount_source("mnt")), false);
        raw.disk.as_mut().unwrap().source.as_mut().unwrap().r#type = SourceType::Raw as i32;
        assert_eq!(
            Resources::validate(&raw).unwrap_err().to_string(),
            "Mount should not be set for RAW disk source"
        );
    }

    #[test]
    fn disk_equality_ignores_volume_but_not_persistence() {
        let r1 = one(disk("10", "*", None, None, None, false));
        let r2 = one(disk("10", "*", None, Some("path1"), None, false));
        let r3 = one(disk("10", "*", None, Some("path2"), None, false));
        let r4 = one(disk("10", "role", None, Some("path2"), None, false));
        let r5 = one(disk("10", "role", Some("1"), Some("path1"), None, false));
        let r6 = one(disk("10", "role", Some("1"), Some("path2"), None, false));
        let r7 = one(disk("10", "role", Some("2"), Some("path2"), None, false));
        assert_ne!(r1, r2);
        assert_eq!(r2, r3);
        assert_eq!(r5, r6);
        assert_ne!(r6, r7);
        assert_ne!(r4, r7);

        let s1 = path_source("mnt");
        let s2 = path_source("mnt2");
        assert_eq!(
            one(disk("10", "*", None, None, Some(s1.clone()), false)),
            one(disk(
                "10",
                "*",
                None,
                Some("path1"),
                Some(s1.clone()),
                false
            ))
        );
        assert_ne!(
            one(disk("10", "*", None, None, Some(s1), false)),
            one(disk("10", "*", None, None, Some(s2), false))
        );
    }

    #[test]
    fn disk_sources_decide_what_merges() {
        for kind in [
            SourceType::Raw,
            SourceType::Path,
            SourceType::Block,
            SourceType::Mount,
        ] {
            for identity in [false, true] {
                let source = Source {
                    r#type: kind as i32,
                    id: identity.then(|| "id".to_string()),
                    ..Default::default()
                };
                let mut disk1 = resource("disk", "1", "*");
                disk1.disk = Some(DiskInfo {
                    source: Some(source.clone()),
                    ..Default::default()
                });
                let mut disk2 = resource("disk", "2", "*");
                disk2.disk = Some(DiskInfo {
                    source: Some(source),
                    ..Default::default()
                });
                let (r1, r2) = (one(disk1), one(disk2));
                assert!(r1.contains(&r1));

                let divisible = match kind {
                    SourceType::Raw => !identity,
                    SourceType::Path => true,
                    _ => false,
                };
                assert_eq!(r2.contains(&r1), divisible, "{kind:?} identity={identity}");
                assert_eq!(r2 == &r1 + &r1, divisible, "{kind:?} identity={identity}");
                assert_eq!((&r1 + &r1).len(), if divisible { 1 } else { 2 });
            }
        }

        let mount = mount_source("mnt");
        let whole = one(disk("20", "role", None, None, Some(mount.clone()), false));
        let part = one(disk("10", "role", None, None, Some(mount), false));
        assert!(!whole.contains(&part));
        assert_eq!(&whole - &part, whole);
        assert!((&part - &part).is_empty());
    }

    #[test]
    fn persistent_volumes_never_merge() {
        let r1 = one(disk("10", "role", None, Some("path"), None, false));
        assert_eq!(
            one(disk("20", "role", None, Some("path"), None, false)),
            &r1 + &r1
        );

        let v1 = one(disk("10", "role", Some("1"), Some("path"), None, false));
        let v2 = one(disk("10", "role", Some("2"), Some("path"), None, false));
        let sum = &v1 + &v2;
        assert!(sum.contains(&v1));
        assert!(sum.contains(&v2));
        assert!(!sum.contains(&one(disk(
            "20",
            "role",
            Some("1"),
            Some("path"),
            None,
            false
        ))));
        assert_eq!(&v1 - &v2, v1);
        assert!((&v1 - &v1).is_empty());

        // The same volume twice is not held once.
        assert!(!v1.contains(&(&v1 + &v1)));

        let resources = parse("cpus:1;mem:512;disk:1000")
            + disk("10", "role1", Some("1"), Some("path"), None, false)
            + disk("20", "role2", None, None, None, false);
        assert_eq!(
            resources.persistent_volumes(),
            one(disk("10", "role1", Some("1"), Some("path"), None, false))
        );
    }

    #[test]
    fn revocable_resources_stay_apart() {
        let r1 = one(revocable("cpus", "1", true));
        assert_eq!(r1, r1.clone());
        let plain = one(revocable("cpus", "1", false));
        assert_ne!(r1, plain);
        assert_eq!(&r1 + &r1, one(revocable("cpus", "2", true)));

        let sum = &r1 + &plain;
        assert_eq!(sum.len(), 2);
        assert!(sum.contains(&r1));
        assert!(sum.contains(&plain));
        assert!(!sum.contains(&one(revocable("cpus", "2", true))));
        assert!((&r1 - &r1).is_empty());
        assert_eq!(&r1 - &plain, r1);

        assert_eq!(sum.revocable(), r1);
        assert_eq!(sum.non_revocable(), plain);
        assert!(r1.non_revocable().is_empty());
    }

    #[test]
    fn both_reservation_formats_validate() {
        let mut old = resource("cpus", "555.5", "*");
        assert!(Resources::validate(&old).is_ok());
        old.role = Some("*".into());
        assert!(Resources::validate(&old).is_ok());
        old.role = Some("foo".into());
        assert!(Resources::validate(&old).is_ok());
        old.reservation = Some(ReservationInfo {
            principal: Some("p".into()),
            ..Default::default()
        });
        assert!(Resources::validate(&old).is_ok());
        old.role = Some("*".into());
        assert!(Resources::validate(&old).is_err());

        let mut new = resource("cpus", "555.5", "*");
        new.reservations.push(ReservationInfo {
            r#type: Some(ReservationType::Static as i32),
            role: Some("foo".into()),
            principal: Some("principal1".into()),
            labels: None,
        });
        assert!(Resources::validate(&new).is_ok());
        new.reservations[0].r#type = Some(ReservationType::Dynamic as i32);
        assert!(Resources::validate(&new).is_ok());

        new.reservations[0].r#type = Some(ReservationType::Static as i32);
        new.reservations.push(ReservationInfo {
            r#type: Some(ReservationType::Static as i32),
            role: Some("foo/bar".into()),
            principal: Some("principal2".into()),
            labels: None,
        });
        assert!(
            Resources::validate(&new).is_err(),
            "a refinement cannot be STATIC"
        );
        new.reservations[1].r#type = Some(ReservationType::Dynamic as i32);
        assert!(Resources::validate(&new).is_ok());
        new.reservations[0].r#type = Some(ReservationType::Dynamic as i32);
        assert!(Resources::validate(&new).is_ok());

        new.reservations[1].role = Some("foobar".into());
        assert_eq!(
            Resources::validate(&new).unwrap_err().to_string(),
            "invalid refined reservation: role 'foobar' is not a refinement of 'foo'"
        );
        new.reservations[1].role = None;
        assert!(Resources::validate(&new).is_err());
    }

    #[test]
    fn endpoint_format_must_agree_with_itself() {
        let mut resource = resource("cpus", "555.5", "*");
        resource.role = Some("r1".into());
        resource.reservation = Some(ReservationInfo {
            principal: Some("principal1".into()),
            ..Default::default()
        });
        resource
            .reservations
            .push(dynamic_reservation("r1", "principal1", None));
        assert!(Resources::validate(&resource).is_ok());

        let mut other_role = resource.clone();
        other_role.reservations[0].role = Some("r2".into());
        assert!(Resources::validate(&other_role).is_err());

        let mut static_ = resource.clone();
        static_.reservations[0].r#type = Some(ReservationType::Static as i32);
        assert!(Resources::validate(&static_).is_err());

        let mut other_principal = resource.clone();
        other_principal.reservation.as_mut().unwrap().principal = Some("principal2".into());
        assert!(Resources::validate(&other_principal).is_err());

        let mut other_labels = resource.clone();
        other_labels.reservation.as_mut().unwrap().labels = Some(labels(&[("k", None)]));
        assert!(Resources::validate(&other_labels).is_err());

        resource
            .reservations
            .push(dynamic_reservation("r1/r2", "principal1", None));
        assert!(Resources::validate(&resource).is_err());
    }

    #[test]
    fn downgrade_converts_to_role_and_reservation() {
        let base = resource("cpus", "555.5", "*");
        let mut statically = base.clone();
        statically.reservations.push(static_reservation("foo"));
        let mut dynamically = base.clone();
        dynamically
            .reservations
            .push(dynamic_reservation("bar", "principal1", None));
        let mut refined = dynamically.clone();
        refined
            .reservations
            .push(dynamic_reservation("bar/baz", "principal2", None));

        let mut actual = vec![base.clone(), statically.clone(), dynamically.clone()];
        downgrade_resources(&mut actual).unwrap();

        let mut expected_unreserved = base.clone();
        expected_unreserved.role = Some("*".into());
        let mut expected_static = base.clone();
        expected_static.role = Some("foo".into());
        let mut expected_dynamic = base.clone();
        expected_dynamic.role = Some("bar".into());
        expected_dynamic.reservation = Some(ReservationInfo {
            principal: Some("principal1".into()),
            ..Default::default()
        });
        assert_eq!(
            actual,
            [
                expected_unreserved.clone(),
                expected_static.clone(),
                expected_dynamic.clone()
            ]
        );

        // Upgrading restores the 1.4+ format exactly.
        upgrade_resources(&mut actual);
        assert_eq!(
            actual,
            [base.clone(), statically.clone(), dynamically.clone()]
        );

        // Refined reservations stop the downgrade; earlier ones stay done.
        let mut actual = vec![base, statically, dynamically, refined.clone()];
        assert_eq!(
            downgrade_resources(&mut actual),
            Err(ResourcesError::RefinedReservations)
        );
        assert_eq!(
            actual,
            [
                expected_unreserved,
                expected_static,
                expected_dynamic,
                refined
            ]
        );
    }

    #[test]
    fn endpoint_format_keeps_both_encodings() {
        let mut resource = resource("cpus", "1", "*");
        resource.reservations.push(dynamic_reservation(
            "bar",
            "p",
            Some(labels(&[("k", None)])),
        ));
        let mut converted = resource.clone();
        convert_resource_format(&mut converted, ResourceFormat::Endpoint).unwrap();
        assert_eq!(converted.role.as_deref(), Some("bar"));
        assert_eq!(
            converted.reservation.as_ref().unwrap().principal.as_deref(),
            Some("p")
        );
        assert_eq!(converted.reservations, resource.reservations);
        assert!(Resources::validate(&converted).is_ok());

        // Arithmetic accepts it and holds the 1.4+ form.
        let held = one(converted);
        assert_eq!(held, one(resource.clone()));
        assert!(held
            .iter()
            .all(|r| r.role.is_none() && r.reservation.is_none()));

        // A resource still in the old format downgrades to itself.
        let mut old = resource.clone();
        downgrade_resource(&mut old).unwrap();
        let again = old.clone();
        downgrade_resource(&mut old).unwrap();
        assert_eq!(old, again);
    }

    #[test]
    fn old_format_resources_are_upgraded_on_arithmetic() {
        let mut old = resource("cpus", "2", "*");
        old.role = Some("role1".into());
        let held = one(old.clone());
        assert_eq!(held, parse("cpus(role1):2"));
        assert!(parse("cpus(role1):4").contains_resource(&old));
        assert!(!parse("cpus:4").contains_resource(&old));
    }

    #[test]
    fn counts_shared_copies() {
        let shared = disk("100", "role1", Some("1"), Some("path1"), None, true);
        assert_eq!(one(shared.clone()).count(&shared), 1);
        assert_eq!((one(shared.clone()) + &shared).count(&shared), 2);

        let exclusive = disk("100", "role1", Some("1"), Some("path1"), None, false);
        assert_eq!(one(exclusive.clone()).count(&exclusive), 1);
        assert_eq!((one(exclusive.clone()) + &exclusive).count(&exclusive), 1);

        let cpus = resource("cpus", "1", "*");
        assert_eq!(one(cpus.clone()).count(&cpus), 1);
        assert_eq!((one(cpus.clone()) + &cpus).count(&cpus), 0);
    }

    #[test]
    fn shared_volumes_are_counted_not_merged() {
        let mut volume = disk("64", "role1", Some("id1"), Some("path1"), None, true);
        volume
            .disk
            .as_mut()
            .unwrap()
            .persistence
            .as_mut()
            .unwrap()
            .principal = Some("principal1".into());
        let once = one(volume.clone());
        assert_eq!(
            once.to_string(),
            "disk(reservations: [(STATIC,role1)])[id1:path1]<SHARED>:64<1>"
        );
        assert_eq!(
            (&once + &once).to_string(),
            "disk(reservations: [(STATIC,role1)])[id1:path1]<SHARED>:64<2>"
        );

        let disk50 = disk("50", "role1", Some("1"), Some("path"), None, true);
        let r1 = parse("cpus:1;mem:5") + &disk50;
        let r2 = parse("cpus:2;mem:10") + &disk50;
        let sum = &r1 + &r2;
        assert_eq!(sum.len(), 3);
        assert_eq!(sum.get_scalar("disk").unwrap().value, 50.0);
        assert_eq!(sum.count(&disk50), 2);

        let big = disk("8192", "role1", Some("1"), Some("path"), None, true);
        let r1 = parse("cpus:40;mem:4096") + &big + &big;
        let r2 = parse("cpus:5;mem:512") + &big;
        let difference = &r1 - &r2;
        assert_eq!(difference.get_scalar("cpus").unwrap().value, 35.0);
        assert_eq!(difference.count(&big), 1);
        assert!(difference.contains_resource(&big));
        assert_eq!((&r1 - &r2 - &r2).count(&big), 0);
        assert!(!(&r1 - &r2 - &r2).contains_resource(&big));
        assert_eq!((&r2 - &r1).count(&big), 0);

        let r1 = parse("cpus:2;mem:10") + &disk50 + &disk50 + &disk50 + &disk50;
        let r2 = parse("cpus:2;mem:10") + &disk50 + &disk50 + &disk50;
        assert_eq!(&r1 + &r1 - &r1, r1);
        assert_eq!(&r1 + &r2 - &r1, r2);
        assert_eq!(&r2 - &r1 + &r1, r1);
        assert!((&r2 - &r1).is_empty());
        assert!(!(&r1 - &r2).is_empty());

        // Shared and non-shared copies of a volume stay apart.
        let exclusive = disk("50", "role1", Some("1"), Some("path"), None, false);
        let mixed = one(disk50.clone()) + &disk50 + &exclusive;
        assert_eq!(mixed.len(), 2);
        assert_eq!(mixed.get_scalar("disk").unwrap().value, 100.0);
        assert_eq!(one(exclusive.clone()) - &disk50, one(exclusive.clone()));

        assert_eq!(mixed.shared(), one(disk50.clone()) + &disk50);
        assert_eq!(mixed.non_shared(), one(exclusive));
    }

    #[test]
    fn allocation_separates_resources() {
        let mut cpus1 = parse("cpus:1");
        let mut cpus2 = parse("cpus:1");
        cpus1.allocate("role1");
        cpus2.allocate("role2");
        assert_ne!(cpus1, cpus2);
        let sum = &cpus1 + &cpus2;
        assert_eq!(sum.len(), 2);
        assert_eq!(sum.cpus(), Some(2.0));
        assert!(sum.contains(&cpus1));
        assert!((&cpus1 - &cpus1).is_empty());
        assert_eq!(&cpus1 - &cpus2, cpus1);
        assert_eq!(sum.allocated_to("role1"), cpus1);

        let mut merged = sum.clone();
        merged.unallocate();
        assert_eq!(merged.len(), 1);
        assert_eq!(merged, parse("cpus:2"));
    }

    #[test]
    fn allocations_group_by_role() {
        let mut star = parse("cpus:1;mem:1024");
        star.allocate("*");
        let mut role1 = parse("cpus:2;mem:2048");
        role1.allocate("role1");
        let mut role2 = parse("cpus(role2):3;mem(role2):3096");
        role2.allocate("role2");
        let resources = &star + &role1 + &role2;

        let allocations = resources.allocations();
        assert_eq!(allocations.len(), 3);
        assert_eq!(allocations["*"], star);
        assert_eq!(allocations["role1"], role1);
        assert_eq!(allocations["role2"], role2);
        assert_eq!(resources.allocated_to_role_subtree("role1"), role1);
    }

    #[test]
    fn push_and_pop_reservations() {
        let unreserved = parse("cpus:1;mem:512");
        let reserved = unreserved
            .push_reservation(&dynamic_reservation("role", "principal", None))
            .unwrap();
        assert!(reserved.iter().all(Resources::is_dynamically_reserved));
        assert_eq!(reserved.reserved(Some("role")), reserved);

        let refined = reserved
            .push_reservation(&dynamic_reservation("role/sub", "p", None))
            .unwrap();
        assert!(refined.iter().all(Resources::has_refined_reservations));
        assert_eq!(refined.pop_reservation().unwrap(), reserved);
        assert_eq!(reserved.pop_reservation().unwrap(), unreserved);

        assert!(matches!(
            reserved.push_reservation(&dynamic_reservation("other", "p", None)),
            Err(ResourcesError::InvalidResource { .. })
        ));
        assert!(matches!(
            unreserved.pop_reservation(),
            Err(ResourcesError::NotReserved(_))
        ));
    }

    #[test]
    fn reservation_ancestor_is_the_shared_prefix() {
        let base = parse("cpus:2;mem:10");
        let foo = dynamic_reservation("foo", "p", None);
        let ancestor =
            |a: &Resources, b: &Resources| Resources::reservation_ancestor(a, b).unwrap();
        assert_eq!(ancestor(&base, &base), base);

        let r1 = base.push_reservation(&foo).unwrap();
        assert_eq!(ancestor(&r1, &r1), r1);
        assert_eq!(ancestor(&r1, &base), base);
        assert_eq!(ancestor(&base, &r1), base);

        let r1 = r1
            .push_reservation(&dynamic_reservation("foo/bar", "p", None))
            .unwrap();
        assert_eq!(ancestor(&r1, &base), base);
        let r2 = base.push_reservation(&foo).unwrap();
        assert_eq!(ancestor(&r1, &r2), r2);
        assert_eq!(ancestor(&r2, &r1), r2);
        let r3 = r2
            .push_reservation(&dynamic_reservation("foo/baz", "p", None))
            .unwrap();
        assert_eq!(ancestor(&r1, &r3), r2);

        assert_eq!(
            Resources::reservation_ancestor(&base, &parse("cpus:1")),
            None
        );
    }

    #[test]
    fn stripped_quantities_keep_only_scalar_amounts() {
        let volume = one(disk("200", "role", Some("1"), Some("path"), None, false));
        let stripped = volume.create_stripped_scalar_quantity();
        assert!(stripped.persistent_volumes().is_empty());
        assert!(stripped.reserved(None).is_empty());
        assert_eq!(stripped.disk(), Some(200 * 1024 * 1024));

        let mut allocated = parse("cpus:1;mem:512");
        allocated.allocate("role");
        assert!(allocated
            .create_stripped_scalar_quantity()
            .iter()
            .all(|r| r.allocation_info.is_none()));

        let mut provided = resource("cpus", "1", "*");
        provided.provider_id = Some(ResourceProviderId { value: "RP".into() });
        assert_eq!(
            one(provided).create_stripped_scalar_quantity(),
            parse("cpus:1")
        );
        assert_eq!(
            one(revocable("cpus", "1", true)).create_stripped_scalar_quantity(),
            parse("cpus:1")
        );
        assert!(parse("ports:[1-2];names:{a}")
            .create_stripped_scalar_quantity()
            .is_empty());
    }

    #[test]
    fn shrink_respects_indivisible_disks() {
        let mut cpus = resource("cpus", "2", "*");
        assert!(Resources::shrink(&mut cpus, Scalar::new(1.0)));
        assert_eq!(cpus.scalar.unwrap().value, 1.0);
        assert!(Resources::shrink(&mut cpus, Scalar::new(5.0)));
        assert_eq!(cpus.scalar.unwrap().value, 1.0);

        let mut mount = disk("20", "role", None, None, Some(mount_source("mnt")), false);
        assert!(!Resources::shrink(&mut mount, Scalar::new(10.0)));
        assert_eq!(mount.scalar.unwrap().value, 20.0);
    }

    #[test]
    fn endpoint_json_sums_by_name() {
        let mut resources = parse("cpus:1;mem:128;ports:[31000-32000];cpus(role1):0.5;disks:{a,b}");
        resources += revocable("cpus", "2", true);
        resources += parse("ports(role1):[33000-33100]");
        let json = resources.to_endpoint_json();
        assert_eq!(
            crate::json::render(&json),
            concat!(
                r#"{"cpus_revocable":2.0,"disk":0.0,"mem":128.0,"gpus":0.0,"cpus":1.5,"#,
                r#""ports":"[31000-32000, 33000-33100]","disks":"{a, b}"}"#
            )
        );
        let list = resources.to_vec();
        assert_eq!(endpoint_json(&list), json);
    }

    #[test]
    fn libstdcxx_string_hash_matches_the_test_vectors() {
        // Appendix A of docs/master-endpoints-json.md (g++ 12, x86_64).
        for (key, hash) in [
            ("cpus", 9932230428387594266),
            ("gpus", 13984429509990354374),
            ("mem", 2071610730028985445),
            ("disk", 1019050358959006100),
            ("ports", 11576471465421908220),
        ] {
            assert_eq!(libstdcxx_string_hash(key.as_bytes()), hash, "{key}");
        }
        // Keys of 8 bytes and more go through the word loop.
        assert_ne!(
            libstdcxx_string_hash(b"cpus_revocable"),
            libstdcxx_string_hash(b"cpus_revocablf")
        );
    }

    fn keys_of(json: &serde_json::Value) -> Vec<String> {
        json.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn endpoint_json_defaults_come_in_hash_order() {
        assert_eq!(
            crate::json::render(&Resources::new().to_endpoint_json()),
            r#"{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0}"#
        );
        let total = parse("cpus:8;mem:15360;disk:51200;ports:[31000-32000]");
        assert_eq!(
            crate::json::render(&total.to_endpoint_json()),
            r#"{"disk":51200.0,"mem":15360.0,"gpus":0.0,"cpus":8.0,"ports":"[31000-32000]"}"#
        );
    }

    #[test]
    fn endpoint_json_scalar_key_orders_match_libstdcxx() {
        // §3.1 of docs/master-endpoints-json.md: extra scalars in insertion
        // order, and the key order the upstream writer prints.
        // (extra scalar name, revocable) in insertion order, expected keys.
        type Case = (&'static [(&'static str, bool)], &'static [&'static str]);
        let cases: &[Case] = &[
            (
                &[("cpus", true)],
                &["cpus_revocable", "disk", "mem", "gpus", "cpus"],
            ),
            (
                &[("mem", true)],
                &["disk", "mem", "mem_revocable", "gpus", "cpus"],
            ),
            (
                &[("disk", true)],
                &["disk", "mem", "gpus", "disk_revocable", "cpus"],
            ),
            (
                &[("gpus", true)],
                &["gpus_revocable", "disk", "mem", "gpus", "cpus"],
            ),
            (
                &[("network_bandwidth", false)],
                &["disk", "mem", "gpus", "network_bandwidth", "cpus"],
            ),
            (
                // Six keys: the table grows from 5 to 11 buckets.
                &[("cpus", true), ("mem", true)],
                &[
                    "mem_revocable",
                    "cpus",
                    "disk",
                    "gpus",
                    "mem",
                    "cpus_revocable",
                ],
            ),
        ];
        for (extra, expected) in cases {
            let list: Vec<Resource> = extra
                .iter()
                .map(|(name, is_revocable)| revocable(name, "1", *is_revocable))
                .collect();
            assert_eq!(keys_of(&endpoint_json(&list)), *expected, "{extra:?}");
        }
    }

    #[test]
    fn endpoint_json_range_and_set_key_orders_match_libstdcxx() {
        let scalars = ["disk", "mem", "gpus", "cpus"];
        let with = |tail: &[&str]| -> Vec<String> {
            scalars.iter().chain(tail).map(|s| s.to_string()).collect()
        };
        let ports = resource("ports", "[31000-32000]", "*");
        let ephemeral = resource("ephemeral_ports", "[40000-40999]", "*");
        let mut revocable_ports = resource("ports", "[33000-33001]", "*");
        revocable_ports.revocable = Some(RevocableInfo {});

        assert_eq!(keys_of(&endpoint_json([&ports])), with(&["ports"]));
        assert_eq!(
            keys_of(&endpoint_json([&ports, &ephemeral])),
            with(&["ephemeral_ports", "ports"])
        );
        assert_eq!(
            keys_of(&endpoint_json([&ports, &revocable_ports])),
            with(&["ports_revocable", "ports"])
        );
        // Scalars, then ranges, then sets, whatever the input order.
        let set = resource("zones", "{a,b}", "*");
        let cpus = resource("cpus", "1", "*");
        assert_eq!(
            keys_of(&endpoint_json([&set, &ports, &cpus])),
            with(&["ports", "zones"])
        );
    }

    #[test]
    fn unordered_keys_follow_bucket_growth() {
        // An empty map jumps to 13 buckets on the first insertion; reserve(4)
        // gives 5. Re-inserting a key changes nothing.
        let mut keys = UnorderedKeys::new();
        assert!(keys.insert("ports"));
        assert!(!keys.insert("ports"));
        assert_eq!(keys.buckets, 13);
        let presized = UnorderedKeys::with_capacity(4);
        assert_eq!(presized.buckets, 5);
        // Growth past 13 takes the next entry of libstdc++'s prime list.
        let mut many = UnorderedKeys::new();
        for i in 0..14 {
            many.insert(&format!("role{i}"));
        }
        assert_eq!(many.buckets, 29);
        assert_eq!(many.iter().count(), 14);
        assert_eq!(next_bucket_count(2_000_000), 2_000_003);
    }

    #[test]
    fn role_names_follow_upstream_rules() {
        for valid in ["*", "role", "a/b/c", "a.b", "a-b", "..a"] {
            assert!(validate_role(valid).is_ok(), "{valid}");
        }
        let invalid = [
            ("", "role names cannot be the empty string"),
            ("/a", "role '/a' cannot start with a slash"),
            ("a/", "role 'a/' cannot end with a slash"),
            ("a//b", "role 'a//b' cannot contain two adjacent slashes"),
            ("a/./b", "role 'a/./b' cannot include '.' as a component"),
            ("..", "role '..' cannot include '..' as a component"),
            ("a/*", "role 'a/*' cannot include '*' as a component"),
            (
                "-a",
                "role component '-a' is invalid because it starts with a dash",
            ),
            (
                "a b",
                "role component 'a b' is invalid because it contains backspace or whitespace",
            ),
        ];
        for (role, message) in invalid {
            assert_eq!(validate_role(role).unwrap_err().to_string(), message);
        }
        assert!(is_strict_subrole_of("a/b", "a"));
        assert!(is_strict_subrole_of("a/b/c", "a"));
        assert!(!is_strict_subrole_of("ab", "a"));
        assert!(!is_strict_subrole_of("a", "a"));
        assert!(!is_strict_subrole_of("b/a", "a"));
    }

    #[test]
    fn validate_all_names_the_bad_resource() {
        let good = resource("cpus", "1", "*");
        let mut bad = resource("mem", "1", "*");
        bad.scalar = Some(Scalar::new(-1.0));
        assert!(Resources::validate_all(std::slice::from_ref(&good)).is_ok());
        assert_eq!(
            Resources::validate_all(&[good, bad])
                .unwrap_err()
                .to_string(),
            "resource 'mem:-1' is invalid: invalid scalar resource: value <= 0"
        );
    }
}
