//! Flattened, test-friendly views of received OTLP data.

use std::fmt::{self, Write as _};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Metric, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind, status::StatusCode};

/// A flattened OTLP attribute value.
///
/// [`fmt::Display`] gives the "stringified" form used by the `attr` helpers: strings as is,
/// ints/doubles/bools in their Rust `Display` form, bytes as lowercase hex, arrays as
/// `[a, b]` and maps as `{k: v, ...}`; an unset value displays as the empty string.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// The value was not set.
    Empty,
    /// A string value.
    String(String),
    /// A boolean value.
    Bool(bool),
    /// A 64-bit signed integer value.
    Int(i64),
    /// A double value.
    Double(f64),
    /// A bytes value.
    Bytes(Vec<u8>),
    /// An array value.
    Array(Vec<AttrValue>),
    /// A key/value list value.
    Map(Vec<(String, AttrValue)>),
}

impl AttrValue {
    /// The string, if this is [`AttrValue::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is [`AttrValue::Int`].
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number, if this is [`AttrValue::Int`] or [`AttrValue::Double`].
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(i) => Some(*i as f64),
            Self::Double(d) => Some(*d),
            _ => None,
        }
    }

    /// The boolean, if this is [`AttrValue::Bool`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl From<Option<&AnyValue>> for AttrValue {
    fn from(value: Option<&AnyValue>) -> Self {
        match value.and_then(|v| v.value.as_ref()) {
            None | Some(any_value::Value::StringValueStrindex(_)) => Self::Empty,
            Some(any_value::Value::StringValue(s)) => Self::String(s.clone()),
            Some(any_value::Value::BoolValue(b)) => Self::Bool(*b),
            Some(any_value::Value::IntValue(i)) => Self::Int(*i),
            Some(any_value::Value::DoubleValue(d)) => Self::Double(*d),
            Some(any_value::Value::BytesValue(b)) => Self::Bytes(b.clone()),
            Some(any_value::Value::ArrayValue(a)) => {
                Self::Array(a.values.iter().map(|v| Self::from(Some(v))).collect())
            }
            Some(any_value::Value::KvlistValue(kv)) => Self::Map(flatten_attributes(&kv.values)),
        }
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => Ok(()),
            Self::String(s) => f.write_str(s),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Double(d) => write!(f, "{d}"),
            Self::Bytes(b) => f.write_str(&hex(b)),
            Self::Array(values) => {
                f.write_char('[')?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_char(']')
            }
            Self::Map(entries) => {
                f.write_char('{')?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_char('}')
            }
        }
    }
}

/// Flattened attribute list: `(key, value)` in the order they were received.
pub type Attributes = Vec<(String, AttrValue)>;

fn flatten_attributes(kvs: &[KeyValue]) -> Attributes {
    kvs.iter()
        .map(|kv| (kv.key.clone(), AttrValue::from(kv.value.as_ref())))
        .collect()
}

fn find<'a>(attrs: &'a [(String, AttrValue)], key: &str) -> Option<&'a AttrValue> {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn find_string(attrs: &[(String, AttrValue)], key: &str) -> Option<String> {
    find(attrs, key).map(ToString::to_string)
}

/// Lowercase hex encoding of `bytes` (trace and span ids).
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn resource_attributes(resource: Option<&Resource>) -> Attributes {
    resource
        .map(|r| flatten_attributes(&r.attributes))
        .unwrap_or_default()
}

fn scope_parts(scope: Option<&InstrumentationScope>) -> (String, String) {
    scope
        .map(|s| (s.name.clone(), s.version.clone()))
        .unwrap_or_default()
}

/// A span event, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    /// Event name.
    pub name: String,
    /// Event time (ns since the Unix epoch).
    pub time_unix_nano: u64,
    /// Event attributes.
    pub attributes: Attributes,
}

impl ReceivedEvent {
    /// Stringified value of the attribute `key` (see [`AttrValue`]'s `Display`).
    pub fn attr(&self, key: &str) -> Option<String> {
        find_string(&self.attributes, key)
    }
}

/// A span link, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedLink {
    /// Linked trace id (lowercase hex).
    pub trace_id: String,
    /// Linked span id (lowercase hex).
    pub span_id: String,
    /// Link attributes.
    pub attributes: Attributes,
}

