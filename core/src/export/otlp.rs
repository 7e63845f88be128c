//! OTLP export over gRPC or HTTP/protobuf, from the export thread.
//!
//! Spans: a [`QueueingSpanProcessor`] hands each ended span to a bounded queue without ever
//! blocking; a batch task on the export thread encodes each batch straight into an OTLP request
//! ([`super::otlp_spans`]) and sends it with a timeout. A full queue drops the span and counts it in
//! `unitel_export_failures_total{signal="traces"}`; a failed batch counts all its spans.
//!
//! Metrics: every interval the registry is encoded as a cumulative OTLP request (the same
//! snapshot the Prometheus exposition reads) and pushed; a failed push counts one
//! `unitel_export_failures_total{signal="metrics"}`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::Context;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1 as pm;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use tokio::sync::{mpsc, oneshot};

use crate::config::{OtlpProtocol, TelemetryConfig};
use crate::registry::{AnyFamily, CounterCell, Family, GaugeCell, HistogramCell, Registry, Series};
use crate::export::runtime::{ExportRuntime, wait_reply};

use super::otlp_spans::SpanSender;

const TRACES: usize = 0;
const METRICS: usize = 1;

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

pub(crate) fn resource_attributes(config: &TelemetryConfig) -> Vec<(String, String)> {
    let mut attrs: Vec<(String, String)> = config
        .resource_attributes
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "service.name" | "service.version" | "deployment.environment.name"
            )
        })
        .cloned()
        .collect();
    attrs.push(("service.name".into(), config.service_name.clone()));
    if let Some(v) = &config.service_version {
        attrs.push(("service.version".into(), v.clone()));
    }
    attrs.push((
        "deployment.environment.name".into(),
        config.deployment_environment.clone(),
    ));
    attrs.push(("telemetry.sdk.name".into(), "unitel".into()));
    attrs.push(("telemetry.sdk.language".into(), "rust".into()));
    attrs.push((
        "telemetry.sdk.version".into(),
        env!("CARGO_PKG_VERSION").into(),
    ));
    attrs
}

pub(crate) fn sdk_resource(config: &TelemetryConfig) -> opentelemetry_sdk::Resource {
    opentelemetry_sdk::Resource::builder_empty()
        .with_attributes(
            resource_attributes(config)
                .into_iter()
                .map(|(k, v)| opentelemetry::KeyValue::new(k, v)),
        )
        .build()
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

/// A lazily connecting gRPC channel to the collector, each call bounded by `timeout`.
pub(crate) fn grpc_channel(
    endpoint: &str,
    timeout: Duration,
) -> Result<tonic::transport::Channel, String> {
    Ok(tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .map_err(|e| format!("OTLP endpoint {endpoint}: {e}"))?
        .timeout(timeout)
        .connect_timeout(timeout)
        .connect_lazy())
}

/// The HTTP client of the `http/protobuf` protocol, each request bounded by `timeout`.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())
}

// --- metrics -----------------------------------------------------------------------------------

enum MetricsClient {
    Grpc(MetricsServiceClient<tonic::transport::Channel>),
    Http {
        client: reqwest::Client,
        url: String,
    },
}

/// Periodic OTLP metric push.
#[derive(Debug)]
pub(crate) struct MetricsPush {
    control: mpsc::UnboundedSender<oneshot::Sender<()>>,
}

impl MetricsPush {
    /// Pushes once more now (used on shutdown), then stops.
    pub(crate) async fn final_push(&self) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(tx).is_ok() {
            let _ = rx.await;
        }
    }

    pub(crate) fn final_push_blocking(&self, timeout: Duration) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(tx).is_ok() {
            let _ = wait_reply(rx, timeout);
        }
    }
}

pub(crate) fn start_metrics(
    runtime: &ExportRuntime,
    config: &TelemetryConfig,
    registry: &Registry,
) -> Result<MetricsPush, String> {
    let (control_tx, mut control_rx) = mpsc::unbounded_channel::<oneshot::Sender<()>>();
    let cfg = config.clone();
    let reg = registry.clone();
    let started = runtime.run(Duration::from_secs(10), async move {
        let client = match cfg.otlp_protocol() {
            OtlpProtocol::Grpc => MetricsClient::Grpc(MetricsServiceClient::new(grpc_channel(
                cfg.otlp_endpoint(),
                cfg.otlp_timeout,
            )?)),
            OtlpProtocol::HttpProtobuf => MetricsClient::Http {
                client: http_client(cfg.otlp_timeout)?,
                url: format!("{}/v1/metrics", cfg.otlp_endpoint()),
            },
        };
        let resource = ProtoResource {
            attributes: resource_attributes(&cfg)
                .into_iter()
                .map(|(k, v)| kv(&k, &v))
                .collect(),
            ..Default::default()
        };
        tokio::spawn(async move {
            let mut client = client;
            let mut tick = tokio::time::interval(cfg.metrics_export_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => push(&mut client, &reg, &resource, &cfg).await,
                    reply = control_rx.recv() => {
                        if let Some(reply) = reply {
                            push(&mut client, &reg, &resource, &cfg).await;
                            let _ = reply.send(());
                        }
                        break;
                    }
                }
            }
        });
        Ok::<(), String>(())
    });
    match started {
        Some(Ok(())) => Ok(MetricsPush {
            control: control_tx,
        }),
        Some(Err(e)) => Err(e),
        None => Err("the export thread did not answer".into()),
    }
}

