//! [`HttpMetrics`] (the actix [`Transform`]) and [`HttpMetricsMiddleware`] (its service).

use std::future::{Future, Ready, ready};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::HttpMessage as _;
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::{StatusCode, Version};
use actix_web::{HttpResponse, ResponseError};
use pin_project_lite::pin_project;
use unitel::http::server::{
    ERROR_PANIC, HttpServerConfig, HttpServerRecorder, RequestHeaders, RequestParts, ServerRequest,
    response_has_body, watch_request_body,
};

use std::rc::Rc;

use crate::route_cache::{RouteAnswer, RouteCache};
use crate::{RequestPayload, ResponseBody};

/// Middleware recording HTTP server metrics and spans for every request; wrap the `App` with it.
///
/// ```
/// use actix_web::{App, web};
/// use unitel_actix::{HttpMetrics, HttpServerConfig};
///
/// let app = App::new()
///     .route("/api/items/{id}", web::get().to(|| async { "item" }))
///     .wrap(HttpMetrics::with_config(
///         HttpServerConfig::new().excluded_path("/health"),
///     ));
/// # drop(app);
/// ```
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    recorder: HttpServerRecorder,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpMetrics {
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

    /// The recorder this middleware uses. `HttpServer` builds one `App` per worker: build the
    /// middleware once outside the factory closure and clone it in, so the workers share one
    /// handle cache.
    #[must_use]
    pub fn recorder(&self) -> &HttpServerRecorder {
        &self.recorder
    }
}

impl<S, B> Transform<S, ServiceRequest> for HttpMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<ResponseBody<B>>;
    type Error = actix_web::Error;
    type Transform = HttpMetricsMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(HttpMetricsMiddleware {
            service,
            recorder: self.recorder.clone(),
            routes: Rc::new(RouteCache::new()),
        }))
    }
}

/// The service [`HttpMetrics`] wraps the application in (one per worker, each with its own
/// bounded tables of path → route template).
#[derive(Debug)]
pub struct HttpMetricsMiddleware<S> {
    service: S,
    recorder: HttpServerRecorder,
    routes: Rc<RouteCache>,
}

/// Request headers of actix's `http` version, read by the core recorder.
struct ActixHeaders<'a>(&'a actix_web::http::header::HeaderMap);

impl RequestHeaders for ActixHeaders<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.0
            .get(name)
            .map(actix_web::http::header::HeaderValue::as_bytes)
    }
}

/// Whether the request comes with a body to read: a payload, and (on HTTP/1.x) a non-zero
/// `Content-Length` or a `Transfer-Encoding`.
fn declares_body(req: &ServiceRequest) -> bool {
    use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
    if matches!(req.parts().1, Payload::None) {
        return false;
    }
    if req.version() >= Version::HTTP_2 {
        return req
            .headers()
            .get(CONTENT_LENGTH)
            .is_none_or(|len| len.as_bytes() != b"0");
    }
    req.headers().contains_key(TRANSFER_ENCODING)
        || req
            .headers()
            .get(CONTENT_LENGTH)
            .is_some_and(|len| len.as_bytes() != b"0")
}

fn http_version(version: Version) -> http::Version {
    match version {
        Version::HTTP_09 => http::Version::HTTP_09,
        Version::HTTP_10 => http::Version::HTTP_10,
        Version::HTTP_2 => http::Version::HTTP_2,
        Version::HTTP_3 => http::Version::HTTP_3,
        _ => http::Version::HTTP_11,
    }
}

impl<S, B> Service<ServiceRequest> for HttpMetricsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<ResponseBody<B>>;
    type Error = actix_web::Error;
    type Future = MiddlewareFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        if self.recorder.is_excluded(req.path()) {
            return MiddlewareFuture {
                inner: self.service.call(req),
                request: None,
                check: None,
                body_failed: false,
            };
        }
        // Only a request with a body pays for watching it (one boxed stream).
        if declares_body(&req) {
            let payload = req.take_payload();
            req.set_payload(Payload::Stream {
                payload: Box::pin(RequestPayload::new(payload)),
            });
        }
        // Before routing, the pattern comes from the resource map (regex captures and a
        // String): remembered per path, predicted per path shape and checked after routing.
        let mut check = None;
        let request = self.routes.with_route(
            req.path(),
            || req.match_pattern(),
            |answer| {
                let parts = RequestParts {
                    method: req.method().as_str(),
                    route: None,
                    path: req.path(),
                    scheme: req.app_config().secure().then_some("https"),
                    version: http_version(req.version()),
                    headers: &ActixHeaders(req.headers()),
                };
                match answer {
                    RouteAnswer::Known(route) => {
                        self.recorder.start(&RequestParts { route, ..parts })
                    }
                    RouteAnswer::Predicted { route, shape } => {
                        check = Some(RouteCheck {
                            routes: Rc::clone(&self.routes),
                            shape,
                        });
                        self.recorder.start_with_predicted_route(&parts, route)
                    }
                }
            },
        );
        let inner = {
            let _entered = request.enter();
            self.service.call(req)
        };
        MiddlewareFuture {
            inner,
            request: Some(request),
            check,
            body_failed: false,
        }
    }
}

