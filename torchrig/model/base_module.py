"""``BaseModule``: an ``nn.Module`` initialised from ``init_cfg``; module containers."""

from __future__ import annotations

import copy
import logging
from abc import ABCMeta
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from torch import nn

from torchrig.model._log import _print_log
from torchrig.model.weight_init import PretrainedInit, initialize, update_init_info
from torchrig.model.wrappers.utils import is_model_wrapper

__all__ = ["BaseModule", "ModuleDict", "ModuleList", "Sequential"]


def _is_pretrained(cfg: dict) -> bool:
    kind = cfg.get("type")
    return kind in ("Pretrained", "PretrainedInit") or kind is PretrainedInit


class BaseModule(nn.Module, metaclass=ABCMeta):
    """An ``nn.Module`` whose ``init_weights`` applies ``init_cfg``.

    ``init_weights`` applies this module's ``init_cfg`` (all but ``Pretrained`` entries), then
    calls every child's ``init_weights``, then loads ``Pretrained`` entries, so a checkpoint has
    the last word. The top-level call logs, at debug level, how each parameter got its value.

    Args:
        init_cfg: One initializer config or a list of them, e.g.
            ``dict(type='Kaiming', layer='Conv2d')``; see ``torchrig.model.initialize``.
    """

    def __init__(self, init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__()
        self._is_init = False
        self.init_cfg = copy.deepcopy(init_cfg)

    @property
    def is_init(self) -> bool:
        """Whether ``init_weights`` has run."""
        return self._is_init

    @is_init.setter
    def is_init(self, value: bool) -> None:
        self._is_init = value

    def init_weights(self) -> None:
        """Initialise the weights from ``init_cfg`` and the children's ``init_weights``."""
        if hasattr(self, "_params_init_info"):
            self._init_weights()
            return
        self._start_init_info()
        try:
            self._init_weights()
            self._dump_init_info()
        finally:
            for module in self.modules():
                module.__dict__.pop("_params_init_info", None)

    def _init_weights(self) -> None:
        name = type(self).__name__
        if self._is_init:
            _print_log(f"init_weights of {name} has been called more than once.", logging.WARNING)
        else:
            cfgs = self.init_cfg or []
            cfgs = [cfgs] if isinstance(cfgs, dict) else list(cfgs)
            if cfgs:
                _print_log(f"initialize {name} with init_cfg {self.init_cfg}", logging.DEBUG)
            for cfg in cfgs:
                if not isinstance(cfg, dict):
                    raise TypeError(f"{name}.init_cfg entries must be dicts, got {cfg!r}")
            others = [cfg for cfg in cfgs if not _is_pretrained(cfg)]
            pretrained = [cfg for cfg in cfgs if _is_pretrained(cfg)]
            if others:
                initialize(self, others)
            for child in self.children():
                if is_model_wrapper(child) and not hasattr(child, "init_weights"):
                    child = child.module
                if hasattr(child, "init_weights") and not getattr(child, "is_init", False):
                    child.init_weights()
                    update_init_info(
                        child,
                        init_info="Initialized by user-defined `init_weights` in "
                        f"{type(child).__name__} ",
                    )
            if pretrained:
                initialize(self, pretrained)
            self._is_init = True

    def _start_init_info(self) -> None:
        # One record per parameter, shared by every sub-module, so any initializer applied at
        # any depth can say what it changed.
        info: defaultdict[nn.Parameter, dict[str, Any]] = defaultdict(dict)
        for param in self.parameters():
            info[param]["init_info"] = (
                "The value is the same before and after calling `init_weights` of "
                f"{type(self).__name__} "
            )
            info[param]["tmp_mean_value"] = param.data.mean().cpu()
        for module in self.modules():
            module._params_init_info = info

    def _dump_init_info(self) -> None:
        lines = [
            f"\n{name} - {tuple(param.shape)}: \n{self._params_init_info[param]['init_info']} \n"
            for name, param in self.named_parameters()
        ]
        if lines:
            _print_log("".join(lines), logging.DEBUG)

    def __repr__(self) -> str:
        text = super().__repr__()
        if self.init_cfg:
            text += f"\ninit_cfg={self.init_cfg}"
        return text


class Sequential(BaseModule, nn.Sequential):
    """``nn.Sequential`` with ``init_cfg``.

    Args:
        *args: The modules, in order (or one ``OrderedDict``).
        init_cfg: Initializer config(s).
    """

    def __init__(self, *args: Any, init_cfg: dict | list[dict] | None = None) -> None:
        BaseModule.__init__(self, init_cfg)
        nn.Sequential.__init__(self, *args)


class ModuleList(BaseModule, nn.ModuleList):
    """``nn.ModuleList`` with ``init_cfg``.

    Args:
        modules: The modules.
        init_cfg: Initializer config(s).
    """

    def __init__(
        self,
        modules: Iterable[nn.Module] | None = None,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        BaseModule.__init__(self, init_cfg)
        nn.ModuleList.__init__(self, modules)


class ModuleDict(BaseModule, nn.ModuleDict):
    """``nn.ModuleDict`` with ``init_cfg``.

    Args:
        modules: A mapping (or iterable of pairs) of name to module.
        init_cfg: Initializer config(s).
    """

    def __init__(
        self,
        modules: dict[str, nn.Module] | None = None,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        BaseModule.__init__(self, init_cfg)
        nn.ModuleDict.__init__(self, modules)
