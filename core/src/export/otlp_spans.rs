//! OTLP trace export without intermediate protobuf structs: a batch of [`SpanData`] is written
//! straight into one `ExportTraceServiceRequest` in protobuf wire format (the official
//! `opentelemetry-proto` field numbers), and sent as bytes over gRPC or HTTP.
//!
//! The `opentelemetry-otlp` exporter first converts every span into the generated message
//! structs (a `String` per attribute key and value, a `Vec` per id, a grouping map per batch),
//! encodes them, then frees them all; on a server with one core that was about a quarter of its
//! CPU with spans on. Here a batch costs one reused buffer. The output is the same message the
//! SDK exporter sends (same fields, same flags, same status), checked by decoding it with the
//! generated types in the tests below and by every trace test against the testkit receiver.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_sdk::trace::SpanData;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

/// `SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`.
const HAS_IS_REMOTE: u32 = 0x100;
/// `SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`.
const IS_REMOTE: u32 = 0x200;

/// gRPC method of the OTLP trace service.
pub(crate) const GRPC_EXPORT_PATH: &str =
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Writes one `ExportTraceServiceRequest` for `spans` into `out` (cleared first): one
/// `ResourceSpans` with `resource` (an encoded `Resource` message), one `ScopeSpans` per
/// instrumentation scope in order of first appearance. `scratch` is reused between batches.
pub(crate) fn encode_request(
    resource: &[u8],
    spans: &[SpanData],
    scratch: &mut Vec<Vec<u8>>,
    out: &mut Vec<u8>,
) {
    out.clear();
    // Group by scope (a batch usually has one or two).
    let mut scopes: Vec<&InstrumentationScope> = Vec::new();
    for span in spans {
        if !scopes.contains(&&span.instrumentation_scope) {
            scopes.push(&span.instrumentation_scope);
        }
    }
    scratch.resize_with(scopes.len().max(scratch.len()), Vec::new);
    let mut scope_spans_len = 0;
    for (scope, buf) in scopes.iter().zip(scratch.iter_mut()) {
        buf.clear();
        // ScopeSpans { scope = 1, spans = 2, schema_url = 3 }
        let scope_len = scope_message_len(scope);
        put_len(1, scope_len, buf);
        put_scope(scope, buf);
        for span in spans.iter().filter(|s| &s.instrumentation_scope == *scope) {
            let parts = SpanParts::of(span);
            put_len(2, span_len(span, &parts), buf);
            put_span(span, &parts, buf);
        }
        put_str(3, scope.schema_url().unwrap_or(""), buf);
        scope_spans_len += len_field(2, buf.len());
    }
    // ExportTraceServiceRequest { resource_spans = 1 }
    // ResourceSpans { resource = 1, scope_spans = 2, schema_url = 3 }
    let resource_spans_len = len_field(1, resource.len()) + scope_spans_len;
    out.reserve(len_field(1, resource_spans_len));
    put_len(1, resource_spans_len, out);
    put_len(1, resource.len(), out);
    out.extend_from_slice(resource);
    for buf in &scratch[..scopes.len()] {
        put_len(2, buf.len(), out);
        out.extend_from_slice(buf);
    }
}

/// An encoded `Resource` message with these attributes.
pub(crate) fn encode_resource<'a>(attributes: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in attributes {
        // Resource { attributes = 1 }; KeyValue { key = 1, value = 2 }; AnyValue { string = 1 }
        let value_len = len_field(1, value.len());
        put_len(1, str_field_len(1, key) + len_field(2, value_len), &mut out);
        put_str(1, key, &mut out);
        put_len(2, value_len, &mut out);
        put_len(1, value.len(), &mut out);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

// --- wire helpers ------------------------------------------------------------------------------

fn len_field(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn put_len(tag: u32, len: usize, out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

/// A proto3 string field (omitted when empty).
fn str_field_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        len_field(tag, s.len())
    }
}

