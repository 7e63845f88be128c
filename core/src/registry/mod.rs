//! The metric registry: families by name, typed handles, custom metrics, callbacks.
//!
//! Every catalog family is registered when a [`Registry`] is created, so the exposition shows all
//! of them with their help and type from the first scrape. Custom families are added with
//! [`Registry::register`].
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
//! assert!(registry.render().contains(
//!     "custom_business_metric_bucket{category=\"orders\",status=\"completed\",le=\"50\"} 1"
//! ));
//! ```

mod cell;
pub(crate) mod family;
mod handles;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock, Weak};
use std::time::Instant;

pub use cell::HistogramValue;
pub(crate) use cell::{CounterCell, GaugeCell, HistogramCell};
#[cfg(feature = "otel")]
pub(crate) use family::FamilySnapshot;
pub use family::MetricCallback;
pub(crate) use family::{Family, OVERFLOW_LABEL_KEY, Series};
pub use handles::{Counter, CounterFamily, Gauge, GaugeFamily, Histogram, HistogramFamily};

use crate::catalog::{self, MetricDescriptor, MetricKind};

/// Default cap on distinct label sets per family.
pub const DEFAULT_MAX_SERIES_PER_FAMILY: usize = 2000;
/// Cap on the number of families a registry holds (catalog included).
pub const MAX_FAMILIES: usize = 1000;

/// A metric family to register: the seed's `MetricDefinition`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricDefinition {
    /// Exposition name: `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total`, others do not.
    pub name: String,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Help text.
    pub description: String,
    /// Unit, as OTLP carries it (free text, e.g. `s`, `By`, `items`).
    pub unit: String,
    /// Label keys, in the order handles take values.
    pub labels: Vec<String>,
    /// Histogram bucket upper bounds, strictly increasing and finite; empty otherwise.
    pub buckets: Vec<f64>,
}

impl From<&MetricDescriptor> for MetricDefinition {
    fn from(d: &MetricDescriptor) -> Self {
        Self {
            name: d.name.to_owned(),
            kind: d.kind,
            description: d.help.to_owned(),
            unit: d.unit.to_owned(),
            labels: d.labels.iter().map(|s| (*s).to_owned()).collect(),
            buckets: d.buckets.to_vec(),
        }
    }
}

/// Why a metric family could not be registered or looked up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The name is not a valid Prometheus metric name, or breaks a naming rule.
    #[error("invalid metric name `{name}`: {reason}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// A label key is not valid.
    #[error("invalid label key `{label}` for metric `{name}`: {reason}")]
    InvalidLabel {
        /// The metric.
        name: String,
        /// The offending key.
        label: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// A histogram was registered without buckets.
    #[error("histogram `{name}` has no buckets: give at least one upper bound")]
    EmptyBuckets {
        /// The metric.
        name: String,
    },
    /// Bucket bounds are not strictly increasing finite numbers.
    #[error("histogram `{name}` buckets must be finite and strictly increasing, got {buckets:?}")]
    UnsortedBuckets {
        /// The metric.
        name: String,
        /// The bounds given.
        buckets: Vec<f64>,
    },
    /// A counter or gauge was given buckets.
    #[error("`{name}` is a {kind}: only histograms take buckets")]
    BucketsOnNonHistogram {
        /// The metric.
        name: String,
        /// Its kind.
        kind: MetricKind,
    },
    /// The name is registered already with a different kind, labels or buckets.
    #[error(
        "metric `{name}` is already registered as a {existing_kind} with labels {existing_labels:?}; \
         the new definition differs"
    )]
    Conflict {
        /// The metric.
        name: String,
        /// Kind already registered.
        existing_kind: MetricKind,
        /// Labels already registered.
        existing_labels: Vec<String>,
    },
    /// No family of that name is registered.
    #[error("no metric named `{name}` is registered")]
    NotFound {
        /// The name looked up.
        name: String,
    },
    /// The family exists but is of another kind.
    #[error("metric `{name}` is a {actual}, not a {requested}")]
    WrongKind {
        /// The metric.
        name: String,
        /// Kind asked for.
        requested: MetricKind,
        /// Kind registered.
        actual: MetricKind,
    },
    /// The registry holds [`MAX_FAMILIES`] families already.
    #[error("the registry already holds {MAX_FAMILIES} metric families; `{name}` was not added")]
    Full {
        /// The metric not added.
        name: String,
    },
}

