//! Offer constraints: a framework limits, per role, the agents it is
//! offered by their attributes and pseudo-attributes (host name, fault
//! domain region and zone) — `Subscribe.offer_constraints` and
//! `UpdateFramework.offer_constraints` of the scheduler API (Mesos 1.11).
//!
//! Upstream counterparts: `OfferConstraintsFilter` in
//! `src/master/allocator/mesos/offer_constraints_filter.cpp`, its checks in
//! `Master::subscribe`/`updateFramework` (`createAllocatorFrameworkOptions`,
//! `validation::framework::validateOfferConstraintsRoles`) and its use in
//! the allocator's `isFiltered`.
//!
//! A role's constraints are groups: an agent passes when every constraint
//! of at least one group holds for it; a role without constraints passes
//! every agent. A constraint on a named attribute holds for an attribute
//! that is not TEXT (upstream compares only text); one on a missing
//! attribute holds only for `not_exists`, `text_not_equals` and
//! `text_not_matches`.
//!
//! Deliberate difference: regular expressions are compiled by the `regex`
//! crate (RE2's syntax and linear-time matching, full match as RE2's
//! `FullMatch`), within its default size limit; upstream bounds RE2's
//! memory and program size (`--offer_constraints_re2_max_mem`,
//! `--offer_constraints_re2_max_program_size`, which this master refuses),
//! so a pattern near those limits may be accepted here and refused there.

use std::collections::HashMap;

use mesos_proto::mesos::scheduler::attribute_constraint::predicate::Predicate as PredicateKind;
use mesos_proto::mesos::scheduler::attribute_constraint::selector::{
    PseudoattributeType, Selector as SelectorKind,
};
use mesos_proto::mesos::scheduler::{AttributeConstraint, OfferConstraints};
use mesos_proto::mesos::{value, Attribute, SlaveInfo};

enum Selector {
    Hostname,
    Region,
    Zone,
    Attribute(String),
}

enum Predicate {
    Exists,
    NotExists,
    TextEquals(String),
    TextNotEquals(String),
    TextMatches(regex::Regex),
    TextNotMatches(regex::Regex),
}

/// What a selector finds on an agent.
enum Found<'a> {
    Nothing,
    Text(&'a str),
    Attribute(&'a Attribute),
}

impl Predicate {
    fn holds(&self, found: Found<'_>) -> bool {
        let text = match found {
            Found::Nothing => {
                return matches!(
                    self,
                    Self::NotExists | Self::TextNotEquals(_) | Self::TextNotMatches(_)
                )
            }
            Found::Text(text) => text,
            Found::Attribute(attribute) => {
                let is_text = attribute.r#type == value::Type::Text as i32;
                match (is_text, attribute.text.as_ref()) {
                    (true, Some(text)) => text.value.as_str(),
                    // Only TEXT attributes are compared.
                    _ => return !matches!(self, Self::NotExists),
                }
            }
        };
        match self {
            Self::Exists => true,
            Self::NotExists => false,
            Self::TextEquals(value) => text == value,
            Self::TextNotEquals(value) => text != value,
            Self::TextMatches(re) => re.is_match(text),
            Self::TextNotMatches(re) => !re.is_match(text),
        }
    }
}

struct Constraint {
    selector: Selector,
    predicate: Predicate,
}

impl Constraint {
    fn create(constraint: &AttributeConstraint) -> Result<Self, String> {
        let selector = match &constraint.selector.selector {
            Some(SelectorKind::PseudoattributeType(t)) => match PseudoattributeType::try_from(*t) {
                Ok(PseudoattributeType::Hostname) => Selector::Hostname,
                Ok(PseudoattributeType::Region) => Selector::Region,
                Ok(PseudoattributeType::Zone) => Selector::Zone,
                _ => return Err("Unknown pseudoattribute type".into()),
            },
            Some(SelectorKind::AttributeName(name)) => Selector::Attribute(name.clone()),
            None => {
                return Err("Exactly one of 'AttributeConstraint::Selector::name' or \
                            'AttributeConstraint::Selector::pseudoattribute_type' must be set"
                    .into())
            }
        };
        let predicate = match &constraint.predicate.predicate {
            Some(PredicateKind::Exists(_)) => Predicate::Exists,
            Some(PredicateKind::NotExists(_)) => Predicate::NotExists,
            Some(PredicateKind::TextEquals(t)) => Predicate::TextEquals(t.value.clone()),
            Some(PredicateKind::TextNotEquals(t)) => Predicate::TextNotEquals(t.value.clone()),
            Some(PredicateKind::TextMatches(t)) => Predicate::TextMatches(full_match(&t.regex)?),
            Some(PredicateKind::TextNotMatches(t)) => {
                Predicate::TextNotMatches(full_match(&t.regex)?)
            }
            None => return Err("Unknown predicate type".into()),
        };
        Ok(Self {
            selector,
            predicate,
        })
    }

    fn holds(&self, info: &SlaveInfo) -> bool {
        let fault_domain = info.domain.as_ref().and_then(|d| d.fault_domain.as_ref());
        let found = match &self.selector {
            Selector::Hostname => Found::Text(&info.hostname),
            Selector::Region => {
                fault_domain.map_or(Found::Nothing, |f| Found::Text(&f.region.name))
            }
            Selector::Zone => fault_domain.map_or(Found::Nothing, |f| Found::Text(&f.zone.name)),
            Selector::Attribute(name) => info
                .attributes
                .iter()
                .find(|a| a.name == *name)
                .map_or(Found::Nothing, Found::Attribute),
        };
        self.predicate.holds(found)
    }
}

/// A regular expression matching whole strings (RE2's `FullMatch`).
fn full_match(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| format!("Failed to construct regex from pattern '{pattern}': {e}"))
}

