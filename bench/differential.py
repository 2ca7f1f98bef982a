#!/usr/bin/env python3
"""deeplog against ProbLog on random first-order programs.

Each program draws a few constants, probabilistic facts and annotated
disjunctions (some with bodies), deterministic facts, and derived predicates
defined by rules that may recurse, negate lower strata (stratified, as
ProbLog needs), compare with `\\=`, and carry probabilities of their own;
sometimes flexible probabilities (`P::fl(X) :- w(X,N), P is N / 4.`), a
non-ground probabilistic fact, negative heads, `findall/3` over a
goal (deterministic or probabilistic, a distribution over lists), a scoped
atom, if-then-else, a query with a body; sometimes evidence; queries over
whole predicates and single atoms.

Both engines answer every program as a whole process; the answers must name
the same atoms with probabilities within --tolerance, or both must refuse
the program (evidence of probability zero, say). A program where they
differ is saved, with both outputs, for a regression test.

    bench/differential.sh [--programs N] [--seed S]
"""

import argparse
import os
import random
import re
import subprocess
import sys
import time

CONSTANTS = ["a", "b", "c", "d"]
ITE = "( f(X) -> true ; e(X,_) )"
ITE_MEANING = "( f(X), true ; \\+ f(X), e(X,_) )"


def prob(rng):
    return rng.choice([rng.choice(["0.1", "0.2", "0.25", "0.3", "0.5", "0.6", "0.75", "0.9"]), f"{rng.uniform(0.01, 0.99):.3f}", "1.0"])


class Pred:
    def __init__(self, name, arity):
        self.name, self.arity = name, arity

    def atom(self, args):
        return f"{self.name}({','.join(args)})" if args else self.name


def generate(rng):
    """A random program: stratified by predicates (retried until it is), or
    one time in four with negation through recursion, which may or may not
    be stratified once ground (both engines must then agree, or both
    refuse)."""
    local = rng.random() < 0.25
    while True:
        src, rules = draft(rng, local)
        if local or stratified(rules):
            return src


