//! [`InstrumentedPool`]: a `sqlx::Pool` whose queries, connections and transactions are
//! recorded.

use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::pool::{MaybePoolConnection, PoolConnection};
use sqlx::{Database, Either, Execute, Executor, Pool, SqlSafeStr, SqlStr, Transaction};
use tracing::Instrument as _;
use unitel::Registry;
use unitel::db::{DEFAULT_MAX_QUERY_TEXT_LEN, DbClientMetrics, DbPoolMetrics, QueryTextMode};

use crate::connection::{InstrumentedPoolConnection, InstrumentedTransaction, forward_rows};
use crate::error::{Error, validate_pool_name};
use crate::query::{CapturedQuery, QueryRecorder, Telemetry};
use crate::stream::generate;
use crate::system::DbSystem;

/// Default pool name (the `pool` label) of [`InstrumentedPool::new`].
pub const DEFAULT_POOL_NAME: &str = "default";

/// Default period of the background refresh of the connection gauges.
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// A `sqlx::Pool` that records every query it runs, its connections and its transactions.
///
/// Use it where the pool was used: `&InstrumentedPool<DB>` is a `sqlx::Executor`, so
/// `sqlx::query(..).fetch_all(&pool)`, `query_as`, `query_scalar`, `execute` and `fetch`
/// work unchanged. [`begin`](Self::begin) and [`acquire`](Self::acquire) hand out a
/// transaction and a connection whose queries are recorded too (`&mut *tx` and `&mut tx`
/// both execute instrumented). Cloning is cheap and shares everything.
///
/// Each query records:
/// * a client span named `{operation} {table}` (or `{operation}`) with `db.system.name`,
///   `db.namespace`, `db.operation.name`, `db.collection.name`, `db.query.text` (sanitized by
///   default, see [`QueryTextMode`]), `db.response.returned_rows`, `server.address`/`port`,
///   and on failure status Error, `error.type` and `db.response.status_code` (the SQLSTATE);
/// * `db_queries_total{db_system, operation, status}` and
///   `db_query_duration_seconds{db_system, operation}`: the time from the call to its last
///   row, the wait for a connection included (the wait alone is in the acquire histogram).
///
/// The pool records `db_connections_active/idle/max{pool, db_system}` (active = size − idle,
/// read from the pool's atomics after each acquire and on a periodic tick, never under a
/// lock), `db_connection_acquire_duration_seconds` for every acquire (successful or not) and
/// `db_connection_acquire_timeouts_total`. A query that times out waiting for a connection
/// counts as `status="error"` with `error.type="pool_timed_out"`.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use unitel_sqlx::InstrumentedPool;
///
/// let pool = InstrumentedPool::<sqlx::Sqlite>::connect("sqlite::memory:").await?;
/// sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)").execute(&pool).await?;
/// sqlx::query("INSERT INTO items (name) VALUES (?)").bind("apple").execute(&pool).await?;
///
/// let mut tx = pool.begin().await?;
/// sqlx::query("UPDATE items SET name = 'pear'").execute(&mut *tx).await?;
/// tx.commit().await?;
///
/// let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items").fetch_all(&pool).await?;
/// assert_eq!(names, ["pear"]);
/// # Ok(()) }
/// # #[cfg(not(feature = "sqlite"))] fn main() {}
/// ```
pub struct InstrumentedPool<DB: Database> {
    inner: Arc<PoolInner<DB>>,
}

pub(crate) struct PoolInner<DB: Database> {
    pub(crate) pool: Pool<DB>,
    pub(crate) telemetry: Arc<Telemetry>,
    /// The gauge-refresh task, set once after the pool is built; aborted on drop.
    sampler: OnceLock<tokio::task::AbortHandle>,
}

impl<DB: Database> Drop for PoolInner<DB> {
    fn drop(&mut self) {
        if let Some(sampler) = self.sampler.get() {
            sampler.abort();
        }
    }
}

impl<DB: Database> Clone for InstrumentedPool<DB> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<DB: Database> std::fmt::Debug for InstrumentedPool<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedPool")
            .field("pool", &self.inner.pool)
            .field("db_system", &self.inner.telemetry.system)
            .finish_non_exhaustive()
    }
}

