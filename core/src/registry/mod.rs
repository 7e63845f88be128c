//! The metric registry: families by name, typed handles, custom metrics, callbacks.
//!
//! Every catalog family is registered when a [`Registry`] is created, so the exposition shows all
//! of them with their help and type from the first scrape. Custom families are added with
//! [`Registry::register`]. Exporters read a registry through its snapshots; the registry knows
//! nothing of them.
//!
//! ```
//! use unitel::{MetricDefinition, MetricKind, Registry};
//!
//! let registry = Registry::new();
//! registry
//!     .register(MetricDefinition {
//!         name: "custom_business_metric".into(),
//!         kind: MetricKind::Histogram,
//!         description: "Custom business metric".into(),
//!         unit: "items".into(),
//!         labels: vec!["category".into(), "status".into()],
//!         buckets: vec![1.0, 5.0, 10.0, 50.0, 100.0, 500.0],
//!     })
//!     .unwrap();
//! registry.observe("custom_business_metric", 42.0, &[("category", "orders"), ("status", "completed")]);
//! assert!(unitel::prometheus::render_registry(&registry).contains(
//!     "custom_business_metric_bucket{category=\"orders\",status=\"completed\",le=\"50\"} 1"
//! ));
//! ```
//!
//! Files: `store` (the `Registry` and registration), `lookup` (families by name), `definition`
//! (what a family is), `error`, `family` (one family's series and cap), `labels` and
//! `local_cache` (finding a series by its label values), `cell` (lock-free values), `handles`,
//! `shared` (self-metrics and warnings) and `snapshot` (what exporters read).

mod cell;
mod definition;
mod error;
pub(crate) mod family;
mod handles;
mod labels;
mod local_cache;
mod lookup;
mod shared;
mod snapshot;
mod store;

pub use cell::HistogramValue;
pub(crate) use cell::{CounterCell, GaugeCell, HistogramCell};
pub use definition::MetricDefinition;
pub use error::{InstrumentationErrorKind, RegistryError};
#[cfg(feature = "otel")]
pub(crate) use family::FamilySnapshot;
pub use family::MetricCallback;
pub(crate) use family::{Family, Series};
pub use handles::{Counter, CounterFamily, Gauge, GaugeFamily, Histogram, HistogramFamily};
pub(crate) use labels::OVERFLOW_LABEL_KEY;
pub(crate) use snapshot::AnyFamily;
pub use store::{DEFAULT_MAX_SERIES_PER_FAMILY, MAX_FAMILIES, Registry};
