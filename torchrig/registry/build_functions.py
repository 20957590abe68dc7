"""Functions that build objects from configs through a registry."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchrig.registry.registry import Registry

__all__ = [
    "build_from_cfg",
    "build_model_from_cfg",
    "build_optimizer_from_cfg",
    "build_runner_from_cfg",
    "build_scheduler_from_cfg",
]


def _as_plain_dict(cfg: Any, what: str) -> dict[str, Any]:
    if not isinstance(cfg, Mapping):
        raise TypeError(f"{what} must be a dict (or ConfigDict), got {type(cfg).__name__}: {cfg!r}")
    return dict(cfg)


def _describe(cfg: Mapping[str, Any]) -> str:
    text = repr(dict(cfg))
    return text if len(text) <= 400 else text[:397] + "..."


def _rebuild_error(err: Exception, message: str) -> Exception:
    """The same kind of exception as ``err`` with ``message``, so callers' ``except`` still match."""
    try:
        new = type(err)(message)
    except Exception:  # an exception class whose constructor wants other arguments
        new = RuntimeError(message)
    if str(new) != message:
        new = RuntimeError(message)
    return new


def build_from_cfg(
    cfg: Any, registry: Registry, default_args: Mapping[str, Any] | None = None
) -> Any:
    """Builds an object from a config dict: ``type`` names it (or is the class), the rest are arguments.

    Args:
        cfg: The config; ``type`` is a registered name, a ``'scope.Name'``, or a class or
            function. ``_scope_`` switches the default scope while building.
        registry: The registry to look ``type`` up in.
        default_args: Arguments used where ``cfg`` does not give them.

    Raises:
        KeyError: ``type`` is missing or unknown (with the registry and close matches).
        The constructor's own exception type, naming the type and config, chained to it.
    """
    args = _as_plain_dict(cfg, "a config to build")
    if default_args is not None:
        for key, value in _as_plain_dict(default_args, "default_args").items():
            args.setdefault(key, value)
    if "type" not in args:
        raise KeyError(
            f"the config to build from the {registry._label} registry has no 'type' key: "
            f"{_describe(cfg)}"
        )
    scope = args.pop("_scope_", None)
    obj_type = args.pop("type")
    with registry.switch_scope_and_registry(scope) as scoped:
        if isinstance(obj_type, str):
            obj_cls = scoped.get(obj_type)
        elif callable(obj_type):
            obj_cls = _resolve_lazy(obj_type)
        else:
            raise TypeError(
                f"'type' must be a registered name or a class, got {obj_type!r} in {_describe(cfg)}"
            )
        try:
            if inspect.isclass(obj_cls) and hasattr(obj_cls, "get_instance") and "name" in args:
                # ManagerMixin classes (Visualizer, MessageHub, ...) are global named instances.
                return obj_cls.get_instance(**args)
            return obj_cls(**args)
        except Exception as err:
            name = getattr(obj_cls, "__qualname__", repr(obj_cls))
            message = (
                f"failed to build {name} from config {_describe(cfg)}: {type(err).__name__}: {err}"
            )
            raise _rebuild_error(err, message) from err


def _resolve_lazy(obj_type: Any) -> Any:
    """Resolves a lazily imported ``type`` value from a pure-Python config."""
    build = getattr(obj_type, "build", None)
    if build is not None and getattr(obj_type, "_is_lazy_object", False):
        return build()
    return obj_type


def build_model_from_cfg(
    cfg: Any, registry: Registry, default_args: Mapping[str, Any] | None = None
) -> Any:
    """Builds a model; a list of configs becomes a ``torchrig.model.Sequential`` of them."""
    if isinstance(cfg, list):
        from torchrig.model import Sequential

        return Sequential(*(build_from_cfg(c, registry, default_args) for c in cfg))
    return build_from_cfg(cfg, registry, default_args)


def build_optimizer_from_cfg(
    cfg: Any, registry: Registry, default_args: Mapping[str, Any] | None = None
) -> Any:
    """Builds an optimizer (``params`` comes in ``cfg`` or ``default_args``), as
    :func:`build_from_cfg` does."""
    return build_from_cfg(cfg, registry, default_args)


def build_runner_from_cfg(cfg: Any, registry: Registry) -> Any:
    """Builds a Runner from a whole config with ``Runner.from_cfg`` (``runner_type`` picks the class)."""
    args = copy.deepcopy(cfg)
    runner_type = args.get("runner_type", "Runner")
    with registry.switch_scope_and_registry(args.get("default_scope")) as scoped:
        runner_cls = scoped.get(runner_type) if isinstance(runner_type, str) else runner_type
        return runner_cls.from_cfg(args)


def build_scheduler_from_cfg(
    cfg: Any, registry: Registry, default_args: Mapping[str, Any] | None = None
) -> Any:
    """Builds a parameter scheduler; ``convert_to_iter_based=True`` turns epochs into iterations.

    The conversion needs ``default_args['epoch_length']`` (iterations per epoch), which the
    Runner passes from the length of the training dataloader.
    """
    args = _as_plain_dict(cfg, "a scheduler config")
    defaults = dict(default_args or {})
    epoch_length = defaults.pop("epoch_length", None)
    if not args.pop("convert_to_iter_based", False):
        return build_from_cfg(args, registry, defaults)
    if not args.get("by_epoch", True):
        raise ValueError(f"convert_to_iter_based=True needs by_epoch=True, got {_describe(cfg)}")
    if epoch_length is None:
        raise ValueError(
            f"convert_to_iter_based=True needs the epoch length (iterations per epoch), which "
            f"comes from the training dataloader; none was given for {_describe(cfg)}"
        )
    scheduler_type = args.pop("type")
    with registry.switch_scope_and_registry(args.pop("_scope_", None)) as scoped:
        scheduler_cls = (
            scoped.get(scheduler_type) if isinstance(scheduler_type, str) else scheduler_type
        )
    for key, value in defaults.items():
        args.setdefault(key, value)
    return scheduler_cls.build_iter_from_epoch(**args, epoch_length=epoch_length)
