"""ZeroRedundancyOptimizer: PyTorch's ZeRO stage-1 optimizer-state sharding, built by name.

Importing this module imports ``torch.distributed.optim`` (slow), so torchrig imports it only
when a config asks for ``type='ZeroRedundancyOptimizer'`` or the class is first accessed.
"""

from __future__ import annotations

from typing import Any

from torch.distributed.optim import ZeroRedundancyOptimizer as _TorchZeroRedundancyOptimizer

from torchrig.registry import OPTIMIZERS

__all__ = ["ZeroRedundancyOptimizer"]


class ZeroRedundancyOptimizer(_TorchZeroRedundancyOptimizer):
    """Shards the state of an optimizer named by ``optimizer_type`` across ranks.

    Needs an initialized process group. :meth:`state_dict` gathers the full state on rank 0
    (other ranks return an empty dict), so call it on every rank.

    Args:
        params: The parameters (or parameter groups) to optimize.
        optimizer_type: A name in OPTIMIZERS, e.g. ``'AdamW'``.
        **kwargs: Arguments of that optimizer and of torch's ``ZeroRedundancyOptimizer``.
    """

    def __init__(self, params: Any, optimizer_type: str, **kwargs: Any) -> None:
        optimizer_class = OPTIMIZERS.get(optimizer_type)
        super().__init__(params, optimizer_class, **kwargs)

    def state_dict(self) -> dict[str, Any]:
        """The consolidated state on rank 0; an empty dict elsewhere."""
        import torch.distributed as dist

        self.consolidate_state_dict()
        return super().state_dict() if dist.get_rank() == 0 else {}
