#!/usr/bin/env bash
# Coverage-guided fuzzing of every reader (libFuzzer through cargo-fuzz).
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Each target runs for SECONDS (default 60) under a 4 GiB memory cap
# (libFuzzer's -rss_limit_mb and -malloc_limit_mb: a larger allocation, or a
# process past it, is a finding) and a 10 s limit per input. Corpora grow in
# fuzz/target/corpus/TARGET, seeded from fuzz/corpus/TARGET; findings land in
# fuzz/artifacts/TARGET. The summary gives each target's inputs run and
# findings. Needs `cargo install cargo-fuzz`; on a stable toolchain the
# sanitizer flags are allowed by RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model sdd vtree nnf json_circuit dimacs scene_graph training_data parameters)
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O --sanitizer none >/dev/null
total=0
printf '%-14s %12s %9s\n' target inputs findings
for t in "${targets[@]}"; do
  mkdir -p "target/corpus/$t" "artifacts/$t"
  before=$(ls "artifacts/$t" | wc -l)
  seeds=("corpus/$t")
  [ "$t" = model ] && seeds+=(../examples/models ../examples/smokers)
  cargo fuzz run -O --sanitizer none "$t" "target/corpus/$t" "${seeds[@]}" -- \
    -max_total_time="$secs" -rss_limit_mb=4096 -malloc_limit_mb=4096 -timeout=10 \
    -print_final_stats=1 >"target/$t.log" 2>&1 || true
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "target/$t.log" | grep -o '[0-9]*$' | tail -1)
  after=$(ls "artifacts/$t" | wc -l)
  printf '%-14s %12s %9s\n' "$t" "${runs:-?}" "$((after - before))"
  total=$((total + ${runs:-0}))
done
printf '%-14s %12s\n' all "$total"
