//! The actix application of the shared test suites (see the axum crate's
//! `tests/shared/support.rs`, `APP_ROUTES`).

use std::time::Duration;

use actix_web::web::{self, Bytes};
use actix_web::{App, HttpResponse, HttpServer};
use futures_util::StreamExt as _;
use unitel_actix::{HttpMetrics, metrics_scope, metrics_scope_for};

use crate::support::{ServerOptions, TestServer};

async fn get_item(id: web::Path<String>) -> HttpResponse {
    let id = id.into_inner();
    HttpResponse::Ok().json(serde_json::json!({ "id": id, "name": format!("item {id}") }))
}

async fn delete_item() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

async fn create_item() -> HttpResponse {
    HttpResponse::Created().json(serde_json::json!({ "id": "new" }))
}

async fn upload(body: Bytes) -> HttpResponse {
    HttpResponse::Ok().body(body.len().to_string())
}

async fn fail() -> HttpResponse {
    HttpResponse::InternalServerError().body("failed")
}

async fn panics() -> HttpResponse {
    panic!("handler panicked on purpose")
}

async fn slow() -> HttpResponse {
    actix_rt::time::sleep(Duration::from_secs(30)).await;
    HttpResponse::Ok().body("slow")
}

async fn stream() -> HttpResponse {
    let first = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(Bytes::from_static(b"first\n"))
    });
    HttpResponse::Ok().streaming(first.chain(futures_util::stream::pending()))
}

/// Serves the test application on `127.0.0.1:0` from its own thread and actix system (two
/// workers, backlog 4096). `h1_allow_half_closed(false)` makes actix drop a handler whose client
/// disconnected (see the crate docs).
pub(crate) async fn start_server(options: ServerOptions) -> TestServer {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let system = actix_rt::System::new();
        system.block_on(async move {
            let middleware = HttpMetrics::with_config(options.config);
            let metrics = options.metrics;
            let server = HttpServer::new(move || {
                let metrics = match metrics.clone() {
                    Some((registry, auth)) => metrics_scope_for(registry, auth),
                    None => metrics_scope(),
                };
                App::new()
                    .service(
                        web::resource("/api/items/{id}")
                            .route(web::get().to(get_item))
                            .route(web::head().to(get_item))
                            .route(web::delete().to(delete_item)),
                    )
                    .route("/api/items", web::post().to(create_item))
                    .route("/api/upload", web::post().to(upload))
                    .route("/api/fail", web::get().to(fail))
                    .route("/api/panic", web::get().to(panics))
                    .route("/api/slow", web::get().to(slow))
                    .route("/api/stream", web::get().to(stream))
                    .route("/health", web::get().to(|| async { "ok" }))
                    .service(
                        web::scope("/v1")
                            .route("/nested/{x}", web::get().to(|| async { "nested" })),
                    )
                    .service(metrics)
                    .wrap(middleware.clone())
            })
            .workers(2)
            .backlog(4096)
            .h1_allow_half_closed(false)
            .disable_signals()
            .shutdown_timeout(1)
            .bind(("127.0.0.1", 0))
            .unwrap();
            let addr = server.addrs()[0];
            let server = server.run();
            ready_tx.send((addr, server.handle())).unwrap();
            let _ = server.await;
        });
    });
    let (addr, handle) = ready_rx.recv().unwrap();
    TestServer::new(addr, move || {
        // Sends the stop command now; the server's thread winds down on its own.
        drop(handle.stop(false));
    })
}
