//! [`HttpMetrics`]: starts the recording of each request and hands it to the future.

use std::task::{Context, Poll};

use axum::BoxError;
use axum::body::{Body, Bytes};
use axum::extract::MatchedPath;
use http::{Request, Response};
use tower_service::Service;
use unitel::http::server::{HttpServerRecorder, RequestParts};

use crate::{RequestBody, ResponseFuture};

/// The service [`HttpMetricsLayer`](crate::HttpMetricsLayer) wraps each route in.
#[derive(Clone, Debug)]
pub struct HttpMetrics<S> {
    inner: S,
    recorder: HttpServerRecorder,
}

impl<S> HttpMetrics<S> {
    /// Wraps `inner`, recording with `recorder`.
    pub fn new(inner: S, recorder: HttpServerRecorder) -> Self {
        Self { inner, recorder }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// The request body the inner service gets: the body itself when it is empty (no allocation;
/// `Body::new` of a `Body` does not box again), else wrapped in a [`RequestBody`] so a body
/// that fails to arrive marks the request as cancelled.
fn watched_body<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    if body.is_end_stream() {
        Body::new(body)
    } else {
        Body::new(RequestBody::new(body))
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpMetrics<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>>,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if self.recorder.is_excluded(req.uri().path()) {
            return ResponseFuture::untracked(self.inner.call(req.map(watched_body)));
        }
        let request = self.recorder.start(&RequestParts {
            method: req.method().as_str(),
            route: req
                .extensions()
                .get::<MatchedPath>()
                .map(MatchedPath::as_str),
            path: req.uri().path(),
            scheme: req.uri().scheme_str(),
            version: req.version(),
            headers: req.headers(),
        });
        let future = {
            let _entered = request.enter();
            self.inner.call(req.map(watched_body))
        };
        ResponseFuture::tracked(future, request)
    }
}
