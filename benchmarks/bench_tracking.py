"""Cost of experiment tracking: a raw PyTorch loop vs the same loop logging every iteration.

An MLP (64-128-10) on scikit-learn's digits, batch 32, ~2000 iterations; the tracked loop sends
the loss to a ``Visualizer`` with a ``WandbVisBackend`` (offline) every iteration, as the
LoggerHook does. Runs are interleaved (raw, tracked, raw, ...); the ratios of the medians and of
the fastest runs are printed (on a shared, loaded machine the fastest runs are the steadier
measure).
Target: at most 1.25x. Run: ``python benchmarks/bench_tracking.py [--iters 2000 --repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def _data():
    import torch
    from sklearn.datasets import load_digits

    features, labels = load_digits(return_X_y=True)
    return torch.tensor(features, dtype=torch.float32) / 16.0, torch.tensor(labels)


def run_loop(iters: int, features, labels, visualizer=None) -> tuple[float, float]:
    """Train for ``iters`` iterations; returns wall and CPU seconds of this process (all its
    threads), tracker flush included."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(0)
    step = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    while step < iters:
        order = torch.randperm(len(features), generator=generator)
        for begin in range(0, len(features) - 31, 32):
            index = order[begin : begin + 32]
            loss = torch.nn.functional.cross_entropy(model(features[index]), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if visualizer is not None:
                visualizer.add_scalars(
                    {"loss": loss.detach(), "lr": 0.1, "epoch": 0, "iter": step}, step=step
                )
            if step >= iters:
                break
    if visualizer is not None:
        visualizer.flush()
    return time.perf_counter() - start, time.process_time() - cpu_start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import torch

    from torchrig.visualization import Visualizer

    torch.set_num_threads(1)
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    features, labels = _data()
    run_loop(200, features, labels)  # warm-up
    raw, tracked = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            visualizer = Visualizer(
                name=f"bench{repeat}",
                vis_backends=[dict(type="WandbVisBackend", init_kwargs=dict(project="bench"))],
                save_dir=tmp,
            )
            # Start the W&B run before timing, as a Runner does at before_run.
            visualizer.get_backend("WandbVisBackend").experiment  # noqa: B018
            raw.append(run_loop(args.iters, features, labels))
            tracked.append(run_loop(args.iters, features, labels, visualizer))
            visualizer.close()
        raw.append(run_loop(args.iters, features, labels))
    raw_wall, tracked_wall = [w for w, _ in raw], [w for w, _ in tracked]
    raw_cpu, tracked_cpu = [c for _, c in raw], [c for _, c in tracked]
    raw_s, tracked_s = statistics.median(raw_wall), statistics.median(tracked_wall)
    print(f"raw loop:             {raw_s:.3f} s  ({[round(t, 3) for t in raw_wall]})")
    print(f"loop + W&B (offline): {tracked_s:.3f} s  ({[round(t, 3) for t in tracked_wall]})")
    print(
        f"ratio of medians: {tracked_s / raw_s:.2f}x, of fastest runs: "
        f"{min(tracked_wall) / min(raw_wall):.2f}x (target <= 1.25x)"
    )
    extra = (statistics.median(tracked_cpu) - statistics.median(raw_cpu)) / args.iters * 1e6
    print(f"CPU of this process (all threads): +{extra:.0f} us per logged iteration")


if __name__ == "__main__":
    main()
