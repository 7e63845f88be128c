//! One metric family: its definition, its series keyed by label values, its cardinality cap.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use hashbrown::{Equivalent, HashMap};

use super::cell::{CounterCell, GaugeCell, HistogramCell};
use super::{InstrumentationErrorKind, MetricDefinition, Shared};

/// Label values longer than this are truncated (and the truncation counted): a label value is a
/// name from a bounded set, never a payload.
pub(crate) const MAX_LABEL_VALUE_LEN: usize = 256;

/// Label value every key of the overflow series carries.
pub(crate) const OVERFLOW_LABEL_KEY: &str = "otel_metric_overflow";

type Hasher64 = foldhash::fast::FixedState;

/// Storage of one series; implemented by the three cells.
pub(crate) trait Cell: Send + Sync + 'static {
    fn new(bounds: usize) -> Self;
}

impl Cell for CounterCell {
    fn new(_: usize) -> Self {
        Self::default()
    }
}
impl Cell for GaugeCell {
    fn new(_: usize) -> Self {
        Self::default()
    }
}
impl Cell for HistogramCell {
    fn new(bounds: usize) -> Self {
        HistogramCell::new(bounds)
    }
}

/// One series: its label values in declared key order, and its value.
#[derive(Debug)]
pub(crate) struct Series<C> {
    pub(crate) labels: Box<[Box<str>]>,
    pub(crate) cell: C,
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) start_unix_nanos: u64,
}

impl<C: Cell> Series<C> {
    pub(crate) fn new(labels: Box<[Box<str>]>, bounds: usize) -> Self {
        Self {
            labels,
            cell: C::new(bounds),
            start_unix_nanos: unix_nanos(SystemTime::now()),
        }
    }
}

pub(crate) fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Owned key of the series map.
#[derive(Debug, PartialEq, Eq)]
struct SeriesKey(Box<[Box<str>]>);

/// Borrowed key used for look-ups, so finding an existing series allocates nothing.
struct LookupKey<'a>(&'a [&'a str]);

fn hash_values<'a, H: Hasher>(values: impl Iterator<Item = &'a str>, state: &mut H) {
    for v in values {
        state.write(v.as_bytes());
        state.write_u8(0xff);
    }
}

impl Hash for SeriesKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_values(self.0.iter().map(|s| &**s), state);
    }
}

impl Hash for LookupKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_values(self.0.iter().copied(), state);
    }
}

impl Equivalent<SeriesKey> for LookupKey<'_> {
    fn equivalent(&self, key: &SeriesKey) -> bool {
        self.0.len() == key.0.len() && self.0.iter().zip(key.0.iter()).all(|(a, b)| *a == &**b)
    }
}

/// A callback run on each record of a family: `(metric name, recorded value, labels)`.
pub type MetricCallback = dyn Fn(&str, f64, &[(&str, &str)]) + Send + Sync;

#[derive(Default)]
struct Callbacks {
    active: AtomicBool,
    list: RwLock<Vec<Arc<MetricCallback>>>,
}

/// A metric family of one kind of cell.
pub(crate) struct Family<C> {
    pub(crate) def: MetricDefinition,
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) otlp_name: Option<Box<str>>,
    /// Label keys as the Prometheus exposition writes them (dots become underscores).
    pub(crate) prom_keys: Box<[Box<str>]>,
    series: RwLock<HashMap<SeriesKey, Arc<Series<C>>, Hasher64>>,
    overflow: Arc<Series<C>>,
    overflow_used: AtomicBool,
    overflow_counter: OnceLock<Option<Arc<Series<CounterCell>>>>,
    /// A series that belongs to no map: where records with unusable labels go.
    detached: Arc<Series<C>>,
    callbacks: Callbacks,
    pub(crate) shared: Arc<Shared>,
}

impl<C> std::fmt::Debug for Family<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.def.name)
            .finish_non_exhaustive()
    }
}

