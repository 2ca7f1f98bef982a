"""DeepLog's own package (PyPI `pydeeplog`, import name `deeplog`, KU Leuven)
on the digit addition of examples/python/digit_addition.py.

Usage: target/pydeeplog-venv/bin/python bench/pydeeplog/run_pydeeplog.py N EPOCHS

The same data and split, network class and initialisation (torch.manual_seed(1)
before building it), Adam at 3e-3, per-epoch grouping into N-tuples by
torch.randperm with a Generator seeded 42, batches of 16 tuples and loss
-log P(sum), as bench/pydeeplog/run_deeplog.py (our side). The program is
the DeepProbLog one of examples/python/digits.py, the arithmetic written in
prefix form (`is(Z, +(D1, D2))`), since pydeeplog's Prolog reader takes
`D1 + D2` as one atom. It is proved by pydeeplog's SimpleGrounder, compiled
by `compile_to_module` (the digits are annotated-disjunction variables, so the
knowledge compiler is mv-sdd, pymvsdd) and evaluated by the module it lowers
to (KLay, real semiring), which runs the network itself
(`NetworkPredicate`). Compile time is reported apart; the last line gives the
MEDIAN epoch time.
"""

import sys
import time
from functools import partial
from importlib.metadata import version

import torch

import deeplog
from deeplog import Compiler, NetworkPredicate, SymTensor, reshape
from deeplog.circuit.knowledge_compilation import mvsdd as _mvsdd
from deeplog.grounding.prolog import SimpleGrounder, str_to_rules
from deeplog.systems.deepproblog import Solver, compile_to_module

from common import Net, load_images, report, tuples, weights_checksum

# Record which knowledge compiler runs (mv-sdd, or plain SDD), without changing it.
_used = []
_compile_mvsdd = _mvsdd.compile_mvsdd


def _recording(*args, **kwargs):
    _used.append("mv-sdd")
    return _compile_mvsdd(*args, **kwargs)


_mvsdd.compile_mvsdd = _recording


def program_text(n: int) -> str:
    """digits.py's model_text(n) and its query, in pydeeplog's syntax."""
    args = ", ".join(f"X{i}" for i in range(1, n + 1))
    body = ", ".join(f"digit(X{i}, D{i})" for i in range(1, n + 1))
    total = "D1"
    for i in range(2, n + 1):
        total = f"+({total}, D{i})"
    query = ", ".join(f"a{i}" for i in range(1, n + 1))
    return (
        "nn(net, [X], Y, [0,1,2,3,4,5,6,7,8,9])::digit(X, Y).\n"
        f"sum{n}({args}, Z) :- {body}, is(Z, {total}).\n"
        f"?- sum{n}({query}, Z).\n"
    )


def build(n: int, net: torch.nn.Module):
    """The compiled model: N image batches in, P(sum = s) for s = 0..9N out, in that order."""
    result = Solver(SimpleGrounder()).get_query_result(tuple(str_to_rules(program_text(n))))
    compiler = Compiler(atom_builders={("net", 2, "probability"): partial(NetworkPredicate, module=net)})
    query = ",".join(f"a{i}" for i in range(1, n + 1))
    return reshape(
        compile_to_module(result, compiler),
        input=tuple(SymTensor(f"a{i}") for i in range(1, n + 1)),
        output=SymTensor([f"sum{n}({query},{s}) _ probability" for s in range(9 * n + 1)]),
    )


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    torch.manual_seed(1)
    train_x, train_y, test_x, test_y = load_images()
    net = Net()
    start_sum = weights_checksum(net)
    t = time.perf_counter()
    model = build(n, net)
    compile_seconds = time.perf_counter() - t
    print(f"pydeeplog {version('pydeeplog')} (mv-sdd {version('mv-sdd')}, klaycircuits {version('klaycircuits')}) "
          f"from {deeplog.__file__}; torch threads {torch.get_num_threads()}; "
          f"knowledge compiler: {', '.join(_used) or 'SDD'}; compile {compile_seconds:.3f} s", flush=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(42)
    seconds = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        groups = tuples(len(train_x), n, generator)
        total = 0.0
        for batch in groups.split(16):
            sums = train_y[batch].sum(dim=1)  # the output columns are the sums in order
            inputs = [train_x[batch[:, k]] for k in range(n)]
            optimizer.zero_grad()
            p = model(*inputs)
            loss = -torch.log(p.gather(1, sums.unsqueeze(1)).clamp_min(1e-12)).mean()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        seconds.append(time.perf_counter() - start)
        print(f"epoch {epoch}: loss {total / len(groups):.4f} seconds {seconds[-1]:.4f}", flush=True)
    with torch.no_grad():
        test = tuples(len(test_x), n, generator)
        inputs = [test_x[test[:, k]] for k in range(n)]
        sum_accuracy = (model(*inputs).argmax(dim=1) == test_y[test].sum(dim=1)).float().mean().item()
        digit_accuracy = (net(test_x).argmax(dim=1) == test_y).float().mean().item()
    report("pydeeplog", n, epochs, seconds, compile_seconds, sum_accuracy, digit_accuracy, start_sum, weights_checksum(net))


if __name__ == "__main__":
    main()
