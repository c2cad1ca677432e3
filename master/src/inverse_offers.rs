//! Inverse offers: the master asks frameworks to give back an agent whose
//! machine is scheduled for maintenance (upstream's maintenance primitives:
//! `InverseOffer`, the allocator's `generateInverseOffers` and
//! `updateInverseOffer`, `Master::inverseOffer`, `ACCEPT_INVERSE_OFFERS`,
//! `DECLINE_INVERSE_OFFERS`; `docs/maintenance.md`).
//!
//! Each allocation, every framework that uses (runs tasks on, or holds
//! offers of) an agent of a `DRAINING` machine gets one inverse offer for
//! it, unless one is outstanding or the framework filtered the agent: the
//! agent's `unavailability` and no resources (the whole agent). v0 drivers
//! get an `InverseOffersMessage`, HTTP frameworks an `INVERSE_OFFERS`
//! event. The framework's answer (`ACCEPT_INVERSE_OFFERS` or
//! `DECLINE_INVERSE_OFFERS`, with `filters.refuse_seconds`, 5 s by
//! default) is kept as the agent's `InverseOfferStatus` for that framework,
//! listed under the machine in `/maintenance/status`, and the agent is
//! filtered for the framework as long as the filter says; then it is
//! asked again. A maintenance change rescinds the outstanding inverse
//! offers (`RescindInverseOfferMessage`, `RESCIND_INVERSE_OFFER`) and
//! forgets the statuses of agents no longer draining; so do the removal
//! of an agent or a framework for theirs.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use mesos_proto::mesos::allocator::{inverse_offer_status, InverseOfferStatus};
use mesos_proto::mesos::internal::{InverseOffersMessage, RescindInverseOfferMessage};
use mesos_proto::mesos::scheduler::{event, Event};
use mesos_proto::mesos::{
    Address, Filters, FrameworkId, InverseOffer, OfferId, SlaveId, TimeInfo, Unavailability, Url,
};

use crate::master::Master;

/// The master's inverse offers and what frameworks answered.
#[derive(Debug, Default)]
pub struct InverseOffers {
    /// Outstanding inverse offers: id → (framework, agent).
    outstanding: HashMap<String, (String, String)>,
    /// The (framework, agent) pairs with one outstanding.
    pairs: HashSet<(String, String)>,
    /// Until when (libprocess clock) a framework is not asked again about
    /// an agent.
    filters: HashMap<(String, String), Duration>,
    /// The latest answer of each framework, by agent.
    statuses: HashMap<String, BTreeMap<String, InverseOfferStatus>>,
}