/// A framework's offer constraints, compiled (upstream
/// `OfferConstraintsFilter`).
pub struct OfferConstraintsFilter {
    roles: HashMap<String, Vec<Vec<Constraint>>>,
}

impl OfferConstraintsFilter {
    /// Checks and compiles `constraints` for a framework subscribed to
    /// `roles`, with upstream's messages; `None` when there are none.
    pub fn create(
        constraints: &OfferConstraints,
        roles: &[String],
    ) -> Result<Option<Self>, String> {
        if constraints.role_constraints.is_empty() {
            return Ok(None);
        }
        let mut sorted: Vec<_> = constraints.role_constraints.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (role, _) in &sorted {
            if !roles.contains(role) {
                return Err(format!(
                    "Offer constraints specify `role_constraints` for a role '{role}'not \
                     contained in the set of roles"
                ));
            }
        }
        let invalid = |e: String| format!("Offer constraints are not valid: {e}");
        let mut compiled = HashMap::new();
        for (role, role_constraints) in sorted {
            if role_constraints.groups.is_empty() {
                return Err(invalid(format!(
                    "'OfferConstraints::role_constraints' has an empty \
                     'RoleConstraints::groups' for role {role}"
                )));
            }
            let mut groups = Vec::new();
            for group in &role_constraints.groups {
                if group.attribute_constraints.is_empty() {
                    return Err(invalid(format!(
                        "'OfferConstraints::RoleConstraints::groups' for role {role}contains \
                         an empty RoleConstraints::Group"
                    )));
                }
                let group = group
                    .attribute_constraints
                    .iter()
                    .map(Constraint::create)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        invalid(format!(
                            "A role {role} has an invalid 'AttributeConstraint': {e}"
                        ))
                    })?;
                groups.push(group);
            }
            compiled.insert(role.clone(), groups);
        }
        Ok(Some(Self { roles: compiled }))
    }

    /// Whether the framework is not to be offered this agent for `role`
    /// (upstream `isAgentExcluded`).
    pub fn excludes(&self, role: &str, info: &SlaveInfo) -> bool {
        let Some(groups) = self.roles.get(role) else {
            return false;
        };
        !groups
            .iter()
            .any(|group| group.iter().all(|constraint| constraint.holds(info)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::mesos::scheduler::attribute_constraint::{predicate, Predicate, Selector};
    use mesos_proto::mesos::scheduler::offer_constraints::{role_constraints, RoleConstraints};

    fn constraint(selector: SelectorKind, predicate: PredicateKind) -> AttributeConstraint {
        AttributeConstraint {
            selector: Selector {
                selector: Some(selector),
            },
            predicate: Predicate {
                predicate: Some(predicate),
            },
        }
    }

    fn named(name: &str) -> SelectorKind {
        SelectorKind::AttributeName(name.into())
    }

    fn constraints(role: &str, groups: Vec<Vec<AttributeConstraint>>) -> OfferConstraints {
        OfferConstraints {
            role_constraints: [(
                role.to_string(),
                RoleConstraints {
                    groups: groups
                        .into_iter()
                        .map(|attribute_constraints| role_constraints::Group {
                            attribute_constraints,
                        })
                        .collect(),
                },
            )]
            .into_iter()
            .collect(),
        }
    }

    fn agent(hostname: &str, attributes: &[(&str, &str)]) -> SlaveInfo {
        SlaveInfo {
            hostname: hostname.into(),
            attributes: attributes
                .iter()
                .map(|(name, text)| match text.parse::<f64>() {
                    Ok(number) => Attribute {
                        name: name.to_string(),
                        r#type: value::Type::Scalar as i32,
                        scalar: Some(value::Scalar { value: number }),
                        ..Default::default()
                    },
                    Err(_) => Attribute {
                        name: name.to_string(),
                        r#type: value::Type::Text as i32,
                        text: Some(value::Text {
                            value: text.to_string(),
                        }),
                        ..Default::default()
                    },
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn groups_are_ors_of_ands() {
        let roles = vec!["web".to_string()];
        let filter = OfferConstraintsFilter::create(
            &constraints(
                "web",
                vec![
                    vec![
                        constraint(
                            named("rack"),
                            PredicateKind::TextEquals(predicate::TextEquals { value: "r1".into() }),
                        ),
                        constraint(
                            SelectorKind::PseudoattributeType(PseudoattributeType::Hostname as i32),
                            PredicateKind::TextMatches(predicate::TextMatches {
                                regex: "web-[0-9]+".into(),
                            }),
                        ),
                    ],
                    vec![constraint(
                        named("gpu"),
                        PredicateKind::Exists(predicate::Exists {}),
                    )],
                ],
            ),
            &roles,
        )
        .unwrap()
        .unwrap();
        assert!(!filter.excludes("web", &agent("web-1", &[("rack", "r1")])));
        // `FullMatch`: a prefix match is not enough.
        assert!(filter.excludes("web", &agent("web-1.example", &[("rack", "r1")])));
        assert!(filter.excludes("web", &agent("web-1", &[("rack", "r2")])));
        assert!(!filter.excludes("web", &agent("db-1", &[("gpu", "yes")])));
        // Only TEXT attributes are compared: a scalar `rack` passes.
        assert!(!filter.excludes("web", &agent("web-2", &[("rack", "3")])));
        // Other roles are not constrained.
        assert!(!filter.excludes("other", &agent("db-1", &[])));
    }

    #[test]
    fn bad_constraints_are_refused_with_upstreams_messages() {
        let roles = vec!["web".to_string()];
        let exists = || constraint(named("a"), PredicateKind::Exists(predicate::Exists {}));
        let error =
            OfferConstraintsFilter::create(&constraints("db", vec![vec![exists()]]), &roles)
                .err()
                .unwrap();
        assert_eq!(
            error,
            "Offer constraints specify `role_constraints` for a role 'db'not contained in the \
             set of roles"
        );
        let error = OfferConstraintsFilter::create(&constraints("web", vec![]), &roles)
            .err()
            .unwrap();
        assert!(
            error.starts_with("Offer constraints are not valid: "),
            "{error}"
        );
        let bad_regex = constraint(
            named("a"),
            PredicateKind::TextMatches(predicate::TextMatches { regex: "(".into() }),
        );
        let error =
            OfferConstraintsFilter::create(&constraints("web", vec![vec![bad_regex]]), &roles)
                .err()
                .unwrap();
        assert!(
            error.contains(
                "A role web has an invalid 'AttributeConstraint': Failed to construct \
                            regex from pattern '('"
            ),
            "{error}"
        );
        assert!(
            OfferConstraintsFilter::create(&OfferConstraints::default(), &roles)
                .unwrap()
                .is_none()
        );
    }
}
