//! [`ResponseBody`]: ends the recording when the last chunk is produced, or as cancelled when
//! dropped before.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use pin_project_lite::pin_project;
use unitel::http::server::{ERROR_OTHER, ERROR_PANIC, ServerRequest};

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
            let _entered = this.request.as_ref().map(|r| r.span().enter());
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
