#!/usr/bin/env bash
# Independent checks of deeplog's answers on the shared programs that have no
# exact reference (ProbLog cannot answer them in time): a second compiler and
# Monte Carlo sampling with error bars (bench/sampler.py).
# Usage: bench/crosscheck.sh [--samples N] [--limit SECONDS] [--only PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
mkdir -p bench/results
python3 bench/crosscheck.py --deeplog target/release/deeplog \
  --out bench/results/crosscheck.md "$@"
