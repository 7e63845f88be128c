// The return value must report token usage.
#[unitel::track_llm_usage(provider = "openai", model = "gpt-4")]
async fn call_llm(prompt: &str) -> String {
    prompt.to_owned()
}

fn main() {}
