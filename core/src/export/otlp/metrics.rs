//! OTLP metrics push: every interval the registry's snapshot is encoded as one cumulative
//! `ExportMetricsServiceRequest` and sent; a failed push counts one
//! `unitel_export_failures_total{signal="metrics"}`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1 as pm;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use tokio::sync::{mpsc, oneshot};

use crate::config::TelemetryConfig;
use crate::export::runtime::{ExportRuntime, wait_reply};
use crate::registry::{
    AnyFamily, CounterCell, Family, FamilySnapshot, GaugeCell, HistogramCell, Registry, Series,
};

use super::METRICS;
use super::resource::resource_attributes;
use super::transport::{self, Transport};

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

    /// [`final_push`](Self::final_push) for callers without an async runtime, waiting up to
    /// `timeout`.
    pub(crate) fn final_push_blocking(&self, timeout: Duration) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(tx).is_ok() {
            let _ = wait_reply(rx, timeout);
        }
    }
}

/// Starts the periodic push on the export thread.
pub(crate) fn start_metrics(
    runtime: &ExportRuntime,
    config: &TelemetryConfig,
    registry: &Registry,
) -> Result<MetricsPush, String> {
    let (control_tx, mut control_rx) = mpsc::unbounded_channel::<oneshot::Sender<()>>();
    let cfg = config.clone();
    let reg = registry.clone();
    let started = runtime.run(Duration::from_secs(10), async move {
        let client = Transport::new(
            cfg.otlp_protocol(),
            cfg.otlp_endpoint(),
            cfg.otlp_timeout,
            transport::METRICS_SERVICE,
        )?;
        let resource = ProtoResource {
            attributes: resource_attributes(&cfg)
                .into_iter()
                .map(|(k, v)| kv(&k, &v))
                .collect(),
            ..Default::default()
        };
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(cfg.metrics_export_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => push(&client, &reg, &resource, &cfg).await,
                    reply = control_rx.recv() => {
                        if let Some(reply) = reply {
                            push(&client, &reg, &resource, &cfg).await;
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

/// Encodes the registry now and sends it, counting a failure.
async fn push(
    client: &Transport,
    registry: &Registry,
    resource: &ProtoResource,
    config: &TelemetryConfig,
) {
    use prost::Message as _;
    let request = encode(registry, resource.clone());
    let body = bytes::Bytes::from(request.encode_to_vec());
    let sending = client.clone().send::<ExportMetricsServiceResponse>(body);
    let result = match tokio::time::timeout(config.otlp_timeout, sending).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(reason)) => Err(reason),
        Err(_) => Err("metrics export timed out".to_owned()),
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

fn with_overflow<C>(snapshot: FamilySnapshot<C>) -> impl Iterator<Item = (Arc<Series<C>>, bool)> {
    let FamilySnapshot { series, overflow } = snapshot;
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