/// Settings of an [`InstrumentedPool`], from [`InstrumentedPool::builder`].
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use unitel::db::QueryTextMode;
/// use unitel_sqlx::InstrumentedPool;
///
/// let raw = sqlx::sqlite::SqlitePoolOptions::new().max_connections(4).connect("sqlite::memory:").await?;
/// let pool = InstrumentedPool::builder(raw)
///     .name("cache")
///     .query_text(QueryTextMode::Off)
///     .sample_interval(Duration::from_millis(500))
///     .build()?;
/// assert_eq!(pool.name(), "cache");
/// # Ok(()) }
/// # #[cfg(not(feature = "sqlite"))] fn main() {}
/// ```
#[derive(Debug)]
#[must_use]
pub struct InstrumentedPoolBuilder<DB: Database> {
    pool: Pool<DB>,
    name: String,
    query_text: QueryTextMode,
    max_query_text_len: usize,
    sample_interval: Duration,
    registry: Option<Registry>,
    telemetry: Option<unitel::Telemetry>,
}

impl<DB: DbSystem> InstrumentedPoolBuilder<DB> {
    /// The `pool` label: a name from the application's configuration (ASCII letters, digits,
    /// `_`, `-`, `.`; at most 64 bytes). Default [`DEFAULT_POOL_NAME`].
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How much of each statement goes into `db.query.text` (default sanitized).
    pub fn query_text(mut self, mode: QueryTextMode) -> Self {
        self.query_text = mode;
        self
    }

    /// Cap on `db.query.text`, in bytes (default [`DEFAULT_MAX_QUERY_TEXT_LEN`]).
    pub fn max_query_text_len(mut self, max: usize) -> Self {
        self.max_query_text_len = max;
        self
    }

    /// Period of the background task that refreshes the connection gauges (default
    /// [`DEFAULT_SAMPLE_INTERVAL`]; `Duration::ZERO` turns it off, leaving the refresh after
    /// each acquire). The task needs a Tokio runtime when [`build`](Self::build) runs; it
    /// stops when the last clone of the pool is dropped.
    pub fn sample_interval(mut self, interval: Duration) -> Self {
        self.sample_interval = interval;
        self
    }

    /// Records into `registry` instead of the process-wide [`unitel::registry()`].
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Records into `telemetry` (its registry and its metrics switch) instead of the
    /// process-wide [`unitel::Telemetry::global`]; a [`registry`](Self::registry) given as well
    /// takes precedence for storage.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let telemetry = unitel::Telemetry::new();
    /// let raw = sqlx::sqlite::SqlitePoolOptions::new().connect("sqlite::memory:").await?;
    /// let pool = unitel_sqlx::InstrumentedPool::builder(raw).telemetry(&telemetry).build()?;
    /// sqlx::query("SELECT 1").execute(&pool).await?;
    /// let text = unitel::prometheus::render_registry(telemetry.registry());
    /// assert!(text.contains(r#"db_queries_total{db_system="sqlite",operation="SELECT",status="ok"} 1"#));
    /// # Ok(()) }
    /// # #[cfg(not(feature = "sqlite"))] fn main() {}
    /// ```
    pub fn telemetry(mut self, telemetry: &unitel::Telemetry) -> Self {
        self.telemetry = Some(telemetry.clone());
        self
    }

    /// The instrumented pool.
    ///
    /// # Errors
    /// [`Error::InvalidPoolName`] when the name is not a valid label value.
    pub fn build(self) -> Result<InstrumentedPool<DB>, Error> {
        validate_pool_name(&self.name)?;
        Ok(self.assemble())
    }

    /// Builds without validating the name (callers validated it or use the default).
    fn assemble(self) -> InstrumentedPool<DB> {
        let installed = self
            .telemetry
            .unwrap_or_else(|| unitel::Telemetry::global().clone());
        let (queries, pool) = match &self.registry {
            Some(registry) => (
                DbClientMetrics::new(registry, DB::SYSTEM_NAME),
                DbPoolMetrics::new(registry, &self.name, DB::SYSTEM_NAME),
            ),
            None => (
                DbClientMetrics::for_telemetry(&installed, DB::SYSTEM_NAME),
                DbPoolMetrics::for_telemetry(&installed, &self.name, DB::SYSTEM_NAME),
            ),
        };
        let target = DB::connection_target(&self.pool.connect_options());
        let telemetry = Arc::new(Telemetry {
            system: DB::SYSTEM_NAME,
            target,
            query_text: self.query_text,
            max_query_text_len: self.max_query_text_len,
            queries,
            pool,
            pool_name: self.name.into_boxed_str(),
        });
        let inner = Arc::new(PoolInner {
            pool: self.pool,
            telemetry,
            sampler: OnceLock::new(),
        });
        inner.sample();
        if let Some(sampler) = spawn_sampler(Arc::downgrade(&inner), self.sample_interval) {
            let _ = inner.sampler.set(sampler);
        }
        InstrumentedPool { inner }
    }
}

