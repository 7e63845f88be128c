//! The caller's trace context from a request's `traceparent`, `tracestate` and `baggage`
//! headers, read without copying the headers in the common cases.

use super::request::RequestHeaders;
use crate::registry::Registry;
use crate::trace::propagation::RemoteContext;

/// Headers the W3C propagators read.
const PROPAGATION_HEADERS: [&str; 3] = ["traceparent", "tracestate", "baggage"];

/// The caller's trace context, when the request carries a propagation header.
pub(super) fn remote_context(
    headers: &dyn RequestHeaders,
    registry: &Registry,
) -> Option<RemoteContext> {
    use crate::trace::propagation::{extract_context_into, extract_traceparent};
    // The common cases, no header or `traceparent` alone, take one scan of the names, no copy.
    if let Some(map) = headers.as_header_map() {
        let (traceparent, others) = propagation_headers(map);
        if others {
            return Some(extract_context_into(map, registry));
        }
        return traceparent.map(|v| extract_traceparent(v.as_bytes(), registry));
    }
    let traceparent = headers.header("traceparent");
    if headers.header("tracestate").is_none() && headers.header("baggage").is_none() {
        return traceparent.map(|v| extract_traceparent(v, registry));
    }
    let mut map = http::HeaderMap::new();
    for name in PROPAGATION_HEADERS {
        if let Some(value) = headers
            .header(name)
            .and_then(|v| http::HeaderValue::from_bytes(v).ok())
        {
            map.insert(name, value);
        }
    }
    (!map.is_empty()).then(|| extract_context_into(&map, registry))
}

/// The first `traceparent` of `map`, and whether it has `tracestate` or `baggage`. A request
/// has a handful of headers: one pass comparing names (custom names compare by length first)
/// costs less than hashing three names; a long map is looked up instead.
fn propagation_headers(map: &http::HeaderMap) -> (Option<&http::HeaderValue>, bool) {
    use crate::trace::propagation::{BAGGAGE, TRACEPARENT, TRACESTATE};
    if map.keys_len() > 16 {
        return (
            map.get(TRACEPARENT),
            map.contains_key(TRACESTATE) || map.contains_key(BAGGAGE),
        );
    }
    let mut traceparent = None;
    let mut others = false;
    for (name, value) in map {
        if *name == TRACEPARENT {
            traceparent = traceparent.or(Some(value));
        } else if *name == TRACESTATE || *name == BAGGAGE {
            others = true;
        }
    }
    (traceparent, others)
}
