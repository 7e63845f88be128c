//! The metric catalog: every metric family unitel records, written once.
//!
//! This module is the only place a metric name, its label keys and its buckets are spelled.
//! Integrations and helpers take a [`MetricDescriptor`] from here and ask the
//! [`Registry`](crate::Registry) for a typed handle; they never spell a name themselves.
//!
//! ```
//! use unitel::catalog;
//!
//! assert_eq!(catalog::HTTP_REQUESTS_TOTAL.name, "http_requests_total");
//! assert_eq!(catalog::HTTP_REQUESTS_TOTAL.labels, &["method", "route", "status"]);
//! assert!(catalog::ALL.iter().any(|d| d.name == "llm_cost_dollars_total"));
//! ```

/// What kind of value a metric family holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetricKind {
    /// A monotonically increasing total.
    #[default]
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution of observations in fixed buckets.
    Histogram,
}

impl MetricKind {
    /// The Prometheus `# TYPE` word for this kind.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

impl std::fmt::Display for MetricKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A metric family known at compile time: one row of the catalog.
///
/// `labels` are attribute keys as OpenTelemetry spells them (they may contain dots, e.g.
/// `gen_ai.request.model`); the Prometheus exposition replaces dots with underscores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricDescriptor {
    /// Exposition (Prometheus) name, e.g. `http_requests_total`.
    pub name: &'static str,
    /// Name used over OTLP when it differs from `name` (OpenTelemetry semantic conventions).
    pub otlp_name: Option<&'static str>,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// One-line help text.
    pub help: &'static str,
    /// Unit in UCUM notation as OTLP carries it (`s`, `By`, `{token}`, `USD`, `%`).
    pub unit: &'static str,
    /// Label (attribute) keys in the order handles take their values.
    pub labels: &'static [&'static str],
    /// Histogram bucket upper bounds, sorted ascending; empty for counters and gauges.
    pub buckets: &'static [f64],
}

/// HTTP server duration buckets from the OpenTelemetry HTTP semantic conventions (seconds).
pub const HTTP_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// Database query duration buckets (seconds).
pub const DB_DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// LLM request duration buckets (seconds): LLM calls take from tens of milliseconds to minutes.
pub const LLM_DURATION_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
];
/// Retrieval and embedding latency buckets (seconds).
pub const RETRIEVAL_DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets for the number of documents a retrieval returns.
pub const DOCUMENT_COUNT_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0];
/// Buckets of `gen_ai.client.operation.duration` from the GenAI semantic conventions (seconds).
pub const GEN_AI_DURATION_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// Buckets of `gen_ai.client.token.usage` from the GenAI semantic conventions (tokens).
pub const GEN_AI_TOKEN_BUCKETS: &[f64] = &[
    1.0,
    4.0,
    16.0,
    64.0,
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
];
/// Default buckets for histograms registered without explicit buckets (seconds-like scale).
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

