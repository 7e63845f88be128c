//! Token counts of a call ([`LlmUsage`]) and what `#[track_llm_usage]` reads them from
//! ([`LlmUsageReport`]).

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
    pub const fn cached_input_tokens(mut self, cached: u64) -> Self {
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
/// use unitel::genai::llm::{LlmUsage, LlmUsageReport};
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
    note = "implement `unitel::genai::llm::LlmUsageReport` for `{Self}`, or return `unitel::genai::llm::LlmUsage`; `Result<T, E>` works when `T` implements it"
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
