//! Lock-free storage of one series' value.

use std::sync::atomic::{AtomicU64, Ordering};

/// Largest integer an `f64` represents exactly; integer increments below it take the fast path.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

fn add_f64(cell: &AtomicU64, delta: f64) {
    let mut current = cell.load(Ordering::Relaxed);
    loop {
        let next = (f64::from_bits(current) + delta).to_bits();
        match cell.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

/// A monotonic total. Whole increments are one `fetch_add`; fractional ones a CAS on a float part.
#[derive(Debug, Default)]
pub(crate) struct CounterCell {
    whole: AtomicU64,
    fraction: AtomicU64,
}

impl CounterCell {
    #[inline]
    pub(crate) fn add_u64(&self, delta: u64) {
        self.whole.fetch_add(delta, Ordering::Relaxed);
    }

    /// Adds a non-negative finite value; the caller has validated it.
    #[inline]
    pub(crate) fn add_f64(&self, delta: f64) {
        if delta.fract() == 0.0 && delta < MAX_EXACT {
            // Truncation is exact here: delta is a non-negative whole number below 2^53.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            self.whole.fetch_add(delta as u64, Ordering::Relaxed);
        } else {
            add_f64(&self.fraction, delta);
        }
    }

    pub(crate) fn value(&self) -> CounterValue {
        CounterValue {
            whole: self.whole.load(Ordering::Relaxed),
            fraction: f64::from_bits(self.fraction.load(Ordering::Relaxed)),
        }
    }
}

/// A counter's value split the way it is stored, so whole counts print without float noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CounterValue {
    pub(crate) whole: u64,
    pub(crate) fraction: f64,
}

impl CounterValue {
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn as_f64(self) -> f64 {
        self.whole as f64 + self.fraction
    }
}

/// A value that is set or moved up and down.
#[derive(Debug, Default)]
pub(crate) struct GaugeCell {
    bits: AtomicU64,
}

impl GaugeCell {
    #[inline]
    pub(crate) fn set(&self, value: f64) {
        self.bits.store(value.to_bits(), Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn add(&self, delta: f64) {
        add_f64(&self.bits, delta);
    }

    pub(crate) fn value(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }
}

/// Bucket counts (not cumulative), and a sum. The count is the sum of the buckets, so a
/// snapshot's `_count` always equals its `+Inf` bucket.
#[derive(Debug)]
pub(crate) struct HistogramCell {
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl HistogramCell {
    pub(crate) fn new(bounds: usize) -> Self {
        Self {
            buckets: (0..=bounds).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Records a finite value; the caller has validated it.
    #[inline]
    pub(crate) fn observe(&self, bounds: &[f64], value: f64) {
        let index = if bounds.len() <= 16 {
            bounds
                .iter()
                .position(|b| value <= *b)
                .unwrap_or(bounds.len())
        } else {
            bounds.partition_point(|b| *b < value)
        };
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        add_f64(&self.sum, value);
    }

    pub(crate) fn snapshot(&self) -> HistogramValue {
        HistogramValue {
            buckets: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
        }
    }

    /// Calls `f` with each bucket count without allocating.
    pub(crate) fn for_each_bucket(&self, mut f: impl FnMut(u64)) {
        for b in &*self.buckets {
            f(b.load(Ordering::Relaxed));
        }
    }

    pub(crate) fn sum(&self) -> f64 {
        f64::from_bits(self.sum.load(Ordering::Relaxed))
    }
}

/// A histogram's bucket counts (one per bound plus `+Inf`, not cumulative) and sum.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramValue {
    /// Observations per bucket; the last is the `+Inf` bucket.
    pub buckets: Vec<u64>,
    /// Sum of all observations.
    pub sum: f64,
}

impl HistogramValue {
    /// Total number of observations.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_keeps_whole_and_fractional_parts() {
        let c = CounterCell::default();
        c.add_u64(3);
        c.add_f64(2.0);
        c.add_f64(0.25);
        let v = c.value();
        assert_eq!(v.whole, 5);
        assert!((v.as_f64() - 5.25).abs() < 1e-12);
    }

    #[test]
    fn histogram_places_values_on_upper_inclusive_bounds() {
        let bounds = [1.0, 2.0, 5.0];
        let h = HistogramCell::new(bounds.len());
        for v in [0.5, 1.0, 1.5, 5.0, 7.0] {
            h.observe(&bounds, v);
        }
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![2, 1, 1, 1]);
        assert_eq!(s.count(), 5);
        assert!((s.sum - 15.0).abs() < 1e-12);
    }

    #[test]
    fn long_bound_lists_use_binary_search_with_the_same_placement() {
        let bounds: Vec<f64> = (1..=40).map(f64::from).collect();
        let h = HistogramCell::new(bounds.len());
        h.observe(&bounds, 3.0);
        h.observe(&bounds, 3.5);
        h.observe(&bounds, 41.0);
        let s = h.snapshot();
        assert_eq!(s.buckets[2], 1);
        assert_eq!(s.buckets[3], 1);
        assert_eq!(s.buckets[40], 1);
    }
}
