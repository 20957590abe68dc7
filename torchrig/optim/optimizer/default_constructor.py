"""DefaultOptimWrapperConstructor: builds an optimizer wrapper, with per-parameter settings."""

from __future__ import annotations

import copy
import inspect
import logging
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from torchrig.optim.optimizer.optimizer_wrapper import OptimWrapper
from torchrig.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS

__all__ = ["DefaultOptimWrapperConstructor"]

_logger = logging.getLogger("torchrig")

_NORM_TYPES = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)
_DECAY_KEYS = ("bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult", "flat_decay_mult")


def _is_dcn_module(module: nn.Module) -> bool:
    # mmcv's DeformConv2d / ModulatedDeformConv2d, recognized by name to avoid needing mmcv.
    return "DeformConv" in type(module).__name__


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DefaultOptimWrapperConstructor:
    """Builds an :class:`OptimWrapper` for a model from ``optim_wrapper`` config.

    Without ``paramwise_cfg`` every parameter shares the optimizer's settings. With it, each
    parameter gets its own group:

    - ``custom_keys``: ``{'backbone': dict(lr_mult=0.1, decay_mult=1.0)}``; a parameter whose
      full name contains a key takes that key's multipliers (the longest matching key wins,
      ties alphabetically) and no other rule applies. Other entries of the key's dict are
      copied into the group as they are.
    - ``bias_lr_mult``: lr multiplier for biases (not those of norm layers or DCN offsets).
    - ``bias_decay_mult``, ``norm_decay_mult``, ``dwconv_decay_mult``, ``flat_decay_mult``:
      weight-decay multipliers for biases, norm layers' parameters, depth-wise convolutions'
      parameters, and other one-dimensional parameters, in that order of precedence.
    - ``bypass_duplicate``: skip parameters shared by several modules instead of failing.
    - ``dcn_offset_lr_mult``: lr multiplier for deformable convolutions' offset layers.

    Args:
        optim_wrapper_cfg: The wrapper config: ``optimizer=dict(type='SGD', lr=...)`` and the
            wrapper's own keys (``type`` defaults to ``'OptimWrapper'``).
        paramwise_cfg: Per-parameter rules as above.
    """

    def __init__(
        self, optim_wrapper_cfg: dict[str, Any], paramwise_cfg: dict[str, Any] | None = None
    ) -> None:
        if not isinstance(optim_wrapper_cfg, dict):
            raise TypeError(
                f"optim_wrapper_cfg must be a dict, got {type(optim_wrapper_cfg).__name__}"
            )
        if "optimizer" not in optim_wrapper_cfg:
            raise KeyError(
                "optim_wrapper config needs an 'optimizer' key, e.g. "
                "optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01))"
            )
        self.optim_wrapper_cfg = dict(optim_wrapper_cfg)
        self.optimizer_cfg = dict(self.optim_wrapper_cfg.pop("optimizer"))
        self.paramwise_cfg: dict[str, Any] = {} if paramwise_cfg is None else paramwise_cfg
        self.base_lr = self.optimizer_cfg.get("lr")
        self.base_wd = self.optimizer_cfg.get("weight_decay")
        self._validate_cfg()

    def _validate_cfg(self) -> None:
        if not isinstance(self.paramwise_cfg, dict):
            raise TypeError(
                f"paramwise_cfg must be a dict or None, got {type(self.paramwise_cfg).__name__}"
            )
        custom_keys = self.paramwise_cfg.get("custom_keys", {})
        if not isinstance(custom_keys, dict):
            raise TypeError(
                f"paramwise_cfg.custom_keys must be a dict, got {type(custom_keys).__name__}"
            )
        needs_wd = [k for k in _DECAY_KEYS if k in self.paramwise_cfg]
        needs_wd += [f"custom_keys.{k}" for k, v in custom_keys.items() if "decay_mult" in v]
        if needs_wd and self.base_wd is None:
            raise ValueError(
                f"paramwise_cfg sets {needs_wd} but the optimizer config has no weight_decay to "
                "multiply; add optimizer.weight_decay"
            )
        lr_keys = [k for k in ("bias_lr_mult", "dcn_offset_lr_mult") if k in self.paramwise_cfg]
        lr_keys += [f"custom_keys.{k}" for k, v in custom_keys.items() if "lr_mult" in v]
        if lr_keys and self.base_lr is None:
            raise ValueError(
                f"paramwise_cfg sets {lr_keys} but the optimizer config has no lr to multiply"
            )

    def add_params(
        self,
        params: list[dict[str, Any]],
        module: nn.Module,
        prefix: str = "",
        is_dcn_module: bool | None = None,
    ) -> None:
        """Appends one parameter group per parameter of ``module`` and its children.

        Args:
            params: The list of groups being built (appended to).
            module: The module whose parameters are added.
            prefix: The module's name in the model.
            is_dcn_module: Whether the parent module is a deformable convolution.
        """
        for name, param in module.named_parameters(recurse=False):
            full_name = f"{prefix}.{name}" if prefix else name
            group: dict[str, Any] = {"params": [param]}
            if self.paramwise_cfg.get("bypass_duplicate", False) and self._is_in(group, params):
                _logger.warning(
                    "%s is shared with an earlier module; skipped (bypass_duplicate=True)",
                    full_name,
                )
                continue
            if param.requires_grad:
                self._apply_rules(group, module, name, full_name, prefix, bool(is_dcn_module))
            params.append(group)
            for key, value in group.items():
                if key != "params":
                    _logger.debug("paramwise_options -- %s:%s=%s", full_name, key, value)
        child_is_dcn = _is_dcn_module(module)
        for child_name, child in module.named_children():
            child_prefix = f"{prefix}.{child_name}" if prefix else child_name
            self.add_params(params, child, prefix=child_prefix, is_dcn_module=child_is_dcn)

    def _custom_key(self, full_name: str) -> str | None:
        custom_keys = self.paramwise_cfg.get("custom_keys", {})
        for key in sorted(sorted(custom_keys), key=len, reverse=True):
            if key in full_name:
                return key
        return None

    def _apply_rules(
        self,
        group: dict[str, Any],
        module: nn.Module,
        name: str,
        full_name: str,
        prefix: str,
        is_dcn_module: bool,
    ) -> None:
        cfg = self.paramwise_cfg
        key = self._custom_key(full_name)
        if key is not None:
            options = cfg["custom_keys"][key]
            group["lr"] = self.base_lr * options.get("lr_mult", 1.0)
            if self.base_wd is not None:
                group["weight_decay"] = self.base_wd * options.get("decay_mult", 1.0)
            group.update(options)
            return
        is_norm = isinstance(module, _NORM_TYPES)
        is_dwconv = isinstance(module, nn.Conv2d) and module.in_channels == module.groups
        bias_lr_mult = cfg.get("bias_lr_mult")
        if name == "bias" and not (is_norm or is_dcn_module) and bias_lr_mult is not None:
            group["lr"] = self.base_lr * bias_lr_mult
        dcn_offset_lr_mult = cfg.get("dcn_offset_lr_mult")
        if (
            dcn_offset_lr_mult is not None
            and is_dcn_module
            and "conv_offset" in prefix
            and isinstance(module, nn.Conv2d)
        ):
            group["lr"] = self.base_lr * dcn_offset_lr_mult
        if self.base_wd is None:
            return
        param = group["params"][0]
        if is_norm and cfg.get("norm_decay_mult") is not None:
            group["weight_decay"] = self.base_wd * cfg["norm_decay_mult"]
        elif name == "bias" and not is_dcn_module and cfg.get("bias_decay_mult") is not None:
            group["weight_decay"] = self.base_wd * cfg["bias_decay_mult"]
        elif is_dwconv and cfg.get("dwconv_decay_mult") is not None:
            group["weight_decay"] = self.base_wd * cfg["dwconv_decay_mult"]
        elif param.ndim == 1 and cfg.get("flat_decay_mult") is not None:
            group["weight_decay"] = self.base_wd * cfg["flat_decay_mult"]

    @staticmethod
    def _is_in(group: dict[str, Any], groups: list[dict[str, Any]]) -> bool:
        seen = {id(p) for g in groups for p in g["params"]}
        return any(id(p) in seen for p in group["params"])

    def __call__(self, model: nn.Module) -> OptimWrapper:
        """Builds the optimizer for ``model`` (unwrapped when it has ``.module``) and its wrapper."""
        if hasattr(model, "module"):
            model = model.module
        wrapper_cfg = copy.copy(self.optim_wrapper_cfg)
        wrapper_cfg.setdefault("type", "OptimWrapper")
        optimizer_cfg = copy.copy(self.optimizer_cfg)
        optimizer_cls = optimizer_cfg["type"]
        if isinstance(optimizer_cls, str):
            with OPTIMIZERS.switch_scope_and_registry(None) as registry:
                optimizer_cls = registry.get(optimizer_cls)
        # Some optimizers (colossalai's HybridAdam) call their first argument `model_params`.
        first_arg = next(iter(inspect.signature(optimizer_cls).parameters))
        if self.paramwise_cfg:
            params: list[dict[str, Any]] = []
            self.add_params(params, model)
            optimizer_cfg[first_arg] = params
        else:
            optimizer_cfg[first_arg] = model.parameters()
        optimizer: torch.optim.Optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(wrapper_cfg, default_args=dict(optimizer=optimizer))
