#!/usr/bin/env python3
"""deeplog's `dt`, `lfi`, `mpe` and `map` against ProbLog 2.3's, whole
processes, side by side (bench/tasks.sh runs it).

The programs: dt — ProbLog's viral-marketing example on 8 to 16 people,
each trusting two others at random (a decision per person); lfi — the
shared smokers programs with every `stress` and `influences` probability
a `t(_)` parameter, 60 interpretations sampled from the original program
(`deeplog sample`), each person's `smokes` seen with probability 0.7, both
sides capped at 30 iterations (`-n 30`); mpe and map — the shared
benchmark families (../shared/bench/programs) with evidence appended
(smokers: `asthma(1)` seen, `smokes(2)` not; paths: `path(1, last)` holds)
and, for MAP, the first five probabilistic facts of the file asked instead
of its query. Each side runs as a process under a time limit: the median
of three runs where a run takes under 2 s, else one. Answers compared: dt's
score, MPE's probability; MAP's assignment (ProbLog's SCORE is not a
probability).

Usage: tasks.py --deeplog BIN --problog BIN [--limit S] [--out FILE]
"""

import argparse
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "bench", "programs"))
PROGRAMS = ["smokers_10", "smokers_20", "smokers_30", "smokers_40", "path_dense_8", "path_dense_10",
            "path_dense_12", "path_dense_14", "path_sparse_20", "path_sparse_30"]
FACT = re.compile(r"^\s*([0-9.]+)::([a-z]\w*\([^)]*\))\.\s*$")


def viral(n, seed=1):
    """ProbLog's viral-marketing example on n people, each trusting two
    others at random (fixed seed)."""
    import random
    rng = random.Random(seed)
    people = [f"p{i}" for i in range(n)]
    lines = [f"person({p})." for p in people]
    for i, p in enumerate(people):
        for j in rng.sample([k for k in range(n) if k != i], 2):
            lines.append(f"trusts_directed({p},{people[j]}).")
    lines += [
        "trusts(X,Y) :- trusts_directed(X,Y).",
        "trusts(X,Y) :- trusts_directed(Y,X).",
        "?::marketed(P) :- person(P).",
        "0.4::buy_from_marketing(_).",
        "0.5::buy_from_trust(_,_).",
        "buys(X) :- marketed(X), buy_from_marketing(X).",
        "buys(X) :- trusts(X,Y), buys(Y), buy_from_trust(X,Y).",
        "utility(buys(P), 5) :- person(P).",
        "utility(marketed(P), -3) :- person(P).",
    ]
    return "\n".join(lines) + "\n"


def learning_problem(name, text, deeplog, tmp, examples=60, seed=1):
    """A smokers program made into learning from interpretations: every
    `stress` and `influences` fact's probability a `t(_)` parameter, and
    interpretations sampled from the original program (`deeplog sample`),
    each person's `smokes` seen with probability 0.7 (fixed seed)."""
    import json
    import random
    rng = random.Random(seed)
    people = sorted(set(re.findall(r"^person\((\d+)\)\.", text, re.M)), key=int)
    asked = text + "".join(f"query(smokes({p})).\n" for p in people)
    src = os.path.join(tmp, name + "-truth.pl")
    with open(src, "w") as f:
        f.write(asked)
    out = subprocess.run([deeplog, "sample", src, "-N", str(examples), "--seed", str(seed), "--json"],
                         capture_output=True, text=True, check=True).stdout
    samples = json.loads(out)
    blocks = []
    for world in samples["samples"]:
        true = set(world)
        lines = [f"evidence(smokes({p}), {'true' if f'smokes({p})' in true else 'false'})."
                 for p in people if rng.random() < 0.7]
        blocks.append("\n".join(lines))
    evidence = os.path.join(tmp, name + "-evidence.pl")
    with open(evidence, "w") as f:
        f.write("\n---\n".join(blocks) + "\n")
    model = re.sub(r"^[0-9.]+::(stress|influences)\(", r"t(_)::\1(", text, flags=re.M)
    model = "\n".join(l for l in model.splitlines() if not l.startswith("query(")) + "\n"
    path = os.path.join(tmp, name + "-lfi.pl")
    with open(path, "w") as f:
        f.write(model)
    return path, evidence


def variant(name, text, task):
    n = int(name.rsplit("_", 1)[1])
    lines = text.splitlines()
    if name.startswith("smokers"):
        evidence = ["evidence(asthma(1)).", "evidence(smokes(2), false)."]
    else:
        evidence = [f"evidence(path(1,{n - 1}))."]
    if task == "map":
        facts = [m.group(2) for m in map(FACT.match, lines) if m][:5]
        lines = [l for l in lines if not l.strip().startswith("query(")] + [f"query({f})." for f in facts]
    return "\n".join(lines + evidence) + "\n"


