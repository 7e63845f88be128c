//! State a registry shares with all its families: the series cap, the self-metrics
//! (instrumentation errors, export failures, series overflow) and the clocks that keep
//! warnings to one a minute.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use super::cell::CounterCell;
use super::family::{Family, Series};
use super::{DEFAULT_MAX_SERIES_PER_FAMILY, InstrumentationErrorKind};
use crate::catalog;

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
    /// Fresh state with the default series cap; the self-metrics are wired by
    /// [`attach_self_metrics`](Self::attach_self_metrics) once their families exist.
    pub(super) fn new() -> Self {
        Self {
            max_series: AtomicUsize::new(DEFAULT_MAX_SERIES_PER_FAMILY),
            errors: OnceLock::new(),
            export_failures: OnceLock::new(),
            overflow_family: OnceLock::new(),
            last_warning: Default::default(),
            last_export_warning: Default::default(),
            epoch: Instant::now(),
            last_render_len: AtomicUsize::new(0),
        }
    }

    /// Where instrumentation errors, export failures and overflowing records are counted:
    /// one series per [`InstrumentationErrorKind`] (in [`InstrumentationErrorKind::ALL`]
    /// order), the traces and metrics series of the export failures, and the overflow family.
    pub(super) fn attach_self_metrics(
        &self,
        errors: Vec<Arc<Series<CounterCell>>>,
        export_failures: [Arc<Series<CounterCell>>; 2],
        overflow_family: Weak<Family<CounterCell>>,
    ) {
        let _ = self.errors.set(errors);
        let _ = self.export_failures.set(export_failures);
        let _ = self.overflow_family.set(overflow_family);
    }

    pub(super) fn set_max_series(&self, max: usize) {
        self.max_series.store(max.max(1), Ordering::Relaxed);
    }

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
