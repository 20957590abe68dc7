"""AmpOptimWrapper: mixed precision (fp16 with loss scaling, or bf16) on any device."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from torchrig.optim.optimizer.optimizer_wrapper import OptimWrapper
from torchrig.registry import OPTIM_WRAPPERS

__all__ = ["AmpOptimWrapper"]

_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, None: None}


def _device_type(params: Any, fallback: str = "cpu") -> str:
    for param in params:
        return param.device.type
    return fallback


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(OptimWrapper):
    """An :class:`OptimWrapper` that runs forward in autocast and scales fp16 losses.

    fp16 uses a ``torch.amp.GradScaler`` (its state is saved under ``'loss_scaler'``); bf16
    needs no loss scaling and uses none. Autocast runs on the model's device type, CPU
    included (CPU autocast supports bfloat16 and float16).

    Args:
        loss_scale: ``'dynamic'`` (the default GradScaler), a float (a static scale), or a dict
            of ``GradScaler`` arguments (``init_scale``, ``growth_interval``, ...).
        dtype: ``'float16'``, ``'bfloat16'`` (or the torch dtypes), or None for the device's
            autocast default.
        use_fsdp: Use FSDP's ``ShardedGradScaler`` (for models wrapped by FSDP).
        **kwargs: :class:`OptimWrapper` arguments (``optimizer``, ``accumulative_counts``,
            ``clip_grad``).
    """

    valid_dtypes = ("float16", "bfloat16", None)

    def __init__(
        self,
        loss_scale: str | float | dict[str, Any] = "dynamic",
        dtype: str | torch.dtype | None = None,
        use_fsdp: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(dtype, str) or dtype is None:
            if dtype not in _DTYPES:
                raise ValueError(f"dtype must be one of {self.valid_dtypes}, got {dtype!r}")
            dtype = _DTYPES[dtype]
        elif dtype not in (torch.float16, torch.bfloat16):
            raise ValueError(f"dtype must be one of {self.valid_dtypes}, got {dtype!r}")
        self.cast_dtype: torch.dtype | None = dtype
        self._scale_update_param: float | None = None
        self.loss_scaler: Any = None
        if dtype is not torch.bfloat16:
            self.loss_scaler = self._build_scaler(loss_scale, use_fsdp)

    def _build_scaler(self, loss_scale: str | float | dict[str, Any], use_fsdp: bool) -> Any:
        params = (p for group in self.optimizer.param_groups for p in group["params"])
        device = _device_type(params, "cuda" if torch.cuda.is_available() else "cpu")
        if use_fsdp:
            from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler

            scaler_cls: Any = ShardedGradScaler
        else:
            scaler_cls = torch.amp.GradScaler
        if loss_scale == "dynamic":
            return scaler_cls(device=device)
        if isinstance(loss_scale, (int, float)) and not isinstance(loss_scale, bool):
            self._scale_update_param = float(loss_scale)
            return scaler_cls(device=device, init_scale=float(loss_scale))
        if isinstance(loss_scale, dict):
            return scaler_cls(**{"device": device, **loss_scale})
        raise TypeError(
            f"loss_scale must be 'dynamic', a float or a dict of GradScaler arguments, "
            f"got {loss_scale!r}"
        )

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Back-propagates ``loss``, multiplied by the loss scale under fp16."""
        if self.loss_scaler is not None:
            loss = self.loss_scaler.scale(loss)
        loss.backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs: Any) -> None:
        """Unscales and clips gradients when configured, steps, and updates the loss scale.

        Under fp16 the step is skipped when gradients overflowed (GradScaler's rule).
        """
        if self.loss_scaler is None:
            super().step(**kwargs)
            return
        if self.clip_func is not None:
            self.loss_scaler.unscale_(self.optimizer)
            self._clip_grad()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update(self._scale_update_param)

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state plus, under fp16, the scaler's as ``'loss_scaler'``."""
        state = self.optimizer.state_dict()
        if self.loss_scaler is not None:
            state["loss_scaler"] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores :meth:`state_dict`'s output (the caller's dict is left unchanged)."""
        state = dict(state_dict)
        scaler_state = state.pop("loss_scaler", None)
        if scaler_state is not None and self.loss_scaler is not None:
            self.loss_scaler.load_state_dict(scaler_state)
        self.optimizer.load_state_dict(state)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Generator[None, None, None]:
        """Enters :meth:`OptimWrapper.optim_context` and autocast on the model's device."""
        fallback = "cuda" if torch.cuda.is_available() else "cpu"
        device_type = _device_type(model.parameters(), fallback)
        with super().optim_context(model), torch.autocast(device_type, dtype=self.cast_dtype):
            yield
