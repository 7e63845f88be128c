//! The span pipeline: a [`QueueingSpanProcessor`] hands each ended span to a bounded queue
//! without ever blocking; a batch task on the export thread drains it into batches, encodes
//! each and sends it with a timeout, a few exports in flight at once. A full queue drops the
//! span and counts it in `unitel_export_failures_total{signal="traces"}`; a failed batch counts
//! all its spans.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use tokio::sync::{mpsc, oneshot};

use crate::config::TelemetryConfig;
use crate::export::runtime::{ExportRuntime, wait_reply};
use crate::registry::Registry;

use super::sender::SpanSender;
use crate::export::otlp::TRACES;
use crate::export::otlp::resource::resource_attributes;

/// A request to the batch task, answered once done.
enum Control {
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// Span processor that never blocks: ended spans go to a bounded queue drained by the export
/// thread.
#[derive(Debug)]
pub(crate) struct QueueingSpanProcessor {
    spans: mpsc::Sender<SpanData>,
    /// Wakes the batch task once a full batch is queued. The task never waits on the queue
    /// itself, so queueing a span wakes no thread: the export thread runs once per batch or
    /// per schedule tick, not once per span.
    batch_ready: Arc<tokio::sync::Notify>,
    batch_size: usize,
    control: mpsc::UnboundedSender<Control>,
    registry: Registry,
    timeout: Duration,
}

impl SpanProcessor for QueueingSpanProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        if self.spans.try_send(span).is_err() {
            self.registry.shared().export_failure(TRACES, 1);
            self.registry
                .shared()
                .warn_export("traces", "span queue full or closed; span dropped");
            return;
        }
        let queued = self.spans.max_capacity() - self.spans.capacity();
        if queued.is_multiple_of(self.batch_size) {
            self.batch_ready.notify_one();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Flush(tx)).is_err() {
            return Ok(());
        }
        wait_reply(rx, self.timeout)
            .map(|_| ())
            .map_err(OTelSdkError::Timeout)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Shutdown(tx)).is_err() {
            return Ok(());
        }
        wait_reply(rx, timeout)
            .map(|_| ())
            .map_err(OTelSdkError::Timeout)
    }
}

/// The running OTLP span pipeline.
#[derive(Debug)]
pub(crate) struct SpanPipeline {
    control: mpsc::UnboundedSender<Control>,
}

impl SpanPipeline {
    /// Flushes queued spans and stops the batch task.
    pub(crate) async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Shutdown(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Exports every queued span now (blocking up to `timeout`).
    pub(crate) fn flush(&self, timeout: Duration) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Flush(tx)).is_ok() {
            let _ = wait_reply(rx, timeout);
        }
    }
}

/// Starts the span pipeline on the export thread.
pub(crate) fn start_spans(
    runtime: &ExportRuntime,
    config: &TelemetryConfig,
    registry: &Registry,
) -> Result<(QueueingSpanProcessor, SpanPipeline), String> {
    let queue_size = config.traces_queue_size.max(1);
    let batch_size = config.traces_batch_size.clamp(1, queue_size);
    let (spans_tx, spans_rx) = mpsc::channel(queue_size);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let batch_ready = Arc::new(tokio::sync::Notify::new());
    let cfg = config.clone();
    let reg = registry.clone();
    let ready = Arc::clone(&batch_ready);
    let started = runtime.run(Duration::from_secs(10), async move {
        let exporter = SpanSender::new(
            cfg.otlp_protocol(),
            cfg.otlp_endpoint(),
            cfg.otlp_timeout,
            &resource_attributes(&cfg),
        )?;
        let queue = SpanQueue {
            spans: spans_rx,
            batch: Vec::with_capacity(batch_size),
            batch_size,
            in_flight: tokio::task::JoinSet::new(),
        };
        tokio::spawn(batch_loop(exporter, queue, ready, control_rx, cfg, reg));
        Ok::<(), String>(())
    });
    match started {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(e),
        None => return Err("the export thread did not answer".into()),
    }
    let processor = QueueingSpanProcessor {
        spans: spans_tx,
        batch_ready,
        batch_size,
        control: control_tx.clone(),
        registry: registry.clone(),
        timeout: config.otlp_timeout + Duration::from_secs(1),
    };
    Ok((
        processor,
        SpanPipeline {
            control: control_tx,
        },
    ))
}

