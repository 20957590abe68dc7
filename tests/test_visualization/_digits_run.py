"""Train the digits MLP for one epoch (with validation) with the given vis_backends."""

from __future__ import annotations

import os.path as osp

from torchrig.config import Config
from torchrig.runner import Runner

CONFIG = osp.join(osp.dirname(__file__), "..", "..", "configs", "digits", "digits_mlp.py")


def train_digits(work_dir: str, vis_backends: list[dict]) -> Runner:
    """Train one epoch of 45 iterations, validating at its end (iteration 45), logging every 5."""
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    cfg.param_scheduler = []
    cfg.default_hooks.logger.interval = 5
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=1)
    cfg.visualizer.vis_backends = vis_backends
    runner = Runner.from_cfg(cfg)
    runner.train()
    runner.visualizer.close()
    return runner
