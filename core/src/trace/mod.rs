//! Traces: span helpers, W3C propagation, head sampling and the `tracing` subscriber.
//!
//! * span helpers (re-exported here): `start_span`, `add_span_event`,
//!   `set_span_attribute` and `record_error`, and [`SpanParent`].
//! * [`propagation`]: `traceparent` / `tracestate` / `baggage` in and out of header maps.
//! * `sampler` (internal): the head-sampling decision the HTTP recorder takes before a server
//!   span exists, and the SDK sampler that honours it.
//! * `subscriber` (internal): the global `tracing` subscriber [`init`](crate::init()) installs.
//!
//! This layer sits above the exporters and below the domains: it knows the registry (to count
//! malformed headers) and the span exporter, never a recorder.

pub mod propagation;
#[cfg(feature = "otel")]
mod sampler;
mod span;
pub(crate) mod subscriber;

#[cfg(feature = "otel")]
pub(crate) use sampler::{Decision, SamplingPolicy, UnitelSampler, decide, with_decision};
pub use span::*;
