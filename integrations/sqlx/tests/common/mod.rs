//! Shared by the unitel-sqlx test binaries: one telemetry installation per process exporting
//! spans to a real OTLP receiver, and metric look-ups on a test's own registry.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use unitel::config::TracesExporter;
use unitel::{TelemetryConfig, TelemetryGuard};
use unitel_testkit::{OtlpReceiver, ReceivedSpan};

/// The process's telemetry: spans go to `receiver`.
pub struct SharedTelemetry {
    pub receiver: OtlpReceiver,
    guard: Mutex<TelemetryGuard>,
}

impl SharedTelemetry {
    /// Exports queued spans now.
    pub fn flush(&self) {
        self.guard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .force_flush();
    }

    /// Flushes, then waits until `pred` holds on the spans whose `db.collection.name` or
    /// name mentions `marker` (or 10 s pass), and returns those spans.
    pub async fn spans_about(
        &self,
        marker: &str,
        pred: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        self.flush();
        let select = |all: &[ReceivedSpan]| -> Vec<ReceivedSpan> {
            all.iter()
                .filter(|s| {
                    s.name.contains(marker)
                        || s.attr("db.query.text").is_some_and(|t| t.contains(marker))
                        || s.attr("test.marker").as_deref() == Some(marker)
                })
                .cloned()
                .collect()
        };
        let all = self
            .receiver
            .wait_for_spans(|all| pred(&select(all)), Duration::from_secs(10))
            .await;
        select(&all)
    }
}

impl SharedTelemetry {
    /// Flushes, then waits until the trace of the span named `root` holds `len` spans (or
    /// 10 s pass), and returns them: the root first.
    pub async fn trace_of(&self, root: &str, len: usize) -> Vec<ReceivedSpan> {
        self.flush();
        let select = |all: &[ReceivedSpan]| -> Vec<ReceivedSpan> {
            let Some(r) = all.iter().find(|s| s.name == root) else {
                return Vec::new();
            };
            let mut trace: Vec<_> = all
                .iter()
                .filter(|s| s.trace_id == r.trace_id)
                .cloned()
                .collect();
            trace.sort_by_key(|s| (s.span_id != r.span_id, s.start_time_unix_nano));
            trace
        };
        let all = self
            .receiver
            .wait_for_spans(|all| select(all).len() >= len, Duration::from_secs(10))
            .await;
        select(&all)
    }
}

/// Installs telemetry once for this test binary.
pub fn telemetry() -> &'static SharedTelemetry {
    static TELEMETRY: OnceLock<SharedTelemetry> = OnceLock::new();
    TELEMETRY.get_or_init(|| {
        let receiver = OtlpReceiver::start_blocking().expect("OTLP receiver");
        let config = TelemetryConfig::builder()
            .service_name("unitel-sqlx-tests")
            .otlp_endpoint(receiver.endpoint())
            .traces_exporters([TracesExporter::Otlp])
            .traces_schedule_delay(Duration::from_millis(100))
            .log_filter("warn")
            .build()
            .expect("config");
        let guard = unitel::init(config).expect("unitel::init");
        SharedTelemetry {
            receiver,
            guard: Mutex::new(guard),
        }
    })
}

/// The value of `db_queries_total{db_system, operation, status}` in `registry`.
pub fn queries(registry: &unitel::Registry, system: &str, operation: &str, status: &str) -> f64 {
    registry
        .counter(&unitel::catalog::DB_QUERIES_TOTAL)
        .with_labels(&[system, operation, status])
        .value()
}

/// Number of observations of `db_query_duration_seconds{db_system, operation}`.
pub fn durations(registry: &unitel::Registry, system: &str, operation: &str) -> u64 {
    registry
        .histogram(&unitel::catalog::DB_QUERY_DURATION_SECONDS)
        .with_labels(&[system, operation])
        .snapshot()
        .count()
}

/// The span named `name` among `spans`.
pub fn span<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        let names: Vec<_> = spans.iter().map(|s| &s.name).collect();
        panic!("no span named {name:?} among {names:?}")
    })
}

/// Polls `cond` every 5 ms for up to 5 s.
pub async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
