"""DistSamplerSeedHook: tells the train sampler which epoch starts, so each shuffles anew."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchrig.hooks.hook import Hook
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["DistSamplerSeedHook"]


@HOOKS.register_module()
class DistSamplerSeedHook(Hook):
    """Calls ``set_epoch(epoch)`` on the train dataloader's sampler before each train epoch.

    The sampler is ``dataloader.sampler`` when it has ``set_epoch``, otherwise
    ``dataloader.batch_sampler.sampler`` (a sampler wrapped by a batch sampler).
    """

    priority = "NORMAL"

    def before_train_epoch(self, runner: Runner) -> None:
        loop = runner.train_loop
        dataloader = loop.dataloader
        sampler = getattr(dataloader, "sampler", None)
        if not hasattr(sampler, "set_epoch"):
            batch_sampler = getattr(dataloader, "batch_sampler", None)
            sampler = getattr(batch_sampler, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(loop.epoch)
