//! Cardinality attacks on every label a caller can feed from its input: model and provider
//! names, RAG pipelines, caches and data sources, circuit breaker names, HTTP methods and
//! routes, SQL text, error components and types, and metric names themselves. Thousands of
//! distinct (and oversized) values leave every family at or under its series cap, send the rest
//! to the overflow series, count every overflowed record in `unitel_series_overflow_total`,
//! keep memory bounded, and render an exposition that `promtool check metrics` accepts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use unitel::Registry;
use unitel::catalog;
use unitel::db::{DbClientMetrics, DbOperation, QueryStatus};
use unitel::genai::cache::CacheMetrics;
use unitel::genai::embeddings::EmbeddingBatch;
use unitel::genai::llm::{LlmCall, LlmMetrics, LlmUsage};
use unitel::genai::rag::{RagMetrics, RagQuery};
use unitel::http::server::{HttpServerConfig, HttpServerRecorder, RequestParts};
use unitel::registry::MAX_FAMILIES;
use unitel::resilience::CircuitBreaker;

const CAP: usize = 64;
const ATTACK: usize = 4_000;

/// A distinct attacker-chosen value: the index first (so values stay distinct after the
/// 256-byte truncation), then quotes, backslashes, newlines, non-ASCII, up to 1 KiB.
fn value(i: usize) -> String {
    let mut v = format!("atk{i}\"\\\n ünï €{}", "x".repeat(i % 7));
    while v.len() < 1000 {
        v.push_str("-payload-ü");
    }
    v
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Series per family in an exposition (histograms counted once per label set).
fn series_per_family(text: &str) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            kinds.insert(
                parts.next().unwrap().to_owned(),
                parts.next().unwrap().to_owned(),
            );
        }
    }
    let mut counts = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name = &line[..line.find(['{', ' ']).unwrap()];
        let family = match kinds.get(name) {
            Some(_) => name,
            // A histogram's series: count its `_count` line only.
            None if name.ends_with("_count") => name.trim_end_matches("_count"),
            None => continue,
        };
        *counts.entry(family.to_owned()).or_insert(0) += 1;
    }
    counts
}

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn promtool(text: &str) {
    // `None`: promtool is missing, and the testkit has recorded the skip.
    if let Some(result) = unitel_testkit::promtool_check_metrics(text) {
        result.unwrap_or_else(|e| panic!("promtool check metrics failed:\n{e}"));
    }
}

