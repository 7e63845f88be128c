//! Unsampled requests through `HttpServerRecorder` under ratio sampling, as `unitel::init`
//! sets it up with `sample_rate` below 1 (`ParentBased(TraceIdRatioBased)`): a root request the
//! ratio drops (no propagation header: the recorder still builds the non-sampled context its
//! children and outgoing calls follow), and a request whose caller sent `traceparent` with
//! flags `00`. The ratio is 1e-9, so every root is dropped.
//!
//! Each case includes the request's metrics; the metrics alone are `http_recorder` in the
//! `instrumentation` bench (no trace pipeline there). A separate process from `spans`, whose
//! pipeline samples everything.
//!
//! `cargo bench -p unitel-bench --bench spans_unsampled`

use criterion::Criterion;
use unitel::http::server::{HttpServerConfig, HttpServerRecorder};
use unitel_bench::pipeline::{SpanPipeline, serve_recorded_request};

fn unsampled(c: &mut Criterion) {
    let mut g = c.benchmark_group("span_unsampled");
    let recorder =
        HttpServerRecorder::new(HttpServerConfig::new().registry(unitel::Registry::new()));
    let mut headers = http::HeaderMap::new();
    headers.insert("user-agent", http::HeaderValue::from_static("wrk/4.1.0"));
    g.bench_function(
        "HttpServerRecorder request, root dropped by the ratio (metrics + context)",
        |b| b.iter(|| serve_recorded_request(&recorder, &headers)),
    );
    let mut with_parent = headers.clone();
    with_parent.insert(
        "traceparent",
        http::HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
    );
    g.bench_function(
        "HttpServerRecorder request, unsampled parent (metrics + context)",
        |b| b.iter(|| serve_recorded_request(&recorder, &with_parent)),
    );
    g.finish();
}

fn main() {
    let pipeline = SpanPipeline::start_or_exit(1e-9, "spans_unsampled");
    let mut c = Criterion::default().configure_from_args();
    unsampled(&mut c);
    c.final_summary();
    pipeline.guard.force_flush();
    // Nothing was sampled: the receiver got no span.
    let spans = pipeline.receiver.span_count();
    if spans != 0 {
        eprintln!("spans_unsampled: {spans} spans exported with every request unsampled");
        std::process::exit(1);
    }
}
