//! Span helpers: `start_span`, `add_span_event`, `set_span_attribute` and
//! `record_error`, over `tracing` spans that [`init`](crate::init()) turns into OpenTelemetry
//! spans.
//!
//! The "current span" of these helpers is the current `tracing` span, or, where none is
//! current, the active OpenTelemetry span: inside a request served through unitel's HTTP
//! layers with `init`'s trace pipeline, the server span is an OpenTelemetry span made active
//! while the handler runs (it is not a `tracing` span, see
//! [`http::server`](crate::http::server)), and the helpers reach it there.
//!
//! ```
//! use unitel::trace::{add_span_event, record_error, set_span_attribute, start_span};
//!
//! fn complex_operation() -> Result<usize, std::io::Error> {
//!     let span = start_span("complex_operation");
//!     let _entered = span.enter();
//!     set_span_attribute("operation.type", "batch_processing");
//!     add_span_event("Processing started", &[("batch_size", 100.into())]);
//!     let result = std::fs::read_dir(".").map(|d| d.count());
//!     match &result {
//!         Ok(n) => add_span_event("Processing completed", &[("items_processed", (*n as i64).into())]),
//!         Err(e) => record_error(e),
//!     }
//!     result
//! }
//! # complex_operation().unwrap();
//! ```

use std::borrow::Cow;

/// A span attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// A string.
    String(Cow<'static, str>),
    /// An integer.
    I64(i64),
    /// A float.
    F64(f64),
    /// A boolean.
    Bool(bool),
}

