//! Client-side HTTP semantics shared by every HTTP client integration (`unitel-reqwest` today):
//! the OpenTelemetry client span, `url.full` redaction, the bounded `error.type` of failed
//! requests, and the `http_client_*` metrics.
//!
//! ```
//! use std::time::Duration;
//! use unitel::http::client::{ClientErrorType, HttpClientMetrics, RequestTarget, client_span};
//!
//! let registry = unitel::Registry::new();
//! let metrics = HttpClientMetrics::new(&registry);
//! let target = RequestTarget::parse("https://user:pw@api.example.com/v1/items?id=7");
//! assert_eq!(target.url_full, "https://REDACTED:REDACTED@api.example.com/v1/items?id=REDACTED");
//!
//! let span = client_span(&http::Method::GET, &target, Some("/v1/items"));
//! // … send the request …
//! unitel::http::client::record_error_type(&span, ClientErrorType::Timeout);
//! metrics.record(&http::Method::GET, &target.server_address, ClientErrorType::Timeout.as_str(),
//!     Duration::from_millis(30));
//! assert!(unitel::prometheus::render_registry(&registry).contains(
//!     "http_client_requests_total{method=\"GET\",server_address=\"api.example.com\",status=\"timeout\"} 1"
//! ));
//! ```
//!
//! # The `server_address` label
//! It is the host of the URL the application calls: the few services it is configured to talk
//! to. A client that calls arbitrary hosts (a crawler, webhooks to user-supplied URLs) would
//! grow it without bound; the registry's per-family series cap then sends further series to
//! the family's overflow series (counted in `unitel_series_overflow_total`), so memory stays
//! bounded, but such clients should not be instrumented with a per-host label.

use std::time::Duration;

use crate::catalog;
use crate::registry::{CounterFamily, HistogramFamily, Registry};
use crate::telemetry::Telemetry;

/// Why a request got no response: the `error.type` of a failed client request, and its
/// `status` label. A response with a status code of 400 or more is an error too; its
/// `error.type` is the code itself (see [`status_error_type`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientErrorType {
    /// The request (or connecting) took longer than the client's timeout.
    Timeout,
    /// The server refused the connection (nothing listens on the port).
    ConnectionRefused,
    /// The connection was reset or closed before a response arrived.
    ConnectionReset,
    /// Connecting failed otherwise (DNS, TLS handshake, unreachable network).
    Connect,
    /// Sending the request or its body failed.
    Request,
    /// Reading or decoding the response body failed.
    Body,
    /// Too many redirects, or an invalid redirect.
    Redirect,
    /// The request could not be built (invalid URL or header).
    Builder,
    /// A middleware between the instrumentation and the transport failed.
    Middleware,
    /// The caller dropped the request before it completed.
    Cancelled,
    /// Anything else.
    Other,
}

impl ClientErrorType {
    /// Every type, in label order.
    pub const ALL: [Self; 11] = [
        Self::Timeout,
        Self::ConnectionRefused,
        Self::ConnectionReset,
        Self::Connect,
        Self::Request,
        Self::Body,
        Self::Redirect,
        Self::Builder,
        Self::Middleware,
        Self::Cancelled,
        Self::Other,
    ];

    /// The `error.type` (and `status` label) value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::ConnectionRefused => "connection_refused",
            Self::ConnectionReset => "connection_reset",
            Self::Connect => "connect_error",
            Self::Request => "request_error",
            Self::Body => "body_error",
            Self::Redirect => "redirect_error",
            Self::Builder => "builder_error",
            Self::Middleware => "middleware_error",
            Self::Cancelled => "cancelled",
            Self::Other => "_OTHER",
        }
    }

    /// The type an `std::io::Error` somewhere in `err`'s source chain tells (refused, reset,
    /// timed out), if any. Client integrations call this before their own coarser
    /// classification, since a refused connection is usually wrapped in a generic "connect"
    /// error.
    ///
    /// ```
    /// use unitel::http::client::ClientErrorType;
    ///
    /// let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    /// assert_eq!(ClientErrorType::from_io_source(&io), Some(ClientErrorType::ConnectionRefused));
    /// ```
    #[must_use]
    pub fn from_io_source(err: &(dyn std::error::Error + 'static)) -> Option<Self> {
        let mut current = Some(err);
        // Bounded walk: source chains are short, but a cyclic one must not loop forever.
        for _ in 0..32 {
            let e = current?;
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind as K;
                match io.kind() {
                    K::ConnectionRefused => return Some(Self::ConnectionRefused),
                    K::ConnectionReset
                    | K::ConnectionAborted
                    | K::BrokenPipe
                    | K::UnexpectedEof => return Some(Self::ConnectionReset),
                    K::TimedOut => return Some(Self::Timeout),
                    _ => {}
                }
            }
            current = e.source();
        }
        None
    }
}

