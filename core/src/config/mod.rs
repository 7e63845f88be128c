//! Configuration: the standard OpenTelemetry environment variables plus unitel's own (see
//! [`ENV_VARIABLES`]), and a builder with the same settings.
//!
//! ```
//! use unitel::TelemetryConfig;
//! use unitel::config::MetricsExporter;
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

mod builder;
mod env;
mod error;
mod exporters;
mod parse;
mod sampler;
mod settings;

pub use builder::TelemetryConfigBuilder;
pub use env::ENV_VARIABLES;
pub use error::ConfigError;
pub use exporters::{MetricsExporter, OtlpProtocol, TracesExporter};
pub use sampler::SamplerConfig;
pub use settings::{
    DEFAULT_MAX_SERIES_PER_FAMILY, DEFAULT_METRICS_PATH, DEFAULT_SYSTEM_METRICS_INTERVAL,
    MIN_SYSTEM_METRICS_INTERVAL, TelemetryConfig,
};
