//! Placeholder: filled by the instrumentation-API issue.
