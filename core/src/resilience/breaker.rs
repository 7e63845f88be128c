//! [`CircuitBreaker`]: asks for permission, runs calls, reports their outcome.

use std::future::Future;
use std::sync::Arc;

use tokio::time::Instant;

use super::config::Settings;
use super::machine::Shared;
use super::{CallPermit, CircuitBreakerBuilder, CircuitBreakerError, CircuitOpen, CircuitState};
use crate::catalog;
use crate::registry::Registry;

/// A circuit breaker. Cheap to clone (clones share the state).
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

impl CircuitBreaker {
    /// A breaker named `name` (the `breaker` label: a fixed name such as `payments_api`).
    pub fn builder(name: impl Into<String>) -> CircuitBreakerBuilder {
        CircuitBreakerBuilder::new(name.into())
    }

    /// A closed breaker recording into `registry` (see [`CircuitBreakerBuilder::build`]).
    pub(super) fn new(settings: Settings, registry: &Registry) -> Self {
        let gauge = registry
            .gauge(&catalog::CIRCUIT_BREAKER_STATE)
            .with_labels(&[&settings.name]);
        let trips = registry
            .counter(&catalog::CIRCUIT_BREAKER_TRIPS_TOTAL)
            .with_labels(&[&settings.name]);
        gauge.set(CircuitState::Closed.gauge_value());
        Self {
            shared: Arc::new(Shared::new(settings, gauge, trips)),
        }
    }

    /// The breaker's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The current state (an open breaker whose timeout passed is half-open).
    #[must_use]
    pub fn state(&self) -> CircuitState {
        let mut m = self.shared.lock();
        self.shared.refresh(&mut m, Instant::now());
        m.state
    }

    /// Asks to make one call. Report its outcome on the permit; a permit dropped without one
    /// counts as neither (unless dropped by a panic, which is a failure).
    ///
    /// # Errors
    /// [`CircuitOpen`] when the breaker rejects the call.
    pub fn try_acquire(&self) -> Result<CallPermit, CircuitOpen> {
        let mut m = self.shared.lock();
        self.shared.refresh(&mut m, Instant::now());
        let rejected = |state| CircuitOpen {
            breaker: self.shared.name.clone(),
            state,
        };
        match m.state {
            CircuitState::Closed => {}
            CircuitState::Open => return Err(rejected(CircuitState::Open)),
            CircuitState::HalfOpen => {
                if m.in_flight >= self.shared.success_threshold {
                    return Err(rejected(CircuitState::HalfOpen));
                }
                m.in_flight += 1;
            }
        }
        Ok(CallPermit {
            shared: Arc::clone(&self.shared),
            generation: m.generation,
            half_open: m.state == CircuitState::HalfOpen,
            done: false,
        })
    }

    /// Runs `operation` unless the breaker is open; an `Err` counts as a failure.
    ///
    /// # Errors
    /// [`CircuitBreakerError::Open`] when rejected, [`CircuitBreakerError::Inner`] with the
    /// operation's error.
    pub async fn call<T, E, F, Fut>(&self, operation: F) -> Result<T, CircuitBreakerError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_with(operation, |_| true).await
    }

    /// Like [`call`](Self::call), counting an `Err` as a failure only when `is_failure` says so
    /// (for example, not a 404).
    ///
    /// # Errors
    /// [`CircuitBreakerError::Open`] when rejected, [`CircuitBreakerError::Inner`] with the
    /// operation's error.
    pub async fn call_with<T, E, F, Fut>(
        &self,
        operation: F,
        is_failure: impl FnOnce(&E) -> bool,
    ) -> Result<T, CircuitBreakerError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire().map_err(CircuitBreakerError::Open)?;
        match operation().await {
            Ok(v) => {
                permit.success();
                Ok(v)
            }
            Err(e) => {
                if is_failure(&e) {
                    permit.failure();
                } else {
                    permit.success();
                }
                Err(CircuitBreakerError::Inner(e))
            }
        }
    }
}
