#!/usr/bin/env bash
# Builds and runs every example of the workspace (crates/*/examples/*.rs), each with a time limit, and
# fails if any fails or overruns. Every example uses only 127.0.0.1 and ends by itself.
#
#   ci/examples.sh                 debug build (what `cargo test` has already built)
#   PROFILE=release ci/examples.sh
#   LIMIT=120 ci/examples.sh       seconds per example (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."

limit="${LIMIT:-60}"
profile_flag=()
profile_dir=debug
if [ "${PROFILE:-debug}" = release ]; then
  profile_flag=(--release)
  profile_dir=release
fi
# The binaries are run directly: `cargo run -p PKG` would resolve features for PKG alone
# and could rebuild inside the time limit.
bin_dir="${CARGO_TARGET_DIR:-target}/$profile_dir/examples"

# The profiling examples take a size; a small one keeps them quick here.
args_for() {
  case "$1" in
    idle_memory) echo 1000 ;;
    pingpong) echo 10000 ;;
    spawnjoin) echo 1000 ;;
    first_spawns) echo grove 1000 ;;
    *) echo "" ;;
  esac
}

echo "== cargo build --workspace --examples ${profile_flag[*]}"
cargo build -q --workspace --examples "${profile_flag[@]}"

passed=0
failed=()
for file in crates/*/examples/*.rs; do
  pkg=$(sed -n 's/^name = "\(.*\)"/\1/p' "$(dirname "$(dirname "$file")")/Cargo.toml" | head -n1)
  name=$(basename "$file" .rs)
  echo "== $pkg: $name $(args_for "$name")"
  start=$(date +%s)
  # shellcheck disable=SC2046 # the size is one word or none
  if timeout --kill-after=5 "$limit" "$bin_dir/$name" $(args_for "$name") >"${TMPDIR:-/tmp}/grove-example.out" 2>&1; then
    passed=$((passed + 1))
    echo "   ok in $(($(date +%s) - start)) s"
  else
    status=$?
    [ "$status" = 124 ] && status="timed out after ${limit} s"
    echo "   FAILED ($status); its output:"
    sed 's/^/   | /' "${TMPDIR:-/tmp}/grove-example.out"
    failed+=("$pkg/$name")
  fi
done

echo "examples: ${passed} passed, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}"
  exit 1
fi
