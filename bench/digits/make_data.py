#!/usr/bin/env python3
"""Writes one digit-addition task as plain files, so that `deeplog train` and
DeepProbLog (bench/deepproblog.sh) train on exactly the same split.

Usage: bench/digits/make_data.py N OUT_DIR [--seed S]

From examples/digit_addition/digits.csv (1,797 8x8 images, pixels 0..16) it
writes, shuffled with a fixed seed, the last fifth held out:

  inputs.csv   id,p0..p63     every image, pixels scaled to [0, 1]
  labels.csv   id,label       every image's digit (for digit accuracy only)
  train.jsonl  {"query": "sumN(img3,img9,...,12)"}  N training images per line
  test.jsonl   the same over held-out images
  model.pl     the model: nn(net, [X], Y, [0..9])::digit(X, Y), sumN/N+1
"""

import argparse
import csv
import json
import os
import random


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n = args.n
    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.join(here, "..", "..", "examples", "digit_addition", "digits.csv")
    with open(source) as f:
        rows = list(csv.reader(f))[1:]
    images = [(f"img{i}", int(r[0]), [float(p) / 16.0 for p in r[1:]]) for i, r in enumerate(rows)]
    rng = random.Random(args.seed)
    order = list(range(len(images)))
    rng.shuffle(order)
    split = len(order) * 4 // 5
    train, test = order[:split], order[split:]

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "inputs.csv"), "w") as f:
        f.write("id," + ",".join(f"p{k}" for k in range(64)) + "\n")
        for name, _, pixels in images:
            f.write(name + "," + ",".join(f"{p:g}" for p in pixels) + "\n")
    with open(os.path.join(args.out, "labels.csv"), "w") as f:
        f.write("id,label,split\n")
        for i in train:
            f.write(f"{images[i][0]},{images[i][1]},train\n")
        for i in test:
            f.write(f"{images[i][0]},{images[i][1]},test\n")

    def tuples(ids, path):
        ids = list(ids)
        rng.shuffle(ids)
        with open(path, "w") as f:
            for k in range(0, len(ids) - n + 1, n):
                group = ids[k : k + n]
                total = sum(images[i][1] for i in group)
                atom = f"sum{n}(" + ",".join(images[i][0] for i in group) + f",{total})"
                f.write(json.dumps({"query": atom}) + "\n")

    tuples(train, os.path.join(args.out, "train.jsonl"))
    tuples(test, os.path.join(args.out, "test.jsonl"))

    xs = ", ".join(f"X{i}" for i in range(1, n + 1))
    body = ", ".join(f"digit(X{i}, A{i})" for i in range(1, n + 1))
    total = " + ".join(f"A{i}" for i in range(1, n + 1))
    placeholders = ", ".join(f"a{i}" for i in range(1, n + 1))
    with open(os.path.join(args.out, "model.pl"), "w") as f:
        f.write("nn(net, [X], Y, [0,1,2,3,4,5,6,7,8,9])::digit(X, Y).\n")
        f.write(f"sum{n}({xs}, Z) :- {body}, Z is {total}.\n")
        f.write(f"query(sum{n}({placeholders}, Z)).\n")


if __name__ == "__main__":
    main()
