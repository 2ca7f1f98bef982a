"""deeplog as PyTorch modules.

- :class:`Layer` — a model as a ``torch.nn.Module``: a ``[batch, inputs]``
  tensor of probabilities for named probabilistic facts in, a ``[batch,
  queries]`` tensor of query probabilities out, differentiable.
- :class:`CircuitModule` — a circuit file as a ``torch.nn.Module`` over
  per-variable weights in the real or the log semiring (the shape of KLay's
  ``to_torch_module``).
- :class:`NeuralModel` — a model with neural predicates
  (``nn(net, [X], Y, Domain)::digit(X, Y).``) whose networks are your
  ``torch.nn.Module`` s; queries over tensor inputs give probabilities whose
  gradient reaches the networks' parameters.

Each compiles its circuit once. On the CPU, evaluation forward and backward
runs in Rust (``float32`` or ``float64``; tensors are read and written in
place, the GIL released). On any other device (``module.to("cuda")``) the
same layered circuit is evaluated with torch operations (index gathers and
scatters), so the circuit runs where the network runs; ``backend="torch"``
picks that path on the CPU too.
"""

from __future__ import annotations

import math
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from . import _deeplog
from .errors import DeviceError, InputError

__all__ = ["Layer", "CircuitModule", "NeuralModel", "engine_seconds"]

_engine = [0.0]


def engine_seconds() -> float:
    """Seconds spent in the Rust evaluator (forward and backward) since the
    import: to see the symbolic part's share of a training epoch."""
    return _engine[0]

_BACKENDS = ("auto", "native", "torch")
_SEMIRINGS = {"real": "real", "probability": "real", "prob": "real", "log": "log", "log-probability": "log"}


def _semiring(name: str) -> str:
    try:
        return _SEMIRINGS[name]
    except KeyError:
        raise InputError(f'unknown semiring "{name}": use "real" (probabilities) or "log" (log-probabilities)') from None


def _backend(name: str) -> str:
    if name not in _BACKENDS:
        raise InputError(f'unknown backend "{name}": use "auto", "native" (Rust, CPU) or "torch"')
    return name


def _model(model) -> "_deeplog.Model":
    """``model``, or the model file at that path."""
    return model if isinstance(model, _deeplog.Model) else _deeplog.Model.from_file(os.fspath(model))


def _check_tensor(x, what: str, width: int, allow_1d: bool = True) -> Tuple[torch.Tensor, bool]:
    """``x`` as a 2-D floating tensor ``[batch, width]`` (a 1-D one is a batch
    of one), and whether it was 1-D."""
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{what} must be a torch.Tensor, not {type(x).__name__}")
    if not x.is_floating_point():
        raise InputError(f"{what} must be float32 or float64, not {x.dtype}")
    if x.dtype not in (torch.float32, torch.float64):
        raise InputError(f"{what} must be float32 or float64, not {x.dtype} (convert with .double() or .float())")
    one = x.dim() == 1 and allow_1d
    if one:
        x = x.unsqueeze(0)
    if x.dim() != 2 or x.shape[1] != width:
        raise InputError(f"{what} must have shape [batch, {width}], not {list(x.shape) if not one else list(x.shape[1:])}")
    if x.shape[0] == 0:
        raise InputError(f"{what}: the batch is empty")
    if x.device.type == "meta":
        raise DeviceError(f"{what} is on the meta device, which holds no values to evaluate")
    return x, one


def _check_probabilities(x: torch.Tensor, what: str) -> None:
    with torch.no_grad():
        if bool(((x >= 0) & (x <= 1)).all()):  # NaN fails both
            return
        bad = ~((x >= 0) & (x <= 1))
        if bool(bad.any()):
            index = tuple(int(i) for i in bad.nonzero()[0])
            raise InputError(f"{what}: {float(x[index])} at {list(index)} is not a probability in [0, 1]")


