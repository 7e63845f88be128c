//! The OTLP receiver, exercised with the real tonic client and real HTTP requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::TcpStream;
use std::time::{Duration, Instant};

use prost::Message as _;
use unitel_testkit::opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use unitel_testkit::opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, trace_service_client::TraceServiceClient,
};
use unitel_testkit::opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value,
};
use unitel_testkit::opentelemetry_proto::tonic::metrics::v1::{
    self as pm, Metric, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use unitel_testkit::opentelemetry_proto::tonic::resource::v1::Resource;
use unitel_testkit::opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span,
};
use unitel_testkit::otlp::{AttrValue, MetricKind, PointValue, SpanKind, StatusCode};
use unitel_testkit::{OtlpReceiver, ReceiverMode};

const TRACE_ID: [u8; 16] = [0xab; 16];
const ROOT_ID: [u8; 8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];
const CHILD_ID: [u8; 8] = [0xff, 0, 0, 0, 0, 0, 0, 0x0a];

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn string(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.to_owned())
}

fn resource() -> Resource {
    Resource {
        attributes: vec![kv("service.name", string("checkout"))],
        ..Default::default()
    }
}

fn trace_request() -> ExportTraceServiceRequest {
    let root = Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: ROOT_ID.to_vec(),
        name: "GET /orders/{id}".to_owned(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 5_000,
        attributes: vec![
            kv("http.request.method", string("GET")),
            kv("http.response.status_code", any_value::Value::IntValue(500)),
            kv("ratio", any_value::Value::DoubleValue(0.25)),
            kv("cached", any_value::Value::BoolValue(false)),
        ],
        events: vec![span::Event {
            name: "exception".to_owned(),
            attributes: vec![kv("exception.type", string("Timeout"))],
            ..Default::default()
        }],
        status: Some(Status {
            code: 2, // STATUS_CODE_ERROR
            message: "boom".to_owned(),
        }),
        ..Default::default()
    };
    let child = Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: CHILD_ID.to_vec(),
        parent_span_id: ROOT_ID.to_vec(),
        name: "SELECT orders".to_owned(),
        kind: span::SpanKind::Client as i32,
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "unitel".to_owned(),
                    version: "0.1.0".to_owned(),
                    ..Default::default()
                }),
                spans: vec![root, child],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metrics_request() -> ExportMetricsServiceRequest {
    let counter = Metric {
        name: "http.server.requests".to_owned(),
        unit: "{request}".to_owned(),
        description: "Requests served".to_owned(),
        data: Some(metric::Data::Sum(pm::Sum {
            data_points: vec![pm::NumberDataPoint {
                attributes: vec![kv("http.route", string("/orders/{id}"))],
                value: Some(number_data_point::Value::AsInt(7)),
                ..Default::default()
            }],
            aggregation_temporality: pm::AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    };
    let histogram = Metric {
        name: "http.server.request.duration".to_owned(),
        unit: "s".to_owned(),
        data: Some(metric::Data::Histogram(pm::Histogram {
            data_points: vec![pm::HistogramDataPoint {
                count: 3,
                sum: Some(0.75),
                bucket_counts: vec![1, 2, 0],
                explicit_bounds: vec![0.1, 0.5],
                ..Default::default()
            }],
            aggregation_temporality: pm::AggregationTemporality::Cumulative as i32,
        })),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "unitel".to_owned(),
                    ..Default::default()
                }),
                metrics: vec![counter, histogram],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test]
async fn grpc_export_is_stored_and_flattened() {
    let receiver = OtlpReceiver::start().await.unwrap();
    assert!(receiver.endpoint().starts_with("http://127.0.0.1:"));
    let mut client = TraceServiceClient::connect(receiver.endpoint())
        .await
        .unwrap();
    client.export(trace_request()).await.unwrap();

    assert_eq!(receiver.request_count(), 1);
    assert_eq!(receiver.trace_requests(), vec![trace_request()]);
    let spans = receiver
        .wait_for_spans(|s| s.len() == 2, Duration::from_secs(5))
        .await;
    assert_eq!(spans.len(), 2);

    let root = &spans[0];
    assert_eq!(root.name, "GET /orders/{id}");
    assert_eq!(root.trace_id, "ab".repeat(16));
    assert_eq!(root.span_id, "0102030405060708");
    assert!(root.is_root());
    assert_eq!(root.parent_span_id, "");
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(root.status_code, StatusCode::Error);
    assert_eq!(root.status_message, "boom");
    assert_eq!(root.attr("http.request.method").as_deref(), Some("GET"));
    assert_eq!(
        root.attr("http.response.status_code").as_deref(),
        Some("500")
    );
    assert_eq!(
        root.attr_value("http.response.status_code"),
        Some(&AttrValue::Int(500))
    );
    assert_eq!(root.attr("ratio").as_deref(), Some("0.25"));
    assert_eq!(root.attr("cached").as_deref(), Some("false"));
    assert_eq!(root.attr("missing"), None);
    assert_eq!(
        root.event("exception")
            .and_then(|e| e.attr("exception.type"))
            .as_deref(),
        Some("Timeout")
    );
    assert_eq!(
        root.resource_attr("service.name").as_deref(),
        Some("checkout")
    );
    assert_eq!(root.scope_name, "unitel");
    assert_eq!(root.scope_version, "0.1.0");
    assert_eq!(root.duration(), Duration::from_nanos(4_000));

    let child = &spans[1];
    assert_eq!(child.span_id, "ff0000000000000a");
    assert_eq!(child.parent_span_id, root.span_id);
    assert_eq!(child.trace_id, root.trace_id);
    assert_eq!(child.kind, SpanKind::Client);
    assert_eq!(child.status_code, StatusCode::Unset);
}

#[tokio::test]
async fn unavailable_and_delay_modes() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let mut client = TraceServiceClient::connect(receiver.endpoint())
        .await
        .unwrap();

    receiver.set_mode(ReceiverMode::Unavailable);
    let status = client.export(trace_request()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert_eq!(receiver.request_count(), 1, "refused requests are counted");
    assert!(
        receiver.spans().is_empty(),
        "refused requests are not stored"
    );

    receiver.set_mode(ReceiverMode::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    client.export(trace_request()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(receiver.spans().len(), 2);

    receiver.set_mode(ReceiverMode::Accept);
    client.export(trace_request()).await.unwrap();
    assert_eq!(receiver.request_count(), 3);
    assert_eq!(receiver.spans().len(), 4);

    receiver.clear();
    assert_eq!(receiver.request_count(), 0);
    assert!(receiver.trace_requests().is_empty());
}

#[tokio::test]
async fn stop_refuses_connections_and_restart_uses_the_same_port() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let addr = receiver.addr();
    let mut client = TraceServiceClient::connect(receiver.endpoint())
        .await
        .unwrap();
    client.export(trace_request()).await.unwrap();

    receiver.stop();
    assert!(!receiver.is_running());
    assert!(TcpStream::connect(addr).is_err(), "gRPC port still open");
    assert!(
        TcpStream::connect(receiver.http_addr()).is_err(),
        "HTTP port still open"
    );
    // The already-connected client loses its connection too (tonic reports the broken
    // connection as UNKNOWN "transport error" or UNAVAILABLE, depending on timing).
    let err = client.export(trace_request()).await.unwrap_err();
    assert!(
        matches!(err.code(), tonic::Code::Unavailable | tonic::Code::Unknown),
        "{err:?}"
    );

    receiver.restart().unwrap();
    assert!(receiver.is_running());
    assert_eq!(receiver.addr(), addr);
    let mut client = TraceServiceClient::connect(receiver.endpoint())
        .await
        .unwrap();
    client.export(trace_request()).await.unwrap();
    assert_eq!(receiver.spans().len(), 4, "data survives stop/restart");
}

#[tokio::test]
async fn http_protobuf_export() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    let response = http
        .post(format!("{}/v1/metrics", receiver.http_endpoint()))
        .header("content-type", "application/x-protobuf")
        .body(metrics_request().encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");

    let response = http
        .post(format!("{}/v1/traces", receiver.http_endpoint()))
        .header("content-type", "application/x-protobuf")
        .body(trace_request().encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(receiver.spans().len(), 2);

    let metrics = receiver
        .wait_for_metrics(|m| m.len() == 2, Duration::from_secs(5))
        .await;
    assert_eq!(metrics.len(), 2);
    let counter = receiver.metric("http.server.requests").unwrap();
    assert_eq!(counter.unit, "{request}");
    assert_eq!(counter.description, "Requests served");
    assert!(matches!(
        counter.kind,
        MetricKind::Sum {
            monotonic: true,
            ..
        }
    ));
    assert_eq!(
        counter.resource_attr("service.name").as_deref(),
        Some("checkout")
    );
    let point = counter.point(&[("http.route", "/orders/{id}")]).unwrap();
    assert_eq!(point.value, PointValue::Int(7));
    assert_eq!(point.value.as_f64(), Some(7.0));

    let histogram = receiver.metric("http.server.request.duration").unwrap();
    let h = histogram.data_points[0].value.as_histogram().unwrap();
    assert_eq!(h.count, 3);
    assert_eq!(h.sum, Some(0.75));
    assert_eq!(h.bucket_counts, vec![1, 2, 0]);
    assert_eq!(h.explicit_bounds, vec![0.1, 0.5]);

    // Fault mode applies to HTTP too.
    receiver.set_mode(ReceiverMode::Unavailable);
    let response = http
        .post(format!("{}/v1/traces", receiver.http_endpoint()))
        .header("content-type", "application/x-protobuf")
        .body(trace_request().encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);

    // JSON is not supported.
    let response = http
        .post(format!("{}/v1/traces", receiver.http_endpoint()))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(receiver.request_count(), 3);
}

/// The receiver has its own runtime: it works from a plain test and outlives short-lived
/// client runtimes.
#[test]
fn works_without_a_caller_runtime() {
    let receiver = OtlpReceiver::start_blocking().unwrap();
    for _ in 0..2 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut client = TraceServiceClient::connect(receiver.endpoint())
                .await
                .unwrap();
            client.export(trace_request()).await.unwrap();
        });
    }
    let spans = receiver.wait_for_spans_blocking(|s| s.len() == 4, Duration::from_secs(5));
    assert_eq!(spans.len(), 4);
    let addr = receiver.addr();
    drop(receiver);
    assert!(
        TcpStream::connect(addr).is_err(),
        "dropping stops the receiver"
    );
}
