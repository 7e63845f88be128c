//! The shared `conformance` suite (in the axum crate's `tests/shared/conformance.rs`) against actix-web.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../axum/tests/shared/support.rs"]
mod support;

#[path = "../../axum/tests/shared/conformance.rs"]
mod conformance;

mod app;

use app::start_server;
