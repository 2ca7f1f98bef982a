"""Digit addition trained data-parallel with torch.distributed: each process
takes its share of every global batch, DistributedDataParallel averages the
gradients, and every process compiles its own circuit once (nothing of
deeplog is shared between processes).

Two processes on this machine (gloo, CPU):

    torchrun --standalone --nproc_per_node 2 examples/python/ddp.py [--epochs E]

Across machines, the same on each with torchrun's rendezvous:

    torchrun --nnodes 2 --nproc_per_node 2 --rdzv_backend c10d \\
        --rdzv_endpoint HOST:29400 examples/python/ddp.py

Without torchrun it runs as one process over the same global batches
(``--world W`` sets how many processes' batches one step takes), which is
what the test compares two processes against.
"""

import argparse
import os
import sys
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deeplog  # noqa: E402
import deeplog.torch as dt  # noqa: E402
from digits import Net, load_images, model_text, query_text, tuples  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digits", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: whole epochs)")
    parser.add_argument("--batch", type=int, default=16, help="examples per process and step")
    parser.add_argument("--world", type=int, default=1, help="without torchrun: processes to stand in for")
    parser.add_argument("--double", action="store_true", help="the network in float64")
    parser.add_argument("--sgd", action="store_true", help="SGD (lr 0.1) in place of Adam (lr 3e-3)")
    parser.add_argument("--save", help="write the network's parameters here (rank 0)")
    args = parser.parse_args()

    distributed = "RANK" in os.environ
    if distributed:
        dist.init_process_group("gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, args.world
    torch.manual_seed(1)  # the same initial network in every process
    net = Net().double() if args.double else Net()
    # Every process compiles its own circuit, once.
    model = dt.NeuralModel(deeplog.Model.from_source(model_text(args.digits)), {"net": net})
    trained = DistributedDataParallel(net) if distributed else net
    query = query_text(args.digits)
    names = [f"a{i}" for i in range(1, args.digits + 1)]
    instances = model.instances(query)
    column = torch.empty(len(instances), dtype=torch.long)
    for i, name in enumerate(instances):
        column[int(name.rsplit(",", 1)[1].rstrip(")"))] = i

    train_x, train_y, test_x, test_y = load_images()
    if args.double:
        train_x, test_x = train_x.double(), test_x.double()
    if args.sgd:
        optimizer = torch.optim.SGD(trained.parameters(), lr=0.1)
    else:
        optimizer = torch.optim.Adam(trained.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(42)  # the same batches everywhere
    # In a process of a group, the network the model calls is the DDP
    # wrapper, so that backward all-reduces the gradients.
    model.networks["net"] = trained
    step = 0
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        groups = tuples(len(train_x), args.digits, generator)
        total, seen = 0.0, 0
        for batch in groups.split(args.batch * world):
            if len(batch) < args.batch * world:
                break  # every process takes a full share
            mine = batch if not distributed else batch[rank * args.batch : (rank + 1) * args.batch]
            inputs = {name: train_x[mine[:, k]] for k, name in enumerate(names)}
            optimizer.zero_grad()
            p = model(query, inputs)
            target = column[train_y[mine].sum(dim=1)]
            loss = -torch.log(p.gather(1, target.unsqueeze(1)).clamp_min(1e-12)).mean()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(mine)
            seen += len(mine)
            step += 1
            if args.steps and step >= args.steps:
                break
        if rank == 0:
            print(f"epoch {epoch}: loss {total / max(seen, 1):.4f}", flush=True)
        if args.steps and step >= args.steps:
            break
    seconds = time.perf_counter() - start
    if rank == 0:
        with torch.no_grad():
            test = tuples(len(test_x), args.digits, generator)
            inputs = {name: test_x[test[:, k]] for k, name in enumerate(names)}
            right = model(query, inputs).argmax(dim=1) == column[test_y[test].sum(dim=1)]
            digit = (net(test_x).argmax(dim=1) == test_y).double().mean().item()
        print(
            f"processes={world} steps={step} sum_accuracy={right.double().mean().item():.4f} "
            f"digit_accuracy={digit:.4f} seconds={seconds:.2f}",
            flush=True,
        )
        if args.save:
            torch.save({k: v.detach().clone() for k, v in net.state_dict().items()}, args.save)
    if distributed:
        # Every process waits for rank 0's evaluation before the group goes:
        # a process that left the group while a peer still used it could be
        # aborted by gloo on exit ("terminate called without an active
        # exception").
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