impl<C: Cell> Family<C> {
    pub(crate) fn new(def: MetricDefinition, otlp_name: Option<&str>, shared: Arc<Shared>) -> Self {
        let bounds = def.buckets.len();
        let empty: Box<[Box<str>]> = def.labels.iter().map(|_| Box::from("")).collect();
        let prom_keys = def
            .labels
            .iter()
            .map(|k| Box::from(k.replace('.', "_")))
            .collect();
        Self {
            otlp_name: otlp_name.map(Box::from),
            prom_keys,
            series: RwLock::new(HashMap::with_hasher(Hasher64::default())),
            overflow: Arc::new(Series::new(empty.clone(), bounds)),
            overflow_used: AtomicBool::new(false),
            overflow_counter: OnceLock::new(),
            detached: Arc::new(Series::new(empty, bounds)),
            callbacks: Callbacks::default(),
            def,
            shared,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.def.name
    }

    /// The series for `values` (in declared key order), created if new and under the cap.
    pub(crate) fn series(&self, values: &[&str]) -> Arc<Series<C>> {
        if values.len() != self.def.labels.len() {
            self.shared.report(
                InstrumentationErrorKind::LabelCount,
                &self.def.name,
                "wrong number of label values",
            );
            return Arc::clone(&self.detached);
        }
        if values.iter().any(|v| v.len() > MAX_LABEL_VALUE_LEN) {
            self.shared.report(
                InstrumentationErrorKind::LabelValueTruncated,
                &self.def.name,
                "label value longer than 256 bytes",
            );
            let truncated: Vec<&str> = values.iter().map(|v| truncate(v)).collect();
            return self.series_checked(&truncated);
        }
        self.series_checked(values)
    }

    /// Runs `record` on the series for `values`: an existing series is used under the map's
    /// read lock, without cloning a handle (no reference-count traffic); anything else takes
    /// the [`series`](Self::series) path (creation, cap, instrumentation errors).
    #[inline]
    pub(crate) fn with_series<R>(
        &self,
        values: &[&str],
        record: impl FnOnce(&Series<C>) -> R,
    ) -> R {
        if values.len() == self.def.labels.len()
            && values.iter().all(|v| v.len() <= MAX_LABEL_VALUE_LEN)
        {
            let map = self.series.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(s) = map.get(&LookupKey(values)) {
                return record(s);
            }
        }
        record(&self.series(values))
    }

    fn series_checked(&self, values: &[&str]) -> Arc<Series<C>> {
        let key = LookupKey(values);
        {
            let map = self.series.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(s) = map.get(&key) {
                return Arc::clone(s);
            }
        }
        let mut map = self.series.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = map.get(&key) {
            return Arc::clone(s);
        }
        if map.len() >= self.shared.max_series() {
            drop(map);
            return self.overflow();
        }
        let labels: Box<[Box<str>]> = values.iter().map(|v| Box::from(*v)).collect();
        let series = Arc::new(Series::new(labels.clone(), self.def.buckets.len()));
        map.insert(SeriesKey(labels), Arc::clone(&series));
        series
    }

    fn overflow(&self) -> Arc<Series<C>> {
        self.overflow_used.store(true, Ordering::Relaxed);
        let counter = self
            .overflow_counter
            .get_or_init(|| self.shared.overflow_series_for(&self.def.name));
        if let Some(c) = counter {
            c.cell.add_u64(1);
        }
        self.shared.warn_once_a_minute(
            InstrumentationErrorKind::CardinalityOverflow,
            &self.def.name,
            "series cap reached; new label sets go to the overflow series",
        );
        Arc::clone(&self.overflow)
    }

    /// Every live series, sorted by label values, then the overflow series if it was used.
    pub(crate) fn snapshot(&self) -> FamilySnapshot<C> {
        let mut series: Vec<Arc<Series<C>>> = {
            let map = self.series.read().unwrap_or_else(PoisonError::into_inner);
            map.values().cloned().collect()
        };
        series.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        FamilySnapshot {
            series,
            overflow: self
                .overflow_used
                .load(Ordering::Relaxed)
                .then(|| Arc::clone(&self.overflow)),
        }
    }

    pub(crate) fn series_count(&self) -> usize {
        self.series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub(crate) fn add_callback(&self, callback: Arc<MetricCallback>) {
        self.callbacks
            .list
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(callback);
        self.callbacks.active.store(true, Ordering::Release);
    }

    /// Runs the family's callbacks, if any. One relaxed load when there are none.
    #[inline]
    pub(crate) fn notify(&self, series: &Series<C>, value: f64) {
        if self.callbacks.active.load(Ordering::Relaxed) {
            self.notify_slow(series, value);
        }
    }

    #[cold]
    fn notify_slow(&self, series: &Series<C>, value: f64) {
        let callbacks: Vec<Arc<MetricCallback>> = self
            .callbacks
            .list
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let labels: Vec<(&str, &str)> = self
            .def
            .labels
            .iter()
            .map(String::as_str)
            .zip(series.labels.iter().map(|v| &**v))
            .collect();
        for cb in callbacks {
            let run = std::panic::AssertUnwindSafe(|| cb(&self.def.name, value, &labels));
            if std::panic::catch_unwind(run).is_err() {
                self.shared.report(
                    InstrumentationErrorKind::CallbackPanic,
                    &self.def.name,
                    "a metric callback panicked",
                );
            }
        }
    }

    /// Orders `pairs` by declared key; undeclared keys are reported and ignored, missing keys
    /// get the empty value.
    pub(crate) fn series_by_pairs(&self, pairs: &[(&str, &str)]) -> Arc<Series<C>> {
        const INLINE: usize = 8;
        let keys = &self.def.labels;
        for (k, _) in pairs {
            if !keys.iter().any(|d| d == k) {
                self.shared.report(
                    InstrumentationErrorKind::UndeclaredLabel,
                    &self.def.name,
                    "label key not declared for this metric",
                );
            }
        }
        let lookup = |key: &String| {
            pairs
                .iter()
                .find(|(k, _)| *k == key.as_str())
                .map_or("", |(_, v)| *v)
        };
        if keys.len() <= INLINE {
            let mut values = [""; INLINE];
            for (slot, key) in values.iter_mut().zip(keys) {
                *slot = lookup(key);
            }
            self.series(&values[..keys.len()])
        } else {
            let values: Vec<&str> = keys.iter().map(lookup).collect();
            self.series(&values)
        }
    }
}

/// The series of a family at one instant (values are read when formatted).
pub(crate) struct FamilySnapshot<C> {
    pub(crate) series: Vec<Arc<Series<C>>>,
    pub(crate) overflow: Option<Arc<Series<C>>>,
}

fn truncate(v: &str) -> &str {
    if v.len() <= MAX_LABEL_VALUE_LEN {
        return v;
    }
    let mut end = MAX_LABEL_VALUE_LEN;
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    &v[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "é".repeat(200);
        let t = truncate(&s);
        assert!(t.len() <= MAX_LABEL_VALUE_LEN);
        assert!(t.chars().all(|c| c == 'é'));
    }
}
