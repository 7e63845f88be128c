//! What a load run asks for and reports, and the built-in load generator used when `wrk` is not
//! installed: keep-alive HTTP/1.1 connections on one thread, each sending the next request when
//! the previous response has arrived (the same closed loop as `wrk`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Request path, e.g. `/api/items/42`.
    pub path: String,
    /// Above 1: the path's last segment is replaced by `0..ids` in turn, so the server sees
    /// that many distinct paths of the same route (see [`LoadSpec::paths`]).
    pub ids: u32,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// How long to send requests.
    pub duration: Duration,
}

impl LoadSpec {
    /// The paths requested in turn: [`path`](Self::path) alone, or with its last segment
    /// replaced by each of `0..ids`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use unitel_bench::load::LoadSpec;
    ///
    /// let spec = LoadSpec {
    ///     path: "/api/items/42".into(),
    ///     ids: 3,
    ///     connections: 1,
    ///     duration: Duration::from_secs(1),
    /// };
    /// assert_eq!(spec.paths(), ["/api/items/0", "/api/items/1", "/api/items/2"]);
    /// ```
    #[must_use]
    pub fn paths(&self) -> Vec<String> {
        match self.path.rsplit_once('/') {
            Some((prefix, _)) if self.ids > 1 => {
                (0..self.ids).map(|id| format!("{prefix}/{id}")).collect()
            }
            _ => vec![self.path.clone()],
        }
    }
}

/// What a load run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadResult {
    /// Completed requests.
    pub requests: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Responses that were not 2xx/3xx, and socket errors.
    pub errors: u64,
}

impl LoadResult {
    /// Completed requests per second of wall time.
    #[must_use]
    pub fn requests_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            #[allow(clippy::cast_precision_loss)]
            let requests = self.requests as f64;
            requests / secs
        } else {
            0.0
        }
    }
}

/// Runs the built-in load generator on a new single-thread runtime in the calling thread.
///
/// # Errors
/// A message when the runtime cannot start or no connection can be opened.
pub fn run_builtin(addr: SocketAddr, spec: &LoadSpec) -> Result<LoadResult, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("load runtime: {e}"))?;
    runtime.block_on(run_connections(addr, spec))
}

struct ConnectionStats {
    latencies_us: Vec<u32>,
    errors: u64,
}

async fn run_connections(addr: SocketAddr, spec: &LoadSpec) -> Result<LoadResult, String> {
    let requests: std::sync::Arc<[Box<[u8]>]> = spec
        .paths()
        .iter()
        .map(|path| {
            format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: unitel-bench\r\nAccept: */*\r\n\r\n"
            )
            .into_bytes()
            .into_boxed_slice()
        })
        .collect();
    let start = Instant::now();
    let deadline = start + spec.duration;
    let local = tokio::task::LocalSet::new();
    let stats = local
        .run_until(async {
            let tasks: Vec<_> = (0..spec.connections.max(1))
                .map(|i| {
                    let requests = std::sync::Arc::clone(&requests);
                    tokio::task::spawn_local(connection(addr, requests, i, deadline))
                })
                .collect();
            let mut all = Vec::with_capacity(tasks.len());
            for t in tasks {
                all.push(t.await.map_err(|e| format!("load task: {e}"))?);
            }
            Ok::<_, String>(all)
        })
        .await?;
    let elapsed = start.elapsed();
    let mut latencies: Vec<u32> = Vec::new();
    let mut errors = 0;
    for s in stats {
        let s = s?;
        latencies.extend_from_slice(&s.latencies_us);
        errors += s.errors;
    }
    latencies.sort_unstable();
    let p99 = percentile(&latencies, 0.99);
    Ok(LoadResult {
        requests: latencies.len() as u64,
        elapsed,
        p99: Duration::from_micros(u64::from(p99)),
        errors,
    })
}

fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

async fn connection(
    addr: SocketAddr,
    requests: std::sync::Arc<[Box<[u8]>]>,
    first: usize,
    deadline: Instant,
) -> Result<ConnectionStats, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut stats = ConnectionStats {
        latencies_us: Vec::with_capacity(64 * 1024),
        errors: 0,
    };
    let mut buf = Vec::with_capacity(4096);
    let mut next = first;
    while Instant::now() < deadline {
        let request = &requests[next % requests.len()];
        next = next.wrapping_add(1);
        let sent = Instant::now();
        if stream.write_all(request).await.is_err() {
            stats.errors += 1;
            break;
        }
        match read_response(&mut stream, &mut buf).await {
            Some(status) => {
                if !(200..400).contains(&status) {
                    stats.errors += 1;
                }
                let us = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                stats.latencies_us.push(us);
            }
            None => {
                stats.errors += 1;
                break;
            }
        }
    }
    Ok(stats)
}

/// Reads one response with a `Content-Length` body; returns its status code.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<u16> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..header_end]).ok()?;
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())?;
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(status)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One request over a fresh connection: `(status, body)`. Used to check a server before load.
///
/// # Errors
/// A message when the request fails.
pub fn fetch(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async {
        let fut = async {
            let mut stream = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect {addr}: {e}"))?;
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: */*\r\n\r\n"
            );
            stream
                .write_all(request.as_bytes())
                .await
                .map_err(|e| format!("write: {e}"))?;
            let mut raw = Vec::new();
            stream
                .read_to_end(&mut raw)
                .await
                .map_err(|e| format!("read: {e}"))?;
            let text = String::from_utf8_lossy(&raw).into_owned();
            let (head, body) = text
                .split_once("\r\n\r\n")
                .ok_or_else(|| format!("no HTTP response from {addr}{path}"))?;
            let status = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("bad status line from {addr}{path}"))?;
            let chunked = head.lines().any(|l| {
                l.to_ascii_lowercase()
                    .starts_with("transfer-encoding: chunked")
            });
            let body = if chunked {
                dechunk(body)
            } else {
                body.to_owned()
            };
            Ok((status, body))
        };
        tokio::time::timeout(Duration::from_secs(10), fut)
            .await
            .map_err(|_| format!("GET {addr}{path} timed out"))?
    })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let (Some(chunk), Some(after)) = (rest.get(..size), rest.get(size..)) else {
            break;
        };
        if size == 0 {
            break;
        }
        out.push_str(chunk);
        body = after.trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_picks_the_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&[], 0.99), 0);
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "abcde");
    }
}
