//! Head sampling of server requests, decided before their span exists.
//!
//! An unsampled request costs no span at all: the HTTP recorder asks [`decide`] first and
//! creates the server span only for a sampled request. For an unsampled request whose trace
//! may still be sampled further down (a ratio between 0 and 1, or a remote parent), the
//! recorder keeps a non-sampled OpenTelemetry context and makes it current while the handler
//! runs, so spans the handler opens (database, LLM, outgoing HTTP) follow the decision and a
//! downstream service receives `traceparent` with flags `00`.
//!
//! A sampled request's span is started under [`with_decision`], which [`UnitelSampler`] (the
//! SDK sampler `init` installs) returns as is, so the ratio is applied once, not twice.
//!
//! Without `unitel::init` (no policy installed) nothing is decided here: the span is created
//! and whatever subscriber is installed decides.

use std::cell::Cell;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};

use crate::config::SamplerConfig;

/// How new traces are sampled, as `init` configured the SDK.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SamplingPolicy {
    /// Probability that a root (no valid remote parent) is sampled.
    root_ratio: f64,
    /// Whether a valid remote parent's `sampled` flag decides.
    parent_based: bool,
}

thread_local! {
    /// A decision [`UnitelSampler`] returns for the span started on this thread meanwhile.
    static DECIDED: Cell<Option<bool>> = const { Cell::new(None) };
    /// xorshift64* state for sampling draws and ids of unsampled roots.
    static RNG: Cell<u64> = Cell::new(seed());
}

impl SamplingPolicy {
    /// The policy of the SDK sampler `init` installs for `config`.
    pub(crate) fn new(config: SamplerConfig) -> Self {
        match config {
            SamplerConfig::AlwaysOn => SamplingPolicy {
                root_ratio: 1.0,
                parent_based: false,
            },
            SamplerConfig::AlwaysOff => SamplingPolicy {
                root_ratio: 0.0,
                parent_based: false,
            },
            SamplerConfig::TraceIdRatio(r) => SamplingPolicy {
                root_ratio: r,
                parent_based: false,
            },
            SamplerConfig::ParentBasedRatio(r) => SamplingPolicy {
                root_ratio: r,
                parent_based: true,
            },
            SamplerConfig::ParentBasedAlwaysOff => SamplingPolicy {
                root_ratio: 0.0,
                parent_based: true,
            },
        }
    }
}

/// What to do with a request's trace.
#[derive(Debug)]
pub(crate) enum Decision {
    /// No policy installed: create the span and let the subscriber decide.
    Undecided,
    /// Create the server span; it is sampled.
    Sample,
    /// No server span. `Some`: the non-sampled context to make current while the request is
    /// served (so its children are dropped too and propagate flags `00`); `None`: nothing
    /// below can be sampled either (ratio 0, no remote parent).
    Drop(Option<Context>),
}

/// Decides the trace of a request whose caller sent `remote` (`None`: no propagation header).
/// A non-sampled remote parent the request follows is moved into the decision.
pub(crate) fn decide(policy: Option<&SamplingPolicy>, remote: &mut Option<Context>) -> Decision {
    let Some(policy) = policy else {
        return Decision::Undecided;
    };
    let parent = remote
        .as_ref()
        .filter(|cx| cx.span().span_context().is_valid());
    if let Some(parent) = parent
        && policy.parent_based
    {
        return if parent.span().span_context().is_sampled() {
            Decision::Sample
        } else {
            Decision::Drop(remote.take())
        };
    }
    if draw(policy.root_ratio) {
        return Decision::Sample;
    }
    if policy.root_ratio <= 0.0 && parent.is_none() {
        // Roots below are never sampled either: nothing to carry.
        return Decision::Drop(None);
    }
    Decision::Drop(Some(unsampled_context(parent)))
}

/// A non-sampled span context: the remote parent's trace with a new span id, or a new trace.
fn unsampled_context(parent: Option<&Context>) -> Context {
    let trace_id = parent.map_or_else(
        || TraceId::from(u128::from(next_u64()) << 64 | u128::from(next_u64() | 1)),
        |p| p.span().span_context().trace_id(),
    );
    let span_id = SpanId::from(next_u64() | 1);
    let state = parent.map_or_else(TraceState::default, |p| {
        p.span().span_context().trace_state().clone()
    });
    let base = parent.cloned().unwrap_or_default();
    base.with_remote_span_context(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::default(),
        false,
        state,
    ))
}

/// Runs `start` (which starts one span on this thread) with `sampled` as the sampling decision
/// [`UnitelSampler`] returns for it.
pub(crate) fn with_decision<T>(sampled: bool, start: impl FnOnce() -> T) -> T {
    DECIDED.with(|d| d.set(Some(sampled)));
    let started = start();
    DECIDED.with(|d| d.set(None));
    started
}

/// `true` with probability `ratio`.
fn draw(ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 || ratio.is_nan() {
        return false;
    }
    // 53 random bits as a float in [0, 1).
    #[allow(clippy::cast_precision_loss)]
    let x = (next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    x < ratio
}

fn next_u64() -> u64 {
    RNG.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

fn seed() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish() | 1
}

/// The SDK sampler `init` installs: the configured sampler, except for a span started under
/// [`with_decision`], which gets the decision already made.
#[derive(Debug, Clone)]
pub(crate) struct UnitelSampler {
    inner: Sampler,
}

impl UnitelSampler {
    pub(crate) fn new(inner: Sampler) -> Self {
        Self { inner }
    }
}

impl ShouldSample for UnitelSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[opentelemetry::trace::Link],
    ) -> SamplingResult {
        match DECIDED.with(Cell::take) {
            Some(sampled) => SamplingResult {
                decision: if sampled {
                    SamplingDecision::RecordAndSample
                } else {
                    SamplingDecision::Drop
                },
                attributes: Vec::new(),
                trace_state: parent_context
                    .map(|cx| cx.span().span_context().trace_state().clone())
                    .unwrap_or_default(),
            },
            None => self.inner.should_sample(
                parent_context,
                trace_id,
                name,
                span_kind,
                attributes,
                links,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_ratio() {
        assert!(draw(1.0));
        assert!(!draw(0.0));
        let hits = (0..100_000).filter(|_| draw(0.25)).count();
        assert!((23_000..27_000).contains(&hits), "{hits}");
    }

    #[test]
    fn unsampled_roots_get_a_valid_unsampled_context() {
        let cx = unsampled_context(None);
        let sc = cx.span().span_context().clone();
        assert!(sc.is_valid());
        assert!(!sc.is_sampled());
    }
}
