//! `ENABLE_METRICS=false`: the layer still serves every request (and opens its spans) but
//! records no HTTP metrics in the process registry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::routing::get;
use unitel::TelemetryConfig;
use unitel_axum::HttpMetricsLayer;

#[tokio::test]
async fn enable_metrics_false_records_no_http_metrics() {
    let config = TelemetryConfig::builder()
        .service_name("metrics-disabled")
        .enable_metrics(false)
        .log_filter("warn")
        .build()
        .unwrap();
    let _guard = unitel::init(config).unwrap();
    assert!(!unitel::Telemetry::global().metrics_enabled());

    let app = Router::new()
        .route("/api/items/{id}", get(|| async { "item" }))
        .layer(HttpMetricsLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = reqwest::Client::new();
    for i in 0..5 {
        let r = client
            .get(format!("http://{addr}/api/items/{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "item");
    }
    let text = unitel::prometheus::render_registry(unitel::registry());
    // Nothing counted or observed (the route's in-flight handle may exist, at 0).
    for family in [
        "http_requests_total",
        "http_request_duration_seconds",
        "http_requests_in_flight",
    ] {
        let recorded: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(family) && !l.ends_with(" 0"))
            .collect();
        assert!(
            recorded.is_empty(),
            "{family} recorded although ENABLE_METRICS=false: {recorded:?}"
        );
    }
}
