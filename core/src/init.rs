//! `init`: install the configuration once, get a guard that flushes on shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::{MetricsExporter, TelemetryConfig};
use crate::export::prometheus::MetricsAuth;
use crate::export::runtime::ExportRuntime;
use crate::telemetry::Telemetry;

/// Why [`init`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// `init` was called before in this process.
    #[error("unitel::init was already called in this process; keep the first guard")]
    AlreadyInitialized,
    /// The standalone metrics listener could not bind.
    #[error("cannot serve metrics on {addr} (PROMETHEUS_HOST/PROMETHEUS_PORT): {source}")]
    Listener {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The OTLP exporter could not be built.
    #[error("cannot set up OTLP export to {endpoint} (OTEL_EXPORTER_OTLP_ENDPOINT): {reason}")]
    Exporter {
        /// The endpoint configured.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// The export thread could not start.
    #[error("cannot start unitel's export thread: {0}")]
    Runtime(std::io::Error),
    /// The LLM price table file could not be loaded.
    #[error(transparent)]
    PriceTable(#[from] crate::genai::llm::PriceTableError),
    /// A global `tracing` subscriber is already installed.
    #[error(
        "a global tracing subscriber is already installed ({0}); build the config with \
         `install_subscriber(false)` to keep yours"
    )]
    Subscriber(String),
}

/// Why [`TelemetryGuard::shutdown`] could not flush everything.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShutdownError {
    /// The tracer provider did not shut down cleanly.
    #[error("tracer provider shutdown failed: {0}")]
    Traces(String),
}

/// Keeps telemetry running; flushes spans and pushes metrics one last time on
/// [`shutdown`](Self::shutdown) or drop.
#[must_use = "telemetry stops when the guard is dropped"]
pub struct TelemetryGuard {
    telemetry: Telemetry,
    inner: Option<GuardInner>,
}

impl std::ops::Deref for TelemetryGuard {
    type Target = Telemetry;

    /// The [`Telemetry`] `init` configured (the process-wide default).
    fn deref(&self) -> &Telemetry {
        &self.telemetry
    }
}

struct GuardInner {
    runtime: Option<ExportRuntime>,
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    #[cfg(feature = "otel")]
    spans: Option<crate::export::otlp::SpanPipeline>,
    #[cfg(feature = "otel")]
    metrics: Option<crate::export::otlp::MetricsPush>,
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    timeout: Duration,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("active", &self.inner.is_some())
            .field("telemetry", &self.telemetry)
            .finish()
    }
}

impl TelemetryGuard {
    /// Address of the standalone `/metrics` listener, if the configuration asked for one.
    #[must_use]
    pub fn prometheus_addr(&self) -> Option<SocketAddr> {
        self.telemetry.prometheus_listener()
    }

    /// Exports queued spans now, waiting up to the OTLP timeout. Never panics.
    pub fn force_flush(&self) {
        #[cfg(feature = "otel")]
        if let Some((spans, inner)) = self
            .inner
            .as_ref()
            .and_then(|i| i.spans.as_ref().map(|s| (s, i)))
        {
            spans.flush(inner.timeout);
        }
    }

    /// Flushes pending spans, pushes metrics a last time, and stops background work.
    ///
    /// # Errors
    /// [`ShutdownError`] when the tracer provider reports a failure; telemetry is stopped anyway.
    pub async fn shutdown(mut self) -> Result<(), ShutdownError> {
        let Some(inner) = self.inner.take() else {
            return Ok(());
        };
        #[cfg(feature = "otel")]
        {
            if let Some(spans) = &inner.spans {
                spans.shutdown().await;
            }
            if let Some(metrics) = &inner.metrics {
                metrics.final_push().await;
            }
        }
        inner.finish()
    }
}

impl GuardInner {
    fn finish(mut self) -> Result<(), ShutdownError> {
        #[allow(unused_mut)]
        let mut result = Ok(());
        #[cfg(feature = "otel")]
        if let Some(Err(e)) = self
            .provider
            .take()
            .map(|p| p.shutdown_with_timeout(self.timeout))
        {
            let text = e.to_string();
            if !text.contains("already") {
                result = Err(ShutdownError::Traces(text));
            }
        }
        if let Some(mut rt) = self.runtime.take() {
            rt.stop(Duration::from_secs(2));
        }
        result
    }

    fn finish_blocking(self) {
        #[cfg(feature = "otel")]
        {
            if let Some(spans) = &self.spans {
                spans.flush(self.timeout);
            }
            if let Some(metrics) = &self.metrics {
                metrics.final_push_blocking(self.timeout);
            }
        }
        let _ = self.finish();
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.finish_blocking();
        }
    }
}

/// Installs telemetry for the process: the metric series cap, the optional `/metrics`
/// listener, OTLP export, and the `tracing` subscriber (fmt + OpenTelemetry layers).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let guard = unitel::init(unitel::TelemetryConfig::from_env()?)?;
/// // ... serve ...
/// guard.shutdown().await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`InitError`] when called twice, when the listener cannot bind, when the OTLP exporter
/// cannot be built, or when another global subscriber is installed.
pub fn init(config: TelemetryConfig) -> Result<TelemetryGuard, InitError> {
    let telemetry = Telemetry::global();
    if !telemetry.claim_init() {
        return Err(InitError::AlreadyInitialized);
    }
    let result = init_inner(telemetry, &config);
    if result.is_err() {
        telemetry.release_init();
    }
    result
}

