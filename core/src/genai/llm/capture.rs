//! Prompt and completion capture: off unless a redaction hook is installed on the
//! [`Telemetry`]; what the hook returns is recorded on the span.

use std::sync::{Arc, PoisonError};

use super::settings::settings;
use crate::telemetry::Telemetry;

/// Which text a redaction hook is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentKind {
    /// The prompt (`gen_ai.input.messages`).
    Prompt,
    /// The completion (`gen_ai.output.messages`).
    Completion,
}

impl ContentKind {
    const fn attribute(self) -> &'static str {
        match self {
            Self::Prompt => "gen_ai.input.messages",
            Self::Completion => "gen_ai.output.messages",
        }
    }
}

pub(super) type ContentHook = dyn Fn(ContentKind, &str) -> Option<String> + Send + Sync;

/// Turns on prompt and completion capture through `redact`: it gets each text and returns what
/// may be recorded on the span (`None` records nothing). Off by default.
///
/// ```
/// use unitel::genai::llm::{ContentKind, set_content_capture};
///
/// set_content_capture(|kind, text| match kind {
///     ContentKind::Prompt => Some(text.replace(char::is_numeric, "#")),
///     ContentKind::Completion => None,
/// });
/// # unitel::genai::llm::disable_content_capture();
/// ```
pub fn set_content_capture<F>(redact: F)
where
    F: Fn(ContentKind, &str) -> Option<String> + Send + Sync + 'static,
{
    set_content_capture_of(Telemetry::global(), redact);
}

/// [`set_content_capture`] for `telemetry`.
pub fn set_content_capture_of<F>(telemetry: &Telemetry, redact: F)
where
    F: Fn(ContentKind, &str) -> Option<String> + Send + Sync + 'static,
{
    *settings(telemetry)
        .capture
        .write()
        .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(redact));
}

/// Turns prompt and completion capture off again.
pub fn disable_content_capture() {
    *settings(Telemetry::global())
        .capture
        .write()
        .unwrap_or_else(PoisonError::into_inner) = None;
}

/// Records `text` on `span` through `telemetry`'s redaction hook, if one is installed.
pub(super) fn capture_on(
    telemetry: &Telemetry,
    span: &tracing::Span,
    kind: ContentKind,
    text: &str,
) {
    let hook = settings(telemetry)
        .capture
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let Some(redacted) = hook.and_then(|h| h(kind, text)) {
        crate::trace::set_attribute_on(span, kind.attribute(), redacted);
    }
}

/// Records a prompt or completion on the current span (inside `#[track_llm_usage]`, the `chat`
/// span) through the redaction hook; does nothing without one.
pub fn capture_content(kind: ContentKind, text: &str) {
    capture_on(Telemetry::global(), &tracing::Span::current(), kind, text);
}
