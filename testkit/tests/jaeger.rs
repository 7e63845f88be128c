//! Jaeger via testcontainers (skipped without a Docker engine or an external Jaeger; a failure
//! under `UNITEL_REQUIRE_SERVICES=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use unitel_testkit::opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, trace_service_client::TraceServiceClient,
};
use unitel_testkit::opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use unitel_testkit::opentelemetry_proto::tonic::resource::v1::Resource;
use unitel_testkit::opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

#[tokio::test]
async fn jaeger_receives_otlp_spans() {
    let Some(jaeger) = unitel_testkit::jaeger().await else {
        return;
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".to_owned(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("unitel-testkit".to_owned())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![7; 16],
                    span_id: vec![9; 8],
                    name: "jaeger-smoke".to_owned(),
                    start_time_unix_nano: 1_700_000_000_000_000_000,
                    end_time_unix_nano: 1_700_000_000_100_000_000,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let mut client = TraceServiceClient::connect(jaeger.otlp_endpoint().to_owned())
        .await
        .unwrap();
    client.export(request).await.unwrap();
    let traces = jaeger
        .wait_for_traces("unitel-testkit", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(traces[0]["spans"][0]["operationName"], "jaeger-smoke");
}
