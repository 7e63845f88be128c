//! Each thread's cache of recently used series, so that recording to an existing series takes
//! no lock and writes no shared memory but the record itself.

use std::cell::RefCell;
use std::sync::{Arc, Weak};
use std::thread::LocalKey;

use super::cell::{CounterCell, GaugeCell, HistogramCell};
use super::family::{Family, Series};
use super::labels::same_labels;

/// Entries of each thread's series cache, per cell kind.
pub(super) const LOCAL_SLOTS: usize = 64;

/// A cell kind with a per-thread series cache.
pub(crate) trait LocalCache: Sized + 'static {
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

impl LocalCache for CounterCell {
    fn local_series() -> &'static LocalKey<RefCell<LocalSeries<Self>>> {
        &LOCAL_COUNTERS
    }
}
impl LocalCache for GaugeCell {
    fn local_series() -> &'static LocalKey<RefCell<LocalSeries<Self>>> {
        &LOCAL_GAUGES
    }
}
impl LocalCache for HistogramCell {
    fn local_series() -> &'static LocalKey<RefCell<LocalSeries<Self>>> {
        &LOCAL_HISTOGRAMS
    }
}

/// A thread's recently used series, found by (family, label values) without the family's
/// lock. Direct-mapped and fixed-size; series are never removed from a family, so an entry stays
/// valid (it keeps a series of a dropped registry alive at most until it is replaced).
///
/// A family is known by the address of its shared allocation. Each entry holds a [`Weak`] to
/// that allocation, so the address cannot be given to another family while the entry lives; a
/// hit compares pointers only.
pub(crate) struct LocalSeries<C> {
    slots: [Option<LocalEntry<C>>; LOCAL_SLOTS],
}

struct LocalEntry<C> {
    family: Weak<Family<C>>,
    hash: u64,
    series: Arc<Series<C>>,
}

impl<C> LocalSeries<C> {
    const fn new() -> Self {
        Self {
            slots: [const { None }; LOCAL_SLOTS],
        }
    }

    /// The series cached for `family` and `values` (`hash`: their `local_hash`), if any.
    #[inline]
    pub(super) fn get(
        &self,
        family: &Family<C>,
        hash: u64,
        values: &[&str],
    ) -> Option<&Arc<Series<C>>> {
        let entry = self.slots[slot(family, hash)].as_ref()?;
        (std::ptr::eq(entry.family.as_ptr(), family)
            && entry.hash == hash
            && same_labels(values, &entry.series.labels))
        .then_some(&entry.series)
    }

    /// Caches `series` as the one of `family` for the label values hashing to `hash`.
    pub(super) fn put(&mut self, family: &Arc<Family<C>>, hash: u64, series: &Arc<Series<C>>) {
        self.slots[slot(family, hash)] = Some(LocalEntry {
            family: Arc::downgrade(family),
            hash,
            series: Arc::clone(series),
        });
    }
}

/// The slot of (family, label hash): the high bits of the address times an odd constant, so
/// that families allocated near each other spread over the slots.
#[inline]
#[allow(clippy::cast_possible_truncation)] // the low bits pick the slot
fn slot<C>(family: &Family<C>, hash: u64) -> usize {
    let address = std::ptr::from_ref(family).addr() as u64;
    (hash ^ (address.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32)) as usize % LOCAL_SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{HTTP_REQUEST_DURATION_SECONDS, HTTP_REQUESTS_TOTAL};
    use crate::registry::Registry;

    fn value(registry: &Registry, values: &[&str]) -> f64 {
        registry
            .counter(&HTTP_REQUESTS_TOTAL)
            .with_labels(values)
            .value()
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
    fn a_dropped_family_is_not_mistaken_for_a_new_one() {
        // Families of dropped registries: a new family must never hit their cached entries,
        // whatever address it is given.
        for round in 0..50_u32 {
            let registry = Registry::new();
            let requests = registry.counter(&HTTP_REQUESTS_TOTAL);
            requests.inc_with(&["GET", "/same", "200"]);
            requests.inc_with(&["GET", "/same", "200"]);
            assert_eq!(
                value(&registry, &["GET", "/same", "200"]),
                2.0,
                "round {round}"
            );
        }
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
}
