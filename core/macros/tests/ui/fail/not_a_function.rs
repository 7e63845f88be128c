#[unitel::track_metrics]
struct Processor;

fn main() {}
