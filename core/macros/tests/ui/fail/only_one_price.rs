use unitel::genai::llm::LlmUsage;

#[unitel::track_llm_usage(provider = "openai", model = "gpt-4", cost_per_1k_prompt = 0.03)]
fn call_llm() -> LlmUsage {
    LlmUsage::new(1, 1)
}

fn main() {}
