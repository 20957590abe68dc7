"""Per-iteration logging cost with a short and a long history (issue 4, item 9).

Each iteration does what a training loop with a LoggerHook does to a logged scalar: one
``update`` and a windowed ``mean(window_size=10)``. The cost must not depend on how much history
there is: MMEngine's HistoryBuffer copies its whole history on every update (12 us per iteration
at 2k entries, 3 ms at 1M). Run: ``python benchmarks/bench_history.py``; the ratio long/short
should be within 1.05. Times are this process's CPU time (``time.process_time``), so other work
on a shared machine disturbs them less.

A second case logs tensors (as a model's losses are) and reads the mean every 50 iterations, as
LoggerHook(interval=50) does: the tensors are converted together, 50 at a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from torchrig.logging import HistoryBuffer  # noqa: E402


def _filled(length: int) -> HistoryBuffer:
    # Full buffers (max_length == length): each update drops the oldest value, so both cases
    # keep exactly their history length and run the same code.
    values = [float(i % 97) for i in range(length)]
    return HistoryBuffer(values, [1] * length, max_length=length)


def _time_floats(buffer: HistoryBuffer, iters: int) -> float:
    start = time.process_time()
    for i in range(iters):
        buffer.update(0.5 + (i & 7), 1)
        buffer.mean(10)
    return (time.process_time() - start) / iters


def _time_tensors(buffer: HistoryBuffer, iters: int, values: list[torch.Tensor]) -> float:
    start = time.process_time()
    for i in range(iters):
        buffer.update(values[i & 63])
        if i % 50 == 49:
            buffer.mean(10)
    return (time.process_time() - start) / iters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=20000, help="iterations per measurement")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved measurements")
    args = parser.parse_args()
    values = [torch.tensor(0.1 * i) for i in range(64)]
    buffers = {2000: _filled(2000), 1000000: _filled(1000000)}
    results: dict[str, dict[int, list[float]]] = {"float": {}, "tensor": {}}
    for _ in range(args.rounds):  # interleaved, so drifts of the machine hit both alike
        for length, buffer in buffers.items():
            results["float"].setdefault(length, []).append(_time_floats(buffer, args.iters))
            results["tensor"].setdefault(length, []).append(
                _time_tensors(buffer, args.iters, values)
            )
    # The fastest round is the one least disturbed by other work on the machine; the median
    # is shown as well.
    print(f"{'case':<8} {'2k history':>12} {'1M history':>12} {'ratio':>7} {'(median)':>9}")
    for case, by_length in results.items():
        short, long = min(by_length[2000]), min(by_length[1000000])
        median_ratio = statistics.median(by_length[1000000]) / statistics.median(by_length[2000])
        print(
            f"{case:<8} {short * 1e6:>9.2f} us {long * 1e6:>9.2f} us {long / short:>7.3f} "
            f"{median_ratio:>9.3f}"
        )
    print(f"history lengths after the run: {[len(b) for b in buffers.values()]}")


if __name__ == "__main__":
    main()
