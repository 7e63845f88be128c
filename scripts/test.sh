#!/usr/bin/env bash
# The test command: everything CI runs, in the order a failure is cheapest to see.
# Usage: ./scripts/test.sh   (set UNITEL_REQUIRE_SERVICES=1 to fail instead of skip when a
# service such as PostgreSQL or Prometheus cannot be started)
#
# A test that cannot run what it needs skips through unitel_testkit::skip_test, which appends a
# line to $UNITEL_SKIP_LOG. At the end this prints how many tests skipped and which; with CI or
# UNITEL_REQUIRE_SERVICES set, any skip makes the command fail.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/rust-toolchain.sh

UNITEL_SKIP_LOG="$(mktemp "${TMPDIR:-/tmp}/unitel-skips.XXXXXX")"
export UNITEL_SKIP_LOG

is_set() {
  case "${1:-}" in
    "" | 0 | false | no | off) return 1 ;;
    *) return 0 ;;
  esac
}

report_skips() {
  local status=$?
  local count
  # One line per skipped test (a test may record several missing services).
  count="$(cut -f1,2 "$UNITEL_SKIP_LOG" | sort -u | grep -c . || true)"
  echo
  if [ "$count" -eq 0 ]; then
    echo "== 0 skipped tests"
  else
    echo "== $count skipped test(s):"
    sort -u "$UNITEL_SKIP_LOG" | awk -F'\t' '{ printf "  [%s] %s: %s unavailable: %s\n", $1, $2, $3, $4 }'
    if is_set "${CI:-}" || is_set "${UNITEL_REQUIRE_SERVICES:-}"; then
      echo "== a skipped test is a failure here (CI or UNITEL_REQUIRE_SERVICES is set)"
      [ "$status" -ne 0 ] || status=1
    fi
  fi
  rm -f "$UNITEL_SKIP_LOG"
  exit "$status"
}
trap report_skips EXIT

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
