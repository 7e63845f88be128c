//! Errors as bounded names: [`ErrorKind`], the `error_type` label values, and
//! [`record_error`] on `errors_total`.

use crate::catalog;
use crate::registry::{Counter, Registry};
use crate::telemetry::Telemetry;

/// A bounded name for an error, used as the `error_type` label instead of the error's text.
///
/// Errors that do not implement it are labelled `error`; a panic is labelled `panic`.
///
/// ```
/// use unitel::instrument::ErrorKind;
///
/// #[derive(Debug)]
/// enum FetchError { Timeout, NotFound(String) }
/// impl ErrorKind for FetchError {
///     fn error_kind(&self) -> &'static str {
///         match self {
///             FetchError::Timeout => "timeout",
///             FetchError::NotFound(_) => "not_found",
///         }
///     }
/// }
///
/// #[unitel::track_metrics(name = "doc_fetch")]
/// fn fetch(id: u32) -> Result<String, FetchError> {
///     if id == 0 { Err(FetchError::NotFound(format!("item {id}"))) } else { Ok("x".into()) }
/// }
/// let _ = fetch(0);
/// assert!(unitel::prometheus::render()
///     .contains("doc_fetch_errors_total{error_type=\"not_found\"} 1"));
/// ```
pub trait ErrorKind {
    /// A short name from a fixed set, e.g. `timeout` or `not_found`.
    fn error_kind(&self) -> &'static str;
}

/// `error_type` of errors that do not implement [`ErrorKind`].
pub const DEFAULT_ERROR_KIND: &str = "error";
/// `error_type` of a panic unwinding through an instrumented function.
pub const PANIC_ERROR_KIND: &str = "panic";

/// Counts one error in `errors_total{component, error_type}`. Both are label values: pass
/// fixed names (`"database"`, `"timeout"`), never an error's message.
///
/// For marking a span as failed, see [`trace::record_error`](crate::trace::record_error).
///
/// ```
/// unitel::instrument::record_error("payment", "card_declined");
/// assert!(unitel::prometheus::render()
///     .contains("errors_total{component=\"payment\",error_type=\"card_declined\"} 1"));
/// ```
pub fn record_error(component: &str, error_type: &str) {
    error_counter(Telemetry::global().registry(), component, error_type).inc();
}

fn error_counter(registry: &Registry, component: &str, error_type: &str) -> Counter {
    registry
        .counter(&catalog::ERRORS_TOTAL)
        .with_labels(&[component, error_type])
}
