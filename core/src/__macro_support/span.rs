//! The span of a `#[trace_operation]` call: marked failed on `Err` or panic.

use super::Outcome;
use crate::instrument::PANIC_ERROR_KIND;

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
