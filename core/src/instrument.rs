//! Instrumentation without a macro: timers, resource guards, error counts, and the traits the
//! attribute macros rely on.
//!
//! The attribute macros (`#[track_metrics]`, `#[measure_latency]`, `#[count_calls]`,
//! `#[trace_operation]`, `#[track_llm_usage]`, `#[cache_metrics]`, `#[monitor_resource]`) are
//! re-exported at the crate root; this module holds what code that cannot use a macro calls
//! instead, and the seed examples written in Rust.
//!
//! # Guards and functions
//!
//! ```
//! use unitel::{monitor_resource, record_error, time_operation};
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
//! let rows = unitel::time_operation("import_batch_seconds", &[("source", "s3")])
//!     .time(async { 42 })
//!     .await;
//! # assert_eq!(rows, 42);
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo());
//! ```
//!
//! # The seed's examples in Rust
//!
//! ## Decorators
//!
//! ```
//! use unitel::genai::cache::Lookup;
//! use unitel::genai::llm::{LlmUsage, LlmUsageReport};
//! use unitel::{cache_metrics, count_calls, measure_latency, track_llm_usage, track_metrics};
//!
//! // @track_metrics(labels={"service": "api"})
//! #[track_metrics(labels(service = "api"))]
//! async fn process_request(request_id: &str) -> usize {
//!     request_id.len()
//! }
//!
//! // @track_metrics(name="custom_operation", labels={"component": "processor"},
//! //                track_duration=True, track_calls=True, track_errors=True)
//! #[track_metrics(
//!     name = "custom_operation",
//!     labels(component = "processor"),
//!     track_duration = true,
//!     track_calls = true,
//!     track_errors = true
//! )]
//! async fn process_data(data: &[u8]) -> Result<usize, std::io::Error> {
//!     Ok(data.len())
//! }
//!
//! // @measure_latency(metric_name="api_latency_seconds")
//! #[measure_latency(metric = "api_latency_seconds")]
//! async fn api_call() {}
//!
//! // @count_calls(metric_name="function_calls_total",
//! //              label_extractor=lambda *args, **kwargs: {"user_id": kwargs.get("user_id")})
//! // A user id is unbounded, so the Rust version labels by a bounded tier instead.
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
//! // @track_llm_usage(provider="openai", model="gpt-4",
//! //                  cost_per_1k_prompt=0.03, cost_per_1k_completion=0.06)
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
//! // @cache_metrics(cache_name="embedding_cache"), returning (result, cache_hit)
//! #[cache_metrics(cache_name = "embedding_cache")]
//! async fn get_cached_embedding(text: &str) -> Lookup<Vec<f32>> {
//!     Lookup::Miss(vec![text.len() as f32])
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! process_request("r-1").await;
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
//!
//! ## Tracing
//!
//! ```
//! use tracing::Instrument as _;
//! use unitel::trace::{add_span_event, record_error_on, set_span_attribute, start_span};
//! use unitel::trace_operation;
//!
//! # async fn process_batch() -> Result<Vec<u32>, std::io::Error> { Ok(vec![1, 2]) }
//! // async with start_span("complex_operation") as span: ...
//! async fn complex_operation() -> Result<Vec<u32>, std::io::Error> {
//!     let span = start_span("complex_operation");
//!     async {
//!         set_span_attribute("operation.type", "batch_processing");
//!         add_span_event("Processing started", &[("batch_size", 100.into())]);
//!         let result = process_batch().await;
//!         match &result {
//!             Ok(items) => add_span_event(
//!                 "Processing completed",
//!                 &[("items_processed", items.len().into())],
//!             ),
//!             Err(e) => record_error_on(&tracing::Span::current(), e),
//!         }
//!         result
//!     }
//!     .instrument(span)
//!     .await
//! }
//!
//! // @trace_operation(name="database_query"): a span around each call; an `Err` sets status
//! // Error. Arguments are recorded only when listed in `fields(...)`.
//! #[trace_operation(name = "database_query", fields(query.length = query.len()))]
//! async fn query_database(query: &str) -> Result<u64, std::io::Error> {
//!     Ok(query.len() as u64)
//! }
//!
//! // Distributed tracing: extract the caller's context, inject ours into outgoing headers.
//! fn handle(incoming: &http::HeaderMap) -> http::HeaderMap {
//!     let context = unitel::extract_context(incoming);
//!     let span = start_span("handle");
//!     context.set_parent_of(&span);
//!     let mut outgoing = http::HeaderMap::new();
//!     span.in_scope(|| unitel::inject_context(&mut outgoing));
//!     outgoing
//! }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! complex_operation().await.unwrap();
//! query_database("select 1").await.unwrap();
//! # });
//! # handle(&http::HeaderMap::new());
//! ```
//!
//! ## RAG pipeline
//!
//! See [`rag`](crate::genai::rag) for the seed's `rag_search` written with a
//! [`RagQuery`](crate::genai::rag::RagQuery) guard.
//!
//! ## Custom metrics
//!
//! ```
//! use unitel::{MetricDefinition, MetricKind};
//!
//! let registry = unitel::registry();
//! registry
//!     .register(MetricDefinition {
//!         name: "custom_business_metric".into(),
//!         kind: MetricKind::Histogram,
//!         description: "Custom business metric".into(),
//!         unit: "items".into(),
//!         labels: vec!["category".into(), "status".into()],
//!         buckets: vec![1.0, 5.0, 10.0, 50.0, 100.0, 500.0],
//!     })
//!     .unwrap();
//! registry.observe("custom_business_metric", 42.0, &[("category", "orders"), ("status", "completed")]);
//!
//! // registry.add_callback("error_rate", metric_threshold_alert)
//! registry.set("error_rate", 0.0, &[]);
//! unitel::add_callback("error_rate", |name, value, _labels| {
//!     if name == "error_rate" && value > 0.05 {
//!         eprintln!("High error rate: {value}"); // send_alert(...)
//!     }
//! })
//! .unwrap();
//! unitel::set_gauge("error_rate", 0.07, &[]);
//! ```

