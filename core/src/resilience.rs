//! A circuit breaker that keeps `circuit_breaker_state{breaker}` and
//! `circuit_breaker_trips_total{breaker}` true.
//!
//! Closed: calls pass; `failure_threshold` failures within `failure_window` open it (a trip).
//! Open: calls are rejected until `open_timeout` has passed, then it is half-open.
//! Half-open: up to `success_threshold` trial calls pass; that many successes close it, one
//! failure opens it again.
//!
//! ```
//! use std::time::Duration;
//! use unitel::resilience::{CircuitBreaker, CircuitBreakerError, CircuitState};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let breaker = CircuitBreaker::builder("llm_provider")
//!     .failure_threshold(2)
//!     .failure_window(Duration::from_secs(60))
//!     .open_timeout(Duration::from_secs(30))
//!     .success_threshold(1)
//!     .build()?;
//!
//! for _ in 0..2 {
//!     let r: Result<(), _> = breaker.call(|| async { Err::<(), _>("provider down") }).await;
//!     assert!(matches!(r, Err(CircuitBreakerError::Inner("provider down"))));
//! }
//! assert_eq!(breaker.state(), CircuitState::Open);
//! let rejected = breaker.call(|| async { Ok::<_, &str>(1) }).await;
//! assert!(matches!(rejected, Err(CircuitBreakerError::Open(_))));
//!
//! tokio::time::sleep(Duration::from_secs(30)).await;
//! assert_eq!(breaker.state(), CircuitState::HalfOpen);
//! assert_eq!(breaker.call(|| async { Ok::<_, &str>(1) }).await.unwrap(), 1);
//! assert_eq!(breaker.state(), CircuitState::Closed);
//!
//! let text = unitel::prometheus::render();
//! assert!(text.contains("circuit_breaker_state{breaker=\"llm_provider\"} 0"));
//! assert!(text.contains("circuit_breaker_trips_total{breaker=\"llm_provider\"} 1"));
//! # Ok::<(), unitel::resilience::CircuitBreakerConfigError>(())
//! # }).unwrap();
//! ```
//!
//! Time is `tokio::time`, so tests drive a breaker with a paused clock. When the breaker opens
//! inside a tokio runtime with timers, a task moves it to half-open when the timeout ends, so
//! the gauge changes even without traffic; otherwise the next call or
//! [`CircuitBreaker::state`] does.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::time::Instant;

use crate::Registry;
use crate::catalog;
use crate::registry::{Counter, Gauge};

/// The state of a breaker; its gauge value is 0, 1 or 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls pass.
    Closed,
    /// Calls are rejected.
    Open,
    /// A limited number of trial calls pass.
    HalfOpen,
}

impl CircuitState {
    /// Value of `circuit_breaker_state`: 0 closed, 1 open, 2 half-open.
    #[must_use]
    pub const fn gauge_value(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::Open => 1.0,
            Self::HalfOpen => 2.0,
        }
    }

    /// `closed`, `open` or `half_open`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// A breaker setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker `{breaker}`: `{setting}` {expected}")]
pub struct CircuitBreakerConfigError {
    breaker: String,
    setting: &'static str,
    expected: &'static str,
}

impl CircuitBreakerConfigError {
    /// The builder setting at fault.
    #[must_use]
    pub fn setting(&self) -> &'static str {
        self.setting
    }
}

/// A call was rejected because the breaker is open (or half-open with its trial calls taken).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker `{breaker}` is {}: call rejected", state.as_str())]
pub struct CircuitOpen {
    breaker: String,
    state: CircuitState,
}

impl CircuitOpen {
    /// The breaker's name.
    #[must_use]
    pub fn breaker(&self) -> &str {
        &self.breaker
    }

    /// The state that rejected the call.
    #[must_use]
    pub fn state(&self) -> CircuitState {
        self.state
    }
}

/// The result of [`CircuitBreaker::call`]: rejected, or the call's own error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CircuitBreakerError<E> {
    /// The breaker rejected the call without running it.
    Open(CircuitOpen),
    /// The call ran and failed.
    Inner(E),
}

impl<E: std::fmt::Display> std::fmt::Display for CircuitBreakerError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Open(open) => open.fmt(f),
            Self::Inner(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for CircuitBreakerError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Open(open) => Some(open),
            Self::Inner(e) => Some(e),
        }
    }
}

impl<E> crate::instrument::ErrorKind for CircuitBreakerError<E> {
    fn error_kind(&self) -> &'static str {
        match self {
            Self::Open(_) => "circuit_open",
            Self::Inner(_) => crate::instrument::DEFAULT_ERROR_KIND,
        }
    }
}

