#[unitel::count_calls(metric = "function_calls")]
fn process() {}

fn main() {}
