//! LLM calls: request, token and cost metrics, GenAI semantic-convention histograms, and a
//! `chat {model}` client span.
//!
//! [`LlmCall`] is for code that talks to a provider itself; `#[track_llm_usage]` does the same
//! around a function whose return value implements [`LlmUsageReport`].
//!
//! ```
//! use unitel::llm::{LlmCall, LlmErrorKind, LlmUsage, ModelPrice, Price, PriceTable};
//!
//! unitel::llm::set_price_table(
//!     PriceTable::new("2025-06")
//!         .with_model("gpt-4o", ModelPrice::new(Price::per_1m_dollars(2.5)?, Price::per_1m_dollars(10.0)?)
//!             .with_cached_input(Price::per_1m_dollars(1.25)?)),
//! );
//!
//! // A streaming call: time to first chunk, chunks, then usage.
//! let mut call = LlmCall::start("openai", "gpt-4o");
//! for _chunk in ["Hel", "lo"] {
//!     call.chunk();
//! }
//! let cost = call.finish(LlmUsage::new(1_000, 200).with_cached_input_tokens(400));
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
//! # Ok::<(), unitel::llm::InvalidPrice>(())
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::catalog;
use crate::registry::Registry;
use crate::registry::{Counter, CounterFamily, HistogramFamily};
use crate::telemetry::Telemetry;

/// Model label of models the price table does not list.
pub const OTHER_MODEL: &str = "other";
/// Environment variable naming a TOML or JSON price table file.
pub const PRICES_ENV_VAR: &str = "UNITEL_LLM_PRICES";
/// Version label of the built-in, empty price table.
pub const NO_PRICE_TABLE_VERSION: &str = "none";

const PICO_PER_DOLLAR: u128 = 1_000_000_000_000;

// --- Prices and costs --------------------------------------------------------------------------

/// A token price in whole micro-dollars per million tokens ($2.50 per 1M tokens is 2 500 000).
///
/// ```
/// use unitel::llm::Price;
///
/// assert_eq!(Price::per_1k_dollars(0.03)?, Price::per_1m_dollars(30.0)?);
/// assert_eq!(Price::per_1m_dollars(0.15)?.micro_dollars_per_million(), 150_000);
/// assert!(Price::per_1m_dollars(-1.0).is_err());
/// # Ok::<(), unitel::llm::InvalidPrice>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price {
    micro_dollars_per_million: u64,
}

/// A price that is negative, not a number, or too large.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("invalid price {dollars}: {reason}")]
pub struct InvalidPrice {
    dollars: f64,
    reason: &'static str,
}

impl InvalidPrice {
    /// Why the price was rejected.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// Prices above this (a million dollars per token) are rejected as typos.
const MAX_MICRO_PER_MILLION: f64 = 1e18;

impl Price {
    /// Free.
    pub const ZERO: Self = Self {
        micro_dollars_per_million: 0,
    };

    /// A price in micro-dollars per million tokens.
    #[must_use]
    pub const fn from_micro_dollars_per_million(micro_dollars: u64) -> Self {
        Self {
            micro_dollars_per_million: micro_dollars,
        }
    }

    /// The price in micro-dollars per million tokens.
    #[must_use]
    pub const fn micro_dollars_per_million(self) -> u64 {
        self.micro_dollars_per_million
    }

    /// From dollars per 1 000 tokens, rounded to the nearest micro-dollar per million tokens.
    ///
    /// # Errors
    /// [`InvalidPrice`] for a negative, NaN, infinite or absurdly large price.
    pub fn per_1k_dollars(dollars: f64) -> Result<Self, InvalidPrice> {
        Self::scaled(dollars, 1e9)
    }

    /// From dollars per 1 000 000 tokens, rounded to the nearest micro-dollar per million.
    ///
    /// # Errors
    /// [`InvalidPrice`] for a negative, NaN, infinite or absurdly large price.
    pub fn per_1m_dollars(dollars: f64) -> Result<Self, InvalidPrice> {
        Self::scaled(dollars, 1e6)
    }

    fn scaled(dollars: f64, factor: f64) -> Result<Self, InvalidPrice> {
        if !dollars.is_finite() || dollars < 0.0 {
            return Err(InvalidPrice {
                dollars,
                reason: "a price is a non-negative number of dollars",
            });
        }
        let micro = (dollars * factor).round();
        if micro > MAX_MICRO_PER_MILLION {
            return Err(InvalidPrice {
                dollars,
                reason: "more than a million dollars per token; check the unit (per 1k or per 1M)",
            });
        }
        // In range and non-negative: the conversion is exact for whole numbers below 2^64.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(Self {
            micro_dollars_per_million: micro as u64,
        })
    }

    /// The exact cost of `tokens` at this price.
    #[must_use]
    pub const fn cost_of(self, tokens: u64) -> Cost {
        Cost {
            pico_dollars: tokens as u128 * self.micro_dollars_per_million as u128,
        }
    }
}

/// Input, output and cached-input prices of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelPrice {
    input: Price,
    output: Price,
    cached_input: Price,
}

impl ModelPrice {
    /// Input and output prices; cached input tokens cost the input price until
    /// [`with_cached_input`](Self::with_cached_input) says otherwise.
    #[must_use]
    pub const fn new(input: Price, output: Price) -> Self {
        Self {
            input,
            output,
            cached_input: input,
        }
    }

    /// The price of cached input tokens.
    #[must_use]
    pub const fn with_cached_input(mut self, cached_input: Price) -> Self {
        self.cached_input = cached_input;
        self
    }

    /// Input price.
    #[must_use]
    pub const fn input(&self) -> Price {
        self.input
    }

    /// Output price.
    #[must_use]
    pub const fn output(&self) -> Price {
        self.output
    }

