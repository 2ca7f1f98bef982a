#!/usr/bin/env bash
# deeplog (ours, examples/python/digit_addition.py's loop) vs DeepLog's own
# Python package (PyPI `pydeeplog` 5.0 with its mvsdd extra, import name
# `deeplog`) on digit addition, N = 1, 2, 3, 4 digits: same data, split,
# network, seeds, optimizer, batches. Writes bench/results/pydeeplog.md.
# Usage: bench/pydeeplog/run.sh [EPOCHS]      (default 5)
# ROUNDS (default 3): each side trains ROUNDS times per N, alternating (ours,
# pydeeplog, ours, ...); the s/epoch reported is the median of all
# ROUNDS x EPOCHS epoch times (training is deterministic, so every round does
# the same work and must give the same accuracies, which table.py checks).
# Interpreters: OURS_PY (default /root/.cache/deeplog/venv/bin/python, with our
# `deeplog`), PYDEEPLOG_PY (default target/pydeeplog-venv/bin/python, with
# pydeeplog[mvsdd]); neither is installed into here. THREADS (default 1): the
# torch (OpenMP) threads of both sides. With 2 threads on this 2-core machine,
# any other load makes torch's thread team stall (epochs of the same work
# varying 50x), so both sides run on one thread unless told otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
epochs=${1:-5}
ours=${OURS_PY:-/root/.cache/deeplog/venv/bin/python}
theirs=${PYDEEPLOG_PY:-target/pydeeplog-venv/bin/python}
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
logs=$(mktemp -d "${TMPDIR:-/tmp}/bench-pydeeplog.XXXXXX")
{
  echo "Interpreters: ours: $("$ours" bench/pydeeplog/versions.py); pydeeplog: $("$theirs" bench/pydeeplog/versions.py pydeeplog mv-sdd klaycircuits)."
  echo "Machine: $(getconf _NPROCESSORS_ONLN) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
} > "$logs/env.txt"
rounds=${ROUNDS:-3}
for n in 1 2 3 4; do
  for r in $(seq 1 "$rounds"); do
    echo "== N=$n round $r: deeplog" >&2
    PYTHONPATH=bench/pydeeplog "$ours" bench/pydeeplog/run_deeplog.py "$n" "$epochs" 2>&1 | tee "$logs/deeplog-$n-$r.log" >&2
    echo "== N=$n round $r: pydeeplog" >&2
    PYTHONPATH=bench/pydeeplog "$theirs" bench/pydeeplog/run_pydeeplog.py "$n" "$epochs" 2>&1 | tee "$logs/pydeeplog-$n-$r.log" >&2
  done
  echo "== N=$n: examples/python/digit_addition.py, unmodified (mean s/epoch, as a check)" >&2
  (cd examples/python && "$ours" digit_addition.py "$n" "$epochs") 2>&1 | tee "$logs/example-$n.log" >&2
done
echo "Machine: load average at end: $(cut -d' ' -f1-3 /proc/loadavg)." >> "$logs/env.txt"
echo "logs in $logs" >&2
python3 bench/pydeeplog/table.py "$logs" "$epochs" "$rounds" bench/results/pydeeplog.md
