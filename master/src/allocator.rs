//! The allocator: hierarchical DRF over roles, then frameworks.
//!
//! Upstream counterpart: `src/master/allocator/mesos/hierarchical.cpp`
//! with the DRF sorter (`sorter/drf/sorter.cpp`). Each allocation cycle
//! visits every active agent with resources left, and offers everything
//! allocatable there to one framework per role: roles in order of their
//! dominant share, frameworks within a role in order of theirs, each
//! share being the largest fraction of a cluster-wide resource the client
//! holds. A framework is skipped on an agent while a decline filter covers
//! what it would get (`refuse_seconds`), for roles it suppressed, and when
//! what is left is below the minimum allocatable (0.01 cpus or 32 MB mem).
//!
//! The master owns the allocator and calls it synchronously; [`Allocator`]
//! is the seam for other policies. Differences from upstream, for now:
//! agents are visited in id order (upstream shuffles them), there are no
//! weights, quota, or hierarchical sharing of shares between parent and
//! child roles, and every agent is offered to every framework (no
//! capability-based filtering of GPU or multi-role agents).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use mesos_proto::resources::Resources;

/// Resources allocated to a framework's role on an agent.
#[derive(Debug, Clone)]
pub struct Allocation {
    /// The framework.
    pub framework_id: String,
    /// The agent.
    pub slave_id: String,
    /// The role they are allocated to.
    pub role: String,
    /// The resources, with `allocation_info` set to `role`.
    pub resources: Resources,
}

/// An allocation policy (upstream's `mesos::allocator::Allocator`).
pub trait Allocator: Send {
    /// Adds a framework subscribed to `roles`.
    fn add_framework(
        &mut self,
        id: &str,
        roles: Vec<String>,
        suppressed: Vec<String>,
        active: bool,
    );
    /// Removes a framework (its allocations must be recovered first).
    fn remove_framework(&mut self, id: &str);
    /// Resumes offers to a framework.
    fn activate_framework(&mut self, id: &str);
    /// Stops offers to a framework.
    fn deactivate_framework(&mut self, id: &str);
    /// Adds an agent with `total` resources of which `used` are in use.
    fn add_slave(&mut self, id: &str, total: Resources, used: Resources);
    /// Removes an agent.
    fn remove_slave(&mut self, id: &str);
    /// Resumes offers of an agent.
    fn activate_slave(&mut self, id: &str);
    /// Stops offers of an agent.
    fn deactivate_slave(&mut self, id: &str);
    /// Returns allocated `resources` (allocation form) to the pool; with
    /// `refuse`, the framework is not offered them again on this agent for
    /// that long.
    fn recover_resources(
        &mut self,
        framework_id: &str,
        slave_id: &str,
        resources: &Resources,
        refuse: Option<Duration>,
        now: Duration,
    );
    /// Marks `resources` (allocation form) as in use by a framework on an
    /// agent without offering them (e.g. tasks of a re-registering agent).
    fn add_used(&mut self, framework_id: &str, slave_id: &str, resources: &Resources);
    /// Removes filters and suppression for `roles` (all when empty).
    fn revive(&mut self, framework_id: &str, roles: &[String]);
    /// Stops offers for `roles` (all when empty).
    fn suppress(&mut self, framework_id: &str, roles: &[String]);
    /// Runs one allocation cycle.
    fn allocate(&mut self, now: Duration) -> Vec<Allocation>;
}

struct Slave {
    total: Resources,
    /// In use or offered, in allocation form.
    allocated: Resources,
    active: bool,
}

struct Filter {
    slave_id: String,
    resources: Resources,
    expires: Duration,
}

struct Framework {
    roles: Vec<String>,
    suppressed: HashSet<String>,
    active: bool,
    filters: Vec<Filter>,
    /// Allocated to this framework, by role, in allocation form.
    allocated: HashMap<String, Resources>,
}

/// Hierarchical dominant resource fairness, upstream's default.
#[derive(Default)]
pub struct HierarchicalDrf {
    slaves: HashMap<String, Slave>,
    frameworks: HashMap<String, Framework>,
}

