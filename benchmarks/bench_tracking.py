"""Cost of logging and tracking through the Runner, on the tiny digits MLP (issue 14's "Speed").

Every case trains the same 64-128-10 MLP on scikit-learn's digits (batch 32, 45 iterations an
epoch) set up as MMEngine configs usually are: ``DefaultSampler(shuffle=True)``, a collate
function returning a dict, SGD with momentum, a per-iteration ``MultiStepLR``,
``CheckpointHook(by_epoch=False)`` with a large interval, the model built before the Runner.
The raw side is a hand-written loop doing the same work (shuffled DataLoader, the same
optimizer and scheduler stepped every iteration, a line logged to the console and a file at
the LoggerHook's interval, the final state saved as the CheckpointHook does). Time per iteration after the first epoch
(W&B's run is started by then: steady state), rounds interleaved, ratio of the medians, in
wall-clock time and in this process's CPU time (all its threads; the steadier measure on a
shared machine; W&B's service process is not counted, on either side).

Cases (W&B offline, with W&B's default settings: console capture on):

- ``wandb-every-iter``: ``LoggerHook(interval=1)`` to a ``WandbVisBackend`` vs the raw loop
  calling ``Run.log`` with the same values and printing a line every iteration (<= 1.10x).
- ``default``: ``LoggerHook(interval=10)``, W&B and local backends vs the raw loop logging a
  line every 10 iterations (<= 1.15x).
- ``no-trackers``: ``LoggerHook(interval=10)``, no backend vs the raw loop logging a line every
  10 iterations (<= 1.10x).
- ``mmengine-style``: ``LoggerHook(interval=50)``, the default (local) backend vs the raw
  loop logging a line every 50 iterations.
- ``wandb-by-hand``: no Runner: the raw loop calling ``Run.log`` every 10 iterations vs the
  raw loop without W&B (what W&B itself costs at the default interval).

Run: ``python benchmarks/bench_tracking.py [--cases ...] [--rounds 5] [--epochs 20]``. Each case
runs in a fresh process (its output, the training lines, is discarded) and prints one line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES = {
    # name: (LoggerHook interval, backends, what the raw loop logs, target)
    "wandb-every-iter": (1, ["WandbVisBackend"], "wandb", 1.10),
    "default": (10, ["LocalVisBackend", "WandbVisBackend"], "lines", 1.15),
    "no-trackers": (10, [], "lines", 1.10),
    "mmengine-style": (50, ["LocalVisBackend"], "lines", None),
    # not the Runner: a hand loop calling Run.log every 10 iterations vs one that does not
    # (W&B's own cost at the default interval, which no engine can take away)
    "wandb-by-hand": (10, None, "lines", None),
}
BATCH, MILESTONES, RAW_LOG_INTERVAL = 32, [600, 900], 50


def _now() -> float:
    return time.perf_counter()


def _mark() -> tuple[float, float]:
    """Wall-clock and process CPU time (all threads), as ``bench_engine``'s marks."""
    return time.perf_counter(), time.process_time()


