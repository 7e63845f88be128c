#[unitel::measure_latency(metric = "api_latency_total")]
fn process() {}

fn main() {}
