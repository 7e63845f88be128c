//! The server span of the HTTP recorder under `init`'s trace pipeline is an OpenTelemetry span
//! started directly (not a `tracing` span). What a handler does while the request is served
//! still lands on it: `tracing` child spans (also ones created later from a captured
//! [`SpanParent`]), log events, the span helpers and errors, and the `traceparent` response
//! header names it.
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use unitel::config::TracesExporter;
use unitel::http::server::{HttpServerConfig, HttpServerRecorder, RequestParts};
use unitel::trace::SpanParent;
use unitel::{Registry, TelemetryConfig};
use unitel_testkit::OtlpReceiver;
use unitel_testkit::otlp::{ReceivedSpan, SpanKind, StatusCode};

fn parts<'a>(path: &'a str, headers: &'a http::HeaderMap) -> RequestParts<'a> {
    RequestParts {
        method: "GET",
        route: Some("/api/items/{id}"),
        path,
        scheme: None,
        version: http::Version::HTTP_11,
        headers,
    }
}

fn one(spans: &[ReceivedSpan], pred: impl Fn(&ReceivedSpan) -> bool) -> &ReceivedSpan {
    let found: Vec<_> = spans.iter().filter(|s| pred(s)).collect();
    assert_eq!(found.len(), 1, "{spans:#?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_handler_does_lands_on_the_direct_server_span() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let config = TelemetryConfig::builder()
        .service_name("server-span")
        .otlp_endpoint(receiver.endpoint())
        .traces_exporters([TracesExporter::Otlp])
        .traces_schedule_delay(Duration::from_millis(50))
        .log_filter("warn")
        .build()
        .unwrap();
    let guard = unitel::init(config).unwrap();
    let registry = Registry::new();
    let recorder = HttpServerRecorder::new(
        HttpServerConfig::new()
            .registry(registry.clone())
            .traceparent_header(true),
    );
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "user-agent",
        http::HeaderValue::from_static("server-span/1"),
    );

    // A request whose handler logs, sets attributes, opens a child and captures a parent for
    // a span it creates after the scope ended (as the sqlx integration does at first poll).
    let mut request = recorder.start(&parts("/api/items/7", &headers));
    assert!(
        request.span().is_disabled(),
        "no `tracing` span on this path"
    );
    let later = {
        let _scope = request.enter();
        tracing::info!(item = 7_i64, "loading item");
        unitel::trace::set_span_attribute("app.tenant", "acme");
        unitel::trace::add_span_event("cache miss", &[("cache.key", "item:7".into())]);
        let child = tracing::info_span!("load item", otel.kind = "client");
        child.in_scope(|| tracing::info!("inside the child"));
        SpanParent::current()
    };
    let late = later.child(|p| tracing::info_span!(parent: p.id(), "late child"));
    drop(late);
    request.response_started(200);
    let header = request
        .traceparent_header()
        .expect("a sampled request names its span");
    request.finish();

    // A failing request: the error helper and an error event.
    let mut failing = recorder.start(&parts("/api/items/8", &headers));
    {
        let _scope = failing.enter();
        unitel::trace::record_error(&std::io::Error::other("disk on fire"));
        tracing::error!(error = "still on fire", "giving up");
    }
    failing.response_started(503);
    failing.finish();

    // Outside any request nothing is current: the helpers do nothing.
    unitel::trace::set_span_attribute("app.stray", "x");

    guard.force_flush();
    let spans = receiver
        .wait_for_spans(|s| s.len() >= 4, Duration::from_secs(10))
        .await;

    let server = one(&spans, |s| {
        s.kind == SpanKind::Server && s.attr("url.path").as_deref() == Some("/api/items/7")
    });
    assert_eq!(server.name, "GET /api/items/{id}");
    assert!(server.is_root());
    assert_eq!(server.status_code, StatusCode::Unset);
    for (key, value) in [
        ("http.request.method", "GET"),
        ("http.route", "/api/items/{id}"),
        ("http.response.status_code", "200"),
        ("url.scheme", "http"),
        ("network.protocol.version", "1.1"),
        ("user_agent.original", "server-span/1"),
        ("app.tenant", "acme"),
    ] {
        assert_eq!(
            server.attr(key).as_deref(),
            Some(value),
            "{key}: {server:#?}"
        );
    }
    assert_eq!(server.scope_name, "unitel");
    let logged = server
        .event("loading item")
        .expect("the log line is an event");
    assert_eq!(logged.attr("item").as_deref(), Some("7"));
    assert_eq!(logged.attr("level").as_deref(), Some("INFO"));
    let miss = server.event("cache miss").expect("add_span_event");
    assert_eq!(miss.attr("cache.key").as_deref(), Some("item:7"));
    assert!(
        server.event("inside the child").is_none(),
        "an event inside a child span belongs to the child"
    );
    assert_eq!(
        header,
        format!("00-{}-{}-01", server.trace_id, server.span_id)
    );

    for name in ["load item", "late child"] {
        let child = one(&spans, |s| s.name == name);
        assert_eq!(child.trace_id, server.trace_id, "{name}");
        assert_eq!(child.parent_span_id, server.span_id, "{name}");
    }
    let child = one(&spans, |s| s.name == "load item");
    assert!(child.event("inside the child").is_some(), "{child:#?}");
    // The server span's times come from the recorder's own clock readings: they still
    // enclose the child's.
    assert!(server.start_time_unix_nano <= child.start_time_unix_nano);
    assert!(child.end_time_unix_nano <= server.end_time_unix_nano);

    let failed = one(&spans, |s| {
        s.kind == SpanKind::Server && s.attr("url.path").as_deref() == Some("/api/items/8")
    });
    assert_eq!(failed.status_code, StatusCode::Error);
    assert_eq!(failed.attr("error.type").as_deref(), Some("503"));
    let exception = failed.event("exception").expect("record_error");
    assert_eq!(
        exception.attr("exception.message").as_deref(),
        Some("disk on fire")
    );
    let logged = failed.event("giving up").expect("the error log line");
    assert_eq!(
        logged.attr("exception.message").as_deref(),
        Some("still on fire")
    );
    assert!(spans.iter().all(|s| s.attr("app.stray").is_none()));
    guard.shutdown().await.unwrap();
}
