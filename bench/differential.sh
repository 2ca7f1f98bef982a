#!/usr/bin/env bash
# deeplog against ProbLog 2.3 on random first-order programs (facts,
# annotated disjunctions, recursion, stratified negation, arithmetic,
# evidence): every answer must agree within 1e-6, or both must refuse.
# Programs where they differ are kept in target/differential/.
# Installs ProbLog (PyPI `problog`, with `pysdd`) into target/problog-venv on
# first use, as bench/problog.sh does.
# Usage: bench/differential.sh [--programs N] [--seed S]   (default 1000, 1)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/problog-venv
if [ ! -x "$venv/bin/problog" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet problog pysdd
fi
cargo build --release --quiet --bin deeplog
mkdir -p bench/results
status=0
summary=$(python3 bench/differential.py --deeplog target/release/deeplog --problog "$venv/bin/problog" \
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
