"""``BaseDataElement``: the data interface passed between datasets, models and metrics.

A data element keeps two kinds of fields apart: *metainfo* (facts about the sample such as the
image shape or file name, kept as they are) and *data* (annotations and predictions such as
boxes or labels, moved between devices and types by the tensor-like methods).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

__all__ = ["BaseDataElement"]

_PRIVATE_FIELDS = ("_metainfo_fields", "_data_fields")


def _add_indent(text: str, num_spaces: int) -> str:
    """Indents every line of ``text`` except the first by ``num_spaces`` spaces."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    first, rest = lines[0], lines[1:]
    return first + "\n" + "\n".join(" " * num_spaces + line for line in rest)


def _dump(obj: Any) -> str:
    """The text ``BaseDataElement.__repr__`` shows for ``obj`` (recursing into elements)."""
    if isinstance(obj, dict):
        return "".join(f"\n{key}: {_add_indent(_dump(value), 4)}" for key, value in obj.items())
    if isinstance(obj, BaseDataElement):
        text = "\n\n    META INFORMATION"
        text += _add_indent(_dump(dict(obj.metainfo_items())), 4)
        text += "\n\n    DATA FIELDS"
        text += _add_indent(_dump(dict(obj.items())), 4)
        return f"<{type(obj).__name__}({text}\n) at {hex(id(obj))}>"
    return repr(obj)


