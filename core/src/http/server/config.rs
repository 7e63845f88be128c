//! [`HttpServerConfig`]: what the server integrations record, where, and how requests that
//! matched no route are labelled.

use std::fmt;
use std::sync::Arc;

use crate::catalog;
use crate::registry::{HistogramFamily, Registry};
use crate::telemetry::Telemetry;

/// `route` label of requests that matched no route (404s, fallbacks): never the raw path.
pub const UNMATCHED_ROUTE: &str = "unmatched";

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
///     .excluded_path("/health")
///     .route_fallback(|_method, path| path.starts_with("/static/").then_some("/static/*"))
///     .traceparent_header(true)
///     .server_address("api.example.com")
///     .server_port(443)
///     .url_scheme("https");
/// assert!(config.excluded().any(|p| p == "/metrics"));
/// assert!(config.excluded().any(|p| p == "/health"));
/// ```
#[derive(Clone)]
pub struct HttpServerConfig {
    pub(super) telemetry: Telemetry,
    pub(super) registry: Registry,
    pub(super) excluded_paths: Vec<Box<str>>,
    pub(super) route_fallback: Option<Arc<RouteFallback>>,
    pub(super) traceparent_header: bool,
    pub(super) server_address: Option<Arc<str>>,
    pub(super) server_port: Option<u16>,
    pub(super) url_scheme: Option<&'static str>,
    pub(super) duration: Option<HistogramFamily>,
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

    /// Records the request metrics into `registry` instead of the telemetry's own (tests,
    /// several apps); the switches and the trace pipeline stay the telemetry's, and so does
    /// the count of malformed propagation headers (`invalid_header`).
    #[must_use]
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Also skips requests to `path` (exact match): no metrics, no span.
    #[must_use]
    pub fn excluded_path(mut self, path: impl Into<String>) -> Self {
        self.excluded_paths.push(path.into().into_boxed_str());
        self
    }

    /// Skips exactly these paths, replacing the default (the metrics path). Pass an empty list
    /// to record every request.
    #[must_use]
    pub fn excluded_paths<I, P>(mut self, paths: I) -> Self
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
    pub fn route_fallback<F>(mut self, fallback: F) -> Self
    where
        F: Fn(&str, &str) -> Option<&'static str> + Send + Sync + 'static,
    {
        self.route_fallback = Some(Arc::new(fallback));
        self
    }

    /// Whether responses carry a `traceparent` header naming the server span (default off).
    #[must_use]
    pub fn traceparent_header(mut self, on: bool) -> Self {
        self.traceparent_header = on;
        self
    }

    /// `server.address` of the spans: this service's public host name. Taken from
    /// configuration, never from the request's `Host` header.
    #[must_use]
    pub fn server_address(mut self, address: impl Into<String>) -> Self {
        self.server_address = Some(Arc::from(address.into()));
        self
    }

    /// `server.port` of the spans.
    #[must_use]
    pub fn server_port(mut self, port: u16) -> Self {
        self.server_port = Some(port);
        self
    }

    /// `url.scheme` of the spans, e.g. `"https"` behind a TLS-terminating proxy. By default the
    /// scheme the framework knows (`https` on a TLS listener), else `http`.
    #[must_use]
    pub fn url_scheme(mut self, scheme: &'static str) -> Self {
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
    ///     .registry(registry)
    ///     .duration_histogram(family)
    ///     .unwrap();
    /// # drop(config);
    /// ```
    ///
    /// # Errors
    /// [`HttpServerConfigError::DurationLabels`] when the family's labels are not
    /// `method`, `route`, `status` in that order.
    pub fn duration_histogram(
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

    /// The paths that are not recorded (exact matches).
    ///
    /// ```
    /// use unitel::http::server::HttpServerConfig;
    ///
    /// let config = HttpServerConfig::new().excluded_paths(["/health", "/ready"]);
    /// assert_eq!(config.excluded().collect::<Vec<_>>(), ["/health", "/ready"]);
    /// ```
    pub fn excluded(&self) -> impl Iterator<Item = &str> {
        self.excluded_paths.iter().map(|p| &**p)
    }

    /// The route a request is labelled with: the matched template, else the fallback's answer.
    pub(super) fn matched_route<'a>(
        &self,
        method: &str,
        path: &str,
        route: Option<&'a str>,
    ) -> Option<&'a str> {
        route.or_else(|| self.route_fallback.as_ref().and_then(|f| f(method, path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_histogram_must_have_the_http_labels() {
        let registry = Registry::new();
        let err = HttpServerConfig::new()
            .duration_histogram(registry.histogram(&catalog::RAG_RETRIEVAL_LATENCY_SECONDS))
            .unwrap_err();
        assert!(
            err.to_string().contains("rag_retrieval_latency_seconds"),
            "{err}"
        );
    }
}
