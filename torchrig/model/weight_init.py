"""Weight initialisation: functions, initializer classes and ``initialize(module, init_cfg)``.

Each initializer is registered in ``WEIGHT_INITIALIZERS`` under its short name (``'Constant'``,
as MMEngine's configs write it) and its class name (``'ConstantInit'``). An initializer's
``layer`` names the layer classes it applies to (a layer matches by its class name or the names
of its direct bases); ``override`` in ``init_cfg`` re-initialises named sub-modules as a whole.
"""

from __future__ import annotations

import copy
import logging
import math
import os
from typing import Any

import torch
from torch import nn

from torchrig.model._log import _print_log
from torchrig.registry import WEIGHT_INITIALIZERS, build_from_cfg

__all__ = [
    "BaseInit",
    "Caffe2XavierInit",
    "ConstantInit",
    "KaimingInit",
    "NormalInit",
    "PretrainedInit",
    "TruncNormalInit",
    "UniformInit",
    "XavierInit",
    "bias_init_with_prob",
    "caffe2_xavier_init",
    "constant_init",
    "initialize",
    "kaiming_init",
    "normal_init",
    "trunc_normal_",
    "trunc_normal_init",
    "uniform_init",
    "update_init_info",
    "xavier_init",
]


def update_init_info(module: nn.Module, init_info: str) -> None:
    """Record ``init_info`` for every parameter of ``module`` whose value changed.

    ``module._params_init_info`` (set up by ``BaseModule.init_weights``) maps each parameter to
    its ``init_info`` and the mean it had when last recorded; a changed mean means ``init_info``
    describes how the parameter got its current value.

    Args:
        module: A module inside a ``BaseModule`` whose ``init_weights`` is running.
        init_info: How the parameters were initialised.
    """
    if not hasattr(module, "_params_init_info"):
        raise AttributeError(
            f"{type(module).__name__} has no `_params_init_info`: update_init_info is only "
            "valid while BaseModule.init_weights runs"
        )
    for name, param in module.named_parameters():
        record = module._params_init_info.get(param)
        if record is None:
            raise KeyError(
                f"parameter {name!r} of {type(module).__name__} was added after init_weights "
                "started; it has no init record"
            )
        mean_value = param.data.mean().cpu()
        if not torch.equal(record["tmp_mean_value"], mean_value):
            record["init_info"] = init_info
            record["tmp_mean_value"] = mean_value


def _has(module: nn.Module, name: str) -> bool:
    return getattr(module, name, None) is not None


def constant_init(module: nn.Module, val: float, bias: float = 0) -> None:
    """Fill ``module.weight`` with ``val`` and ``module.bias`` with ``bias``."""
    if _has(module, "weight"):
        nn.init.constant_(module.weight, val)
    if _has(module, "bias"):
        nn.init.constant_(module.bias, bias)


def xavier_init(
    module: nn.Module, gain: float = 1, bias: float = 0, distribution: str = "normal"
) -> None:
    """Xavier (Glorot) initialisation of the weight, constant bias.

    Args:
        module: The module to initialise.
        gain: Scaling factor.
        bias: Value of the bias.
        distribution: ``'uniform'`` or ``'normal'``.
    """
    if distribution not in ("uniform", "normal"):
        raise ValueError(f"distribution must be 'uniform' or 'normal', got {distribution!r}")
    if _has(module, "weight"):
        if distribution == "uniform":
            nn.init.xavier_uniform_(module.weight, gain=gain)
        else:
            nn.init.xavier_normal_(module.weight, gain=gain)
    if _has(module, "bias"):
        nn.init.constant_(module.bias, bias)


def normal_init(module: nn.Module, mean: float = 0, std: float = 1, bias: float = 0) -> None:
    """Draw the weight from N(mean, std^2); constant bias."""
    if _has(module, "weight"):
        nn.init.normal_(module.weight, mean, std)
    if _has(module, "bias"):
        nn.init.constant_(module.bias, bias)


def trunc_normal_(
    tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
) -> torch.Tensor:
    """Fill ``tensor`` in place from N(mean, std^2) truncated to [a, b] (MMEngine's helper).

    Args:
        tensor: The tensor to fill.
        mean: Mean of the normal distribution.
        std: Standard deviation of the normal distribution.
        a: The lower cut-off.
        b: The upper cut-off.

    Returns:
        ``tensor``, filled.
    """
    with torch.no_grad():
        return nn.init.trunc_normal_(tensor, mean, std, a, b)


def trunc_normal_init(
    module: nn.Module,
    mean: float = 0,
    std: float = 1,
    a: float = -2,
    b: float = 2,
    bias: float = 0,
) -> None:
    """Draw the weight from N(mean, std^2) truncated to [a, b]; constant bias."""
    if _has(module, "weight"):
        trunc_normal_(module.weight, mean, std, a, b)
    if _has(module, "bias"):
        nn.init.constant_(module.bias, bias)


