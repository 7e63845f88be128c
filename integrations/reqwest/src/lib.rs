//! # unitel-reqwest
//!
//! [`ClientMetricsMiddleware`], a `reqwest_middleware::Middleware` that gives every outgoing
//! request a client span, propagates the trace to the server (`traceparent`, `tracestate`,
//! `baggage`), and counts it in `http_client_requests_total{method, server_address, status}`
//! and `http_client_request_duration_seconds{method, server_address}`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use reqwest_middleware::ClientBuilder;
//! use unitel_reqwest::{ClientMetricsMiddleware, UrlTemplate};
//!
//! let client = ClientBuilder::new(reqwest::Client::new())
//!     .with(ClientMetricsMiddleware::new()) // first: outermost, one record per logical request
//!     // .with(a retry middleware) ...       // anything after it runs inside it
//!     .build();
//!
//! let item = client
//!     .get("http://inventory.internal/items/42")
//!     .with_extension(UrlTemplate::new("/items/{id}")) // span name `GET /items/{id}`
//!     .send()
//!     .await?;
//! # drop(item); Ok(()) }
//! ```
//!
//! ## Placement
//! Add it **first** (`ClientBuilder::with` runs middlewares in the order they are added): a
//! retry middleware added after it runs inside it, so a request retried three times is one
//! span and one count, with the status of the last attempt. Added after a retry middleware it
//! records every attempt instead. Adding it twice records once (the inner one steps aside).
//!
//! ## Labels
//! `status` is the response code, or the `error.type` when no response arrived (`timeout`,
//! `connection_refused`, `connect_error`, `cancelled`, … see
//! [`ClientErrorType`](unitel::http::client::ClientErrorType)). `server_address` is the host
//! of the URL: bounded by the services the application is configured to call; a client that
//! calls arbitrary hosts would hit the family's series cap (then records go to its overflow
//! series) and should not be instrumented with this middleware.
//!
//! The duration runs until the response headers arrive (reading the body is the caller's).

mod middleware;

pub use middleware::{ClientMetricsMiddleware, UrlTemplate, classify_error};
