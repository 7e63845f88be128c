//! Embedding batches: `embeddings_generated_total` (by the number of embeddings),
//! `embedding_generation_duration_seconds`, the GenAI semantic-convention histograms, and an
//! `embeddings {model}` client span.
//!
//! ```
//! use tracing::Instrument as _;
//! use unitel::genai::embeddings::EmbeddingBatch;
//!
//! # async fn embed(texts: &[&str]) -> Result<(Vec<Vec<f32>>, u64), u16> {
//! #     Ok((texts.iter().map(|_| vec![0.0; 4]).collect(), 12))
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let texts = ["first", "second", "third"];
//! let batch = EmbeddingBatch::start("openai", "text-embedding-3-small", texts.len());
//! match embed(&texts).instrument(batch.span().clone()).await {
//!     Ok((vectors, tokens)) => {
//!         batch.finish_with_tokens(tokens);
//!         assert_eq!(vectors.len(), 3);
//!     }
//!     Err(status) => batch.fail(unitel::genai::llm::LlmErrorKind::from_http_status(status)),
//! }
//! # });
//! let text = unitel::prometheus::render();
//! // The model is not in the price table: its label is `other`.
//! assert!(text.contains("embeddings_generated_total{provider=\"openai\",model=\"other\"} 3"));
//! ```

use std::sync::Arc;
use std::time::Instant;

use super::llm::{
    Cost, GenAiOperation, LlmErrorKind, LlmMetrics, ModelPrice, OTHER_MODEL, PriceTable,
    price_table_of,
};

/// Settings of an [`EmbeddingBatch`] before it starts.
#[derive(Debug, Clone)]
#[must_use]
pub struct EmbeddingBatchBuilder {
    provider: &'static str,
    model: String,
    batch_size: usize,
    listed: bool,
    price: Option<ModelPrice>,
    table: Option<Arc<PriceTable>>,
    metrics: Option<Arc<LlmMetrics>>,
    dimensions: Option<u64>,
}

impl EmbeddingBatchBuilder {
    /// `gen_ai.embeddings.dimension.count`.
    pub fn dimensions(mut self, dimensions: u64) -> Self {
        self.dimensions = Some(dimensions);
        self
    }

    /// Prices for this batch instead of the table's (only the input price applies); the model
    /// keeps its name as a label.
    pub fn price(mut self, price: ModelPrice) -> Self {
        self.price = Some(price);
        self.listed = true;
        self
    }

    /// Keeps the model's name as a label although the price table does not list it.
    pub fn listed_model(mut self) -> Self {
        self.listed = true;
        self
    }

    /// Uses `table` instead of the price table of the metrics' telemetry.
    pub fn price_table(mut self, table: Arc<PriceTable>) -> Self {
        self.table = Some(table);
        self
    }

    /// Records into `metrics` instead of [`LlmMetrics::global`], with the price table of their
    /// telemetry ([`LlmMetrics::of`]).
    pub fn metrics(mut self, metrics: &Arc<LlmMetrics>) -> Self {
        self.metrics = Some(Arc::clone(metrics));
        self
    }

    /// Starts the batch: the clock and the span.
    pub fn start(self) -> EmbeddingBatch {
        let metrics = self.metrics.unwrap_or_else(LlmMetrics::global);
        let table = self
            .table
            .unwrap_or_else(|| price_table_of(metrics.telemetry()));
        let price = self.price.or_else(|| table.price(&self.model).copied());
        let model_label: Box<str> = if self.listed || table.is_listed(&self.model) {
            self.model.as_str().into()
        } else {
            OTHER_MODEL.into()
        };
        let span = tracing::info_span!(
            "gen_ai.embeddings",
            otel.name = %format_args!("embeddings {}", self.model),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            gen_ai.operation.name = GenAiOperation::Embeddings.as_str(),
            gen_ai.provider.name = self.provider,
            gen_ai.request.model = %self.model,
            gen_ai.embeddings.dimension.count = self.dimensions,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            unitel.embeddings.batch_size = u64::try_from(self.batch_size).unwrap_or(u64::MAX),
            error.type = tracing::field::Empty,
        );
        EmbeddingBatch {
            state: Some(BatchState {
                provider: self.provider,
                model_label,
                batch_size: self.batch_size,
                price,
                metrics,
                start: Instant::now(),
            }),
            span,
        }
    }
}

