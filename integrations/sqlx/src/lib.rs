//! # unitel-sqlx
//!
//! An instrumented sqlx pool: existing sqlx code keeps working, and every query, connection
//! acquire and transaction is recorded as unitel metrics and OpenTelemetry client spans.
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use unitel_sqlx::InstrumentedPool;
//!
//! let raw = sqlx::sqlite::SqlitePoolOptions::new().max_connections(5).connect("sqlite::memory:").await?;
//! let pool = InstrumentedPool::builder(raw).name("main").build()?;
//!
//! // Unchanged sqlx code, now recorded:
//! let answer: i64 = sqlx::query_scalar("SELECT 40 + 2").fetch_one(&pool).await?;
//! assert_eq!(answer, 42);
//!
//! let text = unitel::prometheus::render();
//! assert!(text.contains(r#"db_queries_total{db_system="sqlite",operation="SELECT",status="ok"}"#));
//! assert!(text.contains(r#"db_connections_max{pool="main",db_system="sqlite"} 5"#));
//! # Ok(()) }
//! # #[cfg(not(feature = "sqlite"))] fn main() {}
//! ```
//!
//! ## What is recorded
//! See [`InstrumentedPool`] for the metrics and span attributes. In short: one client span per
//! query named `{operation} {table}` with sanitized `db.query.text`; `db_queries_total` and
//! `db_query_duration_seconds` per operation (`SELECT`, `INSERT`, …, `OTHER`: the leading
//! keyword, never the SQL text); connection gauges, acquire wait and acquire timeouts per
//! pool.
//!
//! ## What is not recorded
//! * Queries run on the raw pool ([`InstrumentedPool::inner`]) or on a raw connection
//!   ([`InstrumentedConnection::as_raw_mut`], `into_inner`).
//! * `prepare`/`describe` calls (they are not queries).
//! * The implicit rollback of a transaction dropped without `commit`/`rollback`, and nested
//!   transactions (savepoints) begun through sqlx's `Acquire`/`Connection::begin` on the raw
//!   connection.
//! * `Acquire` is not implemented: functions taking `impl Acquire` need the raw pool.
//!
//! ## Features
//! `postgres` and `sqlite` (both default) enable [`DbSystem`] for `sqlx::Postgres` and
//! `sqlx::Sqlite`.

mod connection;
mod error;
mod pool;
mod query;
mod stream;
mod system;

pub use connection::{
    ConnectionHolder, InstrumentedConnection, InstrumentedPoolConnection, InstrumentedTransaction,
};
pub use error::{Error, MAX_POOL_NAME_LEN};
pub use pool::{
    DEFAULT_POOL_NAME, DEFAULT_SAMPLE_INTERVAL, InstrumentedPool, InstrumentedPoolBuilder,
};
pub use system::{ConnectionTarget, DbSystem, FetchStep};
pub use unitel::db::QueryTextMode;
