//! The commands the tests run the reference server with (included with `#[path]` by the test
//! support modules): the server (the built binary, a clean environment, its own SQLite file in
//! `dir`, the address `127.0.0.1:port`, quiet logs and short export intervals) and its load
//! generator.

use std::path::Path;
use std::process::Command;

/// `reference-server` set up as the tests run it; add `.env(..)`s and the stdio to it.
pub fn server_command(dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reference-server"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", format!("sqlite://{}/rag.db", dir.display()))
        .env("RUST_LOG", "warn")
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .env("UNITEL_SYSTEM_METRICS_INTERVAL_MS", "1000");
    cmd
}

/// `reference-server loadgen --target base --duration secs --concurrency n`.
pub fn loadgen_command(base: &str, secs: impl ToString, concurrency: u32) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reference-server"));
    cmd.args([
        "loadgen",
        "--target",
        base,
        "--duration",
        &secs.to_string(),
        "--concurrency",
        &concurrency.to_string(),
    ]);
    cmd
}
