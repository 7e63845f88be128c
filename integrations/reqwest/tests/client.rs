//! unitel-reqwest against a real axum server on 127.0.0.1: spans, propagation, metrics,
//! error types, retries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use tracing::Instrument as _;
use unitel::Registry;
use unitel_reqwest::{ClientMetricsMiddleware, UrlTemplate};
use unitel_testkit::otlp::{SpanKind, StatusCode as SpanStatus};

use common::{span, telemetry};

/// A real HTTP server: `/items/{id}` echoes the `traceparent` it received, `/fail` answers 503,
/// `/slow` answers after 5 s, `/flaky` fails twice out of three.
async fn start_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let flaky_calls = Arc::new(AtomicUsize::new(0));
    let calls = Arc::clone(&flaky_calls);
    let app = Router::new()
        .route(
            "/items/{id}",
            get(|headers: HeaderMap| async move {
                let seen = headers
                    .get("traceparent")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                ([("x-seen-traceparent", seen)], "item")
            }),
        )
        .route(
            "/baggage",
            get(|headers: HeaderMap| async move {
                headers
                    .get("baggage")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            }),
        )
        .route("/fail", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/flaky",
            get(move || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n % 3 < 2 {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, flaky_calls)
}

fn client(registry: &Registry, timeout: Duration) -> ClientWithMiddleware {
    let inner = reqwest::Client::builder().timeout(timeout).build().unwrap();
    ClientBuilder::new(inner)
        .with(ClientMetricsMiddleware::with_registry(registry))
        .build()
}

fn requests(registry: &Registry, status: &str) -> f64 {
    registry
        .counter(&unitel::catalog::HTTP_CLIENT_REQUESTS_TOTAL)
        .with_labels(&["GET", "127.0.0.1", status])
        .value()
}

fn durations(registry: &Registry) -> u64 {
    registry
        .histogram(&unitel::catalog::HTTP_CLIENT_REQUEST_DURATION_SECONDS)
        .with_labels(&["GET", "127.0.0.1"])
        .snapshot()
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_one_client_span_with_a_redacted_url_and_propagated_context() {
    let telemetry = telemetry();
    let (addr, _) = start_server().await;
    let registry = Registry::new();
    let client = client(&registry, Duration::from_secs(5));

    let root = unitel::trace::start_span("client_ok scenario");
    let response = client
        .get(format!(
            "http://user:secret@{addr}/items/7?token=abc&page=2#section"
        ))
        .with_extension(UrlTemplate::new("/items/{id}"))
        .send()
        .instrument(root.clone())
        .await
        .unwrap();
    drop(root);
    assert_eq!(response.status(), 200);
    let seen = response.headers()["x-seen-traceparent"]
        .to_str()
        .unwrap()
        .to_owned();

    assert_eq!(requests(&registry, "200"), 1.0);
    assert_eq!(durations(&registry), 1);

    let trace = telemetry.trace_of("client_ok scenario", 2).await;
    let root = &trace[0];
    let call = span(&trace, "GET /items/{id}");
    assert_eq!(call.parent_span_id, root.span_id);
    assert_eq!(call.kind, SpanKind::Client);
    assert_eq!(call.status_code, SpanStatus::Unset);
    assert_eq!(call.attr("http.request.method").as_deref(), Some("GET"));
    assert_eq!(call.attr("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(call.attr("server.port"), Some(addr.port().to_string()));
    assert_eq!(call.attr("url.template").as_deref(), Some("/items/{id}"));
    assert_eq!(
        call.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    // reqwest moves URL credentials into an Authorization header before the middleware
    // runs; the query values and the fragment are redacted by unitel.
    assert_eq!(
        call.attr("url.full"),
        Some(format!(
            "http://{addr}/items/7?token=REDACTED&page=REDACTED"
        ))
    );
    assert_eq!(
        seen,
        format!("00-{}-{}-01", call.trace_id, call.span_id),
        "the server received the client span's context"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baggage_and_trace_of_an_incoming_request_are_forwarded() {
    let telemetry = telemetry();
    let (addr, _) = start_server().await;
    let registry = Registry::new();
    let client = client(&registry, Duration::from_secs(5));

    // As a server would: continue the caller's trace and baggage.
    let mut incoming = HeaderMap::new();
    incoming.insert(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            .parse()
            .unwrap(),
    );
    incoming.insert("baggage", "tenant=acme,plan=gold".parse().unwrap());
    let handler = unitel::trace::start_span("client_baggage scenario");
    unitel::extract_context(&incoming).set_parent_of(&handler);
    let forwarded = client
        .get(format!("http://{addr}/baggage"))
        .send()
        .instrument(handler.clone())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    drop(handler);
    let mut entries: Vec<_> = forwarded.split(',').map(str::trim).collect();
    entries.sort_unstable();
    assert_eq!(entries, ["plan=gold", "tenant=acme"], "{forwarded:?}");

    let trace = telemetry.trace_of("client_baggage scenario", 2).await;
    assert_eq!(trace[0].trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(trace[0].parent_span_id, "b7ad6b7169203331");
    assert_eq!(span(&trace, "GET").parent_span_id, trace[0].span_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_timeouts_refusals_and_cancellations_are_counted_by_error_type() {
    let telemetry = telemetry();
    let (addr, _) = start_server().await;
    let registry = Registry::new();
    let client = client(&registry, Duration::from_millis(300));
    let refused_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };

    let root = unitel::trace::start_span("client_errors scenario");
    async {
        let fail = client
            .get(format!("http://{addr}/fail"))
            .send()
            .await
            .unwrap();
        assert_eq!(fail.status(), 503);
        let slow = client.get(format!("http://{addr}/slow")).send().await;
        assert!(slow.unwrap_err().is_timeout());
        let refused = client
            .get(format!("http://127.0.0.1:{refused_port}/nothing-listens"))
            .send()
            .await;
        assert!(refused.unwrap_err().is_connect());
        let cancelled = tokio::time::timeout(
            Duration::from_millis(50),
            client.get(format!("http://{addr}/slow")).send(),
        )
        .await;
        assert!(cancelled.is_err(), "the caller gave up first");
    }
    .instrument(root.clone())
    .await;
    drop(root);

    assert_eq!(requests(&registry, "503"), 1.0);
    assert_eq!(requests(&registry, "timeout"), 1.0);
    assert_eq!(requests(&registry, "connection_refused"), 1.0);
    assert_eq!(requests(&registry, "cancelled"), 1.0);
    assert_eq!(durations(&registry), 4);
    if let Some(check) =
        unitel_testkit::promtool_check_metrics(&unitel::prometheus::render_registry(&registry))
    {
        check.expect("promtool check metrics");
    }

    let trace = telemetry.trace_of("client_errors scenario", 5).await;
    let calls: Vec<_> = trace.iter().filter(|s| s.name == "GET").collect();
    assert_eq!(calls.len(), 4, "{trace:#?}");
    let mut error_types: Vec<_> = calls
        .iter()
        .map(|s| {
            assert_eq!(s.status_code, SpanStatus::Error, "{s:#?}");
            assert_eq!(s.kind, SpanKind::Client);
            s.attr("error.type").unwrap()
        })
        .collect();
    error_types.sort();
    assert_eq!(
        error_types,
        ["503", "cancelled", "connection_refused", "timeout"]
    );
    let fail = calls
        .iter()
        .find(|s| s.attr("error.type").as_deref() == Some("503"))
        .unwrap();
    assert_eq!(
        fail.attr("http.response.status_code").as_deref(),
        Some("503")
    );
}

/// Retries a request answered with a 5xx, up to `attempts` times in all.
struct RetryServerErrors {
    attempts: usize,
}

#[async_trait::async_trait]
impl Middleware for RetryServerErrors {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let mut attempt = 1;
        loop {
            let request = req.try_clone().expect("a body-less request clones");
            let result = next.clone().run(request, extensions).await;
            let retry = matches!(&result, Ok(r) if r.status().is_server_error());
            if !retry || attempt >= self.attempts {
                return result;
            }
            attempt += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_request_is_one_span_and_one_count() {
    let telemetry = telemetry();
    let (addr, flaky_calls) = start_server().await;
    let registry = Registry::new();
    let inner = reqwest::Client::builder().build().unwrap();
    let client = ClientBuilder::new(inner)
        .with(ClientMetricsMiddleware::with_registry(&registry))
        .with(RetryServerErrors { attempts: 3 })
        // A second instance (inside the retry) steps aside: still one record.
        .with(ClientMetricsMiddleware::with_registry(&registry))
        .build();

    let root = unitel::trace::start_span("client_retry scenario");
    let response = client
        .get(format!("http://{addr}/flaky"))
        .send()
        .instrument(root.clone())
        .await
        .unwrap();
    drop(root);
    assert_eq!(response.status(), 200);
    assert_eq!(
        flaky_calls.load(Ordering::SeqCst),
        3,
        "two failures, then success"
    );

    assert_eq!(requests(&registry, "200"), 1.0);
    assert_eq!(requests(&registry, "503"), 0.0);
    assert_eq!(durations(&registry), 1);
    let trace = telemetry.trace_of("client_retry scenario", 2).await;
    let calls: Vec<_> = trace.iter().filter(|s| s.name == "GET").collect();
    assert_eq!(calls.len(), 1, "{trace:#?}");
    assert_eq!(
        calls[0].attr("http.response.status_code").as_deref(),
        Some("200")
    );
}
