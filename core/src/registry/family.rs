//! One metric family: its definition, its series keyed by label values, its cardinality cap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use hashbrown::HashMap;

use super::cell::{CounterCell, GaugeCell, HistogramCell};
use super::labels::{LookupKey, MAX_LABEL_VALUE_LEN, SeriesKey, local_hash, truncate};
use super::local_cache::LocalCache;
use super::shared::Shared;
use super::{InstrumentationErrorKind, MetricDefinition};

type Hasher64 = foldhash::fast::FixedState;

/// Storage of one series; implemented by the three cells.
pub(crate) trait Cell: LocalCache + Send + Sync {
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
    /// The series sorted by label values, as of the last snapshot.
    sorted: Mutex<Arc<[Arc<Series<C>>]>>,
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
            sorted: Mutex::new(Arc::from([])),
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
    pub(crate) fn series(self: &Arc<Self>, values: &[&str]) -> Arc<Series<C>> {
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
            return self.series_checked(&truncated, local_hash(&truncated));
        }
        self.series_checked(values, local_hash(values))
    }

    /// Runs `record` on the series for `values`: one this thread used recently is found in
    /// its cache (no lock, no reference-count traffic); another existing one under the map's
    /// read lock (and remembered); anything else takes the [`series`](Self::series) path
    /// (creation, cap, instrumentation errors).
    #[inline]
    pub(crate) fn with_series<R>(
        self: &Arc<Self>,
        values: &[&str],
        record: impl FnOnce(&Series<C>) -> R,
    ) -> R {
        let usable = values.len() == self.def.labels.len()
            && values.iter().all(|v| v.len() <= MAX_LABEL_VALUE_LEN);
        // The cache is gone while the thread's locals are destroyed: then the map path.
        if !usable || C::local_series().try_with(|_| ()).is_err() {
            return record(&self.series(values));
        }
        let hash = local_hash(values);
        C::local_series().with(|local| {
            // A callback recording from inside `record` finds the cache borrowed and takes
            // the map path.
            if let Ok(local) = local.try_borrow()
                && let Some(series) = local.get(self, hash, values)
            {
                return record(series);
            }
            record(&self.series_from_map(values, hash))
        })
    }

    /// Remembers `series` in this thread's cache (when it is not borrowed).
    fn remember(self: &Arc<Self>, hash: u64, series: &Arc<Series<C>>) {
        let _ = C::local_series().try_with(|local| {
            if let Ok(mut local) = local.try_borrow_mut() {
                local.put(self, hash, series);
            }
        });
    }

    /// The series for checked `values` (`hash`: their `local_hash`): from this thread's
    /// cache, else [`series_from_map`](Self::series_from_map).
    fn series_checked(self: &Arc<Self>, values: &[&str], hash: u64) -> Arc<Series<C>> {
        let found = C::local_series().try_with(|local| {
            let local = local.try_borrow().ok()?;
            local.get(self, hash, values).map(Arc::clone)
        });
        match found {
            Ok(Some(series)) => series,
            _ => self.series_from_map(values, hash),
        }
    }

    /// The series for checked `values` from the family's map, created if new and under the
    /// cap; remembered in this thread's cache.
    fn series_from_map(self: &Arc<Self>, values: &[&str], hash: u64) -> Arc<Series<C>> {
        let key = LookupKey(values);
        {
            let map = self.series.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(s) = map.get(&key) {
                let series = Arc::clone(s);
                drop(map);
                self.remember(hash, &series);
                return series;
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
        drop(map);
        self.remember(hash, &series);
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
    /// Series are never removed, so the sorted list is rebuilt only when the family has grown
    /// since the last snapshot.
    pub(crate) fn snapshot(&self) -> FamilySnapshot<C> {
        let mut sorted = self.sorted.lock().unwrap_or_else(PoisonError::into_inner);
        if sorted.len() != self.series_count() {
            let mut all: Vec<Arc<Series<C>>> = {
                let map = self.series.read().unwrap_or_else(PoisonError::into_inner);
                map.values().cloned().collect()
            };
            all.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
            *sorted = all.into();
        }
        let series = Arc::clone(&sorted);
        drop(sorted);
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
    pub(crate) fn series_by_pairs(self: &Arc<Self>, pairs: &[(&str, &str)]) -> Arc<Series<C>> {
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
    pub(crate) series: Arc<[Arc<Series<C>>]>,
    pub(crate) overflow: Option<Arc<Series<C>>>,
}

#[cfg(test)]
mod tests {
    use crate::catalog::HTTP_REQUESTS_TOTAL;
    use crate::registry::Registry;

    fn value(registry: &Registry, values: &[&str]) -> f64 {
        registry
            .counter(&HTTP_REQUESTS_TOTAL)
            .with_labels(values)
            .value()
    }

    #[test]
    fn a_callback_recording_from_inside_a_record_is_counted() {
        let registry = Registry::new();
        let requests = registry.counter(&HTTP_REQUESTS_TOTAL);
        let nested = requests.clone();
        registry
            .add_callback("http_requests_total", move |_, _, labels| {
                if labels.iter().any(|(_, v)| *v == "outer") {
                    nested.inc_with(&["GET", "inner", "200"]);
                    nested.inc_with(&["GET", "outer-seen", "200"]);
                }
            })
            .unwrap();
        for _ in 0..3 {
            requests.inc_with(&["GET", "outer", "200"]);
        }
        assert_eq!(value(&registry, &["GET", "outer", "200"]), 3.0);
        assert_eq!(value(&registry, &["GET", "inner", "200"]), 3.0);
        assert_eq!(value(&registry, &["GET", "outer-seen", "200"]), 3.0);
    }
}
