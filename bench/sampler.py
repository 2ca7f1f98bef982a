"""Monte Carlo estimates for the graph and smokers benchmark families,
written from the programs' meaning and sharing no code with deeplog.

Each of N worlds draws every probabilistic fact independently; the query is
then decided by plain graph search in that world (bit-parallel: bit i of a
Python integer is world i). `estimate(path, n)` returns
`{query: (estimate, standard error)}`, or None for a program whose rules are
not exactly those of the two families (so that a changed program is never
checked against the wrong semantics).
"""
import math
import random
import re

PATH_RULES = ["path(X,Y) :- edge(X,Y).", "path(X,Y) :- edge(X,Z), path(Z,Y)."]
SMOKERS_RULES = [
    "smokes(X) :- stress(X).",
    "smokes(X) :- friend(X,Y), influences(Y,X), smokes(Y).",
    "0.4::asthma(X) :- smokes(X).",
]


def mask(rng, p, n):
    """An n-bit integer whose bits are independently 1 with probability p."""
    bits = bytearray((n + 7) // 8)
    r = rng.random
    for i in range(n):
        if r() < p:
            bits[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(bits, "little")


def spread(holds, links):
    """Fixpoint of `holds[b] |= holds[a] & m` over links `(a, b, m)`: in each
    world, what holds at `a` carries over a live link to `b`."""
    changed = True
    while changed:
        changed = False
        for a, b, m in links:
            new = holds.get(a, 0) & m & ~holds.get(b, 0)
            if new:
                holds[b] = holds.get(b, 0) | new
                changed = True


def rules_of(text):
    return [l.strip() for l in text.splitlines() if ":-" in l and not l.strip().startswith("%")]


def estimate(path, n, seed=1):
    text = open(path).read()
    rng = random.Random(seed)
    rules = rules_of(text)
    if rules == PATH_RULES:
        edges = [(float(p), int(a), int(b)) for p, a, b in re.findall(r"^([\d.]+)::edge\((\d+),(\d+)\)\.", text, re.M)]
        queries = [(int(a), int(b)) for a, b in re.findall(r"^query\(path\((\d+),(\d+)\)\)\.", text, re.M)]
        live = [(a, b, mask(rng, p, n)) for p, a, b in edges]
        out = {}
        for s, t in queries:
            reach = {}  # node -> worlds where it is reached from s by >= 1 edge
            for a, b, m in live:
                if a == s:
                    reach[b] = reach.get(b, 0) | m
            spread(reach, live)
            out[f"path({s},{t})"] = reach.get(t, 0)
    elif rules == SMOKERS_RULES:
        stress = {int(x): float(p) for p, x in re.findall(r"^([\d.]+)::stress\((\d+)\)\.", text, re.M)}
        influences = [(float(p), int(y), int(x)) for p, y, x in re.findall(r"^([\d.]+)::influences\((\d+),(\d+)\)\.", text, re.M)]
        friends = set((int(x), int(y)) for x, y in re.findall(r"^friend\((\d+),(\d+)\)\.", text, re.M))
        queries = [int(x) for x in re.findall(r"^query\(smokes\((\d+)\)\)\.", text, re.M)]
        smokes = {x: mask(rng, p, n) for x, p in stress.items()}
        # smokes(X) <- friend(X,Y), influences(Y,X), smokes(Y)
        links = [(y, x, mask(rng, p, n)) for p, y, x in influences if (x, y) in friends]
        spread(smokes, links)
        out = {f"smokes({q})": smokes.get(q, 0) for q in queries}
    else:
        return None
    result = {}
    for q, worlds in out.items():
        p = bin(worlds).count("1") / n
        result[q] = (p, math.sqrt(max(p * (1 - p), 1.0 / n) / n))
    return result
