//! The OTLP/HTTP collector answers `503 Service Unavailable`, then flaps (accepting, refusing,
//! stopped, restarted every 400 ms) while the reference server is under load: every request
//! is still answered, resident memory stays within a fixed bound, the lost spans and metric
//! pushes are counted in `unitel_export_failures_total{signal="traces"|"metrics"}`, and traces
//! and metric pushes arrive again once the collector is healthy, without a restart.
//!
//! Latency under faults is measured and printed, not asserted (DEVELOPERS.md: speed is
//! measured in benchmarks, never as a timed assertion).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fault_support::{
    Loadgen, MIB, Process, RSS_HEADROOM, RssSampler, assert_recovered, eventually, export_failures,
    ratio, traces_arrive_again,
};
use unitel_testkit::{OtlpReceiver, ReceiverMode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_unavailable_and_flapping_never_hurts_the_app() {
    let receiver = Arc::new(OtlpReceiver::start().await.unwrap());
    let mut server = Process::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000".to_owned()),
        ("OTEL_METRICS_EXPORTER", "prometheus,otlp".to_owned()),
        ("METRICS_EXPORT_INTERVAL_MS", "300".to_owned()),
    ])
    .await;
    let client = reqwest::Client::new();
    let base = server.base.clone();

    let healthy = Loadgen::run(&base, 4.0, 4).await;
    healthy.assert_no_failures("healthy");
    traces_arrive_again(&receiver, &client, &base, "healthy").await;
    assert!(
        eventually(Duration::from_secs(10), || !receiver
            .metrics_requests()
            .is_empty())
        .await,
        "no metric push while healthy"
    );
    let baseline_rss = server.rss_bytes().unwrap();
    let bound = baseline_rss + RSS_HEADROOM;
    let rss = RssSampler::start(server.pid());
    let before = server.metrics().await;
    assert_eq!(export_failures(&before, "traces"), 0.0);
    assert_eq!(export_failures(&before, "metrics"), 0.0);

    // 503 for every export.
    receiver.set_mode(ReceiverMode::Unavailable);
    let unavailable = Loadgen::run(&base, 4.0, 4).await;
    unavailable.assert_no_failures("collector answering 503");
    let (counted, during) = server
        .metrics_until(Duration::from_secs(10), |t| {
            export_failures(t, "traces") > 0.0 && export_failures(t, "metrics") > 0.0
        })
        .await;
    assert!(
        counted,
        "refused spans and metric pushes were not counted:\n{}",
        during
            .lines()
            .filter(|l| l.starts_with("unitel_export"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Flapping: accept, refuse, vanish, come back, every 400 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let flapper = {
        let (receiver, stop) = (Arc::clone(&receiver), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut step = 0u32;
            while !stop.load(Ordering::Relaxed) {
                match step % 4 {
                    0 => receiver.set_mode(ReceiverMode::Accept),
                    1 => receiver.set_mode(ReceiverMode::Unavailable),
                    2 => receiver.stop(),
                    _ => {
                        receiver.set_mode(ReceiverMode::Accept);
                        receiver.restart().unwrap();
                    }
                }
                step += 1;
                std::thread::sleep(Duration::from_millis(400));
            }
        })
    };
    let flapping = Loadgen::run(&base, 6.0, 4).await;
    stop.store(true, Ordering::Relaxed);
    flapper.join().unwrap();
    flapping.assert_no_failures("collector flapping");

    // Healthy again: traces and metric pushes arrive without restarting the server.
    receiver.restart().unwrap();
    receiver.set_mode(ReceiverMode::Accept);
    let back = traces_arrive_again(&receiver, &client, &base, "after flapping").await;
    let (max_rss, after) = assert_recovered(&receiver, &mut server, rss, baseline_rss).await;
    assert!(export_failures(&after, "traces") >= export_failures(&during, "traces"));
    assert!(export_failures(&after, "metrics") >= export_failures(&during, "metrics"));

    println!(
        "collector faults (HTTP): p50/p99 healthy {}/{} µs; 503 {}/{} µs (p99 x{:.2}); \
         flapping {}/{} µs (p99 x{:.2})",
        healthy.p50_us,
        healthy.p99_us,
        unavailable.p50_us,
        unavailable.p99_us,
        ratio(unavailable.p99_us, healthy.p99_us),
        flapping.p50_us,
        flapping.p99_us,
        ratio(flapping.p99_us, healthy.p99_us),
    );
    println!(
        "collector faults (HTTP): RSS healthy {} MiB, max {} MiB (bound {} MiB); counted failures: \
         {} spans, {} metric pushes; traces arrived again {back:.1?} after the flapping",
        baseline_rss / MIB,
        max_rss / MIB,
        bound / MIB,
        export_failures(&after, "traces"),
        export_failures(&after, "metrics"),
    );
}