fn put_str(tag: u32, s: &str, out: &mut Vec<u8>) {
    if !s.is_empty() {
        put_len(tag, s.len(), out);
        out.extend_from_slice(s.as_bytes());
    }
}

fn put_bytes(tag: u32, b: &[u8], out: &mut Vec<u8>) {
    put_len(tag, b.len(), out);
    out.extend_from_slice(b);
}

/// A proto3 varint field (omitted when zero).
fn varint_field_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(v)
    }
}

fn put_varint(tag: u32, v: u64, out: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::Varint, out);
        encode_varint(v, out);
    }
}

fn fixed64_field_len(tag: u32, v: u64) -> usize {
    if v == 0 { 0 } else { key_len(tag) + 8 }
}

fn put_fixed64(tag: u32, v: u64, out: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::SixtyFourBit, out);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn fixed32_field_len(tag: u32, v: u32) -> usize {
    if v == 0 { 0 } else { key_len(tag) + 4 }
}

fn put_fixed32(tag: u32, v: u32, out: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::ThirtyTwoBit, out);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos()
        .try_into()
        .unwrap_or(u64::MAX)
}

// --- values ------------------------------------------------------------------------------------

/// `AnyValue` body length. A set `oneof` member is written even when it holds its default.
fn any_value_len(v: &Value) -> usize {
    match v {
        Value::Bool(_) => key_len(2) + 1,
        Value::I64(i) => key_len(3) + encoded_len_varint(i64_bits(*i)),
        Value::F64(_) => key_len(4) + 8,
        Value::String(s) => len_field(1, s.as_str().len()),
        Value::Array(a) => len_field(5, array_len(a)),
        other => len_field(1, other.as_str().len()),
    }
}

fn put_any_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Bool(b) => {
            encode_key(2, WireType::Varint, out);
            encode_varint(u64::from(*b), out);
        }
        Value::I64(i) => {
            encode_key(3, WireType::Varint, out);
            encode_varint(i64_bits(*i), out);
        }
        Value::F64(f) => {
            encode_key(4, WireType::SixtyFourBit, out);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::String(s) => put_bytes(1, s.as_str().as_bytes(), out),
        Value::Array(a) => {
            put_len(5, array_len(a), out);
            put_array(a, out);
        }
        other => put_bytes(1, other.as_str().as_bytes(), out),
    }
}

/// An `int64` is written as its two's-complement bits.
fn i64_bits(i: i64) -> u64 {
    u64::from_ne_bytes(i.to_ne_bytes())
}

/// `ArrayValue { values = 1 }` body length.
fn array_len(a: &Array) -> usize {
    match a {
        Array::Bool(v) => v.len() * len_field(1, key_len(2) + 1),
        Array::I64(v) => v
            .iter()
            .map(|i| len_field(1, key_len(3) + encoded_len_varint(i64_bits(*i))))
            .sum(),
        Array::F64(v) => v.len() * len_field(1, key_len(4) + 8),
        Array::String(v) => v
            .iter()
            .map(|s| len_field(1, len_field(1, s.as_str().len())))
            .sum(),
        other => {
            let text = other.to_string();
            len_field(1, len_field(1, text.len()))
        }
    }
}

fn put_array(a: &Array, out: &mut Vec<u8>) {
    match a {
        Array::Bool(v) => {
            for b in v {
                put_len(1, key_len(2) + 1, out);
                put_any_value(&Value::Bool(*b), out);
            }
        }
        Array::I64(v) => {
            for i in v {
                put_len(1, key_len(3) + encoded_len_varint(i64_bits(*i)), out);
                put_any_value(&Value::I64(*i), out);
            }
        }
        Array::F64(v) => {
            for f in v {
                put_len(1, key_len(4) + 8, out);
                put_any_value(&Value::F64(*f), out);
            }
        }
        Array::String(v) => {
            for s in v {
                put_len(1, len_field(1, s.as_str().len()), out);
                put_bytes(1, s.as_str().as_bytes(), out);
            }
        }
        other => {
            let text = other.to_string();
            put_len(1, len_field(1, text.len()), out);
            put_bytes(1, text.as_bytes(), out);
        }
    }
}

