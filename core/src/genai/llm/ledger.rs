//! The exact running totals behind `llm_cost_dollars_total`: each series keeps its cost in
//! pico-dollars and the counter is moved to that total (rounded once), so many small costs do
//! not drift.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::Cost;
use super::cost::pico_to_dollars;
use crate::registry::Counter;

/// Most series a ledger map holds; beyond it costs are added as plain floats.
const MAX_LEDGERS: usize = 4096;

/// The ledgers of one `llm_cost_dollars_total` family, by provider and model.
#[derive(Default)]
pub(super) struct CostLedgers {
    by_provider: Mutex<HashMap<&'static str, HashMap<Box<str>, Ledger>>>,
}

/// The exact running cost of one `llm_cost_dollars_total` series.
struct Ledger {
    exact: u128,
    /// Part of the counter this ledger did not add (other writers), in dollars.
    foreign: f64,
    /// The counter value after this ledger's last update.
    last_seen: f64,
}

impl CostLedgers {
    /// Adds `cost` to `counter` (the `{provider, model}` series), keeping the counter equal to
    /// the exact running total (rounded once) rather than a sum of rounded costs.
    pub(super) fn add(&self, counter: &Counter, provider: &'static str, model: &str, cost: Cost) {
        if cost == Cost::ZERO {
            // A priced call that cost nothing still shows its series (at 0): a dashboard's
            // spend panel then reads "0 USD/h" instead of "no data".
            counter.add(0);
            return;
        }
        let mut ledgers = self
            .by_provider
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let total: usize = ledgers.values().map(HashMap::len).sum();
        let by_model = ledgers.entry(provider).or_default();
        if !by_model.contains_key(model) {
            if total >= MAX_LEDGERS {
                drop(ledgers);
                counter.add_f64(cost.as_dollars());
                return;
            }
            let now = counter.value();
            by_model.insert(
                model.into(),
                Ledger {
                    exact: 0,
                    foreign: now,
                    last_seen: now,
                },
            );
        }
        if let Some(ledger) = by_model.get_mut(model) {
            ledger.record(counter, cost);
        }
    }
}

impl Ledger {
    fn record(&mut self, counter: &Counter, cost: Cost) {
        let current = counter.value();
        if current != self.last_seen {
            self.foreign += current - self.last_seen;
        }
        self.exact = self.exact.saturating_add(cost.pico_dollars());
        let desired = self.foreign + pico_to_dollars(self.exact);
        let delta = desired - current;
        if delta > 0.0 {
            counter.add_f64(delta);
            self.last_seen = current + delta;
        } else {
            self.last_seen = current;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use crate::registry::Registry;

    #[test]
    fn ledger_tracks_the_exact_total() {
        let registry = Registry::new();
        let counter = registry
            .counter(&catalog::LLM_COST_DOLLARS_TOTAL)
            .with_labels(&["openai", "m"]);
        let ledgers = CostLedgers::default();
        for _ in 0..100_000 {
            ledgers.add(&counter, "openai", "m", Cost::from_pico_dollars(15_000_000));
        }
        assert_eq!(counter.value(), 1.5);
    }
}
