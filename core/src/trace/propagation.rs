//! W3C trace context and baggage over `http::HeaderMap`.
//!
//! ```
//! use http::HeaderMap;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(
//!     "traceparent",
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
//! );
//! let remote = unitel::extract_context(&headers);
//! if unitel::OTEL_AVAILABLE {
//!     assert_eq!(remote.trace_id().as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
//! }
//!
//! // A malformed header never errors: it starts a new root trace.
//! headers.insert("traceparent", "garbage".parse().unwrap());
//! assert!(unitel::extract_context(&headers).trace_id().is_none());
//! ```

use http::{HeaderMap, HeaderName};

#[cfg(feature = "otel")]
use crate::registry::InstrumentationErrorKind;
use crate::registry::Registry;

/// `traceparent` (W3C Trace Context).
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// `tracestate` (W3C Trace Context).
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
/// `baggage` (W3C Baggage).
pub const BAGGAGE: HeaderName = HeaderName::from_static("baggage");

/// A trace context received from a caller (possibly empty).
#[derive(Debug, Clone, Default)]
pub struct RemoteContext {
    #[cfg(feature = "otel")]
    cx: opentelemetry::Context,
}

impl RemoteContext {
    /// Whether the headers carried a valid parent span.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        #[cfg(feature = "otel")]
        {
            use opentelemetry::trace::TraceContextExt as _;
            self.cx.span().span_context().is_valid()
        }
        #[cfg(not(feature = "otel"))]
        false
    }

    /// Whether the remote parent asked for its trace to be sampled (`traceparent` flags `01`).
    #[must_use]
    pub fn is_sampled(&self) -> bool {
        #[cfg(feature = "otel")]
        {
            use opentelemetry::trace::TraceContextExt as _;
            let span = self.cx.span();
            let sc = span.span_context();
            sc.is_valid() && sc.is_sampled()
        }
        #[cfg(not(feature = "otel"))]
        false
    }

    /// Trace id of the remote parent, lowercase hex.
    #[must_use]
    pub fn trace_id(&self) -> Option<String> {
        self.span_context().map(|(t, _)| t)
    }

    /// Span id of the remote parent, lowercase hex.
    #[must_use]
    pub fn span_id(&self) -> Option<String> {
        self.span_context().map(|(_, s)| s)
    }

    #[cfg(feature = "otel")]
    fn span_context(&self) -> Option<(String, String)> {
        use opentelemetry::trace::TraceContextExt as _;
        let span = self.cx.span();
        let sc = span.span_context();
        sc.is_valid()
            .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
    }

    #[cfg(not(feature = "otel"))]
    #[allow(clippy::unused_self)]
    fn span_context(&self) -> Option<(String, String)> {
        None
    }

    /// Makes the remote span (and baggage) the parent of `span`. Without a valid remote parent
    /// the span stays a root.
    pub fn set_parent_of(&self, span: &tracing::Span) {
        #[cfg(feature = "otel")]
        {
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            if self.is_valid() || self.has_baggage() {
                let _ = span.set_parent(self.cx.clone());
            }
        }
        #[cfg(not(feature = "otel"))]
        let _ = span;
    }

    #[cfg(feature = "otel")]
    fn has_baggage(&self) -> bool {
        use opentelemetry::baggage::BaggageExt as _;
        !self.cx.baggage().is_empty()
    }

    /// The OpenTelemetry context.
    #[cfg(feature = "otel")]
    #[must_use]
    pub fn as_otel_context(&self) -> &opentelemetry::Context {
        &self.cx
    }

    /// The OpenTelemetry context, by value.
    #[cfg(feature = "otel")]
    #[must_use]
    pub fn into_otel_context(self) -> opentelemetry::Context {
        self.cx
    }
}

#[cfg(feature = "otel")]
mod otel {
    use http::{HeaderMap, HeaderName, HeaderValue};
    use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
    use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