class _Native(torch.autograd.Function):
    """The Rust evaluator as an autograd function: weights ``[batch, vars]``
    (and explicit negative weights) to roots ``[batch, roots]``."""

    @staticmethod
    def forward(ctx, circuit, semiring: str, weights: torch.Tensor, negatives: Optional[torch.Tensor]):
        w = weights.detach().contiguous()
        n = None if negatives is None else negatives.detach().to(w.dtype).contiguous()
        batch = w.shape[0]
        dtype = "float64" if w.dtype == torch.float64 else "float32"
        out = torch.empty((batch, circuit.num_roots), dtype=w.dtype)
        wants = ctx.needs_input_grad[2] or (negatives is not None and ctx.needs_input_grad[3])
        ctx.circuit, ctx.semiring, ctx.dtype = circuit, semiring, dtype
        ctx.has_negatives = n is not None
        nptr = None if n is None else n.data_ptr()
        start = time.perf_counter()
        if wants and circuit.num_roots == 1:
            # One root: its gradient now, scaled by the incoming one later
            # (the backward pass is linear in it), so a training step costs
            # one pass forward and back, not two forward.
            grad = torch.empty_like(w)
            gneg = None if n is None else torch.empty_like(n)
            circuit._forward_backward(
                semiring, dtype, batch, w.data_ptr(), nptr, out.data_ptr(), None, grad.data_ptr(),
                None if gneg is None else gneg.data_ptr(),
            )
            ctx.precomputed = True
            ctx.save_for_backward(grad, gneg)
        else:
            circuit._forward(semiring, dtype, batch, w.data_ptr(), nptr, out.data_ptr())
            ctx.precomputed = False
            ctx.save_for_backward(w, n)
        _engine[0] += time.perf_counter() - start
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        a, b = ctx.saved_tensors
        if ctx.precomputed:
            grad, gneg = a, b
            scale = grad_out if grad_out.dtype == grad.dtype else grad_out.to(grad.dtype)
            # The gradients are this call's own: scaled in place, not copied.
            return None, None, grad.mul_(scale), (None if gneg is None else gneg.mul_(scale))
        w, n = a, b
        start = time.perf_counter()
        batch = w.shape[0]
        seeds = grad_out.to(w.dtype).contiguous()
        out = torch.empty((batch, ctx.circuit.num_roots), dtype=w.dtype)
        grad = torch.empty_like(w)
        gneg = None if n is None else torch.empty_like(n)
        ctx.circuit._forward_backward(
            ctx.semiring, ctx.dtype, batch, w.data_ptr(), None if n is None else n.data_ptr(), out.data_ptr(),
            seeds.data_ptr(), grad.data_ptr(), None if gneg is None else gneg.data_ptr(),
        )
        _engine[0] += time.perf_counter() - start
        return None, None, grad, gneg


class _NativeModel(torch.autograd.Function):
    """A compiled model in Rust as an autograd function: the alternatives'
    own probabilities ``[batch, slots]`` to query values ``[batch,
    queries]`` (the chain of each annotated disjunction, the evidence's
    division and the checks of the probabilities all in Rust)."""

    @staticmethod
    def forward(ctx, compiled, sizes, slots: torch.Tensor):
        p = slots.detach().contiguous()
        batch = p.shape[0]
        dtype = "float64" if p.dtype == torch.float64 else "float32"
        _, n_queries, n_roots = sizes
        out = torch.empty((batch, n_queries), dtype=p.dtype)
        roots = torch.empty((batch, n_roots), dtype=p.dtype)
        start = time.perf_counter()
        compiled._forward(dtype, batch, p.data_ptr(), out.data_ptr(), roots.data_ptr())
        _engine[0] += time.perf_counter() - start
        ctx.compiled, ctx.dtype = compiled, dtype
        ctx.save_for_backward(p, roots)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        p, roots = ctx.saved_tensors
        g = grad_out.to(p.dtype).contiguous()
        grad = torch.empty_like(p)
        start = time.perf_counter()
        ctx.compiled._backward(ctx.dtype, p.shape[0], p.data_ptr(), roots.data_ptr(), g.data_ptr(), grad.data_ptr())
        _engine[0] += time.perf_counter() - start
        return None, None, grad


