#[unitel::measure_latency(buckets = [0.1, 0.05, 1.0])]
fn process() {}

fn main() {}
