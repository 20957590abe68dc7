"""A W&B sweep's run in the process (``wandb.agent(sweep_id, function=...)``): its
``wandb.config`` overrides the config before the Runner builds anything. Real wandb offline."""

from __future__ import annotations

import pytest

from tests.test_visualization._readers import read_finished_wandb_run, wandb_run_files
from tests.test_visualization._small_configs import small_digits_config, write_sweep_params


def test_wandb_agent_function_run_overrides_before_build(wandb_offline, monkeypatch):
    """wandb.agent(sweep_id, function=train): the function's wandb.init() joins the sweep's
    run, whose wandb.config overrides the config when the Runner is built from it."""
    import wandb

    from torchrig.config import Config
    from torchrig.runner import Runner

    tmp_path = wandb_offline
    params = {"optim_wrapper.optimizer.lr": 0.007, "model": {"hidden_dims": [20]}}
    monkeypatch.setenv("WANDB_SWEEP_ID", "sweep2")
    monkeypatch.setenv("WANDB_RUN_ID", "fnrun1")
    monkeypatch.setenv(
        "WANDB_SWEEP_PARAM_PATH",
        write_sweep_params(tmp_path / "wandb" / "sweep-sweep2" / "config-fnrun1.yaml", params),
    )
    wandb.teardown()  # as the agent does before each run: W&B's settings re-read the env
    run = wandb.init(dir=str(tmp_path / "user"))
    assert run.sweep_id == "sweep2"
    cfg = Config.fromfile(small_digits_config(tmp_path))
    cfg.work_dir = str(tmp_path / "work")
    runner = Runner.from_cfg(cfg)
    assert runner.cfg.optim_wrapper.optimizer.lr == 0.007
    assert runner.model.net[0].out_features == 20  # built with the sweep's value
    runner.train()
    assert runner.optim_wrapper.optimizer.param_groups[0]["lr"] == pytest.approx(0.007)
    assert wandb.run is run  # the sweep's run: its owner (the agent) finishes it
    run.finish()
    wandb.teardown()  # as the agent does after each run (W&B's settings hold the sweep's)

    (run_file,) = wandb_run_files(str(tmp_path / "user"), "fnrun1")
    recorded = read_finished_wandb_run(run_file)
    assert recorded.config["optim_wrapper"]["optimizer"]["lr"] == 0.007
    assert recorded.config["optim_wrapper.optimizer.lr"] == 0.007
    assert recorded.config["model"] == {"hidden_dims": [20]}  # W&B keeps a sweep's keys
    assert any("accuracy/top1" in row for row in recorded.history)


def test_apply_wandb_config_needs_keys_of_the_config(wandb_offline):
    import wandb

    from torchrig.config import Config
    from torchrig.visualization import apply_wandb_config

    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1))))
    run = wandb.init(dir=str(wandb_offline), config={"optim_wrapper.optimizer.lr": 0.3})
    assert apply_wandb_config(cfg) == {"optim_wrapper.optimizer.lr": 0.3}
    assert cfg.optim_wrapper.optimizer.lr == 0.3
    run.config.update({"lr": 0.2})
    with pytest.raises(KeyError, match="'lr' names no config key"):
        apply_wandb_config(cfg)
    run.finish()
