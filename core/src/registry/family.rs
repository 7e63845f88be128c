//! One metric family: its definition, its series keyed by label values, its cardinality cap.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::thread::LocalKey;
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
pub(crate) trait Cell: Send + Sync + Sized + 'static {
    fn new(bounds: usize) -> Self;

    /// This thread's cache of series of this kind found by label values.
    fn local_series() -> &'static LocalKey<RefCell<LocalSeries<Self>>>;
}

thread_local! {
    static LOCAL_COUNTERS: RefCell<LocalSeries<CounterCell>> =
        const { RefCell::new(LocalSeries::new()) };
    static LOCAL_GAUGES: RefCell<LocalSeries<GaugeCell>> =
        const { RefCell::new(LocalSeries::new()) };
    static LOCAL_HISTOGRAMS: RefCell<LocalSeries<HistogramCell>> =
        const { RefCell::new(LocalSeries::new()) };
}

impl Cell for CounterCell {
    fn new(_: usize) -> Self {
        Self::default()
    }

    fn local_series() -> &'static LocalKey<RefCell<LocalSeries<Self>>> {
        &LOCAL_COUNTERS
    }
}
impl Cell for GaugeCell {
    fn new(_: usize) -> Self {
        Self::default()
    }

    fn local_series() -> &'static LocalKey<RefCell<LocalSeries<Self>>> {
        &LOCAL_GAUGES
    }
}
impl Cell for HistogramCell {
    fn new(bounds: usize) -> Self {
        HistogramCell::new(bounds)
    }

    fn local_series() -> &'static LocalKey<RefCell<LocalSeries<Self>>> {
        &LOCAL_HISTOGRAMS
    }
}

/// Entries of each thread's series cache, per cell kind.
const LOCAL_SLOTS: usize = 64;

/// A thread's recently used series, found by (family, label values) without the family's
/// lock: a lookup on an existing series then writes no shared memory but the record itself.
/// Direct-mapped and fixed-size; series are never removed from a family, so an entry stays
/// valid (it keeps a series of a dropped registry alive at most until it is replaced).
pub(crate) struct LocalSeries<C> {
    slots: [Option<LocalEntry<C>>; LOCAL_SLOTS],
}

struct LocalEntry<C> {
    family: u64,
    hash: u64,
    series: Arc<Series<C>>,
}

impl<C> LocalSeries<C> {
    const fn new() -> Self {
        Self {
            slots: [const { None }; LOCAL_SLOTS],
        }
    }
}

#[allow(clippy::cast_possible_truncation)] // the low bits pick the slot
fn local_slot(family: u64, hash: u64) -> usize {
    (hash ^ family.wrapping_mul(0x9e37_79b9_7f4a_7c15)) as usize % LOCAL_SLOTS
}

/// Ids of families, for the thread-local caches (never reused, unlike addresses).
static NEXT_FAMILY_ID: AtomicU64 = AtomicU64::new(1);

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
        same_labels(self.0, &key.0)
    }
}

fn same_labels(values: &[&str], labels: &[Box<str>]) -> bool {
    values.len() == labels.len()
        && values
            .iter()
            .zip(labels)
            .all(|(a, b)| same_bytes(a.as_bytes(), b.as_bytes()))
}

/// `a == b`, without a `memcmp` call for the short strings label values usually are.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 16 {
        // Below 8 bytes `head_u64` covers every byte; up to 16 the first and the last 8 do.
        return head_u64(a) == head_u64(b) && tail_u64(a) == tail_u64(b);
    }
    a == b
}

/// The first 8 bytes; a shorter slice is packed so that every byte counts (for slices of
/// the same length, equal packings mean equal bytes).
#[inline]
fn head_u64(b: &[u8]) -> u64 {
    let n = b.len();
    if let Some(first) = b.first_chunk::<8>() {
        u64::from_le_bytes(*first)
    } else if let (Some(lo), Some(hi)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        u64::from(u32::from_le_bytes(*lo)) | (u64::from(u32::from_le_bytes(*hi)) << 32)
    } else if n > 0 {
        u64::from(b[0]) | (u64::from(b[n / 2]) << 8) | (u64::from(b[n - 1]) << 16)
    } else {
        0
    }
}

