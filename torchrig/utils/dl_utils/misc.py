"""Model and tensor helpers (MMEngine's ``mmengine.utils.dl_utils.misc``)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from torchrig.utils.dl_utils.parrots_wrapper import _BatchNorm, _InstanceNorm

__all__ = ["has_batch_norm", "is_norm", "mmcv_full_available", "tensor2imgs"]


def tensor2imgs(
    tensor: torch.Tensor,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    to_bgr: bool = True,
) -> list[np.ndarray]:
    """Turns a batch of normalized images back into numpy images.

    Args:
        tensor: Images shaped ``(N, C, H, W)``, ``C`` 1 or 3.
        mean: The mean that was subtracted per channel (default zeros).
        std: The standard deviation that was divided by per channel (default ones).
        to_bgr: Swap RGB to BGR (3 channels only).

    Returns:
        ``N`` arrays shaped ``(H, W, C)``: ``tensor * std + mean``, as float arrays.
    """
    if torch.is_tensor(tensor) is False or tensor.ndim != 4:
        raise ValueError(f"tensor2imgs expects a 4-d (N, C, H, W) tensor, got {tensor!r:.60}")
    channels = tensor.size(1)
    if channels not in (1, 3):
        raise ValueError(f"tensor2imgs handles 1 or 3 channels, got {channels}")
    mean = (0,) * channels if mean is None else tuple(mean)
    std = (1,) * channels if std is None else tuple(std)
    if not len(mean) == len(std) == channels:
        raise ValueError(f"mean {mean} and std {std} must each have {channels} values")
    if channels == 1 and to_bgr:
        raise ValueError("to_bgr=True needs 3 channels; pass to_bgr=False for 1 channel")
    mean_t = tensor.new_tensor(mean).view(1, -1)
    std_t = tensor.new_tensor(std).view(1, -1)
    images = (tensor.permute(0, 2, 3, 1) * std_t + mean_t).detach().cpu().numpy()
    if to_bgr:
        images = images[..., ::-1]
    return [np.ascontiguousarray(image) for image in images]


def has_batch_norm(model: nn.Module) -> bool:
    """Whether ``model`` or any module inside it is a batch-norm layer."""
    return any(isinstance(module, _BatchNorm) for module in model.modules())


def mmcv_full_available() -> bool:
    """Whether mmcv with its compiled operators (``mmcv._ext``) is installed."""
    try:
        return importlib.util.find_spec("mmcv._ext") is not None
    except Exception:  # mmcv missing or failing to import: not available either way
        return False


def is_norm(layer: nn.Module, exclude: type | tuple[type, ...] | None = None) -> bool:
    """Whether ``layer`` is a normalization layer (batch, instance, group or layer norm).

    Args:
        layer: The module.
        exclude: Types that do not count.
    """
    if exclude is not None:
        if not isinstance(exclude, tuple):
            exclude = (exclude,)
        if not all(isinstance(item, type) for item in exclude):
            raise TypeError(
                f'"exclude" must be either None or type or a tuple of types, got {exclude!r}'
            )
        if isinstance(layer, exclude):
            return False
    return isinstance(layer, (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm))
