"""``BaseDataset`` (MMEngine's dataset interface), ``Compose`` and ``force_full_init``.

A dataset loads a list of *data information* dicts (file paths, annotations) once, and turns
one of them into a training sample through a pipeline of transforms. With ``serialize_data``
(the default) the list is pickled into one numpy byte buffer plus an offset array: DataLoader
workers forked from the main process then share those pages, where a list of Python objects
would be copied page by page into every worker as reference counts are touched.
"""

from __future__ import annotations

import copy
import functools
import gc
import logging
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from torch.utils.data import Dataset

from torchrig.logging import print_log
from torchrig.registry import TRANSFORMS

__all__ = ["BaseDataset", "Compose", "force_full_init"]

_F = TypeVar("_F", bound=Callable[..., Any])

_GC_MIN_ITEMS = 10_000


def _print_log(msg: str, level: int = logging.INFO) -> None:
    """Logs ``msg`` through torchrig's current logger (``print_log(logger='current')``)."""
    print_log(msg, logger="current", level=level)


def _is_abs(path: str) -> bool:
    """Whether ``path`` is absolute (a local absolute path or a URL)."""
    return os.path.isabs(path) or "://" in path


def _join_path(prefix: str, path: str) -> str:
    """Joins ``prefix`` and ``path`` (with ``/`` for URLs, ``os.path.join`` otherwise)."""
    if "://" in prefix:
        return prefix.rstrip("/") + "/" + path.lstrip("/") if path else prefix
    return os.path.join(prefix, path)


def _list_from_file(path: str) -> list[str]:
    """The lines of a text file, without line endings."""
    with open(path, encoding="utf-8") as file:
        return [line.rstrip("\n\r") for line in file]


class Compose:
    """Applies transforms one after another; a transform returning None stops with None.

    Args:
        transforms: Callables, or dicts built through the ``TRANSFORMS`` registry.

    Example:
        >>> pipeline = Compose([lambda d: {**d, 'x': 1}, dict(type='MyTransform')])
    """

    def __init__(self, transforms: Sequence[dict | Callable] | None) -> None:
        self.transforms: list[Callable] = []
        for transform in transforms or []:
            if isinstance(transform, dict):
                transform = TRANSFORMS.build(transform)
                if not callable(transform):
                    raise TypeError(
                        f"transform should be a callable object, but got {type(transform)}"
                    )
                self.transforms.append(transform)
            elif callable(transform):
                self.transforms.append(transform)
            else:
                raise TypeError(
                    f"transform must be a callable object or dict, but got {type(transform)}"
                )

    def __call__(self, data: Any) -> Any:
        """Runs ``data`` through the transforms; returns None as soon as one returns None."""
        for transform in self.transforms:
            data = transform(data)
            if data is None:
                return None
        return data

    def __repr__(self) -> str:
        body = "".join(f"\n    {transform}" for transform in self.transforms)
        return f"{type(self).__name__}({body}\n)"


# Not registered in TRANSFORMS, as in MMEngine: OpenMMLab libraries register their own
# ``Compose`` there (mmcv.transforms), which a second one would collide with.


def _warn_not_initialized(obj: Any) -> None:
    _print_log(
        f"Attribute `_fully_initialized` is not defined in {type(obj)} or "
        f"`type(obj)._fully_initialized is False, `full_init` will be called and "
        f"{type(obj)}._fully_initialized will be set to True",
        level=logging.WARNING,
    )


