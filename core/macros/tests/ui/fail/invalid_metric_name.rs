#[unitel::track_metrics(name = "custom-operation")]
fn process() {}

fn main() {}
