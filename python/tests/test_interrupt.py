"""Ctrl-C stops a long compile: KeyboardInterrupt, promptly, and the
engine runs again afterwards in the same process."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys, time, deeplog
    # Reachability in a dense random graph: its compile runs for minutes.
    import random
    random.seed(3)
    edges = "".join(f"0.5::e({a},{b}).\\n" for a in range(18) for b in range(18) if a != b and random.random() < 0.6)
    text = edges + "p(X,Y) :- e(X,Y). p(X,Y) :- e(X,Z), p(Z,Y). query(p(0,17)).\\n"
    m = deeplog.Model.from_source(text)
    print("ready", flush=True)
    start = time.time()
    try:
        m.query()
        print("finished", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted {time.time() - start:.2f}", flush=True)
    small = deeplog.Model.from_source("0.5::a. query(a).")
    print("again", small.query()["a"], flush=True)
    """
)


def test_ctrl_c_interrupts_a_long_compile():
    p = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    sent = time.time()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    waited = time.time() - sent
    assert "interrupted" in out, (out, err)
    assert "again 0.5" in out, (out, err)
    assert waited < 10, waited
