//! unitel-sqlx against a real PostgreSQL server (`unitel_testkit::postgres()`: skipped loudly
//! when none can be found or started, a failure under `UNITEL_REQUIRE_SERVICES=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use tracing::Instrument as _;
use unitel::Registry;
use unitel_sqlx::InstrumentedPool;
use unitel_testkit::otlp::{SpanKind, StatusCode};
use unitel_testkit::service_or_skip;

use common::{durations, eventually, queries, span, telemetry};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_transactions_and_failures_are_counted_and_traced() {
    let pg = service_or_skip!(unitel_testkit::postgres().await);
    let telemetry = telemetry();
    let registry = Registry::new();
    let raw = PgPoolOptions::new()
        .max_connections(3)
        .connect(pg.url())
        .await
        .unwrap();
    let pool = InstrumentedPool::builder(raw)
        .name("pg_crud")
        .registry(registry.clone())
        .build()
        .unwrap();

    let root = unitel::trace::start_span("pg_fruit scenario");
    async {
        sqlx::query(
            "CREATE TABLE pg_fruit (id SERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, price DOUBLE PRECISION)",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO pg_fruit (name, price) VALUES ('apple', 1.5)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO pg_fruit (name, price) VALUES ($1, $2)")
            .bind("pear")
            .bind(2.25f64)
            .execute(&pool)
            .await
            .unwrap();
        let rows: Vec<(i32, String)> = sqlx::query_as("SELECT id, name FROM pg_fruit ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(rows, [(1, "apple".to_owned()), (2, "pear".to_owned())]);
        let body: String = sqlx::query_scalar("SELECT $$it's a 'secret' body$$::text FROM pg_fruit LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(body, "it's a 'secret' body");
        sqlx::query("UPDATE pg_fruit SET price = price * 2 WHERE name = E'app\\'le'")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("DELETE FROM pg_fruit WHERE name = $1")
            .bind("pear")
            .execute(&pool)
            .await
            .unwrap();

        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO pg_fruit (name, price) VALUES ('plum', 3)")
            .execute(&mut *tx)
            .await
            .unwrap();
        let in_tx: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_fruit")
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(in_tx, 2);
        tx.commit().await.unwrap();

        let mut tx = pool.begin().await.unwrap();
        sqlx::query("DELETE FROM pg_fruit").execute(&mut *tx).await.unwrap();
        tx.rollback().await.unwrap();

        let missing = sqlx::query("SELECT * FROM pg_fruit_missing WHERE id = 7")
            .fetch_all(&pool)
            .await;
        assert!(missing.is_err());
        let duplicate = sqlx::query("INSERT INTO pg_fruit (name, price) VALUES ('apple', 9)")
            .execute(&pool)
            .await;
        assert!(duplicate.is_err());
    }
    .instrument(root.clone())
    .await;
    drop(root);

    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_fruit")
        .fetch_one(pool.inner())
        .await
        .unwrap();
    assert_eq!(left, 2, "the rollback undid the DELETE");

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
    ];
    for (op, status, want) in expected {
        assert_eq!(
            queries(&registry, "postgresql", op, status),
            want,
            "{op} {status}"
        );
    }
    assert_eq!(durations(&registry, "postgresql", "SELECT"), 4);

    let spans = telemetry.trace_of("pg_fruit scenario", 17).await;
    let (root, trace) = spans.split_first().expect("the scenario span");
    assert_eq!(
        trace.len(),
        16,
        "{:#?}",
        trace.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    // postgres://user@host:port/db → host, port
    let authority = pg
        .url()
        .split("://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let host_port = authority.rsplit('@').next().unwrap();
    let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "5432"));
    let port = port.to_owned();
    for s in trace {
        assert_eq!(s.parent_span_id, root.span_id, "{}", s.name);
        assert_eq!(s.kind, SpanKind::Client);
        assert_eq!(s.attr("db.system.name").as_deref(), Some("postgresql"));
        assert_eq!(s.attr("db.namespace").as_deref(), Some(pg.database()));
        assert_eq!(s.attr("server.address").as_deref(), Some(host));
        assert_eq!(s.attr("server.port"), Some(port.clone()));
        let text = s.attr("db.query.text").unwrap_or_default();
        assert!(
            !text.contains("apple") && !text.contains("secret") && !text.contains("plum"),
            "{text}"
        );
    }
    let texts: Vec<String> = trace
        .iter()
        .filter_map(|s| s.attr("db.query.text"))
        .collect();
    for want in [
        "INSERT INTO pg_fruit (name, price) VALUES (?, ?)",
        "INSERT INTO pg_fruit (name, price) VALUES ($1, $2)",
        "SELECT ?::text FROM pg_fruit LIMIT ?",
        "UPDATE pg_fruit SET price = price * ? WHERE name = ?",
        "DELETE FROM pg_fruit WHERE name = $1",
    ] {
        assert!(
            texts.iter().any(|t| t == want),
            "{want:?} not among {texts:#?}"
        );
    }
    let missing = span(trace, "SELECT pg_fruit_missing");
    assert_eq!(missing.status_code, StatusCode::Error);
    assert_eq!(
        missing.attr("error.type").as_deref(),
        Some("42P01"),
        "undefined_table"
    );
    assert_eq!(
        missing.attr("db.response.status_code").as_deref(),
        Some("42P01")
    );
    let duplicate = trace
        .iter()
        .find(|s| s.status_code == StatusCode::Error && s.name == "INSERT pg_fruit")
        .expect("the failed INSERT span");
    assert_eq!(
        duplicate.attr("error.type").as_deref(),
        Some("23505"),
        "unique_violation"
    );
    let all = trace
        .iter()
        .find(|s| {
            s.attr("db.query.text").as_deref() == Some("SELECT id, name FROM pg_fruit ORDER BY id")
        })
        .unwrap();
    assert_eq!(all.attr("db.response.returned_rows").as_deref(), Some("2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_gauges_follow_twenty_queries_on_five_connections() {
    let pg = service_or_skip!(unitel_testkit::postgres().await);
    let registry = Registry::new();
    let raw = PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_secs(30))
        .connect(pg.url())
        .await
        .unwrap();
    let pool = InstrumentedPool::builder(raw)
        .name("pg_contended")
        .registry(registry.clone())
        .sample_interval(Duration::from_millis(10))
        .build()
        .unwrap();
    let metrics = pool.metrics().clone();
    assert_eq!(metrics.max().value(), 5.0);
    let acquires_before = metrics.acquire_duration().snapshot().count();

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
    // Each query holds its connection for 50 ms inside the server.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                sqlx::query("SELECT pg_sleep(0.05)")
                    .execute(&pool)
                    .await
                    .unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    running.store(false, Ordering::Relaxed);
    assert_eq!(
        watcher.await.unwrap(),
        5.0,
        "all five connections were seen in use"
    );

    let waits = metrics.acquire_duration().snapshot();
    assert_eq!(waits.count() - acquires_before, 20, "one acquire per query");
    // Bounds: …, 0.025 (index 5), 0.05, …: the 15 queries of the later waves waited at least
    // one 50 ms query.
    let long_waits: u64 = waits.buckets[6..].iter().sum();
    assert!(long_waits >= 15, "acquire waits: {:?}", waits.buckets);
    assert_eq!(queries(&registry, "postgresql", "SELECT", "ok"), 20.0);
    assert_eq!(durations(&registry, "postgresql", "SELECT"), 20);

    eventually("no active connection", || metrics.active().value() == 0.0).await;
    assert_eq!(metrics.idle().value(), f64::from(pool.size()));
    assert_eq!(metrics.acquire_timeouts().value(), 0.0);
}
