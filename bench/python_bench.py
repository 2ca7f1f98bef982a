#!/usr/bin/env python3
"""deeplog from Python against deeplog's Rust evaluator and KLay's torch
module, side by side in one run (bench/python.sh runs it).

Circuits: forward+backward of the log semiring on the shared circuits at
batch 1, 128, 1024 — `deeplog.torch.CircuitModule` (float64, Rust on the
CPU, called from torch autograd), `deeplog circuit eval --grad` (the Rust
evaluator called directly, float64, its own median), and KLay's
`to_torch_module` (float32, its own benchmark script `klay_eval.py`, when
klaycircuits is installed). Median seconds per pass over --repeat passes.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

import deeplog.torch as dt

CIRCUITS = ["4-grid.sdd", "cnf3_v46_c23_s1.sdd", "cnf3_v50_c25_s1.sdd", "road_r.sdd", "seq_fun.sdd", "sudoku_4.sdd"]


def median_time(f, repeat):
    f()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def python_side(path, batch, repeat):
    m = dt.CircuitModule(path, semiring="log")
    g = torch.Generator().manual_seed(batch)
    x = (torch.rand(batch, m.num_vars, generator=g, dtype=torch.float64) * 0.98 + 0.01).log()

    def step():
        xi = x.clone().requires_grad_(True)
        m(xi).sum().backward()
        return xi.grad

    return median_time(step, repeat), m.circuit.num_edges


def rust_side(exe, path, batch, repeat):
    out = subprocess.run(
        [exe, "circuit", "eval", path, "--algebra", "log-probability", "--grad", "--batch", str(batch),
         "--repeat", str(repeat), "--json"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)["timing"]["forward_backward_s"]


def klay_side(klay_eval, path, batch, repeat):
    try:
        import klay  # noqa: F401
    except ImportError:
        return None
    out = subprocess.run(
        [sys.executable, klay_eval, path, "--batches", str(batch), "--semirings", "log", "--backends", "torch",
         "--repeat", str(repeat), "--threads", str(torch.get_num_threads())],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["fwdbwd_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--deeplog", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--out")
    a = ap.parse_args()
    klay_eval = os.path.join(a.shared, "klay_eval.py")
    rows = []
    header = (
        "| circuit | edges | batch | Python module (s) | Rust direct (s) | Python / Rust | KLay torch (s) | KLay / Python |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    print(header, flush=True)
    for name in CIRCUITS:
        path = os.path.join(a.shared, "circuits", name)
        for batch in (1, 128, 1024):
            repeat = a.repeat if batch < 1024 else max(5, a.repeat // 4)
            py, edges = python_side(path, batch, repeat)
            rs = rust_side(a.deeplog, path, batch, repeat)
            kl = klay_side(klay_eval, path, batch, repeat)
            kl_text = "—" if kl is None else f"{kl:.3g}"
            ratio = "—" if kl is None else f"{kl / py:.1f}×"
            row = f"| {name} | {edges} | {batch} | {py:.3g} | {rs:.3g} | {py / rs:.2f} | {kl_text} | {ratio} |"
            rows.append(row)
            print(row, flush=True)
    if a.out:
        with open(a.out, "w") as f:
            f.write("# deeplog from Python vs the Rust evaluator and KLay's torch module\n\n")
            f.write(f"`bench/python.sh`, {time.strftime('%Y-%m-%d')}, {torch.get_num_threads()} threads, "
                    "forward+backward of the log semiring, median seconds per pass.\n\n")
            f.write(header + "\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
