#!/usr/bin/env bash
# 100,000 concurrent idle greenlets (blocked in sleep) on one hub, and the memory each costs.
# First at the machine's own vm.max_map_count — below ~131k mappings this shows the clear
# error grove gives when the kernel refuses another stack — then, when run as root, with the
# limit raised to 262144 for the run and restored afterwards.
#
#   ci/idle_100k.sh [GREENLETS=100000]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
cargo build --release -q -p grove --example idle_memory
bin=target/release/examples/idle_memory
orig=$(cat /proc/sys/vm/max_map_count)
echo "== vm.max_map_count = $orig"
"$bin" "$n" 2>&1 || true
if [ "$(id -u)" -eq 0 ] && [ "$orig" -lt 262144 ]; then
    trap 'sysctl -q -w vm.max_map_count="$orig"' EXIT
    sysctl -q -w vm.max_map_count=262144
    echo "== vm.max_map_count = $(cat /proc/sys/vm/max_map_count) (raised for this run)"
    "$bin" "$n"
fi
