"""``InstanceData``: per-instance annotations or predictions whose fields share one length."""

from __future__ import annotations

import itertools
from collections.abc import Sized
from typing import Any

import numpy as np
import torch

from torchrig.structures.base_data_element import _PRIVATE_FIELDS, BaseDataElement

__all__ = ["InstanceData"]


def _is_bool_index(item: torch.Tensor) -> bool:
    return item.dtype == torch.bool


def _index_sequence_like(value: Any, item: torch.Tensor) -> Any:
    """Indexes a str, list, tuple or ``cat``-able value with a 1-D bool or long tensor."""
    if _is_bool_index(item):
        indexes = torch.nonzero(item).view(-1).cpu().numpy().tolist()
    else:
        indexes = item.cpu().numpy().tolist()
    # Slices with a step of len(value) keep one element and the container's own type.
    pieces = [value[slice(index, None, len(value))] for index in indexes] or [value[0:0]]
    if isinstance(value, (str, list, tuple)):
        result = pieces[0]
        for piece in pieces[1:]:
            result = result + piece
        return result
    return value.cat(pieces)


class InstanceData(BaseDataElement):
    """Data fields that each hold one entry per instance (MMEngine's API).

    Every data field must have a length, and all of them the same one. An ``InstanceData`` can
    be indexed like a tensor along its first dimension: by ``int`` (the dimension is kept),
    ``slice``, a list or numpy array of indices, or a 1-D bool or long tensor; each field is
    indexed alike (tensors, numpy arrays, lists, tuples, strings, or any type with ``cat``).
    A string index returns that field.

    Example:
        >>> instances = InstanceData(metainfo=dict(img_shape=(8, 8)))
        >>> instances.bboxes = torch.rand(4, 4)
        >>> instances.labels = [0, 1, 2, 3]
        >>> len(instances[torch.tensor([True, False, True, False])])
        2
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _PRIVATE_FIELDS:
            if hasattr(self, name):
                raise AttributeError(
                    f"{name} has been used as a private attribute, which is immutable."
                )
            object.__setattr__(self, name, value)
            return
        if not isinstance(value, Sized):
            raise AssertionError("value must contain `__len__` attribute")
        if len(self) > 0 and len(value) != len(self):
            raise AssertionError(
                f"The length of values {len(value)} is not consistent with the length of this "
                f":obj:`InstanceData` {len(self)}"
            )
        super().__setattr__(name, value)

    __setitem__ = __setattr__

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, list):
            item = np.array(item, dtype=np.int64) if len(item) == 0 else np.array(item)
        if isinstance(item, np.ndarray):
            item = item.astype(np.int64) if item.dtype == np.int32 else item
            item = torch.from_numpy(item)
        if isinstance(item, str):
            return getattr(self, item)
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            item = int(item)
            if item >= len(self) or item < -len(self):
                raise IndexError(f"Index {item} out of range!")
            # A slice keeps the first dimension.
            item = slice(item, None, len(self))

        new_data = self.__class__(metainfo=self.metainfo)
        if isinstance(item, torch.Tensor):
            if item.dim() != 1:
                raise AssertionError("Only support to get the values along the first dimension.")
            if _is_bool_index(item) and len(item) != len(self):
                raise AssertionError(
                    f"The shape of the input (bool tensor) {len(item)} does not match the "
                    f"shape of the indexed tensor in results_field {len(self)} at first "
                    "dimension."
                )
            for key, value in self.items():
                if isinstance(value, torch.Tensor):
                    new_data[key] = value[item.to(value.device)]
                elif isinstance(value, np.ndarray):
                    new_data[key] = value[item.cpu().numpy()]
                elif isinstance(value, (str, list, tuple)) or (
                    hasattr(value, "__getitem__") and hasattr(value, "cat")
                ):
                    new_data[key] = _index_sequence_like(value, item)
                else:
                    raise ValueError(
                        f"The type of `{key}` is `{type(value)}`, which has no attribute of "
                        "`cat`, so it does not support slice with `bool`"
                    )
        elif isinstance(item, slice):
            for key, value in self.items():
                new_data[key] = value[item]
        else:
            raise TypeError(
                f"InstanceData can be indexed by str, int, slice, list, numpy array or 1-D "
                f"bool/long tensor, got {type(item).__name__}"
            )
        return new_data

    @staticmethod
    def cat(instances_list: list[InstanceData]) -> InstanceData:
        """Concatenates ``InstanceData`` objects that have the same fields, field by field.

        Args:
            instances_list: The objects to concatenate; the first one's metainfo is kept.

        Returns:
            The concatenation (the object itself when the list holds one).
        """
        if not all(isinstance(results, InstanceData) for results in instances_list):
            raise AssertionError("InstanceData.cat expects a list of InstanceData")
        if len(instances_list) == 0:
            raise AssertionError("InstanceData.cat got an empty list")
        if len(instances_list) == 1:
            return instances_list[0]

        field_keys_list = [instances.all_keys() for instances in instances_list]
        if len({len(keys) for keys in field_keys_list}) != 1 or len(
            set(itertools.chain(*field_keys_list))
        ) != len(field_keys_list[0]):
            raise AssertionError(
                "There are different keys in `instances_list`, which is not allowed."
            )

        new_data = instances_list[0].__class__(metainfo=instances_list[0].metainfo)
        for key in instances_list[0].keys():
            values = [results[key] for results in instances_list]
            first = values[0]
            if isinstance(first, torch.Tensor):
                new_value: Any = torch.cat(values, dim=0)
            elif isinstance(first, np.ndarray):
                new_value = np.concatenate(values, axis=0)
            elif isinstance(first, (str, list, tuple)):
                new_value = first[:]
                for value in values[1:]:
                    new_value += value
            elif hasattr(first, "cat"):
                new_value = first.cat(values)
            else:
                raise ValueError(
                    f"The type of `{key}` is `{type(first)}` which has no attribute of `cat`"
                )
            new_data[key] = new_value
        return new_data

    def __len__(self) -> int:
        if len(self._data_fields) > 0:
            return len(self.values()[0])
        return 0
