#!/usr/bin/env python3
"""deeplog's `mpe` and `map` against ProbLog 2.3's, whole processes, side by
side (bench/tasks.sh runs it).

The programs: the shared benchmark families (../shared/bench/programs) made
into MPE and MAP problems by appending evidence — smokers: `asthma(1)` seen,
`smokes(2)` not; paths: `path(1, last)` holds — and, for MAP, asking the
first five probabilistic facts of the file instead of its query. Each side
runs as a process under a time limit: the median of three runs where a run
takes under 2 s, else one. The probabilities are compared (MPE: both
print one; MAP: ProbLog's SCORE is not a probability, so only the
assignments are).

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
    with tempfile.TemporaryDirectory() as tmp:
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
                fmt = lambda t, out: f"{t:.3f}" if t is not None else out  # noqa: E731
                ratio = f"{theirs / ours:.1f}×" if theirs and ours else "—"
                row = f"| {task} | {name} | {fmt(theirs, tout)} | {fmt(ours, oout)} | {ratio} | {same} |"
                print(row, flush=True)
                rows.append(row)
    header = ("| task | program (+ evidence) | ProbLog 2.3 s | deeplog s | ProbLog / deeplog | same answer |\n"
              "| --- | --- | ---: | ---: | ---: | --- |")
    if a.out:
        with open(a.out + ".tmp", "w") as f:
            f.write("# deeplog's mpe and map vs ProbLog 2.3's (bench/tasks.sh)\n\n")
            f.write(f"Whole processes, limit {a.limit:.0f} s, {time.strftime('%Y-%m-%d')}. " + __doc__.split("\n\n")[1].replace("\n", " ") + "\n\n")
            f.write(header + "\n" + "\n".join(rows) + "\n")
        os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
