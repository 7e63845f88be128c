//! Configuration: the seed's environment variables, and a builder with the same settings.
//!
//! ```
//! use unitel::{MetricsExporter, TelemetryConfig};
//!
//! let config = TelemetryConfig::builder()
//!     .service_name("checkout")
//!     .metrics_exporters([MetricsExporter::Prometheus])
//!     .sample_rate(0.25)
//!     .build()
//!     .unwrap();
//! assert_eq!(config.service_name(), "checkout");
//!
//! // From variables (here a closure instead of the process environment):
//! let err = TelemetryConfig::from_lookup(|k| (k == "METRICS_SAMPLE_RATE").then(|| "2".to_owned()))
//!     .unwrap_err();
//! assert_eq!(err.variable(), "METRICS_SAMPLE_RATE");
//! assert!(err.to_string().contains("between 0 and 1"));
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::registry::DEFAULT_MAX_SERIES_PER_FAMILY;

/// A configuration value that is not allowed. Names the variable, the value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value `{value}` for {variable}: expected {expected}")]
pub struct ConfigError {
    variable: &'static str,
    value: String,
    expected: String,
}

impl ConfigError {
    fn new(variable: &'static str, value: &str, expected: impl Into<String>) -> Self {
        Self {
            variable,
            value: value.to_owned(),
            expected: expected.into(),
        }
    }

    /// The environment variable (or builder setting, spelled as its variable).
    #[must_use]
    pub fn variable(&self) -> &'static str {
        self.variable
    }

    /// The rejected value.
    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }

    /// What would have been accepted.
    #[must_use]
    pub fn expected(&self) -> &str {
        &self.expected
    }
}

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

/// Which traces are sampled. Sampling applies to traces only; metric counts are always exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerConfig {
    /// Sample everything.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample this ratio of new traces, by trace id.
    TraceIdRatio(f64),
    /// Follow the parent's decision; roots sampled at this ratio.
    ParentBasedRatio(f64),
    /// Follow the parent's decision; roots never sampled.
    ParentBasedAlwaysOff,
}

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
            metrics_path: "/metrics".to_owned(),
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
            system_metrics_interval: crate::system::DEFAULT_INTERVAL,
            llm_price_file: None,
        }
    }
}

/// Every variable [`TelemetryConfig::from_env`] reads.
pub const ENV_VARIABLES: &[&str] = &[
    "OTEL_SERVICE_NAME",
    "OTEL_SERVICE_VERSION",
    "DEPLOYMENT_ENV",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_METRICS_EXPORTER",
    "OTEL_TRACES_EXPORTER",
    "PROMETHEUS_PORT",
    "PROMETHEUS_HOST",
    "UNITEL_METRICS_PATH",
    "UNITEL_METRICS_TOKEN",
    "ENABLE_METRICS",
    "ENABLE_TRACING",
    "METRICS_SAMPLE_RATE",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "METRICS_EXPORT_INTERVAL_MS",
    "TRACES_EXPORT_BATCH_SIZE",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_SCHEDULE_DELAY",
    "UNITEL_MAX_SERIES_PER_FAMILY",
    "RUST_LOG",
    "UNITEL_SYSTEM_METRICS",
    "UNITEL_SYSTEM_METRICS_INTERVAL_MS",
    "UNITEL_LLM_PRICES",
];