/// `KeyValue { key = 1, value = 2 }` body length.
fn kv_len(kv: &KeyValue) -> usize {
    str_field_len(1, kv.key.as_str()) + len_field(2, any_value_len(&kv.value))
}

fn put_kv(tag: u32, kv: &KeyValue, out: &mut Vec<u8>) {
    put_len(tag, kv_len(kv), out);
    put_str(1, kv.key.as_str(), out);
    put_len(2, any_value_len(&kv.value), out);
    put_any_value(&kv.value, out);
}

fn kvs_len(tag: u32, kvs: &[KeyValue]) -> usize {
    kvs.iter().map(|kv| len_field(tag, kv_len(kv))).sum()
}

// --- scope, span -------------------------------------------------------------------------------

/// `InstrumentationScope { name = 1, version = 2, attributes = 3 }` body length.
fn scope_message_len(scope: &InstrumentationScope) -> usize {
    str_field_len(1, scope.name())
        + str_field_len(2, scope.version().unwrap_or(""))
        + scope
            .attributes()
            .map(|kv| len_field(3, kv_len(kv)))
            .sum::<usize>()
}

fn put_scope(scope: &InstrumentationScope, out: &mut Vec<u8>) {
    put_str(1, scope.name(), out);
    put_str(2, scope.version().unwrap_or(""), out);
    for kv in scope.attributes() {
        put_kv(3, kv, out);
    }
}

/// What a span's length and its encoding both need, computed once.
struct SpanParts {
    trace_state: String,
    flags: u32,
    kind: u64,
    start: u64,
    end: u64,
    status_code: u64,
}

impl SpanParts {
    fn of(span: &SpanData) -> Self {
        let mut flags = u32::from(span.span_context.trace_flags().to_u8()) | HAS_IS_REMOTE;
        if span.parent_span_is_remote {
            flags |= IS_REMOTE;
        }
        Self {
            trace_state: span.span_context.trace_state().header(),
            flags,
            kind: match span.span_kind {
                SpanKind::Internal => 1,
                SpanKind::Server => 2,
                SpanKind::Client => 3,
                SpanKind::Producer => 4,
                SpanKind::Consumer => 5,
            },
            start: nanos(span.start_time),
            end: nanos(span.end_time),
            status_code: match span.status {
                Status::Unset => 0,
                Status::Ok => 1,
                Status::Error { .. } => 2,
            },
        }
    }
}

fn status_message(span: &SpanData) -> &str {
    match &span.status {
        Status::Error { description } => description,
        _ => "",
    }
}

/// `Status { message = 2, code = 3 }` body length.
fn status_len(span: &SpanData, parts: &SpanParts) -> usize {
    str_field_len(2, status_message(span)) + varint_field_len(3, parts.status_code)
}

/// `Span.Event { time = 1, name = 2, attributes = 3, dropped = 4 }` body length.
fn event_len(event: &opentelemetry::trace::Event) -> usize {
    fixed64_field_len(1, nanos(event.timestamp))
        + str_field_len(2, &event.name)
        + kvs_len(3, &event.attributes)
        + varint_field_len(4, u64::from(event.dropped_attributes_count))
}

fn link_flags(link: &opentelemetry::trace::Link) -> u32 {
    let mut flags = u32::from(link.span_context.trace_flags().to_u8()) | HAS_IS_REMOTE;
    if link.span_context.is_remote() {
        flags |= IS_REMOTE;
    }
    flags
}

/// `Span.Link { trace_id = 1, span_id = 2, trace_state = 3, attributes = 4, dropped = 5,
/// flags = 6 }` body length.
fn link_len(link: &opentelemetry::trace::Link, trace_state: &str) -> usize {
    len_field(1, 16)
        + len_field(2, 8)
        + str_field_len(3, trace_state)
        + kvs_len(4, &link.attributes)
        + varint_field_len(5, u64::from(link.dropped_attributes_count))
        + fixed32_field_len(6, link_flags(link))
}

