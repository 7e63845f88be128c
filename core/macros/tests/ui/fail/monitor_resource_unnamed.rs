#[unitel::monitor_resource]
fn execute_query() {}

fn main() {}
