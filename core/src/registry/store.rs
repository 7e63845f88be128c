//! The [`Registry`]: its families by name and in registration order, registration, and the
//! typed families of catalog descriptors.

use std::sync::{Arc, PoisonError, RwLock};

use super::definition::validate;
use super::family::{self, Family};
use super::shared::Shared;
use super::snapshot::AnyFamily;
use super::{
    CounterFamily, GaugeFamily, HistogramFamily, InstrumentationErrorKind, MetricDefinition,
    RegistryError,
};
use crate::catalog::{self, MetricDescriptor, MetricKind};

/// Default cap on distinct label sets per family.
pub const DEFAULT_MAX_SERIES_PER_FAMILY: usize = 2000;
/// Cap on the number of families a registry holds (catalog included).
pub const MAX_FAMILIES: usize = 1000;

#[derive(Default)]
pub(super) struct Families {
    pub(super) list: Vec<AnyFamily>,
    by_name: hashbrown::HashMap<Box<str>, usize>,
}

pub(super) struct Inner {
    pub(super) families: RwLock<Families>,
    pub(super) shared: Arc<Shared>,
}

/// A set of metric families. Cheap to clone (clones share the families).
///
/// Most code records into the registry of the process-wide telemetry (`unitel::registry()`);
/// tests and benchmarks create their own with [`Registry::new`]. Exporters read it through
/// its snapshots (`unitel::prometheus::render_registry(&registry)` for the Prometheus text).
///
/// ```
/// let registry = unitel::Registry::new();
/// registry
///     .counter(&unitel::catalog::ERRORS_TOTAL)
///     .with_labels(&["parser", "invalid_input"])
///     .inc();
/// let text = unitel::prometheus::render_registry(&registry);
/// assert!(text.contains("errors_total{component=\"parser\",error_type=\"invalid_input\"} 1"));
/// ```
#[derive(Clone)]
pub struct Registry {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// A registry holding every catalog family, with the default series cap.
    #[must_use]
    pub fn new() -> Self {
        let registry = Self {
            inner: Arc::new(Inner {
                families: RwLock::new(Families::default()),
                shared: Arc::new(Shared::new()),
            }),
        };
        for d in catalog::ALL {
            // Catalog definitions are valid by construction (checked by a unit test).
            let _ = registry.insert(MetricDefinition::from(d), d.otlp_name);
        }
        let errors = registry.counter(&catalog::INSTRUMENTATION_ERRORS_TOTAL);
        let failures = registry.counter(&catalog::EXPORT_FAILURES_TOTAL);
        let overflow = registry.counter(&catalog::SERIES_OVERFLOW_TOTAL);
        registry.inner.shared.attach_self_metrics(
            InstrumentationErrorKind::ALL
                .iter()
                .map(|k| errors.family.series(&[k.as_str()]))
                .collect(),
            [
                failures.family.series(&[catalog::SIGNAL_TRACES]),
                failures.family.series(&[catalog::SIGNAL_METRICS]),
            ],
            Arc::downgrade(&overflow.family),
        );
        registry
    }

    /// Sets the cap on distinct label sets per family (at least 1). Series already created stay.
    pub fn set_max_series_per_family(&self, max: usize) {
        self.inner.shared.set_max_series(max);
    }

    /// The cap on distinct label sets per family.
    #[must_use]
    pub fn max_series_per_family(&self) -> usize {
        self.inner.shared.max_series()
    }

    /// Registers a custom family. Registering an identical definition again is a no-op.
    ///
    /// # Errors
    /// A [`RegistryError`] naming the problem: invalid name or label key, empty or unsorted
    /// buckets, buckets on a counter or gauge, a different definition under the same name, or a
    /// full registry.
    pub fn register(&self, def: MetricDefinition) -> Result<(), RegistryError> {
        self.insert(def, None).map(|_| ())
    }

    pub(super) fn insert(
        &self,
        def: MetricDefinition,
        otlp_name: Option<&str>,
    ) -> Result<AnyFamily, RegistryError> {
        validate(&def)?;
        let mut families = self
            .inner
            .families
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(&i) = families.by_name.get(def.name.as_str()) {
            let existing = families.list[i].clone();
            let e = existing.def();
            if e.kind == def.kind && e.labels == def.labels && e.buckets == def.buckets {
                return Ok(existing);
            }
            return Err(RegistryError::Conflict {
                name: def.name,
                existing_kind: e.kind,
                existing_labels: e.labels.clone(),
            });
        }
        if families.list.len() >= MAX_FAMILIES {
            return Err(RegistryError::Full { name: def.name });
        }
        let shared = Arc::clone(&self.inner.shared);
        let name: Box<str> = def.name.as_str().into();
        let family = match def.kind {
            MetricKind::Counter => {
                AnyFamily::Counter(Arc::new(Family::new(def, otlp_name, shared)))
            }
            MetricKind::Gauge => AnyFamily::Gauge(Arc::new(Family::new(def, otlp_name, shared))),
            MetricKind::Histogram => {
                AnyFamily::Histogram(Arc::new(Family::new(def, otlp_name, shared)))
            }
        };
        let index = families.list.len();
        families.list.push(family.clone());
        families.by_name.insert(name, index);
        Ok(family)
    }

    pub(super) fn get(&self, name: &str) -> Option<AnyFamily> {
        let families = self
            .inner
            .families
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        families
            .by_name
            .get(name)
            .map(|&i| families.list[i].clone())
    }

    /// The counter family of a catalog descriptor.
    ///
    /// A descriptor that is not from this crate's catalog is registered on first use; if that
    /// fails the handle records nowhere and the failure is counted as an instrumentation error.
    #[must_use]
    pub fn counter(&self, d: &MetricDescriptor) -> CounterFamily {
        match self.descriptor_family(d) {
            Some(AnyFamily::Counter(family)) => CounterFamily { family },
            _ => CounterFamily {
                family: self.orphan(d),
            },
        }
    }

    /// The gauge family of a catalog descriptor (see [`counter`](Self::counter)).
    #[must_use]
    pub fn gauge(&self, d: &MetricDescriptor) -> GaugeFamily {
        match self.descriptor_family(d) {
            Some(AnyFamily::Gauge(family)) => GaugeFamily { family },
            _ => GaugeFamily {
                family: self.orphan(d),
            },
        }
    }

    /// The histogram family of a catalog descriptor (see [`counter`](Self::counter)).
    #[must_use]
    pub fn histogram(&self, d: &MetricDescriptor) -> HistogramFamily {
        match self.descriptor_family(d) {
            Some(AnyFamily::Histogram(family)) => HistogramFamily { family },
            _ => HistogramFamily {
                family: self.orphan(d),
            },
        }
    }

    fn descriptor_family(&self, d: &MetricDescriptor) -> Option<AnyFamily> {
        let found = match self.get(d.name) {
            Some(f) => Ok(f),
            None => self.insert(MetricDefinition::from(d), d.otlp_name),
        };
        match found {
            Ok(f) if f.def().kind == d.kind => Some(f),
            _ => {
                self.inner.shared.report(
                    InstrumentationErrorKind::KindMismatch,
                    d.name,
                    "descriptor does not match the registered family",
                );
                None
            }
        }
    }

    /// A family in no registry: records to it are kept nowhere visible.
    fn orphan<C: family::Cell>(&self, d: &MetricDescriptor) -> Arc<Family<C>> {
        Arc::new(Family::new(
            MetricDefinition::from(d),
            None,
            Arc::clone(&self.inner.shared),
        ))
    }
}
