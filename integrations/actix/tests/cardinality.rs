//! The shared `cardinality` suite (in the axum crate's `tests/shared/cardinality.rs`) against actix-web.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../axum/tests/shared/support.rs"]
mod support;

#[path = "../../axum/tests/shared/cardinality.rs"]
mod cardinality;

mod app;

use app::start_server;