/// Kinds of instrumentation error, the values of `unitel_instrumentation_errors_total{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InstrumentationErrorKind {
    /// A label key the family does not declare.
    UndeclaredLabel,
    /// A wrong number of label values.
    LabelCount,
    /// A label value over 256 bytes, truncated.
    LabelValueTruncated,
    /// NaN, infinity, or a negative counter increment.
    InvalidValue,
    /// Recording by a name that is not registered and cannot be registered automatically.
    UnknownMetric,
    /// Recording a family as another kind than it was registered with.
    KindMismatch,
    /// A metric callback panicked.
    CallbackPanic,
    /// A family reached its series cap; the record went to the overflow series.
    CardinalityOverflow,
    /// A malformed input header (for example `traceparent`) was ignored.
    InvalidHeader,
}

impl InstrumentationErrorKind {
    /// Every kind, in label order.
    pub const ALL: [Self; 9] = [
        Self::UndeclaredLabel,
        Self::LabelCount,
        Self::LabelValueTruncated,
        Self::InvalidValue,
        Self::UnknownMetric,
        Self::KindMismatch,
        Self::CallbackPanic,
        Self::CardinalityOverflow,
        Self::InvalidHeader,
    ];

    /// The label value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UndeclaredLabel => "undeclared_label",
            Self::LabelCount => "label_count",
            Self::LabelValueTruncated => "label_value_truncated",
            Self::InvalidValue => "invalid_value",
            Self::UnknownMetric => "unknown_metric",
            Self::KindMismatch => "kind_mismatch",
            Self::CallbackPanic => "callback_panic",
            Self::CardinalityOverflow => "cardinality_overflow",
            Self::InvalidHeader => "invalid_header",
        }
    }

    const fn index(self) -> usize {
        match self {
            Self::UndeclaredLabel => 0,
            Self::LabelCount => 1,
            Self::LabelValueTruncated => 2,
            Self::InvalidValue => 3,
            Self::UnknownMetric => 4,
            Self::KindMismatch => 5,
            Self::CallbackPanic => 6,
            Self::CardinalityOverflow => 7,
            Self::InvalidHeader => 8,
        }
    }
}

/// State shared by a registry and all its families: limits, self-metrics, warning clocks.
pub(crate) struct Shared {
    max_series: AtomicUsize,
    errors: OnceLock<Vec<Arc<Series<CounterCell>>>>,
    export_failures: OnceLock<[Arc<Series<CounterCell>>; 2]>,
    overflow_family: OnceLock<Weak<Family<CounterCell>>>,
    last_warning: [AtomicU64; InstrumentationErrorKind::ALL.len()],
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    last_export_warning: [AtomicU64; 2],
    epoch: Instant,
    /// Length of the last exposition rendered: the next one's buffer starts that large.
    pub(crate) last_render_len: AtomicUsize,
}

impl Shared {
    pub(crate) fn max_series(&self) -> usize {
        self.max_series.load(Ordering::Relaxed)
    }

    /// Counts an instrumentation error and warns about it at most once a minute per kind.
    pub(crate) fn report(&self, kind: InstrumentationErrorKind, metric: &str, what: &str) {
        if let Some(c) = self.errors.get().and_then(|e| e.get(kind.index())) {
            c.cell.add_u64(1);
        }
        self.warn_once_a_minute(kind, metric, what);
    }