fn span_len(span: &SpanData, parts: &SpanParts) -> usize {
    let parent = span.parent_span_id != opentelemetry::trace::SpanId::INVALID;
    len_field(1, 16)
        + len_field(2, 8)
        + str_field_len(3, &parts.trace_state)
        + if parent { len_field(4, 8) } else { 0 }
        + str_field_len(5, &span.name)
        + varint_field_len(6, parts.kind)
        + fixed64_field_len(7, parts.start)
        + fixed64_field_len(8, parts.end)
        + kvs_len(9, &span.attributes)
        + varint_field_len(10, u64::from(span.dropped_attributes_count))
        + span
            .events
            .events
            .iter()
            .map(|e| len_field(11, event_len(e)))
            .sum::<usize>()
        + varint_field_len(12, u64::from(span.events.dropped_count))
        + span
            .links
            .links
            .iter()
            .map(|l| len_field(13, link_len(l, &l.span_context.trace_state().header())))
            .sum::<usize>()
        + varint_field_len(14, u64::from(span.links.dropped_count))
        + len_field(15, status_len(span, parts))
        + fixed32_field_len(16, parts.flags)
}

fn put_span(span: &SpanData, parts: &SpanParts, out: &mut Vec<u8>) {
    put_bytes(1, &span.span_context.trace_id().to_bytes(), out);
    put_bytes(2, &span.span_context.span_id().to_bytes(), out);
    put_str(3, &parts.trace_state, out);
    if span.parent_span_id != opentelemetry::trace::SpanId::INVALID {
        put_bytes(4, &span.parent_span_id.to_bytes(), out);
    }
    put_str(5, &span.name, out);
    put_varint(6, parts.kind, out);
    put_fixed64(7, parts.start, out);
    put_fixed64(8, parts.end, out);
    for kv in &span.attributes {
        put_kv(9, kv, out);
    }
    put_varint(10, u64::from(span.dropped_attributes_count), out);
    for event in &span.events.events {
        put_len(11, event_len(event), out);
        put_fixed64(1, nanos(event.timestamp), out);
        put_str(2, &event.name, out);
        for kv in &event.attributes {
            put_kv(3, kv, out);
        }
        put_varint(4, u64::from(event.dropped_attributes_count), out);
    }
    put_varint(12, u64::from(span.events.dropped_count), out);
    for link in &span.links.links {
        let trace_state = link.span_context.trace_state().header();
        put_len(13, link_len(link, &trace_state), out);
        put_bytes(1, &link.span_context.trace_id().to_bytes(), out);
        put_bytes(2, &link.span_context.span_id().to_bytes(), out);
        put_str(3, &trace_state, out);
        for kv in &link.attributes {
            put_kv(4, kv, out);
        }
        put_varint(5, u64::from(link.dropped_attributes_count), out);
        put_fixed32(6, link_flags(link), out);
    }
    put_varint(14, u64::from(span.links.dropped_count), out);
    put_len(15, status_len(span, parts), out);
    put_str(2, status_message(span), out);
    put_varint(3, parts.status_code, out);
    put_fixed32(16, parts.flags, out);
}

// --- transport ---------------------------------------------------------------------------------

/// Sends encoded span batches to the collector, reusing its buffers.
pub(crate) struct SpanSender {
    client: SpanClient,
    resource: Vec<u8>,
    scratch: Vec<Vec<u8>>,
    buf: Vec<u8>,
}

enum SpanClient {
    Grpc(tonic::client::Grpc<tonic::transport::Channel>),
    Http {
        client: reqwest::Client,
        url: String,
    },
}

impl std::fmt::Debug for SpanSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanSender").finish_non_exhaustive()
    }
}