impl TelemetryConfig {
    /// Reads the process environment (see [`ENV_VARIABLES`]).
    ///
    /// # Errors
    /// A [`ConfigError`] for the first invalid variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads variables through `lookup` instead of the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] for the first invalid variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut b = Self::builder();
        if let Some(v) = get("OTEL_SERVICE_NAME") {
            b = b.service_name(v);
        }
        if let Some(v) = get("OTEL_SERVICE_VERSION") {
            b = b.service_version(v);
        }
        if let Some(v) = get("DEPLOYMENT_ENV") {
            b = b.deployment_environment(v);
        }
        if let Some(v) = get("OTEL_RESOURCE_ATTRIBUTES") {
            b.config.resource_attributes = parse_resource_attributes(&v)?;
        }
        if let Some(v) = get("OTEL_EXPORTER_OTLP_PROTOCOL") {
            b.config.otlp_protocol = match v.as_str() {
                "grpc" => OtlpProtocol::Grpc,
                "http/protobuf" | "http" => OtlpProtocol::HttpProtobuf,
                _ => {
                    return Err(ConfigError::new(
                        "OTEL_EXPORTER_OTLP_PROTOCOL",
                        &v,
                        "`grpc` or `http/protobuf`",
                    ));
                }
            };
        }
        if let Some(v) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            b.config.otlp_endpoint = Some(parse_endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", &v)?);
        }
        if let Some(v) = get("OTEL_EXPORTER_OTLP_TIMEOUT") {
            b.config.otlp_timeout =
                Duration::from_millis(parse_positive("OTEL_EXPORTER_OTLP_TIMEOUT", &v)?);
        }
        if let Some(v) = get("OTEL_METRICS_EXPORTER") {
            b.config.metrics_exporters = parse_list(
                "OTEL_METRICS_EXPORTER",
                &v,
                |item| match item {
                    "prometheus" => Some(MetricsExporter::Prometheus),
                    "otlp" => Some(MetricsExporter::Otlp),
                    _ => None,
                },
                "a comma-separated list of `prometheus`, `otlp`, or `none`",
            )?;
        }
        let traces_expected = "a comma-separated list of `otlp`, or `none`";
        if let Some(v) = get("OTEL_TRACES_EXPORTER") {
            b.config.traces_exporters = parse_list(
                "OTEL_TRACES_EXPORTER",
                &v,
                |item| match item {
                    "otlp" => Some(TracesExporter::Otlp),
                    _ => None,
                },
                traces_expected,
            )?;
        } else if b.config.otlp_endpoint.is_some() {
            // An endpoint with no exporter list means "send traces there".
            b.config.traces_exporters = vec![TracesExporter::Otlp];
        }
        let host = match get("PROMETHEUS_HOST") {
            Some(v) => Some(v.parse::<IpAddr>().map_err(|_| {
                ConfigError::new(
                    "PROMETHEUS_HOST",
                    &v,
                    "an IP address such as 127.0.0.1 or 0.0.0.0",
                )
            })?),
            None => None,
        };
        if let Some(v) = get("PROMETHEUS_PORT") {
            let port = v.parse::<u16>().map_err(|_| {
                ConfigError::new("PROMETHEUS_PORT", &v, "a port number from 0 to 65535")
            })?;
            let ip = host.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            b.config.prometheus_listener = Some(SocketAddr::new(ip, port));
        }
        if let Some(v) = get("UNITEL_METRICS_PATH") {
            if !v.starts_with('/') {
                return Err(ConfigError::new(
                    "UNITEL_METRICS_PATH",
                    &v,
                    "a path starting with `/`",
                ));
            }
            b.config.metrics_path = v;
        }
        if let Some(v) = lookup("UNITEL_METRICS_TOKEN").filter(|v| !v.is_empty()) {
            if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ConfigError::new(
                    "UNITEL_METRICS_TOKEN",
                    "<redacted>",
                    "a token without spaces or control characters",
                ));
            }
            b.config.metrics_token = Some(v);
        }
        if let Some(v) = get("ENABLE_METRICS") {
            b.config.enable_metrics = parse_bool("ENABLE_METRICS", &v)?;
        }
        if let Some(v) = get("ENABLE_TRACING") {
            b.config.enable_tracing = parse_bool("ENABLE_TRACING", &v)?;
        }
        if let Some(v) = get("METRICS_SAMPLE_RATE") {
            b.config.sampler =
                SamplerConfig::ParentBasedRatio(parse_ratio("METRICS_SAMPLE_RATE", &v)?);
        } else if let Some(v) = get("OTEL_TRACES_SAMPLER") {
            let arg = match get("OTEL_TRACES_SAMPLER_ARG") {
                Some(a) => parse_ratio("OTEL_TRACES_SAMPLER_ARG", &a)?,
                None => 1.0,
            };
            b.config.sampler = match v.as_str() {
                "always_on" => SamplerConfig::AlwaysOn,
                "always_off" => SamplerConfig::AlwaysOff,
                "traceidratio" => SamplerConfig::TraceIdRatio(arg),
                "parentbased_always_on" => SamplerConfig::ParentBasedRatio(1.0),
                "parentbased_always_off" => SamplerConfig::ParentBasedAlwaysOff,
                "parentbased_traceidratio" => SamplerConfig::ParentBasedRatio(arg),
                _ => {
                    return Err(ConfigError::new(
                        "OTEL_TRACES_SAMPLER",
                        &v,
                        "one of always_on, always_off, traceidratio, parentbased_always_on, \
                         parentbased_always_off, parentbased_traceidratio",
                    ));
                }
            };
        }
        if let Some(v) = get("METRICS_EXPORT_INTERVAL_MS") {
            b.config.metrics_export_interval =
                Duration::from_millis(parse_positive("METRICS_EXPORT_INTERVAL_MS", &v)?);
        }
        if let Some(v) = get("TRACES_EXPORT_BATCH_SIZE") {
            b.config.traces_batch_size =
                usize::try_from(parse_positive("TRACES_EXPORT_BATCH_SIZE", &v)?)
                    .unwrap_or(usize::MAX);
        }
        if let Some(v) = get("OTEL_BSP_MAX_QUEUE_SIZE") {
            b.config.traces_queue_size =
                usize::try_from(parse_positive("OTEL_BSP_MAX_QUEUE_SIZE", &v)?)
                    .unwrap_or(usize::MAX);
        }
        if let Some(v) = get("OTEL_BSP_SCHEDULE_DELAY") {
            b.config.traces_schedule_delay =
                Duration::from_millis(parse_positive("OTEL_BSP_SCHEDULE_DELAY", &v)?);
        }
        if let Some(v) = get("UNITEL_MAX_SERIES_PER_FAMILY") {
            b.config.max_series_per_family =
                usize::try_from(parse_positive("UNITEL_MAX_SERIES_PER_FAMILY", &v)?)
                    .unwrap_or(usize::MAX);
        }
        if let Some(v) = get("RUST_LOG") {
            b.config.log_filter = v;
        }
        if let Some(v) = get("UNITEL_SYSTEM_METRICS") {
            b.config.system_metrics = parse_bool("UNITEL_SYSTEM_METRICS", &v)?;
        }
        if let Some(v) = get("UNITEL_SYSTEM_METRICS_INTERVAL_MS") {
            b.config.system_metrics_interval =
                Duration::from_millis(parse_positive("UNITEL_SYSTEM_METRICS_INTERVAL_MS", &v)?);
        }
        if let Some(v) = get("UNITEL_LLM_PRICES") {
            b.config.llm_price_file = Some(v.into());
        }
        b.build()
    }

    /// A builder starting from the defaults (Prometheus metrics, no OTLP, no listener).
    pub fn builder() -> TelemetryConfigBuilder {
        TelemetryConfigBuilder {
            config: Self::default(),
        }
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

/// Builds a [`TelemetryConfig`] in code; each setter mirrors one environment variable.
#[derive(Debug, Clone)]
#[must_use]
pub struct TelemetryConfigBuilder {
    config: TelemetryConfig,
}

impl TelemetryConfigBuilder {
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
        if c.system_metrics_interval < crate::system::MIN_INTERVAL {
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

fn parse_bool(variable: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(
            variable,
            v,
            "true or false (also 1/0, yes/no, on/off)",
        )),
    }
}

fn parse_ratio(variable: &'static str, v: &str) -> Result<f64, ConfigError> {
    match v.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(ConfigError::new(variable, v, "a number between 0 and 1")),
    }
}

