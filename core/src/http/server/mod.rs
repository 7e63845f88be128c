//! Server-side HTTP recording shared by the framework integrations (`unitel-axum`,
//! `unitel-actix`): one implementation, so both frameworks record the same families with the
//! same label values and the same span attributes for the same request.
//!
//! An integration builds one [`HttpServerRecorder`] from an [`HttpServerConfig`], calls
//! [`HttpServerRecorder::start`] when a request arrives and keeps the returned
//! [`ServerRequest`] until the last byte of the response body is produced:
//!
//! ```
//! use unitel::http::server::{HttpServerConfig, HttpServerRecorder, RequestParts};
//!
//! let registry = unitel::Registry::new();
//! let recorder = HttpServerRecorder::new(HttpServerConfig::new().registry(registry.clone()));
//! let headers = http::HeaderMap::new();
//!
//! let mut request = recorder.start(&RequestParts {
//!     method: "GET",
//!     route: Some("/api/items/{id}"),
//!     path: "/api/items/7",
//!     scheme: None,
//!     version: http::Version::HTTP_11,
//!     headers: &headers,
//! });
//! // ... the handler is polled inside `request.enter()` ...
//! request.response_started(200);
//! // ... the body is sent ...
//! request.finish();
//!
//! let text = unitel::prometheus::render_registry(&registry);
//! assert!(text.contains(
//!     r#"http_requests_total{method="GET",route="/api/items/{id}",status="200"} 1"#
//! ));
//! assert!(text.contains(r#"http_requests_in_flight{method="GET",route="/api/items/{id}"} 0"#));
//! ```
//!
//! A [`ServerRequest`] dropped before [`finish`](ServerRequest::finish) (the client went away,
//! the future was cancelled, the body was dropped half-sent) records the request once, with
//! status label [`CANCELLED_STATUS`] and `error.type="cancelled"` on its span, so the in-flight
//! gauge never leaks.

mod body;
mod config;
#[cfg(feature = "otel")]
mod propagation;
mod recorder;
mod request;
mod span;

pub use super::status_label;
pub use body::{protocol_version, request_body_failed, response_has_body, watch_request_body};
pub use config::{HttpServerConfig, HttpServerConfigError, RouteFallback, UNMATCHED_ROUTE};
pub use recorder::{HttpServerRecorder, MAX_CACHED_ROUTES};
pub use request::{
    CANCELLED_STATUS, ERROR_CANCELLED, ERROR_OTHER, ERROR_PANIC, RequestHeaders, RequestParts,
    RequestScope, ServerRequest,
};
