//! Attribute macros for `unitel` (`#[track_metrics]`, `#[trace_operation]`, `#[track_llm_usage]`, …).
//!
//! Not implemented yet: this crate will hold the macros of the instrumentation-API issue. It exports
//! nothing today, so nothing can be mistaken for working instrumentation.
