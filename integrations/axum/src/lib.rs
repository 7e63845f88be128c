//! # unitel-axum
//!
//! RED metrics and OpenTelemetry server spans for axum in one line, recorded by the same core
//! implementation as `unitel-actix` ([`unitel::http::server`]), so both frameworks give the same
//! families, label values and span attributes for the same request.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let _guard = unitel::init(unitel::TelemetryConfig::from_env()?)?;
//! let app = Router::new()
//!     .route("/api/items/{id}", get(|| async { "item" }))
//!     .merge(unitel_axum::metrics_route())
//!     .layer(unitel_axum::HttpMetricsLayer::new());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! ## What is recorded
//! - `http_requests_total`, `http_request_duration_seconds` (from the request's arrival to the
//!   end of its response body) and `http_requests_in_flight`, labelled with the method
//!   (`_OTHER` outside the standard set), the route template from [`axum::extract::MatchedPath`]
//!   (nested routers included; `unmatched` for 404s and fallbacks, never the raw path) and the
//!   status code.
//! - A server span `{method} {route}` (`{method}` alone when no route matched, `HTTP` for a
//!   method outside the standard set) with the OpenTelemetry HTTP attributes
//!   (`http.request.method`, `http.route`, `url.path`, `url.scheme`,
//!   `http.response.status_code`, `server.address`/`server.port` from the configuration,
//!   `network.protocol.version`, `user_agent.original`, `error.type`; never the query string),
//!   child of the incoming `traceparent`/`baggage` (a malformed header starts a new root).
//!   With `unitel::init`'s trace pipeline it is an OpenTelemetry span started directly (no
//!   `tracing` span, so no `tracing` string copies per request), current as the OpenTelemetry
//!   context while the handler and the body are polled: `tracing` spans the handler opens are
//!   its children, its log events become the span's events, and `unitel::trace::set_span_attribute`
//!   and friends reach it. `tracing::Span::current()` inside a handler is therefore not the
//!   server span: take the trace context from `opentelemetry::Context::current()` (or let
//!   `unitel::trace::propagation::inject_context` write the outgoing headers). Without that pipeline it
//!   is a `tracing` span for the subscriber the application installed.
//! - A panicking handler is answered with 500 and recorded as such (`error.type="panic"`); a
//!   client that disconnects mid-request or mid-body is recorded once, with status `499` and
//!   `error.type="cancelled"`: the in-flight gauge never leaks.
//!
//! Apply the layer with [`Router::layer`](axum::Router::layer) after adding the routes: axum
//! then wraps every route and the fallback, and [`MatchedPath`](axum::extract::MatchedPath) is
//! known when the request arrives.
//!
//! Options (excluded paths, custom buckets, route fallback, `traceparent` response header,
//! `server.address`/`server.port`) are the core [`HttpServerConfig`], shared with actix.

mod body;
mod future;
mod layer;
mod metrics_route;
mod service;

pub use body::{RequestBody, ResponseBody};
pub use future::{ResponseFuture, SMALL_BODY_BYTES};
pub use layer::HttpMetricsLayer;
pub use metrics_route::{metrics_route, metrics_route_for};
pub use service::HttpMetrics;
pub use unitel::http::server::{HttpServerConfig, HttpServerConfigError};