class _NeuralNative(torch.autograd.Function):
    """Networks' outputs to query values in one autograd node, on the CPU:
    Rust fills the slot matrix from the model's probabilities and the
    outputs' columns, evaluates, and in the backward pass sums the slots'
    gradient into each output's (what slices, selections, a concatenation
    and an index copy would do in torch, at a fraction of their cost per
    batch). ``layout``: ``Compiled._neural_layout``; ``outs``: per network
    call, its ``[members·batch, K]`` output."""

    @staticmethod
    def forward(ctx, compiled, layout, sizes, batch: int, dtype: torch.dtype, *outs: torch.Tensor):
        nets = [o.detach().to(dtype).contiguous() for o in outs]
        name = "float64" if dtype == torch.float64 else "float32"
        n_slots, n_queries, n_roots = sizes
        slots = torch.empty((batch, n_slots), dtype=dtype)
        values = torch.empty((batch, n_queries), dtype=dtype)
        roots = torch.empty((batch, n_roots), dtype=dtype)
        start = time.perf_counter()
        compiled._forward_neural(
            layout, name, batch, [(o.data_ptr(), o.shape[1]) for o in nets], slots.data_ptr(), values.data_ptr(),
            roots.data_ptr(),
        )
        _engine[0] += time.perf_counter() - start
        ctx.compiled, ctx.layout, ctx.name = compiled, layout, name
        ctx.outs = [(o.shape, o.dtype) for o in outs]
        ctx.save_for_backward(slots, roots)
        return values

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        slots, roots = ctx.saved_tensors
        g = grad_out.to(slots.dtype).contiguous()
        grads = [torch.empty(shape, dtype=slots.dtype) for shape, _ in ctx.outs]
        start = time.perf_counter()
        ctx.compiled._backward_neural(
            ctx.layout, ctx.name, slots.shape[0], slots.data_ptr(), roots.data_ptr(), g.data_ptr(),
            [(t.data_ptr(), t.shape[1]) for t in grads],
        )
        _engine[0] += time.perf_counter() - start
        grads = [t if t.dtype == dtype else t.to(dtype) for t, (_, dtype) in zip(grads, ctx.outs)]
        return (None, None, None, None, None, *grads)


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 − exp(x))`` for ``x ≤ 0``, stably."""
    return torch.where(x > -math.log(2), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


class _TorchPlan(torch.nn.Module):
    """The layered circuit as index tensors, evaluated with torch operations
    on the device they live on.

    Layer by layer, the values live in one ``[batch, alive]`` tensor: the rows
    a later layer still reads, carried forward, then the layer's own rows
    (an edge may skip layers, so a row stays alive until its last reader).
    A layer is one gather of child values per segment and one segmented
    reduction (``index_add`` for sums, ``scatter_reduce`` for products;
    log-sum-exp with the segment's maximum taken out in the log semiring).
    """

    def __init__(self, structure: dict) -> None:
        super().__init__()
        leaves = structure["leaves"]
        num_vars = int(structure["num_vars"])
        offsets = torch.tensor(structure["offsets"], dtype=torch.long)
        children = torch.tensor(structure["children"], dtype=torch.long)
        roots = torch.tensor(structure["roots"], dtype=torch.long)
        layers = structure["layers"]
        n_leaves = len(leaves)
        n_rows = n_leaves + len(offsets) - 1
        self.num_vars = num_vars
        self.num_roots = len(roots)
        # Leaf values come from [w, negatives, false, true] by index.
        leaf_index = [
            2 * num_vars + kind if kind < 2 else (slot if kind == 2 else num_vars + slot) for kind, slot in leaves
        ]
        self.register_buffer("leaf_index", torch.tensor(leaf_index, dtype=torch.long), persistent=False)
        layer_of = torch.zeros(n_rows, dtype=torch.long)
        for li, segments in enumerate(layers, start=1):
            for _, a, b in segments:
                layer_of[a:b] = li
        fan_in = offsets[1:] - offsets[:-1]
        parent = torch.repeat_interleave(torch.arange(n_leaves, n_rows), fan_in)
        last = torch.full((n_rows,), -1, dtype=torch.long)
        if len(children):
            last.scatter_reduce_(0, children, layer_of[parent], reduce="amax")
        last[roots] = len(layers) + 1
        alive = torch.arange(n_leaves)
        position = torch.full((n_rows,), -1, dtype=torch.long)
        position[alive] = torch.arange(n_leaves)
        self._plan: List[Tuple[str, List[Tuple[int, str, str, int]]]] = []
        for li, segments in enumerate(layers, start=1):
            steps = []
            new_rows = []
            for si, (op, a, b) in enumerate(segments):
                e0, e1 = int(offsets[a - n_leaves]), int(offsets[b - n_leaves])
                child_pos = position[children[e0:e1]]
                counts = fan_in[a - n_leaves : b - n_leaves]
                if op == 2:
                    counts = counts // 2
                seg = torch.repeat_interleave(torch.arange(b - a), counts)
                cname, sname = f"c{li}_{si}", f"s{li}_{si}"
                self.register_buffer(cname, child_pos, persistent=False)
                self.register_buffer(sname, seg, persistent=False)
                steps.append((op, cname, sname, b - a))
                new_rows.append(torch.arange(a, b))
            keep = alive[last[alive] > li]
            kname = f"k{li}"
            self.register_buffer(kname, position[keep], persistent=False)
            self._plan.append((kname, steps))
            alive = torch.cat([keep] + new_rows)
            position[alive] = torch.arange(len(alive))
        self.register_buffer("root_pos", position[roots], persistent=False)

    def forward(self, semiring: str, w: torch.Tensor, negatives: Optional[torch.Tensor]) -> torch.Tensor:
        batch = w.shape[0]
        log = semiring == "log"
        if negatives is None:
            negatives = _log1mexp(w) if log else 1 - w
        zero, one = (-math.inf, 0.0) if log else (0.0, 1.0)
        consts = torch.tensor([zero, one], dtype=w.dtype, device=w.device).expand(batch, 2)
        values = torch.cat([w, negatives.to(w.dtype), consts], dim=1).index_select(1, self.leaf_index)
        for kname, steps in self._plan:
            parts = [values.index_select(1, getattr(self, kname))]
            for op, cname, sname, n in steps:
                g = values.index_select(1, getattr(self, cname))
                seg = getattr(self, sname)
                if op == 2:
                    g = g.view(batch, -1, 2)
                    g = g[..., 0] + g[..., 1] if log else g[..., 0] * g[..., 1]
                if op == 1:
                    if log:
                        out = torch.zeros(batch, n, dtype=w.dtype, device=w.device).index_add(1, seg, g)
                    else:
                        ones = torch.ones(batch, n, dtype=w.dtype, device=w.device)
                        out = ones.scatter_reduce(1, seg.expand(batch, -1), g, reduce="prod", include_self=True)
                elif log:
                    full = torch.full((batch, n), -math.inf, dtype=w.dtype, device=w.device)
                    top = full.scatter_reduce(1, seg.expand(batch, -1), g.detach(), reduce="amax", include_self=True)
                    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
                    shifted = torch.exp(g - top.index_select(1, seg))
                    total = torch.zeros(batch, n, dtype=w.dtype, device=w.device).index_add(1, seg, shifted)
                    out = torch.log(total) + top
                else:
                    out = torch.zeros(batch, n, dtype=w.dtype, device=w.device).index_add(1, seg, g)
                parts.append(out)
            values = torch.cat(parts, dim=1)
        return values.index_select(1, self.root_pos)


class _Evaluator(torch.nn.Module):
    """One circuit, evaluated by Rust on the CPU or by torch operations on
    any device (the plan is made on first use)."""

    def __init__(self, circuit, semiring: str, backend: str) -> None:
        super().__init__()
        self.circuit = circuit
        self.semiring = semiring
        self.backend = backend
        self._plans: Dict[bool, _TorchPlan] = {}
        self._device = torch.device("cpu")

    def _apply(self, fn, *args, **kwargs):
        # Follow `.to(device)`: the torch plans' index tensors move with it.
        super()._apply(fn, *args, **kwargs)
        self._device = fn(torch.empty(0)).device
        return self

    def plan(self, negatives: bool) -> _TorchPlan:
        plan = self._plans.get(negatives)
        if plan is None:
            plan = _TorchPlan(self.circuit._structure(negatives)).to(self._device)
            self._plans[negatives] = plan
            self.add_module(f"plan_{int(negatives)}", plan)
        return plan

    def native_for(self, w: torch.Tensor) -> bool:
        """Whether ``w`` is evaluated by Rust (else by torch operations)."""
        return self.backend == "native" or (self.backend == "auto" and w.device.type == "cpu")

    def forward(self, w: torch.Tensor, negatives: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.native_for(w):
            if w.device.type != "cpu":
                raise DeviceError(
                    f'backend="native" evaluates on the CPU; this tensor is on {w.device} (use backend="auto" or "torch")'
                )
            return _Native.apply(self.circuit, self.semiring, w, negatives)
        plan = self.plan(negatives is not None)
        if plan.leaf_index.device != w.device:
            plan.to(w.device)
        return plan(self.semiring, w, negatives)


class CircuitModule(torch.nn.Module):
    """A circuit file as a ``torch.nn.Module`` (KLay's ``to_torch_module``
    shape): ``module(weights, neg_weights=None)`` maps per-variable weights
    ``[batch, vars]`` (or ``[vars]``) to root values ``[batch, roots]`` (or
    ``[roots]``), differentiable with respect to both.

    ``semiring="real"``: weights are probabilities, negative literals weigh
    ``1 − w`` unless ``neg_weights`` are given (weighted model counting).
    ``semiring="log"``: weights are log-probabilities (``log1mexp`` for the
    negatives), values log-probabilities. Variable ``i`` of the file is
    column ``i − 1`` (DIMACS numbering starts at 1).

    Explicit ``neg_weights`` need a smooth circuit; the module smooths its
    own copy the first time they are given.
    """

    def __init__(self, circuit: Union[str, os.PathLike, "_deeplog.Circuit"], semiring: str = "real", *, backend: str = "auto") -> None:
        super().__init__()
        if not isinstance(circuit, _deeplog.Circuit):
            circuit = _deeplog.Circuit.load(os.fspath(circuit))
        self.circuit = circuit
        self.semiring = _semiring(semiring)
        self.evaluator = _Evaluator(circuit, self.semiring, _backend(backend))

    @property
    def num_vars(self) -> int:
        return self.circuit.num_vars

    @property
    def num_roots(self) -> int:
        return self.circuit.num_roots

    def forward(self, weights: torch.Tensor, neg_weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        w, one = _check_tensor(weights, "weights", self.circuit.num_vars)
        n = None
        if neg_weights is not None:
            n, _ = _check_tensor(neg_weights, "neg_weights", self.circuit.num_vars)
            if n.shape != w.shape or n.device != w.device:
                raise InputError(f"neg_weights must match weights: {list(n.shape)} on {n.device} vs {list(w.shape)} on {w.device}")
        if n is None and not self.evaluator.native_for(w):
            # (The Rust path checks the weights as it reads them.)
            if self.semiring == "real":
                _check_probabilities(w, "weights")
            else:
                with torch.no_grad():
                    if not bool((w <= 0).all()):
                        raise InputError("weights: log-probabilities must be at most 0 (and not NaN)")
        out = self.evaluator(w, n)
        return out.squeeze(0) if one else out

    def extra_repr(self) -> str:
        c = self.circuit
        return f"vars={c.num_vars}, roots={c.num_roots}, edges={c.num_edges}, semiring={self.semiring!r}"


def _conditional(p: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
    """Slot weights from alternatives' own probabilities ``p`` ``[batch,
    slots]``: alternative ``i`` of a disjunction weighs ``p_i / (1 − p_0 − … −
    p_{i−1})`` (its slot encodes it given the earlier ones false); a fact
    weighs its probability. ``starts[s]``: the first slot of ``s``'s choice."""
    before = torch.cumsum(p, dim=1) - p
    prior = before - before.index_select(1, starts)
    with torch.no_grad():
        over = (prior + p) > 1 + (1e-5 if p.dtype == torch.float32 else 1e-9)
        if bool(over.any()):
            b, s = (int(i) for i in over.nonzero()[0])
            raise InputError(
                f"example {b}: the alternatives of an annotated disjunction sum to {float(prior[b, s] + p[b, s]):.6g}, "
                "more than 1"
            )
    rest = 1 - prior
    safe = torch.where(rest > 0, rest, torch.ones_like(rest))
    return torch.where(rest > 0, (p / safe).clamp(0, 1), torch.zeros_like(p))


