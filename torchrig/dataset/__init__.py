"""Datasets, transforms, samplers and collate functions (MMEngine's ``mmengine.dataset``)."""

from torchrig.dataset.base_dataset import BaseDataset, Compose, force_full_init
from torchrig.dataset.dataset_wrapper import ClassBalancedDataset, ConcatDataset, RepeatDataset
from torchrig.dataset.sampler import DefaultSampler, InfiniteSampler
from torchrig.dataset.utils import (
    COLLATE_FUNCTIONS,
    default_collate,
    pseudo_collate,
    worker_init_fn,
)

__all__ = [
    "COLLATE_FUNCTIONS",
    "BaseDataset",
    "ClassBalancedDataset",
    "Compose",
    "ConcatDataset",
    "DefaultSampler",
    "InfiniteSampler",
    "RepeatDataset",
    "default_collate",
    "force_full_init",
    "pseudo_collate",
    "worker_init_fn",
]