/// One received span with its resource and scope, flattened for easy assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// Span name.
    pub name: String,
    /// Trace id, lowercase hex (32 characters for a valid id).
    pub trace_id: String,
    /// Span id, lowercase hex (16 characters for a valid id).
    pub span_id: String,
    /// Parent span id, lowercase hex; empty for a root span.
    pub parent_span_id: String,
    /// W3C trace state.
    pub trace_state: String,
    /// Span kind (unknown values map to [`SpanKind::Unspecified`]).
    pub kind: SpanKind,
    /// Status code (unknown values map to [`StatusCode::Unset`]).
    pub status_code: StatusCode,
    /// Status message.
    pub status_message: String,
    /// Start time (ns since the Unix epoch).
    pub start_time_unix_nano: u64,
    /// End time (ns since the Unix epoch).
    pub end_time_unix_nano: u64,
    /// Span attributes.
    pub attributes: Attributes,
    /// Span events.
    pub events: Vec<ReceivedEvent>,
    /// Span links.
    pub links: Vec<ReceivedLink>,
    /// Span flags.
    pub flags: u32,
    /// Attributes of the resource that exported the span.
    pub resource_attributes: Attributes,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// Instrumentation scope version.
    pub scope_version: String,
}

impl ReceivedSpan {
    fn from_proto(
        span: &Span,
        resource_attributes: &Attributes,
        scope: (&str, &str),
    ) -> ReceivedSpan {
        let (status_code, status_message) = span
            .status
            .as_ref()
            .map(|s| {
                (
                    StatusCode::try_from(s.code).unwrap_or(StatusCode::Unset),
                    s.message.clone(),
                )
            })
            .unwrap_or((StatusCode::Unset, String::new()));
        ReceivedSpan {
            name: span.name.clone(),
            trace_id: hex(&span.trace_id),
            span_id: hex(&span.span_id),
            parent_span_id: hex(&span.parent_span_id),
            trace_state: span.trace_state.clone(),
            kind: SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified),
            status_code,
            status_message,
            start_time_unix_nano: span.start_time_unix_nano,
            end_time_unix_nano: span.end_time_unix_nano,
            attributes: flatten_attributes(&span.attributes),
            events: span
                .events
                .iter()
                .map(|e| ReceivedEvent {
                    name: e.name.clone(),
                    time_unix_nano: e.time_unix_nano,
                    attributes: flatten_attributes(&e.attributes),
                })
                .collect(),
            links: span
                .links
                .iter()
                .map(|l| ReceivedLink {
                    trace_id: hex(&l.trace_id),
                    span_id: hex(&l.span_id),
                    attributes: flatten_attributes(&l.attributes),
                })
                .collect(),
            flags: span.flags,
            resource_attributes: resource_attributes.clone(),
            scope_name: scope.0.to_owned(),
            scope_version: scope.1.to_owned(),
        }
    }

    /// Stringified value of the span attribute `key` (see [`AttrValue`]'s `Display`).
    pub fn attr(&self, key: &str) -> Option<String> {
        find_string(&self.attributes, key)
    }

    /// Typed value of the span attribute `key`.
    pub fn attr_value(&self, key: &str) -> Option<&AttrValue> {
        find(&self.attributes, key)
    }

    /// Stringified value of the resource attribute `key`.
    pub fn resource_attr(&self, key: &str) -> Option<String> {
        find_string(&self.resource_attributes, key)
    }

    /// The first event called `name`.
    pub fn event(&self, name: &str) -> Option<&ReceivedEvent> {
        self.events.iter().find(|e| e.name == name)
    }

    /// True when the span has no parent.
    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_empty()
    }

    /// End time minus start time (zero if the end precedes the start).
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(
            self.end_time_unix_nano
                .saturating_sub(self.start_time_unix_nano),
        )
    }
}

/// Flattens every span of every request, in arrival order.
pub(crate) fn flatten_spans(requests: &[ExportTraceServiceRequest]) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for request in requests {
        for rs in &request.resource_spans {
            let resource = resource_attributes(rs.resource.as_ref());
            for ss in &rs.scope_spans {
                let (name, version) = scope_parts(ss.scope.as_ref());
                for span in &ss.spans {
                    out.push(ReceivedSpan::from_proto(span, &resource, (&name, &version)));
                }
            }
        }
    }
    out
}

