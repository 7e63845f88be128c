//! The global `tracing` subscriber `init` installs: an env-filtered fmt layer for events, and
//! with the `otel` feature the OpenTelemetry layer (which ignores the export thread's own
//! spans).
//!
//! The fmt layer sees events only. Log lines never print span fields, so letting spans in
//! would format every field of every request span into a string nobody reads (about half of
//! a server span's cost), and keep a span alive in the registry in a metrics-only service.

use tracing_subscriber::filter::{FilterExt as _, filter_fn};
use tracing_subscriber::layer::Filter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::TelemetryConfig;

/// Keeps spans and events of unitel's export thread out of the trace pipeline.
#[cfg(feature = "otel")]
struct NotFromExportThread;

#[cfg(feature = "otel")]
impl<S> tracing_subscriber::layer::Filter<S> for NotFromExportThread {
    fn enabled(
        &self,
        meta: &tracing::Metadata<'_>,
        _cx: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        *meta.level() <= tracing::Level::INFO && !crate::runtime::in_export_thread()
    }

    fn callsite_enabled(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        // Debug and trace spans (h2, hyper, sqlx internals) never become OpenTelemetry spans.
        if *meta.level() <= tracing::Level::INFO {
            tracing::subscriber::Interest::sometimes()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }
}

/// The fmt layer's filter: the configured `log_filter` (or `info`), for events only.
fn log_filter<S>(config: &TelemetryConfig) -> impl Filter<S> + use<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let env = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    filter_fn(|meta: &tracing::Metadata<'_>| meta.is_event()).and(env)
}

#[cfg(feature = "otel")]
pub(crate) fn install(
    config: &TelemetryConfig,
    tracer: Option<opentelemetry_sdk::trace::Tracer>,
) -> Result<(), String> {
    let fmt = tracing_subscriber::fmt::layer().with_filter(log_filter(config));
    let otel = tracer.map(|t| {
        tracing_opentelemetry::layer()
            .with_tracer(t)
            .with_tracked_inactivity(false)
            .with_filter(NotFromExportThread)
    });
    tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init()
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "otel"))]
pub(crate) fn install(config: &TelemetryConfig) -> Result<(), String> {
    let fmt = tracing_subscriber::fmt::layer().with_filter(log_filter(config));
    tracing_subscriber::registry()
        .with(fmt)
        .try_init()
        .map_err(|e| e.to_string())
}