    /// Cached-input price.
    #[must_use]
    pub const fn cached_input(&self) -> Price {
        self.cached_input
    }

    /// The exact cost of `usage`: `(input − cached) × input + cached × cached_input + output ×
    /// output`. Cached tokens beyond the input count are ignored (they are part of the input).
    ///
    /// ```
    /// use unitel::llm::{LlmUsage, ModelPrice, Price};
    ///
    /// let gpt4 = ModelPrice::new(Price::per_1k_dollars(0.03)?, Price::per_1k_dollars(0.06)?);
    /// let cost = gpt4.cost(&LlmUsage::new(1000, 500));
    /// assert_eq!(cost.as_dollars(), 0.06);
    /// assert_eq!(cost.pico_dollars(), 60_000_000_000);
    /// # Ok::<(), unitel::llm::InvalidPrice>(())
    /// ```
    #[must_use]
    pub const fn cost(&self, usage: &LlmUsage) -> Cost {
        let cached = usage.billable_cached_input_tokens();
        let uncached = usage.input_tokens - cached;
        Cost {
            pico_dollars: self.input.cost_of(uncached).pico_dollars
                + self.cached_input.cost_of(cached).pico_dollars
                + self.output.cost_of(usage.output_tokens).pico_dollars,
        }
    }
}

/// An exact amount of money, in pico-dollars (10⁻¹² $).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cost {
    pico_dollars: u128,
}

impl Cost {
    /// Nothing.
    pub const ZERO: Self = Self { pico_dollars: 0 };

    /// From pico-dollars.
    #[must_use]
    pub const fn from_pico_dollars(pico_dollars: u128) -> Self {
        Self { pico_dollars }
    }

    /// The exact amount in pico-dollars.
    #[must_use]
    pub const fn pico_dollars(self) -> u128 {
        self.pico_dollars
    }

    /// The amount in dollars, rounded once to the nearest `f64`.
    #[must_use]
    pub fn as_dollars(self) -> f64 {
        pico_to_dollars(self.pico_dollars)
    }
}

impl std::ops::Add for Cost {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self {
            pico_dollars: self.pico_dollars.saturating_add(rhs.pico_dollars),
        }
    }
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl std::iter::Sum for Cost {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, |a, b| a + b)
    }
}

#[allow(clippy::cast_precision_loss)]
fn pico_to_dollars(pico: u128) -> f64 {
    let whole = pico / PICO_PER_DOLLAR;
    let fraction = pico % PICO_PER_DOLLAR;
    if whole == 0 {
        // Both operands exact (below 2^53): one correctly rounded division.
        fraction as f64 / 1e12
    } else {
        whole as f64 + fraction as f64 / 1e12
    }
}

/// Token counts of one call, as providers report them.
///
/// `input_tokens` counts the whole prompt, cached tokens included (as OpenAI's
/// `prompt_tokens` does); `cached_input_tokens` says how many of them were read from the
/// provider's prompt cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LlmUsage {
    /// Prompt tokens, cached ones included.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Prompt tokens served from the provider's cache (a part of `input_tokens`).
    pub cached_input_tokens: u64,
}

impl LlmUsage {
    /// Input and output tokens, none cached.
    #[must_use]
    pub const fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Self {
            input_tokens,
            output_tokens,
            cached_input_tokens: 0,
        }
    }

    /// Sets the cached part of the input.
    #[must_use]
    pub const fn with_cached_input_tokens(mut self, cached: u64) -> Self {
        self.cached_input_tokens = cached;
        self
    }

    /// Cached tokens, never more than the input.
    #[must_use]
    pub const fn billable_cached_input_tokens(&self) -> u64 {
        if self.cached_input_tokens < self.input_tokens {
            self.cached_input_tokens
        } else {
            self.input_tokens
        }
    }
}

/// What `#[track_llm_usage]` reads from a function's return value.
///
/// ```
/// use unitel::llm::{LlmUsage, LlmUsageReport};
///
/// struct ChatResponse { model: String, prompt_tokens: u64, completion_tokens: u64 }
/// impl LlmUsageReport for ChatResponse {
///     fn llm_usage(&self) -> Option<LlmUsage> {
///         Some(LlmUsage::new(self.prompt_tokens, self.completion_tokens))
///     }
///     fn response_model(&self) -> Option<&str> {
///         Some(&self.model)
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not report LLM token usage",
    label = "`#[track_llm_usage]` reads prompt, completion and cached token counts from this return value",
    note = "implement `unitel::llm::LlmUsageReport` for `{Self}`, or return `unitel::llm::LlmUsage`; `Result<T, E>` works when `T` implements it"
)]
pub trait LlmUsageReport {
    /// Token counts, or `None` when they are unknown.
    fn llm_usage(&self) -> Option<LlmUsage>;

    /// The model that answered, when the provider says (`gen_ai.response.model`).
    fn response_model(&self) -> Option<&str> {
        None
    }
}

impl LlmUsageReport for LlmUsage {
    fn llm_usage(&self) -> Option<LlmUsage> {
        Some(*self)
    }
}

impl<T: LlmUsageReport, E> LlmUsageReport for Result<T, E> {
    fn llm_usage(&self) -> Option<LlmUsage> {
        self.as_ref().ok().and_then(LlmUsageReport::llm_usage)
    }

    fn response_model(&self) -> Option<&str> {
        self.as_ref().ok().and_then(LlmUsageReport::response_model)
    }
}

impl<T: LlmUsageReport + ?Sized> LlmUsageReport for Box<T> {
    fn llm_usage(&self) -> Option<LlmUsage> {
        (**self).llm_usage()
    }

