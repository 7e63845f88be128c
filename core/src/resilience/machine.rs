//! The state machine shared by a breaker, its clones and its permits.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::CircuitState;
use super::config::Settings;
use crate::registry::{Counter, Gauge};

#[derive(Debug)]
pub(super) struct Machine {
    pub(super) state: CircuitState,
    pub(super) failures: VecDeque<Instant>,
    pub(super) open_until: Option<Instant>,
    pub(super) successes: u32,
    pub(super) in_flight: u32,
    pub(super) generation: u64,
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) name: String,
    pub(super) failure_threshold: u32,
    pub(super) failure_window: Duration,
    pub(super) open_timeout: Duration,
    pub(super) success_threshold: u32,
    gauge: Gauge,
    trips: Counter,
    machine: Mutex<Machine>,
}

impl Shared {
    /// A closed breaker's state, reporting to `gauge` and `trips`.
    pub(super) fn new(settings: Settings, gauge: Gauge, trips: Counter) -> Self {
        Self {
            name: settings.name,
            failure_threshold: settings.failure_threshold,
            failure_window: settings.failure_window,
            open_timeout: settings.open_timeout,
            success_threshold: settings.success_threshold,
            gauge,
            trips,
            machine: Mutex::new(Machine {
                state: CircuitState::Closed,
                failures: VecDeque::new(),
                open_until: None,
                successes: 0,
                in_flight: 0,
                generation: 0,
            }),
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Machine> {
        self.machine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn enter(&self, m: &mut Machine, state: CircuitState) {
        m.state = state;
        m.generation += 1;
        m.successes = 0;
        m.in_flight = 0;
        self.gauge.set(state.gauge_value());
    }

    /// Moves an open breaker whose timeout has passed to half-open.
    pub(super) fn refresh(&self, m: &mut Machine, now: Instant) {
        if m.state == CircuitState::Open && m.open_until.is_some_and(|t| now >= t) {
            m.open_until = None;
            self.enter(m, CircuitState::HalfOpen);
        }
    }

    pub(super) fn trip(self: &Arc<Self>, m: &mut Machine, now: Instant) {
        m.failures.clear();
        let until = now + self.open_timeout;
        m.open_until = Some(until);
        self.enter(m, CircuitState::Open);
        self.trips.inc();
        schedule_half_open(Arc::downgrade(self), until);
    }
}

/// Wakes the breaker when its open timeout ends, if a tokio runtime with timers is running.
fn schedule_half_open(shared: Weak<Shared>, until: Instant) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    // Creating a timer panics at once when the runtime has no time driver: then the next call
    // or `state()` moves the breaker instead.
    let Ok(sleep) = std::panic::catch_unwind(|| tokio::time::sleep_until(until)) else {
        return;
    };
    handle.spawn(async move {
        sleep.await;
        if let Some(shared) = shared.upgrade() {
            let mut m = shared.lock();
            shared.refresh(&mut m, Instant::now());
        }
    });
}