def uniform_init(module: nn.Module, a: float = 0, b: float = 1, bias: float = 0) -> None:
    """Draw the weight from U(a, b); constant bias."""
    if _has(module, "weight"):
        nn.init.uniform_(module.weight, a, b)
    if _has(module, "bias"):
        nn.init.constant_(module.bias, bias)


def kaiming_init(
    module: nn.Module,
    a: float = 0,
    mode: str = "fan_out",
    nonlinearity: str = "relu",
    bias: float = 0,
    distribution: str = "normal",
) -> None:
    """Kaiming (He) initialisation of the weight, constant bias.

    Args:
        module: The module to initialise.
        a: Negative slope of the rectifier after this layer (``leaky_relu`` only).
        mode: ``'fan_in'`` or ``'fan_out'``.
        nonlinearity: The non-linearity after this layer.
        bias: Value of the bias.
        distribution: ``'uniform'`` or ``'normal'``.
    """
    if distribution not in ("uniform", "normal"):
        raise ValueError(f"distribution must be 'uniform' or 'normal', got {distribution!r}")
    if _has(module, "weight"):
        if distribution == "uniform":
            nn.init.kaiming_uniform_(module.weight, a=a, mode=mode, nonlinearity=nonlinearity)
        else:
            nn.init.kaiming_normal_(module.weight, a=a, mode=mode, nonlinearity=nonlinearity)
    if _has(module, "bias"):
        nn.init.constant_(module.bias, bias)


def caffe2_xavier_init(module: nn.Module, bias: float = 0) -> None:
    """Caffe2's ``XavierFill`` (PyTorch's ``kaiming_uniform_`` with a=1, fan_in)."""
    kaiming_init(
        module, a=1, mode="fan_in", nonlinearity="leaky_relu", bias=bias, distribution="uniform"
    )


def bias_init_with_prob(prior_prob: float) -> float:
    """The bias that makes a sigmoid output ``prior_prob`` for a zero input."""
    return float(-math.log((1 - prior_prob) / prior_prob))


def _layer_names(module: nn.Module) -> set[str]:
    cls = type(module)
    return {cls.__name__, *(base.__name__ for base in cls.__bases__)}


class BaseInit:
    """Base of the layer-selecting initializers.

    Args:
        bias: Value of the bias.
        bias_prob: If given, the bias is ``bias_init_with_prob(bias_prob)`` instead of ``bias``.
        layer: Layer class name(s) to initialise (``'Conv2d'``, ``['Linear', 'Conv2d']``).
    """

    def __init__(
        self,
        *,
        bias: float = 0,
        bias_prob: float | None = None,
        layer: str | list[str] | None = None,
    ) -> None:
        self.wholemodule = False
        if not isinstance(bias, (int, float)):
            raise TypeError(f"bias must be a number, but got a {type(bias).__name__}")
        if bias_prob is not None and not isinstance(bias_prob, float):
            raise TypeError(f"bias_prob must be a float, but got a {type(bias_prob).__name__}")
        if layer is not None and not isinstance(layer, (str, list)):
            raise TypeError(f"layer must be a str or a list of str, but got {type(layer).__name__}")
        self.bias = bias_init_with_prob(bias_prob) if bias_prob is not None else bias
        if layer is None:
            layer = []
        self.layer: list[str] = [layer] if isinstance(layer, str) else list(layer)

    def _init_one(self, module: nn.Module) -> None:
        raise NotImplementedError

    def __call__(self, module: nn.Module) -> None:
        """Initialise the matching layers of ``module`` (all of them when ``wholemodule``)."""
        wanted = set(self.layer)

        def init(submodule: nn.Module) -> None:
            if self.wholemodule or wanted & _layer_names(submodule):
                self._init_one(submodule)

        module.apply(init)
        if hasattr(module, "_params_init_info"):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return f"{type(self).__name__}, bias={self.bias}"


def _register(short_name: str) -> Any:
    """Register a class under ``short_name`` and under its own class name."""

    def wrap(cls: type) -> type:
        WEIGHT_INITIALIZERS.register_module(name=[short_name, cls.__name__], module=cls)
        return cls

    return wrap


