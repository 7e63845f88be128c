#[unitel::count_calls]
const fn answer() -> u32 {
    42
}

fn main() {}
