//! The wire: bytes upstream senders write, what we answer, what we send.

use std::net::Ipv4Addr;
use std::time::Duration;

use libprocess::transport::Limits;
use libprocess::{Config, UPID};
use mesos_proto::mesos::internal::{PingSlaveMessage, PongSlaveMessage};
use prost::Message as _;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::support::*;

fn ping_body() -> Vec<u8> {
    PingSlaveMessage { connected: true }.encode_to_vec()
}

/// What an upstream 1.2 … 1.11 sender writes: both headers, empty Host,
/// one chunk.
fn upstream_message(to: &str, name: &str, from: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST /{to}/{name} HTTP/1.1\r\nUser-Agent: libprocess/{from}\r\nLibprocess-From: {from}\r\n\
         Connection: Keep-Alive\r\nHost: \r\n"
    )
    .into_bytes();
    if body.is_empty() {
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(
            format!("Transfer-Encoding: chunked\r\n\r\n{:x}\r\n", body.len()).as_bytes(),
        );
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n0\r\n\r\n");
    }
    out
}

#[actix_rt::test]
async fn upstream_sender_bytes_are_delivered_and_accepted() {
    let runtime = runtime();
    let (_probe, mut rx) = spawn_probe(&runtime, "probe");
    let mut stream = Conn::open(runtime.address()).await;
    let from = "slave-observer(1)@127.0.0.1:5050";
    stream
        .write(&upstream_message(
            "probe",
            "mesos.internal.PingSlaveMessage",
            from,
            &ping_body(),
        ))
        .await;
    let (status, headers, body) = stream.response().await;
    assert_eq!(status, 202);
    assert!(body.is_empty());
    assert!(header(&headers, "Date").is_some());
    assert_eq!(header(&headers, "Content-Length"), Some("0"));

    let message = next_message(&mut rx).await;
    assert_eq!(message.name, "mesos.internal.PingSlaveMessage");
    assert_eq!(message.from, from.parse::<UPID>().unwrap());
    assert_eq!(
        PingSlaveMessage::decode(message.body).unwrap(),
        PingSlaveMessage { connected: true }
    );
}

#[actix_rt::test]
async fn legacy_user_agent_only_form_is_accepted() {
    let runtime = runtime();
    let (_probe, mut rx) = spawn_probe(&runtime, "probe");
    let from = "master@127.0.0.1:5050";
    let raw = format!(
        "POST /probe/ping HTTP/1.1\r\nUser-Agent: libprocess/{from}\r\nConnection: Keep-Alive\r\n\
         Host: \r\nContent-Length: 3\r\n\r\nabc"
    );
    let (status, _, _) = request(runtime.address(), &raw).await;
    assert_eq!(status, 202);
    let message = next_message(&mut rx).await;
    assert_eq!(message.from.to_string(), from);
    assert_eq!(&message.body[..], b"abc");
}

#[actix_rt::test]
async fn mesos_go_messenger_form_is_answered_202() {
    // The old mesos-go messenger: Go's net/http client, Libprocess-From
    // only, Content-Length body, and it waits for the 202.
    let runtime = runtime();
    let (_probe, mut rx) = spawn_probe(&runtime, "probe");
    let body = ping_body();
    let mut raw = format!(
        "POST /probe/mesos.internal.PingSlaveMessage HTTP/1.1\r\nHost: {}\r\n\
         User-Agent: Go-http-client/1.1\r\nContent-Length: {}\r\nConnection: Keep-Alive\r\n\
         Content-Type: application/x-protobuf\r\nLibprocess-From: scheduler(1)@127.0.0.1:40000\r\n\
         Accept-Encoding: gzip\r\n\r\n",
        runtime.address(),
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    let mut stream = Conn::open(runtime.address()).await;
    stream.write(&raw).await;
    let (status, _, _) = stream.response().await;
    assert_eq!(status, 202);
    assert_eq!(
        next_message(&mut rx).await.from.to_string(),
        "scheduler(1)@127.0.0.1:40000"
    );
}

#[actix_rt::test]
async fn pipelined_messages_are_answered_in_order() {
    let runtime = runtime();
    let (_probe, mut rx) = spawn_probe(&runtime, "probe");
    let from = "x@127.0.0.1:1";
    let mut raw = upstream_message("probe", "ping", from, b"1");
    raw.extend(upstream_message("nobody", "ping", from, b"2"));
    raw.extend(upstream_message("probe", "ping", from, b""));
    raw.extend(upstream_message("probe", "ping", from, b"3"));
    let mut stream = Conn::open(runtime.address()).await;
    stream.write(&raw).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(stream.response().await.0);
    }
    assert_eq!(statuses, [202, 404, 202, 202]);
    let bodies: Vec<Vec<u8>> = vec![
        next_message(&mut rx).await.body.to_vec(),
        next_message(&mut rx).await.body.to_vec(),
        next_message(&mut rx).await.body.to_vec(),
    ];
    assert_eq!(bodies, [b"1".to_vec(), b"".to_vec(), b"3".to_vec()]);
}

