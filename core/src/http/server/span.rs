//! The server span: started through unitel's tracer when its trace pipeline is installed,
//! else a `tracing` span for whatever subscriber there is; its name and attribute keys.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use super::body::protocol_version;
use super::config::HttpServerConfig;
#[cfg(feature = "otel")]
use super::propagation::remote_context;
use super::request::RequestParts;
#[cfg(feature = "otel")]
use crate::trace::propagation::RemoteContext;

/// The span name: `{method} {route}`, or `{method}` alone without a route, with `HTTP` for
/// methods outside the standard set (OpenTelemetry HTTP semantic conventions). Formatted only
/// when a subscriber records the span.
pub(super) struct SpanName<'a> {
    pub(super) method: &'static str,
    pub(super) route: Option<&'a str>,
}

#[cfg(feature = "otel")]
impl SpanName<'_> {
    /// The name as a `String`, sized once (no formatting machinery).
    fn to_owned_name(&self) -> String {
        let method = if self.method == "_OTHER" {
            "HTTP"
        } else {
            self.method
        };
        let mut name = String::with_capacity(method.len() + 1 + self.route.map_or(0, str::len));
        name.push_str(method);
        if let Some(route) = self.route {
            name.push(' ');
            name.push_str(route);
        }
        name
    }
}

impl fmt::Display for SpanName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = if self.method == "_OTHER" {
            "HTTP"
        } else {
            self.method
        };
        match self.route {
            Some(route) => write!(f, "{method} {route}"),
            None => f.write_str(method),
        }
    }
}

/// The OpenTelemetry context a request is served in (see
/// [`ServerRequest::context`](super::ServerRequest::context)).
#[cfg(feature = "otel")]
pub(super) type RequestContext = Option<ServedContext>;
#[cfg(not(feature = "otel"))]
pub(super) type RequestContext = ();

/// The context a request is made current in while it is served.
#[cfg(feature = "otel")]
#[derive(Debug)]
pub(super) struct ServedContext {
    pub(super) cx: opentelemetry::Context,
    /// `cx` holds the request's own server span (sampled), which the request completes and
    /// ends; otherwise it is an unsampled request's non-sampled context.
    pub(super) own_span: bool,
}

/// The request's server span.
///
/// With `init`'s trace pipeline (unitel's tracer installed) the server span is started
/// directly through the OpenTelemetry API, with its attributes as static strings where they
/// can be, and made the current OpenTelemetry context while the request is polled: `tracing`
/// spans opened meanwhile (handlers, database, LLM and client spans) become its children
/// through `tracing-opentelemetry`, which parents a span without a `tracing` parent on the
/// current OpenTelemetry context. An unsampled request (decided before any span exists) gets
/// no span, only the non-sampled context its children follow.
///
/// Without that pipeline (no `init`, or a subscriber of the application's own), the server
/// span is a `tracing` span, for whatever subscriber is installed.
pub(super) fn new_span(
    config: &HttpServerConfig,
    parts: &RequestParts<'_>,
    method: &'static str,
    route: Option<&Arc<str>>,
    start: Instant,
) -> (tracing::Span, RequestContext) {
    #[cfg(feature = "otel")]
    if let Some(tracer) = config.telemetry.tracer() {
        return (
            tracing::Span::none(),
            direct_span(tracer, config, parts, method, route, start),
        );
    }
    let _ = start;
    // No subscriber wants server spans (metrics only): nothing to build, parse or evaluate.
    // (`info_span!` would still evaluate every field for the `log` fallback when no
    // subscriber is installed at all.)
    if !tracing::span_enabled!(target: "unitel::http::server", tracing::Level::INFO) {
        return (tracing::Span::none(), RequestContext::default());
    }
    let span = server_span(config, parts, method, route.map(|r| &**r));
    #[cfg(feature = "otel")]
    if !span.is_disabled()
        && let Some(remote) = remote_context(parts.headers, config.telemetry.registry())
    {
        remote.set_parent_of(&span);
    }
    (span, RequestContext::default())
}

