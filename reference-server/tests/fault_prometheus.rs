//! Counters never go backwards: sampled every 50 ms from both metrics endpoints (the
//! application's `/metrics` route and the standalone listener) while the reference server is
//! under load, no counter or histogram series ever decreases or disappears. And a real
//! Prometheus that is restarted in the middle of a run (clean shutdown, same TSDB) sees a gap
//! in its scrapes but no counter reset: `resets()` over the whole window is 0 for every
//! counter and histogram bucket, and `rate()` continues across the gap. The restart works on
//! the testkit's local Prometheus and on its container alike; an external one
//! (`UNITEL_TEST_PROMETHEUS_URL`) is never used, as it cannot be given this test's target.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fault_support::{Loadgen, Process, monotonic_families, parse_exposition};
use unitel_testkit::{PrometheusBuilder, PrometheusService, ScrapeTarget};

/// The two tests each drive a server under load; one at a time on a small machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Checks `text` against the previous values of every counter/histogram series of `seen`.
fn check_monotonic(seen: &mut HashMap<String, f64>, text: &str, endpoint: &str) -> usize {
    let monotonic = monotonic_families(text);
    let samples = parse_exposition(text);
    let mut current = HashMap::new();
    for s in samples.iter().filter(|s| monotonic.contains(&s.name)) {
        let key = s.key();
        if let Some(previous) = seen.get(&key) {
            assert!(
                s.value >= *previous,
                "{endpoint}: {key} went backwards from {previous} to {}",
                s.value
            );
        }
        current.insert(key, s.value);
    }
    for key in seen.keys() {
        assert!(
            current.contains_key(key),
            "{endpoint}: series {key} disappeared"
        );
    }
    let n = current.len();
    *seen = current;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_never_go_backwards_on_either_endpoint() {
    let _one = ONE_AT_A_TIME.lock().await;
    let listener_port = unitel_testkit::free_port();
    let server = Process::start(&[("PROMETHEUS_PORT", listener_port.to_string())]).await;
    let client = reqwest::Client::new();
    let endpoints = [
        format!("{}/metrics", server.base),
        format!("http://127.0.0.1:{listener_port}/metrics"),
    ];
    let mut seen: Vec<HashMap<String, f64>> = vec![HashMap::new(), HashMap::new()];
    let load = Loadgen::start(&server.base, 6.0, 4);
    let started = Instant::now();
    let mut scrapes = 0;
    let mut series = 0;
    while started.elapsed() < Duration::from_secs(7) {
        for (endpoint, seen) in endpoints.iter().zip(seen.iter_mut()) {
            let text = client
                .get(endpoint)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            series = check_monotonic(seen, &text, endpoint);
            scrapes += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    load.finish().await.assert_no_failures("sampling /metrics");
    assert!(scrapes > 50, "only {scrapes} scrapes");
    println!(
        "monotonic: {scrapes} scrapes of {series} counter and histogram series, none went backwards"
    );
}

/// Polls `history` (a `count_over_time` of `up`) until it reaches `n`; returns its value.
async fn scrapes_at_least(prometheus: &PrometheusService, history: &str, n: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let scrapes = prometheus
            .query_value(history)
            .await
            .unwrap()
            .unwrap_or(0.0);
        if scrapes >= n {
            return scrapes;
        }
        assert!(
            Instant::now() < deadline,
            "only {scrapes} scrapes within 20 s, waiting for {n}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prometheus_restart_leaves_a_gap_but_no_reset() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Process::start(&[]).await;
    let Some(mut prometheus) = PrometheusBuilder::new()
        .scrape(
            ScrapeTarget::new(format!("127.0.0.1:{}", server.port))
                .job_name("reference")
                .scrape_interval(Duration::from_millis(500)),
        )
        .start()
        .await
    else {
        return;
    };
    let load = Loadgen::start(&server.base, 22.0, 2);
    prometheus
        .wait_for_series(
            r#"http_requests_total{job="reference",route="/v1/rag/query"}"#,
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    // A few scrapes of history, then the restart.
    let history = r#"count_over_time(up{job="reference"}[2m])"#;
    let scrapes_before = scrapes_at_least(&prometheus, history, 5.0).await;
    let before_restart = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let restarted_at = Instant::now();
    prometheus.restart().await.unwrap();
    // Wait for scrapes after the restart: the newest sample is younger than the restart.
    let resumed = loop {
        let age = prometheus
            .query_value(r#"time() - max(timestamp(up{job="reference"}))"#)
            .await
            .unwrap();
        if age.is_some_and(|a| a < restarted_at.elapsed().as_secs_f64() - 0.5) {
            break restarted_at.elapsed();
        }
        assert!(
            restarted_at.elapsed() < Duration::from_secs(30),
            "Prometheus did not scrape again within 30 s of its restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // More history after the gap.
    let scrapes_after = scrapes_at_least(&prometheus, history, scrapes_before + 5.0).await;
    // The restarted server still has what it scraped before (its TSDB survived).
    let kept = prometheus
        .query_value(&format!(
            r#"count_over_time(up{{job="reference"}}[2m] @ {before_restart:.3})"#
        ))
        .await
        .unwrap()
        .unwrap_or(0.0);
    assert!(
        kept >= scrapes_before,
        "the history before the restart was lost ({scrapes_before} scrapes before it, {kept} \
         of them found after it)"
    );
    let window = "[2m]";
    let names = prometheus
        .query(r#"count by (__name__) ({job="reference",__name__=~".+(_total|_bucket|_count)"})"#)
        .await
        .unwrap();
    let names: Vec<String> = names["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["metric"]["__name__"].as_str().map(str::to_owned))
        .collect();
    assert!(
        names.len() > 20,
        "only {} families scraped: {names:?}",
        names.len()
    );
    for name in &names {
        let resets = prometheus
            .query_value(&format!(
                r#"max(resets({name}{{job="reference"}}{window}))"#
            ))
            .await
            .unwrap();
        assert_eq!(
            resets,
            Some(0.0),
            "Prometheus saw a reset of {name} across its restart"
        );
    }
    // The series spans both sides of the gap, and its rate is continuous.
    let samples = prometheus
        .query_value(&format!(
            r#"count_over_time(http_requests_total{{job="reference",route="/v1/rag/query",status="200"}}{window})"#
        ))
        .await
        .unwrap()
        .unwrap();
    let rate = prometheus
        .query_value(&format!(
            r#"sum(rate(http_requests_total{{job="reference"}}{window}))"#
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(rate > 0.0);
    load.finish()
        .await
        .assert_no_failures("during the Prometheus restart");
    println!(
        "prometheus restart ({:?}): scrapes resumed {resumed:.1?} after the restart began; \
         {scrapes_before} scrapes before, {scrapes_after} after; {samples} samples of one series; resets 0 in all {} families; rate {rate:.1} req/s",
        prometheus.backend(),
        names.len()
    );
}
