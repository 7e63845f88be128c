//! Which traces are sampled.

/// Which traces are sampled. Sampling applies to traces only; metric counts are always exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerConfig {
    /// Sample everything.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample this ratio of new traces, by trace id.
    TraceIdRatio(f64),
    /// Follow the parent's decision; roots sampled at this ratio.
    ParentBasedRatio(f64),
    /// Follow the parent's decision; roots never sampled.
    ParentBasedAlwaysOff,
}
