#[unitel::track_metrics(labels(error_type = "x"))]
fn process() {}

fn main() {}