impl InverseOffers {
    /// The answers about agent `slave_id`.
    pub fn statuses(&self, slave_id: &str) -> Vec<InverseOfferStatus> {
        self.statuses
            .get(slave_id)
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether `id` is an outstanding inverse offer of `framework_id`.
    pub fn is_outstanding(&self, id: &str, framework_id: &str) -> bool {
        self.outstanding
            .get(id)
            .is_some_and(|(framework, _)| framework == framework_id)
    }
}

fn now_time() -> TimeInfo {
    TimeInfo {
        nanoseconds: (libprocess::clock::now_secs() * 1e9) as i64,
    }
}

impl Master {
    /// Sends the inverse offers due (called with each allocation).
    pub(crate) fn send_inverse_offers(&mut self, now: Duration) {
        // Not for an inactive (disconnected or deactivated) agent, as
        // upstream's `Master::inverseOffer` drops them.
        let draining: HashMap<String, Unavailability> = self
            .slaves
            .registered
            .iter()
            .filter(|(_, slave)| slave.active)
            .filter_map(|(id, slave)| {
                self.maintenance
                    .unavailability(&slave.info.hostname, &slave.pid.ip.to_string())
                    .map(|u| (id.clone(), u))
            })
            .collect();
        if draining.is_empty() {
            return;
        }
        // Who uses the draining agents: their tasks' and offers' frameworks.
        let mut users: BTreeSet<(String, String)> = BTreeSet::new();
        for (framework_id, framework) in &self.frameworks.registered {
            if !framework.connected {
                continue;
            }
            for task in framework.tasks().values() {
                if draining.contains_key(&task.slave_id.value) {
                    users.insert((framework_id.clone(), task.slave_id.value.clone()));
                }
            }
        }
        for state in self.offers.values() {
            let slave = &state.offer.slave_id.value;
            let framework = &state.offer.framework_id.value;
            if draining.contains_key(slave)
                && self
                    .frameworks
                    .registered
                    .get(framework)
                    .is_some_and(|f| f.connected)
            {
                users.insert((framework.clone(), slave.clone()));
            }
        }
        let mut by_framework: BTreeMap<String, Vec<(InverseOffer, String)>> = BTreeMap::new();
        for pair in users {
            if self.inverse_offers.pairs.contains(&pair)
                || self
                    .inverse_offers
                    .filters
                    .get(&pair)
                    .is_some_and(|until| *until > now)
            {
                continue;
            }
            let (framework_id, slave_id) = pair.clone();
            let Some(slave) = self.slaves.registered.get(&slave_id) else {
                continue;
            };
            let id = format!("{}-O{}", self.info.id, self.next_offer_id);
            self.next_offer_id += 1;
            let inverse = InverseOffer {
                id: OfferId { value: id.clone() },
                url: Some(Url {
                    scheme: "http".into(),
                    address: Address {
                        hostname: Some(slave.info.hostname.clone()),
                        ip: Some(slave.pid.ip.to_string()),
                        port: i32::from(slave.pid.port),
                    },
                    path: Some(format!("/{}", slave.pid.id)),
                    ..Default::default()
                }),
                framework_id: FrameworkId {
                    value: framework_id.clone(),
                },
                slave_id: Some(SlaveId {
                    value: slave_id.clone(),
                }),
                unavailability: draining[&slave_id],
                resources: vec![],
            };
            self.inverse_offers.filters.remove(&pair);
            self.inverse_offers.pairs.insert(pair);
            self.inverse_offers
                .outstanding
                .insert(id, (framework_id.clone(), slave_id));
            by_framework
                .entry(framework_id)
                .or_default()
                .push((inverse, slave.pid.to_string()));
        }
        for (framework_id, inverse_offers) in by_framework {
            let Some(framework) = self.frameworks.registered.get(&framework_id) else {
                continue;
            };
            tracing::info!(%framework_id, count = inverse_offers.len(), "Sending inverse offers");
            framework.metrics.event(event::Type::InverseOffers);
            if let Some(pid) = &framework.pid {
                let message = InverseOffersMessage {
                    pids: inverse_offers.iter().map(|(_, pid)| pid.clone()).collect(),
                    inverse_offers: inverse_offers.into_iter().map(|(o, _)| o).collect(),
                };
                libprocess::Process::base(self).send(pid, &message);
            } else if let Some(http) = &framework.http {
                http.send(&Event {
                    r#type: Some(event::Type::InverseOffers as i32),
                    inverse_offers: Some(event::InverseOffers {
                        inverse_offers: inverse_offers.into_iter().map(|(o, _)| o).collect(),
                    }),
                    ..Default::default()
                });
            }
        }
    }

    /// `ACCEPT_INVERSE_OFFERS` (`accept`) or `DECLINE_INVERSE_OFFERS`:
    /// records the answer for each inverse offer of the framework, filters
    /// the agent for `filters.refuse_seconds`; unknown ids are dropped.
    pub(crate) fn answer_inverse_offers(
        &mut self,
        framework_id: &str,
        ids: &[OfferId],
        filters: Option<&Filters>,
        accept: bool,
    ) {
        let refuse = filters
            .and_then(|f| f.refuse_seconds)
            .unwrap_or(5.0)
            .clamp(0.0, 365.0 * 86_400.0);
        let until = libprocess::clock::elapsed() + Duration::from_secs_f64(refuse);
        let status = if accept {
            inverse_offer_status::Status::Accept
        } else {
            inverse_offer_status::Status::Decline
        };
        for id in ids {
            if !self.inverse_offers.is_outstanding(&id.value, framework_id) {
                tracing::warn!(
                    framework_id,
                    inverse_offer_id = %id.value,
                    "Ignoring an answer to an unknown inverse offer"
                );
                continue;
            }
            let Some((framework, slave)) = self.inverse_offers.outstanding.remove(&id.value) else {
                continue;
            };
            let pair = (framework.clone(), slave.clone());
            self.inverse_offers.pairs.remove(&pair);
            self.inverse_offers.filters.insert(pair, until);
            tracing::info!(
                framework_id,
                slave_id = %slave,
                ?status,
                "Framework answered an inverse offer"
            );
            self.inverse_offers
                .statuses
                .entry(slave)
                .or_default()
                .insert(
                    framework.clone(),
                    InverseOfferStatus {
                        status: status as i32,
                        framework_id: FrameworkId { value: framework },
                        timestamp: now_time(),
                    },
                );
        }
    }

