//! Recording by metric name on the process-wide registry
//! ([`Telemetry::global`](crate::Telemetry::global)).
//!
//! Each call looks the family up by name; hot paths take a typed handle once instead
//! (see [`Registry::counter`](crate::Registry::counter)). A name that is not registered is
//! registered on first use with the label keys given. Misuse (wrong kind, undeclared label,
//! invalid name) is counted in `unitel_instrumentation_errors_total` and never panics.
//!
//! ```
//! use unitel::record::{increment_counter, observe_histogram, set_gauge};
//!
//! increment_counter("custom_events_total", &[("type", "user_action")]);
//! observe_histogram("processing_time_seconds", 0.234, &[("operation", "embedding")]);
//! set_gauge("queue_depth", 12.0, &[]);
//! let text = unitel::prometheus::render();
//! assert!(text.contains("custom_events_total{type=\"user_action\"} 1"));
//! assert!(text.contains("queue_depth 12"));
//! ```

use crate::telemetry::Telemetry;

/// Adds one to the counter `name`.
pub fn increment_counter(name: &str, labels: &[(&str, &str)]) {
    Telemetry::global().registry().increment(name, 1.0, labels);
}

/// Adds `value` (finite, non-negative) to the counter `name`.
pub fn add_to_counter(name: &str, value: f64, labels: &[(&str, &str)]) {
    Telemetry::global()
        .registry()
        .increment(name, value, labels);
}

/// Records `value` in the histogram `name`.
pub fn observe_histogram(name: &str, value: f64, labels: &[(&str, &str)]) {
    Telemetry::global().registry().observe(name, value, labels);
}

/// Sets the gauge `name` to `value`.
pub fn set_gauge(name: &str, value: f64, labels: &[(&str, &str)]) {
    Telemetry::global().registry().set(name, value, labels);
}
