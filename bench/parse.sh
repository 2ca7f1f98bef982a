#!/usr/bin/env bash
# Parse-and-check speed: 1,000,000 ground probabilistic facts (about 27 MB),
# timed as a whole `deeplog check` process (what a user waits for).
# Usage: bench/parse.sh   (prints the runs, the median and MB/s)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
file=target/facts_1m.pl
if [ ! -f "$file" ]; then
  python3 - "$file" <<'PY'
import sys
with open(sys.argv[1] + ".tmp", "w") as f:
    for i in range(1_000_000):
        f.write("0.5::edge(%d, %d).\n" % (i * 7 % 1_000_003, i * 13 % 999_983))
    f.write("path(X, Y) :- edge(X, Y).\npath(X, Y) :- edge(X, Z), path(Z, Y).\nquery(path(1, 2)).\n")
import os; os.replace(sys.argv[1] + ".tmp", sys.argv[1])
PY
fi
python3 - "$file" <<'PY'
import os, statistics, subprocess, sys, time
path = sys.argv[1]
size = os.path.getsize(path) / 1e6
subprocess.run(["target/release/deeplog", "check", path], check=True, capture_output=True)  # warm-up
runs = []
for _ in range(5):
    t = time.perf_counter()
    subprocess.run(["target/release/deeplog", "check", path], check=True, capture_output=True)
    runs.append(time.perf_counter() - t)
m = statistics.median(runs)
print("runs (s):", " ".join(f"{r:.2f}" for r in runs))
print(f"{size:.1f} MB, median {m:.2f} s, {size / m:.1f} MB/s (target: under 2 s)")
PY
