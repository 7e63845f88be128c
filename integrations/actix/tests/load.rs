//! The shared `load` suite (in the axum crate's `tests/shared/load.rs`) against actix-web.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../axum/tests/shared/support.rs"]
mod support;

#[path = "../../axum/tests/shared/load.rs"]
mod load;

mod app;

use app::start_server;
