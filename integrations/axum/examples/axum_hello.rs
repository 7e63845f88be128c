//! A small axum service with unitel metrics and spans.
//!
//! ```sh
//! cargo run -p unitel-axum --example axum_hello
//! curl http://127.0.0.1:3000/api/items/7
//! curl -X POST -H 'content-type: application/json' -d '{"name":"lamp"}' http://127.0.0.1:3000/api/items
//! curl http://127.0.0.1:3000/api/fail
//! curl http://127.0.0.1:3000/metrics
//! ```
//!
//! `BIND_ADDR` (default `127.0.0.1:3000`) sets the address; every `unitel` variable
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, `UNITEL_METRICS_TOKEN`, ...) applies.

use std::net::SocketAddr;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use unitel_axum::{HttpMetricsLayer, HttpServerConfig};

async fn get_item(Path(id): Path<u64>) -> Json<Value> {
    Json(json!({ "id": id, "name": format!("item {id}") }))
}

async fn create_item(Json(item): Json<Value>) -> (StatusCode, Json<Value>) {
    (StatusCode::CREATED, Json(json!({ "id": 42, "item": item })))
}

async fn fail() -> (StatusCode, &'static str) {
    (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong\n")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = unitel::init(unitel::TelemetryConfig::from_env()?)?;
    let bind: SocketAddr = std::env::var("BIND_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()?;
    let config = HttpServerConfig::new()
        .server_address(bind.ip().to_string())
        .server_port(bind.port());

    let app = Router::new()
        .route("/api/items/{id}", get(get_item))
        .route("/api/items", post(create_item))
        .route("/api/fail", get(fail))
        .merge(unitel_axum::metrics_route())
        .layer(HttpMetricsLayer::with_config(config));

    let listener = tokio::net::TcpListener::bind(bind).await?;
    println!(
        "listening on http://{bind}; metrics at http://{bind}{}",
        unitel::Telemetry::global().metrics_path()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    guard.shutdown().await?;
    Ok(())
}