    fn response_model(&self) -> Option<&str> {
        (**self).response_model()
    }
}

/// Why an LLM call failed: the `status` of `llm_requests_total` and the `error.type` of the
/// span and GenAI metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LlmErrorKind {
    /// The provider rate-limited the call (HTTP 429).
    RateLimited,
    /// The call timed out.
    Timeout,
    /// The provider failed (HTTP 5xx).
    ServerError,
    /// The request was rejected (HTTP 4xx other than 429).
    BadRequest,
    /// The caller gave up (the call was dropped unfinished).
    Cancelled,
    /// Anything else, including a panic.
    Other,
}

impl LlmErrorKind {
    /// The label value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::Timeout => "timeout",
            Self::ServerError => "server_error",
            Self::BadRequest => "bad_request",
            Self::Cancelled => "cancelled",
            Self::Other => "error",
        }
    }

    /// The kind whose label is `label`, [`Other`](Self::Other) for anything else. This is how
    /// `#[track_llm_usage]` reads an error's [`ErrorKind`](crate::instrument::ErrorKind).
    #[must_use]
    pub fn from_label(label: &str) -> Self {
        match label {
            "rate_limited" => Self::RateLimited,
            "timeout" => Self::Timeout,
            "server_error" => Self::ServerError,
            "bad_request" => Self::BadRequest,
            "cancelled" => Self::Cancelled,
            _ => Self::Other,
        }
    }

    /// The kind of an HTTP error status.
    ///
    /// ```
    /// use unitel::llm::LlmErrorKind;
    /// assert_eq!(LlmErrorKind::from_http_status(429), LlmErrorKind::RateLimited);
    /// assert_eq!(LlmErrorKind::from_http_status(503), LlmErrorKind::ServerError);
    /// ```
    #[must_use]
    pub const fn from_http_status(status: u16) -> Self {
        match status {
            429 => Self::RateLimited,
            408 | 504 => Self::Timeout,
            500..=599 => Self::ServerError,
            400..=499 => Self::BadRequest,
            _ => Self::Other,
        }
    }
}

impl crate::instrument::ErrorKind for LlmErrorKind {
    fn error_kind(&self) -> &'static str {
        self.as_str()
    }
}

/// `gen_ai.operation.name` of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum GenAiOperation {
    /// Chat completion.
    #[default]
    Chat,
    /// Legacy text completion.
    TextCompletion,
    /// Multimodal content generation.
    GenerateContent,
    /// Embeddings.
    Embeddings,
}

impl GenAiOperation {
    /// The attribute value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::TextCompletion => "text_completion",
            Self::GenerateContent => "generate_content",
            Self::Embeddings => "embeddings",
        }
    }
}

// --- Price table -------------------------------------------------------------------------------

/// Per-model prices and the models kept as label values, with a version.
///
/// Files (`UNITEL_LLM_PRICES`) are TOML or JSON; prices are dollars per `per` tokens
/// (`"1m"`, the default, or `"1k"`):
///
/// ```
/// use unitel::llm::PriceTable;
///
/// let table = PriceTable::from_toml_str(r#"
///     version = "2025-06-01"
///     per = "1m"
///     listed_models = ["my-finetune"]   # kept as a label, no price
///
///     [models."gpt-4o"]
///     input = 2.50
///     output = 10.00
///     cached_input = 1.25
/// "#)?;
/// assert_eq!(table.version(), "2025-06-01");
/// assert_eq!(table.model_label("gpt-4o"), "gpt-4o");
/// assert_eq!(table.model_label("my-finetune"), "my-finetune");
/// assert_eq!(table.model_label("gpt-9-preview"), "other");
///
/// let same = PriceTable::from_json_str(r#"{"version": "2025-06-01", "per": "1k",
///     "models": {"gpt-4o": {"input": 0.0025, "output": 0.01, "cached_input": 0.00125}}}"#)?;
/// assert_eq!(same.price("gpt-4o"), table.price("gpt-4o"));
/// # Ok::<(), unitel::llm::PriceTableError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    version: String,
    prices: HashMap<String, ModelPrice>,
    listed: HashSet<String>,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::new(NO_PRICE_TABLE_VERSION)
    }
}

/// Why a price table could not be loaded. Names the file (or `UNITEL_LLM_PRICES`), the model and
/// the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PriceTableError {
    /// The file could not be read.
    #[error("cannot read the LLM price table {path} ({PRICES_ENV_VAR}): {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is neither `.toml` nor `.json`.
    #[error(
        "cannot tell the format of the LLM price table {path} ({PRICES_ENV_VAR}): name it *.toml or *.json"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The text is not a valid table.
    #[error("invalid LLM price table {origin}: {reason}")]
    Parse {
        /// The file, or `<string>`.
        origin: String,
        /// What the parser said.
        reason: String,
    },
    /// A price is invalid.
    #[error("invalid LLM price table {origin}: model `{model}`, field `{field}`: {source}")]
    Price {
        /// The file, or `<string>`.
        origin: String,
        /// The model.
        model: String,
        /// `input`, `output` or `cached_input`.
        field: &'static str,
        /// Why.
        source: InvalidPrice,
    },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    version: String,
    #[serde(default)]
    per: Option<String>,
    #[serde(default)]
    listed_models: Vec<String>,
    #[serde(default)]
    models: BTreeMap<String, PriceFileModel>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFileModel {
    input: f64,
    output: f64,
    #[serde(default)]
    cached_input: Option<f64>,
}