use std::borrow::Cow;
use std::future::Future;
use std::time::{Duration, Instant};

use crate::catalog::{self, MetricKind};
use crate::registry::{Counter, Gauge, Histogram, InstrumentationErrorKind, MetricDefinition};
use crate::{Registry, RegistryError};

/// A value that can be a metric label: a short name from a bounded set.
///
/// Implemented for strings and booleans. Implement it for your own enums so that
/// `labels(tier = user.tier())` in a macro attribute records `tier="pro"`:
///
/// ```
/// use std::borrow::Cow;
/// use unitel::instrument::LabelValue;
///
/// enum Tier { Free, Pro }
/// impl LabelValue for Tier {
///     fn label_value(&self) -> Cow<'_, str> {
///         Cow::Borrowed(match self {
///             Tier::Free => "free",
///             Tier::Pro => "pro",
///         })
///     }
/// }
/// assert_eq!(Tier::Pro.label_value(), "pro");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a metric label value",
    label = "label values must come from a bounded set of names",
    note = "pass a `&str` (e.g. `.as_str()`), a `bool`, or implement `unitel::instrument::LabelValue` for `{Self}`"
)]
pub trait LabelValue {
    /// The label value.
    fn label_value(&self) -> Cow<'_, str>;
}

impl LabelValue for str {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}
impl LabelValue for String {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}
impl LabelValue for Cow<'_, str> {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}
impl LabelValue for bool {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(if *self { "true" } else { "false" })
    }
}
impl<T: LabelValue + ?Sized> LabelValue for &T {
    fn label_value(&self) -> Cow<'_, str> {
        (**self).label_value()
    }
}

