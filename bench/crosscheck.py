#!/usr/bin/env python3
"""Independent checks of deeplog's answers where no exact reference exists.

For each program of ../shared/bench/programs without an entry in
reference.json (the ones ProbLog cannot answer within its time limit), three
routes to the same numbers:

1. `deeplog query` as users run it (auto compiler);
2. `deeplog query --compiler bottom-up`, a different compiler (lineage and
   BDD apply in another variable order), where it finishes in the limit;
3. Monte Carlo over N sampled worlds (bench/sampler.py: each world decided
   by plain graph search, no code shared with deeplog; ProbLog's own
   `problog sample` takes over a minute for 20,000 samples here): the
   estimate carries a standard error sqrt(p(1-p)/N), and the table prints
   how many of them the exact answer is away.

Usage: bench/crosscheck.sh [--samples N] [--limit SECONDS] [--only PREFIX]
"""
import argparse
import json
import os
import sys
import time

import sampler
from compare_problog import publish, run_once, size_key

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "bench"))


def run(cmd, limit):
    elapsed, out, err = run_once(cmd, limit)
    return (None, err) if err else ((out, elapsed), None)


def deeplog(binary, path, limit, extra=()):
    out, err = run([binary, "query", path, "--json", *extra], limit)
    if err:
        return None, err
    text, took = out
    return ({q["query"]: q["value"] for q in json.loads(text)["queries"]}, took), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--deeplog", required=True)
    ap.add_argument("--samples", type=int, default=400000)
    ap.add_argument("--limit", type=float, default=120.0)
    ap.add_argument("--only", default="")
    ap.add_argument("--out")
    a = ap.parse_args()
    with open(os.path.join(SHARED, "reference.json")) as f:
        reference = json.load(f)
    programs = sorted((f[:-3] for f in os.listdir(os.path.join(SHARED, "programs")) if f.endswith(".pl")), key=size_key)
    programs = [p for p in programs if p.startswith(a.only) and p + ".pl" not in reference]
    lines = [
        "| program | query | deeplog (auto) | s | deeplog bottom-up | sampled (N) ± σ | distance |",
        "|---|---|---|---|---|---|---|",
    ]
    worst = 0.0
    for name in programs:
        path = os.path.join(SHARED, "programs", name + ".pl")
        auto, auto_err = deeplog(a.deeplog, path, a.limit)
        if auto_err:
            lines.append(f"| {name} | | {auto_err} | | | | |")
            print(lines[-1], file=sys.stderr, flush=True)
            continue
        answers, took = auto
        other, other_err = deeplog(a.deeplog, path, a.limit, ["--compiler", "bottom-up"])
        estimates = sampler.estimate(path, a.samples)
        sample_err = None if estimates else "not a sampled family"
        for q, p in answers.items():
            b = f"{other[0][q]:.10f}" if other else other_err
            if estimates and q in estimates:
                e, sigma = estimates[q]
                z = abs(e - p) / sigma
                worst = max(worst, z)
                s, dist = f"{e:.4f} ± {sigma:.4f}", f"{z:.1f} σ"
            else:
                s, dist = sample_err or "–", "–"
            lines.append(f"| {name} | {q} | {p:.10f} | {took:.2f} | {b} | {s} | {dist} |")
            print(lines[-1], file=sys.stderr, flush=True)
    lines.append("")
    lines.append(
        f"Largest distance between an exact answer and the sampled estimate: {worst:.1f} σ "
        f"({a.samples} samples each; under 4 σ is what agreement looks like for this many checks)."
    )
    lines.append(f"Measured {time.strftime('%Y-%m-%d %H:%M')}, limit {a.limit:g} s per run.")
    publish(lines, a.out)


if __name__ == "__main__":
    main()