impl std::fmt::Display for ClientErrorType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error.type` of a response: its status code as a string when it is 400 or more (client
/// spans treat 4xx and 5xx as errors), else `None`.
///
/// ```
/// assert_eq!(unitel::http::client::status_error_type(503), Some("503"));
/// assert_eq!(unitel::http::client::status_error_type(204), None);
/// ```
#[must_use]
pub fn status_error_type(status: u16) -> Option<&'static str> {
    (400..=599).contains(&status).then(|| status_label(status))
}

pub use super::status_label;

/// What the span and metrics need to know about a request's URL, derived once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestTarget {
    /// `server.address`: the host (without brackets for IPv6), lower-cased.
    pub server_address: String,
    /// `server.port`: explicit, or the scheme's default (80, 443).
    pub server_port: Option<u16>,
    /// `url.full`: the URL with credentials replaced by `REDACTED:REDACTED`, each query value
    /// replaced by `REDACTED`, and the fragment removed.
    pub url_full: String,
}

impl RequestTarget {
    /// Derives the target of an absolute URL. Never panics; a URL it cannot split (no scheme)
    /// gives an empty host and the redacted text as far as it can tell.
    ///
    /// ```
    /// use unitel::http::client::RequestTarget;
    ///
    /// let t = RequestTarget::parse("http://[::1]:8080/a?x=1&flag#top");
    /// assert_eq!(t.server_address, "::1");
    /// assert_eq!(t.server_port, Some(8080));
    /// assert_eq!(t.url_full, "http://[::1]:8080/a?x=REDACTED&flag");
    /// ```
    #[must_use]
    pub fn parse(url: &str) -> Self {
        let url = url.split('#').next().unwrap_or_default();
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, url),
        };
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(authority_end);
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let (host, port) = split_host_port(host_port);
        let default_port = match scheme.map(str::to_ascii_lowercase).as_deref() {
            Some("http" | "ws") => Some(80),
            Some("https" | "wss") => Some(443),
            _ => None,
        };
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };

        let mut url_full = String::with_capacity(url.len());
        if let Some(scheme) = scheme {
            url_full.push_str(scheme);
            url_full.push_str("://");
        }
        if userinfo.is_some() {
            url_full.push_str("REDACTED:REDACTED@");
        }
        url_full.push_str(host_port);
        url_full.push_str(path);
        if let Some(query) = query {
            url_full.push('?');
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    url_full.push('&');
                }
                match pair.split_once('=') {
                    Some((key, _)) => {
                        url_full.push_str(key);
                        url_full.push_str("=REDACTED");
                    }
                    None => url_full.push_str(pair),
                }
            }
        }
        Self {
            server_address: host.to_ascii_lowercase(),
            server_port: port.or(default_port),
            url_full,
        }
    }
}

fn split_host_port(host_port: &str) -> (&str, Option<u16>) {
    if let Some(rest) = host_port.strip_prefix('[') {
        // [v6]:port
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (rest, None),
        };
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()),
        _ => (host_port, None),
    }
}

