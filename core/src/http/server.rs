//! Server-side HTTP recording shared by the framework integrations (`unitel-axum`,
//! `unitel-actix`): one implementation, so both frameworks record the same families with the
//! same label values and the same span attributes for the same request.
//!
//! An integration builds one [`HttpServerRecorder`] from an [`HttpServerConfig`], calls
//! [`HttpServerRecorder::start`] when a request arrives and keeps the returned
//! [`ServerRequest`] until the last byte of the response body is produced:
//!
//! ```
//! use unitel::http::server::{HttpServerConfig, HttpServerRecorder, RequestParts};
//!
//! let registry = unitel::Registry::new();
//! let recorder = HttpServerRecorder::new(HttpServerConfig::new().with_registry(registry.clone()));
//! let headers = http::HeaderMap::new();
//!
//! let mut request = recorder.start(&RequestParts {
//!     method: "GET",
//!     route: Some("/api/items/{id}"),
//!     path: "/api/items/7",
//!     scheme: None,
//!     version: http::Version::HTTP_11,
//!     headers: &headers,
//! });
//! // ... the handler is polled inside `request.enter()` ...
//! request.response_started(200);
//! // ... the body is sent ...
//! request.finish();
//!
//! let text = unitel::prometheus::render_registry(&registry);
//! assert!(text.contains(
//!     r#"http_requests_total{method="GET",route="/api/items/{id}",status="200"} 1"#
//! ));
//! assert!(text.contains(r#"http_requests_in_flight{method="GET",route="/api/items/{id}"} 0"#));
//! ```
//!
//! A [`ServerRequest`] dropped before [`finish`](ServerRequest::finish) (the client went away,
//! the future was cancelled, the body was dropped half-sent) records the request once, with
//! status label [`CANCELLED_STATUS`] and `error.type="cancelled"` on its span, so the in-flight
//! gauge never leaks.

use std::fmt;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use hashbrown::{Equivalent, HashMap};

use crate::catalog;
use crate::registry::{
    Counter, CounterFamily, Gauge, GaugeFamily, Histogram, HistogramFamily, Registry,
};
use crate::telemetry::Telemetry;
#[cfg(feature = "otel")]
use crate::trace::propagation::RemoteContext;

/// `route` label of requests that matched no route (404s, fallbacks): never the raw path.
pub const UNMATCHED_ROUTE: &str = "unmatched";

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

/// Routes (method and route label) whose handles are cached. Past it, handles are looked up in
/// the registry per request (which still caps series per family).
pub const MAX_CACHED_ROUTES: usize = 1024;

/// Status codes whose handles are cached per route.
const STATUS_SLOTS: usize = 16;

/// Headers the W3C propagators read.
#[cfg(feature = "otel")]
const PROPAGATION_HEADERS: [&str; 3] = ["traceparent", "tracestate", "baggage"];

/// Computes a route label for a request that matched no route, from its method and path.
///
/// Return a template from a small fixed set (e.g. `"/static/*"`), or `None` for
/// [`UNMATCHED_ROUTE`]. Never return the raw path: that makes a series per URL.
pub type RouteFallback = dyn Fn(&str, &str) -> Option<&'static str> + Send + Sync;

/// Why an [`HttpServerConfig`] setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpServerConfigError {
    /// The duration histogram does not have the labels of `http_request_duration_seconds`.
    #[error(
        "histogram `{name}` has labels {labels:?}; an HTTP duration histogram needs exactly \
         {expected:?}"
    )]
    DurationLabels {
        /// The family given.
        name: String,
        /// Its label keys.
        labels: Vec<String>,
        /// The keys required.
        expected: &'static [&'static str],
    },
}

/// Settings of the server integrations; every framework integration takes this same type.
///
/// ```
/// use unitel::http::server::HttpServerConfig;
///
/// let config = HttpServerConfig::new()
///     .with_excluded_path("/health")
///     .with_route_fallback(|_method, path| path.starts_with("/static/").then_some("/static/*"))
///     .with_traceparent_header(true)
///     .with_server_address("api.example.com")
///     .with_server_port(443)
///     .with_url_scheme("https");
/// assert!(config.excluded_paths().any(|p| p == "/metrics"));
/// assert!(config.excluded_paths().any(|p| p == "/health"));
/// ```
#[derive(Clone)]
pub struct HttpServerConfig {
    telemetry: Telemetry,
    registry: Registry,
    excluded_paths: Vec<Box<str>>,
    route_fallback: Option<Arc<RouteFallback>>,
    traceparent_header: bool,
    server_address: Option<Arc<str>>,
    server_port: Option<u16>,
    url_scheme: Option<&'static str>,
    duration: Option<HistogramFamily>,
}

