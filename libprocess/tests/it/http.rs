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

#[actix_rt::test]
async fn streaming_responses_are_chunked_and_notice_a_closed_client() {
    use bytes::Bytes;
    use libprocess::actix::{Actor, Context};
    use libprocess::http::{Body, Response};
    use libprocess::{Process, ProcessBase};
    use tokio::io::AsyncReadExt as _;
    use tokio::sync::mpsc;
    use tokio::sync::oneshot;

    struct Streamer {
        base: ProcessBase<Self>,
        closed: Option<oneshot::Sender<()>>,
    }
    impl Actor for Streamer {
        type Context = Context<Self>;
    }
    impl Process for Streamer {
        fn base(&self) -> &ProcessBase<Self> {
            &self.base
        }
        fn base_mut(&mut self) -> &mut ProcessBase<Self> {
            &mut self.base
        }
        fn initialize(&mut self, _ctx: &mut Context<Self>) {
            self.base.route("/stream", |this, _ctx, _request| {
                let (tx, rx) = mpsc::channel::<Bytes>(16);
                let closed = this.closed.take();
                libprocess::actix::spawn(async move {
                    let _ = tx.send(Bytes::from_static(b"first")).await;
                    // Wait until the client goes away.
                    tx.closed().await;
                    if let Some(closed) = closed {
                        let _ = closed.send(());
                    }
                });
                Box::pin(async move {
                    Response {
                        status: 200,
                        headers: vec![],
                        body: Body::Stream(rx),
                    }
                })
            });
        }
    }
    libprocess::process_handlers!(Streamer);

    let runtime = runtime();
    let (closed_tx, closed_rx) = oneshot::channel();
    runtime
        .spawn(Streamer {
            base: ProcessBase::new("streamer"),
            closed: Some(closed_tx),
        })
        .unwrap();
    let mut conn = Conn::open(runtime.address()).await;
    conn.write(get("/streamer/stream").as_bytes()).await;
    let mut received = Vec::new();
    while !received.ends_with(b"5\r\nfirst\r\n") {
        let mut chunk = [0u8; 256];
        let n = conn.stream.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        received.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&received);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
    drop(conn);
    tokio::time::timeout(std::time::Duration::from_secs(10), closed_rx)
        .await
        .expect("the producer learns that the client closed")
        .unwrap();
}

/// A process whose `/upload` streams request bodies (unless the request
/// says `X-Whole: 1`): each piece goes to the test as it arrives; the
/// answer names the body's length, or the error that cut it short.
/// `/refuse` streams too but answers at once without reading.
struct Streamer {
    base: libprocess::ProcessBase<Self>,
    pieces: tokio::sync::mpsc::UnboundedSender<Result<Vec<u8>, String>>,
}

impl libprocess::actix::Actor for Streamer {
    type Context = libprocess::actix::Context<Self>;
}

impl libprocess::Process for Streamer {
    fn base(&self) -> &libprocess::ProcessBase<Self> {
        &self.base
    }
    fn base_mut(&mut self) -> &mut libprocess::ProcessBase<Self> {
        &mut self.base
    }
    fn initialize(&mut self, _ctx: &mut libprocess::actix::Context<Self>) {
        self.base.route_streaming(
            "/upload",
            |request| request.header("X-Whole").is_none(),
            |this, _, request| {
                let pieces = this.pieces.clone();
                let streamed = request.stream.is_some();
                Box::pin(async move {
                    let mut reader = request.body_reader();
                    let mut total = 0;
                    while let Some(piece) = reader.next().await {
                        match piece {
                            Ok(piece) => {
                                total += piece.len();
                                let _ = pieces.send(Ok(piece.to_vec()));
                            }
                            Err(error) => {
                                let _ = pieces.send(Err(error.to_string()));
                                return libprocess::http::Response::bad_request(error.0);
                            }
                        }
                    }
                    libprocess::http::Response::ok(format!("{total} streamed={streamed}"))
                })
            },
        );
        self.base.route_streaming(
            "/refuse",
            |_| true,
            |_, _, _| Box::pin(async { libprocess::http::Response::bad_request("no") }),
        );
    }
}

libprocess::process_handlers!(Streamer);

fn spawn_streamer(
    runtime: &libprocess::Runtime,
) -> tokio::sync::mpsc::UnboundedReceiver<Result<Vec<u8>, String>> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    runtime
        .spawn(Streamer {
            base: libprocess::ProcessBase::new("streamer"),
            pieces: tx,
        })
        .unwrap();
    rx
}

