//! The exposition: every catalog family recorded, rendered, and checked by the real `promtool`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use unitel::catalog::{self, MetricKind};
use unitel::registry::InstrumentationErrorKind;
use unitel::{MetricDefinition, Registry};

fn sample_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.trim().parse().ok())
}

fn record_everything(registry: &Registry) {
    for d in catalog::ALL {
        let values: Vec<String> = d.labels.iter().map(|k| format!("{k}-value")).collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        match d.kind {
            MetricKind::Counter => registry.counter(d).with_labels(&values).add(3),
            MetricKind::Gauge => registry.gauge(d).with_labels(&values).set(1.5),
            MetricKind::Histogram => {
                let h = registry.histogram(d).with_labels(&values);
                h.observe(d.buckets[0]);
                h.observe(d.buckets[d.buckets.len() - 1] * 2.0);
            }
        }
    }
}

fn promtool(text: &str) {
    // `None`: promtool is missing, and the testkit has recorded the skip.
    if let Some(result) = unitel_testkit::promtool_check_metrics(text) {
        result.unwrap_or_else(|e| panic!("promtool check metrics failed:\n{e}\n{text}"));
    }
}

#[test]
fn every_catalog_family_renders_and_passes_promtool() {
    let registry = Registry::new();
    record_everything(&registry);
    let text = unitel::prometheus::render_registry(&registry);
    for d in catalog::ALL {
        assert!(
            text.contains(&format!("# HELP {} ", d.name)),
            "HELP of {}",
            d.name
        );
        assert!(
            text.contains(&format!("# TYPE {} {}\n", d.name, d.kind)),
            "TYPE of {}",
            d.name
        );
    }
    assert!(!text.contains("_total_total"));
    assert!(!text.contains("_seconds_seconds"));
    // Exact values and bucket placement.
    assert_eq!(
        sample_value(
            &text,
            "http_requests_total{method=\"method-value\",route=\"route-value\",status=\"status-value\"}"
        ),
        Some(3.0)
    );
    let bucket = "http_request_duration_seconds_bucket{method=\"method-value\",route=\"route-value\",status=\"status-value\",le=";
    assert_eq!(
        sample_value(&text, &format!("{bucket}\"0.005\"}}")),
        Some(1.0)
    );
    assert_eq!(sample_value(&text, &format!("{bucket}\"10\"}}")), Some(1.0));
    assert_eq!(
        sample_value(&text, &format!("{bucket}\"+Inf\"}}")),
        Some(2.0)
    );
    assert_eq!(
        sample_value(
            &text,
            "http_request_duration_seconds_sum{method=\"method-value\",route=\"route-value\",status=\"status-value\"}"
        ),
        Some(20.005)
    );
    // GenAI names: OTel attribute keys with dots become underscores in the exposition.
    assert!(text.contains(
        "gen_ai_client_token_usage_bucket{gen_ai_operation_name=\"gen_ai.operation.name-value\""
    ));
    assert_eq!(sample_value(&text, "system_cpu_usage_percent"), Some(1.5));
    promtool(&text);
}

