//! The OpenTelemetry SDK set up the way the OpenTelemetry contrib instrumentation crates
//! document it: a global tracer provider (always-on sampler, the SDK's batch span processor,
//! OTLP/gRPC export) and a global meter provider read by the `opentelemetry-prometheus`
//! exporter, whose registry `/metrics` serves.

use opentelemetry::global;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

/// The installed providers. Keep it alive while the server runs.
#[derive(Debug)]
pub struct OtelContrib {
    tracer: SdkTracerProvider,
    meter: SdkMeterProvider,
    registry: prometheus::Registry,
    // The tonic channel's worker task lives here; the SDK's batch thread sends through it.
    _export_runtime: tokio::runtime::Runtime,
}

impl OtelContrib {
    /// Builds both providers, exporting spans to the OTLP/gRPC `endpoint`, and installs them
    /// (and the W3C trace-context propagator) globally.
    ///
    /// # Errors
    /// A message saying which part could not be built.
    pub fn install(endpoint: &str) -> Result<Self, String> {
        let export_runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otel-contrib-export")
            .enable_all()
            .build()
            .map_err(|e| format!("export runtime: {e}"))?;
        let exporter = {
            let _entered = export_runtime.enter();
            use opentelemetry_otlp::WithExportConfig as _;
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
                .map_err(|e| format!("OTLP span exporter for {endpoint}: {e}"))?
        };
        let tracer = SdkTracerProvider::builder()
            .with_sampler(Sampler::AlwaysOn)
            .with_batch_exporter(exporter)
            .build();
        global::set_tracer_provider(tracer.clone());
        global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );

        let registry = prometheus::Registry::new();
        let reader = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .build()
            .map_err(|e| format!("opentelemetry-prometheus exporter: {e}"))?;
        let meter = SdkMeterProvider::builder().with_reader(reader).build();
        global::set_meter_provider(meter.clone());
        Ok(Self {
            tracer,
            meter,
            registry,
            _export_runtime: export_runtime,
        })
    }

    /// The Prometheus text exposition of the meter provider's metrics.
    #[must_use]
    pub fn render(&self) -> String {
        use prometheus::Encoder as _;
        let mut out = Vec::new();
        if prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// Flushes queued spans.
    pub fn flush(&self) {
        let _ = self.tracer.force_flush();
        let _ = self.meter.force_flush();
    }
}
