#!/usr/bin/env bash
# Soak: `reference-server loadgen --read-only` for ten minutes against a release build of the
# reference server with the system collector on, sampling the server's resident memory and the
# number of series it exposes. Writes soak.csv, soak.svg (the chart) and summary.md (numbers
# for BENCHMARKS.md) into the output directory. Not part of CI.
#
# Usage: scripts/soak.sh [OUTPUT_DIR]          (default: $CARGO_TARGET_DIR/soak or target/soak)
# Environment:
#   SOAK_SECONDS      load duration (default 600)
#   SOAK_CONCURRENCY  loadgen workers (default 4)
#   SOAK_INTERVAL     seconds between samples (default 5)
#   SOAK_WARMUP       seconds excluded from the "flat after warm-up" numbers (default 240: the
#                     server's answer cache, 10 000 entries, fills in the first 3-4 minutes)
#   SOAK_PORT         port of the server on 127.0.0.1 (default 18181)
#   SOAK_OTLP         an OTLP endpoint to export spans to (default: none; spans are not exported)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${SOAK_SECONDS:-600}"
concurrency="${SOAK_CONCURRENCY:-4}"
interval="${SOAK_INTERVAL:-5}"
warmup="${SOAK_WARMUP:-240}"
port="${SOAK_PORT:-18181}"
target_dir="${CARGO_TARGET_DIR:-target}"
out="${1:-$target_dir/soak}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "soak: port $port is in use (set SOAK_PORT)" >&2
  exit 1
fi

echo "== cargo build --release -p reference-server"
cargo build --release -p reference-server
bin="$target_dir/release/reference-server"

work="$(mktemp -d -t unitel-soak-XXXXXX)"
server_pid=""
loadgen_pid=""
cleanup() {
  [ -n "$loadgen_pid" ] && kill "$loadgen_pid" 2>/dev/null || true
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

base="http://127.0.0.1:$port"
env_otlp=()
if [ -n "${SOAK_OTLP:-}" ]; then
  env_otlp=(OTEL_EXPORTER_OTLP_ENDPOINT="$SOAK_OTLP")
fi
env BIND_ADDR="127.0.0.1:$port" \
  DATABASE_URL="sqlite://$work/soak.db" \
  UNITEL_SYSTEM_METRICS=true \
  UNITEL_SYSTEM_METRICS_INTERVAL_MS=1000 \
  RUST_LOG=warn \
  "${env_otlp[@]}" \
  "$bin" >"$out/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 100); do
  curl -fsS "$base/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/health" >/dev/null

echo "== loadgen --read-only for ${seconds}s with $concurrency workers; a sample every ${interval}s"
"$bin" loadgen --target "$base" --duration "$seconds" --concurrency "$concurrency" --read-only \
  >"$out/loadgen.txt" 2>&1 &
loadgen_pid=$!

csv="$out/soak.csv"
echo "elapsed_s,rss_bytes,series,families,collector_rss_bytes,requests_total,indexed_chunks" >"$csv"
started=$(date +%s.%N)
sample() {
  local now elapsed rss metrics series families collector requests chunks
  now=$(date +%s.%N)
  elapsed=$(awk -v a="$started" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
  rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$server_pid/status")
  metrics=$(curl -fsS "$base/metrics")
  series=$(printf '%s\n' "$metrics" | grep -cv '^#')
  families=$(printf '%s\n' "$metrics" | grep -c '^# TYPE ')
  collector=$(printf '%s\n' "$metrics" | awk '$1 == "process_resident_memory_bytes" { print $2 }')
  requests=$(printf '%s\n' "$metrics" | awk '/^http_requests_total[{ ]/ { s += $NF } END { printf "%d", s }')
  chunks=$(curl -fsS "$base/health" | sed -n 's/.*"indexed_chunks":\([0-9]*\).*/\1/p')
  echo "$elapsed,$rss,$series,$families,${collector:-0},$requests,${chunks:-0}" >>"$csv"
}
while kill -0 "$loadgen_pid" 2>/dev/null; do
  sample
  sleep "$interval"
done
wait "$loadgen_pid"
loadgen_pid=""
sample

awk -f scripts/soak-chart.awk -v warmup="$warmup" "$csv" >"$out/soak.svg"
awk -f scripts/soak-summary.awk -v warmup="$warmup" -v seconds="$seconds" \
  -v concurrency="$concurrency" "$csv" >"$out/summary.md"

echo "== loadgen"
cat "$out/loadgen.txt"
echo "== summary ($out)"
cat "$out/summary.md"
echo "csv: $csv"
echo "chart: $out/soak.svg"
