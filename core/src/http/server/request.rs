//! One request being served: what an integration hands over when it arrives
//! ([`RequestParts`], [`RequestHeaders`]), its scope while its handler and body are polled
//! ([`RequestScope`]), and how it ends ([`ServerRequest::finish`], [`ServerRequest::fail`], or
//! dropped: cancelled).

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use super::config::UNMATCHED_ROUTE;
use super::recorder::{RecorderInner, RouteEntry};
use super::span::SpanName;
#[cfg(feature = "otel")]
use super::span::{RequestContext, semconv};
use crate::http::status_label;

/// Status code recorded in the `status` label of a request whose client went away before the
/// response was complete (nginx's "client closed request"). The span carries
/// `error.type="cancelled"` and, if a response had started, its real status code.
pub const CANCELLED_STATUS: u16 = 499;

/// `error.type` of a request cancelled by its client (disconnect, dropped future or body).
pub const ERROR_CANCELLED: &str = "cancelled";
/// `error.type` of a request whose handler (or body) panicked; recorded with status 500.
pub const ERROR_PANIC: &str = "panic";
/// `error.type` of a failure that has no better name (a service error, a body error).
pub const ERROR_OTHER: &str = "_OTHER";

/// Read access to a request's headers, whatever `http` crate version the framework uses.
pub trait RequestHeaders {
    /// The first value of header `name` (given in lowercase), as bytes.
    fn header(&self, name: &str) -> Option<&[u8]>;

    /// The headers as an `http` 1.x map, when they are one (saves a copy for propagation).
    fn as_header_map(&self) -> Option<&http::HeaderMap> {
        None
    }
}

impl RequestHeaders for http::HeaderMap {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.get(name).map(http::HeaderValue::as_bytes)
    }

    fn as_header_map(&self) -> Option<&http::HeaderMap> {
        Some(self)
    }
}

/// What an integration knows about a request when it arrives.
#[derive(Clone, Copy)]
pub struct RequestParts<'a> {
    /// The request method as sent (`"GET"`, `"BREW"`).
    pub method: &'a str,
    /// The matched route template (`/api/items/{id}`), `None` when no route matched.
    pub route: Option<&'a str>,
    /// The request path (span attribute `url.path` only, never a label).
    pub path: &'a str,
    /// The scheme the framework knows (absolute-form URI, TLS listener), if any.
    pub scheme: Option<&'a str>,
    /// The HTTP version.
    pub version: http::Version,
    /// The request headers.
    pub headers: &'a dyn RequestHeaders,
}

impl fmt::Debug for RequestParts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestParts")
            .field("method", &self.method)
            .field("route", &self.route)
            .field("path", &self.path)
            .field("scheme", &self.scheme)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// What [`ServerRequest::enter`] returns: the request's `tracing` span entered, or its
/// OpenTelemetry context made current. Dropping it leaves both.
#[must_use = "the request scope ends when this guard is dropped"]
pub struct RequestScope<'a> {
    _entered: tracing::span::Entered<'a>,
    #[cfg(feature = "otel")]
    _context: Option<opentelemetry::ContextGuard>,
}

impl fmt::Debug for RequestScope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestScope").finish_non_exhaustive()
    }
}

/// One request being served. Record the response status with
/// [`response_started`](Self::response_started) and call [`finish`](Self::finish) at the end
/// of the response body (or [`fail`](Self::fail)); dropping it unfinished records the request
/// as cancelled. Either way it is recorded exactly once.
pub struct ServerRequest {
    pub(super) recorder: Arc<RecorderInner>,
    pub(super) entry: Arc<RouteEntry>,
    pub(super) start: Instant,
    /// The server span as a `tracing` span (disabled with unitel's trace pipeline).
    pub(super) span: tracing::Span,
    /// The server span as an OpenTelemetry span, or an unsampled request's context.
    #[cfg(feature = "otel")]
    pub(super) context: RequestContext,
    pub(super) status: Option<u16>,
    /// `error.type`, recorded on the span once, when the request completes.
    pub(super) error_type: Option<&'static str>,
    pub(super) done: bool,
    /// `ENABLE_METRICS` when the request arrived (the span is recorded either way).
    pub(super) record_metrics: bool,
}

