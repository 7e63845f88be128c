//! [`ResponseFuture`]: runs the handler inside the server span, turns a panic into a 500, and
//! hands the recording to the response body.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::BoxError;
use axum::body::{Body, Bytes};
use http::Response;
use pin_project_lite::pin_project;
use unitel::http::server::{
    ERROR_OTHER, ERROR_PANIC, ServerRequest, response_has_body, watch_request_body,
};

use crate::ResponseBody;

pin_project! {
    /// Response future of [`HttpMetrics`](crate::HttpMetrics).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        request: Option<ServerRequest>,
        // The request body failed to arrive: the client went away.
        body_failed: bool,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn tracked(inner: F, request: ServerRequest) -> Self {
        Self {
            inner,
            request: Some(request),
            body_failed: false,
        }
    }

    pub(crate) fn untracked(inner: F) -> Self {
        Self {
            inner,
            request: None,
            body_failed: false,
        }
    }
}

/// Largest response body of known size that is recorded as complete when the response is
/// handed to the server: it is written in one go, and not wrapping it saves a boxed body per
/// request. Longer or streamed bodies are recorded when their last frame is produced (or as
/// cancelled when dropped before).
pub const SMALL_BODY_BYTES: u64 = 64 * 1024;

fn boxed<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    Body::new(body)
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

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
                Ok(poll) => poll.map_ok(|res| res.map(boxed)),
                Err(panic) => resume_unwind(panic),
            };
        };
        match polled {
            Ok(Poll::Pending) => {
                *this.request = Some(request);
                Poll::Pending
            }
            Ok(Poll::Ready(Ok(response))) if *this.body_failed => {
                // Nobody receives this answer: the request is recorded as cancelled (499).
                drop(request);
                Poll::Ready(Ok(response.map(boxed)))
            }
            Ok(Poll::Ready(Ok(mut response))) => {
                let status = response.status().as_u16();
                request.response_started(status);
                if let Some(value) = request
                    .traceparent_header()
                    .and_then(|v| http::HeaderValue::from_str(&v).ok())
                {
                    response.headers_mut().insert("traceparent", value);
                }
                let body = response.body();
                let small = http_body::Body::size_hint(body)
                    .exact()
                    .is_some_and(|n| n <= SMALL_BODY_BYTES);
                if response_has_body(request.method_label(), status)
                    && !http_body::Body::is_end_stream(body)
                    && !small
                {
                    return Poll::Ready(Ok(
                        response.map(|b| Body::new(ResponseBody::new(b, Some(request))))
                    ));
                }
                request.finish();
                Poll::Ready(Ok(response.map(boxed)))
            }
            Ok(Poll::Ready(Err(error))) => {
                request.fail(ERROR_OTHER);
                Poll::Ready(Err(error))
            }
            Err(_panic) => {
                request.fail(ERROR_PANIC);
                let mut response = Response::new(Body::empty());
                *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                Poll::Ready(Ok(response))
            }
        }
    }
}