fn spawn_sampler<DB: Database>(
    pool: Weak<PoolInner<DB>>,
    interval: Duration,
) -> Option<tokio::task::AbortHandle> {
    if interval.is_zero() {
        return None;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::debug!(
            target: "unitel::internal",
            "no Tokio runtime: the pool's connection gauges refresh after each acquire only"
        );
        return None;
    };
    let task = runtime.spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match pool.upgrade() {
                Some(pool) => pool.sample(),
                None => return,
            }
        }
    });
    Some(task.abort_handle())
}

impl<DB: Database> PoolInner<DB> {
    /// Refreshes the connection gauges from the pool's atomics.
    pub(crate) fn sample(&self) {
        self.telemetry.pool.set_connections(
            self.pool.size(),
            self.pool.num_idle(),
            self.pool.options().get_max_connections(),
        );
    }

    /// Acquires a connection, recording the wait (and a timeout).
    pub(crate) async fn acquire(&self) -> Result<PoolConnection<DB>, sqlx::Error> {
        let start = Instant::now();
        let result = self.pool.acquire().await;
        self.telemetry.pool.observe_acquire(start.elapsed());
        if matches!(result, Err(sqlx::Error::PoolTimedOut)) {
            self.telemetry.pool.acquire_timed_out();
        }
        self.sample();
        result
    }
}

impl<DB: DbSystem> InstrumentedPool<DB> {
    /// Instruments `pool` with the default settings (pool name [`DEFAULT_POOL_NAME`],
    /// sanitized query text, the process-wide registry).
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sqlx::Error> {
    /// let raw = sqlx::SqlitePool::connect("sqlite::memory:").await?;
    /// let pool = unitel_sqlx::InstrumentedPool::new(raw);
    /// let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(&pool).await?;
    /// assert_eq!(one, 1);
    /// # Ok(()) }
    /// # #[cfg(not(feature = "sqlite"))] fn main() {}
    /// ```
    #[must_use]
    pub fn new(pool: Pool<DB>) -> Self {
        Self::builder(pool).assemble()
    }

    /// Settings for instrumenting `pool`.
    pub fn builder(pool: Pool<DB>) -> InstrumentedPoolBuilder<DB> {
        InstrumentedPoolBuilder {
            pool,
            name: DEFAULT_POOL_NAME.to_owned(),
            query_text: QueryTextMode::default(),
            max_query_text_len: DEFAULT_MAX_QUERY_TEXT_LEN,
            sample_interval: DEFAULT_SAMPLE_INTERVAL,
            registry: None,
            telemetry: None,
        }
    }

    /// Connects a pool with sqlx's default options and instruments it with the defaults.
    ///
    /// # Errors
    /// [`Error::Connect`] when sqlx cannot connect.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let pool = Pool::<DB>::connect(url).await.map_err(Error::Connect)?;
        Ok(Self::new(pool))
    }
}

impl<DB: Database> InstrumentedPool<DB> {
    /// The instrumented sqlx pool (queries run on it directly are not recorded).
    #[must_use]
    pub fn inner(&self) -> &Pool<DB> {
        &self.inner.pool
    }

    /// The `pool` label value.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.telemetry.pool_name
    }

    /// The pool's connection and acquire metrics.
    #[must_use]
    pub fn metrics(&self) -> &DbPoolMetrics {
        &self.inner.telemetry.pool
    }

    /// The query metrics of this pool's database system.
    #[must_use]
    pub fn query_metrics(&self) -> &DbClientMetrics {
        &self.inner.telemetry.queries
    }

    /// Refreshes the connection gauges now (they are also refreshed after each acquire and
    /// on the sampling tick).
    pub fn refresh_gauges(&self) {
        self.inner.sample();
    }

    /// Open connections, idle ones included (`Pool::size`).
    #[must_use]
    pub fn size(&self) -> u32 {
        self.inner.pool.size()
    }

    /// Idle connections (`Pool::num_idle`).
    #[must_use]
    pub fn num_idle(&self) -> usize {
        self.inner.pool.num_idle()
    }

    /// Closes the pool (`Pool::close`) and refreshes the gauges.
    pub async fn close(&self) {
        self.inner.pool.close().await;
        self.inner.sample();
    }

    /// Whether the pool is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.inner.pool.is_closed()
    }
}

