//! The conformance suite: the same scenarios, run against axum and actix (each test binary
//! includes this file), checked against the same literal expectations: identical label values
//! and identical span attributes for the same requests.
//!
//! Metrics go to a local registry per test; spans go through the process-wide pipeline (one
//! `unitel::init` per binary) to the testkit's real OTLP receiver.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use unitel::config::TracesExporter;
use unitel::http::server::HttpServerConfig;
use unitel::prometheus::render_registry;
use unitel::{Registry, TelemetryConfig, TelemetryGuard};
use unitel_testkit::otlp::{SpanKind, StatusCode};
use unitel_testkit::{OtlpReceiver, ReceivedSpan};

use crate::support::{
    ServerOptions, client, in_flight_total, labels, route_labels, series, wait_until,
};

/// Bearer token of the process configuration in the conformance binaries.
const METRICS_TOKEN: &str = "conformance-token";

fn telemetry() -> &'static (OtlpReceiver, TelemetryGuard) {
    static TELEMETRY: OnceLock<(OtlpReceiver, TelemetryGuard)> = OnceLock::new();
    TELEMETRY.get_or_init(|| {
        let receiver = OtlpReceiver::start_blocking().unwrap();
        let config = TelemetryConfig::builder()
            .service_name("unitel-conformance")
            .otlp_endpoint(receiver.endpoint())
            .traces_exporters([TracesExporter::Otlp])
            .traces_schedule_delay(Duration::from_millis(100))
            .metrics_token(METRICS_TOKEN)
            .log_filter("warn")
            .build()
            .unwrap();
        let guard = unitel::init(config).unwrap();
        (receiver, guard)
    })
}

/// Flushes and waits until a span carries each of `agents` as `user_agent.original`.
async fn spans_by_agent(agents: &[String]) -> BTreeMap<String, ReceivedSpan> {
    let (receiver, guard) = telemetry();
    let found = |spans: &[ReceivedSpan]| {
        let mut out = BTreeMap::new();
        for span in spans {
            if let Some(agent) = span.attr("user_agent.original")
                && agents.contains(&agent)
            {
                out.insert(agent, span.clone());
            }
        }
        out
    };
    guard.force_flush();
    let spans = receiver
        .wait_for_spans(|s| found(s).len() == agents.len(), Duration::from_secs(10))
        .await;
    let out = found(&spans);
    assert_eq!(
        out.len(),
        agents.len(),
        "missing spans; got {:#?}",
        out.keys()
    );
    out
}

/// The attributes the integrations set, as strings (`None` = absent), plus name/kind/status.
fn span_view(span: &ReceivedSpan) -> BTreeMap<&'static str, Option<String>> {
    const KEYS: [&str; 11] = [
        "http.request.method",
        "http.request.method_original",
        "http.route",
        "http.response.status_code",
        "url.path",
        "url.scheme",
        "network.protocol.version",
        "server.address",
        "server.port",
        "error.type",
        "url.query",
    ];
    let mut view: BTreeMap<&'static str, Option<String>> =
        KEYS.iter().map(|k| (*k, span.attr(k))).collect();
    view.insert("(name)", Some(span.name.clone()));
    view.insert("(kind)", Some(format!("{:?}", span.kind)));
    view.insert("(status)", Some(format!("{:?}", span.status_code)));
    view
}

/// One request of the scripted mix and what both frameworks must record for it.
struct Step {
    method: &'static str,
    path: &'static str,
    status: u16,
    /// The route template; `None` = matched no route.
    route: Option<&'static str>,
    /// `error.type` on the span.
    error: Option<&'static str>,
}

const fn step(
    method: &'static str,
    path: &'static str,
    status: u16,
    route: Option<&'static str>,
    error: Option<&'static str>,
) -> Step {
    Step {
        method,
        path,
        status,
        route,
        error,
    }
}

const ITEM: Option<&str> = Some("/api/items/{id}");

