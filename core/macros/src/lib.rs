//! Attribute macros for `unitel`. Use them through the `unitel` crate (`unitel::track_metrics`
//! and so on): the code they generate refers to `unitel` only.
//!
//! Every macro works on free functions and methods, sync and `async`, with any return type.
//! Metrics are registered in the process-wide registry on the first call, once. Label values
//! may be expressions over the arguments; they must come from bounded sets (see
//! `unitel::instrument::LabelValue`). An `Err` return or a panic unwinding through the function
//! is an error; its label is a bounded kind (`unitel::instrument::ErrorKind`, else `error`, or
//! `panic`), never the error's text. A future dropped before it finishes counts as a call, not
//! an error.
//!
//! Misuse is a compile error that says what to write instead:
//!
//! ```compile_fail
//! #[unitel::measure_latency(metric_name = "api_latency_seconds")] // write `metric = "..."`
//! async fn api_call() {}
//! ```

mod args;
mod expand;

use args::MacroKind;
use proc_macro::TokenStream;

/// Records `<name>_duration_seconds`, `<name>_calls_total` and `<name>_errors_total{error_type}`
/// for each call. `name` defaults to the function's name.
///
/// Arguments: `name = "..."`, `labels(key = value, ...)`, `track_duration = bool`,
/// `track_calls = bool`, `track_errors = bool` (all default `true`), `buckets = [...]`
/// (duration bounds in seconds; default `unitel::catalog::DEFAULT_BUCKETS`).
///
/// ```
/// use unitel::track_metrics;
///
/// #[track_metrics(name = "custom_operation", labels(component = "processor"))]
/// async fn process_data(data: &[u8]) -> Result<usize, std::io::Error> {
///     if data.is_empty() {
///         return Err(std::io::Error::other("empty"));
///     }
///     Ok(data.len())
/// }
///
/// struct Parser { strict: bool }
/// impl Parser {
///     // Label values may be expressions over the arguments.
///     #[track_metrics(name = "parse", labels(mode = if self.strict { "strict" } else { "lenient" }))]
///     fn parse(&self, text: &str) -> Option<u32> {
///         text.parse().ok()
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// process_data(b"abc").await.unwrap();
/// process_data(b"").await.unwrap_err();
/// # });
/// Parser { strict: true }.parse("12");
///
/// let text = unitel::prometheus::render();
/// assert!(text.contains("custom_operation_calls_total{component=\"processor\"} 2"));
/// assert!(text.contains(
///     "custom_operation_errors_total{component=\"processor\",error_type=\"error\"} 1"
/// ));
/// assert!(text.contains("custom_operation_duration_seconds_count{component=\"processor\"} 2"));
/// assert!(text.contains("parse_calls_total{mode=\"strict\"} 1"));
/// ```
#[proc_macro_attribute]
pub fn track_metrics(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(
        MacroKind::TrackMetrics,
        attr.into(),
        item.into(),
        expand::track_metrics,
    )
    .into()
}

/// Observes each call's duration in the histogram `metric` (default
/// `<function>_duration_seconds`).
///
/// Arguments: `metric = "..."`, `labels(key = value, ...)`, `buckets = [...]`.
///
/// ```
/// #[unitel::measure_latency(metric = "api_latency_seconds", buckets = [0.01, 0.1, 1.0])]
/// async fn api_call() {}
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// api_call().await;
/// # });
/// assert!(unitel::prometheus::render().contains("api_latency_seconds_bucket{le=\"0.01\"} 1"));
/// ```
#[proc_macro_attribute]
pub fn measure_latency(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(
        MacroKind::MeasureLatency,
        attr.into(),
        item.into(),
        expand::measure_latency,
    )
    .into()
}

/// Counts calls in the counter `metric` (default `<function>_calls_total`) when they start.
///
/// Arguments: `metric = "..._total"`, `labels(key = value, ...)`.
///
/// ```
/// struct Request { tier: &'static str }
///
/// #[unitel::count_calls(metric = "function_calls_total", labels(user_tier = request.tier))]
/// fn process_user_request(request: &Request) {}
///
/// process_user_request(&Request { tier: "free" });
/// assert!(unitel::prometheus::render().contains("function_calls_total{user_tier=\"free\"} 1"));
/// ```
#[proc_macro_attribute]
pub fn count_calls(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(
        MacroKind::CountCalls,
        attr.into(),
        item.into(),
        expand::count_calls,
    )
    .into()
}