/// Exports in flight at once: the next batch is encoded and sent while earlier ones wait for
/// the collector's answer, so a slow round trip does not stop the queue from draining (with one
/// at a time, a collector taking longer to answer than the queue takes to fill drops spans).
const MAX_EXPORTS_IN_FLIGHT: usize = 4;

/// The span queue's receiving end, the batch being filled and the exports on the wire.
struct SpanQueue {
    spans: mpsc::Receiver<SpanData>,
    batch: Vec<SpanData>,
    batch_size: usize,
    in_flight: tokio::task::JoinSet<()>,
}

impl SpanQueue {
    /// Moves queued spans into batches and exports every full one; with `everything`, the
    /// last partial batch too. Returns `false` once the queue is closed and empty.
    async fn drain(
        &mut self,
        everything: bool,
        exporter: &mut SpanSender,
        config: &TelemetryConfig,
        registry: &Registry,
    ) -> bool {
        let open = loop {
            match self.spans.try_recv() {
                Ok(span) => {
                    self.batch.push(span);
                    if self.batch.len() >= self.batch_size {
                        self.export(exporter, config, registry).await;
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => break true,
                Err(mpsc::error::TryRecvError::Disconnected) => break false,
            }
        };
        if (everything || !open) && !self.batch.is_empty() {
            self.export(exporter, config, registry).await;
        }
        open
    }

    /// Encodes the batch and puts it on the wire, waiting first for a slot when
    /// [`MAX_EXPORTS_IN_FLIGHT`] are already out. Each export counts its own failure.
    async fn export(
        &mut self,
        exporter: &mut SpanSender,
        config: &TelemetryConfig,
        registry: &Registry,
    ) {
        while self.in_flight.try_join_next().is_some() {}
        if self.in_flight.len() >= MAX_EXPORTS_IN_FLIGHT {
            self.in_flight.join_next().await;
        }
        let count = self.batch.len() as u64;
        let sending = exporter.prepare(&self.batch);
        self.batch.clear();
        let timeout = config.otlp_timeout;
        let registry = registry.clone();
        self.in_flight.spawn(async move {
            let result = tokio::time::timeout(timeout, sending).await;
            record_export(result, count, timeout, &registry);
        });
    }

    /// Waits for every export on the wire (flush, shutdown).
    async fn settle(&mut self) {
        while self.in_flight.join_next().await.is_some() {}
    }
}

/// The batch task: exports a batch when one is full, everything queued on each schedule tick,
/// and answers flush and shutdown requests once their exports are done.
async fn batch_loop(
    mut exporter: SpanSender,
    mut queue: SpanQueue,
    batch_ready: Arc<tokio::sync::Notify>,
    mut control: mpsc::UnboundedReceiver<Control>,
    config: TelemetryConfig,
    registry: Registry,
) {
    let mut tick = tokio::time::interval(config.traces_schedule_delay);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let open = tokio::select! {
            () = batch_ready.notified() => {
                queue.drain(false, &mut exporter, &config, &registry).await
            }
            _ = tick.tick() => queue.drain(true, &mut exporter, &config, &registry).await,
            msg = control.recv() => match msg {
                Some(Control::Flush(reply)) => {
                    let open = queue.drain(true, &mut exporter, &config, &registry).await;
                    queue.settle().await;
                    let _ = reply.send(());
                    open
                }
                Some(Control::Shutdown(reply)) => {
                    queue.drain(true, &mut exporter, &config, &registry).await;
                    queue.settle().await;
                    let _ = reply.send(());
                    false
                }
                None => false,
            }
        };
        if !open {
            break;
        }
    }
    // Late flush or shutdown requests get an answer instead of a timeout.
    queue.settle().await;
    queue.spans.close();
    while let Ok(Control::Flush(r) | Control::Shutdown(r)) = control.try_recv() {
        let _ = r.send(());
    }
}

/// Counts a finished export's lost spans (failed, timed out, or rejected by the collector).
fn record_export(
    result: Result<Result<u64, String>, tokio::time::error::Elapsed>,
    count: u64,
    timeout: Duration,
    registry: &Registry,
) {
    let failure = match result {
        Ok(Ok(0)) => None,
        Ok(Ok(rejected)) => Some((
            rejected.min(count),
            format!("the collector rejected {rejected} of {count} spans"),
        )),
        Ok(Err(e)) => Some((count, e)),
        Err(_) => Some((count, format!("export timed out after {timeout:?}"))),
    };
    if let Some((lost, reason)) = failure {
        registry.shared().export_failure(TRACES, lost);
        registry.shared().warn_export("traces", &reason);
    }
}
