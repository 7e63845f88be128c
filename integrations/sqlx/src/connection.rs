//! Connections and transactions taken from an [`InstrumentedPool`](crate::InstrumentedPool):
//! their queries are recorded like the pool's.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt as _};
use sqlx::pool::PoolConnection;
use sqlx::{Database, Execute, Executor, SqlStr, Transaction};
use tracing::Instrument as _;

use crate::query::{CapturedQuery, QueryRecorder, Telemetry};
use crate::stream::{Yielder, generate};
use crate::system::{DbSystem, FetchStep};

mod sealed {
    pub trait Sealed {}
}

/// What an [`InstrumentedConnection`] can hold: a `PoolConnection` or a `Transaction` of a
/// [`DbSystem`]. Sealed.
pub trait ConnectionHolder: sealed::Sealed + Send + 'static {
    /// The database of the connection.
    type Database: DbSystem;

    /// The raw connection.
    fn connection(&mut self) -> &mut <Self::Database as Database>::Connection;
}

impl<DB: DbSystem> sealed::Sealed for PoolConnection<DB> {}
impl<DB: DbSystem> ConnectionHolder for PoolConnection<DB> {
    type Database = DB;

    fn connection(&mut self) -> &mut DB::Connection {
        self
    }
}

impl<DB: DbSystem> sealed::Sealed for Transaction<'static, DB> {}
impl<DB: DbSystem> ConnectionHolder for Transaction<'static, DB> {
    type Database = DB;

    fn connection(&mut self) -> &mut DB::Connection {
        self
    }
}

/// A connection whose queries are recorded like the pool's: `&mut InstrumentedConnection` is
/// a `sqlx::Executor`. It is what [`InstrumentedTransaction`] and
/// [`InstrumentedPoolConnection`] dereference to, so `&mut *tx` and `&mut *conn` (the sqlx 0.9
/// idiom) stay instrumented.
pub struct InstrumentedConnection<C> {
    holder: C,
    telemetry: Arc<Telemetry>,
}

impl<C> std::fmt::Debug for InstrumentedConnection<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedConnection")
            .field("db_system", &self.telemetry.system)
            .finish_non_exhaustive()
    }
}

impl<C: ConnectionHolder> InstrumentedConnection<C> {
    /// The raw connection, for APIs that need `&mut PgConnection` and the like. Queries run
    /// on it are **not** recorded.
    pub fn as_raw_mut(&mut self) -> &mut <C::Database as Database>::Connection {
        self.holder.connection()
    }
}

/// A transaction from [`InstrumentedPool::begin`](crate::InstrumentedPool::begin): every
/// statement run on `&mut *tx` (or `&mut tx`) is recorded, and so are `COMMIT` and
/// `ROLLBACK`.
///
/// A transaction dropped without `commit` or `rollback` is rolled back by sqlx when its
/// connection goes back to the pool; that implicit rollback is not recorded.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = unitel_sqlx::InstrumentedPool::<sqlx::Sqlite>::connect("sqlite::memory:").await?;
/// let mut tx = pool.begin().await?;
/// sqlx::query("CREATE TABLE t (x INTEGER)").execute(&mut *tx).await?;
/// sqlx::query("INSERT INTO t VALUES (1)").execute(&mut tx).await?;
/// tx.rollback().await?;
/// # Ok(()) }
/// # #[cfg(not(feature = "sqlite"))] fn main() {}
/// ```
pub struct InstrumentedTransaction<DB: Database> {
    conn: InstrumentedConnection<Transaction<'static, DB>>,
}

impl<DB: Database> std::fmt::Debug for InstrumentedTransaction<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedTransaction")
            .field("conn", &self.conn)
            .finish()
    }
}

impl<DB: DbSystem> InstrumentedTransaction<DB> {
    pub(crate) fn new(tx: Transaction<'static, DB>, telemetry: Arc<Telemetry>) -> Self {
        Self {
            conn: InstrumentedConnection {
                holder: tx,
                telemetry,
            },
        }
    }