    pub(super) struct HeaderExtractor<'a>(pub(super) &'a HeaderMap);

    impl Extractor for HeaderExtractor<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            let value = self.0.get(key).and_then(|v| v.to_str().ok())?;
            // The SDK's parser accepts ids shorter than the W3C fixed width and an upper-case
            // version; such a `traceparent` must start a new trace instead.
            (key != "traceparent" || super::well_formed_traceparent(value)).then_some(value)
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(HeaderName::as_str).collect()
        }
    }

    pub(super) struct HeaderInjector<'a>(pub(super) &'a mut HeaderMap);

    impl Injector for HeaderInjector<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(key.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                self.0.insert(name, value);
            }
        }
    }

    /// W3C trace context, then baggage: what a `TextMapCompositePropagator` of the two does,
    /// without building one.
    fn extract_both(extractor: &HeaderExtractor<'_>) -> opentelemetry::Context {
        let cx = TraceContextPropagator::new()
            .extract_with_context(&opentelemetry::Context::new(), extractor);
        BaggagePropagator::new().extract_with_context(&cx, extractor)
    }

    pub(super) fn extract(headers: &HeaderMap) -> opentelemetry::Context {
        if headers.contains_key(&super::TRACESTATE) || headers.contains_key(&super::BAGGAGE) {
            return extract_both(&HeaderExtractor(headers));
        }
        // The common case, `traceparent` alone: parsed here, without the composite
        // propagator's key list and string handling (same result as the SDK's parser).
        match headers
            .get(&super::TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_traceparent)
        {
            Some(sc) => {
                use opentelemetry::trace::TraceContextExt as _;
                opentelemetry::Context::new().with_remote_span_context(sc)
            }
            None => opentelemetry::Context::new(),
        }
    }

    /// A well-formed W3C `traceparent` as a remote span context (only the `sampled` flag is
    /// kept, as the SDK's propagator does); `None` for anything else or all-zero ids.
    pub(super) fn parse_traceparent(value: &str) -> Option<opentelemetry::trace::SpanContext> {
        parse_traceparent_bytes(value.as_bytes())
    }

    /// Eight lower-case hex digits (big-endian in `word`, the first digit in the top byte) as a
    /// number, or `None` if any byte is not one of `0-9a-f`. Bytewise range checks on the whole
    /// word at once: with every byte below `0x80`, adding a constant below `0x80` to each byte
    /// cannot carry into the next one.
    #[inline(always)]
    fn hex8(word: u64) -> Option<u32> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = ONES * 0x80;
        let add = |c: u8| word.wrapping_add(ONES * u64::from(c)) & HIGH;
        // High bit set where the byte is >= '0', > '9', >= 'a', > 'f'.
        let (ge_0, gt_9) = (add(0x80 - b'0'), add(0x7f - b'9'));
        let (ge_a, gt_f) = (add(0x80 - b'a'), add(0x7f - b'f'));
        let digit = ge_0 & !gt_9;
        let letter = ge_a & !gt_f;
        if word & HIGH != 0 || (digit | letter) != HIGH {
            return None;
        }
        // '0'-'9' are 0x30-0x39, 'a'-'f' 0x61-0x66: low nibble, plus 9 for a letter.
        let mut v = (word & (ONES * 0x0f)) + (letter >> 7) * 9;
        v = (v | v >> 4) & 0x00ff_00ff_00ff_00ff;
        v = (v | v >> 8) & 0x0000_ffff_0000_ffff;
        v = (v | v >> 16) & 0x0000_0000_ffff_ffff;
        u32::try_from(v).ok()
    }

    /// `hex8` of `bytes[at..at + 8]`.
    #[inline(always)]
    fn hex8_at(bytes: &[u8], at: usize) -> Option<u64> {
        let word: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
        hex8(u64::from_be_bytes(word)).map(u64::from)
    }

    /// Two lower-case hex digits as a byte.
    #[inline]
    fn hex2(pair: &[u8]) -> Option<u8> {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        Some(digit(*pair.first()?)? << 4 | digit(*pair.get(1)?)?)
    }

    /// [`parse_traceparent`] of a header's bytes, in one pass: the shape of
    /// [`well_formed_traceparent`](super::well_formed_traceparent) (surrounding whitespace
    /// allowed) and, as `HeaderValue::to_str` demands, visible ASCII or tabs after it.
    pub(super) fn parse_traceparent_bytes(
        value: &[u8],
    ) -> Option<opentelemetry::trace::SpanContext> {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
        let visible = |b: &u8| *b == b'\t' || (32..127).contains(b);
        let start = value.iter().position(|b| !matches!(b, b' ' | b'\t'))?;
        let v = &value[start..];
        if v.len() < 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
            return None;
        }
        let (version, rest) = (&v[..2], &v[55..]);
        if version == b"ff" {
            return None;
        }
        let tail_ok = if version == b"00" {
            rest.iter().all(|b| matches!(b, b' ' | b'\t'))
        } else {
            rest.iter().all(visible)
                && (rest.first() == Some(&b'-') || rest.iter().all(|b| matches!(b, b' ' | b'\t')))
        };
        if !tail_ok {
            return None;
        }
        // Lower-case hex only.
        hex2(version)?;
        let trace_id = u128::from(hex8_at(v, 3)? << 32 | hex8_at(v, 11)?) << 64
            | u128::from(hex8_at(v, 19)? << 32 | hex8_at(v, 27)?);
        let span_id = hex8_at(v, 36)? << 32 | hex8_at(v, 44)?;
        let flags = hex2(&v[53..55])?;
        let sc = SpanContext::new(
            TraceId::from(trace_id),
            SpanId::from(span_id),
            TraceFlags::new(flags) & TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        sc.is_valid().then_some(sc)
    }

    pub(super) fn inject(cx: &opentelemetry::Context, headers: &mut HeaderMap) {
        let mut injector = HeaderInjector(headers);
        TraceContextPropagator::new().inject_context(cx, &mut injector);
        BaggagePropagator::new().inject_context(cx, &mut injector);
    }
}

