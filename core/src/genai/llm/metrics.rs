//! [`LlmMetrics`]: the GenAI metric families of one [`Telemetry`] (LLM calls and embeddings).

use std::sync::Arc;

use super::Cost;
use super::ledger::CostLedgers;
use crate::catalog;
use crate::registry::{CounterFamily, HistogramFamily, Registry};
use crate::telemetry::Telemetry;

/// The GenAI metric families of one registry (LLM calls and embeddings), with the exact cost
/// totals behind `llm_cost_dollars_total`. Create one per registry.
pub struct LlmMetrics {
    telemetry: Telemetry,
    pub(super) requests: CounterFamily,
    pub(in crate::genai) tokens: CounterFamily,
    pub(super) duration: HistogramFamily,
    cost: CounterFamily,
    pub(super) first_chunk: HistogramFamily,
    pub(in crate::genai) operation_duration: HistogramFamily,
    pub(in crate::genai) token_usage: HistogramFamily,
    pub(in crate::genai) embeddings: CounterFamily,
    pub(in crate::genai) embedding_duration: HistogramFamily,
    ledgers: CostLedgers,
}

impl std::fmt::Debug for LlmMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmMetrics").finish_non_exhaustive()
    }
}

impl LlmMetrics {
    /// The families of `registry`.
    ///
    /// ```
    /// use unitel::genai::llm::{LlmCall, LlmMetrics, LlmUsage};
    ///
    /// let registry = unitel::Registry::new();
    /// let metrics = LlmMetrics::new(&registry);
    /// LlmCall::builder("openai", "gpt-4o").metrics(&metrics).start().finish(LlmUsage::new(3, 4));
    /// assert!(unitel::prometheus::render_registry(&registry).contains("llm_requests_total{provider=\"openai\",model=\"other\",status=\"success\"} 1"));
    /// ```
    #[must_use]
    pub fn new(registry: &Registry) -> Arc<Self> {
        Arc::new(Self::build(Telemetry::global(), registry))
    }

    fn build(telemetry: &Telemetry, registry: &Registry) -> Self {
        Self {
            telemetry: telemetry.clone(),
            requests: registry.counter(&catalog::LLM_REQUESTS_TOTAL),
            tokens: registry.counter(&catalog::LLM_TOKENS_USED_TOTAL),
            duration: registry.histogram(&catalog::LLM_REQUEST_DURATION_SECONDS),
            cost: registry.counter(&catalog::LLM_COST_DOLLARS_TOTAL),
            first_chunk: registry.histogram(&catalog::LLM_TIME_TO_FIRST_CHUNK_SECONDS),
            operation_duration: registry.histogram(&catalog::GEN_AI_CLIENT_OPERATION_DURATION),
            token_usage: registry.histogram(&catalog::GEN_AI_CLIENT_TOKEN_USAGE),
            embeddings: registry.counter(&catalog::EMBEDDINGS_GENERATED_TOTAL),
            embedding_duration: registry.histogram(&catalog::EMBEDDING_GENERATION_DURATION_SECONDS),
            ledgers: CostLedgers::default(),
        }
    }

    /// The families of the process-wide [`Telemetry::global`] (one set per telemetry).
    #[must_use]
    pub fn global() -> Arc<Self> {
        Self::of(Telemetry::global())
    }

    /// The families of `telemetry`, whose price table and capture hook the calls recorded
    /// through them use (one set per telemetry).
    #[must_use]
    pub fn of(telemetry: &Telemetry) -> Arc<Self> {
        telemetry
            .extensions()
            .get_or_insert_with(|| Self::build(telemetry, telemetry.registry()))
    }

    /// The telemetry whose settings (price table, capture hook) calls through these use.
    pub(in crate::genai) fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Adds `cost` to `llm_cost_dollars_total{provider, model}`, keeping the counter equal to
    /// the exact running total (rounded once) rather than a sum of rounded costs.
    pub(in crate::genai) fn add_cost(&self, provider: &'static str, model: &str, cost: Cost) {
        let counter = self.cost.with_labels(&[provider, model]);
        self.ledgers.add(&counter, provider, model, cost);
    }
}
