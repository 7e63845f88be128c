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
//! // Anything else can record by name:
//! unitel::record::increment_counter("rag_queries_total", &[("pipeline", "standard")]);
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
//! ## Where things are
//! - [`init()`] with a [`TelemetryConfig`] installs everything and returns a guard that derefs
//!   to the process-wide [`Telemetry`]; recorders fall back to it, tests build their own.
//! - [`catalog`]: every metric family; [`registry`]: storage and typed handles;
//!   [`prometheus`]: the exposition; [`record`]: recording by name.
//! - Recorders by domain: [`http`], [`db`], [`genai`] (LLM, RAG, embeddings, cache),
//!   [`system`], [`instrument`] (timing, resources, errors) and the attribute macros.
//! - [`trace`]: span helpers and W3C propagation; [`resilience`]: a circuit breaker.

// The modules, by layer (bottom to top: each imports only from its own layer or the ones below
// it; `core/tests/architecture.rs` checks it, docs/architecture.md explains it):
// leaves: catalog, config | registry | export | trace | telemetry
// domains: http, db, genai, system, instrument, record, resilience, __macro_support | init
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
pub mod registry;
pub mod resilience;
pub mod system;
mod telemetry;
pub mod trace;

// What a user needs on day one; everything else is reached through its module.
pub use catalog::MetricKind;
pub use config::{ConfigError, TelemetryConfig, TelemetryConfigBuilder};
pub use db::DbClientMetrics;
pub use genai::embeddings::EmbeddingBatch;
pub use genai::llm::{LlmCall, LlmUsage};
pub use genai::rag::RagQuery;
pub use http::server::{HttpServerConfig, HttpServerRecorder};
pub use init::{InitError, ShutdownError, TelemetryGuard, init};
pub use registry::{
    Counter, CounterFamily, Gauge, GaugeFamily, Histogram, HistogramFamily, MetricDefinition,
    Registry,
};
pub use telemetry::Telemetry;
pub use trace::propagation::{RemoteContext, inject_context};
pub use unitel_macros::{
    cache_metrics, count_calls, measure_latency, monitor_resource, trace_operation,
    track_llm_usage, track_metrics,
};

// The registry's default series cap and the configuration's default are one value.
const _: () =
    assert!(registry::DEFAULT_MAX_SERIES_PER_FAMILY == config::DEFAULT_MAX_SERIES_PER_FAMILY);

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
