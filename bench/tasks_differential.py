#!/usr/bin/env python3
"""deeplog's `mpe` against ProbLog 2.3's on random programs (the generator of
bench/differential.py: facts, annotated disjunctions, recursion, negation,
evidence): the most probable explanation's probability must agree within
1e-9 (relative), or both must refuse; where the printed query values
differ, the two worlds must be equally probable (which the equal
probabilities already say). Programs where they differ are kept in
target/tasks-differential/.

Usage: bench/tasks_differential.py --deeplog BIN --problog BIN [--programs N] [--seed S]
"""

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from differential import generate  # noqa: E402

PROBABILITY = re.compile(r"^% Probability: (\S+)$")


def mpe(cmd, path, limit):
    try:
        # (In a folder of its own: ProbLog's MaxSAT solver writes a file
        # `resulttable` where it runs.)
        p = subprocess.run(cmd + [os.path.abspath(path)], capture_output=True, text=True, timeout=limit,
                           cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return "timeout", ""
    text = p.stdout + p.stderr
    failed = ("Error" in p.stdout or "error" in p.stdout.lower() or "Traceback" in text or "UnknownClause" in p.stdout
              or "NegativeCycle" in p.stdout)
    if p.returncode != 0 or failed:
        return None, text
    prob, atoms = None, set()
    for line in p.stdout.splitlines():
        m = PROBABILITY.match(line)
        if m:
            prob = float(m.group(1))
        elif line.strip() and not line.startswith("%") and "choice(" not in line:
            atoms.add(line.strip())
    if "not satisfiable" in p.stdout or prob == 0:
        # (ProbLog's way of saying the evidence cannot hold.)
        return None, text
    return (prob, atoms), text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deeplog", required=True)
    ap.add_argument("--problog", required=True)
    ap.add_argument("--programs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--limit", type=float, default=30)
    ap.add_argument("--keep", default="target/tasks-differential")
    a = ap.parse_args()
    a.deeplog, a.problog = os.path.abspath(a.deeplog), os.path.abspath(a.problog)
    rng = random.Random(a.seed)
    os.makedirs(a.keep, exist_ok=True)
    agree = both_refuse = differ = other_world = skipped = only_ours = only_theirs = 0
    path = os.path.join(a.keep, "current.pl")
    for i in range(a.programs):
        src = generate(rng)
        with open(path, "w") as f:
            f.write(src)
        theirs, ttext = mpe([a.problog, "mpe"], path, a.limit)
        ours, otext = mpe([a.deeplog, "mpe"], path, a.limit)
        if theirs == "timeout" or ours == "timeout":
            skipped += 1
            continue
        if theirs is None and ours is None:
            both_refuse += 1
            continue
        if theirs is None or ours is None:
            # One refuses: ProbLog's mpe fails on programs its own inference
            # answers (if-then-else, negation through recursion, a crash in
            # its MaxSAT encoding), and deeplog refuses evidence of
            # probability zero that ProbLog's maxsat answers. Kept to read.
            if theirs is None:
                only_ours += 1
            else:
                only_theirs += 1
            name = "problog-fails" if theirs is None else "deeplog-refuses"
            with open(os.path.join(a.keep, f"{name}-{a.seed}-{i}.pl"), "w") as f:
                f.write(src + "\n% ProbLog:\n" + "".join("% " + l + "\n" for l in ttext.splitlines())
                        + "% deeplog:\n" + "".join("% " + l + "\n" for l in otext.splitlines()))
            continue
        ok = (
            theirs is not None
            and ours is not None
            and theirs[0] is not None
            and ours[0] is not None
            and abs(theirs[0] - ours[0]) <= 1e-9 * max(1.0, abs(theirs[0]))
        )
        if ok:
            agree += 1
            if theirs[1] != ours[1]:
                other_world += 1
        else:
            differ += 1
            kept = os.path.join(a.keep, f"differ-{a.seed}-{i}.pl")
            with open(kept, "w") as f:
                f.write(src + "\n% ProbLog:\n" + "".join("% " + l + "\n" for l in ttext.splitlines())
                        + "% deeplog:\n" + "".join("% " + l + "\n" for l in otext.splitlines()))
    os.remove(path)
    print(f"mpe: {a.programs} programs (seed {a.seed}): {agree} agree (of which {other_world} print another, "
          f"equally probable world), {both_refuse} both refuse, {differ} differ, {only_ours} only deeplog answers, "
          f"{only_theirs} only ProbLog answers, {skipped} timed out")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