impl<DB: DbSystem> InstrumentedPool<DB> {
    /// A connection whose queries are recorded; the wait is recorded in the acquire
    /// histogram.
    ///
    /// # Errors
    /// The `sqlx::Error` of `Pool::acquire` (`PoolTimedOut` is also counted in
    /// `db_connection_acquire_timeouts_total`).
    pub async fn acquire(&self) -> Result<InstrumentedPoolConnection<DB>, sqlx::Error> {
        let conn = self.inner.acquire().await?;
        Ok(InstrumentedPoolConnection::new(
            conn,
            Arc::clone(&self.inner.telemetry),
        ))
    }

    /// Acquires a connection and begins a transaction whose statements are recorded. `BEGIN`
    /// is recorded as an operation with its own span (its duration includes the acquire);
    /// [`InstrumentedTransaction::commit`] and [`rollback`](InstrumentedTransaction::rollback)
    /// record `COMMIT` and `ROLLBACK`.
    ///
    /// # Errors
    /// The `sqlx::Error` of acquiring or of `BEGIN`.
    pub async fn begin(&self) -> Result<InstrumentedTransaction<DB>, sqlx::Error> {
        self.begin_inner(None).await
    }

    /// Like [`begin`](Self::begin) with a custom statement (`Pool::begin_with`), e.g.
    /// `BEGIN ISOLATION LEVEL SERIALIZABLE`.
    ///
    /// # Errors
    /// As [`begin`](Self::begin).
    pub async fn begin_with(
        &self,
        statement: impl SqlSafeStr,
    ) -> Result<InstrumentedTransaction<DB>, sqlx::Error> {
        self.begin_inner(Some(statement.into_sql_str())).await
    }

    async fn begin_inner(
        &self,
        statement: Option<SqlStr>,
    ) -> Result<InstrumentedTransaction<DB>, sqlx::Error> {
        let mut recorder = QueryRecorder::new(&self.inner.telemetry);
        let span = recorder.start(statement.as_ref().map_or("BEGIN", SqlStr::as_str));
        let inner = &self.inner;
        let result = async move {
            let conn = inner.acquire().await?;
            Transaction::begin(MaybePoolConnection::PoolConnection(conn), statement).await
        }
        .instrument(span)
        .await;
        match result {
            Ok(tx) => {
                recorder.succeed();
                Ok(InstrumentedTransaction::new(
                    tx,
                    Arc::clone(&self.inner.telemetry),
                ))
            }
            Err(e) => {
                recorder.fail(&e);
                Err(e)
            }
        }
    }
}

impl<'p, DB: DbSystem> Executor<'p> for &'_ InstrumentedPool<DB> {
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let query = CapturedQuery::capture(query);
        let mut recorder = QueryRecorder::new(&self.inner.telemetry);
        let inner = Arc::clone(&self.inner);
        generate(move |y| async move {
            let span = recorder.start(query.sql_text());
            let mut conn = match inner.acquire().instrument(span.clone()).await {
                Ok(conn) => conn,
                Err(e) => {
                    recorder.fail(&e);
                    y.send(Err(e)).await;
                    return;
                }
            };
            let rows = span.in_scope(|| DB::fetch_many(&mut conn, query));
            forward_rows::<DB>(rows, &mut recorder, &span, &y).await;
            drop(conn);
            inner.sample();
        })
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let query = CapturedQuery::capture(query);
        let mut recorder = QueryRecorder::new(&self.inner.telemetry);
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let span = recorder.start(query.sql_text());
            let result = async {
                let mut conn = inner.acquire().await?;
                let result = DB::fetch_optional(&mut conn, query).await;
                drop(conn);
                inner.sample();
                result
            }
            .instrument(span)
            .await;
            match &result {
                Ok(row) => {
                    recorder.add_rows(u64::from(row.is_some()));
                    recorder.succeed();
                }
                Err(e) => recorder.fail(e),
            }
            result
        })
    }

    /// Not recorded as a query: preparing runs no statement (the acquire is recorded).
    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, sqlx::Error>>
    where
        'p: 'e,
    {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let mut conn = inner.acquire().await?;
            DB::prepare_with(&mut conn, sql, parameters).await
        })
    }

    /// Not recorded as a query (used by sqlx's compile-time checked macros).
    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<sqlx::Describe<DB>, sqlx::Error>>
    where
        'p: 'e,
    {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let mut conn = inner.acquire().await?;
            DB::describe(&mut conn, sql).await
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_name_is_valid() {
        assert!(crate::error::validate_pool_name(super::DEFAULT_POOL_NAME).is_ok());
    }
}