/// Resource names that count towards shares.
const SHARE_NAMES: &[&str] = &["cpus", "mem", "disk", "gpus"];

impl HierarchicalDrf {
    fn totals(&self) -> HashMap<&'static str, f64> {
        let mut totals = HashMap::new();
        for slave in self.slaves.values() {
            for name in SHARE_NAMES {
                if let Some(value) = scalar(&slave.total, name) {
                    *totals.entry(*name).or_insert(0.0) += value;
                }
            }
        }
        totals
    }

    fn share(totals: &HashMap<&'static str, f64>, allocated: &Resources) -> f64 {
        SHARE_NAMES
            .iter()
            .filter_map(|name| {
                let total = totals.get(name).copied().unwrap_or(0.0);
                (total > 0.0).then(|| scalar(allocated, name).unwrap_or(0.0) / total)
            })
            .fold(0.0, f64::max)
    }

    /// Returns whether what is left on an agent is worth offering
    /// (upstream's default `--min_allocatable_resources`).
    fn allocatable(resources: &Resources) -> bool {
        scalar(resources, "cpus").unwrap_or(0.0) >= 0.01
            || scalar(resources, "mem").unwrap_or(0.0) >= 32.0
    }
}

/// Returns the sum of scalar `name`, in the units upstream offers (mem and
/// disk in MB).
fn scalar(resources: &Resources, name: &str) -> Option<f64> {
    resources.get_scalar(name).map(|s| s.value)
}

impl Allocator for HierarchicalDrf {
    fn add_framework(
        &mut self,
        id: &str,
        roles: Vec<String>,
        suppressed: Vec<String>,
        active: bool,
    ) {
        let framework = self
            .frameworks
            .entry(id.to_string())
            .or_insert_with(|| Framework {
                roles: Vec::new(),
                suppressed: HashSet::new(),
                active,
                filters: Vec::new(),
                allocated: HashMap::new(),
            });
        framework.roles = roles;
        framework.suppressed = suppressed.into_iter().collect();
        framework.active = active;
    }

    fn remove_framework(&mut self, id: &str) {
        self.frameworks.remove(id);
    }

    fn activate_framework(&mut self, id: &str) {
        if let Some(framework) = self.frameworks.get_mut(id) {
            framework.active = true;
        }
    }

    fn deactivate_framework(&mut self, id: &str) {
        if let Some(framework) = self.frameworks.get_mut(id) {
            framework.active = false;
        }
    }

    fn add_slave(&mut self, id: &str, total: Resources, used: Resources) {
        self.slaves.insert(
            id.to_string(),
            Slave {
                total,
                allocated: used,
                active: true,
            },
        );
    }

    fn remove_slave(&mut self, id: &str) {
        self.slaves.remove(id);
        for framework in self.frameworks.values_mut() {
            framework.filters.retain(|f| f.slave_id != id);
        }
    }

    fn activate_slave(&mut self, id: &str) {
        if let Some(slave) = self.slaves.get_mut(id) {
            slave.active = true;
        }
    }

    fn deactivate_slave(&mut self, id: &str) {
        if let Some(slave) = self.slaves.get_mut(id) {
            slave.active = false;
        }
    }

