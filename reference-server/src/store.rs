//! Documents and their chunks in SQLite or PostgreSQL, through unitel-sqlx's instrumented pool,
//! plus an in-memory vector index loaded at start-up.

use std::sync::RwLock;

use unitel_sqlx::InstrumentedPool;

use crate::embed;

/// A stored chunk returned by retrieval.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Source {
    /// Chunk id.
    pub(crate) id: i64,
    /// Cosine similarity to the query.
    pub(crate) score: f32,
    /// Chunk text.
    pub(crate) text: String,
}

/// The database behind the server.
#[derive(Debug)]
pub(crate) enum Database {
    /// SQLite (the embedded default).
    Sqlite(InstrumentedPool<sqlx::Sqlite>),
    /// PostgreSQL.
    Postgres(InstrumentedPool<sqlx::Postgres>),
}

/// Storage plus the vector index.
#[derive(Debug)]
pub(crate) struct Store {
    db: Database,
    index: RwLock<Vec<(i64, Vec<f32>)>>,
}

/// Largest number of chunks kept in the in-memory index.
pub(crate) const MAX_INDEXED_CHUNKS: usize = 200_000;

macro_rules! with_db {
    ($db:expr, |$pool:ident, $ph:ident| $body:expr) => {
        match $db {
            Database::Sqlite($pool) => {
                #[allow(unused_variables)]
                let $ph = Placeholders::Sqlite;
                $body
            }
            Database::Postgres($pool) => {
                #[allow(unused_variables)]
                let $ph = Placeholders::Postgres;
                $body
            }
        }
    };
}

#[derive(Clone, Copy)]
enum Placeholders {
    Sqlite,
    Postgres,
}

impl Placeholders {
    fn list(self, n: usize) -> String {
        (1..=n)
            .map(|i| match self {
                Self::Sqlite => "?".to_owned(),
                Self::Postgres => format!("${i}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Store {
    /// Connects, creates the schema if needed and loads the index. Queries wait at most
    /// `acquire_timeout` for a connection.
    pub(crate) async fn open(
        url: &str,
        acquire_timeout: std::time::Duration,
    ) -> Result<Self, sqlx::Error> {
        let db = if url.starts_with("sqlite:") {
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
            let raw = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(5)
                .acquire_timeout(acquire_timeout)
                .connect_with(
                    options
                        .create_if_missing(true)
                        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal),
                )
                .await?;
            let pool = InstrumentedPool::builder(raw)
                .name("main")
                .build()
                .map_err(|e| sqlx::Error::Configuration(e.to_string().into()))?;
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS documents (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, metadata TEXT NOT NULL)",
            )
            .execute(&pool)
            .await?;
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, document_id INTEGER NOT NULL REFERENCES documents(id), position INTEGER NOT NULL, text TEXT NOT NULL, embedding BLOB NOT NULL)",
            )
            .execute(&pool)
            .await?;
            Database::Sqlite(pool)
        } else {
            let raw = sqlx::postgres::PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(acquire_timeout)
                .connect(url)
                .await?;
            let pool = InstrumentedPool::builder(raw)
                .name("main")
                .build()
                .map_err(|e| sqlx::Error::Configuration(e.to_string().into()))?;
            sqlx::query("CREATE TABLE IF NOT EXISTS documents (id BIGSERIAL PRIMARY KEY, text TEXT NOT NULL, metadata TEXT NOT NULL)")
                .execute(&pool)
                .await?;
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS chunks (id BIGSERIAL PRIMARY KEY, document_id BIGINT NOT NULL REFERENCES documents(id), position INTEGER NOT NULL, text TEXT NOT NULL, embedding BYTEA NOT NULL)",
            )
            .execute(&pool)
            .await?;
            Database::Postgres(pool)
        };
        let rows: Vec<(i64, Vec<u8>)> = with_db!(&db, |pool, ph| {
            sqlx::query_as("SELECT id, embedding FROM chunks ORDER BY id")
                .fetch_all(pool)
                .await?
        });
        let index = rows
            .into_iter()
            .take(MAX_INDEXED_CHUNKS)
            .map(|(id, bytes)| (id, embed::from_bytes(&bytes)))
            .collect();
        Ok(Self {
            db,
            index: RwLock::new(index),
        })
    }

    /// `sqlite` or `postgresql`.
    pub(crate) fn system(&self) -> &'static str {
        match self.db {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgresql",
        }
    }

    /// Whether the database answers.
    pub(crate) async fn ping(&self) -> bool {
        with_db!(&self.db, |pool, ph| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .is_ok())
    }

    /// Stores a document and its chunks in one transaction; returns (document id, chunk ids).
    pub(crate) async fn insert_document(
        &self,
        text: &str,
        metadata: &str,
        chunks: &[(String, Vec<f32>)],
    ) -> Result<(i64, Vec<i64>), sqlx::Error> {
        let (doc_id, ids) = with_db!(&self.db, |pool, ph| {
            let mut tx = pool.begin().await?;
            let sql = format!(
                "INSERT INTO documents (text, metadata) VALUES ({}) RETURNING id",
                ph.list(2)
            );
            let (doc_id,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(text)
                .bind(metadata)
                .fetch_one(&mut tx)
                .await?;
            let sql = format!(
                "INSERT INTO chunks (document_id, position, text, embedding) VALUES ({}) RETURNING id",
                ph.list(4)
            );
            let mut ids = Vec::with_capacity(chunks.len());
            for (position, (chunk, vector)) in chunks.iter().enumerate() {
                let (id,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(doc_id)
                    .bind(i32::try_from(position).unwrap_or(i32::MAX))
                    .bind(chunk.as_str())
                    .bind(embed::to_bytes(vector))
                    .fetch_one(&mut tx)
                    .await?;
                ids.push(id);
            }
            tx.commit().await?;
            (doc_id, ids)
        });
        let mut index = self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (id, (_, vector)) in ids.iter().zip(chunks) {
            if index.len() < MAX_INDEXED_CHUNKS {
                index.push((*id, vector.clone()));
            }
        }
        Ok((doc_id, ids))
    }

    /// The `top_k` chunks most similar to `query`, best first, with their text from the database.
    pub(crate) async fn search(
        &self,
        query: &[f32],
        top_k: usize,
    ) -> Result<Vec<Source>, sqlx::Error> {
        let best: Vec<(i64, f32)> = {
            let index = self
                .index
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut scored: Vec<(i64, f32)> = index
                .iter()
                .map(|(id, v)| (*id, embed::cosine(query, v)))
                .collect();
            let k = top_k.min(scored.len());
            if k == 0 {
                return Ok(Vec::new());
            }
            scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
            scored.truncate(k);
            scored.sort_by(|a, b| b.1.total_cmp(&a.1));
            scored
        };
        let sql = |ph: Placeholders| {
            format!(
                "SELECT id, text FROM chunks WHERE id IN ({})",
                ph.list(best.len())
            )
        };
        let rows: Vec<(i64, String)> = with_db!(&self.db, |pool, ph| {
            let sql = sql(ph);
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for (id, _) in &best {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        });
        Ok(best
            .iter()
            .filter_map(|(id, score)| {
                rows.iter()
                    .find(|(rid, _)| rid == id)
                    .map(|(_, text)| Source {
                        id: *id,
                        score: *score,
                        text: text.clone(),
                    })
            })
            .collect())
    }

    /// Number of indexed chunks.
    pub(crate) fn indexed(&self) -> usize {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}
