//! The text writer: every family of a registry, read through its snapshots, in the Prometheus
//! text format (version 0.0.4).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::registry::family::Cell;
use crate::registry::{
    AnyFamily, CounterCell, Family, GaugeCell, HistogramCell, OVERFLOW_LABEL_KEY, Registry, Series,
};

/// `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders `registry` in the Prometheus text format (version 0.0.4).
///
/// ```
/// let registry = unitel::Registry::new();
/// registry.increment("rag_queries_total", 1.0, &[("pipeline", "standard")]);
/// let text = unitel::prometheus::render_registry(&registry);
/// assert!(text.contains("rag_queries_total{pipeline=\"standard\"} 1"));
/// ```
#[must_use]
pub fn render_registry(registry: &Registry) -> String {
    let families = registry.families();
    let hint = &registry.shared().last_render_len;
    let mut out = String::with_capacity((hint.load(Ordering::Relaxed) + 4096).max(16 * 1024));
    for family in &families {
        match family {
            AnyFamily::Counter(f) => write_family(&mut out, f, "counter", write_counter),
            AnyFamily::Gauge(f) => write_family(&mut out, f, "gauge", write_gauge),
            AnyFamily::Histogram(f) => write_family(&mut out, f, "histogram", write_histogram),
        }
    }
    hint.store(out.len(), Ordering::Relaxed);
    out
}

type WriteSeries<C> = fn(&mut String, &Family<C>, &Series<C>, bool, &mut Scratch);

/// Per-render buffers: a series' label block and its bucket-line prefix
/// (`name_bucket{labels,le="`), written once and copied into each of its lines, and the ends of
/// the `le` label (`0.005"} `) of the histogram family being written.
#[derive(Default)]
struct Scratch {
    labels: String,
    bucket_prefix: String,
    le: Vec<String>,
}

fn write_family<C: Cell>(
    out: &mut String,
    family: &Arc<Family<C>>,
    kind: &str,
    write_series: WriteSeries<C>,
) {
    let snapshot = family.snapshot();
    let name = family.name();
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    if family.def.description.trim().is_empty() {
        // `promtool check metrics` lints a family without help text.
        out.push_str(name);
        out.push_str(" (registered without a description)");
    } else {
        escape_help(out, &family.def.description);
    }
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
    let mut scratch = Scratch::default();
    if !family.def.buckets.is_empty() {
        scratch.le = family
            .def
            .buckets
            .iter()
            .map(|b| {
                let mut s = String::new();
                write_f64(&mut s, *b);
                s.push_str("\"} ");
                s
            })
            .chain(std::iter::once("+Inf\"} ".to_owned()))
            .collect();
    }
    for series in snapshot.series.iter() {
        write_series(out, family, series, false, &mut scratch);
    }
    if let Some(overflow) = &snapshot.overflow {
        write_series(out, family, overflow, true, &mut scratch);
    }
}

