"""A W&B-tracked Runner killed with SIGKILL mid-epoch, then resumed: one W&B run (one id) holds
every step logged up to the last checkpoint exactly once, and the whole training after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

from tests.test_visualization._readers import read_wandb_run

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from torchrig.config import Config
    from torchrig.hooks import Hook
    from torchrig.runner import Runner

    kill_at, work_dir = int(sys.argv[1]), sys.argv[2]

    class KillAt(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter + 1 == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    cfg = Config.fromfile({config!r})
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=20, by_epoch=False)
    cfg.resume = kill_at == 0
    if kill_at:
        cfg.custom_hooks = [dict(type=KillAt)]
    Runner.from_cfg(cfg).train()
    """
)


def _train(script: Path, kill_at: int, work_dir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", WANDB_MODE="offline", WANDB_SILENT="true")
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, str(script), str(kill_at), str(work_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_sigkilled_wandb_run_resumes_the_same_run_without_losing_steps(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(config=str(REPO / "configs/digits/digits_mlp_wandb.py")))
    work_dir = tmp_path / "work"

    killed = _train(script, 50, work_dir)  # 45 iterations an epoch: killed mid-epoch 2
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert (work_dir / "iter_40.pth").exists() and not (work_dir / "iter_60.pth").exists()

    # The killed run's W&B files hold its log up to the kill (saved live; iteration 49 was
    # the last one logged: the kill came in iteration 50's hooks, before the LoggerHook).
    (killed_dir,) = work_dir.rglob("offline-run-*")
    logs = [p for p in (killed_dir / "files").rglob("*.log") if p.name != "output.log"]
    assert len(logs) == 1 and "Epoch(train) [2][ 4/45]" in logs[0].read_text()
    # (W&B's own output.log, its Logs tab, is written by its service in batches: a SIGKILL
    # loses what it had not written yet. The log file above is what holds every line.)

    resumed = _train(script, 0, work_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    run_dirs = sorted(work_dir.rglob("offline-run-*"))
    assert len(run_dirs) == 2  # the killed process's and the resumed one's
    # The resumed process continued the same run: one id (the last part of the names).
    assert len({d.name.rsplit("-", 1)[1] for d in run_dirs}) == 1
    runs = [read_wandb_run(str(p)) for p in sorted(work_dir.rglob("run-*.wandb"))]
    # A killed run's file may hold nothing at all (W&B buffers); those that hold a run agree.
    assert len({run.run_id for run in runs if run.run_id is not None}) == 1
    loss_steps = Counter(
        row["iter"] for run in runs for row in run.history if "loss" in row and "iter" in row
    )
    assert all(loss_steps[step] == 1 for step in range(1, 41)), loss_steps
    assert set(loss_steps) >= set(range(1, 91))  # nothing after the checkpoint is missing
    val_steps = sorted(row["iter"] for run in runs for row in run.history if "accuracy/top1" in row)
    assert {45, 90} <= set(val_steps)
