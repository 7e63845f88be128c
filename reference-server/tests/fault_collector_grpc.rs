//! The OTLP/gRPC collector goes away, comes back, and answers 5 s late while the reference
//! server is under load: the server keeps answering every request, its resident memory stays
//! within a fixed bound, every span it could not deliver is counted in
//! `unitel_export_failures_total{signal="traces"}`, and new traces arrive again after each
//! recovery without restarting anything.
//!
//! Latency under faults is measured and printed (p99 of each phase over the healthy p99), not
//! asserted: speed is measured in benchmarks, never as a timed assertion (DEVELOPERS.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::time::Duration;

use fault_support::{
    Loadgen, MIB, Process, RSS_HEADROOM, RssSampler, assert_recovered, export_failures, ratio,
    traces_arrive_again,
};
use unitel_testkit::{OtlpReceiver, ReceiverMode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_down_slow_and_back_never_hurts_the_app() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let mut server = Process::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_METRICS_EXPORTER", "prometheus,otlp".to_owned()),
        ("METRICS_EXPORT_INTERVAL_MS", "500".to_owned()),
    ])
    .await;
    let client = reqwest::Client::new();
    let base = server.base.clone();

    // Healthy: the baseline for latency and memory.
    let healthy = Loadgen::run(&base, 4.0, 4).await;
    healthy.assert_no_failures("healthy");
    traces_arrive_again(&receiver, &client, &base, "healthy").await;
    let baseline_rss = server.rss_bytes().unwrap();
    let bound = baseline_rss + RSS_HEADROOM;
    let rss = RssSampler::start(server.pid());
    let before = server.metrics().await;
    assert_eq!(
        export_failures(&before, "traces"),
        0.0,
        "spans were lost while the collector was healthy"
    );

    // Down: connections are refused.
    receiver.stop();
    let down = Loadgen::run(&base, 4.0, 4).await;
    down.assert_no_failures("collector down");
    // The last batches fail within the OTLP timeout; poll until they are counted.
    let (counted, text) = server
        .metrics_until(Duration::from_secs(15), |t| {
            export_failures(t, "traces") > 0.0
        })
        .await;
    assert!(
        counted,
        "spans dropped while the collector was down were not counted"
    );
    let failures_down = export_failures(&text, "traces");
    assert!(server.is_running());

    // Back: new traces arrive without restarting the server.
    receiver.restart().unwrap();
    let back_after_restart = traces_arrive_again(&receiver, &client, &base, "after restart").await;

    // Slow: every export is answered after 5 s (the exporter's timeout is 10 s).
    receiver.set_mode(ReceiverMode::Delay(Duration::from_secs(5)));
    let slow = Loadgen::run(&base, 6.0, 4).await;
    slow.assert_no_failures("collector 5 s late");

    // Recovered: spans flow again.
    receiver.set_mode(ReceiverMode::Accept);
    let back_after_slow =
        traces_arrive_again(&receiver, &client, &base, "after the slow phase").await;
    let (max_rss, after) = assert_recovered(&receiver, &mut server, rss, baseline_rss).await;
    assert!(export_failures(&after, "traces") >= failures_down);

    println!(
        "collector faults (gRPC): p50/p99 healthy {}/{} µs; down {}/{} µs (p99 x{:.2}); \
         5 s late {}/{} µs (p99 x{:.2})",
        healthy.p50_us,
        healthy.p99_us,
        down.p50_us,
        down.p99_us,
        ratio(down.p99_us, healthy.p99_us),
        slow.p50_us,
        slow.p99_us,
        ratio(slow.p99_us, healthy.p99_us),
    );
    println!(
        "collector faults (gRPC): traces arrived again {back_after_restart:.1?} after the restart, \
         {back_after_slow:.1?} after the slow phase"
    );
    println!(
        "collector faults (gRPC): RSS healthy {} MiB, max {} MiB (bound {} MiB); spans dropped and counted: {}",
        baseline_rss / MIB,
        max_rss / MIB,
        bound / MIB,
        export_failures(&after, "traces")
    );
}
