//! How OTLP requests leave the process, for both signals: the gRPC channel or HTTP client built
//! from the configured protocol, endpoint and timeout, and one call that sends an encoded
//! request and decodes the collector's answer.

use std::marker::PhantomData;
use std::time::Duration;

use crate::config::OtlpProtocol;

/// Where one signal's requests go on each protocol.
#[derive(Debug, Clone, Copy)]
pub(super) struct Route {
    /// gRPC method of the signal's collector service.
    pub(super) grpc_path: &'static str,
    /// Appended to the endpoint for OTLP/HTTP.
    pub(super) http_path: &'static str,
}

/// The OTLP trace service.
pub(super) const TRACE_SERVICE: Route = Route {
    grpc_path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    http_path: "/v1/traces",
};

/// The OTLP metrics service.
pub(super) const METRICS_SERVICE: Route = Route {
    grpc_path: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    http_path: "/v1/metrics",
};

/// A connection to the collector for one signal; cheap to clone (clones share the channel or
/// the HTTP connection pool).
#[derive(Clone)]
pub(super) enum Transport {
    Grpc {
        grpc: tonic::client::Grpc<tonic::transport::Channel>,
        path: &'static str,
    },
    Http {
        client: reqwest::Client,
        url: String,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Grpc { path, .. } => f.debug_struct("Grpc").field("path", path).finish(),
            Transport::Http { url, .. } => f.debug_struct("Http").field("url", url).finish(),
        }
    }
}

impl Transport {
    /// A transport to `endpoint` (gRPC: the collector's address; HTTP: its base URL, the
    /// route's path is appended) for `route`. Connects on first use.
    ///
    /// # Errors
    /// A message when the endpoint or the HTTP client cannot be built.
    pub(super) fn new(
        protocol: OtlpProtocol,
        endpoint: &str,
        timeout: Duration,
        route: Route,
    ) -> Result<Self, String> {
        Ok(match protocol {
            OtlpProtocol::Grpc => Transport::Grpc {
                grpc: tonic::client::Grpc::new(grpc_channel(endpoint, timeout)?),
                path: route.grpc_path,
            },
            OtlpProtocol::HttpProtobuf => Transport::Http {
                client: http_client(timeout)?,
                url: format!("{endpoint}{}", route.http_path),
            },
        })
    }

    /// Sends one encoded request. `Ok(Some(answer))`: accepted, with the collector's answer;
    /// `Ok(None)`: accepted over HTTP with a body that is not an `R`; `Err`: why the request
    /// failed (transport error or error status).
    pub(super) async fn send<R>(self, body: bytes::Bytes) -> Result<Option<R>, String>
    where
        R: prost::Message + Default + Send + 'static,
    {
        match self {
            Transport::Grpc { mut grpc, path } => {
                grpc.ready()
                    .await
                    .map_err(|e| format!("OTLP/gRPC connection: {e}"))?;
                let response = grpc
                    .unary(
                        tonic::Request::new(body),
                        http::uri::PathAndQuery::from_static(path),
                        RawCodec::<R>(PhantomData),
                    )
                    .await
                    .map_err(|status| status.to_string())?;
                Ok(Some(response.into_inner()))
            }
            Transport::Http { client, url } => {
                let response = client
                    .post(url.as_str())
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !response.status().is_success() {
                    return Err(format!("collector answered {}", response.status()));
                }
                let answer = response.bytes().await.map_err(|e| e.to_string())?;
                Ok(R::decode(answer).ok())
            }
        }
    }
}

/// A lazily connecting gRPC channel to the collector, each call bounded by `timeout`.
fn grpc_channel(endpoint: &str, timeout: Duration) -> Result<tonic::transport::Channel, String> {
    Ok(tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .map_err(|e| format!("OTLP endpoint {endpoint}: {e}"))?
        .timeout(timeout)
        .connect_timeout(timeout)
        .connect_lazy())
}

/// The HTTP client of the `http/protobuf` protocol, each request bounded by `timeout`.
fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())
}

/// gRPC codec sending an already encoded request and decoding the service's answer as `R`.
struct RawCodec<R>(PhantomData<fn() -> R>);

struct RawEncoder;

struct AnswerDecoder<R>(PhantomData<fn() -> R>);

impl<R> tonic::codec::Codec for RawCodec<R>
where
    R: prost::Message + Default + Send + 'static,
{
    type Encode = bytes::Bytes;
    type Decode = R;
    type Encoder = RawEncoder;
    type Decoder = AnswerDecoder<R>;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        AnswerDecoder(PhantomData)
    }
}

impl tonic::codec::Encoder for RawEncoder {
    type Item = bytes::Bytes;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Self::Item,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Self::Error> {
        bytes::BufMut::put(dst, item);
        Ok(())
    }
}

impl<R> tonic::codec::Decoder for AnswerDecoder<R>
where
    R: prost::Message + Default + Send + 'static,
{
    type Item = R;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Self::Item>, Self::Error> {
        R::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(format!("OTLP answer: {e}")))
    }
}
