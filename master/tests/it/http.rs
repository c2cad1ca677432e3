//! The master's endpoints over real HTTP.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

async fn get(addr: std::net::SocketAddrV4, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[actix_rt::test]
async fn health_flags_redirect_and_metrics() {
    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&["--cluster=test"]),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    );
    recovered(&master).await;
    let addr = runtime.address();

    assert!(get(addr, "/master/health")
        .await
        .starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(
        get(addr, "/health")
            .await
            .starts_with("HTTP/1.1 200 OK\r\n"),
        "through the delegate"
    );

    let flags = get(addr, "/master/flags").await;
    assert!(flags.contains(r#"{"flags":{"#), "{flags}");
    assert!(flags.contains(r#""cluster":"test""#), "{flags}");
    assert!(
        flags.contains(r#""agent_ping_timeout":"15secs""#),
        "{flags}"
    );

    let redirect = get(addr, "/master/redirect").await;
    assert!(
        redirect.starts_with("HTTP/1.1 307 Temporary Redirect\r\n"),
        "{redirect}"
    );
    let hostname = master
        .call(|m, _| m.info.hostname.clone().unwrap())
        .await
        .unwrap();
    assert!(
        redirect.contains(&format!("Location: //{hostname}:{}\r\n", addr.port())),
        "{redirect}"
    );

    let metrics = get(addr, "/metrics/snapshot").await;
    assert!(metrics.contains(r#""master\/elected":1.0"#), "{metrics}");
    assert!(
        metrics.contains(r#""master\/slaves_active":0.0"#),
        "{metrics}"
    );

    let version = get(addr, "/version").await;
    assert!(version.contains(r#""version":"1.11.0"}"#), "{version}");
    assert!(version.contains(r#""build_date":"#), "{version}");
}
