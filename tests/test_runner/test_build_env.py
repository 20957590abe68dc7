"""The launcher environment the Runner reads: torchrun's restart count."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from unittest import mock

import pytest
import torch

from torchrig.runner._build.env import elastic_restart_count

SCRIPTS = Path(__file__).parents[1] / "test_distributed" / "scripts"


def _toy():
    spec = importlib.util.spec_from_file_location("_toy_env", SCRIPTS / "_toy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_elastic_restart_count_reads_torchrun():
    with mock.patch.dict(os.environ):
        os.environ.pop("TORCHELASTIC_RESTART_COUNT", None)
        assert elastic_restart_count() == 0
        os.environ["TORCHELASTIC_RESTART_COUNT"] = "2"
        assert elastic_restart_count() == 2
        os.environ["TORCHELASTIC_RESTART_COUNT"] = "two"
        with pytest.raises(ValueError, match="TORCHELASTIC_RESTART_COUNT='two'"):
            elastic_restart_count()


def _train(work_dir: Path, iters: int):
    from torchrig.runner import Runner

    kwargs = _toy().runner_kwargs(str(work_dir), "none", batch_size=4, max_iters=iters)
    kwargs["default_hooks"] = dict(
        checkpoint=dict(type="CheckpointHook", interval=2, by_epoch=False)
    )
    runner = Runner(**kwargs)
    try:
        runner.train()
    finally:
        runner.visualizer.close()
    return runner


def test_a_restarted_attempt_resumes_from_the_latest_checkpoint(tmp_path):
    whole = _train(tmp_path / "whole", 6)
    with mock.patch.dict(os.environ):
        os.environ.pop("TORCHELASTIC_RESTART_COUNT", None)
        _train(tmp_path / "restarted", 4)  # the attempt that "failed" after iteration 4
        os.environ["TORCHELASTIC_RESTART_COUNT"] = "1"
        restarted = _train(tmp_path / "restarted", 6)
    assert restarted.iter == 6
    log = next((tmp_path / "restarted").rglob("*.log"), None)
    logs = "".join(p.read_text() for p in (tmp_path / "restarted").rglob("*.log"))
    assert log is not None and "torchrun restart 1: resuming from" in logs
    assert "iter_4.pth" in logs
    for key, value in whole.model.state_dict().items():
        assert torch.equal(restarted.model.state_dict()[key], value), key