async fn piece(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Result<Vec<u8>, String>>,
) -> Result<Vec<u8>, String> {
    tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("timed out waiting for a body piece")
        .expect("streamer gone")
}

#[actix_rt::test]
async fn streaming_route_reads_a_chunked_body_while_it_arrives() {
    let runtime = runtime();
    let mut pieces = spawn_streamer(&runtime);
    let mut conn = Conn::open(runtime.address()).await;
    conn.write(
        b"POST /streamer/upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    )
    .await;
    // The handler has the first chunk while the body is still open.
    assert_eq!(piece(&mut pieces).await.unwrap(), b"hello");
    conn.write(b"6\r\n world\r\n").await;
    assert_eq!(piece(&mut pieces).await.unwrap(), b" world");
    conn.write(b"0\r\n\r\n").await;
    let (status, _, body) = conn.response().await;
    assert_eq!((status, body.as_slice()), (200, &b"11 streamed=true"[..]));
    // The connection goes on with the next request.
    conn.write(get("/streamer/upload").as_bytes()).await;
    assert_eq!(conn.response().await.2, b"0 streamed=true");
}

#[actix_rt::test]
async fn streaming_route_reads_a_content_length_body_in_pieces() {
    let runtime = runtime();
    let mut pieces = spawn_streamer(&runtime);
    let mut conn = Conn::open(runtime.address()).await;
    conn.write(b"POST /streamer/upload HTTP/1.1\r\nContent-Length: 8\r\n\r\nabc")
        .await;
    assert_eq!(piece(&mut pieces).await.unwrap(), b"abc");
    conn.write(b"defgh").await;
    assert_eq!(piece(&mut pieces).await.unwrap(), b"defgh");
    let (status, _, body) = conn.response().await;
    assert_eq!((status, body.as_slice()), (200, &b"8 streamed=true"[..]));
}

#[actix_rt::test]
async fn requests_the_route_declines_to_stream_arrive_whole() {
    let runtime = runtime();
    let mut pieces = spawn_streamer(&runtime);
    let raw = "POST /streamer/upload HTTP/1.1\r\nX-Whole: 1\r\nContent-Length: 4\r\n\r\nabcd";
    let (status, _, body) = request(runtime.address(), raw).await;
    assert_eq!((status, body.as_slice()), (200, &b"4 streamed=false"[..]));
    assert_eq!(piece(&mut pieces).await.unwrap(), b"abcd");
    // Other routes of the process and other processes are unaffected.
    let (_probe, _rx) = spawn_probe(&runtime, "probe");
    assert_eq!(
        request(runtime.address(), &get("/probe/ping")).await.2,
        b"pong"
    );
}

#[actix_rt::test]
async fn a_response_before_the_body_ends_closes_the_connection() {
    let runtime = runtime();
    let _pieces = spawn_streamer(&runtime);
    let mut conn = Conn::open(runtime.address()).await;
    conn.write(b"POST /streamer/refuse HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n")
        .await;
    let (status, headers, body) = conn.response().await;
    assert_eq!((status, body.as_slice()), (400, &b"no"[..]));
    assert_eq!(header(&headers, "Connection"), Some("close"));
}

#[actix_rt::test]
async fn a_client_leaving_mid_body_is_an_error_for_the_handler() {
    let runtime = runtime();
    let mut pieces = spawn_streamer(&runtime);
    let mut conn = Conn::open(runtime.address()).await;
    conn.write(b"POST /streamer/upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n")
        .await;
    assert_eq!(piece(&mut pieces).await.unwrap(), b"ab");
    drop(conn);
    let error = piece(&mut pieces).await.unwrap_err();
    assert!(error.contains("closed"), "{error}");
}

#[actix_rt::test]
async fn a_malformed_chunk_mid_body_is_an_error_for_the_handler() {
    let runtime = runtime();
    let mut pieces = spawn_streamer(&runtime);
    let mut conn = Conn::open(runtime.address()).await;
    conn.write(
        b"POST /streamer/upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\nzz\r\n",
    )
    .await;
    assert_eq!(piece(&mut pieces).await.unwrap(), b"ab");
    let error = piece(&mut pieces).await.unwrap_err();
    assert!(error.contains("chunk"), "{error}");
    let (status, headers, _) = conn.response().await;
    assert_eq!(status, 400);
    assert_eq!(header(&headers, "Connection"), Some("close"));
}
