//! Clients that go away: mid-request (the handler waits on the model), mid-upload (the body is
//! cut short) and mid-stream (after the first server-sent event). Each request is counted once,
//! as status 499 with `error.type="cancelled"` on its span; the in-flight gauge returns to 0;
//! and the model call behind it stops: the OpenAI-compatible server sees its caller go away,
//! sends no more chunks, and the call is recorded as `llm_requests_total{status="cancelled"}`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use fault_support::{FakeLlm, Process, SLOW, SLOW_STREAM, eventually, parse_exposition, sum};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use unitel_testkit::OtlpReceiver;
use unitel_testkit::otlp::SpanKind;

const ROUTE: &str = "/v1/chat/completions";

fn chat_request(port: u16, body: &str, trace_id: &str) -> String {
    format!(
        "POST {ROUTE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         traceparent: {}\r\nContent-Length: {}\r\n\r\n{body}",
        fault_support::traceparent(trace_id),
        body.len()
    )
}

fn chat_body(question: &str, stream: bool) -> String {
    json!({"stream": stream, "messages": [{"role": "user", "content": question}]}).to_string()
}

struct Counts {
    requests: f64,
    cancelled: f64,
    in_flight: f64,
    llm_cancelled: f64,
    /// `errors_total` of every component and type: a client leaving is not an error.
    errors: f64,
}

async fn counts(server: &Process) -> Counts {
    let samples = parse_exposition(&server.metrics().await);
    Counts {
        requests: sum(&samples, "http_requests_total", &[("route", ROUTE)]),
        cancelled: sum(
            &samples,
            "http_requests_total",
            &[("route", ROUTE), ("status", "499")],
        ),
        in_flight: sum(&samples, "http_requests_in_flight", &[("route", ROUTE)]),
        llm_cancelled: sum(&samples, "llm_requests_total", &[("status", "cancelled")]),
        errors: sum(&samples, "errors_total", &[]),
    }
}

/// Waits until the request is counted (once) and nothing is in flight.
async fn settled(server: &Process, requests: f64) -> Counts {
    let (ok, _) = server
        .metrics_until(Duration::from_secs(10), |text| {
            let s = parse_exposition(text);
            sum(&s, "http_requests_total", &[("route", ROUTE)]) >= requests
                && sum(&s, "http_requests_in_flight", &[("route", ROUTE)]) == 0.0
        })
        .await;
    assert!(
        ok,
        "the aborted request was not recorded, or is still in flight"
    );
    counts(server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_requests_are_counted_once_as_cancelled_and_stop_the_generation() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let llm = FakeLlm::start().await;
    let server = Process::start(&[
        ("LLM_BASE_URL", llm.base_url.clone()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
    ])
    .await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/v1/documents", server.base))
        .json(&json!({"text": "Jaeger accepts spans over OTLP. Prometheus scrapes metrics."}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let start = counts(&server).await;
    assert_eq!(start.requests, 0.0);

    // 1. Mid-request: the handler waits on a model that answers after 30 s; the client leaves.
    let waiting = fault_support::trace_id();
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    socket
        .write_all(
            chat_request(
                server.port,
                &chat_body(&format!("Where? {SLOW}"), false),
                &waiting,
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || llm.open() == 1).await,
        "the model call never started"
    );
    drop(socket);
    assert!(
        eventually(Duration::from_secs(10), || llm.abandoned() == 1).await,
        "the model call went on after the client left"
    );
    let after_wait = settled(&server, 1.0).await;
    assert_eq!(after_wait.requests, 1.0, "counted more than once");
    assert_eq!(after_wait.cancelled, 1.0, "not counted as cancelled (499)");
    assert_eq!(
        after_wait.llm_cancelled, 1.0,
        "the model call was not recorded as cancelled"
    );

    // 2. Mid-upload: the body is cut short.
    let uploading = fault_support::trace_id();
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let body = chat_body("Where do spans go?", false);
    let head = format!(
        "POST {ROUTE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\ntraceparent: {}\r\n\
         Content-Length: {}\r\n\r\n",
        fault_support::traceparent(&uploading),
        body.len() + 10_000
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&body.as_bytes()[..10]).await.unwrap();
    // The handler is reading the body when the client leaves.
    let (reading, _) = server
        .metrics_until(Duration::from_secs(10), |text| {
            sum(
                &parse_exposition(text),
                "http_requests_in_flight",
                &[("route", ROUTE)],
            ) == 1.0
        })
        .await;
    assert!(reading, "the upload never started");
    drop(socket);
    let after_upload = settled(&server, 2.0).await;
    assert_eq!(after_upload.requests, 2.0, "counted more than once");
    assert_eq!(
        after_upload.cancelled, 2.0,
        "a cut upload was not counted as cancelled"
    );
    assert_eq!(
        after_upload.errors, after_wait.errors,
        "a cut upload was counted in errors_total (as an invalid body?)"
    );

    // 3. Mid-stream: the client reads the first event of a 40-chunk stream and leaves.
    let streaming = fault_support::trace_id();
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    socket
        .write_all(
            chat_request(
                server.port,
                &chat_body(&format!("Where? {SLOW_STREAM}"), true),
                &streaming,
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("data: {") {
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
            .await
            .expect("no event within 10 s")
            .unwrap();
        assert!(
            n > 0,
            "stream closed early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    drop(socket);
    assert!(
        eventually(Duration::from_secs(10), || llm.abandoned() == 2).await,
        "the upstream stream went on after the client left"
    );
    let chunks = llm.state.chunks_sent.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        llm.state.chunks_sent.load(Ordering::SeqCst),
        chunks,
        "the model kept generating"
    );
    assert!(
        chunks < 40,
        "the whole answer was generated ({chunks} chunks)"
    );
    assert_eq!(llm.state.streams_completed.load(Ordering::SeqCst), 0);
    let after_stream = settled(&server, 3.0).await;
    assert_eq!(after_stream.requests, 3.0, "counted more than once");
    assert_eq!(
        after_stream.cancelled, 3.0,
        "an abandoned stream was not counted as cancelled"
    );
    assert_eq!(after_stream.in_flight, 0.0);
    assert_eq!(
        after_stream.llm_cancelled, 2.0,
        "the abandoned stream's model call was not recorded as cancelled"
    );

    // The spans say the same: error.type="cancelled" on the server span of each request.
    let ids = [waiting, uploading, streaming];
    let spans = receiver
        .wait_for_spans(
            |spans| {
                ids.iter().all(|id| {
                    spans
                        .iter()
                        .any(|s| &s.trace_id == id && s.kind == SpanKind::Server)
                })
            },
            Duration::from_secs(20),
        )
        .await;
    for id in &ids {
        let server_span = spans
            .iter()
            .find(|s| &s.trace_id == id && s.kind == SpanKind::Server)
            .unwrap_or_else(|| panic!("no server span for trace {id}"));
        assert_eq!(
            server_span.attr("error.type").as_deref(),
            Some("cancelled"),
            "{server_span:#?}"
        );
    }
    for id in [&ids[0], &ids[2]] {
        let chat = spans
            .iter()
            .find(|s| &s.trace_id == id && s.name.starts_with("chat "))
            .unwrap_or_else(|| panic!("no chat span for trace {id}"));
        assert_eq!(
            chat.attr("error.type").as_deref(),
            Some("cancelled"),
            "{chat:#?}"
        );
    }
    let end = counts(&server).await;
    println!(
        "client aborts: {} requests, {} counted as 499, {} model calls cancelled, in flight {}",
        end.requests, end.cancelled, end.llm_cancelled, end.in_flight
    );
}