/// A bounded name for an error, used as the `error_type` label instead of the error's text.
///
/// Errors that do not implement it are labelled `error`; a panic is labelled `panic`.
///
/// ```
/// use unitel::instrument::ErrorKind;
///
/// #[derive(Debug)]
/// enum FetchError { Timeout, NotFound(String) }
/// impl ErrorKind for FetchError {
///     fn error_kind(&self) -> &'static str {
///         match self {
///             FetchError::Timeout => "timeout",
///             FetchError::NotFound(_) => "not_found",
///         }
///     }
/// }
///
/// #[unitel::track_metrics(name = "doc_fetch")]
/// fn fetch(id: u32) -> Result<String, FetchError> {
///     if id == 0 { Err(FetchError::NotFound(format!("item {id}"))) } else { Ok("x".into()) }
/// }
/// let _ = fetch(0);
/// assert!(unitel::prometheus::render()
///     .contains("doc_fetch_errors_total{error_type=\"not_found\"} 1"));
/// ```
pub trait ErrorKind {
    /// A short name from a fixed set, e.g. `timeout` or `not_found`.
    fn error_kind(&self) -> &'static str;
}

/// `error_type` of errors that do not implement [`ErrorKind`].
pub const DEFAULT_ERROR_KIND: &str = "error";
/// `error_type` of a panic unwinding through an instrumented function.
pub const PANIC_ERROR_KIND: &str = "panic";

/// Finds (or registers on first use, with [`catalog::DEFAULT_BUCKETS`]) the histogram `metric`
/// with the keys of `labels`. Misuse is counted as an instrumentation error and gives `None`.
fn histogram_by_name(
    registry: &Registry,
    metric: &str,
    labels: &[(&str, &str)],
) -> Option<Histogram> {
    let family = match registry.histogram_family(metric) {
        Ok(f) => Ok(f),
        Err(RegistryError::NotFound { .. }) => registry
            .register(MetricDefinition {
                name: metric.to_owned(),
                kind: MetricKind::Histogram,
                description: format!("{metric} (registered on first use)"),
                unit: "s".to_owned(),
                labels: labels.iter().map(|(k, _)| (*k).to_owned()).collect(),
                buckets: catalog::DEFAULT_BUCKETS.to_vec(),
            })
            .and_then(|()| registry.histogram_family(metric)),
        Err(e) => Err(e),
    };
    match family {
        Ok(f) => Some(f.with_label_pairs(labels)),
        Err(e) => {
            let kind = if matches!(e, RegistryError::WrongKind { .. }) {
                InstrumentationErrorKind::KindMismatch
            } else {
                InstrumentationErrorKind::UnknownMetric
            };
            registry.report_instrumentation_error(kind, &e.to_string());
            None
        }
    }
}

/// Times an operation: observes the elapsed seconds in the histogram `metric` when dropped.
///
/// `metric` is registered on first use (with the keys of `labels` and
/// [`catalog::DEFAULT_BUCKETS`]) unless it exists already, as in the catalog's
/// `db_query_duration_seconds`. Label keys the family does not declare are counted as
/// instrumentation errors and ignored.
///
/// ```
/// {
///     let _timer = unitel::time_operation("report_render_seconds", &[("format", "pdf")]);
///     // ... render ...
/// }
/// assert!(unitel::prometheus::render()
///     .contains("report_render_seconds_count{format=\"pdf\"} 1"));
/// ```
pub fn time_operation(metric: &str, labels: &[(&str, &str)]) -> OperationTimer {
    OperationTimer {
        histogram: histogram_by_name(crate::registry(), metric, labels),
        start: Instant::now(),
    }
}

/// Observes the time from its creation to its drop (or [`stop`](Self::stop)) in a histogram.
#[derive(Debug)]
#[must_use = "the timer observes when dropped; bind it to a variable (`let _timer = ...`)"]
pub struct OperationTimer {
    histogram: Option<Histogram>,
    start: Instant,
}

impl OperationTimer {
    /// A timer observing into `histogram`, e.g. a handle from the catalog:
    ///
    /// ```
    /// use unitel::instrument::OperationTimer;
    ///
    /// let latency = unitel::registry()
    ///     .histogram(&unitel::catalog::DB_QUERY_DURATION_SECONDS)
    ///     .with_labels(&["sqlite", "select"]);
    /// let timer = OperationTimer::new(latency.clone());
    /// let elapsed = timer.stop();
    /// assert_eq!(latency.snapshot().count(), 1);
    /// assert!(elapsed.as_secs() < 60);
    /// ```
    pub fn new(histogram: Histogram) -> Self {
        Self {
            histogram: Some(histogram),
            start: Instant::now(),
        }
    }