/// Settings of a [`CircuitBreaker`].
#[derive(Debug, Clone)]
#[must_use]
pub struct CircuitBreakerBuilder {
    name: String,
    failure_threshold: u32,
    failure_window: Duration,
    open_timeout: Duration,
    success_threshold: u32,
    registry: Option<Registry>,
}

impl CircuitBreakerBuilder {
    /// Failures within the window that open the breaker (default 5).
    pub fn failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = failures;
        self
    }

    /// How far back failures count (default 60 s).
    pub fn failure_window(mut self, window: Duration) -> Self {
        self.failure_window = window;
        self
    }

    /// How long the breaker stays open before trial calls (default 30 s).
    pub fn open_timeout(mut self, timeout: Duration) -> Self {
        self.open_timeout = timeout;
        self
    }

    /// Successful trial calls that close a half-open breaker, and how many may run at once
    /// (default 1).
    pub fn success_threshold(mut self, successes: u32) -> Self {
        self.success_threshold = successes;
        self
    }

    /// Records into `registry` instead of the process-wide one.
    pub fn registry(mut self, registry: &Registry) -> Self {
        self.registry = Some(registry.clone());
        self
    }

    /// The breaker, closed.
    ///
    /// # Errors
    /// [`CircuitBreakerConfigError`] for a zero threshold or duration.
    pub fn build(self) -> Result<CircuitBreaker, CircuitBreakerConfigError> {
        let error = |setting, expected| CircuitBreakerConfigError {
            breaker: self.name.clone(),
            setting,
            expected,
        };
        if self.failure_threshold == 0 {
            return Err(error("failure_threshold", "must be at least 1"));
        }
        if self.success_threshold == 0 {
            return Err(error("success_threshold", "must be at least 1"));
        }
        if self.failure_window.is_zero() {
            return Err(error("failure_window", "must be longer than zero"));
        }
        if self.open_timeout.is_zero() {
            return Err(error("open_timeout", "must be longer than zero"));
        }
        let registry = self.registry.unwrap_or_else(|| crate::registry().clone());
        let gauge = registry
            .gauge(&catalog::CIRCUIT_BREAKER_STATE)
            .with_labels(&[&self.name]);
        let trips = registry
            .counter(&catalog::CIRCUIT_BREAKER_TRIPS_TOTAL)
            .with_labels(&[&self.name]);
        gauge.set(CircuitState::Closed.gauge_value());
        Ok(CircuitBreaker {
            shared: Arc::new(Shared {
                name: self.name,
                failure_threshold: self.failure_threshold,
                failure_window: self.failure_window,
                open_timeout: self.open_timeout,
                success_threshold: self.success_threshold,
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
            }),
        })
    }
}

#[derive(Debug)]
struct Machine {
    state: CircuitState,
    failures: VecDeque<Instant>,
    open_until: Option<Instant>,
    successes: u32,
    in_flight: u32,
    generation: u64,
}

#[derive(Debug)]
struct Shared {
    name: String,
    failure_threshold: u32,
    failure_window: Duration,
    open_timeout: Duration,
    success_threshold: u32,
    gauge: Gauge,
    trips: Counter,
    machine: Mutex<Machine>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Machine> {
        self.machine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn enter(&self, m: &mut Machine, state: CircuitState) {
        m.state = state;
        m.generation += 1;
        m.successes = 0;
        m.in_flight = 0;
        self.gauge.set(state.gauge_value());
    }

    /// Moves an open breaker whose timeout has passed to half-open.
    fn refresh(&self, m: &mut Machine, now: Instant) {
        if m.state == CircuitState::Open && m.open_until.is_some_and(|t| now >= t) {
            m.open_until = None;
            self.enter(m, CircuitState::HalfOpen);
        }
    }

    fn trip(self: &Arc<Self>, m: &mut Machine, now: Instant) {
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

/// A circuit breaker. Cheap to clone (clones share the state).
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

impl CircuitBreaker {
    /// A breaker named `name` (the `breaker` label: a fixed name such as `payments_api`).
    pub fn builder(name: impl Into<String>) -> CircuitBreakerBuilder {
        CircuitBreakerBuilder {
            name: name.into(),
            failure_threshold: 5,
            failure_window: Duration::from_secs(60),
            open_timeout: Duration::from_secs(30),
            success_threshold: 1,
            registry: None,
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

/// Permission for one call through a [`CircuitBreaker`].
#[derive(Debug)]
#[must_use = "report the call's outcome with `success()` or `failure()`"]
pub struct CallPermit {
    shared: Arc<Shared>,
    generation: u64,
    half_open: bool,
    done: bool,
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
