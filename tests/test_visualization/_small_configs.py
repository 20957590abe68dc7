"""Small configs for tracking tests that train: the digits example on a few hundred samples,
and the parameters file W&B's sweep agent writes for a run."""

from __future__ import annotations

import os

import yaml

__all__ = ["DIGITS_CONFIG", "small_digits_config", "write_sweep_params"]

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS_CONFIG = os.path.join(_REPO, "configs", "digits", "digits_mlp.py")


def small_digits_config(tmp_path, backends: str = 'dict(type="WandbVisBackend")') -> str:
    """A one-epoch digits config on a few hundred samples, logging to ``backends``."""
    path = tmp_path / "small.py"
    path.write_text(
        f"_base_ = [{DIGITS_CONFIG!r}]\n"
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
