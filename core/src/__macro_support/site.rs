//! The metrics of one `#[track_metrics]`, `#[measure_latency]` or `#[count_calls]` site:
//! families registered on first use, and a guard per call.

use std::sync::OnceLock;
use std::time::Instant;

use super::Outcome;
use crate::catalog::MetricKind;
use crate::instrument::PANIC_ERROR_KIND;
use crate::registry::{
    Counter, CounterFamily, Histogram, HistogramFamily, InstrumentationErrorKind, MetricDefinition,
    Registry, RegistryError,
};
use crate::telemetry::Telemetry;

/// The metric names and labels of one `#[track_metrics]`, `#[measure_latency]` or
/// `#[count_calls]` site.
#[derive(Debug)]
pub struct SiteDef {
    /// The instrumented function.
    pub function: &'static str,
    /// Duration histogram name.
    pub duration: Option<&'static str>,
    /// Calls counter name.
    pub calls: Option<&'static str>,
    /// Errors counter name.
    pub errors: Option<&'static str>,
    /// Label keys (the errors counter adds `error_type`).
    pub label_keys: &'static [&'static str],
    /// Duration buckets.
    pub buckets: &'static [f64],
}

#[derive(Debug)]
struct SiteFamilies {
    duration: Option<HistogramFamily>,
    calls: Option<CounterFamily>,
    errors: Option<CounterFamily>,
}

/// Families of one macro site, registered on first use in the process-wide registry.
#[derive(Debug)]
pub struct MetricSite {
    def: SiteDef,
    families: OnceLock<SiteFamilies>,
}

fn register_counter(registry: &Registry, def: MetricDefinition) -> Option<CounterFamily> {
    let name = def.name.clone();
    match registry
        .register(def)
        .and_then(|()| registry.counter_family(&name))
    {
        Ok(f) => Some(f),
        Err(e) => {
            report(registry, &e);
            None
        }
    }
}

fn register_histogram(registry: &Registry, def: MetricDefinition) -> Option<HistogramFamily> {
    let name = def.name.clone();
    match registry
        .register(def)
        .and_then(|()| registry.histogram_family(&name))
    {
        Ok(f) => Some(f),
        Err(e) => {
            report(registry, &e);
            None
        }
    }
}

fn report(registry: &Registry, e: &RegistryError) {
    let kind = match e {
        RegistryError::Conflict { .. } | RegistryError::WrongKind { .. } => {
            InstrumentationErrorKind::KindMismatch
        }
        _ => InstrumentationErrorKind::UnknownMetric,
    };
    registry.report_instrumentation_error(kind, &e.to_string());
}

impl MetricSite {
    /// A site; nothing is registered until the first call.
    #[must_use]
    pub const fn new(def: SiteDef) -> Self {
        Self {
            def,
            families: OnceLock::new(),
        }
    }

    fn families(&self) -> &SiteFamilies {
        self.families.get_or_init(|| {
            let registry = Telemetry::global().registry();
            let labels: Vec<String> = self
                .def
                .label_keys
                .iter()
                .map(|k| (*k).to_owned())
                .collect();
            let f = self.def.function;
            let duration = self.def.duration.and_then(|name| {
                let def = MetricDefinition {
                    name: name.to_owned(),
                    kind: MetricKind::Histogram,
                    description: format!("Duration of `{f}` calls in seconds."),
                    unit: "s".to_owned(),
                    labels: labels.clone(),
                    buckets: self.def.buckets.to_vec(),
                };
                register_histogram(registry, def)
            });
            let counter = |name: &str, help: String, labels: Vec<String>| {
                let def = MetricDefinition {
                    name: name.to_owned(),
                    kind: MetricKind::Counter,
                    description: help,
                    unit: "{call}".to_owned(),
                    labels,
                    buckets: Vec::new(),
                };
                register_counter(registry, def)
            };
            let calls = self
                .def
                .calls
                .and_then(|n| counter(n, format!("Calls of `{f}`."), labels.clone()));
            let errors = self.def.errors.and_then(|n| {
                let mut keys = labels.clone();
                keys.push("error_type".to_owned());
                counter(
                    n,
                    format!("Calls of `{f}` that returned an error or panicked."),
                    keys,
                )
            });
            SiteFamilies {
                duration,
                calls,
                errors,
            }
        })
    }

    /// Starts a call with these label values (in `label_keys` order). Counts the call
    /// when it ends.
    pub fn start(&'static self, values: &[&str]) -> CallGuard {
        let families = self.families();
        let calls = families.calls.as_ref().map(|f| f.with_labels(values));
        let duration = families.duration.as_ref().map(|f| f.with_labels(values));
        let owned_values = (families.errors.is_some() && calls.is_none() && duration.is_none())
            .then(|| values.iter().map(|v| Box::<str>::from(*v)).collect());
        CallGuard {
            errors: families.errors.as_ref(),
            calls,
            duration,
            owned_values,
            start: Instant::now(),
            done: false,
        }
    }
}

/// One call in progress; records when finished or dropped.
#[derive(Debug)]
pub struct CallGuard {
    errors: Option<&'static CounterFamily>,
    calls: Option<Counter>,
    duration: Option<Histogram>,
    owned_values: Option<Box<[Box<str>]>>,
    start: Instant,
    done: bool,
}

impl CallGuard {
    /// The call returned.
    pub fn finish(mut self, outcome: Outcome) {
        self.record(outcome.metric_error_type());
    }

    fn record(&mut self, error_type: Option<&'static str>) {
        self.done = true;
        if let Some(h) = &self.duration {
            h.observe_duration(self.start.elapsed());
        }
        if let Some(c) = &self.calls {
            c.inc();
        }
        if let (Some(errors), Some(error_type)) = (self.errors, error_type) {
            let mut values: Vec<&str> = if let Some(c) = &self.calls {
                c.label_values().collect()
            } else if let Some(h) = &self.duration {
                h.label_values().collect()
            } else {
                self.owned_values
                    .iter()
                    .flat_map(|v| v.iter().map(|s| &**s))
                    .collect()
            };
            values.push(error_type);
            errors.with_labels(&values).inc();
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.done {
            // Unwinding: a panic is an error. Otherwise the future was dropped before it
            // finished (cancelled): the call and its duration count, not as an error.
            let error = std::thread::panicking().then_some(PANIC_ERROR_KIND);
            self.record(error);
        }
    }
}

/// Counts calls at entry (`#[count_calls]`).
pub fn count_call(site: &'static MetricSite, values: &[&str]) {
    if let Some(f) = &site.families().calls {
        f.with_labels(values).inc();
    }
}