impl fmt::Debug for ServerRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerRequest")
            .field("method", &self.entry.method)
            .field("route", &self.entry.route)
            .field("status", &self.status)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl ServerRequest {
    /// The server span as a `tracing` span: only without unitel's trace pipeline (no
    /// [`init`](crate::init()) with tracing, e.g. an application's own subscriber), else
    /// disabled; with the pipeline the server span is an OpenTelemetry span, see
    /// [`context`](Self::context). Run the handler and poll the body inside
    /// [`enter`](Self::enter), which handles both.
    #[must_use]
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The OpenTelemetry context the request is served in, with unitel's trace pipeline: its
    /// server span (sampled), or the non-sampled context of an unsampled request whose trace
    /// goes on downstream; `None` otherwise.
    #[cfg(feature = "otel")]
    #[must_use]
    pub fn context(&self) -> Option<&opentelemetry::Context> {
        self.context.as_ref().map(|c| &c.cx)
    }

    /// Enters the request's scope for one poll of its handler or body: its span, or its
    /// OpenTelemetry context made current, so spans opened meanwhile join (or skip) the same
    /// trace.
    pub fn enter(&self) -> RequestScope<'_> {
        RequestScope {
            _entered: self.span.enter(),
            #[cfg(feature = "otel")]
            _context: self.context.as_ref().map(|c| c.cx.clone().attach()),
        }
    }

    /// The request's own server span, when it is an OpenTelemetry span.
    #[cfg(feature = "otel")]
    fn otel_span(&self) -> Option<opentelemetry::trace::SpanRef<'_>> {
        use opentelemetry::trace::TraceContextExt as _;
        self.context
            .as_ref()
            .filter(|c| c.own_span)
            .map(|c| c.cx.span())
    }

    /// The `route` label this request is recorded under.
    #[must_use]
    pub fn route_label(&self) -> &str {
        &self.entry.route
    }

    /// The `method` label this request is recorded under.
    #[must_use]
    pub fn method_label(&self) -> &'static str {
        self.entry.method
    }

    /// Sets the route the framework matched, for a request started with
    /// [`HttpServerRecorder::start_with_predicted_route`] (`method` and `path` as in its
    /// [`RequestParts`], for the route fallback): when it differs from the prediction, the
    /// request moves to it (in-flight included) before anything else is recorded; the span
    /// gets `http.route` and its `{method} {route}` name. No effect once the request is
    /// recorded.
    ///
    /// [`HttpServerRecorder::start_with_predicted_route`]:
    ///     super::HttpServerRecorder::start_with_predicted_route
    pub fn set_route(&mut self, method: &str, path: &str, route: Option<&str>) {
        if self.done {
            return;
        }
        let matched = self.recorder.config.matched_route(method, path, route);
        let label = matched.unwrap_or(UNMATCHED_ROUTE);
        if *self.entry.route != *label {
            let entry = self.recorder.route_entry(self.entry.method, label);
            if self.record_metrics {
                self.entry.in_flight.dec();
                entry.in_flight.inc();
            }
            self.entry = entry;
        }
        #[cfg(feature = "otel")]
        if let (Some(route), Some(span)) = (matched, self.otel_span()) {
            use opentelemetry::KeyValue;
            let name = SpanName {
                method: self.entry.method,
                route: matched,
            };
            span.update_name(name.to_string());
            let value = if *self.entry.route == *route {
                opentelemetry::Value::from(Arc::clone(&self.entry.route))
            } else {
                route.to_owned().into()
            };
            span.set_attribute(KeyValue::new(semconv::HTTP_ROUTE, value));
        }
        if matched.is_some() && !self.span.is_disabled() {
            let name = SpanName {
                method: self.entry.method,
                route: matched,
            };
            self.span.record("http.route", matched);
            // Before the OpenTelemetry span starts, `otel.name` renames it; after, the
            // OpenTelemetry API does.
            self.span
                .record("otel.name", tracing::field::display(&name));
            #[cfg(feature = "otel")]
            {
                use opentelemetry::trace::TraceContextExt as _;
                tracing_opentelemetry::OpenTelemetrySpanExt::context(&self.span)
                    .span()
                    .update_name(name.to_string());
            }
        }
    }

    /// Records the response status on the span (`http.response.status_code`; `error.type` and
    /// an error status for 5xx). The metrics are recorded when the body ends.
    pub fn response_started(&mut self, status: u16) {
        self.record_status(status);
        if status >= 500 {
            self.error_type = Some(status_label(status));
        }
    }

    fn record_status(&mut self, status: u16) {
        self.status = Some(status);
        #[cfg(feature = "otel")]
        if let Some(span) = self.otel_span() {
            span.set_attribute(opentelemetry::KeyValue::new(
                semconv::HTTP_RESPONSE_STATUS_CODE,
                i64::from(status),
            ));
        }
        self.span
            .record("http.response.status_code", i64::from(status));
    }

    /// The `traceparent` header value for the response, when the configuration asks for it
    /// and the span is traced.
    #[must_use]
    pub fn traceparent_header(&self) -> Option<String> {
        if !self.recorder.config.traceparent_header {
            return None;
        }
        #[cfg(feature = "otel")]
        if let Some(served) = self.context.as_ref().filter(|c| c.own_span) {
            return crate::trace::propagation::traceparent_of(&served.cx);
        }
        if self.span.is_disabled() {
            return None;
        }
        crate::trace::propagation::traceparent(&self.span)
    }

    /// The response is complete: records the metrics with the status given to
    /// [`response_started`](Self::response_started) and closes the span.
    pub fn finish(mut self) {
        let status = self.status.unwrap_or(200);
        self.complete(status);
    }

    /// The request failed with `error_type` (e.g. [`ERROR_PANIC`], [`ERROR_OTHER`]): recorded
    /// with the status already sent, else 500.
    pub fn fail(mut self, error_type: &'static str) {
        let status = match self.status {
            Some(s) => s,
            None => {
                self.record_status(500);
                500
            }
        };
        self.error_type = Some(error_type);
        self.complete(status);
    }

    fn complete(&mut self, status: u16) {
        if self.done {
            return;
        }
        self.done = true;
        // One clock read for both the duration metric and the span's end.
        let elapsed = self.start.elapsed();
        if let Some(error_type) = self.error_type {
            self.span.record("error.type", error_type);
            self.span.record("otel.status_code", "error");
        }
        #[cfg(feature = "otel")]
        if let Some(span) = self.otel_span() {
            if let Some(error_type) = self.error_type {
                span.set_attribute(opentelemetry::KeyValue::new(
                    semconv::ERROR_TYPE,
                    error_type,
                ));
                span.set_status(opentelemetry::trace::Status::error(""));
            }
            span.end_with_timestamp(crate::trace::system_time_at(self.start) + elapsed);
        }
        if self.record_metrics {
            self.recorder.record(&self.entry, status, elapsed);
            self.entry.in_flight.dec();
        }
    }
}

impl Drop for ServerRequest {
    fn drop(&mut self) {
        if !self.done {
            self.error_type = Some(ERROR_CANCELLED);
            self.complete(CANCELLED_STATUS);
        }
    }
}
