//! HTTP semantics shared by the server integrations (`unitel-axum`, `unitel-actix`) and the
//! client integration (`unitel-reqwest`): bounded method labels and OpenTelemetry HTTP
//! semantic-convention attributes, written once.

pub mod client;
pub mod server;
mod status;

pub use status::{method_label, method_label_from_str, status_label};
