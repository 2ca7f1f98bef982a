"""Shared by the Python examples: the digit-addition data and model.

The images are ``../shared/data/digits.csv`` beside the checkout (else the
copy in ``examples/digit_addition/digits.csv``): 8×8 digits, pixels 0..16,
shuffled with a fixed seed, the last fifth held out, as the Rust example.
"""

import csv
import pathlib
import random

import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_images(seed: int = 7):
    """(train_x, train_y, test_x, test_y): float32 pixels in [0, 1], labels."""
    path = ROOT.parent / "shared" / "data" / "digits.csv"
    if not path.exists():
        path = ROOT / "examples" / "digit_addition" / "digits.csv"
    with open(path) as f:
        rows = list(csv.reader(f))[1:]
    random.Random(seed).shuffle(rows)
    labels = torch.tensor([int(r[0]) for r in rows])
    pixels = torch.tensor([[float(p) / 16.0 for p in r[1:]] for r in rows], dtype=torch.float32)
    split = len(rows) * 4 // 5
    return pixels[:split], labels[:split], pixels[split:], labels[split:]


def model_text(n: int) -> str:
    """The model: a neural digit predicate and the sum of n digits."""
    args = ", ".join(f"X{i}" for i in range(1, n + 1))
    body = ", ".join(f"digit(X{i}, D{i})" for i in range(1, n + 1))
    total = " + ".join(f"D{i}" for i in range(1, n + 1))
    return (
        "nn(net, [X], Y, [0,1,2,3,4,5,6,7,8,9])::digit(X, Y).\n"
        f"sum{n}({args}, Z) :- {body}, Z is {total}.\n"
    )


def query_text(n: int) -> str:
    return f"sum{n}({', '.join(f'a{i}' for i in range(1, n + 1))}, Z)"


class Net(torch.nn.Module):
    """64 pixels → 128 (ReLU) → 10, softmax: a distribution over digits."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))

    def forward(self, x):
        return torch.softmax(self.layers(x), dim=1)


def tuples(count: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """A shuffled grouping of ``count`` images into ⌊count/n⌋ n-tuples."""
    order = torch.randperm(count, generator=generator)
    k = count // n
    return order[: k * n].view(k, n)
