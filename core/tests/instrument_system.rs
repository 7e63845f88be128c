//! System metrics from `sysinfo`: a collector on a local registry, a collector thread, and the
//! collector `init` runs on the export thread when configured (one `init` per process: this
//! binary).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use unitel::system::{MAX_MOUNTS, SystemCollector, spawn_collector_thread};
use unitel::{Registry, TelemetryConfig};

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// `(mount, state, value)` of every `system_disk_usage_bytes` sample.
fn disks(text: &str) -> Vec<(String, String, f64)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("system_disk_usage_bytes{mount=\""))
        .filter_map(|rest| {
            let (mount, rest) = rest.split_once("\",state=\"")?;
            let (state, value) = rest.split_once("\"} ")?;
            Some((mount.to_owned(), state.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_collector_sets_memory_disk_cpu_and_process_gauges() {
    let registry = Registry::new();
    let mut collector = SystemCollector::new(&registry).unwrap();
    collector.collect();
    let text = unitel::prometheus::render_registry(&registry);
    let total = sample(&text, "system_memory_usage_bytes{state=\"total\"}").unwrap();
    let used = sample(&text, "system_memory_usage_bytes{state=\"used\"}").unwrap();
    let available = sample(&text, "system_memory_usage_bytes{state=\"available\"}").unwrap();
    assert!(total > 0.0 && used > 0.0 && used <= total, "{text}");
    assert_eq!(used + available, total);
    let rss = sample(&text, "process_resident_memory_bytes").unwrap();
    assert!(rss > 1_000_000.0 && rss < total, "rss {rss}");
    // CPU usage is a rate: no value from a single sample.
    assert!(
        sample(&text, "system_cpu_usage_percent").is_none(),
        "{text}"
    );

    collector.collect();
    let text = unitel::prometheus::render_registry(&registry);
    let cpu = sample(&text, "system_cpu_usage_percent").unwrap();
    assert!((0.0..=100.0).contains(&cpu), "cpu {cpu}");
    assert!(sample(&text, "process_cpu_usage_percent").unwrap() >= 0.0);

    let disks = disks(&text);
    assert!(
        disks.iter().any(|(m, _, _)| m == "/"),
        "no root mount in {disks:?}"
    );
    assert!(disks.len() <= 2 * MAX_MOUNTS);
    for (mount, state, value) in &disks {
        assert!(state == "used" || state == "total", "{state}");
        assert!(*value >= 0.0);
        // Real mounts only: no pseudo or in-memory file systems, no bind-mounted files.
        for pseudo in ["/proc", "/sys", "/dev/shm", "/run/"] {
            assert!(!mount.starts_with(pseudo), "pseudo mount {mount}");
        }
        assert!(std::path::Path::new(mount).is_dir(), "{mount}");
    }
    for (mount, _, used) in disks.iter().filter(|(_, s, _)| s == "used") {
        let total = disks
            .iter()
            .find(|(m, s, _)| m == mount && s == "total")
            .unwrap()
            .2;
        assert!(*used <= total, "{mount}: {used} > {total}");
    }

    if let Some(result) = unitel_testkit::promtool_check_metrics(&text) {
        result.unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));
    }
}

#[test]
fn a_collector_thread_refreshes_and_stops_on_drop() {
    let registry = Registry::new();
    let thread = spawn_collector_thread(registry.clone(), Duration::from_millis(200)).unwrap();
    wait_for("two collections", || {
        sample(
            &unitel::prometheus::render_registry(&registry),
            "system_cpu_usage_percent",
        )
        .is_some()
    });
    drop(thread); // joins the thread
    let rendered = unitel::prometheus::render_registry(&registry);
    assert!(sample(&rendered, "system_memory_usage_bytes{state=\"total\"}").is_some());
}

#[test]
fn init_runs_the_collector_on_the_export_thread_when_asked() {
    let config = TelemetryConfig::from_lookup(|k| match k {
        "UNITEL_SYSTEM_METRICS" => Some("true".into()),
        "UNITEL_SYSTEM_METRICS_INTERVAL_MS" => Some("200".into()),
        _ => None,
    })
    .unwrap();
    assert!(config.collects_system_metrics());
    assert_eq!(config.system_metrics_interval(), Duration::from_millis(200));
    let off = TelemetryConfig::from_lookup(|k| match k {
        "UNITEL_SYSTEM_METRICS" => Some("true".into()),
        "ENABLE_METRICS" => Some("false".into()),
        _ => None,
    })
    .unwrap();
    assert!(!off.collects_system_metrics());

    let config = TelemetryConfig::builder()
        .system_metrics(true)
        .system_metrics_interval(Duration::from_millis(200))
        .install_subscriber(false)
        .build()
        .unwrap();
    let guard = unitel::init(config).unwrap();
    wait_for("system metrics in the global registry", || {
        let text = unitel::prometheus::render();
        sample(&text, "system_cpu_usage_percent").is_some()
            && sample(&text, "process_resident_memory_bytes").is_some()
    });
    drop(guard);
}
