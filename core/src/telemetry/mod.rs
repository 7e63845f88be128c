//! The installed state: [`Telemetry`] and the process-wide default.

mod extensions;
mod global;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::config::DEFAULT_METRICS_PATH;
use crate::export::prometheus::MetricsAuth;
use crate::registry::Registry;

pub(crate) use extensions::Extensions;

/// The installed state: everything unitel's recorders read, in one value.
///
/// A `Telemetry` owns a [`Registry`], the switches [`init`](crate::init()) sets (metrics on or
/// off, the metrics endpoint's path and token), the tracer and sampling policy of the trace
/// pipeline, and the state of each domain (the LLM price table and content-capture hook, the
/// GenAI handles). It is cheap to clone: clones share it.
///
/// [`init`](crate::init()) configures the process-wide default, [`Telemetry::global`], and
/// returns a guard that derefs to it. Every recorder takes the `Telemetry` it is given and falls
/// back to that default, the way `tracing` falls back to its global dispatcher. Tests and
/// libraries build their own with [`Telemetry::new`] and record into it without touching the
/// process-wide state:
///
/// ```
/// use unitel::{Telemetry, catalog};
///
/// let a = Telemetry::new();
/// let b = Telemetry::new();
/// a.registry().counter(&catalog::RAG_CACHE_HITS_TOTAL).with_labels(&["answers"]).inc();
/// assert!(unitel::prometheus::render_registry(a.registry()).contains("cache=\"answers\""));
/// assert!(!unitel::prometheus::render_registry(b.registry()).contains("cache=\"answers\""));
/// ```
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    /// Whether `init` configured this instance (it does so once).
    initialized: AtomicBool,
    metrics_enabled: AtomicBool,
    endpoint: RwLock<Endpoint>,
    #[cfg(feature = "otel")]
    tracer: std::sync::OnceLock<opentelemetry_sdk::trace::Tracer>,
    #[cfg(feature = "otel")]
    sampling: std::sync::OnceLock<crate::trace::SamplingPolicy>,
    extensions: Extensions,
}

/// The metrics endpoint as configured: where it is served and who may read it.
#[derive(Clone)]
struct Endpoint {
    path: Arc<str>,
    auth: MetricsAuth,
    listener: Option<SocketAddr>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoint = self.endpoint();
        f.debug_struct("Telemetry")
            .field("metrics_enabled", &self.metrics_enabled())
            .field("metrics_path", &endpoint.path)
            .field("metrics_auth", &endpoint.auth)
            .field("prometheus_listener", &endpoint.listener)
            .finish_non_exhaustive()
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// A local instance: a new [`Registry`] with every catalog family, metrics on, the default
    /// metrics path, no token, no trace pipeline.
    #[must_use]
    pub fn new() -> Self {
        Self::with_registry(Registry::new())
    }

