//! Where telemetry goes: the OTLP transport and the metric and span exporters.

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    /// OTLP over gRPC (default port 4317).
    #[default]
    Grpc,
    /// OTLP over HTTP with protobuf bodies (default port 4318).
    HttpProtobuf,
}

/// Where metrics go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsExporter {
    /// Prometheus text exposition (render, framework routes, optional standalone listener).
    Prometheus,
    /// Periodic OTLP push.
    Otlp,
}

/// Where spans go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracesExporter {
    /// OTLP with a bounded batch processor.
    Otlp,
}
