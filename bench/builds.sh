#!/usr/bin/env bash
# This tree's deeplog against another build of it (a baseline binary, e.g.
# built from the commit before a refactor), side by side in one run: the
# shared programs' answers and whole-process times, and the shared circuits'
# forward+backward passes. Writes bench/results/builds.md; exits 1 if any
# answer differs.
# Usage: bench/builds.sh BASELINE_BINARY [--limit SECONDS] [--rounds N] [--only PREFIX,...]
#   e.g. git worktree add /tmp/base HEAD~5 && (cd /tmp/base && cargo build --release --bin deeplog)
#        bench/builds.sh /tmp/base/target/release/deeplog
set -euo pipefail
cd "$(dirname "$0")/.."
baseline=$1
shift
cargo build --release --quiet --bin deeplog
mkdir -p bench/results
python3 bench/compare_builds.py --new target/release/deeplog --baseline "$baseline" --out bench/results/builds.md "$@"
