//! The global `tracing` subscriber `init` installs: an env-filtered fmt layer for events, and
//! with the `otel` feature the OpenTelemetry layer (which ignores the export thread's own
//! spans).
//!
//! A third layer gives events logged outside any `tracing` span to the active OpenTelemetry
//! span (the server span of unitel's HTTP layers).
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
        *meta.level() <= tracing::Level::INFO && !crate::export::runtime::in_export_thread()
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

/// Events logged where no `tracing` span is current go to the active OpenTelemetry span, the
/// way `tracing-opentelemetry` records events inside a `tracing` span: a request's server span
/// from unitel's HTTP layers is an OpenTelemetry span (not a `tracing` one), and a handler's
/// log lines still become its events. Same filter as the OpenTelemetry layer, so both see the
/// same current span.
#[cfg(feature = "otel")]
struct ActiveSpanEvents;

#[cfg(feature = "otel")]
impl<S> tracing_subscriber::Layer<S> for ActiveSpanEvents
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        use opentelemetry::KeyValue;
        use opentelemetry::trace::TraceContextExt as _;
        if !event.is_contextual() || ctx.lookup_current().is_some() {
            return; // `tracing-opentelemetry` records it on its span (or it has none)
        }
        let cx = opentelemetry::Context::current();
        let span = cx.span();
        if !span.is_recording() {
            return;
        }
        let meta = event.metadata();
        let mut visitor = EventFields {
            name: None,
            error: None,
            attributes: vec![
                KeyValue::new("level", meta.level().as_str()),
                KeyValue::new("target", meta.target().to_owned()),
            ],
        };
        event.record(&mut visitor);
        let name = match (visitor.name, &visitor.error) {
            (Some(name), _) => std::borrow::Cow::Owned(name),
            (None, Some(_)) => std::borrow::Cow::Borrowed("exception"),
            (None, None) => std::borrow::Cow::Borrowed(meta.name()),
        };
        if let Some(error) = visitor.error {
            span.set_status(opentelemetry::trace::Status::error(error.clone()));
            visitor
                .attributes
                .push(KeyValue::new("exception.message", error));
        } else if *meta.level() == tracing::Level::ERROR {
            span.set_status(opentelemetry::trace::Status::error(""));
        }
        span.add_event(name, visitor.attributes);
    }
}

/// An event's fields as OpenTelemetry event attributes (`message` is the event's name, an
/// `error` field its exception message).
#[cfg(feature = "otel")]
struct EventFields {
    name: Option<String>,
    error: Option<String>,
    attributes: Vec<opentelemetry::KeyValue>,
}

#[cfg(feature = "otel")]
impl tracing::field::Visit for EventFields {
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.attributes
            .push(opentelemetry::KeyValue::new(field.name(), value));
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        let value = i64::try_from(value).unwrap_or(i64::MAX);
        self.attributes
            .push(opentelemetry::KeyValue::new(field.name(), value));
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.attributes
            .push(opentelemetry::KeyValue::new(field.name(), value));
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.attributes
            .push(opentelemetry::KeyValue::new(field.name(), value));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.record_string(field, value.to_owned());
    }
    fn record_error(
        &mut self,
        field: &tracing::field::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        self.record_string(field, value.to_string());
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.record_string(field, format!("{value:?}"));
    }
}

#[cfg(feature = "otel")]
impl EventFields {
    fn record_string(&mut self, field: &tracing::field::Field, value: String) {
        match field.name() {
            "message" => self.name = Some(value),
            "error" if self.error.is_none() => self.error = Some(value),
            name if name.starts_with("log.") => {}
            name => self
                .attributes
                .push(opentelemetry::KeyValue::new(name, value)),
        }
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
    let events = otel
        .is_some()
        .then(|| ActiveSpanEvents.with_filter(NotFromExportThread));
    tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .with(events)
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