def draft(rng, local=False):
    consts = CONSTANTS[: rng.randint(2, 4)]
    lines = []
    base = [Pred("e", 2), Pred("f", 1), Pred("g", 1)]
    uncertain = []  # ground atoms with a probability, for evidence
    # Probabilistic facts over some pairs and constants.
    for x in consts:
        for y in consts:
            if rng.random() < 0.45:
                lines.append(f"{prob(rng)}::e({x},{y}).")
                uncertain.append(f"e({x},{y})")
        if rng.random() < 0.6:
            lines.append(f"{prob(rng)}::f({x}).")
            uncertain.append(f"f({x})")
        if rng.random() < 0.6:
            lines.append(f"g({x}).")
    # Every predicate a rule may call has a clause (deeplog refuses a call to
    # a predicate nothing defines; ProbLog fails it, where it is reached).
    for name, arity in (("e", 2), ("f", 1), ("g", 1)):
        if not any(re.match(rf"([\d.]+::)?{name}\(", l) for l in lines):
            args = ",".join(rng.choice(consts) for _ in range(arity))
            lines.append(f"{prob(rng)}::{name}({args}).")
    # Numbers, for arithmetic: w(X, N).
    if rng.random() < 0.4:
        for x in consts:
            lines.append(f"{prob(rng)}::w({x},{rng.randint(0, 3)}).")
        lines.append("heavy(X) :- w(X,N), w(Y,M), X \\= Y, S is N + M, S >= 3.")
        base.append(Pred("heavy", 1))
        # Flexible probabilities: the label computed from the body.
        if rng.random() < 0.5:
            lines.append("P::fl(X) :- w(X,N), P is N / 4.")
            base.append(Pred("fl", 1))
    # A non-ground probabilistic fact, called with its argument bound.
    if rng.random() < 0.3:
        lines.append(f"{prob(rng)}::nf(X).")
        lines.append("bf(X) :- g(X), nf(X).")
        base.append(Pred("bf", 1))
    # Negative heads: `nh` holds where a positive clause derives it and no
    # negative one fires.
    if rng.random() < 0.3:
        lines.append(f"nh(X) :- {rng.choice(['g(X)', 'f(X)'])}.")
        lines.append(f"{prob(rng)}::\\+nh(X) :- {rng.choice(['f(X)', 'e(X,_)'])}.")
        base.append(Pred("nh", 1))
    # findall/3 over a deterministic goal.
    if rng.random() < 0.3:
        lines.append("ng(N) :- findall(X, g(X), L), length(L, N).")
        lines.append(f"{prob(rng)}::big :- ng(N), N >= {rng.randint(1, 3)}.")
        base.append(Pred("big", 0))
    # findall/3 over a probabilistic goal: a distribution over lists.
    if rng.random() < 0.2:
        lines.append("fa(L) :- findall(X, f(X), L).")
    # A scoped atom (ProbLog's `scope:atom`).
    if rng.random() < 0.15:
        lines.append(f"{prob(rng)}::s1:k({rng.choice(consts)}).")
        lines.append("sk(X) :- s1:k(X).")
        base.append(Pred("sk", 1))
    # If-then-else (ProbLog is given its meaning written out, see main).
    if rng.random() < 0.05:
        lines.append(f"ite(X) :- g(X), {ITE}.")
        base.append(Pred("ite", 1))
    # Annotated disjunctions: a ground one, and one with a body.
    if rng.random() < 0.7:
        heads = rng.sample(consts, rng.randint(1, len(consts)))
        ps = sorted(rng.uniform(0.05, 1.0 / len(heads)) for _ in heads)
        lines.append("; ".join(f"{p:.3f}::k({h})" for p, h in zip(ps, heads)) + ".")
        base.append(Pred("k", 1))
        uncertain += [f"k({h})" for h in heads]
    if rng.random() < 0.7:
        a, b = rng.uniform(0.05, 0.5), rng.uniform(0.05, 0.5)
        body = rng.choice(["g(X)", "f(X)", "e(X,_)"])
        lines.append(f"{a:.3f}::h(X,u); {b:.3f}::h(X,v) :- {body}.")
        base.append(Pred("h", 2))
    # The game: a position is won if a move leads to a lost one.
    if local and rng.random() < 0.6:
        lines.append("win(X) :- e(X,Y), \\+ win(Y).")
        base.append(Pred("win", 1))
    # Reachability over the probabilistic edges (a cycle through e).
    if rng.random() < 0.4:
        lines.append("t(X,Y) :- e(X,Y).")
        lines.append("t(X,Y) :- e(X,Z), t(Z,Y).")
        base.append(Pred("t", 2))
    # Derived predicates: positive calls anywhere (mutual recursion),
    # negations of earlier ones; `stratified` rejects negative cycles.
    derived = [Pred(f"r{i}", rng.choice([1, 1, 2])) for i in range(rng.randint(2, 4))]
    rules = []
    for i, head in enumerate(derived):
        for _ in range(rng.randint(1, 3)):
            text, calls = rule(rng, head, base, derived, derived if local else derived[:i], consts)
            lines.append(text)
            rules += [(head.name, callee, negative) for callee, negative in calls]
    # Evidence, sometimes (mostly on atoms that are uncertain); queries.
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
        if uncertain and rng.random() < 0.7:
            atom = rng.choice(uncertain)
        else:
            p = rng.choice(derived)
            atom = p.atom([rng.choice(consts) for _ in range(p.arity)])
        value = rng.choice(["true", "false"])
        lines.append(f"evidence(\\+ {atom})." if value == "false" and rng.random() < 0.3 else f"evidence({atom}, {value}).")
    for p in rng.sample(derived, rng.randint(1, len(derived))):
        args = ["_"] * p.arity
        if p.arity == 2 and rng.random() < 0.3:
            args[rng.randrange(2)] = rng.choice(consts)
        lines.append(f"query({p.atom(args)}).")
    if rng.random() < 0.5:
        p = rng.choice(derived + base[:2])
        lines.append(f"query({p.atom([rng.choice(consts) for _ in range(p.arity)])}).")
    if any(l.startswith("fa(L)") for l in lines):
        lines.append("query(fa(_)).")
    # A query with a body: every instance the body derives.
    if rng.random() < 0.2:
        p = rng.choice([d for d in derived if d.arity == 1] or [Pred("f", 1)])
        lines.append(f"query({p.name}(X)) :- {rng.choice(['g(X)', 'e(X,_)'])}.")
    if any("member(" in l for l in lines):
        lines.insert(0, ":- use_module(library(lists)).")
    return "\n".join(lines) + "\n", rules


