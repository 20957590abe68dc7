"""``PixelData``: pixel-level annotations or predictions (masks, heatmaps)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from torchrig.structures.base_data_element import _PRIVATE_FIELDS, BaseDataElement

__all__ = ["PixelData"]


class PixelData(BaseDataElement):
    """Data fields that are (C, H, W) arrays or tensors sharing one height and width.

    A field set as (H, W) is stored as (1, H, W), with a warning. Indexing with a tuple of two
    ints or slices crops every field in height and width.

    Example:
        >>> pixels = PixelData(metainfo=dict(img_id=0))
        >>> pixels.sem_seg = torch.zeros(1, 20, 40)
        >>> pixels[:10, 5:].shape
        (10, 35)
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _PRIVATE_FIELDS:
            if hasattr(self, name):
                raise AttributeError(
                    f"{name} has been used as a private attribute, which is immutable."
                )
            object.__setattr__(self, name, value)
            return
        if not isinstance(value, (torch.Tensor, np.ndarray)):
            raise AssertionError(
                f"Can not set {type(value)}, only support {(torch.Tensor, np.ndarray)}"
            )
        if self.shape:
            if tuple(value.shape[-2:]) != self.shape:
                raise AssertionError(
                    f"The height and width of values {tuple(value.shape[-2:])} is not consistent "
                    f"with the shape of this :obj:`PixelData` {self.shape}"
                )
        if value.ndim not in (2, 3):
            raise AssertionError(f"The dim of value must be 2 or 3, but got {value.ndim}")
        if value.ndim == 2:
            value = value[None]
            warnings.warn("The shape of value will convert from (H, W) to (1, H, W)", stacklevel=2)
        super().__setattr__(name, value)

    def __getitem__(self, item: Sequence[int | slice]) -> PixelData:
        if not isinstance(item, tuple):
            raise TypeError(f"Unsupported type {type(item)} for slicing PixelData")
        if len(item) != 2:
            raise AssertionError("Only support to slice height and width")
        new_data = self.__class__(metainfo=self.metainfo)
        for key, value in self.items():
            setattr(new_data, key, value[:, item[0], item[1]])
        return new_data

    @property
    def shape(self) -> tuple[int, ...] | None:
        """The (height, width) shared by the fields, or None when there are none."""
        if len(self._data_fields) > 0:
            return tuple(self.values()[0].shape[-2:])
        return None