#[test]
fn label_values_with_quotes_backslashes_newlines_and_unicode_are_escaped() {
    let registry = Registry::new();
    let nasty = "a\"b\\c\nd — ünïcödé {}=,";
    registry
        .counter(&catalog::ERRORS_TOTAL)
        .with_labels(&[nasty, "x"])
        .inc();
    let text = unitel::prometheus::render_registry(&registry);
    assert!(
        text.contains(r#"errors_total{component="a\"b\\c\nd — ünïcödé {}=,",error_type="x"} 1"#),
        "{text}"
    );
    promtool(&text);
}

#[test]
fn custom_metrics_register_and_record_like_the_seed() {
    let registry = Registry::new();
    registry
        .register(MetricDefinition {
            name: "custom_business_metric".into(),
            kind: MetricKind::Histogram,
            description: "Custom business metric".into(),
            unit: "items".into(),
            labels: vec!["category".into(), "status".into()],
            buckets: vec![1.0, 5.0, 10.0, 50.0, 100.0, 500.0],
        })
        .unwrap();
    registry.observe(
        "custom_business_metric",
        42.0,
        &[("category", "orders"), ("status", "completed")],
    );
    // Labels in another order find the same series.
    registry.observe(
        "custom_business_metric",
        7.0,
        &[("status", "completed"), ("category", "orders")],
    );
    let family = registry.histogram_family("custom_business_metric").unwrap();
    let snap = family.with_labels(&["orders", "completed"]).snapshot();
    assert_eq!(snap.buckets, vec![0, 0, 1, 1, 0, 0, 0]);
    assert_eq!(snap.count(), 2);
    assert!((snap.sum - 49.0).abs() < 1e-9);
    // Unknown names are registered on first use, as the seed's helpers did.
    registry.increment("events_total", 1.0, &[("type", "click")]);
    registry.increment("events_total", 2.0, &[("type", "click")]);
    let text = unitel::prometheus::render_registry(&registry);
    assert_eq!(
        sample_value(&text, "events_total{type=\"click\"}"),
        Some(3.0)
    );
    promtool(&text);
}

#[test]
fn misuse_is_counted_never_raised() {
    let registry = Registry::new();
    let errors = |kind: InstrumentationErrorKind| {
        registry
            .counter(&catalog::INSTRUMENTATION_ERRORS_TOTAL)
            .with_labels(&[kind.as_str()])
            .value()
    };
    // Undeclared label key: counted, the record still lands on the declared labels.
    registry.increment(
        "rag_queries_total",
        1.0,
        &[("pipeline", "standard"), ("user_id", "42")],
    );
    assert_eq!(errors(InstrumentationErrorKind::UndeclaredLabel), 1.0);
    assert_eq!(
        registry
            .counter(&catalog::RAG_QUERIES_TOTAL)
            .with_labels(&["standard"])
            .value(),
        1.0
    );
    // Wrong kind by name.
    registry.observe("rag_queries_total", 1.0, &[]);
    assert_eq!(errors(InstrumentationErrorKind::KindMismatch), 1.0);
    // Wrong label count, negative and NaN values.
    registry
        .counter(&catalog::ERRORS_TOTAL)
        .with_labels(&["only-one"])
        .inc();
    assert_eq!(errors(InstrumentationErrorKind::LabelCount), 1.0);
    registry
        .counter(&catalog::ERRORS_TOTAL)
        .with_labels(&["a", "b"])
        .add_f64(-1.0);
    registry
        .gauge(&catalog::SYSTEM_CPU_USAGE_PERCENT)
        .with_labels(&[])
        .set(f64::NAN);
    assert_eq!(errors(InstrumentationErrorKind::InvalidValue), 2.0);
    // Invalid auto-registered names are rejected and counted.
    registry.increment("not a name", 1.0, &[]);
    assert_eq!(errors(InstrumentationErrorKind::UnknownMetric), 1.0);
    promtool(&unitel::prometheus::render_registry(&registry));
}

#[test]
fn callbacks_see_each_record_like_the_seed_threshold_alert() {
    let registry = Registry::new();
    registry
        .register(MetricDefinition {
            name: "error_rate".into(),
            kind: MetricKind::Gauge,
            description: "Error ratio".into(),
            ..Default::default()
        })
        .unwrap();
    let alerts: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&alerts);
    registry
        .add_callback("error_rate", move |metric_name, value, _labels| {
            if metric_name == "error_rate" && value > 0.05 {
                sink.lock()
                    .unwrap()
                    .push(format!("High error rate: {value}"));
            }
        })
        .unwrap();
    registry.set("error_rate", 0.01, &[]);
    registry.set("error_rate", 0.08, &[]);
    assert_eq!(
        *alerts.lock().unwrap(),
        vec!["High error rate: 0.08".to_owned()]
    );

    // Labels are passed, and a panicking callback is contained and counted.
    let seen = Arc::new(AtomicUsize::new(0));
    let seen2 = Arc::clone(&seen);
    registry
        .add_callback("errors_total", move |_, value, labels| {
            assert_eq!(labels, &[("component", "db"), ("error_type", "timeout")]);
            seen2.fetch_add(value as usize, Ordering::SeqCst);
        })
        .unwrap();
    registry
        .add_callback("errors_total", |_, _, _| panic!("boom"))
        .unwrap();
    registry
        .counter(&catalog::ERRORS_TOTAL)
        .with_labels(&["db", "timeout"])
        .add(2);
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    assert_eq!(
        registry
            .counter(&catalog::INSTRUMENTATION_ERRORS_TOTAL)
            .with_labels(&[InstrumentationErrorKind::CallbackPanic.as_str()])
            .value(),
        1.0
    );
    assert!(
        registry
            .add_callback("no_such_metric", |_, _, _| {})
            .is_err()
    );
}

#[test]
fn a_hundred_thousand_label_values_leave_at_most_cap_plus_one_series() {
    let registry = Registry::new();
    let family = registry.counter(&catalog::HTTP_REQUESTS_TOTAL);
    for i in 0..100_000 {
        family
            .with_labels(&["GET", &format!("/attack/{i}"), "404"])
            .inc();
    }
    assert_eq!(
        family.series_count(),
        unitel::registry::DEFAULT_MAX_SERIES_PER_FAMILY
    );
    let text = unitel::prometheus::render_registry(&registry);
    let series = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .count();
    assert_eq!(series, unitel::registry::DEFAULT_MAX_SERIES_PER_FAMILY + 1);
    // Nothing is lost: the overflow series holds the rest, and the overflow is counted.
    assert_eq!(
        sample_value(&text, "http_requests_total{otel_metric_overflow=\"true\"}"),
        Some(98_000.0)
    );
    assert_eq!(
        sample_value(
            &text,
            "unitel_series_overflow_total{metric=\"http_requests_total\"}"
        ),
        Some(98_000.0)
    );
    promtool(&text);

    // The cap is configurable.
    let small = Registry::new();
    small.set_max_series_per_family(10);
    let f = small.counter(&catalog::ERRORS_TOTAL);
    for i in 0..1000 {
        f.with_labels(&["c", &i.to_string()]).inc();
    }
    assert_eq!(f.series_count(), 10);
}

#[test]
fn concurrent_recording_is_exact() {
    let registry = Registry::new();
    let family = registry.counter(&catalog::LLM_REQUESTS_TOTAL);
    let hist = registry.histogram(&catalog::LLM_REQUEST_DURATION_SECONDS);
    std::thread::scope(|s| {
        for t in 0..8 {
            let family = family.clone();
            let hist = hist.clone();
            s.spawn(move || {
                for i in 0..10_000 {
                    let status = if i % 2 == 0 { "ok" } else { "error" };
                    family.with_labels(&["openai", "gpt-4", status]).inc();
                    hist.with_labels(&["openai", &format!("m{}", t % 2)])
                        .observe(0.5);
                }
            });
        }
    });
    assert_eq!(
        family.with_labels(&["openai", "gpt-4", "ok"]).value(),
        40_000.0
    );
    assert_eq!(
        family.with_labels(&["openai", "gpt-4", "error"]).value(),
        40_000.0
    );
    assert_eq!(
        hist.with_labels(&["openai", "m0"]).snapshot().count(),
        40_000
    );
}
