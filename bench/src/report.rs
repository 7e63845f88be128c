//! Medians, ratios to `bare`, and the Markdown tables the driver prints.

use std::fmt::Write as _;

use crate::mode::{Framework, Mode};

/// One mode measured once.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Framework.
    pub framework: Framework,
    /// Mode.
    pub mode: Mode,
    /// Completed requests per second.
    pub requests_per_second: f64,
    /// Server CPU (user + system, all threads) per completed request, in microseconds.
    pub cpu_us_per_request: f64,
    /// 99th percentile latency in microseconds.
    pub p99_us: f64,
    /// Non-2xx responses and socket errors.
    pub errors: u64,
    /// What was checked after the load (e.g. the route in `/metrics`, spans received per
    /// request).
    pub check: String,
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
///
/// ```
/// assert_eq!(unitel_bench::report::median(&[3.0, 1.0, 2.0]), 2.0);
/// assert_eq!(unitel_bench::report::median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
/// ```
#[must_use]
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        f64::midpoint(v[n / 2 - 1], v[n / 2])
    }
}

/// One row of the overhead table: medians over runs, and medians of the per-run ratios to the
/// same framework's `bare`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Framework.
    pub framework: Framework,
    /// Mode.
    pub mode: Mode,
    /// Runs that produced a measurement.
    pub runs: usize,
    /// Median requests per second.
    pub requests_per_second: f64,
    /// Median of per-run `requests_per_second / bare`.
    pub throughput_ratio: f64,
    /// Median server CPU µs per request.
    pub cpu_us_per_request: f64,
    /// Median of per-run `cpu / bare cpu`.
    pub cpu_ratio: f64,
    /// Median of per-run `cpu - bare cpu` (µs per request added by the instrumentation).
    pub cpu_added_us: f64,
    /// Median p99 latency in µs.
    pub p99_us: f64,
    /// Median of per-run `p99 / bare p99`.
    pub p99_ratio: f64,
    /// Errors summed over runs.
    pub errors: u64,
    /// The last run's check text.
    pub check: String,
}

/// Aggregates runs (each a list of measurements from one pass over the modes) into rows, in
/// the order the modes first appear.
#[must_use]
pub fn rows(runs: &[Vec<Measurement>]) -> Vec<Row> {
    let mut keys: Vec<(Framework, Mode)> = Vec::new();
    for m in runs.iter().flatten() {
        if !keys.contains(&(m.framework, m.mode)) {
            keys.push((m.framework, m.mode));
        }
    }
    keys.into_iter()
        .map(|(framework, mode)| {
            let mut rps = Vec::new();
            let mut cpu = Vec::new();
            let mut p99 = Vec::new();
            let mut rps_ratio = Vec::new();
            let mut cpu_ratio = Vec::new();
            let mut cpu_added = Vec::new();
            let mut p99_ratio = Vec::new();
            let mut errors = 0;
            let mut check = String::new();
            for run in runs {
                let Some(m) = run
                    .iter()
                    .find(|m| m.framework == framework && m.mode == mode)
                else {
                    continue;
                };
                rps.push(m.requests_per_second);
                cpu.push(m.cpu_us_per_request);
                p99.push(m.p99_us);
                errors += m.errors;
                check.clone_from(&m.check);
                if let Some(bare) = run
                    .iter()
                    .find(|b| b.framework == framework && b.mode == Mode::Bare)
                {
                    rps_ratio.push(m.requests_per_second / bare.requests_per_second);
                    cpu_ratio.push(m.cpu_us_per_request / bare.cpu_us_per_request);
                    cpu_added.push(m.cpu_us_per_request - bare.cpu_us_per_request);
                    p99_ratio.push(m.p99_us / bare.p99_us);
                }
            }
            Row {
                framework,
                mode,
                runs: rps.len(),
                requests_per_second: median(&rps),
                throughput_ratio: median(&rps_ratio),
                cpu_us_per_request: median(&cpu),
                cpu_ratio: median(&cpu_ratio),
                cpu_added_us: median(&cpu_added),
                p99_us: median(&p99),
                p99_ratio: median(&p99_ratio),
                errors,
                check,
            }
        })
        .collect()
}

fn num(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "–".to_owned()
    }
}

fn latency(us: f64) -> String {
    if !us.is_finite() {
        "–".to_owned()
    } else if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// The overhead table in Markdown.
#[must_use]
pub fn overhead_table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| framework | mode | req/s | × bare | server CPU µs/req | × bare | + µs/req | p99 | × bare | errors | check |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.framework,
            r.mode,
            num(r.requests_per_second, 0),
            num(r.throughput_ratio, 3),
            num(r.cpu_us_per_request, 2),
            num(r.cpu_ratio, 3),
            if r.mode == Mode::Bare {
                "–".to_owned()
            } else {
                num(r.cpu_added_us, 2)
            },
            latency(r.p99_us),
            num(r.p99_ratio, 2),
            r.errors,
            r.check,
        );
    }
    out
}

/// A generic Markdown table.
#[must_use]
pub fn table(header: &[&str], align_right_from: usize, rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let aligns: Vec<&str> = (0..header.len())
        .map(|i| if i >= align_right_from { "---:" } else { "---" })
        .collect();
    let _ = writeln!(out, "|{}|", aligns.join("|"));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(mode: Mode, rps: f64, cpu: f64) -> Measurement {
        Measurement {
            framework: Framework::Axum,
            mode,
            requests_per_second: rps,
            cpu_us_per_request: cpu,
            p99_us: 100.0,
            errors: 0,
            check: String::new(),
        }
    }

    #[test]
    fn ratios_are_taken_within_each_run() {
        let runs = vec![
            vec![m(Mode::Bare, 100.0, 10.0), m(Mode::Metrics, 90.0, 11.0)],
            vec![m(Mode::Bare, 200.0, 5.0), m(Mode::Metrics, 200.0, 5.0)],
            vec![m(Mode::Bare, 100.0, 10.0), m(Mode::Metrics, 95.0, 10.5)],
        ];
        let rows = rows(&runs);
        assert_eq!(rows.len(), 2);
        let metrics = &rows[1];
        assert_eq!(metrics.runs, 3);
        assert!((metrics.throughput_ratio - 0.95).abs() < 1e-9);
        assert!((metrics.cpu_ratio - 1.05).abs() < 1e-9);
        assert!((metrics.cpu_added_us - 0.5).abs() < 1e-9);
        let table = overhead_table(&rows);
        assert!(table.contains("| axum | metrics |"), "{table}");
    }
}
