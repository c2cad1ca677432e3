//! HEARTBEAT events on a v1 scheduler's subscription stream, with a paused
//! clock (upstream sends one every 15 s, `DEFAULT_HEARTBEAT_INTERVAL`).
//! Its own test binary because the libprocess clock is process-wide.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

#[path = "it/support.rs"]
mod support;

use std::time::Duration;

use libprocess::clock;
use mesos_proto::mesos::v1::scheduler::event::Type;
use mesos_proto::mesos::v1::scheduler::Event;

use support::*;

#[actix_rt::test]
async fn a_subscribed_scheduler_gets_heartbeats_every_fifteen_seconds() {
    clock::pause();
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    for json in [true, false] {
        let subscribe = r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"heartbeat"}}}"#;
        let mut events =
            EventStream::open_at(runtime.address(), "/api/v1/scheduler", subscribe, json).await;
        assert!(events.head.starts_with("HTTP/1.1 200"), "{}", events.head);
        let subscribed: Event = events.next_of().await;
        assert_eq!(subscribed.r#type(), Type::Subscribed);
        assert_eq!(
            subscribed.subscribed.unwrap().heartbeat_interval_seconds,
            Some(15.0)
        );
        // A heartbeat follows SUBSCRIBED at once, as upstream's.
        let mut heartbeats = 0;
        while heartbeats < 3 {
            let event: Event = events.next_of().await;
            match event.r#type() {
                Type::Heartbeat => {
                    heartbeats += 1;
                    clock::advance(Duration::from_secs(15));
                }
                // No agent: nothing else should come.
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