impl PriceTable {
    /// An empty table.
    #[must_use]
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            prices: HashMap::new(),
            listed: HashSet::new(),
        }
    }

    /// Adds (or replaces) a model's prices; the model is listed.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>, price: ModelPrice) -> Self {
        let model = model.into();
        self.listed.insert(model.clone());
        self.prices.insert(model, price);
        self
    }

    /// Lists a model without a price: it keeps its name as a label value.
    #[must_use]
    pub fn with_listed_model(mut self, model: impl Into<String>) -> Self {
        self.listed.insert(model.into());
        self
    }

    /// The table's version (the `version` label of `unitel_price_table_info`).
    #[must_use]
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The prices of `model`, if the table has them.
    #[must_use]
    pub fn price(&self, model: &str) -> Option<&ModelPrice> {
        self.prices.get(model)
    }

    /// Whether `model` keeps its name as a label value.
    #[must_use]
    pub fn is_listed(&self, model: &str) -> bool {
        self.listed.contains(model)
    }

    /// `model` if listed, else [`OTHER_MODEL`].
    #[must_use]
    pub fn model_label<'a>(&self, model: &'a str) -> &'a str {
        if self.is_listed(model) {
            model
        } else {
            OTHER_MODEL
        }
    }

    /// Parses a TOML table.
    ///
    /// # Errors
    /// [`PriceTableError`] naming the line, model or field that is wrong.
    pub fn from_toml_str(text: &str) -> Result<Self, PriceTableError> {
        Self::parse_toml(text, "<string>")
    }

    /// Parses a JSON table.
    ///
    /// # Errors
    /// [`PriceTableError`] naming the model or field that is wrong.
    pub fn from_json_str(text: &str) -> Result<Self, PriceTableError> {
        Self::parse_json(text, "<string>")
    }

    fn parse_toml(text: &str, origin: &str) -> Result<Self, PriceTableError> {
        let file: PriceFile = toml::from_str(text).map_err(|e| PriceTableError::Parse {
            origin: origin.to_owned(),
            reason: e.to_string().trim_end().to_owned(),
        })?;
        Self::from_file(file, origin)
    }

    fn parse_json(text: &str, origin: &str) -> Result<Self, PriceTableError> {
        let file: PriceFile = serde_json::from_str(text).map_err(|e| PriceTableError::Parse {
            origin: origin.to_owned(),
            reason: e.to_string(),
        })?;
        Self::from_file(file, origin)
    }

    /// Reads a `.toml` or `.json` file.
    ///
    /// # Errors
    /// [`PriceTableError`] naming the file and what is wrong in it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PriceTableError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PriceTableError::Read {
            path: path.to_owned(),
            source,
        })?;
        let origin = path.display().to_string();
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("toml") => Self::parse_toml(&text, &origin),
            Some(e) if e.eq_ignore_ascii_case("json") => Self::parse_json(&text, &origin),
            _ => Err(PriceTableError::UnknownFormat {
                path: path.to_owned(),
            }),
        }
    }

    fn from_file(file: PriceFile, origin: &str) -> Result<Self, PriceTableError> {
        let parse_error = |reason: String| PriceTableError::Parse {
            origin: origin.to_owned(),
            reason,
        };
        if file.version.trim().is_empty() {
            return Err(parse_error(
                "`version` is empty: give the table a version such as \"2025-06-01\"".into(),
            ));
        }
        let per_1k = match file.per.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("1m") => false,
            Some("1k") => true,
            Some(other) => {
                return Err(parse_error(format!(
                    "`per = \"{other}\"`: expected \"1k\" or \"1m\" (dollars per 1 000 or per 1 000 000 tokens)"
                )));
            }
        };
        let price = |model: &str, field: &'static str, dollars: f64| {
            let parsed = if per_1k {
                Price::per_1k_dollars(dollars)
            } else {
                Price::per_1m_dollars(dollars)
            };
            parsed.map_err(|source| PriceTableError::Price {
                origin: origin.to_owned(),
                model: model.to_owned(),
                field,
                source,
            })
        };
        let mut table = Self::new(file.version);
        for model in file.listed_models {
            table = table.with_listed_model(model);
        }
        for (model, entry) in file.models {
            let mut p = ModelPrice::new(
                price(&model, "input", entry.input)?,
                price(&model, "output", entry.output)?,
            );
            if let Some(cached) = entry.cached_input {
                p = p.with_cached_input(price(&model, "cached_input", cached)?);
            }
            table = table.with_model(model, p);
        }
        Ok(table)
    }

    /// The table named by `UNITEL_LLM_PRICES`, or `None` when the variable is unset.
    ///
    /// # Errors
    /// [`PriceTableError`] when the file cannot be read or parsed.
    pub fn from_env() -> Result<Option<Self>, PriceTableError> {
        match std::env::var_os(PRICES_ENV_VAR) {
            Some(path) if !path.is_empty() => Self::load(PathBuf::from(path)).map(Some),
            _ => Ok(None),
        }
    }
}

/// The price table and content-capture hook of one [`Telemetry`], kept in its extensions.
#[derive(Default)]
struct LlmSettings {
    table: RwLock<Option<Arc<PriceTable>>>,
    capture: RwLock<Option<Arc<ContentHook>>>,
}

fn settings(telemetry: &Telemetry) -> Arc<LlmSettings> {
    telemetry.extensions().get_or_default::<LlmSettings>()
}

/// The process-wide price table: the one [`set_price_table`] (or `init`, from
/// `UNITEL_LLM_PRICES`) installed, else an empty table with version `none`.
#[must_use]
pub fn price_table() -> Arc<PriceTable> {
    price_table_of(Telemetry::global())
}

/// The price table of `telemetry` ([`price_table`] for the process-wide one).
#[must_use]
pub fn price_table_of(telemetry: &Telemetry) -> Arc<PriceTable> {
    let settings = settings(telemetry);
    if let Some(t) = settings
        .table
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
    {
        return Arc::clone(t);
    }
    let mut slot = settings
        .table
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(t) = slot.as_ref() {
        return Arc::clone(t);
    }
    let table = Arc::new(PriceTable::default());
    publish_version(telemetry.registry(), None, table.version());
    *slot = Some(Arc::clone(&table));
    table
}

