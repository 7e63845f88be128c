#!/usr/bin/env bash
# The test command: everything CI runs, in the order a failure is cheapest to see.
# Usage: ./scripts/test.sh   (set UNITEL_REQUIRE_SERVICES=1 to fail instead of skip when a
# service such as PostgreSQL or Prometheus cannot be started)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

echo "== tests (default features)"
cargo test --workspace --no-fail-fast

echo "== unitel without OpenTelemetry (--no-default-features)"
cargo test -p unitel --no-default-features --no-fail-fast

echo "== benchmarks build, overhead driver smoke (1 s per mode, no timing asserted)"
bash bench/ci-smoke.sh
