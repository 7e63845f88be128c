//! The span encoder: a batch of [`SpanData`] is written straight into one
//! `ExportTraceServiceRequest` in protobuf wire format (the official `opentelemetry-proto`
//! field numbers), without intermediate protobuf structs.
//!
//! The `opentelemetry-otlp` exporter first converts every span into the generated message
//! structs (a `String` per attribute key and value, a `Vec` per id, a grouping map per batch),
//! encodes them, then frees them all; on a server with one core that was about a quarter of its
//! CPU with spans on. Here a batch costs one reused buffer. The output is the same message the
//! SDK exporter sends (same fields, same flags, same status), checked by decoding it with the
//! generated types in the tests below and by every trace test against the testkit receiver.

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;

use super::wire::{
    fixed32_field_len, fixed64_field_len, kv_len, kvs_len, len_field, nanos, put_bytes,
    put_fixed32, put_fixed64, put_kv, put_len, put_str, put_varint, str_field_len,
    varint_field_len,
};

/// `SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`.
const HAS_IS_REMOTE: u32 = 0x100;
/// `SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`.
const IS_REMOTE: u32 = 0x200;

/// Writes one `ExportTraceServiceRequest` for `spans` into `out` (cleared first): one
/// `ResourceSpans` with `resource` (an encoded `Resource` message), one `ScopeSpans` per
/// instrumentation scope in order of first appearance. `scratch` is reused between batches.
pub(super) fn encode_request(
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
pub(super) fn encode_resource<'a>(attributes: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{
        Link, Span as _, SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId,
        TraceState, Tracer as _, TracerProvider as _,
    };
    use std::time::Duration;

    use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
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
