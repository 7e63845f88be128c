//! Span helpers: the seed's `start_span`, `add_span_event`, `set_span_attribute` and
//! `record_error`, over `tracing` spans that [`init`](crate::init()) turns into OpenTelemetry
//! spans.
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
    add_event_to(&tracing::Span::current(), name, attributes);
}

/// Adds an event to `span`.
pub fn add_event_to(span: &tracing::Span, name: &str, attributes: &[(&str, AttributeValue)]) {
    #[cfg(feature = "otel")]
    {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let kvs = attributes
            .iter()
            .map(|(k, v)| opentelemetry::KeyValue::new((*k).to_owned(), v.clone()))
            .collect();
        span.add_event(name.to_owned(), kvs);
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = (span, attributes);
        tracing::info!(event = name);
    }
}

/// Sets an attribute on the current span.
pub fn set_span_attribute(key: &str, value: impl Into<AttributeValue>) {
    set_attribute_on(&tracing::Span::current(), key, value);
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
    record_error_on(&tracing::Span::current(), err);
}

/// Marks `span` as failed (see [`record_error`]).
pub fn record_error_on(span: &tracing::Span, err: &dyn std::error::Error) {
    #[cfg(feature = "otel")]
    {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let message = err.to_string();
        span.add_event(
            "exception",
            vec![opentelemetry::KeyValue::new(
                "exception.message",
                message.clone(),
            )],
        );
        span.set_status(opentelemetry::trace::Status::error(message));
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
