"""Digit addition from Python: a digit classifier trained only from the sums
of N images, through deeplog's circuit, in a plain PyTorch loop.

Usage: python examples/python/digit_addition.py [N] [EPOCHS]   (default 2 30)

The same task as ``examples/digit_addition`` (the Rust example): the same
split, network shape (64 → 128 → 10), Adam at 3e-3, batches of 16 sums.
The last line reads
``digits=N epochs=E sum_accuracy=A digit_accuracy=D seconds_per_epoch=S
median_epoch_s=M`` (S the mean over the epochs, as the Rust example's; M
the median, as DeepProbLog's bench reports).
"""

import statistics
import sys
import time

import torch

import deeplog
import deeplog.torch as dt
from digits import Net, load_images, model_text, query_text, tuples


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    torch.manual_seed(1)
    train_x, train_y, test_x, test_y = load_images()
    net = Net()
    model = dt.NeuralModel(deeplog.Model.from_source(model_text(n)), {"net": net})
    query = query_text(n)
    names = [f"a{i}" for i in range(1, n + 1)]
    # The query's instances come in ProbLog's order (by their text:
    # `sum2(a1,a2,10)` before `sum2(a1,a2,2)`): the column of each sum.
    instances = model.instances(query)
    column = torch.empty(len(instances), dtype=torch.long)
    for i, name in enumerate(instances):
        column[int(name.rsplit(",", 1)[1].rstrip(")"))] = i
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(42)
    engine = dt.engine_seconds()
    start = time.perf_counter()
    times = []
    for epoch in range(1, epochs + 1):
        began = time.perf_counter()
        groups = tuples(len(train_x), n, generator)
        total = 0.0
        for batch in groups.split(16):
            sums = column[train_y[batch].sum(dim=1)]
            inputs = {name: train_x[batch[:, k]] for k, name in enumerate(names)}
            optimizer.zero_grad()
            p = model(query, inputs)
            loss = -torch.log(p.gather(1, sums.unsqueeze(1)).clamp_min(1e-12)).mean()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        times.append(time.perf_counter() - began)
        print(f"epoch {epoch}: loss {total / len(groups):.4f} ({times[-1]:.3f} s)", flush=True)
    seconds = (time.perf_counter() - start) / epochs
    engine = dt.engine_seconds() - engine
    with torch.no_grad():
        test = tuples(len(test_x), n, generator)
        inputs = {name: test_x[test[:, k]] for k, name in enumerate(names)}
        sum_accuracy = (model(query, inputs).argmax(dim=1) == column[test_y[test].sum(dim=1)]).float().mean().item()
        digit_accuracy = (net(test_x).argmax(dim=1) == test_y).float().mean().item()
    print(f"engine share of training time: {engine / (seconds * epochs):.1%} (the circuit, forward and backward)")
    print(
        f"digits={n} epochs={epochs} sum_accuracy={sum_accuracy:.4f} "
        f"digit_accuracy={digit_accuracy:.4f} seconds_per_epoch={seconds:.4f} "
        f"median_epoch_s={statistics.median(times):.4f}"
    )


if __name__ == "__main__":
    main()
