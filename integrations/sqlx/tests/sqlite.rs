//! unitel-sqlx against a real SQLite database in a temporary file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tracing::Instrument as _;
use unitel::Registry;
use unitel_sqlx::InstrumentedPool;
use unitel_testkit::otlp::{SpanKind, StatusCode};

use common::{durations, eventually, queries, span, telemetry};

async fn sqlite_pool(
    dir: &tempfile::TempDir,
    file: &str,
    max: u32,
    acquire_timeout: Duration,
) -> sqlx::SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join(file))
        .create_if_missing(true);
    SqlitePoolOptions::new()
        .max_connections(max)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_transactions_and_failures_are_counted_and_traced() {
    let telemetry = telemetry();
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new();
    let raw = sqlite_pool(&dir, "crud.db", 2, Duration::from_secs(5)).await;
    let pool = InstrumentedPool::builder(raw)
        .name("sqlite_crud")
        .registry(registry.clone())
        .build()
        .unwrap();

    let root = unitel::trace::start_span("crud_fruit scenario");
    async {
        sqlx::query(
            "CREATE TABLE crud_fruit (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, price REAL)",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO crud_fruit (name, price) VALUES ('apple', 1.5)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO crud_fruit (name, price) VALUES (?, ?)")
            .bind("pear")
            .bind(2.25)
            .execute(&pool)
            .await
            .unwrap();
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM crud_fruit ORDER BY id")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(rows, [(1, "apple".to_owned()), (2, "pear".to_owned())]);
        let expensive: i64 =
            sqlx::query_scalar("SELECT count(*) FROM crud_fruit WHERE price > 1.0")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(expensive, 2);
        let updated = sqlx::query("UPDATE crud_fruit SET price = price * 2 WHERE name = 'apple'")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(updated.rows_affected(), 1);
        sqlx::query("DELETE FROM crud_fruit WHERE name = ?")
            .bind("pear")
            .execute(&pool)
            .await
            .unwrap();

        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO crud_fruit (name, price) VALUES ('plum', 3)")
            .execute(&mut *tx)
            .await
            .unwrap();
        let in_tx: i64 = sqlx::query_scalar("SELECT count(*) FROM crud_fruit")
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(in_tx, 2);
        tx.commit().await.unwrap();

        let mut tx = pool.begin().await.unwrap();
        sqlx::query("DELETE FROM crud_fruit")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();

        let missing = sqlx::query("SELECT * FROM crud_fruit_missing WHERE id = 7")
            .fetch_all(&pool)
            .await;
        assert!(missing.is_err());
        let duplicate = sqlx::query("INSERT INTO crud_fruit (name, price) VALUES ('apple', 9)")
            .execute(&pool)
            .await;
        assert!(duplicate.is_err());
    }
    .instrument(root.clone())
    .await;
    drop(root);

    // The data is intact: the rollback undid the DELETE.
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM crud_fruit")
        .fetch_one(pool.inner())
        .await
        .unwrap();
    assert_eq!(left, 2);

    // Exact counts per operation and status.
    let expected = [
        ("CREATE", "ok", 1.0),
        ("INSERT", "ok", 3.0),
        ("INSERT", "error", 1.0),
        ("SELECT", "ok", 3.0),
        ("SELECT", "error", 1.0),
        ("UPDATE", "ok", 1.0),
        ("DELETE", "ok", 2.0),
        ("BEGIN", "ok", 2.0),
        ("COMMIT", "ok", 1.0),
        ("ROLLBACK", "ok", 1.0),
        ("OTHER", "ok", 0.0),
    ];
    for (op, status, want) in expected {
        assert_eq!(
            queries(&registry, "sqlite", op, status),
            want,
            "{op} {status}"
        );
    }
    assert_eq!(durations(&registry, "sqlite", "INSERT"), 4);
    assert_eq!(durations(&registry, "sqlite", "SELECT"), 4);
    let exposition = unitel::prometheus::render_registry(&registry);
    assert!(
        !exposition.contains("crud_fruit") && !exposition.contains("apple"),
        "no SQL in labels:\n{exposition}"
    );
    if let Some(check) = unitel_testkit::promtool_check_metrics(&exposition) {
        check.expect("promtool check metrics");
    }

    // One trace: the scenario span and 16 database spans under it.
    let spans = telemetry.trace_of("crud_fruit scenario", 17).await;
    let (root, trace) = spans.split_first().expect("the scenario span");
    assert_eq!(root.name, "crud_fruit scenario");
    assert_eq!(
        trace.len(),
        16,
        "{:#?}",
        trace.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for s in trace {
        assert_eq!(
            s.parent_span_id, root.span_id,
            "{} is a child of the scenario",
            s.name
        );
        assert_eq!(s.kind, SpanKind::Client, "{}", s.name);
        assert_eq!(s.attr("db.system.name").as_deref(), Some("sqlite"));
        assert!(s.attr("db.namespace").unwrap().ends_with("crud.db"));
    }
    let names = |name: &str| trace.iter().filter(|s| s.name == name).count();
    assert_eq!(names("CREATE crud_fruit"), 1);
    assert_eq!(names("INSERT crud_fruit"), 4);
    assert_eq!(names("SELECT crud_fruit"), 3);
    assert_eq!(names("SELECT crud_fruit_missing"), 1);
    assert_eq!(names("UPDATE crud_fruit"), 1);
    assert_eq!(names("DELETE crud_fruit"), 2);
    assert_eq!(names("BEGIN"), 2);
    assert_eq!(names("COMMIT"), 1);
    assert_eq!(names("ROLLBACK"), 1);

    for insert in trace.iter().filter(|s| s.name == "INSERT crud_fruit") {
        assert_eq!(
            insert.attr("db.query.text").as_deref(),
            Some("INSERT INTO crud_fruit (name, price) VALUES (?, ?)"),
            "literals and bind placeholders both read `?`"
        );
        assert_eq!(insert.attr("db.operation.name").as_deref(), Some("INSERT"));
        assert_eq!(
            insert.attr("db.collection.name").as_deref(),
            Some("crud_fruit")
        );
    }
    let select_all = trace
        .iter()
        .find(|s| {
            s.attr("db.query.text").as_deref()
                == Some("SELECT id, name FROM crud_fruit ORDER BY id")
        })
        .expect("the fetch_all span");
    assert_eq!(
        select_all.attr("db.response.returned_rows").as_deref(),
        Some("2")
    );
    assert_eq!(select_all.status_code, StatusCode::Unset);
    let update = span(trace, "UPDATE crud_fruit");
    assert_eq!(
        update.attr("db.query.text").as_deref(),
        Some("UPDATE crud_fruit SET price = price * ? WHERE name = ?")
    );

    let missing = span(trace, "SELECT crud_fruit_missing");
    assert_eq!(missing.status_code, StatusCode::Error);
    assert_eq!(
        missing.attr("error.type").as_deref(),
        Some("1"),
        "SQLITE_ERROR"
    );
    assert_eq!(
        missing.attr("db.response.status_code").as_deref(),
        Some("1")
    );
    let duplicate = trace
        .iter()
        .find(|s| s.status_code == StatusCode::Error && s.name == "INSERT crud_fruit")
        .expect("the failed INSERT span");
    assert_eq!(
        duplicate.attr("error.type").as_deref(),
        Some("2067"),
        "SQLITE_CONSTRAINT_UNIQUE"
    );
    for s in trace {
        let text = s.attr("db.query.text").unwrap_or_default();
        assert!(!text.contains("apple") && !text.contains("plum"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_gauges_follow_twenty_tasks_on_five_connections() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new();
    let raw = sqlite_pool(&dir, "gauges.db", 5, Duration::from_secs(30)).await;
    let pool = InstrumentedPool::builder(raw)
        .name("sqlite_contended")
        .registry(registry.clone())
        .sample_interval(Duration::from_millis(10))
        .build()
        .unwrap();
    sqlx::query("CREATE TABLE ticks (n INTEGER)")
        .execute(&pool)
        .await
        .unwrap();
    let metrics = pool.metrics().clone();
    assert_eq!(metrics.max().value(), 5.0);

    let running = Arc::new(AtomicBool::new(true));
    let watcher = {
        let running = Arc::clone(&running);
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut highest = 0.0f64;
            while running.load(Ordering::Relaxed) {
                let active = metrics.active().value();
                assert!(active <= 5.0, "active {active} above the pool size");
                highest = highest.max(active);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            highest
        })
    };
    let acquires_before = metrics.acquire_duration().snapshot().count();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut conn = pool.acquire().await.unwrap();
                sqlx::query("INSERT INTO ticks (n) VALUES (?)")
                    .bind(i)
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                // Hold the connection so the other tasks have to wait for one.
                tokio::time::sleep(Duration::from_millis(40)).await;
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    running.store(false, Ordering::Relaxed);
    let highest = watcher.await.unwrap();
    assert_eq!(highest, 5.0, "all five connections were seen in use");

    let waits = metrics.acquire_duration().snapshot();
    assert_eq!(waits.count() - acquires_before, 20, "one acquire per task");
    // Bounds: …, 0.01, 0.025 (index 5), 0.05, …: the 15 tasks of the later waves waited at
    // least one 40 ms hold.
    let long_waits: u64 = waits.buckets[6..].iter().sum();
    assert!(long_waits >= 15, "acquire waits: {:?}", waits.buckets);

    eventually("no active connection", || metrics.active().value() == 0.0).await;
    assert_eq!(metrics.idle().value(), f64::from(pool.size()));
    assert_eq!(queries(&registry, "sqlite", "INSERT", "ok"), 20.0);
    assert_eq!(metrics.acquire_timeouts().value(), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_counts_the_timeout_and_fails_the_query() {
    let telemetry = telemetry();
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new();
    let raw = sqlite_pool(&dir, "exhausted.db", 1, Duration::from_millis(100)).await;
    let pool = InstrumentedPool::builder(raw)
        .name("sqlite_exhausted")
        .registry(registry.clone())
        .build()
        .unwrap();
    let held = pool.acquire().await.unwrap();
    let root = unitel::trace::start_span("exhausted_pool scenario");
    let result = sqlx::query("SELECT 1 FROM exhausted_pool")
        .fetch_all(&pool)
        .instrument(root.clone())
        .await;
    drop(root);
    assert!(
        matches!(result, Err(sqlx::Error::PoolTimedOut)),
        "{result:?}"
    );
    drop(held);

    assert_eq!(pool.metrics().acquire_timeouts().value(), 1.0);
    assert_eq!(pool.metrics().acquire_duration().snapshot().count(), 2);
    assert_eq!(queries(&registry, "sqlite", "SELECT", "error"), 1.0);
    let spans = telemetry
        .spans_about("exhausted_pool", |s| s.len() >= 2)
        .await;
    let failed = span(&spans, "SELECT exhausted_pool");
    assert_eq!(failed.status_code, StatusCode::Error);
    assert_eq!(failed.attr("error.type").as_deref(), Some("pool_timed_out"));
    assert_eq!(failed.attr("db.response.status_code"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_text_can_be_off_or_full_and_streams_count_once() {
    use futures_util::StreamExt as _;
    use unitel_sqlx::QueryTextMode;

    let telemetry = telemetry();
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new();
    let raw = sqlite_pool(&dir, "modes.db", 2, Duration::from_secs(5)).await;
    let full = InstrumentedPool::builder(raw.clone())
        .name("sqlite_full")
        .registry(registry.clone())
        .query_text(QueryTextMode::Full)
        .build()
        .unwrap();
    let off = InstrumentedPool::builder(raw)
        .name("sqlite_off")
        .registry(registry.clone())
        .query_text(QueryTextMode::Off)
        .build()
        .unwrap();
    sqlx::query("CREATE TABLE text_modes (v TEXT)")
        .execute(&full)
        .await
        .unwrap();
    sqlx::query("INSERT INTO text_modes VALUES ('full text'), ('b'), ('c')")
        .execute(&full)
        .await
        .unwrap();
    sqlx::query("INSERT INTO text_modes VALUES ('no text')")
        .execute(&off)
        .await
        .unwrap();

    // A stream read partly and dropped counts once, as ok, with the rows it returned.
    let mut rows = sqlx::query("SELECT v FROM text_modes").fetch(&full);
    assert!(rows.next().await.is_some());
    drop(rows);
    // A stream never polled is not a query.
    drop(sqlx::query("SELECT v FROM text_modes WHERE v = 'never'").fetch(&full));

    assert_eq!(queries(&registry, "sqlite", "SELECT", "ok"), 1.0);
    assert_eq!(queries(&registry, "sqlite", "INSERT", "ok"), 2.0);
    let spans = telemetry.spans_about("text_modes", |s| s.len() >= 4).await;
    assert!(spans.iter().any(|s| s.attr("db.query.text").as_deref()
        == Some("INSERT INTO text_modes VALUES ('full text'), ('b'), ('c')")));
    let off_span = spans
        .iter()
        .find(|s| s.name == "INSERT text_modes" && s.attr("db.query.text").is_none())
        .expect("the span of the pool without query text");
    assert_eq!(
        off_span.attr("db.collection.name").as_deref(),
        Some("text_modes")
    );
    let partial = span(&spans, "SELECT text_modes");
    assert_eq!(
        partial.attr("db.response.returned_rows").as_deref(),
        Some("1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_unicode_and_commented_statements_are_sanitized_and_bounded() {
    let telemetry = telemetry();
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new();
    let raw = sqlite_pool(&dir, "bad_input.db", 1, Duration::from_secs(5)).await;
    let pool = InstrumentedPool::builder(raw)
        .name("sqlite_bad_input")
        .registry(registry.clone())
        .build()
        .unwrap();
    sqlx::query("/* setup */ CREATE TABLE bad_input (v TEXT)")
        .execute(&pool)
        .await
        .unwrap();

    // A 100 KB literal full of quotes, comment markers, dollars and unicode.
    let payload = "it''s -- not /* a */ comment $$ ✓ é 😀 ".repeat(100 * 1024 / 40);
    let huge = format!("-- leading note\nINSERT INTO bad_input (v) VALUES ('{payload}')");
    assert!(huge.len() > 100 * 1024);
    sqlx::query(sqlx::AssertSqlSafe(huge))
        .execute(&pool)
        .await
        .unwrap();
    // 100 KB of numeric literals: the text is cut at the cap, on a char boundary.
    let many = format!(
        "SELECT v FROM bad_input WHERE v <> 'ü' AND length(v) NOT IN ({}0)",
        "12345, ".repeat(100 * 1024 / 7)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(many))
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(queries(&registry, "sqlite", "INSERT", "ok"), 1.0);
    assert_eq!(queries(&registry, "sqlite", "SELECT", "ok"), 1.0);

    let spans = telemetry.spans_about("bad_input", |s| s.len() >= 3).await;
    let insert = span(&spans, "INSERT bad_input");
    assert_eq!(
        insert.attr("db.query.text").as_deref(),
        Some("INSERT INTO bad_input (v) VALUES (?)")
    );
    let select = span(&spans, "SELECT bad_input");
    let text = select.attr("db.query.text").unwrap();
    assert!(
        text.len() <= unitel::db::DEFAULT_MAX_QUERY_TEXT_LEN,
        "{}",
        text.len()
    );
    assert!(
        text.starts_with("SELECT v FROM bad_input WHERE v <> ? AND length(v) NOT IN (?, ?, "),
        "{text}"
    );
    assert!(!text.contains("12345") && !text.contains('ü'));
    let create = span(&spans, "CREATE bad_input");
    assert_eq!(
        create.attr("db.query.text").as_deref(),
        Some("CREATE TABLE bad_input (v TEXT)")
    );
}
