#!/usr/bin/env bash
# deeplog from Python, side by side in one run: the circuit-level torch
# module against the Rust evaluator called directly and KLay's torch module
# on the shared circuits; then digit addition from Python
# (examples/python/digit_addition.py) against the Rust example.
# Uses the venv of the Python tests ($DEEPLOG_PYTHON_VENV, else
# ~/.cache/deeplog/venv; .ci/run makes it) and installs the package and
# KLay (klaycircuits) into it.
# Usage: bench/python.sh [DIGITS] [EPOCHS]          (default 2 30)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${DEEPLOG_PYTHON_VENV:-$HOME/.cache/deeplog/venv}
shared=${DEEPLOG_SHARED:-../shared/bench}
n=${1:-2}
epochs=${2:-30}
"$venv/bin/python" -c 'import klay' 2>/dev/null || "$venv/bin/pip" install --quiet klaycircuits
cargo build --release --quiet
cargo build --release --quiet --features candle --example digit_addition
PATH="$venv/bin:$PATH" CARGO_TARGET_DIR="$PWD/target/python" \
  "$venv/bin/pip" install --quiet --no-build-isolation --force-reinstall --no-deps ./python
mkdir -p bench/results
"$venv/bin/python" bench/python_bench.py --deeplog target/release/deeplog --shared "$shared" \
  --out bench/results/python.md
echo
echo "digit addition, N=$n, $epochs epochs:"
py=$("$venv/bin/python" examples/python/digit_addition.py "$n" "$epochs" | tail -1)
rs=$(target/release/examples/digit_addition "$n" "$epochs" | tail -1)
echo "python: $py"
echo "rust:   $rs"
{
  echo
  echo "Digit addition, N=$n, $epochs epochs (same split, network, optimiser and batches):"
  echo
  echo "- Python (\`examples/python/digit_addition.py\`): \`$py\`"
  echo "- Rust (\`examples/digit_addition\`): \`$rs\`"
} >> bench/results/python.md
