"""W&B sweeps drive ``torchrig train``: the arguments and environment ``wandb agent`` gives a run,
and ``torchrig sweep`` writing the sweep YAML. Real wandb offline, the run file read back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.test_visualization import conftest as _vis_fixtures
from tests.test_visualization._readers import read_finished_wandb_run, wandb_run_files
from torchrig.cli.main import CliError, main
from torchrig.cli.sweep import parse_overrides, sweep_config

wandb_offline = _vis_fixtures.wandb_offline  # W&B offline under tmp_path (a fixture)
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_DIGITS = os.path.join(_REPO, "configs", "digits", "digits_mlp.py")


def small_digits_config(tmp_path, backends: str = 'dict(type="WandbVisBackend")') -> str:
    """A one-epoch digits config on a few hundred samples, logging to ``backends``."""
    path = tmp_path / "small.py"
    path.write_text(
        f"_base_ = [{_DIGITS!r}]\n"
        "train_dataloader = dict(dataset=dict(indices=256))\n"
        "val_dataloader = dict(dataset=dict(indices=64))\n"
        "test_dataloader = val_dataloader\n"
        "train_cfg = dict(max_epochs=1, val_interval=1)\n"
        "param_scheduler = []\n"
        "default_hooks = dict(logger=dict(interval=4), checkpoint=dict(interval=1), "
        "progress=None)\n"
        f"visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), {backends}])\n"
    )
    return str(path)


def write_sweep_params(path, params: dict) -> str:
    """The parameters file ``wandb agent`` writes for a run (WANDB_SWEEP_PARAM_PATH)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    body = yaml.safe_dump({k: {"value": v} for k, v in params.items()}, sort_keys=False)
    with open(path, "w", encoding="utf-8") as f:
        f.write("wandb_version: 1\n\n" + body)
    return str(path)


def test_overrides_read_all_three_agent_forms():
    words = [
        "optim_wrapper.optimizer.lr=0.05",
        "--train_dataloader.batch_size=16",
        "--model.hidden_dims",
        "[32,16]",
        "--randomness.seed",
        "-3",
        "model={'dropout': 0.1}",
        "flag=True",
    ]
    assert parse_overrides(words) == {
        "optim_wrapper.optimizer.lr": 0.05,
        "train_dataloader.batch_size": 16,
        "model.hidden_dims": [32, 16],
        "randomness.seed": -3,
        "model": "{'dropout': 0.1}",  # a dict: merge_overrides reads it as nested keys
        "flag": True,
    }
    with pytest.raises(CliError, match="cannot read argument 'stray'"):
        parse_overrides(["stray"])


def test_train_rejects_an_override_that_names_no_key(tmp_path, capsys):
    config = small_digits_config(tmp_path, "dict(type='LocalVisBackend')")
    code = main(["train", config, "--work-dir", str(tmp_path / "w"), "optim_wraper.lr=0.1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "'optim_wraper' is not in the config's top level" in err
    assert "did you mean 'optim_wrapper'" in err


def test_simulated_agent_run_trains_with_the_sweep_values(tmp_path):
    """What `wandb agent` does for a run: WANDB_SWEEP_ID, WANDB_RUN_ID, the parameters file,
    and the command with ${args_no_hyphens} (and ${args}: --key=value)."""
    config = small_digits_config(tmp_path)
    params = {"optim_wrapper.optimizer.lr": 0.0123, "model": {"hidden_dims": [24]}}
    env = dict(
        os.environ,
        PYTHONPATH=_REPO,
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_SWEEP_ID="sweep1",
        WANDB_RUN_ID="agentrun1",
        WANDB_SWEEP_PARAM_PATH=write_sweep_params(
            tmp_path / "wandb" / "sweep-sweep1" / "config-agentrun1.yaml", params
        ),
        WANDB_CONFIG_DIR=str(tmp_path / "wandb_config"),
        WANDB_CACHE_DIR=str(tmp_path / "wandb_cache"),
        WANDB_DATA_DIR=str(tmp_path / "wandb_data"),
    )
    work_dir = tmp_path / "work"
    # ${args_no_hyphens} for one, ${args} for the other: each as W&B formats the value.
    args = [
        f"optim_wrapper.optimizer.lr={params['optim_wrapper.optimizer.lr']}",
        f"--model={params['model']}",
    ]
    cmd = [sys.executable, "-m", "torchrig", "train", config, "--work-dir", str(work_dir), *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    (run_file,) = wandb_run_files(
        os.path.dirname(next(work_dir.rglob("vis_data/wandb")).as_posix()), "agentrun1"
    )
    run = read_finished_wandb_run(run_file)
    assert run.run_id == "agentrun1"
    # The sweep's own keys, as W&B's agent set them, and the resolved config beside them.
    assert run.config["optim_wrapper.optimizer.lr"] == 0.0123
    assert run.config["optim_wrapper"]["optimizer"] == {"type": "Adam", "lr": 0.0123}
    assert run.config["model"]["hidden_dims"] == [24]
    lrs = [row["lr"] for row in run.history if "lr" in row]
    assert lrs and all(lr == pytest.approx(0.0123) for lr in lrs)
    # The sweep metric under its exact name, with a max summary.
    assert any("accuracy/top1" in row for row in run.history)
    assert set(run.summary["accuracy/top1"]) >= {"max"}
    assert run.exit_code == 0


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


def test_sweep_writes_a_yaml_wandb_agent_can_run(tmp_path, capsys):
    out = tmp_path / "sweep.yaml"
    code = main(
        [
            "sweep",
            _DIGITS,
            "--param",
            "optim_wrapper.optimizer.lr=log_uniform_values:1e-4:1e-1",
            "--param",
            "train_dataloader.batch_size=16,32,64",
            "--param",
            "model.hidden_dims=[[64],[128,64]]",
            "--metric",
            "accuracy/top1",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    sweep = yaml.safe_load(out.read_text())
    assert sweep["method"] == "bayes"
    assert sweep["metric"] == {"name": "accuracy/top1", "goal": "maximize"}
    assert sweep["parameters"] == {
        "optim_wrapper.optimizer.lr": {
            "distribution": "log_uniform_values",
            "min": 1e-4,
            "max": 1e-1,
        },
        "train_dataloader.batch_size": {"values": [16, 32, 64]},
        "model.hidden_dims": {"values": [[64], [128, 64]]},
    }
    assert sweep["command"] == [
        "${env}",
        "${interpreter}",
        "-m",
        "torchrig",
        "train",
        _DIGITS,
        "${args_no_hyphens}",
    ]
    with pytest.raises(CliError, match="'optimiser' is not in optim_wrapper"):
        sweep_config(_DIGITS, ["optim_wrapper.optimiser.lr=0.1"], method="grid")
    with pytest.raises(CliError, match="needs --metric"):
        sweep_config(_DIGITS, ["optim_wrapper.optimizer.lr=0.1"])
