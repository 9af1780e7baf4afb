#!/usr/bin/env bash
# The seeds' answer to "all cores" (N processes, one hub each, sharing a SO_REUSEPORT port:
# `grove serve --workers N`) against N hubs in one process (`grove serve --hubs N`), HTTP
# plaintext under wrk. Reports req/s, p99 latency, and the resident memory of the whole
# server (supervisor and workers). NOTE: on this 2-core machine wrk shares the cores with the
# server. Interleaved rounds; the median by req/s is shown.
#
# Usage: benches/workers_vs_hubs.sh [N=2] [DURATION_SECONDS=6] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
N=${1:-2}
DUR=${2:-6}
ROUNDS=${3:-3}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
cargo build --release -q -p grove-cli
PORT=19500
RESULTS=$(mktemp)
# Resident KiB of a process and its children.
tree_rss() {
  local total=0
  for p in $1 $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo $total
}
for round in $(seq "$ROUNDS"); do
  for mode in hubs workers; do
    PORT=$((PORT + 1))
    target/release/grove serve -b "127.0.0.1:$PORT" "--$mode" "$N" >/dev/null 2>&1 &
    pid=$!
    wait_http $PORT
    wrk -t2 -c100 -d2s "http://127.0.0.1:$PORT/" >/dev/null 2>&1
    out=$(wrk -t2 -c100 -d"${DUR}s" --latency "http://127.0.0.1:$PORT/")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    rss=$(tree_rss $pid)
    kill $pid; wait $pid 2>/dev/null || true
    echo "round $round: --$mode $N: $rps req/s, p99 $p99, RSS $rss KiB" >&2
    echo "$rps --$mode $rps $p99 $rss" >> "$RESULTS"
  done
done
echo
echo "| grove serve (median of $ROUNDS rounds) | req/s | p99 latency | server RSS (KiB) |"
echo "|---|---|---|---|"
for mode in hubs workers; do
  grep -- " --$mode " "$RESULTS" | sort -n | awk -v n="$ROUNDS" -v N="$N" \
    'NR == int((n + 1) / 2) {print "| " $2 " " N " | " $3 " | " $4 " | " $5 " |"}'
done
rm -f "$RESULTS"
