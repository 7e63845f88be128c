//! Exporters: Prometheus text exposition, OTLP (metrics and spans), and the export thread they
//! run on.

pub(crate) mod prometheus;
pub(crate) mod runtime;

#[cfg(feature = "otel")]
pub(crate) mod otlp;
