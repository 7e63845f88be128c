//! Test harness shared by the `unitel-axum` and `unitel-actix` test binaries (each includes this
//! file with `#[path]`), so both frameworks are driven by the same code and checked against the
//! same expectations.
//!
//! Every including binary defines, at its root:
//! `async fn start_server(options: ServerOptions) -> TestServer`, serving [`APP_ROUTES`].
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use unitel::Registry;
use unitel::http::server::HttpServerConfig;
use unitel::prometheus::MetricsAuth;

/// The application every framework's `start_server` serves (same statuses in both):
///
/// | route | answer |
/// |---|---|
/// | `GET`, `HEAD /api/items/{id}` | 200, `{"id": id, "name": "item {id}"}` |
/// | `DELETE /api/items/{id}` | 204 |
/// | `POST /api/items` | 201, `{"id": "new"}` |
/// | `POST /api/upload` | 200, the body's length (the handler reads the whole body first) |
/// | `GET /api/fail` | 500 |
/// | `GET /api/panic` | the handler panics |
/// | `GET /api/slow` | 200 after 30 s |
/// | `GET /api/stream` | 200, chunk `first\n`, then a body that never ends |
/// | `GET /v1/nested/{x}` | 200 (nested router / scope) |
/// | `GET /health` | 200 `ok` |
/// | the metrics path | the exposition of `ServerOptions::registry` (or the process-wide one) |
pub const APP_ROUTES: &str = "see the table above";

/// How to start a test server.
pub struct ServerOptions {
    /// The layer/middleware configuration.
    pub config: HttpServerConfig,
    /// The registry the metrics route serves; `None` = `metrics_route()`/`metrics_scope()`
    /// (process-wide registry, token from the process configuration).
    pub metrics: Option<(Registry, MetricsAuth)>,
}

impl ServerOptions {
    /// Records into `registry` (and serves it, without a token).
    pub fn local(registry: &Registry) -> Self {
        Self {
            config: HttpServerConfig::new().registry(registry.clone()),
            metrics: Some((registry.clone(), MetricsAuth::new(None))),
        }
    }

    /// Replaces the configuration (keep `.registry(...)` in it).
    pub fn with_config(mut self, config: HttpServerConfig) -> Self {
        self.config = config;
        self
    }
}

/// A running server; stopped on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl TestServer {
    pub fn new(addr: SocketAddr, stop: impl FnOnce() + Send + 'static) -> Self {
        Self {
            addr,
            stop: Some(Box::new(stop)),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// A real reqwest client (HTTP/1.1, no proxy).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Series of `family` in `text` (Prometheus exposition), as `{labels}` -> value. The family's
/// own lines only (`_bucket`, `_sum`, `_count` have their own names).
pub fn series(text: &str, family: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(family) else {
            continue;
        };
        let (labels, value) = if let Some(rest) = rest.strip_prefix('{') {
            let Some(end) = rest.rfind("} ") else {
                continue;
            };
            (format!("{{{}}}", &rest[..end]), &rest[end + 2..])
        } else if let Some(value) = rest.strip_prefix(' ') {
            (String::new(), value)
        } else {
            continue;
        };
        out.insert(labels, value.trim().parse::<f64>().unwrap());
    }
    out
}

/// `{method="..",route="..",status=".."}`, as the exposition writes labels.
pub fn labels(method: &str, route: &str, status: &str) -> String {
    format!("{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}")
}

/// `{method="..",route=".."}` (the in-flight gauge's labels).
pub fn route_labels(method: &str, route: &str) -> String {
    format!("{{method=\"{method}\",route=\"{route}\"}}")
}

/// Polls `cond` every 10 ms until it holds; panics with `what` after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sum of the in-flight gauge over all series.
pub fn in_flight_total(registry: &Registry) -> f64 {
    series(
        &unitel::prometheus::render_registry(registry),
        "http_requests_in_flight",
    )
    .values()
    .sum()
}

/// Sends `request` as raw bytes on a new connection and returns what the server answered
/// (until it closes the connection or stays silent for 2 s).
pub async fn raw_request(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before it has read everything we send.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    }
    answer
}

/// The status code of a raw HTTP/1.1 answer, if there is one.
pub fn raw_status(answer: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(answer);
    let line = text.lines().next()?;
    line.split(' ').nth(1)?.parse().ok()
}

/// Resident set size of this process, from `/proc/self/status` (`VmRSS`).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib * 1024
}

/// A small deterministic pseudo-random generator (xorshift64*), for random paths.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
