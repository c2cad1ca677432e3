//! Endpoints: routing, delegate, longest prefix, built-ins, gzip, jsonp.

use std::io::Read as _;

use crate::support::*;

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

#[actix_rt::test]
async fn endpoints_route_by_process_and_longest_prefix() {
    let runtime = runtime();
    let (_probe, _rx) = spawn_probe(&runtime, "probe");
    let addr = runtime.address();

    let (status, headers, body) = request(addr, &get("/probe/ping")).await;
    assert_eq!((status, body.as_slice()), (200, &b"pong"[..]));
    assert!(header(&headers, "Date").is_some());

    assert_eq!(
        request(addr, &get("/probe/api/v1/scheduler")).await.2,
        b"v1 /probe/api/v1/scheduler"
    );
    assert_eq!(
        request(addr, &get("/probe/ping/deeper/still")).await.2,
        b"pong"
    );
    assert_eq!(request(addr, &get("/probe/nothing")).await.0, 404);
    assert_eq!(request(addr, &get("/nobody/ping")).await.0, 404);
    assert_eq!(request(addr, &get("/probe/../probe/ping")).await.0, 404);
    // Percent-encoded process ids are decoded.
    assert_eq!(request(addr, &get("/%70robe/ping")).await.2, b"pong");
}

#[actix_rt::test]
async fn unknown_ids_go_to_the_delegate_with_the_whole_path() {
    let runtime = runtime();
    let (_probe, _rx) = spawn_probe(&runtime, "slave(1)");
    runtime.set_delegate(Some("slave(1)"));
    let addr = runtime.address();
    assert_eq!(request(addr, &get("/ping")).await.2, b"pong");
    assert_eq!(request(addr, &get("/api/v1")).await.2, b"v1 /api/v1");
    assert_eq!(request(addr, &get("/slave(1)/ping")).await.2, b"pong");
}

#[actix_rt::test]
async fn http_requests_pipeline_with_messages_in_order() {
    let runtime = runtime();
    let (_probe, _rx) = spawn_probe(&runtime, "probe");
    let mut stream = Conn::open(runtime.address()).await;
    let raw = format!(
        "{}POST /probe/ping HTTP/1.1\r\nLibprocess-From: x@127.0.0.1:1\r\n\r\n{}",
        get("/probe/ping"),
        get("/probe/missing")
    );
    stream.write(raw.as_bytes()).await;
    assert_eq!(stream.response().await.0, 200);
    assert_eq!(stream.response().await.0, 202);
    assert_eq!(stream.response().await.0, 404);
}

#[actix_rt::test]
async fn large_bodies_are_gzipped_for_clients_that_accept_it() {
    let runtime = runtime();
    let (_probe, _rx) = spawn_probe(&runtime, "probe");
    let raw = "GET /probe/big HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n";
    let (status, headers, body) = request(runtime.address(), raw).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "Content-Encoding"), Some("gzip"));
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(body.as_slice())
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, vec![b'x'; 4096]);
    let (_, headers, body) = request(runtime.address(), &get("/probe/big")).await;
    assert!(header(&headers, "Content-Encoding").is_none());
    assert_eq!(body.len(), 4096);
}

#[actix_rt::test]
async fn builtin_endpoints_serve_metrics_processes_and_version() {
    let runtime = runtime();
    let (_probe, _rx) = spawn_probe(&runtime, "probe");
    runtime.metrics().counter("test/messages").add(2);
    runtime.set_version(serde_json::json!({"version": "1.11.0"}));

    let (status, headers, body) = request(runtime.address(), &get("/metrics/snapshot")).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "Content-Type"), Some("application/json"));
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"test\/messages":2.0}"#
    );

    let (_, _, body) = request(runtime.address(), &get("/__processes__")).await;
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"[{"id":"probe","events":[]}]"#
    );

    let (_, headers, body) = request(runtime.address(), &get("/version?jsonp=cb")).await;
    assert_eq!(header(&headers, "Content-Type"), Some("text/javascript"));
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"cb({"version":"1.11.0"});"#
    );
}