impl fmt::Debug for HttpServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServerConfig")
            .field("excluded_paths", &self.excluded_paths)
            .field("route_fallback", &self.route_fallback.is_some())
            .field("traceparent_header", &self.traceparent_header)
            .field("server_address", &self.server_address)
            .field("server_port", &self.server_port)
            .field("url_scheme", &self.url_scheme)
            .field(
                "duration",
                &self.duration.as_ref().map(HistogramFamily::name),
            )
            .finish_non_exhaustive()
    }
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpServerConfig {
    /// Records into the process-wide [`Telemetry::global`], excludes its metrics path
    /// (`/metrics` unless configured), no response header, no server address.
    #[must_use]
    pub fn new() -> Self {
        Self::for_telemetry(Telemetry::global())
    }

    /// Records into `telemetry` (its registry, switches and trace pipeline) and excludes its
    /// metrics path.
    #[must_use]
    pub fn for_telemetry(telemetry: &Telemetry) -> Self {
        Self {
            telemetry: telemetry.clone(),
            registry: telemetry.registry().clone(),
            excluded_paths: vec![Box::from(&*telemetry.metrics_path())],
            route_fallback: None,
            traceparent_header: false,
            server_address: None,
            server_port: None,
            url_scheme: None,
            duration: None,
        }
    }

    /// Records into `registry` instead of the telemetry's own (tests, several apps); the
    /// switches and the trace pipeline stay the telemetry's.
    #[must_use]
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Also skips requests to `path` (exact match): no metrics, no span.
    #[must_use]
    pub fn with_excluded_path(mut self, path: impl Into<String>) -> Self {
        self.excluded_paths.push(path.into().into_boxed_str());
        self
    }

    /// Skips exactly these paths, replacing the default (the metrics path). Pass an empty list
    /// to record every request.
    #[must_use]
    pub fn with_excluded_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.excluded_paths = paths
            .into_iter()
            .map(|p| p.into().into_boxed_str())
            .collect();
        self
    }

    /// Labels requests that matched no route with `fallback(method, path)` when it returns
    /// `Some`, else [`UNMATCHED_ROUTE`]. See [`RouteFallback`].
    #[must_use]
    pub fn with_route_fallback<F>(mut self, fallback: F) -> Self
    where
        F: Fn(&str, &str) -> Option<&'static str> + Send + Sync + 'static,
    {
        self.route_fallback = Some(Arc::new(fallback));
        self
    }

    /// Whether responses carry a `traceparent` header naming the server span (default off).
    #[must_use]
    pub fn with_traceparent_header(mut self, on: bool) -> Self {
        self.traceparent_header = on;
        self
    }

    /// `server.address` of the spans: this service's public host name. Taken from
    /// configuration, never from the request's `Host` header.
    #[must_use]
    pub fn with_server_address(mut self, address: impl Into<String>) -> Self {
        self.server_address = Some(Arc::from(address.into()));
        self
    }

    /// `server.port` of the spans.
    #[must_use]
    pub fn with_server_port(mut self, port: u16) -> Self {
        self.server_port = Some(port);
        self
    }

    /// `url.scheme` of the spans, e.g. `"https"` behind a TLS-terminating proxy. By default the
    /// scheme the framework knows (`https` on a TLS listener), else `http`.
    #[must_use]
    pub fn with_url_scheme(mut self, scheme: &'static str) -> Self {
        self.url_scheme = Some(scheme);
        self
    }

    /// Records durations into `family` instead of the catalog's
    /// `http_request_duration_seconds`: the way to custom buckets. Register the family through
    /// the core registry first ([`Registry::register`] with your name, your buckets and the
    /// labels `method`, `route`, `status`), then take it with [`Registry::histogram_family`].
    /// The catalog family keeps its buckets (they are part of its contract with dashboards);
    /// it simply stays empty.
    ///
    /// ```
    /// use unitel::http::server::HttpServerConfig;
    /// use unitel::{MetricDefinition, MetricKind, Registry};
    ///
    /// let registry = Registry::new();
    /// registry
    ///     .register(MetricDefinition {
    ///         name: "api_request_duration_seconds".into(),
    ///         kind: MetricKind::Histogram,
    ///         description: "API request duration with fine buckets.".into(),
    ///         unit: "s".into(),
    ///         labels: vec!["method".into(), "route".into(), "status".into()],
    ///         buckets: vec![0.001, 0.002, 0.005, 0.01],
    ///     })
    ///     .unwrap();
    /// let family = registry.histogram_family("api_request_duration_seconds").unwrap();
    /// let config = HttpServerConfig::new()
    ///     .with_registry(registry)
    ///     .with_duration_histogram(family)
    ///     .unwrap();
    /// # drop(config);
    /// ```
    ///
    /// # Errors
    /// [`HttpServerConfigError::DurationLabels`] when the family's labels are not
    /// `method`, `route`, `status` in that order.
    pub fn with_duration_histogram(
        mut self,
        family: HistogramFamily,
    ) -> Result<Self, HttpServerConfigError> {
        let expected = catalog::HTTP_REQUEST_DURATION_SECONDS.labels;
        let labels = family.label_keys();
        if labels.len() != expected.len() || labels.iter().zip(expected).any(|(a, b)| a != b) {
            return Err(HttpServerConfigError::DurationLabels {
                name: family.name().to_owned(),
                labels: labels.to_vec(),
                expected,
            });
        }
        self.duration = Some(family);
        Ok(self)
    }

    /// Paths that are not recorded.
    pub fn excluded_paths(&self) -> impl Iterator<Item = &str> {
        self.excluded_paths.iter().map(|p| &**p)
    }
}

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