    /// Withdraws the outstanding inverse offers `predicate` picks (by
    /// framework and agent), telling their frameworks.
    pub(crate) fn rescind_inverse_offers(&mut self, predicate: impl Fn(&str, &str) -> bool) {
        let ids: Vec<String> = self
            .inverse_offers
            .outstanding
            .iter()
            .filter(|(_, (framework, slave))| predicate(framework, slave))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            let Some((framework_id, slave_id)) = self.inverse_offers.outstanding.remove(&id) else {
                continue;
            };
            self.inverse_offers
                .pairs
                .remove(&(framework_id.clone(), slave_id));
            let Some(framework) = self.frameworks.registered.get(&framework_id) else {
                continue;
            };
            let offer_id = OfferId { value: id };
            framework.metrics.event(event::Type::RescindInverseOffer);
            if let Some(pid) = &framework.pid {
                libprocess::Process::base(self).send(
                    pid,
                    &RescindInverseOfferMessage {
                        inverse_offer_id: offer_id,
                    },
                );
            } else if let Some(http) = &framework.http {
                http.send(&Event {
                    r#type: Some(event::Type::RescindInverseOffer as i32),
                    rescind_inverse_offer: Some(event::RescindInverseOffer {
                        inverse_offer_id: offer_id,
                    }),
                    ..Default::default()
                });
            }
        }
    }

    /// The maintenance schedule changed: outstanding inverse offers are
    /// rescinded (new ones carry the new unavailability) and agents no
    /// longer draining lose their statuses and filters.
    pub(crate) fn maintenance_changed_for_inverse_offers(&mut self) {
        self.rescind_inverse_offers(|_, _| true);
        let draining: HashSet<String> = self
            .slaves
            .registered
            .iter()
            .filter(|(_, s)| {
                self.maintenance
                    .unavailability(&s.info.hostname, &s.pid.ip.to_string())
                    .is_some()
            })
            .map(|(id, _)| id.clone())
            .collect();
        self.inverse_offers
            .statuses
            .retain(|slave, _| draining.contains(slave));
        self.inverse_offers
            .filters
            .retain(|(_, slave), _| draining.contains(slave));
    }

    /// An agent went: its inverse offers, statuses and filters go too.
    pub(crate) fn slave_gone_for_inverse_offers(&mut self, slave_id: &str) {
        self.rescind_inverse_offers(|_, slave| slave == slave_id);
        self.inverse_offers.statuses.remove(slave_id);
        self.inverse_offers
            .filters
            .retain(|(_, slave), _| slave != slave_id);
    }

    /// A framework went: its inverse offers, statuses and filters go too.
    pub(crate) fn framework_gone_for_inverse_offers(&mut self, framework_id: &str) {
        self.rescind_inverse_offers(|framework, _| framework == framework_id);
        for statuses in self.inverse_offers.statuses.values_mut() {
            statuses.remove(framework_id);
        }
        self.inverse_offers
            .filters
            .retain(|(framework, _), _| framework != framework_id);
    }

    /// `/maintenance/status` and `GET_MAINTENANCE_STATUS`: the draining
    /// machines with their agents' inverse offer statuses.
    pub(crate) fn maintenance_status(&self) -> mesos_proto::mesos::maintenance::ClusterStatus {
        let mut status = self.maintenance.status();
        for machine in &mut status.draining_machines {
            for (slave_id, slave) in &self.slaves.registered {
                if crate::maintenance::matches(
                    &machine.id,
                    &slave.info.hostname,
                    &slave.pid.ip.to_string(),
                ) {
                    machine
                        .statuses
                        .extend(self.inverse_offers.statuses(slave_id));
                }
            }
        }
        status
    }
}
