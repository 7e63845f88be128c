//! The shared `cardinality` suite (`shared/cardinality.rs`) against axum.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "shared/support.rs"]
mod support;

#[path = "shared/cardinality.rs"]
mod cardinality;

mod app;

use app::start_server;