def rule(rng, head, base, derived, lower, consts):
    """One safe rule for `head`, and the derived predicates it calls
    (name, negated): positive literals bind every variable the head, the
    negations and the comparisons use."""
    vars_ = ["X", "Y", "Z"]
    body, bound, calls = [], set(), []
    callable_ = base + (derived if rng.random() < 0.5 else lower)
    for _ in range(rng.randint(1, 3)):
        p = rng.choice(callable_)
        args = [rng.choice(vars_ + [rng.choice(consts)]) for _ in range(p.arity)]
        literal = p.atom(args)
        calls.append((p.name, False))
        roll = rng.random()
        if roll < 0.12:
            # A disjunction in the body, both sides binding the same
            # variables.
            q = rng.choice([c for c in callable_ if c.arity == p.arity])
            literal = f"({literal} ; {q.atom(args)})"
            calls.append((q.name, False))
        elif roll < 0.2:
            # Lists: member/2 binds a variable to a few constants.
            literal = f"member({rng.choice(vars_)}, [{','.join(rng.sample(consts, rng.randint(1, len(consts))))}]), {literal}"
            bound.add(literal[7])
        body.append(literal)
        bound.update(a for a in args if a[0].isupper())
    head_args = [rng.choice(sorted(bound)) if bound and rng.random() < 0.85 else rng.choice(consts) for _ in range(head.arity)]
    if rng.random() < 0.4:
        p = rng.choice(lower + base)
        args = [rng.choice(sorted(bound) + consts) for _ in range(p.arity)]
        body.append(f"\\+ {p.atom(args)}")
        calls.append((p.name, True))
    if len(bound) >= 2 and rng.random() < 0.3:
        x, y = rng.sample(sorted(bound), 2)
        body.append(f"{x} \\= {y}")
    annotation = f"{prob(rng)}::" if rng.random() < 0.2 else ""
    return f"{annotation}{head.atom(head_args)} :- {', '.join(body)}.", calls


def stratified(rules):
    """No negated call from a predicate to one that depends on it."""
    calls = {}
    for caller, callee, _ in rules:
        calls.setdefault(caller, set()).add(callee)

    def reaches(a, b):
        seen, todo = set(), [a]
        while todo:
            x = todo.pop()
            if x == b:
                return True
            if x not in seen:
                seen.add(x)
                todo += calls.get(x, ())
        return False

    return not any(negative and reaches(callee, caller) for caller, callee, negative in rules)


ANSWER = re.compile(r"^\s*(.+?):\s+(\S+)\s*$")
NO_INSTANCE = re.compile(r".*[(,][A-Z_]")


