"""DistributedDataParallel: two processes (torchrun, gloo, CPU) end with the
same parameters as one process over the same global batches."""

import pathlib
import subprocess
import sys

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
DDP = ROOT / "examples" / "python" / "ddp.py"


@pytest.mark.parametrize("optimizer", ["--sgd", None])
def test_two_processes_equal_one_over_the_global_batch(tmp_path, optimizer):
    common = ["--steps", "6", "--double", "--epochs", "1"] + ([optimizer] if optimizer else [])
    pair = tmp_path / "pair.pt"
    one = tmp_path / "one.pt"
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(DDP),
         *common, "--save", str(pair)],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "processes=2 steps=6" in run.stdout
    run = subprocess.run([sys.executable, str(DDP), *common, "--world", "2", "--save", str(one)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    a, b = torch.load(pair), torch.load(one)
    initial = {k: v for k, v in _initial().items()}
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6, rtol=0), (k, (a[k] - b[k]).abs().max())
        assert not torch.allclose(a[k], initial[k]), f"{k} did not move"


def _initial():
    sys.path.insert(0, str(DDP.parent))
    from digits import Net

    torch.manual_seed(1)
    return Net().double().state_dict()
