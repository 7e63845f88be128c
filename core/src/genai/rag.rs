//! RAG queries: `rag_queries_total`, cache hits and misses, documents retrieved, retrieval
//! latency, and a `retrieval {data_source}` span.
//!
//! A `rag_search` function with a [`RagQuery`] guard:
//!
//! ```
//! use tracing::Instrument as _;
//! use unitel::genai::rag::RagQuery;
//!
//! # #[derive(Clone)] struct Document;
//! # async fn check_cache(_: &str) -> Option<Vec<Document>> { None }
//! # async fn retrieve_documents(_: &str) -> Vec<Document> { vec![Document, Document, Document] }
//! async fn rag_search(query: &str) -> Vec<Document> {
//!     // rag_queries_total{pipeline="standard"} + 1, and the `retrieval docs_index` span
//!     let rag = RagQuery::builder("standard").data_source("docs_index").top_k(5).start();
//!     // rag_cache_hits_total / rag_cache_misses_total{cache="standard"}
//!     if let Some(cached) = rag.check_cache(check_cache(query).await) {
//!         return cached;
//!     }
//!     let documents = retrieve_documents(query).instrument(rag.span().clone()).await;
//!     // rag_documents_retrieved and rag_retrieval_latency_seconds{pipeline="standard"}
//!     rag.retrieved(documents.len());
//!     documents
//! }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! rag_search("what is unitel?").await;
//! # });
//! let text = unitel::prometheus::render();
//! assert!(text.contains("rag_queries_total{pipeline=\"standard\"} 1"));
//! assert!(text.contains("rag_cache_misses_total{cache=\"standard\"} 1"));
//! assert!(text.contains("rag_documents_retrieved_bucket{pipeline=\"standard\",le=\"3\"} 1"));
//! assert!(text.contains("rag_retrieval_latency_seconds_count{pipeline=\"standard\"} 1"));
//! ```

use std::sync::Arc;
use std::time::Instant;

use crate::catalog;
use crate::registry::{CounterFamily, Histogram, HistogramFamily, Registry};
use crate::telemetry::Telemetry;

/// The RAG metric families of one registry.
#[derive(Debug)]
pub struct RagMetrics {
    queries: CounterFamily,
    latency: HistogramFamily,
    documents: HistogramFamily,
    hits: CounterFamily,
    misses: CounterFamily,
    errors: CounterFamily,
}

impl RagMetrics {
    /// The families of `registry`.
    #[must_use]
    pub fn new(registry: &Registry) -> Arc<Self> {
        Arc::new(Self::build(registry))
    }

    fn build(registry: &Registry) -> Self {
        Self {
            queries: registry.counter(&catalog::RAG_QUERIES_TOTAL),
            latency: registry.histogram(&catalog::RAG_RETRIEVAL_LATENCY_SECONDS),
            documents: registry.histogram(&catalog::RAG_DOCUMENTS_RETRIEVED),
            hits: registry.counter(&catalog::RAG_CACHE_HITS_TOTAL),
            misses: registry.counter(&catalog::RAG_CACHE_MISSES_TOTAL),
            errors: registry.counter(&catalog::ERRORS_TOTAL),
        }
    }

    /// The families of the process-wide [`Telemetry::global`] (one set per telemetry).
    #[must_use]
    pub fn global() -> Arc<Self> {
        Self::of(Telemetry::global())
    }

    /// The families of `telemetry`'s registry (one set per telemetry).
    #[must_use]
    pub fn of(telemetry: &Telemetry) -> Arc<Self> {
        telemetry
            .extensions()
            .get_or_insert_with(|| Self::build(telemetry.registry()))
    }
}

/// `component` label of `errors_total` for failed RAG queries.
pub const ERROR_COMPONENT: &str = "rag";

/// Settings of a [`RagQuery`] before it starts.
#[derive(Debug, Clone)]
#[must_use]
pub struct RagQueryBuilder {
    pipeline: String,
    data_source: Option<String>,
    top_k: Option<u64>,
    cache_name: Option<String>,
    metrics: Option<Arc<RagMetrics>>,
}

impl RagQueryBuilder {
    /// `gen_ai.data_source.id`, and the span name `retrieval {data_source}` (default: the
    /// pipeline).
    pub fn data_source(mut self, data_source: impl Into<String>) -> Self {
        self.data_source = Some(data_source.into());
        self
    }

