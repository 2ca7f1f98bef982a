"""deeplog.torch: the layer, the circuit module, neural predicates; the
Rust path against finite differences and against the torch-operations
path."""

import itertools
import math

import pytest
import torch

import deeplog
import deeplog.torch as dt

MODEL = """
0.3::a. 0.6::b. 0.2::c(r); 0.3::c(g); 0.5::c(b).
q :- a, \\+ b.
q :- c(r).
r :- b, c(g).
r :- a, c(b).
s :- \\+ q.
"""


def brute_force(p_a, p_b, p_c):
    """The queries by enumerating worlds."""
    out = {"q": 0.0, "r": 0.0, "s": 0.0}
    p_c = dict(p_c, none=1 - sum(p_c.values()))
    for a, b, c in itertools.product([0, 1], [0, 1], ["r", "g", "b", "none"]):
        w = (p_a if a else 1 - p_a) * (p_b if b else 1 - p_b) * p_c[c]
        q = (a and not b) or c == "r"
        r = (b and c == "g") or (a and c == "b")
        out["q"] += w * q
        out["r"] += w * r
        out["s"] += w * (not q)
    return out


def test_layer_is_exact_against_worlds():
    layer = dt.Layer(deeplog.Model.from_source(MODEL), ["q", "r", "s"], ["a", "b", "c(r)", "c(g)"])
    x = torch.tensor([[0.3, 0.6, 0.2, 0.3], [0.9, 0.1, 0.05, 0.4], [0.0, 1.0, 0.25, 0.25]], dtype=torch.float64)
    y = layer(x)
    assert y.shape == (3, 3)
    for row, out in zip(x.tolist(), y.tolist()):
        pa, pb, pr, pg = row
        expected = brute_force(pa, pb, {"r": pr, "g": pg, "b": 0.5})
        assert out == pytest.approx([expected["q"], expected["r"], expected["s"]], abs=1e-12)


@pytest.mark.parametrize("backend", ["native", "torch"])
def test_layer_gradients_match_finite_differences(backend):
    layer = dt.Layer(deeplog.Model.from_source(MODEL), ["q", "r", "s"], ["a", "b", "c(r)", "c(g)"], backend=backend)
    x = torch.tensor([[0.3, 0.6, 0.2, 0.2], [0.7, 0.2, 0.1, 0.2]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,), eps=1e-6, atol=1e-7)


def test_layer_with_evidence_gradients():
    m = deeplog.Model.from_source("0.4::a. 0.3::b. c :- a. c :- b. evidence(c). d :- a, b.")
    layer = dt.Layer(m, ["a", "d"], ["a", "b"])
    x = torch.tensor([[0.4, 0.3], [0.8, 0.5]], dtype=torch.float64, requires_grad=True)
    y = layer(x)
    pa, pb = 0.4, 0.3
    assert y[0, 0].item() == pytest.approx(pa / (1 - (1 - pa) * (1 - pb)))
    assert torch.autograd.gradcheck(layer, (x,))


def test_float32_and_one_example():
    layer = dt.Layer(deeplog.Model.from_source(MODEL), ["q"], ["a"])
    y32 = layer(torch.tensor([0.3], dtype=torch.float32))
    y64 = layer(torch.tensor([0.3], dtype=torch.float64))
    assert y32.dtype == torch.float32 and y32.shape == (1,)
    assert y32.item() == pytest.approx(y64.item(), abs=1e-6)
    assert y64.item() == pytest.approx(brute_force(0.3, 0.6, {"r": 0.2, "g": 0.3, "b": 0.5})["q"], abs=1e-12)


def test_queries_that_cannot_hold_are_zero():
    layer = dt.Layer(deeplog.Model.from_source("0.5::a. q :- a. z :- fail."), ["q", "z"], ["a"])
    assert layer(torch.tensor([[0.25]], dtype=torch.float64)).tolist() == [[0.25, 0.0]]


def test_layer_trains_in_a_plain_loop():
    m = deeplog.Model.from_source("0.5::a. 0.5::b. q :- a, b.")
    layer = dt.Layer(m, ["q"], ["a", "b"])
    logits = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([logits], lr=2.0)
    for _ in range(200):
        opt.zero_grad()
        loss = -torch.log(layer(torch.sigmoid(logits).double().unsqueeze(0))).sum()
        loss.backward()
        opt.step()
    assert layer(torch.sigmoid(logits).double().unsqueeze(0)).item() > 0.95


SHARED = ["4-grid.sdd", "cnf3_v46_c23_s1.sdd", "road_r.sdd", "seq_fun.sdd", "sudoku_4.sdd"]


@pytest.mark.parametrize("name", SHARED)
@pytest.mark.parametrize("semiring", ["real", "log"])
def test_torch_path_agrees_with_rust(shared_circuits, name, semiring):
    native = dt.CircuitModule(shared_circuits / name, semiring=semiring, backend="native")
    ops = dt.CircuitModule(native.circuit, semiring=semiring, backend="torch")
    g = torch.Generator().manual_seed(1)
    p = torch.rand(5, native.num_vars, generator=g, dtype=torch.float64) * 0.98 + 0.01
    w = p.log() if semiring == "log" else p
    a = w.clone().requires_grad_()
    b = w.clone().requires_grad_()
    ya, yb = native(a), ops(b)
    assert torch.allclose(ya, yb, atol=1e-6, rtol=1e-6)
    ya.sum().backward()
    yb.sum().backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-6, rtol=1e-6)