/// Installs the process-wide price table; `unitel_price_table_info{version}` is 1 for it (and 0
/// for the table it replaces).
pub fn set_price_table(table: PriceTable) {
    set_price_table_of(Telemetry::global(), table);
}

/// Installs `telemetry`'s price table ([`set_price_table`] for the process-wide one).
pub fn set_price_table_of(telemetry: &Telemetry, table: PriceTable) {
    let table = Arc::new(table);
    let settings = settings(telemetry);
    let mut slot = settings
        .table
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let old = slot.as_ref().map(|t| t.version().to_owned());
    publish_version(telemetry.registry(), old.as_deref(), table.version());
    *slot = Some(table);
}

fn publish_version(registry: &Registry, old: Option<&str>, new: &str) {
    let info = registry.gauge(&catalog::PRICE_TABLE_INFO);
    if let Some(old) = old.filter(|o| *o != new) {
        info.with_labels(&[old]).set(0.0);
    }
    info.with_labels(&[new]).set(1.0);
}

/// Installs the table of the file `path` (`None`: the built-in empty table) in `telemetry` and
/// publishes its version. Called by [`init`](crate::init()).
pub(crate) fn install_price_table(
    telemetry: &Telemetry,
    path: Option<&Path>,
) -> Result<(), PriceTableError> {
    match path {
        Some(p) => set_price_table_of(telemetry, PriceTable::load(p)?),
        None => {
            let _ = price_table_of(telemetry);
        }
    }
    Ok(())
}

// --- Prompt and completion capture -------------------------------------------------------------

/// Which text a redaction hook is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentKind {
    /// The prompt (`gen_ai.input.messages`).
    Prompt,
    /// The completion (`gen_ai.output.messages`).
    Completion,
}

impl ContentKind {
    const fn attribute(self) -> &'static str {
        match self {
            Self::Prompt => "gen_ai.input.messages",
            Self::Completion => "gen_ai.output.messages",
        }
    }
}

type ContentHook = dyn Fn(ContentKind, &str) -> Option<String> + Send + Sync;

/// Turns on prompt and completion capture through `redact`: it gets each text and returns what
/// may be recorded on the span (`None` records nothing). Off by default.
///
/// ```
/// use unitel::llm::{ContentKind, set_content_capture};
///
/// set_content_capture(|kind, text| match kind {
///     ContentKind::Prompt => Some(text.replace(char::is_numeric, "#")),
///     ContentKind::Completion => None,
/// });
/// # unitel::llm::disable_content_capture();
/// ```
pub fn set_content_capture<F>(redact: F)
where
    F: Fn(ContentKind, &str) -> Option<String> + Send + Sync + 'static,
{
    set_content_capture_of(Telemetry::global(), redact);
}

/// [`set_content_capture`] for `telemetry`.
pub fn set_content_capture_of<F>(telemetry: &Telemetry, redact: F)
where
    F: Fn(ContentKind, &str) -> Option<String> + Send + Sync + 'static,
{
    *settings(telemetry)
        .capture
        .write()
        .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(redact));
}

/// Turns prompt and completion capture off again.
pub fn disable_content_capture() {
    *settings(Telemetry::global())
        .capture
        .write()
        .unwrap_or_else(PoisonError::into_inner) = None;
}

/// Records `text` on `span` through `telemetry`'s redaction hook, if one is installed.
fn capture_on(telemetry: &Telemetry, span: &tracing::Span, kind: ContentKind, text: &str) {
    let hook = settings(telemetry)
        .capture
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let Some(redacted) = hook.and_then(|h| h(kind, text)) {
        crate::trace::set_attribute_on(span, kind.attribute(), redacted);
    }
}

/// Records a prompt or completion on the current span (inside `#[track_llm_usage]`, the `chat`
/// span) through the redaction hook; does nothing without one.
pub fn capture_content(kind: ContentKind, text: &str) {
    capture_on(Telemetry::global(), &tracing::Span::current(), kind, text);
}

// --- Metrics -----------------------------------------------------------------------------------

/// The GenAI metric families of one registry (LLM calls and embeddings), with the exact cost
/// totals behind `llm_cost_dollars_total`. Create one per registry.
pub struct LlmMetrics {
    telemetry: Telemetry,
    requests: CounterFamily,
    pub(crate) tokens: CounterFamily,
    duration: HistogramFamily,
    cost: CounterFamily,
    first_chunk: HistogramFamily,
    pub(crate) operation_duration: HistogramFamily,
    pub(crate) token_usage: HistogramFamily,
    pub(crate) embeddings: CounterFamily,
    pub(crate) embedding_duration: HistogramFamily,
    ledgers: Mutex<HashMap<&'static str, HashMap<Box<str>, Ledger>>>,
}

impl std::fmt::Debug for LlmMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmMetrics").finish_non_exhaustive()
    }
}

/// Most series a ledger map holds; beyond it costs are added as plain floats.
const MAX_LEDGERS: usize = 4096;

/// The exact running cost of one `llm_cost_dollars_total` series.
struct Ledger {
    exact: u128,
    /// Part of the counter this ledger did not add (other writers), in dollars.
    foreign: f64,
    /// The counter value after this ledger's last update.
    last_seen: f64,
}

