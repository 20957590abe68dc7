"""W&B sweeps drive ``torchrig train``: the arguments and environment ``wandb agent`` gives a run,
and ``torchrig sweep`` writing the sweep YAML. Real wandb offline, the run file read back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.test_visualization._readers import read_finished_wandb_run, wandb_run_files
from tests.test_visualization._small_configs import (
    DIGITS_CONFIG,
    small_digits_config,
    write_sweep_params,
)
from torchrig.cli.main import CliError, main
from torchrig.cli.sweep import parse_overrides, sweep_config

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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


def test_sweep_writes_a_yaml_wandb_agent_can_run(tmp_path, capsys):
    out = tmp_path / "sweep.yaml"
    code = main(
        [
            "sweep",
            DIGITS_CONFIG,
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
        DIGITS_CONFIG,
        "${args_no_hyphens}",
    ]
    with pytest.raises(CliError, match="'optimiser' is not in optim_wrapper"):
        sweep_config(DIGITS_CONFIG, ["optim_wrapper.optimiser.lr=0.1"], method="grid")
    with pytest.raises(CliError, match="needs --metric"):
        sweep_config(DIGITS_CONFIG, ["optim_wrapper.optimizer.lr=0.1"])
