//! # unitel-actix
//!
//! RED metrics and OpenTelemetry server spans for actix-web in one line, recorded by the same
//! core implementation as `unitel-axum` ([`unitel::http::server`]), so both frameworks give the
//! same families, label values and span attributes for the same request.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let _guard = unitel::init(unitel::TelemetryConfig::from_env()?)?;
//! HttpServer::new(|| {
//!     App::new()
//!         .route("/api/items/{id}", web::get().to(|| async { "item" }))
//!         .service(unitel_actix::metrics_scope())
//!         .wrap(unitel_actix::HttpMetrics::new())
//! })
//! .bind(("127.0.0.1", 3000))?
//! .run()
//! .await?;
//! # Ok(()) }
//! ```
//!
//! ## What is recorded
//! - `http_requests_total`, `http_request_duration_seconds` (from the request's arrival to the
//!   end of its response body) and `http_requests_in_flight`, labelled with the method
//!   (`_OTHER` outside the standard set), the route template from
//!   [`match_pattern`](actix_web::HttpRequest::match_pattern) (scopes included; `unmatched` for
//!   404s and default services, never the raw path) and the status code. Before routing,
//!   actix resolves a template with regex captures; each worker remembers the templates of up
//!   to 512 recent paths, and predicts the template of a new path from paths of the same shape
//!   (segments with a digit blanked: `/api/items/#`), checked against the route actix matched
//!   once routed: a wrong prediction moves the request to the right route before it is
//!   recorded, and that shape is not predicted again. Both tables are fixed-size: random URLs
//!   never grow them. A predicted request that ends without a response (panic, client gone)
//!   keeps the predicted route and its span has no `http.route`.
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
//!   request whose client goes away before the response is complete is recorded once, with
//!   status `499` and `error.type="cancelled"`: the in-flight gauge never leaks.
//!
//! ## Client disconnects and half-closed connections
//! actix-web keeps serving a connection whose client closed its sending side
//! ([`HttpServer::h1_allow_half_closed`](actix_web::HttpServer::h1_allow_half_closed), default
//! `true`): the handler runs to completion and, if the response could still be written, the
//! request is recorded as completed. With `h1_allow_half_closed(false)` actix drops the handler
//! when the client disconnects, and the request is recorded as cancelled. A disconnect while
//! the body is being written is recorded as cancelled either way.
//!
//! Options (excluded paths, custom buckets, route fallback, `traceparent` response header,
//! `server.address`/`server.port`) are the core [`HttpServerConfig`], shared with axum.

mod body;
mod metrics_scope;
mod middleware;
mod route_cache;

pub use body::{RequestPayload, ResponseBody};
pub use metrics_scope::{metrics_scope, metrics_scope_for};
pub use middleware::{HandlerPanicked, HttpMetrics, HttpMetricsMiddleware, MiddlewareFuture};
pub use unitel::http::server::{HttpServerConfig, HttpServerConfigError};