/// Whether `value` has the W3C `traceparent` shape: `version-traceid-parentid-flags` with
/// 2, 32, 16 and 2 lower-case hex digits, version `ff` forbidden, and nothing after the flags
/// for version `00` (later versions may append `-` fields). All-zero ids are refused by the
/// parser itself.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
fn well_formed_traceparent(value: &str) -> bool {
    let b = value.trim().as_bytes();
    let hex = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|s| s.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
    };
    let dash = |i: usize| b.get(i) == Some(&b'-');
    let version = b.get(0..2);
    hex(0..2)
        && version != Some(b"ff".as_slice())
        && dash(2)
        && hex(3..35)
        && dash(35)
        && hex(36..52)
        && dash(52)
        && hex(53..55)
        && (b.len() == 55 || (version != Some(b"00".as_slice()) && dash(55)))
}

/// Reads `traceparent`, `tracestate` and `baggage`. A malformed `traceparent` (anything but the
/// W3C shape, e.g. a short or upper-case id) is counted in `registry` as an instrumentation
/// error (`invalid_header`) and yields an empty context: a new root trace.
/// [`unitel::extract_context`](crate::extract_context()) does the same with the process-wide
/// registry.
#[must_use]
pub fn extract_context_into(headers: &HeaderMap, registry: &Registry) -> RemoteContext {
    #[cfg(feature = "otel")]
    {
        let remote = RemoteContext {
            cx: otel::extract(headers),
        };
        if !remote.is_valid() && headers.contains_key(&TRACEPARENT) {
            registry.report_instrumentation_error(
                InstrumentationErrorKind::InvalidHeader,
                "malformed traceparent header ignored; a new trace was started",
            );
        }
        remote
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = (headers, registry);
        RemoteContext::default()
    }
}

/// [`extract_context_into`] of a request whose only propagation header is `traceparent` with this
/// value (no header map needed).
#[cfg(feature = "otel")]
pub(crate) fn extract_traceparent(value: &[u8], registry: &Registry) -> RemoteContext {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = otel::parse_traceparent_bytes(value).map_or_else(opentelemetry::Context::new, |sc| {
        opentelemetry::Context::new().with_remote_span_context(sc)
    });
    let remote = RemoteContext { cx };
    if !remote.is_valid() {
        registry.report_instrumentation_error(
            InstrumentationErrorKind::InvalidHeader,
            "malformed traceparent header ignored; a new trace was started",
        );
    }
    remote
}

/// Writes the current span's context (`traceparent`, `tracestate`, `baggage`) into `headers`.
/// Outside any traced span, the current OpenTelemetry context is written, if it has one (e.g.
/// inside an unsampled request of the HTTP layers: its context with flags `00`).
pub fn inject_context(headers: &mut HeaderMap) {
    let current = tracing::Span::current();
    #[cfg(feature = "otel")]
    if current.is_disabled() {
        use opentelemetry::trace::TraceContextExt as _;
        let cx = opentelemetry::Context::current();
        if cx.span().span_context().is_valid() {
            otel::inject(&cx, headers);
        }
        return;
    }
    inject_context_from(&current, headers);
}

