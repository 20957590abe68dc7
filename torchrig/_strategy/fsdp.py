"""``FSDPStrategy``: one process per device, the model sharded with PyTorch's FSDP.

The model is wrapped in :class:`~torchrig.model.wrappers.MMFullyShardedDataParallel` (FSDP2,
``torch.distributed.fsdp.fully_shard``). MMEngine's strategy configured FSDP1
(``FullyShardedDataParallel``); its ``model_wrapper`` arguments are translated here:

=============================  ===========================================================
MMEngine (FSDP1)               here (FSDP2)
=============================  ===========================================================
``auto_wrap_policy``           the same callables (``size_based_auto_wrap_policy``,
                               ``transformer_auto_wrap_policy`` with ``functools.partial``,
                               ``ModuleWrapPolicy``), or ``dict(type=<policy or its name>,
                               **arguments)``; torchrig's own forms pass through
``sharding_strategy``          ``'FULL_SHARD'`` (ZeRO-3) or ``'SHARD_GRAD_OP'`` (ZeRO-2,
                               ``reshard_after_forward=False``)
``mixed_precision``            ``param_dtype``, ``reduce_dtype`` (``buffer_dtype`` has no
                               FSDP2 counterpart: buffers keep their dtype)
``cpu_offload``                ``True`` or ``CPUOffload(offload_params=True)``
``use_orig_params``,           FSDP2 always keeps the original parameters and schedules
``device_id``, ``*_prefetch``, its own prefetching and device; these are accepted and left
``limit_all_gathers``          out
``state_dict_cfg``             ``'full'``: rank 0 writes whole checkpoints; ``'local'``:
                               each rank writes its shards beside the checkpoint file
=============================  ===========================================================
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from torchrig._strategy.distributed import DDPStrategy
from torchrig.registry import STRATEGIES

if TYPE_CHECKING:
    import logging

__all__ = ["FSDPStrategy"]

# FSDP1 arguments with no FSDP2 meaning (FSDP2 keeps original parameters, places shards on
# the module's device and prefetches on its own).
_DROPPED = (
    "use_orig_params",
    "device_id",
    "backward_prefetch",
    "forward_prefetch",
    "limit_all_gathers",
    "param_init_fn",
)
_TORCHRIG_POLICIES = ("module_classes", "size_based")
_SHARDING = {"FULL_SHARD": True, "SHARD_GRAD_OP": False}


def _unsharded_numel(module: nn.Module) -> int:
    """Parameters of ``module`` not already held by a sharded (deeper) module."""
    from torch.distributed.fsdp import FSDPModule

    count, stack = 0, [module]
    while stack:
        current = stack.pop()
        count += sum(p.numel() for p in current.parameters(recurse=False))
        stack.extend(c for c in current.children() if not isinstance(c, FSDPModule))
    return count


def _is_fsdp1_policy(policy: Any) -> bool:
    try:
        parameters = inspect.signature(policy).parameters
    except (TypeError, ValueError):
        return False
    return "recurse" in parameters


def _from_fsdp1_policy(policy: Any) -> Any:
    """An FSDP1 policy ``(module, recurse, nonwrapped_numel) -> bool`` asked, for each module,
    whether that module gets its own shard unit (FSDP1's ``recurse=False`` question)."""

    def matcher(module: nn.Module) -> bool:
        return bool(policy(module, False, _unsharded_numel(module)))

    return matcher


def _resolve_policy_type(name: str) -> Any:
    if "." not in name:
        name = f"torch.distributed.fsdp.wrap.{name}"
    module_name, _, attribute = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        raise ValueError(
            f"FSDPStrategy: model_wrapper.auto_wrap_policy type {name!r} is not found; use a "
            "policy of torch.distributed.fsdp.wrap (e.g. 'size_based_auto_wrap_policy') or "
            "dict(type='module_classes', classes=[...])"
        ) from None


def _translate_policy(policy: Any) -> Any:
    if isinstance(policy, dict) and policy.get("type") not in _TORCHRIG_POLICIES:
        arguments = dict(policy)
        function = arguments.pop("type")
        if isinstance(function, str):
            function = _resolve_policy_type(function)
        policy = functools.partial(function, **arguments)
    if callable(policy) and not isinstance(policy, type) and _is_fsdp1_policy(policy):
        return _from_fsdp1_policy(policy)
    return policy


def _translate_mixed_precision(mixed_precision: Any, logger: logging.Logger) -> Any:
    if mixed_precision is None or isinstance(mixed_precision, dict):
        cfg = dict(mixed_precision or {})
    elif type(mixed_precision).__name__ == "MixedPrecision":  # FSDP1's dataclass
        cfg = {
            key: getattr(mixed_precision, key)
            for key in ("param_dtype", "reduce_dtype", "buffer_dtype")
        }
    else:
        return mixed_precision
    for key in ("buffer_dtype", "keep_low_precision_grads", "cast_root_forward_inputs"):
        if cfg.pop(key, None) is not None:
            logger.warning(
                f"FSDPStrategy: mixed_precision.{key} has no FSDP2 counterpart; left out"
            )
    return {key: value for key, value in cfg.items() if value is not None} or None


def _translate_wrapper(model_wrapper: dict, state_dict_type: str, logger: logging.Logger) -> dict:
    """MMEngine's (FSDP1) ``model_wrapper`` config as ``MMFullyShardedDataParallel``'s."""
    cfg = dict(model_wrapper)
    cfg.setdefault("type", "MMFullyShardedDataParallel")
    cfg.setdefault("state_dict_type", state_dict_type)
    for key in _DROPPED:
        cfg.pop(key, None)
    sharding = cfg.pop("sharding_strategy", None)
    if sharding is not None:
        name = getattr(sharding, "name", str(sharding)).upper()
        if name not in _SHARDING:
            raise ValueError(
                f"FSDPStrategy: sharding_strategy {sharding!r} is not supported; use "
                "'FULL_SHARD' or 'SHARD_GRAD_OP' (for 'NO_SHARD' use DDPStrategy)"
            )
        cfg.setdefault("reshard_after_forward", _SHARDING[name])
    offload = cfg.get("cpu_offload")
    if offload is not None and not isinstance(offload, bool):
        cfg["cpu_offload"] = bool(getattr(offload, "offload_params", offload))
    if "auto_wrap_policy" in cfg:
        cfg["auto_wrap_policy"] = _translate_policy(cfg["auto_wrap_policy"])
    if "mixed_precision" in cfg:
        cfg["mixed_precision"] = _translate_mixed_precision(cfg["mixed_precision"], logger)
    return cfg


def _state_dict_type(state_dict_cfg: str | dict) -> str:
    """``'full'`` or ``'sharded'`` from MMEngine's ``state_dict_cfg``."""
    if isinstance(state_dict_cfg, dict):
        kind = str(state_dict_cfg.get("state_dict_type", "")).upper()
        state_dict_cfg = "full" if "FULL" in kind else "local" if kind else ""
    if state_dict_cfg == "full":
        return "full"
    if state_dict_cfg in ("local", "sharded"):
        return "sharded"
    raise ValueError(
        f"FSDPStrategy: state_dict_cfg must be 'full', 'local' or a dict with state_dict_type="
        f"'FULL_STATE_DICT'/'LOCAL_STATE_DICT'/'SHARDED_STATE_DICT', got {state_dict_cfg!r}"
    )


@STRATEGIES.register_module()
class FSDPStrategy(DDPStrategy):
    """Fully sharded data parallel training on PyTorch's FSDP (see the module docstring for
    how MMEngine's FSDP1 arguments carry over).

    Keyword Args:
        model_wrapper: The wrapper's config (``MMFullyShardedDataParallel`` by default):
            ``auto_wrap_policy``, ``mixed_precision``, ``sharding_strategy``, ``cpu_offload``,
            ... Its ``state_dict_type`` wins over ``state_dict_cfg``.
        skip_init_weights: Build a config-given model without initialising its weights
            (on the meta device, then emptied on the CPU); load them with ``load_from``.
        state_dict_cfg: ``'local'`` (MMEngine's default): every rank saves its own shards;
            ``'full'``: rank 0 saves the whole model, loadable without FSDP.
        activation_checkpointing: Unsupported here; raises if given.
        **kwargs: :class:`DDPStrategy`'s keyword arguments (``sync_bn``) and
            :class:`BaseStrategy`'s.
    """

    def __init__(
        self,
        *,
        model_wrapper: dict | None = None,
        skip_init_weights: bool = False,
        state_dict_cfg: str | dict = "local",
        activation_checkpointing: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_wrapper=model_wrapper, **kwargs)
        if not isinstance(skip_init_weights, bool):
            raise TypeError(f"skip_init_weights must be a bool, got {skip_init_weights!r}")
        if activation_checkpointing is not None:
            raise ValueError(
                "FSDPStrategy: activation_checkpointing is not supported by torchrig's "
                "strategy; checkpoint blocks inside the model (torch.utils.checkpoint)"
            )
        self.skip_init_weights = skip_init_weights
        self.state_dict_type = _state_dict_type(state_dict_cfg)

    def build_model(self, model: nn.Module | dict) -> nn.Module:
        """Builds the model; with ``skip_init_weights`` a config is built on the meta device
        and given empty CPU storage, and ``init_weights`` will not run."""
        if not self.skip_init_weights:
            return super().build_model(model)
        if isinstance(model, dict):
            with torch.device("meta"):
                model = super().build_model(model)
            model = model.to_empty(device="cpu")
        model.is_init = True  # BaseModule.init_weights and the FSDP wrapper skip initialising
        return model

    def _wrapper_cfg(self, logger: logging.Logger) -> dict:
        """``model_wrapper`` translated for ``MMFullyShardedDataParallel``."""
        return _translate_wrapper(self.model_wrapper, self.state_dict_type, logger)
