"""Building a DataLoader from its config (``Runner.build_dataloader``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch.utils.data import DataLoader

__all__ = ["build_dataloader", "dataloader_batch_size", "sampler_of"]


def _function(cfg: Any, what: str) -> Callable:
    """A callable from ``dict(type=name or callable, **bound_kwargs)`` or a callable."""
    from torchrig.registry import FUNCTIONS

    if callable(cfg):
        return cfg
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise TypeError(f"dataloader {what} must be a callable or dict(type=...), got {cfg!r}")
    cfg = dict(cfg)
    fn_type = cfg.pop("type")
    fn = FUNCTIONS.get(fn_type) if isinstance(fn_type, str) else fn_type
    if not callable(fn):
        raise TypeError(f"dataloader {what} type {fn_type!r} is not callable")
    return partial(fn, **cfg) if cfg else fn


def _build_dataset(dataset_cfg: Any) -> Any:
    from torchrig.registry import DATASETS

    if not isinstance(dataset_cfg, dict):
        return dataset_cfg
    dataset = DATASETS.build(dataset_cfg)
    if callable(getattr(dataset, "full_init", None)):
        dataset.full_init()
    return dataset


def build_dataloader(
    dataloader: DataLoader | dict, seed: int | None = None, diff_rank_seed: bool = False
) -> DataLoader:
    """Builds a DataLoader from ``dict(dataset=..., sampler=..., batch_size=..., ...)``.

    The dataset is built through DATASETS, the sampler (and ``batch_sampler``) through
    DATA_SAMPLERS with the dataset and seed as defaults, ``collate_fn`` (default
    ``pseudo_collate``) and ``worker_init_fn`` through FUNCTIONS. Workers are seeded from
    ``seed``. The DataLoader gets its own ``torch.Generator`` so that starting an epoch
    never draws from the global torch RNG (which would break bit-exact resume).

    Args:
        dataloader: A built DataLoader (returned as is) or its config.
        seed: The run's seed, for the sampler and the workers.
        diff_rank_seed: Ranks use different seeds (the sampler then draws its own).
    """
    from torchrig.dataset.utils import worker_init_fn
    from torchrig.dist import get_rank
    from torchrig.registry import DATA_SAMPLERS

    if isinstance(dataloader, DataLoader):
        return dataloader
    if not isinstance(dataloader, dict):
        raise TypeError(f"a dataloader must be a DataLoader or a dict, got {type(dataloader)}")
    cfg = copy.deepcopy(dict(dataloader))
    if "dataset" not in cfg:
        raise KeyError(f"the dataloader config needs a 'dataset' key, got keys {sorted(cfg)}")
    dataset = _build_dataset(cfg.pop("dataset"))
    sampler = cfg.pop("sampler", None)
    if isinstance(sampler, dict):
        sampler_seed = None if diff_rank_seed else seed
        sampler = DATA_SAMPLERS.build(sampler, default_args=dict(dataset=dataset, seed=sampler_seed))
    batch_sampler = cfg.pop("batch_sampler", None)
    if isinstance(batch_sampler, dict):
        batch_sampler = DATA_SAMPLERS.build(
            batch_sampler, default_args=dict(sampler=sampler, batch_size=cfg.pop("batch_size", 1))
        )
    elif batch_sampler is not None:
        cfg.pop("batch_size", None)  # the batch sampler decides the batch size
    if "worker_init_fn" in cfg:
        init_fn = _function(cfg.pop("worker_init_fn"), "worker_init_fn")
    elif seed is not None:
        init_fn = partial(
            worker_init_fn,
            num_workers=cfg.get("num_workers", 0),
            rank=get_rank(),
            seed=seed,
            disable_subprocess_warning=cfg.pop("disable_subprocess_warning", False),
        )
    else:
        init_fn = None
    cfg.pop("disable_subprocess_warning", None)
    collate_fn = _function(cfg.pop("collate_fn", dict(type="pseudo_collate")), "collate_fn")
    generator = torch.Generator()
    generator.manual_seed(seed if seed is not None else torch.initial_seed())
    cfg.setdefault("generator", generator)
    return DataLoader(
        dataset=dataset,
        sampler=sampler if batch_sampler is None else None,
        batch_sampler=batch_sampler,
        collate_fn=collate_fn,
        worker_init_fn=init_fn,
        **cfg,
    )


def dataloader_batch_size(dataloader: DataLoader | dict | None) -> int | None:
    """The batch size of a dataloader or dataloader config, when it has one."""
    if dataloader is None:
        return None
    if isinstance(dataloader, dict):
        if "batch_size" in dataloader:
            return int(dataloader["batch_size"])
        batch_sampler = dataloader.get("batch_sampler")
        return batch_sampler.get("batch_size") if isinstance(batch_sampler, dict) else None
    if dataloader.batch_size is not None:
        return int(dataloader.batch_size)
    return getattr(dataloader.batch_sampler, "batch_size", None)


def sampler_of(dataloader: DataLoader) -> Any:
    """The sampler that decides a dataloader's order (inside a custom batch sampler too)."""
    batch_sampler = dataloader.batch_sampler
    if batch_sampler is not None and hasattr(batch_sampler, "sampler"):
        return batch_sampler.sampler
    return dataloader.sampler
