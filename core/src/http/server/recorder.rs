//! [`HttpServerRecorder`]: the families a server records into and its cache of per-route
//! handles (in-flight gauge, first statuses' counters and histograms).

use std::fmt;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use hashbrown::{Equivalent, HashMap};

use super::config::{HttpServerConfig, UNMATCHED_ROUTE};
use super::request::{RequestParts, ServerRequest};
use super::span::new_span;
use crate::catalog;
use crate::http::status_label;
use crate::registry::{Counter, CounterFamily, Gauge, GaugeFamily, Histogram, HistogramFamily};

/// Routes (method and route label) whose handles are cached. Past it, handles are looked up in
/// the registry per request (which still caps series per family).
pub const MAX_CACHED_ROUTES: usize = 1024;

/// Status codes whose handles are cached per route.
const STATUS_SLOTS: usize = 16;

/// Records HTTP server requests: metrics, the server span and the in-flight gauge. Cheap to
/// clone (clones share their handle cache).
#[derive(Clone, Debug)]
pub struct HttpServerRecorder {
    inner: Arc<RecorderInner>,
}

pub(super) struct RecorderInner {
    pub(super) config: HttpServerConfig,
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
pub(super) struct RouteEntry {
    pub(super) method: &'static str,
    pub(super) route: Arc<str>,
    pub(super) in_flight: Gauge,
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
    /// let recorder = HttpServerRecorder::new(HttpServerConfig::new().registry(registry.clone()));
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
        let method = crate::http::method_label_from_str(parts.method);
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

impl RecorderInner {
    pub(super) fn route_entry(&self, method: &'static str, route: &str) -> Arc<RouteEntry> {
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
    pub(super) fn record(&self, entry: &RouteEntry, status: u16, elapsed: std::time::Duration) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{MetricDescriptor, MetricKind};
    use crate::http::server::ERROR_PANIC;
    use crate::registry::Registry;

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

    fn value(registry: &Registry, d: &MetricDescriptor, labels: &[&str]) -> f64 {
        match d.kind {
            MetricKind::Counter => registry.counter(d).with_labels(labels).value(),
            MetricKind::Gauge => registry.gauge(d).with_labels(labels).value(),
            MetricKind::Histogram => {
                #[allow(clippy::cast_precision_loss)]
                let n = registry.histogram(d).with_labels(labels).snapshot().count() as f64;
                n
            }
        }
    }

    #[test]
    fn each_request_is_recorded_once_whatever_ends_it() {
        let registry = Registry::new();
        let recorder = HttpServerRecorder::new(HttpServerConfig::new().registry(registry.clone()));
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
                .registry(registry.clone())
                .route_fallback(|_, path| (path == "/x").then_some("/fallback")),
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
}
