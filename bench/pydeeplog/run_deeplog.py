"""Our side: examples/python/digit_addition.py's loop, timed per epoch.

Usage: python bench/pydeeplog/run_deeplog.py N EPOCHS   (run with the venv
that has our `deeplog` package, /root/.cache/deeplog/venv/bin/python)

The loop is digit_addition.py's, statement for statement (same seeds, split,
network, Adam 3e-3, per-epoch grouping from a Generator seeded 42, batches of
16 tuples, loss -log P(sum)); only the timing differs: each epoch is timed on
its own and the last line gives the MEDIAN, with the model's compile
(from_source + instances, which compiles the query) reported apart.
"""

import sys
import time

import torch

import deeplog
import deeplog.torch as dt
from common import Net, load_images, model_text, query_text, report, tuples, weights_checksum


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    torch.manual_seed(1)
    train_x, train_y, test_x, test_y = load_images()
    net = Net()
    start_sum = weights_checksum(net)
    t = time.perf_counter()
    model = dt.NeuralModel(deeplog.Model.from_source(model_text(n)), {"net": net})
    query = query_text(n)
    names = [f"a{i}" for i in range(1, n + 1)]
    instances = model.instances(query)  # compiles the query's circuit
    column = torch.empty(len(instances), dtype=torch.long)
    for i, name in enumerate(instances):
        column[int(name.rsplit(",", 1)[1].rstrip(")"))] = i
    compile_seconds = time.perf_counter() - t
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(42)
    seconds = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
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
        seconds.append(time.perf_counter() - start)
        print(f"epoch {epoch}: loss {total / len(groups):.4f} seconds {seconds[-1]:.4f}", flush=True)
    with torch.no_grad():
        test = tuples(len(test_x), n, generator)
        inputs = {name: test_x[test[:, k]] for k, name in enumerate(names)}
        sum_accuracy = (model(query, inputs).argmax(dim=1) == column[test_y[test].sum(dim=1)]).float().mean().item()
        digit_accuracy = (net(test_x).argmax(dim=1) == test_y).float().mean().item()
    report("deeplog", n, epochs, seconds, compile_seconds, sum_accuracy, digit_accuracy, start_sum, weights_checksum(net))


if __name__ == "__main__":
    main()
