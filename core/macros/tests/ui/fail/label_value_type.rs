struct User {
    id: u64,
}

// A struct is not a bounded label value.
#[unitel::count_calls(metric = "function_calls_total", labels(user = user))]
fn process_user_request(user: &User) -> u64 {
    user.id
}

fn main() {}
