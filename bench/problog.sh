#!/usr/bin/env bash
# deeplog vs ProbLog 2.3 on ../shared/bench/programs, each run as a whole
# process with a time limit, side by side. Installs ProbLog (PyPI `problog`,
# with `pysdd`) into target/problog-venv on first use (bench/problog-venv.sh).
# Usage: bench/problog.sh [--limit SECONDS] [--only PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
problog=$(bench/problog-venv.sh)
cargo build --release --quiet
mkdir -p bench/results
python3 bench/compare_problog.py --deeplog target/release/deeplog --problog "$problog" \
  --out bench/results/problog.md "$@"
