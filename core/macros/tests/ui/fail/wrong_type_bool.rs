#[unitel::track_metrics(track_calls = "yes")]
fn process() {}

#[unitel::track_metrics(track_errors = True)]
fn process_python_style() {}

fn main() {}
