//! [`ResponseBody`]: ends the recording when the last frame is produced, or as cancelled when
//! dropped before.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use unitel::http::server::{ERROR_OTHER, ERROR_PANIC, ServerRequest};

pin_project! {
    /// Response body of [`HttpMetrics`](crate::HttpMetrics): the handler's body, or an empty
    /// one for the 500 that answers a panic.
    pub struct ResponseBody<B> {
        #[pin]
        inner: Option<B>,
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
        Self {
            inner: Some(inner),
            request,
        }
    }

    pub(crate) fn empty() -> Self {
        Self {
            inner: None,
            request: None,
        }
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        let polled = {
            let _entered = this.request.as_ref().map(|r| r.span().enter());
            catch_unwind(AssertUnwindSafe(|| inner.poll_frame(cx)))
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
            Poll::Pending => {}
            Poll::Ready(None) => {
                if let Some(request) = this.request.take() {
                    request.finish();
                }
            }
            Poll::Ready(Some(Ok(_))) => {
                // Servers stop polling once the body says it has ended (tower-http #687).
                let ended = this
                    .inner
                    .as_ref()
                    .as_pin_ref()
                    .is_none_or(|b| b.is_end_stream());
                if ended && let Some(request) = this.request.take() {
                    request.finish();
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(request) = this.request.take() {
                    request.fail(ERROR_OTHER);
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}
