#!/usr/bin/env bash
# CI smoke test of unitel-bench: every benchmark builds, and the overhead driver runs every mode
# of both frameworks for 1 s (one run, no warm-up) and exits non-zero unless each mode produced a
# row and passed its checks (the route in /metrics, spans received). No timing is asserted.
# Load only ever targets 127.0.0.1. Uses the `bench` profile, so it reuses what
# `cargo bench --no-run` built.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo bench -p unitel-bench --no-run
cargo run --profile bench -p unitel-bench --bin overhead -- --smoke
