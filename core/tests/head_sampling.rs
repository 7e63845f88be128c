//! Head sampling of server requests: decided before the span exists, applied once, and
//! followed by every span the request opens. A sampled request exports its server span and its
//! children; an unsampled one exports nothing at all (no server span, no orphaned children),
//! and propagates flags `00` downstream; a caller's `sampled` flag decides for its requests.
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use unitel::config::{SamplerConfig, TracesExporter};
use unitel::http::server::{HttpServerConfig, HttpServerRecorder, RequestParts};
use unitel::{Registry, TelemetryConfig};
use unitel_testkit::OtlpReceiver;
use unitel_testkit::otlp::SpanKind;

const ROOTS: usize = 400;
const WITH_PARENT: usize = 20;

/// Serves one request: the server span, a child span opened by the "handler", and the
/// `traceparent` the handler would send downstream.
fn serve(recorder: &HttpServerRecorder, headers: &http::HeaderMap, agent: &str) -> Option<String> {
    let mut request = recorder.start(&RequestParts {
        method: "GET",
        route: Some("/api/items/{id}"),
        path: "/api/items/1",
        scheme: None,
        version: http::Version::HTTP_11,
        headers,
    });
    let downstream = {
        let _scope = request.enter();
        let child = tracing::info_span!("load item", otel.kind = "client", test.agent = agent);
        let _child = child.enter();
        let mut out = http::HeaderMap::new();
        unitel::trace::propagation::inject_context(&mut out);
        out.get("traceparent")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    request.response_started(200);
    request.finish();
    downstream
}

fn traceparent(trace_id: &str, flags: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-{flags}")
            .parse()
            .unwrap(),
    );
    headers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_is_made_once_and_every_span_of_the_request_follows_it() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let config = TelemetryConfig::builder()
        .service_name("head-sampling")
        .sampler(SamplerConfig::ParentBasedRatio(0.5))
        .otlp_endpoint(receiver.endpoint())
        .traces_exporters([TracesExporter::Otlp])
        .traces_schedule_delay(Duration::from_millis(50))
        .log_filter("warn")
        .build()
        .unwrap();
    let guard = unitel::init(config).unwrap();
    let registry = Registry::new();
    let recorder = HttpServerRecorder::new(HttpServerConfig::new().registry(registry.clone()));

    // Roots: about half are sampled; each sampled one exports its server span and its child.
    let no_headers = http::HeaderMap::new();
    let mut downstream = Vec::new();
    for i in 0..ROOTS {
        downstream.push(serve(&recorder, &no_headers, &format!("root-{i}")));
    }
    // Callers' decisions: flags 01 are followed, flags 00 are followed.
    let sampled_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let unsampled_trace = "5bf92f3577b34da6a3ce929d0e0e4737";
    for i in 0..WITH_PARENT {
        let down = serve(
            &recorder,
            &traceparent(sampled_trace, "01"),
            &format!("p01-{i}"),
        );
        assert!(down.unwrap().ends_with("-01"));
        let down = serve(
            &recorder,
            &traceparent(unsampled_trace, "00"),
            &format!("p00-{i}"),
        );
        let down = down.expect("an unsampled request still propagates its trace");
        assert!(
            down.starts_with(&format!("00-{unsampled_trace}-")) && down.ends_with("-00"),
            "{down}"
        );
    }

    guard.force_flush();
    let spans = receiver
        .wait_for_spans(
            |s| s.iter().filter(|s| s.trace_id == sampled_trace).count() >= 2 * WITH_PARENT,
            Duration::from_secs(10),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let spans = if spans.len() < receiver.spans().len() {
        receiver.spans()
    } else {
        spans
    };

    let servers: BTreeMap<&str, _> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Server)
        .map(|s| (s.span_id.as_str(), s))
        .collect();
    let children: Vec<_> = spans.iter().filter(|s| s.name == "load item").collect();
    // Every exported child hangs off an exported server span of its trace: no orphans.
    for child in &children {
        let parent = servers
            .get(child.parent_span_id.as_str())
            .unwrap_or_else(|| panic!("child without an exported server span: {child:#?}"));
        assert_eq!(parent.trace_id, child.trace_id);
    }
    assert_eq!(
        children.len(),
        servers.len(),
        "one child per exported request"
    );

    // Roots: the ratio was applied once (not squared), and unsampled roots exported nothing.
    let sampled_roots = children
        .iter()
        .filter(|c| c.attr("test.agent").is_some_and(|a| a.starts_with("root-")))
        .count();
    assert!(
        (ROOTS * 3 / 10..=ROOTS * 7 / 10).contains(&sampled_roots),
        "{sampled_roots} of {ROOTS} roots sampled at ratio 0.5"
    );
    let sampled_downstream = downstream
        .iter()
        .flatten()
        .filter(|t| t.ends_with("-01"))
        .count();
    assert_eq!(sampled_downstream, sampled_roots);
    assert!(
        downstream.iter().all(Option::is_some),
        "an unsampled root still propagates a (non-sampled) trace"
    );

    // The caller's flags decided: all 01 requests exported under the caller's span, no 00.
    let from_sampled: Vec<_> = servers
        .values()
        .filter(|s| s.trace_id == sampled_trace)
        .collect();
    assert_eq!(from_sampled.len(), WITH_PARENT);
    assert!(
        from_sampled
            .iter()
            .all(|s| s.parent_span_id == "00f067aa0ba902b7")
    );
    assert!(
        !spans.iter().any(|s| s.trace_id == unsampled_trace),
        "a span of a caller-unsampled trace was exported"
    );

    // Metrics count every request, sampled or not.
    assert!(
        unitel::prometheus::render_registry(&registry).contains(&format!(
            "http_requests_total{{method=\"GET\",route=\"/api/items/{{id}}\",status=\"200\"}} {}",
            ROOTS + 2 * WITH_PARENT
        ))
    );
    guard.shutdown().await.unwrap();
}
