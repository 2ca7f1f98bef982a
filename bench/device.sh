#!/usr/bin/env bash
# The GPU benchmark on a lent device machine (the workplace's `device` tool),
# prepared here so that the machine's few minutes go to measuring alone.
#
#   bench/device.sh prepare   # here: build, copy, measure the CPU side
#   bench/device.sh run       # there, through the device tool:
#       run(command: "bench/device.sh run", carry: [".device", ".gl"], timeout_s: 480)
#   (arguments after `run` go to bench/gpu.sh, e.g. --batches 1,1024)
#
# `prepare` writes, into folders git ignores (.git/info/exclude):
#   .device/bin/        a deeplog binary for any x86-64 CPU (the machine there
#                       has no Rust toolchain), and the GPU test binaries
#                       (agreement, large), stripped;
#   .device/circuits/   the shared benchmark circuits (../shared does not travel);
#   .device/cpu.json    this machine's CPU evaluator on them (bench/gpu.sh
#                       --devices cpu), the baseline the issue names;
#   .gl/                the Vulkan and GL loaders' Debian packages (that machine
#                       has NVIDIA's driver but may lack libvulkan.so.1, and
#                       NVIDIA's Vulkan driver needs libglvnd's libraries).
# `run` unpacks the loaders, runs bench/gpu.sh on the GPU against the saved CPU
# figures, then the GPU agreement and large-circuit tests, and leaves
# gpu.md, gpu.json and the logs in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."

prepare() {
  for p in /.device/ /.gl/; do
    grep -qxF "$p" .git/info/exclude 2>/dev/null || echo "$p" >>.git/info/exclude
  done
  # Baseline x86-64: the other machine's CPU is unknown, and only its GPU is
  # measured there. A target folder of its own keeps the native build intact.
  local flags=(--release --config profile.release.debug=false --config profile.release.strip=true)
  export CARGO_TARGET_DIR=target/portable RUSTFLAGS="-C target-cpu=x86-64"
  cargo build "${flags[@]}" --bin deeplog
  local tests
  tests=$(cargo test "${flags[@]}" -p deeplog-gpu --test agreement --test large --no-run --message-format=json |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"], m["executable"])')
  unset CARGO_TARGET_DIR RUSTFLAGS
  rm -rf .device && mkdir -p .device/bin .device/circuits
  cp target/portable/release/deeplog .device/bin/
  while read -r name exe; do cp "$exe" ".device/bin/$name"; done <<<"$tests"
  cp ../shared/bench/circuits/*.sdd .device/circuits/

  # The set the device tool's notes name for Vulkan and EGL on that machine.
  local loaders=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2) missing=()
  for p in "${loaders[@]}"; do ls .gl/"${p}"_*.deb >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    mkdir -p .gl /tmp/amd64/partial
    local o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
    apt-get "${o[@]}" update -qq
    (cd .gl && apt-get "${o[@]}" download "${missing[@]}")
  fi

  # The CPU side, with the binary CI builds here (native code).
  cargo build --release --quiet --bin deeplog
  DEEPLOG_BIN=target/release/deeplog bench/gpu.sh --devices cpu --save .device/cpu.json --out .device/cpu.md
  echo
  du -sh .device .gl
  echo "ready: run(command: \"bench/device.sh run\", carry: [\".device\", \".gl\"], timeout_s: 480)"
}

run() {
  : "${OUT:?run this on the device machine, where OUT is set}"
  exec > >(tee "$OUT/device.log") 2>&1
  date
  # Unpacked on every run, as the device tool's notes say: the machine
  # starts bare, and NVIDIA's Vulkan driver loads libglvnd's libraries even
  # where a Vulkan loader is present.
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
  export XDG_RUNTIME_DIR=/tmp
  local bin=.device/bin
  probe() { "$bin/deeplog" circuit eval .device/circuits/road_r.sdd --device gpu --json; }
  if ! probe; then
    # NVIDIA's Vulkan driver manifest where the loader may not look.
    local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [[ -f $icd ]] || icd=$(find / -xdev -name 'nvidia_icd*.json' 2>/dev/null | head -n 1)
    echo "retrying with VK_DRIVER_FILES=$icd"
    export VK_DRIVER_FILES=$icd
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    if ! probe; then
      ls /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1
      ldconfig -p | grep -E 'libvulkan|nvidia' | head -n 20
      echo "no GPU adapter: see above"
      exit 1
    fi
  fi
  date
  DEEPLOG_BIN=$bin/deeplog timeout 300 bench/gpu.sh --devices gpu --cpu-from .device/cpu.json \
    --circuits .device/circuits --save "$OUT/gpu.json" --out "$OUT/gpu.md" "$@" || echo "bench/gpu.sh failed: $?"
  date
  export DEEPLOG_REQUIRE_GPU=1 DEEPLOG_CIRCUITS=.device/circuits
  timeout 120 "$bin/agreement" --test-threads 8 || echo "agreement tests failed: $?"
  date
  timeout 60 "$bin/large" --nocapture || echo "large test failed: $?"
  date
}

case "${1:-}" in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  *) echo "usage: bench/device.sh prepare|run" >&2; exit 2 ;;
esac
