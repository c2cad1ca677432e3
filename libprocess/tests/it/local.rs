//! Processes in one runtime: local delivery, links, termination, dispatch.

use libprocess::{SpawnError, UPID};
use mesos_proto::mesos::internal::PingSlaveMessage;
use prost::Message as _;

use crate::support::*;

#[actix_rt::test]
async fn local_messages_skip_the_network_and_keep_order() {
    let runtime = runtime();
    let (sender, _rx) = spawn_probe(&runtime, "local-sender");
    let (receiver, mut rx) = spawn_probe(&runtime, "local-receiver");
    let to = receiver.upid().clone();
    sender.dispatch(move |this, _| {
        for i in 0..10_000u32 {
            let _ = this.base.send_raw(&to, "ping", i.to_string().into());
        }
        this.base.send(&to, &PingSlaveMessage { connected: false });
    });
    for i in 0..10_000u32 {
        assert_eq!(next_message(&mut rx).await.body, i.to_string().as_bytes());
    }
    let typed = next_message(&mut rx).await;
    assert_eq!(typed.name, "mesos.internal.PingSlaveMessage");
    assert_eq!(
        PingSlaveMessage::decode(typed.body).unwrap(),
        PingSlaveMessage { connected: false }
    );
}

#[actix_rt::test]
async fn typed_handlers_decode_and_drop_garbage() {
    use libprocess::actix::{Actor, Context};
    use libprocess::{Process, ProcessBase};
    use tokio::sync::mpsc;

    struct Typed {
        base: ProcessBase<Self>,
        tx: mpsc::UnboundedSender<(UPID, PingSlaveMessage)>,
    }
    impl Actor for Typed {
        type Context = Context<Self>;
    }
    impl Process for Typed {
        fn base(&self) -> &ProcessBase<Self> {
            &self.base
        }
        fn base_mut(&mut self) -> &mut ProcessBase<Self> {
            &mut self.base
        }
        fn initialize(&mut self, _ctx: &mut Context<Self>) {
            self.base
                .install::<PingSlaveMessage>(|this, _ctx, from, ping| {
                    let _ = this.tx.send((from, ping));
                });
        }
    }
    libprocess::process_handlers!(Typed);

    let runtime = runtime();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let typed = runtime
        .spawn(Typed {
            base: ProcessBase::new("typed"),
            tx,
        })
        .unwrap();
    let (sender, _) = spawn_probe(&runtime, "typed-sender");
    let to = typed.upid().clone();
    sender.dispatch(move |this, _| {
        // Field 1 as a length-delimited value: not a bool, fails to parse.
        let _ = this.base.send_raw(
            &to,
            "mesos.internal.PingSlaveMessage",
            vec![0x0a, 0x05].into(),
        );
        this.base.send(&to, &PingSlaveMessage { connected: true });
    });
    let (from, ping) = rx.recv().await.unwrap();
    assert_eq!(from, *sender.upid());
    assert!(
        ping.connected,
        "the malformed message was dropped, the valid one delivered"
    );
}

#[actix_rt::test]
async fn duplicate_ids_are_refused_and_freed_on_termination() {
    let runtime = runtime();
    let (first, _rx) = spawn_probe(&runtime, "dup");
    let (tx, _rx2) = tokio::sync::mpsc::unbounded_channel();
    let second = Probe {
        base: libprocess::ProcessBase::new("dup"),
        tx,
        names: vec![],
    };
    assert_eq!(
        runtime.spawn(second).unwrap_err(),
        SpawnError::Duplicate("dup".into())
    );

    let done = runtime.wait("dup");
    first.terminate();
    done.await;
    assert!(!runtime.has_process("dup"));
    let (_again, _rx3) = spawn_probe(&runtime, "dup");
    assert!(runtime.has_process("dup"));
}