def run(cmd, limit):
    """(seconds, stdout) or (None, why). The command runs in its own process
    group, killed whole at the limit (ProbLog's MaxSAT solver is a child
    process that would otherwise hold the pipes open)."""
    start = time.perf_counter()
    # (In a folder of its own: ProbLog's MaxSAT solver writes a file
    # `resulttable` where it runs.)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         cwd=tempfile.gettempdir())
    try:
        stdout, stderr = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None, f"> {limit:.0f} s"
    took = time.perf_counter() - start
    if p.returncode != 0 or "Traceback" in stdout + stderr or "Error" in stdout:
        lines = (stdout + stderr).strip().splitlines()
        return None, ("fails: " + lines[-1][:60]) if lines else "fails"
    return took, stdout


def timed(cmd, limit):
    took, out = run(cmd, limit)
    if took is None or took >= 2:
        return took, out
    times = [took] + [run(cmd, limit)[0] for _ in range(2)]
    return statistics.median(t for t in times if t is not None), out


def probability(out):
    m = re.search(r"% Probability: (\S+)", out or "")
    return float(m.group(1)) if m else None


def assignment(out):
    return sorted(l.split(":")[0].strip() + "=" + l.split(":")[1].strip() for l in (out or "").splitlines()
                  if ":\t" in l)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--deeplog", required=True)
    ap.add_argument("--problog", required=True)
    ap.add_argument("--limit", type=float, default=60)
    ap.add_argument("--out")
    a = ap.parse_args()
    a.deeplog, a.problog = os.path.abspath(a.deeplog), os.path.abspath(a.problog)
    rows = []
    fmt = lambda t, out: f"{t:.3f}" if t is not None else out  # noqa: E731

    def row(task, name, theirs, tout, ours, oout, same):
        ratio = f"{theirs / ours:.1f}×" if theirs and ours else "—"
        r = f"| {task} | {name} | {fmt(theirs, tout)} | {fmt(ours, oout)} | {ratio} | {same} |"
        print(r, flush=True)
        rows.append(r)

    with tempfile.TemporaryDirectory() as tmp:
        for n in (8, 10, 12, 14, 16):
            path = os.path.join(tmp, f"viral_{n}.pl")
            with open(path, "w") as f:
                f.write(viral(n))
            theirs, tout = timed([a.problog, "dt", path], a.limit)
            ours, oout = timed([a.deeplog, "dt", path], a.limit)
            score = lambda out: float(re.search(r"SCORE: (\S+)", out).group(1)) if out and "SCORE" in out else None  # noqa: E731
            st, so = score(tout) if theirs else None, score(oout) if ours else None
            same = "—" if st is None or so is None else ("yes" if abs(st - so) <= 1e-6 else f"no ({st} vs {so})")
            row("dt", f"viral_{n} ({n} decisions)", theirs, tout, ours, oout, same)
        for name in ("smokers_5", "smokers_10", "smokers_15"):
            with open(os.path.join(SHARED, name + ".pl")) as f:
                text = f.read()
            model, evidence = learning_problem(name, text, a.deeplog, tmp)
            theirs, tout = timed([a.problog, "lfi", model, evidence, "-n", "30"], a.limit)
            ours, oout = timed([a.deeplog, "lfi", model, evidence, "-n", "30"], a.limit)
            row("lfi", f"{name} (60 interpretations, 30 iterations)", theirs, tout, ours, oout, "—")
        for task in ("mpe", "map"):
            for name in PROGRAMS:
                with open(os.path.join(SHARED, name + ".pl")) as f:
                    text = variant(name, f.read(), task)
                path = os.path.join(tmp, f"{name}-{task}.pl")
                with open(path, "w") as f:
                    f.write(text)
                theirs, tout = timed([a.problog, task, path], a.limit)
                ours, oout = timed([a.deeplog, task, path], a.limit)
                if task == "mpe":
                    pt, po = probability(tout) if theirs else None, probability(oout) if ours else None
                    same = "—" if pt is None or po is None else ("yes" if abs(pt - po) <= 1e-9 * max(pt, 1e-300) else f"no ({pt:.4g} vs {po:.4g})")
                else:
                    same = "—" if not (theirs and ours) else ("yes" if assignment(tout) == assignment(oout) else "no")
                row(task, name + " + evidence", theirs, tout, ours, oout, same)
    header = ("| task | program | ProbLog 2.3 s | deeplog s | ProbLog / deeplog | same answer |\n"
              "| --- | --- | ---: | ---: | ---: | --- |")
    if a.out:
        with open(a.out + ".tmp", "w") as f:
            f.write("# deeplog's dt, lfi, mpe and map vs ProbLog 2.3's (bench/tasks.sh)\n\n")
            f.write(f"Whole processes, limit {a.limit:.0f} s, {time.strftime('%Y-%m-%d')}. " + __doc__.split("\n\n")[1].replace("\n", " ") + "\n\n")
            f.write(header + "\n" + "\n".join(rows) + "\n")
        os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
