"""SyncBuffersHook: averages the model's buffers (e.g. BatchNorm statistics) across ranks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchrig.hooks.hook import Hook
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["SyncBuffersHook"]


def _sync_buffers(runner: Runner) -> None:
    from torchrig.dist import all_reduce

    for buffer in runner.model.buffers():
        # Integer buffers (e.g. num_batches_tracked) are counters, not statistics.
        if buffer.is_floating_point():
            all_reduce(buffer, op="mean")


@HOOKS.register_module()
class SyncBuffersHook(Hook):
    """Averages floating-point buffers over all ranks after each train epoch, and before
    validation when they were not synchronised since training (iteration-based loops)."""

    priority = "NORMAL"

    def __init__(self) -> None:
        self.called_in_train = False

    @staticmethod
    def _distributed() -> bool:
        from torchrig.dist import is_distributed

        return is_distributed()

    def before_val_epoch(self, runner: Runner) -> None:
        if self._distributed() and not self.called_in_train:
            _sync_buffers(runner)
        self.called_in_train = False

    def after_train_epoch(self, runner: Runner) -> None:
        if self._distributed():
            _sync_buffers(runner)
            self.called_in_train = True
