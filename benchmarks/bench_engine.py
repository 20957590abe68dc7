"""The engine against a raw PyTorch loop doing the same work (issue 4's speed targets).

Measured in one run, the two sides interleaved round by round so that drifts of the
machine hit both alike:

- tiny model (MLP 64-128-10 on scikit-learn's digits, batch 32, ~2000 iterations, a log
  line every 50): time per iteration, target <= 1.10x;
- small compute-bound CNN (3x32x32 random images, batch 64): time per iteration (also of
  the fastest epoch, and the median ratio of raw and engine epochs run in alternation in one
  process, the steadiest figure when training on every core), target <= 1.02x;
- time to the end of the first iteration of a fresh process, target <= 1.15x;
- ``import torchrig.runner`` after ``import torch``, target <= 0.2 s;
- checkpoint save (atomic, fsynced) against a bare ``torch.save`` of the same state,
  target <= 1.5x;
- peak RSS of the tiny run, target <= +30 MB.

Run: ``python benchmarks/bench_engine.py`` (``--rounds N``, ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _raw_loop import CNN, MLP, Digits, RandomImages, RawTrainer, now, raw_train  # noqa: E402
from torch import nn  # noqa: E402

TINY = dict(make_net=MLP, make_data=Digits, batch_size=32, max_epochs=45)  # 45 x 45 iterations
SMALL_CNN = dict(
    make_net=CNN, make_data=RandomImages, batch_size=64, max_epochs=6, paired_epochs=16
)


def _engine_model(net: nn.Module) -> nn.Module:
    from torchrig.model import BaseModel

    class Classifier(BaseModel):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, inputs: torch.Tensor, data_samples: Any = None, mode: str = "tensor"):
            logits = self.net(inputs)
            if mode == "loss":
                return dict(loss=F.cross_entropy(logits, data_samples))
            return logits

    return Classifier()


def engine_train(
    net: nn.Module,
    dataset: Any,
    batch_size: int,
    max_epochs: int,
    marks: dict[str, Any],
    work_dir: str,
    first_iter_only: bool = False,
    log_interval: int = 50,
    visualizer: dict | None = None,
    tracker_started: bool = False,
    param_scheduler: dict | None = None,
    checkpoint: dict | None = None,
) -> Any:
    """The raw loop's work through a Runner (default hooks, logging every ``log_interval``
    iterations; ``visualizer``: its config, e.g. with a W&B backend, or the default;
    ``tracker_started``: wait, before training, until the trackers' runs are started (a W&B
    run takes about a second of CPU to start, on the writer's thread, which would otherwise
    overlap the first epochs); ``param_scheduler``, ``checkpoint``: the Runner's scheduler
    and CheckpointHook configs (none by default))."""
    from torchrig.hooks import Hook
    from torchrig.runner import Runner

    class Marks(Hook):
        def before_train(self, runner) -> None:
            if tracker_started:
                runner.visualizer.flush()

        def before_train_epoch(self, runner) -> None:
            marks[f"epoch_{runner.epoch}"] = now()

        def after_train(self, runner) -> None:
            marks["end"] = now()

    class FirstIter(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            if "first_iter" not in marks:
                marks["first_iter"] = now()
                runner.train_loop.stop_training = True

    runner = Runner(
        model=_engine_model(net),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=dataset,
            sampler=dict(type="DefaultSampler", shuffle=True, seed=0),
            batch_size=batch_size,
            collate_fn=dict(type="default_collate"),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.05, momentum=0.9)),
        param_scheduler=param_scheduler,
        default_hooks=dict(
            logger=dict(type="LoggerHook", interval=log_interval), checkpoint=checkpoint
        ),
        custom_hooks=[FirstIter() if first_iter_only else Marks()],
        randomness=dict(seed=0),
        visualizer=visualizer,
    )
    runner.train()
    return runner


def _per_iteration(marks: dict[str, Any], iterations_after_first_epoch: int) -> tuple[float, float]:
    """Wall-clock and CPU seconds per iteration, after the first epoch."""
    (wall_start, cpu_start), (wall_end, cpu_end) = marks["epoch_1"], marks["end"]
    count = iterations_after_first_epoch
    return (wall_end - wall_start) / count, (cpu_end - cpu_start) / count


def _fastest_epoch(marks: dict[str, Any], per_epoch: int) -> float:
    """Wall-clock seconds per iteration of the fastest epoch after the first."""
    starts = sorted(
        (int(key.split("_")[1]), wall)
        for key, (wall, _) in marks.items()
        if key.startswith("epoch_")
    )
    ends = [wall for _, wall in starts[1:]] + [marks["end"][0]]
    return min(end - start for (index, start), end in zip(starts, ends) if index >= 1) / per_epoch


def compare_loops(setup: dict[str, Any], rounds: int) -> dict[str, float]:
    """Seconds per iteration (after the first epoch) of the raw loop and the engine.

    Wall-clock and CPU times are each the best of ``rounds`` (the round least disturbed
    by other processes); CPU time (all threads of the process) is what the two sides
    spend, the steadier measure on a busy machine. ``*_epoch``: the fastest single epoch
    of all rounds (wall-clock), the steadiest measure for a model that trains on every core,
    where any other process running for a moment slows a whole round.
    """
    dataset = setup["make_data"]()
    per_epoch = -(-len(dataset) // setup["batch_size"])
    counted = per_epoch * (setup["max_epochs"] - 1)
    raw: list[tuple[float, float]] = []
    engine: list[tuple[float, float]] = []
    fastest: dict[str, list[float]] = {"raw": [], "engine": []}
    for index in range(rounds):
        for side in ("raw", "engine") if index % 2 == 0 else ("engine", "raw"):
            torch.manual_seed(0)
            marks: dict[str, Any] = {}
            net = setup["make_net"]()
            if side == "raw":
                raw_train(net, dataset, setup["batch_size"], setup["max_epochs"], marks)
                raw.append(_per_iteration(marks, counted))
            else:
                with tempfile.TemporaryDirectory() as work_dir:
                    runner = engine_train(
                        net, dataset, setup["batch_size"], setup["max_epochs"], marks, work_dir
                    )
                    runner.visualizer.close()
                engine.append(_per_iteration(marks, counted))
            fastest[side].append(_fastest_epoch(marks, per_epoch))
    return dict(
        raw_epoch=min(fastest["raw"]),
        engine_epoch=min(fastest["engine"]),
        raw_wall=min(w for w, _ in raw),
        engine_wall=min(w for w, _ in engine),
        raw_cpu=min(c for _, c in raw),
        engine_cpu=min(c for _, c in engine),
    )


def paired_epochs(setup: dict[str, Any]) -> tuple[float, float, float]:
    """Raw and engine epochs side by side in one run: before each epoch of the engine, a hook
    trains one epoch of the raw loop (its own model, optimizer and loader); each engine epoch
    (its hooks at the epoch's ends included) is compared with the raw epoch just before it, so
    a drift of the machine's speed over seconds hits both sides of a pair alike.

    Returns:
        The median of the per-pair ratios (epochs after the first), and the median raw and
        engine epoch times divided by the epoch's iterations.
    """
    from torchrig.hooks import Hook

    dataset = setup["make_data"]()
    per_epoch = -(-len(dataset) // setup["batch_size"])
    torch.manual_seed(0)
    raw = RawTrainer(setup["make_net"](), dataset, setup["batch_size"])
    pairs: list[tuple[float, float]] = []

    class RawEpochFirst(Hook):
        priority = "HIGHEST"

        def __init__(self) -> None:
            self.raw_time = self.start = 0.0

        def before_train_epoch(self, runner) -> None:
            begin = time.perf_counter()
            raw.epoch(runner.epoch, {})
            self.raw_time = time.perf_counter() - begin
            self.start = time.perf_counter()

    first = RawEpochFirst()

    class EngineEpochEnd(Hook):
        priority = "LOWEST"

        def after_train_epoch(self, runner) -> None:
            pairs.append((first.raw_time, time.perf_counter() - first.start))

    from torchrig.runner import Runner

    with tempfile.TemporaryDirectory() as work_dir:
        runner = Runner(
            model=_engine_model(setup["make_net"]()),
            work_dir=work_dir,
            train_dataloader=dict(
                dataset=dataset,
                sampler=dict(type="DefaultSampler", shuffle=True, seed=0),
                batch_size=setup["batch_size"],
                collate_fn=dict(type="default_collate"),
            ),
            train_cfg=dict(by_epoch=True, max_epochs=setup["paired_epochs"]),
            optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.05, momentum=0.9)),
            default_hooks=dict(logger=dict(type="LoggerHook", interval=50), checkpoint=None),
            custom_hooks=[first, EngineEpochEnd()],
            randomness=dict(seed=0),
        )
        runner.train()
        runner.visualizer.close()
    counted = pairs[1:]
    return (
        statistics.median(engine / raw_time for raw_time, engine in counted),
        statistics.median(raw_time for raw_time, _ in counted) / per_epoch,
        statistics.median(engine for _, engine in counted) / per_epoch,
    )


def _child(kind: str) -> None:
    """Entry of the subprocess measurements: prints one JSON line."""
    marks: dict[str, Any] = {}
    setup = TINY
    if kind.startswith("first"):
        dataset, net = setup["make_data"](), setup["make_net"]()
        if kind == "first-raw":
            raw_train(net, dataset, setup["batch_size"], 1, marks)
        else:
            with tempfile.TemporaryDirectory() as work_dir:
                engine_train(net, dataset, setup["batch_size"], 1, marks, work_dir, True)
        print(
            json.dumps({"first_iter": time.time() - (time.perf_counter() - marks["first_iter"][0])})
        )
        os._exit(0)  # no teardown in the measurement
    if kind.startswith("rss"):
        dataset, net = setup["make_data"](), setup["make_net"]()
        if kind == "rss-raw":
            raw_train(net, dataset, setup["batch_size"], setup["max_epochs"], marks)
        else:
            with tempfile.TemporaryDirectory() as work_dir:
                engine_train(
                    net, dataset, setup["batch_size"], setup["max_epochs"], marks, work_dir
                ).visualizer.close()
        print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
        return
    raise SystemExit(f"unknown child {kind}")


def _run_child(kind: str) -> tuple[float, dict]:
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    start = time.time()
    output = subprocess.run(
        [sys.executable, str(Path(__file__)), "--child", kind],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return start, json.loads(output.strip().splitlines()[-1])


def first_iteration(rounds: int) -> tuple[float, float]:
    raw, engine = [], []
    for index in range(rounds):
        for side in ("raw", "engine") if index % 2 == 0 else ("engine", "raw"):
            start, result = _run_child(f"first-{side}")
            (raw if side == "raw" else engine).append(result["first_iter"] - start)
    return min(raw), min(engine)


def peak_rss(rounds: int) -> tuple[float, float]:
    raw, engine = [], []
    for index in range(rounds):
        for side in ("raw", "engine") if index % 2 == 0 else ("engine", "raw"):
            _, result = _run_child(f"rss-{side}")
            (raw if side == "raw" else engine).append(result["rss_kb"] / 1024)
    return statistics.median(raw), statistics.median(engine)


def import_time(rounds: int) -> float:
    code = (
        "import time; start = time.perf_counter(); import torch; middle = time.perf_counter(); "
        "import torchrig.runner; print(time.perf_counter() - middle)"
    )
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(rounds)
    ]
    return statistics.median(times)


def _fsynced_save(state: dict, path: str) -> None:
    with open(path, "wb") as stream:
        torch.save(state, stream)
        stream.flush()
        os.fsync(stream.fileno())


def checkpoint_save(rounds: int) -> tuple[float, float, float, float]:
    """Median seconds: bare torch.save, torch.save + fsync (the disk's floor for a durable
    save), atomic save_checkpoint, Runner.save_checkpoint."""
    from torchrig.runner._state import build_checkpoint
    from torchrig.runner.checkpoint import save_checkpoint

    setup = dict(SMALL_CNN, max_epochs=1)
    marks: dict[str, Any] = {}
    bare, floor, atomic, full = [], [], [], []
    with tempfile.TemporaryDirectory() as work_dir:
        runner = engine_train(setup["make_net"](), setup["make_data"](128), 64, 1, marks, work_dir)
        state = build_checkpoint(runner, None, True, True, True)
        for index in range(rounds):
            order = ("bare", "floor", "atomic", "full")
            order = order if index % 2 == 0 else order[::-1]
            for side in order:
                start = time.perf_counter()
                if side == "bare":
                    torch.save(state, os.path.join(work_dir, "bare.pth"))
                    bare.append(time.perf_counter() - start)
                elif side == "floor":
                    _fsynced_save(state, os.path.join(work_dir, "floor.pth"))
                    floor.append(time.perf_counter() - start)
                elif side == "atomic":
                    save_checkpoint(state, os.path.join(work_dir, "atomic.pth"))
                    atomic.append(time.perf_counter() - start)
                else:
                    runner.save_checkpoint(work_dir, "full.pth")
                    full.append(time.perf_counter() - start)
        size = os.path.getsize(os.path.join(work_dir, "bare.pth"))
        runner.visualizer.close()
    print(f"  checkpoint size: {size / 1e6:.1f} MB")
    return tuple(statistics.median(times) for times in (bare, floor, atomic, full))  # type: ignore[return-value]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per measure")
    parser.add_argument("--quick", action="store_true", help="fewer epochs (a smoke run)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    import logging

    logging.basicConfig(level=logging.WARNING)
    if args.quick:
        TINY["max_epochs"], SMALL_CNN["max_epochs"] = 5, 2
        SMALL_CNN["paired_epochs"] = 3
    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, raw: str, engine: str, ratio: float | str, target: str) -> None:
        ratio_text = f"{ratio:.3f}x" if isinstance(ratio, float) else ratio
        rows.append((name, raw, engine, f"{ratio_text} (target {target})"))
        print(f"  {name}: raw {raw}, torchrig {engine}, {ratio_text}", flush=True)

    threads = torch.get_num_threads()
    for name, setup, target in (
        ("tiny MLP", TINY, "<= 1.10x"),
        ("small CNN", SMALL_CNN, "<= 1.02x"),
    ):
        torch.set_num_threads(1 if setup is TINY else threads)  # a tiny model: one thread
        times = compare_loops(setup, args.rounds)
        for kind in ("cpu", "wall", "epoch"):
            raw, engine = times[f"raw_{kind}"], times[f"engine_{kind}"]
            label = "fastest epoch, wall" if kind == "epoch" else kind
            row(f"{name}, per iteration, {label}", _ms(raw), _ms(engine), engine / raw, target)
        if setup is SMALL_CNN:  # (tiny epochs: switching sides every 20 ms would skew it)
            ratio, raw, engine = paired_epochs(setup)
            row(f"{name}, paired epochs, median ratio", _ms(raw), _ms(engine), ratio, target)
    torch.set_num_threads(threads)
    raw, engine = first_iteration(max(args.rounds, 3))
    row(
        "time to first iteration (best)",
        f"{raw:.2f} s",
        f"{engine:.2f} s",
        engine / raw,
        "<= 1.15x",
    )
    seconds = import_time(args.rounds)
    row(
        "import torchrig.runner after torch",
        "-",
        f"{seconds:.3f} s",
        f"+{seconds:.3f} s",
        "<= 0.2 s",
    )
    bare, floor, atomic, full = checkpoint_save(max(args.rounds, 5))
    row(
        "checkpoint save (atomic, fsync)",
        f"{bare * 1e3:.1f} ms",
        f"{atomic * 1e3:.1f} ms",
        atomic / bare,
        "<= 1.5x",
    )
    row(
        "  torch.save + fsync only (disk floor)",
        f"{bare * 1e3:.1f} ms",
        f"{floor * 1e3:.1f} ms",
        floor / bare,
        "info",
    )
    row(
        "  Runner.save_checkpoint (collect+flush)",
        f"{bare * 1e3:.1f} ms",
        f"{full * 1e3:.1f} ms",
        full / bare,
        "info",
    )
    raw, engine = peak_rss(max(1, args.rounds - 2))
    row(
        "peak RSS, tiny run",
        f"{raw:.0f} MB",
        f"{engine:.0f} MB",
        f"+{engine - raw:.1f} MB",
        "<= +30 MB",
    )

    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{width}}  {'raw':>10}  {'torchrig':>10}  ratio")
    for name, raw_text, engine_text, ratio_text in rows:
        print(f"{name:<{width}}  {raw_text:>10}  {engine_text:>10}  {ratio_text}")


if __name__ == "__main__":
    main()
