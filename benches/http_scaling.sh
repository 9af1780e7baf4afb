#!/usr/bin/env bash
# HTTP plaintext scaling from 1 to 2 workers: grove (1 hub / 2 hubs with SO_REUSEPORT),
# hyper (tokio current_thread / multi_thread with 2 workers), may_minihttp (1 / 2 workers).
# NOTE: this machine has 2 cores and wrk (-t2 -c100) shares them with the server, so the
# 2-worker numbers measure how well each server shares the box with its load generator, not
# pure scaling. Each configuration runs ROUNDS times interleaved; the median req/s is shown.
#
# Usage: benches/http_scaling.sh [DURATION_SECONDS=8] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
DUR=${1:-8}
ROUNDS=${2:-3}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
cargo build --release -q -p bench-servers
PORT=19100
RESULTS=$(mktemp)
for round in $(seq "$ROUNDS"); do
  for workers in 1 2; do
    for name in grove-plaintext hyper-plaintext may-minihttp-plaintext; do
      PORT=$((PORT + 1))
      WORKERS=$workers "target/release/$name" "127.0.0.1:$PORT" >/dev/null 2>&1 &
      pid=$!
      wait_http $PORT
      wrk -t2 -c100 -d2s "http://127.0.0.1:$PORT/" >/dev/null 2>&1
      rps=$(wrk -t2 -c100 -d"${DUR}s" "http://127.0.0.1:$PORT/" | awk '/Requests\/sec/ {print $2}')
      kill $pid; wait $pid 2>/dev/null || true
      echo "round $round: $name workers=$workers $rps req/s" >&2
      echo "$name $workers $rps" >> "$RESULTS"
    done
  done
done
echo
echo "| server | 1 worker req/s | 2 workers req/s | scaling |"
echo "|---|---|---|---|"
for name in grove-plaintext hyper-plaintext may-minihttp-plaintext; do
  m1=$(awk -v n="$name" '$1 == n && $2 == 1 {print $3}' "$RESULTS" | sort -n | awk -v r="$ROUNDS" 'NR == int((r + 1) / 2)')
  m2=$(awk -v n="$name" '$1 == n && $2 == 2 {print $3}' "$RESULTS" | sort -n | awk -v r="$ROUNDS" 'NR == int((r + 1) / 2)')
  echo "| $name | $m1 | $m2 | $(echo "scale=2; $m2 / $m1" | bc)x |"
done
rm -f "$RESULTS"
