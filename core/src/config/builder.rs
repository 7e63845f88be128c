//! [`TelemetryConfigBuilder`]: the settings in code, checked by `build`.

use std::net::SocketAddr;
use std::time::Duration;

use super::error::ConfigError;
use super::exporters::{MetricsExporter, OtlpProtocol, TracesExporter};
use super::parse::parse_endpoint;
use super::sampler::SamplerConfig;
use super::settings::{MIN_SYSTEM_METRICS_INTERVAL, TelemetryConfig};

/// Builds a [`TelemetryConfig`] in code; each setter mirrors one environment variable.
#[derive(Debug, Clone)]
#[must_use]
pub struct TelemetryConfigBuilder {
    pub(super) config: TelemetryConfig,
}

impl TelemetryConfigBuilder {
    pub(super) fn new(config: TelemetryConfig) -> Self {
        Self { config }
    }

    /// `OTEL_SERVICE_NAME`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.config.service_name = name.into();
        self
    }
    /// `OTEL_SERVICE_VERSION`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.config.service_version = Some(version.into());
        self
    }
    /// `DEPLOYMENT_ENV` (resource attribute `deployment.environment.name`).
    pub fn deployment_environment(mut self, env: impl Into<String>) -> Self {
        self.config.deployment_environment = env.into();
        self
    }
    /// One `OTEL_RESOURCE_ATTRIBUTES` entry.
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config
            .resource_attributes
            .push((key.into(), value.into()));
        self
    }
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. `http://collector:4317`.
    pub fn otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.config.otlp_endpoint = Some(endpoint.into());
        self
    }
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.config.otlp_protocol = protocol;
        self
    }
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`: the longest one export may take.
    pub fn otlp_timeout(mut self, timeout: Duration) -> Self {
        self.config.otlp_timeout = timeout;
        self
    }
    /// `OTEL_METRICS_EXPORTER` (an empty list is `none`).
    pub fn metrics_exporters(
        mut self,
        exporters: impl IntoIterator<Item = MetricsExporter>,
    ) -> Self {
        self.config.metrics_exporters = exporters.into_iter().collect();
        self
    }
    /// `OTEL_TRACES_EXPORTER` (an empty list is `none`).
    pub fn traces_exporters(mut self, exporters: impl IntoIterator<Item = TracesExporter>) -> Self {
        self.config.traces_exporters = exporters.into_iter().collect();
        self
    }
    /// `PROMETHEUS_HOST` and `PROMETHEUS_PORT`: serve `/metrics` on a listener of its own
    /// (port 0 picks a free port; see `TelemetryGuard::prometheus_addr`).
    pub fn prometheus_listener(mut self, addr: SocketAddr) -> Self {
        self.config.prometheus_listener = Some(addr);
        self
    }
    /// `UNITEL_METRICS_PATH`.
    pub fn metrics_path(mut self, path: impl Into<String>) -> Self {
        self.config.metrics_path = path.into();
        self
    }
    /// `UNITEL_METRICS_TOKEN`: metrics endpoints answer 401 without `Authorization: Bearer <token>`.
    pub fn metrics_token(mut self, token: impl Into<String>) -> Self {
        self.config.metrics_token = Some(token.into()).filter(|t| !t.is_empty());
        self
    }
    /// `ENABLE_METRICS`.
    pub fn enable_metrics(mut self, on: bool) -> Self {
        self.config.enable_metrics = on;
        self
    }
    /// `ENABLE_TRACING`.
    pub fn enable_tracing(mut self, on: bool) -> Self {
        self.config.enable_tracing = on;
        self
    }
    /// `METRICS_SAMPLE_RATE`: parent-based ratio sampling of traces.
    pub fn sample_rate(mut self, ratio: f64) -> Self {
        self.config.sampler = SamplerConfig::ParentBasedRatio(ratio);
        self
    }
    /// `OTEL_TRACES_SAMPLER` / `_ARG`.
    pub fn sampler(mut self, sampler: SamplerConfig) -> Self {
        self.config.sampler = sampler;
        self
    }
    /// `METRICS_EXPORT_INTERVAL_MS`.
    pub fn metrics_export_interval(mut self, interval: Duration) -> Self {
        self.config.metrics_export_interval = interval;
        self
    }
    /// `TRACES_EXPORT_BATCH_SIZE`.
    pub fn traces_batch_size(mut self, size: usize) -> Self {
        self.config.traces_batch_size = size;
        self
    }
    /// `OTEL_BSP_MAX_QUEUE_SIZE`: spans beyond this many waiting are dropped and counted.
    pub fn traces_queue_size(mut self, size: usize) -> Self {
        self.config.traces_queue_size = size;
        self
    }
    /// `OTEL_BSP_SCHEDULE_DELAY`: how long a partial batch waits before it is exported.
    pub fn traces_schedule_delay(mut self, delay: Duration) -> Self {
        self.config.traces_schedule_delay = delay;
        self
    }
    /// `UNITEL_MAX_SERIES_PER_FAMILY`.
    pub fn max_series_per_family(mut self, max: usize) -> Self {
        self.config.max_series_per_family = max;
        self
    }
    /// `RUST_LOG`: the log filter of the installed fmt layer.
    pub fn log_filter(mut self, filter: impl Into<String>) -> Self {
        self.config.log_filter = filter.into();
        self
    }
    /// Whether [`init`](crate::init()) installs the global `tracing` subscriber (default true).
    pub fn install_subscriber(mut self, on: bool) -> Self {
        self.config.install_subscriber = on;
        self
    }
    /// `UNITEL_SYSTEM_METRICS`: refresh the [`system`](crate::system) gauges on the export
    /// thread (default false).
    pub fn system_metrics(mut self, on: bool) -> Self {
        self.config.system_metrics = on;
        self
    }
    /// `UNITEL_SYSTEM_METRICS_INTERVAL_MS`: how often system metrics refresh (default 15 s, at
    /// least 200 ms).
    pub fn system_metrics_interval(mut self, interval: Duration) -> Self {
        self.config.system_metrics_interval = interval;
        self
    }
    /// `UNITEL_LLM_PRICES`: a TOML or JSON [`PriceTable`](crate::genai::llm::PriceTable) file that
    /// [`init`](crate::init()) loads.
    pub fn llm_price_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.config.llm_price_file = Some(path.into());
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting by its environment variable.
    pub fn build(self) -> Result<TelemetryConfig, ConfigError> {
        let c = self.config;
        let ratio_ok = |r: f64| (0.0..=1.0).contains(&r);
        match c.sampler {
            SamplerConfig::TraceIdRatio(r) | SamplerConfig::ParentBasedRatio(r) if !ratio_ok(r) => {
                return Err(ConfigError::new(
                    "METRICS_SAMPLE_RATE",
                    &r.to_string(),
                    "a number between 0 and 1",
                ));
            }
            _ => {}
        }
        if c.service_name.is_empty() {
            return Err(ConfigError::new(
                "OTEL_SERVICE_NAME",
                "",
                "a non-empty service name",
            ));
        }
        if let Some(e) = &c.otlp_endpoint {
            parse_endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", e)?;
        }
        if !c.metrics_path.starts_with('/') {
            return Err(ConfigError::new(
                "UNITEL_METRICS_PATH",
                &c.metrics_path,
                "a path starting with `/`",
            ));
        }
        for (name, v) in [
            ("TRACES_EXPORT_BATCH_SIZE", c.traces_batch_size),
            ("OTEL_BSP_MAX_QUEUE_SIZE", c.traces_queue_size),
            ("UNITEL_MAX_SERIES_PER_FAMILY", c.max_series_per_family),
        ] {
            if v == 0 {
                return Err(ConfigError::new(name, "0", "a whole number of at least 1"));
            }
        }
        if c.traces_batch_size > c.traces_queue_size {
            return Err(ConfigError::new(
                "TRACES_EXPORT_BATCH_SIZE",
                &c.traces_batch_size.to_string(),
                format!(
                    "at most the span queue size OTEL_BSP_MAX_QUEUE_SIZE ({})",
                    c.traces_queue_size
                ),
            ));
        }
        if c.metrics_export_interval.is_zero() {
            return Err(ConfigError::new(
                "METRICS_EXPORT_INTERVAL_MS",
                "0",
                "a positive number of milliseconds",
            ));
        }
        if c.otlp_timeout.is_zero() {
            return Err(ConfigError::new(
                "OTEL_EXPORTER_OTLP_TIMEOUT",
                "0",
                "a positive number of milliseconds",
            ));
        }
        if c.system_metrics_interval < MIN_SYSTEM_METRICS_INTERVAL {
            return Err(ConfigError::new(
                "UNITEL_SYSTEM_METRICS_INTERVAL_MS",
                &c.system_metrics_interval.as_millis().to_string(),
                "at least 200 milliseconds (CPU usage needs two samples that far apart)",
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&c.log_filter).is_err() {
            return Err(ConfigError::new(
                "RUST_LOG",
                &c.log_filter,
                "a tracing-subscriber filter such as `info,my_crate=debug`",
            ));
        }
        Ok(c)
    }
}
