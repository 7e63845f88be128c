//! Real services for unitel's tests — no mocks.
//!
//! * [`otlp::OtlpReceiver`]: a real OTLP receiver (gRPC via tonic, plus OTLP/HTTP protobuf via
//!   hyper) on `127.0.0.1`, storing every export request, with runtime fault injection
//!   ([`otlp::ReceiverMode`], [`otlp::OtlpReceiver::stop`], [`otlp::OtlpReceiver::restart`]).
//! * [`services`]: PostgreSQL ([`postgres()`]), Prometheus ([`prometheus()`] /
//!   [`PrometheusBuilder`]) and `promtool` ([`promtool_check_metrics()`] and friends). Traces
//!   go to the OTLP receiver above (Jaeger runs only in the Docker stack, where
//!   `docker-compose.yml` is validated by the reference server's `stack_files` test).
//! * [`TcpProxy`]: a TCP proxy to put in front of any of them, for outages that work the same
//!   whether the service runs locally, in Docker or elsewhere.
//!
//! # How services are found
//!
//! Every external service is looked up in this order:
//!
//! 1. a URL in an environment variable (e.g. `UNITEL_TEST_DATABASE_URL`);
//! 2. a Docker engine, if one answers a ping (a [`testcontainers`] container is started; set
//!    `UNITEL_TEST_DOCKER=0` to never use Docker);
//! 3. locally installed binaries, started in a temporary directory on a free loopback port and
//!    killed (and the directory removed) on `Drop`;
//! 4. otherwise the test is **skipped** through [`skip_test`]: the function returns `None`
//!    after a banner that `cargo test` shows and a line in the skip log (`UNITEL_SKIP_LOG`,
//!    which `scripts/test.sh` counts and lists at the end). With `UNITEL_REQUIRE_SERVICES=1` it
//!    panics instead, so CI cannot silently skip.
//!
//! Anything else a test needs and may not have (a tool, a compiler version) goes through
//! [`skip_test`] too: it is the one way to skip a test in this workspace.
//!
//! ```no_run
//! # async fn demo() {
//! let Some(pg) = unitel_testkit::postgres().await else { return };
//! println!("{}", pg.url());
//! # }
//! ```

pub mod otlp;
mod proxy;
pub mod services;
mod skip;

use std::fmt;

/// The `opentelemetry-proto` crate this testkit is built on, re-exported so tests can build
/// export requests and use the generated tonic clients without another dependency.
pub use opentelemetry_proto;
pub use otlp::{OtlpReceiver, ReceivedMetric, ReceivedSpan, ReceiverMode};
pub use proxy::TcpProxy;
pub use services::{
    Backend, PostgresService, PrometheusBuilder, PrometheusService, ScrapeTarget, free_port,
    postgres, prometheus, promtool_check_metrics, promtool_check_rules, promtool_test_rules,
};
pub use skip::{SKIP_LOG_ENV, skip_test};

/// Error returned by the testkit's fallible helpers (queries, process start-up, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The human readable description of what went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Unwraps an `Option<Service>` or returns from the (unit-returning) test function.
///
/// `None` means the service is unavailable and the skip was already shown and recorded
/// ([`skip_test`]), so this is equivalent to `let Some(s) = expr else { return };`.
///
/// ```no_run
/// # async fn demo() {
/// let pg = unitel_testkit::service_or_skip!(unitel_testkit::postgres().await);
/// # let _ = pg;
/// # }
/// ```
#[macro_export]
macro_rules! service_or_skip {
    ($service:expr) => {
        match $service {
            ::core::option::Option::Some(service) => service,
            ::core::option::Option::None => return,
        }
    };
}

/// The directory of the package whose tests are running: `CARGO_MANIFEST_DIR` as cargo sets it
/// when it runs the test binary (the checkout under test), else `compiled` (pass
/// `env!("CARGO_MANIFEST_DIR")`, the directory the test was compiled in). Several checkouts can
/// share one `CARGO_TARGET_DIR`, and cargo may then reuse a test binary compiled in another
/// checkout, whose compile-time path no longer exists.
///
/// ```
/// let dir = unitel_testkit::package_dir(env!("CARGO_MANIFEST_DIR"));
/// assert!(dir.join("Cargo.toml").exists());
/// ```
#[must_use]
pub fn package_dir(compiled: &str) -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || std::path::PathBuf::from(compiled),
        std::path::PathBuf::from,
    )
}
