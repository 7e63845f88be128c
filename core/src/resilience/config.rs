//! A breaker's settings: [`CircuitBreakerBuilder`] and the [`CircuitBreakerConfigError`] of a
//! setting that cannot work.

use std::time::Duration;

use super::CircuitBreaker;
use crate::registry::Registry;
use crate::telemetry::Telemetry;

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

/// The checked settings a breaker is built from.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub(super) name: String,
    pub(super) failure_threshold: u32,
    pub(super) failure_window: Duration,
    pub(super) open_timeout: Duration,
    pub(super) success_threshold: u32,
}

/// Settings of a [`CircuitBreaker`], from [`CircuitBreaker::builder`].
///
/// ```
/// use std::time::Duration;
///
/// let telemetry = unitel::Telemetry::new();
/// let breaker = unitel::resilience::CircuitBreaker::builder("payments_api")
///     .failure_threshold(3)
///     .open_timeout(Duration::from_secs(10))
///     .telemetry(&telemetry)
///     .build()?;
/// assert_eq!(breaker.name(), "payments_api");
/// assert!(unitel::prometheus::render_registry(telemetry.registry())
///     .contains("circuit_breaker_state{breaker=\"payments_api\"} 0"));
/// # Ok::<(), unitel::resilience::CircuitBreakerConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct CircuitBreakerBuilder {
    settings: Settings,
    registry: Option<Registry>,
}

impl CircuitBreakerBuilder {
    /// The defaults: 5 failures in 60 s open it, 30 s open, 1 trial call.
    pub(super) fn new(name: String) -> Self {
        Self {
            settings: Settings {
                name,
                failure_threshold: 5,
                failure_window: Duration::from_secs(60),
                open_timeout: Duration::from_secs(30),
                success_threshold: 1,
            },
            registry: None,
        }
    }

    /// Failures within the window that open the breaker (default 5).
    pub fn failure_threshold(mut self, failures: u32) -> Self {
        self.settings.failure_threshold = failures;
        self
    }

    /// How far back failures count (default 60 s).
    pub fn failure_window(mut self, window: Duration) -> Self {
        self.settings.failure_window = window;
        self
    }

    /// How long the breaker stays open before trial calls (default 30 s).
    pub fn open_timeout(mut self, timeout: Duration) -> Self {
        self.settings.open_timeout = timeout;
        self
    }

    /// Successful trial calls that close a half-open breaker, and how many may run at once
    /// (default 1).
    pub fn success_threshold(mut self, successes: u32) -> Self {
        self.settings.success_threshold = successes;
        self
    }

    /// Records into `registry` instead of the process-wide one.
    pub fn registry(mut self, registry: &Registry) -> Self {
        self.registry = Some(registry.clone());
        self
    }

    /// Records into the registry of `telemetry` instead of the process-wide one.
    pub fn telemetry(self, telemetry: &Telemetry) -> Self {
        self.registry(telemetry.registry())
    }

    /// The breaker, closed.
    ///
    /// # Errors
    /// [`CircuitBreakerConfigError`] for a zero threshold or duration.
    pub fn build(self) -> Result<CircuitBreaker, CircuitBreakerConfigError> {
        let s = &self.settings;
        let error = |setting, expected| CircuitBreakerConfigError {
            breaker: s.name.clone(),
            setting,
            expected,
        };
        if s.failure_threshold == 0 {
            return Err(error("failure_threshold", "must be at least 1"));
        }
        if s.success_threshold == 0 {
            return Err(error("success_threshold", "must be at least 1"));
        }
        if s.failure_window.is_zero() {
            return Err(error("failure_window", "must be longer than zero"));
        }
        if s.open_timeout.is_zero() {
            return Err(error("open_timeout", "must be longer than zero"));
        }
        let registry = match &self.registry {
            Some(registry) => registry,
            None => Telemetry::global().registry(),
        };
        Ok(CircuitBreaker::new(self.settings, registry))
    }
}
