//! Cache hit and miss counts: `rag_cache_hits_total{cache}` and `rag_cache_misses_total{cache}`.
//!
//! `#[cache_metrics(cache_name = "...")]` counts the outcome of a function returning
//! [`Lookup<T>`] or `(T, bool)`; [`CacheMetrics`] does it by hand.
//!
//! ```
//! use unitel::genai::cache::{CacheMetrics, Lookup};
//!
//! #[unitel::cache_metrics(cache_name = "embedding_cache")]
//! fn get_cached_embedding(text: &str) -> Lookup<Vec<f32>> {
//!     if text.is_empty() { Lookup::Hit(Vec::new()) } else { Lookup::Miss(vec![1.0]) }
//! }
//!
//! #[unitel::cache_metrics(cache_name = "token_cache")]
//! fn tokens(text: &str) -> (usize, bool) {
//!     (text.len(), text.len() < 3) // (result, cache_hit)
//! }
//!
//! get_cached_embedding("");
//! get_cached_embedding("hello").into_inner();
//! tokens("hi");
//!
//! let sessions = CacheMetrics::new("session_cache");
//! sessions.record(false);
//!
//! let text = unitel::prometheus::render();
//! assert!(text.contains("rag_cache_hits_total{cache=\"embedding_cache\"} 1"));
//! assert!(text.contains("rag_cache_misses_total{cache=\"embedding_cache\"} 1"));
//! assert!(text.contains("rag_cache_hits_total{cache=\"token_cache\"} 1"));
//! assert!(text.contains("rag_cache_misses_total{cache=\"session_cache\"} 1"));
//! ```

use std::sync::OnceLock;

use crate::catalog;
use crate::registry::{Counter, Registry};
use crate::telemetry::Telemetry;

/// A value found in a cache ([`Hit`](Self::Hit)) or computed because it was not
/// ([`Miss`](Self::Miss)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lookup<T> {
    /// Served from the cache.
    Hit(T),
    /// Not in the cache.
    Miss(T),
}

impl<T> Lookup<T> {
    /// `Hit(value)` when `hit`, else `Miss(value)`.
    pub fn new(value: T, hit: bool) -> Self {
        if hit {
            Self::Hit(value)
        } else {
            Self::Miss(value)
        }
    }

    /// Whether the value came from the cache.
    #[must_use]
    pub fn is_hit(&self) -> bool {
        matches!(self, Self::Hit(_))
    }

    /// The value.
    pub fn into_inner(self) -> T {
        match self {
            Self::Hit(v) | Self::Miss(v) => v,
        }
    }

    /// A reference to the value.
    pub fn value(&self) -> &T {
        match self {
            Self::Hit(v) | Self::Miss(v) => v,
        }
    }

    /// Maps the value, keeping hit or miss.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Lookup<U> {
        match self {
            Self::Hit(v) => Lookup::Hit(f(v)),
            Self::Miss(v) => Lookup::Miss(f(v)),
        }
    }
}

/// Whether a function's result was a cache hit: what `#[cache_metrics]` reads.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not say whether it was a cache hit",
    label = "`#[cache_metrics]` needs the function to return `unitel::genai::cache::Lookup<T>` or `(T, bool)`",
    note = "return `unitel::genai::cache::Lookup::Hit(value)` / `Lookup::Miss(value)`, or `(value, cache_hit)`; `Result` and `Option` of those work too"
)]
pub trait CacheOutcome {
    /// `Some(true)` for a hit, `Some(false)` for a miss, `None` when there was no lookup (an
    /// error).
    fn cache_hit(&self) -> Option<bool>;
}

impl<T> CacheOutcome for Lookup<T> {
    fn cache_hit(&self) -> Option<bool> {
        Some(self.is_hit())
    }
}

impl<T> CacheOutcome for (T, bool) {
    fn cache_hit(&self) -> Option<bool> {
        Some(self.1)
    }
}