@_register("Constant")
class ConstantInit(BaseInit):
    """Fill weights with ``val`` and biases with ``bias``.

    Args:
        val: The weight value.
        **kwargs: ``bias``, ``bias_prob``, ``layer`` (see ``BaseInit``).
    """

    def __init__(self, val: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.val = val

    def _init_one(self, module: nn.Module) -> None:
        constant_init(module, self.val, self.bias)

    def _get_init_info(self) -> str:
        return f"{type(self).__name__}: val={self.val}, bias={self.bias}"


@_register("Xavier")
class XavierInit(BaseInit):
    """Xavier initialisation (``xavier_init``).

    Args:
        gain: Scaling factor.
        distribution: ``'uniform'`` or ``'normal'``.
        **kwargs: ``bias``, ``bias_prob``, ``layer`` (see ``BaseInit``).
    """

    def __init__(self, gain: float = 1, distribution: str = "normal", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gain = gain
        self.distribution = distribution

    def _init_one(self, module: nn.Module) -> None:
        xavier_init(module, self.gain, self.bias, self.distribution)

    def _get_init_info(self) -> str:
        return (
            f"{type(self).__name__}: gain={self.gain}, distribution={self.distribution}, "
            f"bias={self.bias}"
        )


@_register("Normal")
class NormalInit(BaseInit):
    """Normal initialisation (``normal_init``).

    Args:
        mean: Mean of the distribution.
        std: Standard deviation of the distribution.
        **kwargs: ``bias``, ``bias_prob``, ``layer`` (see ``BaseInit``).
    """

    def __init__(self, mean: float = 0, std: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mean = mean
        self.std = std

    def _init_one(self, module: nn.Module) -> None:
        normal_init(module, self.mean, self.std, self.bias)

    def _get_init_info(self) -> str:
        return f"{type(self).__name__}: mean={self.mean}, std={self.std}, bias={self.bias}"


@_register("TruncNormal")
class TruncNormalInit(BaseInit):
    """Truncated normal initialisation (``trunc_normal_init``).

    Args:
        mean: Mean of the distribution.
        std: Standard deviation of the distribution.
        a: Lower cut-off.
        b: Upper cut-off.
        **kwargs: ``bias``, ``bias_prob``, ``layer`` (see ``BaseInit``).
    """

    def __init__(
        self, mean: float = 0, std: float = 1, a: float = -2, b: float = 2, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.mean = mean
        self.std = std
        self.a = a
        self.b = b

    def _init_one(self, module: nn.Module) -> None:
        trunc_normal_init(module, self.mean, self.std, self.a, self.b, self.bias)

    def _get_init_info(self) -> str:
        return (
            f"{type(self).__name__}: a={self.a}, b={self.b}, mean={self.mean}, "
            f"std={self.std}, bias={self.bias}"
        )


@_register("Uniform")
class UniformInit(BaseInit):
    """Uniform initialisation (``uniform_init``).

    Args:
        a: Lower bound.
        b: Upper bound.
        **kwargs: ``bias``, ``bias_prob``, ``layer`` (see ``BaseInit``).
    """

    def __init__(self, a: float = 0, b: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.a = a
        self.b = b

    def _init_one(self, module: nn.Module) -> None:
        uniform_init(module, self.a, self.b, self.bias)

    def _get_init_info(self) -> str:
        return f"{type(self).__name__}: a={self.a}, b={self.b}, bias={self.bias}"


@_register("Kaiming")
class KaimingInit(BaseInit):
    """Kaiming initialisation (``kaiming_init``).

    Args:
        a: Negative slope of the rectifier after this layer.
        mode: ``'fan_in'`` or ``'fan_out'``.
        nonlinearity: The non-linearity after this layer.
        distribution: ``'uniform'`` or ``'normal'``.
        **kwargs: ``bias``, ``bias_prob``, ``layer`` (see ``BaseInit``).
    """

    def __init__(
        self,
        a: float = 0,
        mode: str = "fan_out",
        nonlinearity: str = "relu",
        distribution: str = "normal",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.a = a
        self.mode = mode
        self.nonlinearity = nonlinearity
        self.distribution = distribution

    def _init_one(self, module: nn.Module) -> None:
        kaiming_init(module, self.a, self.mode, self.nonlinearity, self.bias, self.distribution)

    def _get_init_info(self) -> str:
        return (
            f"{type(self).__name__}: a={self.a}, mode={self.mode}, "
            f"nonlinearity={self.nonlinearity}, distribution={self.distribution}, bias={self.bias}"
        )


@_register("Caffe2Xavier")
class Caffe2XavierInit(KaimingInit):
    """Caffe2's ``XavierFill``: Kaiming uniform with a=1, fan_in, leaky_relu."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            a=1, mode="fan_in", nonlinearity="leaky_relu", distribution="uniform", **kwargs
        )


@_register("Pretrained")
class PretrainedInit:
    """Load weights from a checkpoint file into the module, non-strictly.

    The file is read with ``torch.load(weights_only=True)``. A checkpoint holding a
    ``'state_dict'`` (or ``'model'``) entry is unwrapped, and a ``module.`` prefix left by a
    distributed wrapper is removed. Keys that did not fit are logged as a warning.

    Args:
        checkpoint: Path of the checkpoint file.
        prefix: If given, only the keys under ``prefix.`` are loaded, with the prefix removed
            (e.g. ``prefix='backbone'`` loads a detector's backbone into a backbone).
        map_location: Where to map the tensors while loading.
    """

    def __init__(
        self, checkpoint: str | os.PathLike, prefix: str | None = None, map_location: Any = "cpu"
    ) -> None:
        self.checkpoint = checkpoint
        self.prefix = prefix
        self.map_location = map_location
        # Present so initialize() may set it as on every initializer; loading ignores layers.
        self.wholemodule = False

    def __call__(self, module: nn.Module) -> None:
        """Load the checkpoint into ``module``."""
        state_dict = _read_state_dict(self.checkpoint, self.map_location)
        if self.prefix is not None:
            _print_log(f"load {self.prefix} in model from: {self.checkpoint}")
            head = self.prefix if self.prefix.endswith(".") else self.prefix + "."
            state_dict = {k[len(head) :]: v for k, v in state_dict.items() if k.startswith(head)}
            if not state_dict:
                raise KeyError(f"{self.checkpoint}: no key starts with {head!r}")
        else:
            _print_log(f"load model from: {self.checkpoint}")
        result = module.load_state_dict(state_dict, strict=False)
        if result.missing_keys or result.unexpected_keys:
            _print_log(
                f"{self.checkpoint} did not fit {type(module).__name__} exactly: "
                f"missing keys {result.missing_keys}, unexpected keys {result.unexpected_keys}",
                level=logging.WARNING,
            )
        if hasattr(module, "_params_init_info"):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return f"{type(self).__name__}: load from {self.checkpoint}"


def _read_state_dict(path: str | os.PathLike, map_location: Any) -> dict[str, torch.Tensor]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Pretrained init_cfg: checkpoint {path!r} does not exist")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise RuntimeError(
            f"Pretrained init_cfg: cannot load {path!r} with torch.load(weights_only=True): {error}"
        ) from error
    if isinstance(checkpoint, dict):
        for key in ("state_dict", "model"):
            if isinstance(checkpoint.get(key), dict):
                checkpoint = checkpoint[key]
                break
    if not isinstance(checkpoint, dict):
        raise TypeError(f"{path!r} holds a {type(checkpoint).__name__}, not a state dict")
    return {
        (key[len("module.") :] if key.startswith("module.") else key): value
        for key, value in checkpoint.items()
    }


def _initialize(module: nn.Module, cfg: dict, wholemodule: bool = False) -> None:
    initializer = build_from_cfg(cfg, WEIGHT_INITIALIZERS)
    # wholemodule: initialise every layer of an override'd sub-module, whatever its class.
    initializer.wholemodule = wholemodule
    initializer(module)


def _initialize_override(module: nn.Module, override: dict | list[dict], cfg: dict) -> None:
    if not isinstance(override, (dict, list)):
        raise TypeError(f"override must be a dict or a list of dict, but got {type(override)}")
    for one in [override] if isinstance(override, dict) else override:
        one = copy.deepcopy(dict(one))
        name = one.pop("name", None)
        if name is None:
            raise ValueError(f'`override` must contain the key "name", but got {one}')
        if not one:
            # Only a name: re-use the arguments of the enclosing init_cfg.
            one.update(cfg)
        elif "type" not in one:
            raise ValueError(f'`override` needs a "type" key, but got {one}')
        if not hasattr(module, name):
            raise RuntimeError(
                f"{type(module).__name__} has no attribute {name!r}, but the init_cfg "
                f"override {one} names it"
            )
        _initialize(getattr(module, name), one, wholemodule=True)


def initialize(module: nn.Module, init_cfg: dict | list[dict]) -> None:
    """Initialise ``module`` as ``init_cfg`` describes.

    Args:
        module: The module to initialise.
        init_cfg: One initializer config or a list of them, e.g.
            ``dict(type='Constant', layer='Conv2d', val=1, bias=0,
            override=dict(type='Constant', name='head', val=2))``.

    Example:
        >>> model = nn.Sequential(nn.Conv1d(3, 1, 3), nn.Linear(1, 2))
        >>> initialize(model, [dict(type='Constant', layer='Conv1d', val=1),
        ...                    dict(type='Xavier', layer='Linear', gain=1)])
    """
    if not isinstance(init_cfg, (dict, list)):
        raise TypeError(f"init_cfg must be a dict or a list of dict, but got {type(init_cfg)}")
    for cfg in [init_cfg] if isinstance(init_cfg, dict) else init_cfg:
        cfg = copy.deepcopy(dict(cfg))
        override = cfg.pop("override", None)
        _initialize(module, cfg)
        if override is not None:
            cfg.pop("layer", None)
            _initialize_override(module, override, cfg)
