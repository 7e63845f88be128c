//! A small actix-web service with unitel metrics and spans.
//!
//! ```sh
//! cargo run -p unitel-actix --example actix_hello
//! curl http://127.0.0.1:3000/api/items/7
//! curl -X POST -H 'content-type: application/json' -d '{"name":"lamp"}' http://127.0.0.1:3000/api/items
//! curl http://127.0.0.1:3000/api/fail
//! curl http://127.0.0.1:3000/metrics
//! ```
//!
//! `BIND_ADDR` (default `127.0.0.1:3000`) sets the address; every `unitel` variable
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, `UNITEL_METRICS_TOKEN`, ...) applies.

use std::net::SocketAddr;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use unitel_actix::{HttpMetrics, HttpServerConfig};

async fn get_item(id: web::Path<u64>) -> HttpResponse {
    let id = id.into_inner();
    HttpResponse::Ok().json(json!({ "id": id, "name": format!("item {id}") }))
}

async fn create_item(item: web::Json<Value>) -> HttpResponse {
    HttpResponse::Created().json(json!({ "id": 42, "item": item.into_inner() }))
}

async fn fail() -> HttpResponse {
    HttpResponse::InternalServerError().body("something went wrong\n")
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = unitel::init(unitel::TelemetryConfig::from_env()?)?;
    let bind: SocketAddr = std::env::var("BIND_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()?;
    // One middleware for all workers, so they share one handle cache.
    let metrics = HttpMetrics::with_config(
        HttpServerConfig::new()
            .server_address(bind.ip().to_string())
            .server_port(bind.port()),
    );

    println!(
        "listening on http://{bind}; metrics at http://{bind}{}",
        unitel::Telemetry::global().metrics_path()
    );
    HttpServer::new(move || {
        App::new()
            .route("/api/items/{id}", web::get().to(get_item))
            .route("/api/items", web::post().to(create_item))
            .route("/api/fail", web::get().to(fail))
            .service(unitel_actix::metrics_scope())
            .wrap(metrics.clone())
    })
    .bind(bind)?
    .run()
    .await?;
    guard.shutdown().await?;
    Ok(())
}