#[test]
fn every_label_from_input_stays_under_its_cap_and_the_overflow_is_counted() {
    let registry = Registry::new();
    registry.set_max_series_per_family(CAP);
    let llm = LlmMetrics::new(&registry);
    let rag = RagMetrics::new(&registry);
    let db = DbClientMetrics::new(&registry, "postgresql");
    let http = HttpServerRecorder::new(HttpServerConfig::new().registry(registry.clone()));
    let headers = http::HeaderMap::new();
    let rss_before = rss_bytes();

    for i in 0..ATTACK {
        let v = value(i);
        // Model names from request bodies, even when the caller lists them as known.
        LlmCall::builder("openai", &v)
            .listed_model()
            .metrics(&llm)
            .start()
            .finish(LlmUsage::new(3, 4));
        LlmCall::builder("openai", &v)
            .metrics(&llm)
            .start()
            .finish(LlmUsage::new(1, 1));
        EmbeddingBatch::builder("openai", &v, 2)
            .listed_model()
            .metrics(&llm)
            .start()
            .finish_with_tokens(5);
        // Pipeline, cache and data source names.
        let query = RagQuery::builder(&v)
            .cache_name(&v)
            .data_source(&v)
            .metrics(&rag)
            .start();
        query.cache_miss();
        query.retrieved(2);
        CacheMetrics::with_registry(&registry, &v).hit();
        // Breaker names.
        let breaker = CircuitBreaker::builder(&v)
            .registry(&registry)
            .build()
            .unwrap();
        breaker.try_acquire().unwrap().failure();
        // HTTP method and route (a framework handing the raw path as the route).
        let mut request = http.start(&RequestParts {
            method: &v[..v.len().min(20)],
            route: Some(&v),
            path: &v,
            scheme: None,
            version: http::Version::HTTP_11,
            headers: &headers,
        });
        request.response_started(200);
        request.finish();
        // SQL text: the operation label comes from a bounded set whatever the text.
        let sql = format!("{} FROM t WHERE x = '{v}'", &v[..8]);
        db.record_query(
            DbOperation::of(&sql),
            QueryStatus::Ok,
            Duration::from_millis(1),
        );
        db.record_query(
            DbOperation::of(&v),
            QueryStatus::Error,
            Duration::from_millis(1),
        );
        // Error components and types.
        registry
            .counter(&catalog::ERRORS_TOTAL)
            .with_labels(&[&v, &v])
            .inc();
    }

    let text = unitel::prometheus::render_registry(&registry);
    let rss_after = rss_bytes();
    let counts = series_per_family(&text);
    for (family, n) in &counts {
        assert!(
            *n <= CAP + 1,
            "{family} holds {n} series, over the cap of {CAP} plus the overflow series"
        );
    }
    // The families fed from input reached the cap and overflowed, and each overflowed record
    // is counted.
    for family in [
        "errors_total",
        "rag_queries_total",
        "rag_cache_hits_total",
        "rag_cache_misses_total",
        "http_requests_total",
        "circuit_breaker_state",
        "llm_requests_total",
        "embeddings_generated_total",
    ] {
        assert_eq!(counts.get(family), Some(&(CAP + 1)), "{family}");
        let overflowed = sample(
            &text,
            &format!("unitel_series_overflow_total{{metric=\"{family}\"}}"),
        );
        assert!(overflowed > 0.0, "{family}: overflow not counted");
    }
    // One errors_total record per attack value: all but the first CAP went to the overflow.
    assert_eq!(
        sample(
            &text,
            "unitel_series_overflow_total{metric=\"errors_total\"}"
        ),
        (ATTACK - CAP) as f64
    );
    assert_eq!(
        sample(&text, "errors_total{otel_metric_overflow=\"true\"}"),
        (ATTACK - CAP) as f64
    );
    // Labels from bounded sets never overflow.
    let operations: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("db_queries_total{"))
        .collect();
    assert!(operations.len() <= 40, "{operations:#?}");
    assert!(!text.contains("db_queries_total{otel_metric_overflow"));
    assert!(
        text.lines()
            .filter(|l| l.starts_with("http_requests_in_flight{"))
            .all(|l| l.contains("method=\"_OTHER\"") || l.contains("otel_metric_overflow")),
        "a raw method became a label"
    );
    // Oversized values were cut to 256 bytes, and counted.
    assert!(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .all(|l| l.len() < 4 * 300 + 200),
        "a label value was not truncated"
    );
    assert!(
        sample(
            &text,
            "unitel_instrumentation_errors_total{kind=\"label_value_truncated\"}"
        ) > 0.0
    );
    promtool(&text);
    let grown = rss_after.saturating_sub(rss_before);
    println!(
        "cardinality attack: {ATTACK} values x 12 APIs; {} families, largest {} series; \
         RSS grew {} KiB",
        counts.len(),
        counts.values().max().unwrap(),
        grown / 1024
    );
    assert!(
        grown < 64 * 1024 * 1024,
        "memory grew by {} MiB under the attack",
        grown / (1024 * 1024)
    );
}

#[test]
fn metric_names_from_input_stop_at_the_family_cap() {
    let registry = Registry::new();
    for i in 0..(MAX_FAMILIES + 500) {
        registry.increment(&format!("atk_{i}_total"), 1.0, &[("k", "v")]);
    }
    let text = unitel::prometheus::render_registry(&registry);
    let families = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
    assert!(
        families <= MAX_FAMILIES,
        "{families} families, over MAX_FAMILIES"
    );
    assert!(
        text.lines()
            .filter(|l| l.starts_with("unitel_instrumentation_errors_total{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum::<f64>()
            >= 500.0,
        "rejected families were not counted"
    );
    promtool(&text);
}