#[derive(Debug)]
struct BatchState {
    provider: &'static str,
    model_label: Box<str>,
    batch_size: usize,
    price: Option<ModelPrice>,
    metrics: Arc<LlmMetrics>,
    start: Instant,
}

/// One batch of embeddings in progress. Dropping it unfinished records a cancelled batch.
#[derive(Debug)]
#[must_use = "an EmbeddingBatch dropped unfinished is recorded as cancelled"]
pub struct EmbeddingBatch {
    state: Option<BatchState>,
    span: tracing::Span,
}

impl EmbeddingBatch {
    /// Starts a batch of `batch_size` inputs. The model label follows the price table (see
    /// [`llm`](super::llm)).
    pub fn start(provider: &'static str, model: &str, batch_size: usize) -> Self {
        Self::builder(provider, model, batch_size).start()
    }

    /// A batch to configure before it starts.
    pub fn builder(
        provider: &'static str,
        model: &str,
        batch_size: usize,
    ) -> EmbeddingBatchBuilder {
        EmbeddingBatchBuilder {
            provider,
            model: model.to_owned(),
            batch_size,
            listed: false,
            price: None,
            table: None,
            metrics: None,
            dimensions: None,
        }
    }

    /// The `embeddings {model}` span.
    #[must_use]
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The batch succeeded.
    pub fn finish(mut self) {
        if let Some(s) = self.state.take() {
            self.succeed(&s, None);
        }
    }

    /// The batch succeeded and used `input_tokens`; returns its cost (zero without a price).
    pub fn finish_with_tokens(mut self, input_tokens: u64) -> Cost {
        match self.state.take() {
            Some(s) => self.succeed(&s, Some(input_tokens)),
            None => Cost::ZERO,
        }
    }

    /// The batch failed.
    pub fn fail(mut self, kind: LlmErrorKind) {
        if let Some(s) = self.state.take() {
            self.failed(&s, kind);
        }
    }

    fn succeed(&self, s: &BatchState, input_tokens: Option<u64>) -> Cost {
        let elapsed = s.start.elapsed();
        let (p, m, op) = (
            s.provider,
            &*s.model_label,
            GenAiOperation::Embeddings.as_str(),
        );
        let metrics = &s.metrics;
        metrics
            .embeddings
            .with_labels(&[p, m])
            .add(u64::try_from(s.batch_size).unwrap_or(u64::MAX));
        metrics
            .embedding_duration
            .with_labels(&[p, m])
            .observe_duration(elapsed);
        metrics
            .operation_duration
            .with_labels(&[op, p, m, ""])
            .observe_duration(elapsed);
        let Some(tokens) = input_tokens else {
            return Cost::ZERO;
        };
        metrics.tokens.with_labels(&[p, m, "input"]).add(tokens);
        #[allow(clippy::cast_precision_loss)]
        metrics
            .token_usage
            .with_labels(&[op, p, m, "input"])
            .observe(tokens as f64);
        self.span.record("gen_ai.usage.input_tokens", tokens);
        match s.price {
            Some(price) => {
                let cost = price.input_price().cost_of(tokens);
                metrics.add_cost(p, m, cost);
                cost
            }
            None => Cost::ZERO,
        }
    }

    fn failed(&self, s: &BatchState, kind: LlmErrorKind) {
        let op = GenAiOperation::Embeddings.as_str();
        s.metrics
            .operation_duration
            .with_labels(&[op, s.provider, &s.model_label, kind.as_str()])
            .observe_duration(s.start.elapsed());
        crate::trace::mark_span_failed(&self.span, kind.as_str(), None);
    }
}

impl Drop for EmbeddingBatch {
    fn drop(&mut self) {
        if let Some(s) = self.state.take() {
            let kind = if std::thread::panicking() {
                LlmErrorKind::Other
            } else {
                LlmErrorKind::Cancelled
            };
            self.failed(&s, kind);
        }
    }
}
