//! Load from `wrk` (when installed), and parsing of its report.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::load::{LoadResult, LoadSpec};

/// Whether a `wrk` binary answers on `PATH`.
#[must_use]
pub fn available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
}

/// Runs `wrk` (one thread, `spec.connections` connections, `--latency`) against
/// `http://{addr}{spec.path}`. `wrk` is the command to run it with (e.g. `taskset -c 1 wrk`).
///
/// # Errors
/// A message when wrk cannot run or its report cannot be read.
pub fn run(mut wrk: Command, addr: SocketAddr, spec: &LoadSpec) -> Result<LoadResult, String> {
    let url = format!("http://{addr}{}", spec.path);
    let secs = spec.duration.as_secs().max(1);
    let cmd = &mut wrk;
    cmd.args(["-t1", "--latency", "--timeout", "5s"])
        .arg(format!("-c{}", spec.connections.max(1)))
        .arg(format!("-d{secs}s"));
    // Distinct ids: a script that walks the paths (wrk's `request` hook).
    let script = (spec.ids > 1).then(|| ids_script(spec)).transpose()?;
    if let Some(script) = &script {
        cmd.arg("-s").arg(script.path());
    }
    cmd.arg(&url);
    let out = cmd.output().map_err(|e| format!("running wrk: {e}"))?;
    drop(script);
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "wrk exited with {}: {}{}",
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    parse(&text).ok_or_else(|| format!("cannot read wrk's report:\n{text}"))
}

/// A wrk script that requests the paths of `spec` in turn, removed when dropped.
fn ids_script(spec: &LoadSpec) -> Result<ScriptFile, String> {
    let Some((prefix, _)) = spec.path.rsplit_once('/') else {
        return Err(format!("{}: no segment to vary", spec.path));
    };
    let script = format!(
        "local n = 0\nrequest = function()\n  n = n + 1\n  \
         return wrk.format(nil, \"{prefix}/\" .. (n % {ids}))\nend\n",
        ids = spec.ids
    );
    let path = std::env::temp_dir().join(format!("unitel-wrk-ids-{}.lua", std::process::id()));
    std::fs::write(&path, script).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(ScriptFile(path))
}

struct ScriptFile(std::path::PathBuf);

impl ScriptFile {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScriptFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Reads a `wrk --latency` report.
///
/// ```
/// let report = "\
/// Running 5s test @ http://127.0.0.1:3000/api/items/42
///   1 threads and 32 connections
///   Latency Distribution
///      50%  340.00us
///      99%    1.20ms
///   450000 requests in 5.00s, 60.00MB read
///   Non-2xx or 3xx responses: 10
/// Requests/sec:  90000.00
/// ";
/// let r = unitel_bench::wrk::parse(report).unwrap();
/// assert_eq!(r.requests, 450_000);
/// assert_eq!(r.errors, 10);
/// assert_eq!(r.p99, std::time::Duration::from_micros(1200));
/// assert_eq!(r.elapsed, std::time::Duration::from_secs(5));
/// ```
#[must_use]
pub fn parse(report: &str) -> Option<LoadResult> {
    let mut requests = None;
    let mut elapsed = None;
    let mut p99 = None;
    let mut errors = 0u64;
    for line in report.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("99%") {
            p99 = parse_latency(rest.trim());
        } else if let Some((count, rest)) = line.split_once(" requests in ") {
            requests = count.trim().parse::<u64>().ok();
            elapsed = rest.split(',').next().and_then(parse_latency);
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += rest.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            errors += rest
                .split(',')
                .filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    Some(LoadResult {
        requests: requests?,
        elapsed: elapsed?,
        p99: p99?,
        errors,
    })
}

/// Parses wrk's `340.00us`, `1.20ms`, `5.00s`, `1.00m` forms.
fn parse_latency(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.trim().parse().ok()?;
    let seconds = match unit.trim() {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_units() {
        assert_eq!(parse_latency("340.00us"), Some(Duration::from_micros(340)));
        assert_eq!(parse_latency("2.00s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_latency("1.00m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_latency("12"), None);
    }
}