def force_full_init(old_func: _F) -> _F:
    """Decorates a dataset method so that ``full_init()`` runs first if it has not yet.

    The object must have a ``full_init`` method and a ``_fully_initialized`` flag.
    """

    @functools.wraps(old_func)
    def wrapper(obj: Any, *args: Any, **kwargs: Any) -> Any:
        if not getattr(obj, "_fully_initialized", False):
            if not hasattr(obj, "full_init"):
                raise AttributeError(f"{type(obj)} does not have full_init method.")
            _warn_not_initialized(obj)
            obj.full_init()
            obj._fully_initialized = True
        return old_func(obj, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class BaseDataset(Dataset):
    """The base of datasets in the OpenMMLab annotation format (MMEngine's ``BaseDataset``).

    The annotation file is a JSON (or YAML, pickle) dict with ``metainfo`` and ``data_list``;
    each raw item goes through ``parse_data_info`` (which joins ``data_prefix`` paths), then the
    whole list through ``filter_data`` and ``indices``. Subclasses for other formats override
    ``load_data_list``. ``dataset[i]`` returns ``pipeline(get_data_info(i))``; when the pipeline
    returns None (a broken sample, a random crop without objects), another random index is tried,
    up to ``max_refetch`` times (in ``test_mode`` None is an error).

    Args:
        ann_file: Annotation file path, relative to ``data_root`` unless absolute.
        metainfo: Meta information (for example ``classes``); overrides ``METAINFO`` key by key,
            and the annotation file's ``metainfo`` fills only keys still missing. A string value
            naming an existing file is read as a list of lines.
        data_root: Root that relative ``ann_file`` and ``data_prefix`` paths are joined to.
        data_prefix: Maps keys of the data information (``img_path``, ...) to directories that
            ``parse_data_info`` prepends. Defaults to ``dict(img_path='')``.
        filter_cfg: Options for ``filter_data`` (used by subclasses).
        indices: Keep only these items: an int keeps the first ``indices`` items (the last ones
            when negative), a sequence keeps the items at those positions.
        serialize_data: Pack the data list into numpy buffers shared by worker processes.
        pipeline: Transforms (callables or ``TRANSFORMS`` configs) applied to each sample.
        test_mode: In test mode a sample the pipeline drops is an error, not refetched.
        lazy_init: Do not load annotations until ``full_init()`` (or first use).
        max_refetch: How many other indices to try when the pipeline returns None.
    """

    METAINFO: dict = dict()
    _fully_initialized: bool = False

    def __init__(
        self,
        ann_file: str | None = "",
        metainfo: Mapping | Any | None = None,
        data_root: str | None = "",
        data_prefix: dict | None = None,
        filter_cfg: dict | None = None,
        indices: int | Sequence[int] | None = None,
        serialize_data: bool = True,
        pipeline: Sequence[dict | Callable] | None = None,
        test_mode: bool = False,
        lazy_init: bool = False,
        max_refetch: int = 1000,
    ) -> None:
        self.ann_file = ann_file
        self._metainfo = self._load_metainfo(copy.deepcopy(metainfo))
        self.data_root = data_root
        self.data_prefix = copy.copy(data_prefix) if data_prefix is not None else dict(img_path="")
        self.filter_cfg = copy.deepcopy(filter_cfg)
        self._indices = indices
        self.serialize_data = serialize_data
        self.test_mode = test_mode
        self.max_refetch = max_refetch
        self.data_list: list[dict] = []
        self.data_bytes: np.ndarray
        self.data_address: np.ndarray

        self._join_prefix()
        self.pipeline = Compose(pipeline)
        if not lazy_init:
            self.full_init()

    # ------------------------------------------------------------------ initialisation
    def full_init(self) -> None:
        """Loads, filters, subsets and (optionally) serializes the data list, once."""
        if self._fully_initialized:
            return
        self.data_list = self.load_data_list()
        self.data_list = self.filter_data()
        if self._indices is not None:
            self.data_list = self._get_unserialized_subset(self._indices)
        if self.serialize_data:
            self.data_bytes, self.data_address = self._serialize_data()
        self._fully_initialized = True

    @classmethod
    def _load_metainfo(cls, metainfo: Mapping | Any | None = None) -> dict:
        """``cls.METAINFO`` updated with ``metainfo`` (strings naming files are read as lists)."""
        cls_metainfo = copy.deepcopy(cls.METAINFO)
        if metainfo is None:
            return cls_metainfo
        if not isinstance(metainfo, Mapping):
            from torchrig.config import Config

            if not isinstance(metainfo, Config):
                raise TypeError(f"metainfo should be a Mapping or Config, but got {type(metainfo)}")
        for key, value in metainfo.items():
            if isinstance(value, str) and os.path.isfile(value):
                cls_metainfo[key] = _list_from_file(value)
            else:
                cls_metainfo[key] = value
        return cls_metainfo

    def _join_prefix(self) -> None:
        """Joins ``data_root`` to ``ann_file`` and to every relative ``data_prefix`` value."""
        if self.ann_file and not _is_abs(self.ann_file) and self.data_root:
            self.ann_file = _join_path(self.data_root, self.ann_file)
        for data_key, prefix in self.data_prefix.items():
            if not isinstance(prefix, str):
                raise TypeError(
                    f"data_prefix[{data_key!r}] should be a string, but got {type(prefix)}"
                )
            if not _is_abs(prefix) and self.data_root:
                self.data_prefix[data_key] = _join_path(self.data_root, prefix)

    def load_data_list(self) -> list[dict]:
        """Reads ``ann_file`` (``metainfo`` + ``data_list``) and parses every raw item.

        Returns:
            The data information dicts; a ``parse_data_info`` that returns a list (several
            samples from one raw item, such as video frames) contributes all of them.
        """
        from torchrig.fileio import load

        annotations = load(self.ann_file)
        if not isinstance(annotations, dict):
            raise TypeError(
                f"The annotations loaded from annotation file {self.ann_file} should be a dict, "
                f"but got {type(annotations)}!"
            )
        if "data_list" not in annotations or "metainfo" not in annotations:
            raise ValueError(
                f"Annotation file {self.ann_file} must have data_list and metainfo keys, "
                f"got {sorted(annotations)}"
            )
        # The file's metainfo never overrides METAINFO or the constructor's argument.
        for key, value in annotations["metainfo"].items():
            self._metainfo.setdefault(key, value)

        data_list: list[dict] = []
        for raw_data_info in annotations["data_list"]:
            data_info = self.parse_data_info(raw_data_info)
            if isinstance(data_info, dict):
                data_list.append(data_info)
            elif isinstance(data_info, list):
                for item in data_info:
                    if not isinstance(item, dict):
                        raise TypeError(f"data_info must be list of dict, but got {type(item)}")
                data_list.extend(data_info)
            else:
                raise TypeError(
                    f"data_info should be a dict or list of dict, but got {type(data_info)}"
                )
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> dict | list[dict]:
        """Turns one raw annotation item into data information (joins ``data_prefix``)."""
        for prefix_key, prefix in self.data_prefix.items():
            if prefix_key not in raw_data_info:
                raise KeyError(
                    f"raw_data_info: {raw_data_info} does not contain prefix key {prefix_key!r}, "
                    "please check your data_prefix."
                )
            raw_data_info[prefix_key] = _join_path(prefix, raw_data_info[prefix_key])
        return raw_data_info

    def filter_data(self) -> list[dict]:
        """Filters ``self.data_list`` (by ``filter_cfg`` in subclasses); keeps all here."""
        return self.data_list

    def get_cat_ids(self, idx: int) -> list[int]:
        """The category ids of sample ``idx`` (needed by ``ClassBalancedDataset``)."""
        raise NotImplementedError(f"{type(self)} must implement `get_cat_ids` method")

    @property
    def metainfo(self) -> dict:
        """A deep copy of the dataset's meta information."""
        return copy.deepcopy(self._metainfo)

    # ------------------------------------------------------------------ access
    def get_data_info(self, idx: int) -> dict:
        """A fresh copy of the data information of item ``idx``, with ``sample_idx`` set."""
        if not self._fully_initialized:  # force_full_init, inlined: this is the hot path
            _warn_not_initialized(self)
            self.full_init()
        if idx < 0:
            idx += len(self)
            if idx < 0:
                raise IndexError(f"index {idx - len(self)} is out of dataset length({len(self)})")
        if self.serialize_data:
            address = self.data_address
            start = address.item(idx - 1) if idx > 0 else 0
            # pickle reads the numpy view through the buffer protocol: no copy of the bytes.
            data_info = pickle.loads(self.data_bytes[start : address.item(idx)])
        else:
            data_info = copy.deepcopy(self.data_list[idx])
        data_info["sample_idx"] = idx
        return data_info

    def prepare_data(self, idx: int) -> Any:
        """The sample at ``idx``: its data information through the pipeline."""
        return self.pipeline(self.get_data_info(idx))

    def __getitem__(self, idx: int) -> Any:
        if not self._fully_initialized:
            _print_log(
                "Please call `full_init()` method manually to accelerate the speed.",
                level=logging.WARNING,
            )
            self.full_init()

        if self.test_mode:
            data = self.prepare_data(idx)
            if data is None:
                raise Exception("Test time pipeline should not get `None` data_sample")
            return data

        data = self.prepare_data(idx)
        if data is not None:
            return data
        # A broken file or a random augmentation dropped the sample: try other ones.
        for _ in range(self.max_refetch):
            data = self.prepare_data(self._rand_another())
            if data is not None:
                return data
        raise Exception(
            f"Cannot find valid image after {self.max_refetch}! Please check your image path "
            "and pipeline"
        )

    def _rand_another(self) -> int:
        """A random index (numpy's global generator, seeded per worker)."""
        return int(np.random.randint(0, len(self)))

    @force_full_init
    def __len__(self) -> int:
        if self.serialize_data:
            return len(self.data_address)
        return len(self.data_list)

    # ------------------------------------------------------------------ subsets
    @force_full_init
    def get_subset_(self, indices: Sequence[int] | int) -> None:
        """Keeps only the given items, in place (see ``indices`` in the class docstring)."""
        if self.serialize_data:
            self.data_bytes, self.data_address = self._get_serialized_subset(indices)
        else:
            self.data_list = self._get_unserialized_subset(indices)

    @force_full_init
    def get_subset(self, indices: Sequence[int] | int) -> BaseDataset:
        """A copy of this dataset holding only the given items (this one is unchanged)."""
        sub_dataset = self._copy_without_annotation()
        if self.serialize_data:
            data_bytes, data_address = self._get_serialized_subset(indices)
            sub_dataset.data_bytes = data_bytes.copy()
            sub_dataset.data_address = data_address.copy()
        else:
            sub_dataset.data_list = copy.deepcopy(self._get_unserialized_subset(indices))
        return sub_dataset

    def _positions(self, indices: Sequence[int] | int, length: int) -> list[int]:
        """Non-negative positions selected by ``indices`` in a list of ``length`` items."""
        if isinstance(indices, bool) or not isinstance(indices, (int, np.integer, Sequence)):
            raise TypeError(f"indices should be a int or sequence of int, but got {type(indices)}")
        if isinstance(indices, (int, np.integer)):
            count = int(indices)
            if abs(count) > length:
                raise ValueError(f"{count} is out of dataset length({length})")
            return list(range(count)) if count >= 0 else list(range(length + count, length))
        positions = []
        for idx in indices:
            if not -length <= idx < length:
                raise IndexError(f"index {idx} is out of dataset length({length})")
            positions.append(int(idx) % length)
        return positions

    def _get_unserialized_subset(self, indices: Sequence[int] | int) -> list[dict]:
        """The items of ``self.data_list`` selected by ``indices``."""
        return [self.data_list[pos] for pos in self._positions(indices, len(self.data_list))]

    def _get_serialized_subset(self, indices: Sequence[int] | int) -> tuple[np.ndarray, np.ndarray]:
        """The byte buffer and address array of the items selected by ``indices``."""
        address = self.data_address
        if isinstance(indices, (int, np.integer)) and not isinstance(indices, bool):
            count = int(indices)
            if abs(count) > len(address):
                raise ValueError(f"{count} is out of dataset length({len(address)})")
            if count >= 0:
                # A contiguous head: slices are views, no copy of the buffer.
                end = int(address[count - 1]) if count > 0 else 0
                return self.data_bytes[:end], address[:count]
            start = int(address[count - 1]) if -count < len(address) else 0
            return self.data_bytes[start:], address[count:] - start
        positions = self._positions(indices, len(address))
        if not positions:
            return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.int64)
        starts = np.concatenate([np.zeros(1, np.int64), address[:-1]])[positions]
        ends = address[positions]
        data_bytes = np.concatenate([self.data_bytes[s:e] for s, e in zip(starts, ends)])
        return data_bytes, np.cumsum(ends - starts).astype(np.int64)

    def _serialize_data(self) -> tuple[np.ndarray, np.ndarray]:
        """Pickles every item of ``self.data_list`` into one uint8 buffer plus end offsets.

        Empties ``self.data_list`` so the Python objects are freed before workers fork.
        """
        buffers = [pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL) for item in self.data_list]
        data_address = np.cumsum(np.fromiter(map(len, buffers), np.int64, len(buffers)))
        # A bytearray is writable, so the array over it needs no further copy.
        data_bytes = np.frombuffer(bytearray().join(buffers), dtype=np.uint8)
        del buffers
        num_items = len(self.data_list)
        self.data_list.clear()
        # Reference counting frees the items; a full collection (a tenth of a second with
        # torch loaded) only pays off for lists large enough to hold cyclic garbage worth it.
        if num_items >= _GC_MIN_ITEMS:
            gc.collect()
        return data_bytes, data_address.astype(np.int64, copy=False)

    def _copy_without_annotation(self, memo: dict | None = None) -> BaseDataset:
        """A deep copy of everything but ``data_list``, ``data_bytes`` and ``data_address``."""
        memo = {} if memo is None else memo
        other = self.__class__.__new__(self.__class__)
        memo[id(self)] = other
        for key, value in self.__dict__.items():
            if key in ("data_list", "data_address", "data_bytes"):
                continue
            object.__setattr__(other, key, copy.deepcopy(value, memo))
        return other