async fn push(
    client: &mut MetricsClient,
    registry: &Registry,
    resource: &ProtoResource,
    config: &TelemetryConfig,
) {
    let request = encode(registry, resource.clone());
    let result: Result<(), String> = match client {
        MetricsClient::Grpc(c) => {
            match tokio::time::timeout(config.otlp_timeout, c.export(request)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(status)) => Err(status.to_string()),
                Err(_) => Err("metrics export timed out".into()),
            }
        }
        MetricsClient::Http { client, url } => {
            use prost::Message as _;
            let body = request.encode_to_vec();
            match client
                .post(url.as_str())
                .header("content-type", "application/x-protobuf")
                .body(body)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("collector answered {}", r.status())),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    if let Err(reason) = result {
        registry.shared().export_failure(METRICS, 1);
        registry.shared().warn_export("metrics", &reason);
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

fn attributes<C>(family: &Family<C>, series: &Series<C>, overflow: bool) -> Vec<KeyValue> {
    if overflow {
        return vec![KeyValue {
            key: "otel.metric.overflow".to_owned(),
            value: Some(AnyValue {
                value: Some(any_value::Value::BoolValue(true)),
            }),
            ..Default::default()
        }];
    }
    family
        .def
        .labels
        .iter()
        .zip(series.labels.iter())
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| kv(k, v))
        .collect()
}

fn with_overflow<C>(
    snapshot: crate::registry::FamilySnapshot<C>,
) -> impl Iterator<Item = (Arc<Series<C>>, bool)> {
    let crate::registry::FamilySnapshot { series, overflow } = snapshot;
    (0..series.len())
        .map(move |i| (Arc::clone(&series[i]), false))
        .chain(overflow.map(|s| (s, true)))
}

/// Encodes every family with at least one series as a cumulative OTLP request.
pub(crate) fn encode(registry: &Registry, resource: ProtoResource) -> ExportMetricsServiceRequest {
    let now = crate::registry::family::unix_nanos(SystemTime::now());
    let mut metrics = Vec::new();
    for family in registry.families() {
        let metric = match &family {
            AnyFamily::Counter(f) => sum_metric(f, now),
            AnyFamily::Gauge(f) => gauge_metric(f, now),
            AnyFamily::Histogram(f) => histogram_metric(f, now),
        };
        if let Some(m) = metric {
            metrics.push(m);
        }
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![pm::ResourceMetrics {
            resource: Some(resource),
            scope_metrics: vec![pm::ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "unitel".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metric_shell<C>(family: &Family<C>, data: pm::metric::Data) -> pm::Metric {
    pm::Metric {
        name: family
            .otlp_name
            .as_deref()
            .unwrap_or(&family.def.name)
            .to_owned(),
        description: family.def.description.clone(),
        unit: family.def.unit.clone(),
        data: Some(data),
        ..Default::default()
    }
}

fn sum_metric(family: &Family<CounterCell>, now: u64) -> Option<pm::Metric> {
    let points: Vec<pm::NumberDataPoint> = with_overflow(family.snapshot())
        .map(|(s, overflow)| pm::NumberDataPoint {
            attributes: attributes(family, &s, overflow),
            start_time_unix_nano: s.start_unix_nanos,
            time_unix_nano: now,
            value: Some(pm::number_data_point::Value::AsDouble(
                s.cell.value().as_f64(),
            )),
            ..Default::default()
        })
        .collect();
    (!points.is_empty()).then(|| {
        metric_shell(
            family,
            pm::metric::Data::Sum(pm::Sum {
                data_points: points,
                aggregation_temporality: pm::AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
        )
    })
}

fn gauge_metric(family: &Family<GaugeCell>, now: u64) -> Option<pm::Metric> {
    let points: Vec<pm::NumberDataPoint> = with_overflow(family.snapshot())
        .map(|(s, overflow)| pm::NumberDataPoint {
            attributes: attributes(family, &s, overflow),
            start_time_unix_nano: s.start_unix_nanos,
            time_unix_nano: now,
            value: Some(pm::number_data_point::Value::AsDouble(s.cell.value())),
            ..Default::default()
        })
        .collect();
    (!points.is_empty()).then(|| {
        metric_shell(
            family,
            pm::metric::Data::Gauge(pm::Gauge {
                data_points: points,
            }),
        )
    })
}

fn histogram_metric(family: &Family<HistogramCell>, now: u64) -> Option<pm::Metric> {
    let points: Vec<pm::HistogramDataPoint> = with_overflow(family.snapshot())
        .map(|(s, overflow)| {
            let v = s.cell.snapshot();
            pm::HistogramDataPoint {
                attributes: attributes(family, &s, overflow),
                start_time_unix_nano: s.start_unix_nanos,
                time_unix_nano: now,
                count: v.count(),
                sum: Some(v.sum),
                bucket_counts: v.buckets,
                explicit_bounds: family.def.buckets.clone(),
                flags: 0,
                exemplars: Vec::new(),
                min: None,
                max: None,
            }
        })
        .collect();
    (!points.is_empty()).then(|| {
        metric_shell(
            family,
            pm::metric::Data::Histogram(pm::Histogram {
                data_points: points,
                aggregation_temporality: pm::AggregationTemporality::Cumulative as i32,
            }),
        )
    })
}
