//! [`ResponseBody`]: ends the recording when the last chunk is produced, or as cancelled when
//! dropped before. [`RequestPayload`]: notices a request body that fails to arrive (the client
//! went away mid-upload), so that request is recorded as cancelled too.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use bytes::Bytes;
use futures_core::Stream;
use pin_project_lite::pin_project;
use unitel::http::server::{ERROR_OTHER, ERROR_PANIC, ServerRequest, request_body_failed};

pin_project! {
    /// Response body of [`HttpMetricsMiddleware`](crate::HttpMetricsMiddleware).
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        request: Option<ServerRequest>,
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, request: Option<ServerRequest>) -> Self {
        Self { inner, request }
    }
}

impl<B: MessageBody> MessageBody for ResponseBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let polled = {
            let _entered = this.request.as_ref().map(ServerRequest::enter);
            let inner = this.inner;
            catch_unwind(AssertUnwindSafe(|| inner.poll_next(cx)))
        };
        let polled = match polled {
            Ok(polled) => polled,
            Err(panic) => {
                if let Some(request) = this.request.take() {
                    request.fail(ERROR_PANIC);
                }
                resume_unwind(panic)
            }
        };
        match &polled {
            Poll::Ready(None) => {
                if let Some(request) = this.request.take() {
                    request.finish();
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(request) = this.request.take() {
                    request.fail(ERROR_OTHER);
                }
            }
            Poll::Pending | Poll::Ready(Some(Ok(_))) => {}
        }
        polled
    }
}

pin_project! {
    /// Request payload of [`HttpMetricsMiddleware`](crate::HttpMetricsMiddleware): the
    /// request's own payload, unchanged, except that a transport error while reading it (the
    /// client disconnected mid-upload) marks the request as cancelled: it is recorded with
    /// status `499` and `error.type="cancelled"` whatever the handler answers (nobody receives
    /// that answer), instead of as the extractor's 400. Put in place only for requests that
    /// carry a body; handlers read it as any payload.
    pub struct RequestPayload {
        #[pin]
        inner: Payload,
    }
}

impl std::fmt::Debug for RequestPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestPayload").finish_non_exhaustive()
    }
}

impl RequestPayload {
    pub(crate) fn new(inner: Payload) -> Self {
        Self { inner }
    }
}

impl Stream for RequestPayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.project().inner.poll_next(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            request_body_failed();
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
