"""The built-in hooks inside the real Runner (toy model, CPU, a few iterations)."""

from __future__ import annotations

import json
import os
import re
import uuid

import pytest
import torch
from torch.utils.data import DataLoader

from torchrig.evaluator import BaseMetric
from torchrig.hooks import CheckpointHook, EarlyStoppingHook, EMAHook

runner_module = pytest.importorskip("torchrig.runner")
testing = pytest.importorskip("torchrig.testing")


class ScoreSequence(BaseMetric):
    """Reports the next of ``scores`` as ``score`` at each evaluation."""

    def __init__(self, scores):
        super().__init__(prefix="seq")
        self.scores = list(scores)
        self.calls = 0

    def process(self, data_batch, data_samples):
        self.results.append(1)

    def compute_metrics(self, results):
        self.calls += 1
        return {"score": self.scores[self.calls - 1]}


def _runner(work_dir, max_epochs, scores, hooks, resume=False):
    def loader():
        return DataLoader(testing.ToyDataset(), batch_size=3)

    return runner_module.Runner(
        model=testing.ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=loader(),
        val_dataloader=loader(),
        val_evaluator=[ScoreSequence(scores)],
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1),
        default_hooks=dict(checkpoint=hooks[0]),
        custom_hooks=hooks[1:],
        resume=resume,
        experiment_name=f"hooks_{uuid.uuid4().hex[:8]}",
    )


def _hooks():
    return [
        CheckpointHook(
            interval=1, max_keep_ckpts=1, save_best="seq/score", rule="greater", keep_best=2
        ),
        EarlyStoppingHook("seq/score", rule="greater", patience=2, min_delta=0.0),
        EMAHook(momentum=0.5, save_ema_weights=True),
    ]


def _pth(work_dir):
    return sorted(f for f in os.listdir(work_dir) if f.endswith(".pth"))


def test_checkpoints_best_k_and_metrics_on_the_iteration_axis(tmp_path):
    runner = _runner(tmp_path, 3, [0.2, 0.5, 0.3], _hooks())
    runner.train()
    assert _pth(tmp_path) == [
        "best_seq_score_epoch_2.pth",
        "best_seq_score_epoch_2_ema.pth",
        "best_seq_score_epoch_3.pth",
        "best_seq_score_epoch_3_ema.pth",
        "epoch_3.pth",
        "epoch_3_ema.pth",
    ]
    ckpt = torch.load(tmp_path / "epoch_3.pth", weights_only=True)
    assert set(ckpt["hook_states"]) >= {"CheckpointHook:0", "EarlyStoppingHook:0"}
    assert "ema_state_dict" in ckpt

    (vis_file,) = [
        os.path.join(root, name)
        for root, _, files in os.walk(runner.log_dir)
        for name in files
        if name == f"{runner.timestamp}.json"
    ]
    with open(vis_file) as f:
        records = [json.loads(line) for line in f]
    val = [r for r in records if "seq/score" in r]
    # 4 iterations per epoch: validation after epoch n is logged at step 4n.
    assert [(r["step"], r["epoch"], r["seq/score"]) for r in val] == [
        (4, 1, 0.2),
        (8, 2, 0.5),
        (12, 3, 0.3),
    ]


def test_resume_restores_best_checkpoints_and_early_stopping(tmp_path):
    _runner(tmp_path, 2, [0.5, 0.4], _hooks()).train()
    hooks = _hooks()
    resumed = _runner(tmp_path, 6, [0.45, 0.3, 0.9, 0.9], hooks, resume=True)
    resumed.train()
    checkpoint_hook, early_stopping = hooks[0], hooks[1]
    # Restored: best 0.5 and one evaluation without improvement (epoch 2's validation, which
    # ran after epoch_2.pth was first written); epoch 3's makes two: patience reached.
    assert early_stopping.wait_count == 2
    assert resumed.epoch == 3
    assert [s for s, _ in checkpoint_hook.state_dict()["best"]["seq/score"]] == [0.5, 0.45]
    assert "best_seq_score_epoch_1.pth" in _pth(tmp_path)
    assert "best_seq_score_epoch_2.pth" not in _pth(tmp_path)  # 0.4 was pushed out by 0.45


