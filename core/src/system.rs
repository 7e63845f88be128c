//! Host and process metrics from `sysinfo`, refreshed in the background: never on a request
//! path.
//!
//! * `system_cpu_usage_percent`
//! * `system_memory_usage_bytes{state="used"|"available"|"total"}`
//! * `system_disk_usage_bytes{mount, state="used"|"total"}` for real file systems only (no
//!   proc/sys/tmpfs/overlay-like pseudo mounts, no bind-mounted files, one mount per device, at
//!   most [`MAX_MOUNTS`])
//! * `process_resident_memory_bytes`, `process_cpu_usage_percent`
//!
//! Turn it on with `UNITEL_SYSTEM_METRICS=true` (interval `UNITEL_SYSTEM_METRICS_INTERVAL_MS`)
//! or [`TelemetryConfigBuilder::system_metrics`](crate::TelemetryConfigBuilder::system_metrics):
//! [`init`](crate::init()) then refreshes on unitel's export thread. Without `init`, run it on a
//! thread of its own:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let registry = unitel::Telemetry::global().registry().clone();
//! let collector = unitel::system::spawn_collector_thread(registry, Duration::from_secs(15))?;
//! // ... serve ...
//! drop(collector); // stops the thread
//! # Ok::<(), unitel::system::SystemMetricsError>(())
//! ```

use std::collections::HashSet;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use sysinfo::{DiskRefreshKind, Disks, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::catalog;
use crate::registry::{Gauge, GaugeFamily, Registry};
use crate::telemetry::Telemetry;

/// Default refresh interval ([`config::DEFAULT_SYSTEM_METRICS_INTERVAL`](crate::config::DEFAULT_SYSTEM_METRICS_INTERVAL)).
pub const DEFAULT_INTERVAL: Duration = crate::config::DEFAULT_SYSTEM_METRICS_INTERVAL;
/// Shortest refresh interval: CPU usage needs this much time between two samples
/// ([`config::MIN_SYSTEM_METRICS_INTERVAL`](crate::config::MIN_SYSTEM_METRICS_INTERVAL)).
pub const MIN_INTERVAL: Duration = crate::config::MIN_SYSTEM_METRICS_INTERVAL;
/// Most mount points reported, to bound `system_disk_usage_bytes`.
pub const MAX_MOUNTS: usize = 32;

/// System statistics cannot be read on this platform or in this sandbox.
#[derive(Debug, thiserror::Error)]
#[error("cannot read system statistics: {0}")]
pub struct SystemMetricsError(String);

/// Refreshes the system gauges of one registry. Each [`collect`](Self::collect) reads
/// `/proc` (or the platform's equivalent) and blocks for milliseconds: call it from a
/// background thread.
pub struct SystemCollector {
    system: System,
    disks: Disks,
    pid: Option<Pid>,
    primed: bool,
    /// Families, not series: CPU series appear with the first real sample, not as a 0.
    cpu: GaugeFamily,
    memory: GaugeFamily,
    disk: GaugeFamily,
    process_memory: Gauge,
    process_cpu: GaugeFamily,
}

impl std::fmt::Debug for SystemCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemCollector")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl SystemCollector {
    /// A collector recording into `telemetry`'s registry. Nothing is read until the first
    /// `collect`.
    ///
    /// ```
    /// let telemetry = unitel::Telemetry::new();
    /// let mut collector = unitel::system::SystemCollector::for_telemetry(&telemetry)?;
    /// collector.collect();
    /// let text = unitel::prometheus::render_registry(telemetry.registry());
    /// assert!(text.contains("system_memory_usage_bytes{state=\"total\"}"));
    /// # Ok::<(), unitel::system::SystemMetricsError>(())
    /// ```
    ///
    /// # Errors
    /// [`SystemMetricsError`] when the platform gives no system statistics.
    pub fn for_telemetry(telemetry: &Telemetry) -> Result<Self, SystemMetricsError> {
        Self::new(telemetry.registry())
    }

    /// A collector recording into `registry`. Nothing is read until the first `collect`.
    ///
    /// ```
    /// let registry = unitel::Registry::new();
    /// let mut collector = unitel::system::SystemCollector::new(&registry)?;
    /// collector.collect();
    /// assert!(unitel::prometheus::render_registry(&registry).contains("system_memory_usage_bytes{state=\"total\"}"));
    /// # Ok::<(), unitel::system::SystemMetricsError>(())
    /// ```
    ///
    /// # Errors
    /// [`SystemMetricsError`] when the platform gives no system statistics.
    pub fn new(registry: &Registry) -> Result<Self, SystemMetricsError> {
        let system = System::new().map_err(|e| SystemMetricsError(e.to_string()))?;
        let disks = Disks::new().map_err(|e| SystemMetricsError(e.to_string()))?;
        Ok(Self {
            system,
            disks,
            pid: sysinfo::get_current_pid().ok(),
            primed: false,
            cpu: registry.gauge(&catalog::SYSTEM_CPU_USAGE_PERCENT),
            memory: registry.gauge(&catalog::SYSTEM_MEMORY_USAGE_BYTES),
            disk: registry.gauge(&catalog::SYSTEM_DISK_USAGE_BYTES),
            process_memory: registry
                .gauge(&catalog::PROCESS_RESIDENT_MEMORY_BYTES)
                .with_labels(&[]),
            process_cpu: registry.gauge(&catalog::PROCESS_CPU_USAGE_PERCENT),
        })
    }

    /// Refreshes every gauge. CPU usage is a rate: it is set from the second call on.
    #[allow(clippy::cast_precision_loss)]
    pub fn collect(&mut self) {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        if let Some(pid) = self.pid {
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                true,
                ProcessRefreshKind::nothing().with_memory().with_cpu(),
            );
        }
        self.disks
            .refresh_specifics(true, DiskRefreshKind::nothing().with_storage());

        let process = self.pid.and_then(|pid| self.system.process(pid));
        if self.primed {
            self.cpu
                .with_labels(&[])
                .set(f64::from(self.system.global_cpu_usage()));
            if let Some(p) = process {
                self.process_cpu
                    .with_labels(&[])
                    .set(f64::from(p.cpu_usage()));
            }
        }
        self.primed = true;
        if let Some(p) = process {
            self.process_memory.set(p.memory() as f64);
        }

        let total = self.system.total_memory();
        if total > 0 {
            let available = self.system.available_memory();
            self.memory
                .with_labels(&["used"])
                .set(total.saturating_sub(available) as f64);
            self.memory
                .with_labels(&["available"])
                .set(available as f64);
            self.memory.with_labels(&["total"]).set(total as f64);
        }

        for (mount, used, total) in real_mounts(&self.disks) {
            self.disk.with_labels(&[&mount, "used"]).set(used as f64);
            self.disk.with_labels(&[&mount, "total"]).set(total as f64);
        }
    }
}

