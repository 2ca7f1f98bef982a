#!/usr/bin/env python3
"""Reads the per-epoch logs bench/deepproblog.sh wrote for deeplog and
DeepProbLog, measures deeplog's single-digit accuracy with the weights it
saved (`deeplog query` on digit(img, D) for every held-out image), and
prints the side-by-side table (also written to --out)."""

import argparse
import json
import os
import platform
import statistics
import subprocess
import datetime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--deeplog", required=True)
    ap.add_argument("--out")
    args = ap.parse_args()
    d = args.data
    ours = [json.loads(l) for l in open(os.path.join(d, "deeplog.jsonl")) if l.strip()]
    theirs = [json.loads(l) for l in open(os.path.join(d, "deepproblog.jsonl")) if l.strip()]
    dpl_epochs = [r for r in theirs if "epoch" in r]
    dpl_final = [r for r in theirs if "sum_accuracy" in r][-1]

    # deeplog's digit accuracy: the trained network on every held-out image.
    labels = {}
    for line in list(open(os.path.join(d, "labels.csv")))[1:]:
        image, label, split = line.strip().split(",")
        if split == "test":
            labels[image] = int(label)
    model_line = open(os.path.join(d, "model.pl")).readline()
    with open(os.path.join(d, "digits.pl"), "w") as f:
        f.write(model_line)
        for image in labels:
            f.write(f"query(digit({image}, D)).\n")
    out = subprocess.run(
        [args.deeplog, "query", os.path.join(d, "digits.pl"), "--params", os.path.join(d, "deeplog-weights.json"),
         "--inputs", os.path.join(d, "inputs.csv"), "--json"],
        check=True, capture_output=True, text=True).stdout
    best = {}
    for q in json.loads(out)["queries"]:
        image, digit = q["query"][len("digit("):-1].split(",")
        if q["value"] > best.get(image, (-1, None))[0]:
            best[image] = (q["value"], int(digit))
    digit_acc = sum(best[i][1] == l for i, l in labels.items()) / len(labels)

    n = open(os.path.join(d, "model.pl")).readlines()[1].count("digit(X")
    rows = [
        ("deeplog", statistics.median(r["seconds"] for r in ours), ours[-1]["test_accuracy"], digit_acc,
         ours[0]["seconds"]),
        ("DeepProbLog", dpl_final["seconds_per_epoch"], dpl_final["sum_accuracy"], dpl_final["digit_accuracy"],
         dpl_epochs[0]["seconds"]),
    ]
    ratio = rows[1][1] / rows[0][1]
    lines = [
        f"# deeplog vs DeepProbLog: digit addition, N = {n}, {len(ours)} epochs",
        "",
        f"Measured {datetime.date.today()} on {platform.machine()} ({os.cpu_count()} cores) by `bench/deepproblog.sh {n} {len(ours)}`:",
        "same data files, split and pairs (`bench/digits/make_data.py`), MLP 64-128-10, Adam lr 3e-3, batch 16, seed 1.",
        "",
        "| system | median s/epoch | first epoch s | sum accuracy (held out) | digit accuracy (held out) |",
        "|---|---|---|---|---|",
    ]
    for name, spe, sum_acc, dig, first in rows:
        lines.append(f"| {name} | {spe:.4f} | {first:.4f} | {sum_acc:.4f} | {dig:.4f} |")
    lines += ["", f"deeplog is {ratio:.0f}x faster per epoch (median); sum accuracy differs by "
              f"{100 * (rows[0][2] - rows[1][2]):+.1f} points."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
