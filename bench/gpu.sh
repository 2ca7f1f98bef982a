#!/usr/bin/env bash
# deeplog's GPU evaluator (wgpu) and CPU evaluator side by side on the shared
# benchmark circuits: forward and forward+backward passes, log-probability
# algebra in f32 on both, at several batch sizes; edges per second, the
# GPU/CPU ratio, and how far the GPU's roots and gradients are from the
# CPU's. Writes bench/results/gpu.md (the adapter's name in it).
#
# Usage: bench/gpu.sh [--batches 1,128,1024] [--repeat N] [--out FILE]
#                     [--circuits DIR] [--devices cpu,gpu]
#                     [--save FILE.json] [--cpu-from FILE.json]
#
# To compare a GPU on another machine with this machine's CPU (as
# bench/device.sh does): `--devices cpu --save cpu.json` here, then
# `--devices gpu --cpu-from cpu.json` there. DEEPLOG_BIN names a deeplog
# binary to use instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${DEEPLOG_BIN:-}" ]]; then
  cargo build --release --quiet
  export DEEPLOG_BIN=target/release/deeplog
fi
mkdir -p bench/results
exec python3 - "$@" <<'PY'
import argparse, json, math, os, platform, subprocess, sys, time

ap = argparse.ArgumentParser(prog="bench/gpu.sh")
ap.add_argument("--batches", default="1,128,1024")
ap.add_argument("--repeat", type=int, default=5)
ap.add_argument("--out", default="bench/results/gpu.md")
ap.add_argument("--circuits", default="../shared/bench/circuits")
ap.add_argument("--devices", default="cpu,gpu", help="which evaluators to run here: cpu, gpu or both")
ap.add_argument("--save", help="also write every run's JSON here")
ap.add_argument("--cpu-from", help="take the CPU's runs from this file (written by --save elsewhere)")
args = ap.parse_args()
names = ["sudoku_4", "road_r", "4-grid", "seq_fun", "cnf3_v46_c23_s1", "cnf3_v50_c25_s1"]
batches = [int(b) for b in args.batches.split(",")]
devices = set(args.devices.split(","))
if not devices <= {"cpu", "gpu"} or not devices:
    sys.exit(f"--devices {args.devices}: expected cpu, gpu or cpu,gpu")
deeplog = os.environ["DEEPLOG_BIN"]
env = dict(os.environ)
env.setdefault("XDG_RUNTIME_DIR", "/tmp")

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"

here = f"{cpu_model()}, {os.cpu_count()} threads"

def run(path, batch, device, repeat):
    cmd = [deeplog, "circuit", "eval", path, "--algebra", "log-f32", "--batch", str(batch),
           "--grad", "--repeat", str(repeat), "--json", "--device", device]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        # Reported, and the rest of the table still measured.
        print(f"{' '.join(cmd)} failed:\n{p.stderr}", file=sys.stderr)
        failures.append(f"{os.path.basename(path)}, batch {batch}, {device}: {p.stderr.strip()}")
        return None
    return json.loads(p.stdout)

failures = []
saved = {"cpu_host": None, "gpu_host": None, "runs": {}}
if args.cpu_from:
    with open(args.cpu_from) as f:
        before = json.load(f)
    saved["cpu_host"] = before["cpu_host"]
    saved["runs"] = {k: v for k, v in before["runs"].items() if k.endswith("/cpu")}

start = time.time()
for name in names:
    path = os.path.join(args.circuits, name + ".sdd")
    if not os.path.exists(path):
        print(f"skipped {name}: {path} is missing", file=sys.stderr)
        continue
    for batch in batches:
        if "cpu" in devices and (cpu := run(path, batch, "cpu", args.repeat)):
            saved["runs"][f"{name}/{batch}/cpu"] = cpu
            saved["cpu_host"] = here
        if "gpu" in devices:
            # One timed pass first; the median of --repeat passes where a
            # pass takes under a second (a software adapter takes tens of
            # seconds on the largest circuit; the whole run stays within
            # minutes).
            gpu = run(path, batch, "gpu", 1)
            if gpu and gpu["timing"]["forward_backward_s"] < 1.0:
                gpu = run(path, batch, "gpu", args.repeat)
            if gpu:
                saved["runs"][f"{name}/{batch}/gpu"] = gpu
                saved["gpu_host"] = here
        got = [saved["runs"].get(f"{name}/{batch}/{d}") for d in ("cpu", "gpu")]
        print(f"{name} batch {batch}: " + ", ".join(
            f"{d} {r['timing']['forward_backward_s']:.3g} s" for d, r in zip(("cpu", "gpu"), got) if r),
            file=sys.stderr)

if args.save:
    with open(args.save + ".tmp", "w") as f:
        json.dump(saved, f)
    os.replace(args.save + ".tmp", args.save)

