"""Shared by both runners of bench/pydeeplog: the data, network and grouping
of examples/python/digits.py (imported from there, not copied), and the
per-epoch timing and reporting, so that both sides time the same loop."""

import pathlib
import statistics
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples" / "python"))

from digits import Net, load_images, model_text, query_text, tuples  # noqa: E402,F401


def weights_checksum(net) -> float:
    """The sum of |w| over the network's parameters: shows both sides start
    from (and, to float rounding, end at) the same weights."""
    return float(sum(p.detach().abs().sum() for p in net.parameters()))


def report(system, n, epochs, seconds, compile_seconds, sum_accuracy, digit_accuracy, start_sum, end_sum):
    median = statistics.median(seconds)
    mean = sum(seconds) / len(seconds)
    print(f"compile_seconds={compile_seconds:.4f} first_epoch_seconds={seconds[0]:.4f} "
          f"mean_epoch_seconds={mean:.4f} weights_start={start_sum:.6f} weights_end={end_sum:.6f}")
    print(
        f"system={system} digits={n} epochs={epochs} sum_accuracy={sum_accuracy:.4f} "
        f"digit_accuracy={digit_accuracy:.4f} seconds_per_epoch={median:.4f}",
        flush=True,
    )