/// Writes `k="v",...` (no braces) of `series` into `out`.
fn write_labels<C>(out: &mut String, family: &Family<C>, series: &Series<C>, overflow: bool) {
    let mut first = true;
    for (key, value) in family.prom_keys.iter().zip(series.labels.iter()) {
        if overflow || value.is_empty() {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(key);
        out.push_str("=\"");
        escape_label_value(out, value);
        out.push('"');
    }
    if overflow {
        if !first {
            out.push(',');
        }
        out.push_str(OVERFLOW_LABEL_KEY);
        out.push_str("=\"true\"");
    }
}

/// `name{labels}` (or just `name` without labels) for a counter or gauge line.
fn write_name_and_labels<C: Cell>(
    out: &mut String,
    family: &Family<C>,
    series: &Series<C>,
    overflow: bool,
) {
    out.push_str(family.name());
    let start = out.len();
    out.push('{');
    write_labels(out, family, series, overflow);
    if out.len() == start + 1 {
        out.truncate(start);
    } else {
        out.push('}');
    }
}

fn write_counter(
    out: &mut String,
    family: &Family<CounterCell>,
    series: &Series<CounterCell>,
    overflow: bool,
    _scratch: &mut Scratch,
) {
    write_name_and_labels(out, family, series, overflow);
    out.push(' ');
    let v = series.cell.value();
    if v.fraction == 0.0 {
        write_u64(out, v.whole);
    } else {
        write_f64(out, v.as_f64());
    }
    out.push('\n');
}

fn write_gauge(
    out: &mut String,
    family: &Family<GaugeCell>,
    series: &Series<GaugeCell>,
    overflow: bool,
    _scratch: &mut Scratch,
) {
    write_name_and_labels(out, family, series, overflow);
    out.push(' ');
    write_f64(out, series.cell.value());
    out.push('\n');
}

fn write_histogram(
    out: &mut String,
    family: &Family<HistogramCell>,
    series: &Series<HistogramCell>,
    overflow: bool,
    scratch: &mut Scratch,
) {
    let name = family.name();
    let labels = &mut scratch.labels;
    labels.clear();
    write_labels(labels, family, series, overflow);
    let prefix = &mut scratch.bucket_prefix;
    prefix.clear();
    prefix.push_str(name);
    prefix.push_str("_bucket{");
    prefix.push_str(labels);
    if !labels.is_empty() {
        prefix.push(',');
    }
    prefix.push_str("le=\"");
    let mut cumulative = 0u64;
    let mut index = 0usize;
    series.cell.for_each_bucket(|count| {
        cumulative += count;
        out.push_str(prefix);
        out.push_str(scratch.le.get(index).map_or("+Inf\"} ", String::as_str));
        write_u64(out, cumulative);
        out.push('\n');
        index += 1;
    });
    let braced = |out: &mut String, suffix: &str| {
        out.push_str(name);
        out.push_str(suffix);
        if !labels.is_empty() {
            out.push('{');
            out.push_str(labels);
            out.push('}');
        }
        out.push(' ');
    };
    braced(out, "_sum");
    write_f64(out, series.cell.sum());
    out.push('\n');
    braced(out, "_count");
    write_u64(out, cumulative);
    out.push('\n');
}

/// Writes `v` in decimal without the formatting machinery.
fn write_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        // `v % 10` is a single digit.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (v % 10) as u8;
        buf[i] = b'0' + digit;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // ASCII digits: pushed one by one (numbers here are short), no UTF-8 check.
    out.reserve(buf.len() - i);
    for &digit in &buf[i..] {
        out.push(char::from(digit));
    }
}

/// Writes a float the way Prometheus parses it (`+Inf`, `-Inf`, `NaN`, shortest round-trip).
fn write_f64(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

fn escape_help(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_label_value(out: &mut String, s: &str) {
    if !s.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::HTTP_REQUESTS_TOTAL;

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut s = String::new();
        escape_label_value(&mut s, "a\"b\\c\nd");
        assert_eq!(s, "a\\\"b\\\\c\\nd");
        let mut h = String::new();
        escape_help(&mut h, "x\\y\nz\"");
        assert_eq!(h, "x\\\\y\\nz\"");
    }

    #[test]
    fn floats_use_prometheus_spelling() {
        for (v, want) in [
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (0.005, "0.005"),
            (10.0, "10"),
        ] {
            let mut s = String::new();
            write_f64(&mut s, v);
            assert_eq!(s, want);
        }
    }

    #[test]
    fn integers_are_written_in_decimal() {
        for v in [0, 7, 10, 99, 1_000_000, u64::MAX] {
            let mut out = String::new();
            write_u64(&mut out, v);
            assert_eq!(out, v.to_string());
        }
    }

    #[test]
    fn a_render_after_new_series_lists_them_in_order() {
        let registry = Registry::new();
        let requests = registry.counter(&HTTP_REQUESTS_TOTAL);
        let line = |route: &str, n: u32| {
            format!("http_requests_total{{method=\"GET\",route=\"{route}\",status=\"200\"}} {n}")
        };
        requests.inc_with(&["GET", "/b", "200"]);
        assert!(render_registry(&registry).contains(&line("/b", 1)));
        requests.inc_with(&["GET", "/c", "200"]);
        requests.inc_with(&["GET", "/a", "200"]);
        requests.inc_with(&["GET", "/b", "200"]);
        let text = render_registry(&registry);
        let at = |route| text.find(&line(route, if route == "/b" { 2 } else { 1 }));
        let (a, b, c) = (at("/a"), at("/b"), at("/c"));
        assert!(a.is_some() && b.is_some() && c.is_some(), "{text}");
        assert!(a < b && b < c, "{text}");
    }
}