class _CompiledModel(torch.nn.Module):
    """A compiled model: slot probabilities in, query probabilities out
    (``P(q ∧ e) / P(e)`` with evidence)."""

    def __init__(self, compiled, backend: str) -> None:
        super().__init__()
        self.compiled = compiled
        # (Read once: each read of a field of `compiled` makes a new list.)
        self.sizes = (len(compiled.slot_names), len(compiled.query_roots), compiled.circuit.num_roots)
        self.evaluator = _Evaluator(compiled.circuit, "real", backend)
        choices = compiled.slot_choices
        starts, first = [], {}
        for s, c in enumerate(choices):
            first.setdefault(c, s)
            starts.append(first[c])
        # Slots of one choice are consecutive (the compiler numbers them so).
        self.chained = any(starts[s] != s for s in range(len(starts)))
        self.register_buffer("starts", torch.tensor(starts, dtype=torch.long), persistent=False)
        self.register_buffer("base", torch.tensor(compiled.slot_probabilities, dtype=torch.float64), persistent=False)
        self._bases: Dict[tuple, tuple] = {}
        self.register_buffer("inputs", torch.tensor(compiled.input_slots, dtype=torch.long), persistent=False)
        roots = compiled.query_roots
        # Column `num_roots` is a constant 0 (a query that cannot be derived),
        # `num_roots + 1` a constant 1 (no evidence).
        r = compiled.circuit.num_roots
        self.register_buffer("numerators", torch.tensor([r if q is None else q for q, _ in roots], dtype=torch.long), persistent=False)
        self.register_buffer("denominators", torch.tensor([r + 1 if e is None else e for _, e in roots], dtype=torch.long), persistent=False)
        self.evidence = any(e is not None for _, e in roots)

    def native_for(self, slots: torch.Tensor) -> bool:
        return self.evaluator.native_for(slots)

    def forward(self, slots: torch.Tensor) -> torch.Tensor:
        if self.native_for(slots):
            if slots.device.type != "cpu":
                raise DeviceError(
                    f'backend="native" evaluates on the CPU; this tensor is on {slots.device} (use backend="auto" or "torch")'
                )
            return _NativeModel.apply(self.compiled, self.sizes, slots)
        _check_probabilities(slots, "slot probabilities")
        w = _conditional(slots, self.starts) if self.chained else slots
        roots = self.evaluator(w)
        batch = roots.shape[0]
        padded = torch.cat([roots, torch.zeros(batch, 1, dtype=roots.dtype, device=roots.device),
                            torch.ones(batch, 1, dtype=roots.dtype, device=roots.device)], dim=1)
        num = padded.index_select(1, self.numerators)
        if not self.evidence:
            return num
        den = padded.index_select(1, self.denominators)
        return num / den

    def base_for(self, x: torch.Tensor) -> torch.Tensor:
        """The model's slot probabilities in ``x``'s dtype and device (kept,
        so that a training loop does not convert them every batch)."""
        key = (x.dtype, x.device)
        cached = self._bases.get(key)
        if cached is None or cached[0] is not self.base:
            cached = (self.base, self.base.to(dtype=x.dtype, device=x.device))
            self._bases[key] = cached
        return cached[1]

    def slots_from(self, x: torch.Tensor) -> torch.Tensor:
        """The slot matrix ``[batch, slots]``: the model's probabilities, with
        the inputs' columns from ``x`` ``[batch, inputs]``."""
        base = self.base_for(x).expand(x.shape[0], -1)
        return base.index_copy(1, self.inputs.to(x.device), x)


