//! [`CircuitState`]: closed, open or half-open.

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
