//! [`DbClientMetrics`]: `db_queries_total` and `db_query_duration_seconds` of one database
//! system, with handles resolved once per [`DbOperation`].

use std::sync::OnceLock;
use std::time::Duration;

use super::DbOperation;
use crate::catalog;
use crate::registry::{Counter, CounterFamily, Histogram, HistogramFamily, Registry};
use crate::telemetry::Telemetry;

/// Outcome of a query, the `status` label of `db_queries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryStatus {
    /// The database answered without error.
    Ok,
    /// The query failed (including failing to get a connection).
    Error,
}

impl QueryStatus {
    /// The label value: `ok` or `error`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
        }
    }
}

#[derive(Debug)]
struct OperationHandles {
    ok: Counter,
    error: Counter,
    duration: Histogram,
}

/// Query metrics of one database system: `db_queries_total{db_system, operation, status}` and
/// `db_query_duration_seconds{db_system, operation}`. Handles are resolved once per operation,
/// then each record is two atomic operations.
///
/// ```
/// use std::time::Duration;
/// use unitel::db::{DbClientMetrics, DbOperation, QueryStatus};
///
/// let registry = unitel::Registry::new();
/// let metrics = DbClientMetrics::new(&registry, "postgresql");
/// metrics.record_query(DbOperation::Select, QueryStatus::Ok, Duration::from_millis(3));
/// assert!(unitel::prometheus::render_registry(&registry).contains(
///     "db_queries_total{db_system=\"postgresql\",operation=\"SELECT\",status=\"ok\"} 1"
/// ));
/// ```
#[derive(Debug)]
pub struct DbClientMetrics {
    telemetry: Telemetry,
    db_system: &'static str,
    queries: CounterFamily,
    durations: HistogramFamily,
    by_operation: [OnceLock<OperationHandles>; DbOperation::ALL.len()],
}

impl DbClientMetrics {
    /// Handles on `registry` for the database system `db_system` (an OpenTelemetry
    /// `db.system.name` value such as `postgresql`, `sqlite`, `mysql`); metrics on or off as
    /// the process-wide [`Telemetry::global`] says.
    #[must_use]
    pub fn new(registry: &Registry, db_system: &'static str) -> Self {
        Self::with_telemetry_registry(Telemetry::global(), registry, db_system)
    }

    /// Handles on `telemetry`'s registry, with its metrics switch.
    #[must_use]
    pub fn for_telemetry(telemetry: &Telemetry, db_system: &'static str) -> Self {
        Self::with_telemetry_registry(telemetry, telemetry.registry(), db_system)
    }

    fn with_telemetry_registry(
        telemetry: &Telemetry,
        registry: &Registry,
        db_system: &'static str,
    ) -> Self {
        Self {
            telemetry: telemetry.clone(),
            db_system,
            queries: registry.counter(&catalog::DB_QUERIES_TOTAL),
            durations: registry.histogram(&catalog::DB_QUERY_DURATION_SECONDS),
            by_operation: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// The `db_system` label value.
    #[must_use]
    pub fn db_system(&self) -> &'static str {
        self.db_system
    }

    fn handles(&self, operation: DbOperation) -> &OperationHandles {
        self.by_operation[operation.index()].get_or_init(|| {
            let op = operation.as_str();
            OperationHandles {
                ok: self
                    .queries
                    .with_labels(&[self.db_system, op, QueryStatus::Ok.as_str()]),
                error: self
                    .queries
                    .with_labels(&[self.db_system, op, QueryStatus::Error.as_str()]),
                duration: self.durations.with_labels(&[self.db_system, op]),
            }
        })
    }

    /// Counts one query and records its duration.
    pub fn record_query(&self, operation: DbOperation, status: QueryStatus, elapsed: Duration) {
        if !self.telemetry.metrics_enabled() {
            return;
        }
        let h = self.handles(operation);
        match status {
            QueryStatus::Ok => h.ok.inc(),
            QueryStatus::Error => h.error.inc(),
        }
        h.duration.observe_duration(elapsed);
    }

    /// The counter of `operation` with `status` (for tests and dashboards' sanity checks).
    #[must_use]
    pub fn query_counter(&self, operation: DbOperation, status: QueryStatus) -> Counter {
        let h = self.handles(operation);
        match status {
            QueryStatus::Ok => h.ok.clone(),
            QueryStatus::Error => h.error.clone(),
        }
    }

    /// The duration histogram of `operation`.
    #[must_use]
    pub fn duration_histogram(&self, operation: DbOperation) -> Histogram {
        self.handles(operation).duration.clone()
    }
}
