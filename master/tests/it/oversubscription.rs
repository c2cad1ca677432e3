//! `UpdateSlaveMessage` from agents (upstream `oversubscription_tests`,
//! master side): oversubscribed resources become revocable resources of
//! the agent, offered only to frameworks with `REVOCABLE_RESOURCES`;
//! offers holding revocable resources are rescinded when they change.

use libprocess::{MessageEvent, PID};
use mesos_proto::mesos::internal::{
    FrameworkRegisteredMessage, RescindResourceOfferMessage, SlaveRegisteredMessage,
    UpdateSlaveMessage,
};
use mesos_proto::mesos::{framework_info, resource, FrameworkInfo, Offer, Resource, Uuid};
use mesos_proto::resources::Resources;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::frameworks::{info, recv, spawn_scheduler, subscribe};
use crate::offers::next_offers;
use crate::support::*;

fn revocable_cpus(cpus: f64) -> Vec<Resource> {
    let mut resources = Resources::parse(&format!("cpus:{cpus}"), "*")
        .unwrap()
        .to_vec();
    for resource in &mut resources {
        resource.revocable = Some(resource::RevocableInfo {});
    }
    resources
}

fn send_update(agent: &PID<Agent>, master: &libprocess::UPID, message: UpdateSlaveMessage) {
    let to = master.clone();
    agent.dispatch(move |this, _| this.base.send(&to, &message));
}

async fn subscribed(
    runtime: &libprocess::Runtime,
    master: &libprocess::UPID,
    info: FrameworkInfo,
) -> UnboundedReceiver<MessageEvent> {
    let (scheduler, mut rx) = spawn_scheduler(runtime);
    subscribe(&scheduler, master, info, false);
    let _: FrameworkRegisteredMessage = decode(&recv(&mut rx).await);
    // The scheduler process lives on in the runtime.
    drop(scheduler);
    rx
}

fn only_revocable_cpus(offer: &Offer, cpus: f64) {
    let resources = Resources::from(offer.resources.clone());
    assert!(
        offer.resources.iter().all(|r| r.revocable.is_some()),
        "{resources}"
    );
    assert_eq!(resources.cpus(), Some(cpus), "{resources}");
}

// Upstream OversubscriptionTest.RevocableOffer,
// RescindRevocableOfferWithIncreasedRevocable and the update handling of
// `Master::updateSlave`.
#[actix_rt::test]
async fn oversubscribed_resources_are_offered_as_revocable_to_frameworks_that_take_them() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let (agent, mut agent_rx) = spawn_agent(&runtime, "slave(1)");
    let mut slave = slave_info("agent.example");
    slave.resources = Resources::parse("cpus:2;mem:1024", "*").unwrap().to_vec();
    register_with(&agent, master.upid(), "1.11.0", slave);
    let slave_id = decode::<SlaveRegisteredMessage>(&next(&mut agent_rx).await).slave_id;

    // A framework without REVOCABLE_RESOURCES takes (and holds) the whole
    // agent.
    let mut plain = subscribed(&runtime, master.upid(), info(None, 0.0)).await;
    let held = next_offers(&mut plain).await.offers[0].clone();
    assert!(held.resources.iter().all(|r| r.revocable.is_none()));

    let version = |n: u8| Uuid { value: vec![n; 16] };
    send_update(
        &agent,
        master.upid(),
        UpdateSlaveMessage {
            slave_id: slave_id.clone(),
            update_oversubscribed_resources: Some(true),
            oversubscribed_resources: revocable_cpus(1.0),
            resource_version_uuid: Some(version(1)),
            ..Default::default()
        },
    );

    // Only a framework that takes revocable resources is offered them.
    let mut capable_info = info(None, 0.0);
    capable_info.capabilities.push(framework_info::Capability {
        r#type: Some(framework_info::capability::Type::RevocableResources as i32),
    });
    let mut capable = subscribed(&runtime, master.upid(), capable_info).await;
    let offer = next_offers(&mut capable).await.offers[0].clone();
    only_revocable_cpus(&offer, 1.0);
    let id = slave_id.value.clone();
    let (total, stored) = master
        .call(move |m, _| {
            let slave = &m.slaves.registered[&id];
            (
                slave.total_resources.clone(),
                slave.resource_version.clone(),
            )
        })
        .await
        .unwrap();
    assert_eq!(total.cpus(), Some(3.0), "{total}");
    assert_eq!(total.revocable().cpus(), Some(1.0), "{total}");
    assert_eq!(stored, Some(version(1)));

    // An update that changes nothing is ignored; one that only changes
    // the version (without oversubscribed resources) keeps the revocable
    // ones and rescinds nothing; new oversubscribed resources rescind the
    // revocable offer, which comes again with them.
    for message in [
        UpdateSlaveMessage {
            slave_id: slave_id.clone(),
            update_oversubscribed_resources: Some(true),
            oversubscribed_resources: revocable_cpus(1.0),
            resource_version_uuid: Some(version(1)),
            ..Default::default()
        },
        UpdateSlaveMessage {
            slave_id: slave_id.clone(),
            update_oversubscribed_resources: Some(false),
            resource_version_uuid: Some(version(2)),
            ..Default::default()
        },
        UpdateSlaveMessage {
            slave_id: slave_id.clone(),
            update_oversubscribed_resources: Some(true),
            oversubscribed_resources: revocable_cpus(1.5),
            resource_version_uuid: Some(version(2)),
            ..Default::default()
        },
    ] {
        send_update(&agent, master.upid(), message);
    }
    let rescind: RescindResourceOfferMessage = loop {
        let event = recv(&mut capable).await;
        assert_ne!(event.name, "mesos.internal.ResourceOffersMessage");
        if event.name == "mesos.internal.RescindResourceOfferMessage" {
            break decode(&event);
        }
    };
    assert_eq!(rescind.offer_id, offer.id);
    let again = next_offers(&mut capable).await.offers[0].clone();
    only_revocable_cpus(&again, 1.5);

    // The plain framework's offer was left alone.
    let (kept, stored) = master
        .call(move |m, _| {
            (
                m.offers.contains_key(&held.id.value),
                m.slaves.registered[&slave_id.value]
                    .resource_version
                    .clone(),
            )
        })
        .await
        .unwrap();
    assert!(kept);
    assert_eq!(stored, Some(version(2)));
    while let Ok(event) = plain.try_recv() {
        assert_ne!(event.name, "mesos.internal.RescindResourceOfferMessage");
        assert_ne!(event.name, "mesos.internal.ResourceOffersMessage");
    }
}
