//! OTLP/HTTP (protobuf) receiver, served with hyper 1 (HTTP/1.1).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;

use super::{MAX_MESSAGE_SIZE, Shared, Unavailable};

const PROTOBUF: &str = "application/x-protobuf";

/// Accepts connections forever (until the task is dropped with its runtime).
pub(super) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("unitel-testkit: OTLP/HTTP receiver accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(&shared, request).await) }
            });
            // Connection errors (client went away, ...) are not interesting for tests.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn text(status: StatusCode, message: impl Into<String>) -> Response<Full<Bytes>> {
    respond(status, "text/plain; charset=utf-8", message.into())
}

#[derive(Debug, Clone, Copy)]
enum Signal {
    Traces,
    Metrics,
}

async fn handle(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let signal = match request.uri().path() {
        "/v1/traces" => Signal::Traces,
        "/v1/metrics" => Signal::Metrics,
        path => return text(StatusCode::NOT_FOUND, format!("no OTLP signal at {path}")),
    };
    if request.method() != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "use POST");
    }
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with(PROTOBUF) {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("only {PROTOBUF} is supported, got {content_type:?}"),
        );
    }
    if let Some(encoding) = request.headers().get(CONTENT_ENCODING)
        && encoding.as_bytes() != b"identity"
    {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "compressed bodies are not supported by the test receiver",
        );
    }
    let body = match http_body_util::Limited::new(request.into_body(), MAX_MESSAGE_SIZE)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("reading body: {e}")),
    };
    match signal {
        Signal::Traces => {
            let decoded = match ExportTraceServiceRequest::decode(body) {
                Ok(decoded) => decoded,
                Err(e) => return text(StatusCode::BAD_REQUEST, format!("decoding: {e}")),
            };
            if let Err(Unavailable) = shared.admit().await {
                return text(StatusCode::SERVICE_UNAVAILABLE, super::UNAVAILABLE_MESSAGE);
            }
            shared.store_traces(decoded);
            let response = ExportTraceServiceResponse {
                partial_success: None,
            };
            respond(StatusCode::OK, PROTOBUF, response.encode_to_vec())
        }
        Signal::Metrics => {
            let decoded = match ExportMetricsServiceRequest::decode(body) {
                Ok(decoded) => decoded,
                Err(e) => return text(StatusCode::BAD_REQUEST, format!("decoding: {e}")),
            };
            if let Err(Unavailable) = shared.admit().await {
                return text(StatusCode::SERVICE_UNAVAILABLE, super::UNAVAILABLE_MESSAGE);
            }
            shared.store_metrics(decoded);
            let response = ExportMetricsServiceResponse {
                partial_success: None,
            };
            respond(StatusCode::OK, PROTOBUF, response.encode_to_vec())
        }
    }
}
