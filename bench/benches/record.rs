//! Record paths, unitel and its peers side by side, all on a series that already exists, with
//! the same three labels (`method`, `route`, `status`) and the same 14 histogram buckets:
//!
//! * `*_bound`: a handle taken once (unitel typed handle, prometheus-client and prometheus
//!   cached series, `metrics` handle, `opentelemetry_sdk` bound instrument);
//! * `*_lookup`: the label set given on every record;
//! * `by_name`: unitel's convenience functions (family looked up by name on every call);
//! * `series`: a new series up to the cardinality cap, and past it (the overflow path).
//!
//! `cargo bench -p unitel-bench --bench record`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use unitel::Registry;
use unitel::catalog::{HTTP_REQUEST_DURATION_SECONDS, HTTP_REQUESTS_TOTAL};
use unitel_bench::peers::{
    self, PAIRS, VALUES, metrics_rs, otel::Otel, prom_client::PromClient,
    prometheus_rs::PrometheusRs,
};

const VALUE: f64 = 0.042;

fn counter_bound(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_bound");
    // The floor on this machine: one relaxed atomic add on a counter that stays in cache.
    let floor = std::sync::atomic::AtomicU64::new(0);
    g.bench_function("floor: AtomicU64::fetch_add", |b| {
        b.iter(|| floor.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    });
    let registry = Registry::new();
    let unitel = registry.counter(&HTTP_REQUESTS_TOTAL).with_labels(&VALUES);
    g.bench_function("unitel", |b| b.iter(|| unitel.inc()));

    let pc = PromClient::new();
    let pc_counter = pc.counter.get_or_create_owned(&peers::prom_client::LABELS);
    g.bench_function("prometheus-client", |b| b.iter(|| pc_counter.inc()));

    if let Ok(p) = PrometheusRs::new() {
        let counter = p.counter.with_label_values(&VALUES);
        g.bench_function("prometheus", |b| b.iter(|| counter.inc()));
    }

    if metrics_rs::install().is_ok() {
        let counter = metrics::counter!("http_requests_total", "method" => "GET",
            "route" => "/api/items/{id}", "status" => "200");
        g.bench_function("metrics", |b| b.iter(|| counter.increment(1)));
    }

    let otel = Otel::new();
    let bound = otel.counter.bind(&otel.attributes);
    g.bench_function("opentelemetry_sdk bound", |b| b.iter(|| bound.add(1)));
    g.finish();
}

fn histogram_bound(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram_bound");
    let registry = Registry::new();
    let unitel = registry
        .histogram(&HTTP_REQUEST_DURATION_SECONDS)
        .with_labels(&VALUES);
    g.bench_function("unitel", |b| b.iter(|| unitel.observe(black_box(VALUE))));

    let pc = PromClient::new();
    let pc_hist = pc
        .histogram
        .get_or_create_owned(&peers::prom_client::LABELS);
    g.bench_function("prometheus-client", |b| {
        b.iter(|| pc_hist.observe(black_box(VALUE)));
    });

    if let Ok(p) = PrometheusRs::new() {
        let hist = p.histogram.with_label_values(&VALUES);
        g.bench_function("prometheus", |b| b.iter(|| hist.observe(black_box(VALUE))));
    }

    if let Ok(handle) = metrics_rs::install() {
        let hist = metrics::histogram!("http_request_duration_seconds", "method" => "GET",
            "route" => "/api/items/{id}", "status" => "200");
        // metrics-exporter-prometheus appends raw samples and folds them into buckets at
        // upkeep/render time; upkeep runs between batches, outside the timed region.
        g.bench_function("metrics (bucketing deferred to upkeep)", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    hist.record(black_box(VALUE));
                }
                let elapsed = start.elapsed();
                handle.run_upkeep();
                elapsed
            });
        });
    }

    let otel = Otel::new();
    let bound = otel.histogram.bind(&otel.attributes);
    g.bench_function("opentelemetry_sdk bound", |b| {
        b.iter(|| bound.record(black_box(VALUE)));
    });
    g.finish();
}

fn counter_lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_lookup");
    let registry = Registry::new();
    let family = registry.counter(&HTTP_REQUESTS_TOTAL);
    family.with_labels(&VALUES).inc();
    g.bench_function("unitel inc_with", |b| {
        b.iter(|| family.inc_with(black_box(&VALUES)));
    });
    g.bench_function("unitel with_labels", |b| {
        b.iter(|| family.with_labels(black_box(&VALUES)).inc());
    });
    g.bench_function("unitel with_label_pairs", |b| {
        b.iter(|| family.with_label_pairs(black_box(&PAIRS)).inc());
    });

    let pc = PromClient::new();
    g.bench_function("prometheus-client", |b| {
        b.iter(|| {
            pc.counter
                .get_or_create(black_box(&peers::prom_client::LABELS))
                .inc();
        });
    });

    if let Ok(p) = PrometheusRs::new() {
        g.bench_function("prometheus", |b| {
            b.iter(|| p.counter.with_label_values(black_box(&VALUES)).inc());
        });
    }

    if metrics_rs::install().is_ok() {
        g.bench_function("metrics", |b| {
            b.iter(|| {
                let [method, route, status] = black_box(VALUES);
                metrics::counter!("http_requests_total", "method" => method,
                    "route" => route, "status" => status)
                .increment(1);
            });
        });
    }

    let otel = Otel::new();
    g.bench_function("opentelemetry_sdk attributes per call", |b| {
        b.iter(|| otel.counter.add(1, black_box(&otel.attributes)));
    });
    g.finish();
}