/// Records HTTP server requests: metrics, the server span and the in-flight gauge. Cheap to
/// clone (clones share their handle cache).
#[derive(Clone, Debug)]
pub struct HttpServerRecorder {
    inner: Arc<RecorderInner>,
}

struct RecorderInner {
    config: HttpServerConfig,
    requests: CounterFamily,
    duration: HistogramFamily,
    in_flight: GaugeFamily,
    routes: RwLock<HashMap<RouteKey, Arc<RouteEntry>, foldhash::fast::RandomState>>,
}

impl fmt::Debug for RecorderInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServerRecorder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Hash, PartialEq, Eq)]
struct RouteKey {
    method: &'static str,
    route: Box<str>,
}

/// Borrowed form of [`RouteKey`]: same fields, same order, same hash.
#[derive(Hash)]
struct RouteLookup<'a> {
    method: &'a str,
    route: &'a str,
}

impl Equivalent<RouteKey> for RouteLookup<'_> {
    fn equivalent(&self, key: &RouteKey) -> bool {
        self.method == key.method && self.route == &*key.route
    }
}

/// Handles of one (method, route): its in-flight gauge and its first statuses' handles.
struct RouteEntry {
    method: &'static str,
    route: Arc<str>,
    in_flight: Gauge,
    statuses: [OnceLock<StatusHandles>; STATUS_SLOTS],
}

impl fmt::Debug for RouteEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteEntry")
            .field("method", &self.method)
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

struct StatusHandles {
    code: u16,
    requests: Counter,
    duration: Histogram,
}

