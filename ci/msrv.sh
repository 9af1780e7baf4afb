#!/usr/bin/env bash
# The declared MSRV (workspace `rust-version`) as far as one newer toolchain can check it:
#
# - our own code: clippy's `incompatible_msrv` lint (on by default, reads `rust-version`)
#   flags std items stabilised after it; `.ci/run` runs clippy with -D warnings.
# - dependencies: this script. Every crate that a user of grove, grove-http, grove-patch or
#   the grove CLI compiles (normal and build dependencies, this host's target, as locked)
#   must not declare a newer `rust-version`. Dev-dependencies (criterion, rcgen, may, ...)
#   are exempt: they build the tests and benchmarks, not the crates.
#
# The workspace uses resolver 3, so `cargo update` already prefers versions that fit.
set -euo pipefail
cd "$(dirname "$0")/.."

msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
host=$(rustc -vV | sed -n 's/^host: //p')
echo "== dependencies of the published crates vs rust-version $msrv ($host)"

cargo tree --locked -q -e normal,build --target "$host" \
  -p grove -p grove-http -p grove-patch -p grove-cli --prefix none -f '{p}' |
  sed 's/ (\*)$//; s/ (proc-macro)$//' | sort -u >"${TMPDIR:-/tmp}/grove-msrv-tree.txt"

cargo metadata --locked --format-version 1 >"${TMPDIR:-/tmp}/grove-msrv-meta.json"

python3 - "$msrv" "${TMPDIR:-/tmp}/grove-msrv-tree.txt" "${TMPDIR:-/tmp}/grove-msrv-meta.json" <<'EOF'
import json, sys

msrv, tree_file, meta_file = sys.argv[1:4]
meta = json.load(open(meta_file))

def version(s):
    return tuple(int(p) for p in s.split("+")[0].split("-")[0].split("."))

declared = {(p["name"], p["version"]): p.get("rust_version") for p in meta["packages"]}
used = set()
for line in open(tree_file):
    parts = line.split()
    if len(parts) >= 2 and parts[1].startswith("v"):
        used.add((parts[0], parts[1][1:]))
missing = sorted(used - declared.keys())
if missing:
    sys.exit(f"msrv: not in cargo metadata: {missing}")
too_new = sorted(
    (name, ver, rv) for (name, ver) in used
    if (rv := declared[(name, ver)]) and version(rv) > version(msrv)
)
for name, ver, rv in too_new:
    print(f"  {name} {ver} needs Rust {rv}")
print(f"msrv: {len(used)} crates checked, {len(too_new)} need a newer Rust than {msrv}")
sys.exit(1 if too_new else 0)
EOF
