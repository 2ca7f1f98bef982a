#!/usr/bin/env bash
# Independent checks of deeplog's answers on the shared programs that have no
# exact reference (ProbLog cannot answer them in time): a second compiler and
# ProbLog's sampler with error bars. Installs ProbLog into target/problog-venv
# on first use, like bench/problog.sh.
# Usage: bench/crosscheck.sh [--samples N] [--limit SECONDS] [--only PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/problog-venv
if [ ! -x "$venv/bin/problog" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet problog pysdd
fi
cargo build --release --quiet
mkdir -p bench/results
python3 bench/crosscheck.py --deeplog target/release/deeplog --problog "$venv/bin/problog" \
  --out bench/results/crosscheck.md "$@"
