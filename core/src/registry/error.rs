//! What can go wrong: registration and lookup errors, and the kinds of instrumentation error
//! counted in `unitel_instrumentation_errors_total`.

use super::MAX_FAMILIES;
use crate::catalog::MetricKind;

/// Why a metric family could not be registered or looked up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The name is not a valid Prometheus metric name, or breaks a naming rule.
    #[error("invalid metric name `{name}`: {reason}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// A label key is not valid.
    #[error("invalid label key `{label}` for metric `{name}`: {reason}")]
    InvalidLabel {
        /// The metric.
        name: String,
        /// The offending key.
        label: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// A histogram was registered without buckets.
    #[error("histogram `{name}` has no buckets: give at least one upper bound")]
    EmptyBuckets {
        /// The metric.
        name: String,
    },
    /// Bucket bounds are not strictly increasing finite numbers.
    #[error("histogram `{name}` buckets must be finite and strictly increasing, got {buckets:?}")]
    UnsortedBuckets {
        /// The metric.
        name: String,
        /// The bounds given.
        buckets: Vec<f64>,
    },
    /// A counter or gauge was given buckets.
    #[error("`{name}` is a {kind}: only histograms take buckets")]
    BucketsOnNonHistogram {
        /// The metric.
        name: String,
        /// Its kind.
        kind: MetricKind,
    },
    /// The name is registered already with a different kind, labels or buckets.
    #[error(
        "metric `{name}` is already registered as a {existing_kind} with labels {existing_labels:?}; \
         the new definition differs"
    )]
    Conflict {
        /// The metric.
        name: String,
        /// Kind already registered.
        existing_kind: MetricKind,
        /// Labels already registered.
        existing_labels: Vec<String>,
    },
    /// No family of that name is registered.
    #[error("no metric named `{name}` is registered")]
    NotFound {
        /// The name looked up.
        name: String,
    },
    /// The family exists but is of another kind.
    #[error("metric `{name}` is a {actual}, not a {requested}")]
    WrongKind {
        /// The metric.
        name: String,
        /// Kind asked for.
        requested: MetricKind,
        /// Kind registered.
        actual: MetricKind,
    },
    /// The registry holds [`MAX_FAMILIES`] families already.
    #[error("the registry already holds {MAX_FAMILIES} metric families; `{name}` was not added")]
    Full {
        /// The metric not added.
        name: String,
    },
}

/// Kinds of instrumentation error, the values of `unitel_instrumentation_errors_total{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InstrumentationErrorKind {
    /// A label key the family does not declare.
    UndeclaredLabel,
    /// A wrong number of label values.
    LabelCount,
    /// A label value over 256 bytes, truncated.
    LabelValueTruncated,
    /// NaN, infinity, or a negative counter increment.
    InvalidValue,
    /// Recording by a name that is not registered and cannot be registered automatically.
    UnknownMetric,
    /// Recording a family as another kind than it was registered with.
    KindMismatch,
    /// A metric callback panicked.
    CallbackPanic,
    /// A family reached its series cap; the record went to the overflow series.
    CardinalityOverflow,
    /// A malformed input header (for example `traceparent`) was ignored.
    InvalidHeader,
}

impl InstrumentationErrorKind {
    /// Every kind, in label order.
    pub const ALL: [Self; 9] = [
        Self::UndeclaredLabel,
        Self::LabelCount,
        Self::LabelValueTruncated,
        Self::InvalidValue,
        Self::UnknownMetric,
        Self::KindMismatch,
        Self::CallbackPanic,
        Self::CardinalityOverflow,
        Self::InvalidHeader,
    ];

    /// The label value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UndeclaredLabel => "undeclared_label",
            Self::LabelCount => "label_count",
            Self::LabelValueTruncated => "label_value_truncated",
            Self::InvalidValue => "invalid_value",
            Self::UnknownMetric => "unknown_metric",
            Self::KindMismatch => "kind_mismatch",
            Self::CallbackPanic => "callback_panic",
            Self::CardinalityOverflow => "cardinality_overflow",
            Self::InvalidHeader => "invalid_header",
        }
    }

    pub(super) const fn index(self) -> usize {
        match self {
            Self::UndeclaredLabel => 0,
            Self::LabelCount => 1,
            Self::LabelValueTruncated => 2,
            Self::InvalidValue => 3,
            Self::UnknownMetric => 4,
            Self::KindMismatch => 5,
            Self::CallbackPanic => 6,
            Self::CardinalityOverflow => 7,
            Self::InvalidHeader => 8,
        }
    }
}