impl HttpServerRecorder {
    /// A recorder with these settings.
    #[must_use]
    pub fn new(config: HttpServerConfig) -> Self {
        let registry = &config.registry;
        let requests = registry.counter(&catalog::HTTP_REQUESTS_TOTAL);
        let duration = config
            .duration
            .clone()
            .unwrap_or_else(|| registry.histogram(&catalog::HTTP_REQUEST_DURATION_SECONDS));
        let in_flight = registry.gauge(&catalog::HTTP_REQUESTS_IN_FLIGHT);
        Self {
            inner: Arc::new(RecorderInner {
                config,
                requests,
                duration,
                in_flight,
                routes: RwLock::new(HashMap::with_hasher(foldhash::fast::RandomState::default())),
            }),
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &HttpServerConfig {
        &self.inner.config
    }

    /// Whether requests to `path` are skipped (no metrics, no span).
    #[must_use]
    pub fn is_excluded(&self, path: &str) -> bool {
        self.inner
            .config
            .excluded_paths
            .iter()
            .any(|p| &**p == path)
    }

    /// Starts recording a request: counts it in flight and opens its server span (a child of
    /// the remote parent in `traceparent`/`baggage`; a malformed header starts a new root and
    /// is counted as `invalid_header`).
    #[must_use]
    pub fn start(&self, parts: &RequestParts<'_>) -> ServerRequest {
        let matched = self
            .inner
            .config
            .matched_route(parts.method, parts.path, parts.route);
        self.start_as(parts, matched, matched)
    }

    /// Starts recording a request whose route the integration could only predict before
    /// routing (`predicted`, e.g. from other paths of the same shape): the metrics count it
    /// under `predicted` at once (in-flight), the span gets no route yet. The integration then
    /// calls [`ServerRequest::set_route`] with the route the framework matched, which moves the
    /// request if the prediction was wrong and completes the span. `parts.route` is ignored.
    ///
    /// ```
    /// use unitel::Registry;
    /// use unitel::http::server::{HttpServerConfig, HttpServerRecorder, RequestParts};
    ///
    /// let registry = Registry::new();
    /// let recorder = HttpServerRecorder::new(HttpServerConfig::new().with_registry(registry.clone()));
    /// let headers = http::HeaderMap::new();
    /// let parts = RequestParts {
    ///     method: "GET",
    ///     route: None,
    ///     path: "/items/2024",
    ///     scheme: None,
    ///     version: http::Version::HTTP_11,
    ///     headers: &headers,
    /// };
    /// let mut request = recorder.start_with_predicted_route(&parts, "/items/{id}");
    /// assert_eq!(request.route_label(), "/items/{id}");
    /// // After routing, the framework says a static resource answered.
    /// request.set_route("GET", "/items/2024", Some("/items/2024"));
    /// request.response_started(200);
    /// request.finish();
    /// let text = unitel::prometheus::render_registry(&registry);
    /// assert!(text.contains(r#"http_requests_total{method="GET",route="/items/2024",status="200"} 1"#));
    /// assert!(text.contains(r#"http_requests_in_flight{method="GET",route="/items/{id}"} 0"#));
    /// ```
    #[must_use]
    pub fn start_with_predicted_route(
        &self,
        parts: &RequestParts<'_>,
        predicted: &str,
    ) -> ServerRequest {
        self.start_as(parts, Some(predicted), None)
    }

    /// `recorded`: the route label source for the metrics; `traced`: the route on the span.
    fn start_as(
        &self,
        parts: &RequestParts<'_>,
        recorded: Option<&str>,
        traced: Option<&str>,
    ) -> ServerRequest {
        let inner = &self.inner;
        let method = super::method_label_from_str(parts.method);
        let entry = inner.route_entry(method, recorded.unwrap_or(UNMATCHED_ROUTE));
        let record_metrics = inner.config.telemetry.metrics_enabled();
        if record_metrics {
            entry.in_flight.inc();
        }
        let start = Instant::now();
        // `traced` is the recorded route when given: the span shares the entry's string.
        #[cfg_attr(not(feature = "otel"), allow(unused_variables))]
        let (span, context) = new_span(
            &inner.config,
            parts,
            method,
            traced.map(|_| &entry.route),
            start,
        );
        ServerRequest {
            recorder: Arc::clone(&self.inner),
            entry,
            start,
            span,
            #[cfg(feature = "otel")]
            context,
            status: None,
            error_type: None,
            done: false,
            record_metrics,
        }
    }
}

impl HttpServerConfig {
    /// The route a request is labelled with: the matched template, else the fallback's answer.
    fn matched_route<'a>(
        &self,
        method: &str,
        path: &str,
        route: Option<&'a str>,
    ) -> Option<&'a str> {
        route.or_else(|| self.route_fallback.as_ref().and_then(|f| f(method, path)))
    }
}

impl RecorderInner {
    fn route_entry(&self, method: &'static str, route: &str) -> Arc<RouteEntry> {
        let inner = self;
        let lookup = RouteLookup { method, route };
        {
            let routes = inner.routes.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = routes.get(&lookup) {
                return Arc::clone(entry);
            }
        }
        let mut routes = inner.routes.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = routes.get(&lookup) {
            return Arc::clone(entry);
        }
        let entry = Arc::new(RouteEntry {
            method,
            route: Arc::from(route),
            in_flight: inner.in_flight.with_labels(&[method, route]),
            statuses: Default::default(),
        });
        if routes.len() < MAX_CACHED_ROUTES {
            routes.insert(
                RouteKey {
                    method,
                    route: route.into(),
                },
                Arc::clone(&entry),
            );
        }
        entry
    }
}

