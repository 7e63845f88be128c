//! Generative AI: LLM calls, embedding batches, RAG queries and cache lookups.
//!
//! - [`llm`]: one call to a model provider ([`LlmCall`](llm::LlmCall)), its tokens, exact cost
//!   from a [`PriceTable`](llm::PriceTable), and a `chat {model}` client span.
//! - [`embeddings`]: one batch of embeddings ([`EmbeddingBatch`](embeddings::EmbeddingBatch)).
//! - [`rag`]: one retrieval ([`RagQuery`](rag::RagQuery)): queries, documents, latency, cache
//!   hits and misses, and a `retrieval {data_source}` span.
//! - [`cache`]: hit and miss counts of any cache ([`CacheMetrics`](cache::CacheMetrics),
//!   `#[cache_metrics]`).
//!
//! Each recorder takes the [`Telemetry`](crate::Telemetry) it records into (`of(&telemetry)`,
//! `for_telemetry(&telemetry, ..)`) and falls back to the process-wide
//! [`Telemetry::global`](crate::Telemetry::global):
//!
//! ```
//! use unitel::Telemetry;
//! use unitel::genai::cache::CacheMetrics;
//! use unitel::genai::llm::{LlmCall, LlmMetrics, LlmUsage};
//!
//! let telemetry = Telemetry::new();
//! LlmCall::builder("openai", "gpt-4o")
//!     .metrics(&LlmMetrics::of(&telemetry))
//!     .start()
//!     .finish(LlmUsage::new(10, 5));
//! CacheMetrics::for_telemetry(&telemetry, "answers").hit();
//!
//! let text = unitel::prometheus::render_registry(telemetry.registry());
//! assert!(text.contains("llm_tokens_used_total{provider=\"openai\",model=\"other\",token_type=\"input\"} 10"));
//! assert!(text.contains("rag_cache_hits_total{cache=\"answers\"} 1"));
//! ```

pub mod cache;
pub mod embeddings;
pub mod llm;
pub mod rag;
