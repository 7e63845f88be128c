//! Typed handles: take them once, keep them, record with one atomic operation.

use std::sync::Arc;

use super::InstrumentationErrorKind;
use super::cell::{CounterCell, GaugeCell, HistogramCell, HistogramValue};
use super::family::{Family, Series};

macro_rules! family_handle {
    ($(#[$doc:meta])* $family:ident => $handle:ident, $cell:ty) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $family {
            pub(crate) family: Arc<Family<$cell>>,
        }

        impl $family {
            /// The handle of the series with these label values, given in the family's declared
            /// key order. Creates the series if it is new and the family is under its cap;
            /// past the cap the handle points at the overflow series. A wrong number of values
            /// is an instrumentation error and gives a handle that records nowhere.
            #[must_use]
            pub fn with_labels(&self, values: &[&str]) -> $handle {
                $handle { series: self.family.series(values), family: Arc::clone(&self.family) }
            }

            /// Like [`with_labels`](Self::with_labels), with `(key, value)` pairs in any order.
            /// A key the family does not declare is an instrumentation error (counted, warned
            /// about at most once a minute) and is ignored; a declared key left out gets `""`.
            #[must_use]
            pub fn with_label_pairs(&self, pairs: &[(&str, &str)]) -> $handle {
                $handle {
                    series: self.family.series_by_pairs(pairs),
                    family: Arc::clone(&self.family),
                }
            }

            /// The family's exposition name.
            #[must_use]
            pub fn name(&self) -> &str {
                self.family.name()
            }

            /// The family's label keys, in the order [`with_labels`](Self::with_labels) takes them.
            #[must_use]
            pub fn label_keys(&self) -> &[String] {
                &self.family.def.labels
            }

            /// How many distinct label sets the family holds (the overflow series not included).
            #[must_use]
            pub fn series_count(&self) -> usize {
                self.family.series_count()
            }
        }

        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $handle {
            series: Arc<Series<$cell>>,
            family: Arc<Family<$cell>>,
        }

        impl $handle {
            /// The label values of this series, in declared key order.
            pub fn label_values(&self) -> impl Iterator<Item = &str> {
                self.series.labels.iter().map(|v| &**v)
            }
        }
    };
}

family_handle!(
    /// A counter family, or one of its series.
    ///
    /// ```
    /// let registry = unitel::Registry::new();
    /// let requests = registry.counter(&unitel::catalog::HTTP_REQUESTS_TOTAL);
    /// let ok = requests.with_labels(&["GET", "/api/items/{id}", "200"]);
    /// ok.inc();
    /// ok.add(2);
    /// assert_eq!(ok.value(), 3.0);
    /// ```
    CounterFamily => Counter, CounterCell);
family_handle!(
    /// A gauge family, or one of its series.
    ///
    /// ```
    /// let registry = unitel::Registry::new();
    /// let in_flight = registry
    ///     .gauge(&unitel::catalog::HTTP_REQUESTS_IN_FLIGHT)
    ///     .with_labels(&["GET", "/health"]);
    /// in_flight.inc();
    /// in_flight.dec();
    /// assert_eq!(in_flight.value(), 0.0);
    /// ```
    GaugeFamily => Gauge, GaugeCell);
family_handle!(
    /// A histogram family, or one of its series.
    ///
    /// ```
    /// let registry = unitel::Registry::new();
    /// let latency = registry
    ///     .histogram(&unitel::catalog::RAG_RETRIEVAL_LATENCY_SECONDS)
    ///     .with_labels(&["standard"]);
    /// latency.observe(0.012);
    /// assert_eq!(latency.snapshot().count(), 1);
    /// ```
    HistogramFamily => Histogram, HistogramCell);

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds a whole number.
    #[inline]
    pub fn add(&self, delta: u64) {
        counter_add(&self.family, &self.series, delta);
    }

    /// Adds a non-negative amount. Negative, NaN or infinite amounts are instrumentation errors
    /// and are not recorded: a counter never goes backwards.
    #[inline]
    pub fn add_f64(&self, delta: f64) {
        if !(delta.is_finite() && delta >= 0.0) {
            self.family.shared.report(
                InstrumentationErrorKind::InvalidValue,
                self.family.name(),
                "counter increment must be finite and non-negative",
            );
            return;
        }
        self.series.cell.add_f64(delta);
        self.family.notify(&self.series, delta);
    }

    /// The current total.
    #[must_use]
    pub fn value(&self) -> f64 {
        self.series.cell.value().as_f64()
    }
}

