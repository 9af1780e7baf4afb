#!/usr/bin/env bash
# Plaintext "Hello, World!" over HTTP/1.1 keep-alive: grove-http (one hub), hyper on tokio
# current_thread, may_minihttp (one worker), each pinned to core 0, loaded by
# `wrk -t1 -c100` pinned to core 1. Reports req/s, latency and requests per server
# CPU-second (server utime+stime from /proc/PID/stat over the wrk run).
#
# The servers run in interleaved rounds (grove, hyper, may, grove, ...) and the table shows
# the median round of each, because this VM's run-to-run noise (±10%) is larger than the
# differences being measured. Every round's line is printed first.
#
# Usage: benches/http_plaintext.sh [DURATION_SECONDS=10] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
DUR=${1:-10}
ROUNDS=${2:-3}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
cargo build --release -q -p bench-servers
TICK=$(getconf CLK_TCK)
PORT=18900

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

RESULTS=$(mktemp)
for round in $(seq "$ROUNDS"); do
for name in grove-plaintext hyper-plaintext may-minihttp-plaintext; do
  PORT=$((PORT + 1))
  taskset -c 0 "target/release/$name" "127.0.0.1:$PORT" >/dev/null 2>&1 &
  pid=$!
  wait_http $PORT
  # warm up, then measure
  taskset -c 1 wrk -t1 -c100 -d2s "http://127.0.0.1:$PORT/" >/dev/null 2>&1
  before=$(cpu_ticks $pid)
  out=$(taskset -c 1 wrk -t1 -c100 -d"${DUR}s" --latency "http://127.0.0.1:$PORT/")
  after=$(cpu_ticks $pid)
  kill $pid; wait $pid 2>/dev/null || true
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  avg=$(echo "$out" | awk '/^    Latency/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  errs=$(echo "$out" | grep -E "Non-2xx|Socket errors" | tr '\n' ' ' || true)
  cpu=$(echo "scale=2; ($after - $before) / $TICK" | bc)
  per_cpu=$(echo "scale=0; $reqs / (($after - $before) / $TICK)" | bc)
  line="| $name | $rps | $avg | $p99 | $cpu | $per_cpu |${errs:+ $errs}"
  echo "round $round: $line" >&2
  echo "$per_cpu $line" >> "$RESULTS"
done
done
echo
printf "| server (median of %s rounds by req per CPU-s) | req/s | avg latency | p99 latency | server CPU-s | req per server CPU-s |\n" "$ROUNDS"
printf "|---|---|---|---|---|---|\n"
for name in grove-plaintext hyper-plaintext may-minihttp-plaintext; do
  grep " | $name | " "$RESULTS" | sort -n | awk -v n="$ROUNDS" 'NR == int((n + 1) / 2) {sub(/^[0-9]+ /, ""); print}'
done
rm -f "$RESULTS"
