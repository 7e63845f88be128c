//! Exporters: Prometheus text exposition and OTLP (metrics and spans).

pub(crate) mod prometheus;

#[cfg(feature = "otel")]
pub(crate) mod otlp;
#[cfg(feature = "otel")]
pub(crate) mod otlp_spans;
