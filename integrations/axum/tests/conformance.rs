//! The shared `conformance` suite (`shared/conformance.rs`) against axum.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "shared/support.rs"]
mod support;

#[path = "shared/conformance.rs"]
mod conformance;

mod app;

use app::start_server;