fn histogram_lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram_lookup");
    let registry = Registry::new();
    let family = registry.histogram(&HTTP_REQUEST_DURATION_SECONDS);
    family.with_labels(&VALUES).observe(VALUE);
    g.bench_function("unitel observe_with", |b| {
        b.iter(|| family.observe_with(black_box(&VALUES), black_box(VALUE)));
    });
    g.bench_function("unitel with_labels", |b| {
        b.iter(|| {
            family
                .with_labels(black_box(&VALUES))
                .observe(black_box(VALUE));
        });
    });

    let pc = PromClient::new();
    g.bench_function("prometheus-client", |b| {
        b.iter(|| {
            pc.histogram
                .get_or_create(black_box(&peers::prom_client::LABELS))
                .observe(black_box(VALUE));
        });
    });

    if let Ok(p) = PrometheusRs::new() {
        g.bench_function("prometheus", |b| {
            b.iter(|| {
                p.histogram
                    .with_label_values(black_box(&VALUES))
                    .observe(black_box(VALUE));
            });
        });
    }

    if let Ok(handle) = metrics_rs::install() {
        g.bench_function("metrics (bucketing deferred to upkeep)", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let [method, route, status] = black_box(VALUES);
                    metrics::histogram!("http_request_duration_seconds", "method" => method,
                        "route" => route, "status" => status)
                    .record(black_box(VALUE));
                }
                let elapsed = start.elapsed();
                handle.run_upkeep();
                elapsed
            });
        });
    }

    let otel = Otel::new();
    g.bench_function("opentelemetry_sdk attributes per call", |b| {
        b.iter(|| {
            otel.histogram
                .record(black_box(VALUE), black_box(&otel.attributes));
        });
    });
    g.finish();
}

fn by_name(c: &mut Criterion) {
    let mut g = c.benchmark_group("by_name");
    unitel::record::increment_counter("http_requests_total", &PAIRS);
    g.bench_function("unitel increment_counter", |b| {
        b.iter(|| {
            unitel::record::increment_counter(black_box("http_requests_total"), black_box(&PAIRS));
        });
    });
    g.bench_function("unitel observe_histogram", |b| {
        b.iter(|| {
            unitel::record::observe_histogram(
                black_box("http_request_duration_seconds"),
                black_box(VALUE),
                black_box(&PAIRS),
            );
        });
    });
    g.bench_function("unitel set_gauge", |b| {
        b.iter(|| {
            unitel::record::set_gauge(
                black_box("circuit_breaker_state"),
                black_box(1.0),
                black_box(&[("circuit", "llm")]),
            );
        });
    });
    g.finish();
}

fn route(i: u64) -> String {
    format!("/api/r{i}/{{id}}")
}

fn series(c: &mut Criterion) {
    let mut g = c.benchmark_group("series");
    let cap = unitel::registry::DEFAULT_MAX_SERIES_PER_FAMILY as u64;
    // A new series each record, in batches of `cap` on a fresh registry (created outside the
    // timed region), so every record is under the cap.
    g.bench_function("new series under the cap", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = left.min(cap);
                let registry = Registry::new();
                let family = registry.counter(&HTTP_REQUESTS_TOTAL);
                let routes: Vec<String> = (0..batch).map(route).collect();
                let start = Instant::now();
                for r in &routes {
                    family.with_labels(&["GET", r, "200"]).inc();
                }
                total += start.elapsed();
                left -= batch;
            }
            total
        });
    });

    let registry = Registry::new();
    let family = registry.counter(&HTTP_REQUESTS_TOTAL);
    for i in 0..cap {
        family.with_labels(&["GET", &route(i), "200"]).inc();
    }
    let past: Vec<String> = (cap..cap + 1024).map(route).collect();
    g.bench_function("new label set past the cap (overflow)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & 1023;
            family.with_labels(&["GET", &past[i], "200"]).inc();
        });
    });
    g.finish();
}

criterion_group!(
    benches,
    counter_bound,
    histogram_bound,
    counter_lookup,
    histogram_lookup,
    by_name,
    series
);
criterion_main!(benches);