/// Runs each call in a span `name` (default: the function's name). An `Err` sets the span's
/// status to Error with `error.type` and an `exception` event; a panic sets `error.type =
/// "panic"`. Arguments are recorded only when listed in `fields(...)`, written as in
/// `tracing::info_span!` (`key = value`, `key = %display`, `key = ?debug`, `%arg`).
///
/// Arguments: `name = "..."`, `kind = "client" | "server" | "producer" | "consumer" |
/// "internal"`, `fields(...)`.
///
/// ```
/// #[unitel::trace_operation(name = "database_query", kind = "client", fields(db.rows = limit))]
/// async fn query_database(query: &str, limit: u32) -> Result<Vec<String>, std::io::Error> {
///     // `query` is not recorded: it is not listed.
///     Ok(vec![query.to_owned(); limit as usize])
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # query_database("select 1", 2).await.unwrap();
/// # });
/// ```
#[proc_macro_attribute]
pub fn trace_operation(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(
        MacroKind::TraceOperation,
        attr.into(),
        item.into(),
        expand::trace_operation,
    )
    .into()
}

/// Records an LLM call around a function whose return value implements
/// `unitel::genai::llm::LlmUsageReport`: `llm_requests_total`, `llm_tokens_used_total`,
/// `llm_request_duration_seconds`, `llm_cost_dollars_total`, the GenAI semantic-convention
/// histograms, and a `chat {model}` span around the body.
///
/// Arguments: `provider = "..."` (`gen_ai.provider.name`), `model = "..."` (or an expression
/// over the arguments; a model the price table does not list is recorded as `other`),
/// `operation = "chat" | "text_completion" | "generate_content" | "embeddings"`, and prices in
/// dollars that override the price table: `cost_per_1k_prompt`, `cost_per_1k_completion`,
/// `cost_per_1k_cached` (or the `cost_per_1m_*` forms).
///
/// ```
/// use unitel::genai::llm::{LlmUsage, LlmUsageReport};
///
/// struct Completion { text: String, usage: LlmUsage }
/// impl LlmUsageReport for Completion {
///     fn llm_usage(&self) -> Option<LlmUsage> { Some(self.usage) }
/// }
///
/// #[unitel::track_llm_usage(
///     provider = "openai",
///     model = "gpt-4",
///     cost_per_1k_prompt = 0.03,
///     cost_per_1k_completion = 0.06
/// )]
/// async fn call_llm(prompt: &str) -> Result<Completion, std::io::Error> {
///     Ok(Completion { text: prompt.to_owned(), usage: LlmUsage::new(2000, 1000) })
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// call_llm("hello").await.unwrap();
/// # });
/// let text = unitel::prometheus::render();
/// // 2000 x $0.03/1k + 1000 x $0.06/1k
/// assert!(text.contains("llm_cost_dollars_total{provider=\"openai\",model=\"gpt-4\"} 0.12"));
/// assert!(text.contains(
///     "llm_tokens_used_total{provider=\"openai\",model=\"gpt-4\",token_type=\"input\"} 2000"
/// ));
/// ```
#[proc_macro_attribute]
pub fn track_llm_usage(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(
        MacroKind::TrackLlmUsage,
        attr.into(),
        item.into(),
        expand::track_llm_usage,
    )
    .into()
}

/// Counts `rag_cache_hits_total{cache}` or `rag_cache_misses_total{cache}` from the return value:
/// `unitel::genai::cache::Lookup<T>` or `(T, bool)` (and `Result`/`Option` of those).
///
/// ```
/// use unitel::genai::cache::Lookup;
///
/// #[unitel::cache_metrics(cache_name = "embedding_cache")]
/// fn get_cached_embedding(text: &str) -> Lookup<Vec<f32>> {
///     Lookup::new(vec![0.5], text == "cached")
/// }
/// get_cached_embedding("cached");
/// assert!(unitel::prometheus::render().contains("rag_cache_hits_total{cache=\"embedding_cache\"} 1"));
/// ```
#[proc_macro_attribute]
pub fn cache_metrics(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(
        MacroKind::CacheMetrics,
        attr.into(),
        item.into(),
        expand::cache_metrics,
    )
    .into()
}

/// Holds `unitel::instrument::monitor_resource(name)` for the whole call: `resource_in_use{resource}` and
/// `resource_hold_duration_seconds{resource}`.
///
/// ```
/// #[unitel::monitor_resource("database_connection")]
/// async fn execute_query(query: &str) -> usize {
///     query.len()
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// execute_query("select 1").await;
/// # });
/// assert!(unitel::prometheus::render()
///     .contains("resource_hold_duration_seconds_count{resource=\"database_connection\"} 1"));
/// ```
#[proc_macro_attribute]
pub fn monitor_resource(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::run(
        MacroKind::MonitorResource,
        attr.into(),
        item.into(),
        expand::monitor_resource,
    )
    .into()
}