/// The kind of a received metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// The metric carried no data.
    Unset,
    /// A gauge.
    Gauge,
    /// A sum (counter or up-down counter).
    Sum {
        /// Whether the sum is monotonic (a counter).
        monotonic: bool,
        /// Aggregation temporality.
        temporality: AggregationTemporality,
    },
    /// An explicit-bucket histogram.
    Histogram {
        /// Aggregation temporality.
        temporality: AggregationTemporality,
    },
    /// An exponential histogram.
    ExponentialHistogram {
        /// Aggregation temporality.
        temporality: AggregationTemporality,
    },
    /// A summary.
    Summary,
}

/// Value of an explicit-bucket histogram data point.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramValue {
    /// Number of observations.
    pub count: u64,
    /// Sum of observations, if reported.
    pub sum: Option<f64>,
    /// Minimum observation, if reported.
    pub min: Option<f64>,
    /// Maximum observation, if reported.
    pub max: Option<f64>,
    /// Per-bucket counts (`explicit_bounds.len() + 1` entries).
    pub bucket_counts: Vec<u64>,
    /// Upper bounds of the buckets.
    pub explicit_bounds: Vec<f64>,
}

/// Value of a data point.
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    /// No value was set.
    Empty,
    /// An integer gauge/sum value.
    Int(i64),
    /// A double gauge/sum value.
    Double(f64),
    /// An explicit-bucket histogram.
    Histogram(HistogramValue),
    /// An exponential histogram (only the summary numbers).
    ExponentialHistogram {
        /// Number of observations.
        count: u64,
        /// Sum of observations, if reported.
        sum: Option<f64>,
        /// Scale of the buckets.
        scale: i32,
        /// Observations in the zero bucket.
        zero_count: u64,
    },
    /// A summary.
    Summary {
        /// Number of observations.
        count: u64,
        /// Sum of observations.
        sum: f64,
        /// `(quantile, value)` pairs.
        quantiles: Vec<(f64, f64)>,
    },
}

impl PointValue {
    /// The number of an [`PointValue::Int`] or [`PointValue::Double`] point.
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(i) => Some(*i as f64),
            Self::Double(d) => Some(*d),
            _ => None,
        }
    }

    /// The histogram of a [`PointValue::Histogram`] point.
    pub fn as_histogram(&self) -> Option<&HistogramValue> {
        match self {
            Self::Histogram(h) => Some(h),
            _ => None,
        }
    }
}

/// One data point of a received metric.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedDataPoint {
    /// Data point attributes.
    pub attributes: Attributes,
    /// Start time (ns since the Unix epoch); 0 if not set.
    pub start_time_unix_nano: u64,
    /// Time (ns since the Unix epoch).
    pub time_unix_nano: u64,
    /// The value.
    pub value: PointValue,
}

impl ReceivedDataPoint {
    /// Stringified value of the data point attribute `key`.
    pub fn attr(&self, key: &str) -> Option<String> {
        find_string(&self.attributes, key)
    }

    /// True when every `(key, stringified value)` pair of `attrs` is present on this point.
    pub fn has_attrs(&self, attrs: &[(&str, &str)]) -> bool {
        attrs
            .iter()
            .all(|(k, v)| self.attr(k).as_deref() == Some(*v))
    }
}

/// One received metric (one `Metric` message of one export request), flattened.
///
/// A periodic exporter sends the same metric in every export, so the same name usually appears
/// several times in [`OtlpReceiver::metrics`](super::OtlpReceiver::metrics); use
/// [`OtlpReceiver::metric`](super::OtlpReceiver::metric) for the latest one.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMetric {
    /// Metric name.
    pub name: String,
    /// Metric description.
    pub description: String,
    /// Metric unit.
    pub unit: String,
    /// Kind of metric (gauge, sum, histogram, ...).
    pub kind: MetricKind,
    /// Data points.
    pub data_points: Vec<ReceivedDataPoint>,
    /// Attributes of the resource that exported the metric.
    pub resource_attributes: Attributes,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// Instrumentation scope version.
    pub scope_version: String,
}

impl ReceivedMetric {
    /// Stringified value of the resource attribute `key`.
    pub fn resource_attr(&self, key: &str) -> Option<String> {
        find_string(&self.resource_attributes, key)
    }

    /// The first data point carrying all `(key, stringified value)` pairs of `attrs`
    /// (`&[]` matches the first point).
    pub fn point(&self, attrs: &[(&str, &str)]) -> Option<&ReceivedDataPoint> {
        self.data_points.iter().find(|p| p.has_attrs(attrs))
    }