    /// A local instance recording into `registry`.
    ///
    /// ```
    /// let registry = unitel::Registry::new();
    /// let telemetry = unitel::Telemetry::with_registry(registry.clone());
    /// telemetry.registry().increment("rag_queries_total", 1.0, &[("pipeline", "standard")]);
    /// assert!(unitel::prometheus::render_registry(&registry).contains("rag_queries_total{pipeline=\"standard\"} 1"));
    /// ```
    #[must_use]
    pub fn with_registry(registry: Registry) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                initialized: AtomicBool::new(false),
                metrics_enabled: AtomicBool::new(true),
                endpoint: RwLock::new(Endpoint {
                    path: Arc::from(DEFAULT_METRICS_PATH),
                    auth: MetricsAuth::default(),
                    listener: None,
                }),
                #[cfg(feature = "otel")]
                tracer: std::sync::OnceLock::new(),
                #[cfg(feature = "otel")]
                sampling: std::sync::OnceLock::new(),
                extensions: Extensions::default(),
            }),
        }
    }

    /// The process-wide default that [`init`](crate::init()) configures and every recorder
    /// falls back to. It exists from the first use, before `init` too (records made then are
    /// kept and served once `init` runs).
    #[must_use]
    pub fn global() -> &'static Telemetry {
        global::get()
    }

    /// The metric families this instance records into.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Whether the recorders record metrics (`ENABLE_METRICS`; default true). One relaxed load.
    #[must_use]
    pub fn metrics_enabled(&self) -> bool {
        self.inner.metrics_enabled.load(Ordering::Relaxed)
    }

    /// Turns metric recording of the HTTP, client and database recorders on or off.
    pub fn set_metrics_enabled(&self, on: bool) {
        self.inner.metrics_enabled.store(on, Ordering::Relaxed);
    }

    fn endpoint(&self) -> Endpoint {
        self.inner
            .endpoint
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update_endpoint(&self, update: impl FnOnce(&mut Endpoint)) {
        update(
            &mut self
                .inner
                .endpoint
                .write()
                .unwrap_or_else(PoisonError::into_inner),
        );
    }

    /// Path of the metrics endpoint (`METRICS_PATH`; `/metrics` by default).
    #[must_use]
    pub fn metrics_path(&self) -> Arc<str> {
        self.endpoint().path
    }

    /// Serves the metrics endpoint at `path` from now on.
    pub fn set_metrics_path(&self, path: &str) {
        self.update_endpoint(|e| e.path = Arc::from(path));
    }

    /// Who may read the metrics endpoint (`UNITEL_METRICS_TOKEN`).
    #[must_use]
    pub fn metrics_auth(&self) -> MetricsAuth {
        self.endpoint().auth
    }

    /// Requires `auth` on the metrics endpoint from now on.
    pub fn set_metrics_auth(&self, auth: MetricsAuth) {
        self.update_endpoint(|e| e.auth = auth);
    }

    /// Address of the standalone `/metrics` listener [`init`](crate::init()) started, if any.
    #[must_use]
    pub fn prometheus_listener(&self) -> Option<SocketAddr> {
        self.endpoint().listener
    }

    pub(crate) fn set_prometheus_listener(&self, addr: SocketAddr) {
        self.update_endpoint(|e| e.listener = Some(addr));
    }

    /// Builds the response of this instance's metrics endpoint for `req`: its path, its token,
    /// its registry (what a framework's `/metrics` handler returns).
    ///
    /// ```
    /// use unitel::prometheus::MetricsAuth;
    ///
    /// let telemetry = unitel::Telemetry::new();
    /// telemetry.set_metrics_auth(MetricsAuth::new(Some("s3cret".to_owned())));
    /// let get = |auth: Option<&str>| {
    ///     let mut req = http::Request::get("/metrics");
    ///     if let Some(auth) = auth {
    ///         req = req.header("authorization", auth);
    ///     }
    ///     telemetry.metrics_response(&req.body(()).unwrap()).status()
    /// };
    /// assert_eq!(get(None), http::StatusCode::UNAUTHORIZED);
    /// assert_eq!(get(Some("Bearer s3cret")), http::StatusCode::OK);
    /// ```
    #[must_use]
    pub fn metrics_response<B>(
        &self,
        req: &http::Request<B>,
    ) -> http::Response<http_body_util::Full<bytes::Bytes>> {
        let endpoint = self.endpoint();
        crate::export::prometheus::respond(req, &endpoint.path, &endpoint.auth, self.registry())
    }

    /// The tracer of the trace pipeline [`init`](crate::init()) built, if any.
    #[cfg(feature = "otel")]
    pub(crate) fn tracer(&self) -> Option<&opentelemetry_sdk::trace::Tracer> {
        self.inner.tracer.get()
    }

    #[cfg(feature = "otel")]
    pub(crate) fn set_tracer(&self, tracer: opentelemetry_sdk::trace::Tracer) {
        let _ = self.inner.tracer.set(tracer);
    }

    /// The head-sampling policy of the trace pipeline, if any.
    #[cfg(feature = "otel")]
    pub(crate) fn sampling(&self) -> Option<&crate::trace::SamplingPolicy> {
        self.inner.sampling.get()
    }

    #[cfg(feature = "otel")]
    pub(crate) fn set_sampling(&self, policy: crate::trace::SamplingPolicy) {
        let _ = self.inner.sampling.set(policy);
    }

    /// Marks this instance as configured by `init`; `false` if it was already.
    pub(crate) fn claim_init(&self) -> bool {
        !self.inner.initialized.swap(true, Ordering::SeqCst)
    }

    /// Undoes [`claim_init`](Self::claim_init) after a failed `init`.
    pub(crate) fn release_init(&self) {
        self.inner.initialized.store(false, Ordering::SeqCst);
    }

    /// The state a domain keeps in this instance (created on first use).
    pub(crate) fn extensions(&self) -> &Extensions {
        &self.inner.extensions
    }

    /// Whether `self` and `other` are the same instance.
    #[must_use]
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
