//! Instrumentation without a macro: timers, resource guards, error counts, and the traits the
//! attribute macros read (label values, error kinds).
//!
//! The attribute macros (`#[track_metrics]`, `#[measure_latency]`, `#[count_calls]`,
//! `#[trace_operation]`, `#[track_llm_usage]`, `#[cache_metrics]`, `#[monitor_resource]`) are
//! re-exported at the crate root; this module holds what code that cannot use a macro calls
//! instead.
//!
//! * timing: [`time_operation`], [`OperationTimer`];
//! * resources: [`monitor_resource`], [`ResourceGuard`];
//! * errors: [`record_error`], [`ErrorKind`];
//! * label values: [`LabelValue`].
//!
//! # Guards and functions
//!
//! ```
//! use unitel::instrument::{monitor_resource, record_error, time_operation};
//!
//! # fn run_query(_: &str) -> Result<u64, std::io::Error> { Ok(3) }
//! fn execute_query(query: &str) -> Result<u64, std::io::Error> {
//!     // `resource_in_use{resource="database_connection"}` is 1 while `_connection` lives, and
//!     // `resource_hold_duration_seconds` observes how long it was held.
//!     let _connection = monitor_resource("database_connection");
//!     // Observes `db_query_duration_seconds{db_system="postgresql",operation="select"}` on drop.
//!     let _timer = time_operation(
//!         "db_query_duration_seconds",
//!         &[("db_system", "postgresql"), ("operation", "select")],
//!     );
//!     run_query(query).inspect_err(|_| record_error("database", "query_failed"))
//! }
//! # execute_query("select 1").unwrap();
//! let text = unitel::prometheus::render();
//! assert!(text.contains(
//!     "db_query_duration_seconds_count{db_system=\"postgresql\",operation=\"select\"} 1"
//! ));
//! assert!(text.contains("resource_in_use{resource=\"database_connection\"} 0"));
//! ```
//!
//! A timer also wraps a future ([`OperationTimer::time`]):
//!
//! ```
//! # async fn demo() {
//! let rows = unitel::instrument::time_operation("import_batch_seconds", &[("source", "s3")])
//!     .time(async { 42 })
//!     .await;
//! # assert_eq!(rows, 42);
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo());
//! ```
//!
//! # The attribute macros
//!
//! ```
//! use unitel::genai::cache::Lookup;
//! use unitel::genai::llm::{LlmUsage, LlmUsageReport};
//! use unitel::{cache_metrics, count_calls, measure_latency, track_llm_usage, track_metrics};
//!
//! // `custom_operation_duration_seconds`, `_calls_total` and `_errors_total{error_type}`.
//! #[track_metrics(name = "custom_operation", labels(component = "processor"))]
//! async fn process_data(data: &[u8]) -> Result<usize, std::io::Error> {
//!     Ok(data.len())
//! }
//!
//! #[measure_latency(metric = "api_latency_seconds")]
//! async fn api_call() {}
//!
//! // Label values are expressions over the arguments, from a bounded set (`LabelValue`).
//! # #[derive(Clone, Copy)] enum Tier { Free, Pro }
//! # impl unitel::instrument::LabelValue for Tier {
//! #     fn label_value(&self) -> std::borrow::Cow<'_, str> {
//! #         match self { Tier::Free => "free".into(), Tier::Pro => "pro".into() }
//! #     }
//! # }
//! # struct User { tier: Tier }
//! # impl User { fn tier(&self) -> Tier { self.tier } }
//! #[count_calls(metric = "function_calls_total", labels(user_tier = user.tier()))]
//! fn process_user_request(user: &User) {}
//!
//! // Tokens, cost, duration and a span, read from the return value's `LlmUsageReport`.
//! struct Completion { text: String, usage: LlmUsage }
//! impl LlmUsageReport for Completion {
//!     fn llm_usage(&self) -> Option<LlmUsage> {
//!         Some(self.usage)
//!     }
//! }
//! #[track_llm_usage(
//!     provider = "openai",
//!     model = "gpt-4",
//!     cost_per_1k_prompt = 0.03,
//!     cost_per_1k_completion = 0.06
//! )]
//! async fn call_llm(prompt: &str) -> Result<Completion, std::io::Error> {
//!     Ok(Completion { text: prompt.to_uppercase(), usage: LlmUsage::new(1000, 500) })
//! }
//!
//! // A hit or a miss, read from the returned `Lookup` (or `(value, hit)`).
//! #[cache_metrics(cache_name = "embedding_cache")]
//! async fn get_cached_embedding(text: &str) -> Lookup<Vec<f32>> {
//!     Lookup::Miss(vec![text.len() as f32])
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! process_data(b"abc").await.unwrap();
//! api_call().await;
//! process_user_request(&User { tier: Tier::Pro });
//! call_llm("hi").await.unwrap();
//! get_cached_embedding("hello").await;
//! # });
//! let text = unitel::prometheus::render();
//! assert!(text.contains("custom_operation_calls_total{component=\"processor\"} 1"));
//! assert!(text.contains("function_calls_total{user_tier=\"pro\"} 1"));
//! assert!(text.contains("llm_cost_dollars_total{provider=\"openai\",model=\"gpt-4\"} 0.06"));
//! assert!(text.contains("rag_cache_misses_total{cache=\"embedding_cache\"} 1"));
//! ```

mod errors;
mod labels;
mod resource;
mod timing;

pub use errors::{DEFAULT_ERROR_KIND, ErrorKind, PANIC_ERROR_KIND, record_error};
pub use labels::LabelValue;
pub use resource::{ResourceGuard, monitor_resource};
pub use timing::{OperationTimer, time_operation};

/// The guide in `docs/macros.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/macros.md")]
struct MacrosGuide;
