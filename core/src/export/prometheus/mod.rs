//! Prometheus text exposition (format 0.0.4) and the optional standalone `/metrics` listener.
//!
//! The writer reads a registry through its snapshots; the registry never calls it.
//!
//! ```
//! let registry = unitel::Registry::new();
//! registry
//!     .counter(&unitel::catalog::ERRORS_TOTAL)
//!     .with_labels(&["parser", "invalid_input"])
//!     .inc();
//! let text = unitel::prometheus::render_registry(&registry);
//! assert!(text.contains("# TYPE errors_total counter"));
//! assert!(text.contains("errors_total{component=\"parser\",error_type=\"invalid_input\"} 1"));
//! ```

mod endpoint;
mod format;

pub(crate) use endpoint::serve;
pub use endpoint::{MetricsAuth, respond};
pub use format::{CONTENT_TYPE, render_registry};
