//! `/api/v1/scheduler` over raw HTTP: subscription stream, headers, errors.

use std::time::Duration;

use mesos_proto::mesos::v1::scheduler::{event, Event};
use prost::Message as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

const SUBSCRIBE_JSON: &str = r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"http-test","failover_timeout":0}}}"#;

fn post(body: &str, headers: &[(&str, &str)]) -> String {
    let mut request = format!(
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    request
}

/// Reads until `needle` appears (or panics after 10 s).
async fn read_until(stream: &mut TcpStream, buffer: &mut Vec<u8>, needle: &[u8]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !buffer.windows(needle.len()).any(|w| w == needle) {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
            .await
            .expect("timed out")
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(buffer));
        buffer.extend_from_slice(&chunk[..n]);
    }
}

async fn one_shot(addr: std::net::SocketAddrV4, raw: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut buffer = Vec::new();
    read_until(&mut stream, &mut buffer, b"\r\n\r\n").await;
    // Enough for the short error bodies.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut chunk = [0u8; 4096];
    if let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(100), stream.read(&mut chunk)).await
    {
        buffer.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buffer).into_owned()
}

#[actix_rt::test]
async fn json_subscription_streams_subscribed_and_disconnects_on_close() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let mut stream = TcpStream::connect(runtime.address()).await.unwrap();
    let request = post(
        SUBSCRIBE_JSON,
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ],
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buffer = Vec::new();
    read_until(&mut stream, &mut buffer, b"\"SUBSCRIBED\"").await;
    read_until(&mut stream, &mut buffer, b"}}\r\n").await;
    let text = String::from_utf8_lossy(&buffer).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.contains("Content-Type: application/json\r\n"),
        "{text}"
    );
    assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
    let stream_id = text
        .lines()
        .find_map(|l| l.strip_prefix("Mesos-Stream-Id: "))
        .expect("Mesos-Stream-Id header")
        .to_string();
    assert_eq!(stream_id.len(), 36);
    // The chunk carries one RecordIO record: "<length>\n<json>".
    let body_start = text.find("\r\n\r\n").unwrap() + 4;
    let chunk = &text[body_start..];
    let (chunk_size, rest) = chunk.split_once("\r\n").unwrap();
    // (A HEARTBEAT chunk may follow at once.)
    let record = &rest[..usize::from_str_radix(chunk_size, 16).unwrap()];
    let (length, json) = record.split_once('\n').unwrap();
    assert_eq!(length.parse::<usize>().unwrap(), json.len());
    let event: Event = mesos_proto::json::from_str(json).unwrap();
    assert_eq!(event.r#type(), event::Type::Subscribed);
    let subscribed = event.subscribed.unwrap();
    assert_eq!(subscribed.heartbeat_interval_seconds, Some(15.0));
    assert_eq!(
        subscribed.master_info.unwrap().version.as_deref(),
        Some("1.11.0")
    );
    let framework_id = subscribed.framework_id.value;

    // Calls without the stream id, or with another, are refused.
    let teardown = format!(r#"{{"framework_id":{{"value":"{framework_id}"}},"type":"TEARDOWN"}}"#);
    let response = one_shot(
        runtime.address(),
        &post(&teardown, &[("Content-Type", "application/json")]),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("Mesos-Stream-Id"), "{response}");
    let response = one_shot(
        runtime.address(),
        &post(
            &teardown,
            &[
                ("Content-Type", "application/json"),
                ("Mesos-Stream-Id", "nope"),
            ],
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");

    // Closing the stream disconnects the framework; failover_timeout 0
    // removes it.
    drop(stream);
    let mut removed = false;
    for _ in 0..500 {
        if master
            .call(|m, _| m.frameworks.completed.len() == 1)
            .await
            .unwrap()
        {
            removed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(removed, "the framework was removed after its stream closed");
}

#[actix_rt::test]
async fn protobuf_subscription_and_teardown_with_the_stream_id() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let call: mesos_proto::mesos::v1::scheduler::Call =
        mesos_proto::json::from_str(SUBSCRIBE_JSON).unwrap();
    let body = call.encode_to_vec();
    let mut request = format!(
        "POST /master/api/v1/scheduler HTTP/1.1\r\nContent-Type: application/x-protobuf\r\n\
         Accept: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let mut stream = TcpStream::connect(runtime.address()).await.unwrap();
    stream.write_all(&request).await.unwrap();
    let mut buffer = Vec::new();
    read_until(&mut stream, &mut buffer, b"\r\n\r\n").await;
    let head_end = buffer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    assert!(
        head.contains("Content-Type: application/x-protobuf\r\n"),
        "{head}"
    );
    let stream_id = head
        .lines()
        .find_map(|l| l.strip_prefix("Mesos-Stream-Id: "))
        .unwrap()
        .to_string();
    // chunk size line, then the record.
    read_until(&mut stream, &mut buffer, b"\r\n").await;
    let framework_id = loop {
        let body = &buffer[head_end..];
        if let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap(), 16).unwrap();
            if body.len() >= line_end + 2 + size {
                let mut decoder = mesos_proto::recordio::Decoder::default();
                let records = decoder
                    .decode(&body[line_end + 2..line_end + 2 + size])
                    .unwrap();
                let event = Event::decode(records[0].clone()).unwrap();
                assert_eq!(event.r#type(), event::Type::Subscribed);
                break event.subscribed.unwrap().framework_id.value;
            }
        }
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.unwrap();
        buffer.extend_from_slice(&chunk[..n]);
    };

    let teardown = format!(r#"{{"framework_id":{{"value":"{framework_id}"}},"type":"TEARDOWN"}}"#);
    let response = one_shot(
        runtime.address(),
        &post(
            &teardown,
            &[
                ("Content-Type", "application/json"),
                ("Mesos-Stream-Id", &stream_id),
            ],
        ),
    )
    .await;
    assert!(
        response.starts_with("HTTP/1.1 202 Accepted\r\n"),
        "{response}"
    );
    let completed = master
        .call(|m, _| m.frameworks.completed.len())
        .await
        .unwrap();
    assert_eq!(completed, 1);
}

#[actix_rt::test]
async fn bad_requests_get_upstream_statuses() {
    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let addr = runtime.address();
    let get = "GET /api/v1/scheduler HTTP/1.1\r\nHost: x\r\n\r\n";
    assert!(one_shot(addr, get).await.starts_with("HTTP/1.1 405"));
    let response = one_shot(
        addr,
        &post(SUBSCRIBE_JSON, &[("Content-Type", "text/plain")]),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 415"), "{response}");
    let response = one_shot(
        addr,
        &post("{not json", &[("Content-Type", "application/json")]),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(
        response.contains("Failed to parse body into Call protobuf"),
        "{response}"
    );
    let response = one_shot(
        addr,
        &post(
            r#"{"type":"ACCEPT","framework_id":{"value":"x"}}"#,
            &[("Content-Type", "application/json")],
        ),
    )
    .await;
    assert!(
        response.contains("Expecting 'accept' to be present"),
        "{response}"
    );
    let response = one_shot(
        addr,
        &post(
            SUBSCRIBE_JSON,
            &[
                ("Content-Type", "application/json"),
                ("Accept", "text/html"),
            ],
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 406"), "{response}");
    let response = one_shot(
        addr,
        &post(
            SUBSCRIBE_JSON,
            &[
                ("Content-Type", "application/json"),
                ("Mesos-Stream-Id", "x"),
            ],
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
}

#[actix_rt::test]
async fn http_frameworks_get_a_failure_event_when_an_agent_is_removed() {
    use mesos_proto::mesos::internal::{SlaveRegisteredMessage, UnregisterSlaveMessage};

    let runtime = runtime();
    let master = start_default_master(&runtime);
    recovered(&master).await;
    let mut stream = TcpStream::connect(runtime.address()).await.unwrap();
    let request = post(
        SUBSCRIBE_JSON,
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ],
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buffer = Vec::new();
    read_until(&mut stream, &mut buffer, b"\"SUBSCRIBED\"").await;

    let (agent, mut rx) = spawn_agent(&runtime, "slave(1)");
    register(&agent, master.upid(), "1.11.0");
    let id = decode::<SlaveRegisteredMessage>(&next(&mut rx).await).slave_id;
    let to = master.upid().clone();
    let removed = id.clone();
    agent.dispatch(move |this, _| {
        this.base
            .send(&to, &UnregisterSlaveMessage { slave_id: removed })
    });
    read_until(&mut stream, &mut buffer, b"\"FAILURE\"").await;
    // The rest of that record, up to its chunk's end.
    let at = buffer.windows(9).position(|w| w == b"\"FAILURE\"").unwrap();
    let mut tail = buffer.split_off(at);
    read_until(&mut stream, &mut tail, b"\r\n").await;
    buffer.extend_from_slice(&tail);
    let text = String::from_utf8_lossy(&buffer).into_owned();
    let record = text
        .lines()
        .find(|l| l.contains("\"FAILURE\""))
        .expect("a FAILURE record");
    let event: Event = mesos_proto::json::from_str(record).unwrap();
    assert_eq!(event.r#type(), event::Type::Failure);
    let failure = event.failure.unwrap();
    assert_eq!(failure.agent_id.unwrap().value, id.value);
    assert!(failure.executor_id.is_none());
}
