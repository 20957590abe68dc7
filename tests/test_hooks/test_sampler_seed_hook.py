from __future__ import annotations

from types import SimpleNamespace
from unittest.mock import MagicMock

from torchrig.hooks import DistSamplerSeedHook


def _runner(dataloader, epoch):
    return SimpleNamespace(train_loop=SimpleNamespace(dataloader=dataloader, epoch=epoch))


def test_sets_the_epoch_on_the_sampler():
    sampler = MagicMock()
    DistSamplerSeedHook().before_train_epoch(_runner(SimpleNamespace(sampler=sampler), 3))
    sampler.set_epoch.assert_called_once_with(3)


def test_falls_back_to_the_batch_samplers_sampler():
    inner = MagicMock()
    loader = SimpleNamespace(sampler=object(), batch_sampler=SimpleNamespace(sampler=inner))
    DistSamplerSeedHook().before_train_epoch(_runner(loader, 2))
    inner.set_epoch.assert_called_once_with(2)


def test_plain_sampler_is_left_alone():
    loader = SimpleNamespace(sampler=object(), batch_sampler=SimpleNamespace(sampler=object()))
    DistSamplerSeedHook().before_train_epoch(_runner(loader, 1))
