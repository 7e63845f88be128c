//! Reading the settings from environment variables.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::error::ConfigError;
use super::exporters::{MetricsExporter, OtlpProtocol, TracesExporter};
use super::parse::{
    parse_bool, parse_endpoint, parse_list, parse_positive, parse_ratio, parse_resource_attributes,
};
use super::sampler::SamplerConfig;
use super::settings::TelemetryConfig;

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
    fn the_documented_variables_are_read() {
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