def answers(cmd, path, limit):
    try:
        p = subprocess.run(cmd + [path], capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    if p.returncode != 0:
        return None, p.stdout + p.stderr
    out = {}
    for line in p.stdout.splitlines():
        m = ANSWER.match(line)
        # ProbLog answers a query with no ground instance `r(X2): 0`;
        # deeplog lists no instance.
        if m and not NO_INSTANCE.match(m.group(1)):
            out[m.group(1)] = float(m.group(2))
    return out, p.stdout + p.stderr


def compare(theirs, ours, tolerance):
    """(impossible instances only ProbLog lists, whether the answers agree).

    Both list the instances of a query with variables that can hold;
    ProbLog's grounder proves some impossible ones so (by evidence, `a, \\+
    a`) and lists the rest with probability 0, deeplog none."""
    if not (isinstance(ours, dict) and isinstance(theirs, dict)):
        return 0, False
    extra = set(theirs) - set(ours)
    if any(theirs[k] != 0 for k in extra):
        return 0, False
    theirs = {k: v for k, v in theirs.items() if k not in extra}
    same = theirs.keys() == ours.keys() and all(abs(theirs[k] - ours[k]) <= tolerance for k in theirs)
    return len(extra), same


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deeplog", required=True)
    ap.add_argument("--problog", required=True)
    ap.add_argument("--programs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tolerance", type=float, default=1e-6)
    ap.add_argument("--limit", type=float, default=30)
    ap.add_argument("--keep", default="target/differential", help="folder for programs where the two differ")
    args = ap.parse_args()
    os.makedirs(args.keep, exist_ok=True)
    rng = random.Random(args.seed)
    path = os.path.join(args.keep, "program.pl")
    counts = {"agree": 0, "both refuse": 0, "ProbLog fails": 0, "ProbLog times out": 0, "cycle only evidence removes": 0,
              "negative cycle only deeplog reports": 0, "ProbLog errs by evidence propagation": 0, "differ": 0}
    answered = zeros = 0
    start = time.time()
    for n in range(args.programs):
        src = generate(rng)
        with open(path, "w") as f:
            f.write(src)
        # ProbLog 2.2 has no `->`: it answers the if-then-else's meaning,
        # `(C, T ; \+ C, E)`, written out; deeplog reads the program as is.
        problog_path = path
        if ITE in src:
            problog_path = path + ".problog.pl"
            with open(problog_path, "w") as f:
                f.write(src.replace(ITE, ITE_MEANING))
        theirs, their_out = answers([args.problog], problog_path, args.limit)
        ours, our_out = answers([args.deeplog, "query"], path, args.limit)
        if theirs == "timeout":
            counts["ProbLog times out"] += 1
            with open(os.path.join(args.keep, f"problog_timeout_{args.seed}_{n}.pl"), "w") as f:
                f.write(src)
            continue
        if theirs is None and ours is None:
            # For a reason the program gives: evidence of probability zero,
            # or a ground atom that depends on its own negation (where it
            # has both, each engine may name either).
            theirs_why = "evidence" in their_out.lower() or "NegativeCycle" in their_out
            ours_why = "evidence" in our_out.lower() or "negation through recursion" in our_out
            if theirs_why and ours_why:
                counts["both refuse"] += 1
                continue
        # ProbLog's grounder reports a negative cycle where a negation is
        # reached inside an open recursion, even in programs stratified by
        # predicates, and now and then fails an assertion of its own ("An
        # unexpected error has occurred"). Counted where deeplog answers
        # (having found the ground program stratified), or finds the
        # evidence impossible.
        problog_fails = "NegativeCycle" in their_out or "unexpected error" in their_out
        if theirs is None and problog_fails and (isinstance(ours, dict) or "evidence" in our_out):
            counts["ProbLog fails"] += 1
            continue
        # ProbLog simplifies the ground program by the evidence before it
        # looks for negative cycles; deeplog refuses a program where some
        # world has one, evidence or not. Counted where both see the cycle
        # without the evidence.
        if ours is None and isinstance(theirs, dict) and "negation through recursion" in our_out:
            bare, problog_bare = path + ".bare.pl", path + ".bare.problog.pl"
            without = "".join(l for l in src.splitlines(True) if not l.startswith("evidence("))
            with open(bare, "w") as f:
                f.write(without)
            with open(problog_bare, "w") as f:
                f.write(without.replace(ITE, ITE_MEANING))
            if answers([args.problog], problog_bare, args.limit)[0] is None and answers([args.deeplog, "query"], bare, args.limit)[0] is None:
                counts["cycle only evidence removes"] += 1
                continue
            # ProbLog's cycle check runs as it grounds, and misses loops
            # through negation that its order of calls does not meet (an
            # odd loop such as r1 :- \+ r0, r0 :- r2, r2 :- r1 gets an
            # answer). Kept for a look: a cycle deeplog reports that is not
            # there is a fault (one was: a body `a, \+ a` still derived its
            # head).
            counts["negative cycle only deeplog reports"] += 1
            with open(os.path.join(args.keep, f"cycle_{args.seed}_{n}.pl"), "w") as f:
                f.write(src + "\n% ProbLog:\n% " + their_out.replace("\n", "\n% ") + "\n% deeplog: " + our_out)
            continue
        extra, same = compare(theirs, ours, args.tolerance)
        if same:
            counts["agree"] += 1
            answered += len(ours)
            zeros += extra
            continue
        # ProbLog's evidence propagation (its default) has answered as if an
        # atom false in every world were true under evidence that it is
        # false. Counted where ProbLog without it agrees.
        if "evidence(" in src and isinstance(ours, dict):
            plain, _ = answers([args.problog, "--dont-propagate-evidence"], problog_path, args.limit)
            if compare(plain, ours, args.tolerance)[1]:
                counts["ProbLog errs by evidence propagation"] += 1
                with open(os.path.join(args.keep, f"propagation_{args.seed}_{n}.pl"), "w") as f:
                    f.write(src + "\n% ProbLog:\n% " + their_out.replace("\n", "\n% ") + "\n% deeplog:\n% " + our_out.replace("\n", "\n% "))
                continue
        counts["differ"] += 1
        name = os.path.join(args.keep, f"differ_{args.seed}_{n}")
        with open(name + ".pl", "w") as f:
            f.write(src)
        with open(name + ".txt", "w") as f:
            f.write(f"ProbLog:\n{their_out}\ndeeplog:\n{our_out}\n")
        print(f"program {n}: the answers differ, see {name}.pl and .txt", file=sys.stderr)
    print(
        f"{args.programs} random programs (seed {args.seed}) in {time.time() - start:.0f} s: "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
        + f"; {answered} probabilities compared within {args.tolerance:g}"
        + f" (and {zeros} impossible instances that only ProbLog lists, with 0)"
    )
    sys.exit(1 if counts["differ"] else 0)


if __name__ == "__main__":
    main()
