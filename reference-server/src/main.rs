//! The unitel reference server: a small but real RAG service whose every layer is instrumented
//! by unitel's own crates.
//!
//! ```text
//! cargo run --release -p reference-server                 # serve on 127.0.0.1:8080
//! reference-server loadgen --target URL --duration SECS --concurrency N [--read-only]
//! ```

mod api;
mod chunk;
mod config;
mod embed;
mod generate;
mod loadgen;
mod providers;
mod store;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::api::AppState;
use crate::config::ServerSettings;
use crate::providers::{Embedder, Generator, Remote};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("reference-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args.first().map(String::as_str) {
        Some("loadgen") => loadgen::LoadgenOptions::parse(&args[1..])
            .and_then(|opts| runtime.block_on(loadgen::run(opts))),
        Some("--help" | "-h") => {
            println!(
                "usage: reference-server [loadgen --target URL --duration SECS --concurrency N \
                 [--read-only]]"
            );
            Ok(())
        }
        Some(other) => Err(format!(
            "unknown command `{other}` (try `loadgen` or no argument to serve)"
        )),
        None => runtime.block_on(serve()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reference-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn telemetry_config() -> Result<unitel::TelemetryConfig, String> {
    // The reference server collects system metrics unless told otherwise.
    unitel::TelemetryConfig::from_lookup(|k| {
        std::env::var(k).ok().or_else(|| match k {
            "UNITEL_SYSTEM_METRICS" => Some("true".to_owned()),
            "OTEL_SERVICE_NAME" => Some("reference-server".to_owned()),
            _ => None,
        })
    })
    .map_err(|e| e.to_string())
}

fn price_table() -> Result<unitel::genai::llm::PriceTable, String> {
    use unitel::genai::llm::{ModelPrice, Price, PriceTable};
    if let Some(table) = PriceTable::from_env().map_err(|e| e.to_string())? {
        return Ok(table);
    }
    let per_1m = |input: f64, cached: f64, output: f64| -> Result<ModelPrice, String> {
        let p = |d: f64| Price::per_1m_dollars(d).map_err(|e| e.reason().to_owned());
        Ok(ModelPrice::new(p(input)?, p(output)?).cached_input(p(cached)?))
    };
    Ok(PriceTable::new("reference-2026-11")
        .model(generate::MODEL, per_1m(0.0, 0.0, 0.0)?)
        .model(embed::MODEL, per_1m(0.0, 0.0, 0.0)?)
        .model("gpt-4o-mini", per_1m(0.15, 0.075, 0.60)?)
        .model("gpt-4o", per_1m(2.50, 1.25, 10.0)?)
        .model("text-embedding-3-small", per_1m(0.02, 0.02, 0.0)?))
}

async fn serve() -> Result<(), String> {
    let settings =
        ServerSettings::from_lookup(|k| std::env::var(k).ok()).map_err(|e| e.to_string())?;
    let guard = unitel::init(telemetry_config()?).map_err(|e| e.to_string())?;
    unitel::genai::llm::set_price_table(price_table()?);

    let store = store::Store::open(&settings.database_url, settings.database_acquire_timeout)
        .await
        .map_err(|e| format!("cannot open {}: {e}", settings.database_url))?;
    let breaker = |name: &str| {
        unitel::resilience::CircuitBreaker::builder(name)
            .build()
            .map_err(|e| e.to_string())
    };
    let embedder = match settings.embeddings.clone() {
        Some(endpoint) => Embedder::Remote(Remote::new(endpoint, breaker("embeddings")?)?),
        None => Embedder::Local(breaker("embeddings")?),
    };
    // The generator lives as long as the process: streaming responses borrow it.
    let generator: &'static Generator = Box::leak(Box::new(match settings.llm.clone() {
        Some(endpoint) => Generator::Remote(Remote::new(endpoint, breaker("llm")?)?),
        None => Generator::Local(breaker("llm")?),
    }));
    let state = Arc::new(AppState {
        store,
        embedder,
        generator,
        cache: moka::future::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(Duration::from_secs(600))
            .build(),
    });
    let app = router(Arc::clone(&state), settings.max_body_bytes);
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .map_err(|e| format!("cannot listen on {} (BIND_ADDR): {e}", settings.bind))?;
    tracing::info!(
        addr = %settings.bind,
        database = state.store.system(),
        indexed_chunks = state.store.indexed(),
        "reference server listening on http://{}",
        settings.bind
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("shutting down: flushing telemetry");
    guard.shutdown().await.map_err(|e| e.to_string())
}

/// The application router.
fn router(state: Arc<AppState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/v1/documents", post(api::create_document))
        .route("/v1/embeddings", post(api::embeddings))
        .route("/v1/rag/query", post(api::rag_query))
        .route("/v1/chat/completions", post(api::chat_completions))
        .route("/health", get(api::health))
        .with_state(state)
        .merge(unitel_axum::metrics_route())
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(unitel_axum::HttpMetricsLayer::new())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
