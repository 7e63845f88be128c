//! What a metric family is: its definition, and the rules a definition must follow.

use super::{OVERFLOW_LABEL_KEY, RegistryError};
use crate::catalog::{MetricDescriptor, MetricKind};

/// A metric family to register: name, kind, help, unit, label keys and (for histograms) buckets.
///
/// ```
/// use unitel::{MetricDefinition, MetricKind, Registry};
///
/// let registry = Registry::new();
/// registry
///     .register(MetricDefinition {
///         name: "jobs_processed_total".into(),
///         kind: MetricKind::Counter,
///         description: "Jobs processed".into(),
///         labels: vec!["queue".into()],
///         ..MetricDefinition::default()
///     })
///     .unwrap();
/// registry.increment("jobs_processed_total", 1.0, &[("queue", "emails")]);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricDefinition {
    /// Exposition name: `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total`, others do not.
    pub name: String,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Help text.
    pub description: String,
    /// Unit, as OTLP carries it (free text, e.g. `s`, `By`, `items`).
    pub unit: String,
    /// Label keys, in the order handles take values.
    pub labels: Vec<String>,
    /// Histogram bucket upper bounds, strictly increasing and finite; empty otherwise.
    pub buckets: Vec<f64>,
}

impl From<&MetricDescriptor> for MetricDefinition {
    fn from(d: &MetricDescriptor) -> Self {
        Self {
            name: d.name.to_owned(),
            kind: d.kind,
            description: d.help.to_owned(),
            unit: d.unit.to_owned(),
            labels: d.labels.iter().map(|s| (*s).to_owned()).collect(),
            buckets: d.buckets.to_vec(),
        }
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Checks a definition against the naming, label and bucket rules.
pub(super) fn validate(def: &MetricDefinition) -> Result<(), RegistryError> {
    let name = &def.name;
    let invalid = |reason| {
        Err(RegistryError::InvalidName {
            name: name.clone(),
            reason,
        })
    };
    if !valid_name(name) {
        return invalid("use letters, digits, `_` and `:`, not starting with a digit");
    }
    if name.starts_with("__") {
        return invalid("names starting with `__` are reserved");
    }
    match def.kind {
        MetricKind::Counter if !name.ends_with("_total") => {
            return invalid("counter names end in `_total`");
        }
        MetricKind::Gauge | MetricKind::Histogram if name.ends_with("_total") => {
            return invalid("only counter names end in `_total`");
        }
        MetricKind::Histogram
            if ["_bucket", "_count", "_sum"]
                .iter()
                .any(|s| name.ends_with(s)) =>
        {
            return invalid("histogram names must not end in `_bucket`, `_count` or `_sum`");
        }
        _ => {}
    }
    let mut seen: Vec<String> = Vec::with_capacity(def.labels.len());
    for label in &def.labels {
        let bad = |reason| {
            Err(RegistryError::InvalidLabel {
                name: name.clone(),
                label: label.clone(),
                reason,
            })
        };
        let mut chars = label.chars();
        let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !ok {
            return bad("use letters, digits, `_` and `.`, starting with a letter or `_`");
        }
        if label.starts_with("__") {
            return bad("keys starting with `__` are reserved");
        }
        if def.kind == MetricKind::Histogram && label == "le" {
            return bad("`le` is reserved for histogram buckets");
        }
        if label == OVERFLOW_LABEL_KEY {
            return bad("reserved for the overflow series");
        }
        let sanitized = label.replace('.', "_");
        if seen.contains(&sanitized) {
            return bad("duplicate key (after `.` becomes `_`)");
        }
        seen.push(sanitized);
    }
    match def.kind {
        MetricKind::Histogram => {
            if def.buckets.is_empty() {
                return Err(RegistryError::EmptyBuckets { name: name.clone() });
            }
            let sorted = def.buckets.iter().all(|b| b.is_finite())
                && def.buckets.windows(2).all(|w| w[0] < w[1]);
            if !sorted {
                return Err(RegistryError::UnsortedBuckets {
                    name: name.clone(),
                    buckets: def.buckets.clone(),
                });
            }
        }
        kind if !def.buckets.is_empty() => {
            return Err(RegistryError::BucketsOnNonHistogram {
                name: name.clone(),
                kind,
            });
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn def(name: &str, kind: MetricKind, labels: &[&str], buckets: &[f64]) -> MetricDefinition {
        MetricDefinition {
            name: name.into(),
            kind,
            description: "d".into(),
            unit: String::new(),
            labels: labels.iter().map(|s| (*s).to_owned()).collect(),
            buckets: buckets.to_vec(),
        }
    }

    #[test]
    fn invalid_definitions_are_typed_errors() {
        let r = Registry::new();
        type Check = fn(&RegistryError) -> bool;
        let cases: Vec<(MetricDefinition, Check)> = vec![
            (def("9bad_total", MetricKind::Counter, &[], &[]), |e| {
                matches!(e, RegistryError::InvalidName { .. })
            }),
            (def("events", MetricKind::Counter, &[], &[]), |e| {
                matches!(e, RegistryError::InvalidName { .. })
            }),
            (def("queue_total", MetricKind::Gauge, &[], &[]), |e| {
                matches!(e, RegistryError::InvalidName { .. })
            }),
            (def("x_seconds", MetricKind::Histogram, &[], &[]), |e| {
                matches!(e, RegistryError::EmptyBuckets { .. })
            }),
            (
                def("x_seconds", MetricKind::Histogram, &[], &[2.0, 1.0]),
                |e| matches!(e, RegistryError::UnsortedBuckets { .. }),
            ),
            (
                def("x_seconds", MetricKind::Histogram, &["le"], &[1.0]),
                |e| matches!(e, RegistryError::InvalidLabel { .. }),
            ),
            (def("x_total", MetricKind::Counter, &["a-b"], &[]), |e| {
                matches!(e, RegistryError::InvalidLabel { .. })
            }),
            (
                def("x_total", MetricKind::Counter, &["a.b", "a_b"], &[]),
                |e| matches!(e, RegistryError::InvalidLabel { .. }),
            ),
            (
                def("http_requests_total", MetricKind::Counter, &["method"], &[]),
                |e| matches!(e, RegistryError::Conflict { .. }),
            ),
        ];
        for (d, check) in cases {
            let name = d.name.clone();
            let err = r.register(d).expect_err(&name);
            assert!(check(&err), "{name}: {err}");
            assert!(err.to_string().contains(&name), "{err}");
        }
    }

    #[test]
    fn reregistering_the_same_definition_is_fine() {
        let r = Registry::new();
        let d = def("jobs_total", MetricKind::Counter, &["queue"], &[]);
        r.register(d.clone()).unwrap();
        r.register(d).unwrap();
    }
}
