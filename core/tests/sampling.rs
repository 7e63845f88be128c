//! Sampling applies to traces only: with a sample rate of 0 no span is exported, while metric
//! counts stay exact.
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use unitel::TelemetryConfig;
use unitel::config::TracesExporter;
use unitel_testkit::OtlpReceiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsampled_traces_do_not_change_metric_counts() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let config = TelemetryConfig::from_lookup(|k| match k {
        "METRICS_SAMPLE_RATE" => Some("0".to_owned()),
        "OTEL_SERVICE_NAME" => Some("sampling-test".to_owned()),
        "RUST_LOG" => Some("warn".to_owned()),
        _ => None,
    })
    .unwrap();
    let config = TelemetryConfig::builder()
        .service_name(config.service_name().to_owned())
        .sampler(config.sampler())
        .otlp_endpoint(receiver.endpoint())
        .traces_exporters([TracesExporter::Otlp])
        .traces_schedule_delay(Duration::from_millis(50))
        .build()
        .unwrap();
    let guard = unitel::init(config).unwrap();
    let counter = unitel::registry()
        .counter(&unitel::catalog::RAG_QUERIES_TOTAL)
        .with_labels(&["sampled-out"]);
    for _ in 0..1000 {
        let span = unitel::trace::start_span("rag_search");
        let _e = span.enter();
        counter.inc();
        // An unsampled span still has no trace context to propagate.
        assert!(unitel::trace::propagation::traceparent(&span).is_none_or(|t| t.ends_with("-00")));
    }
    guard.force_flush();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        receiver.spans().is_empty(),
        "sampled-out spans were exported"
    );
    assert_eq!(counter.value(), 1000.0);
    guard.shutdown().await.unwrap();
}
