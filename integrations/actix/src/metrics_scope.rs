//! `/metrics` on the application itself.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, Resource, web};
use http_body_util::BodyExt as _;
use unitel::Registry;
use unitel::prometheus::MetricsAuth;

/// A resource serving the exposition of the process-wide registry at the configured metrics
/// path (`UNITEL_METRICS_PATH`, default `/metrics`), answering 401 without the bearer token
/// when `UNITEL_METRICS_TOKEN` is set. Register it with `App::service`.
///
/// ```
/// let app = actix_web::App::new().service(unitel_actix::metrics_scope());
/// # drop(app);
/// ```
#[must_use]
pub fn metrics_scope() -> Resource {
    resource(unitel::registry().clone(), None)
}

/// Like [`metrics_scope`], for another registry and an explicit token check.
///
/// ```
/// use unitel::prometheus::MetricsAuth;
///
/// let app = actix_web::App::new().service(unitel_actix::metrics_scope_for(
///     unitel::Registry::new(),
///     MetricsAuth::new(Some("s3cret".to_owned())),
/// ));
/// # drop(app);
/// ```
#[must_use]
pub fn metrics_scope_for(registry: Registry, auth: MetricsAuth) -> Resource {
    resource(registry, Some(auth))
}

fn resource(registry: Registry, auth: Option<MetricsAuth>) -> Resource {
    let path = unitel::Telemetry::global().metrics_path().to_string();
    let served = path.clone();
    web::resource(path).route(web::get().to(move |req: HttpRequest| {
        let registry = registry.clone();
        let auth = auth
            .clone()
            .unwrap_or_else(|| unitel::Telemetry::global().metrics_auth());
        let served = served.clone();
        async move { respond(&req, &served, &auth, &registry).await }
    }))
}

/// Runs the core's endpoint logic (`unitel::prometheus::respond`) on an actix request.
async fn respond(
    req: &HttpRequest,
    path: &str,
    auth: &MetricsAuth,
    registry: &Registry,
) -> HttpResponse {
    let method = if req.method() == Method::HEAD {
        http::Method::HEAD
    } else {
        http::Method::GET
    };
    let mut builder = http::Request::builder().method(method).uri(path);
    if let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        builder = builder.header(http::header::AUTHORIZATION, value.as_bytes());
    }
    let Ok(request) = builder.body(()) else {
        return HttpResponse::BadRequest().finish();
    };
    let (parts, body) = unitel::prometheus::respond(&request, path, auth, registry).into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let status =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            response.insert_header((name, value));
        }
    }
    response.body(bytes)
}
