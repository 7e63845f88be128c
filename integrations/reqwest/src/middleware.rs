//! The middleware.

use std::borrow::Cow;
use std::time::Instant;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use tracing::Instrument as _;
use unitel::Registry;
use unitel::http::client::{
    ClientErrorType, HttpClientMetrics, RequestTarget, client_span, record_error_type,
    record_response_status, status_label,
};

/// Names the URL template of a request (as a request extension), for the span name
/// `{method} {template}` and `url.template`. Templates are low-cardinality by design: the
/// path with its variable parts as `{placeholders}`.
///
/// ```
/// let template = unitel_reqwest::UrlTemplate::new("/users/{id}/orders");
/// assert_eq!(template.as_str(), "/users/{id}/orders");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate(Cow<'static, str>);

impl UrlTemplate {
    /// A template such as `/items/{id}`.
    #[must_use]
    pub fn new(template: impl Into<Cow<'static, str>>) -> Self {
        Self(template.into())
    }

    /// The template text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Marks a request an outer `ClientMetricsMiddleware` is recording.
#[derive(Debug, Clone, Copy)]
struct Recording;

/// Records every request that passes through it: a client span (with W3C trace context
/// injected into the request), `http_client_requests_total` and
/// `http_client_request_duration_seconds`, once per logical request. See the
/// [crate docs](crate) for placement and labels.
///
/// ```
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(unitel_reqwest::ClientMetricsMiddleware::new())
///     .build();
/// # drop(client);
/// ```
#[derive(Debug, Clone)]
pub struct ClientMetricsMiddleware {
    metrics: HttpClientMetrics,
}

impl Default for ClientMetricsMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientMetricsMiddleware {
    /// Records into the process-wide [`unitel::registry()`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_registry(unitel::registry())
    }

    /// Records into `registry`.
    ///
    /// ```
    /// let registry = unitel::Registry::new();
    /// let middleware = unitel_reqwest::ClientMetricsMiddleware::with_registry(&registry);
    /// # drop(middleware);
    /// ```
    #[must_use]
    pub fn with_registry(registry: &Registry) -> Self {
        Self {
            metrics: HttpClientMetrics::new(registry),
        }
    }

    /// Records into `telemetry`: its registry and its metrics switch.
    ///
    /// ```
    /// let telemetry = unitel::Telemetry::new();
    /// let middleware = unitel_reqwest::ClientMetricsMiddleware::for_telemetry(&telemetry);
    /// # drop(middleware);
    /// ```
    #[must_use]
    pub fn for_telemetry(telemetry: &unitel::Telemetry) -> Self {
        Self {
            metrics: HttpClientMetrics::for_telemetry(telemetry),
        }
    }
}

/// Records the request when dropped: at completion, or with `cancelled` when the caller drops
/// the request future first.
struct Outcome<'a> {
    metrics: &'a HttpClientMetrics,
    method: http::Method,
    target: RequestTarget,
    span: tracing::Span,
    start: Instant,
    status: Option<&'static str>,
}

impl Drop for Outcome<'_> {
    fn drop(&mut self) {
        let status = match self.status {
            Some(status) => status,
            None => {
                record_error_type(&self.span, ClientErrorType::Cancelled);
                ClientErrorType::Cancelled.as_str()
            }
        };
        self.metrics.record(
            &self.method,
            &self.target.server_address,
            status,
            self.start.elapsed(),
        );
    }
}

#[async_trait::async_trait]
impl Middleware for ClientMetricsMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if extensions.get::<Recording>().is_some() {
            return next.run(req, extensions).await;
        }
        let target = RequestTarget::parse(req.url().as_str());
        let template = extensions.get::<UrlTemplate>().map(UrlTemplate::as_str);
        let span = client_span(req.method(), &target, template);
        unitel::trace::propagation::inject_context_from(&span, req.headers_mut());
        let mut outcome = Outcome {
            metrics: &self.metrics,
            method: req.method().clone(),
            target,
            span: span.clone(),
            start: Instant::now(),
            status: None,
        };
        extensions.insert(Recording);
        let result = next.run(req, extensions).instrument(span).await;
        extensions.remove::<Recording>();
        outcome.status = Some(match &result {
            Ok(response) => {
                let code = response.status().as_u16();
                record_response_status(&outcome.span, code);
                status_label(code)
            }
            Err(error) => {
                let error_type = classify_error(error);
                record_error_type(&outcome.span, error_type);
                error_type.as_str()
            }
        });
        drop(outcome);
        result
    }
}

/// The [`ClientErrorType`] of a failed request: timeouts first, then what an I/O error in the
/// source chain tells (refused, reset), then reqwest's own classification.
///
/// ```
/// use unitel::http::client::ClientErrorType;
///
/// let err = reqwest_middleware::Error::middleware(std::io::Error::from(
///     std::io::ErrorKind::ConnectionRefused,
/// ));
/// assert_eq!(unitel_reqwest::classify_error(&err), ClientErrorType::ConnectionRefused);
/// ```
#[must_use]
pub fn classify_error(error: &reqwest_middleware::Error) -> ClientErrorType {
    match error {
        reqwest_middleware::Error::Middleware(e) => {
            let e: &(dyn std::error::Error + 'static) = &**e;
            ClientErrorType::from_io_source(e).unwrap_or(ClientErrorType::Middleware)
        }
        reqwest_middleware::Error::Reqwest(e) => {
            if e.is_timeout() {
                return ClientErrorType::Timeout;
            }
            if let Some(t) = ClientErrorType::from_io_source(e) {
                return t;
            }
            if e.is_connect() {
                ClientErrorType::Connect
            } else if e.is_redirect() {
                ClientErrorType::Redirect
            } else if e.is_body() || e.is_decode() {
                ClientErrorType::Body
            } else if e.is_builder() {
                ClientErrorType::Builder
            } else if e.is_request() {
                ClientErrorType::Request
            } else {
                ClientErrorType::Other
            }
        }
    }
}