#[actix_rt::test]
async fn idle_inbound_connections_stay_open() {
    let runtime = runtime();
    let (_probe, mut rx) = spawn_probe(&runtime, "probe");
    let mut stream = Conn::open(runtime.address()).await;
    let mut byte = [0u8; 1];
    let idle = tokio::time::timeout(Duration::from_secs(2), stream.stream.read(&mut byte)).await;
    assert!(
        idle.is_err(),
        "the server wrote or closed on an idle connection: {idle:?}"
    );
    stream
        .write(&upstream_message("probe", "ping", "x@127.0.0.1:1", b"late"))
        .await;
    assert_eq!(stream.response().await.0, 202);
    assert_eq!(&next_message(&mut rx).await.body[..], b"late");
}

#[actix_rt::test]
async fn malformed_requests_get_a_4xx_and_the_connection_closes() {
    let runtime = runtime_with(Config {
        limits: Limits {
            max_head: 1024,
            max_headers: 16,
            max_body: 64,
        },
        ..Config::default()
    });
    // (request, status, whether the decoder failed and the connection closes)
    let cases: Vec<(Vec<u8>, u16, bool)> = vec![
        (b"NOT HTTP AT ALL\r\n\r\n".to_vec(), 400, true),
        (b"POST /probe/ping HTTP/1.1\r\nLibprocess-From: x@127.0.0.1:1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n".to_vec(), 400, true),
        (b"POST /probe/ping HTTP/1.1\r\nLibprocess-From: x@127.0.0.1:1\r\nContent-Length: 65\r\n\r\n".to_vec(), 413, true),
        (b"POST /probe/ping HTTP/1.1\r\nLibprocess-From: not-a-upid\r\nContent-Length: 0\r\n\r\n".to_vec(), 400, false),
        (b"POST probe/ping HTTP/1.1\r\nLibprocess-From: x@127.0.0.1:1\r\n\r\n".to_vec(), 400, false),
    ];
    for (raw, expected, closes) in cases {
        let mut stream = Conn::open(runtime.address()).await;
        stream.write(&raw).await;
        let (status, _, body) = stream.response().await;
        assert_eq!(status, expected, "for {:?}", String::from_utf8_lossy(&raw));
        assert!(!body.is_empty(), "a 4xx carries a message");
        if closes {
            let mut rest = Vec::new();
            let closed =
                tokio::time::timeout(Duration::from_secs(5), stream.stream.read_to_end(&mut rest))
                    .await;
            assert!(
                matches!(closed, Ok(Ok(0))),
                "connection should close after a decode error"
            );
        }
    }
}

#[actix_rt::test]
async fn peer_address_ip_match_is_enforced_when_required() {
    let runtime = runtime_with(Config {
        require_peer_address_ip_match: true,
        ..Config::default()
    });
    let (_probe, _rx) = spawn_probe(&runtime, "probe");
    let raw = String::from_utf8(upstream_message("probe", "ping", "x@10.1.2.3:1", b"")).unwrap();
    assert_eq!(request(runtime.address(), &raw).await.0, 400);
    let raw = String::from_utf8(upstream_message("probe", "ping", "x@127.0.0.1:1", b"")).unwrap();
    assert_eq!(request(runtime.address(), &raw).await.0, 202);
}

