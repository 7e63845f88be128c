//! LLM calls: request, token and cost metrics, GenAI semantic-convention histograms, and a
//! `chat {model}` client span.
//!
//! [`LlmCall`] is for code that talks to a provider itself; `#[track_llm_usage]` does the same
//! around a function whose return value implements [`LlmUsageReport`].
//!
//! ```
//! use unitel::genai::llm::{LlmCall, LlmErrorKind, LlmUsage, ModelPrice, Price, PriceTable};
//!
//! unitel::genai::llm::set_price_table(
//!     PriceTable::new("2025-06")
//!         .model("gpt-4o", ModelPrice::new(Price::per_1m_dollars(2.5)?, Price::per_1m_dollars(10.0)?)
//!             .cached_input(Price::per_1m_dollars(1.25)?)),
//! );
//!
//! // A streaming call: time to first chunk, chunks, then usage.
//! let mut call = LlmCall::start("openai", "gpt-4o");
//! for _chunk in ["Hel", "lo"] {
//!     call.chunk();
//! }
//! let cost = call.finish(LlmUsage::new(1_000, 200).cached_input_tokens(400));
//! // (1000 - 400) x $2.50/M + 400 x $1.25/M + 200 x $10/M = $0.0015 + $0.0005 + $0.002
//! assert_eq!(cost.pico_dollars(), 4_000_000_000);
//! assert_eq!(cost.as_dollars(), 0.004);
//!
//! // A failed call is counted with a bounded status.
//! LlmCall::start("openai", "gpt-4o").fail(LlmErrorKind::RateLimited);
//!
//! let text = unitel::prometheus::render();
//! assert!(text.contains(
//!     "llm_requests_total{provider=\"openai\",model=\"gpt-4o\",status=\"rate_limited\"} 1"
//! ));
//! assert!(text.contains("unitel_price_table_info{version=\"2025-06\"} 1"));
//! # Ok::<(), unitel::genai::llm::InvalidPrice>(())
//! ```
//!
//! # Costs
//!
//! Prices are whole micro-dollars per million tokens ([`Price`]), so the cost of a call is an
//! exact integer: tokens × price gives pico-dollars (10⁻¹² $) with nothing rounded. Cached
//! input tokens are part of the input count and billed once, at the cached price:
//! `(input − cached) × input price + cached × cached price + output × output price`.
//! `llm_cost_dollars_total` is kept equal to the exact running total of each series, so many
//! small costs do not drift.
//!
//! # Cardinality
//!
//! The `model` label is the model name only when the [`PriceTable`] lists it (with a price or
//! as a listed model) or a price is given for the call; any other model is recorded as
//! `model="other"`. Span attributes keep the requested name.
//!
//! # Prompts and completions
//!
//! They are never put on spans unless a redaction hook is installed with
//! [`set_content_capture`]; what the hook returns is recorded as `gen_ai.input.messages` /
//! `gen_ai.output.messages`.

mod call;
mod capture;
mod cost;
mod kind;
mod ledger;
mod metrics;
mod price;
mod settings;
mod table;
mod usage;

pub use call::{LlmCall, LlmCallBuilder};
pub use capture::{
    ContentKind, capture_content, disable_content_capture, set_content_capture,
    set_content_capture_of,
};
pub use cost::Cost;
pub use kind::{GenAiOperation, LlmErrorKind};
pub use metrics::LlmMetrics;
pub use price::{InvalidPrice, ModelPrice, Price};
pub(crate) use settings::install_price_table;
pub use settings::{price_table, price_table_of, set_price_table, set_price_table_of};
#[doc(hidden)]
pub use table::{NO_PRICE_TABLE_VERSION, OTHER_MODEL, PRICES_ENV_VAR, PriceTable, PriceTableError};
pub use usage::{LlmUsage, LlmUsageReport};
