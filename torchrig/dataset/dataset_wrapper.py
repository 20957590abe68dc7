"""Dataset wrappers: ``ConcatDataset``, ``RepeatDataset`` and ``ClassBalancedDataset``.

Each wraps datasets given as objects or ``DATASETS`` configs, initialises lazily when asked
(``lazy_init=True`` defers loading annotations until first use) and exposes the wrapped data
through ``get_data_info``, ``__getitem__`` and ``metainfo`` as MMEngine's wrappers do.
"""

from __future__ import annotations

import bisect
import copy
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch.utils.data.dataset import ConcatDataset as _ConcatDataset

from torchrig.dataset.base_dataset import BaseDataset, _print_log, force_full_init
from torchrig.registry import DATASETS

__all__ = ["ClassBalancedDataset", "ConcatDataset", "RepeatDataset"]


def _build_dataset(dataset: BaseDataset | dict) -> BaseDataset:
    """``dataset`` itself, or the dataset built from its config through ``DATASETS``."""
    if isinstance(dataset, dict):
        return DATASETS.build(dataset)
    if isinstance(dataset, BaseDataset):
        return dataset
    raise TypeError(
        f"elements in datasets sequence should be config or `BaseDataset` instance, but got "
        f"{type(dataset)}"
    )


def _no_subset(wrapper: Any) -> NotImplementedError:
    name = type(wrapper).__name__
    return NotImplementedError(
        f"`{name}` does not support `get_subset` and `get_subset_` interfaces because this will "
        "lead to ambiguous implementation of some methods. If you want to use `get_subset` or "
        f"`get_subset_` interfaces, please use them in the wrapped dataset first and then use "
        f"`{name}`."
    )


def _warn_not_initialized() -> None:
    _print_log(
        "Please call `full_init` method manually to accelerate the speed.", level=logging.WARNING
    )


def _metainfo_equal(first: Any, other: Any) -> bool:
    if isinstance(first, np.ndarray):
        return bool(np.array_equal(first, other))
    return bool(first == other)


