const NAME: &str = "custom_operation";

#[unitel::track_metrics(name = NAME)]
fn process() {}

fn main() {}
