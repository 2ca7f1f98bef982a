#!/usr/bin/env bash
# deeplog vs DeepProbLog on digit addition: the same files (data, split,
# pairs), the same network (64-128-10 MLP), Adam at the same rate, the same
# batch size and epochs; time per epoch (median) and held-out accuracy side
# by side. Installs DeepProbLog (PyPI `deepproblog`, which brings torch)
# into target/deepproblog-venv on first use (several GB).
# Usage: bench/deepproblog.sh [N] [EPOCHS]       (default 2 30)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2}
epochs=${2:-30}
venv=${DPL_VENV:-target/deepproblog-venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import deepproblog" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet deepproblog
fi
data=target/digits-$n
python3 bench/digits/make_data.py "$n" "$data"
cargo build --release --quiet --features candle
target/release/deeplog train "$data/model.pl" --data "$data/train.jsonl" --test "$data/test.jsonl" \
  --inputs "$data/inputs.csv" --epochs "$epochs" --batch 16 --rate 3e-3 --seed 1 -o "$data/deeplog-weights.json" \
  --json > "$data/deeplog.jsonl"
"$venv/bin/python" bench/deepproblog/run_dpl.py "$data" --epochs "$epochs" --batch 16 --rate 3e-3 --seed 1 \
  --json > "$data/deepproblog.jsonl"
mkdir -p bench/results
python3 bench/digits/compare.py "$data" --deeplog target/release/deeplog --out bench/results/deepproblog.md