@DATASETS.register_module()
class ConcatDataset(_ConcatDataset):
    """Several datasets one after another; their metainfo must agree.

    The metainfo is the first dataset's. Every other dataset must have the same keys with values
    of the same type and equal value, except for keys in ``ignore_keys``.

    Args:
        datasets: Datasets or their configs.
        lazy_init: Defer ``full_init`` of the wrapped datasets until first use.
        ignore_keys: Metainfo keys that may differ (or be missing) between datasets.
    """

    def __init__(
        self,
        datasets: Sequence[BaseDataset | dict],
        lazy_init: bool = False,
        ignore_keys: str | list[str] | None = None,
    ) -> None:
        self.datasets: list[BaseDataset] = [_build_dataset(dataset) for dataset in datasets]
        if ignore_keys is None:
            self.ignore_keys: list[str] = []
        elif isinstance(ignore_keys, str):
            self.ignore_keys = [ignore_keys]
        elif isinstance(ignore_keys, list):
            self.ignore_keys = ignore_keys
        else:
            raise TypeError(f"ignore_keys should be a list or str, but got {type(ignore_keys)}")
        self._metainfo = self.datasets[0].metainfo
        self._check_metainfo()
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    def _check_metainfo(self) -> None:
        meta_keys: set[str] = set()
        for dataset in self.datasets:
            meta_keys |= dataset.metainfo.keys()
        for i, dataset in enumerate(self.datasets, 1):
            metainfo = dataset.metainfo
            for key in meta_keys:
                if key in self.ignore_keys:
                    continue
                if key not in metainfo:
                    raise ValueError(
                        f"{key} does not in the meta information of the {i}-th dataset"
                    )
                first_type, cur_type = type(self._metainfo[key]), type(metainfo[key])
                if first_type is not cur_type:
                    raise TypeError(
                        f"The type {cur_type} of {key} of the {i}-th dataset does not match the "
                        f"type {first_type} of the first dataset."
                    )
                if not _metainfo_equal(self._metainfo[key], metainfo[key]):
                    raise ValueError(
                        f"The meta information of the {i}-th dataset does not match meta "
                        f"information of the first dataset (key {key!r})"
                    )

    @property
    def metainfo(self) -> dict:
        """A deep copy of the first dataset's meta information."""
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        """Initialises every wrapped dataset and the cumulative sizes."""
        if self._fully_initialized:
            return
        for dataset in self.datasets:
            dataset.full_init()
        super().__init__(self.datasets)
        self._fully_initialized = True

    @force_full_init
    def _get_ori_dataset_idx(self, idx: int) -> tuple[int, int]:
        """``(dataset index, index inside that dataset)`` of global index ``idx``."""
        if idx < 0:
            if -idx > len(self):
                raise ValueError(
                    f"absolute value of index({idx}) should not exceed dataset length({len(self)})."
                )
            idx = len(self) + idx
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        sample_idx = idx if dataset_idx == 0 else idx - self.cumulative_sizes[dataset_idx - 1]
        return dataset_idx, sample_idx

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The data information of global index ``idx``."""
        dataset_idx, sample_idx = self._get_ori_dataset_idx(idx)
        return self.datasets[dataset_idx].get_data_info(sample_idx)

    @force_full_init
    def get_cat_ids(self, idx: int) -> list[int]:
        """The category ids of global index ``idx``."""
        dataset_idx, sample_idx = self._get_ori_dataset_idx(idx)
        return self.datasets[dataset_idx].get_cat_ids(sample_idx)

    @force_full_init
    def __len__(self) -> int:
        return super().__len__()

    def __getitem__(self, idx: int) -> Any:
        if not self._fully_initialized:
            _warn_not_initialized()
            self.full_init()
        dataset_idx, sample_idx = self._get_ori_dataset_idx(idx)
        return self.datasets[dataset_idx][sample_idx]

    def get_subset_(self, indices: list[int] | int) -> None:
        """Not supported: take subsets of the wrapped datasets instead."""
        raise _no_subset(self)

    def get_subset(self, indices: list[int] | int) -> BaseDataset:
        """Not supported: take subsets of the wrapped datasets instead."""
        raise _no_subset(self)


@DATASETS.register_module()
class RepeatDataset:
    """A dataset repeated ``times`` times (short epochs cost less start-up per pass).

    Args:
        dataset: The dataset or its config.
        times: How many times to repeat it.
        lazy_init: Defer ``full_init`` of the wrapped dataset until first use.
    """

    def __init__(self, dataset: BaseDataset | dict, times: int, lazy_init: bool = False) -> None:
        self.dataset: BaseDataset = _build_dataset(dataset)
        self.times = times
        self._metainfo = self.dataset.metainfo
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """A deep copy of the wrapped dataset's meta information."""
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        """Initialises the wrapped dataset."""
        if self._fully_initialized:
            return
        self.dataset.full_init()
        self._ori_len = len(self.dataset)
        self._fully_initialized = True

    @force_full_init
    def _get_ori_dataset_idx(self, idx: int) -> int:
        return idx % self._ori_len

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The data information of index ``idx`` (modulo the wrapped length)."""
        return self.dataset.get_data_info(self._get_ori_dataset_idx(idx))

    @force_full_init
    def get_cat_ids(self, idx: int) -> list[int]:
        """The category ids of index ``idx`` (modulo the wrapped length)."""
        return self.dataset.get_cat_ids(self._get_ori_dataset_idx(idx))

    def __getitem__(self, idx: int) -> Any:
        if not self._fully_initialized:
            _warn_not_initialized()
            self.full_init()
        return self.dataset[self._get_ori_dataset_idx(idx)]

    @force_full_init
    def __len__(self) -> int:
        return self.times * self._ori_len

    def get_subset_(self, indices: list[int] | int) -> None:
        """Not supported: take subsets of the wrapped dataset instead."""
        raise _no_subset(self)

    def get_subset(self, indices: list[int] | int) -> BaseDataset:
        """Not supported: take subsets of the wrapped dataset instead."""
        raise _no_subset(self)


@DATASETS.register_module()
class ClassBalancedDataset:
    """Repeats samples of rare categories (LVIS's repeat factor sampling).

    A category present in a fraction ``f(c)`` of the samples gets the repeat factor
    ``r(c) = max(1, sqrt(oversample_thr / f(c)))``; a sample is repeated
    ``ceil(max r(c))`` times over its categories (once if it has none). The wrapped dataset
    must implement ``get_cat_ids``.

    Args:
        dataset: The dataset or its config.
        oversample_thr: Categories in fewer than this fraction of samples are oversampled.
        lazy_init: Defer ``full_init`` of the wrapped dataset until first use.
    """

    def __init__(
        self, dataset: BaseDataset | dict, oversample_thr: float, lazy_init: bool = False
    ) -> None:
        self.dataset: BaseDataset = _build_dataset(dataset)
        self.oversample_thr = oversample_thr
        self._metainfo = self.dataset.metainfo
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """A deep copy of the wrapped dataset's meta information."""
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        """Initialises the wrapped dataset and computes the repeated indices."""
        if self._fully_initialized:
            return
        self.dataset.full_init()
        repeat_factors = self._get_repeat_factors(self.dataset, self.oversample_thr)
        repeat_indices: list[int] = []
        for dataset_index, repeat_factor in enumerate(repeat_factors):
            repeat_indices.extend([dataset_index] * math.ceil(repeat_factor))
        self.repeat_indices = repeat_indices
        self._fully_initialized = True

    def _get_repeat_factors(self, dataset: BaseDataset, repeat_thr: float) -> list[float]:
        """The repeat factor of every sample of ``dataset``."""
        num_images = len(dataset)
        cat_ids_per_image = [set(dataset.get_cat_ids(idx)) for idx in range(num_images)]
        category_freq: defaultdict[int, float] = defaultdict(float)
        for cat_ids in cat_ids_per_image:
            for cat_id in cat_ids:
                category_freq[cat_id] += 1
        category_repeat = {
            cat_id: max(1.0, math.sqrt(repeat_thr / (count / num_images)))
            for cat_id, count in category_freq.items()
        }
        return [
            max(category_repeat[cat_id] for cat_id in cat_ids) if cat_ids else 1.0
            for cat_ids in cat_ids_per_image
        ]

    @force_full_init
    def _get_ori_dataset_idx(self, idx: int) -> int:
        return self.repeat_indices[idx]

    @force_full_init
    def get_cat_ids(self, idx: int) -> list[int]:
        """The category ids of index ``idx``."""
        return self.dataset.get_cat_ids(self._get_ori_dataset_idx(idx))

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The data information of index ``idx``."""
        return self.dataset.get_data_info(self._get_ori_dataset_idx(idx))

    def __getitem__(self, idx: int) -> Any:
        if not self._fully_initialized:
            _warn_not_initialized()
            self.full_init()
        return self.dataset[self._get_ori_dataset_idx(idx)]

    @force_full_init
    def __len__(self) -> int:
        return len(self.repeat_indices)

    def get_subset_(self, indices: list[int] | int) -> None:
        """Not supported: take subsets of the wrapped dataset instead."""
        raise _no_subset(self)

    def get_subset(self, indices: list[int] | int) -> BaseDataset:
        """Not supported: take subsets of the wrapped dataset instead."""
        raise _no_subset(self)