impl LlmMetrics {
    /// The families of `registry`.
    ///
    /// ```
    /// use unitel::llm::{LlmCall, LlmMetrics, LlmUsage};
    ///
    /// let registry = unitel::Registry::new();
    /// let metrics = LlmMetrics::new(&registry);
    /// LlmCall::builder("openai", "gpt-4o").metrics(&metrics).start().finish(LlmUsage::new(3, 4));
    /// assert!(unitel::prometheus::render_registry(&registry).contains("llm_requests_total{provider=\"openai\",model=\"other\",status=\"success\"} 1"));
    /// ```
    #[must_use]
    pub fn new(registry: &Registry) -> Arc<Self> {
        Arc::new(Self::build(Telemetry::global(), registry))
    }

    fn build(telemetry: &Telemetry, registry: &Registry) -> Self {
        Self {
            telemetry: telemetry.clone(),
            requests: registry.counter(&catalog::LLM_REQUESTS_TOTAL),
            tokens: registry.counter(&catalog::LLM_TOKENS_USED_TOTAL),
            duration: registry.histogram(&catalog::LLM_REQUEST_DURATION_SECONDS),
            cost: registry.counter(&catalog::LLM_COST_DOLLARS_TOTAL),
            first_chunk: registry.histogram(&catalog::LLM_TIME_TO_FIRST_CHUNK_SECONDS),
            operation_duration: registry.histogram(&catalog::GEN_AI_CLIENT_OPERATION_DURATION),
            token_usage: registry.histogram(&catalog::GEN_AI_CLIENT_TOKEN_USAGE),
            embeddings: registry.counter(&catalog::EMBEDDINGS_GENERATED_TOTAL),
            embedding_duration: registry.histogram(&catalog::EMBEDDING_GENERATION_DURATION_SECONDS),
            ledgers: Mutex::new(HashMap::new()),
        }
    }

    /// The families of the process-wide [`Telemetry::global`] (one set per telemetry).
    #[must_use]
    pub fn global() -> Arc<Self> {
        Self::of(Telemetry::global())
    }

    /// The families of `telemetry`, whose price table and capture hook the calls recorded
    /// through them use (one set per telemetry).
    #[must_use]
    pub fn of(telemetry: &Telemetry) -> Arc<Self> {
        telemetry
            .extensions()
            .get_or_insert_with(|| Self::build(telemetry, telemetry.registry()))
    }

    /// The telemetry whose settings (price table, capture hook) calls through these use.
    pub(crate) fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Adds `cost` to `llm_cost_dollars_total{provider, model}`, keeping the counter equal to
    /// the exact running total (rounded once) rather than a sum of rounded costs.
    pub(crate) fn add_cost(&self, provider: &'static str, model: &str, cost: Cost) {
        let counter = self.cost.with_labels(&[provider, model]);
        if cost == Cost::ZERO {
            // A priced call that cost nothing still shows its series (at 0): a dashboard's
            // spend panel then reads "0 USD/h" instead of "no data".
            counter.add(0);
            return;
        }
        let mut ledgers = self.ledgers.lock().unwrap_or_else(PoisonError::into_inner);
        let total: usize = ledgers.values().map(HashMap::len).sum();
        let by_model = ledgers.entry(provider).or_default();
        if !by_model.contains_key(model) {
            if total >= MAX_LEDGERS {
                drop(ledgers);
                counter.add_f64(cost.as_dollars());
                return;
            }
            let now = counter.value();
            by_model.insert(
                model.into(),
                Ledger {
                    exact: 0,
                    foreign: now,
                    last_seen: now,
                },
            );
        }
        if let Some(ledger) = by_model.get_mut(model) {
            ledger.record(&counter, cost);
        }
    }
}

impl Ledger {
    fn record(&mut self, counter: &Counter, cost: Cost) {
        let current = counter.value();
        if current != self.last_seen {
            self.foreign += current - self.last_seen;
        }
        self.exact = self.exact.saturating_add(cost.pico_dollars);
        let desired = self.foreign + pico_to_dollars(self.exact);
        let delta = desired - current;
        if delta > 0.0 {
            counter.add_f64(delta);
            self.last_seen = current + delta;
        } else {
            self.last_seen = current;
        }
    }
}

// --- LlmCall -----------------------------------------------------------------------------------

/// Settings of an [`LlmCall`] before it starts.
#[derive(Debug, Clone)]
#[must_use]
pub struct LlmCallBuilder {
    provider: &'static str,
    model: String,
    operation: GenAiOperation,
    price: Option<ModelPrice>,
    listed: bool,
    table: Option<Arc<PriceTable>>,
    metrics: Option<Arc<LlmMetrics>>,
    max_tokens: Option<u64>,
    temperature: Option<f64>,
}

impl LlmCallBuilder {
    /// `gen_ai.operation.name` (default [`GenAiOperation::Chat`]).
    pub fn operation(mut self, operation: GenAiOperation) -> Self {
        self.operation = operation;
        self
    }

    /// Prices for this call instead of the table's; the model keeps its name as a label.
    pub fn price(mut self, price: ModelPrice) -> Self {
        self.price = Some(price);
        self.listed = true;
        self
    }

    /// Keeps the model's name as a label although the table does not list it. Only for names
    /// from a fixed set (e.g. a literal in code).
    pub fn listed_model(mut self) -> Self {
        self.listed = true;
        self
    }

    /// Uses `table` instead of the process-wide [`price_table`].
    pub fn price_table(mut self, table: Arc<PriceTable>) -> Self {
        self.table = Some(table);
        self
    }

    /// Records into `metrics` instead of [`LlmMetrics::global`].
    pub fn metrics(mut self, metrics: &Arc<LlmMetrics>) -> Self {
        self.metrics = Some(Arc::clone(metrics));
        self
    }

