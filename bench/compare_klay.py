#!/usr/bin/env python3
"""deeplog vs KLay: forward+backward passes per second on the shared SDD circuits.

Runs `deeplog circuit eval --json --repeat N` and KLay's own timing script
(`../shared/bench/klay_eval.py`, JAX backend, its faster one on CPUs) on every
circuit and batch size, in the same run, the two sides taking turns (three
each by default), and prints one Markdown table with median seconds per
forward+backward pass (log semiring, same weights formula), the ratio
KLay/deeplog, and both root values as a cross-check.

Usage: bench/klay.sh [--quick] [--rounds N]   (sets up KLay in a venv, then runs this)
       compare_klay.py --deeplog PATH --python VENV_PYTHON [--quick] [--rounds N] [--out FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "bench"))
CIRCUITS = ["sudoku_4", "road_r", "4-grid", "seq_fun", "cnf3_v46_c23_s1", "cnf3_v50_c25_s1"]
NEUROSYMBOLIC = {"sudoku_4", "road_r", "4-grid", "seq_fun"}
BATCHES = [1, 128, 1024]
# KLay needs about 17 s per pass on cnf3_v50 at batch 1024 (BASELINES.md: "not run").
KLAY_SKIP = {("cnf3_v50_c25_s1", 1024)}


def repeats(seconds_per_pass, budget=3.0, lo=3, hi=200):
    """Enough repetitions for a stable median within a time budget."""
    return int(max(lo, min(hi, budget / max(seconds_per_pass, 1e-7))))


def run_deeplog(exe, path, batch, algebra, repeat):
    out = subprocess.run(
        [exe, "circuit", "eval", path, "--algebra", algebra, "--batch", str(batch),
         "--repeat", str(repeat), "--json"],
        check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    return r["timing"]["forward_backward_s"], r["roots"][0], r["timing"]["edges"]


def run_klay(python, path, batch, repeat, threads):
    out = subprocess.run(
        [python, os.path.join(SHARED, "klay_eval.py"), path, "--batches", str(batch),
         "--semirings", "log", "--backends", "jax", "--repeat", str(repeat),
         "--threads", str(threads)],
        check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["fwdbwd_s"], r["root0_row0"], r["klay_edges"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--deeplog", required=True)
    ap.add_argument("--python", required=True, help="python of a venv with klaycircuits and jax")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--rounds", type=int, default=3, help="turns each side takes per circuit and batch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="also write the table to this file")
    a = ap.parse_args()
    budget = 1.0 if a.quick else 3.0

    rows = []
    for name in CIRCUITS:
        path = os.path.join(SHARED, "circuits", name + ".sdd")
        for batch in BATCHES:
            # A first short run sizes the repetitions of the timed ones.
            t0, _, _ = run_deeplog(a.deeplog, path, batch, "log", 3)
            skip_klay = (name, batch) in KLAY_SKIP
            # The sides take turns, `rounds` times, and each keeps its
            # median: this machine's speed drifts by up to 2x over minutes,
            # and a side measured in a slow spell while the other met a
            # fast one gives a ratio off by as much.
            d_ts, f_ts, k_ts = [], [], []
            for _ in range(a.rounds):
                d_t, d_v, d_edges = run_deeplog(a.deeplog, path, batch, "log", repeats(t0, budget))
                d_ts.append(d_t)
                f_ts.append(run_deeplog(a.deeplog, path, batch, "log-f32", repeats(t0, budget))[0])
                if not skip_klay:
                    k_t, k_v, k_edges = run_klay(a.python, path, batch, repeats(d_t * 20, budget, hi=50), a.threads)
                    k_ts.append(k_t)
            if skip_klay:
                k_v = k_edges = None
            k_t = statistics.median(k_ts) if k_ts else None
            rows.append(dict(circuit=name, batch=batch, deeplog_s=statistics.median(d_ts),
                             deeplog_f32_s=statistics.median(f_ts), klay_s=k_t, deeplog_root=d_v, klay_root=k_v,
                             deeplog_edges=d_edges, klay_edges=k_edges))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)

    lines = [
        "| circuit | batch | edges deeplog / KLay | KLay s/pass | deeplog s/pass (f64) | ratio | deeplog f32 s/pass | ratio f32 | root deeplog | root KLay |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ratios = []
    for r in rows:
        ratio = r["klay_s"] / r["deeplog_s"] if r["klay_s"] else None
        ratio32 = r["klay_s"] / r["deeplog_f32_s"] if r["klay_s"] else None
        if ratio:
            ratios.append((r["circuit"], r["batch"], ratio, ratio32))
        fmt = lambda x, f="{:.3g}": f.format(x) if x is not None else "not run"
        lines.append(
            f"| {r['circuit']} | {r['batch']} | {r['deeplog_edges']} / {fmt(r['klay_edges'], '{}')} | "
            f"{fmt(r['klay_s'])} | {fmt(r['deeplog_s'])} | {fmt(ratio, '{:.1f}×')} | "
            f"{fmt(r['deeplog_f32_s'])} | {fmt(ratio32, '{:.1f}×')} | {r['deeplog_root']:.10g} | {fmt(r['klay_root'], '{:.7g}')} |")
    worst = min(ratios, key=lambda x: x[2])
    worst_b1 = min((x for x in ratios if x[1] == 1 and x[0] in NEUROSYMBOLIC), key=lambda x: x[2])
    lines += [
        "",
        f"Forward+backward, log semiring, median seconds per pass, {a.threads} threads for KLay (JAX) "
        f"and deeplog (rayon); per circuit and batch the two sides take turns {a.rounds} times and each "
        f"keeps the median of its turns. Ratio = KLay time / deeplog time (higher is better for deeplog).",
        f"Smallest ratio: {worst[2]:.1f}× ({worst[0]}, batch {worst[1]}; target ≥ 5×). "
        f"Smallest at batch 1 on the neurosymbolic circuits: {worst_b1[2]:.1f}× ({worst_b1[0]}; target ≥ 20×). "
        f"Median ratio: {statistics.median(x[2] for x in ratios):.1f}×.",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores.",
    ]
    table = "\n".join(lines)
    print(table)
    if a.out:
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(table + "\n")
        os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