#[actix_rt::test]
async fn our_sender_writes_upstream_bytes_and_ignores_missing_responses() {
    let runtime = runtime();
    let (probe, _rx) = spawn_probe(&runtime, "sender");
    // A 1.2/1.3 receiver: never answers.
    let peer = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = peer.local_addr().unwrap().port();
    let to: UPID = format!("master@127.0.0.1:{port}").parse().unwrap();
    let from = probe.upid().clone();

    let target = to.clone();
    probe.dispatch(move |this, _| {
        this.base
            .send(&target, &PingSlaveMessage { connected: true });
        this.base.send(&target, &PongSlaveMessage {});
    });
    let (mut socket, _) = peer.accept().await.unwrap();
    let mut expected = format!(
        "POST /master/mesos.internal.PingSlaveMessage HTTP/1.1\r\nUser-Agent: libprocess/{from}\r\n\
         Libprocess-From: {from}\r\nConnection: Keep-Alive\r\nHost: \r\nTransfer-Encoding: chunked\r\n\r\n2\r\n"
    )
    .into_bytes();
    expected.extend_from_slice(&ping_body());
    expected.extend_from_slice(b"\r\n0\r\n\r\n");
    expected.extend_from_slice(
        format!(
            "POST /master/mesos.internal.PongSlaveMessage HTTP/1.1\r\nUser-Agent: libprocess/{from}\r\n\
             Libprocess-From: {from}\r\nConnection: Keep-Alive\r\nHost: \r\n\r\n"
        )
        .as_bytes(),
    );
    let mut got = vec![0u8; expected.len()];
    tokio::time::timeout(Duration::from_secs(10), socket.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected)
    );

    // Still one connection, still sending, although nothing was answered.
    let target = to.clone();
    probe.dispatch(move |this, _| this.base.send(&target, &PongSlaveMessage {}));
    let mut more = vec![0u8; 20];
    tokio::time::timeout(Duration::from_secs(10), socket.read_exact(&mut more))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&more), "POST /master/mesos.i");
}

#[actix_rt::test]
async fn link_reports_exited_when_the_peer_closes_or_is_unreachable() {
    let runtime = runtime();
    let (probe, mut rx) = spawn_probe(&runtime, "linker");
    let peer = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = peer.local_addr().unwrap().port();
    let remote_a: UPID = format!("a@127.0.0.1:{port}").parse().unwrap();
    let remote_b: UPID = format!("b@127.0.0.1:{port}").parse().unwrap();
    let (a, b) = (remote_a.clone(), remote_b.clone());
    probe.dispatch(move |this, _| {
        this.base.link(&a);
        this.base.link(&b);
    });
    let (socket, _) = peer.accept().await.unwrap();
    drop(socket);
    let mut exited = vec![];
    for _ in 0..2 {
        match next(&mut rx).await {
            Seen::Exited(pid) => exited.push(pid.to_string()),
            other => panic!("unexpected {other:?}"),
        }
    }
    exited.sort();
    assert_eq!(exited, [remote_a.to_string(), remote_b.to_string()]);

    // Nothing listens on a port we just freed.
    drop(peer);
    let dead: UPID = format!("c@127.0.0.1:{port}").parse().unwrap();
    let target = dead.clone();
    probe.dispatch(move |this, _| this.base.link(&target));
    match next(&mut rx).await {
        Seen::Exited(pid) => assert_eq!(pid, dead),
        other => panic!("unexpected {other:?}"),
    }
}

#[actix_rt::test]
async fn two_runtimes_exchange_messages_in_order_over_tcp() {
    let a = runtime();
    let b = runtime();
    let (pa, mut rxa) = spawn_probe(&a, "alice");
    let (pb, mut rxb) = spawn_probe(&b, "bob");
    let bob = pb.upid().clone();
    pa.dispatch(move |this, _| {
        for i in 0..1000u32 {
            let _ = this.base.send_raw(&bob, "ping", i.to_string().into());
        }
    });
    for i in 0..1000u32 {
        let message = next_message(&mut rxb).await;
        assert_eq!(message.body, i.to_string().as_bytes());
        assert_eq!(message.from, *pa.upid());
    }
    // The reply travels over bob's own outbound connection.
    let alice = pa.upid().clone();
    pb.dispatch(move |this, _| {
        let _ = this.base.send_raw(&alice, "pong", "back".into());
    });
    assert_eq!(&next_message(&mut rxa).await.body[..], b"back");
}

#[actix_rt::test]
async fn shutting_down_a_runtime_is_an_exit_for_remote_linkers() {
    let a = runtime();
    let b = runtime();
    let (alice, mut rx) = spawn_probe(&a, "alice");
    let (bob, _bob_rx) = spawn_probe(&b, "bob");
    let target = bob.upid().clone();
    alice.dispatch(move |this, _| {
        this.base.link(&target);
        let _ = this.base.send_raw(&target, "ping", "hello".into());
    });
    // Wait until the connection carried a message, then "kill" bob's OS
    // process: every socket of its runtime closes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    b.shutdown();
    match next(&mut rx).await {
        Seen::Exited(pid) => assert_eq!(pid, *bob.upid()),
        other => panic!("unexpected {other:?}"),
    }
}
