#[unitel::track_metrics(nmae = "custom_operation")]
fn process() {}

fn main() {}