fn init_inner(
    telemetry: &Telemetry,
    config: &TelemetryConfig,
) -> Result<TelemetryGuard, InitError> {
    telemetry.set_metrics_enabled(config.enable_metrics);
    let registry = telemetry.registry();
    registry.set_max_series_per_family(config.max_series_per_family);
    telemetry.set_metrics_auth(MetricsAuth::new(config.metrics_token.clone()));
    telemetry.set_metrics_path(&config.metrics_path);
    let wants_otlp_metrics = config.metrics_exporters().contains(&MetricsExporter::Otlp);
    let wants_otlp_traces = !config.traces_exporters().is_empty();
    crate::genai::llm::install_price_table(telemetry, config.llm_price_file())?;
    let listener = config.prometheus_listener();
    let needs_runtime = listener.is_some()
        || wants_otlp_metrics
        || wants_otlp_traces
        || config.collects_system_metrics();
    let runtime = if needs_runtime {
        Some(ExportRuntime::start().map_err(InitError::Runtime)?)
    } else {
        None
    };

    let mut guard = GuardInner {
        runtime: None,
        #[cfg(feature = "otel")]
        provider: None,
        #[cfg(feature = "otel")]
        spans: None,
        #[cfg(feature = "otel")]
        metrics: None,
        timeout: config.otlp_timeout + Duration::from_secs(1),
    };

    if let (Some(addr), Some(rt)) = (listener, &runtime) {
        let bound = rt
            .run(Duration::from_secs(5), async move {
                tokio::net::TcpListener::bind(addr).await
            })
            .unwrap_or_else(|| Err(std::io::Error::other("the export thread did not answer")))
            .map_err(|source| InitError::Listener { addr, source })?;
        let local = bound.local_addr().unwrap_or(addr);
        rt.handle().spawn(crate::export::prometheus::serve(
            bound,
            config.metrics_path.clone(),
            MetricsAuth::new(config.metrics_token.clone()),
            registry.clone(),
        ));
        telemetry.set_prometheus_listener(local);
    }

    if let (true, Some(rt)) = (config.collects_system_metrics(), &runtime) {
        rt.handle().spawn(crate::system::run_on_export_runtime(
            registry.clone(),
            config.system_metrics_interval(),
        ));
    }

    #[cfg(feature = "otel")]
    {
        let exporter_error = |reason: String| InitError::Exporter {
            endpoint: config.otlp_endpoint().to_owned(),
            reason,
        };
        if let (true, Some(rt)) = (wants_otlp_metrics, &runtime) {
            guard.metrics = Some(
                crate::export::otlp::start_metrics(rt, config, registry).map_err(exporter_error)?,
            );
        }
        if config.enable_tracing {
            use opentelemetry::trace::TracerProvider as _;
            let mut builder = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_resource(crate::export::otlp::sdk_resource(config))
                .with_sampler(crate::trace::UnitelSampler::new(sampler(config.sampler)));
            if let (true, Some(rt)) = (wants_otlp_traces, &runtime) {
                let (processor, pipeline) = crate::export::otlp::start_spans(rt, config, registry)
                    .map_err(exporter_error)?;
                builder = builder.with_span_processor(processor);
                guard.spans = Some(pipeline);
            }
            let provider = builder.build();
            opentelemetry::global::set_tracer_provider(provider.clone());
            opentelemetry::global::set_text_map_propagator(
                opentelemetry::propagation::TextMapCompositePropagator::new(vec![
                    Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
                    Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
                ]),
            );
            let tracer = provider.tracer("unitel");
            telemetry.set_tracer(tracer.clone());
            guard.provider = Some(provider);
            telemetry.set_sampling(crate::trace::SamplingPolicy::new(config.sampler));
            if config.install_subscriber {
                crate::trace::subscriber::install(config, Some(tracer))
                    .map_err(InitError::Subscriber)?;
            }
        } else if config.install_subscriber {
            crate::trace::subscriber::install(config, None).map_err(InitError::Subscriber)?;
        }
    }
    #[cfg(not(feature = "otel"))]
    {
        if config.install_subscriber {
            crate::trace::subscriber::install(config).map_err(InitError::Subscriber)?;
        }
        if wants_otlp_metrics || wants_otlp_traces {
            tracing::warn!(
                target: "unitel::internal",
                "OTLP export was configured but unitel was built without its `otel` feature; \
                 metrics are served in Prometheus format only"
            );
        }
    }
    guard.runtime = runtime;
    Ok(TelemetryGuard {
        telemetry: telemetry.clone(),
        inner: Some(guard),
    })
}

#[cfg(feature = "otel")]
fn sampler(config: crate::config::SamplerConfig) -> opentelemetry_sdk::trace::Sampler {
    use crate::config::SamplerConfig as S;
    use opentelemetry_sdk::trace::Sampler;
    match config {
        S::AlwaysOn => Sampler::AlwaysOn,
        S::AlwaysOff => Sampler::AlwaysOff,
        S::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
        S::ParentBasedRatio(r) if r >= 1.0 => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        S::ParentBasedRatio(r) => Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r))),
        S::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
    }
}