impl RecorderInner {
    fn record(&self, entry: &RouteEntry, status: u16, elapsed: std::time::Duration) {
        for slot in &entry.statuses {
            let handles = match slot.get() {
                Some(h) => h,
                None => slot.get_or_init(|| self.status_handles(entry, status)),
            };
            if handles.code == status {
                handles.requests.inc();
                handles.duration.observe_duration(elapsed);
                return;
            }
        }
        // More distinct statuses on this route than slots: look the series up each time.
        let h = self.status_handles(entry, status);
        h.requests.inc();
        h.duration.observe_duration(elapsed);
    }

    fn status_handles(&self, entry: &RouteEntry, code: u16) -> StatusHandles {
        let labels = [entry.method, &*entry.route, status_label(code)];
        StatusHandles {
            code,
            requests: self.requests.with_labels(&labels),
            duration: self.duration.with_labels(&labels),
        }
    }
}

/// The span name: `{method} {route}`, or `{method}` alone without a route, with `HTTP` for
/// methods outside the standard set (OpenTelemetry HTTP semantic conventions). Formatted only
/// when a subscriber records the span.
struct SpanName<'a> {
    method: &'static str,
    route: Option<&'a str>,
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

/// The OpenTelemetry context a request is served in (see [`ServerRequest::context`]).
#[cfg(feature = "otel")]
type RequestContext = Option<ServedContext>;
#[cfg(not(feature = "otel"))]
type RequestContext = ();