impl SpanSender {
    /// A sender to `endpoint` (gRPC: the collector's address; HTTP: its base URL, `/v1/traces`
    /// is appended) for spans of the resource with these attributes. Connects on first use.
    ///
    /// # Errors
    /// A message when the endpoint or the HTTP client cannot be built.
    pub(crate) fn new(
        protocol: crate::config::OtlpProtocol,
        endpoint: &str,
        timeout: Duration,
        resource: &[(String, String)],
    ) -> Result<Self, String> {
        let client = match protocol {
            crate::config::OtlpProtocol::Grpc => SpanClient::Grpc(tonic::client::Grpc::new(
                super::otlp::grpc_channel(endpoint, timeout)?,
            )),
            crate::config::OtlpProtocol::HttpProtobuf => SpanClient::Http {
                client: super::otlp::http_client(timeout)?,
                url: format!("{endpoint}/v1/traces"),
            },
        };
        Ok(Self {
            client,
            resource: encode_resource(resource.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            scratch: Vec::new(),
            buf: Vec::new(),
        })
    }

    /// Encodes `spans` as one request now and returns its sending, which owns everything it
    /// needs: the caller can encode the next batch while this one is on the wire. `Ok(n)`:
    /// accepted, `n` of the spans rejected by the collector (partial success); `Err`: why the
    /// request failed (transport error or error status).
    pub(crate) fn prepare(
        &mut self,
        spans: &[SpanData],
    ) -> impl Future<Output = Result<u64, String>> + Send + 'static {
        encode_request(&self.resource, spans, &mut self.scratch, &mut self.buf);
        // The encoded request goes to the wire as is; the next one starts in a buffer of the
        // same size (a copy would allocate the same and write every byte again).
        let next = Vec::with_capacity(self.buf.capacity());
        let body = bytes::Bytes::from(std::mem::replace(&mut self.buf, next));
        let client = match &self.client {
            SpanClient::Grpc(grpc) => SpanClient::Grpc(grpc.clone()),
            SpanClient::Http { client, url } => SpanClient::Http {
                client: client.clone(),
                url: url.clone(),
            },
        };
        client.send(body)
    }
}

impl SpanClient {
    async fn send(self, body: bytes::Bytes) -> Result<u64, String> {
        match self {
            SpanClient::Grpc(mut grpc) => {
                grpc.ready()
                    .await
                    .map_err(|e| format!("OTLP/gRPC connection: {e}"))?;
                let response = grpc
                    .unary(
                        tonic::Request::new(body),
                        http::uri::PathAndQuery::from_static(GRPC_EXPORT_PATH),
                        RawCodec,
                    )
                    .await
                    .map_err(|status| status.to_string())?;
                Ok(rejected(&response.into_inner()))
            }
            SpanClient::Http { client, url } => {
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
                Ok(prost::Message::decode(answer)
                    .map_or(0, |r: ExportTraceServiceResponse| rejected(&r)))
            }
        }
    }
}

fn rejected(response: &ExportTraceServiceResponse) -> u64 {
    response
        .partial_success
        .as_ref()
        .map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0))
}

/// gRPC codec sending an already encoded request and decoding the service's answer.
#[derive(Debug, Clone, Copy)]
struct RawCodec;

#[derive(Debug, Clone, Copy)]
struct RawEncoder;

#[derive(Debug, Clone, Copy)]
struct ResponseDecoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = bytes::Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        ResponseDecoder
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

impl tonic::codec::Decoder for ResponseDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Self::Item>, Self::Error> {
        prost::Message::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(format!("OTLP answer: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{
        Link, Span as _, SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId,
        TraceState, Tracer as _, TracerProvider as _,
    };
    use opentelemetry::{Context, StringValue};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanProcessor};
    use prost::Message as _;

    use super::*;

    #[derive(Debug, Clone, Default)]
    struct Collect(Arc<Mutex<Vec<SpanData>>>);

