//! PostgreSQL goes away and comes back while the reference server is under load. The queries
//! that fail are recorded with `db_queries_total{status="error"}` and their spans carry
//! `error.type` (the SQLSTATE, such as `57P01`, or a fixed name such as `pool_timed_out`); the
//! pool gauges stay consistent throughout (never negative, never more connections than the
//! maximum) and drain to zero active connections afterwards; and the server recovers on its
//! own, without a restart.
//!
//! The outage is what a "fast" shutdown and a restart look like to a client, made the same way
//! whether PostgreSQL runs locally, in Docker or elsewhere (`UNITEL_TEST_DATABASE_URL`): the
//! server reaches PostgreSQL through a [`TcpProxy`], whose port closes (new connections are
//! refused); PostgreSQL terminates every session of the server (`pg_terminate_backend`, the
//! same `FATAL 57P01` a fast shutdown sends); what is still open through the proxy is closed;
//! and 3 s later the port opens again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fault_support::{Loadgen, Process, parse_exposition, sum};
use serde_json::json;
use unitel_testkit::otlp::SpanKind;
use unitel_testkit::{OtlpReceiver, TcpProxy};

/// `(active, idle, max)` of the `main` pool.
fn pool_gauges(text: &str) -> (f64, f64, f64) {
    let s = parse_exposition(text);
    let g = |name| sum(&s, name, &[("pool", "main"), ("db_system", "postgresql")]);
    (
        g("db_connections_active"),
        g("db_connections_idle"),
        g("db_connections_max"),
    )
}

fn assert_consistent(text: &str, when: &str) {
    let (active, idle, max) = pool_gauges(text);
    assert_eq!(max, 10.0, "{when}: db_connections_max");
    assert!(
        active >= 0.0 && idle >= 0.0 && active + idle <= max,
        "{when}: inconsistent pool gauges active={active} idle={idle} max={max}"
    );
}

/// `url` with `application_name=app` added.
fn with_application_name(url: &str, app: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}application_name={app}")
}

/// The `host:port` a connection URL names (port 5432 when it names none), and the URL with
/// `proxy` in its place; `None` when it names no single TCP host (a Unix socket, several hosts).
fn through_proxy(url: &str, proxy: std::net::SocketAddr) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((user, host_port)) => (format!("{user}@"), host_port),
        None => (String::new(), authority),
    };
    if host_port.is_empty() || host_port.contains(',') || tail.contains("host=") {
        return None;
    }
    let has_port = match host_port.rsplit_once(']') {
        Some((_, after)) => after.starts_with(':'),
        None => host_port.contains(':'),
    };
    let upstream = if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    Some((upstream, format!("{scheme}://{user}{proxy}{tail}")))
}

#[test]
fn urls_are_rewritten_to_the_proxy() {
    let proxy: std::net::SocketAddr = "127.0.0.1:7000".parse().unwrap();
    for (url, upstream, proxied) in [
        (
            "postgres://postgres@127.0.0.1:5433/unitel_1_0",
            "127.0.0.1:5433",
            "postgres://postgres@127.0.0.1:7000/unitel_1_0",
        ),
        (
            "postgresql://u:p@db.example/app?sslmode=disable",
            "db.example:5432",
            "postgresql://u:p@127.0.0.1:7000/app?sslmode=disable",
        ),
        (
            "postgres://[::1]:6000/x",
            "[::1]:6000",
            "postgres://127.0.0.1:7000/x",
        ),
        (
            "postgres://[::1]/x",
            "[::1]:5432",
            "postgres://127.0.0.1:7000/x",
        ),
    ] {
        assert_eq!(
            through_proxy(url, proxy),
            Some((upstream.to_owned(), proxied.to_owned())),
            "{url}"
        );
    }
    assert_eq!(
        through_proxy("postgres:///db?host=/run/postgresql", proxy),
        None
    );
    assert_eq!(through_proxy("postgres://a:1,b:2/db", proxy), None);
    assert_eq!(
        with_application_name("postgres://h/db?sslmode=disable", "x"),
        "postgres://h/db?sslmode=disable&application_name=x"
    );
}

