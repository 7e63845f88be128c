//! # unitel
//!
//! One layer of metrics and tracing for Rust web services: every metric family of the catalog
//! served in Prometheus text format (and pushed over OTLP when configured), `tracing` spans
//! exported as OpenTelemetry spans, W3C propagation helpers, and nothing that can crash, block
//! or grow without bound in a request path.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = unitel::init(unitel::TelemetryConfig::from_env()?)?;
//!
//! // Hot paths take a typed handle once and record with one atomic operation:
//! let hits = unitel::registry()
//!     .counter(&unitel::catalog::RAG_CACHE_HITS_TOTAL)
//!     .with_labels(&["embedding_cache"]);
//! hits.inc();
//!
//! // Everything else can record by name, as the original design did:
//! unitel::increment_counter("rag_queries_total", &[("pipeline", "standard")]);
//!
//! let text = unitel::prometheus::render(); // what GET /metrics serves
//! # drop(text);
//! guard.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! ## Features
//! - `otel` (default): OpenTelemetry spans and OTLP export. Without it the same API compiles,
//!   metrics are still served in Prometheus format, and spans stay plain `tracing` spans.
//!   [`OTEL_AVAILABLE`] tells which build this is.
//!
//! ## Modules follow the data
//! [`config`] → [`init()`] → [`catalog`] → [`Registry`] / [`record`] → [`prometheus`] (and OTLP).

// Layers, bottom to top; a module imports only from the ones listed before it
// (docs/architecture.md):
#[doc(hidden)]
pub mod __macro_support;
pub mod catalog;
pub mod config;
pub mod db;
mod export;
pub mod genai;
pub mod http;
mod init;
pub mod instrument;
pub mod record;
mod registry;
pub mod resilience;
pub mod system;
mod telemetry;
pub mod trace;

pub use catalog::{MetricDescriptor, MetricKind};
pub use config::{
    ConfigError, MetricsExporter, OtlpProtocol, SamplerConfig, TelemetryConfig,
    TelemetryConfigBuilder, TracesExporter,
};
pub use init::{InitError, ShutdownError, TelemetryGuard, init};
pub use record::{add_to_counter, increment_counter, observe_histogram, set_gauge};
pub use registry::{
    Counter, CounterFamily, DEFAULT_MAX_SERIES_PER_FAMILY, Gauge, GaugeFamily, Histogram,
    HistogramFamily, HistogramValue, InstrumentationErrorKind, MAX_FAMILIES, MetricCallback,
    MetricDefinition, Registry, RegistryError,
};
pub use telemetry::{DEFAULT_METRICS_PATH, Telemetry};

// The registry's default series cap and the configuration's default are one value.
const _: () =
    assert!(registry::DEFAULT_MAX_SERIES_PER_FAMILY == config::DEFAULT_MAX_SERIES_PER_FAMILY);
pub use trace::propagation::{RemoteContext, inject_context};
pub use trace::{add_span_event, set_span_attribute, start_span};

pub use instrument::{monitor_resource, record_error, time_operation};
pub use unitel_macros::{
    cache_metrics, count_calls, measure_latency, monitor_resource, trace_operation,
    track_llm_usage, track_metrics,
};

/// Whether this build exports OpenTelemetry spans and OTLP (the `otel` feature).
pub const OTEL_AVAILABLE: bool = cfg!(feature = "otel");

/// The registry of the process-wide [`Telemetry::global`], which [`init`], the integrations
/// and the convenience functions use.
///
/// ```
/// let families = unitel::registry();
/// families.gauge(&unitel::catalog::CIRCUIT_BREAKER_STATE).with_labels(&["llm"]).set(1.0);
/// ```
#[must_use]
pub fn registry() -> &'static Registry {
    Telemetry::global().registry()
}

/// `registry().add_callback(name, f)` on the process-wide registry.
///
/// # Errors
/// [`RegistryError::NotFound`] when `name` is not registered.
pub fn add_callback<F>(name: &str, callback: F) -> Result<(), RegistryError>
where
    F: Fn(&str, f64, &[(&str, &str)]) + Send + Sync + 'static,
{
    registry().add_callback(name, callback)
}

/// Reads `traceparent`, `tracestate` and `baggage` from `headers`; a malformed `traceparent` is
/// counted (`unitel_instrumentation_errors_total{kind="invalid_header"}`) in the process-wide
/// registry and starts a new trace. See [`trace::propagation`].
#[must_use]
pub fn extract_context(headers: &::http::HeaderMap) -> RemoteContext {
    trace::propagation::extract_context_into(headers, registry())
}

/// Prometheus text exposition (format 0.0.4): rendering, the endpoint's response and its token.
pub mod prometheus {
    pub use crate::export::prometheus::{CONTENT_TYPE, MetricsAuth, render_registry, respond};

    /// Renders the process-wide registry ([`Telemetry::global`](crate::Telemetry::global)):
    /// what `GET /metrics` serves.
    ///
    /// ```
    /// unitel::registry()
    ///     .counter(&unitel::catalog::ERRORS_TOTAL)
    ///     .with_labels(&["parser", "invalid_input"])
    ///     .inc();
    /// let text = unitel::prometheus::render();
    /// assert!(text.contains("errors_total{component=\"parser\",error_type=\"invalid_input\"} 1"));
    /// ```
    #[must_use]
    pub fn render() -> String {
        render_registry(crate::registry())
    }
}
