// Prices belong to #[track_llm_usage].
#[unitel::track_metrics(name = "call_llm", cost_per_1k_prompt = 0.03)]
fn call_llm() {}

fn main() {}
