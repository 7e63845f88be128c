//! `unitel::prometheus::render_registry` with 100, 1,000 and 10,000 series (counter series, and histogram series
//! with 14 buckets), and the peers' text encoders on the same series for reference.
//!
//! `cargo bench -p unitel-bench --bench render`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use unitel::Registry;
use unitel::catalog::{HTTP_REQUEST_DURATION_SECONDS, HTTP_REQUESTS_TOTAL};
use unitel_bench::peers::prometheus_rs::PrometheusRs;

const SIZES: [usize; 3] = [100, 1_000, 10_000];

fn route(i: usize) -> String {
    format!("/api/r{i}/{{id}}")
}

fn unitel_registry(n: usize, histograms: bool) -> Registry {
    let registry = Registry::new();
    registry.set_max_series_per_family(n + 1);
    let counters = registry.counter(&HTTP_REQUESTS_TOTAL);
    let hists = registry.histogram(&HTTP_REQUEST_DURATION_SECONDS);
    for i in 0..n {
        let r = route(i);
        if histograms {
            hists.with_labels(&["GET", &r, "200"]).observe(0.042);
        } else {
            counters.with_labels(&["GET", &r, "200"]).inc();
        }
    }
    registry
}

fn prometheus_registry(n: usize, histograms: bool) -> Option<PrometheusRs> {
    let p = PrometheusRs::new().ok()?;
    for i in 0..n {
        let r = route(i);
        if histograms {
            p.histogram
                .with_label_values(&["GET", &r, "200"])
                .observe(0.042);
        } else {
            p.counter.with_label_values(&["GET", &r, "200"]).inc();
        }
    }
    Some(p)
}

fn prometheus_client_text(n: usize, histograms: bool) -> impl Fn() -> String {
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::histogram::Histogram;
    type Labels = Vec<(&'static str, String)>;
    let mut registry = prometheus_client::registry::Registry::default();
    if histograms {
        let family = Family::<Labels, Histogram, _>::new_with_constructor(|| {
            Histogram::new(unitel::catalog::HTTP_DURATION_BUCKETS.iter().copied())
        });
        for i in 0..n {
            family
                .get_or_create(&vec![
                    ("method", "GET".to_owned()),
                    ("route", route(i)),
                    ("status", "200".to_owned()),
                ])
                .observe(0.042);
        }
        registry.register("http_request_duration_seconds", "Duration", family);
    } else {
        let family = Family::<Labels, Counter>::default();
        for i in 0..n {
            family
                .get_or_create(&vec![
                    ("method", "GET".to_owned()),
                    ("route", route(i)),
                    ("status", "200".to_owned()),
                ])
                .inc();
        }
        registry.register("http_requests", "Requests", family);
    }
    move || {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

fn render(c: &mut Criterion) {
    for (kind, histograms) in [("counters", false), ("histograms", true)] {
        let mut g = c.benchmark_group(format!("render_{kind}"));
        g.sample_size(20);
        for n in SIZES {
            let registry = unitel_registry(n, histograms);
            g.bench_with_input(BenchmarkId::new("unitel", n), &n, |b, _| {
                b.iter(|| black_box(unitel::prometheus::render_registry(&registry)));
            });
            drop(registry);
            let pc = prometheus_client_text(n, histograms);
            g.bench_with_input(BenchmarkId::new("prometheus-client", n), &n, |b, _| {
                b.iter(|| black_box(pc()));
            });
            if let Some(p) = prometheus_registry(n, histograms) {
                g.bench_with_input(BenchmarkId::new("prometheus", n), &n, |b, _| {
                    b.iter(|| black_box(p.render()));
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
