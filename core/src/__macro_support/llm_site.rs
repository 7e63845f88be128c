//! What `#[track_llm_usage]` expands to: one static [`LlmSite`] per function. Not a public
//! API.

use super::Outcome;
use crate::genai::llm::{GenAiOperation, LlmCall, LlmErrorKind, LlmUsageReport, ModelPrice};

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

    pub fn finish<R: LlmUsageReport + ?Sized>(&self, call: LlmCall, value: &R, outcome: Outcome) {
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
