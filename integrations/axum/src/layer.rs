//! [`HttpMetricsLayer`]: configuration only; the work happens in [`HttpMetrics`].

use tower_layer::Layer;
use unitel::http::server::{HttpServerConfig, HttpServerRecorder};

use crate::HttpMetrics;

/// A tower [`Layer`] recording HTTP server metrics and spans for every request.
///
/// ```
/// use axum::{Router, routing::get};
/// use unitel_axum::{HttpMetricsLayer, HttpServerConfig};
///
/// let app: Router = Router::new()
///     .route("/api/items/{id}", get(|| async { "item" }))
///     .layer(HttpMetricsLayer::with_config(
///         HttpServerConfig::new().excluded_path("/health"),
///     ));
/// ```
#[derive(Clone, Debug)]
pub struct HttpMetricsLayer {
    recorder: HttpServerRecorder,
}

impl Default for HttpMetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpMetricsLayer {
    /// Records into the process-wide registry with the default [`HttpServerConfig`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_config(HttpServerConfig::new())
    }

    /// Records with these settings.
    #[must_use]
    pub fn with_config(config: HttpServerConfig) -> Self {
        Self {
            recorder: HttpServerRecorder::new(config),
        }
    }

    /// The recorder this layer's services share.
    #[must_use]
    pub fn recorder(&self) -> &HttpServerRecorder {
        &self.recorder
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics::new(inner, self.recorder.clone())
    }
}