/// The last 8 bytes (`head_u64` of a shorter slice).
#[inline]
fn tail_u64(b: &[u8]) -> u64 {
    match b.last_chunk::<8>() {
        Some(last) => u64::from_le_bytes(*last),
        None => head_u64(b),
    }
}

/// A quick hash of label values for the thread-local caches, whose entries are compared in
/// full (a collision only costs a trip to the map): the length and the first, middle and last
/// 8 bytes of each value.
#[inline]
fn local_hash(values: &[&str]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = values.len() as u64;
    for v in values {
        let b = v.as_bytes();
        let middle = head_u64(&b[(b.len() / 2).saturating_sub(4)..]);
        h = (h ^ head_u64(b)).wrapping_mul(K).rotate_left(27);
        h = (h ^ tail_u64(b) ^ (b.len() as u64))
            .wrapping_mul(K)
            .rotate_left(27);
        h = (h ^ middle).wrapping_mul(K);
    }
    h ^ (h >> 32)
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
    /// Process-unique id (key of the thread-local series caches).
    id: u64,
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
            id: NEXT_FAMILY_ID.fetch_add(1, Ordering::Relaxed),
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
        &self,
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
                && let Some(entry) = &local.slots[local_slot(self.id, hash)]
                && entry.family == self.id
                && entry.hash == hash
                && same_labels(values, &entry.series.labels)
            {
                return record(&entry.series);
            }
            record(&self.series_from_map(values, hash))
        })
    }

    /// Remembers `series` in this thread's cache (when it is not borrowed).
    fn remember(&self, hash: u64, series: &Arc<Series<C>>) {
        let _ = C::local_series().try_with(|local| {
            if let Ok(mut local) = local.try_borrow_mut() {
                local.slots[local_slot(self.id, hash)] = Some(LocalEntry {
                    family: self.id,
                    hash,
                    series: Arc::clone(series),
                });
            }
        });
    }

    /// The series for checked `values` (`hash`: their [`local_hash`]): from this thread's
    /// cache, else [`series_from_map`](Self::series_from_map).
    fn series_checked(&self, values: &[&str], hash: u64) -> Arc<Series<C>> {
        let found = C::local_series().try_with(|local| {
            let local = local.try_borrow().ok()?;
            let entry = local.slots[local_slot(self.id, hash)].as_ref()?;
            (entry.family == self.id
                && entry.hash == hash
                && same_labels(values, &entry.series.labels))
            .then(|| Arc::clone(&entry.series))
        });
        match found {
            Ok(Some(series)) => series,
            _ => self.series_from_map(values, hash),
        }
    }

    /// The series for checked `values` from the family's map, created if new and under the
    /// cap; remembered in this thread's cache.
    fn series_from_map(&self, values: &[&str], hash: u64) -> Arc<Series<C>> {
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
    pub(crate) series: Arc<[Arc<Series<C>>]>,
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
    use crate::Registry;
    use crate::catalog::{HTTP_REQUEST_DURATION_SECONDS, HTTP_REQUESTS_TOTAL};

    fn value(registry: &Registry, values: &[&str]) -> f64 {
        registry
            .counter(&HTTP_REQUESTS_TOTAL)
            .with_labels(values)
            .value()
    }

    proptest::proptest! {
        #[test]
        fn same_bytes_is_equality(a in proptest::collection::vec(0u8..4, 0..40),
                                  b in proptest::collection::vec(0u8..4, 0..40)) {
            proptest::prop_assert_eq!(same_bytes(&a, &b), a == b);
            proptest::prop_assert!(same_bytes(&a, &a.clone()));
            if a == b {
                let (x, y) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
                proptest::prop_assert_eq!(local_hash(&[&x]), local_hash(&[&y]));
            }
        }
    }

    #[test]
    fn the_thread_cache_keeps_registries_and_label_sets_apart() {
        let (a, b) = (Registry::new(), Registry::new());
        let (ca, cb) = (
            a.counter(&HTTP_REQUESTS_TOTAL),
            b.counter(&HTTP_REQUESTS_TOTAL),
        );
        // More label sets than cache slots, recorded round-robin, in both registries.
        let sets: Vec<[String; 3]> = (0..LOCAL_SLOTS * 3)
            .map(|i| ["GET".into(), format!("/r/{i}"), "200".into()])
            .collect();
        for round in 1..=3_u32 {
            for (i, set) in sets.iter().enumerate() {
                let values = [set[0].as_str(), set[1].as_str(), set[2].as_str()];
                ca.inc_with(&values);
                if i % 2 == 0 {
                    cb.add_with(&values, 10);
                }
                assert_eq!(value(&a, &values), f64::from(round));
            }
        }
        for (i, set) in sets.iter().enumerate() {
            let values = [set[0].as_str(), set[1].as_str(), set[2].as_str()];
            assert_eq!(value(&a, &values), 3.0);
            let expected = if i % 2 == 0 { 30.0 } else { 0.0 };
            assert_eq!(value(&b, &values), expected, "{values:?}");
        }
    }

    #[test]
    fn a_render_after_new_series_lists_them_in_order() {
        let registry = Registry::new();
        let requests = registry.counter(&HTTP_REQUESTS_TOTAL);
        let line = |route: &str, n: u32| {
            format!("http_requests_total{{method=\"GET\",route=\"{route}\",status=\"200\"}} {n}")
        };
        requests.inc_with(&["GET", "/b", "200"]);
        assert!(registry.render().contains(&line("/b", 1)));
        requests.inc_with(&["GET", "/c", "200"]);
        requests.inc_with(&["GET", "/a", "200"]);
        requests.inc_with(&["GET", "/b", "200"]);
        let text = registry.render();
        let at = |route| text.find(&line(route, if route == "/b" { 2 } else { 1 }));
        let (a, b, c) = (at("/a"), at("/b"), at("/c"));
        assert!(a.is_some() && b.is_some() && c.is_some(), "{text}");
        assert!(a < b && b < c, "{text}");
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

    #[test]
    fn records_from_a_thread_local_destructor_are_counted() {
        struct RecordOnExit(Registry);
        impl Drop for RecordOnExit {
            fn drop(&mut self) {
                let requests = self.0.counter(&HTTP_REQUESTS_TOTAL);
                let duration = self.0.histogram(&HTTP_REQUEST_DURATION_SECONDS);
                for _ in 0..2 {
                    requests.inc_with(&["GET", "/exit", "200"]);
                    duration.observe_with(&["GET", "/exit", "200"], 0.1);
                }
            }
        }
        thread_local! {
            static ON_EXIT: std::cell::RefCell<Option<RecordOnExit>> =
                const { std::cell::RefCell::new(None) };
        }
        let registry = Registry::new();
        let for_thread = registry.clone();
        std::thread::spawn(move || {
            // Used before the caches, so destroyed after them (reverse order of registration
            // is not guaranteed; either way every record must count).
            ON_EXIT.with(|slot| *slot.borrow_mut() = Some(RecordOnExit(for_thread.clone())));
            for_thread
                .counter(&HTTP_REQUESTS_TOTAL)
                .inc_with(&["GET", "/exit", "200"]);
        })
        .join()
        .unwrap();
        assert_eq!(value(&registry, &["GET", "/exit", "200"]), 3.0);
        assert_eq!(
            registry
                .histogram(&HTTP_REQUEST_DURATION_SECONDS)
                .with_labels(&["GET", "/exit", "200"])
                .snapshot()
                .count(),
            2
        );
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "é".repeat(200);
        let t = truncate(&s);
        assert!(t.len() <= MAX_LABEL_VALUE_LEN);
        assert!(t.chars().all(|c| c == 'é'));
    }
}
