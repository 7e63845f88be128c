//! Spans and metrics exported over OTLP/HTTP (protobuf) to the testkit's real receiver.
#![cfg(feature = "otel")]

mod otlp_roundtrip;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_metrics_reach_the_receiver_with_resource_and_parents() {
    otlp_roundtrip::spans_and_metrics_round_trip(unitel::config::OtlpProtocol::HttpProtobuf).await;
}