fn parse_positive(variable: &'static str, v: &str) -> Result<u64, ConfigError> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError::new(
            variable,
            v,
            "a whole number of at least 1",
        )),
    }
}

fn parse_endpoint(variable: &'static str, v: &str) -> Result<String, ConfigError> {
    let expected = "an http:// or https:// URL such as http://localhost:4317";
    let uri = v
        .parse::<http::Uri>()
        .map_err(|_| ConfigError::new(variable, v, expected))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(h)) if !h.is_empty() => {
            Ok(v.trim_end_matches('/').to_owned())
        }
        _ => Err(ConfigError::new(variable, v, expected)),
    }
}

fn parse_list<T: PartialEq>(
    variable: &'static str,
    v: &str,
    item: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<Vec<T>, ConfigError> {
    let mut out = Vec::new();
    let items: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items == ["none"] {
        return Ok(out);
    }
    for raw in items {
        let parsed = item(&raw.to_ascii_lowercase())
            .ok_or_else(|| ConfigError::new(variable, raw, expected))?;
        if !out.contains(&parsed) {
            out.push(parsed);
        }
    }
    Ok(out)
}

fn parse_resource_attributes(v: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for pair in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((k, val)) = pair.split_once('=') else {
            return Err(ConfigError::new(
                "OTEL_RESOURCE_ATTRIBUTES",
                pair,
                "comma-separated key=value pairs",
            ));
        };
        let (k, val) = (percent_decode(k.trim()), percent_decode(val.trim()));
        if k.is_empty() {
            return Err(ConfigError::new(
                "OTEL_RESOURCE_ATTRIBUTES",
                pair,
                "a non-empty key before `=`",
            ));
        }
        out.push((k, val));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let (b'%', Some(h), Some(l)) = (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<TelemetryConfig, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TelemetryConfig::from_lookup(move |k| {
            vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn every_invalid_variable_names_itself_and_its_value() {
        let table: &[(&str, &str, &str)] = &[
            ("METRICS_SAMPLE_RATE", "2", "between 0 and 1"),
            ("METRICS_SAMPLE_RATE", "abc", "between 0 and 1"),
            ("PROMETHEUS_PORT", "abc", "port number"),
            ("PROMETHEUS_PORT", "70000", "port number"),
            ("PROMETHEUS_HOST", "not-an-ip", "IP address"),
            ("OTEL_METRICS_EXPORTER", "statsd", "`prometheus`, `otlp`"),
            ("OTEL_TRACES_EXPORTER", "zipkin", "`otlp`"),
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "http/json",
                "`grpc` or `http/protobuf`",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317", "http://"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x", "http://"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "-5", "at least 1"),
            ("ENABLE_METRICS", "maybe", "true or false"),
            ("ENABLE_TRACING", "2", "true or false"),
            ("METRICS_EXPORT_INTERVAL_MS", "0", "at least 1"),
            ("TRACES_EXPORT_BATCH_SIZE", "many", "at least 1"),
            (
                "TRACES_EXPORT_BATCH_SIZE",
                "100000",
                "at most the span queue size",
            ),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "0", "at least 1"),
            ("OTEL_TRACES_SAMPLER", "sometimes", "always_on"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team", "key=value"),
            ("UNITEL_MAX_SERIES_PER_FAMILY", "0", "at least 1"),
            ("UNITEL_METRICS_PATH", "metrics", "starting with `/`"),
            ("RUST_LOG", "info,[", "filter"),
            ("UNITEL_SYSTEM_METRICS", "sometimes", "true or false"),
            ("UNITEL_SYSTEM_METRICS_INTERVAL_MS", "50", "at least 200"),
            ("UNITEL_SYSTEM_METRICS_INTERVAL_MS", "0", "at least 1"),
        ];
        for (var, value, expected) in table {
            let err = with(&[(var, value)]).expect_err(var);
            assert_eq!(err.variable(), *var, "{err}");
            let text = err.to_string();
            assert!(text.contains(var), "{text}");
            assert!(text.contains(expected), "{var}={value}: {text}");
        }
        let err = with(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ])
        .unwrap_err();
        assert_eq!(err.variable(), "OTEL_TRACES_SAMPLER_ARG");
    }

    #[test]
    fn seed_variables_are_read() {
        let c = with(&[
            ("OTEL_SERVICE_NAME", "tldw_server"),
            ("OTEL_SERVICE_VERSION", "1.0.0"),
            ("DEPLOYMENT_ENV", "production"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_METRICS_EXPORTER", "prometheus,otlp"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("PROMETHEUS_PORT", "9090"),
            ("PROMETHEUS_HOST", "0.0.0.0"),
            ("ENABLE_METRICS", "true"),
            ("ENABLE_TRACING", "true"),
            ("METRICS_SAMPLE_RATE", "1.0"),
            ("METRICS_EXPORT_INTERVAL_MS", "30000"),
            ("TRACES_EXPORT_BATCH_SIZE", "1024"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=search,region=eu%2Dwest"),
        ])
        .unwrap();
        assert_eq!(c.service_name, "tldw_server");
        assert_eq!(c.service_version.as_deref(), Some("1.0.0"));
        assert_eq!(c.deployment_environment, "production");
        assert_eq!(c.otlp_endpoint(), "http://localhost:4317");
        assert_eq!(
            c.metrics_exporters(),
            &[MetricsExporter::Prometheus, MetricsExporter::Otlp]
        );
        assert_eq!(c.traces_exporters(), &[TracesExporter::Otlp]);
        assert_eq!(
            c.prometheus_listener(),
            Some("0.0.0.0:9090".parse().unwrap())
        );
        assert_eq!(c.metrics_export_interval, Duration::from_secs(30));
        assert_eq!(c.traces_batch_size, 1024);
        assert_eq!(
            c.resource_attributes[1],
            ("region".to_owned(), "eu-west".to_owned())
        );
    }

    #[test]
    fn defaults_open_no_listener_and_export_nothing_remote() {
        let c = with(&[]).unwrap();
        assert_eq!(c.prometheus_listener(), None);
        assert!(c.traces_exporters().is_empty());
        assert_eq!(c.metrics_exporters(), &[MetricsExporter::Prometheus]);
        let none = with(&[
            ("OTEL_METRICS_EXPORTER", "none"),
            ("PROMETHEUS_PORT", "9464"),
        ])
        .unwrap();
        assert!(none.metrics_exporters().is_empty());
        assert_eq!(none.prometheus_listener(), None);
        let local = with(&[("PROMETHEUS_PORT", "9464")]).unwrap();
        assert_eq!(
            local.prometheus_listener(),
            Some("127.0.0.1:9464".parse().unwrap())
        );
    }

    #[test]
    fn the_token_is_never_printed() {
        let c = with(&[("UNITEL_METRICS_TOKEN", "hunter2")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let err = with(&[("UNITEL_METRICS_TOKEN", "hunter 2")]).unwrap_err();
        assert!(!err.to_string().contains("hunter"));
    }
}