/// `(mount point, used bytes, total bytes)` of real mounts: a directory, a non-zero size, one
/// mount per device (the shortest path), sorted, at most [`MAX_MOUNTS`].
fn real_mounts(disks: &Disks) -> Vec<(String, u64, u64)> {
    let mut list: Vec<(&Path, &std::ffi::OsStr, u64, u64)> = disks
        .iter()
        .filter(|d| d.total_space() > 0 && d.mount_point().is_dir())
        .map(|d| {
            (
                d.mount_point(),
                d.name(),
                d.total_space().saturating_sub(d.available_space()),
                d.total_space(),
            )
        })
        .collect();
    list.sort_by_key(|(mount, ..)| (mount.as_os_str().len(), *mount));
    let mut devices = HashSet::new();
    let mut out: Vec<(String, u64, u64)> = list
        .into_iter()
        .filter(|(_, device, ..)| device.is_empty() || devices.insert(*device))
        .map(|(mount, _, used, total)| (mount.to_string_lossy().into_owned(), used, total))
        .take(MAX_MOUNTS)
        .collect();
    out.sort();
    out
}

/// Runs a collector on unitel's export runtime, refreshing off the async threads.
pub(crate) async fn run_on_export_runtime(registry: Registry, interval: Duration) {
    let created = tokio::task::spawn_blocking(move || SystemCollector::new(&registry)).await;
    let mut collector = match created {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::warn!(target: "unitel::internal", error = %e, "system metrics are off");
            return;
        }
        Err(_) => return,
    };
    let mut ticks = tokio::time::interval(interval.max(MIN_INTERVAL));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        collector = match tokio::task::spawn_blocking(move || {
            collector.collect();
            collector
        })
        .await
        {
            Ok(c) => c,
            Err(_) => return,
        };
    }
}

/// A collector refreshing on a thread of its own; dropping it stops the thread.
#[derive(Debug)]
pub struct SystemCollectorThread {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SystemCollectorThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a thread that refreshes the system gauges of `registry` now and then every
/// `interval` (at least [`MIN_INTERVAL`]).
///
/// # Errors
/// [`SystemMetricsError`] when statistics cannot be read or the thread cannot start.
pub fn spawn_collector_thread(
    registry: Registry,
    interval: Duration,
) -> Result<SystemCollectorThread, SystemMetricsError> {
    let mut collector = SystemCollector::new(&registry)?;
    let interval = interval.max(MIN_INTERVAL);
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("unitel-system".to_owned())
        .spawn(move || {
            loop {
                collector.collect();
                match stopped.recv_timeout(interval) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
        })
        .map_err(|e| SystemMetricsError(e.to_string()))?;
    Ok(SystemCollectorThread {
        stop: Some(stop),
        thread: Some(thread),
    })
}
