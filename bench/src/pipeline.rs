//! The trace pipeline the span benches record into: [`unitel::init`] exporting spans over
//! OTLP/gRPC to an in-process [`OtlpReceiver`] that counts them and keeps none (millions arrive,
//! and the receiver shares the machine's cores with the benchmark).

use std::sync::Arc;

use unitel::{TelemetryConfig, TelemetryGuard, TracesExporter};
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
    /// Starts the receiver and runs `unitel::init` with traces exported to it, sampled
    /// parent-based at `sample_rate` (1.0: every root). Once per process, like `init`.
    ///
    /// # Errors
    /// The receiver could not start, or `init` refused the configuration (or ran already).
    ///
    /// # Example
    /// ```no_run
    /// let pipeline = unitel_bench::pipeline::SpanPipeline::start(1.0)?;
    /// let span = unitel::start_span("operation");
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
