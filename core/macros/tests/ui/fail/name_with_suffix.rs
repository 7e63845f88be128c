#[unitel::track_metrics(name = "jobs_total")]
fn process() {}

fn main() {}