    /// `gen_ai.request.max_tokens`.
    pub fn max_tokens(mut self, max_tokens: u64) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// `gen_ai.request.temperature`.
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Starts the call: the clock and the span.
    pub fn start(self) -> LlmCall {
        let metrics = self.metrics.unwrap_or_else(LlmMetrics::global);
        let table = self
            .table
            .unwrap_or_else(|| price_table_of(metrics.telemetry()));
        let price = self.price.or_else(|| table.price(&self.model).copied());
        let model_label: Box<str> = if self.listed || table.is_listed(&self.model) {
            self.model.as_str().into()
        } else {
            OTHER_MODEL.into()
        };
        let operation = self.operation.as_str();
        let span = tracing::info_span!(
            "gen_ai.client",
            otel.name = %format_args!("{operation} {}", self.model),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            gen_ai.operation.name = operation,
            gen_ai.provider.name = self.provider,
            gen_ai.request.model = %self.model,
            gen_ai.request.max_tokens = self.max_tokens,
            gen_ai.request.temperature = self.temperature,
            gen_ai.response.model = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            gen_ai.usage.cache_read.input_tokens = tracing::field::Empty,
            error.type = tracing::field::Empty,
            unitel.llm.chunks = tracing::field::Empty,
            unitel.llm.cost_usd = tracing::field::Empty,
        );
        LlmCall {
            state: Some(CallState {
                provider: self.provider,
                model_label,
                operation: self.operation,
                price,
                metrics,
                start: Instant::now(),
                first_chunk: None,
                chunks: 0,
            }),
            span,
        }
    }
}

#[derive(Debug)]
struct CallState {
    provider: &'static str,
    model_label: Box<str>,
    operation: GenAiOperation,
    price: Option<ModelPrice>,
    metrics: Arc<LlmMetrics>,
    start: Instant,
    first_chunk: Option<Duration>,
    chunks: u64,
}

/// One LLM call in progress: finish it with [`finish`](Self::finish) or
/// [`fail`](Self::fail); dropping it unfinished records a cancelled call (or an error when
/// unwinding from a panic).
///
/// Run the provider request inside [`span`](Self::span) so its HTTP span is a child:
///
/// ```
/// use tracing::Instrument as _;
/// use unitel::llm::{LlmCall, LlmErrorKind, LlmUsage};
///
/// # async fn send() -> Result<(u64, u64), u16> { Ok((12, 30)) }
/// # async fn demo() {
/// let call = LlmCall::builder("anthropic", "claude-sonnet-4").max_tokens(512).start();
/// match send().instrument(call.span().clone()).await {
///     Ok((input, output)) => {
///         call.finish(LlmUsage::new(input, output));
///     }
///     Err(status) => call.fail(LlmErrorKind::from_http_status(status)),
/// }
/// # }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo());
/// ```
#[derive(Debug)]
#[must_use = "an LlmCall dropped unfinished is recorded as cancelled"]
pub struct LlmCall {
    state: Option<CallState>,
    span: tracing::Span,
}

impl LlmCall {
    /// Starts a call with the process-wide price table and metrics. `provider` is
    /// `gen_ai.provider.name` (`openai`, `anthropic`, `aws.bedrock`, ...).
    pub fn start(provider: &'static str, model: &str) -> Self {
        Self::builder(provider, model).start()
    }

    /// A call to configure before it starts.
    pub fn builder(provider: &'static str, model: &str) -> LlmCallBuilder {
        LlmCallBuilder {
            provider,
            model: model.to_owned(),
            operation: GenAiOperation::Chat,
            price: None,
            listed: false,
            table: None,
            metrics: None,
            max_tokens: None,
            temperature: None,
        }
    }

    /// The call's client span (`chat {model}`).
    #[must_use]
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The model label the metrics use (the model, or `other`).
    #[must_use]
    pub fn model_label(&self) -> &str {
        self.state.as_ref().map_or(OTHER_MODEL, |s| &s.model_label)
    }

    /// A streamed chunk arrived; the first one observes `llm_time_to_first_chunk_seconds`.
    pub fn chunk(&mut self) {
        self.first_token();
        if let Some(s) = self.state.as_mut() {
            s.chunks += 1;
        }
    }

    /// The first token arrived (a no-op after the first chunk or first token).
    pub fn first_token(&mut self) {
        if let Some(s) = self.state.as_mut()
            && s.first_chunk.is_none()
        {
            let elapsed = s.start.elapsed();
            s.first_chunk = Some(elapsed);
            s.metrics
                .first_chunk
                .with_labels(&[s.provider, &s.model_label])
                .observe_duration(elapsed);
        }
    }

    /// The telemetry whose capture hook this call uses.
    fn telemetry(&self) -> &Telemetry {
        self.state
            .as_ref()
            .map_or_else(|| Telemetry::global(), |s| s.metrics.telemetry())
    }

    /// Records the prompt on the span through the redaction hook (see [`set_content_capture`]).
    pub fn record_prompt(&self, text: &str) {
        capture_on(self.telemetry(), &self.span, ContentKind::Prompt, text);
    }

    /// Records the completion on the span through the redaction hook.
    pub fn record_completion(&self, text: &str) {
        capture_on(self.telemetry(), &self.span, ContentKind::Completion, text);
    }

    /// `gen_ai.response.model`: the model that answered.
    pub fn set_response_model(&self, model: &str) {
        self.span.record("gen_ai.response.model", model);
    }

    /// The call succeeded with `usage`; returns its cost (zero when the model has no price).
    pub fn finish(mut self, usage: LlmUsage) -> Cost {
        match self.state.take() {
            Some(state) => self.succeed(&state, Some(usage)),
            None => Cost::ZERO,
        }
    }

    /// The call succeeded but the provider reported no token counts.
    pub fn finish_without_usage(mut self) {
        if let Some(state) = self.state.take() {
            self.succeed(&state, None);
        }
    }

