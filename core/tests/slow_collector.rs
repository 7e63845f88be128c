//! A collector that answers slowly does not make the span queue overflow: batches are encoded
//! and sent while earlier ones still wait for their answer (up to four at a time), so the queue
//! keeps draining. With one export at a time, the third and fourth bursts below would find the
//! queue full (two batches' worth) behind the first export's one-second round trip.
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use unitel::TelemetryConfig;
use unitel::config::TracesExporter;
use unitel_testkit::OtlpReceiver;
use unitel_testkit::otlp::ReceiverMode;

const BURST: usize = 100;
const BURSTS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_collector_does_not_drop_spans() {
    let receiver = OtlpReceiver::start().await.unwrap();
    receiver.set_mode(ReceiverMode::Delay(Duration::from_secs(1)));
    let config = TelemetryConfig::builder()
        .service_name("slow-collector")
        .otlp_endpoint(receiver.endpoint())
        .traces_exporters([TracesExporter::Otlp])
        .traces_batch_size(BURST)
        .traces_queue_size(2 * BURST)
        .traces_schedule_delay(Duration::from_millis(100))
        .otlp_timeout(Duration::from_secs(10))
        .log_filter("error")
        .build()
        .unwrap();
    let guard = unitel::init(config).unwrap();

    for burst in 0..BURSTS {
        for i in 0..BURST {
            let span = unitel::trace::start_span("burst");
            let _entered = span.enter();
            unitel::trace::set_span_attribute("burst", burst);
            unitel::trace::set_span_attribute("i", i);
        }
        // Time for the export thread to take the batch (not for the collector to answer).
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let spans = receiver
        .wait_for_spans(|s| s.len() >= BURST * BURSTS, Duration::from_secs(15))
        .await;
    assert_eq!(spans.len(), BURST * BURSTS);
    let failures = unitel::registry()
        .counter(&unitel::catalog::EXPORT_FAILURES_TOTAL)
        .with_labels(&["traces"])
        .value();
    assert!(failures.abs() < f64::EPSILON, "{failures} spans dropped");
    guard.shutdown().await.unwrap();
}
