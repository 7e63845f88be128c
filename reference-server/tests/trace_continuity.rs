//! One trace across services: a client span (reqwest + `ClientMetricsMiddleware`) → the server
//! span of an axum app behind `unitel_axum::HttpMetricsLayer` → the sqlx query span of the
//! handler's database call (`unitel_sqlx::InstrumentedPool` on a real SQLite file), read back
//! from the testkit's OTLP receiver.
//!
//! It composes three integration crates in one process, so it lives here, with the reference
//! server (the crate that combines them anyway), and not in any integration crate: those may
//! depend on `unitel` and `unitel-testkit` only (`dependency_rules.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use reqwest_middleware::ClientBuilder;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tracing::Instrument as _;
use unitel::config::TracesExporter;
use unitel::{TelemetryConfig, TelemetryGuard};
use unitel_reqwest::{ClientMetricsMiddleware, UrlTemplate};
use unitel_sqlx::InstrumentedPool;
use unitel_testkit::otlp::SpanKind;
use unitel_testkit::{OtlpReceiver, ReceivedSpan};

/// This test binary's telemetry: spans go to `receiver`.
struct SharedTelemetry {
    receiver: OtlpReceiver,
    guard: Mutex<TelemetryGuard>,
}

impl SharedTelemetry {
    /// Flushes, then waits until the trace of the span named `root` holds `len` spans (or
    /// 10 s pass), and returns them: the root first, then by start time.
    async fn trace_of(&self, root: &str, len: usize) -> Vec<ReceivedSpan> {
        self.guard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .force_flush();
        let select = |all: &[ReceivedSpan]| -> Vec<ReceivedSpan> {
            let Some(r) = all.iter().find(|s| s.name == root) else {
                return Vec::new();
            };
            let mut trace: Vec<_> = all
                .iter()
                .filter(|s| s.trace_id == r.trace_id)
                .cloned()
                .collect();
            trace.sort_by_key(|s| (s.span_id != r.span_id, s.start_time_unix_nano));
            trace
        };
        let all = self
            .receiver
            .wait_for_spans(|all| select(all).len() >= len, Duration::from_secs(10))
            .await;
        select(&all)
    }
}

/// Installs telemetry once for this test binary, exporting spans to a real OTLP receiver.
fn telemetry() -> &'static SharedTelemetry {
    static TELEMETRY: OnceLock<SharedTelemetry> = OnceLock::new();
    TELEMETRY.get_or_init(|| {
        let receiver = OtlpReceiver::start_blocking().expect("OTLP receiver");
        let config = TelemetryConfig::builder()
            .service_name("trace-continuity-test")
            .otlp_endpoint(receiver.endpoint())
            .traces_exporters([TracesExporter::Otlp])
            .traces_schedule_delay(Duration::from_millis(100))
            .log_filter("warn")
            .build()
            .expect("config");
        let guard = unitel::init(config).expect("unitel::init");
        SharedTelemetry {
            receiver,
            guard: Mutex::new(guard),
        }
    })
}

/// The span named `name` among `spans`.
fn span<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        let names: Vec<_> = spans.iter().map(|s| &s.name).collect();
        panic!("no span named {name:?} among {names:?}")
    })
}

async fn order(
    State(pool): State<InstrumentedPool<sqlx::Sqlite>>,
    Path(id): Path<i64>,
) -> Result<String, axum::http::StatusCode> {
    sqlx::query_scalar::<_, String>("SELECT item FROM continuity_orders WHERE id = ?")
        .bind(id)
        .fetch_one(&pool)
        .await
        .map_err(|_| axum::http::StatusCode::NOT_FOUND)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_server_and_query_spans_form_one_trace() {
    let telemetry = telemetry();
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("orders.db"))
        .create_if_missing(true);
    let raw = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE continuity_orders (id INTEGER PRIMARY KEY, item TEXT)")
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query("INSERT INTO continuity_orders (id, item) VALUES (1, 'teapot')")
        .execute(&raw)
        .await
        .unwrap();
    let pool = InstrumentedPool::builder(raw)
        .name("continuity")
        .build()
        .unwrap();

    let app = Router::new()
        .route("/orders/{id}", get(order))
        .with_state(pool)
        .layer(unitel_axum::HttpMetricsLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = ClientBuilder::new(
        reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap(),
    )
    .with(ClientMetricsMiddleware::new())
    .build();
    let root = unitel::trace::start_span("checkout scenario");
    let body = async {
        client
            .get(format!("http://{addr}/orders/1"))
            .with_extension(UrlTemplate::new("/orders/{id}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
    .instrument(root.clone())
    .await;
    drop(root);
    assert_eq!(body, "teapot");

    let trace = telemetry.trace_of("checkout scenario", 4).await;
    assert_eq!(
        trace.len(),
        4,
        "{:#?}",
        trace.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let root = &trace[0];
    let client_span = trace
        .iter()
        .find(|s| s.kind == SpanKind::Client && s.name == "GET /orders/{id}")
        .expect("the client span");
    let server_span = trace
        .iter()
        .find(|s| s.kind == SpanKind::Server)
        .expect("the server span");
    let query_span = span(&trace, "SELECT continuity_orders");

    assert_eq!(client_span.parent_span_id, root.span_id);
    assert_eq!(server_span.parent_span_id, client_span.span_id);
    assert_eq!(server_span.name, "GET /orders/{id}");
    assert_eq!(query_span.parent_span_id, server_span.span_id);
    assert_eq!(query_span.kind, SpanKind::Client);
    assert_eq!(
        query_span.attr("db.query.text").as_deref(),
        Some("SELECT item FROM continuity_orders WHERE id = ?")
    );
    assert_eq!(
        server_span.resource_attr("service.name").as_deref(),
        Some("trace-continuity-test")
    );
    for s in &trace {
        assert_eq!(s.trace_id, root.trace_id);
    }
}
