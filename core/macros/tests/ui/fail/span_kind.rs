#[unitel::trace_operation(name = "database_query", kind = "outgoing")]
fn query() {}

fn main() {}
