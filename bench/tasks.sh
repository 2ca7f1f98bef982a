#!/usr/bin/env bash
# deeplog's mpe and map vs ProbLog 2.3's on the shared benchmark families
# with evidence added (bench/tasks.py says how), whole processes, side by
# side; writes bench/results/tasks.md. Installs ProbLog into
# target/problog-venv on first use (bench/problog-venv.sh).
# Usage: bench/tasks.sh [--limit SECONDS]      (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
problog=$(bench/problog-venv.sh)
cargo build --release --quiet --bin deeplog
mkdir -p bench/results
python3 bench/tasks.py --deeplog target/release/deeplog --problog "$problog" --out bench/results/tasks.md "$@"
