"""``MMDistributedDataParallel``: torch's DDP with the ``train_step``/``val_step``/``test_step``
interface the loops call.

Registered in ``MODEL_WRAPPERS`` with torch's own ``DistributedDataParallel`` and
``DataParallel``, so ``is_model_wrapper`` recognises all three.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch.nn.parallel import DataParallel, DistributedDataParallel

from torchrig.model.utils import detect_anomalous_params
from torchrig.registry import MODEL_WRAPPERS

if TYPE_CHECKING:
    from torch import nn

__all__ = ["MMDistributedDataParallel"]

MODEL_WRAPPERS.register_module(module=DistributedDataParallel)
MODEL_WRAPPERS.register_module(module=DataParallel)


@MODEL_WRAPPERS.register_module()
class MMDistributedDataParallel(DistributedDataParallel):
    """DDP whose ``train_step`` runs the wrapped ``BaseModel``'s steps through DDP's forward.

    The forward pass goes through ``DistributedDataParallel.forward`` (with ``mode='loss'``) so
    gradients are averaged across ranks during backward. Inside ``optim_wrapper.optim_context``,
    which enters ``no_sync()`` on accumulation steps that do not update the weights.

    Args:
        module: The model to wrap, normally a ``BaseModel``.
        detect_anomalous_params: Log parameters that did not take part in computing the loss
            (slow: walks the autograd graph every step; for debugging only).
        **kwargs: Passed on to ``torch.nn.parallel.DistributedDataParallel``
            (``device_ids``, ``broadcast_buffers``, ``find_unused_parameters``, ...).
    """

    def __init__(
        self, module: nn.Module, detect_anomalous_params: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(module=module, **kwargs)
        self.detect_anomalous_params = detect_anomalous_params

    def train_step(self, data: dict | tuple | list, optim_wrapper: Any) -> dict[str, Any]:
        """One training step: preprocess, forward through DDP, parse losses, update.

        Args:
            data: A batch from the dataloader.
            optim_wrapper: The ``OptimWrapper`` that updates the parameters.

        Returns:
            The log variables of ``parse_losses`` (detached tensors).
        """
        with optim_wrapper.optim_context(self):
            data = self.module.data_preprocessor(data, training=True)
            losses = self._run_forward(data, mode="loss")
        parsed_loss, log_vars = self.module.parse_losses(losses)
        optim_wrapper.update_params(parsed_loss)
        if self.detect_anomalous_params:
            detect_anomalous_params(parsed_loss, model=self)
        return log_vars

    def val_step(self, data: dict | tuple | list) -> Any:
        """The wrapped model's ``val_step`` (no gradient synchronisation needed)."""
        return self.module.val_step(data)

    def test_step(self, data: dict | tuple | list) -> Any:
        """The wrapped model's ``test_step``."""
        return self.module.test_step(data)

    def _run_forward(self, data: dict | tuple | list, mode: str) -> Any:
        if isinstance(data, dict):
            return self(**data, mode=mode)
        if isinstance(data, (list, tuple)):
            return self(*data, mode=mode)
        raise TypeError(
            "the data_preprocessor must return a dict, list or tuple, but returned a "
            f"{type(data).__name__}"
        )
