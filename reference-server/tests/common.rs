//! Starting the real reference-server binary for tests.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    missing_debug_implementations
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Child, Stdio};

#[path = "shared/server_command.rs"]
mod server_command;
use server_command::{loadgen_command, server_command};
use std::time::{Duration, Instant};

/// A running reference server, killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the binary with `env` on a free port and waits for `/health`.
    pub async fn start(env: &[(&str, String)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = unitel_testkit::free_port();
        let mut cmd = server_command(dir.path(), port);
        cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start reference-server");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            _dir: dir,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let health = client.get(format!("{}/health", server.base)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "reference-server did not become healthy"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Runs `reference-server loadgen` against `base` for `secs` seconds.
pub fn loadgen(base: &str, secs: u32, concurrency: u32) {
    let status = loadgen_command(base, secs, concurrency)
        .status()
        .expect("run loadgen");
    assert!(status.success(), "loadgen failed");
}
