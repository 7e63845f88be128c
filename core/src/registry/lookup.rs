//! Families found by name: typed lookups, recording by name (registering unknown names on
//! first use), callbacks, and instrumentation errors reported from outside the registry.

use std::sync::Arc;

use super::snapshot::AnyFamily;
use super::{
    CounterFamily, GaugeFamily, HistogramFamily, InstrumentationErrorKind, MetricCallback,
    MetricDefinition, Registry, RegistryError,
};
use crate::catalog::{self, MetricKind};

impl Registry {
    /// A registered counter family by name.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] or [`RegistryError::WrongKind`].
    pub fn counter_family(&self, name: &str) -> Result<CounterFamily, RegistryError> {
        match self.get(name) {
            Some(AnyFamily::Counter(family)) => Ok(CounterFamily { family }),
            other => Err(lookup_error(name, MetricKind::Counter, other.as_ref())),
        }
    }

    /// A registered gauge family by name.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] or [`RegistryError::WrongKind`].
    pub fn gauge_family(&self, name: &str) -> Result<GaugeFamily, RegistryError> {
        match self.get(name) {
            Some(AnyFamily::Gauge(family)) => Ok(GaugeFamily { family }),
            other => Err(lookup_error(name, MetricKind::Gauge, other.as_ref())),
        }
    }

    /// A registered histogram family by name.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] or [`RegistryError::WrongKind`].
    pub fn histogram_family(&self, name: &str) -> Result<HistogramFamily, RegistryError> {
        match self.get(name) {
            Some(AnyFamily::Histogram(family)) => Ok(HistogramFamily { family }),
            other => Err(lookup_error(name, MetricKind::Histogram, other.as_ref())),
        }
    }

    /// Finds `name`, registering it with the given kind and the keys of `labels` when it is
    /// unknown. Misuse is counted, never raised.
    fn by_name(&self, name: &str, kind: MetricKind, labels: &[(&str, &str)]) -> Option<AnyFamily> {
        let family = match self.get(name) {
            Some(f) => f,
            None => {
                let def = MetricDefinition {
                    name: name.to_owned(),
                    kind,
                    description: format!("{name} (registered on first use)"),
                    unit: String::new(),
                    labels: labels.iter().map(|(k, _)| (*k).to_owned()).collect(),
                    buckets: if kind == MetricKind::Histogram {
                        catalog::DEFAULT_BUCKETS.to_vec()
                    } else {
                        Vec::new()
                    },
                };
                match self.insert(def, None) {
                    Ok(f) => f,
                    Err(e) => {
                        self.inner.shared.report(
                            InstrumentationErrorKind::UnknownMetric,
                            name,
                            &e.to_string(),
                        );
                        return None;
                    }
                }
            }
        };
        if family.def().kind == kind {
            Some(family)
        } else {
            self.inner.shared.report(
                InstrumentationErrorKind::KindMismatch,
                name,
                "metric recorded as another kind than it was registered with",
            );
            None
        }
    }

    /// Adds `value` to the counter `name` (registered on first use if unknown).
    pub fn increment(&self, name: &str, value: f64, labels: &[(&str, &str)]) {
        if let Some(AnyFamily::Counter(family)) = self.by_name(name, MetricKind::Counter, labels) {
            CounterFamily { family }
                .with_label_pairs(labels)
                .add_f64(value);
        }
    }

    /// Records `value` in the histogram `name` (registered on first use if unknown, with
    /// [`catalog::DEFAULT_BUCKETS`]).
    pub fn observe(&self, name: &str, value: f64, labels: &[(&str, &str)]) {
        if let Some(AnyFamily::Histogram(family)) =
            self.by_name(name, MetricKind::Histogram, labels)
        {
            HistogramFamily { family }
                .with_label_pairs(labels)
                .observe(value);
        }
    }

    /// Sets the gauge `name` (registered on first use if unknown).
    pub fn set(&self, name: &str, value: f64, labels: &[(&str, &str)]) {
        if let Some(AnyFamily::Gauge(family)) = self.by_name(name, MetricKind::Gauge, labels) {
            GaugeFamily { family }.with_label_pairs(labels).set(value);
        }
    }

    /// Runs `callback(name, value, labels)` on each record of the family `name`: the value
    /// recorded (increment, observation, or the gauge's new value).
    ///
    /// A callback runs on the recording thread, so keep it short; a panicking callback is
    /// caught and counted.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when no family of that name is registered.
    pub fn add_callback<F>(&self, name: &str, callback: F) -> Result<(), RegistryError>
    where
        F: Fn(&str, f64, &[(&str, &str)]) + Send + Sync + 'static,
    {
        let callback: Arc<MetricCallback> = Arc::new(callback);
        match self.get(name) {
            Some(AnyFamily::Counter(f)) => f.add_callback(callback),
            Some(AnyFamily::Gauge(f)) => f.add_callback(callback),
            Some(AnyFamily::Histogram(f)) => f.add_callback(callback),
            None => {
                return Err(RegistryError::NotFound {
                    name: name.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Counts an instrumentation error found outside the registry (for example by an
    /// integration rejecting a malformed header), with a warning at most once a minute.
    pub fn report_instrumentation_error(&self, kind: InstrumentationErrorKind, what: &str) {
        self.inner.shared.report(kind, "", what);
    }
}

fn lookup_error(name: &str, requested: MetricKind, found: Option<&AnyFamily>) -> RegistryError {
    match found {
        None => RegistryError::NotFound {
            name: name.to_owned(),
        },
        Some(f) => RegistryError::WrongKind {
            name: name.to_owned(),
            requested,
            actual: f.def().kind,
        },
    }
}
