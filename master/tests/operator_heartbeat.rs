//! Heartbeats on the operator event stream, with a paused clock. Its own
//! test binary because the libprocess clock is process-wide.

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

#[path = "it/support.rs"]
mod support;

use std::time::Duration;

use libprocess::clock;
use mesos_proto::mesos::v1::master::event::Type;

use support::*;

#[actix_rt::test]
async fn heartbeats_follow_subscribed_every_fifteen_seconds() {
    clock::pause();
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let mut events = EventStream::open(runtime.address(), true).await;
    assert_eq!(events.next().await.r#type(), Type::Subscribed);
    for _ in 0..3 {
        clock::advance(Duration::from_secs(15));
        assert_eq!(events.next().await.r#type(), Type::Heartbeat);
    }
}