impl From<&'static str> for AttributeValue {
    fn from(v: &'static str) -> Self {
        Self::String(Cow::Borrowed(v))
    }
}
impl From<String> for AttributeValue {
    fn from(v: String) -> Self {
        Self::String(Cow::Owned(v))
    }
}
impl From<i64> for AttributeValue {
    fn from(v: i64) -> Self {
        Self::I64(v)
    }
}
impl From<i32> for AttributeValue {
    fn from(v: i32) -> Self {
        Self::I64(i64::from(v))
    }
}
impl From<u32> for AttributeValue {
    fn from(v: u32) -> Self {
        Self::I64(i64::from(v))
    }
}
impl From<usize> for AttributeValue {
    fn from(v: usize) -> Self {
        Self::I64(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<f64> for AttributeValue {
    fn from(v: f64) -> Self {
        Self::F64(v)
    }
}
impl From<bool> for AttributeValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

#[cfg(feature = "otel")]
impl From<AttributeValue> for opentelemetry::Value {
    fn from(v: AttributeValue) -> Self {
        match v {
            AttributeValue::String(s) => s.into(),
            AttributeValue::I64(i) => i.into(),
            AttributeValue::F64(f) => f.into(),
            AttributeValue::Bool(b) => b.into(),
        }
    }
}

/// A new span named `name` (its OpenTelemetry name), child of the current span. Enter it, or
/// attach it to a future with `tracing::Instrument::instrument`.
#[must_use]
pub fn start_span(name: impl Into<Cow<'static, str>>) -> tracing::Span {
    let name = name.into();
    tracing::info_span!("unitel.span", otel.name = %name)
}

/// Adds an event to the current span.
pub fn add_span_event(name: &str, attributes: &[(&str, AttributeValue)]) {
    let current = tracing::Span::current();
    #[cfg(feature = "otel")]
    if current.is_disabled() {
        with_active_span(|span| span.add_event(name.to_owned(), key_values(attributes)));
        return;
    }
    add_event_to(&current, name, attributes);
}

#[cfg(feature = "otel")]
fn key_values(attributes: &[(&str, AttributeValue)]) -> Vec<opentelemetry::KeyValue> {
    attributes
        .iter()
        .map(|(k, v)| opentelemetry::KeyValue::new((*k).to_owned(), v.clone()))
        .collect()
}

/// Runs `f` on the active OpenTelemetry span when it records (no current `tracing` span).
#[cfg(feature = "otel")]
fn with_active_span(f: impl FnOnce(&opentelemetry::trace::SpanRef<'_>)) {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = opentelemetry::Context::current();
    let span = cx.span();
    if span.is_recording() {
        f(&span);
    }
}

/// Adds an event to `span`.
pub fn add_event_to(span: &tracing::Span, name: &str, attributes: &[(&str, AttributeValue)]) {
    #[cfg(feature = "otel")]
    {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        span.add_event(name.to_owned(), key_values(attributes));
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = (span, attributes);
        tracing::info!(event = name);
    }
}

/// Sets an attribute on the current span.
pub fn set_span_attribute(key: &str, value: impl Into<AttributeValue>) {
    let current = tracing::Span::current();
    #[cfg(feature = "otel")]
    if current.is_disabled() {
        let value = value.into();
        with_active_span(|span| {
            span.set_attribute(opentelemetry::KeyValue::new(key.to_owned(), value));
        });
        return;
    }
    set_attribute_on(&current, key, value);
}

/// Sets an attribute on `span`.
pub fn set_attribute_on(span: &tracing::Span, key: &str, value: impl Into<AttributeValue>) {
    #[cfg(feature = "otel")]
    {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        span.set_attribute(key.to_owned(), value.into());
    }
    #[cfg(not(feature = "otel"))]
    let _ = (span, key, value.into());
}

/// Marks the current span as failed: status Error with the error's message, and an `exception`
/// event carrying `exception.message`.
pub fn record_error(err: &dyn std::error::Error) {
    let current = tracing::Span::current();
    #[cfg(feature = "otel")]
    if current.is_disabled() {
        with_active_span(|span| {
            let (event, status) = exception(err);
            span.add_event("exception", event);
            span.set_status(status);
        });
        return;
    }
    record_error_on(&current, err);
}

/// The `exception` event's attributes and the error status of a failed span.
#[cfg(feature = "otel")]
fn exception(
    err: &dyn std::error::Error,
) -> (Vec<opentelemetry::KeyValue>, opentelemetry::trace::Status) {
    let message = err.to_string();
    (
        vec![opentelemetry::KeyValue::new(
            "exception.message",
            message.clone(),
        )],
        opentelemetry::trace::Status::error(message),
    )
}

/// Marks `span` as failed (see [`record_error`]).
pub fn record_error_on(span: &tracing::Span, err: &dyn std::error::Error) {
    #[cfg(feature = "otel")]
    {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let (event, status) = exception(err);
        span.add_event("exception", event);
        span.set_status(status);
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = span;
        tracing::debug!(error = %err, "operation failed");
    }
}

/// Marks `span` as failed with a bounded `error.type` (and no message).
pub fn set_error_type(span: &tracing::Span, error_type: &'static str) {
    set_attribute_on(span, "error.type", error_type);
    #[cfg(feature = "otel")]
    {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        span.set_status(opentelemetry::trace::Status::error(error_type));
    }
}

/// The parent of a span that is created later than the moment it belongs to (e.g. at a
/// future's first poll): the `tracing` span current now, or, where none is, the current
/// OpenTelemetry context (inside a request served through unitel's HTTP layers, whose server
/// span is an OpenTelemetry span; or an unsampled request's context, so the child is dropped
/// with it).
///
/// ```
/// use unitel::trace::SpanParent;
///
/// let parent = SpanParent::current();
/// let span = parent.child(|p| tracing::info_span!(parent: p.id(), "later"));
/// # drop(span);
/// ```
#[derive(Debug, Clone)]
pub struct SpanParent {
    span: tracing::Span,
    #[cfg(feature = "otel")]
    context: Option<opentelemetry::Context>,
}

impl SpanParent {
    /// What is current now.
    #[must_use]
    pub fn current() -> Self {
        let span = tracing::Span::current();
        #[cfg(feature = "otel")]
        let context = if span.is_disabled() {
            use opentelemetry::trace::TraceContextExt as _;
            let cx = opentelemetry::Context::current();
            cx.has_active_span().then_some(cx)
        } else {
            None
        };
        Self {
            span,
            #[cfg(feature = "otel")]
            context,
        }
    }

    /// The `tracing` span that was current (disabled when none was).
    #[must_use]
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Creates a child with `make`, which is given the parent `tracing` span (create the child
    /// with `parent: p.id()`); where the parent is an OpenTelemetry context, the child is
    /// attached to it.
    pub fn child(&self, make: impl FnOnce(&tracing::Span) -> tracing::Span) -> tracing::Span {
        let child = make(&self.span);
        #[cfg(feature = "otel")]
        if let Some(cx) = &self.context
            && !child.is_disabled()
        {
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            let _ = child.set_parent(cx.clone());
        }
        child
    }
}

/// Marks `span` failed: sets `error.type`, status Error and (with a message) an `exception`
/// event. What the instrumentation helpers and macros call when a call fails.
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

/// The wall-clock time of `at`, from a per-thread pair of clock readings refreshed every
/// 100 ms: the HTTP recorder stamps its server span's start and end from the `Instant`s it
/// reads for the duration metric, without two more clock reads per request. Between
/// refreshes the error is the wall clock's slew (NTP adjusts its rate by at most 500 ppm:
/// under 50 µs).
#[cfg(feature = "otel")]
pub(crate) fn system_time_at(at: std::time::Instant) -> std::time::SystemTime {
    use std::cell::Cell;
    use std::time::{Duration, Instant, SystemTime};
    const REFRESH: Duration = Duration::from_millis(100);
    thread_local! {
        static BASE: Cell<Option<(Instant, SystemTime)>> = const { Cell::new(None) };
    }
    let near = |i: Instant| {
        at.checked_duration_since(i)
            .or_else(|| i.checked_duration_since(at))
            .is_some_and(|d| d < REFRESH)
    };
    // `try_with`: a request may be completed from a thread-local destructor at thread exit.
    let (instant, system) = BASE
        .try_with(|base| match base.get() {
            Some((i, s)) if near(i) => (i, s),
            _ => {
                let pair = (Instant::now(), SystemTime::now());
                base.set(Some(pair));
                pair
            }
        })
        .unwrap_or_else(|_| (Instant::now(), SystemTime::now()));
    match at.checked_duration_since(instant) {
        Some(after) => system + after,
        None => system
            .checked_sub(instant.duration_since(at))
            .unwrap_or(system),
    }
}

#[cfg(all(test, feature = "otel"))]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    #[test]
    fn system_time_at_follows_the_wall_clock() {
        for _ in 0..3 {
            let before = SystemTime::now();
            let at = Instant::now();
            let after = SystemTime::now();
            let derived = super::system_time_at(at);
            let slack = Duration::from_millis(5);
            assert!(derived + slack >= before && derived <= after + slack);
            // An instant before the thread's base pair, and one later than the refresh.
            let earlier = super::system_time_at(at.checked_sub(Duration::from_millis(1)).unwrap());
            assert!(earlier < derived);
            std::thread::sleep(Duration::from_millis(120));
        }
    }
}
