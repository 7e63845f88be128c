//! Token prices: [`Price`] (exact micro-dollars per million tokens) and the input, output and
//! cached-input prices of one model ([`ModelPrice`]).

use super::{Cost, LlmUsage};

/// A token price in whole micro-dollars per million tokens ($2.50 per 1M tokens is 2 500 000).
///
/// ```
/// use unitel::genai::llm::Price;
///
/// assert_eq!(Price::per_1k_dollars(0.03)?, Price::per_1m_dollars(30.0)?);
/// assert_eq!(Price::per_1m_dollars(0.15)?.micro_dollars_per_million(), 150_000);
/// assert!(Price::per_1m_dollars(-1.0).is_err());
/// # Ok::<(), unitel::genai::llm::InvalidPrice>(())
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
        Cost::from_pico_dollars(tokens as u128 * self.micro_dollars_per_million as u128)
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
    /// [`cached_input`](Self::cached_input) says otherwise.
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
    pub const fn cached_input(mut self, cached_input: Price) -> Self {
        self.cached_input = cached_input;
        self
    }

    /// Input price.
    #[must_use]
    pub const fn input_price(&self) -> Price {
        self.input
    }

    /// Output price.
    #[must_use]
    pub const fn output_price(&self) -> Price {
        self.output
    }

    /// Cached-input price.
    #[must_use]
    pub const fn cached_input_price(&self) -> Price {
        self.cached_input
    }

    /// The exact cost of `usage`: `(input − cached) × input + cached × cached_input + output ×
    /// output`. Cached tokens beyond the input count are ignored (they are part of the input).
    ///
    /// ```
    /// use unitel::genai::llm::{LlmUsage, ModelPrice, Price};
    ///
    /// let gpt4 = ModelPrice::new(Price::per_1k_dollars(0.03)?, Price::per_1k_dollars(0.06)?);
    /// let cost = gpt4.cost(&LlmUsage::new(1000, 500));
    /// assert_eq!(cost.as_dollars(), 0.06);
    /// assert_eq!(cost.pico_dollars(), 60_000_000_000);
    /// # Ok::<(), unitel::genai::llm::InvalidPrice>(())
    /// ```
    #[must_use]
    pub const fn cost(&self, usage: &LlmUsage) -> Cost {
        let cached = usage.billable_cached_input_tokens();
        let uncached = usage.input_tokens - cached;
        Cost::from_pico_dollars(
            self.input.cost_of(uncached).pico_dollars()
                + self.cached_input.cost_of(cached).pico_dollars()
                + self.output.cost_of(usage.output_tokens).pico_dollars(),
        )
    }
}
