"""ApexOptimWrapper: mixed precision with NVIDIA apex's ``amp`` (needs apex and a CUDA GPU).

PyTorch's own ``torch.amp`` (:class:`~torchrig.optim.AmpOptimWrapper`) does the same job and
needs neither; this wrapper exists so that configs written for MMEngine's ``ApexOptimWrapper``
keep their meaning where apex is installed, and fail with a clear message where it is not.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from torchrig.optim.optimizer.optimizer_wrapper import OptimWrapper
from torchrig.registry import OPTIM_WRAPPERS

__all__ = ["ApexOptimWrapper"]


def _import_apex_amp() -> Any:
    try:
        from apex import amp
    except ImportError as error:
        raise ImportError(
            "ApexOptimWrapper needs NVIDIA apex (https://github.com/NVIDIA/apex) and a CUDA GPU; "
            "apex is not installed. AmpOptimWrapper gives mixed precision with torch.amp alone."
        ) from error
    return amp


@OPTIM_WRAPPERS.register_module()
class ApexOptimWrapper(OptimWrapper):
    """An :class:`OptimWrapper` whose model and optimizer go through ``apex.amp.initialize``.

    The model is initialised on the first :meth:`optim_context` (the Runner enters it in
    ``train_step``); the loss is scaled with ``apex.amp.scale_loss``.

    Args:
        opt_level: apex's optimization level, ``'O0'`` to ``'O3'``.
        loss_scale: ``'dynamic'`` or a static float scale.
        enabled: Whether apex amp is active.
        cast_model_type: See ``apex.amp.initialize``.
        patch_torch_functions: See ``apex.amp.initialize``.
        keep_batchnorm_fp32: See ``apex.amp.initialize``.
        master_weights: See ``apex.amp.initialize``.
        cast_model_outputs: See ``apex.amp.initialize``.
        num_losses: How many losses are scaled separately.
        verbosity: apex's verbosity.
        min_loss_scale: The smallest dynamic loss scale.
        max_loss_scale: The largest dynamic loss scale.
        **kwargs: :class:`OptimWrapper` arguments.

    Raises:
        ImportError: apex is not installed.
    """

    def __init__(
        self,
        opt_level: str = "O1",
        loss_scale: float | str | None = "dynamic",
        enabled: bool | None = True,
        cast_model_type: torch.dtype | None = None,
        patch_torch_functions: bool | None = None,
        keep_batchnorm_fp32: bool | str | None = None,
        master_weights: bool | None = None,
        cast_model_outputs: torch.dtype | None = None,
        num_losses: int = 1,
        verbosity: int = 1,
        min_loss_scale: float | None = None,
        max_loss_scale: float | None = 2.0**24,
        **kwargs: Any,
    ) -> None:
        self._amp = _import_apex_amp()
        super().__init__(**kwargs)
        self.opt_level = opt_level
        self.loss_scale = loss_scale
        self.enabled = enabled
        self.cast_model_type = cast_model_type
        self.patch_torch_functions = patch_torch_functions
        self.keep_batchnorm_fp32 = keep_batchnorm_fp32
        self.master_weights = master_weights
        self.cast_model_outputs = cast_model_outputs
        self.num_losses = num_losses
        self.verbosity = verbosity
        self.min_loss_scale = min_loss_scale
        self.max_loss_scale = max_loss_scale
        self._apex_amp_state_dict: dict | None = None
        self._initialized = False

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Back-propagates ``loss`` scaled by apex's loss scaler."""
        with self._amp.scale_loss(loss, self.optimizer) as scaled_loss:
            scaled_loss.backward(**kwargs)
        self._inner_count += 1

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state and apex's (under ``'apex_amp'``)."""
        state = self.optimizer.state_dict()
        state["apex_amp"] = self._amp.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores :meth:`state_dict`; apex's part waits for initialisation if needed."""
        state_dict = dict(state_dict)
        amp_state = state_dict.pop("apex_amp", None)
        if amp_state is not None:
            if self._initialized:
                self._amp.load_state_dict(amp_state)
            else:
                self._apex_amp_state_dict = amp_state
        self.optimizer.load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Any:
        """Initialises apex amp for ``model`` once, then behaves as :class:`OptimWrapper`'s."""
        with super().optim_context(model):
            if not self._initialized:
                inner = model.module if hasattr(model, "module") else model
                _, self.optimizer = self._amp.initialize(
                    inner,
                    self.optimizer,
                    opt_level=self.opt_level,
                    loss_scale=self.loss_scale,
                    enabled=self.enabled,
                    cast_model_type=self.cast_model_type,
                    patch_torch_functions=self.patch_torch_functions,
                    keep_batchnorm_fp32=self.keep_batchnorm_fp32,
                    master_weights=self.master_weights,
                    cast_model_outputs=self.cast_model_outputs,
                    num_losses=self.num_losses,
                    verbosity=self.verbosity,
                    min_loss_scale=self.min_loss_scale,
                    max_loss_scale=self.max_loss_scale,
                )
                self._initialized = True
                if self._apex_amp_state_dict is not None:
                    self._amp.load_state_dict(self._apex_amp_state_dict)
                    self._apex_amp_state_dict = None
            yield