const SCRIPT: &[Step] = &[
    step("GET", "/api/items/1", 200, ITEM, None),
    step("GET", "/api/items/1", 200, ITEM, None),
    step("GET", "/api/items/abc", 200, ITEM, None),
    step("HEAD", "/api/items/3", 200, ITEM, None),
    step("DELETE", "/api/items/4", 204, ITEM, None),
    step("POST", "/api/items", 201, Some("/api/items"), None),
    step("POST", "/api/items", 201, Some("/api/items"), None),
    step("GET", "/api/fail", 500, Some("/api/fail"), Some("500")),
    step("GET", "/api/fail", 500, Some("/api/fail"), Some("500")),
    step("GET", "/api/panic", 500, Some("/api/panic"), Some("panic")),
    step("GET", "/v1/nested/abc", 200, Some("/v1/nested/{x}"), None),
    step("GET", "/no/such/route", 404, None, None),
    step("GET", "/api/items/1/extra", 404, None, None),
    step("PUT", "/api/items/1", 405, ITEM, None),
    step("BREW", "/api/items/1", 405, ITEM, None),
];

/// Requests that are excluded (no metrics, no span).
const EXCLUDED: &[&str] = &["/health", "/metrics"];

fn expected_span(step: &Step) -> BTreeMap<&'static str, Option<String>> {
    let standard = unitel::http::method_label_from_str(step.method);
    let name_method = if standard == "_OTHER" {
        "HTTP"
    } else {
        standard
    };
    let name = match step.route {
        Some(route) => format!("{name_method} {route}"),
        None => name_method.to_owned(),
    };
    let s = |v: &str| Some(v.to_owned());
    BTreeMap::from([
        ("(name)", Some(name)),
        ("(kind)", s("Server")),
        (
            "(status)",
            s(if step.error.is_some() {
                "Error"
            } else {
                "Unset"
            }),
        ),
        ("http.request.method", s(standard)),
        (
            "http.request.method_original",
            (standard == "_OTHER").then(|| step.method.to_owned()),
        ),
        ("http.route", step.route.map(str::to_owned)),
        ("http.response.status_code", Some(step.status.to_string())),
        ("url.path", s(step.path)),
        ("url.scheme", s("http")),
        ("network.protocol.version", s("1.1")),
        ("server.address", s("conformance.test")),
        ("server.port", s("8443")),
        ("error.type", step.error.map(str::to_owned)),
        ("url.query", None),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_mix_gives_exact_counts_and_semconv_spans() {
    telemetry();
    let registry = Registry::new();
    let config = HttpServerConfig::new()
        .registry(registry.clone())
        .excluded_path("/health")
        .server_address("conformance.test")
        .server_port(8443);
    let server = crate::start_server(ServerOptions::local(&registry).with_config(config)).await;
    let client = client();

    let mut agents = Vec::new();
    for (i, step) in SCRIPT.iter().enumerate() {
        let agent = format!("conformance/mix/{i}");
        let method = reqwest::Method::from_bytes(step.method.as_bytes()).unwrap();
        let response = client
            .request(method, server.url(&format!("{}?secret=hunter2", step.path)))
            .header("user-agent", &agent)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            step.status,
            "{} {}",
            step.method,
            step.path
        );
        response.bytes().await.unwrap();
        agents.push(agent);
    }
    for path in EXCLUDED {
        let response = client
            .get(server.url(path))
            .header("user-agent", "conformance/excluded")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }

    // Exact counts: every series expected, nothing else.
    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    let mut expected_in_flight: BTreeMap<String, f64> = BTreeMap::new();
    for step in SCRIPT {
        let method = unitel::http::method_label_from_str(step.method);
        let route = step.route.unwrap_or("unmatched");
        *expected
            .entry(labels(method, route, &step.status.to_string()))
            .or_default() += 1.0;
        expected_in_flight.insert(route_labels(method, route), 0.0);
    }
    let text = render_registry(&registry);
    assert_eq!(series(&text, "http_requests_total"), expected, "{text}");
    assert_eq!(
        series(&text, "http_request_duration_seconds_count"),
        expected
    );
    assert_eq!(series(&text, "http_requests_in_flight"), expected_in_flight);
    assert!(
        !text.contains("hunter2") && !text.contains("/health"),
        "{text}"
    );

    // Identical span attributes for the same requests.
    let spans = spans_by_agent(&agents).await;
    for (step, agent) in SCRIPT.iter().zip(&agents) {
        let span = &spans[agent];
        assert_eq!(
            span_view(span),
            expected_span(step),
            "{} {}",
            step.method,
            step.path
        );
        assert_eq!(span.kind, SpanKind::Server);
        assert!(span.is_root(), "no traceparent was sent: {span:?}");
        let code = span.attr_value("http.response.status_code").unwrap();
        assert_eq!(
            code.as_i64(),
            Some(i64::from(step.status)),
            "status code is an int"
        );
        assert_eq!(span.attr_value("server.port").unwrap().as_i64(), Some(8443));
    }
    let all = telemetry().0.spans();
    assert!(
        !all.iter()
            .any(|s| s.attr("user_agent.original").as_deref() == Some("conformance/excluded")),
        "excluded paths must not produce spans"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceparent_continues_the_callers_trace_and_malformed_starts_a_new_one() {
    telemetry();
    let registry = Registry::new();
    let config = HttpServerConfig::new()
        .registry(registry.clone())
        .traceparent_header(true);
    let server = crate::start_server(ServerOptions::local(&registry).with_config(config)).await;
    let client = client();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";

    let response = client
        .get(server.url("/api/items/9"))
        .header("user-agent", "conformance/trace/known")
        .header("traceparent", format!("00-{trace_id}-{parent_id}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let header = response.headers()["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = header.split('-').collect();
    assert_eq!(parts[1], trace_id, "{header}");
    assert_ne!(parts[2], parent_id, "{header}");

    let invalid_before = unitel::registry()
        .counter(&unitel::catalog::INSTRUMENTATION_ERRORS_TOTAL)
        .with_labels(&["invalid_header"])
        .value();
    let response = client
        .get(server.url("/api/items/10"))
        .header("user-agent", "conformance/trace/malformed")
        .header("traceparent", "00-zzzz-not-a-trace-01")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let invalid_after = unitel::registry()
        .counter(&unitel::catalog::INSTRUMENTATION_ERRORS_TOTAL)
        .with_labels(&["invalid_header"])
        .value();
    assert_eq!(
        invalid_after - invalid_before,
        1.0,
        "malformed traceparent is counted"
    );

    let spans = spans_by_agent(&[
        "conformance/trace/known".to_owned(),
        "conformance/trace/malformed".to_owned(),
    ])
    .await;
    let known = &spans["conformance/trace/known"];
    assert_eq!(known.trace_id, trace_id);
    assert_eq!(known.parent_span_id, parent_id);
    assert_eq!(
        known.span_id, parts[2],
        "the response header names the server span"
    );
    let fresh = &spans["conformance/trace/malformed"];
    assert!(fresh.is_root());
    assert_ne!(fresh.trace_id, trace_id);

    let text = render_registry(&registry);
    assert_eq!(
        series(&text, "http_requests_total"),
        BTreeMap::from([(labels("GET", "/api/items/{id}", "200"), 2.0)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnects_are_recorded_once_as_cancelled() {
    telemetry();
    let registry = Registry::new();
    let server = crate::start_server(ServerOptions::local(&registry)).await;

    // Mid-request: the handler is still running when the client gives up.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = impatient
        .get(server.url("/api/slow"))
        .header("user-agent", "conformance/cancel/request")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let cancelled = labels("GET", "/api/slow", "499");
    wait_until(
        "the cancelled request to be recorded",
        Duration::from_secs(10),
        || series(&render_registry(&registry), "http_requests_total").get(&cancelled) == Some(&1.0),
    )
    .await;
    assert_eq!(in_flight_total(&registry), 0.0);

    // Mid-body: headers and a first chunk arrive, then the client drops the response.
    let client = client();
    let mut response = client
        .get(server.url("/api/stream"))
        .header("user-agent", "conformance/cancel/body")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let first = response.chunk().await.unwrap().unwrap();
    assert_eq!(&first[..], b"first\n");
    assert_eq!(
        in_flight_total(&registry),
        1.0,
        "the body is still being sent"
    );
    drop(response);
    let cancelled_body = labels("GET", "/api/stream", "499");
    wait_until(
        "the cancelled body to be recorded",
        Duration::from_secs(10),
        || {
            series(&render_registry(&registry), "http_requests_total").get(&cancelled_body)
                == Some(&1.0)
        },
    )
    .await;
    assert_eq!(in_flight_total(&registry), 0.0);

    // Mid-upload: the handler is reading the body when the client goes away. Whatever the
    // handler answers (its body extractor fails), nobody receives it: 499, not 400.
    let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    socket
        .write_all(
            b"POST /api/upload HTTP/1.1\r\nHost: x\r\nUser-Agent: conformance/cancel/upload\r\n\
              Content-Length: 10000\r\n\r\n0123456789",
        )
        .await
        .unwrap();
    wait_until(
        "the upload to be in flight",
        Duration::from_secs(10),
        || in_flight_total(&registry) == 1.0,
    )
    .await;
    drop(socket);
    let cancelled_upload = labels("POST", "/api/upload", "499");
    wait_until(
        "the cut upload to be recorded",
        Duration::from_secs(10),
        || {
            let text = render_registry(&registry);
            series(&text, "http_requests_total").len() >= 3 && in_flight_total(&registry) == 0.0
        },
    )
    .await;

    // Each recorded once, under 499 only.
    let text = render_registry(&registry);
    assert_eq!(
        series(&text, "http_requests_total"),
        BTreeMap::from([
            (cancelled, 1.0),
            (cancelled_body, 1.0),
            (cancelled_upload, 1.0)
        ])
    );

    let spans = spans_by_agent(&[
        "conformance/cancel/request".to_owned(),
        "conformance/cancel/body".to_owned(),
        "conformance/cancel/upload".to_owned(),
    ])
    .await;
    let request = &spans["conformance/cancel/request"];
    assert_eq!(request.attr("error.type").as_deref(), Some("cancelled"));
    assert_eq!(request.attr("http.response.status_code"), None);
    assert_eq!(request.status_code, StatusCode::Error);
    let body = &spans["conformance/cancel/body"];
    assert_eq!(body.attr("error.type").as_deref(), Some("cancelled"));
    assert_eq!(
        body.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(body.status_code, StatusCode::Error);
    let upload = &spans["conformance/cancel/upload"];
    assert_eq!(upload.attr("error.type").as_deref(), Some("cancelled"));
    assert_eq!(upload.attr("http.response.status_code"), None);
    assert_eq!(upload.status_code, StatusCode::Error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_route_honours_the_configured_token() {
    telemetry();
    let registry = Registry::new();
    let options = ServerOptions {
        config: HttpServerConfig::new().registry(registry.clone()),
        metrics: None,
    };
    let server = crate::start_server(options).await;
    let client = client();

    let status = |r: &reqwest::Response| r.status().as_u16();
    let missing = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(status(&missing), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let wrong = client
        .get(server.url("/metrics"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(status(&wrong), 401);
    let right = client
        .get(server.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(status(&right), 200);
    assert_eq!(
        right.headers()["content-type"],
        unitel::prometheus::CONTENT_TYPE
    );
    let text = right.text().await.unwrap();
    assert!(
        text.contains("# TYPE http_requests_total counter"),
        "{text}"
    );
    assert!(!text.contains(METRICS_TOKEN));

    // The metrics path is excluded by default: scraping records nothing.
    assert!(series(&render_registry(&registry), "http_requests_total").is_empty());
}
