//! OTLP export over gRPC or HTTP/protobuf, from the export thread.
//!
//! Spans ([`spans`]): a `QueueingSpanProcessor` hands each ended span to a bounded queue
//! without ever blocking; a batch task on the export thread encodes each batch straight into an
//! OTLP request and sends it with a timeout. A full queue drops the span and counts it in
//! `unitel_export_failures_total{signal="traces"}`; a failed batch counts all its spans.
//!
//! Metrics ([`metrics`]): every interval the registry is encoded as a cumulative OTLP request
//! (the same snapshot the Prometheus exposition reads) and pushed; a failed push counts one
//! `unitel_export_failures_total{signal="metrics"}`.
//!
//! Both signals describe the same resource ([`resource`]) and go out through the same
//! transport ([`transport`]): one gRPC channel or HTTP client per signal, built the same way,
//! each request bounded by the configured timeout.

mod metrics;
mod resource;
mod spans;
mod transport;

pub(crate) use metrics::{MetricsPush, start_metrics};
pub(crate) use resource::sdk_resource;
pub(crate) use spans::{SpanPipeline, start_spans};

/// Index of the traces signal in the registry's export failure counters.
const TRACES: usize = 0;
/// Index of the metrics signal in the registry's export failure counters.
const METRICS: usize = 1;
