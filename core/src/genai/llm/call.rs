//! [`LlmCall`]: one call to a provider, timed from start to finish, with its `chat {model}`
//! client span, token and cost metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::capture::capture_on;
use super::{
    ContentKind, Cost, GenAiOperation, LlmErrorKind, LlmMetrics, LlmUsage, ModelPrice, OTHER_MODEL,
    PriceTable, price_table_of,
};
use crate::telemetry::Telemetry;

/// Settings of an [`LlmCall`] before it starts.
#[derive(Debug, Clone)]
#[must_use]
pub struct LlmCallBuilder {
    provider: &'static str,
    model: String,
    operation: GenAiOperation,
    price: Option<ModelPrice>,
    listed: bool,
    table: Option<Arc<PriceTable>>,
    metrics: Option<Arc<LlmMetrics>>,
    max_tokens: Option<u64>,
    temperature: Option<f64>,
}

impl LlmCallBuilder {
    /// `gen_ai.operation.name` (default [`GenAiOperation::Chat`]).
    pub fn operation(mut self, operation: GenAiOperation) -> Self {
        self.operation = operation;
        self
    }

    /// Prices for this call instead of the table's; the model keeps its name as a label.
    pub fn price(mut self, price: ModelPrice) -> Self {
        self.price = Some(price);
        self.listed = true;
        self
    }

    /// Keeps the model's name as a label although the table does not list it. Only for names
    /// from a fixed set (e.g. a literal in code).
    pub fn listed_model(mut self) -> Self {
        self.listed = true;
        self
    }

    /// Uses `table` instead of the price table of the metrics' telemetry ([`price_table_of`]).
    pub fn price_table(mut self, table: Arc<PriceTable>) -> Self {
        self.table = Some(table);
        self
    }

    /// Records into `metrics` instead of [`LlmMetrics::global`], with the price table and
    /// capture hook of their telemetry ([`LlmMetrics::of`]).
    pub fn metrics(mut self, metrics: &Arc<LlmMetrics>) -> Self {
        self.metrics = Some(Arc::clone(metrics));
        self
    }

    /// `gen_ai.request.max_tokens`.
    pub fn max_tokens(mut self, max_tokens: u64) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// `gen_ai.request.temperature`.
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Starts the call: the clock and the span.
    pub fn start(self) -> LlmCall {
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
        let operation = self.operation.as_str();
        let span = tracing::info_span!(
            "gen_ai.client",
            otel.name = %format_args!("{operation} {}", self.model),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            gen_ai.operation.name = operation,
            gen_ai.provider.name = self.provider,
            gen_ai.request.model = %self.model,
            gen_ai.request.max_tokens = self.max_tokens,
            gen_ai.request.temperature = self.temperature,
            gen_ai.response.model = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            gen_ai.usage.cache_read.input_tokens = tracing::field::Empty,
            error.type = tracing::field::Empty,
            unitel.llm.chunks = tracing::field::Empty,
            unitel.llm.cost_usd = tracing::field::Empty,
        );
        LlmCall {
            state: Some(CallState {
                provider: self.provider,
                model_label,
                operation: self.operation,
                price,
                metrics,
                start: Instant::now(),
                first_chunk: None,
                chunks: 0,
            }),
            span,
        }
    }
}

#[derive(Debug)]
struct CallState {
    provider: &'static str,
    model_label: Box<str>,
    operation: GenAiOperation,
    price: Option<ModelPrice>,
    metrics: Arc<LlmMetrics>,
    start: Instant,
    first_chunk: Option<Duration>,
    chunks: u64,
}

/// One LLM call in progress: finish it with [`finish`](Self::finish) or
/// [`fail`](Self::fail); dropping it unfinished records a cancelled call (or an error when
/// unwinding from a panic).
///
/// Run the provider request inside [`span`](Self::span) so its HTTP span is a child:
///
/// ```
/// use tracing::Instrument as _;
/// use unitel::genai::llm::{LlmCall, LlmErrorKind, LlmUsage};
///
/// # async fn send() -> Result<(u64, u64), u16> { Ok((12, 30)) }
/// # async fn demo() {
/// let call = LlmCall::builder("anthropic", "claude-sonnet-4").max_tokens(512).start();
/// match send().instrument(call.span().clone()).await {
///     Ok((input, output)) => {
///         call.finish(LlmUsage::new(input, output));
///     }
///     Err(status) => call.fail(LlmErrorKind::from_http_status(status)),
/// }
/// # }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo());
/// ```
#[derive(Debug)]
#[must_use = "an LlmCall dropped unfinished is recorded as cancelled"]
pub struct LlmCall {
    state: Option<CallState>,
    span: tracing::Span,
}

impl LlmCall {
    /// Starts a call with the process-wide price table and metrics. `provider` is
    /// `gen_ai.provider.name` (`openai`, `anthropic`, `aws.bedrock`, ...).
    pub fn start(provider: &'static str, model: &str) -> Self {
        Self::builder(provider, model).start()
    }

    /// A call to configure before it starts.
    pub fn builder(provider: &'static str, model: &str) -> LlmCallBuilder {
        LlmCallBuilder {
            provider,
            model: model.to_owned(),
            operation: GenAiOperation::Chat,
            price: None,
            listed: false,
            table: None,
            metrics: None,
            max_tokens: None,
            temperature: None,
        }
    }