/// The server span through unitel's tracer (see [`new_span`]).
#[cfg(feature = "otel")]
fn direct_span(
    tracer: &opentelemetry_sdk::trace::Tracer,
    config: &HttpServerConfig,
    parts: &RequestParts<'_>,
    method: &'static str,
    route: Option<&Arc<str>>,
    start: Instant,
) -> RequestContext {
    use crate::trace::Decision;
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{SpanKind, TraceContextExt as _, Tracer as _};
    // Only a request that carries propagation headers pays for parsing them.
    let mut remote = remote_context(parts.headers, config.telemetry.registry())
        .map(RemoteContext::into_otel_context);
    let decision = crate::trace::decide(config.telemetry.sampling(), &mut remote);
    let decided = match decision {
        Decision::Drop(cx) => {
            return cx.map(|cx| ServedContext {
                cx,
                own_span: false,
            });
        }
        Decision::Sample => Some(true),
        Decision::Undecided => None,
    };
    let mut attributes = Vec::with_capacity(10);
    attributes.push(KeyValue::new(semconv::HTTP_REQUEST_METHOD, method));
    if method == "_OTHER" {
        attributes.push(KeyValue::new(
            semconv::HTTP_REQUEST_METHOD_ORIGINAL,
            parts.method.to_owned(),
        ));
    }
    if let Some(route) = route {
        attributes.push(KeyValue::new(semconv::HTTP_ROUTE, Arc::clone(route)));
    }
    attributes.push(KeyValue::new(semconv::URL_PATH, parts.path.to_owned()));
    let scheme: opentelemetry::Value = match config.url_scheme.or(parts.scheme) {
        None | Some("http") => "http".into(),
        Some("https") => "https".into(),
        Some(other) => other.to_owned().into(),
    };
    attributes.push(KeyValue::new(semconv::URL_SCHEME, scheme));
    attributes.push(KeyValue::new(
        semconv::NETWORK_PROTOCOL_VERSION,
        protocol_version(parts.version),
    ));
    if let Some(agent) = parts
        .headers
        .header("user-agent")
        .and_then(|v| std::str::from_utf8(v).ok())
    {
        attributes.push(KeyValue::new(
            semconv::USER_AGENT_ORIGINAL,
            agent.to_owned(),
        ));
    }
    if let Some(address) = &config.server_address {
        attributes.push(KeyValue::new(semconv::SERVER_ADDRESS, Arc::clone(address)));
    }
    if let Some(port) = config.server_port {
        attributes.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
    }
    let builder = tracer
        .span_builder(
            SpanName {
                method,
                route: route.map(|r| &**r),
            }
            .to_owned_name(),
        )
        .with_kind(SpanKind::Server)
        .with_start_time(crate::trace::system_time_at(start))
        .with_attributes(attributes);
    let parent = remote.unwrap_or_default();
    let span = match decided {
        Some(sampled) => {
            crate::trace::with_decision(sampled, || tracer.build_with_context(builder, &parent))
        }
        None => tracer.build_with_context(builder, &parent),
    };
    Some(ServedContext {
        cx: parent.with_span(span),
        own_span: true,
    })
}

/// Attribute keys of the server span (OpenTelemetry HTTP semantic conventions).
#[cfg(feature = "otel")]
pub(super) mod semconv {
    pub(in crate::http::server) const HTTP_REQUEST_METHOD: &str = "http.request.method";
    pub(in crate::http::server) const HTTP_REQUEST_METHOD_ORIGINAL: &str =
        "http.request.method_original";
    pub(in crate::http::server) const HTTP_ROUTE: &str = "http.route";
    pub(in crate::http::server) const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
    pub(in crate::http::server) const URL_PATH: &str = "url.path";
    pub(in crate::http::server) const URL_SCHEME: &str = "url.scheme";
    pub(in crate::http::server) const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";
    pub(in crate::http::server) const USER_AGENT_ORIGINAL: &str = "user_agent.original";
    pub(in crate::http::server) const SERVER_ADDRESS: &str = "server.address";
    pub(in crate::http::server) const SERVER_PORT: &str = "server.port";
    pub(in crate::http::server) const ERROR_TYPE: &str = "error.type";
}

fn server_span(
    config: &HttpServerConfig,
    parts: &RequestParts<'_>,
    method: &'static str,
    route: Option<&str>,
) -> tracing::Span {
    // Field values are only evaluated when a subscriber wants the span.
    tracing::info_span!(
        target: "unitel::http::server",
        parent: None,
        "HTTP server request",
        otel.name = %SpanName { method, route },
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = method,
        http.request.method_original = (method == "_OTHER").then_some(parts.method),
        http.route = route,
        http.response.status_code = tracing::field::Empty,
        url.path = parts.path,
        url.scheme = config.url_scheme.or(parts.scheme).unwrap_or("http"),
        network.protocol.version = protocol_version(parts.version),
        user_agent.original = parts
            .headers
            .header("user-agent")
            .and_then(|v| std::str::from_utf8(v).ok()),
        server.address = config.server_address.as_deref(),
        server.port = config.server_port.map(i64::from),
        error.type = tracing::field::Empty,
    )
}
