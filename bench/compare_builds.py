#!/usr/bin/env python3
"""One deeplog build against another (a baseline, e.g. before a refactor),
side by side in one run: every shared program answered by `deeplog query`
(whole process, interleaved turns, as bench/compare_problog.py times them),
and every shared circuit's forward+backward pass (`deeplog circuit eval
--repeat`, log semiring, batches 1 and 128). Answers must be identical;
times are reported as medians and the ratio new/baseline (below 1 is
faster). Prints one Markdown table.

Usage: bench/builds.sh BASELINE_BINARY [--limit SECONDS] [--rounds N] [--only PREFIX,...]
       compare_builds.py --new PATH --baseline PATH [--limit 60] [--rounds 3] [--only PREFIX,...] [--out FILE]
"""
import argparse
import json
import os
import statistics
import sys
import time

from compare_klay import repeats as eval_repeats, run_deeplog as run_eval
from compare_problog import SHARED, parse_answers, run_pair, size_key


def programs():
    folder = os.path.join(SHARED, "programs")
    names = sorted((f[:-3] for f in os.listdir(folder) if f.endswith(".pl")), key=size_key)
    return [(n, os.path.join(folder, n + ".pl")) for n in names]


def circuits():
    folder = os.path.join(SHARED, "circuits")
    return [(f[:-4], os.path.join(folder, f)) for f in sorted(os.listdir(folder)) if f.endswith(".sdd")]


def ratio(new, old):
    return new / old if new and old else None


def fmt(x, spec="{:.3g}"):
    return "–" if x is None else spec.format(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--new", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--limit", type=float, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", help="only programs and circuits whose name starts with one of these, comma-separated")
    ap.add_argument("--out")
    a = ap.parse_args()
    keep = (lambda name: any(name.startswith(p) for p in a.only.split(","))) if a.only else (lambda name: True)
    lines = ["| program | baseline s | new s | new / baseline | answers |", "|---|---|---|---|---|"]
    query_ratios, differing = [], []
    for name, path in filter(lambda p: keep(p[0]), programs()):
        (t_new, out_new, err_new), (t_old, out_old, err_old) = run_pair(
            [[a.new, "query", path], [a.baseline, "query", path]], a.limit)
        if err_new or err_old:
            same = "both refuse" if err_new and err_old else "DIFFER"
            if same == "DIFFER" or (err_new != err_old and not err_new.startswith(">")):
                differing.append(name)
            lines.append(f"| {name} | {err_old or fmt(t_old)} | {err_new or fmt(t_new)} | – | {same} |")
            continue
        same = parse_answers(out_new) == parse_answers(out_old)
        if not same:
            differing.append(name)
        r = ratio(t_new, t_old)
        query_ratios.append(r)
        lines.append(f"| {name} | {fmt(t_old)} | {fmt(t_new)} | {fmt(r, '{:.2f}')} | "
                     f"{'identical' if same else 'DIFFER'} |")
        print(lines[-1], file=sys.stderr, flush=True)
    lines += ["", "| circuit | batch | baseline s/pass | new s/pass | new / baseline | root |",
              "|---|---|---|---|---|---|"]
    eval_ratios = []
    for name, path in filter(lambda c: keep(c[0]), circuits()):
        for batch in (1, 128):
            t0 = run_eval(a.baseline, path, batch, "log", 3)[0]
            budget = 1.0
            olds, news, roots = [], [], set()
            for _ in range(a.rounds):
                for side, exe in (("old", a.baseline), ("new", a.new)):
                    t, root, _ = run_eval(exe, path, batch, "log", eval_repeats(t0, budget))
                    (olds if side == "old" else news).append(t)
                    roots.add(root)
            old, new = statistics.median(olds), statistics.median(news)
            r = ratio(new, old)
            eval_ratios.append(r)
            if len(roots) > 1:
                differing.append(f"{name} batch {batch}")
            lines.append(f"| {name} | {batch} | {old:.3g} | {new:.3g} | {r:.2f} | "
                         f"{'identical' if len(roots) == 1 else 'DIFFER'} |")
            print(lines[-1], file=sys.stderr, flush=True)
    summary = (
        f"\nWhole processes (`deeplog query`, {len(query_ratios)} programs both answer): median new/baseline "
        f"{statistics.median(query_ratios):.3f}, range {min(query_ratios):.2f}–{max(query_ratios):.2f}. "
        f"Circuit passes (forward+backward, log, {len(eval_ratios)} circuit×batch): median "
        f"{statistics.median(eval_ratios):.3f}, range {min(eval_ratios):.2f}–{max(eval_ratios):.2f}. "
        f"Answers differing: {', '.join(differing) if differing else 'none'}.\n"
        f"Measured {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC on {os.cpu_count()} cores; per program the two "
        f"builds' runs alternate (bench/compare_problog.py's turns), per circuit and batch they take turns "
        f"{a.rounds} times and each keeps the median.")
    text = "\n".join(lines) + "\n" + summary + "\n"
    print(text)
    if a.out:
        with open(a.out + ".tmp", "w") as f:
            f.write(text)
        os.replace(a.out + ".tmp", a.out)
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
