//! W3C trace context and baggage over `http::HeaderMap`.
//!
//! ```
//! use http::HeaderMap;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(
//!     "traceparent",
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
//! );
//! let remote = unitel::extract_context(&headers);
//! if unitel::OTEL_AVAILABLE {
//!     assert_eq!(remote.trace_id().as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
//! }
//!
//! // A malformed header never errors: it starts a new root trace.
//! headers.insert("traceparent", "garbage".parse().unwrap());
//! assert!(unitel::extract_context(&headers).trace_id().is_none());
//! ```

use http::HeaderMap;

/// A trace context received from a caller (possibly empty).
#[derive(Debug, Clone, Default)]
pub struct RemoteContext {
    #[cfg(feature = "otel")]
    cx: opentelemetry::Context,
}

impl RemoteContext {
    /// Whether the headers carried a valid parent span.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.span_context().is_some()
    }

    /// Trace id of the remote parent, lowercase hex.
    #[must_use]
    pub fn trace_id(&self) -> Option<String> {
        self.span_context().map(|(t, _)| t)
    }

    /// Span id of the remote parent, lowercase hex.
    #[must_use]
    pub fn span_id(&self) -> Option<String> {
        self.span_context().map(|(_, s)| s)
    }

    #[cfg(feature = "otel")]
    fn span_context(&self) -> Option<(String, String)> {
        use opentelemetry::trace::TraceContextExt as _;
        let span = self.cx.span();
        let sc = span.span_context();
        sc.is_valid()
            .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
    }

    #[cfg(not(feature = "otel"))]
    #[allow(clippy::unused_self)]
    fn span_context(&self) -> Option<(String, String)> {
        None
    }

    /// Makes the remote span (and baggage) the parent of `span`. Without a valid remote parent
    /// the span stays a root.
    pub fn set_parent_of(&self, span: &tracing::Span) {
        #[cfg(feature = "otel")]
        {
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            if self.is_valid() || self.has_baggage() {
                let _ = span.set_parent(self.cx.clone());
            }
        }
        #[cfg(not(feature = "otel"))]
        let _ = span;
    }

    #[cfg(feature = "otel")]
    fn has_baggage(&self) -> bool {
        use opentelemetry::baggage::BaggageExt as _;
        !self.cx.baggage().is_empty()
    }

    /// The OpenTelemetry context.
    #[cfg(feature = "otel")]
    #[must_use]
    pub fn as_otel_context(&self) -> &opentelemetry::Context {
        &self.cx
    }
}

#[cfg(feature = "otel")]
mod otel {
    use std::sync::LazyLock;

    use http::{HeaderMap, HeaderName, HeaderValue};
    use opentelemetry::propagation::{
        Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
    };
    use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

    pub(super) static PROPAGATOR: LazyLock<TextMapCompositePropagator> = LazyLock::new(|| {
        TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    });

    pub(super) struct HeaderExtractor<'a>(pub(super) &'a HeaderMap);

    impl Extractor for HeaderExtractor<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(HeaderName::as_str).collect()
        }
    }

    pub(super) struct HeaderInjector<'a>(pub(super) &'a mut HeaderMap);

    impl Injector for HeaderInjector<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(key.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                self.0.insert(name, value);
            }
        }
    }

    pub(super) fn propagator() -> &'static TextMapCompositePropagator {
        &PROPAGATOR
    }

    pub(super) fn extract(headers: &HeaderMap) -> opentelemetry::Context {
        propagator().extract(&HeaderExtractor(headers))
    }

    pub(super) fn inject(cx: &opentelemetry::Context, headers: &mut HeaderMap) {
        propagator().inject_context(cx, &mut HeaderInjector(headers));
    }
}

/// Reads `traceparent`, `tracestate` and `baggage`. A malformed `traceparent` is counted as an
/// instrumentation error (`invalid_header`) and yields an empty context: a new root trace.
#[must_use]
pub fn extract_context(headers: &HeaderMap) -> RemoteContext {
    #[cfg(feature = "otel")]
    {
        let remote = RemoteContext {
            cx: otel::extract(headers),
        };
        if !remote.is_valid() && headers.contains_key("traceparent") {
            crate::registry().report_instrumentation_error(
                crate::InstrumentationErrorKind::InvalidHeader,
                "malformed traceparent header ignored; a new trace was started",
            );
        }
        remote
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = headers;
        RemoteContext::default()
    }
}

/// Writes the current span's context (`traceparent`, `tracestate`, `baggage`) into `headers`.
pub fn inject_context(headers: &mut HeaderMap) {
    inject_context_from(&tracing::Span::current(), headers);
}

/// Writes `span`'s context into `headers`. Nothing is written for a span unitel does not trace.
pub fn inject_context_from(span: &tracing::Span, headers: &mut HeaderMap) {
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let cx = span.context();
        if cx.span().span_context().is_valid() {
            otel::inject(&cx, headers);
        }
    }
    #[cfg(not(feature = "otel"))]
    let _ = (span, headers);
}

/// The `traceparent` value of `span`, e.g. for a response header.
#[must_use]
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let mut headers = HeaderMap::new();
    inject_context_from(span, &mut headers);
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Trace id of `span` as lowercase hex, if it is traced.
#[must_use]
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let cx = span.context();
        let span_ref = cx.span();
        let sc = span_ref.span_context();
        sc.is_valid().then(|| sc.trace_id().to_string())
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = span;
        None
    }
}