class Layer(torch.nn.Module):
    """A model as a ``torch.nn.Module``.

    ``Layer(model, queries, inputs)`` compiles ``model`` once for
    ``queries`` (ground atoms, in place of the model's own ``query``
    statements; its evidence stays). Called on ``x`` ``[batch,
    len(inputs)]`` — probabilities for the named probabilistic facts (or
    alternatives of annotated disjunctions), which replace the file's
    labels — it returns ``[batch, len(queries)]`` query probabilities,
    differentiable with respect to ``x``. A 1-D ``x`` is a batch of one and
    gives a 1-D result. ``float32`` and ``float64`` are both served.

    >>> import torch, deeplog, deeplog.torch
    >>> m = deeplog.Model.from_source("0.1::a. 0.1::b. q :- a. q :- b.")
    >>> layer = deeplog.torch.Layer(m, ["q"], ["a", "b"])
    >>> layer(torch.tensor([[0.5, 0.5]], dtype=torch.float64))
    tensor([[0.7500]], dtype=torch.float64)
    """

    def __init__(
        self,
        model: Union["_deeplog.Model", str, os.PathLike],
        queries: Sequence[str],
        inputs: Sequence[str],
        *,
        backend: str = "auto",
        timeout: Optional[float] = None,
    ) -> None:
        super().__init__()
        model = _model(model)
        if isinstance(queries, str) or isinstance(inputs, str):
            raise InputError("queries and inputs are lists of atoms, e.g. ['q'], not one string")
        queries, inputs = [str(q) for q in queries], [str(i) for i in inputs]
        if not queries:
            raise InputError("a layer needs at least one query")
        compiled = model._compile(queries, inputs, timeout=timeout)
        if len(compiled.query_names) != len(queries):
            raise InputError("each query must be one ground atom (a query with variables names several)")
        self.queries: List[str] = list(compiled.query_names)
        self.inputs: List[str] = inputs
        self.model = _CompiledModel(compiled, _backend(backend))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, one = _check_tensor(x, "input", len(self.inputs))
        out = self.model(self.model.slots_from(x))
        return out.squeeze(0) if one else out

    def extra_repr(self) -> str:
        c = self.model.compiled.circuit
        return f"queries={self.queries}, inputs={self.inputs}, edges={c.num_edges}"