    /// The call's client span (`chat {model}`).
    #[must_use]
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The model label the metrics use (the model, or `other`).
    #[must_use]
    pub fn model_label(&self) -> &str {
        self.state.as_ref().map_or(OTHER_MODEL, |s| &s.model_label)
    }

    /// A streamed chunk arrived; the first one observes `llm_time_to_first_chunk_seconds`.
    pub fn chunk(&mut self) {
        self.first_token();
        if let Some(s) = self.state.as_mut() {
            s.chunks += 1;
        }
    }

    /// The first token arrived (a no-op after the first chunk or first token).
    pub fn first_token(&mut self) {
        if let Some(s) = self.state.as_mut()
            && s.first_chunk.is_none()
        {
            let elapsed = s.start.elapsed();
            s.first_chunk = Some(elapsed);
            s.metrics
                .first_chunk
                .with_labels(&[s.provider, &s.model_label])
                .observe_duration(elapsed);
        }
    }

    /// The telemetry whose capture hook this call uses.
    fn telemetry(&self) -> &Telemetry {
        self.state
            .as_ref()
            .map_or_else(|| Telemetry::global(), |s| s.metrics.telemetry())
    }

    /// Records the prompt on the span through the redaction hook (see [`set_content_capture`](super::set_content_capture)).
    pub fn record_prompt(&self, text: &str) {
        capture_on(self.telemetry(), &self.span, ContentKind::Prompt, text);
    }

    /// Records the completion on the span through the redaction hook.
    pub fn record_completion(&self, text: &str) {
        capture_on(self.telemetry(), &self.span, ContentKind::Completion, text);
    }

    /// `gen_ai.response.model`: the model that answered.
    pub fn set_response_model(&self, model: &str) {
        self.span.record("gen_ai.response.model", model);
    }

    /// The call succeeded with `usage`; returns its cost (zero when the model has no price).
    pub fn finish(mut self, usage: LlmUsage) -> Cost {
        match self.state.take() {
            Some(state) => self.succeed(&state, Some(usage)),
            None => Cost::ZERO,
        }
    }

    /// The call succeeded but the provider reported no token counts.
    pub fn finish_without_usage(mut self) {
        if let Some(state) = self.state.take() {
            self.succeed(&state, None);
        }
    }

    /// The call failed.
    pub fn fail(mut self, kind: LlmErrorKind) {
        if let Some(state) = self.state.take() {
            self.failed(&state, kind);
        }
    }

    fn common(&self, s: &CallState, status: &'static str, error_type: &'static str) {
        let elapsed = s.start.elapsed();
        let (p, m, op) = (s.provider, &*s.model_label, s.operation.as_str());
        s.metrics.requests.with_labels(&[p, m, status]).inc();
        s.metrics
            .duration
            .with_labels(&[p, m])
            .observe_duration(elapsed);
        s.metrics
            .operation_duration
            .with_labels(&[op, p, m, error_type])
            .observe_duration(elapsed);
        if s.chunks > 0 {
            self.span.record("unitel.llm.chunks", s.chunks);
        }
    }

    fn succeed(&self, s: &CallState, usage: Option<LlmUsage>) -> Cost {
        self.common(s, "success", "");
        let Some(usage) = usage else {
            return Cost::ZERO;
        };
        let (p, m, op) = (s.provider, &*s.model_label, s.operation.as_str());
        let cached = usage.billable_cached_input_tokens();
        let tokens = &s.metrics.tokens;
        tokens.with_labels(&[p, m, "input"]).add(usage.input_tokens);
        tokens
            .with_labels(&[p, m, "output"])
            .add(usage.output_tokens);
        if cached > 0 {
            tokens.with_labels(&[p, m, "cache_read"]).add(cached);
        }
        #[allow(clippy::cast_precision_loss)]
        {
            let usage_hist = &s.metrics.token_usage;
            usage_hist
                .with_labels(&[op, p, m, "input"])
                .observe(usage.input_tokens as f64);
            usage_hist
                .with_labels(&[op, p, m, "output"])
                .observe(usage.output_tokens as f64);
        }
        self.span
            .record("gen_ai.usage.input_tokens", usage.input_tokens);
        self.span
            .record("gen_ai.usage.output_tokens", usage.output_tokens);
        if cached > 0 {
            self.span
                .record("gen_ai.usage.cache_read.input_tokens", cached);
        }
        let cost = s.price.map_or(Cost::ZERO, |price| price.cost(&usage));
        if let Some(price_known) = s.price.map(|_| cost) {
            s.metrics.add_cost(p, m, price_known);
            self.span.record("unitel.llm.cost_usd", cost.as_dollars());
        }
        cost
    }

    fn failed(&self, s: &CallState, kind: LlmErrorKind) {
        self.common(s, kind.as_str(), kind.as_str());
        crate::trace::mark_span_failed(&self.span, kind.as_str(), None);
    }
}

impl Drop for LlmCall {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            let kind = if std::thread::panicking() {
                LlmErrorKind::Other
            } else {
                LlmErrorKind::Cancelled
            };
            self.failed(&state, kind);
        }
    }
}