    /// Whether a warning guarded by `slot` may be logged now (at most once a minute).
    fn may_warn(&self, slot: &AtomicU64) -> bool {
        let now = self.epoch.elapsed().as_secs() + 60;
        let last = slot.load(Ordering::Relaxed);
        (last == 0 || now >= last + 60)
            && slot
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    /// Warns about an export failure at most once a minute per signal; all are counted.
    pub(crate) fn warn_export(&self, signal: &'static str, reason: &str) {
        let slot = &self.last_export_warning[usize::from(signal == catalog::SIGNAL_METRICS)];
        if self.may_warn(slot) {
            tracing::warn!(
                target: "unitel::internal",
                signal,
                reason,
                "telemetry export failed (further failures are counted in \
                 unitel_export_failures_total and reported at most once a minute)"
            );
        }
    }

    pub(crate) fn warn_once_a_minute(
        &self,
        kind: InstrumentationErrorKind,
        metric: &str,
        what: &str,
    ) {
        if self.may_warn(&self.last_warning[kind.index()]) {
            tracing::warn!(
                target: "unitel::internal",
                kind = kind.as_str(),
                metric,
                "{what} (further warnings of this kind are suppressed for a minute; all are counted \
                 in unitel_instrumentation_errors_total)"
            );
        }
    }

    pub(crate) fn overflow_series_for(&self, metric: &str) -> Option<Arc<Series<CounterCell>>> {
        let family = self.overflow_family.get()?.upgrade()?;
        Some(family.series(&[metric]))
    }

    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn export_failure(&self, signal_index: usize, count: u64) {
        if let Some(c) = self.export_failures.get().and_then(|e| e.get(signal_index)) {
            c.cell.add_u64(count);
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum AnyFamily {
    Counter(Arc<Family<CounterCell>>),
    Gauge(Arc<Family<GaugeCell>>),
    Histogram(Arc<Family<HistogramCell>>),
}

impl AnyFamily {
    pub(crate) fn def(&self) -> &MetricDefinition {
        match self {
            Self::Counter(f) => &f.def,
            Self::Gauge(f) => &f.def,
            Self::Histogram(f) => &f.def,
        }
    }
}

#[derive(Default)]
struct Families {
    list: Vec<AnyFamily>,
    by_name: hashbrown::HashMap<Box<str>, usize>,
}

struct Inner {
    families: RwLock<Families>,
    shared: Arc<Shared>,
}

/// A set of metric families. Cheap to clone (clones share the families).
///
/// Most code uses the process-wide [`registry()`](crate::registry()); tests and benchmarks create
/// their own with [`Registry::new`].
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
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
        let shared = Arc::new(Shared {
            max_series: AtomicUsize::new(DEFAULT_MAX_SERIES_PER_FAMILY),
            errors: OnceLock::new(),
            export_failures: OnceLock::new(),
            overflow_family: OnceLock::new(),
            last_warning: Default::default(),
            last_export_warning: Default::default(),
            epoch: Instant::now(),
            last_render_len: AtomicUsize::new(0),
        });
        let registry = Self {
            inner: Arc::new(Inner {
                families: RwLock::new(Families::default()),
                shared,
            }),
        };
        for d in catalog::ALL {
            // Catalog definitions are valid by construction (checked by a unit test).
            let _ = registry.insert(MetricDefinition::from(d), d.otlp_name);
        }
        let shared = &registry.inner.shared;
        let errors = registry.counter(&catalog::INSTRUMENTATION_ERRORS_TOTAL);
        let _ = shared.errors.set(
            InstrumentationErrorKind::ALL
                .iter()
                .map(|k| errors.family.series(&[k.as_str()]))
                .collect(),
        );
        let failures = registry.counter(&catalog::EXPORT_FAILURES_TOTAL);
        let _ = shared.export_failures.set([
            failures.family.series(&[catalog::SIGNAL_TRACES]),
            failures.family.series(&[catalog::SIGNAL_METRICS]),
        ]);
        let overflow = registry.counter(&catalog::SERIES_OVERFLOW_TOTAL);
        let _ = shared.overflow_family.set(Arc::downgrade(&overflow.family));
        registry
    }

    /// Sets the cap on distinct label sets per family (at least 1). Series already created stay.
    pub fn set_max_series_per_family(&self, max: usize) {
        self.inner
            .shared
            .max_series
            .store(max.max(1), Ordering::Relaxed);
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

    fn insert(
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

    fn get(&self, name: &str) -> Option<AnyFamily> {
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

    /// Every family, in registration order.
    pub(crate) fn families(&self) -> Vec<AnyFamily> {
        self.inner
            .families
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .list
            .clone()
    }

    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
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
    /// unknown (as the seed's helpers do). Misuse is counted, never raised.
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

    /// Renders every family in the Prometheus text format (version 0.0.4).
    #[must_use]
    pub fn render(&self) -> String {
        crate::export::prometheus::render_registry(self)
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

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn validate(def: &MetricDefinition) -> Result<(), RegistryError> {
    let name = &def.name;
    let invalid = |reason| {
        Err(RegistryError::InvalidName {
            name: name.clone(),
            reason,
        })
    };
    if !valid_name(name) {
        return invalid("use letters, digits, `_` and `:`, not starting with a digit");
    }
    if name.starts_with("__") {
        return invalid("names starting with `__` are reserved");
    }
    match def.kind {
        MetricKind::Counter if !name.ends_with("_total") => {
            return invalid("counter names end in `_total`");
        }
        MetricKind::Gauge | MetricKind::Histogram if name.ends_with("_total") => {
            return invalid("only counter names end in `_total`");
        }
        MetricKind::Histogram
            if ["_bucket", "_count", "_sum"]
                .iter()
                .any(|s| name.ends_with(s)) =>
        {
            return invalid("histogram names must not end in `_bucket`, `_count` or `_sum`");
        }
        _ => {}
    }
    let mut seen: Vec<String> = Vec::with_capacity(def.labels.len());
    for label in &def.labels {
        let bad = |reason| {
            Err(RegistryError::InvalidLabel {
                name: name.clone(),
                label: label.clone(),
                reason,
            })
        };
        let mut chars = label.chars();
        let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !ok {
            return bad("use letters, digits, `_` and `.`, starting with a letter or `_`");
        }
        if label.starts_with("__") {
            return bad("keys starting with `__` are reserved");
        }
        if def.kind == MetricKind::Histogram && label == "le" {
            return bad("`le` is reserved for histogram buckets");
        }
        if label == OVERFLOW_LABEL_KEY {
            return bad("reserved for the overflow series");
        }
        let sanitized = label.replace('.', "_");
        if seen.contains(&sanitized) {
            return bad("duplicate key (after `.` becomes `_`)");
        }
        seen.push(sanitized);
    }
    match def.kind {
        MetricKind::Histogram => {
            if def.buckets.is_empty() {
                return Err(RegistryError::EmptyBuckets { name: name.clone() });
            }
            let sorted = def.buckets.iter().all(|b| b.is_finite())
                && def.buckets.windows(2).all(|w| w[0] < w[1]);
            if !sorted {
                return Err(RegistryError::UnsortedBuckets {
                    name: name.clone(),
                    buckets: def.buckets.clone(),
                });
            }
        }
        kind if !def.buckets.is_empty() => {
            return Err(RegistryError::BucketsOnNonHistogram {
                name: name.clone(),
                kind,
            });
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str, kind: MetricKind, labels: &[&str], buckets: &[f64]) -> MetricDefinition {
        MetricDefinition {
            name: name.into(),
            kind,
            description: "d".into(),
            unit: String::new(),
            labels: labels.iter().map(|s| (*s).to_owned()).collect(),
            buckets: buckets.to_vec(),
        }
    }

    #[test]
    fn invalid_definitions_are_typed_errors() {
        let r = Registry::new();
        type Check = fn(&RegistryError) -> bool;
        let cases: Vec<(MetricDefinition, Check)> = vec![
            (def("9bad_total", MetricKind::Counter, &[], &[]), |e| {
                matches!(e, RegistryError::InvalidName { .. })
            }),
            (def("events", MetricKind::Counter, &[], &[]), |e| {
                matches!(e, RegistryError::InvalidName { .. })
            }),
            (def("queue_total", MetricKind::Gauge, &[], &[]), |e| {
                matches!(e, RegistryError::InvalidName { .. })
            }),
            (def("x_seconds", MetricKind::Histogram, &[], &[]), |e| {
                matches!(e, RegistryError::EmptyBuckets { .. })
            }),
            (
                def("x_seconds", MetricKind::Histogram, &[], &[2.0, 1.0]),
                |e| matches!(e, RegistryError::UnsortedBuckets { .. }),
            ),
            (
                def("x_seconds", MetricKind::Histogram, &["le"], &[1.0]),
                |e| matches!(e, RegistryError::InvalidLabel { .. }),
            ),
            (def("x_total", MetricKind::Counter, &["a-b"], &[]), |e| {
                matches!(e, RegistryError::InvalidLabel { .. })
            }),
            (
                def("x_total", MetricKind::Counter, &["a.b", "a_b"], &[]),
                |e| matches!(e, RegistryError::InvalidLabel { .. }),
            ),
            (
                def("http_requests_total", MetricKind::Counter, &["method"], &[]),
                |e| matches!(e, RegistryError::Conflict { .. }),
            ),
        ];
        for (d, check) in cases {
            let name = d.name.clone();
            let err = r.register(d).expect_err(&name);
            assert!(check(&err), "{name}: {err}");
            assert!(err.to_string().contains(&name), "{err}");
        }
    }

    #[test]
    fn reregistering_the_same_definition_is_fine() {
        let r = Registry::new();
        let d = def("jobs_total", MetricKind::Counter, &["queue"], &[]);
        r.register(d.clone()).unwrap();
        r.register(d).unwrap();
    }
}