def test_circuit_module_log_and_real_agree(shared_circuits):
    real = dt.CircuitModule(shared_circuits / "sudoku_4.sdd")
    log = dt.CircuitModule(shared_circuits / "sudoku_4.sdd", semiring="log")
    p = torch.full((2, real.num_vars), 0.5, dtype=torch.float64)
    assert torch.allclose(real(p).log(), log(p.log()))
    # one example, 1-D, float32
    assert log(p[0].float().log()).shape == (real.num_roots,)


@pytest.mark.parametrize("backend", ["native", "torch"])
def test_explicit_negative_weights(shared_circuits, backend):
    c = dt.CircuitModule(shared_circuits / "road_r.sdd", backend=backend)
    p = torch.full((1, c.num_vars), 0.3, dtype=torch.float64)
    # Complementary negatives give the same as none.
    assert torch.allclose(c(p), c(p, 1 - p))
    # All weights one: the model count over the variables the circuit
    # mentions (it was smoothed over them).
    ones = torch.ones_like(p)
    count = c(ones, ones).item()
    assert count >= 1 and float(count).is_integer()
    n = (1 - p).clone().requires_grad_()
    c(p, n).sum().backward()
    assert n.grad is not None and torch.isfinite(n.grad).all()


def test_model_layer_torch_path_agrees_with_rust():
    m = deeplog.Model.from_source(MODEL)
    native = dt.Layer(m, ["q", "r", "s"], ["a", "b", "c(r)"], backend="native")
    ops = dt.Layer(m, ["q", "r", "s"], ["a", "b", "c(r)"], backend="torch")
    x = torch.rand(7, 3, dtype=torch.float64) * 0.2
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = native(a), ops(b)
    assert torch.allclose(ya, yb, atol=1e-6)
    (ya * torch.arange(3)).sum().backward()
    (yb * torch.arange(3)).sum().backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_layer_runs_on_the_gpu():
    m = deeplog.Model.from_source(MODEL)
    cpu = dt.Layer(m, ["q", "r"], ["a", "b"])
    gpu = dt.Layer(m, ["q", "r"], ["a", "b"]).to("cuda")
    x = torch.rand(64, 2, dtype=torch.float64)
    assert torch.allclose(cpu(x), gpu(x.cuda()).cpu(), atol=1e-6)


ADDITION = """
nn(net, [X], Y, [0, 1, 2])::digit(X, Y).
add(X, Y, Z) :- digit(X, A), digit(Y, B), Z is A + B.
"""


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)

    def forward(self, x):
        return torch.softmax(self.linear(x), dim=1)


def test_neural_model_gradients_reach_the_network():
    torch.manual_seed(0)
    net = Net()
    nm = dt.NeuralModel(deeplog.Model.from_source(ADDITION), {"net": net})
    assert nm.instances("add(a, b, Z)") == ["add(a,b,0)", "add(a,b,1)", "add(a,b,2)", "add(a,b,3)", "add(a,b,4)"]
    xa, xb = torch.randn(6, 4), torch.randn(6, 4)
    p = nm("add(a, b, Z)", {"a": xa, "b": xb})
    assert p.shape == (6, 5)
    # Exact: the sum's distribution is the convolution of the digits'.
    da, db = net(xa), net(xb)
    conv = torch.zeros(6, 5)
    for i in range(3):
        for j in range(3):
            conv[:, i + j] += da[:, i] * db[:, j]
    assert torch.allclose(p.float(), conv, atol=1e-6)
    p[:, 2].log().sum().neg().backward()
    assert net.linear.weight.grad is not None and net.linear.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("backend", ["native", "torch"])
def test_neural_model_gradients_match_finite_differences(backend):
    # The network is the identity: the inputs are the digit distributions
    # (each summing to less than 1, so that a perturbed one stays a
    # distribution), and the gradient reaches them through the whole path:
    # on the CPU, Rust filling the slots and summing their gradient back.
    nm = dt.NeuralModel(deeplog.Model.from_source(ADDITION), {"net": torch.nn.Identity()}, backend=backend)
    g = torch.Generator().manual_seed(3)
    a = (torch.rand(4, 3, generator=g, dtype=torch.float64) + 0.1)
    b = (torch.rand(4, 3, generator=g, dtype=torch.float64) + 0.1)
    a = (0.9 * a / a.sum(dim=1, keepdim=True)).requires_grad_(True)
    b = (0.8 * b / b.sum(dim=1, keepdim=True)).requires_grad_(True)
    f = lambda a, b: nm("add(a, b, Z)", {"a": a, "b": b})  # noqa: E731
    assert torch.autograd.gradcheck(f, (a, b), eps=1e-6, atol=1e-7)
    # The values: the convolution of the two distributions.
    conv = torch.zeros(4, 5, dtype=torch.float64)
    for i in range(3):
        for j in range(3):
            conv[:, i + j] += a[:, i] * b[:, j]
    assert torch.allclose(f(a, b), conv, atol=1e-12)


def test_neural_model_errors():
    nm_model = deeplog.Model.from_source(ADDITION)
    with pytest.raises(deeplog.InputError, match="not given"):
        dt.NeuralModel(nm_model, {})
    with pytest.raises(deeplog.InputError, match="other"):
        dt.NeuralModel(nm_model, {"net": Net(), "other": Net()})
    nm = dt.NeuralModel(nm_model, {"net": Net()})
    with pytest.raises(deeplog.InputError, match="`b`"):
        nm("add(a, b, Z)", {"a": torch.randn(2, 4)})
