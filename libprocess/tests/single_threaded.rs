//! Runtimes whose network I/O runs on one thread
//! (`Runtime::new_single_threaded`, as the command executor starts
//! libprocess): messages in order both ways over TCP, exits of remote
//! links, and one I/O thread for all of them. In its own test binary
//! because the I/O runtime is process-wide (the first runtime picks it).

#![allow(clippy::unwrap_used)] // test helpers panic on failure by design

#[allow(dead_code)] // not every helper is used here
#[path = "it/support.rs"]
mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use libprocess::{Config, Runtime};
use support::{next, next_message, spawn_probe, Seen};

fn runtime() -> Runtime {
    Runtime::new_single_threaded(Config {
        ip: Ipv4Addr::LOCALHOST,
        ..Config::default()
    })
    .expect("runtime")
}

/// How many of this process's threads are called `libprocess-io`.
fn io_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "libprocess-io")
        .count()
}

#[actix_rt::test]
async fn one_io_thread_carries_messages_and_exits() {
    let a = runtime();
    let b = runtime();
    let (pa, mut rxa) = spawn_probe(&a, "alice");
    let (pb, mut rxb) = spawn_probe(&b, "bob");
    let bob = pb.upid().clone();
    pa.dispatch(move |this, _| {
        this.base.link(&bob);
        for i in 0..100u32 {
            let _ = this.base.send_raw(&bob, "ping", i.to_string().into());
        }
    });
    for i in 0..100u32 {
        let message = next_message(&mut rxb).await;
        assert_eq!(message.body, i.to_string().as_bytes());
        assert_eq!(message.from, *pa.upid());
    }
    let alice = pa.upid().clone();
    pb.dispatch(move |this, _| {
        let _ = this.base.send_raw(&alice, "pong", "back".into());
    });
    assert_eq!(&next_message(&mut rxa).await.body[..], b"back");
    assert_eq!(io_threads(), 1);

    // Bob's OS process "exits": alice's link reports it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    b.shutdown();
    match next(&mut rxa).await {
        Seen::Exited(pid) => assert_eq!(pid, *pb.upid()),
        other => panic!("unexpected {other:?}"),
    }
}
