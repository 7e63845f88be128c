//! # unitel-bench
//!
//! Benchmarks for unitel, side by side with its peers. Unpublished; nothing in the library
//! crates depends on it.
//!
//! * `cargo bench -p unitel-bench` — criterion micro-benchmarks (`benches/`): recording through
//!   typed handles, label lookups, the convenience functions, new series and the overflow path,
//!   `render()`, spans; the same record operations through `opentelemetry_sdk`, `metrics` +
//!   `metrics-exporter-prometheus`, `prometheus-client` and `prometheus`.
//! * `bench-server --framework axum|actix --mode MODE --bind ADDR` — the example routes served
//!   bare, with unitel, or with a peer's instrumentation ([`apps`]).
//! * `overhead` — starts each mode in turn as a child process and drives load against it
//!   ([`driver`]); `--scale` prints the scale tables ([`scale`]); `--smoke` is the CI check.
//!
//! `BENCHMARKS.md` at the repository root has the commands and the latest figures.

pub mod apps;
pub mod cpu;
pub mod driver;
pub mod load;
pub mod mode;
pub mod otel_contrib;
pub mod peers;
pub mod pipeline;
pub mod report;
pub mod scale;
pub mod wrk;

pub use mode::{Framework, Mode};
