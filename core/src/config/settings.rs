//! [`TelemetryConfig`]: the settings, their defaults and what they resolve to.

use std::net::SocketAddr;
use std::time::Duration;

use super::builder::TelemetryConfigBuilder;
use super::exporters::{MetricsExporter, OtlpProtocol, TracesExporter};
use super::sampler::SamplerConfig;

/// Default cap on distinct label sets per metric family (`UNITEL_MAX_SERIES_PER_FAMILY`).
///
/// ```
/// assert_eq!(unitel::config::DEFAULT_MAX_SERIES_PER_FAMILY, 2000);
/// ```
pub const DEFAULT_MAX_SERIES_PER_FAMILY: usize = 2000;

/// Path of the metrics endpoint unless `UNITEL_METRICS_PATH` says otherwise.
pub const DEFAULT_METRICS_PATH: &str = "/metrics";
/// Default refresh interval of the system metrics (`UNITEL_SYSTEM_METRICS_INTERVAL_MS`).
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(unitel::config::DEFAULT_SYSTEM_METRICS_INTERVAL, Duration::from_secs(15));
/// assert_eq!(unitel::system::DEFAULT_INTERVAL, unitel::config::DEFAULT_SYSTEM_METRICS_INTERVAL);
/// ```
pub const DEFAULT_SYSTEM_METRICS_INTERVAL: Duration = Duration::from_secs(15);
/// Shortest refresh interval of the system metrics: CPU usage needs this much time between two
/// samples. A shorter interval is refused by `build`.
///
/// ```
/// use std::time::Duration;
///
/// let err = unitel::TelemetryConfig::builder()
///     .system_metrics_interval(Duration::from_millis(50))
///     .build()
///     .unwrap_err();
/// assert_eq!(err.variable(), "UNITEL_SYSTEM_METRICS_INTERVAL_MS");
/// assert!(unitel::config::MIN_SYSTEM_METRICS_INTERVAL > Duration::from_millis(50));
/// ```
pub const MIN_SYSTEM_METRICS_INTERVAL: Duration = Duration::from_millis(200);

/// Everything [`init`](crate::init()) needs. Build it with [`TelemetryConfig::from_env`] or
/// [`TelemetryConfig::builder`].
#[derive(Clone)]
pub struct TelemetryConfig {
    pub(crate) service_name: String,
    pub(crate) service_version: Option<String>,
    pub(crate) deployment_environment: String,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) otlp_endpoint: Option<String>,
    pub(crate) otlp_protocol: OtlpProtocol,
    pub(crate) otlp_timeout: Duration,
    pub(crate) metrics_exporters: Vec<MetricsExporter>,
    pub(crate) traces_exporters: Vec<TracesExporter>,
    pub(crate) prometheus_listener: Option<SocketAddr>,
    pub(crate) metrics_path: String,
    pub(crate) metrics_token: Option<String>,
    pub(crate) enable_metrics: bool,
    pub(crate) enable_tracing: bool,
    pub(crate) sampler: SamplerConfig,
    pub(crate) metrics_export_interval: Duration,
    pub(crate) traces_batch_size: usize,
    pub(crate) traces_queue_size: usize,
    pub(crate) traces_schedule_delay: Duration,
    pub(crate) max_series_per_family: usize,
    pub(crate) log_filter: String,
    pub(crate) install_subscriber: bool,
    pub(crate) system_metrics: bool,
    pub(crate) system_metrics_interval: Duration,
    pub(crate) llm_price_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for TelemetryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryConfig")
            .field("service_name", &self.service_name)
            .field("service_version", &self.service_version)
            .field("deployment_environment", &self.deployment_environment)
            .field("resource_attributes", &self.resource_attributes)
            .field("otlp_endpoint", &self.otlp_endpoint)
            .field("otlp_protocol", &self.otlp_protocol)
            .field("metrics_exporters", &self.metrics_exporters)
            .field("traces_exporters", &self.traces_exporters)
            .field("prometheus_listener", &self.prometheus_listener)
            .field("metrics_path", &self.metrics_path)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field("enable_metrics", &self.enable_metrics)
            .field("enable_tracing", &self.enable_tracing)
            .field("sampler", &self.sampler)
            .field("metrics_export_interval", &self.metrics_export_interval)
            .field("traces_batch_size", &self.traces_batch_size)
            .field("traces_queue_size", &self.traces_queue_size)
            .field("max_series_per_family", &self.max_series_per_family)
            .field("system_metrics", &self.system_metrics)
            .field("system_metrics_interval", &self.system_metrics_interval)
            .field("llm_price_file", &self.llm_price_file)
            .finish_non_exhaustive()
    }
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            service_name: "unknown_service".to_owned(),
            service_version: None,
            deployment_environment: "development".to_owned(),
            resource_attributes: Vec::new(),
            otlp_endpoint: None,
            otlp_protocol: OtlpProtocol::Grpc,
            otlp_timeout: Duration::from_secs(10),
            metrics_exporters: vec![MetricsExporter::Prometheus],
            traces_exporters: Vec::new(),
            prometheus_listener: None,
            metrics_path: DEFAULT_METRICS_PATH.to_owned(),
            metrics_token: None,
            enable_metrics: true,
            enable_tracing: true,
            sampler: SamplerConfig::ParentBasedRatio(1.0),
            metrics_export_interval: Duration::from_secs(60),
            traces_batch_size: 512,
            traces_queue_size: 2048,
            traces_schedule_delay: Duration::from_secs(5),
            max_series_per_family: DEFAULT_MAX_SERIES_PER_FAMILY,
            log_filter: "info".to_owned(),
            install_subscriber: true,
            system_metrics: false,
            system_metrics_interval: DEFAULT_SYSTEM_METRICS_INTERVAL,
            llm_price_file: None,
        }
    }
}