    /// The call failed.
    pub fn fail(mut self, kind: LlmErrorKind) {
        if let Some(state) = self.state.take() {
            self.failed(&state, kind);
        }
    }

    fn common(&self, s: &CallState, status: &'static str, error_type: &'static str) {
        let elapsed = s.start.elapsed();
        let (p, m, op) = (s.provider, &*s.model_label, s.operation.as_str());
        s.metrics.requests.with_labels(&[p, m, status]).inc();
        s.metrics
            .duration
            .with_labels(&[p, m])
            .observe_duration(elapsed);
        s.metrics
            .operation_duration
            .with_labels(&[op, p, m, error_type])
            .observe_duration(elapsed);
        if s.chunks > 0 {
            self.span.record("unitel.llm.chunks", s.chunks);
        }
    }

    fn succeed(&self, s: &CallState, usage: Option<LlmUsage>) -> Cost {
        self.common(s, "success", "");
        let Some(usage) = usage else {
            return Cost::ZERO;
        };
        let (p, m, op) = (s.provider, &*s.model_label, s.operation.as_str());
        let cached = usage.billable_cached_input_tokens();
        let tokens = &s.metrics.tokens;
        tokens.with_labels(&[p, m, "input"]).add(usage.input_tokens);
        tokens
            .with_labels(&[p, m, "output"])
            .add(usage.output_tokens);
        if cached > 0 {
            tokens.with_labels(&[p, m, "cache_read"]).add(cached);
        }
        #[allow(clippy::cast_precision_loss)]
        {
            let usage_hist = &s.metrics.token_usage;
            usage_hist
                .with_labels(&[op, p, m, "input"])
                .observe(usage.input_tokens as f64);
            usage_hist
                .with_labels(&[op, p, m, "output"])
                .observe(usage.output_tokens as f64);
        }
        self.span
            .record("gen_ai.usage.input_tokens", usage.input_tokens);
        self.span
            .record("gen_ai.usage.output_tokens", usage.output_tokens);
        if cached > 0 {
            self.span
                .record("gen_ai.usage.cache_read.input_tokens", cached);
        }
        let cost = s.price.map_or(Cost::ZERO, |price| price.cost(&usage));
        if let Some(price_known) = s.price.map(|_| cost) {
            s.metrics.add_cost(p, m, price_known);
            self.span.record("unitel.llm.cost_usd", cost.as_dollars());
        }
        cost
    }

    fn failed(&self, s: &CallState, kind: LlmErrorKind) {
        self.common(s, kind.as_str(), kind.as_str());
        crate::instrument::__private::mark_span_failed(&self.span, kind.as_str(), None);
    }
}

impl Drop for LlmCall {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            let kind = if std::thread::panicking() {
                LlmErrorKind::Other
            } else {
                LlmErrorKind::Cancelled
            };
            self.failed(&state, kind);
        }
    }
}

// --- Macro support -----------------------------------------------------------------------------

/// What `#[track_llm_usage]` knows at compile time.
#[doc(hidden)]
#[derive(Debug)]
pub struct LlmSiteDef {
    pub provider: &'static str,
    pub operation: GenAiOperation,
    pub price: Option<ModelPrice>,
    pub model_is_literal: bool,
}

/// One `#[track_llm_usage]` function.
#[doc(hidden)]
#[derive(Debug)]
pub struct LlmSite {
    def: LlmSiteDef,
}

impl LlmSite {
    #[must_use]
    pub const fn new(def: LlmSiteDef) -> Self {
        Self { def }
    }

    pub fn start(&self, model: &str) -> LlmCall {
        let mut b = LlmCall::builder(self.def.provider, model).operation(self.def.operation);
        if let Some(p) = self.def.price {
            b = b.price(p);
        }
        if self.def.model_is_literal {
            b = b.listed_model();
        }
        b.start()
    }

    pub fn finish<R: LlmUsageReport + ?Sized>(
        &self,
        call: LlmCall,
        value: &R,
        outcome: crate::instrument::__private::Outcome,
    ) {
        match outcome.metric_error_type() {
            Some(kind) => call.fail(LlmErrorKind::from_label(kind)),
            None => {
                if let Some(model) = value.response_model() {
                    call.set_response_model(model);
                }
                match value.llm_usage() {
                    Some(usage) => {
                        let _ = call.finish(usage);
                    }
                    None => call.finish_without_usage(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_errors_name_the_model_and_field() {
        let err = PriceTable::from_toml_str(
            "version = \"v1\"\n[models.\"gpt-4\"]\ninput = -1\noutput = 1\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("gpt-4") && text.contains("input"), "{text}");
        let err = PriceTable::from_toml_str("version = \"v1\"\nper = \"1g\"\n").unwrap_err();
        assert!(err.to_string().contains("\"1k\" or \"1m\""), "{err}");
        let err = PriceTable::from_toml_str(
            "version = \"v1\"\n[models.x]\ninput = 1\noutput = 1\ncached = 1\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("cached"), "{err}");
        let err = PriceTable::from_json_str("{\"version\": \"\"}").unwrap_err();
        assert!(err.to_string().contains("version"), "{err}");
    }

    #[test]
    fn ledger_tracks_the_exact_total() {
        let registry = Registry::new();
        let metrics = LlmMetrics::new(&registry);
        for _ in 0..100_000 {
            metrics.add_cost("openai", "m", Cost::from_pico_dollars(15_000_000));
        }
        let value = registry
            .counter(&catalog::LLM_COST_DOLLARS_TOTAL)
            .with_labels(&["openai", "m"])
            .value();
        assert_eq!(value, 1.5);
    }
}
