//! The read side of a registry: what exporters see. [`Registry::families`] lists the families
//! in registration order, each family gives a [`FamilySnapshot`](super::FamilySnapshot) of its
//! series (sorted by label values, the overflow series last), and values are read from the
//! series' cells as they are written out. The registry never calls an exporter.

use std::sync::{Arc, PoisonError};

use super::cell::{CounterCell, GaugeCell, HistogramCell};
use super::family::Family;
use super::shared::Shared;
use super::{MetricDefinition, Registry};

/// A family of any kind, as the registry lists it.
#[derive(Clone, Debug)]
pub(crate) enum AnyFamily {
    Counter(Arc<Family<CounterCell>>),
    Gauge(Arc<Family<GaugeCell>>),
    Histogram(Arc<Family<HistogramCell>>),
}

impl AnyFamily {
    pub(crate) fn def(&self) -> &MetricDefinition {
        match self {
            Self::Counter(f) => &f.def,
            Self::Gauge(f) => &f.def,
            Self::Histogram(f) => &f.def,
        }
    }
}

impl Registry {
    /// Every family, in registration order.
    pub(crate) fn families(&self) -> Vec<AnyFamily> {
        self.inner
            .families
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .list
            .clone()
    }

    /// The state shared with the families: exporters count their failures there and keep
    /// their own hints (such as the size of the last exposition).
    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }
}
