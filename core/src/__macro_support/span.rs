//! The span of a `#[trace_operation]` call: marked failed on `Err` or panic.

use super::Outcome;
use crate::instrument::PANIC_ERROR_KIND;
use crate::trace::mark_span_failed;

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