/// Whether a document can be stored and found again.
async fn serves(client: &reqwest::Client, base: &str) -> bool {
    let stored = client
        .post(format!("{base}/v1/documents"))
        .timeout(Duration::from_secs(5))
        .json(&json!({"text": "The database is back. Recovery needs no restart."}))
        .send()
        .await
        .is_ok_and(|r| r.status() == 201);
    let found = client
        .post(format!("{base}/v1/rag/query"))
        .timeout(Duration::from_secs(5))
        .json(&json!({"query": "Is the database back?"}))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200);
    stored && found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_goes_away_and_comes_back_under_load() {
    let Some(pg) = unitel_testkit::postgres().await else {
        return;
    };
    let Some((upstream, _)) = through_proxy(pg.url(), "127.0.0.1:1".parse().unwrap()) else {
        unitel_testkit::skip_test(
            "PostgreSQL at a TCP address",
            &format!(
                "the outage goes through a TCP proxy; {} names none",
                pg.url()
            ),
        );
        return;
    };
    let proxy = TcpProxy::start(upstream).unwrap();
    let (_, proxied) = through_proxy(pg.url(), proxy.addr()).unwrap();
    // The server's sessions, and the locker's, are told apart by their application name.
    let app = format!("unitel_fault_{}", std::process::id());
    let receiver = OtlpReceiver::start().await.unwrap();
    let mut server = Process::start(&[
        ("DATABASE_URL", with_application_name(&proxied, &app)),
        ("DATABASE_ACQUIRE_TIMEOUT_MS", "1000".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
    ])
    .await;
    let base = server.base.clone();
    let client = reqwest::Client::new();

    let healthy = Loadgen::run(&base, 3.0, 4).await;
    healthy.assert_no_failures("healthy");
    let text = server.metrics().await;
    assert_consistent(&text, "healthy");
    let samples = parse_exposition(&text);
    assert_eq!(
        sum(&samples, "db_queries_total", &[("status", "error")]),
        0.0
    );
    let ok_before = sum(&samples, "db_queries_total", &[("status", "ok")]);
    assert!(ok_before > 0.0);

    // Under load: another session locks the chunks table, so queries pile up in flight; then
    // PostgreSQL goes away (terminating them) for 3 s, and comes back.
    let queries = |t: &str| {
        sum(
            &parse_exposition(t),
            "http_requests_total",
            &[("route", "/v1/rag/query")],
        )
    };
    let queries_before = queries(&server.metrics().await);
    let load = Loadgen::start(&base, 9.0, 4);
    // Past loadgen's seeding (one document at a time), into its concurrent mix.
    let (mixing, _) = server
        .metrics_until(Duration::from_secs(15), |t| {
            queries(t) >= queries_before + 20.0
        })
        .await;
    assert!(mixing, "loadgen did not get going");
    let locker = {
        let url = with_application_name(pg.url(), &format!("{app}_locker"));
        std::thread::spawn(move || {
            Command::new("psql")
                .args([&url, "-X", "-q", "-c"])
                .arg("BEGIN; LOCK TABLE chunks IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
        })
    };
    let (blocked, text) = server
        .metrics_until(Duration::from_secs(15), |t| pool_gauges(t).0 >= 3.0)
        .await;
    assert!(
        blocked,
        "queries did not queue up behind the lock: {:?}",
        pool_gauges(&text)
    );
    assert_consistent(&text, "queries blocked");
    proxy.refuse();
    // The server's sessions first, while their queries still wait for the lock, then the locker.
    let terminate = |name: &str| {
        pg.psql(&format!(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = '{name}'"
        ))
        .unwrap()
        .trim()
        .parse::<u32>()
        .unwrap()
    };
    let terminated = terminate(&app);
    assert!(
        terminated >= 3,
        "only {terminated} sessions of the server were terminated"
    );
    assert_eq!(terminate(&format!("{app}_locker")), 1);
    let _ = locker.join();
    let closed = proxy.drop_connections(Duration::from_secs(2));
    let outage = Instant::now();
    let mut samples_taken = 0;
    while outage.elapsed() < Duration::from_secs(3) {
        assert_consistent(&server.metrics().await, "PostgreSQL away");
        samples_taken += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.accept().unwrap();
    let restarted = Instant::now();
    let recovered = loop {
        if serves(&client, &base).await {
            break restarted.elapsed();
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "the server did not recover within 30 s of PostgreSQL's return"
        );
        assert_consistent(&server.metrics().await, "recovering");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let during = load.finish().await;
    assert_eq!(during.transport_errors, 0, "{}", during.output);
    // An unreachable database is the server's 503 (retry later), not a 500.
    assert_eq!(
        during.by_status.get(&500),
        None,
        "requests answered 500 while PostgreSQL was away\n{}",
        during.output
    );
    assert!(
        during.by_status.get(&503).is_some_and(|n| *n > 0),
        "no request was answered 503 while PostgreSQL was away\n{}",
        during.output
    );

    // After: a clean run, and the pool drains.
    let after = Loadgen::run(&base, 3.0, 4).await;
    after.assert_no_failures("after PostgreSQL's return");
    let (drained, text) = server
        .metrics_until(Duration::from_secs(10), |t| pool_gauges(t).0 == 0.0)
        .await;
    assert!(
        drained,
        "connections stay active after the load: {:?}",
        pool_gauges(&text)
    );
    assert_consistent(&text, "after");
    assert!(server.is_running());

    let samples = parse_exposition(&text);
    let errors = sum(&samples, "db_queries_total", &[("status", "error")]);
    assert!(
        errors > 0.0,
        "no query was recorded as failed while PostgreSQL was away"
    );
    assert!(sum(&samples, "db_queries_total", &[("status", "ok")]) > ok_before);

    // The failed queries' spans say why.
    let spans = receiver
        .wait_for_spans(
            |spans| {
                spans.iter().any(|s| {
                    s.kind == SpanKind::Client
                        && s.attr("db.system.name").is_some()
                        && s.attr("error.type").is_some()
                })
            },
            Duration::from_secs(20),
        )
        .await;
    let mut error_types = BTreeMap::<String, usize>::new();
    for s in spans
        .iter()
        .filter(|s| s.attr("db.system.name").as_deref() == Some("postgresql"))
    {
        if let Some(error_type) = s.attr("error.type") {
            assert_eq!(
                s.status_code,
                unitel_testkit::otlp::StatusCode::Error,
                "{s:#?}"
            );
            if let Some(code) = s.attr("db.response.status_code") {
                assert_eq!(code.len(), 5, "not an SQLSTATE: {code}");
                assert_eq!(code, error_type);
            }
            *error_types.entry(error_type).or_default() += 1;
        }
    }
    assert!(
        error_types
            .keys()
            .any(|t| t.len() == 5 && t.starts_with("57")),
        "no query terminated by the outage carries its SQLSTATE (57xxx) as error.type: \
         {error_types:?}"
    );
    assert!(
        error_types.contains_key("pool_timed_out"),
        "no query that found no connection carries error.type=pool_timed_out: {error_types:?}"
    );
    println!(
        "database fault ({:?} PostgreSQL): {terminated} sessions terminated, {closed} \
         connections closed by the proxy; {errors} failed queries recorded, error types on \
         spans {error_types:?}; loadgen during the outage {:?}; recovered {recovered:.1?} after \
         PostgreSQL's return; {samples_taken} gauge samples consistent",
        pg.backend(),
        during.by_status
    );
}
