"""EmptyCacheHook: releases the accelerator's cached memory at chosen points."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torchrig.hooks.hook import DATA_BATCH, Hook
from torchrig.registry import HOOKS

if TYPE_CHECKING:
    from torchrig.runner import Runner

__all__ = ["EmptyCacheHook"]


def _empty_cache() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        mps.empty_cache()


@HOOKS.register_module()
class EmptyCacheHook(Hook):
    """Calls ``torch.cuda.empty_cache()`` (or MPS's) in train, val and test.

    Args:
        before_epoch: Before each epoch.
        after_epoch: After each epoch.
        after_iter: After each iteration (slows training; for memory-bound runs only).
    """

    priority = "NORMAL"

    def __init__(
        self, before_epoch: bool = False, after_epoch: bool = True, after_iter: bool = False
    ) -> None:
        self._do_before_epoch = before_epoch
        self._do_after_epoch = after_epoch
        self._do_after_iter = after_iter

    def _after_iter(
        self,
        runner: Runner,
        batch_idx: int,
        data_batch: DATA_BATCH = None,
        outputs: Any = None,
        mode: str = "train",
    ) -> None:
        if self._do_after_iter:
            _empty_cache()

    def _before_epoch(self, runner: Runner, mode: str = "train") -> None:
        if self._do_before_epoch:
            _empty_cache()

    def _after_epoch(self, runner: Runner, mode: str = "train") -> None:
        if self._do_after_epoch:
            _empty_cache()
