"""``MMSeparateDistributedDataParallel``: one DDP per trainable sub-module (GANs and the like).

The module path keeps MMEngine's spelling so its imports work unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from torchrig.model.wrappers.distributed import MMDistributedDataParallel
from torchrig.registry import MODEL_WRAPPERS

__all__ = ["MMSeparateDistributedDataParallel"]


def _default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


@MODEL_WRAPPERS.register_module()
class MMSeparateDistributedDataParallel(DistributedDataParallel):
    """Wrap each direct sub-module that has trainable parameters in its own DDP.

    For models whose ``train_step`` drives several optimizers over separate sub-networks
    (a generator and a discriminator): each sub-network synchronises its own gradients. The
    model's ``train_step``/``val_step``/``test_step`` are called as they are.

    Args:
        module: The model; its direct children are wrapped in place.
        broadcast_buffers: Passed on to each sub-module's DDP.
        find_unused_parameters: Passed on to each sub-module's DDP.
        **kwargs: Further ``DistributedDataParallel`` arguments for each sub-module.
    """

    def __init__(
        self,
        module: nn.Module,
        broadcast_buffers: bool = False,
        find_unused_parameters: bool = False,
        **kwargs: Any,
    ) -> None:
        # Deliberately not DistributedDataParallel.__init__: this object only holds the model;
        # the per-sub-module wrappers do the communication.
        nn.Module.__init__(self)
        self.module = module
        device = _default_device()
        for name, sub_module in list(module._modules.items()):
            if sub_module is None:
                continue
            sub_module = sub_module.to(device)
            if any(param.requires_grad for param in sub_module.parameters()):
                sub_module = MMDistributedDataParallel(
                    module=sub_module,
                    broadcast_buffers=broadcast_buffers,
                    find_unused_parameters=find_unused_parameters,
                    **kwargs,
                )
            module._modules[name] = sub_module

    def train_step(self, data: dict | tuple | list, optim_wrapper: Any) -> dict[str, Any]:
        """The wrapped model's own ``train_step``."""
        return self.module.train_step(data, optim_wrapper)

    def val_step(self, data: dict | tuple | list) -> Any:
        """The wrapped model's ``val_step``."""
        return self.module.val_step(data)

    def test_step(self, data: dict | tuple | list) -> Any:
        """The wrapped model's ``test_step``."""
        return self.module.test_step(data)

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Skip gradient synchronisation in every wrapped sub-module."""
        with ExitStack() as stack:
            for sub_module in self.module._modules.values():
                if isinstance(sub_module, DistributedDataParallel):
                    stack.enter_context(sub_module.no_sync())
            yield

    def train(self, mode: bool = True) -> MMSeparateDistributedDataParallel:
        """Set training mode on the wrapped model."""
        self.training = mode
        self.module.train(mode)
        return self
