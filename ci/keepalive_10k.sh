#!/usr/bin/env bash
# 10,000 concurrent keep-alive connections held by one hub with requests flowing: the
# grove-http plaintext server (one hub, pinned to core 0) under `wrk -t1 -c10000` (core 1),
# next to hyper on tokio current_thread under the same load in the same run.
#
# Shows, per server: established connections on the server port sampled mid-run (ss), the
# server's open fds and RSS idle and loaded (so memory per connection), TCP connects opened
# by the whole machine during the run (/proc/net/snmp ActiveOpens: 10,000 means every
# connection stayed open and was reused, no reconnect churn), wrk's requests, errors, latency.
#
#   ci/keepalive_10k.sh [SECONDS=20] [CONNECTIONS=10000]
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
DUR=${1:-20}
CONNS=${2:-10000}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
# Each side holds CONNS fds: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((CONNS + 100)) ] || { echo "ulimit -n too low for $CONNS connections"; exit 1; }
cargo build --release -q -p bench-servers
PORT=19100

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
active_opens() { awk '/^Tcp:/ {n++} /^Tcp:/ && n == 2 {print $6}' /proc/net/snmp; }

printf "| server | established mid-run | server fds | RSS idle → loaded (KiB) | per connection | connects during run | requests | req/s | p99 | errors |\n"
printf "|---|---|---|---|---|---|---|---|---|---|\n"
for name in grove-plaintext hyper-plaintext; do
  PORT=$((PORT + 1))
  taskset -c 0 "target/release/$name" "127.0.0.1:$PORT" >/dev/null 2>&1 &
  pid=$!
  wait_http $PORT
  idle=$(rss_kib $pid)
  opens0=$(active_opens)
  out_file=$(mktemp)
  taskset -c 1 wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 10s --latency \
      "http://127.0.0.1:$PORT/" >"$out_file" 2>&1 &
  wrk_pid=$!
  sleep $((DUR / 2))
  est=$(ss -Htn state established "( sport = :$PORT )" | wc -l)
  fds=$(ls "/proc/$pid/fd" | wc -l)
  loaded=$(rss_kib $pid)
  wait $wrk_pid
  opens=$(( $(active_opens) - opens0 ))
  kill $pid; wait $pid 2>/dev/null || true
  out=$(cat "$out_file"); rm -f "$out_file"
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errs=$(echo "$out" | grep -E "Non-2xx|Socket errors" | tr '\n' ' ' | sed 's/  */ /g' || true)
  per=$(( (loaded - idle) * 1024 / CONNS ))
  echo "| $name | $est | $fds | $idle → $loaded | $per B | $opens | $reqs | $rps | $p99 | ${errs:-none} |"
done
