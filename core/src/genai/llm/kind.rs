//! Bounded label values of a call: why it failed ([`LlmErrorKind`]) and what it was
//! ([`GenAiOperation`]).

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
    /// use unitel::genai::llm::LlmErrorKind;
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
