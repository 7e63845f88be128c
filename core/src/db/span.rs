//! The OpenTelemetry database client span: [`query_span`] opens it for a [`DbTarget`] and a
//! [`StatementInfo`]; the `record_*` functions add what is known once the query ran.

use super::StatementInfo;

/// Where a query goes: the attributes a database client span carries besides the statement.
#[derive(Debug, Clone, Copy, Default)]
pub struct DbTarget<'a> {
    /// `db.system.name` (`postgresql`, `sqlite`, …).
    pub system: &'static str,
    /// `db.namespace`: the database name (or file for SQLite).
    pub namespace: Option<&'a str>,
    /// `server.address`.
    pub server_address: Option<&'a str>,
    /// `server.port`.
    pub server_port: Option<u16>,
}

/// A new database client span, child of `parent` (a root span when `parent` is
/// `Span::none()`), named by [`StatementInfo::span_name`] with `db.system.name`,
/// `db.namespace`, `db.operation.name`, `db.collection.name`, `server.address`, `server.port`
/// and (when given) `db.query.text`. Record the outcome with [`record_returned_rows`] and
/// [`record_query_error`].
///
/// Integrations capture what is current when the query is issued
/// ([`SpanParent::current`](crate::trace::SpanParent::current)) and create the span when it
/// starts running (`parent.child(|p| query_span(p, ..))`), so a query that is never polled
/// leaves no span. Given a disabled `parent`, the span follows the current OpenTelemetry
/// context.
///
/// ```
/// use unitel::db::{DbTarget, StatementInfo, query_span};
///
/// let sql = "DELETE FROM sessions WHERE expires < now()";
/// let target = DbTarget { system: "postgresql", namespace: Some("app"), ..Default::default() };
/// let span = query_span(&tracing::Span::current(), &target, &StatementInfo::parse(sql), Some(sql));
/// unitel::db::record_returned_rows(&span, 0);
/// ```
#[must_use]
pub fn query_span(
    parent: &tracing::Span,
    target: &DbTarget<'_>,
    statement: &StatementInfo<'_>,
    query_text: Option<&str>,
) -> tracing::Span {
    let span = tracing::info_span!(
        parent: parent.id(),
        "db.query",
        otel.name = %statement.span_name(),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        db.system.name = target.system,
        db.namespace = tracing::field::Empty,
        db.operation.name = statement.operation.as_str(),
        db.collection.name = tracing::field::Empty,
        db.query.text = tracing::field::Empty,
        db.response.returned_rows = tracing::field::Empty,
        db.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        server.address = tracing::field::Empty,
        server.port = tracing::field::Empty,
    );
    // No `tracing` parent: the span follows the current OpenTelemetry context (a server span
    // of unitel's HTTP layers is an OpenTelemetry span, see `unitel::trace::SpanParent`).
    #[cfg(feature = "otel")]
    if parent.is_disabled() && !span.is_disabled() {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let cx = opentelemetry::Context::current();
        if cx.has_active_span() {
            let _ = span.set_parent(cx);
        }
    }
    if !span.is_disabled() {
        if let Some(ns) = target.namespace {
            span.record("db.namespace", ns);
        }
        if let Some(table) = statement.collection {
            span.record("db.collection.name", table);
        }
        if let Some(text) = query_text {
            span.record("db.query.text", text);
        }
        if let Some(address) = target.server_address {
            span.record("server.address", address);
        }
        if let Some(port) = target.server_port {
            span.record("server.port", i64::from(port));
        }
    }
    span
}

/// Records `db.query.text` on a span from [`query_span`] created without it (so the text is
/// only computed for spans that are recorded).
pub fn record_query_text(span: &tracing::Span, text: &str) {
    span.record("db.query.text", text);
}

/// Records `db.response.returned_rows` on a span from [`query_span`].
pub fn record_returned_rows(span: &tracing::Span, rows: u64) {
    span.record(
        "db.response.returned_rows",
        i64::try_from(rows).unwrap_or(i64::MAX),
    );
}

/// Marks a span from [`query_span`] failed: status Error, `error.type`, and the database's own
/// code (`db.response.status_code`, e.g. a PostgreSQL SQLSTATE) when there is one.
pub fn record_query_error(span: &tracing::Span, error_type: &str, status_code: Option<&str>) {
    span.record("otel.status_code", "error");
    span.record("error.type", error_type);
    if let Some(code) = status_code {
        span.record("db.response.status_code", code);
    }
}
