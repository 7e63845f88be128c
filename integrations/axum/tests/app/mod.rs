//! The axum application of the shared test suites (see `shared/support.rs`, `APP_ROUTES`).

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use futures_util::StreamExt as _;
use unitel_axum::{HttpMetricsLayer, metrics_route, metrics_route_for};

use crate::support::{ServerOptions, TestServer};

async fn get_item(Path(id): Path<String>) -> impl IntoResponse {
    axum::Json(serde_json::json!({ "id": id, "name": format!("item {id}") }))
}

async fn delete_item() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn create_item() -> impl IntoResponse {
    (
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "id": "new" })),
    )
}

async fn upload(body: Bytes) -> String {
    body.len().to_string()
}

async fn fail() -> impl IntoResponse {
    (StatusCode::INTERNAL_SERVER_ERROR, "failed")
}

async fn panics() -> &'static str {
    panic!("handler panicked on purpose")
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "slow"
}

async fn stream() -> Body {
    let first = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(Bytes::from_static(b"first\n"))
    });
    Body::from_stream(first.chain(futures_util::stream::pending()))
}

fn app(options: ServerOptions) -> Router {
    let metrics = match options.metrics {
        Some((registry, auth)) => metrics_route_for(registry, auth),
        None => metrics_route(),
    };
    Router::new()
        .route("/api/items/{id}", get(get_item).delete(delete_item))
        .route("/api/items", post(create_item))
        .route("/api/upload", post(upload))
        .route("/api/fail", get(fail))
        .route("/api/panic", get(panics))
        .route("/api/slow", get(slow))
        .route("/api/stream", get(stream))
        .route("/health", get(|| async { "ok" }))
        .nest(
            "/v1",
            Router::new().route("/nested/{x}", get(|| async { "nested" })),
        )
        .merge(metrics)
        .layer(HttpMetricsLayer::with_config(options.config))
}

/// Serves the test application on `127.0.0.1:0` (listen backlog 4096) on the current runtime.
pub(crate) async fn start_server(options: ServerOptions) -> TestServer {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(4096).unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(axum::serve(listener, app(options)).into_future());
    TestServer::new(addr, move || task.abort())
}
