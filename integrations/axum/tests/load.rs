//! The shared `load` suite (`shared/load.rs`) against axum.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "shared/support.rs"]
mod support;

#[path = "shared/load.rs"]
mod load;

mod app;

use app::start_server;