    fn from_proto(metric: &Metric, resource: &Attributes, scope: (&str, &str)) -> Self {
        let temporality = |t: i32| {
            AggregationTemporality::try_from(t).unwrap_or(AggregationTemporality::Unspecified)
        };
        let number_points =
            |points: &[opentelemetry_proto::tonic::metrics::v1::NumberDataPoint]| {
                points
                    .iter()
                    .map(|p| ReceivedDataPoint {
                        attributes: flatten_attributes(&p.attributes),
                        start_time_unix_nano: p.start_time_unix_nano,
                        time_unix_nano: p.time_unix_nano,
                        value: match p.value {
                            Some(number_data_point::Value::AsInt(i)) => PointValue::Int(i),
                            Some(number_data_point::Value::AsDouble(d)) => PointValue::Double(d),
                            None => PointValue::Empty,
                        },
                    })
                    .collect::<Vec<_>>()
            };
        let (kind, data_points) = match &metric.data {
            None => (MetricKind::Unset, Vec::new()),
            Some(metric::Data::Gauge(g)) => (MetricKind::Gauge, number_points(&g.data_points)),
            Some(metric::Data::Sum(s)) => (
                MetricKind::Sum {
                    monotonic: s.is_monotonic,
                    temporality: temporality(s.aggregation_temporality),
                },
                number_points(&s.data_points),
            ),
            Some(metric::Data::Histogram(h)) => (
                MetricKind::Histogram {
                    temporality: temporality(h.aggregation_temporality),
                },
                h.data_points
                    .iter()
                    .map(|p| ReceivedDataPoint {
                        attributes: flatten_attributes(&p.attributes),
                        start_time_unix_nano: p.start_time_unix_nano,
                        time_unix_nano: p.time_unix_nano,
                        value: PointValue::Histogram(HistogramValue {
                            count: p.count,
                            sum: p.sum,
                            min: p.min,
                            max: p.max,
                            bucket_counts: p.bucket_counts.clone(),
                            explicit_bounds: p.explicit_bounds.clone(),
                        }),
                    })
                    .collect(),
            ),
            Some(metric::Data::ExponentialHistogram(h)) => (
                MetricKind::ExponentialHistogram {
                    temporality: temporality(h.aggregation_temporality),
                },
                h.data_points
                    .iter()
                    .map(|p| ReceivedDataPoint {
                        attributes: flatten_attributes(&p.attributes),
                        start_time_unix_nano: p.start_time_unix_nano,
                        time_unix_nano: p.time_unix_nano,
                        value: PointValue::ExponentialHistogram {
                            count: p.count,
                            sum: p.sum,
                            scale: p.scale,
                            zero_count: p.zero_count,
                        },
                    })
                    .collect(),
            ),
            Some(metric::Data::Summary(s)) => (
                MetricKind::Summary,
                s.data_points
                    .iter()
                    .map(|p| ReceivedDataPoint {
                        attributes: flatten_attributes(&p.attributes),
                        start_time_unix_nano: p.start_time_unix_nano,
                        time_unix_nano: p.time_unix_nano,
                        value: PointValue::Summary {
                            count: p.count,
                            sum: p.sum,
                            quantiles: p
                                .quantile_values
                                .iter()
                                .map(|q| (q.quantile, q.value))
                                .collect(),
                        },
                    })
                    .collect(),
            ),
        };
        ReceivedMetric {
            name: metric.name.clone(),
            description: metric.description.clone(),
            unit: metric.unit.clone(),
            kind,
            data_points,
            resource_attributes: resource.clone(),
            scope_name: scope.0.to_owned(),
            scope_version: scope.1.to_owned(),
        }
    }
}

/// Flattens every metric of every request, in arrival order.
pub(crate) fn flatten_metrics(requests: &[ExportMetricsServiceRequest]) -> Vec<ReceivedMetric> {
    let mut out = Vec::new();
    for request in requests {
        for rm in &request.resource_metrics {
            let resource = resource_attributes(rm.resource.as_ref());
            for sm in &rm.scope_metrics {
                let (name, version) = scope_parts(sm.scope.as_ref());
                for metric in &sm.metrics {
                    out.push(ReceivedMetric::from_proto(
                        metric,
                        &resource,
                        (&name, &version),
                    ));
                }
            }
        }
    }
    out
}