impl TelemetryConfig {
    /// A builder starting from the defaults (Prometheus metrics, no OTLP, no listener).
    pub fn builder() -> TelemetryConfigBuilder {
        TelemetryConfigBuilder::new(Self::default())
    }

    /// `service.name` of the resource.
    #[must_use]
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The OTLP endpoint, defaulted by protocol (`http://localhost:4317` or `:4318`).
    #[must_use]
    pub fn otlp_endpoint(&self) -> &str {
        self.otlp_endpoint
            .as_deref()
            .unwrap_or(match self.otlp_protocol {
                OtlpProtocol::Grpc => "http://localhost:4317",
                OtlpProtocol::HttpProtobuf => "http://localhost:4318",
            })
    }

    /// The OTLP transport.
    #[must_use]
    pub fn otlp_protocol(&self) -> OtlpProtocol {
        self.otlp_protocol
    }

    /// Metric exporters in use (empty when metrics are disabled).
    #[must_use]
    pub fn metrics_exporters(&self) -> &[MetricsExporter] {
        if self.enable_metrics {
            &self.metrics_exporters
        } else {
            &[]
        }
    }

    /// Span exporters in use (empty when tracing is disabled).
    #[must_use]
    pub fn traces_exporters(&self) -> &[TracesExporter] {
        if self.enable_tracing {
            &self.traces_exporters
        } else {
            &[]
        }
    }

    /// Address of the standalone `/metrics` listener, when one is asked for.
    #[must_use]
    pub fn prometheus_listener(&self) -> Option<SocketAddr> {
        self.prometheus_listener.filter(|_| {
            self.metrics_exporters()
                .contains(&MetricsExporter::Prometheus)
        })
    }

    /// The trace sampler.
    #[must_use]
    pub fn sampler(&self) -> SamplerConfig {
        self.sampler
    }

    /// Cap on label sets per metric family.
    #[must_use]
    pub fn max_series_per_family(&self) -> usize {
        self.max_series_per_family
    }

    /// Path of the metrics endpoint (`/metrics` by default).
    #[must_use]
    pub fn metrics_path(&self) -> &str {
        &self.metrics_path
    }

    /// Whether a bearer token protects the metrics endpoints.
    #[must_use]
    pub fn metrics_token_required(&self) -> bool {
        self.metrics_token.is_some()
    }

    /// Whether [`init`](crate::init()) starts the system metrics collector (asked for, and
    /// metrics enabled).
    #[must_use]
    pub fn collects_system_metrics(&self) -> bool {
        self.system_metrics && self.enable_metrics
    }

    /// How often system metrics refresh.
    #[must_use]
    pub fn system_metrics_interval(&self) -> Duration {
        self.system_metrics_interval
    }

    /// The LLM price table file `init` loads (`UNITEL_LLM_PRICES`).
    #[must_use]
    pub fn llm_price_file(&self) -> Option<&std::path::Path> {
        self.llm_price_file.as_deref()
    }
}
