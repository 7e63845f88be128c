// The seed spells it `metric_name`.
#[unitel::measure_latency(metric_name = "api_latency_seconds")]
async fn api_call() {}

fn main() {}
