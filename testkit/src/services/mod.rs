//! Real external services for tests: PostgreSQL, Prometheus and promtool.
//!
//! Each service is found in this order (details on each function):
//!
//! 1. **Environment**: a URL in an environment variable (`UNITEL_TEST_DATABASE_URL`,
//!    `UNITEL_TEST_PROMETHEUS_URL`, `UNITEL_TEST_JAEGER_OTLP_ENDPOINT` +
//!    `UNITEL_TEST_JAEGER_QUERY_URL`) is used as is.
//! 2. **Docker**: if a Docker engine answers a ping (checked once per process through
//!    testcontainers' own client, so `DOCKER_HOST` and `~/.testcontainers.properties` are
//!    honoured), a container is started with [`testcontainers`] and removed on `Drop`. Set
//!    `UNITEL_TEST_DOCKER=0` to skip this step.
//! 3. **Local binaries**: started in a fresh temporary directory on a free loopback port and
//!    killed (the directory removed) on `Drop`. Binary locations can be overridden with
//!    `UNITEL_TEST_PG_BIN_DIR`, `UNITEL_TEST_PROMETHEUS_BIN` and `UNITEL_TEST_PROMTOOL_BIN`;
//!    otherwise `PATH` (and `/usr/lib/postgresql/*/bin` for PostgreSQL) is searched.
//! 4. **Skip**: [`crate::skip_test`] is called and `None` returned: the skip shows in the test
//!    output and in the skip log (`UNITEL_SKIP_LOG`), and with `UNITEL_REQUIRE_SERVICES=1` the
//!    call panics instead (the test fails).
//!
//! A service that is found but fails to start (e.g. `initdb` errors) is treated like a missing
//! one: skipped with the error in the message, or a failure under `UNITEL_REQUIRE_SERVICES=1`.

mod postgres;
mod prometheus;
mod promtool;

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use postgres::{PostgresService, postgres};
pub use prometheus::{PrometheusBuilder, PrometheusService, ScrapeTarget, prometheus};
pub use promtool::{promtool_check_metrics, promtool_check_rules, promtool_test_rules};

use crate::Error;

/// Where a service instance comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An externally managed service given by an environment variable.
    External,
    /// A testcontainers container.
    Docker,
    /// A locally installed binary started by the testkit.
    Local,
}

/// Returns a TCP port on `127.0.0.1` that was free a moment ago (bind `:0`, read the port,
/// close). Another process may grab it before you bind it; the services retry on a new port
/// if their start-up fails.
pub fn free_port() -> u16 {
    match TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => {
            // Practically unreachable; fall back to a pseudo-random high port.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default();
            let port = 20_000 + u16::try_from(nanos % 40_000).unwrap_or_default();
            eprintln!("unitel-testkit: cannot bind 127.0.0.1:0 ({e}); guessing port {port}");
            port
        }
    }
}

fn env_flag(name: &str) -> Option<bool> {
    let value = std::env::var(name).ok()?;
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

/// True when `UNITEL_REQUIRE_SERVICES=1` (or `true`): skipping becomes a test failure.
pub fn services_required() -> bool {
    env_flag("UNITEL_REQUIRE_SERVICES").unwrap_or(false)
}

/// A non-empty environment variable.
pub(crate) fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// True when a Docker engine answers a ping (cached for the process). `UNITEL_TEST_DOCKER=0`
/// forces `false`, `UNITEL_TEST_DOCKER=1` skips the check.
pub async fn docker_available() -> bool {
    static CACHE: OnceLock<bool> = OnceLock::new();
    match env_flag("UNITEL_TEST_DOCKER") {
        Some(false) => return false,
        Some(true) => return true,
        None => {}
    }
    if let Some(cached) = CACHE.get() {
        return *cached;
    }
    let ping = async {
        let docker = testcontainers::core::client::docker_client_instance()
            .await
            .ok()?;
        docker.ping().await.ok()
    };
    let available = matches!(
        tokio::time::timeout(Duration::from_secs(5), ping).await,
        Ok(Some(_))
    );
    *CACHE.get_or_init(|| available)
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds an executable: the path in `env_override` if set, else `name` on `PATH`.
pub(crate) fn find_binary(name: &str, env_override: Option<&str>) -> Option<PathBuf> {
    if let Some(path) = env_override.and_then(env_nonempty) {
        let path = PathBuf::from(path);
        return is_executable(&path).then_some(path);
    }
    let path_var = std::env::var_os("PATH")?;
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// True when this process runs as root (`/proc/self` is owned by the effective uid).
pub(crate) fn running_as_root() -> bool {
    if let Ok(meta) = fs::metadata("/proc/self") {
        return meta.uid() == 0;
    }
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs blocking work on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Error> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::new(format!("blocking task failed: {e}")))?
}

/// Runs a command to completion; `Ok(stdout)` on exit status 0, otherwise an error with the
/// status, stdout and stderr.
pub(crate) fn run_checked(command: &mut Command) -> Result<String, Error> {
    let output = command
        .output()
        .map_err(|e| Error::new(format!("cannot run {command:?}: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(Error::new(format!(
            "{command:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}

/// A child process killed (and reaped) on drop.
#[derive(Debug)]
pub(crate) struct ChildGuard {
    child: Child,
    /// Signal name (for `kill -s`) sent first to let the process shut down cleanly.
    graceful_signal: Option<&'static str>,
}

impl ChildGuard {
    pub(crate) fn new(child: Child, graceful_signal: Option<&'static str>) -> Self {
        Self {
            child,
            graceful_signal,
        }
    }

    /// `Some(status description)` if the process already exited.
    pub(crate) fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown status ({e})")),
        }
    }

    /// Sends `signal` (a `kill -s` name) and waits up to `timeout` for the process to exit;
    /// kills it if it is still running then. Returns whether it exited on the signal.
    pub(crate) fn stop_with(&mut self, signal: &str, timeout: Duration) -> bool {
        if self.exited().is_some() {
            return true;
        }
        let sent = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if sent && self.wait_until(Instant::now() + timeout) {
            return true;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }

    fn wait_until(&mut self, deadline: Instant) -> bool {
        loop {
            if let Ok(Some(_)) | Err(_) = self.child.try_wait() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        if let Some(signal) = self.graceful_signal {
            let sent = Command::new("kill")
                .args(["-s", signal, &self.child.id().to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if sent && self.wait_until(Instant::now() + Duration::from_secs(10)) {
                return;
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the tail of a log file for error messages.
pub(crate) fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(30);
    lines[start..].join("\n")
}

/// Waits until `127.0.0.1:port` accepts TCP connections.
pub(crate) fn tcp_accepts(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// A reqwest client for talking to loopback services (no proxy, no pooling so it can be used
/// from any runtime).
pub(crate) fn http_client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::new(format!("building HTTP client: {e}")))
}

/// `OsStr` helper for `Command::arg` with formatted flags.
pub(crate) fn flag(name: &str, value: impl AsRef<OsStr>) -> std::ffi::OsString {
    let mut s = std::ffi::OsString::from(name);
    s.push(value);
    s
}

/// Creates a temporary directory with a recognisable prefix.
pub(crate) fn temp_dir(prefix: &str) -> io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix(prefix).tempdir()
}
