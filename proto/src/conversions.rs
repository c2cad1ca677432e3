//! Resource conversions: what the offer operations RESERVE, UNRESERVE,
//! CREATE and DESTROY turn resources into, and the checkpointed resources
//! (dynamic reservations and persistent volumes) an agent's static total
//! becomes once they are applied.
//!
//! Upstream counterparts: `ResourceConversion`, `Resources::apply` and
//! `getResourceConversions` (`src/common/resources.cpp`,
//! `src/common/resources_utils.cpp`), `needCheckpointing` and
//! `applyCheckpointedResources` (`src/common/resources_utils.cpp`).
//!
//! Deliberate differences: the operations that need a resource provider
//! (`GROW_VOLUME`, `SHRINK_VOLUME`, `CREATE_DISK`, `DESTROY_DISK`) have no
//! conversion here; [`operation_conversions`] returns an error for them.

// `Resource.role` is deprecated upstream but read by the old format.
#![allow(deprecated)]

use crate::mesos::offer::operation::Type as OperationType;
use crate::mesos::offer::Operation;
use crate::mesos::resource::reservation_info::Type as ReservationType;
use crate::mesos::Resource;
use crate::resources::Resources;

/// Why a conversion cannot be computed or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConversionError(pub String);

/// Resources `consumed` by an operation become `converted` (upstream
/// `ResourceConversion`).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceConversion {
    /// What the operation takes.
    pub consumed: Resources,
    /// What it gives back in their place.
    pub converted: Resources,
}

/// Returns whether a resource must be checkpointed by the agent: it is
/// dynamically reserved or a persistent volume (upstream
/// `needCheckpointing`).
pub fn needs_checkpointing(resource: &Resource) -> bool {
    let mut upgraded = resource.clone();
    crate::resources::upgrade_resource(&mut upgraded);
    Resources::is_dynamically_reserved(&upgraded) || Resources::is_persistent_volume(&upgraded)
}

/// Returns the disk a persistent volume was made from: the volume without
/// its persistence, volume and sharing (upstream's stripping of CREATE and
/// DESTROY conversions).
pub fn strip_persistent_volume(volume: &Resource) -> Resource {
    let mut stripped = volume.clone();
    stripped.shared = None;
    if let Some(disk) = stripped.disk.as_mut() {
        disk.persistence = None;
        disk.volume = None;
        if disk.source.is_none() {
            stripped.disk = None;
        }
    }
    stripped
}

fn upgraded(resources: &[Resource]) -> Vec<Resource> {
    let mut resources = resources.to_vec();
    crate::resources::upgrade_resources(&mut resources);
    resources
}

