"""Collate functions (``pseudo_collate``, ``default_collate``) and DataLoader worker seeding."""

from __future__ import annotations

import random
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate as torch_default_collate

from torchrig.registry import FUNCTIONS
from torchrig.structures import BaseDataElement

_TENSOR = torch.Tensor

__all__ = ["COLLATE_FUNCTIONS", "default_collate", "pseudo_collate", "worker_init_fn"]

# MMEngine's name for the registry that configs' `collate_fn=dict(type=...)` builds from.
COLLATE_FUNCTIONS = FUNCTIONS


def worker_init_fn(
    worker_id: int,
    num_workers: int,
    rank: int,
    seed: int,
    disable_subprocess_warning: bool = False,
) -> None:
    """Seeds python, numpy and torch in a DataLoader worker (bind all but ``worker_id``).

    Every worker of every rank gets its own seed, ``num_workers * rank + worker_id + seed``.

    Args:
        worker_id: The worker's id, given by the DataLoader.
        num_workers: Workers per rank.
        rank: This process's rank.
        seed: The run's seed.
        disable_subprocess_warning: Silence warnings in every worker but the first.
    """
    worker_seed = num_workers * rank + worker_id + seed
    np.random.seed(worker_seed % 2**32)
    random.seed(worker_seed)
    torch.manual_seed(worker_seed)
    if disable_subprocess_warning and worker_id != 0:
        warnings.simplefilter("ignore")


def _check_equal_lengths(data_batch: Sequence) -> None:
    lengths = {len(item) for item in data_batch}
    if len(lengths) > 1:
        raise RuntimeError("each data_item in list of batch should be of equal size")


def _collate(data_batch: Sequence, leaf: Any, keep_types: tuple[type, ...]) -> Any:
    """Recurses through sequences and mappings; items of ``keep_types`` stay a list."""
    data_item = data_batch[0]
    data_item_type = type(data_item)
    if data_item_type is dict:  # the usual sample, checked before the abstract base classes
        return {
            key: _collate([item[key] for item in data_batch], leaf, keep_types) for key in data_item
        }
    if data_item_type is _TENSOR and _TENSOR not in keep_types:
        return leaf(data_batch)
    if isinstance(data_item, keep_types):
        return data_batch
    if isinstance(data_item, tuple) and hasattr(data_item, "_fields"):  # a namedtuple
        return data_item_type(
            *(_collate(samples, leaf, keep_types) for samples in zip(*data_batch))
        )
    if isinstance(data_item, Sequence):
        _check_equal_lengths(data_batch)
        transposed = [_collate(samples, leaf, keep_types) for samples in zip(*data_batch)]
        if isinstance(data_item, tuple):
            return transposed  # as torch's default_collate does
        try:
            return data_item_type(transposed)
        except TypeError:  # a sequence type that cannot be built from a list (range)
            return transposed
    if isinstance(data_item, Mapping):
        return data_item_type(
            {
                key: _collate([item[key] for item in data_batch], leaf, keep_types)
                for key in data_item
            }
        )
    return leaf(data_batch)


def _keep(data_batch: Sequence) -> Sequence:
    return data_batch


@FUNCTIONS.register_module()
def pseudo_collate(data_batch: Sequence) -> Any:
    """Transposes a batch without stacking: dicts of lists, lists of lists.

    Mappings and sequences are recursed into so that a batch of ``dict(inputs=..,
    data_samples=..)`` becomes ``dict(inputs=[...], data_samples=[...])``; everything else
    (tensors, arrays, data elements, numbers) is kept as the sequence of the batch's items (a
    list at the top level, a tuple below a sequence, as MMEngine), for the model's data
    preprocessor to stack.

    Args:
        data_batch: The samples of one batch.

    Returns:
        The batch, of the same structure as one sample.
    """
    return _collate(data_batch, _keep, (str, bytes))


@FUNCTIONS.register_module()
def default_collate(data_batch: Sequence) -> Any:
    """Transposes a batch and stacks what can be stacked, as ``torch``'s default collate.

    Tensors are stacked, numpy arrays and numbers become tensors; data elements
    (``BaseDataElement``) and strings stay lists.

    Args:
        data_batch: The samples of one batch.

    Returns:
        The batch, of the same structure as one sample.
    """
    return _collate(data_batch, torch_default_collate, (BaseDataElement, str, bytes))
