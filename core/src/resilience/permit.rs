//! [`CallPermit`]: one call let through, and the report of how it went.

use std::sync::Arc;

use tokio::time::Instant;

use super::CircuitState;
use super::machine::Shared;

/// Permission for one call through a [`CircuitBreaker`].
#[derive(Debug)]
#[must_use = "report the call's outcome with `success()` or `failure()`"]
pub struct CallPermit {
    pub(super) shared: Arc<Shared>,
    pub(super) generation: u64,
    pub(super) half_open: bool,
    pub(super) done: bool,
}

impl CallPermit {
    /// The call succeeded.
    pub fn success(mut self) {
        self.done = true;
        let shared = Arc::clone(&self.shared);
        let mut m = shared.lock();
        shared.refresh(&mut m, Instant::now());
        if m.generation != self.generation || m.state != CircuitState::HalfOpen {
            return;
        }
        m.in_flight = m.in_flight.saturating_sub(1);
        m.successes += 1;
        if m.successes >= shared.success_threshold {
            m.failures.clear();
            shared.enter(&mut m, CircuitState::Closed);
        }
    }

    /// The call failed.
    pub fn failure(mut self) {
        self.done = true;
        self.fail();
    }

    fn fail(&self) {
        let shared = &self.shared;
        let mut m = shared.lock();
        let now = Instant::now();
        shared.refresh(&mut m, now);
        if m.generation != self.generation {
            return;
        }
        match m.state {
            CircuitState::Closed => {
                let window = shared.failure_window;
                while m
                    .failures
                    .front()
                    .is_some_and(|t| now.saturating_duration_since(*t) >= window)
                {
                    m.failures.pop_front();
                }
                m.failures.push_back(now);
                if m.failures.len() >= shared.failure_threshold as usize {
                    shared.trip(&mut m, now);
                }
            }
            CircuitState::HalfOpen => shared.trip(&mut m, now),
            CircuitState::Open => {}
        }
    }
}

impl Drop for CallPermit {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if std::thread::panicking() {
            self.fail();
        } else if self.half_open {
            let mut m = self.shared.lock();
            if m.generation == self.generation {
                m.in_flight = m.in_flight.saturating_sub(1);
            }
        }
    }
}
