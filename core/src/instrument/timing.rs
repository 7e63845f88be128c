//! Timing an operation by metric name: [`time_operation`] and [`OperationTimer`].

use std::future::Future;
use std::time::{Duration, Instant};

use crate::catalog::{self, MetricKind};
use crate::registry::{
    Histogram, InstrumentationErrorKind, MetricDefinition, Registry, RegistryError,
};
use crate::telemetry::Telemetry;

/// Finds (or registers on first use, with [`catalog::DEFAULT_BUCKETS`]) the histogram `metric`
/// with the keys of `labels`. Misuse is counted as an instrumentation error and gives `None`.
fn histogram_by_name(
    registry: &Registry,
    metric: &str,
    labels: &[(&str, &str)],
) -> Option<Histogram> {
    let family = match registry.histogram_family(metric) {
        Ok(f) => Ok(f),
        Err(RegistryError::NotFound { .. }) => registry
            .register(MetricDefinition {
                name: metric.to_owned(),
                kind: MetricKind::Histogram,
                description: format!("{metric} (registered on first use)"),
                unit: "s".to_owned(),
                labels: labels.iter().map(|(k, _)| (*k).to_owned()).collect(),
                buckets: catalog::DEFAULT_BUCKETS.to_vec(),
            })
            .and_then(|()| registry.histogram_family(metric)),
        Err(e) => Err(e),
    };
    match family {
        Ok(f) => Some(f.with_label_pairs(labels)),
        Err(e) => {
            let kind = if matches!(e, RegistryError::WrongKind { .. }) {
                InstrumentationErrorKind::KindMismatch
            } else {
                InstrumentationErrorKind::UnknownMetric
            };
            registry.report_instrumentation_error(kind, &e.to_string());
            None
        }
    }
}

/// Times an operation: observes the elapsed seconds in the histogram `metric` when dropped.
///
/// `metric` is registered on first use (with the keys of `labels` and
/// [`catalog::DEFAULT_BUCKETS`]) unless it exists already, as in the catalog's
/// `db_query_duration_seconds`. Label keys the family does not declare are counted as
/// instrumentation errors and ignored.
///
/// ```
/// {
///     let _timer = unitel::instrument::time_operation("report_render_seconds", &[("format", "pdf")]);
///     // ... render ...
/// }
/// assert!(unitel::prometheus::render()
///     .contains("report_render_seconds_count{format=\"pdf\"} 1"));
/// ```
pub fn time_operation(metric: &str, labels: &[(&str, &str)]) -> OperationTimer {
    OperationTimer {
        histogram: histogram_by_name(Telemetry::global().registry(), metric, labels),
        start: Instant::now(),
    }
}

/// Observes the time from its creation to its drop (or [`stop`](Self::stop)) in a histogram.
#[derive(Debug)]
#[must_use = "the timer observes when dropped; bind it to a variable (`let _timer = ...`)"]
pub struct OperationTimer {
    histogram: Option<Histogram>,
    start: Instant,
}

impl OperationTimer {
    /// A timer observing into `histogram`, e.g. a handle from the catalog:
    ///
    /// ```
    /// use unitel::instrument::OperationTimer;
    ///
    /// let latency = unitel::Telemetry::global()
    ///     .registry()
    ///     .histogram(&unitel::catalog::DB_QUERY_DURATION_SECONDS)
    ///     .with_labels(&["sqlite", "select"]);
    /// let timer = OperationTimer::new(latency.clone());
    /// let elapsed = timer.stop();
    /// assert_eq!(latency.snapshot().count(), 1);
    /// assert!(elapsed.as_secs() < 60);
    /// ```
    pub fn new(histogram: Histogram) -> Self {
        Self {
            histogram: Some(histogram),
            start: Instant::now(),
        }
    }

    /// Time since the timer started.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Observes now and returns the elapsed time.
    pub fn stop(mut self) -> Duration {
        let elapsed = self.start.elapsed();
        if let Some(h) = self.histogram.take() {
            h.observe_duration(elapsed);
        }
        elapsed
    }

    /// Drops the timer without observing anything.
    pub fn discard(mut self) {
        self.histogram = None;
    }

    /// Runs `future` and observes its duration when it completes (or is dropped unfinished).
    pub async fn time<F: Future>(self, future: F) -> F::Output {
        let output = future.await;
        drop(self);
        output
    }
}

impl Drop for OperationTimer {
    fn drop(&mut self) {
        if let Some(h) = self.histogram.take() {
            h.observe_duration(self.start.elapsed());
        }
    }
}