/// Returns the conversions an offer operation makes (upstream
/// `getResourceConversions`): RESERVE pops the reservation it pushes (or
/// takes `source` when given), UNRESERVE the reverse, CREATE turns a disk
/// into a volume and DESTROY the reverse; GROW_VOLUME takes the volume and
/// the addition for a larger volume, SHRINK_VOLUME gives a smaller volume
/// and the disk it no longer uses.
pub fn operation_conversions(
    operation: &Operation,
) -> Result<Vec<ResourceConversion>, ConversionError> {
    let mut conversions = Vec::new();
    match operation.r#type() {
        OperationType::Reserve => {
            let reserve = operation
                .reserve
                .as_ref()
                .ok_or_else(|| ConversionError("Expecting 'reserve' to be present".into()))?;
            let target = Resources::from(upgraded(&reserve.resources));
            if !reserve.source.is_empty() {
                conversions.push(ResourceConversion {
                    consumed: Resources::from(upgraded(&reserve.source)),
                    converted: target,
                });
            } else {
                for resource in &target {
                    let reserved = Resources::from(resource.clone());
                    let consumed = reserved
                        .pop_reservation()
                        .map_err(|e| ConversionError(e.to_string()))?;
                    conversions.push(ResourceConversion {
                        consumed,
                        converted: reserved,
                    });
                }
            }
        }
        OperationType::Unreserve => {
            let unreserve = operation
                .unreserve
                .as_ref()
                .ok_or_else(|| ConversionError("Expecting 'unreserve' to be present".into()))?;
            for resource in Resources::from(upgraded(&unreserve.resources)).iter() {
                let reserved = Resources::from(resource.clone());
                let converted = reserved
                    .pop_reservation()
                    .map_err(|e| ConversionError(e.to_string()))?;
                conversions.push(ResourceConversion {
                    consumed: reserved,
                    converted,
                });
            }
        }
        OperationType::Create => {
            let create = operation
                .create
                .as_ref()
                .ok_or_else(|| ConversionError("Expecting 'create' to be present".into()))?;
            for volume in upgraded(&create.volumes) {
                conversions.push(ResourceConversion {
                    consumed: Resources::from(strip_persistent_volume(&volume)),
                    converted: Resources::from(volume),
                });
            }
        }
        OperationType::Destroy => {
            let destroy = operation
                .destroy
                .as_ref()
                .ok_or_else(|| ConversionError("Expecting 'destroy' to be present".into()))?;
            for volume in upgraded(&destroy.volumes) {
                conversions.push(ResourceConversion {
                    consumed: Resources::from(volume.clone()),
                    converted: Resources::from(strip_persistent_volume(&volume)),
                });
            }
        }
        OperationType::GrowVolume => {
            let grow = operation
                .grow_volume
                .as_ref()
                .ok_or_else(|| ConversionError("Expecting 'grow_volume' to be present".into()))?;
            let mut volume = upgraded(std::slice::from_ref(&grow.volume)).remove(0);
            let addition = upgraded(std::slice::from_ref(&grow.addition)).remove(0);
            let consumed = Resources::from(vec![volume.clone(), addition.clone()]);
            let (Some(size), Some(more)) = (volume.scalar, addition.scalar) else {
                return Err(ConversionError(
                    "GROW_VOLUME needs scalar 'volume' and 'addition'".into(),
                ));
            };
            volume.scalar = Some(size + more);
            conversions.push(ResourceConversion {
                consumed,
                converted: Resources::from(volume),
            });
        }
        OperationType::ShrinkVolume => {
            let shrink = operation
                .shrink_volume
                .as_ref()
                .ok_or_else(|| ConversionError("Expecting 'shrink_volume' to be present".into()))?;
            let volume = upgraded(std::slice::from_ref(&shrink.volume)).remove(0);
            let Some(size) = volume.scalar else {
                return Err(ConversionError(
                    "SHRINK_VOLUME needs a scalar 'volume'".into(),
                ));
            };
            let mut shrunk = volume.clone();
            shrunk.scalar = Some(size - shrink.subtract);
            // What is freed is the volume's disk without the volume.
            let mut freed = strip_persistent_volume(&volume);
            freed.scalar = Some(shrink.subtract);
            conversions.push(ResourceConversion {
                consumed: Resources::from(volume),
                converted: Resources::from(vec![shrunk, freed]),
            });
        }
        other => {
            return Err(ConversionError(format!(
                "Unsupported offer operation {}",
                other.as_str_name()
            )))
        }
    }
    Ok(conversions)
}

impl Resources {
    /// Returns these resources with each conversion applied in order
    /// (upstream `Resources::apply`): fails, changing nothing, when one
    /// consumes what is not here.
    pub fn apply(&self, conversions: &[ResourceConversion]) -> Result<Resources, ConversionError> {
        let mut result = self.clone();
        for conversion in conversions {
            if !result.contains(&conversion.consumed) {
                return Err(ConversionError(format!(
                    "{} does not contain {}",
                    result, conversion.consumed
                )));
            }
            result -= &conversion.consumed;
            result += &conversion.converted;
        }
        Ok(result)
    }

    /// Returns these resources with `operation` applied.
    pub fn apply_operation(&self, operation: &Operation) -> Result<Resources, ConversionError> {
        self.apply(&operation_conversions(operation)?)
    }
}

