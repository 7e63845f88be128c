//! The trace pipeline the span benches record into: [`unitel::init`] exporting spans over
//! OTLP/gRPC to an in-process [`OtlpReceiver`] that counts them and keeps none (millions arrive,
//! and the receiver shares the machine's cores with the benchmark).

use std::sync::Arc;

use unitel::config::TracesExporter;
use unitel::http::server::{HttpServerRecorder, RequestParts};
use unitel::{TelemetryConfig, TelemetryGuard};
use unitel_testkit::OtlpReceiver;

/// unitel's trace pipeline, installed, and the receiver it exports to.
#[derive(Debug)]
pub struct SpanPipeline {
    /// The in-process OTLP/gRPC receiver (spans counted, not kept).
    pub receiver: Arc<OtlpReceiver>,
    /// The guard of `unitel::init`: flush before reading the receiver's count.
    pub guard: TelemetryGuard,
}

impl SpanPipeline {
    /// [`start`](Self::start), or the process exits with the error, prefixed by `bench`.
    #[must_use]
    pub fn start_or_exit(sample_rate: f64, bench: &str) -> Self {
        Self::start(sample_rate).unwrap_or_else(|e| {
            eprintln!("{bench}: {e}");
            std::process::exit(1);
        })
    }

    /// Starts the receiver and runs `unitel::init` with traces exported to it, sampled
    /// parent-based at `sample_rate` (1.0: every root). Once per process, like `init`.
    ///
    /// # Errors
    /// The receiver could not start, or `init` refused the configuration (or ran already).
    ///
    /// # Example
    /// ```no_run
    /// let pipeline = unitel_bench::pipeline::SpanPipeline::start(1.0)?;
    /// let span = unitel::trace::start_span("operation");
    /// span.in_scope(|| ());
    /// drop(span);
    /// pipeline.guard.force_flush();
    /// println!("{} spans received", pipeline.receiver.span_count());
    /// # Ok::<(), String>(())
    /// ```
    pub fn start(sample_rate: f64) -> Result<Self, String> {
        let receiver = Arc::new(
            OtlpReceiver::start_blocking()
                .map_err(|e| format!("cannot start the OTLP receiver: {e}"))?,
        );
        receiver.discard_traces(true);
        let config = TelemetryConfig::builder()
            .service_name("unitel-bench")
            .otlp_endpoint(receiver.endpoint())
            .traces_exporters([TracesExporter::Otlp])
            .sample_rate(sample_rate)
            .build()
            .map_err(|e| e.to_string())?;
        let guard = unitel::init(config).map_err(|e| format!("unitel::init failed: {e}"))?;
        Ok(Self { receiver, guard })
    }
}

/// One `GET /api/items/42` (route `/api/items/{id}`, HTTP/1.1) through `recorder` with
/// `headers`: started, its scope entered once, answered 200, finished. What an HTTP layer does
/// for a request, without the framework.
///
/// # Example
/// ```
/// use unitel::http::server::{HttpServerConfig, HttpServerRecorder};
/// let registry = unitel::Registry::new();
/// let recorder = HttpServerRecorder::new(HttpServerConfig::new().registry(registry));
/// unitel_bench::pipeline::serve_recorded_request(&recorder, &http::HeaderMap::new());
/// ```
pub fn serve_recorded_request(recorder: &HttpServerRecorder, headers: &http::HeaderMap) {
    let mut request = recorder.start(&RequestParts {
        method: "GET",
        route: Some("/api/items/{id}"),
        path: std::hint::black_box("/api/items/42"),
        scheme: None,
        version: http::Version::HTTP_11,
        headers,
    });
    {
        let _scope = request.enter();
        std::hint::black_box(42);
    }
    request.response_started(200);
    request.finish();
}
