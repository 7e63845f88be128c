// The seed's `label_extractor=lambda ...` becomes expressions in `labels(...)`.
#[unitel::count_calls(metric = "function_calls_total", label_extractor = user_id)]
fn process_user_request(user_id: &str) {}

fn main() {}