def e(x):
    return f"{x:.3g}" if x is not None else "–"


def discrepancy(a, b):
    """The largest difference between the CPU's and GPU's roots and
    gradients (batch column 0), normalised as gpu/tests/agreement.rs does:
    a root (ln p) by max(1, |ln p|), a gradient by the column's largest
    |gradient| (an entry summing terms of both signs carries their
    rounding, not its own size's)."""
    # float(): the CLI writes non-finite numbers (log zero) as strings, "-inf".
    worst = 0.0
    def gap(x, y, scale):
        x, y = float(x), float(y)
        if x == y:
            return 0.0
        if not (math.isfinite(x) and math.isfinite(y)):
            return math.inf
        return abs(x - y) / scale
    for x, y in zip(a["roots"], b["roots"]):
        worst = max(worst, gap(x, y, max(1.0, abs(float(x)))))
    grads = [float(g) for g in a.get("gradient", []) if math.isfinite(float(g))]
    scale = max([abs(g) for g in grads] + [1e-30])
    for x, y in zip(a.get("gradient", []), b.get("gradient", [])):
        worst = max(worst, gap(x, y, scale))
    return worst

runs = saved["runs"]
adapter = next((r["device"] for k, r in runs.items() if k.endswith("/gpu")), None)
lines = [
    "# GPU vs CPU evaluator\n",
    f"GPU: {adapter or 'not run'}" + (f" (host: {saved['gpu_host']})" if saved["gpu_host"] else "") + ".",
    f"CPU: deeplog's CPU evaluator on {saved['cpu_host'] or 'not run'}"
    + (" (measured there, read from a saved file)." if args.cpu_from else "."),
    "Log-probability algebra in f32 on both; medians of repeated passes (a single pass where one",
    "takes over a second), each a whole call (upload of the batch's weights, the passes,",
    "read-back of roots and gradients). `max diff`: the largest difference between the CPU's",
    "and GPU's roots (ln p, over max(1, |ln p|)) and gradients (over the largest |gradient|),",
    "batch column 0, normalised as the agreement tests (gpu/tests/agreement.rs) do.\n",
    "| circuit | batch | edges | CPU fwd edges/s | GPU fwd edges/s | CPU fwd+bwd edges/s | GPU fwd+bwd edges/s "
    "| fwd+bwd GPU/CPU | max diff |",
    "|---|---|---|---|---|---|---|---|---|",
]
for name in names:
    for batch in batches:
        c, g = runs.get(f"{name}/{batch}/cpu"), runs.get(f"{name}/{batch}/gpu")
        if not c and not g:
            continue
        tc, tg = (c or {}).get("timing", {}), (g or {}).get("timing", {})
        edges = (tc or tg)["edges"]
        ratio = f"{tc['forward_backward_s'] / tg['forward_backward_s']:.2f}×" if c and g else "–"
        diff = f"{discrepancy(c, g):.1e}" if c and g else "–"
        lines.append(f"| {name} | {batch} | {edges} | {e(tc.get('edges_per_s_forward'))} "
                     f"| {e(tg.get('edges_per_s_forward'))} | {e(tc.get('edges_per_s_forward_backward'))} "
                     f"| {e(tg.get('edges_per_s_forward_backward'))} | {ratio} | {diff} |")
# The issue's targets: batch >= 1024, circuits of >= 1e5 edges, forward +
# backward at least 10x the CPU evaluator and at least 1e9 edges/s.
checked = []
for name in names:
    for batch in batches:
        c, g = runs.get(f"{name}/{batch}/cpu"), runs.get(f"{name}/{batch}/gpu")
        if c and g and batch >= 1024 and g["timing"]["edges"] >= 100_000:
            tc, tg = c["timing"], g["timing"]
            ratio = tc["forward_backward_s"] / tg["forward_backward_s"]
            rate = tg["edges_per_s_forward_backward"]
            met = ratio >= 10 and rate >= 1e9
            checked.append(met)
            lines.append(f"\n{name}, batch {batch}: fwd+bwd {ratio:.1f}× the CPU, {rate:.3g} edges/s: "
                         + ("targets met" if met else "targets NOT met") + " (≥ 10×, ≥ 1e9 edges/s).")
if checked:
    lines.append(f"\nTargets met in {sum(checked)} of {len(checked)} cases.")
for f in failures:
    lines.append(f"\nFailed: {f}")
lines.append(f"\nMeasured {time.strftime('%Y-%m-%d %H:%M')} in {time.time() - start:.0f} s.")
with open(args.out + ".tmp", "w") as f:
    f.write("\n".join(lines) + "\n")
os.replace(args.out + ".tmp", args.out)
print("\n".join(lines))
sys.exit(1 if failures else 0)
PY
