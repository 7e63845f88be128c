//! Cardinality attacks through the reference server's HTTP API, on every label that could come
//! from a request: thousands of random paths and query strings, made-up methods, model names in
//! chat and embeddings bodies, pipeline/cache/provider fields smuggled into bodies, SQL text in
//! documents and queries, and garbage trace headers. No attacker-chosen string becomes a label
//! value, the number of series stays within a small fixed allowance over a normal run, memory
//! stays bounded, and the malformed trace headers are counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::collections::BTreeSet;

use fault_support::{Loadgen, MIB, Process, parse_exposition, series_count, sum};
use futures_util::StreamExt as _;
use serde_json::json;

/// Every attack string starts with this, so a leak into a label is easy to find.
const MARK: &str = "atk";

/// Requests sent `concurrency` at a time.
async fn send_all(requests: Vec<reqwest::RequestBuilder>) -> BTreeSet<u16> {
    futures_util::stream::iter(requests)
        .map(|r| async move { r.send().await.map(|r| r.status().as_u16()).unwrap_or(0) })
        .buffer_unordered(8)
        .collect::<BTreeSet<u16>>()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_from_requests_never_grow_the_series() {
    let server = Process::start(&[]).await;
    let base = server.base.clone();
    let client = reqwest::Client::new();

    // A normal run first: every label a real client produces exists.
    Loadgen::run(&base, 3.0, 4)
        .await
        .assert_no_failures("normal traffic");
    let before = server.metrics().await;
    let series_before = series_count(&before);
    let rss_before = server.rss_bytes().unwrap();

    let n = 1500;
    let mut requests = Vec::new();
    for i in 0..n {
        let token = format!("{MARK}{i:05}x{}", "z".repeat(i % 50));
        // Random paths and query strings.
        requests.push(client.get(format!("{base}/{token}/{i}?{token}={token}&user={token}")));
        requests.push(client.get(format!("{base}/v1/documents/{token}")));
        // Made-up methods, on real routes and random ones.
        let method = reqwest::Method::from_bytes(format!("X{i}ATK").as_bytes()).unwrap();
        requests.push(client.request(method.clone(), format!("{base}/v1/rag/query")));
        requests.push(client.request(method, format!("{base}/{token}")));
        // Model names from bodies.
        requests.push(
            client
                .post(format!("{base}/v1/chat/completions"))
                .json(&json!({
                    "model": token, "messages": [{"role": "user", "content": "hi"}],
                })),
        );
        requests.push(
            client
                .post(format!("{base}/v1/embeddings"))
                .json(&json!({"model": token, "input": "hi"})),
        );
        // Pipeline, cache and provider names smuggled into bodies.
        requests.push(client.post(format!("{base}/v1/rag/query")).json(&json!({
            "query": "x", "pipeline": token, "cache": token, "provider": token,
        })));
        requests.push(
            client
                .post(format!("{base}/v1/chat/completions"))
                .json(&json!({
                    "messages": [{"role": "user", "content": format!("what is {token}?")}],
                    "provider": token, "pipeline": token, "cache": token, "user": token,
                })),
        );
        if i % 5 == 0 {
            // SQL text in what is stored and searched.
            requests.push(client.post(format!("{base}/v1/documents")).json(&json!({
                "text": format!("SELECT * FROM {token} WHERE id = '{token}'; DROP TABLE {token};"),
                "metadata": {token.clone(): format!("DELETE FROM {token}")},
            })));
            requests.push(client.post(format!("{base}/v1/rag/query")).json(&json!({
                "query": format!("UPDATE {token} SET x = 1 -- {token}"),
            })));
        }
        // Garbage and well-formed trace context with attacker ids, baggage and user agents.
        requests.push(
            client
                .post(format!("{base}/v1/rag/query"))
                .header("traceparent", format!("00-{token}-{i}-01"))
                .header("tracestate", format!("{MARK}={token}"))
                .header("baggage", format!("route={token},model={token}"))
                .header("user-agent", token.clone())
                .json(&json!({"query": "Where do spans go?"})),
        );
        requests.push(
            client
                .get(format!("{base}/health"))
                .header(
                    "traceparent",
                    format!("00-{:032x}-{:016x}-01", i + 1, i + 1),
                )
                .header("baggage", format!("pipeline={token}")),
        );
    }
    let sent = requests.len();
    let statuses = send_all(requests).await;
    assert!(!statuses.contains(&0), "a request got no answer");
    assert!(
        statuses.iter().all(|s| *s < 500),
        "an attack request got a 5xx: {statuses:?}"
    );

    let after = server.metrics().await;
    let series_after = series_count(&after);
    let rss_after = server.rss_bytes().unwrap();
    // No attacker string in any label value.
    let samples = parse_exposition(&after);
    for s in &samples {
        for (k, v) in &s.labels {
            assert!(
                !v.contains(MARK) && !v.contains("X1ATK"),
                "attacker input became a label: {}{{{k}={v:?}}}",
                s.name
            );
        }
    }
    let methods: BTreeSet<&str> = samples
        .iter()
        .filter(|s| s.name == "http_requests_total")
        .filter_map(|s| s.label("method"))
        .collect();
    assert!(methods.contains("_OTHER"), "{methods:?}");
    let routes: BTreeSet<&str> = samples
        .iter()
        .filter(|s| s.name == "http_requests_total")
        .filter_map(|s| s.label("route"))
        .collect();
    let known: BTreeSet<&str> = [
        "/v1/documents",
        "/v1/embeddings",
        "/v1/rag/query",
        "/v1/chat/completions",
        "/health",
        "unmatched",
    ]
    .into_iter()
    .collect();
    assert!(routes.is_subset(&known), "unexpected routes {routes:?}");
    // New series only for new fixed values (a 405 status, the _OTHER method, ...): a small,
    // fixed allowance whatever the number of attack requests.
    let grown = series_after.saturating_sub(series_before);
    assert!(
        grown <= 120,
        "{sent} attack requests added {grown} series ({series_before} -> {series_after})"
    );
    assert_eq!(
        sum(&samples, "unitel_series_overflow_total", &[]),
        0.0,
        "input reached a series cap"
    );
    // Malformed trace headers are counted, not trusted.
    assert!(
        sum(
            &samples,
            "unitel_instrumentation_errors_total",
            &[("kind", "invalid_header")]
        ) >= n as f64
    );
    let rss_grown = rss_after.saturating_sub(rss_before);
    assert!(
        rss_grown < 64 * MIB,
        "resident memory grew by {} MiB",
        rss_grown / MIB
    );
    println!(
        "cardinality via HTTP: {sent} attack requests; series {series_before} -> {series_after}; \
         RSS {} -> {} MiB; statuses {statuses:?}",
        rss_before / MIB,
        rss_after / MIB
    );
}