#[actix_rt::test]
async fn linking_to_a_local_process_reports_its_termination() {
    let runtime = runtime();
    let (watcher, mut rx) = spawn_probe(&runtime, "watcher");
    let (target, _target_rx) = spawn_probe(&runtime, "target");
    let upid = target.upid().clone();
    let linked = upid.clone();
    watcher
        .call(move |this, _| this.base.link(&linked))
        .await
        .unwrap();
    target.terminate();
    match next(&mut rx).await {
        Seen::Exited(pid) => assert_eq!(pid, upid),
        other => panic!("unexpected {other:?}"),
    }

    // Linking to a process that is already gone reports it at once.
    let gone = upid.clone();
    watcher.dispatch(move |this, _| this.base.link(&gone));
    match next(&mut rx).await {
        Seen::Exited(pid) => assert_eq!(pid, upid),
        other => panic!("unexpected {other:?}"),
    }
}

#[actix_rt::test]
async fn call_returns_the_result_and_fails_after_termination() {
    let runtime = runtime();
    let (probe, _rx) = spawn_probe(&runtime, "callee");
    let id = probe
        .call(|this, _| this.base.id().to_string())
        .await
        .unwrap();
    assert_eq!(id, "callee");
    let pid = probe
        .call(|this, _| this.base.self_pid().clone())
        .await
        .unwrap();
    assert_eq!(pid, UPID::new("callee", runtime.address()));
    let done = runtime.wait("callee");
    probe.terminate();
    done.await;
    assert!(probe.call(|_, _| ()).await.is_err());
}

#[actix_rt::test]
async fn advertised_address_is_used_in_upids_and_counts_as_local() {
    use std::net::{Ipv4Addr, SocketAddrV4};

    let runtime = runtime_with(libprocess::Config {
        advertise_ip: Some(Ipv4Addr::new(10, 9, 8, 7)),
        advertise_port: Some(6000),
        ..libprocess::Config::default()
    });
    assert_eq!(
        runtime.address(),
        SocketAddrV4::new(Ipv4Addr::new(10, 9, 8, 7), 6000)
    );
    assert_ne!(runtime.bound_address().port(), 6000);
    let (receiver, mut rx) = spawn_probe(&runtime, "advertised");
    assert_eq!(receiver.upid().to_string(), "advertised@10.9.8.7:6000");
    let (sender, _) = spawn_probe(&runtime, "advertised-sender");
    let to = receiver.upid().clone();
    sender.dispatch(move |this, _| {
        let _ = this.base.send_raw(&to, "ping", "local".into());
    });
    let message = next_message(&mut rx).await;
    assert_eq!(message.from.to_string(), "advertised-sender@10.9.8.7:6000");
    assert_eq!(&message.body[..], b"local");
}

#[actix_rt::test]
async fn the_event_queue_counts_what_waits_until_the_process_takes_it() {
    use libprocess::actix::AsyncContext as _;

    let runtime = runtime();
    let (probe, mut rx) = spawn_probe(&runtime, "queued");
    let handle = probe.clone();
    // While the probe runs this closure, what it sends itself waits.
    let (messages, dispatches, during) = probe
        .call(move |this, ctx| {
            let to = this.base.self_pid().clone();
            for i in 0..3u32 {
                let _ = this.base.send_raw(&to, "ping", i.to_string().into());
            }
            let queue = this.base.event_queue().clone();
            let seen = queue.clone();
            this.base.dispatch(&ctx.address(), move |_, _| {
                // Taken out of the queue before it runs.
                assert_eq!(seen.dispatches(), 1);
            });
            handle.dispatch(|_, _| ());
            (queue.messages(), queue.dispatches(), queue.http_requests())
        })
        .await
        .unwrap();
    assert_eq!((messages, dispatches, during), (3, 2, 0));
    for _ in 0..3 {
        next_message(&mut rx).await;
    }
    probe.call(|_, _| ()).await.unwrap();
    let queue = probe.event_queue();
    assert_eq!(
        (queue.messages(), queue.dispatches(), queue.http_requests()),
        (0, 0, 0)
    );
}
