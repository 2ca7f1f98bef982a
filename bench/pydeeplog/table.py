"""Reads the logs of bench/pydeeplog/run.sh and writes the markdown table.

Usage: python3 table.py LOGDIR EPOCHS ROUNDS OUT.md
Every number comes from the logs; nothing is filled in by hand.
"""

import datetime
import pathlib
import re
import statistics
import sys


def fields(line: str) -> dict:
    return dict(re.findall(r"(\w+)=(\S+)", line))


def parse(path: pathlib.Path) -> dict:
    """One run's log: its per-epoch losses and seconds and its summary lines."""
    text = path.read_text() if path.exists() else ""
    out = {"losses": [], "seconds": [], "ok": False, "path": path}
    for line in text.splitlines():
        m = re.match(r"epoch (\d+): loss (\S+)(?: seconds (\S+))?", line)
        if m:
            out["losses"].append(float(m.group(2)))
            if m.group(3):
                out["seconds"].append(float(m.group(3)))
        elif line.startswith("compile_seconds="):
            out.update(fields(line))
        elif "seconds_per_epoch=" in line:
            out.update(fields(line))
            out["ok"] = True
    if not out["ok"]:
        out["error"] = text.strip().splitlines()[-1] if text.strip() else "no output"
    return out


def merge(runs: list) -> dict:
    """The rounds of one side: all epoch times pooled; accuracies, losses and
    weights from the first round, with whether every round agreed on them."""
    first = dict(runs[0])
    first["epochs_all"] = [s for run in runs for s in run["seconds"]]
    first["median"] = statistics.median(first["epochs_all"])
    first["compile_median"] = statistics.median(float(run["compile_seconds"]) for run in runs)
    first["first_median"] = statistics.median(float(run["first_epoch_seconds"]) for run in runs)
    keys = ("sum_accuracy", "digit_accuracy", "weights_end")
    first["deterministic"] = all(all(run[k] == runs[0][k] for k in keys) for run in runs)
    first["round_medians"] = [statistics.median(run["seconds"]) for run in runs]
    return first


def main():
    logs, epochs, rounds, target = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), pathlib.Path(sys.argv[4])
    env = (logs / "env.txt").read_text().strip() if (logs / "env.txt").exists() else ""
    rows, checks, failures = [], [], []
    for n in (1, 2, 3, 4):
        sides = {}
        for name in ("deeplog", "pydeeplog"):
            runs = [parse(logs / f"{name}-{n}-{r}.log") for r in range(1, rounds + 1)]
            for run in runs:
                if not run["ok"]:
                    failures.append(f"- N={n}, {name}: failed: `{run['error']}` (log {run['path']})")
            if all(run["ok"] for run in runs):
                sides[name] = merge(runs)
        example = parse(logs / f"example-{n}.log")
        if not example["ok"]:
            failures.append(f"- N={n}, unmodified example: failed: `{example['error']}`")
        if len(sides) < 2:
            continue
        ours, theirs = sides["deeplog"], sides["pydeeplog"]
        a, b = ours["median"], theirs["median"]
        rows.append(
            f"| {n} | {a:.3f} | {b:.3f} | {b / a:.2f}× "
            f"| {float(ours['sum_accuracy']):.4f} / {float(theirs['sum_accuracy']):.4f} "
            f"| {float(ours['digit_accuracy']):.4f} / {float(theirs['digit_accuracy']):.4f} "
            f"| {ours['compile_median']:.3f} / {theirs['compile_median']:.3f} "
            f"| {ours['first_median']:.3f} / {theirs['first_median']:.3f} |"
        )
        drift = max((abs(x - y) for x, y in zip(ours["losses"], theirs["losses"])), default=float("nan"))
        agree = "equal" if drift == 0 else f"differ by up to {drift:.4f}"
        same_start = ours["weights_start"] == theirs["weights_start"]
        ex = (
            f"unmodified example (one run): mean {float(example['seconds_per_epoch']):.3f} s/epoch"
            + (f", median {float(example['median_epoch_s']):.3f}" if "median_epoch_s" in example else "")
            + f", sum accuracy {float(example['sum_accuracy']):.4f}, digit accuracy {float(example['digit_accuracy']):.4f}"
            if example["ok"] else "unmodified example failed"
        )
        per_round = lambda side: " ".join(f"{s:.3f}" for s in side["round_medians"])  # noqa: E731
        checks.append(
            f"- N={n}: initial weights {'identical' if same_start else 'DIFFERENT'} "
            f"(Σ|w| {ours['weights_start']} / {theirs['weights_start']}), final Σ|w| "
            f"{ours['weights_end']} / {theirs['weights_end']}; per-epoch losses {agree} at the 4 printed decimals; "
            f"rounds {'all alike' if ours['deterministic'] and theirs['deterministic'] else 'NOT alike'}; "
            f"per-round median s/epoch deeplog {per_round(ours)}, pydeeplog {per_round(theirs)}; {ex}."
        )
    date = datetime.date.today().isoformat()
    lines = [
        "# deeplog vs DeepLog's own Python package (pydeeplog) on digit addition",
        "",
        f"`bench/pydeeplog/run.sh {epochs}` (ROUNDS={rounds}), {date}, CPU only. For N = 1..4 digits: the 8×8 digits of "
        "`shared/data/digits.csv` (1,797 images, 4/5 train after `random.Random(7)` shuffle), "
        "the network of `examples/python/digits.py` (64-128-10 MLP, softmax, `torch.manual_seed(1)` before "
        "building it), Adam 3e-3, each epoch a new grouping of the training images into ⌊1437/N⌋ N-tuples "
        "(`torch.randperm`, Generator seeded 42), batches of 16 tuples, loss −log P(sum). "
        "deeplog: `bench/pydeeplog/run_deeplog.py`, the loop of `examples/python/digit_addition.py` with "
        "per-epoch timing; pydeeplog: `bench/pydeeplog/run_pydeeplog.py` (the same DeepProbLog program, "
        "proved by pydeeplog's SimpleGrounder, `compile_to_module`, mv-sdd knowledge compilation, KLay "
        f"evaluation, the network run by its `NetworkPredicate`). Each side trains {rounds} times per N, "
        f"alternating; s/epoch is the MEDIAN of all {rounds}×{epochs} epoch times (grouping, forward, backward, "
        "Adam step); compile (parsing, grounding, knowledge compilation, building the module) is timed apart "
        "(median over rounds), as is the first epoch. Held-out: the last fifth, grouped into N-tuples for the sum "
        "accuracy, single images for the digit accuracy. Both sides run torch on one thread (THREADS=1).",
        "",
        env,
        "",
        "| N | deeplog s/epoch | pydeeplog s/epoch | ratio (pydeeplog/deeplog) | sum accuracy (deeplog / pydeeplog) "
        "| digit accuracy (deeplog / pydeeplog) | compile s (deeplog / pydeeplog) | first epoch s (deeplog / pydeeplog) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        "Same work on both sides (from the logs):",
        "",
        *checks,
    ]
    if failures:
        lines += ["", "Failures:", "", *failures]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
