"""Helpers for models: batch stacking, SyncBatchNorm conversion, anomalous-parameter check."""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from torchrig.model._log import _print_log

__all__ = [
    "convert_sync_batchnorm",
    "detect_anomalous_params",
    "merge_dict",
    "revert_sync_batchnorm",
    "stack_batch",
]


def stack_batch(
    tensor_list: list[torch.Tensor], pad_size_divisor: int = 1, pad_value: float = 0
) -> torch.Tensor:
    """Stack tensors of the same rank into one batch, padding every dim but the first.

    Each tensor is padded at the end of each dimension after the first (right and bottom for
    ``(C, H, W)`` images) up to the largest size in the list, rounded up to a multiple of
    ``pad_size_divisor``.

    Args:
        tensor_list: Tensors of the same number of dimensions and the same first dimension.
        pad_size_divisor: Padded sizes are multiples of this.
        pad_value: The value padding is filled with.

    Returns:
        A tensor of shape ``(len(tensor_list), *padded_shape)``.
    """
    if not isinstance(tensor_list, list) or not tensor_list:
        raise TypeError(f"stack_batch expects a non-empty list of tensors, got {tensor_list!r}")
    if not all(isinstance(t, torch.Tensor) for t in tensor_list):
        raise TypeError("stack_batch expects a list of tensors")
    ndim = tensor_list[0].dim()
    if any(t.dim() != ndim for t in tensor_list):
        raise ValueError(
            f"stack_batch: tensors have different ranks {[t.dim() for t in tensor_list]}"
        )
    shapes = [tuple(t.shape) for t in tensor_list]
    if len({shape[0] for shape in shapes}) != 1:
        raise ValueError(f"stack_batch: the first dimensions differ: {shapes}")
    target = [shapes[0][0]]
    for dim in range(1, ndim):
        size = max(shape[dim] for shape in shapes)
        target.append(-(-size // pad_size_divisor) * pad_size_divisor)
    if all(shape == tuple(target) for shape in shapes):
        return torch.stack(tensor_list)
    padded = []
    for tensor, shape in zip(tensor_list, shapes):
        # F.pad takes (last_lo, last_hi, second_last_lo, ...): pad only the high end.
        pad: list[int] = []
        for dim in range(ndim - 1, 0, -1):
            pad += [0, target[dim] - shape[dim]]
        padded.append(F.pad(tensor, pad, value=pad_value))
    return torch.stack(padded)


def detect_anomalous_params(loss: torch.Tensor, model: nn.Module) -> None:
    """Log every trainable parameter of ``model`` that ``loss`` does not depend on.

    Such parameters make DDP fail unless ``find_unused_parameters=True``.

    Args:
        loss: The loss, before backward.
        model: The model (possibly wrapped).
    """
    used: set[int] = set()
    seen: set[Any] = set()
    stack = [loss.grad_fn] if loss.grad_fn is not None else []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)
        if variable is not None:
            used.add(id(variable))
        stack.extend(next_node for next_node, _ in node.next_functions)
    for name, param in model.named_parameters():
        if param.requires_grad and id(param) not in used:
            _print_log(
                f"{name} with shape {tuple(param.size())} is not in the computational graph",
                logging.ERROR,
            )


def merge_dict(*args: dict) -> dict:
    """Merge dicts left to right (later keys win)."""
    merged: dict = {}
    for arg in args:
        if not isinstance(arg, dict):
            raise TypeError(f"merge_dict expects dicts, got {type(arg).__name__}")
        merged.update(arg)
    return merged


class _BatchNormXd(_BatchNorm):
    """A BatchNorm accepting inputs of any rank, to stand in for ``SyncBatchNorm`` on CPU."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        return


def revert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``nn.SyncBatchNorm`` in ``module`` by an equivalent plain BatchNorm.

    Useful to run a model built for distributed training on CPU or in one process. Weights,
    running statistics and ``requires_grad`` are kept.

    Args:
        module: The module to convert (modified in place where possible).

    Returns:
        The converted module (a new object if ``module`` itself was a ``SyncBatchNorm``).
    """
    converted = module
    if isinstance(module, nn.SyncBatchNorm):
        converted = _BatchNormXd(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
        )
        if module.affine:
            with torch.no_grad():
                converted.weight = module.weight
                converted.bias = module.bias
        converted.running_mean = module.running_mean
        converted.running_var = module.running_var
        converted.num_batches_tracked = module.num_batches_tracked
        converted.training = module.training
        if hasattr(module, "qconfig"):
            converted.qconfig = module.qconfig
    for name, child in module.named_children():
        converted.add_module(name, revert_sync_batchnorm(child))
    return converted


def convert_sync_batchnorm(module: nn.Module, implementation: str = "torch") -> nn.Module:
    """Replace every BatchNorm in ``module`` by ``nn.SyncBatchNorm``.

    Args:
        module: The module to convert.
        implementation: Only ``'torch'`` (``torch.nn.SyncBatchNorm``) is available.

    Returns:
        The converted module.
    """
    if implementation != "torch":
        raise ValueError(
            f"convert_sync_batchnorm: implementation {implementation!r} is not available; "
            "use 'torch'"
        )
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)
