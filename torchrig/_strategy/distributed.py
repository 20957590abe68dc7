"""``DDPStrategy``: one process per device, the model wrapped in PyTorch's DDP."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from torchrig._strategy.base import BaseStrategy
from torchrig.registry import STRATEGIES

if TYPE_CHECKING:
    import logging

    from torch import nn

__all__ = ["DDPStrategy"]


@STRATEGIES.register_module()
class DDPStrategy(BaseStrategy):
    """Distributed data parallel training with ``torch.nn.parallel.DistributedDataParallel``.

    Launch with ``torchrun --nproc-per-node N``; the process group joins with
    ``env_cfg.dist_cfg`` (NCCL on GPUs, gloo on CPUs).

    Keyword Args:
        model_wrapper: The wrapper's config: ``type`` (``'MMDistributedDataParallel'`` by
            default, through MODEL_WRAPPERS) and its arguments (``find_unused_parameters``,
            ``broadcast_buffers``, ``detect_anomalous_params``, ...).
        sync_bn: ``'torch'`` converts BatchNorm layers to ``torch.nn.SyncBatchNorm`` before
            wrapping; None leaves them.
        **kwargs: :class:`BaseStrategy`'s keyword arguments.
    """

    distributed_strategy = True

    def __init__(
        self, *, model_wrapper: dict | None = None, sync_bn: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if model_wrapper is not None and not isinstance(model_wrapper, dict):
            raise TypeError(
                f"{type(self).__name__}: model_wrapper must be a dict such as "
                f"dict(type='MMDistributedDataParallel'), got {model_wrapper!r}"
            )
        self.model_wrapper = copy.copy(dict(model_wrapper or {}))
        self.sync_bn = sync_bn

    def wrap_model(self, model: nn.Module, distributed: bool, logger: logging.Logger) -> nn.Module:
        """Converts BatchNorm to SyncBatchNorm when ``sync_bn`` asks, moves the model to its
        device and wraps it with ``model_wrapper``.

        Args:
            model: The built model.
            distributed: Whether the process group is initialised (it must be).
            logger: The run's logger.
        """
        from torchrig.model import convert_sync_batchnorm
        from torchrig.runner._build.model import wrap_model

        if self.sync_bn is not None:
            model = convert_sync_batchnorm(model, implementation=self.sync_bn)
        return wrap_model(model, self._wrapper_cfg(logger), distributed, logger)

    def _wrapper_cfg(self, logger: logging.Logger) -> dict:
        """The MODEL_WRAPPERS config the model is wrapped with."""
        return {"type": "MMDistributedDataParallel", **self.model_wrapper}
