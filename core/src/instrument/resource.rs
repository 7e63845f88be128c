//! Resources in use: [`monitor_resource`] and its [`ResourceGuard`].

use std::time::Instant;

use crate::catalog;
use crate::registry::{Gauge, Histogram, Registry};
use crate::telemetry::Telemetry;

/// Marks a resource as in use until the guard drops: `resource_in_use{resource}` goes up by
/// one, and on drop goes down again while `resource_hold_duration_seconds{resource}` observes
/// how long it was held. `name` is a label value: pass a fixed name, never an id.
///
/// ```
/// let guard = unitel::instrument::monitor_resource("gpu_slot");
/// assert!(unitel::prometheus::render().contains("resource_in_use{resource=\"gpu_slot\"} 1"));
/// drop(guard);
/// let text = unitel::prometheus::render();
/// assert!(text.contains("resource_in_use{resource=\"gpu_slot\"} 0"));
/// assert!(text.contains("resource_hold_duration_seconds_count{resource=\"gpu_slot\"} 1"));
/// ```
pub fn monitor_resource(name: &str) -> ResourceGuard {
    ResourceGuard::for_telemetry(Telemetry::global(), name)
}

/// Holds one unit of a monitored resource (see [`monitor_resource`]).
#[derive(Debug)]
#[must_use = "the resource counts as released when the guard drops"]
pub struct ResourceGuard {
    in_use: Gauge,
    hold: Histogram,
    start: Instant,
}

impl ResourceGuard {
    /// Like [`monitor_resource`], recording into the registry of `telemetry`.
    ///
    /// ```
    /// let telemetry = unitel::Telemetry::new();
    /// drop(unitel::instrument::ResourceGuard::for_telemetry(&telemetry, "worker"));
    /// assert!(unitel::prometheus::render_registry(telemetry.registry())
    ///     .contains("resource_hold_duration_seconds_count{resource=\"worker\"} 1"));
    /// ```
    pub fn for_telemetry(telemetry: &Telemetry, name: &str) -> Self {
        Self::with_registry(telemetry.registry(), name)
    }

    /// Like [`monitor_resource`], recording into `registry`.
    ///
    /// ```
    /// let registry = unitel::Registry::new();
    /// let guard = unitel::instrument::ResourceGuard::with_registry(&registry, "worker");
    /// drop(guard);
    /// assert!(unitel::prometheus::render_registry(&registry).contains("resource_hold_duration_seconds_count{resource=\"worker\"} 1"));
    /// ```
    pub fn with_registry(registry: &Registry, name: &str) -> Self {
        let in_use = registry
            .gauge(&catalog::RESOURCE_IN_USE)
            .with_labels(&[name]);
        let hold = registry
            .histogram(&catalog::RESOURCE_HOLD_DURATION_SECONDS)
            .with_labels(&[name]);
        in_use.inc();
        Self {
            in_use,
            hold,
            start: Instant::now(),
        }
    }
}

impl Drop for ResourceGuard {
    fn drop(&mut self) {
        self.in_use.dec();
        self.hold.observe_duration(self.start.elapsed());
    }
}
