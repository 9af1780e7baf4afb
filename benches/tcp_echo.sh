#!/usr/bin/env bash
# TCP echo, 100 connections, one hub / one thread: grove, tokio current_thread, may (1 worker).
# Each server pinned to core 0; the same client (`echo-load`: 100 greenlets, 64-byte messages,
# one in flight per connection) pinned to core 1. Interleaved rounds, median by msgs/s.
#
# With WORKERS=2 in the environment, every server runs 2 hubs/workers and nothing is pinned:
# server and client then share the machine's 2 cores (scaling run).
#
# Usage: [WORKERS=1|2] benches/tcp_echo.sh [SECONDS=8] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-8}
ROUNDS=${2:-3}
export WORKERS=${WORKERS:-1}
if [ "$WORKERS" = 1 ]; then PIN_S="taskset -c 0"; PIN_C="taskset -c 1"; else PIN_S=""; PIN_C=""; fi
cargo build --release -q -p bench-servers
TICK=$(getconf CLK_TCK)
PORT=19300
RESULTS=$(mktemp)
for round in $(seq "$ROUNDS"); do
  for name in grove-echo tokio-echo may-echo; do
    PORT=$((PORT + 1))
    $PIN_S "target/release/$name" "127.0.0.1:$PORT" >/dev/null 2>&1 &
    pid=$!
    sleep 0.3
    before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    read -r msgs rate p50 p99 < <($PIN_C target/release/echo-load "127.0.0.1:$PORT" 100 "$SECS")
    after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill $pid; wait $pid 2>/dev/null || true
    cpu=$(echo "scale=2; ($after - $before) / $TICK" | bc)
    per_cpu=$(echo "scale=0; $msgs / (($after - $before) / $TICK)" | bc)
    line="| $name | $rate | $p50 µs | $p99 µs | $cpu | $per_cpu |"
    echo "round $round: $line" >&2
    echo "$rate $line" >> "$RESULTS"
  done
done
echo
echo "| server (median of $ROUNDS rounds) | msgs/s | p50 latency | p99 latency | server CPU-s | msgs per server CPU-s |"
echo "|---|---|---|---|---|---|"
for name in grove-echo tokio-echo may-echo; do
  grep " | $name | " "$RESULTS" | sort -n | awk -v n="$ROUNDS" 'NR == int((n + 1) / 2) {sub(/^[0-9.]+ /, ""); print}'
done
rm -f "$RESULTS"
