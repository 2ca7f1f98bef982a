"""Type stubs of the native half of the package (``deeplog._deeplog``)."""

import os
from typing import Dict, List, Optional, Tuple, Union

__version__: str

class Model:
    """A model file (ProbLog, DeepProbLog, DeepLog syntax), loaded and checked."""

    @staticmethod
    def from_source(text: str, name: str = "<string>") -> "Model":
        """Checks model text; ``name`` is used in messages and to find files the
        model loads. Raises :class:`deeplog.ModelError` with the rendered
        diagnostics when the text has errors."""
    @staticmethod
    def from_file(path: Union[str, os.PathLike]) -> "Model":
        """Reads and checks a model file."""
    @property
    def name(self) -> str: ...
    @property
    def warnings(self) -> str:
        """The checker's warnings, rendered ("" when there are none)."""
    def networks(self) -> List[str]:
        """The networks its neural predicates name, in file order."""
    def query(self, *, logic: Optional[str] = None, timeout: Optional[float] = None) -> Dict[str, float]:
        """Every ground query, printed as ``deeplog query`` prints it, to its
        value in the model's logic (or ``logic``: ``probability``,
        ``log-probability``, ``godel``, ``product``, ``lukasiewicz``, ...)."""
    def _compile(
        self, queries: List[str], inputs: List[str], *, timeout: Optional[float] = None
    ) -> "Compiled": ...

class Circuit:
    """A circuit laid out for evaluation (see :class:`deeplog.torch.CircuitModule`)."""

    @staticmethod
    def load(path: Union[str, os.PathLike]) -> "Circuit":
        """Reads ``.sdd`` (with its ``.vtree`` beside it), ``.nnf`` or deeplog JSON."""
    @property
    def num_vars(self) -> int: ...
    @property
    def num_roots(self) -> int: ...
    @property
    def num_nodes(self) -> int: ...
    @property
    def num_edges(self) -> int: ...
    @property
    def smooth(self) -> bool: ...
    def _forward(
        self, semiring: str, dtype: str, batch: int, weights: int, negatives: Optional[int], out: int
    ) -> None: ...
    def _forward_backward(
        self,
        semiring: str,
        dtype: str,
        batch: int,
        weights: int,
        negatives: Optional[int],
        out: int,
        seeds: Optional[int],
        grad: int,
        grad_negatives: Optional[int],
    ) -> None: ...
    def _structure(self, negatives: bool = False) -> dict: ...

class Compiled:
    @property
    def circuit(self) -> Circuit: ...
    @property
    def slot_choices(self) -> List[int]: ...
    @property
    def slot_probabilities(self) -> List[float]: ...
    @property
    def slot_names(self) -> List[str]: ...
    @property
    def input_slots(self) -> List[int]: ...
    @property
    def query_names(self) -> List[str]: ...
    @property
    def slot_networks(self) -> List[Optional[Tuple[str, List[str], int]]]: ...
    @property
    def query_roots(self) -> List[Tuple[Optional[int], Optional[int]]]: ...
    def _neural_layout(self, groups: List[Tuple[int, List[int], List[int], List[int]]]) -> NeuralLayout: ...
    def _forward_neural(
        self, layout: NeuralLayout, dtype: str, batch: int, outs: List[Tuple[int, int]], slots: int, out: int, roots: int
    ) -> None: ...
    def _backward_neural(
        self, layout: NeuralLayout, dtype: str, batch: int, slots: int, roots: int, seeds: int, grads: List[Tuple[int, int]]
    ) -> None: ...

class NeuralLayout: ...