    /// `gen_ai.request.top_k`: how many documents were asked for.
    pub fn top_k(mut self, top_k: u64) -> Self {
        self.top_k = Some(top_k);
        self
    }

    /// The `cache` label of hits and misses (default: the pipeline).
    pub fn cache_name(mut self, cache_name: impl Into<String>) -> Self {
        self.cache_name = Some(cache_name.into());
        self
    }

    /// Records into `metrics` instead of [`RagMetrics::global`].
    pub fn metrics(mut self, metrics: &Arc<RagMetrics>) -> Self {
        self.metrics = Some(Arc::clone(metrics));
        self
    }

    /// Starts the query: counts it, starts the clock and the span.
    pub fn start(self) -> RagQuery {
        let metrics = self.metrics.unwrap_or_else(RagMetrics::global);
        let pipeline = self.pipeline.as_str();
        metrics.queries.with_labels(&[pipeline]).inc();
        let data_source = self.data_source.as_deref().unwrap_or(pipeline);
        let span = tracing::info_span!(
            "gen_ai.retrieval",
            otel.name = %format_args!("retrieval {data_source}"),
            otel.status_code = tracing::field::Empty,
            gen_ai.operation.name = "retrieval",
            gen_ai.data_source.id = data_source,
            gen_ai.request.top_k = self.top_k,
            unitel.rag.pipeline = pipeline,
            unitel.rag.cache_hit = tracing::field::Empty,
            unitel.rag.documents_retrieved = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        RagQuery {
            latency: metrics.latency.with_labels(&[pipeline]),
            documents: metrics.documents.with_labels(&[pipeline]),
            cache_name: self.cache_name.unwrap_or(self.pipeline).into(),
            metrics,
            start: Instant::now(),
            span,
        }
    }
}

/// One RAG query. Counted when it starts; [`retrieved`](Self::retrieved) records the documents
/// and the latency. A query answered from the cache ends with the hit.
#[derive(Debug)]
pub struct RagQuery {
    latency: Histogram,
    documents: Histogram,
    cache_name: Box<str>,
    metrics: Arc<RagMetrics>,
    start: Instant,
    span: tracing::Span,
}

impl RagQuery {
    /// Starts a query of `pipeline` (a fixed name such as `standard` or `hybrid`).
    pub fn start(pipeline: &str) -> Self {
        Self::builder(pipeline).start()
    }

    /// A query to configure before it starts.
    pub fn builder(pipeline: &str) -> RagQueryBuilder {
        RagQueryBuilder {
            pipeline: pipeline.to_owned(),
            data_source: None,
            top_k: None,
            cache_name: None,
            metrics: None,
        }
    }

    /// The `retrieval {data_source}` span: run the retrieval inside it.
    #[must_use]
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Counts a cache hit.
    pub fn cache_hit(&self) {
        self.record_cache(true);
    }

    /// Counts a cache miss.
    pub fn cache_miss(&self) {
        self.record_cache(false);
    }

    /// Counts a hit when `cached` is `Some`, a miss when `None`, and passes it on.
    pub fn check_cache<T>(&self, cached: Option<T>) -> Option<T> {
        self.record_cache(cached.is_some());
        cached
    }

    fn record_cache(&self, hit: bool) {
        let family = if hit {
            &self.metrics.hits
        } else {
            &self.metrics.misses
        };
        family.with_labels(&[&self.cache_name]).inc();
        self.span.record("unitel.rag.cache_hit", hit);
    }

    /// The retrieval returned `documents` documents: observes the count and the latency since
    /// the query started.
    pub fn retrieved(self, documents: usize) {
        self.latency.observe_duration(self.start.elapsed());
        #[allow(clippy::cast_precision_loss)]
        self.documents.observe(documents as f64);
        self.span.record(
            "unitel.rag.documents_retrieved",
            u64::try_from(documents).unwrap_or(u64::MAX),
        );
    }

    /// The query failed: `errors_total{component="rag", error_type}` and a failed span.
    /// `error_type` is a fixed name such as `vector_store_unavailable`.
    pub fn fail(self, error_type: &'static str) {
        self.metrics
            .errors
            .with_labels(&[ERROR_COMPONENT, error_type])
            .inc();
        crate::trace::mark_span_failed(&self.span, error_type, None);
    }
}

impl Drop for RagQuery {
    fn drop(&mut self) {
        if std::thread::panicking() {
            crate::trace::mark_span_failed(&self.span, crate::instrument::PANIC_ERROR_KIND, None);
        }
    }
}