/// The context a request is made current in while it is served.
#[cfg(feature = "otel")]
#[derive(Debug)]
struct ServedContext {
    cx: opentelemetry::Context,
    /// `cx` holds the request's own server span (sampled), which the request completes and
    /// ends; otherwise it is an unsampled request's non-sampled context.
    own_span: bool,
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
fn new_span(
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
        && let Some(remote) = remote_context(parts.headers, &config.registry)
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
    let mut remote =
        remote_context(parts.headers, &config.registry).map(RemoteContext::into_otel_context);
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
mod semconv {
    pub(super) const HTTP_REQUEST_METHOD: &str = "http.request.method";
    pub(super) const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
    pub(super) const HTTP_ROUTE: &str = "http.route";
    pub(super) const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
    pub(super) const URL_PATH: &str = "url.path";
    pub(super) const URL_SCHEME: &str = "url.scheme";
    pub(super) const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";
    pub(super) const USER_AGENT_ORIGINAL: &str = "user_agent.original";
    pub(super) const SERVER_ADDRESS: &str = "server.address";
    pub(super) const SERVER_PORT: &str = "server.port";
    pub(super) const ERROR_TYPE: &str = "error.type";
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

/// The caller's trace context, when the request carries a propagation header.
#[cfg(feature = "otel")]
fn remote_context(headers: &dyn RequestHeaders, registry: &Registry) -> Option<RemoteContext> {
    use crate::trace::propagation::{extract_context_into, extract_traceparent};
    // The common cases, no header or `traceparent` alone, take one scan of the names, no copy.
    if let Some(map) = headers.as_header_map() {
        let (traceparent, others) = propagation_headers(map);
        if others {
            return Some(extract_context_into(map, registry));
        }
        return traceparent.map(|v| extract_traceparent(v.as_bytes(), registry));
    }
    let traceparent = headers.header("traceparent");
    if headers.header("tracestate").is_none() && headers.header("baggage").is_none() {
        return traceparent.map(|v| extract_traceparent(v, registry));
    }
    let mut map = http::HeaderMap::new();
    for name in PROPAGATION_HEADERS {
        if let Some(value) = headers
            .header(name)
            .and_then(|v| http::HeaderValue::from_bytes(v).ok())
        {
            map.insert(name, value);
        }
    }
    (!map.is_empty()).then(|| extract_context_into(&map, registry))
}

/// The first `traceparent` of `map`, and whether it has `tracestate` or `baggage`. A request
/// has a handful of headers: one pass comparing names (custom names compare by length first)
/// costs less than hashing three names; a long map is looked up instead.
#[cfg(feature = "otel")]
fn propagation_headers(map: &http::HeaderMap) -> (Option<&http::HeaderValue>, bool) {
    use crate::trace::propagation::{BAGGAGE, TRACEPARENT, TRACESTATE};
    if map.keys_len() > 16 {
        return (
            map.get(TRACEPARENT),
            map.contains_key(TRACESTATE) || map.contains_key(BAGGAGE),
        );
    }
    let mut traceparent = None;
    let mut others = false;
    for (name, value) in map {
        if *name == TRACEPARENT {
            traceparent = traceparent.or(Some(value));
        } else if *name == TRACESTATE || *name == BAGGAGE {
            others = true;
        }
    }
    (traceparent, others)
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
    recorder: Arc<RecorderInner>,
    entry: Arc<RouteEntry>,
    start: Instant,
    /// The server span as a `tracing` span (disabled with unitel's trace pipeline).
    span: tracing::Span,
    /// The server span as an OpenTelemetry span, or an unsampled request's context.
    #[cfg(feature = "otel")]
    context: RequestContext,
    status: Option<u16>,
    /// `error.type`, recorded on the span once, when the request completes.
    error_type: Option<&'static str>,
    done: bool,
    /// `ENABLE_METRICS` when the request arrived (the span is recorded either way).
    record_metrics: bool,
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

thread_local! {
    /// Set by [`request_body_failed`] while [`watch_request_body`] runs on this thread.
    static REQUEST_BODY_FAILED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `poll` (one poll of a handler's future) and says whether the request body failed to
/// arrive meanwhile: the integration's request-body wrapper calls [`request_body_failed`] when
/// the transport yields an error (the client disconnected or reset the stream mid-upload).
/// Extractors read the body from inside the handler's future, on the polling thread, so a
/// thread-local flag carries the news without an allocation per request. Nests: an outer
/// watch's state is restored afterwards.
///
/// A request whose body failed is recorded as cancelled (dropping its [`ServerRequest`]),
/// whatever the handler answers: nobody receives that answer.
///
/// ```
/// use unitel::http::server::{request_body_failed, watch_request_body};
///
/// let ((), failed) = watch_request_body(|| request_body_failed());
/// assert!(failed);
/// let (answer, failed) = watch_request_body(|| 42);
/// assert_eq!((answer, failed), (42, false));
/// ```
pub fn watch_request_body<T>(poll: impl FnOnce() -> T) -> (T, bool) {
    let outer = REQUEST_BODY_FAILED.with(|f| f.replace(false));
    let polled = poll();
    let failed = REQUEST_BODY_FAILED.with(|f| f.replace(outer));
    (polled, failed)
}

/// Notes, for the enclosing [`watch_request_body`], that the request body failed to arrive.
/// Outside a watch it has no effect.
pub fn request_body_failed() {
    REQUEST_BODY_FAILED.with(|f| f.set(true));
}

/// Whether a response to `method` with `status` carries a body on the wire. When it does not
/// (HEAD, 1xx, 204, 304) servers never poll the body, so the request is complete with the
/// headers.
///
/// ```
/// use unitel::http::server::response_has_body;
/// assert!(response_has_body("GET", 200));
/// assert!(!response_has_body("HEAD", 200));
/// assert!(!response_has_body("GET", 204));
/// ```
#[must_use]
pub fn response_has_body(method: &str, status: u16) -> bool {
    method != "HEAD" && !(100..200).contains(&status) && status != 204 && status != 304
}

/// `network.protocol.version` of an HTTP version (`"1.1"`, `"2"`).
///
/// ```
/// assert_eq!(unitel::http::server::protocol_version(http::Version::HTTP_11), "1.1");
/// ```
#[must_use]
pub fn protocol_version(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_11 => "1.1",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => "_OTHER",
    }
}

pub use super::status_label;

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(
        method: &'a str,
        route: Option<&'a str>,
        headers: &'a http::HeaderMap,
    ) -> RequestParts<'a> {
        RequestParts {
            method,
            route,
            path: "/x",
            scheme: None,
            version: http::Version::HTTP_11,
            headers,
        }
    }

    fn value(registry: &Registry, d: &crate::MetricDescriptor, labels: &[&str]) -> f64 {
        match d.kind {
            crate::MetricKind::Counter => registry.counter(d).with_labels(labels).value(),
            crate::MetricKind::Gauge => registry.gauge(d).with_labels(labels).value(),
            crate::MetricKind::Histogram => {
                #[allow(clippy::cast_precision_loss)]
                let n = registry.histogram(d).with_labels(labels).snapshot().count() as f64;
                n
            }
        }
    }

    #[test]
    fn status_labels_cover_every_code() {
        for code in 100..1000u16 {
            assert_eq!(status_label(code), code.to_string());
        }
        assert_eq!(status_label(0), "_OTHER");
        assert_eq!(status_label(1000), "_OTHER");
    }

    #[test]
    fn each_request_is_recorded_once_whatever_ends_it() {
        let registry = Registry::new();
        let recorder =
            HttpServerRecorder::new(HttpServerConfig::new().with_registry(registry.clone()));
        let headers = http::HeaderMap::new();
        let route = Some("/items/{id}");

        let mut ok = recorder.start(&parts("GET", route, &headers));
        assert_eq!(
            value(
                &registry,
                &catalog::HTTP_REQUESTS_IN_FLIGHT,
                &["GET", "/items/{id}"]
            ),
            1.0
        );
        ok.response_started(200);
        ok.finish();

        let dropped = recorder.start(&parts("GET", route, &headers));
        drop(dropped);

        let mut mid_body = recorder.start(&parts("GET", route, &headers));
        mid_body.response_started(200);
        drop(mid_body);

        let panicked = recorder.start(&parts("GET", route, &headers));
        panicked.fail(ERROR_PANIC);

        let other = recorder.start(&parts("BREW", None, &headers));
        other.finish();

        let total = |labels: &[&str]| value(&registry, &catalog::HTTP_REQUESTS_TOTAL, labels);
        assert_eq!(total(&["GET", "/items/{id}", "200"]), 1.0);
        assert_eq!(total(&["GET", "/items/{id}", "499"]), 2.0);
        assert_eq!(total(&["GET", "/items/{id}", "500"]), 1.0);
        assert_eq!(total(&["_OTHER", "unmatched", "200"]), 1.0);
        assert_eq!(
            value(
                &registry,
                &catalog::HTTP_REQUEST_DURATION_SECONDS,
                &["GET", "/items/{id}", "499"]
            ),
            2.0
        );
        assert_eq!(
            value(
                &registry,
                &catalog::HTTP_REQUESTS_IN_FLIGHT,
                &["GET", "/items/{id}"]
            ),
            0.0
        );
        assert_eq!(
            value(
                &registry,
                &catalog::HTTP_REQUESTS_IN_FLIGHT,
                &["_OTHER", "unmatched"]
            ),
            0.0
        );
    }

    #[test]
    fn more_statuses_than_slots_and_routes_than_cache_still_count() {
        let registry = Registry::new();
        let recorder = HttpServerRecorder::new(
            HttpServerConfig::new()
                .with_registry(registry.clone())
                .with_route_fallback(|_, path| (path == "/x").then_some("/fallback")),
        );
        let headers = http::HeaderMap::new();
        for code in 200..240u16 {
            let mut r = recorder.start(&parts("GET", None, &headers));
            r.response_started(code);
            r.finish();
        }
        for code in 200..240u16 {
            let label = code.to_string();
            assert_eq!(
                value(
                    &registry,
                    &catalog::HTTP_REQUESTS_TOTAL,
                    &["GET", "/fallback", &label]
                ),
                1.0
            );
        }
        let routes: Vec<String> = (0..MAX_CACHED_ROUTES + 10)
            .map(|i| format!("/r{i}"))
            .collect();
        for route in &routes {
            recorder
                .start(&parts("POST", Some(route), &headers))
                .finish();
        }
        assert!(recorder.inner.routes.read().unwrap().len() <= MAX_CACHED_ROUTES);
        let last = routes.last().unwrap();
        assert_eq!(
            value(
                &registry,
                &catalog::HTTP_REQUESTS_TOTAL,
                &["POST", last, "200"]
            ),
            1.0
        );
        assert_eq!(
            value(
                &registry,
                &catalog::HTTP_REQUESTS_IN_FLIGHT,
                &["POST", last]
            ),
            0.0
        );
    }

    #[test]
    fn duration_histogram_must_have_the_http_labels() {
        let registry = Registry::new();
        let err = HttpServerConfig::new()
            .with_duration_histogram(registry.histogram(&catalog::RAG_RETRIEVAL_LATENCY_SECONDS))
            .unwrap_err();
        assert!(
            err.to_string().contains("rag_retrieval_latency_seconds"),
            "{err}"
        );
    }
}