    /// Commits, recording a `COMMIT` operation.
    ///
    /// # Errors
    /// The `sqlx::Error` of `Transaction::commit`.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let InstrumentedConnection { holder, telemetry } = self.conn;
        finish_transaction(&telemetry, "COMMIT", holder.commit()).await
    }

    /// Rolls back, recording a `ROLLBACK` operation.
    ///
    /// # Errors
    /// The `sqlx::Error` of `Transaction::rollback`.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        let InstrumentedConnection { holder, telemetry } = self.conn;
        finish_transaction(&telemetry, "ROLLBACK", holder.rollback()).await
    }

    /// The plain sqlx transaction (its further statements are not recorded).
    #[must_use]
    pub fn into_inner(self) -> Transaction<'static, DB> {
        self.conn.holder
    }
}

async fn finish_transaction(
    telemetry: &Arc<Telemetry>,
    statement: &str,
    operation: impl Future<Output = Result<(), sqlx::Error>>,
) -> Result<(), sqlx::Error> {
    let mut recorder = QueryRecorder::new(telemetry);
    let span = recorder.start(statement);
    let result = operation.instrument(span).await;
    match &result {
        Ok(()) => recorder.succeed(),
        Err(e) => recorder.fail(e),
    }
    result
}

impl<DB: Database> Deref for InstrumentedTransaction<DB> {
    type Target = InstrumentedConnection<Transaction<'static, DB>>;

    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl<DB: Database> DerefMut for InstrumentedTransaction<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

/// A connection from [`InstrumentedPool::acquire`](crate::InstrumentedPool::acquire): its
/// queries are recorded (`&mut *conn` or `&mut conn`); dropping it returns it to the pool.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = unitel_sqlx::InstrumentedPool::<sqlx::Sqlite>::connect("sqlite::memory:").await?;
/// let mut conn = pool.acquire().await?;
/// let two: i64 = sqlx::query_scalar("SELECT 1 + 1").fetch_one(&mut *conn).await?;
/// assert_eq!(two, 2);
/// # Ok(()) }
/// # #[cfg(not(feature = "sqlite"))] fn main() {}
/// ```
pub struct InstrumentedPoolConnection<DB: Database> {
    conn: InstrumentedConnection<PoolConnection<DB>>,
}

impl<DB: Database> std::fmt::Debug for InstrumentedPoolConnection<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedPoolConnection")
            .field("conn", &self.conn)
            .finish()
    }
}

impl<DB: DbSystem> InstrumentedPoolConnection<DB> {
    pub(crate) fn new(conn: PoolConnection<DB>, telemetry: Arc<Telemetry>) -> Self {
        Self {
            conn: InstrumentedConnection {
                holder: conn,
                telemetry,
            },
        }
    }

    /// The plain sqlx pool connection (its further queries are not recorded).
    #[must_use]
    pub fn into_inner(self) -> PoolConnection<DB> {
        self.conn.holder
    }
}

impl<DB: Database> Deref for InstrumentedPoolConnection<DB> {
    type Target = InstrumentedConnection<PoolConnection<DB>>;

    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl<DB: Database> DerefMut for InstrumentedPoolConnection<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

// --- execution ----------------------------------------------------------------------------------

type Step<DB> = FetchStep<DB>;

/// Forwards `rows` to the stream being generated, counting rows and recording the end; each
/// poll of `rows` runs in `span`.
pub(crate) async fn forward_rows<DB: DbSystem>(
    rows: impl Stream<Item = Step<DB>>,
    recorder: &mut QueryRecorder,
    span: &tracing::Span,
    out: &Yielder<Step<DB>>,
) {
    let mut rows = std::pin::pin!(rows);
    while let Some(step) = rows.next().instrument(span.clone()).await {
        match step {
            Ok(step) => {
                if step.is_right() {
                    recorder.add_rows(1);
                }
                out.send(Ok(step)).await;
            }
            Err(e) => {
                recorder.fail(&e);
                out.send(Err(e)).await;
                return;
            }
        }
    }
    recorder.succeed();
}

fn connection_fetch_many<'e, DB: DbSystem>(
    conn: &'e mut DB::Connection,
    telemetry: &Arc<Telemetry>,
    query: CapturedQuery<DB>,
) -> BoxStream<'e, Step<DB>> {
    let mut recorder = QueryRecorder::new(telemetry);
    generate(move |y| async move {
        let span = recorder.start(query.sql_text());
        let rows = span.in_scope(|| DB::fetch_many(conn, query));
        forward_rows::<DB>(rows, &mut recorder, &span, &y).await;
    })
    .boxed()
}