    impl SpanProcessor for Collect {
        fn on_start(&self, _: &mut Span, _: &Context) {}
        fn on_end(&self, span: SpanData) {
            self.0.lock().unwrap().push(span);
        }
        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    /// Spans with every kind of value, events, links, statuses, a remote parent with trace
    /// state, and two scopes.
    fn spans() -> Vec<SpanData> {
        let collect = Collect::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(collect.clone())
            .build();
        let server = provider.tracer_with_scope(
            InstrumentationScope::builder("unitel-test")
                .with_version("1.2.3")
                .with_schema_url("https://opentelemetry.io/schemas/1.26.0")
                .with_attributes([KeyValue::new("scope.attr", "x")])
                .build(),
        );
        let other = provider.tracer("other-scope");
        let remote = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_key_value([("vendor", "value")]).unwrap(),
        );
        let parent = Context::new().with_remote_span_context(remote.clone());
        let mut span = server
            .span_builder("GET /api/items/{id}")
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.response.status_code", 200_i64),
                KeyValue::new("negative", -42_i64),
                KeyValue::new("zero", 0_i64),
                KeyValue::new("ratio", 0.25),
                KeyValue::new("flag", true),
                KeyValue::new("off", false),
                KeyValue::new("empty", ""),
                KeyValue::new("unicode", "héllo ✓"),
                KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
                KeyValue::new("ints", Value::Array(Array::I64(vec![1, -1, i64::MAX]))),
                KeyValue::new("floats", Value::Array(Array::F64(vec![1.5, -0.0]))),
                KeyValue::new(
                    "strings",
                    Value::Array(Array::String(vec![StringValue::from("a"), "".into()])),
                ),
            ])
            .with_links(vec![Link::new(
                remote.clone(),
                vec![KeyValue::new("link.attr", 7_i64)],
                0,
            )])
            .start_with_context(&server, &parent);
        span.add_event("retry", vec![KeyValue::new("attempt", 2_i64)]);
        span.set_status(Status::error("upstream answered 503"));
        let cx = Context::current_with_span(span);
        other
            .span_builder("child")
            .with_kind(SpanKind::Client)
            .start_with_context(&other, &cx)
            .end();
        server.start("ok span").end();
        let mut ok = server.start("explicit ok");
        ok.set_status(Status::Ok);
        ok.end();
        drop(cx);
        for kind in [SpanKind::Internal, SpanKind::Producer, SpanKind::Consumer] {
            other.span_builder("k").with_kind(kind).start(&other).end();
        }
        let _ = provider.shutdown();
        collect.0.lock().unwrap().clone()
    }

    fn resource() -> opentelemetry_sdk::Resource {
        opentelemetry_sdk::Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", "unitel-test"),
                KeyValue::new("deployment.environment.name", "test"),
            ])
            .build()
    }

    #[test]
    fn the_request_decodes_to_what_the_sdk_exporter_sends() {
        let spans = spans();
        assert_eq!(spans.len(), 7);
        let resource = resource();
        let encoded_resource = encode_resource(
            resource
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>()
                .iter()
                .map(|(k, v)| (*k, v.as_ref())),
        );
        let mut scratch = Vec::new();
        let mut out = Vec::new();
        // Twice through the same buffers: nothing leaks from one batch into the next.
        for _ in 0..2 {
            encode_request(&encoded_resource, &spans, &mut scratch, &mut out);
        }
        let ours = ExportTraceServiceRequest::decode(out.as_slice()).unwrap();
        let sdk = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                spans.clone(),
                &ResourceAttributesWithSchema::from(&resource),
            ),
        };
        assert_eq!(ours, sdk);
        // And byte for byte the same size as prost's encoding of it.
        assert_eq!(out.len(), sdk.encoded_len());
    }

    #[test]
    fn an_empty_batch_is_a_valid_request() {
        let mut out = vec![1, 2, 3];
        encode_request(
            &encode_resource(std::iter::empty()),
            &[],
            &mut Vec::new(),
            &mut out,
        );
        let decoded = ExportTraceServiceRequest::decode(out.as_slice()).unwrap();
        assert_eq!(decoded.resource_spans.len(), 1);
        assert!(decoded.resource_spans[0].scope_spans.is_empty());
    }
}
