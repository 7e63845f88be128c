//! What every instrumented execution shares: the captured query, the per-pool telemetry, and
//! the recorder that turns one execution into a span and two metric records.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use sqlx::error::BoxDynError;
use sqlx::{Database, Execute, SqlStr};
use unitel::db::{
    self, DbClientMetrics, DbOperation, DbPoolMetrics, DbTarget, QueryStatus, QueryTextMode,
    StatementInfo,
};

use crate::system::ConnectionTarget;

/// Per-pool state shared by the pool and every connection taken from it.
#[derive(Debug)]
pub(crate) struct Telemetry {
    pub(crate) system: &'static str,
    pub(crate) target: ConnectionTarget,
    pub(crate) query_text: QueryTextMode,
    pub(crate) max_query_text_len: usize,
    pub(crate) queries: DbClientMetrics,
    pub(crate) pool: DbPoolMetrics,
    pub(crate) pool_name: Box<str>,
}

impl Telemetry {
    fn db_target(&self) -> DbTarget<'_> {
        DbTarget {
            system: self.system,
            namespace: self.target.namespace.as_deref(),
            server_address: self.target.server_address.as_deref(),
            server_port: self.target.server_port,
        }
    }
}

/// A query taken apart before it runs, so its SQL can name the span; it is then executed as
/// is (same SQL, same arguments, same cached statement, same `persistent` flag).
pub(crate) struct CapturedQuery<DB: Database> {
    sql: SqlStr,
    statement: Option<DB::Statement>,
    arguments: Option<Result<Option<DB::Arguments>, BoxDynError>>,
    persistent: bool,
}

impl<DB: Database> CapturedQuery<DB> {
    /// Takes `query` apart in the order the drivers do: statement, arguments, flag, SQL.
    pub(crate) fn capture<'q, E: Execute<'q, DB>>(mut query: E) -> Self {
        let statement = query.statement().cloned();
        let arguments = query.take_arguments();
        let persistent = query.persistent();
        let sql = query.sql();
        Self {
            sql,
            statement,
            arguments: Some(arguments),
            persistent,
        }
    }

    pub(crate) fn sql_text(&self) -> &str {
        self.sql.as_str()
    }
}

impl<DB: Database> Execute<'_, DB> for CapturedQuery<DB> {
    fn sql(self) -> SqlStr {
        self.sql
    }

    fn statement(&self) -> Option<&DB::Statement> {
        self.statement.as_ref()
    }

    fn take_arguments(&mut self) -> Result<Option<DB::Arguments>, BoxDynError> {
        self.arguments.take().unwrap_or(Ok(None))
    }

    fn persistent(&self) -> bool {
        self.persistent
    }
}

/// One execution: its span, and the metrics recorded exactly once when it ends (succeeds,
/// fails, or is dropped by its consumer after it started).
pub(crate) struct QueryRecorder {
    telemetry: Arc<Telemetry>,
    /// What was current when the query was issued: the parent of the query's span.
    parent: unitel::trace::SpanParent,
    operation: DbOperation,
    span: tracing::Span,
    started: Option<Instant>,
    rows: u64,
    done: bool,
}

impl QueryRecorder {
    /// A recorder for a query issued now; nothing is created or recorded until
    /// [`start`](Self::start), so a query that is never polled leaves no trace.
    pub(crate) fn new(telemetry: &Arc<Telemetry>) -> Self {
        Self {
            telemetry: Arc::clone(telemetry),
            parent: unitel::trace::SpanParent::current(),
            operation: DbOperation::Other,
            span: tracing::Span::none(),
            started: None,
            rows: 0,
            done: false,
        }
    }

    /// The execution of `sql` begins (first poll): creates the span, starts the clock, and
    /// returns the span to run the execution in.
    pub(crate) fn start(&mut self, sql: &str) -> tracing::Span {
        let statement = StatementInfo::parse(sql);
        let telemetry = &self.telemetry;
        let span = self
            .parent
            .child(|parent| db::query_span(parent, &telemetry.db_target(), &statement, None));
        if !span.is_disabled()
            && let Some(text) =
                db::query_text(sql, telemetry.query_text, telemetry.max_query_text_len)
        {
            db::record_query_text(&span, &text);
        }
        self.operation = statement.operation;
        self.span = span.clone();
        self.started = Some(Instant::now());
        span
    }

    pub(crate) fn add_rows(&mut self, rows: u64) {
        self.rows = self.rows.saturating_add(rows);
    }

    pub(crate) fn succeed(&mut self) {
        self.finish(QueryStatus::Ok);
    }

    pub(crate) fn fail(&mut self, error: &sqlx::Error) {
        if !self.done {
            let (error_type, status_code) = classify(error);
            db::record_query_error(&self.span, &error_type, status_code.as_deref());
        }
        self.finish(QueryStatus::Error);
    }

    fn finish(&mut self, status: QueryStatus) {
        if self.done {
            return;
        }
        self.done = true;
        let Some(started) = self.started else {
            return;
        };
        db::record_returned_rows(&self.span, self.rows);
        self.telemetry
            .queries
            .record_query(self.operation, status, started.elapsed());
    }
}

impl Drop for QueryRecorder {
    /// A consumer that stops reading rows early (`fetch(..).next()`, a dropped stream) ends a
    /// query that did not fail: it counts as `ok`. One that never started is not counted.
    fn drop(&mut self) {
        self.finish(QueryStatus::Ok);
    }
}

/// `error.type` and `db.response.status_code` of a failed execution. A database error's
/// type is its own code (a PostgreSQL SQLSTATE such as `23505`, an SQLite result code), as
/// the OpenTelemetry database conventions ask; other failures get a fixed name.
pub(crate) fn classify(error: &sqlx::Error) -> (Cow<'static, str>, Option<String>) {
    use sqlx::Error as E;
    let fixed = |name: &'static str| (Cow::Borrowed(name), None);
    match error {
        E::Database(db) => match db.code() {
            Some(code) => (
                Cow::Owned(code.clone().into_owned()),
                Some(code.into_owned()),
            ),
            None => fixed("database_error"),
        },
        E::PoolTimedOut => fixed("pool_timed_out"),
        E::PoolClosed => fixed("pool_closed"),
        E::Io(_) => fixed("io_error"),
        E::Tls(_) => fixed("tls_error"),
        E::Protocol(_) => fixed("protocol_error"),
        E::RowNotFound => fixed("row_not_found"),
        E::TypeNotFound { .. } => fixed("type_not_found"),
        E::ColumnIndexOutOfBounds { .. } | E::ColumnNotFound(_) => fixed("column_not_found"),
        E::ColumnDecode { .. } | E::Decode(_) => fixed("decode_error"),
        E::Encode(_) => fixed("encode_error"),
        E::Configuration(_) => fixed("configuration_error"),
        E::InvalidArgument(_) => fixed("invalid_argument"),
        E::WorkerCrashed => fixed("worker_crashed"),
        E::AnyDriverError(_) => fixed("driver_error"),
        _ => fixed("_OTHER"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_error_types() {
        assert_eq!(classify(&sqlx::Error::PoolTimedOut).0, "pool_timed_out");
        assert_eq!(classify(&sqlx::Error::RowNotFound).0, "row_not_found");
        let io = sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        assert_eq!(classify(&io), (Cow::Borrowed("io_error"), None));
    }
}
