"""Building the model and wrapping it for distributed training."""

from __future__ import annotations

import copy
import logging
import os
from typing import Any

import torch
from torch import nn

__all__ = ["build_model", "default_device", "wrap_model"]


def default_device() -> str:
    """The device a model is moved to: the local CUDA device when there is one, else CPU."""
    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.current_device()}"
    return "cpu"


def build_model(model: nn.Module | dict, data_preprocessor: Any = None) -> nn.Module:
    """Builds the model through MODELS (a built module is returned as is).

    Args:
        model: A module or its config.
        data_preprocessor: Set as the config's ``data_preprocessor`` unless it has one.
    """
    from torchrig.registry import MODELS

    if isinstance(model, nn.Module):
        return model
    if not isinstance(model, dict):
        raise TypeError(f"model must be an nn.Module or a dict, got {type(model).__name__}")
    cfg = copy.deepcopy(dict(model))
    if data_preprocessor is not None:
        cfg.setdefault("data_preprocessor", data_preprocessor)
    return MODELS.build(cfg)


def wrap_model(
    model: nn.Module,
    model_wrapper_cfg: dict | None,
    distributed: bool,
    logger: logging.Logger,
    find_unused_parameters: bool = False,
) -> nn.Module:
    """Moves the model to its device and, when distributed, wraps it (DDP by default).

    Args:
        model: The built model (an already wrapped one is returned as is).
        model_wrapper_cfg: The wrapper's config (``type`` through MODEL_WRAPPERS,
            ``MMDistributedDataParallel`` by default).
        distributed: Whether the run is distributed; if not, SyncBN layers are reverted.
        logger: The run's logger.
        find_unused_parameters: DDP's argument, for the default wrapper.
    """
    from torchrig.model import is_model_wrapper, revert_sync_batchnorm
    from torchrig.registry import MODEL_WRAPPERS

    if is_model_wrapper(model):
        if model_wrapper_cfg is not None:
            raise TypeError(
                "the model is already wrapped; drop model_wrapper_cfg or pass the bare model"
            )
        return model
    device = default_device()
    model = model.to(device)
    if not distributed:
        return revert_sync_batchnorm(model)
    cfg = copy.deepcopy(dict(model_wrapper_cfg or {}))
    cfg.setdefault("type", "MMDistributedDataParallel")
    if cfg["type"] == "MMDistributedDataParallel" or "find_unused_parameters" in cfg:
        cfg.setdefault("find_unused_parameters", find_unused_parameters)
    wrapper_type = cfg["type"]
    if isinstance(wrapper_type, str):  # looked up in the default scope, as build() does
        with MODEL_WRAPPERS.switch_scope_and_registry(None) as registry:
            wrapper_type = registry.get(wrapper_type)
    defaults: dict[str, Any] = dict(module=model)
    if issubclass(wrapper_type, nn.parallel.DistributedDataParallel) and device != "cpu":
        defaults["device_ids"] = [int(os.environ.get("LOCAL_RANK", torch.cuda.current_device()))]
    if cfg["type"] == "MMDistributedDataParallel":
        cfg.setdefault("broadcast_buffers", False)
    logger.info(f"Wrapping the model with {wrapper_type.__name__}")
    return MODEL_WRAPPERS.build(cfg, default_args=defaults)
