"""One line on the interpreter running it: Python, torch and its threads, and
the versions of the given distributions (for run.sh's report)."""

import sys
from importlib.metadata import version

import torch

names = sys.argv[1:]
parts = [f"{name} {version(name)}" for name in names]
parts += [f"Python {sys.version.split()[0]}", f"torch {torch.__version__}", f"{torch.get_num_threads()} torch thread(s)"]
print(", ".join(parts))