    /// Time since the timer started.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Observes now and returns the elapsed time.
    pub fn stop(mut self) -> Duration {
        let elapsed = self.start.elapsed();
        if let Some(h) = self.histogram.take() {
            h.observe_duration(elapsed);
        }
        elapsed
    }

    /// Drops the timer without observing anything.
    pub fn discard(mut self) {
        self.histogram = None;
    }

    /// Runs `future` and observes its duration when it completes (or is dropped unfinished).
    pub async fn time<F: Future>(self, future: F) -> F::Output {
        let output = future.await;
        drop(self);
        output
    }
}

impl Drop for OperationTimer {
    fn drop(&mut self) {
        if let Some(h) = self.histogram.take() {
            h.observe_duration(self.start.elapsed());
        }
    }
}

/// Marks a resource as in use until the guard drops: `resource_in_use{resource}` goes up by
/// one, and on drop goes down again while `resource_hold_duration_seconds{resource}` observes
/// how long it was held. `name` is a label value: pass a fixed name, never an id.
///
/// ```
/// let guard = unitel::monitor_resource("gpu_slot");
/// assert!(unitel::prometheus::render().contains("resource_in_use{resource=\"gpu_slot\"} 1"));
/// drop(guard);
/// let text = unitel::prometheus::render();
/// assert!(text.contains("resource_in_use{resource=\"gpu_slot\"} 0"));
/// assert!(text.contains("resource_hold_duration_seconds_count{resource=\"gpu_slot\"} 1"));
/// ```
pub fn monitor_resource(name: &str) -> ResourceGuard {
    ResourceGuard::with_registry(crate::registry(), name)
}

/// Holds one unit of a monitored resource (see [`monitor_resource`]).
#[derive(Debug)]
#[must_use = "the resource counts as released when the guard drops"]
pub struct ResourceGuard {
    in_use: Gauge,
    hold: Histogram,
    start: Instant,
}

impl ResourceGuard {
    /// Like [`monitor_resource`], recording into `registry`.
    ///
    /// ```
    /// let registry = unitel::Registry::new();
    /// let guard = unitel::instrument::ResourceGuard::with_registry(&registry, "worker");
    /// drop(guard);
    /// assert!(unitel::prometheus::render_registry(&registry).contains("resource_hold_duration_seconds_count{resource=\"worker\"} 1"));
    /// ```
    pub fn with_registry(registry: &Registry, name: &str) -> Self {
        let in_use = registry
            .gauge(&catalog::RESOURCE_IN_USE)
            .with_labels(&[name]);
        let hold = registry
            .histogram(&catalog::RESOURCE_HOLD_DURATION_SECONDS)
            .with_labels(&[name]);
        in_use.inc();
        Self {
            in_use,
            hold,
            start: Instant::now(),
        }
    }
}

impl Drop for ResourceGuard {
    fn drop(&mut self) {
        self.in_use.dec();
        self.hold.observe_duration(self.start.elapsed());
    }
}

/// Counts one error in `errors_total{component, error_type}`. Both are label values: pass
/// fixed names (`"database"`, `"timeout"`), never an error's message.
///
/// For marking a span as failed, see [`trace::record_error`](crate::trace::record_error).
///
/// ```
/// unitel::record_error("payment", "card_declined");
/// assert!(unitel::prometheus::render()
///     .contains("errors_total{component=\"payment\",error_type=\"card_declined\"} 1"));
/// ```
pub fn record_error(component: &str, error_type: &str) {
    error_counter(crate::registry(), component, error_type).inc();
}

fn error_counter(registry: &Registry, component: &str, error_type: &str) -> Counter {
    registry
        .counter(&catalog::ERRORS_TOTAL)
        .with_labels(&[component, error_type])
}

