//! `bench-server --framework axum|actix --mode MODE --bind ADDR`: the example routes, bare or
//! instrumented (see `unitel_bench::apps`).

use std::process::ExitCode;

fn main() -> ExitCode {
    match unitel_bench::apps::server_main(std::env::args().skip(1)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-server: {e}");
            ExitCode::FAILURE
        }
    }
}