impl Gauge {
    /// Sets the value. NaN is an instrumentation error and is not recorded.
    #[inline]
    pub fn set(&self, value: f64) {
        gauge_set(&self.family, &self.series, value);
    }

    /// Adds `delta` (which may be negative).
    #[inline]
    pub fn add(&self, delta: f64) {
        if !delta.is_finite() {
            self.family.shared.report(
                InstrumentationErrorKind::InvalidValue,
                self.family.name(),
                "gauge delta must be finite",
            );
            return;
        }
        self.series.cell.add(delta);
        self.family.notify(&self.series, self.series.cell.value());
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// The current value.
    #[must_use]
    pub fn value(&self) -> f64 {
        self.series.cell.value()
    }
}

impl Histogram {
    /// Records one observation. NaN and infinite values are instrumentation errors.
    #[inline]
    pub fn observe(&self, value: f64) {
        histogram_observe(&self.family, &self.series, value);
    }

    /// Records a duration in seconds.
    #[inline]
    pub fn observe_duration(&self, elapsed: std::time::Duration) {
        self.observe(elapsed.as_secs_f64());
    }

    /// Bucket counts and sum of this series.
    #[must_use]
    pub fn snapshot(&self) -> HistogramValue {
        self.series.cell.snapshot()
    }
}

#[inline]
fn counter_add(family: &Family<CounterCell>, series: &Series<CounterCell>, delta: u64) {
    series.cell.add_u64(delta);
    #[allow(clippy::cast_precision_loss)]
    family.notify(series, delta as f64);
}

#[inline]
fn gauge_set(family: &Family<GaugeCell>, series: &Series<GaugeCell>, value: f64) {
    if value.is_nan() {
        family.shared.report(
            InstrumentationErrorKind::InvalidValue,
            family.name(),
            "gauge value is NaN",
        );
        return;
    }
    series.cell.set(value);
    family.notify(series, value);
}

#[inline]
fn histogram_observe(family: &Family<HistogramCell>, series: &Series<HistogramCell>, value: f64) {
    if !value.is_finite() {
        family.shared.report(
            InstrumentationErrorKind::InvalidValue,
            family.name(),
            "histogram observation must be finite",
        );
        return;
    }
    series.cell.observe(&family.def.buckets, value);
    family.notify(series, value);
}

/// Recording straight into a series found by its label values, when no handle is kept: no
/// handle is built, so an existing series costs the lookup and the atomic operation only.
impl CounterFamily {
    /// Adds one to the series with these label values (declared key order); same rules as
    /// [`with_labels`](Self::with_labels).
    ///
    /// ```
    /// let registry = unitel::Registry::new();
    /// let requests = registry.counter(&unitel::catalog::HTTP_REQUESTS_TOTAL);
    /// requests.inc_with(&["GET", "/api/items/{id}", "200"]);
    /// requests.add_with(&["GET", "/api/items/{id}", "200"], 2);
    /// assert_eq!(requests.with_labels(&["GET", "/api/items/{id}", "200"]).value(), 3.0);
    /// ```
    #[inline]
    pub fn inc_with(&self, values: &[&str]) {
        self.add_with(values, 1);
    }

    /// Adds a whole number to the series with these label values.
    #[inline]
    pub fn add_with(&self, values: &[&str], delta: u64) {
        self.family
            .with_series(values, |series| counter_add(&self.family, series, delta));
    }
}

impl GaugeFamily {
    /// Sets the series with these label values (declared key order).
    ///
    /// ```
    /// let registry = unitel::Registry::new();
    /// let in_flight = registry.gauge(&unitel::catalog::HTTP_REQUESTS_IN_FLIGHT);
    /// in_flight.set_with(&["GET", "/health"], 3.0);
    /// assert_eq!(in_flight.with_labels(&["GET", "/health"]).value(), 3.0);
    /// ```
    #[inline]
    pub fn set_with(&self, values: &[&str], value: f64) {
        self.family
            .with_series(values, |series| gauge_set(&self.family, series, value));
    }
}

impl HistogramFamily {
    /// Records one observation in the series with these label values (declared key order).
    ///
    /// ```
    /// let registry = unitel::Registry::new();
    /// let latency = registry.histogram(&unitel::catalog::RAG_RETRIEVAL_LATENCY_SECONDS);
    /// latency.observe_with(&["standard"], 0.012);
    /// assert_eq!(latency.with_labels(&["standard"]).snapshot().count(), 1);
    /// ```
    #[inline]
    pub fn observe_with(&self, values: &[&str], value: f64) {
        self.family.with_series(values, |series| {
            histogram_observe(&self.family, series, value);
        });
    }
}
