#!/usr/bin/env bash
# deeplog's GPU evaluator (wgpu) and CPU evaluator side by side on the shared
# benchmark circuits: forward and forward+backward passes, log-probability
# algebra in f32 on both, at several batch sizes; edges per second and the
# GPU/CPU ratio. Writes bench/results/gpu.md (the adapter's name in it).
# Usage: bench/gpu.sh [--batches 1,128,1024] [--repeat N] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
mkdir -p bench/results
exec python3 - "$@" <<'PY'
import argparse, json, os, statistics, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--batches", default="1,128,1024")
ap.add_argument("--repeat", type=int, default=5)
ap.add_argument("--out", default="bench/results/gpu.md")
ap.add_argument("--circuits", default="../shared/bench/circuits")
args = ap.parse_args()
names = ["sudoku_4", "road_r", "4-grid", "seq_fun", "cnf3_v46_c23_s1", "cnf3_v50_c25_s1"]
batches = [int(b) for b in args.batches.split(",")]
deeplog = "target/release/deeplog"
env = dict(os.environ)
env.setdefault("XDG_RUNTIME_DIR", "/tmp")

def run(path, batch, device, repeat):
    cmd = [deeplog, "circuit", "eval", path, "--algebra", "log-f32", "--batch", str(batch),
           "--grad", "--repeat", str(repeat), "--json", "--device", device]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr}")
    return json.loads(p.stdout)

rows, adapter = [], None
start = time.time()
for name in names:
    path = os.path.join(args.circuits, name + ".sdd")
    if not os.path.exists(path):
        print(f"skipped {name}: {path} is missing", file=sys.stderr)
        continue
    for batch in batches:
        # One timed pass first; the median of --repeat passes where a pass
        # takes under a second (a software adapter takes tens of seconds
        # on the largest circuit, and the whole run stays within minutes).
        cpu = run(path, batch, "cpu", args.repeat)
        gpu = run(path, batch, "gpu", 1)
        if gpu["timing"]["forward_backward_s"] < 1.0:
            gpu = run(path, batch, "gpu", args.repeat)
        adapter = gpu["device"]
        t_c, t_g = cpu["timing"], gpu["timing"]
        rows.append((name, batch, t_c["edges"], t_c["edges_per_s_forward"], t_g["edges_per_s_forward"],
                     t_c["edges_per_s_forward_backward"], t_g["edges_per_s_forward_backward"],
                     t_c["forward_backward_s"], t_g["forward_backward_s"]))
        print(f"{name} batch {batch}: cpu {t_c['forward_backward_s']:.3g} s, gpu {t_g['forward_backward_s']:.3g} s",
              file=sys.stderr)

def e(x):
    return f"{x:.3g}"

lines = [
    f"# GPU vs CPU evaluator\n",
    f"GPU: {adapter}. CPU: this machine's evaluator ({os.cpu_count()} threads).",
    "Log-probability algebra in f32 on both; medians of repeated passes (a single pass where one",
    "takes over a second), each a whole call (upload of the batch's weights, the passes,",
    "read-back of roots and gradients).\n",
    "| circuit | batch | edges | CPU fwd edges/s | GPU fwd edges/s | CPU fwd+bwd edges/s | GPU fwd+bwd edges/s | fwd+bwd GPU/CPU |",
    "|---|---|---|---|---|---|---|---|",
]
for (name, batch, edges, cf, gf, cb, gb, tc, tg) in rows:
    lines.append(f"| {name} | {batch} | {edges} | {e(cf)} | {e(gf)} | {e(cb)} | {e(gb)} | {tc / tg:.2f}× |")
lines.append(f"\nMeasured {time.strftime('%Y-%m-%d %H:%M')} in {time.time() - start:.0f} s.")
with open(args.out + ".tmp", "w") as f:
    f.write("\n".join(lines) + "\n")
os.replace(args.out + ".tmp", args.out)
print("\n".join(lines))
PY
