"""torchrig beside a W&B user's own code, with real wandb (offline) read back from the run file:
the user's ``wandb.log`` from a hook, a run the user opened before the Runner, ``train()`` then
``test()`` in one run, and the Logs tab (the run's ``output.log``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_visualization._readers import read_finished_wandb_run

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys
    import wandb
    from torchrig.config import Config
    from torchrig.hooks import Hook
    from torchrig.runner import Runner

    mode, work_dir = sys.argv[1], sys.argv[2]

    class UserLogs(Hook):
        priority = "LOW"  # after the LoggerHook: the row of this iteration is open

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            wandb.log({{"user/iter_seen": runner.iter + 1}})
            if (runner.iter + 1) % 15 == 0:  # more often than torchrig: W&B's step runs ahead
                for _ in range(3):
                    wandb.log({{"user/burst": 1}})

    cfg = Config.fromfile({config!r})
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=20, by_epoch=False)
    cfg.custom_hooks = [dict(type=UserLogs)]
    if mode == "user_run":
        run = wandb.init(project="mine", config={{"user_param": 1}}, dir=work_dir)
    runner = Runner.from_cfg(cfg)
    runner.train()
    runner.test()
    print("training output line")
    if mode == "user_run":
        assert wandb.run is run, "torchrig finished the user's run"
        wandb.log({{"after_training": 1}})
        run.finish()
    """
)


def _run(tmp_path: Path, mode: str) -> Path:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(config=str(REPO / "configs/digits/digits_mlp_wandb.py")))
    work_dir = tmp_path / "work"
    env = dict(os.environ, OMP_NUM_THREADS="1", WANDB_MODE="offline", WANDB_SILENT="true")
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, str(script), mode, str(work_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return work_dir


@pytest.mark.parametrize("mode", ["torchrig_run", "user_run"])
def test_user_wandb_code_beside_torchrig(tmp_path, mode):
    work_dir = _run(tmp_path, mode)
    run_files = [p for p in work_dir.rglob("run-*.wandb") if "latest-run" not in str(p)]
    assert len(run_files) == 1, run_files  # train, then test, and the user's code: one run
    run = read_finished_wandb_run(str(run_files[0]))
    assert run.exit_code == 0

    loss_rows = [row for row in run.history if "loss" in row]
    assert [row["iter"] for row in loss_rows] == list(range(1, 46))  # none dropped
    user_rows = [row for row in run.history if "user/iter_seen" in row]
    assert len(user_rows) == 45
    loss_iters = {row["iter"] for row in loss_rows}
    for row in user_rows:  # at the current iteration, beside torchrig's values
        assert row["iter"] == row["user/iter_seen"] and row["iter"] in loss_iters
    assert sum("user/burst" in row for row in run.history) == 9
    assert any(row.get("iter") == 45 and "accuracy/top1" in row for row in run.history)
    assert any(any(key.startswith("test/") for key in row) for row in run.history)
    assert run.config["model"]["type"]
    if mode == "user_run":
        assert run.config["user_param"] == 1
        assert any("after_training" in row for row in run.history)

    files_dir = run_files[0].parent / "files"
    # W&B's Logs tab: what its console capture recorded (also in files/output.log, W&B 0.20+).
    assert "Epoch(train) [1][45/45]" in run.output and "training output line" in run.output
    (log_file,) = [path for path in files_dir.rglob("*.log") if path.name != "output.log"]
    assert "Epoch(train) [1][45/45]" in log_file.read_text()  # the Runner's log file, live
