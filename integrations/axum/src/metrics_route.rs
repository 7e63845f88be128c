//! `/metrics` on the application's own router.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use unitel::Registry;
use unitel::prometheus::MetricsAuth;

/// A router serving the exposition of the process-wide registry at the configured metrics path
/// (`UNITEL_METRICS_PATH`, default `/metrics`), answering 401 without the bearer token when
/// `UNITEL_METRICS_TOKEN` is set. Merge it into the application's router.
///
/// ```
/// use axum::Router;
///
/// let app: Router = Router::new().merge(unitel_axum::metrics_route());
/// ```
pub fn metrics_route<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    route(unitel::registry().clone(), None)
}

/// Like [`metrics_route`], for another registry and an explicit token check.
///
/// ```
/// use axum::Router;
/// use unitel::prometheus::MetricsAuth;
///
/// let registry = unitel::Registry::new();
/// let app: Router = Router::new().merge(unitel_axum::metrics_route_for(
///     registry,
///     MetricsAuth::new(Some("s3cret".to_owned())),
/// ));
/// ```
pub fn metrics_route_for<S>(registry: Registry, auth: MetricsAuth) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    route(registry, Some(auth))
}

fn route<S>(registry: Registry, auth: Option<MetricsAuth>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let path = unitel::Telemetry::global().metrics_path().to_string();
    let served = path.clone();
    Router::new().route(
        &path,
        get(move |req: Request| {
            let auth = auth
                .clone()
                .unwrap_or_else(|| unitel::Telemetry::global().metrics_auth());
            let response =
                unitel::prometheus::respond(&req, &served, &auth, &registry).map(Body::new);
            async move { Response::into_response(response) }
        }),
    )
}
