#!/usr/bin/env bash
# Equality saturation (egg, `--optimize on`) on the compiled shared programs
# and the shared circuits: edges, layers and forward+backward time before and
# after, optimisation time against compile time, and what `auto` decides, in
# one run. Writes bench/results/optimize.md. Takes about ten minutes on 2 cores.
# Usage: bench/optimize.sh [SHARED_BENCH_DIR] [--max-compile SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example optimize_bench
mkdir -p bench/results
out=bench/results/optimize.md
target/release/examples/optimize_bench "${@:-../shared/bench}" > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
