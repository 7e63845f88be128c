//! The circuit breaker, driven by a paused tokio clock: state transitions, the state gauge and
//! the trip counter.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use unitel::Registry;
use unitel::resilience::{CircuitBreaker, CircuitBreakerError, CircuitState};

const WINDOW: Duration = Duration::from_secs(60);
const OPEN_FOR: Duration = Duration::from_secs(30);

fn breaker(registry: &Registry, name: &str, failures: u32, successes: u32) -> CircuitBreaker {
    CircuitBreaker::builder(name)
        .failure_threshold(failures)
        .failure_window(WINDOW)
        .open_timeout(OPEN_FOR)
        .success_threshold(successes)
        .registry(registry)
        .build()
        .unwrap()
}

fn gauge(registry: &Registry, name: &str) -> f64 {
    registry
        .gauge(&unitel::catalog::CIRCUIT_BREAKER_STATE)
        .with_labels(&[name])
        .value()
}

fn trips(registry: &Registry, name: &str) -> f64 {
    registry
        .counter(&unitel::catalog::CIRCUIT_BREAKER_TRIPS_TOTAL)
        .with_labels(&[name])
        .value()
}

async fn fail(b: &CircuitBreaker) -> Result<(), CircuitBreakerError<&'static str>> {
    b.call(|| async { Err("down") }).await
}

async fn succeed(b: &CircuitBreaker) -> Result<u32, CircuitBreakerError<&'static str>> {
    b.call(|| async { Ok(1) }).await
}

/// Lets spawned timer tasks run after the clock moved.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn opens_after_n_failures_in_the_window_and_rejects_without_calling() {
    let registry = Registry::new();
    let b = breaker(&registry, "payments", 3, 1);
    assert_eq!(gauge(&registry, "payments"), 0.0);
    fail(&b).await.unwrap_err();
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), CircuitState::Closed);
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(gauge(&registry, "payments"), 1.0);
    assert_eq!(trips(&registry, "payments"), 1.0);

    let ran = AtomicUsize::new(0);
    let r = b
        .call(|| async {
            ran.fetch_add(1, Ordering::SeqCst);
            Ok::<_, &str>(())
        })
        .await;
    match r {
        Err(CircuitBreakerError::Open(open)) => {
            assert_eq!(open.state(), CircuitState::Open);
            assert_eq!(open.breaker(), "payments");
            assert!(open.to_string().contains("payments"));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn failures_older_than_the_window_do_not_count() {
    let registry = Registry::new();
    let b = breaker(&registry, "window", 2, 1);
    fail(&b).await.unwrap_err();
    tokio::time::advance(WINDOW + Duration::from_secs(1)).await;
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), CircuitState::Closed);
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(trips(&registry, "window"), 1.0);
}