/// Writes `span`'s context into `headers`. Nothing is written for a span unitel does not trace.
pub fn inject_context_from(span: &tracing::Span, headers: &mut HeaderMap) {
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let cx = span.context();
        if cx.span().span_context().is_valid() {
            otel::inject(&cx, headers);
        }
    }
    #[cfg(not(feature = "otel"))]
    let _ = (span, headers);
}

/// The `traceparent` value of the span of OpenTelemetry context `cx`, if it is valid.
#[cfg(feature = "otel")]
#[must_use]
pub fn traceparent_of(cx: &opentelemetry::Context) -> Option<String> {
    use opentelemetry::trace::{TraceContextExt as _, TraceFlags};
    let span = cx.span();
    let sc = span.span_context();
    // As the W3C propagator writes it: only the `sampled` flag.
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            (sc.trace_flags() & TraceFlags::SAMPLED).to_u8()
        )
    })
}

/// The `traceparent` value of `span`, e.g. for a response header.
#[must_use]
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let mut headers = HeaderMap::new();
    inject_context_from(span, &mut headers);
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Trace id of `span` as lowercase hex, if it is traced.
#[must_use]
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let cx = span.context();
        let span_ref = cx.span();
        let sc = span_ref.span_context();
        sc.is_valid().then(|| sc.trace_id().to_string())
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = span;
        None
    }
}

#[cfg(all(test, feature = "otel"))]
mod tests {
    use proptest::prelude::*;

    fn agrees(value: &[u8]) -> Result<(), TestCaseError> {
        let Ok(header) = http::HeaderValue::from_bytes(value) else {
            return Ok(());
        };
        let mut map = http::HeaderMap::new();
        map.insert(super::TRACEPARENT, header);
        // With `tracestate` present, `extract_context` reads `traceparent` through the SDK's
        // own propagator.
        map.insert(super::TRACESTATE, http::HeaderValue::from_static("k=v"));
        let registry = crate::Registry::new();
        let by_map = super::extract_context_into(&map, &registry);
        let direct = super::extract_traceparent(value, &registry);
        prop_assert_eq!(by_map.is_valid(), direct.is_valid());
        prop_assert_eq!(by_map.trace_id(), direct.trace_id());
        prop_assert_eq!(by_map.span_id(), direct.span_id());
        prop_assert_eq!(by_map.is_sampled(), direct.is_sampled());
        Ok(())
    }

    /// Every byte value in every kind of hex position: only `0-9a-f` is read as a digit.
    #[test]
    fn every_byte_in_a_hex_position_is_checked() {
        let valid = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        for position in [0, 1, 3, 10, 11, 18, 19, 34, 36, 43, 44, 51, 53, 54] {
            for byte in 0..=255_u8 {
                let mut value = valid.to_vec();
                value[position] = byte;
                if let Err(e) = agrees(&value) {
                    panic!("byte {byte:#04x} at {position}: {e}");
                }
                let hex = byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte);
                if !hex {
                    assert!(
                        !super::extract_traceparent(&value, &crate::Registry::new()).is_valid()
                    );
                }
            }
        }
    }

    proptest! {
        /// The recorder's header-map-free path reads `traceparent` exactly as
        /// `extract_context` does.
        #[test]
        fn extract_traceparent_agrees_with_extract_context(
            version in "[0-9a-fA-F]{2}|0|ff|00 ",
            trace in "[0-9a-f]{32}|[0-9a-fA-F]{30,33}|0{32}",
            parent in "[0-9a-f]{16}|[0-9a-fA-F]{15,17}|0{16}",
            flags in "[0-9a-fA-F]{2}|0",
            tail in "|-|-x|\t| ",
        ) {
            agrees(format!("{version}-{trace}-{parent}-{flags}{tail}").as_bytes())?;
        }

        #[test]
        fn extract_traceparent_agrees_on_any_bytes(value in proptest::collection::vec(any::<u8>(), 0..80)) {
            agrees(&value)?;
        }
    }
}
