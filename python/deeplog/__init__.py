"""deeplog: a neurosymbolic reasoning engine, from Python.

A model is a file of annotated first-order logic (ProbLog's language, with
DeepProbLog's neural predicates and DeepLog's formulas); deeplog grounds
it, compiles it into an algebraic circuit and evaluates and differentiates
that circuit, in Rust, with the GIL released.

>>> import deeplog
>>> model = deeplog.Model.from_source("0.3::a. 0.5::b. q :- a. q :- b. query(q).")
>>> round(model.query()["q"], 6)
0.65

Entry points:

- :class:`Model` — ``from_source(text)``, ``from_file(path)``, ``query()``;
- :class:`deeplog.torch.Layer` — a model as a ``torch.nn.Module`` from
  input fact probabilities to query probabilities, differentiable;
- :class:`deeplog.torch.CircuitModule` — a circuit file (``.sdd``, ``.nnf``,
  JSON) as a ``torch.nn.Module`` over per-variable weights;
- :class:`deeplog.torch.NeuralModel` — neural predicates backed by your own
  ``torch.nn.Module`` networks.

Errors are :class:`deeplog.Error` subclasses (``deeplog.errors``).
See ``docs/python.md`` in the repository.
"""

from ._deeplog import Circuit, Model, __version__
from . import errors
from .errors import *  # noqa: F401,F403  (the exception classes, listed in errors.__all__)

__all__ = ["Model", "Circuit", "__version__", *errors.__all__]
