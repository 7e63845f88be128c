//! [`ResponseFuture`]: runs the handler inside the server span, turns a panic into a 500, and
//! hands the recording to the response body.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

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

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

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
                Ok(poll) => poll.map_ok(|res| res.map(|b| ResponseBody::new(b, None))),
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
                Poll::Ready(Ok(response.map(|b| ResponseBody::new(b, None))))
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
                let request = if response_has_body(request.method_label(), status)
                    && !http_body::Body::is_end_stream(response.body())
                {
                    Some(request)
                } else {
                    request.finish();
                    None
                };
                Poll::Ready(Ok(response.map(|b| ResponseBody::new(b, request))))
            }
            Ok(Poll::Ready(Err(error))) => {
                request.fail(ERROR_OTHER);
                Poll::Ready(Err(error))
            }
            Err(_panic) => {
                request.fail(ERROR_PANIC);
                let mut response = Response::new(ResponseBody::empty());
                *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                Poll::Ready(Ok(response))
            }
        }
    }
}
