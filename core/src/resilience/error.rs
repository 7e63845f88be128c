//! Why a call did not succeed: rejected ([`CircuitOpen`]) or failed on its own
//! ([`CircuitBreakerError`]).

use super::CircuitState;
use crate::instrument::{DEFAULT_ERROR_KIND, ErrorKind};

/// A call was rejected because the breaker is open (or half-open with its trial calls taken).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker `{breaker}` is {}: call rejected", state.as_str())]
pub struct CircuitOpen {
    pub(super) breaker: String,
    pub(super) state: CircuitState,
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

/// The result of [`CircuitBreaker::call`](super::CircuitBreaker::call): rejected, or the call's own error.
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

impl<E> ErrorKind for CircuitBreakerError<E> {
    fn error_kind(&self) -> &'static str {
        match self {
            Self::Open(_) => "circuit_open",
            Self::Inner(_) => DEFAULT_ERROR_KIND,
        }
    }
}
