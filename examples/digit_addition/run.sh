#!/usr/bin/env bash
# Digit addition: a digit classifier trained only from sums of N images.
# Usage: examples/digit_addition/run.sh N EPOCHS
# The last line reads:
#   digits=N epochs=E sum_accuracy=A digit_accuracy=D seconds_per_epoch=S
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release --quiet --features candle --example digit_addition -- "${1:-2}" "${2:-30}"
