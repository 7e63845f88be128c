//! A collector that is not there: the application path never blocks, memory stays flat, and
//! every dropped span and failed push is counted.
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use unitel::TelemetryConfig;
use unitel::config::{MetricsExporter, TracesExporter};

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn failures(signal: &str) -> f64 {
    unitel::registry()
        .counter(&unitel::catalog::EXPORT_FAILURES_TOTAL)
        .with_labels(&[signal])
        .value()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_to_a_closed_port_costs_nothing_visible() {
    let port = unitel_testkit::free_port();
    let config = TelemetryConfig::builder()
        .service_name("dead-collector")
        .otlp_endpoint(format!("http://127.0.0.1:{port}"))
        .traces_exporters([TracesExporter::Otlp])
        .metrics_exporters([MetricsExporter::Prometheus, MetricsExporter::Otlp])
        .metrics_export_interval(Duration::from_millis(200))
        .traces_queue_size(256)
        .traces_batch_size(64)
        .traces_schedule_delay(Duration::from_millis(50))
        .otlp_timeout(Duration::from_millis(500))
        .log_filter("error")
        .build()
        .unwrap();
    let guard = unitel::init(config).unwrap();

    let warm_up = |n: usize| {
        for i in 0..n {
            let span = unitel::trace::start_span("request");
            let _e = span.enter();
            unitel::trace::set_span_attribute("i", i);
        }
    };
    warm_up(5_000);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = resident_bytes();
    let started = Instant::now();
    for _ in 0..10 {
        warm_up(10_000);
        tokio::task::yield_now().await;
    }
    let elapsed = started.elapsed();
    let after = resident_bytes();
    eprintln!(
        "100k spans against a dead collector in {elapsed:?} ({:?} each); RSS {} -> {} KiB",
        elapsed / 100_000,
        before / 1024,
        after / 1024
    );
    // The queue is bounded at 256 spans: memory does not follow the span count.
    assert!(
        after.saturating_sub(before) < 16 * 1024 * 1024,
        "RSS grew from {before} to {after}"
    );

    // Every span that could not be exported is counted (queue overflow or failed batch).
    let deadline = Instant::now() + Duration::from_secs(10);
    while (failures("traces") < 100_000.0 || failures("metrics") < 1.0) && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        failures("traces") >= 100_000.0,
        "traces failures {}",
        failures("traces")
    );
    assert!(
        failures("metrics") >= 1.0,
        "metrics failures {}",
        failures("metrics")
    );
    let text = unitel::prometheus::render();
    assert!(text.contains("unitel_export_failures_total{signal=\"traces\"}"));
    // Shutdown with a dead collector returns (bounded by the export timeout), it does not hang.
    guard.shutdown().await.unwrap();
}
