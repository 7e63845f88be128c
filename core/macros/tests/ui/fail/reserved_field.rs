#[unitel::trace_operation(fields(error.type = "x"))]
fn query() {}

fn main() {}