class NeuralModel(torch.nn.Module):
    """A model with neural predicates, backed by your networks.

    ``NeuralModel(model, {"net": module})``: for ``nn(net, [X], Y, [0, …,
    9])::digit(X, Y).`` the network ``net`` maps a batch of inputs to a
    ``[batch, 10]`` distribution over the domain (softmax applied, as in
    DeepProbLog). A query names its inputs by placeholder constants,
    ``model("addition(a, b, Z)", {"a": images_a, "b": images_b})``: the
    placeholders are bound, example by example, to the rows of the tensors;
    the result is ``[batch, instances]``, one column per ground instance of
    the query (``model.instances(query)`` names them, as ``deeplog query``
    prints them). Each query shape is compiled once, on first use; the
    gradient reaches the networks' parameters, so a plain PyTorch training
    loop trains them (``examples/python/digit_addition.py``).
    """

    def __init__(
        self,
        model: Union["_deeplog.Model", str, os.PathLike],
        networks: Dict[str, torch.nn.Module],
        *,
        backend: str = "auto",
        timeout: Optional[float] = None,
    ) -> None:
        super().__init__()
        model = _model(model)
        named = set(model.networks())
        unknown = sorted(set(networks) - named)
        if unknown:
            raise InputError(f"network `{unknown[0]}` is not named by any neural predicate of the model (it names {sorted(named)})")
        missing = sorted(named - set(networks))
        if missing:
            raise InputError(f"the model's neural predicates name network `{missing[0]}`, which was not given")
        self.source = model
        self.networks = torch.nn.ModuleDict(networks)
        self._backend = _backend(backend)
        self._timeout = timeout
        self._compiled: Dict[str, Tuple[_CompiledModel, list, torch.Tensor]] = {}

    def _compile(self, query: str):
        got = self._compiled.get(query)
        if got is None:
            compiled = self.source._compile([query], [], timeout=self._timeout)
            module = _CompiledModel(compiled, self._backend)
            device = next((b.device for b in self.buffers()), torch.device("cpu"))
            module.to(device)
            # Per (network, its inputs): the slots it fills and which output.
            calls: Dict[Tuple[str, Tuple[str, ...]], List[Tuple[int, int]]] = {}
            for slot, neural in enumerate(compiled.slot_networks):
                if neural is not None:
                    network, args, output = neural
                    calls.setdefault((network, tuple(args)), []).append((slot, output))
            # One call per network and batch, on every input it is asked
            # about stacked (as DeepProbLog batches a network's inputs).
            groups: Dict[Tuple[str, int], list] = {}
            for (net, args), v in calls.items():
                groups.setdefault((net, len(args)), []).append(
                    (args, torch.tensor([s for s, _ in v]), torch.tensor([o for _, o in v]), max(o for _, o in v))
                )
            plan = [(net, members) for (net, _), members in groups.items()]
            # The slots the networks' outputs fill, in the order they come.
            filled = [slots for _, members in plan for _, slots, _, _ in members]
            columns = torch.cat(filled) if filled else torch.empty(0, dtype=torch.long)
            # Per network call: the slots it fills, and for each, its member
            # and output (the fused CPU path's gather, see _NeuralNative).
            fused = compiled._neural_layout(
                [
                    (
                        len(members),
                        [int(s) for _, slots, _, _ in members for s in slots],
                        [j for j, (_, slots, _, _) in enumerate(members) for _ in slots],
                        [int(o) for _, _, outs, _ in members for o in outs],
                    )
                    for _, members in plan
                ]
            )
            self.add_module(f"compiled_{len(self._compiled)}", module)
            got = (module, plan, columns, fused)
            self._compiled[query] = got
        return got

    def instances(self, query: str) -> List[str]:
        """The ground instances of ``query``, in the order of the columns it
        answers with."""
        return list(self._compile(query)[0].compiled.query_names)

    def forward(self, query: str, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        module, plan, columns, fused = self._compile(query)
        if not inputs:
            raise InputError("inputs must bind the query's placeholders to tensors, e.g. {'a': images}")
        batch = None
        for name, t in inputs.items():
            if not isinstance(t, torch.Tensor):
                raise InputError(f"input `{name}` must be a torch.Tensor, not {type(t).__name__}")
            if batch is None:
                batch = t.shape[0]
            elif t.shape[0] != batch:
                raise InputError(f"input `{name}` has a batch of {t.shape[0]}, the others {batch}")
        if not plan:
            raise InputError(f"query `{query}` reaches no neural predicate")
        outs = []
        for net, members in plan:
            for args, _, _, _ in members:
                missing = [a for a in args if a not in inputs]
                if missing:
                    raise InputError(f"network `{net}` is called on `{missing[0]}`, which the inputs do not bind")
            arity = len(members[0][0])
            stacked = [torch.cat([inputs[args[k]] for args, _, _, _ in members]) for k in range(arity)]
            out = self.networks[net](*stacked)
            need = max(m[3] for m in members) + 1
            if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != batch * len(members) or out.shape[1] < need:
                shape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise InputError(
                    f"network `{net}` returned {shape} for {batch * len(members)} inputs; expected "
                    f"[{batch * len(members)}, {need}] (a distribution per input)"
                )
            outs.append(out)
        dtype = outs[0].dtype
        for o in outs[1:]:
            dtype = torch.promote_types(dtype, o.dtype)
        if dtype not in (torch.float32, torch.float64):
            dtype = torch.float32
        if module.native_for(outs[0]) and all(o.device.type == "cpu" for o in outs):
            # On the CPU: the networks' outputs straight into Rust, one
            # autograd node (see _NeuralNative).
            return _NeuralNative.apply(module.compiled, fused, module.sizes, batch, dtype, *outs)
        values = []
        for (net, members), out in zip(plan, outs):
            for j, (_, _, outputs, _) in enumerate(members):
                part = out[j * batch : (j + 1) * batch]
                values.append(part.index_select(1, outputs.to(out.device)))
        x = torch.cat(values, dim=1)
        if x.dtype not in (torch.float32, torch.float64):
            x = x.float()
        base = module.base_for(x).expand(batch, -1)
        slots = base.index_copy(1, columns.to(x.device), x)
        return module(slots)
