"""Every ```python block of docs/python.md runs as written, on its own."""

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"

# A fenced block opened by exactly ```python at the start of a line and
# closed by the next ``` at the start of a line.
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def blocks():
    """Each block's code, with the doc's line numbers kept (blank lines
    before it), so a traceback points into docs/python.md."""
    text = DOC.read_text(encoding="utf-8")
    return ["\n" * text.count("\n", 0, m.start(1)) + m.group(1) for m in FENCE.finditer(text)]


BLOCKS = blocks()


def test_the_guide_has_examples():
    assert len(BLOCKS) >= 5, f"{DOC} has {len(BLOCKS)} python blocks"


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block-{i}" for i in range(1, len(BLOCKS) + 1)])
def test_block_runs(code):
    namespace = {"__name__": "__docs__"}
    exec(compile(code, str(DOC), "exec"), namespace)
