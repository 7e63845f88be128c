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
//!
//! The breaker records through the public API only: a [`Registry`](crate::Registry) (the
//! process-wide one unless [`CircuitBreakerBuilder::registry`] or
//! [`CircuitBreakerBuilder::telemetry`] names another) and the catalog's
//! `circuit_breaker_*` descriptors.

mod breaker;
mod config;
mod error;
mod machine;
mod permit;
mod state;

pub use breaker::CircuitBreaker;
pub use config::{CircuitBreakerBuilder, CircuitBreakerConfigError};
pub use error::{CircuitBreakerError, CircuitOpen};
pub use permit::CallPermit;
pub use state::CircuitState;
