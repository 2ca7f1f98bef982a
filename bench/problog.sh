#!/usr/bin/env bash
# deeplog vs ProbLog 2.3 on ../shared/bench/programs, each run as a whole
# process with a time limit, side by side. Installs ProbLog (PyPI `problog`,
# with `pysdd`) into target/problog-venv on first use.
# Usage: bench/problog.sh [--limit SECONDS] [--only PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/problog-venv
if [ ! -x "$venv/bin/problog" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet problog pysdd
fi
cargo build --release --quiet
mkdir -p bench/results
python3 bench/compare_problog.py --deeplog target/release/deeplog --problog "$venv/bin/problog" \
  --out bench/results/problog.md "$@"