def test_iteration_lines_reach_the_log_file_in_order(tmp_path):
    # Each iteration's line is in the log file when the LoggerHook has run.
    from torchrig.hooks import Hook, LoggerHook

    seen: list[int] = []

    class ReadLog(Hook):
        priority = "LOWEST"  # after the LoggerHook

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            with open(runner.logger.log_file, encoding="utf-8") as f:
                seen.append(f.read().count("Epoch(train)"))

    runner = runner_module.Runner(
        model=testing.ToyModel(),
        work_dir=str(tmp_path),
        train_dataloader=DataLoader(testing.ToyDataset(), batch_size=3),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        default_hooks=dict(checkpoint=None, logger=LoggerHook(interval=1)),
        custom_hooks=[ReadLog()],
        experiment_name=f"lines_{uuid.uuid4().hex[:8]}",
    )
    runner.train()
    per_epoch = len(runner.train_dataloader)
    with open(runner.logger.log_file, encoding="utf-8") as f:
        places = re.findall(r"Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/", f.read())
    assert places == [(str(e), str(i)) for e in (1, 2) for i in range(1, per_epoch + 1)]
    assert seen == list(range(1, 2 * per_epoch + 1))


def _lines_runner(tmp_path, hooks, max_epochs=2):
    from torchrig.hooks import LoggerHook

    return runner_module.Runner(
        model=testing.ToyModel(),
        work_dir=str(tmp_path),
        train_dataloader=DataLoader(testing.ToyDataset(), batch_size=2),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=None, logger=LoggerHook(interval=1)),
        custom_hooks=hooks,
        experiment_name=f"lines_{uuid.uuid4().hex[:8]}",
    )


def _train_lines(log_file) -> list[str]:
    with open(log_file, encoding="utf-8") as f:
        return [line.split(" - ", 3)[3].rstrip("\n") for line in f if "Epoch(train)" in line]


def _scalar_rows(runner) -> list[dict]:
    path = os.path.join(runner.log_dir, "vis_data", "scalars.json")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_iteration_lines_keep_their_place_among_other_lines_and_data(tmp_path):
    from torchrig.hooks import Hook

    class Chatty(Hook):
        priority = "HIGHEST"  # before the LoggerHook: its output of iteration i comes first

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            runner.logger.info(f"chatty {runner.iter + 1}")
            runner.visualizer.add_scalars({"chatty": 1.0}, step=runner.iter + 1)

    runner = _lines_runner(tmp_path, [Chatty()], max_epochs=1)
    runner.train()
    with open(runner.logger.log_file, encoding="utf-8") as f:
        text = f.read()
    order = re.findall(r"chatty (\d+)|Epoch\(train\) \[1\]\[\s*(\d+)/", text)
    expected = []
    for i in range(1, len(runner.train_dataloader) + 1):
        expected += [(str(i), ""), ("", str(i))]
    assert order == expected
    steps = [(row["step"], "chatty" in row) for row in _scalar_rows(runner)]
    assert steps == [
        (i, chatty) for i, _ in enumerate(expected[::2], 1) for chatty in (True, False)
    ]


def test_a_failing_run_keeps_its_logged_iterations(tmp_path):
    from torchrig.hooks import Hook

    class Boom(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter + 1 == 5:
                raise RuntimeError("boom")

    runner = _lines_runner(tmp_path, [Boom()], max_epochs=1)
    with pytest.raises(RuntimeError, match="boom"):
        runner.train()
    runner.logger.flush()
    # Iterations 1-4 were logged (the LoggerHook runs after Boom's priority, so not 5).
    assert [row["step"] for row in _scalar_rows(runner)] == [1, 2, 3, 4]
    assert len(_train_lines(runner.logger.log_file)) == 4
