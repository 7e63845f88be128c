//! [`DbSystem`]: what unitel needs to know about a sqlx database driver.

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::{Connection, Database, Either, Execute, SqlStr};

/// One item of `Executor::fetch_many`: a statement's result or a row.
pub type FetchStep<DB> =
    Result<Either<<DB as Database>::QueryResult, <DB as Database>::Row>, sqlx::Error>;

/// Where a pool's connections go: the `db.namespace`, `server.address` and `server.port` of
/// its spans.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionTarget {
    /// The database name (PostgreSQL) or file (SQLite).
    pub namespace: Option<String>,
    /// The server host, if the database is reached over the network.
    pub server_address: Option<String>,
    /// The server port.
    pub server_port: Option<u16>,
}

/// A sqlx database that [`InstrumentedPool`](crate::InstrumentedPool) can instrument: its
/// OpenTelemetry `db.system.name`, how to read the connection target from its options, and
/// its raw connection's `Executor` methods.
///
/// The executor methods exist because the instrumented executors cannot name
/// `for<'c> &'c mut DB::Connection: Executor<'c>` as a bound without sending the trait solver
/// into a loop (sqlx hits the same limit for `PoolConnection`); each implementation simply
/// calls `sqlx::Executor::fetch_many(conn, query)` (and so on) on the driver's connection.
///
/// Implemented for `sqlx::Postgres` (feature `postgres`) and `sqlx::Sqlite` (feature `sqlite`).
/// Another driver can implement it too:
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use unitel_sqlx::{ConnectionTarget, DbSystem};
///
/// assert_eq!(<sqlx::Sqlite as DbSystem>::SYSTEM_NAME, "sqlite");
/// let options: sqlx::sqlite::SqliteConnectOptions = "sqlite://data/app.db".parse().unwrap();
/// let target = <sqlx::Sqlite as DbSystem>::connection_target(&options);
/// assert_eq!(target.namespace.as_deref(), Some("data/app.db"));
/// # }
/// ```
pub trait DbSystem: Database {
    /// The `db.system.name` attribute and `db_system` label (`postgresql`, `sqlite`, …).
    const SYSTEM_NAME: &'static str;

    /// The connection target described by connect options.
    fn connection_target(options: &<Self::Connection as Connection>::Options) -> ConnectionTarget;

    /// `Executor::fetch_many` of the raw connection.
    fn fetch_many<'e, 'q: 'e, E>(
        conn: &'e mut Self::Connection,
        query: E,
    ) -> BoxStream<'e, FetchStep<Self>>
    where
        E: 'q + Execute<'q, Self>;

    /// `Executor::fetch_optional` of the raw connection.
    fn fetch_optional<'e, 'q: 'e, E>(
        conn: &'e mut Self::Connection,
        query: E,
    ) -> BoxFuture<'e, Result<Option<Self::Row>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Self>;

    /// `Executor::prepare_with` of the raw connection.
    fn prepare_with<'e>(
        conn: &'e mut Self::Connection,
        sql: SqlStr,
        parameters: &'e [Self::TypeInfo],
    ) -> BoxFuture<'e, Result<Self::Statement, sqlx::Error>>;

    /// `Executor::describe` of the raw connection.
    fn describe<'e>(
        conn: &'e mut Self::Connection,
        sql: SqlStr,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Self>, sqlx::Error>>;
}

/// Writes the four executor methods of a [`DbSystem`] implementation for a driver whose
/// `&mut Connection` implements `sqlx::Executor`.
#[cfg_attr(
    not(any(feature = "postgres", feature = "sqlite")),
    allow(unused_macros)
)]
macro_rules! impl_db_system_executor {
    () => {
        fn fetch_many<'e, 'q: 'e, E>(
            conn: &'e mut <Self as ::sqlx::Database>::Connection,
            query: E,
        ) -> ::futures_util::stream::BoxStream<'e, $crate::system::FetchStep<Self>>
        where
            E: 'q + ::sqlx::Execute<'q, Self>,
        {
            ::sqlx::Executor::fetch_many(conn, query)
        }

        fn fetch_optional<'e, 'q: 'e, E>(
            conn: &'e mut <Self as ::sqlx::Database>::Connection,
            query: E,
        ) -> ::futures_util::future::BoxFuture<
            'e,
            ::std::result::Result<
                ::std::option::Option<<Self as ::sqlx::Database>::Row>,
                ::sqlx::Error,
            >,
        >
        where
            E: 'q + ::sqlx::Execute<'q, Self>,
        {
            ::sqlx::Executor::fetch_optional(conn, query)
        }

        fn prepare_with<'e>(
            conn: &'e mut <Self as ::sqlx::Database>::Connection,
            sql: ::sqlx::SqlStr,
            parameters: &'e [<Self as ::sqlx::Database>::TypeInfo],
        ) -> ::futures_util::future::BoxFuture<
            'e,
            ::std::result::Result<<Self as ::sqlx::Database>::Statement, ::sqlx::Error>,
        > {
            ::sqlx::Executor::prepare_with(conn, sql, parameters)
        }

        fn describe<'e>(
            conn: &'e mut <Self as ::sqlx::Database>::Connection,
            sql: ::sqlx::SqlStr,
        ) -> ::futures_util::future::BoxFuture<
            'e,
            ::std::result::Result<::sqlx::Describe<Self>, ::sqlx::Error>,
        > {
            ::sqlx::Executor::describe(conn, sql)
        }
    };
}

#[cfg(feature = "postgres")]
impl DbSystem for sqlx::Postgres {
    const SYSTEM_NAME: &'static str = "postgresql";

    fn connection_target(options: &sqlx::postgres::PgConnectOptions) -> ConnectionTarget {
        let via_socket = options.get_socket().is_some();
        ConnectionTarget {
            // PostgreSQL's default database is the user's name.
            namespace: Some(
                options
                    .get_database()
                    .unwrap_or(options.get_username())
                    .to_owned(),
            ),
            server_address: (!via_socket).then(|| options.get_host().to_owned()),
            server_port: (!via_socket).then(|| options.get_port()),
        }
    }

    impl_db_system_executor!();
}

#[cfg(feature = "sqlite")]
impl DbSystem for sqlx::Sqlite {
    const SYSTEM_NAME: &'static str = "sqlite";

    fn connection_target(options: &sqlx::sqlite::SqliteConnectOptions) -> ConnectionTarget {
        ConnectionTarget {
            namespace: Some(options.get_filename().display().to_string()),
            server_address: None,
            server_port: None,
        }
    }

    impl_db_system_executor!();
}
