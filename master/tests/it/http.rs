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

async fn send(
    addr: std::net::SocketAddrV4,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: &str,
) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let authorization = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{authorization}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[actix_rt::test]
async fn basic_http_authentication_guards_the_readonly_and_readwrite_endpoints() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("http_credentials");
    std::fs::write(
        &credentials,
        r#"{"credentials": [{"principal": "ops", "secret": "s3cret"}]}"#,
    )
    .unwrap();
    // Authentication needs credentials.
    let refused = mesos_master::flags::Flags::parse_from_args(
        [
            "mesos-master",
            "--registry=in_memory",
            "--authenticate_http_readonly",
        ]
        .map(String::from),
    )
    .unwrap_err()
    .to_string();
    assert!(refused.contains("--http_credentials"), "{refused}");

    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&[
            "--authenticate_http_readonly",
            "--authenticate_http_readwrite",
            &format!("--http_credentials={}", credentials.display()),
        ]),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    );
    recovered(&master).await;
    let addr = runtime.address();
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ops:s3cret")
    );
    let bad = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ops:wrong")
    );
    // Never authenticated.
    assert!(send(addr, "GET", "/master/health", None, "")
        .await
        .starts_with("HTTP/1.1 200"));
    // Read-only realm.
    for path in [
        "/master/state",
        "/master/frameworks",
        "/master/flags",
        "/master/roles",
        "/metrics/snapshot",
    ] {
        let response = send(addr, "GET", path, None, "").await;
        assert!(response.starts_with("HTTP/1.1 401"), "{path}: {response}");
        assert!(
            response.contains("WWW-Authenticate: Basic realm=\"mesos-master-readonly\""),
            "{response}"
        );
        let response = send(addr, "GET", path, Some(&bad), "").await;
        assert!(response.starts_with("HTTP/1.1 401"), "{path}: {response}");
        let response = send(addr, "GET", path, Some(&good), "").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    }
    // Read-write realm.
    let call = r#"{"type":"GET_HEALTH"}"#;
    let response = send(addr, "POST", "/api/v1", None, call).await;
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(
        response.contains("WWW-Authenticate: Basic realm=\"mesos-master-readwrite\""),
        "{response}"
    );
    let response = send(addr, "POST", "/api/v1", Some(&good), call).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let response = send(addr, "POST", "/master/teardown", None, "frameworkId=x").await;
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    // libprocess's `/logging/toggle` is in the read-write realm.
    let response = send(addr, "GET", "/logging/toggle", None, "").await;
    assert!(
        response.contains("WWW-Authenticate: Basic realm=\"mesos-master-readwrite\""),
        "{response}"
    );
    let response = send(addr, "GET", "/logging/toggle", Some(&good), "").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

/// The status line and headers of an answer (streams are not read on).
async fn head(
    addr: std::net::SocketAddrV4,
    path: &str,
    authorization: Option<&str>,
    body: &str,
) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let authorization = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{authorization}Content-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut chunk = [0_u8; 4096];
    while !String::from_utf8_lossy(&response).contains("\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        if n == 0 {
            break;
        }
        response.extend_from_slice(&chunk[..n]);
    }
    // A short body comes along with the head.
    let _ = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        stream.read(&mut chunk),
    )
    .await
    .map(|n| response.extend_from_slice(&chunk[..n.unwrap_or(0)]));
    String::from_utf8_lossy(&response).into_owned()
}

#[actix_rt::test]
async fn http_frameworks_authenticate_with_their_principal() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("http_credentials");
    std::fs::write(&credentials, "ops s3cret\n").unwrap();
    let missing = mesos_master::flags::Flags::parse_from_args(
        [
            "mesos-master",
            "--registry=in_memory",
            "--authenticate_http_frameworks",
        ]
        .map(String::from),
    )
    .unwrap_err()
    .to_string();
    assert!(
        missing.contains("--http_framework_authenticators"),
        "{missing}"
    );

    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&[
            "--authenticate_http_frameworks",
            "--http_framework_authenticators=basic",
            &format!("--http_credentials={}", credentials.display()),
        ]),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    );
    recovered(&master).await;
    let addr = runtime.address();
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ops:s3cret")
    );
    let subscribe = |principal: &str| {
        format!(
            r#"{{"type":"SUBSCRIBE","subscribe":{{"framework_info":{{"user":"root","name":"f","principal":"{principal}"}}}}}}"#
        )
    };
    let response = head(addr, "/api/v1/scheduler", None, &subscribe("ops")).await;
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(
        response.contains("WWW-Authenticate: Basic realm=\"mesos-master-scheduler\""),
        "{response}"
    );
    let response = head(addr, "/api/v1/scheduler", Some(&good), &subscribe("other")).await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(
        response.contains(
            "Authenticated principal 'ops' does not match principal 'other' set in `FrameworkInfo`"
        ),
        "{response}"
    );
    let response = head(addr, "/api/v1/scheduler", Some(&good), &subscribe("ops")).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // The other endpoints are not authenticated by this flag.
    assert!(send(addr, "GET", "/master/state", None, "")
        .await
        .starts_with("HTTP/1.1 200"));
}

