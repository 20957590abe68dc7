"""A small training run for the kill-and-resume tests, run in a child process.

``run_job(work_dir, mode, resume, pause_at, pause_in, workers)``, or from a shell:
``python _resume_job.py WORK_DIR MODE [--resume] [--pause-at N] [--pause-in PHASE] [--workers W]``.

MODE is ``epoch`` (3 epochs of 10 iterations, validation after each) or ``iter`` (30
iterations, validation every 5). Every iteration's loss is appended to
``WORK_DIR/losses.txt`` as ``<iter> <float.hex>``. With ``--pause-at N`` the run writes
``WORK_DIR/paused`` and waits there (until ``WORK_DIR/go`` exists) to be killed or
signalled: after training iteration N
(``--pause-in train``), in the first validation after it (``val``), or in the first
checkpoint save after it (``save``).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from torchrig.evaluator import BaseMetric
from torchrig.hooks import Hook
from torchrig.model import BaseModel
from torchrig.registry import DATASETS, HOOKS, METRICS, MODELS
from torchrig.runner import Runner

PHASES = ("train", "val", "save")


@DATASETS.register_module(force=True)
class NoisyPoints(Dataset):
    """40 fixed points in 8 dimensions with 3 classes."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(1)
        self.inputs = torch.randn(40, 8, generator=generator)
        self.labels = torch.randint(0, 3, (40,), generator=generator)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.inputs[index], data_samples=self.labels[index])


@MODELS.register_module(force=True)
class DropoutNet(BaseModel):
    """An MLP with dropout, so that the random state matters."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))

    def forward(self, inputs, data_samples=None, mode="tensor"):
        logits = self.net(inputs)
        if mode == "loss":
            return dict(loss=nn.functional.cross_entropy(logits, data_samples))
        if mode == "predict":
            return [dict(pred=int(p), label=int(t)) for p, t in zip(logits.argmax(1), data_samples)]
        return logits


@METRICS.register_module(force=True)
class PointsAccuracy(BaseMetric):
    """The share of points classified right."""

    default_prefix = "points"

    def process(self, data_batch: Any, data_samples: list[dict]) -> None:
        self.results.extend(float(s["pred"] == s["label"]) for s in data_samples)

    def compute_metrics(self, results: list) -> dict[str, float]:
        return dict(accuracy=sum(results) / len(results))


@HOOKS.register_module(force=True)
class RecordLoss(Hook):
    """Appends each iteration's exact loss to a file; optionally pauses to be killed."""

    priority = "LOWEST"

    def __init__(self, path: str, pause_at: int = 0, pause_in: str = "train") -> None:
        self.path = path
        self.pause_at = pause_at
        self.pause_in = pause_in

    def _pause(self, runner, phase: str, iteration: int) -> None:
        if self.pause_at and phase == self.pause_in and iteration >= self.pause_at:
            marker = os.path.join(runner.work_dir, "paused")
            with open(f"{marker}.tmp", "w") as stream:
                stream.write(f"{phase} {iteration}")
            os.replace(f"{marker}.tmp", marker)  # whole when it appears: the test reads it
            go = os.path.join(runner.work_dir, "go")
            deadline = time.monotonic() + 120
            while not os.path.exists(go) and time.monotonic() < deadline:
                time.sleep(0.01)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        with open(self.path, "a") as stream:
            stream.write(f"{runner.iter + 1} {outputs['loss'].item().hex()}\n")
        if runner.iter + 1 == self.pause_at:
            self._pause(runner, "train", self.pause_at)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._pause(runner, "val", runner.iter)

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        self._pause(runner, "save", int(checkpoint["meta"]["iter"]))


def build_runner(
    work_dir: str,
    mode: str,
    resume: bool = False,
    pause_at: int = 0,
    pause_in: str = "train",
    workers: int = 0,
    custom_hooks: tuple = (),
) -> Runner:
    """DropoutNet on NoisyPoints for 30 iterations with validation, a checkpoint every 4
    iterations and every loss recorded."""
    by_epoch = mode == "epoch"
    train_cfg = (
        dict(by_epoch=True, max_epochs=3, val_interval=1)
        if by_epoch
        else dict(by_epoch=False, max_iters=30, val_interval=5)
    )

    def loader(shuffle: bool) -> dict:
        return dict(
            dataset=dict(type="NoisyPoints"),
            sampler=dict(type="DefaultSampler", shuffle=shuffle),
            batch_size=4 if shuffle else 8,
            num_workers=workers,
            persistent_workers=False,
            collate_fn=dict(type="default_collate"),
        )

    record = dict(
        type="RecordLoss",
        path=os.path.join(work_dir, "losses.txt"),
        pause_at=pause_at,
        pause_in=pause_in,
    )
    return Runner(
        model=dict(type="DropoutNet"),
        work_dir=work_dir,
        train_dataloader=loader(shuffle=True),
        val_dataloader=loader(shuffle=False),
        val_evaluator=dict(type="PointsAccuracy"),
        val_cfg=dict(),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1, momentum=0.9)),
        param_scheduler=dict(type="MultiStepLR", milestones=[1, 2], by_epoch=by_epoch, gamma=0.5),
        default_hooks=dict(
            logger=dict(type="LoggerHook", interval=1),
            checkpoint=dict(type="CheckpointHook", interval=4, by_epoch=False),
        ),
        custom_hooks=[record, *custom_hooks],
        log_processor=dict(window_size=1, by_epoch=by_epoch),
        log_level="WARNING",
        randomness=dict(seed=2024),
        resume=resume,
    )


def run_job(
    work_dir: str,
    mode: str,
    resume: bool = False,
    pause_at: int = 0,
    pause_in: str = "train",
    workers: int = 0,
) -> None:
    """Trains with :func:`build_runner`'s settings and closes the trackers."""
    runner = build_runner(work_dir, mode, resume, pause_at, pause_in, workers)
    runner.train()
    runner.visualizer.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work_dir")
    parser.add_argument("mode", choices=["epoch", "iter"])
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--pause-at", type=int, default=0)
    parser.add_argument("--pause-in", choices=PHASES, default="train")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    run_job(args.work_dir, args.mode, args.resume, args.pause_at, args.pause_in, args.workers)


if __name__ == "__main__":
    main()