fn connection_fetch_optional<'e, DB: DbSystem>(
    conn: &'e mut DB::Connection,
    telemetry: &Arc<Telemetry>,
    query: CapturedQuery<DB>,
) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>> {
    let mut recorder = QueryRecorder::new(telemetry);
    Box::pin(async move {
        let span = recorder.start(query.sql_text());
        let result = DB::fetch_optional(conn, query).instrument(span).await;
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

/// Implements `Executor` for `&mut $ty` by recording on the connection `$conn` reaches.
macro_rules! instrumented_executor {
    ($(#[$doc:meta])* impl<$gen:ident: $bound:path> for $ty:ty, database $db:ty,
     connection |$this:ident| $conn:expr) => {
        $(#[$doc])*
        impl<'c, $gen: $bound> Executor<'c> for &'c mut $ty {
            type Database = $db;

            fn fetch_many<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxStream<'e, Step<$db>>
            where
                'c: 'e,
                E: 'q + Execute<'q, $db>,
            {
                let $this = self;
                let query = CapturedQuery::capture(query);
                let (conn, telemetry) = $conn;
                connection_fetch_many(conn, telemetry, query)
            }

            fn fetch_optional<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxFuture<'e, Result<Option<<$db as Database>::Row>, sqlx::Error>>
            where
                'c: 'e,
                E: 'q + Execute<'q, $db>,
            {
                let $this = self;
                let query = CapturedQuery::capture(query);
                let (conn, telemetry) = $conn;
                connection_fetch_optional(conn, telemetry, query)
            }

            fn prepare_with<'e>(
                self,
                sql: SqlStr,
                parameters: &'e [<$db as Database>::TypeInfo],
            ) -> BoxFuture<'e, Result<<$db as Database>::Statement, sqlx::Error>>
            where
                'c: 'e,
            {
                let $this = self;
                let (conn, _) = $conn;
                <$db as DbSystem>::prepare_with(conn, sql, parameters)
            }

            fn describe<'e>(
                self,
                sql: SqlStr,
            ) -> BoxFuture<'e, Result<sqlx::Describe<$db>, sqlx::Error>>
            where
                'c: 'e,
            {
                let $this = self;
                let (conn, _) = $conn;
                <$db as DbSystem>::describe(conn, sql)
            }
        }
    };
}

instrumented_executor!(
    /// Records every query like [`InstrumentedPool`](crate::InstrumentedPool)'s executor.
    impl<C: ConnectionHolder> for InstrumentedConnection<C>, database C::Database,
    connection |this| (this.holder.connection(), &this.telemetry)
);
instrumented_executor!(
    /// `&mut tx` works like `&mut *tx`.
    impl<DB: DbSystem> for InstrumentedTransaction<DB>, database DB,
    connection |this| (this.conn.holder.connection(), &this.conn.telemetry)
);
instrumented_executor!(
    /// `&mut conn` works like `&mut *conn`.
    impl<DB: DbSystem> for InstrumentedPoolConnection<DB>, database DB,
    connection |this| (this.conn.holder.connection(), &this.conn.telemetry)
);
