#!/usr/bin/env bash
# deeplog vs KLay on the shared SDD circuits, side by side in one run.
# Usage: bench/klay.sh [--quick]
# Sets up KLay (PyPI klaycircuits + JAX) in target/klay-venv on first use,
# builds deeplog in release mode, prints a Markdown table and writes it to
# bench/results/klay.md.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/klay-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import klay, jax' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet klaycircuits "jax[cpu]" numpy
fi
cargo build --release --quiet
mkdir -p bench/results
python3 bench/compare_klay.py --deeplog target/release/deeplog --python "$venv/bin/python" \
  --out bench/results/klay.md "$@"
