"""WandbAlertHook: alerts land in a real offline W&B run (read back) when the loss turns NaN,
when training fails, and when it finishes."""

from __future__ import annotations

import os.path as osp

import pytest

from tests.test_visualization import conftest as _vis_fixtures
from tests.test_visualization._readers import read_finished_wandb_run, wandb_run_files
from tests.test_visualization._small_configs import small_digits_config
from torchrig.hooks import WandbAlertHook
from torchrig.testing.digits import DigitsClassifier

wandb_offline = _vis_fixtures.wandb_offline  # W&B offline under tmp_path (a fixture)


class _TurnsBad(DigitsClassifier):
    """The digits MLP whose loss becomes NaN (or which raises) from its ``at``-th step."""

    def __init__(self, at: int, fail: bool = False) -> None:
        super().__init__(hidden_dims=[16])
        self.at, self.fail, self.calls = at, fail, 0

    def forward(self, inputs, data_samples=None, mode="tensor"):
        out = super().forward(inputs, data_samples, mode)
        if mode == "loss":
            self.calls += 1
            if self.calls >= self.at:
                if self.fail:
                    raise RuntimeError("the data loader broke")
                out["loss"] = out["loss"] * float("nan")
        return out


def _run(tmp_path, model, **hook_kwargs):
    from torchrig.config import Config
    from torchrig.runner import Runner

    cfg = Config.fromfile(small_digits_config(tmp_path))
    cfg.model = model
    cfg.custom_hooks = [dict(type="WandbAlertHook", **hook_kwargs)]
    cfg.work_dir = str(tmp_path / "work")
    runner = Runner.from_cfg(cfg)
    error = None
    try:
        runner.train()
    except RuntimeError as err:
        error = err
    runner.visualizer.close()  # (a failed run's is closed already)
    run_id = runner.visualizer.get_backend("WandbVisBackend").state_dict()["run_id"]
    (path,) = wandb_run_files(osp.join(runner.log_dir, "vis_data"), run_id)
    return read_finished_wandb_run(path), error


def test_nan_loss_and_finish_alerts(wandb_offline):
    run, error = _run(wandb_offline, _TurnsBad(at=3))
    assert error is None
    titles = [a["title"] for a in run.alerts]
    assert titles == ["Loss is NaN or infinite", "Training finished"]  # NaN alerted once
    nan, finish = run.alerts
    assert nan["level"] == "ERROR" and "loss=nan at iteration 3" in nan["text"]
    assert finish["level"] == "INFO" and "at iteration 8" in finish["text"]
    assert "accuracy/top1=" in finish["text"] and "loss=nan" in finish["text"]


def test_failure_alert(wandb_offline):
    run, error = _run(wandb_offline, _TurnsBad(at=5, fail=True), on_finish=True)
    assert str(error) == "the data loader broke"
    assert [a["title"] for a in run.alerts] == ["Training failed"]
    assert "RuntimeError: the data loader broke at iteration 4" in run.alerts[0]["text"]
    assert run.exit_code == 1


def test_without_a_wandb_run_it_warns_once(tmp_path, caplog):
    with pytest.raises(ValueError, match="interval must be >= 1"):
        WandbAlertHook(interval=0)
    from torchrig.config import Config
    from torchrig.runner import Runner

    cfg = Config.fromfile(small_digits_config(tmp_path, "dict(type='LocalVisBackend', name='l')"))
    cfg.model = _TurnsBad(at=2)
    cfg.custom_hooks = [dict(type="WandbAlertHook")]
    cfg.work_dir = str(tmp_path / "work")
    runner = Runner.from_cfg(cfg)
    runner.train()
    runner.visualizer.close()
    with open(osp.join(runner.log_dir, f"{runner.timestamp}.log"), encoding="utf-8") as f:
        log = f.read()
    assert log.count("WandbAlertHook: no W&B run to alert") == 1