/// A route predicted from the path's shape, to check against the route actix matched.
struct RouteCheck {
    routes: Rc<RouteCache>,
    shape: u64,
}

impl RouteCheck {
    /// Gives `request` the route actix matched (the resource's pattern, cheap once routed);
    /// a wrong prediction moves the request and retires the shape.
    fn settle(self, request: &mut ServerRequest, routed: &actix_web::HttpRequest) {
        let route = routed.match_pattern();
        if route.as_deref() != Some(request.route_label()) {
            self.routes.mispredicted(self.shape);
        }
        request.set_route(routed.method().as_str(), routed.path(), route.as_deref());
    }
}

/// The error a panicking handler is answered with: 500 and an empty body, the same response
/// `unitel-axum` gives.
#[derive(Debug)]
pub struct HandlerPanicked;

impl std::fmt::Display for HandlerPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request handler panicked")
    }
}

impl ResponseError for HandlerPanicked {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::InternalServerError().finish()
    }
}

pin_project! {
    /// Response future of [`HttpMetricsMiddleware`]: runs the handler inside the server span,
    /// turns a panic into a 500, and hands the recording to the response body.
    pub struct MiddlewareFuture<F> {
        #[pin]
        inner: F,
        request: Option<ServerRequest>,
        // The route was predicted: check it once routed.
        check: Option<RouteCheck>,
        // The request body failed to arrive: the client went away.
        body_failed: bool,
    }
}

impl<F> std::fmt::Debug for MiddlewareFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiddlewareFuture")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl<F, B> Future for MiddlewareFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<ResponseBody<B>>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (polled, body_failed) = watch_request_body(|| {
            let _entered = this.request.as_ref().map(ServerRequest::enter);
            let inner = this.inner;
            catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
        });
        *this.body_failed |= body_failed;
        let Some(mut request) = this.request.take() else {
            // Excluded path: pass everything through untouched, panics included.
            return match polled {
                Ok(poll) => poll.map_ok(|res| res.map_body(|_, b| ResponseBody::new(b, None))),
                Err(panic) => resume_unwind(panic),
            };
        };
        match polled {
            Ok(Poll::Pending) => {
                *this.request = Some(request);
                Poll::Pending
            }
            Ok(Poll::Ready(result)) if *this.body_failed => {
                // Nobody receives this answer: the request is recorded as cancelled (499).
                drop(request);
                Poll::Ready(result.map(|res| res.map_body(|_, b| ResponseBody::new(b, None))))
            }
            Ok(Poll::Ready(Ok(mut response))) => {
                if let Some(check) = this.check.take() {
                    check.settle(&mut request, response.request());
                }
                let status = response.status().as_u16();
                request.response_started(status);
                if let Some(value) = request
                    .traceparent_header()
                    .and_then(|v| actix_web::http::header::HeaderValue::from_str(&v).ok())
                {
                    response.headers_mut().insert(
                        actix_web::http::header::HeaderName::from_static("traceparent"),
                        value,
                    );
                }
                let empty = matches!(
                    response.response().body().size(),
                    BodySize::None | BodySize::Sized(0)
                );
                let request = if response_has_body(request.method_label(), status) && !empty {
                    Some(request)
                } else {
                    request.finish();
                    None
                };
                Poll::Ready(Ok(
                    response.map_body(|_, body| ResponseBody::new(body, request))
                ))
            }
            Ok(Poll::Ready(Err(error))) => {
                // actix answers an error with its `error_response()`: record that status.
                request.response_started(error.as_response_error().status_code().as_u16());
                request.finish();
                Poll::Ready(Err(error))
            }
            Err(_panic) => {
                request.fail(ERROR_PANIC);
                Poll::Ready(Err(HandlerPanicked.into()))
            }
        }
    }
}