/// A new HTTP client span, child of the current span: named `{method}`, or
/// `{method} {template}` when the caller names the URL template, kind client, with
/// `http.request.method`, `server.address`, `server.port`, `url.full` and `url.template`.
/// Record the outcome with [`record_response_status`] or [`record_error_type`].
#[must_use]
pub fn client_span(
    method: &http::Method,
    target: &RequestTarget,
    template: Option<&str>,
) -> tracing::Span {
    let method_label = super::method_label(method);
    let name = match template {
        Some(t) => format!("{method_label} {t}"),
        None => method_label.to_owned(),
    };
    let span = tracing::info_span!(
        "http.client.request",
        otel.name = %name,
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        http.request.method = method_label,
        http.request.method_original = tracing::field::Empty,
        server.address = %target.server_address,
        server.port = tracing::field::Empty,
        url.full = %target.url_full,
        url.template = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    if !span.is_disabled() {
        if method_label == "_OTHER" {
            span.record("http.request.method_original", method.as_str());
        }
        if let Some(port) = target.server_port {
            span.record("server.port", i64::from(port));
        }
        if let Some(t) = template {
            span.record("url.template", t);
        }
    }
    span
}

/// Records `http.response.status_code` on a client span; 4xx and 5xx also set `error.type`
/// to the code and the span status to Error.
pub fn record_response_status(span: &tracing::Span, status: u16) {
    span.record("http.response.status_code", i64::from(status));
    if let Some(error_type) = status_error_type(status) {
        span.record("error.type", error_type);
        span.record("otel.status_code", "error");
    }
}

/// Marks a client span failed without a response: `error.type` and status Error.
pub fn record_error_type(span: &tracing::Span, error_type: ClientErrorType) {
    span.record("error.type", error_type.as_str());
    span.record("otel.status_code", "error");
}

/// `http_client_requests_total{method, server_address, status}` and
/// `http_client_request_duration_seconds{method, server_address}` handles.
///
/// `status` is the response code (`"200"`, `"503"`), or the [`ClientErrorType`] when no
/// response arrived (`"timeout"`, `"connection_refused"`, …).
#[derive(Debug, Clone)]
pub struct HttpClientMetrics {
    telemetry: Telemetry,
    requests: CounterFamily,
    durations: HistogramFamily,
}

impl HttpClientMetrics {
    /// Handles on `registry`; metrics on or off as the process-wide [`Telemetry::global`] says.
    #[must_use]
    pub fn new(registry: &Registry) -> Self {
        Self::with_telemetry_registry(Telemetry::global(), registry)
    }

    /// Handles on `telemetry`'s registry, with its metrics switch.
    #[must_use]
    pub fn for_telemetry(telemetry: &Telemetry) -> Self {
        Self::with_telemetry_registry(telemetry, telemetry.registry())
    }

    fn with_telemetry_registry(telemetry: &Telemetry, registry: &Registry) -> Self {
        Self {
            telemetry: telemetry.clone(),
            requests: registry.counter(&catalog::HTTP_CLIENT_REQUESTS_TOTAL),
            durations: registry.histogram(&catalog::HTTP_CLIENT_REQUEST_DURATION_SECONDS),
        }
    }

    /// Counts one logical request and records its duration.
    pub fn record(
        &self,
        method: &http::Method,
        server_address: &str,
        status: &str,
        elapsed: Duration,
    ) {
        if !self.telemetry.metrics_enabled() {
            return;
        }
        let method = super::method_label(method);
        self.requests
            .with_labels(&[method, server_address, status])
            .inc();
        self.durations
            .with_labels(&[method, server_address])
            .observe_duration(elapsed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_redaction() {
        let cases = [
            (
                "https://example.com",
                "example.com",
                Some(443),
                "https://example.com",
            ),
            (
                "http://example.com/",
                "example.com",
                Some(80),
                "http://example.com/",
            ),
            (
                "https://u:p@Example.COM:8443/x/y?token=abc&b=&c#frag",
                "example.com",
                Some(8443),
                "https://REDACTED:REDACTED@Example.COM:8443/x/y?token=REDACTED&b=REDACTED&c",
            ),
            (
                "http://user@h/p",
                "h",
                Some(80),
                "http://REDACTED:REDACTED@h/p",
            ),
            ("http://h?x=1", "h", Some(80), "http://h?x=REDACTED"),
            ("ftp://h:21/", "h", Some(21), "ftp://h:21/"),
            ("not a url", "not a url", None, "not a url"),
            ("", "", None, ""),
            ("http://[::1/x", "::1", Some(80), "http://[::1/x"),
            ("http://h:99999/", "h", Some(80), "http://h:99999/"),
        ];
        for (url, host, port, full) in cases {
            let t = RequestTarget::parse(url);
            assert_eq!(t.server_address, host, "{url}");
            assert_eq!(t.server_port, port, "{url}");
            assert_eq!(t.url_full, full, "{url}");
        }
    }

    #[test]
    fn status_labels() {
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(599), "599");
        assert_eq!(status_label(1000), "_OTHER");
        assert_eq!(status_label(0), "_OTHER");
        assert_eq!(status_error_type(404), Some("404"));
        assert_eq!(status_error_type(399), None);
    }

    #[test]
    fn io_sources_classify() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("wrapped")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let wrapped = Wrapper(std::io::ErrorKind::TimedOut.into());
        assert_eq!(
            ClientErrorType::from_io_source(&wrapped),
            Some(ClientErrorType::Timeout)
        );
        let other = Wrapper(std::io::ErrorKind::NotFound.into());
        assert_eq!(ClientErrorType::from_io_source(&other), None);
    }
}