/// Returns an agent's total: its static resources (`SlaveInfo.resources`)
/// with the checkpointed dynamic reservations and persistent volumes
/// applied (upstream `applyCheckpointedResources`). Fails when a
/// checkpointed resource does not need checkpointing or was not carved out
/// of the static resources.
pub fn apply_checkpointed_resources(
    total: &Resources,
    checkpointed: &[Resource],
) -> Result<Resources, ConversionError> {
    let mut result = total.clone();
    for resource in upgraded(checkpointed) {
        if !needs_checkpointing(&resource) {
            return Err(ConversionError(format!(
                "Unexpected checkpointed resources {resource}"
            )));
        }
        let mut stripped = strip_persistent_volume(&resource);
        while stripped
            .reservations
            .last()
            .is_some_and(|r| r.r#type() == ReservationType::Dynamic)
        {
            stripped.reservations.pop();
        }
        let stripped = Resources::from(stripped);
        if !result.contains(&stripped) {
            return Err(ConversionError(format!(
                "Checkpointed resources {resource} incompatible with agent resources {result}"
            )));
        }
        result -= &stripped;
        result += resource;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesos::offer::operation::{Create, Destroy, Reserve, Unreserve};
    use crate::mesos::resource::{disk_info, DiskInfo, ReservationInfo};
    use crate::mesos::Volume;

    fn parse(text: &str) -> Resources {
        Resources::parse(text, "*").expect("valid")
    }

    fn reserved(text: &str, role: &str) -> Resources {
        parse(text)
            .push_reservation(&ReservationInfo {
                r#type: Some(ReservationType::Dynamic as i32),
                role: Some(role.into()),
                principal: Some("ops".into()),
                ..Default::default()
            })
            .expect("valid")
    }

    fn volume(id: &str, role: &str) -> Resource {
        let mut disk = reserved("disk:64", role).to_vec().remove(0);
        disk.disk = Some(DiskInfo {
            persistence: Some(disk_info::Persistence {
                id: id.into(),
                principal: None,
            }),
            volume: Some(Volume {
                container_path: "data".into(),
                mode: crate::mesos::volume::Mode::Rw as i32,
                ..Default::default()
            }),
            source: None,
        });
        disk
    }

    #[test]
    fn reserve_then_create_then_destroy_then_unreserve_round_trips() {
        let total = parse("cpus:4;mem:512;disk:128");
        let reserve = Operation {
            r#type: Some(OperationType::Reserve as i32),
            reserve: Some(Reserve {
                resources: reserved("cpus:1;disk:64", "web").to_vec(),
                source: vec![],
            }),
            ..Default::default()
        };
        let after_reserve = total.apply_operation(&reserve).expect("applies");
        assert_eq!(
            after_reserve.reserved(Some("web")),
            reserved("cpus:1;disk:64", "web")
        );
        assert_eq!(after_reserve.unreserved(), parse("cpus:3;mem:512;disk:64"));

        let create = Operation {
            r#type: Some(OperationType::Create as i32),
            create: Some(Create {
                volumes: vec![volume("v1", "web")],
            }),
            ..Default::default()
        };
        let after_create = after_reserve.apply_operation(&create).expect("applies");
        assert_eq!(after_create.persistent_volumes().len(), 1);
        // The checkpointed view gives the same total back.
        let checkpointed: Vec<Resource> = after_create
            .iter()
            .filter(|r| needs_checkpointing(r))
            .cloned()
            .collect();
        assert_eq!(
            apply_checkpointed_resources(&total, &checkpointed).expect("compatible"),
            after_create
        );

        let destroy = Operation {
            r#type: Some(OperationType::Destroy as i32),
            destroy: Some(Destroy {
                volumes: vec![volume("v1", "web")],
            }),
            ..Default::default()
        };
        let after_destroy = after_create.apply_operation(&destroy).expect("applies");
        assert_eq!(after_destroy, after_reserve);

        let unreserve = Operation {
            r#type: Some(OperationType::Unreserve as i32),
            unreserve: Some(Unreserve {
                resources: reserved("cpus:1;disk:64", "web").to_vec(),
            }),
            ..Default::default()
        };
        assert_eq!(
            after_destroy.apply_operation(&unreserve).expect("applies"),
            total
        );
    }

    #[test]
    fn conversions_of_what_is_not_there_fail() {
        let total = parse("cpus:1");
        let reserve = Operation {
            r#type: Some(OperationType::Reserve as i32),
            reserve: Some(Reserve {
                resources: reserved("cpus:2", "web").to_vec(),
                source: vec![],
            }),
            ..Default::default()
        };
        let error = total.apply_operation(&reserve).expect_err("too much");
        assert!(error.0.contains("does not contain"), "{error}");
        let error = apply_checkpointed_resources(&total, &[volume("v", "web")])
            .expect_err("no disk to carve it from");
        assert!(error.0.contains("incompatible"), "{error}");
        assert!(apply_checkpointed_resources(&total, &parse("cpus:1").to_vec()).is_err());
    }
}