#[tokio::test(start_paused = true)]
async fn half_open_after_the_timeout_even_without_calls() {
    let registry = Registry::new();
    let b = breaker(&registry, "idle", 1, 1);
    fail(&b).await.unwrap_err();
    assert_eq!(gauge(&registry, "idle"), 1.0);
    tokio::time::advance(OPEN_FOR - Duration::from_millis(1)).await;
    settle().await;
    assert_eq!(gauge(&registry, "idle"), 1.0);
    tokio::time::advance(Duration::from_millis(1)).await;
    settle().await;
    // The timer task moved it; nobody called.
    assert_eq!(gauge(&registry, "idle"), 2.0);
    assert_eq!(b.state(), CircuitState::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn half_open_closes_after_m_successes_and_limits_trial_calls() {
    let registry = Registry::new();
    let b = breaker(&registry, "trial", 1, 2);
    fail(&b).await.unwrap_err();
    tokio::time::sleep(OPEN_FOR).await;
    assert_eq!(b.state(), CircuitState::HalfOpen);

    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    let third = b.try_acquire().unwrap_err();
    assert_eq!(third.state(), CircuitState::HalfOpen);
    p1.success();
    assert_eq!(b.state(), CircuitState::HalfOpen);
    assert_eq!(gauge(&registry, "trial"), 2.0);
    p2.success();
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(gauge(&registry, "trial"), 0.0);
    assert_eq!(trips(&registry, "trial"), 1.0);
    assert_eq!(succeed(&b).await.unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_trial_opens_it_again_and_counts_a_trip() {
    let registry = Registry::new();
    let b = breaker(&registry, "flaky", 1, 1);
    fail(&b).await.unwrap_err();
    tokio::time::sleep(OPEN_FOR).await;
    assert_eq!(b.state(), CircuitState::HalfOpen);
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(gauge(&registry, "flaky"), 1.0);
    assert_eq!(trips(&registry, "flaky"), 2.0);
    // A dropped trial permit frees its slot without an outcome.
    tokio::time::sleep(OPEN_FOR).await;
    drop(b.try_acquire().unwrap());
    assert_eq!(succeed(&b).await.unwrap(), 1);
    assert_eq!(b.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn outcomes_of_calls_started_before_a_transition_are_ignored() {
    let registry = Registry::new();
    let b = breaker(&registry, "stale", 2, 1);
    let slow = b.try_acquire().unwrap();
    fail(&b).await.unwrap_err();
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), CircuitState::Open);
    slow.success(); // started while closed: does not close the open breaker
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(trips(&registry, "stale"), 1.0);
}

#[tokio::test(start_paused = true)]
async fn only_classified_errors_are_failures_and_panics_are() {
    let registry = Registry::new();
    let b = breaker(&registry, "classified", 2, 1);
    for _ in 0..5 {
        let r = b
            .call_with(|| async { Err::<(), u16>(404) }, |status| *status >= 500)
            .await;
        assert!(matches!(r, Err(CircuitBreakerError::Inner(404))));
    }
    assert_eq!(b.state(), CircuitState::Closed);

    let b2 = b.clone();
    let panicked = tokio::spawn(async move {
        let _ = b2
            .call(|| async {
                if b2_should_panic() {
                    panic!("client bug");
                }
                Ok::<(), ()>(())
            })
            .await;
    })
    .await;
    assert!(panicked.unwrap_err().is_panic());
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), CircuitState::Open);
}

fn b2_should_panic() -> bool {
    true
}

#[tokio::test(start_paused = true)]
async fn concurrent_failures_trip_it_once() {
    let registry = Registry::new();
    let b = Arc::new(breaker(&registry, "herd", 5, 1));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let b = Arc::clone(&b);
            tokio::spawn(async move { fail(&b).await })
        })
        .collect();
    let mut rejected = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Err(CircuitBreakerError::Open(_))) {
            rejected += 1;
        }
    }
    assert_eq!(rejected, 45);
    assert_eq!(trips(&registry, "herd"), 1.0);
    assert_eq!(gauge(&registry, "herd"), 1.0);
}

#[test]
fn settings_that_cannot_work_are_rejected_by_name() {
    for (b, setting) in [
        (
            CircuitBreaker::builder("x").failure_threshold(0),
            "failure_threshold",
        ),
        (
            CircuitBreaker::builder("x").success_threshold(0),
            "success_threshold",
        ),
        (
            CircuitBreaker::builder("x").failure_window(Duration::ZERO),
            "failure_window",
        ),
        (
            CircuitBreaker::builder("x").open_timeout(Duration::ZERO),
            "open_timeout",
        ),
    ] {
        let err = b.build().unwrap_err();
        assert_eq!(err.setting(), setting);
        assert!(err.to_string().contains(setting), "{err}");
    }
}

#[test]
fn without_a_runtime_the_next_call_moves_it_to_half_open() {
    let registry = Registry::new();
    let b = CircuitBreaker::builder("no_runtime")
        .failure_threshold(1)
        .open_timeout(Duration::from_millis(20))
        .registry(&registry)
        .build()
        .unwrap();
    b.try_acquire().unwrap().failure();
    assert_eq!(b.state(), CircuitState::Open);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while b.state() != CircuitState::HalfOpen && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(b.state(), CircuitState::HalfOpen);
    assert_eq!(gauge(&registry, "no_runtime"), 2.0);
}
