"""The contract: Model.from_source / from_file, Model.query() -> dict."""

import json
import subprocess

import pytest

import deeplog


def test_from_source_query_gives_each_ground_query():
    m = deeplog.Model.from_source("0.3::a. 0.5::b. q :- a. q :- b. query(q). query(a).")
    got = m.query()
    assert isinstance(got, dict)
    assert list(got) == ["q", "a"]
    assert got["q"] == pytest.approx(0.65, abs=1e-12)
    assert got["a"] == pytest.approx(0.3, abs=1e-12)


def test_from_file_matches_the_command_line(root):
    path = root / "examples" / "models" / "graph.pl"
    got = deeplog.Model.from_file(path).query()
    exe = root / "target" / "release" / "deeplog"
    if not exe.exists():
        pytest.skip("target/release/deeplog is not built")
    out = subprocess.run([str(exe), "query", str(path), "--json"], capture_output=True, text=True, check=True)
    expected = {a["query"]: a["value"] for a in json.loads(out.stdout)["queries"]}
    assert got.keys() == expected.keys()
    for k in got:
        assert got[k] == pytest.approx(expected[k], abs=1e-12)


def test_queries_print_as_the_command_line_prints_them():
    m = deeplog.Model.from_source("0.5::e(1,2). 0.5::e(2,3). p(X,Y) :- e(X,Y). query(p(_,_)).")
    assert set(m.query()) == {"p(1,2)", "p(2,3)"}


def test_evidence_conditions():
    m = deeplog.Model.from_source("0.5::a. 0.5::b. c :- a. c :- b. evidence(c). query(a).")
    assert m.query()["a"] == pytest.approx(0.5 / 0.75)


def test_logic_option():
    m = deeplog.Model.from_source("0.6::a. 0.7::b. q :- a, b. query(q).")
    assert m.query(logic="godel")["q"] == pytest.approx(0.6)
    assert m.query()["q"] == pytest.approx(0.42)


def test_data_files_are_found_beside_the_model(tmp_path):
    (tmp_path / "facts.pl").write_text("0.25::f.\n")
    (tmp_path / "main.pl").write_text(":- include('facts.pl').\nquery(f).\n")
    assert deeplog.Model.from_file(str(tmp_path / "main.pl")).query()["f"] == pytest.approx(0.25)


def test_warnings_and_repr():
    m = deeplog.Model.from_source("a. query(a).", name="m.pl")
    assert m.name == "m.pl"
    assert isinstance(m.warnings, str)
    assert "m.pl" in repr(m)


def test_help_explains():
    assert "query" in deeplog.Model.query.__doc__
    assert deeplog.Model.from_source.__doc__