class BaseDataElement:
    """A container of metainfo and data fields with tensor-like methods (MMEngine's API).

    Fields are read and written as attributes (``element.bboxes = ...``); ``set_metainfo`` adds
    metainfo fields, and every other assignment adds a data field. A name is either metainfo or
    data, never both. ``to``, ``cpu``, ``cuda``, ``numpy``, ``to_tensor`` and ``detach`` return a
    new element whose data fields were converted; metainfo is carried over unchanged.

    Args:
        metainfo: Metainfo fields (deep-copied).
        **kwargs: Data fields.

    Example:
        >>> element = BaseDataElement(metainfo=dict(img_shape=(4, 4)), score=torch.ones(2))
        >>> element.img_shape, element.keys()
        ((4, 4), ['score'])
    """

    def __init__(self, *, metainfo: dict | None = None, **kwargs: Any) -> None:
        self._metainfo_fields: set[str] = set()
        self._data_fields: set[str] = set()
        if metainfo is not None:
            self.set_metainfo(metainfo=metainfo)
        if kwargs:
            self.set_data(kwargs)

    # ------------------------------------------------------------------ setting fields
    def set_metainfo(self, metainfo: dict) -> None:
        """Adds or updates metainfo fields from a dict (values are deep-copied)."""
        if not isinstance(metainfo, dict):
            raise AssertionError(f"metainfo should be a dict, but got {type(metainfo).__name__}")
        for key, value in copy.deepcopy(metainfo).items():
            self.set_field(name=key, value=value, field_type="metainfo", dtype=None)

    def set_data(self, data: dict) -> None:
        """Adds or updates data fields from a dict (through ``setattr``, so properties apply)."""
        if not isinstance(data, dict):
            raise AssertionError(f"data should be a dict, but got {type(data).__name__}")
        for key, value in data.items():
            setattr(self, key, value)

    def update(self, instance: BaseDataElement) -> None:
        """Copies the metainfo and data fields of another element into this one."""
        if not isinstance(instance, BaseDataElement):
            raise AssertionError(
                f"instance should be a BaseDataElement, got {type(instance).__name__}"
            )
        self.set_metainfo(dict(instance.metainfo_items()))
        self.set_data(dict(instance.items()))

    def set_field(
        self,
        value: Any,
        name: str,
        dtype: type | tuple[type, ...] | None = None,
        field_type: str = "data",
    ) -> None:
        """Sets one field of the given kind (``'metainfo'`` or ``'data'``).

        Args:
            value: The field's value.
            name: The field's name.
            dtype: When given, ``value`` must be an instance of it.
            field_type: ``'metainfo'`` or ``'data'``.

        Raises:
            AttributeError: When ``name`` is already a field of the other kind.
        """
        if field_type not in ("metainfo", "data"):
            raise AssertionError(f"field_type must be 'metainfo' or 'data', got {field_type!r}")
        if dtype is not None and not isinstance(value, dtype):
            raise AssertionError(f"{value!r} should be a {dtype} but got {type(value)}")
        if field_type == "metainfo":
            if name in self._data_fields:
                raise AttributeError(
                    f"Cannot set {name} to be a field of metainfo because {name} is already a "
                    "data field"
                )
            self._metainfo_fields.add(name)
        else:
            if name in self._metainfo_fields:
                raise AttributeError(
                    f"Cannot set {name} to be a field of data because {name} is already a "
                    "metainfo field"
                )
            self._data_fields.add(name)
        object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _PRIVATE_FIELDS:
            if hasattr(self, name):
                raise AttributeError(
                    f"{name} has been used as a private attribute, which is immutable."
                )
            object.__setattr__(self, name, value)
        else:
            self.set_field(name=name, value=value, field_type="data", dtype=None)

    def __delattr__(self, item: str) -> None:
        if item in _PRIVATE_FIELDS:
            raise AttributeError(
                f"{item} has been used as a private attribute, which is immutable."
            )
        object.__delattr__(self, item)
        self._metainfo_fields.discard(item)
        self._data_fields.discard(item)

    __delitem__ = __delattr__

    def get(self, key: str, default: Any = None) -> Any:
        """The value of field ``key``, or ``default`` when there is none."""
        return getattr(self, key, default)

    def pop(self, *args: Any) -> Any:
        """Removes field ``args[0]`` and returns its value (or ``args[1]`` if it is missing)."""
        if not 1 <= len(args) <= 2:
            raise AssertionError(f"pop expects 1 or 2 arguments, got {len(args)}")
        name = args[0]
        if name in self._metainfo_fields:
            self._metainfo_fields.remove(name)
            return self.__dict__.pop(name)
        if name in self._data_fields:
            self._data_fields.remove(name)
            return self.__dict__.pop(name)
        if len(args) == 2:
            return args[1]
        raise KeyError(f"{name} is not contained in metainfo or data")

    def __contains__(self, item: str) -> bool:
        return item in self._data_fields or item in self._metainfo_fields

    # ------------------------------------------------------------------ views
    def keys(self) -> list[str]:
        """The names of the data fields (the private twin of a property field is hidden)."""
        private_keys = {
            "_" + key
            for key in self._data_fields
            if isinstance(getattr(type(self), key, None), property)
        }
        return list(self._data_fields - private_keys)

    def metainfo_keys(self) -> list[str]:
        """The names of the metainfo fields."""
        return list(self._metainfo_fields)

    def values(self) -> list[Any]:
        """The values of the data fields."""
        return [getattr(self, key) for key in self.keys()]

    def metainfo_values(self) -> list[Any]:
        """The values of the metainfo fields."""
        return [getattr(self, key) for key in self.metainfo_keys()]

    def all_keys(self) -> list[str]:
        """The names of all fields, metainfo first."""
        return self.metainfo_keys() + self.keys()

    def all_values(self) -> list[Any]:
        """The values of all fields, metainfo first."""
        return self.metainfo_values() + self.values()

    def all_items(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` for every field, metainfo first."""
        for key in self.all_keys():
            yield key, getattr(self, key)

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` for every data field."""
        for key in self.keys():
            yield key, getattr(self, key)

    def metainfo_items(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` for every metainfo field."""
        for key in self.metainfo_keys():
            yield key, getattr(self, key)

    @property
    def metainfo(self) -> dict:
        """The metainfo fields as a dict."""
        return dict(self.metainfo_items())

    # ------------------------------------------------------------------ copies
    def new(self, *, metainfo: dict | None = None, **kwargs: Any) -> BaseDataElement:
        """A new element of the same type; fields not given are taken from this one."""
        new_data = self.__class__()
        new_data.set_metainfo(dict(self.metainfo_items()) if metainfo is None else metainfo)
        new_data.set_data(kwargs if kwargs else dict(self.items()))
        return new_data

    def clone(self) -> BaseDataElement:
        """A shallow copy: a new element holding the same field values."""
        clone_data = self.__class__()
        clone_data.set_metainfo(dict(self.metainfo_items()))
        clone_data.set_data(dict(self.items()))
        return clone_data

    def _convert(self, types: tuple[type, ...], convert: Any) -> BaseDataElement:
        """A new element whose data fields of ``types`` were passed through ``convert``."""
        new_data = self.new()
        for key, value in self.items():
            if isinstance(value, types):
                new_data.set_data({key: convert(value)})
        return new_data

    # ------------------------------------------------------------------ tensor-like methods
    def to(self, *args: Any, **kwargs: Any) -> BaseDataElement:
        """Applies ``.to(*args, **kwargs)`` to every data field that has a ``to`` method."""
        new_data = self.new()
        for key, value in self.items():
            if hasattr(value, "to"):
                new_data.set_data({key: value.to(*args, **kwargs)})
        return new_data

    def cpu(self) -> BaseDataElement:
        """Moves tensors and nested elements to the CPU."""
        return self._convert((torch.Tensor, BaseDataElement), lambda value: value.cpu())

    def cuda(self) -> BaseDataElement:
        """Moves tensors and nested elements to the current CUDA device."""
        return self._convert((torch.Tensor, BaseDataElement), lambda value: value.cuda())

    def musa(self) -> BaseDataElement:
        """Moves tensors and nested elements to a MUSA device."""
        return self._convert((torch.Tensor, BaseDataElement), lambda value: value.musa())

    def npu(self) -> BaseDataElement:
        """Moves tensors and nested elements to an NPU device."""
        return self._convert((torch.Tensor, BaseDataElement), lambda value: value.npu())

    def mlu(self) -> BaseDataElement:
        """Moves tensors and nested elements to an MLU device."""
        return self._convert((torch.Tensor, BaseDataElement), lambda value: value.mlu())

    def detach(self) -> BaseDataElement:
        """Detaches tensors and nested elements from the autograd graph."""
        return self._convert((torch.Tensor, BaseDataElement), lambda value: value.detach())

    def numpy(self) -> BaseDataElement:
        """Converts tensors (and nested elements) to numpy arrays."""

        def convert(value: Any) -> Any:
            if isinstance(value, BaseDataElement):
                return value.numpy()
            return value.detach().cpu().numpy()

        return self._convert((torch.Tensor, BaseDataElement), convert)

    def to_tensor(self) -> BaseDataElement:
        """Converts numpy arrays (and nested elements) to tensors."""

        def convert(value: Any) -> Any:
            if isinstance(value, BaseDataElement):
                return value.to_tensor()
            return torch.from_numpy(value)

        return self._convert((np.ndarray, BaseDataElement), convert)

    def to_dict(self) -> dict:
        """All fields as a plain dict (nested elements converted too)."""
        return {
            key: value.to_dict() if isinstance(value, BaseDataElement) else value
            for key, value in self.all_items()
        }

    def __repr__(self) -> str:
        return _dump(self)