#[actix_rt::test]
async fn firewall_rules_disable_endpoints_by_exact_path() {
    let runtime = runtime();
    let rules = r#"--firewall_rules={"disabled_endpoints":{"paths":["/master/state","/metrics/snapshot"]}}"#;
    let master = start_master(
        &runtime,
        flags(&[rules]),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    );
    recovered(&master).await;
    for path in ["/master/state", "/metrics/snapshot"] {
        let reply = crate::state::get(runtime.address(), path).await;
        assert_eq!(reply.status, 403, "{path}");
        assert_eq!(reply.body, format!("Endpoint '{path}' is disabled"));
    }
    // Exact matches only: the alias and other endpoints still answer.
    assert_eq!(
        crate::state::get(runtime.address(), "/state").await.status,
        200
    );
    assert_eq!(
        crate::state::get(runtime.address(), "/master/health")
            .await
            .status,
        200
    );
    // A rule that does not parse refuses to start.
    let error = mesos_master::flags::Flags::parse_from_args(
        [
            "mesos-master",
            "--registry=in_memory",
            "--firewall_rules={oops",
        ]
        .map(String::from),
    )
    .unwrap_err();
    assert!(error.to_string().contains("--firewall_rules"), "{error}");
}

#[actix_rt::test]
async fn the_log_is_served_as_master_log_by_the_files_process() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("master.log");
    std::fs::write(&log, "I1127 started\n").unwrap();
    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&[&format!("--external_log_file={}", log.display())]),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    );
    recovered(&master).await;
    let addr = runtime.address();
    // Attaching runs in the background.
    let mut reply = crate::state::get(addr, "/files/read?path=/master/log&offset=0").await;
    for _ in 0..100 {
        if reply.status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        reply = crate::state::get(addr, "/files/read?path=/master/log&offset=0").await;
    }
    assert_eq!(reply.status, 200, "{}", reply.body);
    let read: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(read["data"], "I1127 started\n");
    assert_eq!(read["offset"], 0);

    let (status, body) = crate::operator_api::api(
        addr,
        r#"{"type":"READ_FILE","read_file":{"path":"/master/log","offset":3}}"#,
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    let response: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(response["read_file"]["size"], 14);
    let data = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        response["read_file"]["data"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(data, b"27 started\n");

    let (status, body) = crate::operator_api::api(
        addr,
        r#"{"type":"LIST_FILES","list_files":{"path":"/master/log"}}"#,
        "application/json",
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // A file lists as nothing (upstream lists directories only).
    let response: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(response["type"], "LIST_FILES");
    assert!(response["list_files"]["file_infos"]
        .as_array()
        .is_none_or(|a| a.is_empty()));
    // Nothing else is attached.
    let (status, _) = crate::operator_api::api(
        addr,
        r#"{"type":"LIST_FILES","list_files":{"path":"/etc"}}"#,
        "application/json",
    )
    .await;
    assert_eq!(status, 404);
}

#[actix_rt::test]
async fn the_web_ui_is_served_from_webui_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<html>mesos</html>").unwrap();
    std::fs::create_dir_all(dir.path().join("app/shared")).unwrap();
    std::fs::write(dir.path().join("app/shared/app.js"), "var x;").unwrap();
    std::fs::create_dir_all(dir.path().join("assets/css")).unwrap();
    std::fs::write(dir.path().join("assets/css/ui.css"), "body{}").unwrap();
    let runtime = runtime();
    let master = start_master(
        &runtime,
        flags(&[&format!("--webui_dir={}", dir.path().display())]),
        Box::<mesos_master::registrar::InMemoryStore>::default(),
    );
    recovered(&master).await;
    let addr = runtime.address();
    let raw = |path: &'static str| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    for path in ["/", "/master/"] {
        let response = raw(path).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
        assert!(response.contains("Content-Type: text/html"), "{response}");
        assert!(response.ends_with("<html>mesos</html>"), "{response}");
    }
    let response = raw("/app/shared/app.js").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("var x;"), "{response}");
    let response = raw("/assets/css/ui.css").await;
    assert!(response.contains("Content-Type: text/css"), "{response}");
    for path in [
        "/app/missing.js",
        "/assets/../index.html",
        "/nothing",
        "/app",
    ] {
        let response = raw(path).await;
        assert!(response.starts_with("HTTP/1.1 404"), "{path}: {response}");
    }
    // The endpoints are still themselves.
    assert!(raw("/master/health").await.starts_with("HTTP/1.1 200"));
}