def raw_loop(
    net: Any, dataset: Any, epochs: int, marks: dict, log: str, interval: int = RAW_LOG_INTERVAL
) -> None:
    """The hand-written loop: a line every ``interval`` iterations, logged to the console and
    a file as the Runner's LoggerHook does; with ``log='wandb'`` also ``Run.log`` with the
    LoggerHook's values, into a W&B run started with the loop. At the end it saves the model, optimizer and scheduler, as the
    Runner's ``CheckpointHook(by_epoch=False)`` does after the last iteration."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    loader = DataLoader(
        dataset, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, MILESTONES)
    logger = logging.getLogger(f"raw-{id(marks)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in (
        logging.StreamHandler(sys.stdout),
        logging.FileHandler(os.path.join(marks["dir"], "raw.log")),
    ):
        handler.setFormatter(logging.Formatter("%(asctime)s - %(levelname)s - %(message)s"))
        logger.addHandler(handler)
    run = None
    if log == "wandb":
        import wandb

        run = wandb.init(project="bench", dir=marks["dir"])
    step = 0
    for epoch in range(epochs):
        marks[f"epoch_{epoch}"] = _mark()
        last = _now()
        for batch in loader:
            data_time = _now() - last
            loss = F.cross_entropy(net(batch["inputs"]), batch["data_samples"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            if step % interval == 0:
                lr, value, took = scheduler.get_last_lr()[0], loss.item(), _now() - last
                if run is not None:
                    row = dict(lr=lr, time=took, data_time=data_time, loss=value)
                    run.log({**row, "epoch": epoch + 1, "iter": step}, step=step)
                logger.info(f"Epoch(train) [{epoch + 1}][{step}]  lr: {lr:.4e}  loss: {value:.4f}")
            last = _now()
    state = dict(model=net.state_dict(), optimizer=optimizer.state_dict())
    torch.save(
        dict(state, scheduler=scheduler.state_dict()), os.path.join(marks["dir"], "last.pth")
    )
    marks["end"] = _mark()
    for handler in logger.handlers:
        handler.close()
    if run is not None:
        run.finish()


def runner_loop(net: Any, dataset: Any, epochs: int, marks: dict, case: str) -> None:
    """The same training through the Runner, configured as MMEngine configs usually are."""
    from bench_engine import engine_train

    interval, backends, _, _ = CASES[case]
    runner = engine_train(
        net,
        dataset,
        BATCH,
        epochs,
        marks,
        marks["dir"],
        log_interval=interval,
        visualizer=dict(type="Visualizer", vis_backends=[dict(type=b) for b in backends]),
        tracker_started=True,
        param_scheduler=dict(type="MultiStepLR", by_epoch=False, milestones=MILESTONES),
        checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=10**6),
    )
    runner.visualizer.close()


def child(case: str, rounds: int, epochs: int) -> None:
    """One case, ``rounds`` interleaved rounds of each side; prints ``RESULT <json>``."""
    import torch

    sys.path.insert(0, str(HERE))
    from _raw_loop import MLP, Digits

    torch.set_num_threads(1)
    dataset = Digits()
    counted = -(-len(dataset) // BATCH) * (epochs - 1)
    times: dict[str, list[list[float]]] = {"raw": [], "runner": []}  # [wall, cpu] a round
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(rounds):
            for side in ("raw", "runner") if index % 2 == 0 else ("runner", "raw"):
                torch.manual_seed(0)
                marks: dict = {"dir": os.path.join(tmp, f"{side}{index}")}
                os.makedirs(marks["dir"])
                if side == "raw":
                    raw_loop(MLP(), dataset, epochs, marks, CASES[case][2], CASES[case][0])
                elif CASES[case][1] is None:
                    raw_loop(MLP(), dataset, epochs, marks, "wandb", CASES[case][0])
                else:
                    runner_loop(MLP(), dataset, epochs, marks, case)
                start, end = marks["epoch_1"], marks["end"]
                times[side].append([(end[i] - start[i]) / counted for i in (0, 1)])
    print("RESULT " + json.dumps(times), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    if args.child:
        child(args.child, args.rounds, args.epochs)
        return
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent), str(HERE)]))
    for case in args.cases:
        out = subprocess.run(
            [sys.executable, __file__, "--child", case, "--rounds", str(args.rounds)]
            + ["--epochs", str(args.epochs)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{case}: failed\n{out.stderr[-3000:]}")
            continue
        times = json.loads(line[len("RESULT ") :])
        target = CASES[case][3]
        verdict = f"target <= {target:.2f}x" if target else "no target"
        for slot, kind in ((0, "wall"), (1, "CPU")):
            raw = statistics.median(t[slot] for t in times["raw"])
            runner = statistics.median(t[slot] for t in times["runner"])
            rounds = ", ".join(
                f"{r[slot] / w[slot]:.2f}" for w, r in zip(times["raw"], times["runner"])
            )
            print(
                f"{case:17s} {kind:4s} raw {raw * 1e3:.3f} ms/iter, Runner {runner * 1e3:.3f} "
                f"ms/iter: {runner / raw:.3f}x ({verdict}); per round: {rounds}",
                flush=True,
            )


if __name__ == "__main__":
    main()