impl<T: CacheOutcome, E> CacheOutcome for Result<T, E> {
    fn cache_hit(&self) -> Option<bool> {
        self.as_ref().ok().and_then(CacheOutcome::cache_hit)
    }
}

impl<T: CacheOutcome> CacheOutcome for Option<T> {
    fn cache_hit(&self) -> Option<bool> {
        self.as_ref().and_then(CacheOutcome::cache_hit)
    }
}

/// The hit and miss counters of one cache.
#[derive(Debug, Clone)]
pub struct CacheMetrics {
    hits: Counter,
    misses: Counter,
}

impl CacheMetrics {
    /// The counters of `cache_name` (a fixed name) in the registry of the process-wide
    /// [`Telemetry::global`].
    #[must_use]
    pub fn new(cache_name: &str) -> Self {
        Self::for_telemetry(Telemetry::global(), cache_name)
    }

    /// The counters of `cache_name` in `telemetry`'s registry.
    ///
    /// ```
    /// let telemetry = unitel::Telemetry::new();
    /// let cache = unitel::genai::cache::CacheMetrics::for_telemetry(&telemetry, "pages");
    /// cache.miss();
    /// let text = unitel::prometheus::render_registry(telemetry.registry());
    /// assert!(text.contains("rag_cache_misses_total{cache=\"pages\"} 1"));
    /// ```
    #[must_use]
    pub fn for_telemetry(telemetry: &Telemetry, cache_name: &str) -> Self {
        Self::with_registry(telemetry.registry(), cache_name)
    }

    /// The counters of `cache_name` in `registry`.
    ///
    /// ```
    /// let registry = unitel::Registry::new();
    /// let cache = unitel::genai::cache::CacheMetrics::with_registry(&registry, "pages");
    /// cache.hit();
    /// cache.record_outcome(&unitel::genai::cache::Lookup::Miss(()));
    /// let text = unitel::prometheus::render_registry(&registry);
    /// assert!(text.contains("rag_cache_hits_total{cache=\"pages\"} 1"));
    /// assert!(text.contains("rag_cache_misses_total{cache=\"pages\"} 1"));
    /// ```
    #[must_use]
    pub fn with_registry(registry: &Registry, cache_name: &str) -> Self {
        Self {
            hits: registry
                .counter(&catalog::RAG_CACHE_HITS_TOTAL)
                .with_labels(&[cache_name]),
            misses: registry
                .counter(&catalog::RAG_CACHE_MISSES_TOTAL)
                .with_labels(&[cache_name]),
        }
    }

    /// Counts a hit.
    pub fn hit(&self) {
        self.hits.inc();
    }

    /// Counts a miss.
    pub fn miss(&self) {
        self.misses.inc();
    }

    /// Counts a hit or a miss.
    pub fn record(&self, hit: bool) {
        if hit { self.hit() } else { self.miss() }
    }

    /// Counts the outcome of `value`, if it has one.
    pub fn record_outcome<O: CacheOutcome + ?Sized>(&self, value: &O) {
        if let Some(hit) = value.cache_hit() {
            self.record(hit);
        }
    }
}

/// Counts one lookup of `cache_name` in the registry of the process-wide [`Telemetry::global`].
///
/// ```
/// unitel::genai::cache::record_lookup("query_cache", true);
/// assert!(unitel::prometheus::render().contains("rag_cache_hits_total{cache=\"query_cache\"} 1"));
/// ```
pub fn record_lookup(cache_name: &str, hit: bool) {
    CacheMetrics::new(cache_name).record(hit);
}

/// One `#[cache_metrics]` function.
#[doc(hidden)]
#[derive(Debug)]
pub struct CacheSite {
    name: &'static str,
    metrics: OnceLock<CacheMetrics>,
}

impl CacheSite {
    #[must_use]
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            metrics: OnceLock::new(),
        }
    }

    pub fn record<O: CacheOutcome + ?Sized>(&self, value: &O) {
        self.metrics
            .get_or_init(|| CacheMetrics::new(self.name))
            .record_outcome(value);
    }
}