/// What the attribute macros expand to. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    use std::borrow::Cow;
    use std::fmt::Display;
    use std::future::Future;
    use std::sync::OnceLock;
    use std::time::Instant;

    pub use tracing;

    pub use super::{DEFAULT_ERROR_KIND, ErrorKind, LabelValue, PANIC_ERROR_KIND};
    use crate::catalog::MetricKind;
    pub use crate::genai::cache::CacheSite;
    pub use crate::genai::llm::{LlmSite, LlmSiteDef, ModelPrice, Price};
    use crate::registry::{
        Counter, CounterFamily, Histogram, HistogramFamily, InstrumentationErrorKind,
        MetricDefinition,
    };
    use crate::{Registry, RegistryError};

    /// Calls `f`: gives the closure around a function body its return type.
    #[inline(always)]
    pub fn call<R, F: FnOnce() -> R>(f: F) -> R {
        f()
    }

    /// Gives the async block around a function body its output type.
    #[inline(always)]
    pub fn typed_future<R, F: Future<Output = R>>(f: F) -> F {
        f
    }

    /// The label value of `v`.
    #[inline]
    pub fn label_value<V: LabelValue + ?Sized>(v: &V) -> Cow<'_, str> {
        v.label_value()
    }

    /// How an instrumented call ended.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Outcome {
        /// A value that is not an `Err`.
        Success,
        /// An `Err`.
        Error {
            /// The error's [`ErrorKind`], if it has one.
            kind: Option<&'static str>,
            /// `std::any::type_name` of the error.
            type_name: &'static str,
        },
    }

    impl Outcome {
        /// `error_type` label for metrics.
        #[must_use]
        pub fn metric_error_type(self) -> Option<&'static str> {
            match self {
                Self::Success => None,
                Self::Error { kind, .. } => Some(kind.unwrap_or(DEFAULT_ERROR_KIND)),
            }
        }

        /// `error.type` attribute for spans: the kind, else the error's type name.
        #[must_use]
        pub fn span_error_type(self) -> Option<&'static str> {
            match self {
                Self::Success => None,
                Self::Error { kind, type_name } => Some(kind.unwrap_or(type_name)),
            }
        }
    }

    /// Wraps a return value for autoref-based dispatch on its type (see the `Outcome*` traits).
    #[derive(Debug)]
    pub struct Probe<'a, T: ?Sized>(pub &'a T);

    /// `Err` of an error with an [`ErrorKind`] (most specific: `&&Probe`).
    pub trait OutcomeOfKindedError {
        /// The outcome.
        fn __unitel_outcome(&self) -> Outcome;
    }
    impl<T, E: ErrorKind> OutcomeOfKindedError for &&Probe<'_, Result<T, E>> {
        fn __unitel_outcome(&self) -> Outcome {
            match self.0 {
                Ok(_) => Outcome::Success,
                Err(e) => Outcome::Error {
                    kind: Some(e.error_kind()),
                    type_name: std::any::type_name::<E>(),
                },
            }
        }
    }

    /// `Err` of any error (`&Probe`).
    pub trait OutcomeOfError {
        /// The outcome.
        fn __unitel_outcome(&self) -> Outcome;
    }
    impl<T, E> OutcomeOfError for &Probe<'_, Result<T, E>> {
        fn __unitel_outcome(&self) -> Outcome {
            match self.0 {
                Ok(_) => Outcome::Success,
                Err(_) => Outcome::Error {
                    kind: None,
                    type_name: std::any::type_name::<E>(),
                },
            }
        }
    }

    /// Any other value: success (`Probe`).
    pub trait OutcomeOfValue {
        /// The outcome.
        fn __unitel_outcome(&self) -> Outcome;
    }
    impl<T: ?Sized> OutcomeOfValue for Probe<'_, T> {
        fn __unitel_outcome(&self) -> Outcome {
            Outcome::Success
        }
    }

    /// The message of an `Err` whose error is `Display` (`&Probe`).
    pub trait MessageOfDisplayError {
        /// The message.
        fn __unitel_error_message(&self) -> Option<String>;
    }
    impl<T, E: Display> MessageOfDisplayError for &Probe<'_, Result<T, E>> {
        fn __unitel_error_message(&self) -> Option<String> {
            self.0.as_ref().err().map(ToString::to_string)
        }
    }

    /// No message (`Probe`).
    pub trait MessageOfValue {
        /// The message.
        fn __unitel_error_message(&self) -> Option<String>;
    }
    impl<T: ?Sized> MessageOfValue for Probe<'_, T> {
        fn __unitel_error_message(&self) -> Option<String> {
            None
        }
    }

    /// The metric names and labels of one `#[track_metrics]`, `#[measure_latency]` or
    /// `#[count_calls]` site.
    #[derive(Debug)]
    pub struct SiteDef {
        /// The instrumented function.
        pub function: &'static str,
        /// Duration histogram name.
        pub duration: Option<&'static str>,
        /// Calls counter name.
        pub calls: Option<&'static str>,
        /// Errors counter name.
        pub errors: Option<&'static str>,
        /// Label keys (the errors counter adds `error_type`).
        pub label_keys: &'static [&'static str],
        /// Duration buckets.
        pub buckets: &'static [f64],
    }

    #[derive(Debug)]
    struct SiteFamilies {
        duration: Option<HistogramFamily>,
        calls: Option<CounterFamily>,
        errors: Option<CounterFamily>,
    }

    /// Families of one macro site, registered on first use in the process-wide registry.
    #[derive(Debug)]
    pub struct MetricSite {
        def: SiteDef,
        families: OnceLock<SiteFamilies>,
    }

    fn register_counter(registry: &Registry, def: MetricDefinition) -> Option<CounterFamily> {
        let name = def.name.clone();
        match registry
            .register(def)
            .and_then(|()| registry.counter_family(&name))
        {
            Ok(f) => Some(f),
            Err(e) => {
                report(registry, &e);
                None
            }
        }
    }

    fn register_histogram(registry: &Registry, def: MetricDefinition) -> Option<HistogramFamily> {
        let name = def.name.clone();
        match registry
            .register(def)
            .and_then(|()| registry.histogram_family(&name))
        {
            Ok(f) => Some(f),
            Err(e) => {
                report(registry, &e);
                None
            }
        }
    }

    fn report(registry: &Registry, e: &RegistryError) {
        let kind = match e {
            RegistryError::Conflict { .. } | RegistryError::WrongKind { .. } => {
                InstrumentationErrorKind::KindMismatch
            }
            _ => InstrumentationErrorKind::UnknownMetric,
        };
        registry.report_instrumentation_error(kind, &e.to_string());
    }

    impl MetricSite {
        /// A site; nothing is registered until the first call.
        #[must_use]
        pub const fn new(def: SiteDef) -> Self {
            Self {
                def,
                families: OnceLock::new(),
            }
        }

        fn families(&self) -> &SiteFamilies {
            self.families.get_or_init(|| {
                let registry = crate::registry();
                let labels: Vec<String> = self
                    .def
                    .label_keys
                    .iter()
                    .map(|k| (*k).to_owned())
                    .collect();
                let f = self.def.function;
                let duration = self.def.duration.and_then(|name| {
                    let def = MetricDefinition {
                        name: name.to_owned(),
                        kind: MetricKind::Histogram,
                        description: format!("Duration of `{f}` calls in seconds."),
                        unit: "s".to_owned(),
                        labels: labels.clone(),
                        buckets: self.def.buckets.to_vec(),
                    };
                    register_histogram(registry, def)
                });
                let counter = |name: &str, help: String, labels: Vec<String>| {
                    let def = MetricDefinition {
                        name: name.to_owned(),
                        kind: MetricKind::Counter,
                        description: help,
                        unit: "{call}".to_owned(),
                        labels,
                        buckets: Vec::new(),
                    };
                    register_counter(registry, def)
                };
                let calls = self
                    .def
                    .calls
                    .and_then(|n| counter(n, format!("Calls of `{f}`."), labels.clone()));
                let errors = self.def.errors.and_then(|n| {
                    let mut keys = labels.clone();
                    keys.push("error_type".to_owned());
                    counter(
                        n,
                        format!("Calls of `{f}` that returned an error or panicked."),
                        keys,
                    )
                });
                SiteFamilies {
                    duration,
                    calls,
                    errors,
                }
            })
        }

        /// Starts a call with these label values (in `label_keys` order). Counts the call
        /// when it ends.
        pub fn start(&'static self, values: &[&str]) -> CallGuard {
            let families = self.families();
            let calls = families.calls.as_ref().map(|f| f.with_labels(values));
            let duration = families.duration.as_ref().map(|f| f.with_labels(values));
            let owned_values = (families.errors.is_some() && calls.is_none() && duration.is_none())
                .then(|| values.iter().map(|v| Box::<str>::from(*v)).collect());
            CallGuard {
                errors: families.errors.as_ref(),
                calls,
                duration,
                owned_values,
                start: Instant::now(),
                done: false,
            }
        }
    }

    /// One call in progress; records when finished or dropped.
    #[derive(Debug)]
    pub struct CallGuard {
        errors: Option<&'static CounterFamily>,
        calls: Option<Counter>,
        duration: Option<Histogram>,
        owned_values: Option<Box<[Box<str>]>>,
        start: Instant,
        done: bool,
    }

    impl CallGuard {
        /// The call returned.
        pub fn finish(mut self, outcome: Outcome) {
            self.record(outcome.metric_error_type());
        }

        fn record(&mut self, error_type: Option<&'static str>) {
            self.done = true;
            if let Some(h) = &self.duration {
                h.observe_duration(self.start.elapsed());
            }
            if let Some(c) = &self.calls {
                c.inc();
            }
            if let (Some(errors), Some(error_type)) = (self.errors, error_type) {
                let mut values: Vec<&str> = if let Some(c) = &self.calls {
                    c.label_values().collect()
                } else if let Some(h) = &self.duration {
                    h.label_values().collect()
                } else {
                    self.owned_values
                        .iter()
                        .flat_map(|v| v.iter().map(|s| &**s))
                        .collect()
                };
                values.push(error_type);
                errors.with_labels(&values).inc();
            }
        }
    }

    impl Drop for CallGuard {
        fn drop(&mut self) {
            if !self.done {
                // Unwinding: a panic is an error. Otherwise the future was dropped before it
                // finished (cancelled): the call and its duration count, not as an error.
                let error = std::thread::panicking().then_some(PANIC_ERROR_KIND);
                self.record(error);
            }
        }
    }

    /// Counts calls at entry (`#[count_calls]`).
    pub fn count_call(site: &'static MetricSite, values: &[&str]) {
        if let Some(f) = &site.families().calls {
            f.with_labels(values).inc();
        }
    }

    /// Marks the span of a `#[trace_operation]` call as failed when the call panics.
    #[derive(Debug)]
    pub struct SpanGuard {
        span: tracing::Span,
        done: bool,
    }

    impl SpanGuard {
        /// Guards `span`.
        #[must_use]
        pub fn new(span: tracing::Span) -> Self {
            Self { span, done: false }
        }

        /// The call returned: marks the span failed on `Err`.
        pub fn finish(mut self, outcome: Outcome, message: Option<String>) {
            self.done = true;
            if let Some(error_type) = outcome.span_error_type() {
                mark_span_failed(&self.span, error_type, message.as_deref());
            }
        }
    }

    impl Drop for SpanGuard {
        fn drop(&mut self) {
            if !self.done && std::thread::panicking() {
                mark_span_failed(&self.span, PANIC_ERROR_KIND, None);
            }
        }
    }

    /// Sets `error.type`, status Error and (with a message) an `exception` event.
    pub fn mark_span_failed(span: &tracing::Span, error_type: &str, message: Option<&str>) {
        span.record("error.type", error_type);
        span.record("otel.status_code", "error");
        #[cfg(feature = "otel")]
        {
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            if let Some(message) = message {
                span.add_event(
                    "exception",
                    vec![
                        opentelemetry::KeyValue::new("exception.type", error_type.to_owned()),
                        opentelemetry::KeyValue::new("exception.message", message.to_owned()),
                    ],
                );
                span.set_status(opentelemetry::trace::Status::error(message.to_owned()));
            }
        }
        #[cfg(not(feature = "otel"))]
        let _ = message;
    }
}
