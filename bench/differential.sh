#!/usr/bin/env bash
# deeplog against ProbLog 2.3 on random first-order programs (facts,
# annotated disjunctions, recursion, negation (also through recursion),
# arithmetic, evidence): every answer must agree within 1e-6, or both must refuse.
# Programs where they differ are kept in target/differential/.
# Installs ProbLog (PyPI `problog`, with `pysdd`) into target/problog-venv on
# first use (bench/problog-venv.sh).
# Usage: bench/differential.sh [--programs N] [--seed S]   (default 1000, 1)
set -euo pipefail
cd "$(dirname "$0")/.."
problog=$(bench/problog-venv.sh)
cargo build --release --quiet --bin deeplog
mkdir -p bench/results
status=0
summary=$(python3 bench/differential.py --deeplog target/release/deeplog --problog "$problog" \
  --programs 1000 "$@") || status=$?
echo "$summary"
{
  echo "# deeplog vs ProbLog on random programs (bench/differential.sh${*:+ $*})"
  echo
  echo "$summary"
  echo
  echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC."
} >bench/results/differential.md.tmp
mv bench/results/differential.md.tmp bench/results/differential.md
exit "$status"