    fn recover_resources(
        &mut self,
        framework_id: &str,
        slave_id: &str,
        resources: &Resources,
        refuse: Option<Duration>,
        now: Duration,
    ) {
        if resources.is_empty() {
            return;
        }
        if let Some(slave) = self.slaves.get_mut(slave_id) {
            slave.allocated -= resources;
        }
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            for (role, recovered) in resources.allocations() {
                if let Some(allocated) = framework.allocated.get_mut(&role) {
                    *allocated -= &recovered;
                }
            }
            if let Some(refuse) = refuse.filter(|d| !d.is_zero()) {
                let mut unallocated = resources.clone();
                unallocated.unallocate();
                framework.filters.push(Filter {
                    slave_id: slave_id.to_string(),
                    resources: unallocated,
                    expires: now + refuse,
                });
            }
        }
    }

    fn add_used(&mut self, framework_id: &str, slave_id: &str, resources: &Resources) {
        if let Some(slave) = self.slaves.get_mut(slave_id) {
            slave.allocated += resources;
        }
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            for (role, used) in resources.allocations() {
                *framework.allocated.entry(role).or_default() += &used;
            }
        }
    }

    fn revive(&mut self, framework_id: &str, roles: &[String]) {
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            framework.filters.clear();
            if roles.is_empty() {
                framework.suppressed.clear();
            } else {
                for role in roles {
                    framework.suppressed.remove(role);
                }
            }
        }
    }

    fn suppress(&mut self, framework_id: &str, roles: &[String]) {
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            let roles = if roles.is_empty() {
                framework.roles.clone()
            } else {
                roles.to_vec()
            };
            framework.suppressed.extend(roles);
        }
    }

    fn allocate(&mut self, now: Duration) -> Vec<Allocation> {
        for framework in self.frameworks.values_mut() {
            framework.filters.retain(|f| f.expires > now);
        }
        let totals = self.totals();
        let mut allocations = Vec::new();
        let mut slave_ids: Vec<String> = self
            .slaves
            .iter()
            .filter(|(_, s)| s.active)
            .map(|(id, _)| id.clone())
            .collect();
        slave_ids.sort();

        for slave_id in slave_ids {
            let Some(slave) = self.slaves.get(&slave_id) else {
                continue;
            };
            let mut unallocated = slave.allocated.clone();
            unallocated.unallocate();
            let mut available = slave.total.clone();
            available -= &unallocated;
            if available.is_empty() {
                continue;
            }

            // Roles with an active framework that wants offers, by share.
            let mut roles: Vec<(f64, String)> = Vec::new();
            let mut seen = HashSet::new();
            for framework in self.frameworks.values().filter(|f| f.active) {
                for role in &framework.roles {
                    if framework.suppressed.contains(role) || !seen.insert(role.clone()) {
                        continue;
                    }
                    let mut allocated = Resources::new();
                    for f in self.frameworks.values() {
                        if let Some(r) = f.allocated.get(role) {
                            allocated += r;
                        }
                    }
                    roles.push((Self::share(&totals, &allocated), role.clone()));
                }
            }
            roles.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));

            for (_, role) in roles {
                let mut candidates: Vec<(f64, String)> = self
                    .frameworks
                    .iter()
                    .filter(|(_, f)| {
                        f.active && f.roles.contains(&role) && !f.suppressed.contains(&role)
                    })
                    .map(|(id, f)| {
                        let allocated = f.allocated.get(&role).cloned().unwrap_or_default();
                        (Self::share(&totals, &allocated), id.clone())
                    })
                    .collect();
                candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));

                for (_, framework_id) in candidates {
                    let offerable = available.allocatable_to(&role);
                    if offerable.is_empty() || !Self::allocatable(&offerable) {
                        break;
                    }
                    let filtered = self.frameworks.get(&framework_id).is_some_and(|f| {
                        f.filters.iter().any(|filter| {
                            filter.slave_id == slave_id && filter.resources.contains(&offerable)
                        })
                    });
                    if filtered {
                        continue;
                    }
                    let mut allocated = offerable.clone();
                    allocated.allocate(&role);
                    available -= &offerable;
                    if let Some(slave) = self.slaves.get_mut(&slave_id) {
                        slave.allocated += &allocated;
                    }
                    if let Some(framework) = self.frameworks.get_mut(&framework_id) {
                        *framework.allocated.entry(role.clone()).or_default() += &allocated;
                    }
                    allocations.push(Allocation {
                        framework_id,
                        slave_id: slave_id.clone(),
                        role: role.clone(),
                        resources: allocated,
                    });
                    break;
                }
            }
        }
        allocations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(text: &str) -> Resources {
        Resources::parse(text, "*").unwrap()
    }

    #[test]
    fn the_framework_with_the_lowest_share_gets_the_agent() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus:2;mem:1024"), Resources::new());
        drf.add_slave("s2", resources("cpus:2;mem:1024"), Resources::new());
        drf.add_framework("f1", vec!["*".into()], vec![], true);
        let first = drf.allocate(Duration::ZERO);
        assert_eq!(first.len(), 2, "one framework takes both agents: {first:?}");
        drf.add_framework("f2", vec!["*".into()], vec![], true);
        // f1 declines s1 for a minute: f2 has the lower share and gets it.
        let s1 = first
            .iter()
            .find(|a| a.slave_id == "s1")
            .unwrap()
            .resources
            .clone();
        drf.recover_resources(
            "f1",
            "s1",
            &s1,
            Some(Duration::from_secs(60)),
            Duration::ZERO,
        );
        let second = drf.allocate(Duration::from_secs(1));
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].framework_id, "f2");
        assert_eq!(second[0].slave_id, "s1");
        assert_eq!(
            second[0].resources.allocations().keys().collect::<Vec<_>>(),
            vec!["*"]
        );
    }

    #[test]
    fn filters_expire_and_revive_clears_them() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus:1;mem:512"), Resources::new());
        drf.add_framework("f1", vec!["*".into()], vec![], true);
        let offer = drf.allocate(Duration::ZERO).remove(0).resources;
        drf.recover_resources(
            "f1",
            "s1",
            &offer,
            Some(Duration::from_secs(5)),
            Duration::ZERO,
        );
        assert!(drf.allocate(Duration::from_secs(4)).is_empty(), "filtered");
        let again = drf.allocate(Duration::from_secs(6));
        assert_eq!(again.len(), 1, "the filter expired");
        drf.recover_resources(
            "f1",
            "s1",
            &again[0].resources,
            Some(Duration::from_secs(60)),
            Duration::from_secs(6),
        );
        drf.revive("f1", &[]);
        assert_eq!(
            drf.allocate(Duration::from_secs(7)).len(),
            1,
            "revive clears filters"
        );
    }

    #[test]
    fn suppressed_and_inactive_frameworks_get_nothing() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave("s1", resources("cpus:1;mem:512"), Resources::new());
        drf.add_framework("f1", vec!["*".into()], vec![], true);
        drf.suppress("f1", &[]);
        assert!(drf.allocate(Duration::ZERO).is_empty());
        drf.revive("f1", &["*".into()]);
        drf.deactivate_framework("f1");
        assert!(drf.allocate(Duration::ZERO).is_empty());
        drf.activate_framework("f1");
        assert_eq!(drf.allocate(Duration::ZERO).len(), 1);
    }

    #[test]
    fn reserved_resources_go_only_to_their_role() {
        let mut drf = HierarchicalDrf::default();
        drf.add_slave(
            "s1",
            resources("cpus(web):1;mem(web):512;cpus:1;mem:512"),
            Resources::new(),
        );
        drf.add_framework("other", vec!["batch".into()], vec![], true);
        drf.add_framework("web", vec!["web".into()], vec![], true);
        let allocations = drf.allocate(Duration::ZERO);
        let web = allocations
            .iter()
            .find(|a| a.framework_id == "web")
            .unwrap();
        assert!(!web.resources.reserved(Some("web")).is_empty(), "{web:?}");
        let other = allocations
            .iter()
            .find(|a| a.framework_id == "other")
            .unwrap();
        assert!(
            other.resources.reserved(Some("web")).is_empty(),
            "{other:?}"
        );
    }

    #[test]
    fn used_resources_are_not_offered() {
        let mut drf = HierarchicalDrf::default();
        let mut used = resources("cpus:1;mem:512");
        used.allocate("*");
        drf.add_slave("s1", resources("cpus:1;mem:512"), used);
        drf.add_framework("f1", vec!["*".into()], vec![], true);
        assert!(drf.allocate(Duration::ZERO).is_empty());
    }
}
