//! [`ResponseBody`]: ends the recording when the last frame is produced, or as cancelled when
//! dropped before. [`RequestBody`]: notices a request body that fails to arrive (the client
//! went away mid-upload), so that request is recorded as cancelled too.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use unitel::http::server::{ERROR_OTHER, ERROR_PANIC, ServerRequest, request_body_failed};

pin_project! {
    /// Response body of [`HttpMetrics`](crate::HttpMetrics) for a streamed body or one larger
    /// than [`SMALL_BODY_BYTES`](crate::SMALL_BODY_BYTES): the recording ends with its last
    /// frame.
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
            let _entered = this.request.as_ref().map(ServerRequest::enter);
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

pin_project! {
    /// Request body of [`HttpMetrics`](crate::HttpMetrics): the request's own body, unchanged,
    /// except that a transport error while reading it (the client disconnected or reset the
    /// stream mid-upload) marks the request as cancelled: it is recorded with status `499`
    /// and `error.type="cancelled"` whatever the handler answers (nobody receives that
    /// answer), instead of as the handler's 400.
    ///
    /// Handlers and extractors read it as any body; the layer puts it in place:
    ///
    /// ```
    /// use axum::{Router, routing::post};
    ///
    /// let app: Router = Router::new()
    ///     .route("/upload", post(|body: String| async move { body.len().to_string() }))
    ///     .layer(unitel_axum::HttpMetricsLayer::new());
    /// ```
    pub struct RequestBody<B> {
        #[pin]
        inner: B,
    }
}

impl<B> std::fmt::Debug for RequestBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBody").finish_non_exhaustive()
    }
}

impl<B> RequestBody<B> {
    pub(crate) fn new(inner: B) -> Self {
        Self { inner }
    }

    /// The wrapped body.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: Body> Body for RequestBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = self.project().inner.poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            request_body_failed();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
