use unitel::genai::llm::LlmUsage;

#[unitel::track_llm_usage(model = "gpt-4")]
fn call_llm() -> LlmUsage {
    LlmUsage::new(1, 1)
}

fn main() {}
