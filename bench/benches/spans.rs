//! Spans through `tracing` + `tracing-opentelemetry` 0.34 + `opentelemetry_sdk` 0.33, exported
//! over OTLP/gRPC to an in-process receiver, as `unitel::init` sets them up (fmt layer + OTel
//! layer, `ParentBased(AlwaysOn)` sampler, unitel's bounded batch queue):
//!
//! * a span from `unitel::trace::start_span`, entered and closed;
//! * a request through `HttpServerRecorder` (what the HTTP layers run): its metrics and its
//!   server span, which with `init`'s pipeline is started through the OpenTelemetry API, sampled
//!   root and child of an unsampled remote parent (the metrics alone: `http_recorder` in the
//!   `instrumentation` bench);
//! * an HTTP server span with the same semantic-convention attributes written as a `tracing`
//!   span (what the recorder builds without unitel's pipeline, and what a hand-written
//!   `info_span!` costs), sampled (root, and child of a sampled remote parent) and unsampled
//!   (child of a remote parent with flags `00`);
//! * for reference, the same server span through a plain `tracing-opentelemetry` layer over the
//!   SDK's own batch span processor (no fmt layer): the "bare span" of the issue.
//!
//! Wall time per span on the recording thread; the export runs on other threads.
//!
//! `cargo bench -p unitel-bench --bench spans`

use std::hint::black_box;
use std::sync::Arc;

use criterion::Criterion;
use unitel::http::server::{HttpServerConfig, HttpServerRecorder};
use unitel_bench::pipeline::{SpanPipeline, serve_recorded_request};

fn server_span(path: &'static str) -> tracing::Span {
    tracing::info_span!(
        target: "unitel::http::server",
        parent: None,
        "HTTP server request",
        otel.name = "GET /api/items/{id}",
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = "GET",
        http.route = "/api/items/{id}",
        http.response.status_code = tracing::field::Empty,
        url.path = path,
        url.scheme = "http",
        network.protocol.version = "1.1",
        user_agent.original = "wrk/4.1.0",
        server.address = "127.0.0.1",
        server.port = 3000_i64,
        error.type = tracing::field::Empty,
    )
}

fn serve_one(span: &tracing::Span) {
    span.in_scope(|| black_box(42));
    span.record("http.response.status_code", 200_i64);
}

fn remote(flags: &str) -> unitel::RemoteContext {
    let mut headers = http::HeaderMap::new();
    let value = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}");
    if let Ok(v) = http::HeaderValue::from_str(&value) {
        headers.insert("traceparent", v);
    }
    unitel::extract_context(&headers)
}

fn llm_call(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    use unitel::genai::llm::{LlmCall, LlmMetrics, LlmUsage, ModelPrice, Price, PriceTable};
    let registry = unitel::Registry::new();
    let metrics = LlmMetrics::new(&registry);
    let (Ok(input), Ok(output)) = (Price::per_1m_dollars(2.5), Price::per_1m_dollars(10.0)) else {
        return;
    };
    let table = Arc::new(PriceTable::new("bench").model("gpt-4o", ModelPrice::new(input, output)));
    g.bench_function("LlmCall start + finish with cost, sampled span", |b| {
        b.iter(|| {
            let call = LlmCall::builder("openai", black_box("gpt-4o"))
                .metrics(&metrics)
                .price_table(Arc::clone(&table))
                .start();
            black_box(call.finish(LlmUsage::new(1_000, 200).cached_input_tokens(400)));
        });
    });
}

fn unitel_spans(c: &mut Criterion) {
    let mut g = c.benchmark_group("span_unitel");
    // The recorder first: the `tracing` span benches below leave the export thread and the
    // receiver busy on the other core for a while.
    let registry = unitel::Registry::new();
    let recorder = HttpServerRecorder::new(HttpServerConfig::new().registry(registry));
    let mut headers = http::HeaderMap::new();
    headers.insert("user-agent", http::HeaderValue::from_static("wrk/4.1.0"));
    g.bench_function(
        "HttpServerRecorder request, sampled root (metrics + span)",
        |b| {
            b.iter(|| serve_recorded_request(&recorder, &headers));
        },
    );
    let mut unsampled_headers = headers.clone();
    unsampled_headers.insert(
        "traceparent",
        http::HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
    );
    g.bench_function(
        "HttpServerRecorder request, unsampled parent (metrics + span)",
        |b| {
            b.iter(|| serve_recorded_request(&recorder, &unsampled_headers));
        },
    );
    g.bench_function("start_span, entered (sampled root)", |b| {
        b.iter(|| {
            let span = unitel::trace::start_span("operation");
            span.in_scope(|| black_box(1));
        });
    });
    g.bench_function("tracing HTTP server span, sampled root", |b| {
        b.iter(|| serve_one(&server_span("/api/items/42")));
    });
    let sampled = remote("01");
    g.bench_function("tracing HTTP server span, sampled remote parent", |b| {
        b.iter(|| {
            let span = server_span("/api/items/42");
            sampled.set_parent_of(&span);
            serve_one(&span);
        });
    });
    let unsampled = remote("00");
    g.bench_function("tracing HTTP server span, unsampled remote parent", |b| {
        b.iter(|| {
            let span = server_span("/api/items/42");
            unsampled.set_parent_of(&span);
            serve_one(&span);
        });
    });
    llm_call(&mut g);
    g.bench_function("extract_context + set_parent_of only", |b| {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        let span = server_span("/api/items/42");
        b.iter(|| unitel::extract_context(black_box(&headers)).set_parent_of(&span));
    });
    g.finish();
}

/// The reference: a plain `tracing-opentelemetry` layer over the SDK's batch span processor.
fn sdk_reference(c: &mut Criterion, endpoint: &str) {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("spans: no runtime for the reference exporter: {e}");
            return;
        }
    };
    let exporter = {
        use opentelemetry_otlp::WithExportConfig as _;
        let _entered = runtime.enter();
        match opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
        {
            Ok(e) => e,
            Err(e) => {
                eprintln!("spans: reference exporter: {e}");
                return;
            }
        }
    };
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_sampler(opentelemetry_sdk::trace::Sampler::ParentBased(Box::new(
            opentelemetry_sdk::trace::Sampler::AlwaysOn,
        )))
        .with_batch_exporter(exporter)
        .build();
    let tracer = provider.tracer("reference");
    let subscriber = tracing_subscriber::registry().with(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_tracked_inactivity(false),
    );
    tracing::subscriber::with_default(subscriber, || {
        let mut g = c.benchmark_group("span_reference");
        g.bench_function(
            "tracing-opentelemetry + SDK batch, HTTP server span, sampled",
            |b| {
                b.iter(|| serve_one(&server_span("/api/items/42")));
            },
        );
        g.finish();
    });
    let _ = provider.shutdown();
}

fn main() {
    let pipeline = SpanPipeline::start_or_exit(1.0, "spans");
    let mut c = Criterion::default().configure_from_args();
    unitel_spans(&mut c);
    sdk_reference(&mut c, &pipeline.receiver.endpoint());
    c.final_summary();
    pipeline.guard.force_flush();
}
