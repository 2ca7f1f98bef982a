"""Bad input from Python: each a deeplog.Error subclass with a clear message."""

import math

import pytest
import torch

import deeplog
import deeplog.torch as dt


def test_model_with_errors_names_file_and_line():
    with pytest.raises(deeplog.ModelError) as e:
        deeplog.Model.from_source("a.\np(X :- q.\n", name="bad.pl")
    assert e.value.file == "bad.pl"
    assert e.value.line == 2
    assert "bad.pl:2" in str(e.value)
    assert isinstance(e.value, deeplog.Error)


def test_missing_file():
    with pytest.raises(deeplog.FileError) as e:
        deeplog.Model.from_file("/no/such/model.pl")
    assert "/no/such/model.pl" in str(e.value)
    with pytest.raises(deeplog.FileError):
        dt.CircuitModule("/no/such/circuit.sdd")


def test_grounding_error_has_its_place():
    m = deeplog.Model.from_source("p(X) :- X > 1.\nquery(p(_)).\n", name="g.pl")
    with pytest.raises(deeplog.Error) as e:
        m.query()
    assert e.value.file == "g.pl"
    assert e.value.line is not None


def test_impossible_evidence():
    m = deeplog.Model.from_source("0.5::a. evidence(a). evidence(\\+a). query(a).")
    with pytest.raises(deeplog.Error) as e:
        m.query()
    assert "impossible" in str(e.value) or "zero" in str(e.value)


def test_unknown_logic_and_bad_timeout():
    m = deeplog.Model.from_source("a. query(a).")
    with pytest.raises(deeplog.InputError):
        m.query(logic="nonsense")
    with pytest.raises(deeplog.InputError):
        m.query(timeout=-1)
    with pytest.raises(ValueError):  # InputError is a ValueError too
        m.query(timeout=math.nan)


@pytest.fixture
def layer():
    m = deeplog.Model.from_source("0.1::a. 0.1::b. q :- a. q :- b. r :- a, b.")
    return dt.Layer(m, ["q", "r"], ["a", "b"])


def test_wrong_shape(layer):
    with pytest.raises(deeplog.InputError, match=r"\[batch, 2\]"):
        layer(torch.zeros(4, 3, dtype=torch.float64))
    with pytest.raises(deeplog.InputError):
        layer(torch.zeros(0, 2, dtype=torch.float64))


def test_wrong_dtype(layer):
    with pytest.raises(deeplog.InputError, match="float32 or float64"):
        layer(torch.zeros(4, 2, dtype=torch.int64))
    with pytest.raises(deeplog.InputError):
        layer(torch.zeros(4, 2, dtype=torch.float16))
    with pytest.raises(deeplog.InputError):
        layer([[0.5, 0.5]])


def test_probabilities_outside_0_1(layer):
    with pytest.raises(deeplog.InputError, match="not a probability"):
        layer(torch.tensor([[0.5, 1.5]], dtype=torch.float64))
    with pytest.raises(deeplog.InputError):
        layer(torch.tensor([[math.nan, 0.5]], dtype=torch.float64))


def test_unknown_query_or_input_name():
    m = deeplog.Model.from_source("0.1::a. 0.1::b. q :- a. q :- b. d :- a.")
    with pytest.raises(deeplog.InputError, match="`zzz`"):
        dt.Layer(m, ["q"], ["zzz"])
    with pytest.raises(deeplog.InputError, match="`d`"):
        dt.Layer(m, ["q"], ["d"])  # derived, not a probabilistic fact
    with pytest.raises(deeplog.Error):
        dt.Layer(m, ["q(("], ["a"])
    with pytest.raises(deeplog.InputError):
        dt.Layer(m, "q", ["a"])


def test_unknown_query_atom_is_a_located_error():
    m = deeplog.Model.from_source("0.1::a. q :- a.")
    with pytest.raises(deeplog.Error) as e:
        dt.Layer(m, ["nope(1)"], ["a"])
    assert "nope" in str(e.value)


def test_annotated_disjunction_over_one():
    m = deeplog.Model.from_source("0.2::c(r); 0.3::c(g); 0.5::c(b). ok :- c(r).")
    layer = dt.Layer(m, ["ok"], ["c(r)"])
    with pytest.raises(deeplog.InputError, match="more than 1"):
        layer(torch.tensor([[0.9]], dtype=torch.float64))


def test_device_with_no_path(layer):
    with pytest.raises(deeplog.DeviceError):
        layer(torch.zeros(2, 2, dtype=torch.float64, device="meta"))
    native = dt.Layer(deeplog.Model.from_source("0.1::a. q :- a."), ["q"], ["a"], backend="native")
    assert native(torch.tensor([[0.5]], dtype=torch.float64)).item() == pytest.approx(0.5)


def test_circuit_module_bad_input(shared_circuits):
    c = dt.CircuitModule(shared_circuits / "sudoku_4.sdd")
    with pytest.raises(deeplog.InputError):
        c(torch.zeros(2, c.num_vars + 1, dtype=torch.float64))
    with pytest.raises(deeplog.InputError):
        dt.CircuitModule(shared_circuits / "sudoku_4.sdd", semiring="tropical")
    for backend in ("native", "torch"):
        lc = dt.CircuitModule(shared_circuits / "sudoku_4.sdd", semiring="log", backend=backend)
        with pytest.raises(deeplog.InputError):
            lc(torch.full((1, c.num_vars), 0.5, dtype=torch.float64))
        rc = dt.CircuitModule(shared_circuits / "sudoku_4.sdd", backend=backend)
        bad = torch.full((2, c.num_vars), 0.5, dtype=torch.float32)
        bad[1, 3] = math.nan
        with pytest.raises(deeplog.InputError, match="probability"):
            rc(bad)


def test_errors_pickle():
    import pickle

    e = deeplog.ModelError("msg", "f.pl", 3, 4)
    back = pickle.loads(pickle.dumps(e))
    assert (back.message, back.file, back.line, back.column) == ("msg", "f.pl", 3, 4)
