//! Serves `/metrics` from unitel's standalone listener and records a little of everything.
//!
//! ```text
//! cargo run -p unitel --example serve_metrics
//! curl http://127.0.0.1:9464/metrics
//! ```
//!
//! Reads the usual environment (see `TelemetryConfig::from_env`); when `PROMETHEUS_PORT` is not
//! set it listens on 127.0.0.1:9464.

use std::time::Duration;

use unitel::{TelemetryConfig, catalog};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = TelemetryConfig::from_env()?;
    if config.prometheus_listener().is_none() {
        config = TelemetryConfig::builder()
            .service_name(config.service_name().to_owned())
            .prometheus_listener("127.0.0.1:9464".parse()?)
            .build()?;
    }
    let guard = unitel::init(config)?;
    if let Some(addr) = guard.prometheus_addr() {
        tracing::info!("serving metrics on http://{addr}/metrics (Ctrl-C to stop)");
    }

    let registry = unitel::registry();
    let requests = registry.counter(&catalog::HTTP_REQUESTS_TOTAL);
    let latency = registry.histogram(&catalog::HTTP_REQUEST_DURATION_SECONDS);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                n += 1;
                let status = if n.is_multiple_of(10) { "500" } else { "200" };
                requests.with_labels(&["GET", "/api/items/{id}", status]).inc();
                #[allow(clippy::cast_precision_loss)]
                latency
                    .with_labels(&["GET", "/api/items/{id}", status])
                    .observe(0.002 * (n % 50) as f64);
                unitel::record::increment_counter("rag_queries_total", &[("pipeline", "standard")]);
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    guard.shutdown().await?;
    Ok(())
}
