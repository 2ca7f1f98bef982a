#!/usr/bin/env python3
"""Trains DeepProbLog on one digit-addition task written by
bench/digits/make_data.py, for a side-by-side comparison with `deeplog train`.

Usage: run_dpl.py DATA_DIR [--epochs E] [--batch 16] [--rate 3e-3] [--seed 1] [--json]

Same network, optimizer and batch size as deeplog: Linear(64,128)-ReLU-
Linear(128,10)-Softmax, Adam. The program is model.pl's logic in DeepProbLog
syntax; each training line sumN(img_a,...,S) becomes the parameterised query
sumN(p0,...,S) with pK -> tensor(img(K-th id)), so DeepProbLog grounds and
compiles (to an SDD, ExactEngine's only exact backend in DPL 2.1) one circuit
per distinct sum and caches it (cache=True, as in DPL's MNIST example). The
compilations happen on first use, i.e. inside epoch 1; they are reported apart.

Training uses DeepProbLog's own loop (TrainObject.train, which train_model
wraps), one call per epoch, so that each epoch can be timed: the time is the
wall clock of that call alone (no data loading, no testing).

Output: one line per epoch, then
  system=deepproblog digits=N epochs=E sum_accuracy=A digit_accuracy=D seconds_per_epoch=S
where S is the median of the per-epoch times. With --json: one JSON object per
epoch, then one with the results. DeepProbLog's own messages go to stderr.
"""

import argparse
import contextlib
import csv
import json
import os
import re
import statistics
import sys
import time


def parse_query(line):
    atom = json.loads(line)["query"]
    m = re.fullmatch(r"\s*(\w+)\((.*)\)\s*", atom)
    if not m:
        raise ValueError(f"bad query {atom!r}")
    args = [a.strip() for a in m.group(2).split(",")]
    return m.group(1), args[:-1], int(args[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rate", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    # DeepProbLog and ProbLog print progress to stdout; keep stdout for results.
    quiet = contextlib.redirect_stdout(sys.stderr)
    with quiet:
        import warnings

        warnings.filterwarnings("ignore", message="ApproximateEngine is not available")
        import torch
        from problog.logic import Constant, Term
        from deepproblog.dataset import DataLoader, Dataset
        from deepproblog.engines import ExactEngine
        from deepproblog.evaluate import get_confusion_matrix
        from deepproblog.model import Model
        from deepproblog.network import Network
        from deepproblog.query import Query
        from deepproblog.train import TrainObject

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # tiny net; threads only add overhead (deeplog is single-threaded too)

    # ---- data ----
    d = args.data_dir
    pixels = {}
    with open(os.path.join(d, "inputs.csv")) as f:
        rows = csv.reader(f)
        next(rows)
        for r in rows:
            pixels[int(r[0][3:])] = torch.tensor([float(x) for x in r[1:]], dtype=torch.float32)
    labels = []
    with open(os.path.join(d, "labels.csv")) as f:
        for r in csv.DictReader(f):
            labels.append((int(r["id"][3:]), int(r["label"]), r["split"]))

    def read_queries(name):
        with open(os.path.join(d, name)) as f:
            return [parse_query(l) for l in f if l.strip()]

    train_rows = read_queries("train.jsonl")
    test_rows = read_queries("test.jsonl")
    pred, ids0, _ = train_rows[0]
    n = len(ids0)

    class Images:
        """Tensor source: tensor(img(K)) -> pixels of image K."""

        def __getitem__(self, item):
            return pixels[int(item[0])]

    class SumDataset(Dataset):
        def __init__(self, rows):
            self.rows = rows

        def __len__(self):
            return len(self.rows)

        def to_query(self, i):
            functor, ids, total = self.rows[i]
            ps = [Term(f"p{k}") for k in range(len(ids))]
            sub = {p: Term("tensor", Term("img", Constant(int(x[3:])))) for p, x in zip(ps, ids)}
            return Query(Term(functor, *ps, Constant(total)), sub)

    xs = ",".join(f"X{i}" for i in range(1, n + 1))
    body = ",".join(f"digit(X{i},A{i})" for i in range(1, n + 1))
    total = "+".join(f"A{i}" for i in range(1, n + 1))
    program = (
        "nn(net,[X],Y,[0,1,2,3,4,5,6,7,8,9]) :: digit(X,Y).\n"
        f"{pred}({xs},Z) :- {body}, Z is {total}.\n"
    )

    # ---- model ----
    module = torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10), torch.nn.Softmax(1)
    )
    net = Network(module, "net", batching=True)
    net.optimizer = torch.optim.Adam(module.parameters(), lr=args.rate)
    with quiet:
        model = Model(program, [net], load=False)
        model.set_engine(ExactEngine(model), cache=True)
    model.add_tensor_source("img", Images())

    train_set = SumDataset(train_rows)
    test_set = SumDataset(test_rows)
    loader = DataLoader(train_set, args.batch, shuffle=True, seed=args.seed)
    trainer = TrainObject(model)

    # ---- training ----
    times, compile_s = [], 0.0
    for epoch in range(1, args.epochs + 1):
        with quiet:
            start = time.perf_counter()
            trainer.train(loader, 1, verbose=0, log_iter=10**9)
            seconds = time.perf_counter() - start
        # log_iter is never reached, so accumulated_loss sums the batch means.
        loss = float(trainer.accumulated_loss) / len(loader)
        # ground + compile time of circuits built in this epoch (cached afterwards)
        built = sum(ac.ground_time + ac.compile_time for ac in model.solver.cache.cache_dict.values())
        new_compile, compile_s = built - compile_s, built
        times.append(seconds)
        if args.json:
            print(json.dumps({"epoch": epoch, "loss": loss, "seconds": seconds,
                              "compile_seconds": new_compile}), flush=True)
        else:
            print(f"epoch {epoch} loss {loss:.4f} seconds {seconds:.3f} "
                  f"(ground+compile {new_compile:.3f}, circuits {len(model.solver.cache.cache_dict)})",
                  flush=True)

    # ---- testing ----
    with quiet:
        start = time.perf_counter()
        cm = get_confusion_matrix(model, test_set, verbose=0)
        test_s = time.perf_counter() - start
        sum_acc = cm.accuracy()  # (prints "Accuracy: ...")
    module.eval()
    test_imgs = [(i, y) for i, y, s in labels if s == "test"]
    with torch.no_grad():
        out = module(torch.stack([pixels[i] for i, _ in test_imgs]))
    digit_acc = float((out.argmax(1) == torch.tensor([y for _, y in test_imgs])).float().mean())
    spe = statistics.median(times) if times else 0.0
    if args.json:
        print(json.dumps({"sum_accuracy": sum_acc, "digit_accuracy": digit_acc, "seconds_per_epoch": spe,
                          "first_epoch_seconds": times[0] if times else 0.0,
                          "test_seconds": test_s}))
    else:
        print(f"test: {len(test_rows)} queries in {test_s:.3f}s; "
              f"seconds_per_epoch = median of {len(times)} epochs (first epoch {times[0] if times else 0:.3f}s)")
        print(f"system=deepproblog digits={n} epochs={args.epochs} sum_accuracy={sum_acc:.4f} "
              f"digit_accuracy={digit_acc:.4f} seconds_per_epoch={spe:.3f}")


if __name__ == "__main__":
    main()
