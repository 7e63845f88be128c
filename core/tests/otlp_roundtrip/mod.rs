//! The OTLP round trip shared by `otlp_grpc.rs` and `otlp_http.rs`: spans and metrics exported
//! to the testkit's real receiver, checked for resource, names, parents and values.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::time::Duration;

use tracing::Instrument as _;
use unitel::TelemetryConfig;
use unitel::config::{MetricsExporter, OtlpProtocol, TracesExporter};
use unitel::trace::{add_span_event, record_error, set_span_attribute, start_span};
use unitel_testkit::OtlpReceiver;

/// Runs the round trip over `protocol` (one `unitel::init` per test binary).
pub async fn spans_and_metrics_round_trip(protocol: OtlpProtocol) {
    let receiver = OtlpReceiver::start().await.unwrap();
    let (service, endpoint) = match protocol {
        OtlpProtocol::Grpc => ("otlp-grpc-test", receiver.endpoint()),
        OtlpProtocol::HttpProtobuf => ("otlp-http-test", receiver.http_endpoint()),
    };
    let config = TelemetryConfig::builder()
        .service_name(service)
        .service_version("9.9.9")
        .deployment_environment("ci")
        .resource_attribute("team", "search")
        .otlp_endpoint(endpoint)
        .otlp_protocol(protocol)
        .traces_exporters([TracesExporter::Otlp])
        .metrics_exporters([MetricsExporter::Prometheus, MetricsExporter::Otlp])
        .metrics_export_interval(Duration::from_millis(300))
        .traces_schedule_delay(Duration::from_millis(100))
        .log_filter("warn")
        .build()
        .unwrap();
    let guard = unitel::init(config).unwrap();

    // Parent/child spans with the seed's helpers.
    let parent = start_span("complex_operation");
    async {
        set_span_attribute("operation.type", "batch_processing");
        add_span_event("Processing started", &[("batch_size", 100.into())]);
        let child = start_span("child_step");
        let _e = child.enter();
        record_error(&std::io::Error::other("disk on fire"));
    }
    .instrument(parent.clone())
    .await;
    drop(parent);

    // A remote parent from a traceparent header.
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    let remote = unitel::extract_context(&headers);
    let server = start_span("GET /api/items/{id}");
    remote.set_parent_of(&server);
    let mut outgoing = http::HeaderMap::new();
    server.in_scope(|| unitel::inject_context(&mut outgoing));
    let injected = outgoing["traceparent"].to_str().unwrap().to_owned();
    assert!(
        injected.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{injected}"
    );
    drop(server);

    // A malformed traceparent starts a new root and never errors.
    headers.insert("traceparent", "00-zzzz-nope-01".parse().unwrap());
    let fresh = start_span("fresh_root");
    unitel::extract_context(&headers).set_parent_of(&fresh);
    drop(fresh);

    unitel::registry()
        .counter(&unitel::catalog::LLM_TOKENS_USED_TOTAL)
        .with_labels(&["openai", "gpt-4", "input"])
        .add(1234);
    unitel::registry()
        .histogram(&unitel::catalog::GEN_AI_CLIENT_OPERATION_DURATION)
        .with_labels(&["chat", "openai", "gpt-4", ""])
        .observe(0.7);

    guard.force_flush();
    let spans = receiver
        .wait_for_spans(|s| s.len() >= 4, Duration::from_secs(10))
        .await;
    let by_name = |n: &str| {
        spans
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("no span {n}: {spans:#?}"))
    };
    let parent = by_name("complex_operation");
    let child = by_name("child_step");
    assert_eq!(child.trace_id, parent.trace_id);
    assert_eq!(child.parent_span_id, parent.span_id);
    assert!(parent.is_root());
    assert_eq!(
        parent.attr("operation.type").as_deref(),
        Some("batch_processing")
    );
    assert_eq!(
        parent
            .event("Processing started")
            .unwrap()
            .attr("batch_size")
            .as_deref(),
        Some("100")
    );
    assert_eq!(
        child.status_code,
        unitel_testkit::otlp::StatusCode::Error,
        "child status must be Error"
    );
    assert!(child.event("exception").is_some());
    assert_eq!(
        parent.resource_attr("service.name").as_deref(),
        Some(service)
    );
    assert_eq!(
        parent.resource_attr("service.version").as_deref(),
        Some("9.9.9")
    );
    assert_eq!(
        parent
            .resource_attr("deployment.environment.name")
            .as_deref(),
        Some("ci")
    );
    assert_eq!(parent.resource_attr("team").as_deref(), Some("search"));
    let server = by_name("GET /api/items/{id}");
    assert_eq!(server.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(server.parent_span_id, "00f067aa0ba902b7");
    let fresh = by_name("fresh_root");
    assert!(fresh.is_root());
    assert_ne!(fresh.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");

    let metrics = receiver
        .wait_for_metrics(
            |m| {
                m.iter()
                    .any(|m| m.name == "gen_ai.client.operation.duration")
            },
            Duration::from_secs(10),
        )
        .await;
    let tokens = metrics
        .iter()
        .rev()
        .find(|m| m.name == "llm_tokens_used_total")
        .expect("tokens metric");
    let point = tokens
        .point(&[("provider", "openai"), ("token_type", "input")])
        .expect("point");
    assert_eq!(point.value.as_f64(), Some(1234.0));
    assert_eq!(
        tokens.resource_attr("service.name").as_deref(),
        Some(service)
    );
    let genai = metrics
        .iter()
        .rev()
        .find(|m| m.name == "gen_ai.client.operation.duration")
        .unwrap();
    let p = genai
        .point(&[("gen_ai.request.model", "gpt-4")])
        .expect("genai point");
    assert_eq!(p.value.as_histogram().unwrap().count, 1);
    assert_eq!(genai.unit, "s");

    let invalid = unitel::registry()
        .counter(&unitel::catalog::INSTRUMENTATION_ERRORS_TOTAL)
        .with_labels(&["invalid_header"])
        .value();
    assert_eq!(invalid, 1.0);
    guard.shutdown().await.unwrap();
}
