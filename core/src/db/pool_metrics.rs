//! [`DbPoolMetrics`]: the `db_connection*` families of one connection pool.

use std::time::Duration;

use crate::catalog;
use crate::registry::{Counter, Gauge, Histogram, Registry};
use crate::telemetry::Telemetry;

/// Connection-pool metrics of one pool, labelled `{pool, db_system}`: connections active, idle
/// and maximum, the acquire wait histogram and the acquire-timeout counter.
///
/// `pool` is a name the application configures (one per pool it creates), so the label set
/// stays bounded.
///
/// ```
/// use std::time::Duration;
/// use unitel::db::DbPoolMetrics;
///
/// let registry = unitel::Registry::new();
/// let pool = DbPoolMetrics::new(&registry, "main", "postgresql");
/// pool.set_connections(5, 2, 10);
/// pool.observe_acquire(Duration::from_millis(1));
/// assert_eq!(pool.active().value(), 3.0);
/// assert_eq!(pool.acquire_duration().snapshot().count(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct DbPoolMetrics {
    active: Gauge,
    idle: Gauge,
    max: Gauge,
    acquire_duration: Histogram,
    acquire_timeouts: Counter,
}

impl DbPoolMetrics {
    /// Handles on `registry` for the pool named `pool` of the database system `db_system`.
    #[must_use]
    pub fn new(registry: &Registry, pool: &str, db_system: &'static str) -> Self {
        let labels = [pool, db_system];
        Self {
            active: registry
                .gauge(&catalog::DB_CONNECTIONS_ACTIVE)
                .with_labels(&labels),
            idle: registry
                .gauge(&catalog::DB_CONNECTIONS_IDLE)
                .with_labels(&labels),
            max: registry
                .gauge(&catalog::DB_CONNECTIONS_MAX)
                .with_labels(&labels),
            acquire_duration: registry
                .histogram(&catalog::DB_CONNECTION_ACQUIRE_DURATION_SECONDS)
                .with_labels(&labels),
            acquire_timeouts: registry
                .counter(&catalog::DB_CONNECTION_ACQUIRE_TIMEOUTS_TOTAL)
                .with_labels(&labels),
        }
    }

    /// Handles on `telemetry`'s registry for the pool named `pool` of the database system
    /// `db_system`. Pool gauges describe the pool's state rather than its traffic, so they are
    /// recorded whatever the metrics switch says.
    ///
    /// ```
    /// let telemetry = unitel::Telemetry::new();
    /// let pool = unitel::db::DbPoolMetrics::for_telemetry(&telemetry, "main", "sqlite");
    /// pool.set_connections(2, 1, 4);
    /// assert!(unitel::prometheus::render_registry(telemetry.registry()).contains(
    ///     "db_connections_max{pool=\"main\",db_system=\"sqlite\"} 4"
    /// ));
    /// ```
    #[must_use]
    pub fn for_telemetry(telemetry: &Telemetry, pool: &str, db_system: &'static str) -> Self {
        Self::new(telemetry.registry(), pool, db_system)
    }

    /// Sets the gauges from a pool's `size` (open connections, idle included), `idle`
    /// connections and configured `max`: active = size − idle (never below zero).
    pub fn set_connections(&self, size: u32, idle: usize, max: u32) {
        let size = f64::from(size);
        #[allow(clippy::cast_precision_loss)]
        let idle = idle as f64;
        self.active.set((size - idle).max(0.0));
        self.idle.set(idle);
        self.max.set(f64::from(max));
    }

    /// Records the time one acquire waited (successful or not).
    pub fn observe_acquire(&self, waited: Duration) {
        self.acquire_duration.observe_duration(waited);
    }

    /// Counts an acquire that timed out.
    pub fn acquire_timed_out(&self) {
        self.acquire_timeouts.inc();
    }

    /// `db_connections_active` of this pool.
    #[must_use]
    pub fn active(&self) -> &Gauge {
        &self.active
    }

    /// `db_connections_idle` of this pool.
    #[must_use]
    pub fn idle(&self) -> &Gauge {
        &self.idle
    }

    /// `db_connections_max` of this pool.
    #[must_use]
    pub fn max(&self) -> &Gauge {
        &self.max
    }

    /// `db_connection_acquire_duration_seconds` of this pool.
    #[must_use]
    pub fn acquire_duration(&self) -> &Histogram {
        &self.acquire_duration
    }

    /// `db_connection_acquire_timeouts_total` of this pool.
    #[must_use]
    pub fn acquire_timeouts(&self) -> &Counter {
        &self.acquire_timeouts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_metrics_never_go_negative() {
        let registry = Registry::new();
        let m = DbPoolMetrics::new(&registry, "p", "sqlite");
        m.set_connections(1, 3, 5);
        assert_eq!(m.active().value(), 0.0);
        m.acquire_timed_out();
        assert_eq!(m.acquire_timeouts().value(), 1.0);
    }
}
