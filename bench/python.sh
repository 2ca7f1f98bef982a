#!/usr/bin/env bash
# deeplog from Python, side by side in one run: the circuit-level torch
# module against the Rust evaluator called directly and KLay's torch module
# on the shared circuits; then digit addition from Python
# (examples/python/digit_addition.py) against the Rust example and
# DeepProbLog (bench/deepproblog/run_dpl.py on the same images and split,
# DPL_EPOCHS epochs, default 3: each takes DeepProbLog seconds).
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
py_out=$("$venv/bin/python" examples/python/digit_addition.py "$n" "$epochs")
py=$(echo "$py_out" | tail -1)
share=$(echo "$py_out" | grep "engine share" || true)
rs=$(target/release/examples/digit_addition "$n" "$epochs" | tail -1)
echo "python: $py ($share)"
echo "rust:   $rs"
dpl_venv=${DPL_VENV:-target/deepproblog-venv}
if [ ! -x "$dpl_venv/bin/python" ] || ! "$dpl_venv/bin/python" -c "import deepproblog" 2>/dev/null; then
  python3 -m venv "$dpl_venv"
  "$dpl_venv/bin/pip" install --quiet deepproblog
fi
python3 bench/digits/make_data.py "$n" "target/digits-$n"
dpl=$("$dpl_venv/bin/python" bench/deepproblog/run_dpl.py "target/digits-$n" --epochs "${DPL_EPOCHS:-3}" \
  --batch 16 --rate 3e-3 --seed 1 2>/dev/null | tail -1)
echo "deepproblog: $dpl"
{
  echo
  echo "Digit addition, N=$n, $epochs epochs (same split, network, optimiser and batches):"
  echo
  echo "- Python (\`examples/python/digit_addition.py\`): \`$py\` — $share"
  echo "- Rust (\`examples/digit_addition\`): \`$rs\`"
  echo "- DeepProbLog (\`bench/deepproblog/run_dpl.py\`, ${DPL_EPOCHS:-3} epochs, median): \`$dpl\`"
} >> bench/results/python.md
