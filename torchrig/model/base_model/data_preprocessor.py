"""Data preprocessors: move a batch to the model's device; normalise, pad and stack images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from torchrig.model.utils import stack_batch
from torchrig.registry import MODELS

_TENSOR = torch.Tensor
_CPU = torch.device("cpu")

__all__ = ["BaseDataPreprocessor", "ImgDataPreprocessor"]


def _device_of(args: tuple, kwargs: dict) -> torch.device | None:
    """The device an ``nn.Module.to(...)`` call moves to, or None (a dtype-only call)."""
    device = torch._C._nn._parse_to(*args, **kwargs)[0]
    return None if device is None else torch.device(device)


@MODELS.register_module()
class BaseDataPreprocessor(nn.Module):
    """Move every tensor of a batch to the model's device.

    The model's ``to``/``cuda``/``cpu`` keep ``device`` up to date. Tensors and objects with a
    ``to`` method (``BaseDataElement``) move; dicts, lists, tuples and named tuples are walked;
    anything else is returned as it is.

    Args:
        non_blocking: Copy to the device asynchronously (with pinned host memory).
    """

    def __init__(self, non_blocking: bool = False) -> None:
        super().__init__()
        self._non_blocking = non_blocking
        self._device = torch.device("cpu")

    def cast_data(self, data: Any) -> Any:
        """Return ``data`` with its tensors (at any depth) on ``self.device``."""
        if type(data) is dict:  # the usual batch: a dict of tensors
            if self._device == _CPU:  # (cheaper than ``.type == "cpu"``)
                for value in data.values():
                    if type(value) is not _TENSOR or not value.is_cpu:
                        break
                else:  # CPU tensors staying on the CPU: ``.to`` would return each as it is
                    return dict(data)
            return {key: self._cast_item(value) for key, value in data.items()}
        if isinstance(data, torch.Tensor):
            return data.to(self._device, non_blocking=self._non_blocking)
        if isinstance(data, Mapping):
            return {key: self.cast_data(value) for key, value in data.items()}
        if isinstance(data, (str, bytes)) or data is None:
            return data
        if isinstance(data, tuple) and hasattr(data, "_fields"):
            return type(data)(*(self.cast_data(item) for item in data))
        if isinstance(data, Sequence):
            return type(data)(self.cast_data(item) for item in data)  # type: ignore[call-arg]
        if callable(getattr(data, "to", None)) and not isinstance(data, nn.Module):
            return data.to(self._device, non_blocking=self._non_blocking)
        return data

    def _cast_item(self, value: Any) -> Any:
        if type(value) is _TENSOR:
            if value.is_cpu and self._device == _CPU:
                return value  # what ``value.to('cpu')`` returns, without the call
            return value.to(self._device, non_blocking=self._non_blocking)
        return self.cast_data(value)

    def forward(self, data: Any, training: bool = False) -> Any:
        """Move ``data`` to the device.

        Args:
            data: A batch from the dataloader.
            training: Whether this is a training step (unused here; subclasses may augment).
        """
        return self.cast_data(data)

    @property
    def device(self) -> torch.device:
        """The device batches are moved to."""
        return self._device

    def to(self, *args: Any, **kwargs: Any) -> BaseDataPreprocessor:
        """``nn.Module.to``, also setting the device batches are moved to."""
        device = _device_of(args, kwargs)
        if device is not None:
            self._device = device
        return super().to(*args, **kwargs)

    def cuda(self, device: int | torch.device | None = None) -> BaseDataPreprocessor:
        """``nn.Module.cuda``, also setting the device batches are moved to."""
        if device is None or isinstance(device, int):
            device = torch.device("cuda", torch.cuda.current_device() if device is None else device)
        self._device = torch.device(device)
        return super().cuda(device)

    def cpu(self) -> BaseDataPreprocessor:
        """``nn.Module.cpu``, also setting the device batches are moved to."""
        self._device = torch.device("cpu")
        return super().cpu()


@MODELS.register_module()
class ImgDataPreprocessor(BaseDataPreprocessor):
    """Preprocess image batches: device move, channel flip, normalise, pad and stack.

    Takes ``{'inputs': images, 'data_samples': ...}`` where ``images`` is a list of ``(C, H, W)``
    tensors (padded to a common size, bottom and right, and stacked) or one ``(N, C, H, W)``
    tensor (padded). Inputs become float32. Returns the dict with ``inputs`` replaced and
    ``data_samples`` present (None when absent).

    Args:
        mean: Per-channel mean subtracted (1 or 3 values), after the channel flip.
        std: Per-channel standard deviation divided by (1 or 3 values).
        pad_size_divisor: Padded height and width are multiples of this.
        pad_value: The value padding is filled with.
        bgr_to_rgb: Reverse the channel order of 3-channel images.
        rgb_to_bgr: Same flip; for the other reading of the channels.
        non_blocking: Copy to the device asynchronously.
    """

    def __init__(
        self,
        mean: Sequence[float | int] | None = None,
        std: Sequence[float | int] | None = None,
        pad_size_divisor: int = 1,
        pad_value: float | int = 0,
        bgr_to_rgb: bool = False,
        rgb_to_bgr: bool = False,
        non_blocking: bool = False,
    ) -> None:
        super().__init__(non_blocking)
        if bgr_to_rgb and rgb_to_bgr:
            raise ValueError("bgr_to_rgb and rgb_to_bgr cannot both be True")
        if (mean is None) != (std is None):
            raise ValueError("mean and std must be given together")
        self._enable_normalize = mean is not None
        if mean is not None:
            if len(mean) not in (1, 3) or len(std) not in (1, 3):  # type: ignore[arg-type]
                raise ValueError(
                    f"mean and std must have 1 or 3 values, got mean={mean!r}, std={std!r}"
                )
            self.register_buffer("mean", torch.tensor(mean).view(-1, 1, 1), False)
            self.register_buffer("std", torch.tensor(std).view(-1, 1, 1), False)
        self._channel_conversion = bgr_to_rgb or rgb_to_bgr
        self.pad_size_divisor = pad_size_divisor
        self.pad_value = pad_value

    def _convert(self, images: torch.Tensor, channel_dim: int) -> torch.Tensor:
        if self._channel_conversion:
            if images.shape[channel_dim] != 3:
                raise ValueError(
                    f"bgr_to_rgb/rgb_to_bgr need 3-channel images, got shape {tuple(images.shape)}"
                )
            images = images.flip(channel_dim)
        images = images.float()
        if self._enable_normalize:
            if self.mean.shape[0] == 3 and images.shape[channel_dim] != 3:
                raise ValueError(
                    "3-value mean/std need 3-channel images in (C, H, W) or (N, C, H, W) order, "
                    f"got shape {tuple(images.shape)}"
                )
            images = (images - self.mean) / self.std
        return images

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess ``data['inputs']``.

        Args:
            data: ``{'inputs': images, 'data_samples': ...}`` from the dataloader.
            training: Whether this is a training step.
        """
        data = self.cast_data(data)
        inputs = data["inputs"]
        if isinstance(inputs, torch.Tensor):
            if inputs.dim() != 4:
                raise ValueError(
                    "a tensor of inputs must be (N, C, H, W); got shape "
                    f"{tuple(inputs.shape)} (give a list of (C, H, W) tensors instead)"
                )
            inputs = self._convert(inputs, channel_dim=1)
            height, width = inputs.shape[2:]
            divisor = self.pad_size_divisor
            pad_h = -(-height // divisor) * divisor - height
            pad_w = -(-width // divisor) * divisor - width
            if pad_h or pad_w:
                inputs = F.pad(inputs, (0, pad_w, 0, pad_h), "constant", self.pad_value)
        elif isinstance(inputs, Sequence) and all(isinstance(t, torch.Tensor) for t in inputs):
            converted = [self._convert(image, channel_dim=0) for image in inputs]
            inputs = stack_batch(converted, self.pad_size_divisor, self.pad_value)
        else:
            raise TypeError(
                "ImgDataPreprocessor: data['inputs'] must be a (N, C, H, W) tensor or a list of "
                f"(C, H, W) tensors, got {type(inputs).__name__}"
            )
        data["inputs"] = inputs
        data.setdefault("data_samples", None)
        return data
