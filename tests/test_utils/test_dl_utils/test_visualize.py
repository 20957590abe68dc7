"""``fake_run`` steps a config's schedule on a do-nothing model: the learning rates recorded
follow the scheduler, and the weights never change."""

from __future__ import annotations

import torch

from torchrig.config import Config
from torchrig.registry import DATASETS
from torchrig.testing import ToyDataset
from torchrig.utils.dl_utils.visualize import fake_run


def test_fake_run_records_the_schedule(tmp_path):
    DATASETS.register_module(module=ToyDataset, force=True)
    cfg = Config(
        dict(
            work_dir=str(tmp_path),
            model=dict(type="NotBuilt"),
            train_dataloader=dict(
                dataset=dict(type="ToyDataset"),
                sampler=dict(type="DefaultSampler", shuffle=False),
                batch_size=3,
                num_workers=0,
            ),
            optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1, momentum=0.9)),
            param_scheduler=dict(type="MultiStepLR", milestones=[1], gamma=0.1, by_epoch=True),
            train_cfg=dict(by_epoch=True, max_epochs=2),
            default_hooks=dict(logger=dict(type="LoggerHook", interval=1)),
            experiment_name="fake_run_test",
        )
    )
    runner = fake_run(cfg)
    weights_before = runner.model.conv.weight.detach().clone()
    lrs = runner.message_hub.get_scalar("train/lr").data[0]
    assert list(lrs[:4]) == [0.1] * 4
    assert all(abs(lr - 0.01) < 1e-12 for lr in lrs[4:8]) and len(lrs) == 8
    momenta = runner.message_hub.get_scalar("train/momentum").data[0]
    assert all(m == 0.9 for m in momenta)
    assert torch.equal(runner.model.conv.weight, weights_before)