macro_rules! descriptor {
    ($(#[$doc:meta])* $ident:ident = $kind:ident $name:literal, $help:literal, unit $unit:literal,
     labels [$($label:literal),* $(,)?] $(, buckets $buckets:expr)? $(, otlp $otlp:literal)?) => {
        $(#[$doc])*
        pub const $ident: MetricDescriptor = MetricDescriptor {
            name: $name,
            otlp_name: descriptor!(@otlp $($otlp)?),
            kind: MetricKind::$kind,
            help: $help,
            unit: $unit,
            labels: &[$($label),*],
            buckets: descriptor!(@buckets $($buckets)?),
        };
    };
    (@otlp) => { None };
    (@otlp $otlp:literal) => { Some($otlp) };
    (@buckets) => { &[] };
    (@buckets $buckets:expr) => { $buckets };
}

// --- HTTP server -------------------------------------------------------------------------------
descriptor!(
    /// Total HTTP requests served.
    HTTP_REQUESTS_TOTAL = Counter "http_requests_total", "Total HTTP requests served.",
    unit "{request}", labels ["method", "route", "status"]);
descriptor!(
    /// HTTP request duration, from the request's arrival to the end of its response body.
    HTTP_REQUEST_DURATION_SECONDS = Histogram "http_request_duration_seconds",
    "HTTP request duration in seconds.", unit "s", labels ["method", "route", "status"],
    buckets HTTP_DURATION_BUCKETS);
descriptor!(
    /// HTTP requests currently being served.
    HTTP_REQUESTS_IN_FLIGHT = Gauge "http_requests_in_flight",
    "HTTP requests currently being served.", unit "{request}", labels ["method", "route"]);

// --- HTTP client -------------------------------------------------------------------------------
descriptor!(
    /// Total outgoing HTTP requests (one per logical request, retries included).
    HTTP_CLIENT_REQUESTS_TOTAL = Counter "http_client_requests_total",
    "Total outgoing HTTP requests.", unit "{request}", labels ["method", "server_address", "status"]);
descriptor!(
    /// Outgoing HTTP request duration.
    HTTP_CLIENT_REQUEST_DURATION_SECONDS = Histogram "http_client_request_duration_seconds",
    "Outgoing HTTP request duration in seconds.", unit "s", labels ["method", "server_address"],
    buckets HTTP_DURATION_BUCKETS);

// --- Database ----------------------------------------------------------------------------------
descriptor!(
    /// Database connections currently checked out of a pool.
    DB_CONNECTIONS_ACTIVE = Gauge "db_connections_active",
    "Database connections currently in use.", unit "{connection}", labels ["pool", "db_system"]);
descriptor!(
    /// Idle database connections in a pool.
    DB_CONNECTIONS_IDLE = Gauge "db_connections_idle",
    "Idle database connections in the pool.", unit "{connection}", labels ["pool", "db_system"]);
descriptor!(
    /// Configured maximum size of a database pool.
    DB_CONNECTIONS_MAX = Gauge "db_connections_max",
    "Maximum database connections the pool may open.", unit "{connection}",
    labels ["pool", "db_system"]);
descriptor!(
    /// Time spent waiting to acquire a connection from a pool.
    DB_CONNECTION_ACQUIRE_DURATION_SECONDS = Histogram "db_connection_acquire_duration_seconds",
    "Time spent waiting for a pooled database connection in seconds.", unit "s",
    labels ["pool", "db_system"], buckets DB_DURATION_BUCKETS);
descriptor!(
    /// Acquire attempts that timed out because the pool was exhausted.
    DB_CONNECTION_ACQUIRE_TIMEOUTS_TOTAL = Counter "db_connection_acquire_timeouts_total",
    "Connection acquire attempts that timed out.", unit "{attempt}", labels ["pool", "db_system"]);
descriptor!(
    /// Total database queries executed.
    DB_QUERIES_TOTAL = Counter "db_queries_total", "Total database queries executed.",
    unit "{query}", labels ["db_system", "operation", "status"]);
descriptor!(
    /// Database query duration.
    DB_QUERY_DURATION_SECONDS = Histogram "db_query_duration_seconds",
    "Database query duration in seconds.", unit "s", labels ["db_system", "operation"],
    buckets DB_DURATION_BUCKETS);

// --- LLM ---------------------------------------------------------------------------------------
descriptor!(
    /// LLM API requests.
    LLM_REQUESTS_TOTAL = Counter "llm_requests_total", "Total LLM API requests.",
    unit "{request}", labels ["provider", "model", "status"]);
descriptor!(
    /// Tokens consumed by LLM requests, by `token_type` (input, output, cache_read).
    LLM_TOKENS_USED_TOTAL = Counter "llm_tokens_used_total", "Total LLM tokens used.",
    unit "{token}", labels ["provider", "model", "token_type"]);
descriptor!(
    /// LLM request duration.
    LLM_REQUEST_DURATION_SECONDS = Histogram "llm_request_duration_seconds",
    "LLM request duration in seconds.", unit "s", labels ["provider", "model"],
    buckets LLM_DURATION_BUCKETS);
descriptor!(
    /// Cumulative LLM API cost in US dollars.
    LLM_COST_DOLLARS_TOTAL = Counter "llm_cost_dollars_total",
    "Cumulative LLM API cost in US dollars.", unit "USD", labels ["provider", "model"]);
descriptor!(
    /// Time from sending a streaming LLM request to its first chunk.
    LLM_TIME_TO_FIRST_CHUNK_SECONDS = Histogram "llm_time_to_first_chunk_seconds",
    "Time to the first chunk of a streaming LLM response in seconds.", unit "s",
    labels ["provider", "model"], buckets RETRIEVAL_DURATION_BUCKETS);
descriptor!(
    /// Version of the LLM price table in use (value is always 1).
    PRICE_TABLE_INFO = Gauge "unitel_price_table_info",
    "LLM price table in use; the value is always 1.", unit "1", labels ["version"]);
descriptor!(
    /// GenAI semantic convention: client operation duration.
    GEN_AI_CLIENT_OPERATION_DURATION = Histogram "gen_ai_client_operation_duration_seconds",
    "GenAI operation duration.", unit "s",
    labels ["gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "error.type"],
    buckets GEN_AI_DURATION_BUCKETS, otlp "gen_ai.client.operation.duration");
descriptor!(
    /// GenAI semantic convention: tokens used per operation.
    GEN_AI_CLIENT_TOKEN_USAGE = Histogram "gen_ai_client_token_usage",
    "Number of input and output tokens used.", unit "{token}",
    labels ["gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
            "gen_ai.token.type"],
    buckets GEN_AI_TOKEN_BUCKETS, otlp "gen_ai.client.token.usage");

// --- RAG, embeddings ---------------------------------------------------------------------------
descriptor!(
    /// RAG queries.
    RAG_QUERIES_TOTAL = Counter "rag_queries_total", "Total RAG queries.", unit "{query}",
    labels ["pipeline"]);
descriptor!(
    /// RAG retrieval latency.
    RAG_RETRIEVAL_LATENCY_SECONDS = Histogram "rag_retrieval_latency_seconds",
    "RAG retrieval latency in seconds.", unit "s", labels ["pipeline"],
    buckets RETRIEVAL_DURATION_BUCKETS);
descriptor!(
    /// Documents returned per retrieval.
    RAG_DOCUMENTS_RETRIEVED = Histogram "rag_documents_retrieved",
    "Documents retrieved per RAG query.", unit "{document}", labels ["pipeline"],
    buckets DOCUMENT_COUNT_BUCKETS);
descriptor!(
    /// Cache hits.
    RAG_CACHE_HITS_TOTAL = Counter "rag_cache_hits_total", "Total RAG cache hits.", unit "{hit}",
    labels ["cache"]);
descriptor!(
    /// Cache misses.
    RAG_CACHE_MISSES_TOTAL = Counter "rag_cache_misses_total", "Total RAG cache misses.",
    unit "{miss}", labels ["cache"]);
descriptor!(
    /// Embeddings generated.
    EMBEDDINGS_GENERATED_TOTAL = Counter "embeddings_generated_total",
    "Total embeddings generated.", unit "{embedding}", labels ["provider", "model"]);
descriptor!(
    /// Embedding generation duration per batch.
    EMBEDDING_GENERATION_DURATION_SECONDS = Histogram "embedding_generation_duration_seconds",
    "Embedding generation duration in seconds.", unit "s", labels ["provider", "model"],
    buckets RETRIEVAL_DURATION_BUCKETS);

// --- System ------------------------------------------------------------------------------------
descriptor!(
    /// Host CPU usage, 0 to 100.
    SYSTEM_CPU_USAGE_PERCENT = Gauge "system_cpu_usage_percent",
    "System CPU usage in percent.", unit "%", labels []);
descriptor!(
    /// Host memory by `state` (used, available, total).
    SYSTEM_MEMORY_USAGE_BYTES = Gauge "system_memory_usage_bytes",
    "System memory in bytes by state.", unit "By", labels ["state"]);
descriptor!(
    /// Disk space by mount point and `state` (used, total).
    SYSTEM_DISK_USAGE_BYTES = Gauge "system_disk_usage_bytes",
    "Disk space in bytes by mount point and state.", unit "By", labels ["mount", "state"]);
descriptor!(
    /// Resident memory of this process.
    PROCESS_RESIDENT_MEMORY_BYTES = Gauge "process_resident_memory_bytes",
    "Resident memory of this process in bytes.", unit "By", labels []);
descriptor!(
    /// CPU usage of this process, 0 to 100 per core.
    PROCESS_CPU_USAGE_PERCENT = Gauge "process_cpu_usage_percent",
    "CPU usage of this process in percent of one core.", unit "%", labels []);

// --- Errors, resilience ------------------------------------------------------------------------
descriptor!(
    /// Application errors by component and bounded error type.
    ERRORS_TOTAL = Counter "errors_total", "Total errors by component and type.", unit "{error}",
    labels ["component", "error_type"]);
descriptor!(
    /// Circuit breaker state: 0 closed, 1 open, 2 half-open.
    CIRCUIT_BREAKER_STATE = Gauge "circuit_breaker_state",
    "Circuit breaker state (0 closed, 1 open, 2 half-open).", unit "1", labels ["breaker"]);
descriptor!(
    /// Times a circuit breaker opened.
    CIRCUIT_BREAKER_TRIPS_TOTAL = Counter "circuit_breaker_trips_total",
    "Total circuit breaker trips.", unit "{trip}", labels ["breaker"]);
descriptor!(
    /// Resources currently held, by resource name (`unitel::monitor_resource`).
    RESOURCE_IN_USE = Gauge "resource_in_use",
    "Resources currently held, by resource name.", unit "{resource}", labels ["resource"]);
descriptor!(
    /// How long a resource was held (`unitel::monitor_resource`).
    RESOURCE_HOLD_DURATION_SECONDS = Histogram "resource_hold_duration_seconds",
    "How long a resource was held in seconds.", unit "s", labels ["resource"],
    buckets DB_DURATION_BUCKETS);

// --- Self-metrics ------------------------------------------------------------------------------
descriptor!(
    /// Misuse of the recording API (undeclared label, wrong kind, counter decrease…), by kind.
    INSTRUMENTATION_ERRORS_TOTAL = Counter "unitel_instrumentation_errors_total",
    "Recording calls unitel rejected or corrected, by kind.", unit "{error}", labels ["kind"]);
descriptor!(
    /// Telemetry that could not be exported, by signal (spans dropped or failed, metric pushes failed).
    EXPORT_FAILURES_TOTAL = Counter "unitel_export_failures_total",
    "Telemetry items unitel could not export, by signal.", unit "{item}", labels ["signal"]);
descriptor!(
    /// Label sets that went to a family's overflow series because it reached its cardinality cap.
    SERIES_OVERFLOW_TOTAL = Counter "unitel_series_overflow_total",
    "Recordings sent to the overflow series because a family reached its series cap.",
    unit "{record}", labels ["metric"]);

/// Every family of the catalog, in exposition order.
pub const ALL: &[MetricDescriptor] = &[
    HTTP_REQUESTS_TOTAL,
    HTTP_REQUEST_DURATION_SECONDS,
    HTTP_REQUESTS_IN_FLIGHT,
    HTTP_CLIENT_REQUESTS_TOTAL,
    HTTP_CLIENT_REQUEST_DURATION_SECONDS,
    DB_CONNECTIONS_ACTIVE,
    DB_CONNECTIONS_IDLE,
    DB_CONNECTIONS_MAX,
    DB_CONNECTION_ACQUIRE_DURATION_SECONDS,
    DB_CONNECTION_ACQUIRE_TIMEOUTS_TOTAL,
    DB_QUERIES_TOTAL,
    DB_QUERY_DURATION_SECONDS,
    LLM_REQUESTS_TOTAL,
    LLM_TOKENS_USED_TOTAL,
    LLM_REQUEST_DURATION_SECONDS,
    LLM_COST_DOLLARS_TOTAL,
    LLM_TIME_TO_FIRST_CHUNK_SECONDS,
    PRICE_TABLE_INFO,
    GEN_AI_CLIENT_OPERATION_DURATION,
    GEN_AI_CLIENT_TOKEN_USAGE,
    RAG_QUERIES_TOTAL,
    RAG_RETRIEVAL_LATENCY_SECONDS,
    RAG_DOCUMENTS_RETRIEVED,
    RAG_CACHE_HITS_TOTAL,
    RAG_CACHE_MISSES_TOTAL,
    EMBEDDINGS_GENERATED_TOTAL,
    EMBEDDING_GENERATION_DURATION_SECONDS,
    SYSTEM_CPU_USAGE_PERCENT,
    SYSTEM_MEMORY_USAGE_BYTES,
    SYSTEM_DISK_USAGE_BYTES,
    PROCESS_RESIDENT_MEMORY_BYTES,
    PROCESS_CPU_USAGE_PERCENT,
    ERRORS_TOTAL,
    CIRCUIT_BREAKER_STATE,
    CIRCUIT_BREAKER_TRIPS_TOTAL,
    RESOURCE_IN_USE,
    RESOURCE_HOLD_DURATION_SECONDS,
    INSTRUMENTATION_ERRORS_TOTAL,
    EXPORT_FAILURES_TOTAL,
    SERIES_OVERFLOW_TOTAL,
];

/// Label value of `unitel_export_failures_total{signal}` for spans.
pub const SIGNAL_TRACES: &str = "traces";
/// Label value of `unitel_export_failures_total{signal}` for metric pushes.
pub const SIGNAL_METRICS: &str = "metrics";

/// Looks up a catalog family by its exposition name.
///
/// ```
/// let d = unitel::catalog::find("errors_total").unwrap();
/// assert_eq!(d.labels, &["component", "error_type"]);
/// ```
#[must_use]
pub fn find(name: &str) -> Option<&'static MetricDescriptor> {
    ALL.iter().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_buckets_sorted() {
        let mut names: Vec<_> = ALL.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for d in ALL {
            assert!(d.buckets.windows(2).all(|w| w[0] < w[1]), "{}", d.name);
            assert_eq!(
                d.kind == MetricKind::Histogram,
                !d.buckets.is_empty(),
                "{}",
                d.name
            );
            if d.kind == MetricKind::Counter {
                assert!(d.name.ends_with("_total"), "{}", d.name);
            }
        }
    }
}
