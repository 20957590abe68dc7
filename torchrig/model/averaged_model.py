"""Averaged copies of a model (EMA, SWA), as ``EMAHook`` keeps them.

MMEngine's momentum convention: ``averaged = (1 - momentum) * averaged + momentum * source``,
so ``momentum`` is small (0.0002 by default). The first update copies the source model.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from copy import deepcopy
from typing import Any

import torch
from torch import nn

from torchrig.model._log import _print_log
from torchrig.registry import MODELS

__all__ = [
    "BaseAveragedModel",
    "ExponentialMovingAverage",
    "MomentumAnnealingEMA",
    "StochasticWeightAverage",
]


class BaseAveragedModel(nn.Module):
    """A frozen copy of a model whose parameters are an average of the source's over time.

    ``update_parameters(model)`` is called after each optimizer step: the first call copies the
    source; afterwards every ``interval``-th call averages with ``avg_func``. Its
    ``state_dict()`` holds ``module.*`` (the averaged weights) and ``steps``: only tensors.

    Args:
        model: The model to average; deep-copied.
        interval: Average every ``interval`` updates.
        device: If given, the averaged copy lives there (e.g. ``'cpu'`` to save GPU memory).
        update_buffers: Average the buffers too (e.g. BatchNorm statistics); otherwise they are
            copied from the source at every update.
    """

    def __init__(
        self,
        model: nn.Module,
        interval: int = 1,
        device: torch.device | str | None = None,
        update_buffers: bool = False,
    ) -> None:
        super().__init__()
        self.module = deepcopy(model).requires_grad_(False)
        self.interval = interval
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("steps", torch.tensor(0, dtype=torch.long, device=device))
        self.update_buffers = update_buffers
        self.avg_parameters: dict[str, torch.Tensor] = self._averaged_tensors()
        # A Python mirror of ``steps`` so that updating never waits on the device.
        self._steps = 0
        self._loaded = False

    def _averaged_tensors(self) -> dict[str, torch.Tensor]:
        if self.update_buffers:
            return self.module.state_dict(keep_vars=True)
        return dict(self.module.named_parameters())

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> BaseAveragedModel:
        # .to()/.cuda()/.double() replace buffer tensors (and, with some torch settings,
        # parameters): point avg_parameters at the new ones.
        result = super()._apply(fn, *args, **kwargs)
        self.avg_parameters = self._averaged_tensors()
        return result

    @abstractmethod
    def avg_func(
        self, averaged_param: torch.Tensor, source_param: torch.Tensor, steps: int
    ) -> None:
        """Average ``source_param`` into ``averaged_param`` in place.

        Args:
            averaged_param: The averaged value, updated in place.
            source_param: The source model's current value (on the averaged value's device).
            steps: The number of updates before this one.
        """

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the averaged model."""
        return self.module(*args, **kwargs)

    def update_parameters(self, model: nn.Module) -> None:
        """Average ``model``'s current parameters into this copy.

        Args:
            model: The source model (unwrapped), the one the optimizer updates.
        """
        source = model.state_dict(keep_vars=True) if self.update_buffers else None
        if source is None:
            source = dict(model.named_parameters())
        steps = self._sync_steps()
        with torch.no_grad():
            if steps == 0:
                for key, averaged in self.avg_parameters.items():
                    averaged.copy_(source[key])
            elif steps % self.interval == 0:
                for key, averaged in self.avg_parameters.items():
                    if averaged.dtype.is_floating_point:
                        self.avg_func(averaged, source[key].to(averaged.device), steps)
            if not self.update_buffers:
                for averaged, buffer in zip(self.module.buffers(), model.buffers()):
                    averaged.copy_(buffer.to(averaged.device))
        self.steps += 1
        self._steps = steps + 1

    def _sync_steps(self) -> int:
        # ``steps`` may have been replaced by load_state_dict; read it back only then.
        if self._loaded:
            self._steps = int(self.steps.item())
            self._loaded = False
        return self._steps

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._loaded = True


@MODELS.register_module()
class StochasticWeightAverage(BaseAveragedModel):
    """Stochastic weight averaging: the running mean of the averaged snapshots."""

    def avg_func(
        self, averaged_param: torch.Tensor, source_param: torch.Tensor, steps: int
    ) -> None:
        """Running mean: ``averaged += (source - averaged) / (steps // interval + 1)``."""
        averaged_param.add_(
            source_param - averaged_param, alpha=1 / float(steps // self.interval + 1)
        )


@MODELS.register_module()
class ExponentialMovingAverage(BaseAveragedModel):
    """Exponential moving average: ``averaged = (1 - momentum) * averaged + momentum * source``.

    Args:
        model: The model to average; deep-copied.
        momentum: The weight of the source in each update, in (0, 1); usually small.
        interval: Average every ``interval`` updates.
        device: If given, the averaged copy lives there.
        update_buffers: Average the buffers too.
    """

    def __init__(
        self,
        model: nn.Module,
        momentum: float = 0.0002,
        interval: int = 1,
        device: torch.device | str | None = None,
        update_buffers: bool = False,
    ) -> None:
        super().__init__(model, interval, device, update_buffers)
        if not 0.0 < momentum < 1.0:
            raise ValueError(f"EMA momentum must be in (0, 1), but got {momentum}")
        if momentum > 0.5:
            _print_log(
                "The momentum of an EMA is usually a small number (the weight of the new "
                f"value, MMEngine's convention), such as 0.0002; got {momentum}. With "
                "`ema = momentum * ema + (1 - momentum) * param` in mind, use 1 - momentum.",
                logging.WARNING,
            )
        self.momentum = momentum

    def avg_func(
        self, averaged_param: torch.Tensor, source_param: torch.Tensor, steps: int
    ) -> None:
        """``averaged += momentum * (source - averaged)``."""
        averaged_param.lerp_(source_param, self.momentum)


@MODELS.register_module()
class MomentumAnnealingEMA(ExponentialMovingAverage):
    """EMA whose momentum starts large and anneals to ``momentum``.

    The momentum at step ``t`` is ``max(momentum, gamma / (gamma + t))``, so early updates
    follow the source closely.

    Args:
        model: The model to average; deep-copied.
        momentum: The final (smallest) momentum.
        gamma: How slowly the momentum anneals; larger is slower.
        interval: Average every ``interval`` updates.
        device: If given, the averaged copy lives there.
        update_buffers: Average the buffers too.
    """

    def __init__(
        self,
        model: nn.Module,
        momentum: float = 0.0002,
        gamma: int = 100,
        interval: int = 1,
        device: torch.device | str | None = None,
        update_buffers: bool = False,
    ) -> None:
        super().__init__(
            model=model,
            momentum=momentum,
            interval=interval,
            device=device,
            update_buffers=update_buffers,
        )
        if gamma <= 0:
            raise ValueError(f"gamma must be greater than 0, but got {gamma}")
        self.gamma = gamma

    def avg_func(
        self, averaged_param: torch.Tensor, source_param: torch.Tensor, steps: int
    ) -> None:
        """Lerp with the annealed momentum."""
        momentum = max(self.momentum, self.gamma / (self.gamma + steps))
        averaged_param.lerp_(source_param, momentum)
